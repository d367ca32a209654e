"""The rate of 2D lattice heterogeneous diffusion (the compiled
``torch.ops.coarsegrain.lattice_diffusion_rate``, CPU and CUDA): the micro-solver of arbabi2020's
2D gap-tooth / patch scheme (sec. 5.2, Eq 25)::

    du_{i,j}/dt = [kx_{i,j} (u_{i+1,j} - u_{i,j}) + kx_{i-1,j} (u_{i-1,j} - u_{i,j})
                 + ky_{i,j} (u_{i,j+1} - u_{i,j}) + ky_{i,j-1} (u_{i,j-1} - u_{i,j})] / spacing^2

Layout: ``u`` is ``[*batch, ny, nx]`` with x the last axis, so the paper's point ``(i, j)`` is
``u[..., j, i]``; ``kx[..., j, i]`` is the diffusivity of the bond between ``(i, j)`` and ``(i + 1, j)``
and ``ky[..., j, i]`` the one between ``(i, j)`` and ``(i, j + 1)``. A paper matrix indexed ``[i, j]``
(Eq 26) is therefore transposed before tiling: ``kx = np.tile(Kx.T, (ny // 3, nx // 3))``.

Differentiable to any order in ``u``, ``kx`` and ``ky``. The rate is linear in ``u`` with a symmetric
operator (a weighted graph Laplacian), so the gradient in ``u`` is the op itself applied to the
upstream gradient (zeroed on a patch's ring first, whose rates are not computed); the gradients in
the diffusivities are one product per bond, ``(u_{i+1} - u_i)(g_i - g_{i+1}) / spacing^2``, summed over the
axes a diffusivity is repeated over. That backward is composed of this op and elementwise torch
ops, not a compiled adjoint: it runs on every device the op runs on, is itself differentiable
(second derivatives for free), and its only non-trivial part is already compiled; the two bond
products are memory-bound elementwise work that torch (or torch.compile) does at bandwidth.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .stencil import _check_float, _check_like, _check_tensor, _num, _sizes

__all__ = ["lattice_diffusion_rate", "LATTICE_BOUNDARIES"]

LATTICE_BOUNDARIES = ("periodic", "patch")
_OP = "lattice_diffusion_rate"


def _fit_diffusivity(k: Tensor, u: Tensor) -> Tensor:
    """``k`` in a shape the op takes: leading axes of size 1, or of stride 0 (an ``expand``, one value
    repeated) and ``u``'s size there, dropped (a view: the op then reads one plane, not a copy per
    plane), and anything else that broadcasts to ``u`` expanded to it; what does not broadcast goes
    as it is (the op names it)."""
    if u.dim() < 2 or k.dim() < 2:
        return k
    while k.dim() > 2:
        repeated = k.stride(0) == 0 and 0 < k.shape[0] and k.dim() <= u.dim() and k.shape[0] == u.shape[-k.dim()]
        if k.shape[0] != 1 and not repeated:
            break
        k = k[0]
    if k.dim() <= u.dim() and tuple(k.shape) == tuple(u.shape[u.dim() - k.dim():]):
        return k
    try:
        return torch.broadcast_to(k, u.shape)
    except RuntimeError:
        return k


def lattice_diffusion_rate(u: Tensor, kx: Tensor, ky: Tensor, *, spacing: float,
                           boundary: str = "periodic") -> Tensor:
    """The rate ``du/dt`` of 2D lattice heterogeneous diffusion (arbabi2020 Eq 25), in flux form.

    ``u``: ``[*batch, ny, nx]`` float32 / float64, x the last axis (point ``(i, j)`` is ``u[..., j, i]``).
    ``kx``, ``ky``: bond diffusivities, ``kx[..., j, i]`` between ``(i, j)`` and ``(i + 1, j)``,
    ``ky[..., j, i]`` between ``(i, j)`` and ``(i, j + 1)``; of ``u``'s shape, or a trailing part of it
    with at least ``[ny, nx]`` (repeated over ``u``'s leading axes: one pattern for all patches, or
    one per patch for every trajectory), or anything that broadcasts to ``u`` (expanded, a copy).
    ``spacing``: the lattice spacing (positive, finite).

    ``boundary``:

    * ``"periodic"``: every index wraps on the whole ``[ny, nx]`` grid; the rates sum to zero.
    * ``"patch"``: each ``[ny, nx]`` plane is one patch (a tooth of the gap-tooth scheme) whose outer
      ring holds edge values set by a coupling; the rate is computed at the interior points
      ``1..ny-2 x 1..nx-2`` and is exactly 0 on the ring. Bonds from the interior to the ring are used
      (``kx[..., j, 0]``, ``kx[..., j, nx-2]``, ``ky[..., 0, i]``, ``ky[..., ny-2, i]``); bonds between two
      ring points are not (their gradients are 0). The interior rates sum to the net flux into the
      interior through the ring bonds. Needs ``ny, nx >= 3``.

    Returns a new ``[*batch, ny, nx]`` tensor. Differentiable to any order in ``u``, ``kx`` and ``ky``.
    """
    _check_tensor(_OP, "u", u)
    _check_tensor(_OP, "kx", kx)
    _check_tensor(_OP, "ky", ky)
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)):
        raise TypeError(f"{_OP}: spacing must be a number, got {type(spacing).__name__}")
    if not isinstance(boundary, str):
        raise TypeError(f"{_OP}: boundary must be 'periodic' or 'patch', got {type(boundary).__name__}")
    return torch.ops.coarsegrain.lattice_diffusion_rate(u, _fit_diffusivity(kx, u), _fit_diffusivity(ky, u),
                                                        float(spacing), boundary)


# --- fake kernel: what prepare_lattice (cpp/torch/common.cpp) and validate::lattice_rate check ---


@torch.library.register_fake("coarsegrain::lattice_diffusion_rate")
def _(u, kx, ky, spacing, boundary="periodic"):
    _check_float(_OP, "u", u)
    _check_like(_OP, "kx", kx, "u", u)
    _check_like(_OP, "ky", ky, "u", u)
    torch._check_value(u.dim() >= 2, lambda: (
        f"{_OP}: u must be [*batch, ny, nx] (at least the two grid axes), got shape {_sizes(u.shape)}"))
    shape = list(u.shape)
    for name, k in (("kx", kx), ("ky", ky)):
        fits = 2 <= k.dim() <= u.dim() and list(k.shape) == shape[len(shape) - k.dim():]
        torch._check_value(fits, lambda: (
            f"{_OP}: {name} must have the shape of u {_sizes(shape)} or a trailing part of it with at least "
            f"[ny, nx] = {_sizes(shape[-2:])} (the bond diffusivities, repeated over u's leading axes), got "
            f"{_sizes(k.shape)}"))
    torch._check_value(math.isfinite(spacing) and spacing > 0, lambda: (
        f"{_OP}: spacing must be a positive finite number, got {_num(spacing)}"))
    torch._check_value(boundary in LATTICE_BOUNDARIES, lambda: (
        f"{_OP}: boundary must be 'periodic' or 'patch', got '{boundary}'"))
    torch._check_value(boundary != "patch" or (shape[-2] >= 3 and shape[-1] >= 3), lambda: (
        f"{_OP}: boundary 'patch' needs ny >= 3 and nx >= 3 (a ring of edge values around the interior), got u of "
        f"shape {_sizes(shape)}"))
    return u.new_empty(u.shape)


# --- autograd ------------------------------------------------------------------------------------


def _setup(ctx, inputs, output):
    u, kx, ky, spacing, boundary = inputs
    ctx.save_for_backward(u, kx, ky)
    ctx.spacing, ctx.boundary = spacing, boundary


def _bond_gradient(u: Tensor, g: Tensor, axis: int, k: Tensor, inv_spacing_sq: float) -> Tensor:
    """d<g, rate>/dk for the bonds along ``axis``: (u_next - u)(g - g_next) / spacing^2, summed over the
    leading axes of u that k is repeated over."""
    grad = (torch.roll(u, -1, axis) - u) * (g - torch.roll(g, -1, axis)) * inv_spacing_sq
    extra = u.dim() - k.dim()
    return grad.sum(dim=tuple(range(extra))) if extra else grad


def _backward(ctx, grad):
    """The op is a weighted graph Laplacian L(k): rate = M L(k) u with M the identity (periodic) or
    the interior mask (patch). For <g, rate> = sum over bonds b = (p, q) of k_b (u_q - u_p)(g~_p - g~_q)
    with g~ = M g: grad_u = L(k) g~ (the periodic op: bonds between two ring points see g~ = 0 at both
    ends), grad_k = (u_q - u_p)(g~_p - g~_q). Composed of the forward op and torch ops."""
    u, kx, ky = ctx.saved_tensors
    g = grad
    if ctx.boundary == "patch":
        g = F.pad(g[..., 1:-1, 1:-1], (1, 1, 1, 1))
    need = ctx.needs_input_grad
    grad_u = torch.ops.coarsegrain.lattice_diffusion_rate(g, kx, ky, ctx.spacing, "periodic") if need[0] else None
    inv_spacing_sq = 1.0 / (ctx.spacing * ctx.spacing)
    grad_kx = _bond_gradient(u, g, -1, kx, inv_spacing_sq) if need[1] else None
    grad_ky = _bond_gradient(u, g, -2, ky, inv_spacing_sq) if need[2] else None
    return grad_u, grad_kx, grad_ky, None, None


torch.library.register_autograd("coarsegrain::lattice_diffusion_rate", _backward, setup_context=_setup)
