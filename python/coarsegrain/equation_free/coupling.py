"""Patch-edge values by interpolation across patches (the coupling of the patch scheme, arbabi2020
§3 and §5.2; the conventions of A. J. Roberts' equation-free toolbox, re-derived here).

Geometry. Patches sit on a macro grid of spacing ``Δ`` (patch ``I`` centred at ``X_I``); each holds
``n >= 3`` equispaced micro points, the first and last being *edge* points, spanning
``[X_I - rΔ, X_I + rΔ]`` where the *patch ratio* ``r`` = (patch half-width) / Δ. The micro spacing
is therefore ``d = 2 r Δ / (n - 1)``. The micro-solver advances the interior points; the coupling
sets the edge points from the other patches.

Modes (which value of a patch is interpolated, and where to):

* ``"centre"``: the patch-centre value (for even ``n`` the mean of the two centre points, a
  second-order estimate of the value at ``X_I``) is treated as a macro field on the grid ``X_J``;
  the right edge of patch ``I`` is that field interpolated at ``X_I + rΔ`` (offset ``+r`` macro
  units), the left edge at offset ``-r``.
  Two consequences, measured in ``tests/test_equation_free_coupling.py``: with even ``n`` the
  two-point mean is a biased proxy at the patch scale, and the scheme's diffusivity comes out
  multiplied by ``1 / (1 - 1/(n-1)^2)`` (4.2% for ``n = 6``; continuum analysis: ``cos(μ rΔ) =
  cos(μ d/2) cos(k rΔ)``); use odd ``n`` (as the toolbox requires for centre coupling). And for
  *heterogeneous* micro-diffusivity the centre value is one micro phase, not the macro field, so
  the macroscale eigenvalues are wrong (tens of percent) and may be complex: use "edgy" there.
* ``"edgy"``: the right edge (point ``n-1``, 0-based) of patch ``I`` is interpolated from the
  *left next-to-edge* values (point ``1``) of the patches, and the left edge (point ``0``) from
  the *right next-to-edge* values (point ``n-2``). Point ``1`` of patch ``J`` sits at
  ``X_J - rΔ + d``; the right edge of patch ``I`` at ``X_I + rΔ = (X_I - rΔ + d) + (2rΔ - d)``, so
  the offset is ``s = 2r - d/Δ = 2r (n-2)/(n-1)`` macro units (and ``-s`` for the left edge). With
  the heterogeneity tiled from each patch's first point with a period dividing ``n - 2``, points
  ``1`` and ``n-1`` have the same micro phase (as have ``0`` and ``n-2``), so each edge receives a
  value of its own phase: this is the toolbox's choice that keeps heterogeneous diffusion
  self-adjoint (Bunder, Kevrekidis & Roberts 2020). When ``2rΔ = Δ + d`` the offset is exactly one
  patch: the patches then tile the domain and the scheme is the full lattice.

Orders: even ``p = 2, 4, 6, ...`` use Lagrange weights through the ``p + 1`` patches ``I - p/2 ...
I + p/2`` (the patch itself and its ``p`` nearest neighbours), evaluated at the fractional offset;
exact for polynomials of degree ``<= p``. Non-periodic grids shift the stencil inwards near the
ends (still ``p + 1`` patches, still exact to degree ``p``). Order ``0`` is spectral: FFT over the
patch index, multiply by ``exp(2πi k s / N)``, inverse FFT; for even ``N`` the Nyquist mode
``cos(π J)`` is shifted to ``cos(π s) cos(π J)`` (the real part of its shift, so the result is real
and the interpolant is the symmetric trigonometric one); periodic grids only. Exact for every
resolved Fourier mode ``|k| < N/2``.

2D (``u[..., Nx, Ny, nx, ny]``): first x, then y. The x-step fills the left and right edge columns
(micro ``i = 0`` and ``i = nx-1``, every ``j`` including the corner rows) by interpolating, along
the patch index ``I``, the source column (centre column, or the opposite next-to-edge column for
"edgy") at each micro row ``j``. The y-step then fills the bottom and top edge rows (``j = 0`` and
``j = ny-1``, every ``i`` including the freshly set edge columns) the same way along ``J``. So the
four corners are the tensor-product (x then y) interpolant of the source values, and the x-edge
values at the corner rows are overwritten by the y-step.

All functions are torch, float32 or float64, batched over leading dimensions and differentiable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "COUPLING_MODES",
    "lagrange_weights",
    "interpolate_shift",
    "edge_offset",
    "couple_patches_1d",
    "couple_patches_2d",
]

COUPLING_MODES = ("centre", "edgy")


def _check_order(order: int) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0 or order % 2:
        raise ValueError(f"order must be 0 (spectral) or an even polynomial order 2, 4, 6, ...; got {order!r}")
    return int(order)


def _check_mode(mode: str) -> str:
    if mode not in COUPLING_MODES:
        raise ValueError(f"mode must be one of {COUPLING_MODES}; got {mode!r}")
    return mode


def _check_float_tensor(name: str, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")


def lagrange_weights(order: int, offset: float, nodes: Sequence[float] | None = None) -> np.ndarray:
    """Weights ``w`` with ``sum_m w[m] f(nodes[m]) = p(offset)``, ``p`` the polynomial of degree
    ``order`` through the nodes (default ``-order/2 ... order/2``). float64 numpy."""
    order = _check_order(order)
    if order == 0:
        raise ValueError("lagrange_weights: order 0 is spectral, not a polynomial; use an even order >= 2")
    x = np.arange(-order // 2, order // 2 + 1, dtype=np.float64) if nodes is None else np.asarray(nodes, np.float64)
    if x.shape != (order + 1,):
        raise ValueError(f"nodes must hold order + 1 = {order + 1} points; got shape {x.shape}")
    w = np.ones(order + 1)
    for m in range(order + 1):
        for q in range(order + 1):
            if q != m:
                w[m] *= (offset - x[q]) / (x[m] - x[q])
    return w


def _spectral_shift(values: Tensor, offset: float, dim: int) -> Tensor:
    n = values.shape[dim]
    spectrum = torch.fft.rfft(values, dim=dim)
    k = torch.arange(spectrum.shape[dim], dtype=values.dtype, device=values.device)
    angle = 2.0 * math.pi * k * offset / n
    phase = torch.polar(torch.ones_like(angle), angle)
    if n % 2 == 0:
        # Nyquist mode cos(πJ): its shift is taken as cos(πs) cos(πJ) so the interpolant stays real
        # (irfft would drop the imaginary part anyway; set explicitly so the choice is visible).
        phase[-1] = math.cos(math.pi * offset)
    shape = [1] * values.dim()
    shape[dim] = -1
    return torch.fft.irfft(spectrum * phase.reshape(shape), n=n, dim=dim)


def _interpolation_matrix(n: int, offset: float, order: int) -> np.ndarray:
    """Non-periodic: row I gives the value at I + offset from p + 1 consecutive points, the stencil
    centred on I where it fits and shifted inwards near the ends."""
    if n < order + 1:
        raise ValueError(f"a non-periodic order-{order} interpolation needs at least {order + 1} patches; got {n}")
    matrix = np.zeros((n, n))
    half = order // 2
    for i in range(n):
        start = min(max(i - half, 0), n - 1 - order)
        nodes = np.arange(start, start + order + 1) - i
        matrix[i, start:start + order + 1] = lagrange_weights(order, offset, nodes)
    return matrix


def interpolate_shift(values: Tensor, offset: float, order: int = 0, dim: int = -1,
                      periodic: bool = True) -> Tensor:
    """Values of a field on an integer grid (along ``dim``) interpolated at ``I + offset`` for every
    ``I``: spectral (``order=0``, periodic only) or Lagrange of even ``order`` (see module doc)."""
    _check_float_tensor("values", values)
    order = _check_order(order)
    offset = float(offset)
    if not math.isfinite(offset):
        raise ValueError(f"offset must be finite; got {offset}")
    dim = dim % values.dim()
    n = values.shape[dim]
    if order == 0:
        if not periodic:
            raise ValueError("order 0 (spectral) interpolation needs periodic=True")
        return _spectral_shift(values, offset, dim)
    if periodic:
        if n < order + 1:
            raise ValueError(f"an order-{order} interpolation needs at least {order + 1} patches; got {n}")
        weights = lagrange_weights(order, offset)
        out = torch.zeros_like(values)
        for m, w in zip(range(-order // 2, order // 2 + 1), weights):
            out = out + float(w) * torch.roll(values, shifts=-m, dims=dim)
        return out
    matrix = torch.as_tensor(_interpolation_matrix(n, offset, order), dtype=values.dtype, device=values.device)
    moved = values.movedim(dim, -1)
    return (moved @ matrix.T).movedim(-1, dim)


def edge_offset(ratio: float, points: int, mode: str) -> float:
    """Offset (macro units) from a patch's source value to its right edge: ``r`` ("centre") or
    ``2 r (n-2)/(n-1)`` ("edgy"); the left edge uses minus this."""
    _check_mode(mode)
    if not (isinstance(ratio, (int, float)) and 0.0 < ratio and math.isfinite(ratio)):
        raise ValueError(f"ratio (patch half-width / macro spacing) must be a positive number; got {ratio!r}")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 3:
        raise ValueError(f"points per patch must be an integer >= 3 (two edges and an interior); got {points!r}")
    if mode == "centre":
        return float(ratio)
    return 2.0 * float(ratio) * (points - 2) / (points - 1)


def _sources(u: Tensor, axis: int, mode: str) -> tuple[Tensor, Tensor]:
    """(source for the right/top edge, source for the left/bottom edge) along micro ``axis``."""
    n = u.shape[axis]
    if mode == "edgy":
        return u.select(axis, 1), u.select(axis, n - 2)
    if n % 2:
        centre = u.select(axis, n // 2)
    else:  # even n: the mean of the two centre points (second order at the patch centre)
        centre = 0.5 * (u.select(axis, n // 2 - 1) + u.select(axis, n // 2))
    return centre, centre


def _set_edges(u: Tensor, axis: int, left: Tensor, right: Tensor) -> Tensor:
    n = u.shape[axis]
    interior = u.narrow(axis, 1, n - 2)
    return torch.cat([left.unsqueeze(axis), interior, right.unsqueeze(axis)], dim=axis)


def couple_patches_1d(u: Tensor, ratio: float, order: int = 0, mode: str = "edgy",
                      periodic: bool = True) -> Tensor:
    """``u[..., N, n]`` (N patches of n points) with both edge points replaced by interpolation
    across patches (a new tensor; the interior is unchanged)."""
    _check_float_tensor("u", u)
    if u.dim() < 2:
        raise ValueError(f"u must be [..., patches, points]; got shape {tuple(u.shape)}")
    offset = edge_offset(ratio, u.shape[-1], mode)
    order = _check_order(order)
    src_right, src_left = _sources(u, -1, mode)
    right = interpolate_shift(src_right, offset, order, dim=-1, periodic=periodic)
    left = interpolate_shift(src_left, -offset, order, dim=-1, periodic=periodic)
    return _set_edges(u, u.dim() - 1, left, right)


def _pair(value, name: str) -> tuple[float, float]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (x, y); got {value!r}")
        return float(value[0]), float(value[1])
    return float(value), float(value)


def couple_patches_2d(u: Tensor, ratio: float | tuple[float, float], order: int = 0, mode: str = "edgy",
                      periodic: bool = True) -> Tensor:
    """``u[..., Nx, Ny, nx, ny]`` with its four edges (corners included) set by interpolation, x
    first then y (see the module doc). ``ratio`` is one number or ``(rx, ry)``."""
    _check_float_tensor("u", u)
    if u.dim() < 4:
        raise ValueError(f"u must be [..., Nx, Ny, nx, ny]; got shape {tuple(u.shape)}")
    rx, ry = _pair(ratio, "ratio")
    nx, ny = u.shape[-2], u.shape[-1]
    offset_x = edge_offset(rx, nx, mode)
    offset_y = edge_offset(ry, ny, mode)
    order = _check_order(order)
    d = u.dim()
    # x-step: sources are [..., Nx, Ny, ny]; interpolate along Nx (dim -3).
    src_right, src_left = _sources(u, d - 2, mode)
    right = interpolate_shift(src_right, offset_x, order, dim=-3, periodic=periodic)
    left = interpolate_shift(src_left, -offset_x, order, dim=-3, periodic=periodic)
    u = _set_edges(u, d - 2, left, right)
    # y-step: sources are [..., Nx, Ny, nx]; interpolate along Ny (dim -2).
    src_top, src_bottom = _sources(u, d - 1, mode)
    top = interpolate_shift(src_top, offset_y, order, dim=-2, periodic=periodic)
    bottom = interpolate_shift(src_bottom, -offset_y, order, dim=-2, periodic=periodic)
    return _set_edges(u, d - 1, bottom, top)
