"""Periodic finite-difference operators on batches of 1D, 2D and 3D grids.

Layout: a field is a tensor ``[*batch, *grid]`` whose last ``ndim`` axes are the grid (z, y, x
order in 3D), with one spacing per grid axis; a vector field (gradient, face flux) is
``[*batch, ndim, *grid]`` with component ``a`` along grid axis ``a``. Every grid axis is
periodic. float32 and float64, CPU and CUDA; every operator is differentiable (backward
formulas are themselves these operators, so double backward and CUDA work) and traceable by
``torch.compile``.

Staggered convention: flux component ``F_a[i]`` sits on the face between cell ``i`` and
``i + e_a``. :func:`divergence` of such a flux sums to zero over the grid to round-off and its
null space is only the constant fields; ``-divergence_adjoint(u)`` is the matching
forward-difference (face) gradient, so ``divergence(-divergence_adjoint(u))`` is the
second-order Laplacian.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "laplacian",
    "gradient",
    "gradient_adjoint",
    "divergence",
    "divergence_adjoint",
    "face_gradient",
    "normalize_spacing",
    "stencil_neighbours",
]

Spacing = float | Sequence[float]
_MAX_DIMS = 3
_MAX_POLYNOMIAL_TERMS = 8  # kMaxPolynomialTerms


def normalize_spacing(spacing: Spacing, ndim: int | None = None, *, op: str = "op") -> list[float]:
    """One float per grid axis from a number (needs ``ndim``) or a sequence of numbers."""
    if isinstance(spacing, numbers.Real) or (isinstance(spacing, Tensor) and spacing.dim() == 0):
        if ndim is None:
            raise ValueError(
                f"{op}: spacing is a single number, so the number of grid axes is unknown; "
                "pass ndim=1, 2 or 3, or give one spacing per grid axis"
            )
        if ndim not in (1, 2, 3):
            raise ValueError(f"{op}: ndim must be 1, 2 or 3, got {ndim}")
        return [float(spacing)] * ndim
    try:
        values = [float(s) for s in spacing]
    except TypeError:
        raise TypeError(
            f"{op}: spacing must be a number or a sequence of numbers (one per grid axis), "
            f"got {type(spacing).__name__}"
        ) from None
    if ndim is not None and len(values) != ndim:
        raise ValueError(f"{op}: spacing has {len(values)} values but ndim={ndim}")
    return values


def _check_tensor(op: str, arg: str, t: object) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {arg} must be a torch.Tensor, got {type(t).__name__}")
    return t


def _no_setup(ctx, inputs, output):
    pass


def _refuse_backward(op: str, why: str) -> None:
    """Autograd for an op without derivatives: the forward runs (its result requires grad when an
    input does), and a backward pass through it raises NotImplementedError naming the op, instead
    of PyTorch's fallback that warns and returns wrong (zero) gradients."""

    def backward(ctx, *grads):
        raise NotImplementedError(f"{op} is not differentiable; {why}")

    torch.library.register_autograd(f"coarsegrain::{op}", backward, setup_context=_no_setup)


def _call(op: str, x: Tensor, args: tuple, out: Tensor | None) -> Tensor:
    """Runs torch.ops.coarsegrain.<op>, or <op>_into writing into ``out``."""
    if out is None:
        return getattr(torch.ops.coarsegrain, op)(x, *args)
    _check_tensor(op, "out", out)
    if torch.is_grad_enabled() and (x.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{op}: out= does not support automatic differentiation; call it without out= "
            "or under torch.no_grad()"
        )
    getattr(torch.ops.coarsegrain, op + "_into")(x, *args, out)
    return out


def laplacian(
    u: Tensor, spacing: Spacing, *, order: int = 2, ndim: int | None = None, out: Tensor | None = None
) -> Tensor:
    """Periodic Laplacian ``sum_a d^2u/dx_a^2`` of ``u`` ``[*batch, *grid]``.

    ``order=2`` uses the 3-point stencil per axis, ``order=4`` the 5-point stencil
    ``(-u[i-2] + 16u[i-1] - 30u[i] + 16u[i+1] - u[i+2]) / 12h^2``. ``spacing`` is one value per
    grid axis, or one number together with ``ndim``. Returns a new contiguous tensor shaped
    like ``u``, or writes into ``out`` (contiguous, same shape, dtype and device, not sharing
    memory with ``u``; no autograd) -- the way to avoid an allocation per step in a loop.
    """
    _check_tensor("laplacian", "u", u)
    h = normalize_spacing(spacing, ndim, op="laplacian")
    return _call("laplacian", u, (h, order), out)


