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

from .. import _core
from .stencil import (
    Spacing,
    _check_polynomial,
    _check_tensor,
    _fake_result,
    _num,
    _refuse_backward,
    normalize_spacing,
)

__all__ = ["cahn_hilliard_explicit", "allen_cahn_explicit", "explicit_stability_limit",
           "explicit_stability_error", "laplacian_max_eigenvalue"]

# Per axis, the largest eigenvalue of the periodic -lap stencil times h^2. Its symbol is
# (2 - 2 cos theta) for the 3-point stencil and (30 - 32 cos theta + 2 cos 2 theta) / 12 =
# (28 - 32 c + 4 c^2) / 12 (c = cos theta) for the 5-point one; both fall with c on [-1, 1],
# so the maximum is at theta = pi (the checkerboard): 4 and 64 / 12 = 16 / 3.


def laplacian_max_eigenvalue(spacing: Sequence[float], order: int = 2) -> float:
    """The largest eigenvalue of the periodic finite-difference -lap of ``order`` 2 (3-point
    stencil per axis) or 4 (5-point): ``sum_a 4 / h_a^2`` or ``sum_a (16/3) / h_a^2`` (reached
    where every axis has an even number of points, by the checkerboard mode). Computed by the
    compiled core (coarsegrain/phase_field.h), the one place the ops take it from too."""
    if order not in (2, 4):
        raise ValueError(f"laplacian_max_eigenvalue: order must be 2 or 4, got {order!r}")
    return _core.laplacian_max_eigenvalue([float(h) for h in spacing], int(order))


def explicit_stability_limit(
    spacing: Sequence[float], mobility: float, kappa: float, conserved: bool, curvature: float = 0.0,
    laplacian_order: int = 2,
) -> float:
    """Largest stable explicit-Euler dt of the linearized phase-field equation (every check
    and error message in coarsegrain, compiled or Python, uses this one function of the core).

    Linearized about a state where f'' = c, a Fourier mode with -lap eigenvalue mu decays as
    ``U+ = (1 - dt M mu (kappa mu + c)) U`` (Cahn-Hilliard) or ``(1 - dt M (kappa mu + c)) U``
    (Allen-Cahn); |factor| <= 1 on 0 <= mu <= lam, lam = :func:`laplacian_max_eigenvalue`,
    gives ``2 / (M lam (kappa lam + c))`` and ``2 / (M (kappa lam + c))``. ``curvature`` is an
    upper bound of f''(U) over the field's range; only its positive part tightens the limit
    (a negative c is the physical instability, not the scheme's). With c = 0:
    ``2 / (M kappa lam^2)`` and ``2 / (M kappa lam)``; in d dimensions of spacing dx with the
    second-order Laplacian lam = 4 d / dx^2, so Cahn-Hilliard needs dt < dx^4 / (8 d^2 M kappa).
    """
    if laplacian_order not in (2, 4):
        raise ValueError(f"explicit_stability_limit: laplacian_order must be 2 or 4, got {laplacian_order!r}")
    return _core.explicit_stability_limit([float(h) for h in spacing], float(mobility), float(kappa),
                                          bool(conserved), float(curvature), int(laplacian_order))


def explicit_stability_error(
    dt: float, spacing: Sequence[float], mobility: float, kappa: float, conserved: bool,
    curvature: float = 0.0, laplacian_order: int = 2,
) -> str | None:
    """None when ``dt`` is below :func:`explicit_stability_limit`, else the one-line message
    that says so and names the limit (the caller prefixes its name and raises); the compiled
    ops raise the same message."""
    if laplacian_order not in (2, 4):
        raise ValueError(f"explicit_stability_error: laplacian_order must be 2 or 4, got {laplacian_order!r}")
    return _core.explicit_stability_error(float(dt), [float(h) for h in spacing], float(mobility), float(kappa),
                                          bool(conserved), float(curvature), int(laplacian_order))


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


def _check_dt(op: str, u: Tensor, dt, spacing: list[float], mobility, kappa, coeffs: list[float], steps,
              conserved: bool) -> None:
    """The stability limit, checked here with the one message where every other argument is
    valid (otherwise the compiled op names the bad one first; it checks the limit again)."""
    try:
        values = [float(dt), float(mobility), float(kappa)]
        steps = int(steps)
    except (TypeError, ValueError):
        return
    if (all(math.isfinite(v) and v > 0 for v in values) and 1 <= len(spacing) <= min(3, u.dim())
            and all(math.isfinite(h) and h > 0 for h in spacing) and steps >= 1
            and 1 <= len(coeffs) <= 8 and all(math.isfinite(c) for c in coeffs)):
        message = explicit_stability_error(values[0], spacing, values[1], values[2], conserved)
        if message is not None:
            raise ValueError(f"{op}: {message}")


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
    ``"two_pass"`` writes mu to memory first. A ``dt`` at or beyond :func:`explicit_stability_limit`
    (``2 / (M kappa lam^2)``) raises ``ValueError`` stating the limit.
    """
    h, coeffs = _prepare("cahn_hilliard_explicit", u, spacing, ndim, dfdu)
    _check_dt("cahn_hilliard_explicit", u, dt, h, mobility, kappa, coeffs, steps, True)
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

    A ``dt`` at or beyond :func:`explicit_stability_limit` (``2 / (M kappa lam)``) raises
    ``ValueError`` stating the limit.
    """
    h, coeffs = _prepare("allen_cahn_explicit", u, spacing, ndim, dfdu)
    _check_dt("allen_cahn_explicit", u, dt, h, mobility, kappa, coeffs, steps, False)
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
    message = explicit_stability_error(dt, spacing, mobility, kappa, conserved)
    torch._check_value(message is None, lambda: f"{op}: {message}")
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
