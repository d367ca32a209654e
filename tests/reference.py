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


# --- finite volumes (barsinai2019), written from Shu 1997 / Jiang-Shu 1996 with np.roll ----------


def weno5_states(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right WENO5 states at the right face of every cell, along the last axis."""

    def side(a, b, c, d, e):
        q = [(2 * a - 7 * b + 11 * c) / 6, (-b + 5 * c + 2 * d) / 6, (2 * c + 5 * d - e) / 6]
        beta = [13 / 12 * (a - 2 * b + c) ** 2 + 0.25 * (a - 4 * b + 3 * c) ** 2,
                13 / 12 * (b - 2 * c + d) ** 2 + 0.25 * (b - d) ** 2,
                13 / 12 * (c - 2 * d + e) ** 2 + 0.25 * (3 * c - 4 * d + e) ** 2]
        alpha = [w / (1e-6 + bk) ** 2 for w, bk in zip((0.1, 0.6, 0.3), beta)]
        return sum(al * qk for al, qk in zip(alpha, q)) / sum(alpha)

    s = {k: np.roll(v, -k, axis=-1) for k in range(-2, 4)}  # s[k][j] = v[j + k]
    return side(s[-2], s[-1], s[0], s[1], s[2]), side(s[3], s[2], s[1], s[0], s[-1])


def godunov_burgers(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    fl, fr = 0.5 * left ** 2, 0.5 * right ** 2
    rarefaction = np.where(left > 0, fl, np.where(right < 0, fr, 0.0))
    return np.where(left <= right, rarefaction, np.maximum(fl, fr))


def lax_friedrichs_burgers(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a = np.maximum(np.abs(left), np.abs(right))
    return 0.25 * (left ** 2 + right ** 2) - 0.5 * a * (right - left)


def stencil_filter(v: np.ndarray, coeffs: np.ndarray, offset: int) -> np.ndarray:
    return sum(coeffs[..., k] * np.roll(v, -(offset + k), axis=-1) for k in range(coeffs.shape[-1]))


def restrict_average(u: np.ndarray, *, factor: int, ndim: int) -> np.ndarray:
    lead = u.shape[:u.ndim - ndim]
    blocks = [s for n in u.shape[u.ndim - ndim:] for s in (n // factor, factor)]
    return u.reshape(*lead, *blocks).mean(axis=tuple(range(len(lead) + 1, len(lead) + 2 * ndim, 2)))
