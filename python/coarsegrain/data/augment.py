"""Restriction to coarser grids and symmetry augmentation of field data.

The symmetries of the square or cubic periodic grid are the axis permutations combined with
axis reversals: 8 in 2D, 48 in 3D. A scalar field transforms by moving its values; a field
whose free energy is symmetric about ``c`` (lanzoni's f(phi) = 18/eps phi^2 (1 - phi)^2 about
c = 1/2) also has the Z2 symmetry ``phi -> 2c - phi``. Both commute with the exact dynamics,
so they multiply the training data for free (lanzoni2024 §2.2).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["GridSymmetry", "grid_symmetries", "apply_symmetry", "downscale", "AugmentedSequences"]


class GridSymmetry(NamedTuple):
    """Output axis ``a`` reads input axis ``permutation[a]``, then the axes in ``flips`` reverse."""

    permutation: tuple[int, ...]
    flips: tuple[int, ...]


def grid_symmetries(ndim: int) -> list[GridSymmetry]:
    """All ``ndim! * 2**ndim`` symmetries of the hypercubic grid, the identity first."""
    if ndim < 1:
        raise ValueError(f"ndim must be >= 1, got {ndim}")
    out = []
    for perm in itertools.permutations(range(ndim)):
        for mask in range(2 ** ndim):
            out.append(GridSymmetry(perm, tuple(a for a in range(ndim) if mask >> a & 1)))
    return out


def apply_symmetry(x: Tensor, symmetry: GridSymmetry, ndim: int) -> Tensor:
    """Applies a grid symmetry to the last ``ndim`` axes of ``x`` (a scalar field per channel).

    A reversal maps index ``i`` to ``n - 1 - i``; on a periodic grid that is a mirror symmetry,
    and it commutes exactly with the symmetric stencils of the simulators.
    """
    if x.dim() < ndim:
        raise ValueError(f"apply_symmetry: x has {x.dim()} axes, fewer than ndim = {ndim}")
    lead = x.dim() - ndim
    sizes = x.shape[lead:]
    if len(set(sizes[a] for a in range(ndim) if symmetry.permutation[a] != a)) > 1:
        raise ValueError(f"apply_symmetry: permuting axes needs equal sizes, got grid {tuple(sizes)}")
    y = x.permute(*range(lead), *(lead + p for p in symmetry.permutation))
    if symmetry.flips:
        y = torch.flip(y, [lead + a for a in symmetry.flips])
    return y


def downscale(x: Tensor, factor: int, ndim: int, method: str = "nearest") -> Tensor:
    """Coarser grid by an integer ``factor`` along each of the last ``ndim`` axes.

    ``"nearest"`` keeps every ``factor``-th value (lanzoni2024's nearest interpolation at 1/2);
    ``"average"`` takes block means, which keeps the mean of the field exactly.
    """
    if factor < 1:
        raise ValueError(f"downscale: factor must be >= 1, got {factor}")
    if method not in ("nearest", "average"):
        raise ValueError(f"downscale: method must be 'nearest' or 'average', got {method!r}")
    sizes = x.shape[x.dim() - ndim:]
    if any(n % factor for n in sizes):
        raise ValueError(f"downscale: grid {tuple(sizes)} is not divisible by factor {factor}")
    if factor == 1:
        return x
    if method == "nearest":
        return x[(..., *([slice(None, None, factor)] * ndim))].contiguous()
    from ..ops import restrict_average

    return restrict_average(x, factor=factor, ndim=ndim)


class AugmentedSequences(Dataset):
    """Wraps a dataset of sequences ``[T, channels, *grid]`` with random grid symmetries and,
    when ``reflect_about`` is given, the value reflection ``phi -> 2 c - phi`` with probability 1/2.

    The draws use torch's global generator, which the trainer saves and restores with its
    checkpoints, so a resumed run sees the same augmentations.
    """

    def __init__(self, base: Dataset, ndim: int, *, reflect_about: float | None = None,
                 symmetries: bool = True):
        self.base, self.ndim, self.reflect_about = base, ndim, reflect_about
        self.group = grid_symmetries(ndim) if symmetries else [grid_symmetries(ndim)[0]]

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> Tensor:
        x = self.base[i]
        k = int(torch.randint(len(self.group), ()).item())
        x = apply_symmetry(x, self.group[k], self.ndim)
        if self.reflect_about is not None and bool(torch.randint(2, ()).item()):
            x = 2 * self.reflect_about - x
        return x.contiguous()
