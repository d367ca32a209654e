"""Finite-volume ops on 1D periodic rows (barsinai2019): WENO5 fluxes, restriction, learned stencils.

Face ``j`` is the right face of cell ``j`` (``x_{j+1/2}``), so a face flux ``J [*batch, n]``
updates cell averages by ``-(J[j] - J[j-1]) / dx`` -- :func:`coarsegrain.ops.divergence` with
one axis. ``stencil_filter`` is the pseudo-linear representation of a learned scheme: per-face
coefficients applied to neighbouring cell averages; it is differentiable (its backward is the
compiled ``stencil_filter_backward``, once differentiable). ``restrict_average`` takes block
means and is differentiable; the WENO5 ops are not (baselines and reference solvers).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .stencil import _check_tensor

__all__ = ["restrict_average", "stencil_filter", "weno5_flux", "weno5_reconstruct"]

FLUXES = ("godunov", "lax_friedrichs")


def weno5_flux(v: Tensor, flux: str = "godunov") -> Tensor:
    """Face fluxes of Burgers' ``v^2/2`` from WENO5 states (Jiang-Shu weights, eps = 1e-6).

    ``flux="godunov"``: the exact Riemann flux (zero at a sonic point, where the left state is
    negative and the right one positive); ``"lax_friedrichs"``: the local (Rusanov) flux.
    ``v`` is ``[*batch, n]`` with ``n >= 5``; returns ``[*batch, n]``.
    """
    _check_tensor("weno5_flux", "v", v)
    if flux not in FLUXES:
        raise ValueError(f"weno5_flux: flux must be one of {FLUXES}, got {flux!r}")
    return torch.ops.coarsegrain.weno5_flux(v, flux)


def weno5_reconstruct(v: Tensor) -> tuple[Tensor, Tensor]:
    """WENO5 left and right states at every face, ``([*batch, n], [*batch, n])``."""
    _check_tensor("weno5_reconstruct", "v", v)
    return torch.ops.coarsegrain.weno5_reconstruct(v)


def restrict_average(u: Tensor, factor: int, ndim: int = 1) -> Tensor:
    """Block means of ``factor`` cells along each of the last ``ndim`` axes (cell averages on a
    grid ``factor`` times coarser); keeps the mean exactly. Differentiable."""
    _check_tensor("restrict_average", "u", u)
    return torch.ops.coarsegrain.restrict_average(u, int(ndim), int(factor))


def stencil_filter(v: Tensor, coeffs: Tensor, offset: int) -> Tensor:
    """``out[..., j] = sum_k coeffs[..., j, k] * v[..., (j + offset + k) mod n]``.

    ``v`` is ``[*batch, n]``, ``coeffs`` ``[*batch, n, width]``. With a 6-point stencil centred
    on face j (cells j-2 .. j+3), ``offset = -2``. Differentiable in ``v`` and ``coeffs``.
    """
    _check_tensor("stencil_filter", "v", v)
    _check_tensor("stencil_filter", "coeffs", coeffs)
    return torch.ops.coarsegrain.stencil_filter(v, coeffs, int(offset))


# --- fake kernels -----------------------------------------------------------------------------


def _fake_rows(op: str, v):
    if v.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{op}: v must be a float32 or float64 tensor, got {v.dtype}")
    if v.dim() < 1 or v.shape[-1] < 5:
        raise ValueError(f"{op}: v must be [*batch, n] with n >= 5 cells, got {tuple(v.shape)}")
    return v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::weno5_flux")
def _(v, flux="godunov"):
    return _fake_rows("weno5_flux", v)


@torch.library.register_fake("coarsegrain::weno5_reconstruct")
def _(v):
    return _fake_rows("weno5_reconstruct", v), v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::restrict_average")
def _(u, ndim, factor):
    shape = list(u.shape)
    for a in range(1, ndim + 1):
        if shape[-a] % factor:
            raise ValueError(f"restrict_average: grid axis has {shape[-a]} cells, not divisible by factor {factor}")
        shape[-a] //= factor
    return u.new_empty(shape)


@torch.library.register_fake("coarsegrain::stencil_filter")
def _(v, coeffs, offset):
    if coeffs.shape[:-1] != v.shape:
        raise ValueError(f"stencil_filter: coeffs must be [*batch, n, width] for v {tuple(v.shape)}")
    return v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::stencil_filter_backward")
def _(grad, v, coeffs, offset):
    return v.new_empty(v.shape), coeffs.new_empty(coeffs.shape)


# --- autograd ---------------------------------------------------------------------------------


def _filter_setup(ctx, inputs, output):
    v, coeffs, offset = inputs
    ctx.save_for_backward(v, coeffs)
    ctx.offset = offset


def _filter_backward(ctx, grad):
    v, coeffs = ctx.saved_tensors
    grad_v, grad_c = torch.ops.coarsegrain.stencil_filter_backward(grad.contiguous(), v, coeffs, ctx.offset)
    return (grad_v if ctx.needs_input_grad[0] else None,
            grad_c if ctx.needs_input_grad[1] else None, None)


torch.library.register_autograd("coarsegrain::stencil_filter", _filter_backward, setup_context=_filter_setup)


def _restrict_setup(ctx, inputs, output):
    ctx.ndim, ctx.factor = inputs[1], inputs[2]


def _restrict_backward(ctx, grad):
    g = grad / ctx.factor ** ctx.ndim
    for a in range(1, ctx.ndim + 1):
        g = g.repeat_interleave(ctx.factor, dim=g.dim() - a)
    return g, None, None


torch.library.register_autograd("coarsegrain::restrict_average", _restrict_backward, setup_context=_restrict_setup)
