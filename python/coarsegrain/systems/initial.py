"""Seeded initial fields on a Grid: uniform noise, periodic Perlin noise, Gaussian random fields.

Every generator returns ``[n, *grid.shape]`` and draws from its own ``torch.Generator`` seeded
with ``seed`` on the CPU, so the same seed gives the same fields on every device and dtype.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
from torch import Tensor

from ..grid import Grid

__all__ = ["uniform", "perlin", "gaussian_random_field", "from_array"]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _finish(u: Tensor, dtype, device) -> Tensor:
    return u.to(dtype=dtype, device=device).contiguous()


def uniform(grid: Grid, n: int = 1, *, low: float = -1.0, high: float = 1.0, seed: int = 0,
            dtype=torch.float64, device="cpu") -> Tensor:
    """Independent U(low, high) values at every point (kiyani2022's initial fields)."""
    if not high > low:
        raise ValueError(f"uniform: high must exceed low, got low={low}, high={high}")
    u = torch.rand((n, *grid.shape), generator=_generator(seed), dtype=torch.float64)
    return _finish(low + (high - low) * u, dtype, device)


def _fade(t: Tensor) -> Tensor:
    return t * t * t * (t * (6 * t - 15) + 10)


def _perlin_octave(grid: Grid, cells: list[int], gen: torch.Generator) -> Tensor:
    """Gradient noise on a periodic lattice of ``cells`` cells per axis (no seams)."""
    nd = grid.ndim
    grads = torch.randn((*cells, nd), generator=gen, dtype=torch.float64)
    grads /= grads.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    # Lattice coordinates of the grid points (cell centres).
    coords = [(torch.arange(n, dtype=torch.float64) + 0.5) * c / n for n, c in zip(grid.shape, cells)]
    mesh = torch.meshgrid(*coords, indexing="ij")
    base = [torch.floor(p).long() for p in mesh]
    frac = [p - b for p, b in zip(mesh, base)]
    weights = [_fade(f) for f in frac]
    out = torch.zeros(grid.shape, dtype=torch.float64)
    for corner in itertools.product((0, 1), repeat=nd):
        idx = tuple((base[a] + corner[a]) % cells[a] for a in range(nd))
        g = grads[idx]  # [*grid, nd]
        dot = sum(g[..., a] * (frac[a] - corner[a]) for a in range(nd))
        w = math.prod(weights[a] if corner[a] else 1 - weights[a] for a in range(nd))
        out += w * dot
    return out


def perlin(grid: Grid, n: int = 1, *, correlation_length: float, mean: float = 0.0,
           amplitude: float = 1.0, octaves: int = 1, persistence: float = 0.5, seed: int = 0,
           dtype=torch.float64, device="cpu") -> Tensor:
    """Periodic Perlin (gradient) noise, as lanzoni2024 §2.1 uses for initial fields.

    The lattice has ``round(L_a / correlation_length)`` cells along each axis of box length
    ``L_a`` and wraps around, so the field tiles the periodic box without seams. Each field is
    shifted and scaled to have exactly the given ``mean`` and ``max |U - mean| = amplitude``.
    ``octaves > 1`` adds finer lattices (cells doubled, weight times ``persistence``).
    """
    if correlation_length <= 0:
        raise ValueError(f"perlin: correlation_length must be positive, got {correlation_length}")
    if amplitude <= 0 or octaves < 1:
        raise ValueError(f"perlin: need amplitude > 0 and octaves >= 1, got {amplitude}, {octaves}")
    gen = _generator(seed)
    base_cells = [max(1, round(L / correlation_length)) for L in grid.lengths]
    fields = []
    for _ in range(n):
        u = torch.zeros(grid.shape, dtype=torch.float64)
        for o in range(octaves):
            u += persistence**o * _perlin_octave(grid, [c * 2**o for c in base_cells], gen)
        u -= u.mean()
        peak = u.abs().max()
        fields.append(mean + amplitude * u / peak if peak > 0 else u + mean)
    return _finish(torch.stack(fields), dtype, device)


def gaussian_random_field(grid: Grid, n: int = 1, *, correlation_length: float | None = None,
                          spectrum: Callable[[Tensor], Tensor] | None = None, mean: float = 0.0,
                          std: float = 1.0, seed: int = 0, dtype=torch.float64, device="cpu") -> Tensor:
    """Stationary Gaussian field with power spectrum ``spectrum(|k|)``.

    Default spectrum: ``exp(-(|k| correlation_length)^2 / 2)``. White noise is filtered in
    Fourier space, then each field is set to exactly the given ``mean`` and ``std``.
    """
    if spectrum is None:
        if correlation_length is None or correlation_length <= 0:
            raise ValueError("gaussian_random_field: give a positive correlation_length or a spectrum")
        ell = float(correlation_length)
        spectrum = lambda k: torch.exp(-0.5 * (k * ell) ** 2)  # noqa: E731
    dims = tuple(range(-grid.ndim, 0))
    noise = torch.randn((n, *grid.shape), generator=_generator(seed), dtype=torch.float64)
    kmag = grid.k_squared().sqrt()
    filt = spectrum(kmag).clamp_min(0).sqrt()
    u = torch.fft.irfftn(torch.fft.rfftn(noise, dim=dims) * filt, s=grid.shape, dim=dims)
    u = u - u.mean(dim=dims, keepdim=True)
    u = u / u.std(dim=dims, keepdim=True).clamp_min(1e-300)
    return _finish(mean + std * u, dtype, device)


def from_array(grid: Grid, values, *, dtype=torch.float64, device="cpu") -> Tensor:
    """A user array ``[*grid]`` or ``[n, *grid]`` as initial fields ``[n, *grid]``."""
    u = torch.as_tensor(values, dtype=dtype, device=device)
    if tuple(u.shape) == grid.shape:
        u = u.unsqueeze(0)
    grid.check_field(u, "values")
    if u.dim() != grid.ndim + 1:
        raise ValueError(f"values must be [*grid] or [n, *grid], got shape {tuple(u.shape)}")
    if not torch.isfinite(u).all():
        raise ValueError("values must be finite")
    return u.contiguous()