def gradient(
    u: Tensor, spacing: Spacing, *, ndim: int | None = None, out: Tensor | None = None
) -> Tensor:
    """Central-difference gradient ``(u[i+e_a] - u[i-e_a]) / 2h_a`` as ``[*batch, ndim, *grid]``.

    Writes into ``out`` when given (see :func:`laplacian`).
    """
    _check_tensor("gradient", "u", u)
    h = normalize_spacing(spacing, ndim, op="gradient")
    return _call("gradient", u, (h,), out)


def gradient_adjoint(
    v: Tensor, spacing: Spacing, *, ndim: int | None = None, out: Tensor | None = None
) -> Tensor:
    """Transpose of :func:`gradient`: ``-sum_a (v_a[i+e_a] - v_a[i-e_a]) / 2h_a``.

    ``v`` is ``[*batch, ndim, *grid]``; the result is ``[*batch, *grid]``.
    """
    _check_tensor("gradient_adjoint", "v", v)
    h = normalize_spacing(spacing, ndim, op="gradient_adjoint")
    return _call("gradient_adjoint", v, (h,), out)


def _stack_flux(flux: Tensor | Sequence[Tensor], ndim: int) -> Tensor:
    """Accepts a stacked ``[*batch, ndim, *grid]`` tensor or a sequence of ndim components."""
    if isinstance(flux, Tensor):
        return flux
    if not isinstance(flux, Sequence):
        raise TypeError(
            "divergence: flux must be a tensor [*batch, ndim, *grid] or a sequence of ndim "
            f"tensors [*batch, *grid], got {type(flux).__name__}"
        )
    if len(flux) != ndim:
        raise ValueError(
            f"divergence: flux must have one component per grid axis ({ndim}), got {len(flux)}"
        )
    first = _check_tensor("divergence", "flux[0]", flux[0])
    for a, comp in enumerate(flux[1:], start=1):
        _check_tensor("divergence", f"flux[{a}]", comp)
        if comp.shape != first.shape:
            raise ValueError(
                f"divergence: flux[{a}] has shape {tuple(comp.shape)} but flux[0] has "
                f"{tuple(first.shape)}; all components must have the same shape"
            )
        if comp.device != first.device:
            raise ValueError(
                f"divergence: flux[{a}] is on {comp.device} but flux[0] is on {first.device}; "
                "all components must be on one device"
            )
        if comp.dtype != first.dtype:
            raise TypeError(
                f"divergence: flux[{a}] is {comp.dtype} but flux[0] is {first.dtype}; "
                "all components must have one dtype"
            )
    return torch.stack(list(flux), dim=-ndim - 1)


