"""Learned finite-volume discretizations of 1D conservation laws (barsinai2019).

The model maps cell averages ``v [B, 1, n]`` to their time derivative through the three steps of
the paper: reconstruct the face values of ``v`` and of the derivatives the flux needs with a
pseudo-linear filter (stencil coefficients with polynomial accuracy, :class:`PolynomialAccuracy`),
evaluate the exact flux at the faces, and take ``-(J_{j+1/2} - J_{j-1/2}) / spacing`` -- so the scheme
conserves exactly. Coefficients come either from a network (3 periodic convolutions of 32
filters, kernel 5, ReLU: "neural network") or are the same everywhere ("optimized constant
coefficients"). A known forcing is added outside the model.

Equations (``v_t + J_x = 0``):

* ``burgers``: J = v^2/2 - eta v_x  (barsinai2019 Eq 4; eta = 0.04)
* ``kdv``:     J = 3 v^2 + v_xx     (u_t = -6 u u_x - u_xxx)
* ``ks``:      J = v^2/2 + v_x + v_xxx  (u_t = -u u_x - u_xx - u_xxxx)

For Burgers, ``numerical_flux="godunov"`` reconstructs a left and a right face state with two
stencils and takes the exact Godunov flux of v^2/2 between them (the upwinded variant).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import ops
from .discretization import PolynomialAccuracy

__all__ = ["LearnedFiniteVolume", "EQUATION_DERIVATIVES", "godunov_burgers_flux", "baseline_width"]

# The face derivatives each equation's flux needs.
EQUATION_DERIVATIVES = {"burgers": (0, 1), "kdv": (0, 2), "ks": (0, 1, 3)}


def godunov_burgers_flux(left: Tensor, right: Tensor) -> Tensor:
    """The exact Godunov flux of f(v) = v^2/2 between face states ``left`` and ``right``: the
    minimum of f over [left, right] when left <= right (0 at a sonic rarefaction), else the
    maximum over [right, left]."""
    fl, fr = 0.5 * left * left, 0.5 * right * right
    rarefaction = torch.where(left > 0, fl, torch.where(right < 0, fr, torch.zeros_like(fl)))
    return torch.where(left <= right, rarefaction, torch.maximum(fl, fr))


def baseline_width(equation: str, accuracy: int) -> int:
    """Points of the standard polynomial scheme whose highest derivative has at least
    ``accuracy``-th order (rounded up to an even, face-centred stencil)."""
    need = max(EQUATION_DERIVATIVES[equation]) + accuracy
    return need + need % 2


class LearnedFiniteVolume(nn.Module):
    """dv/dt of a 1D conservation law on a coarse periodic grid of spacing ``spacing``.

    Args:
        spacing: coarse grid spacing.
        eta: viscosity of the Burgers flux (0.04 in barsinai2019).
        coefficients: ``"network"`` or ``"constant"``. An untrained model (zero free
            parameters) is the standard polynomial scheme of ``width`` points.
        width, accuracy: stencil points and polynomial accuracy order (paper: 6 and 1).
        hidden, layers, kernel: the network (paper: 32 filters, 3 convolutions, kernel 5).
        input_scale: the inputs are divided by it (the equation's typical std).
        equation: ``"burgers"``, ``"kdv"`` or ``"ks"``.
        numerical_flux: ``"exact"`` or (Burgers only) ``"godunov"``.
    """

    def __init__(self, spacing: float, eta: float = 0.04, coefficients: str = "network", width: int = 6,
                 accuracy: int = 1, hidden: int = 32, layers: int = 3, kernel: int = 5, input_scale: float = 1.0,
                 equation: str = "burgers", numerical_flux: str = "exact"):
        super().__init__()
        if coefficients not in ("network", "constant"):
            raise ValueError(f"coefficients must be 'network' or 'constant', got {coefficients!r}")
        if equation not in EQUATION_DERIVATIVES:
            raise ValueError(f"equation must be one of {sorted(EQUATION_DERIVATIVES)}, got {equation!r}")
        if numerical_flux not in ("exact", "godunov") or (numerical_flux == "godunov" and equation != "burgers"):
            raise ValueError(f"numerical_flux must be 'exact', or 'godunov' for burgers; got {numerical_flux!r} "
                             f"for {equation}")
        try:
            value = math.nan if isinstance(spacing, bool) else float(spacing)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"LearnedFiniteVolume: spacing must be a positive finite number, got {spacing!r}")
        self.spacing, self.eta, self.kind, self.input_scale = value, float(eta), coefficients, float(input_scale)
        self.equation, self.numerical_flux = equation, numerical_flux
        derivs = list(EQUATION_DERIVATIVES[equation])
        if numerical_flux == "godunov":
            derivs = [0] + derivs  # a left and a right face state
        self.stencils = nn.ModuleList(PolynomialAccuracy(d, width, accuracy, spacing=self.spacing) for d in derivs)
        self.offset = self.stencils[0].offset
        self.split = [s.free for s in self.stencils]
        n_free = sum(self.split)
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

    def coefficients(self, v: Tensor) -> list[Tensor]:
        """One ``[B, n, width]`` stencil per reconstructed face quantity (see ``stencils``)."""
        b, n = v.shape[0], v.shape[-1]
        if self.net is None:  # one stencil per quantity, the same at every face
            parts = self.free.to(v).split(self.split)
            return [s(p).expand(b, n, -1).contiguous() for s, p in zip(self.stencils, parts)]
        z = self.net(v / self.input_scale).transpose(1, 2)  # [B, n, free]
        return [s(part).contiguous() for s, part in zip(self.stencils, z.split(self.split, dim=-1))]

    def flux(self, v: Tensor) -> Tensor:
        """The flux at the right face of every cell, ``[B, n]``."""
        u = v[:, 0]
        faces = [ops.stencil_filter(u, c, self.offset) for c in self.coefficients(v)]
        if self.equation == "burgers":
            if self.numerical_flux == "godunov":
                left, right, slope = faces
                return godunov_burgers_flux(left, right) - self.eta * slope
            value, slope = faces
            return 0.5 * value * value - self.eta * slope
        if self.equation == "kdv":
            value, second = faces
            return 3.0 * value * value + second
        value, first, third = faces  # ks
        return 0.5 * value * value + first + third

    def forward(self, v: Tensor) -> Tensor:
        if v.dim() != 3 or v.shape[1] != 1:
            raise ValueError(f"LearnedFiniteVolume: v must be [batch, 1, n], got {tuple(v.shape)}")
        return -ops.divergence(self.flux(v)[:, None, :], [self.spacing])[:, None]
