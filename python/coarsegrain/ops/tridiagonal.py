"""Batched tridiagonal solves and the implicit heterogeneous-diffusion micro-step (the compiled
``torch.ops.coarsegrain.tridiagonal_solve`` and ``heterogeneous_diffusion_step``, CPU and CUDA).

arbabi2020's 1D micro-problem ``u_t = d/dx (a(x/eps) du/dx)`` with cells of ``1e-7`` and ``dt = 1e-6``
is far beyond the explicit stability limit ``spacing^2 / (2 max a) ~ 1e-14``: each micro-step is
implicit, one tridiagonal solve per system.

``tridiagonal_solve``: the Thomas algorithm (Gaussian elimination without pivoting), one system
per row of ``[*batch, n]`` bands; stable for diagonally dominant (``|diag| >= |lower| + |upper|``)
and symmetric positive definite matrices. An exactly zero pivot raises ``ValueError`` naming the
system's batch index and the row; other breakdowns (tiny pivots of a matrix that is neither) are
not detected. Differentiable to any order: for ``x = A^{-1} b`` and an upstream gradient ``g``,
``lambda = A^{-T} g`` is one more tridiagonal solve (the transposed bands: ``lower`` and ``upper``
swapped and shifted by one row), ``grad_rhs = lambda`` and ``grad_A = -lambda x^T`` restricted to
the three diagonals; that backward is composed of this op and elementwise torch ops, so it runs on
CUDA and is itself differentiable. On the CPU the result has the same bits for any thread count;
on CUDA each call synchronizes once (to raise on a zero pivot).

``heterogeneous_diffusion_step``: one backward-Euler or Crank-Nicolson step of ``u_t = (a u_x)_x``
on cells of width ``spacing`` with the diffusivity at the ``n + 1`` faces and Dirichlet values at the
two walls, in conservative flux form (see the function). Not differentiable (a micro-solver for
data generation); for gradients build the bands with torch and call ``tridiagonal_solve``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .stencil import _check_float, _check_like, _check_tensor, _num, _refuse_backward, _sizes

__all__ = ["tridiagonal_solve", "heterogeneous_diffusion_step", "DIFFUSION_SCHEMES"]

DIFFUSION_SCHEMES = ("backward_euler", "crank_nicolson")


def tridiagonal_solve(lower: Tensor, diag: Tensor, upper: Tensor, rhs: Tensor) -> Tensor:
    """Solves ``lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i]`` along the last axis.

    All four are ``[*batch, n]`` of one dtype (float32 / float64) and device; ``lower[..., 0]``
    and ``upper[..., n-1]`` are ignored (their gradients are zero). Returns ``x [*batch, n]``.
    Needs a diagonally dominant or symmetric positive definite matrix (no pivoting); a zero pivot
    raises ``ValueError`` naming the system. Differentiable in all four, to any order.
    """
    for name, t in (("lower", lower), ("diag", diag), ("upper", upper), ("rhs", rhs)):
        _check_tensor("tridiagonal_solve", name, t)
    return torch.ops.coarsegrain.tridiagonal_solve(lower, diag, upper, rhs)


def _wall(name: str, value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):  # boundary data: take u's dtype (the device must match already)
        return value if value.is_complex() or value.dtype == torch.bool else value.to(dtype=like.dtype)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=like.dtype, device=like.device)
    raise TypeError(f"heterogeneous_diffusion_step: {name} must be a number or a tensor, got {type(value).__name__}")


def _broadcast(t: Tensor, shape: tuple) -> Tensor:
    try:
        return torch.broadcast_to(t, shape)
    except RuntimeError:
        return t


def heterogeneous_diffusion_step(u: Tensor, a_faces: Tensor, *, spacing: float, dt: float,
                                 left: float | Tensor = 0.0, right: float | Tensor = 0.0,
                                 scheme: str = "backward_euler") -> Tensor:
    """One implicit step of ``u_t = d/dx (a du/dx)`` with Dirichlet walls.

    ``u`` is ``[*batch, n]`` cell values on cells of width ``h = spacing`` (cell ``i`` centred at
    ``(i + 1/2) h``); ``a_faces`` the diffusivity at the ``n + 1`` faces (face ``i`` at ``i h``;
    faces 0 and n are the walls),
    ``[n + 1]``, ``[*batch, n + 1]`` or anything that broadcasts to it; ``left`` / ``right`` the wall
    values, numbers or tensors broadcastable to ``[*batch]`` (converted to ``u``'s dtype).

    Discretization (conservative flux form): interior face flux ``F_i = -a_i (u_i - u_{i-1}) / h``;
    at the walls the boundary value sits on the face, half a cell from the first centre,
    ``F_0 = -2 a_0 (u_0 - left) / h`` and ``F_n = -2 a_n (right - u_{n-1}) / h`` (the ghost cell
    ``u_{-1} = 2 left - u_0``, linear through the wall value: second order overall, first order
    truncation in the two wall cells); ``du_i/dt = (F_i - F_{i+1}) / h = (M u + s)_i``. ``scheme``:
    ``"backward_euler"`` (theta = 1, first order in dt, L-stable) or ``"crank_nicolson"`` (theta =
    1/2, second order; undamped for the stiffest modes when ``dt >> h^2 / a``), wall values held over
    the step: ``(I - theta dt M) u' = (I + (1 - theta) dt M) u + dt s``, solved for the increment,
    ``(I - theta dt M) delta = dt (M u + s)`` with the rate in flux form, then ``u' = u + delta``: at
    the paper's ``dt a / h^2 ~ 1e8`` the round-off of solving for ``u'`` directly is relative to
    ``|u|`` and accumulates in the slow modes (a drift over long runs; tests/test_tridiagonal.py);
    the increment form's is relative to the change. The total ``sum(u) h`` changes exactly
    by ``dt`` times the theta-weighted wall fluxes ``F_0 - F_n`` (round-off apart).
    With ``a >= 0`` the system is diagonally dominant: stable for any ``dt`` (negative ``a`` is not
    checked). Not differentiable.
    """
    _check_tensor("heterogeneous_diffusion_step", "u", u)
    _check_tensor("heterogeneous_diffusion_step", "a_faces", a_faces)
    left_t, right_t = _wall("left", left, u), _wall("right", right, u)
    if u.dim() >= 1:
        # broadcast what broadcasts; anything else goes to the op as it is, which names the mismatch
        batch = tuple(u.shape[:-1])
        n = u.shape[-1]
        if not (a_faces.dim() == 1 or tuple(a_faces.shape[:-1]) == batch):
            a_faces = _broadcast(a_faces, (*batch, n + 1))
        if left_t.dim() or right_t.dim():
            left_t, right_t = _broadcast(left_t, batch), _broadcast(right_t, batch)
    return torch.ops.coarsegrain.heterogeneous_diffusion_step(u, a_faces, left_t, right_t, float(spacing),
                                                              float(dt), scheme)


# --- fake kernels: what prepare_tridiagonal / prepare_diffusion (cpp/torch/common.cpp) check -----


@torch.library.register_fake("coarsegrain::tridiagonal_solve")
def _(lower, diag, upper, rhs):
    op = "tridiagonal_solve"
    for name, t in (("lower", lower), ("diag", diag), ("upper", upper), ("rhs", rhs)):
        _check_float(op, name, t)
    torch._check_value(diag.dim() >= 1, lambda: (
        f"{op}: diag must be [*batch, n] (at least one axis), got shape {_sizes(diag.shape)}"))
    for name, t in (("lower", lower), ("upper", upper), ("rhs", rhs)):
        _check_like(op, name, t, "diag", diag)
        torch._check_value(t.shape == diag.shape, lambda: (
            f"{op}: {name} must have the shape of diag {_sizes(diag.shape)}, got {_sizes(t.shape)}"))
    return diag.new_empty(diag.shape)


@torch.library.register_fake("coarsegrain::heterogeneous_diffusion_step")
def _(u, a_faces, left, right, spacing, dt, scheme="backward_euler"):
    op = "heterogeneous_diffusion_step"
    _check_float(op, "u", u)
    torch._check_value(u.dim() >= 1 and u.shape[-1] >= 1, lambda: (
        f"{op}: u must be [*batch, n] with n >= 1 cells, got shape {_sizes(u.shape)}"))
    for name, t in (("a_faces", a_faces), ("left", left), ("right", right)):
        _check_like(op, name, t, "u", u)
    n = u.shape[-1]
    batch = list(u.shape[:-1])
    faces = [*batch, n + 1]
    shared = a_faces.dim() == 1 and a_faces.shape[0] == n + 1
    torch._check_value(shared or list(a_faces.shape) == faces, lambda: (
        f"{op}: a_faces must be [n + 1] = [{n + 1}] or [*batch, n + 1] = {_sizes(faces)} (the diffusivity at the "
        f"faces), got {_sizes(a_faces.shape)}"))
    for name, t in (("left", left), ("right", right)):
        torch._check_value(t.dim() == 0 or list(t.shape) == batch, lambda: (
            f"{op}: {name} must be 0-d or [*batch] = {_sizes(batch)}, got {_sizes(t.shape)}"))
    torch._check_value(left.dim() == right.dim(), lambda: (
        f"{op}: left and right must both be 0-d or both [*batch], got {_sizes(left.shape)} and "
        f"{_sizes(right.shape)}"))
    torch._check_value(math.isfinite(spacing) and spacing > 0, lambda: (
        f"{op}: spacing must be a positive finite number, got {_num(spacing)}"))
    torch._check_value(math.isfinite(dt) and dt > 0, lambda: f"{op}: dt must be a positive finite number, got {_num(dt)}")
    torch._check_value(scheme in DIFFUSION_SCHEMES, lambda: (
        f"{op}: scheme must be 'backward_euler' or 'crank_nicolson', got '{scheme}'"))
    return u.new_empty(u.shape)


# --- autograd ------------------------------------------------------------------------------------


def _solve_setup(ctx, inputs, output):
    lower, diag, upper, _ = inputs
    ctx.save_for_backward(lower, diag, upper, output)


def _solve_backward(ctx, grad):
    """``lambda = A^{-T} g``: row i of A^T has ``upper[i-1]`` below and ``lower[i+1]`` above the
    diagonal. Then ``grad_rhs = lambda``, ``grad_diag = -lambda x``, ``grad_lower[i] = -lambda[i] x[i-1]``
    (0 at i = 0), ``grad_upper[i] = -lambda[i] x[i+1]`` (0 at i = n-1). Composed of the forward op and
    torch ops: differentiable again."""
    lower, diag, upper, x = ctx.saved_tensors
    if diag.shape[-1] == 0:
        z = torch.zeros_like(diag)
        return z, z, z, z
    lower_t = F.pad(upper[..., :-1], (1, 0))
    upper_t = F.pad(lower[..., 1:], (0, 1))
    lam = torch.ops.coarsegrain.tridiagonal_solve(lower_t, diag, upper_t, grad)
    need = ctx.needs_input_grad
    grad_lower = -lam * F.pad(x[..., :-1], (1, 0)) if need[0] else None
    grad_diag = -lam * x if need[1] else None
    grad_upper = -lam * F.pad(x[..., 1:], (0, 1)) if need[2] else None
    return grad_lower, grad_diag, grad_upper, lam if need[3] else None


torch.library.register_autograd("coarsegrain::tridiagonal_solve", _solve_backward, setup_context=_solve_setup)
_refuse_backward("heterogeneous_diffusion_step", "it is a micro-solver for data generation; for gradients build the "
                 "bands with torch ops and call coarsegrain.ops.tridiagonal_solve, which is differentiable")