def divergence(
    flux: Tensor | Sequence[Tensor],
    spacing: Spacing,
    *,
    ndim: int | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Divergence of a face-centred flux: ``sum_a (F_a[i] - F_a[i-e_a]) / h_a``.

    ``flux`` is ``[*batch, ndim, *grid]`` or a sequence of ``ndim`` tensors ``[*batch, *grid]``
    (component ``a`` along grid axis ``a``). Exactly conservative: the result sums to zero
    over the grid to round-off. Returns ``[*batch, *grid]``, or writes into ``out``.
    """
    if ndim is None and not isinstance(spacing, numbers.Real):
        ndim = len(normalize_spacing(spacing, op="divergence"))
    h = normalize_spacing(spacing, ndim, op="divergence")
    f = _check_tensor("divergence", "flux", _stack_flux(flux, len(h)))
    return _call("divergence", f, (h,), out)


def divergence_adjoint(
    w: Tensor, spacing: Spacing, *, ndim: int | None = None, out: Tensor | None = None
) -> Tensor:
    """Transpose of :func:`divergence`: component ``a`` is ``(w[i] - w[i+e_a]) / h_a``.

    ``w`` is ``[*batch, *grid]``; the result is ``[*batch, ndim, *grid]``.
    """
    _check_tensor("divergence_adjoint", "w", w)
    h = normalize_spacing(spacing, ndim, op="divergence_adjoint")
    return _call("divergence_adjoint", w, (h,), out)


def face_gradient(u: Tensor, spacing: Spacing, *, ndim: int | None = None) -> Tensor:
    """Forward-difference gradient ``(u[i+e_a] - u[i]) / h_a`` on the faces, ``[*batch, ndim, *grid]``.

    The natural partner of :func:`divergence`: ``divergence(M * face_gradient(mu))`` is the
    conservative discretization of ``div(M grad mu)``.
    """
    return -divergence_adjoint(u, spacing, ndim=ndim)


def stencil_neighbours(u: Tensor, ndim: int) -> Tensor:
    """[B, 1, *grid] -> [B * points, 2 ndim + 1], periodic: U(i-1), U(i), U(i+1) along the first
    grid axis, then U(j-1), U(j+1) along each further axis (kiyani Eq 8's order)."""
    field = u[:, 0]
    cols = []
    for a in range(ndim):
        axis = a - ndim
        if a == 0:
            cols += [torch.roll(field, 1, axis), field, torch.roll(field, -1, axis)]
        else:
            cols += [torch.roll(field, 1, axis), torch.roll(field, -1, axis)]
    # Eq 8 orders the 2D stencil U(i-1,j), U(i,j), U(i+1,j), U(i,j-1), U(i,j+1).
    return torch.stack(cols, dim=-1).reshape(-1, len(cols))


# --- fake kernels: shapes for torch.compile / meta tensors ------------------------------------


# The fakes check what cpp/torch/common.cpp and cpp/src/grid.cpp check, in the same order, with
# the same exception types and messages, so that compiled code fails like eager code.

_C10_DTYPE = {
    torch.float16: "Half", torch.bfloat16: "BFloat16", torch.float32: "Float", torch.float64: "Double",
    torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble", torch.bool: "Bool",
    torch.uint8: "Byte", torch.int8: "Char", torch.int16: "Short", torch.int32: "Int", torch.int64: "Long",
}


def _c10(dtype: torch.dtype) -> str:
    """A dtype as c10 prints it in the C++ messages (Float, Double, ...)."""
    return _C10_DTYPE.get(dtype, str(dtype).removeprefix("torch."))


def _sizes(shape) -> str:
    """Sizes as c10 prints them: [2, 8]."""
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


def _num(x: float) -> str:
    """A double as a default std::ostream prints it (6 significant digits)."""
    return f"{x:g}"


def _check_like(op: str, arg: str, t, like_arg: str, like) -> None:
    """Fake-kernel check: ``t`` has the dtype and device of ``like`` (the messages the C++ checks give)."""
    torch._check_type(t.dtype == like.dtype, lambda: (
        f"{op}: {arg} must have the dtype of {like_arg} ({_c10(like.dtype)}), got {_c10(t.dtype)}"))
    torch._check_value(t.device == like.device, lambda: (
        f"{op}: {arg} must be on the device of {like_arg} ({like.device}), got {t.device}"))


def _check_float(op: str, arg: str, t: Tensor) -> None:
    torch._check_type(t.dtype in (torch.float32, torch.float64),
                      lambda: f"{op}: {arg} must be a float32 or float64 tensor, got {_c10(t.dtype)}")


def _check_polynomial(op: str, arg: str, coeffs: Sequence[float]) -> None:
    n = len(coeffs)
    torch._check_value(1 <= n <= _MAX_POLYNOMIAL_TERMS, lambda: (
        f"{op}: {arg} must hold 1 to {_MAX_POLYNOMIAL_TERMS} polynomial coefficients (constant term "
        f"first), got {n}"))
    for i, c in enumerate(coeffs):
        torch._check_value(math.isfinite(c), lambda: f"{op}: {arg}[{i}] must be finite, got {_num(c)}")


def _fake_result(op: str, arg: str, t: Tensor, spacing: Sequence[float], arity: str) -> Tensor:
    _check_float(op, arg, t)
    nsp = len(spacing)
    torch._check_value(1 <= nsp <= _MAX_DIMS, lambda: (
        f"{op}: spacing must hold one value per grid axis (1 to {_MAX_DIMS} values), got {nsp}"))
    for a, h in enumerate(spacing):
        torch._check_value(math.isfinite(h) and h > 0, lambda: (
            f"{op}: spacing[{a}] must be a positive finite number, got {_num(h)}"))
    vector_in = arity == "vector_to_scalar"
    needed = nsp + (1 if vector_in else 0)
    rank = t.dim()
    torch._check_value(rank >= needed, lambda: (
        f"{op}: {arg} must have at least {needed} dimensions "
        f"({'a component axis of size ndim, then ' if vector_in else ''}{nsp} grid axes, since spacing "
        f"has {nsp} values), got {rank}"))
    shape = list(t.shape)
    if vector_in:
        torch._check_value(shape[-nsp - 1] == nsp, lambda: (
            f"{op}: {arg} must have {nsp} components (one per grid axis) in dimension "
            f"{rank - nsp - 1}, got {shape[-nsp - 1]}"))
    for a in range(nsp):
        torch._check_value(shape[rank - nsp + a] >= 1, lambda: (
            f"{op}: {arg} grid axis {a} (dimension {rank - nsp + a}) must not be empty"))
    if vector_in:
        del shape[-nsp - 1]
    elif arity == "scalar_to_vector":
        shape.insert(len(shape) - nsp, nsp)
    return t.new_empty(shape)


def _dense(t: Tensor) -> bool:
    """Its elements fill ``numel`` consecutive slots (some order of the axes is contiguous)."""
    expected = 1
    for stride, size in sorted((st, n) for n, st in zip(t.shape, t.stride()) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _shares_memory(out: Tensor, t: Tensor) -> bool:
    """What makes the C++ refuse ``out``: at::get_overlap_status(out, input) not No, where the
    kernel's input is ``t`` itself when contiguous and a fresh copy otherwise (which shares
    nothing). So: a contiguous ``t`` in the same storage with intersecting element ranges."""
    if out.numel() == 0 or t.numel() == 0 or not t.is_contiguous():
        return False
    if out.untyped_storage()._cdata != t.untyped_storage()._cdata:
        return False
    a, b = out.storage_offset(), t.storage_offset()
    return a < b + t.numel() and b < a + out.numel()


def _check_out(op: str, arg: str, t: Tensor, out: Tensor, expected: Tensor) -> None:
    torch._check_value(out.shape == expected.shape, lambda: (
        f"{op}: out must have shape {_sizes(expected.shape)}, got {_sizes(out.shape)}"))
    torch._check_type(out.dtype == t.dtype, lambda: (
        f"{op}: out must have the dtype of {arg} ({_c10(t.dtype)}), got {_c10(out.dtype)}"))
    torch._check_value(out.device == t.device, lambda: (
        f"{op}: out must be on the device of {arg} ({t.device}), got {out.device}"))
    torch._check_value(out.is_contiguous(), lambda: f"{op}: out must be contiguous")
    torch._check_value(not _shares_memory(out, t), lambda: f"{op}: out must not share memory with {arg}")


def _check_laplacian_order(order: int) -> None:
    torch._check_value(order in (2, 4), lambda: f"laplacian: order must be 2 or 4, got {order}")


_ARITY = {
    "laplacian": ("u", "scalar_to_scalar"),
    "gradient": ("u", "scalar_to_vector"),
    "gradient_adjoint": ("v", "vector_to_scalar"),
    "divergence": ("flux", "vector_to_scalar"),
    "divergence_adjoint": ("w", "scalar_to_vector"),
}


def _register_fakes(op: str, arg: str, arity: str) -> None:
    def fake(x, spacing, *args):
        if op == "laplacian":
            _check_laplacian_order(args[0] if args else 2)
        return _fake_result(op, arg, x, spacing, arity)

    def fake_into(x, spacing, *args):
        out = args[-1]
        if op == "laplacian":
            _check_laplacian_order(args[0])
        _check_out(op, arg, x, out, _fake_result(op, arg, x, spacing, arity))

    torch.library.register_fake(f"coarsegrain::{op}", fake)
    torch.library.register_fake(f"coarsegrain::{op}_into", fake_into)


for _op, (_arg, _arity) in _ARITY.items():
    _register_fakes(_op, _arg, _arity)


# --- autograd: each backward is another op of the family (runs on CUDA, twice differentiable) --


def _keep_spacing(ctx, inputs, output):
    ctx.spacing = inputs[1]
    ctx.order = inputs[2] if len(inputs) > 2 else 2


def _laplacian_backward(ctx, grad):
    # The periodic Laplacian stencil is symmetric, hence self-adjoint.
    return torch.ops.coarsegrain.laplacian(grad, ctx.spacing, ctx.order), None, None


def _adjoint_backward(adjoint):
    def backward(ctx, grad):
        return adjoint(grad, ctx.spacing), None

    return backward


torch.library.register_autograd(
    "coarsegrain::laplacian", _laplacian_backward, setup_context=_keep_spacing
)
for _op, _adj in [
    ("gradient", "gradient_adjoint"),
    ("gradient_adjoint", "gradient"),
    ("divergence", "divergence_adjoint"),
    ("divergence_adjoint", "divergence"),
]:
    torch.library.register_autograd(
        f"coarsegrain::{_op}",
        _adjoint_backward(getattr(torch.ops.coarsegrain, _adj)),
        setup_context=_keep_spacing,
    )
