"""Learned finite-volume discretizations of 1D conservation laws (barsinai2019).

The model maps cell averages ``v [B, 1, n]`` to their time derivative through the three steps of
the paper: reconstruct the face value and the face derivative with a pseudo-linear filter
(stencil coefficients with polynomial accuracy, :class:`PolynomialAccuracy`), evaluate the exact
flux ``J = v^2/2 - eta v_x`` at the faces, and take ``-(J_{j+1/2} - J_{j-1/2}) / h`` -- so the
scheme conserves exactly. Coefficients come either from a network (3 periodic convolutions of 32
filters, kernel 5, ReLU: "neural network") or are the same everywhere ("optimized constant
coefficients"). A known forcing is added outside the model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import ops
from .discretization import PolynomialAccuracy

__all__ = ["LearnedFiniteVolume"]


class LearnedFiniteVolume(nn.Module):
    """dv/dt of Burgers-type equations on a coarse periodic grid of spacing ``h``.

    Args:
        h: coarse grid spacing.
        eta: viscosity of the exact flux (0.04 in barsinai2019).
        coefficients: ``"network"`` or ``"constant"``.
        width, accuracy: stencil points and polynomial accuracy order (paper: 6 and 1).
        hidden, layers, kernel: the network (paper: 32 filters, 3 convolutions, kernel 5).
        input_scale: the inputs are divided by it (the equation's typical std).
    """

    def __init__(self, h: float, eta: float = 0.04, coefficients: str = "network", width: int = 6,
                 accuracy: int = 1, hidden: int = 32, layers: int = 3, kernel: int = 5, input_scale: float = 1.0):
        super().__init__()
        if coefficients not in ("network", "constant"):
            raise ValueError(f"coefficients must be 'network' or 'constant', got {coefficients!r}")
        if not h > 0:
            raise ValueError(f"h must be positive, got {h}")
        self.h, self.eta, self.kind, self.input_scale = float(h), float(eta), coefficients, float(input_scale)
        self.value = PolynomialAccuracy(0, width, accuracy, spacing=h)
        self.slope = PolynomialAccuracy(1, width, accuracy, spacing=h)
        n_free = self.value.free + self.slope.free
        if coefficients == "constant":
            self.free = nn.Parameter(torch.zeros(n_free))
            self.net = None
        else:
            convs: list[nn.Module] = []
            cin = 1
            for _ in range(layers - 1):
                convs += [nn.Conv1d(cin, hidden, kernel, padding=kernel // 2, padding_mode="circular"), nn.ReLU()]
                cin = hidden
            convs.append(nn.Conv1d(cin, n_free, kernel, padding=kernel // 2, padding_mode="circular"))
            self.net = nn.Sequential(*convs)
            # start from the standard polynomial stencils
            nn.init.zeros_(convs[-1].weight)
            nn.init.zeros_(convs[-1].bias)

    def coefficients(self, v: Tensor) -> tuple[Tensor, Tensor]:
        """Face-value and face-derivative stencils, each ``[B, n, width]``."""
        b, n = v.shape[0], v.shape[-1]
        if self.net is None:
            z = self.free.to(v).expand(b, n, -1)
        else:
            z = self.net(v / self.input_scale).transpose(1, 2)  # [B, n, free]
        zv, zs = z.split([self.value.free, self.slope.free], dim=-1)
        return self.value(zv).contiguous(), self.slope(zs).contiguous()

    def forward(self, v: Tensor) -> Tensor:
        if v.dim() != 3 or v.shape[1] != 1:
            raise ValueError(f"LearnedFiniteVolume: v must be [batch, 1, n], got {tuple(v.shape)}")
        cv, cs = self.coefficients(v)
        u = v[:, 0]
        face = ops.stencil_filter(u, cv, self.value.offset)
        slope = ops.stencil_filter(u, cs, self.slope.offset)
        flux = 0.5 * face * face - self.eta * slope
        return -ops.divergence(flux[:, None, :], [self.h])[:, None]
