"""Stencils with guaranteed polynomial accuracy for finite-volume data (barsinai2019, "Pseudolinear
representation" and SI): the building block of learned discretizations.

A face value or derivative is ``sum_k alpha_k vbar_k`` over the cell averages ``vbar_k`` of a
stencil around the face. Asking it to be exact for every polynomial of degree < m + n (n the
derivative order, m the accuracy order) gives linear constraints ``A alpha = b`` on the
coefficients (Taylor moments of cell averages). :class:`PolynomialAccuracy` maps free parameters
(a network's output) to ``alpha = alpha_std + N z`` with ``N`` a basis of the null space of
``A``, so every output satisfies the constraints to round-off and the error decays as O(h^m).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PolynomialAccuracy", "face_stencil_offsets", "finite_volume_constraints", "standard_stencil"]


def face_stencil_offsets(width: int) -> Tensor:
    """Cell-centre positions (in cells) of a ``width``-point stencil centred on a face at 0:
    -2.5 .. 2.5 for 6 points; for odd widths one more cell on the right. The matching ``offset``
    of :func:`coarsegrain.ops.stencil_filter` is ``1 - width // 2`` (face j = right face of cell j,
    so the stencil starts at cell j + 1 - width // 2)."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    first = -(width // 2)
    return torch.arange(first, first + width, dtype=torch.float64) + 0.5


def _moments(offsets: Tensor, rows: int) -> Tensor:
    # Average of x^j over the unit cell centred at s: ((s + 1/2)^(j+1) - (s - 1/2)^(j+1)) / (j + 1)
    j = torch.arange(rows, dtype=torch.float64)[:, None]
    return ((offsets + 0.5) ** (j + 1) - (offsets - 0.5) ** (j + 1)) / (j + 1)


def finite_volume_constraints(offsets: Tensor, derivative: int, accuracy: int) -> tuple[Tensor, Tensor]:
    """``(A, b)`` with ``A alpha = b`` meaning: the stencil on cell averages at ``offsets`` (cell
    units, relative to the evaluation point) returns the ``derivative``-th derivative exactly for
    polynomials of degree < derivative + accuracy (unit grid spacing; scale alpha by h^-n)."""
    if derivative < 0 or accuracy < 1:
        raise ValueError(f"need derivative >= 0 and accuracy >= 1, got {derivative} and {accuracy}")
    rows = derivative + accuracy
    if len(offsets) < rows:
        raise ValueError(f"a {len(offsets)}-point stencil is too small for derivative {derivative} at accuracy "
                         f"order {accuracy}: it needs at least {rows} points")
    b = torch.zeros(rows, dtype=torch.float64)
    b[derivative] = math.factorial(derivative)
    return _moments(offsets, rows), b


def standard_stencil(offsets: Tensor, derivative: int) -> Tensor:
    """The polynomial finite-volume stencil of the highest accuracy the points allow
    (exact for polynomials of degree < width)."""
    a, b = finite_volume_constraints(offsets, derivative, len(offsets) - derivative)
    return torch.linalg.solve(a, b)


class PolynomialAccuracy(nn.Module):
    """``alpha = alpha_std + z @ N^T``: stencil coefficients with polynomial accuracy ``accuracy``
    for the ``derivative``-th derivative, from ``z [..., width - derivative - accuracy]``.

    ``alpha_std`` is the most accurate polynomial stencil of ``width`` points; ``N`` an
    orthonormal basis of the constraints' null space. ``spacing`` scales the coefficients by
    ``spacing ** -derivative``. Default: 6 points, accuracy 1 (the paper's best).
    """

    def __init__(self, derivative: int, width: int = 6, accuracy: int = 1, spacing: float = 1.0):
        super().__init__()
        offsets = face_stencil_offsets(width)
        a, _ = finite_volume_constraints(offsets, derivative, accuracy)
        _, _, vh = torch.linalg.svd(a)
        null = vh[a.shape[0]:].T.contiguous()                     # [width, free]
        self.derivative, self.width, self.accuracy = derivative, width, accuracy
        self.offset = 1 - width // 2  # first cell of face j's stencil, relative to cell j
        self.free = null.shape[1]
        scale = spacing ** (-derivative)
        self.register_buffer("standard", standard_stencil(offsets, derivative) * scale)
        self.register_buffer("null_basis", null * scale)

    def forward(self, z: Tensor) -> Tensor:
        if z.shape[-1] != self.free:
            raise ValueError(f"PolynomialAccuracy: expected {self.free} free parameters per face "
                             f"(width {self.width} - derivative {self.derivative} - accuracy {self.accuracy}), "
                             f"got {z.shape[-1]}")
        return self.standard.to(z) + z @ self.null_basis.to(z).T
