"""Particles to fields: per-cell sums of particle quantities on a uniform grid (the compiled
``torch.ops.coarsegrain.bin_particles``, CPU and CUDA).

Conventions (as ``numpy.histogramdd``): ``positions[:, a]`` is binned along output axis ``a``;
cell ``i`` of axis ``a`` covers ``[origin_a + i h_a, origin_a + (i + 1) h_a)`` with
``h_a = box_a / bins_a``.

* ``assignment="ngp"`` (nearest grid point): a particle's whole quantity goes to its cell.
  Differentiable in the quantities (the adjoint gathers the upstream gradient at each
  particle's cell); piecewise constant in the positions, so a backward pass that needs a
  position gradient raises.
* ``assignment="cic"`` (cloud in cell): cell-centred linear weights, products of the per-axis
  weights in 2D/3D; differentiable in the quantities and in the positions (the weights are
  piecewise linear: the derivative jumps where a particle crosses a cell centre).
* ``periodic=True`` wraps any finite position into the box; ``periodic=False`` drops particles
  outside ``[origin, origin + box]`` (the upper face belongs to the last cell) and counts them;
  a cloud-in-cell weight beyond an outer cell centre goes to that outer cell, so a particle inside
  the box keeps its whole quantity. NaN or infinite positions raise, naming how many and the first.

Determinism: on the CPU the sums have the same bits for any thread count (they accumulate in
double precision per fixed slot of particles, then slots are added in order). On CUDA they
accumulate in the input's dtype with atomic adds, in an order that varies between runs: float32
sums can differ in the last bits from run to run; counts are exact up to 2^24 per cell in float32.
On CUDA each call synchronizes once (to raise on non-finite positions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .stencil import _c10, _check_float, _check_tensor, _num, _refuse_backward, _sizes

__all__ = ["bin_particles", "ASSIGNMENTS"]

ASSIGNMENTS = ("ngp", "cic")
_MAX_CELLS = (1 << 31) - 1  # kMaxBinCells


def _per_axis(name: str, value, d: int, kind) -> list:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [kind(value)] * d
    try:
        values = [kind(v) for v in value]
    except TypeError:
        raise TypeError(f"bin_particles: {name} must be a number or a sequence of {d} numbers, got "
                        f"{type(value).__name__}") from None
    return values


def bin_particles(positions: Tensor, quantities: Tensor | None = None, *, bins: int | Sequence[int],
                  box: float | Sequence[float], origin: float | Sequence[float] | None = None,
                  assignment: str = "ngp", periodic: bool = True, return_dropped: bool = False):
    """Per-cell sums of ``quantities`` (or particle counts) of particles at ``positions``.

    ``positions`` is ``[n, d]`` (d = 1, 2, 3; float32 or float64, CPU or CUDA); ``quantities`` is
    ``None`` (counts), ``[n]`` or ``[n, q]`` of the same dtype and device. ``bins`` and ``box`` (the
    box lengths) are one number for every axis or one per axis; ``origin`` (default 0) is the
    lower corner. Returns ``[*bins]`` for counts or ``[n]`` quantities, ``[q, *bins]`` for
    ``[n, q]``; with ``return_dropped=True`` also the number of particles dropped outside a
    non-periodic box (an int64 0-d tensor). See the module docstring for the conventions.
    """
    _check_tensor("bin_particles", "positions", positions)
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"bin_particles: assignment must be 'ngp' (nearest grid point) or 'cic' (cloud in cell), "
                         f"got {assignment!r}")
    d = positions.shape[1] if positions.dim() == 2 else 1
    bins_ = _per_axis("bins", bins, d, int)
    box_ = _per_axis("box", box, d, float)
    origin_ = [] if origin is None else _per_axis("origin", origin, d, float)
    squeeze = quantities is None
    q = None
    if quantities is not None:
        _check_tensor("bin_particles", "quantities", quantities)
        squeeze = quantities.dim() == 1
        q = quantities.unsqueeze(1) if squeeze else quantities
    sums, dropped = torch.ops.coarsegrain.bin_particles(positions, q, bins_, box_, origin_, assignment,
                                                        bool(periodic))
    if squeeze:
        sums = sums.squeeze(0)
    return (sums, dropped) if return_dropped else sums


# --- fake kernels: what prepare_binning (cpp/torch/common.cpp) and make_bin_grid check ----------


def _check_binning(op, positions, quantities, bins, box, origin, assignment):
    _check_float(op, "positions", positions)
    torch._check_value(positions.dim() == 2, lambda: (
        f"{op}: positions must be [n, d] (one row per particle), got shape {_sizes(positions.shape)}"))
    d = positions.shape[1]
    torch._check_value(1 <= d <= 3, lambda: f"{op}: positions must be [n, d] with d = 1, 2 or 3 coordinates, got d = {d}")
    torch._check_value(len(bins) == d, lambda: (
        f"{op}: bins must have one entry per coordinate ({d}), got {len(bins)}"))
    torch._check_value(len(box) == d, lambda: f"{op}: box must have one length per coordinate ({d}), got {len(box)}")
    torch._check_value(len(origin) in (0, d), lambda: (
        f"{op}: origin must be empty or have one entry per coordinate ({d}), got {len(origin)}"))
    torch._check_value(assignment in ASSIGNMENTS, lambda: (
        f"{op}: assignment must be 'ngp' (nearest grid point) or 'cic' (cloud in cell), got '{assignment}'"))
    cells = 1
    for a in range(d):
        torch._check_value(bins[a] >= 1, lambda: f"{op}: bins[{a}] must be >= 1, got {bins[a]}")
        torch._check_value(math.isfinite(box[a]) and box[a] > 0, lambda: (
            f"{op}: box[{a}] must be a positive finite length, got {_num(box[a])}"))
        o = origin[a] if origin else 0.0
        torch._check_value(math.isfinite(o) and math.isfinite(o + box[a]), lambda: (
            f"{op}: origin[{a}] must be finite, got {_num(o)}"))
        torch._check_value(bins[a] <= _MAX_CELLS // cells, lambda: f"{op}: bins has more than 2^31 - 1 cells in all")
        cells *= bins[a]
    nq = 1
    if quantities is not None:
        torch._check_type(quantities.dtype == positions.dtype, lambda: (
            f"{op}: quantities must have the dtype of positions ({_c10(positions.dtype)}), got "
            f"{_c10(quantities.dtype)}"))
        torch._check_value(quantities.device == positions.device, lambda: (
            f"{op}: quantities must be on the device of positions ({positions.device}), got {quantities.device}"))
        torch._check_value(quantities.dim() == 2 and quantities.shape[0] == positions.shape[0]
                           and quantities.shape[1] >= 1, lambda: (
            f"{op}: quantities must be [n, q] with n = {positions.shape[0]} (one row per particle) and q >= 1, "
            f"got shape {_sizes(quantities.shape)}"))
        nq = quantities.shape[1]
    return [nq, *bins]


@torch.library.register_fake("coarsegrain::bin_particles")
def _(positions, quantities, bins, box, origin, assignment="ngp", periodic=True):
    shape = _check_binning("bin_particles", positions, quantities, bins, box, origin, assignment)
    return positions.new_empty(shape), positions.new_empty((), dtype=torch.int64)


@torch.library.register_fake("coarsegrain::bin_particles_backward")
def _(grad, positions, quantities, bins, box, origin, assignment, periodic):
    op = "bin_particles_backward"
    shape = _check_binning(op, positions, quantities, bins, box, origin, assignment)
    torch._check_value(list(grad.shape) == shape and grad.dtype == positions.dtype
                       and grad.device == positions.device, lambda: (
        f"{op}: grad must be {_sizes(shape)} {_c10(positions.dtype)} on {positions.device}, got "
        f"{_sizes(grad.shape)} {_c10(grad.dtype)} on {grad.device}"))
    return positions.new_empty(positions.shape), positions.new_empty((positions.shape[0], shape[0]))


# --- autograd ------------------------------------------------------------------------------------


def _bin_setup(ctx, inputs, output):
    positions, quantities, bins, box, origin, assignment, periodic = inputs
    ctx.save_for_backward(positions, quantities)
    ctx.params = (bins, box, origin, assignment, periodic)


def _bin_backward(ctx, grad_sums, _grad_dropped):
    positions, quantities = ctx.saved_tensors
    bins, box, origin, assignment, periodic = ctx.params
    if ctx.needs_input_grad[0] and assignment == "ngp":
        raise RuntimeError(
            "bin_particles: nearest-grid-point assignment is piecewise constant in the positions, so it has no "
            "useful position gradient; use assignment='cic' to differentiate with respect to positions, or "
            "detach the positions")
    grad_positions, grad_quantities = torch.ops.coarsegrain.bin_particles_backward(
        grad_sums.contiguous(), positions, quantities, bins, box, origin, assignment, periodic)
    return (grad_positions if ctx.needs_input_grad[0] else None,
            grad_quantities if ctx.needs_input_grad[1] else None, None, None, None, None, None)


torch.library.register_autograd("coarsegrain::bin_particles", _bin_backward, setup_context=_bin_setup)
_refuse_backward("bin_particles_backward", "double backward through bin_particles is not supported; "
                 "differentiate bin_particles once")
