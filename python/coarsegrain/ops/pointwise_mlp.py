"""A small MLP evaluated at every point of a field: ``torch.ops.coarsegrain.pointwise_mlp``.

The point-wise networks h(u) of modal operator regression (patel2021 Eq 11) are a few units wide
and run over every grid value of every training window: millions of points per step. In eager
PyTorch each layer and each activation is a pass over memory (and the ELU's exponential a
separate one); the compiled op evaluates a point's whole network in registers or a
cache-resident block, forward and backward (coarsegrain/pointwise_mlp.h).

Parameters are one flat tensor: ``W_1 [width, n_in]``, ``b_1``, then per further hidden layer
``W [width, width]``, ``b``, then ``W_out [n_out, width]``, ``b_out`` (row-major, as
``torch.nn.Linear`` stores them; :func:`flatten_layers` builds it from such layers).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .stencil import _c10, _check_tensor, _refuse_backward, _sizes

__all__ = ["pointwise_mlp", "flatten_layers", "mlp_parameter_count", "MLP_ACTIVATIONS", "MLP_LIMITS"]

MLP_ACTIVATIONS = ("elu", "tanh")
# kMlpMaxIn, kMlpMaxWidth, kMlpMaxDepth, kMlpMaxOut of coarsegrain/pointwise_mlp.h
MLP_LIMITS = {"n_in": 8, "width": 16, "depth": 8, "n_out": 8}


def mlp_parameter_count(n_in: int, width: int, depth: int, n_out: int) -> int:
    """Length of the flat parameter tensor of a network of this shape."""
    return width * n_in + width + (depth - 1) * (width * width + width) + n_out * width + n_out


def pointwise_mlp(x: Tensor, params: Tensor, *, width: int, depth: int, n_out: int,
                  activation: str = "elu") -> Tensor:
    """``[..., n_out]``: the network of flat ``params`` at every point of ``x [..., n_in]``.

    ``depth`` hidden layers of ``width`` units with ``activation`` (``"elu"``, α = 1, or
    ``"tanh"``) after each, then a linear output layer. Differentiable in ``x`` and ``params``
    (first derivatives: the backward is its own compiled op, which refuses a second backward).
    Limits: ``n_in``, ``n_out`` <= 8, ``width`` <= 16, ``depth`` <= 8. CPU: the same bits at
    every thread count; CUDA: the parameter gradient is summed with atomics.
    """
    _check_tensor("pointwise_mlp", "x", x)
    _check_tensor("pointwise_mlp", "params", params)
    return torch.ops.coarsegrain.pointwise_mlp(x, params, int(width), int(depth), int(n_out), str(activation))


def flatten_layers(layers: Sequence[torch.nn.Linear]) -> Tensor:
    """The flat parameters of :func:`pointwise_mlp` from its layers, first to last (a view of
    none of them: a differentiable concatenation, so gradients reach the layers)."""
    parts = []
    for layer in layers:
        parts.append(layer.weight.reshape(-1))
        parts.append(layer.bias)
    return torch.cat(parts)


def _check_mlp(op: str, x, params, width: int, depth: int, n_out: int, activation: str) -> int:
    for name, t in (("x", x), ("params", params)):
        torch._check_type(t.dtype in (torch.float32, torch.float64), lambda name=name, t=t: (
            f"{op}: {name} must be a float32 or float64 tensor, got {_c10(t.dtype)}"))
    torch._check_type(params.dtype == x.dtype, lambda: (
        f"{op}: params must have the dtype of x ({_c10(x.dtype)}), got {_c10(params.dtype)}"))
    torch._check_value(params.device == x.device, lambda: (
        f"{op}: params must be on the device of x ({x.device}), got {params.device}"))
    torch._check_value(x.dim() >= 1, lambda: (
        f"{op}: x must have at least one axis (the inputs of a point last), got a 0-d tensor"))
    torch._check_value(activation in MLP_ACTIVATIONS, lambda: (
        f"{op}: activation must be 'elu' or 'tanh', got '{activation}'"))
    n_in = x.shape[-1]
    for name, value in (("the number of inputs per point (x.shape[-1])", n_in), ("width", width),
                        ("depth", depth), ("n_out", n_out)):
        top = MLP_LIMITS["n_in" if name.startswith("the number") else name]
        torch._check_value(1 <= value <= top, lambda name=name, value=value, top=top: (
            f"{op}: {name} must be 1 to {top}, got {value}"))
    count = mlp_parameter_count(n_in, width, depth, n_out)
    torch._check_value(params.dim() == 1 and params.shape[0] == count, lambda: (
        f"{op}: params must be a flat tensor of {count} parameters for n_in = {n_in}, width = {width}, "
        f"depth = {depth}, n_out = {n_out}, got shape {_sizes(params.shape)}"))
    return n_in


@torch.library.register_fake("coarsegrain::pointwise_mlp")
def _(x, params, width, depth, n_out, activation="elu"):
    _check_mlp("pointwise_mlp", x, params, width, depth, n_out, activation)
    return x.new_empty((*x.shape[:-1], n_out))


@torch.library.register_fake("coarsegrain::pointwise_mlp_backward")
def _(grad, x, params, width, depth, activation="elu"):
    op = "pointwise_mlp_backward"
    torch._check_value(grad.dim() >= 1, lambda: f"{op}: grad must have at least one axis")
    n_out = grad.shape[-1]
    _check_mlp(op, x, params, width, depth, n_out, activation)
    torch._check_value(grad.shape == (*x.shape[:-1], n_out) and grad.dtype == x.dtype and grad.device == x.device,
                       lambda: (f"{op}: grad must have the output's shape {_sizes((*x.shape[:-1], n_out))}, dtype "
                                f"{_c10(x.dtype)} and device {x.device}, got {_sizes(grad.shape)}, {_c10(grad.dtype)}, "
                                f"{grad.device}"))
    return x.new_empty(x.shape), params.new_empty(params.shape)


def _mlp_setup(ctx, inputs, output):
    x, params, width, depth, _n_out, activation = inputs
    ctx.save_for_backward(x, params)
    ctx.width, ctx.depth, ctx.activation = width, depth, activation


def _mlp_backward(ctx, grad):
    x, params = ctx.saved_tensors
    grad_x, grad_params = torch.ops.coarsegrain.pointwise_mlp_backward(grad.contiguous(), x, params, ctx.width,
                                                                       ctx.depth, ctx.activation)
    return grad_x, grad_params, None, None, None, None


torch.library.register_autograd("coarsegrain::pointwise_mlp", _mlp_backward, setup_context=_mlp_setup)
_refuse_backward("pointwise_mlp_backward", "pointwise_mlp has first derivatives only (no Hessian-vector "
                 "products); evaluate the network with torch operations (ModalMLP(..., compiled=False)) for those")
