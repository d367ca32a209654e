"""Finite-volume ops on 1D periodic rows (barsinai2019): WENO5 fluxes, restriction, learned stencils.

Face ``j`` is the right face of cell ``j`` (``x_{j+1/2}``), so a face flux ``J [*batch, n]``
updates cell averages by ``-(J[j] - J[j-1]) / dx`` -- :func:`coarsegrain.ops.divergence` with
one axis. ``stencil_filter`` is the pseudo-linear representation of a learned scheme: per-face
coefficients applied to neighbouring cell averages; it is differentiable (its backward is the
compiled ``stencil_filter_backward``, itself differentiable, so any order of derivative works).
``restrict_average`` takes block means and is differentiable; the WENO5 ops are not (baselines and
reference solvers): a backward pass through them raises NotImplementedError.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .stencil import _c10, _check_float, _check_tensor, _refuse_backward, _sizes

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


def restrict_average(u: Tensor, *, ndim: int = 1, factor: int) -> Tensor:
    """Block means of ``factor`` cells along each of the last ``ndim`` axes (cell averages on a
    grid ``factor`` times coarser); keeps the mean exactly. Differentiable.

    ``ndim`` and ``factor`` are keyword-only (two ints are easily swapped) and listed in the order
    of the op underneath (``torch.ops.coarsegrain.restrict_average``, like
    ``_core.restrict_average``), whose schema is ``(u, ndim, factor)``."""
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


# They check what cpp/torch/common.cpp checks, in its order, with its exception types and messages.

_MAX_OFFSET = 1 << 20


def _fake_rows(op: str, v):
    _check_float(op, "v", v)
    torch._check_value(v.dim() >= 1 and v.shape[-1] >= 5, lambda: (
        f"{op}: v must be [*batch, n] with n >= 5 cells (the WENO5 stencil), got shape {_sizes(v.shape)}"))
    return v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::weno5_flux")
def _(v, flux="godunov"):
    torch._check_value(flux in FLUXES, lambda: (
        f"weno5_flux: flux must be 'godunov' or 'lax_friedrichs', got '{flux}'"))
    return _fake_rows("weno5_flux", v)


@torch.library.register_fake("coarsegrain::weno5_reconstruct")
def _(v):
    return _fake_rows("weno5_reconstruct", v), v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::restrict_average")
def _(u, ndim, factor):  # the schema's order: (u, ndim, factor)
    op = "restrict_average"
    _check_float(op, "u", u)
    torch._check_value(1 <= ndim <= 3, lambda: f"{op}: ndim must be 1, 2 or 3, got {ndim}")
    torch._check_value(u.dim() >= ndim, lambda: (
        f"{op}: u must have at least ndim = {ndim} axes, got shape {_sizes(u.shape)}"))
    torch._check_value(factor >= 1, lambda: f"{op}: factor must be >= 1, got {factor}")
    shape = list(u.shape)
    for a in range(ndim):
        d = u.dim() - ndim + a
        n = shape[d]
        torch._check_value(n % factor == 0, lambda: (
            f"{op}: grid axis {a} has {n} cells, not divisible by factor {factor}"))
        shape[d] = n // factor
    return u.new_empty(shape)


def _check_filter(op: str, v, coeffs, offset) -> None:
    """prepare_filter in cpp/torch/common.cpp."""
    _check_float(op, "v", v)
    _check_float(op, "coeffs", coeffs)
    torch._check_type(v.dtype == coeffs.dtype, lambda: (
        f"{op}: coeffs must have the dtype of v ({_c10(v.dtype)}), got {_c10(coeffs.dtype)}"))
    torch._check_value(v.device == coeffs.device, lambda: (
        f"{op}: coeffs must be on the device of v ({v.device}), got {coeffs.device}"))
    torch._check_value(v.dim() >= 1 and v.shape[-1] >= 1, lambda: (
        f"{op}: v must be [*batch, n], got shape {_sizes(v.shape)}"))
    torch._check_value(coeffs.dim() == v.dim() + 1 and coeffs.shape[:v.dim()] == v.shape
                       and coeffs.shape[-1] >= 1, lambda: (
        f"{op}: coeffs must be [*batch, n, width] for v of shape {_sizes(v.shape)}, got "
        f"{_sizes(coeffs.shape)}"))
    torch._check_value(-_MAX_OFFSET < offset < _MAX_OFFSET, lambda: f"{op}: offset out of range: {offset}")


@torch.library.register_fake("coarsegrain::stencil_filter")
def _(v, coeffs, offset):
    _check_filter("stencil_filter", v, coeffs, offset)
    return v.new_empty(v.shape)


@torch.library.register_fake("coarsegrain::stencil_filter_backward")
def _(grad, v, coeffs, offset):
    _check_filter("stencil_filter_backward", v, coeffs, offset)
    torch._check_value(grad.shape == v.shape and grad.dtype == v.dtype and grad.device == v.device, lambda: (
        f"stencil_filter_backward: grad must match v ({_sizes(v.shape)}, {_c10(v.dtype)}), got "
        f"{_sizes(grad.shape)}, {_c10(grad.dtype)}"))
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


def _filter_backward_setup(ctx, inputs, output):
    grad, v, coeffs, offset = inputs
    ctx.save_for_backward(grad, v, coeffs)
    ctx.offset = offset


def _filter_double_backward(ctx, gg_v, gg_c):
    """Backward of ``(grad_v, grad_c) = stencil_filter_backward(g, v, c)``, with ``s(j, k) =
    (j + offset + k) mod n``: ``grad_v[i] = sum_{s(j,k) = i} g[j] c[j,k]`` and ``grad_c[j,k] =
    g[j] v[s(j,k)]`` are bilinear, so for upstream gradients ``gg_v``, ``gg_c``:

    * d/dg:  ``sum_k c[j,k] gg_v[s(j,k)] + sum_k gg_c[j,k] v[s(j,k)]`` = two stencil_filters;
    * d/dv:  ``sum_{s(j,k) = i} g[j] gg_c[j,k]`` = grad_v of stencil_filter_backward(g, v, gg_c);
    * d/dc:  ``g[j] gg_v[s(j,k)]`` = grad_c of stencil_filter_backward(g, gg_v, c).

    Every term is one of the two ops, which are differentiable, so any order works.
    """
    grad, v, coeffs = ctx.saved_tensors
    off = ctx.offset
    d_grad = d_v = d_c = None
    if gg_v is not None:
        gg_v = gg_v.contiguous()
        if ctx.needs_input_grad[0]:
            d_grad = torch.ops.coarsegrain.stencil_filter(gg_v, coeffs, off)
        if ctx.needs_input_grad[2]:
            d_c = torch.ops.coarsegrain.stencil_filter_backward(grad, gg_v, coeffs, off)[1]
    if gg_c is not None:
        gg_c = gg_c.contiguous()
        if ctx.needs_input_grad[0]:
            term = torch.ops.coarsegrain.stencil_filter(v, gg_c, off)
            d_grad = term if d_grad is None else d_grad + term
        if ctx.needs_input_grad[1]:
            d_v = torch.ops.coarsegrain.stencil_filter_backward(grad, v, gg_c, off)[0]
    return d_grad, d_v, d_c, None


torch.library.register_autograd(
    "coarsegrain::stencil_filter_backward", _filter_double_backward, setup_context=_filter_backward_setup
)


for _op in ("weno5_flux", "weno5_reconstruct"):
    _refuse_backward(_op, "it is a reference scheme for baselines and data (its nonlinear weights have "
                     "no backward); use stencil_filter with learned coefficients for a trainable scheme, "
                     "or call it under torch.no_grad() / on detached tensors")


def _restrict_setup(ctx, inputs, output):
    _, ctx.ndim, ctx.factor = inputs  # the schema's order: (u, ndim, factor)


def _restrict_backward(ctx, grad):
    g = grad / ctx.factor ** ctx.ndim
    for a in range(1, ctx.ndim + 1):
        g = g.repeat_interleave(ctx.factor, dim=g.dim() - a)
    return g, None, None


torch.library.register_autograd("coarsegrain::restrict_average", _restrict_backward, setup_context=_restrict_setup)
