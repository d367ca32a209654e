"""Pattern diagnostics: radially averaged structure factor and characteristic length."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..grid import Grid

__all__ = ["structure_factor", "characteristic_length"]


def structure_factor(u: Tensor, grid: Grid, n_bins: int | None = None) -> tuple[Tensor, Tensor]:
    """Radially averaged S(|k|) = <|FFT(U - mean)|^2> / N in shells of |k|.

    Returns ``(k, S)`` with ``k`` the shell centres ``[n_bins]`` and ``S`` ``[*batch, n_bins]``;
    shells of width ``2 pi / max(L)`` by default, empty shells give 0.
    """
    grid.check_field(u)
    dims = tuple(range(-grid.ndim, 0))
    v = u - u.mean(dim=dims, keepdim=True)
    power = torch.fft.fftn(v, dim=dims).abs().square() / grid.size
    ks = []
    for a, (n, h) in enumerate(zip(grid.shape, grid.spacing)):
        shape = [1] * grid.ndim
        shape[a] = n
        ks.append((2 * math.pi * torch.fft.fftfreq(n, d=h, dtype=u.dtype, device=u.device)).reshape(shape))
    kmag = torch.sqrt(sum(k**2 for k in ks)).expand(grid.shape).reshape(-1)
    dk = 2 * math.pi / max(grid.lengths)
    if n_bins is None:
        n_bins = int(kmag.max() / dk) + 1
    idx = torch.clamp((kmag / dk + 0.5).long(), max=n_bins - 1)
    flat = power.reshape(*power.shape[: -grid.ndim], -1)
    sums = torch.zeros(*flat.shape[:-1], n_bins, dtype=u.dtype, device=u.device)
    sums.index_add_(-1, idx, flat)
    counts = torch.zeros(n_bins, dtype=u.dtype, device=u.device).index_add_(0, idx, torch.ones_like(kmag))
    centres = dk * torch.arange(n_bins, dtype=u.dtype, device=u.device)
    return centres, sums / counts.clamp_min(1)


def characteristic_length(u: Tensor, grid: Grid) -> Tensor:
    """L = 2 pi / <k> with <k> = sum k S(k) / sum S(k) over the radially averaged S, per batch.

    A uniform field (S = 0: no pattern) has no finite length: its L is ``inf`` (not NaN, in
    any dtype).
    """
    k, s = structure_factor(u, grid)
    total = s.sum(-1)
    mean_k = (k * s).sum(-1) / total.clamp_min(torch.finfo(total.dtype).tiny)
    return torch.where(total > 0, 2 * math.pi / mean_k, torch.full_like(mean_k, math.inf))
