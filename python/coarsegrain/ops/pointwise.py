"""Fused pointwise ops for spectral steppers (torch.ops.coarsegrain.polynomial / spectral_combine)
and the inverse real FFT they run on (:func:`irfftn`).

An eager framework evaluates ``sum_k c_k u^k`` or ``sum_i w_i * z_i`` with one pass over
memory per operation; these do it in one. None of the raw ops has autograd.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .stencil import _c10, _check_float, _check_polynomial, _check_tensor, _refuse_backward, _sizes

__all__ = ["polynomial", "spectral_combine", "real_fft_pack", "irfftn", "irfftn_for", "take_along_last"]


def polynomial(u: Tensor, coeffs: Sequence[float]) -> Tensor:
    """``sum_k coeffs[k] * u**k`` elementwise (1 to 8 coefficients, constant first).

    A stepper op without autograd: a Python autograd layer would cost more per call than the
    work itself on the grids spectral steppers use. For a differentiable polynomial, write it
    with torch operations (see PolynomialEnergy).
    """
    _check_tensor("polynomial", "u", u)
    if torch.is_grad_enabled() and u.requires_grad:
        raise RuntimeError("polynomial: no autograd; call it under torch.no_grad()")
    return torch.ops.coarsegrain.polynomial(u, [float(c) for c in coeffs])


def spectral_combine(terms: Sequence[Tensor], weights: Sequence[Tensor]) -> Tensor:
    """``sum_i weights[i] * terms[i]`` for complex ``terms`` and real ``weights``.

    The weights (float32 for complex64 terms, float64 for complex128) match the trailing
    dimensions of the terms and broadcast over the leading (batch) ones. No autograd.
    """
    terms, weights = list(terms), list(weights)
    if not terms:  # the op cannot say it: without a tensor argument the dispatcher finds no kernel
        raise ValueError(f"spectral_combine: terms must hold 1 to {_MAX_COMBINE_TERMS} tensors, got 0")
    for i, t in enumerate(terms):
        _check_tensor("spectral_combine", f"terms[{i}]", t)
    if torch.is_grad_enabled() and any(t.requires_grad for t in terms + weights):
        raise RuntimeError("spectral_combine: no autograd; call it under torch.no_grad()")
    return torch.ops.coarsegrain.spectral_combine(terms, weights)


def real_fft_pack(u_hat: Tensor, ndim: int) -> Tensor:
    """For the half spectrum ``u_hat`` (``[*batch, *lead, m + 1]``) of a real field over its last
    ``ndim`` axes with an even last axis 2m: ``Z`` (``[*batch, *lead, m]``) whose complex inverse
    FFT over those axes, read as real numbers, is ``irfftn(u_hat)``. Like irfftn it uses only the
    Hermitian part of the k = 0 and Nyquist columns. No autograd; see :func:`irfftn`."""
    if not isinstance(u_hat, Tensor):
        raise TypeError(f"real_fft_pack: u_hat must be a torch.Tensor, got {type(u_hat).__name__}")
    if torch.is_grad_enabled() and u_hat.requires_grad:
        raise RuntimeError("real_fft_pack: no autograd; call it under torch.no_grad() (or use irfftn)")
    return torch.ops.coarsegrain.real_fft_pack(u_hat, int(ndim))


def irfftn(u_hat: Tensor, shape: Sequence[int]) -> Tensor:
    """``torch.fft.irfftn(u_hat, s=shape, dim=last len(shape) axes)``, up to twice as fast on CPU
    for an even last axis: there the library's complex-to-real transform costs 1.5-3x its
    real-to-complex one, while :func:`real_fft_pack` and a complex inverse FFT of half the length
    cost about as much as the forward transform. Elsewhere (CUDA, odd sizes, autograd) it is
    torch.fft.irfftn. The forward transform needs no such help: use torch.fft.rfftn."""
    shape = tuple(int(n) for n in shape)
    ndim = len(shape)
    dims = tuple(range(-ndim, 0))
    if (u_hat.shape[-1] != shape[-1] // 2 + 1 or u_hat.shape[-ndim:-1] != shape[:-1]
            or (torch.is_grad_enabled() and u_hat.requires_grad)):
        return torch.fft.irfftn(u_hat, s=shape, dim=dims)
    return irfftn_for(shape, u_hat.device)(u_hat)


def _packed_irfftn(u_hat: Tensor, ndim: int, dims: tuple[int, ...], last: int) -> Tensor:
    z = torch.fft.ifftn(torch.ops.coarsegrain.real_fft_pack.default(u_hat, ndim), dim=dims)
    return torch.view_as_real(z).view(*z.shape[:-1], last)


def irfftn_for(shape: Sequence[int], device: torch.device | str) -> Callable[[Tensor], Tensor]:
    """:func:`irfftn` for many spectra of one grid ``shape`` on one ``device``, with the path
    chosen once: for the inner loops of the Fourier steppers, where irfftn's per-call checks
    cost a tenth of an FFT. The spectra must have the half-spectrum shape and need no autograd."""
    shape = tuple(int(n) for n in shape)
    ndim, dims = len(shape), tuple(range(-len(shape), 0))
    if torch.device(device).type != "cpu" or shape[-1] % 2:
        return functools.partial(torch.fft.irfftn, s=shape, dim=dims)
    return functools.partial(_packed_irfftn, ndim=ndim, dims=dims, last=shape[-1])


_MAX_COMBINE_TERMS = 8  # kMaxCombineTerms
_MAX_REAL_FFT_LEAD_AXES = 3  # kMaxRealFftLeadAxes


@torch.library.register_fake("coarsegrain::real_fft_pack")
def _(u_hat, ndim):
    op = "real_fft_pack"
    torch._check_type(u_hat.is_complex(), lambda: (
        f"{op}: u_hat must be a complex64 or complex128 tensor, got {_c10(u_hat.dtype)}"))
    top = _MAX_REAL_FFT_LEAD_AXES + 1
    torch._check_value(1 <= ndim <= top, lambda: f"{op}: ndim must be 1 to {top}, got {ndim}")
    torch._check_value(u_hat.dim() >= ndim, lambda: (
        f"{op}: ndim = {ndim} transform axes, but u_hat has shape {_sizes(u_hat.shape)}"))
    torch._check_value(u_hat.shape[-1] >= 2, lambda: (
        f"{op}: the last axis of u_hat must hold m + 1 >= 2 half-spectrum columns, got shape "
        f"{_sizes(u_hat.shape)}"))
    return u_hat.new_empty((*u_hat.shape[:-1], u_hat.shape[-1] - 1))


@torch.library.register_fake("coarsegrain::polynomial")
def _(u, coeffs):
    _check_float("polynomial", "u", u)
    _check_polynomial("polynomial", "coeffs", coeffs)
    return u.new_empty(u.shape)


@torch.library.register_fake("coarsegrain::spectral_combine")
def _(terms, weights):
    op, top = "spectral_combine", _MAX_COMBINE_TERMS
    torch._check_value(1 <= len(terms) <= top, lambda: (
        f"{op}: terms must hold 1 to {top} tensors, got {len(terms)}"))
    torch._check_value(len(weights) == len(terms), lambda: (
        f"{op}: weights must hold one tensor per term ({len(terms)}), got {len(weights)}"))
    t0, w0 = terms[0], weights[0]
    torch._check_type(t0.dtype in (torch.complex64, torch.complex128), lambda: (
        f"{op}: terms must be complex64 or complex128 tensors, got {_c10(t0.dtype)}"))
    real = torch.float32 if t0.dtype == torch.complex64 else torch.float64
    torch._check_value(w0.dim() <= t0.dim() and t0.shape[t0.dim() - w0.dim():] == w0.shape, lambda: (
        f"{op}: weights[0] of shape {_sizes(w0.shape)} must match the trailing dimensions of terms[0] "
        f"{_sizes(t0.shape)}"))
    for i, (t, w) in enumerate(zip(terms, weights)):
        torch._check_value(t.shape == t0.shape, lambda: (
            f"{op}: terms[{i}] has shape {_sizes(t.shape)} but terms[0] has {_sizes(t0.shape)}"))
        torch._check_type(t.dtype == t0.dtype, lambda: (
            f"{op}: terms[{i}] is {_c10(t.dtype)} but terms[0] is {_c10(t0.dtype)}"))
        torch._check_value(w.shape == w0.shape, lambda: (
            f"{op}: weights[{i}] has shape {_sizes(w.shape)} but weights[0] has {_sizes(w0.shape)}"))
        torch._check_type(w.dtype == real, lambda: (
            f"{op}: weights[{i}] must be {_c10(real)} to match {_c10(t0.dtype)} terms, got {_c10(w.dtype)}"))
        torch._check_value(t.device == t0.device and w.device == t0.device, lambda: (
            f"{op}: all tensors must be on {t0.device}; terms[{i}] is on {t.device} and weights[{i}] on "
            f"{w.device}"))
    return t0.new_empty(t0.shape)


for _op, _why in [
    ("polynomial", "write the polynomial with torch operations for gradients (see PolynomialEnergy)"),
    ("spectral_combine", "write sum(w * z) with torch operations for gradients"),
    ("real_fft_pack", "use torch.fft.irfftn (coarsegrain.ops.irfftn falls back to it under autograd)"),
]:
    _refuse_backward(_op, _why)


# --- take_along_last: the gather of the cosine / sine transforms ---------------------------------


def take_along_last(x: Tensor, index: Tensor) -> Tensor:
    """``out[..., j] = x[..., index[j]]``: one int64 index (on ``x``'s device, values in
    ``[0, n)``) for every row of the last axis. Differentiable to any order (the backward is the
    compiled adjoint, a scatter-add, whose own backward is this gather). An out-of-range index
    raises on the CPU; on CUDA it is a device-side assertion, as in ``torch.gather``."""
    _check_tensor("take_along_last", "x", x)
    _check_tensor("take_along_last", "index", index)
    return torch.ops.coarsegrain.take_along_last(x, index)


def _check_take_index(op: str, values: Tensor, index: Tensor) -> None:
    torch._check_type(index.dtype == torch.int64, lambda: f"{op}: index must be an int64 tensor, got {_c10(index.dtype)}")
    torch._check_value(index.dim() == 1, lambda: f"{op}: index must be 1-D, got shape {_sizes(index.shape)}")
    torch._check_value(index.device == values.device, lambda: (
        f"{op}: index must be on the device of the values ({values.device}), got {index.device}"))


@torch.library.register_fake("coarsegrain::take_along_last")
def _(x, index):
    op = "take_along_last"
    _check_float(op, "x", x)
    torch._check_value(x.dim() >= 1, lambda: f"{op}: x must have at least one axis")
    _check_take_index(op, x, index)
    return x.new_empty((*x.shape[:-1], index.shape[0]))


@torch.library.register_fake("coarsegrain::take_along_last_backward")
def _(grad, index, n):
    op = "take_along_last_backward"
    _check_float(op, "grad", grad)
    _check_take_index(op, grad, index)
    torch._check_value(grad.dim() >= 1 and grad.shape[-1] == index.shape[0], lambda: (
        f"{op}: grad must be [..., m] with m = {index.shape[0]} (the index length), got shape {_sizes(grad.shape)}"))
    torch._check_value(n >= 0, lambda: f"{op}: n must be >= 0, got {n}")
    return grad.new_empty((*grad.shape[:-1], n))


def _take_setup(ctx, inputs, output):
    x, index = inputs
    ctx.save_for_backward(index)
    ctx.n = x.shape[-1]


def _take_backward(ctx, grad):
    (index,) = ctx.saved_tensors
    return torch.ops.coarsegrain.take_along_last_backward(grad.contiguous(), index, ctx.n), None


def _take_backward_setup(ctx, inputs, output):
    _, index, _ = inputs
    ctx.save_for_backward(index)


def _take_double_backward(ctx, grad):
    (index,) = ctx.saved_tensors
    return torch.ops.coarsegrain.take_along_last(grad.contiguous(), index), None, None


torch.library.register_autograd("coarsegrain::take_along_last", _take_backward, setup_context=_take_setup)
torch.library.register_autograd("coarsegrain::take_along_last_backward", _take_double_backward,
                                setup_context=_take_backward_setup)
