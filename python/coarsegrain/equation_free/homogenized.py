"""Homogenized 1D reference of arbabi2020 §5.1: ``u_t = a* u_xx`` with ``a*`` the harmonic mean of
the periodic diffusivity (the closed-form cell-problem solution in 1D, Eq 4-5), solved like the
paper's reference: second-order central differences on a uniform grid (``dx = 5e-3``) with
time-independent Dirichlet ends, integrated by ``scipy.integrate.solve_ivp(method="LSODA")``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["harmonic_mean", "solve_homogenized_1d", "sample_at"]


def harmonic_mean(a: Callable, period: float = 1.0) -> float:
    """``1 / <1/a>`` over one period ``[0, period]`` by adaptive quadrature (``scipy.integrate.quad``,
    relative tolerance 1e-13): the 1D effective diffusivity ``a*`` of ``(a(x / eps) u_x)_x``."""
    from scipy.integrate import quad

    if isinstance(period, bool) or not isinstance(period, (int, float)) or not (math.isfinite(period) and period > 0):
        raise ValueError(f"harmonic_mean: period must be a positive finite number, got {period!r}")
    if not callable(a):
        raise TypeError(f"harmonic_mean: a must be callable a(y), got {type(a).__name__}")

    def inverse(y):
        value = float(a(y))
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"harmonic_mean: a must be positive and finite, got a({y!r}) = {value!r}")
        return 1.0 / value

    integral, _ = quad(inverse, 0.0, period, epsabs=0.0, epsrel=1e-13, limit=200)
    return period / integral


def solve_homogenized_1d(u0: Callable, t_eval, a_star: float, *, domain: tuple[float, float] = (0.0, 1.0),
                         dx: float = 5e-3, rtol: float = 1e-10, atol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """``u_t = a_star u_xx`` on ``domain`` from point values ``u0(x)``, the end values ``u0(x0)``,
    ``u0(x1)`` held (Eq 21); second-order differences on nodes ``x0 + j dx`` (``(x1 - x0) / dx`` must be
    a whole number), LSODA with the tridiagonal Jacobian. Returns ``(x [M], u [len(t_eval), M])``."""
    from scipy.integrate import solve_ivp

    t_eval = np.asarray(t_eval, dtype=np.float64).reshape(-1)
    if t_eval.size == 0 or not np.isfinite(t_eval).all() or (t_eval < 0).any() or (np.diff(t_eval) < 0).any():
        raise ValueError("solve_homogenized_1d: t_eval must be non-empty, finite, >= 0 and non-decreasing")
    for name, v in (("a_star", a_star), ("dx", dx)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"solve_homogenized_1d: {name} must be a positive finite number, got {v!r}")
    x0, x1 = (float(v) for v in domain)
    n = round((x1 - x0) / dx)
    if n < 2 or abs((x1 - x0) / dx - n) > 1e-9 * n:
        raise ValueError(f"solve_homogenized_1d: the domain length {x1 - x0!r} must be a whole number (>= 2) of "
                         f"dx = {dx!r}")
    x = x0 + (x1 - x0) * np.arange(n + 1) / n
    start = np.asarray(u0(x), dtype=np.float64).reshape(-1)
    if start.shape != x.shape or not np.isfinite(start).all():
        raise ValueError(f"solve_homogenized_1d: u0(x) must return {x.size} finite values, got shape {start.shape}")
    left, right = start[0], start[-1]
    h = (x1 - x0) / n
    c = a_star / h ** 2

    def rhs(t, v):
        padded = np.concatenate([[left], v, [right]])
        return c * (padded[2:] - 2 * padded[1:-1] + padded[:-2])

    m = n - 1
    banded = np.zeros((3, m))
    banded[0, 1:], banded[1], banded[2, :-1] = c, -2 * c, c

    def jac(t, v):
        return banded

    sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), start[1:-1], method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol,
                    jac=jac, lband=1, uband=1)
    if not sol.success:
        raise RuntimeError(f"solve_homogenized_1d: LSODA failed: {sol.message}")
    u = np.empty((t_eval.size, n + 1))
    u[:, 0], u[:, -1], u[:, 1:-1] = left, right, sol.y.T
    return x, u


def sample_at(x: np.ndarray, u: np.ndarray, points) -> np.ndarray:
    """``u[..., j]`` at the grid nodes equal to ``points`` (to 1e-9 of the spacing); a point off the
    grid raises (no interpolation error is introduced into the reference)."""
    points = np.asarray(points, dtype=np.float64)
    spacing = x[1] - x[0]
    index = np.rint((points - x[0]) / spacing).astype(int)
    if (index < 0).any() or (index >= x.size).any() or (np.abs(x[np.clip(index, 0, x.size - 1)] - points)
                                                        > 1e-9 * spacing).any():
        raise ValueError("sample_at: every point must be a node of the reference grid")
    return u[..., index]
