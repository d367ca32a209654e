"""Grid: the shape, spacing and boundaries of a uniform Cartesian grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A uniform grid of ``shape`` points (z, y, x order in 3D) with ``spacing`` per axis.

    Points sit at cell centres ``(i + 1/2) h`` of a box of side ``n h`` per axis. Only
    periodic boundaries exist so far; the field is named so that other boundaries can be
    added without changing call sites.
    """

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    boundary: str = "periodic"

    def __init__(self, shape: int | Sequence[int], spacing: float | Sequence[float] = 1.0,
                 boundary: str = "periodic"):
        shape_t = (int(shape),) if isinstance(shape, (int, float)) else tuple(int(n) for n in shape)
        if not 1 <= len(shape_t) <= 3:
            raise ValueError(f"Grid: shape must have 1 to 3 axes, got {shape_t}")
        if any(n < 1 for n in shape_t):
            raise ValueError(f"Grid: every axis of shape needs at least 1 point, got {shape_t}")
        if isinstance(spacing, (int, float)):
            spacing_t = (float(spacing),) * len(shape_t)
        else:
            spacing_t = tuple(float(h) for h in spacing)
        if len(spacing_t) != len(shape_t):
            raise ValueError(
                f"Grid: spacing has {len(spacing_t)} values but shape has {len(shape_t)} axes"
            )
        if any(not math.isfinite(h) or h <= 0 for h in spacing_t):
            raise ValueError(f"Grid: spacing must be positive and finite, got {spacing_t}")
        if boundary != "periodic":
            raise ValueError(f"Grid: boundary must be 'periodic' (the only one so far), got {boundary!r}")
        object.__setattr__(self, "shape", shape_t)
        object.__setattr__(self, "spacing", spacing_t)
        object.__setattr__(self, "boundary", boundary)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def lengths(self) -> tuple[float, ...]:
        return tuple(n * h for n, h in zip(self.shape, self.spacing))

    @property
    def cell_volume(self) -> float:
        return math.prod(self.spacing)

    def check_field(self, u: torch.Tensor, name: str = "u") -> None:
        """Raises ValueError unless the last ndim axes of ``u`` are this grid."""
        if u.dim() < self.ndim or tuple(u.shape[-self.ndim:]) != self.shape:
            raise ValueError(
                f"{name} has shape {tuple(u.shape)}, but its last {self.ndim} axes must be the "
                f"grid {self.shape}"
            )

    def wavenumbers(self, *, device=None, dtype=torch.float64) -> list[torch.Tensor]:
        """Angular wavenumbers per axis, broadcastable to the rfftn layout (last axis halved)."""
        ks = []
        for a, (n, h) in enumerate(zip(self.shape, self.spacing)):
            if a == self.ndim - 1:
                k = torch.fft.rfftfreq(n, d=h, device=device, dtype=dtype)
            else:
                k = torch.fft.fftfreq(n, d=h, device=device, dtype=dtype)
            view = [1] * self.ndim
            view[a] = -1
            ks.append((2 * math.pi * k).reshape(view))
        return ks

    def k_squared(self, *, device=None, dtype=torch.float64) -> torch.Tensor:
        """|k|^2 on the rfftn grid (the symbol of -lap for spectral methods)."""
        return sum(k**2 for k in self.wavenumbers(device=device, dtype=dtype))

    def laplacian_symbol(self, *, device=None, dtype=torch.float64) -> torch.Tensor:
        """Eigenvalues of the 3-point-per-axis finite-difference -lap on the rfftn grid."""
        return sum((2 - 2 * torch.cos(k * h)) / h**2
                   for k, h in zip(self.wavenumbers(device=device, dtype=dtype), self.spacing))

    def max_laplacian_eigenvalue(self, order: int = 2) -> float:
        """Largest eigenvalue of the finite-difference -lap of ``order`` 2 (sum_a 4 / h_a^2) or
        4 (sum_a (16/3) / h_a^2): :func:`coarsegrain.ops.laplacian_max_eigenvalue`."""
        from .ops.phase_field import laplacian_max_eigenvalue

        return laplacian_max_eigenvalue(self.spacing, order)

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "spacing": list(self.spacing), "boundary": self.boundary}
