"""Fused explicit-Euler phase-field steppers (torch.ops.coarsegrain.*_explicit).

One call advances ``steps`` explicit Euler steps without returning to Python:

* Cahn-Hilliard ``U <- U + dt M lap(mu)``, ``mu = f'(U) - kappa lap U``;
* Allen-Cahn ``U <- U - dt M mu``;

with ``lap`` the 3-point-per-axis periodic Laplacian (so ``lap(mu)`` equals
``divergence(face_gradient(mu))``: the update conserves the mean of U to round-off) and
``f'(U) = sum_k dfdu[k] U^k``. Fields are ``[*batch, *grid]``, float32 or float64, CPU or CUDA.
These are data generators, not training layers: they have no autograd.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .stencil import (
    Spacing,
    _check_polynomial,
    _check_tensor,
    _fake_result,
    _num,
    _refuse_backward,
    normalize_spacing,
)

__all__ = ["cahn_hilliard_explicit", "allen_cahn_explicit", "explicit_stability_limit"]


def explicit_stability_limit(
    spacing: Sequence[float], mobility: float, kappa: float, conserved: bool, curvature: float = 0.0
) -> float:
    """Largest stable explicit-Euler dt of the linearized equation.

    With ``lam = sum_a 4/h_a^2`` the largest eigenvalue of -lap and ``curvature`` an upper bound
    of f''(U) over the field's range (only its positive part tightens the limit):
    ``2 / (M lam (kappa lam + curvature))`` for Cahn-Hilliard, ``2 / (M (kappa lam + curvature))``
    for Allen-Cahn.
    """
    lam = sum(4.0 / h**2 for h in spacing)
    rate = mobility * (kappa * lam + max(curvature, 0.0))
    return 2.0 / (rate * lam) if conserved else 2.0 / rate


def _prepare(op: str, u: Tensor, spacing, ndim, dfdu) -> tuple[list[float], list[float]]:
    _check_tensor(op, "u", u)
    if torch.is_grad_enabled() and u.requires_grad:
        raise RuntimeError(f"{op}: a data generator without autograd; call it under torch.no_grad()")
    h = normalize_spacing(spacing, ndim, op=op)
    try:
        coeffs = [float(c) for c in dfdu]
    except TypeError:
        raise TypeError(f"{op}: dfdu must be a sequence of polynomial coefficients") from None
    return h, coeffs


def cahn_hilliard_explicit(
    u: Tensor,
    spacing: Spacing,
    dt: float,
    *,
    mobility: float,
    kappa: float,
    dfdu: Sequence[float],
    steps: int = 1,
    scheme: str = "fused",
    ndim: int | None = None,
) -> Tensor:
    """``steps`` explicit Cahn-Hilliard steps from ``u``; returns a new tensor.

    ``scheme="fused"`` keeps mu in a ring of planes (per thread on CPU; per block in shared
    memory on CUDA, one kernel per step), so a step reads and writes the field about once;
    ``"two_pass"`` writes mu to memory first. A ``dt`` at or beyond ``2 / (M kappa lam^2)`` raises ``ValueError`` stating the limit.
    """
    h, coeffs = _prepare("cahn_hilliard_explicit", u, spacing, ndim, dfdu)
    return torch.ops.coarsegrain.cahn_hilliard_explicit(
        u, h, float(dt), float(mobility), float(kappa), coeffs, int(steps), scheme
    )


def allen_cahn_explicit(
    u: Tensor,
    spacing: Spacing,
    dt: float,
    *,
    mobility: float,
    kappa: float,
    dfdu: Sequence[float],
    steps: int = 1,
    ndim: int | None = None,
) -> Tensor:
    """``steps`` explicit Allen-Cahn steps from ``u``; returns a new tensor.

    A ``dt`` at or beyond ``2 / (M kappa lam)`` raises ``ValueError`` stating the limit.
    """
    h, coeffs = _prepare("allen_cahn_explicit", u, spacing, ndim, dfdu)
    return torch.ops.coarsegrain.allen_cahn_explicit(
        u, h, float(dt), float(mobility), float(kappa), coeffs, int(steps)
    )


def _fake_phase_field(op, u, spacing, dt, mobility, kappa, dfdu, steps, conserved):
    """What prepare_phase_field (cpp/torch/common.cpp) checks, in its order."""
    out = _fake_result(op, "u", u, spacing, "scalar_to_scalar")
    _check_polynomial(op, "dfdu", dfdu)
    for name, value in (("dt", dt), ("mobility", mobility), ("kappa", kappa)):
        torch._check_value(math.isfinite(value) and value > 0, lambda: (
            f"{op}: {name} must be a positive finite number, got {_num(value)}"))
    torch._check_value(steps >= 1, lambda: f"{op}: steps must be >= 1, got {steps}")
    lam = sum(4.0 / (h * h) for h in spacing)
    limit = 2.0 / (mobility * kappa * lam * lam) if conserved else 2.0 / (mobility * kappa * lam)
    torch._check_value(dt < limit, lambda: (
        f"{op}: dt = {_num(dt)} is beyond the explicit-Euler stability limit of this grid, "
        f"{'2 / (M kappa lam^2)' if conserved else '2 / (M kappa lam)'} = {_num(limit)} "
        f"(lam = sum 4/h^2 = {_num(lam)}); take dt well below it (the nonlinear term tightens it "
        "further) or use the semi-implicit spectral stepper"))
    return out


@torch.library.register_fake("coarsegrain::cahn_hilliard_explicit")
def _(u, spacing, dt, mobility, kappa, dfdu, steps=1, scheme="fused"):
    torch._check_value(scheme in ("fused", "two_pass"), lambda: (
        f"cahn_hilliard_explicit: scheme must be 'fused' or 'two_pass', got '{scheme}'"))
    return _fake_phase_field("cahn_hilliard_explicit", u, spacing, dt, mobility, kappa, dfdu, steps, True)


@torch.library.register_fake("coarsegrain::allen_cahn_explicit")
def _(u, spacing, dt, mobility, kappa, dfdu, steps=1):
    return _fake_phase_field("allen_cahn_explicit", u, spacing, dt, mobility, kappa, dfdu, steps, False)


for _op in ("cahn_hilliard_explicit", "allen_cahn_explicit"):
    _refuse_backward(_op, "it is a data generator; call it under torch.no_grad() or on detached tensors")
