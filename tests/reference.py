"""Independent NumPy references (np.roll) for the periodic stencil operators.

Layout as in coarsegrain.ops.stencil: the last len(h) axes are the grid; vector fields carry
their components in the axis just before the grid. np.roll(u, 1, axis)[i] == u[i - 1].
"""

from __future__ import annotations

import numpy as np


def _grid_axes(arr: np.ndarray, nd: int) -> list[int]:
    return [arr.ndim - nd + a for a in range(nd)]


def laplacian(u: np.ndarray, h, order: int = 2) -> np.ndarray:
    out = np.zeros_like(u)
    for a, ax in enumerate(_grid_axes(u, len(h))):
        r = lambda k: np.roll(u, k, axis=ax)  # noqa: E731  r(k)[i] = u[i - k]
        if order == 2:
            out += (r(1) + r(-1) - 2 * u) / h[a] ** 2
        else:
            out += (-r(2) + 16 * r(1) - 30 * u + 16 * r(-1) - r(-2)) / (12 * h[a] ** 2)
    return out


def gradient(u: np.ndarray, h) -> np.ndarray:
    comps = [
        (np.roll(u, -1, axis=ax) - np.roll(u, 1, axis=ax)) / (2 * h[a])
        for a, ax in enumerate(_grid_axes(u, len(h)))
    ]
    return np.stack(comps, axis=u.ndim - len(h))


def gradient_adjoint(v: np.ndarray, h) -> np.ndarray:
    nd = len(h)
    comps = np.moveaxis(v, v.ndim - nd - 1, 0)
    out = np.zeros_like(comps[0])
    for a, ax in enumerate(_grid_axes(comps[0], nd)):
        out -= (np.roll(comps[a], -1, axis=ax) - np.roll(comps[a], 1, axis=ax)) / (2 * h[a])
    return out


def divergence(flux: np.ndarray, h) -> np.ndarray:
    nd = len(h)
    comps = np.moveaxis(flux, flux.ndim - nd - 1, 0)
    out = np.zeros_like(comps[0])
    for a, ax in enumerate(_grid_axes(comps[0], nd)):
        out += (comps[a] - np.roll(comps[a], 1, axis=ax)) / h[a]
    return out


def divergence_adjoint(w: np.ndarray, h) -> np.ndarray:
    comps = [(w - np.roll(w, -1, axis=ax)) / h[a] for a, ax in enumerate(_grid_axes(w, len(h)))]
    return np.stack(comps, axis=w.ndim - len(h))


def polynomial(coeffs, u):
    return sum(c * u**k for k, c in enumerate(coeffs))


def cahn_hilliard_explicit(u, h, dt, mobility, kappa, dfdu, steps):
    for _ in range(steps):
        mu = polynomial(dfdu, u) - kappa * laplacian(u, h)
        u = u + dt * mobility * laplacian(mu, h)
    return u


def allen_cahn_explicit(u, h, dt, mobility, kappa, dfdu, steps):
    for _ in range(steps):
        u = u - dt * mobility * (polynomial(dfdu, u) - kappa * laplacian(u, h))
    return u
