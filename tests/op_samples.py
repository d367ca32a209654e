"""One table of sample inputs per ``torch.ops.coarsegrain`` op, with an independent NumPy reference.

tests/test_op_table.py drives every check of ARCHITECTURE.md "One op, end to end", point 5, from
this table: NumPy reference (float32 and float64), gradcheck or a clear refusal of backward,
``torch.library.opcheck``, ``torch.compile``, zero-size and non-contiguous inputs, and bad inputs.

An entry (:class:`OpInfo`) names the op and gives

* ``samples(dtype, device)``: calls ``(args, kwargs)`` in the schema's order, covering 1D/2D/3D
  where the op has grid axes, odd and degenerate sizes, batches; ``dtype`` is the real dtype
  (float32 / float64), complex ops take the matching complex dtype;
* ``reference(*args, **kwargs)``: the expected outputs from float64 / complex128 NumPy copies of the
  arguments, written with NumPy (np.roll, np.fft) and never calling the op;
* ``zero_size(dtype, device)``: calls with an empty batch or grid axis, each with ``None`` (the op
  accepts it and must match the reference) or ``(exception type, message regex)``;
* ``bad(device)``: bad calls with the exception type and a regex that names the parameter.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

import reference as ref

C = torch.ops.coarsegrain
f32, f64 = torch.float32, torch.float64
COMPLEX = {f32: torch.complex64, f64: torch.complex128}
EPS = {f32: float(np.finfo(np.float32).eps), f64: float(np.finfo(np.float64).eps)}


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    id: str = ""
    grad: bool = False  # small enough for gradcheck / gradgradcheck / opcheck
    scale: float = 1.0  # magnitude of the terms summed into one output value (for tolerances)


@dataclass
class Bad:
    id: str
    args: tuple
    exc: type
    match: str  # a regex naming the parameter
    fake_sees_it: bool = True  # False where the check reads values (NaN positions), which a fake tensor has not


@dataclass
class OpInfo:
    name: str
    samples: Callable[[torch.dtype, str], Iterator[Sample]]
    reference: Callable[..., tuple]
    differentiable: bool
    grad_args: tuple[int, ...] = (0,)  # positions of the tensor arguments to differentiate
    double_backward: bool = True  # differentiable twice (gradgradcheck)
    out_arg: int | None = None  # position of the mutated output of an *_into op
    rtol: dict = field(default_factory=lambda: {f32: 0.0, f64: 0.0})
    atol: dict = field(default_factory=lambda: {f32: 64 * EPS[f32], f64: 64 * EPS[f64]})  # times scale
    zero_size: Callable[[torch.dtype, str], Iterator[tuple[Sample, tuple | None]]] = lambda dtype, device: iter(())
    bad: Callable[[str], Iterator[Bad]] = lambda device: iter(())

    @property
    def op(self):
        return getattr(C, self.name).default

    def run(self, sample: Sample) -> tuple:
        """The op's outputs: its result(s), or the written ``out`` of an *_into op."""
        result = self.op(*sample.args, **sample.kwargs)
        if self.out_arg is not None:
            assert result is None
            return (sample.args[self.out_arg],)
        return result if isinstance(result, tuple) else (result,)


def _rng(*key) -> np.random.Generator:
    """A generator seeded by the key's text (the same in every process)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _randn(rng, shape, dtype, device) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape)).to(device=device, dtype=dtype)


def _crandn(rng, shape, dtype, device) -> torch.Tensor:
    z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return torch.from_numpy(z).to(device=device, dtype=COMPLEX[dtype])


def _z(*shape, dtype=f32, device="cpu"):
    if len(shape) == 1 and isinstance(shape[0], tuple):
        shape = shape[0]
    return torch.zeros(shape, dtype=dtype, device=device)


# --- the periodic stencil family ----------------------------------------------------------------

# Odd, even, and degenerate (1, 2: narrower than the stencil) extents; (20, 11, 37) spans several
# CUDA tiles (32 x 8) and z chunks, none of them full.
GRIDS = {1: [(17,), (2,), (1,)], 2: [(6, 9), (1, 5), (3, 2)], 3: [(5, 4, 7), (2, 3, 1), (20, 11, 37)]}
SPACINGS = {1: [0.3], 2: [0.3, 1.7], 3: [0.3, 1.7, 0.05]}
BATCHES = [(), (3,), (2, 2)]


# A stencil sums O(1) terms of size |x| / h^2 per point: the round-off is eps times that scale.
STENCIL_TOL = dict(atol={f32: 512 * EPS[f32], f64: 512 * EPS[f64]})


def _stencil_scale(x: torch.Tensor, h) -> float:
    return float(x.abs().max()) * sum(1.0 / s**2 + 1.0 / s for s in h) if x.numel() else 1.0


def _stencil_samples(vector_in: bool, extra: Callable[[list[float], int], tuple] = lambda h, i: ()):
    def samples(dtype, device):
        i = 0
        for nd in (1, 2, 3):
            h = SPACINGS[nd]
            for j, grid in enumerate(GRIDS[nd]):
                batch = BATCHES[j % 3]
                rng = _rng(nd, grid, dtype)
                x = _randn(rng, (*batch, nd, *grid) if vector_in else (*batch, *grid), dtype, device)
                yield Sample((x, h, *extra(h, i)), {}, id=f"{nd}d-{batch}-{grid}", grad=(j == 0 and nd < 3),
                             scale=_stencil_scale(x, h))
                i += 1

    return samples


def _stencil_bad(name: str, arg: str, vector_in: bool, into: Callable | None = None):
    """Bad calls of a stencil op; ``into(x, h)`` appends the trailing arguments (order, out)."""
    tail = into or (lambda x, h: ())

    def bad(device):
        def x_of(*grid, dtype=f32):
            return _z(*((len(grid),) if vector_in else ()), *grid, dtype=dtype, device=device)

        z2 = x_of(6, 5)
        yield Bad("int dtype", (x_of(6, 5, dtype=torch.int64), [1.0, 1.0], *tail(z2, 2)), TypeError,
                  rf"^{name}: {arg} must be a float32 or float64 tensor, got Long")
        yield Bad("half dtype", (x_of(6, 5, dtype=torch.float16), [1.0, 1.0], *tail(z2, 2)), TypeError,
                  rf"^{name}: {arg} must be a float32 or float64 tensor, got Half")
        yield Bad("complex dtype", (x_of(6, 5, dtype=torch.complex64), [1.0, 1.0], *tail(z2, 2)), TypeError,
                  rf"^{name}: {arg} must be a float32 or float64 tensor, got ComplexFloat")
        yield Bad("too few dims", (_z(4, 4, device=device), [1.0] * 3, *tail(_z(4, 4, device=device), 3)),
                  ValueError, rf"^{name}: {arg} must have at least {4 if vector_in else 3} dimensions")
        yield Bad("no spacing", (z2, [], *tail(z2, 0)), ValueError, rf"^{name}: spacing must hold one value per grid axis")
        yield Bad("4 spacings", (_z(2, 2, 2, 2, 2, device=device), [1.0] * 4, *tail(_z(2, 2, 2, 2, 2, device=device), 4)),
                  ValueError, rf"^{name}: spacing must hold one value per grid axis \(1 to 3 values\), got 4")
        for h in (0.0, -1.0, math.nan, math.inf):
            yield Bad(f"spacing {h}", (z2, [1.0, h], *tail(z2, 2)), ValueError,
                      rf"^{name}: spacing\[1\] must be a positive finite number, got {h:g}")
        yield Bad("empty grid axis", (x_of(6, 0), [1.0, 1.0], *tail(x_of(6, 0), 2)), ValueError,
                  rf"^{name}: {arg} grid axis 1 \(dimension {2 if vector_in else 1}\) must not be empty")
        if vector_in:
            yield Bad("component count", (_z(3, 6, 5, device=device), [1.0, 1.0], *tail(z2, 2)), ValueError,
                      rf"^{name}: {arg} must have 2 components \(one per grid axis\) in dimension 0, got 3")

    return bad


def _stencil_zero(vector_in: bool, extra=lambda: ()):
    def zero_size(dtype, device):
        for shape in ((0, 5), (0, 3, 4), (2, 0, 3, 4)):  # batch 0, then a batch axis of 0 in 2D
            nd = 1 if len(shape) == 2 else 2
            x = _z(*shape[:-nd], *((nd,) if vector_in else ()), *shape[-nd:], dtype=dtype, device=device)
            yield Sample((x, SPACINGS[nd], *extra()), id=f"batch0-{shape}"), None
        x = _z(2, *((1,) if vector_in else ()), 0, dtype=dtype, device=device)  # a grid axis of 0
        yield Sample((x, [1.0], *extra()), id="grid0"), (ValueError, r"grid axis 0 .* must not be empty")

    return zero_size


def _stencil_entries() -> list[OpInfo]:
    entries = []

    def lap_ref(u, spacing, order=2, out=None):
        return (ref.laplacian(u, spacing, order),)

    def lap_extra(h, i):
        return (2 if i % 2 else 4,)

    # laplacian: order 2 and 4 alternate; every third sample leaves order to its default (2).
    def lap_samples(dtype, device):
        for i, s in enumerate(_stencil_samples(False, lap_extra)(dtype, device)):
            if i % 3 == 2:
                s = Sample(s.args[:2], {}, s.id + "-default", s.grad, s.scale)
            yield s

    def lap_bad(device):
        yield from _stencil_bad("laplacian", "u", False, lambda x, nd: (2,))(device)
        yield Bad("order 3", (_z(6, 5, device=device), [1.0, 1.0], 3), ValueError, r"^laplacian: order must be 2 or 4, got 3")

    entries.append(OpInfo("laplacian", lap_samples, lap_ref, True, **STENCIL_TOL,
                          zero_size=_stencil_zero(False, lambda: (4,)), bad=lap_bad))

    # The *_into twins: the same samples plus a NaN-filled out buffer of the result's shape.
    def into_samples(base_samples, result_of):
        def samples(dtype, device):
            for s in base_samples(dtype, device):
                out = torch.full(result_of(*s.args, **s.kwargs).shape, math.nan, dtype=dtype, device=device)
                yield Sample((*s.args, out), {}, s.id, s.grad, s.scale)

        return samples

    def into_bad(name, arg, vector_in, vector_out, base_bad_tail):
        def bad(device):  # the *_into ops report errors under the name of the functional op
            def out_for(x, nd):
                if nd < 1 or nd > 3 or x.dim() < nd + (1 if vector_in else 0):
                    return _z(*x.shape, device=device)
                shape = list(x.shape)
                if vector_in:
                    del shape[x.dim() - nd - 1]
                if vector_out:
                    shape.insert(len(shape) - nd, nd)
                return _z(*shape, device=device)

            yield from _stencil_bad(name, arg, vector_in, lambda x, nd: (*base_bad_tail, out_for(x, nd)))(device)
            x = _z(*((2,) if vector_in else ()), 6, 5, device=device)
            good = out_for(x, 2)
            wrong_shape = _z(*good.shape[:-1], 4, device=device)
            yield Bad("out shape", (x, [1.0, 1.0], *base_bad_tail, wrong_shape), ValueError,
                      rf"^{name}: out must have shape {list(good.shape)}, got {list(wrong_shape.shape)}".replace("[", r"\[")
                      .replace("]", r"\]"))
            yield Bad("out dtype", (x, [1.0, 1.0], *base_bad_tail, good.double()), TypeError,
                      rf"^{name}: out must have the dtype of {arg} \(Float\), got Double")
            strided = torch.zeros(*good.shape[:-1], 2 * good.shape[-1], device=device)[..., ::2]
            yield Bad("out not contiguous", (x, [1.0, 1.0], *base_bad_tail, strided), ValueError,
                      rf"^{name}: out must be contiguous")
            if not (vector_in or vector_out):  # (out can have the input's shape)
                yield Bad("out is the input", (x, [1.0, 1.0], *base_bad_tail, x), ValueError,
                          rf"^{name}: out must not share memory with {arg}")
                buf = _z(2, *x.shape, device=device)
                yield Bad("out overlaps the input", (buf.view(-1)[1:1 + x.numel()].view(x.shape), [1.0, 1.0],
                                                     *base_bad_tail, buf[0]), ValueError,
                          rf"^{name}: out must not share memory with {arg}")
            if name == "laplacian":
                yield Bad("order 3", (x, [1.0, 1.0], 3, good), ValueError, r"^laplacian: order must be 2 or 4, got 3")

        return bad

    def into_zero(vector_in, vector_out, extra=()):
        def zero_size(dtype, device):
            for s, expect in _stencil_zero(vector_in, lambda: extra)(dtype, device):
                x, h = s.args[0], s.args[1]
                shape = list(x.shape)
                nd = len(h)
                if vector_in:
                    del shape[x.dim() - nd - 1]
                if vector_out:
                    shape.insert(len(shape) - nd, nd)
                yield Sample((*s.args, torch.zeros(shape, dtype=dtype, device=device)), id=s.id), expect

        return zero_size

    def lap_into_samples(dtype, device):
        for s in _stencil_samples(False, lap_extra)(dtype, device):
            yield Sample((*s.args, torch.full_like(s.args[0], math.nan)), {}, s.id, s.grad, s.scale)

    entries.append(OpInfo("laplacian_into", lap_into_samples, lap_ref, False, out_arg=3, **STENCIL_TOL,
                          zero_size=into_zero(False, False, (2,)),
                          bad=into_bad("laplacian", "u", False, False, (2,))))

    for name, arg, vector_in, vector_out, fn in [
        ("gradient", "u", False, True, ref.gradient),
        ("gradient_adjoint", "v", True, False, ref.gradient_adjoint),
        ("divergence", "flux", True, False, ref.divergence),
        ("divergence_adjoint", "w", False, True, ref.divergence_adjoint),
    ]:
        def reference(x, spacing, out=None, fn=fn):
            return (fn(x, spacing),)

        base = _stencil_samples(vector_in)
        entries.append(OpInfo(name, base, reference, True, **STENCIL_TOL, zero_size=_stencil_zero(vector_in),
                              bad=_stencil_bad(name, arg, vector_in)))

        def result_of(x, h, op=getattr(C, name)):
            return op(torch.empty(x.shape, dtype=x.dtype, device="meta"), h)

        entries.append(OpInfo(name + "_into", into_samples(base, result_of), reference, False, out_arg=2, **STENCIL_TOL,
                              zero_size=into_zero(vector_in, vector_out),
                              bad=into_bad(name, arg, vector_in, vector_out, ())))
    return entries


# --- explicit phase-field steppers --------------------------------------------------------------

PF_GRIDS = {1: (24,), 2: (12, 9), 3: (7, 6, 8)}
PF_SPACINGS = {1: [0.9], 2: [0.9, 1.1], 3: [0.9, 1.1, 1.0]}
CUBIC, QUINTIC = [0.0, -1.0, 0.0, 1.0], [0.1, -1.0, 0.2, 1.0, -0.05, 0.02]  # the short and general paths


def _pf_samples(conserved: bool):
    def samples(dtype, device):
        dt = 2e-3 if conserved else 1e-2
        for nd in (1, 2, 3):
            for k, (poly, steps) in enumerate([(CUBIC, 1), (QUINTIC, 4)]):
                rng = _rng("pf", nd, k, conserved)
                u = 0.5 * _randn(rng, ((2,), (3,), (2, 2))[nd - 1] + PF_GRIDS[nd], dtype, device)
                args = (u, PF_SPACINGS[nd], dt, 1.3, 0.7, poly)
                if conserved:
                    for scheme in ("fused", "two_pass"):
                        yield Sample((*args, steps, scheme), id=f"{nd}d-{len(poly)}-{steps}-{scheme}")
                else:
                    yield Sample((*args, steps), id=f"{nd}d-{len(poly)}-{steps}")
        # defaults (steps=1, scheme="fused"); several CUDA tiles and z chunks, partial ones at the edges
        u = 0.5 * _randn(_rng("pf-tiles", conserved), (2, 20, 9, 35), dtype, device)
        yield Sample((u, PF_SPACINGS[3], dt, 1.3, 0.7, QUINTIC), id="tiles-default")
        # batch >= threads (one chunk per batch entry), sweeps shorter than a chunk
        u = 0.5 * _randn(_rng("pf-batch", conserved), (5, 3, 2, 7), dtype, device)
        yield Sample((u, PF_SPACINGS[3], dt, 1.3, 0.7, CUBIC), {"steps": 3}, id="many-batches")

    return samples


def _pf_reference(conserved: bool):
    def reference(u, spacing, dt, mobility, kappa, dfdu, steps=1, scheme="fused"):
        step = ref.cahn_hilliard_explicit if conserved else ref.allen_cahn_explicit
        return (step(u, spacing, dt, mobility, kappa, dfdu, steps),)

    return reference


def _pf_zero(conserved: bool):
    def zero_size(dtype, device):
        tail = (1e-3, 1.0, 1.0, CUBIC, 1) + (("two_pass",) if conserved else ())
        yield Sample((_z(0, 8, dtype=dtype, device=device), [1.0], *tail), id="batch0"), None
        yield Sample((_z(0, 3, 6, 5, dtype=dtype, device=device), [1.0] * 3, *tail), id="batch0-3d"), None
        if conserved:
            yield Sample((_z(0, 4, 6, dtype=dtype, device=device), [1.0] * 2, *tail[:-1], "fused"), id="batch0-fused"), None
        yield (Sample((_z(2, 0, dtype=dtype, device=device), [1.0], *tail), id="grid0"),
               (ValueError, r"u grid axis 0 \(dimension 1\) must not be empty"))

    return zero_size


def _pf_bad(name: str, conserved: bool):
    def bad(device):
        u = _z(8, 8, device=device)
        tail = ("fused",) if conserved else ()

        def call(u=u, h=(1.0, 1.0), dt=1e-3, mobility=1.0, kappa=1.0, dfdu=CUBIC, steps=1, tail=tail):
            return (u, list(h), dt, mobility, kappa, list(dfdu), steps, *tail)

        yield Bad("int dtype", call(u=_z(8, 8, dtype=torch.int32, device=device)), TypeError,
                  rf"^{name}: u must be a float32 or float64 tensor, got Int")
        yield Bad("too few dims", call(h=[1.0] * 3), ValueError, rf"^{name}: u must have at least 3 dimensions")
        yield Bad("spacing nan", call(h=[1.0, math.nan]), ValueError, rf"^{name}: spacing\[1\] must be a positive finite")
        yield Bad("empty dfdu", call(dfdu=[]), ValueError, rf"^{name}: dfdu must hold 1 to 8 polynomial coefficients")
        yield Bad("9 dfdu", call(dfdu=[0.0] * 9), ValueError, rf"^{name}: dfdu must hold 1 to 8 .* got 9")
        yield Bad("dfdu inf", call(dfdu=[0.0, math.inf]), ValueError, rf"^{name}: dfdu\[1\] must be finite, got inf")
        yield Bad("dfdu nan", call(dfdu=[math.nan]), ValueError, rf"^{name}: dfdu\[0\] must be finite, got nan")
        for param in ("dt", "mobility", "kappa"):
            for value in (0.0, -1.0, math.nan):
                yield Bad(f"{param} {value}", call(**{param: value}), ValueError,
                          rf"^{name}: {param} must be a positive finite number, got {value:g}")
        yield Bad("steps 0", call(steps=0), ValueError, rf"^{name}: steps must be >= 1, got 0")
        yield Bad("unstable dt", call(dt=1.0), ValueError, rf"^{name}: dt = 1 is beyond the .*stability limit")
        if conserved:
            yield Bad("scheme", call(tail=("three_pass",)), ValueError,
                      rf"^{name}: scheme must be 'fused' or 'two_pass', got 'three_pass'")

    return bad


PF_TOL = dict(rtol={f32: 2e-4, f64: 1e-11}, atol={f32: 2e-5, f64: 1e-12})


# --- pointwise stepper ops ----------------------------------------------------------------------


def _poly_samples(dtype, device):
    for k, (shape, coeffs) in enumerate([((10, 100), [0.5]), ((3, 7), CUBIC), ((2, 3, 5, 9), QUINTIC),
                                         ((), [1.0, 2.0]), ((33,), [0.1, -0.3, 0.2, 0.5, -0.1, 0.02, 0.01, -0.003])]):
        u = torch.from_numpy(np.asarray(np.clip(_rng("poly", k).standard_normal(shape), -1.5, 1.5))).to(device, dtype)
        yield Sample((u, coeffs), id=f"{shape}-{len(coeffs)}", grad=k == 1)


def _poly_reference(u, coeffs):
    return (sum(c * u**k for k, c in enumerate(coeffs)) + np.zeros_like(u),)


def _poly_zero(dtype, device):
    yield Sample((_z(0, 3, dtype=dtype, device=device), CUBIC), id="batch0"), None
    yield Sample((_z(3, 0, dtype=dtype, device=device), CUBIC), id="axis0"), None


def _poly_bad(device):
    yield Bad("int dtype", (_z(4, dtype=torch.int32, device=device), [1.0]), TypeError,
              r"^polynomial: u must be a float32 or float64 tensor, got Int")
    yield Bad("no coeffs", (_z(4, device=device), []), ValueError, r"^polynomial: coeffs must hold 1 to 8 .* got 0")
    yield Bad("9 coeffs", (_z(4, device=device), [1.0] * 9), ValueError, r"^polynomial: coeffs must hold 1 to 8 .* got 9")
    yield Bad("nan coeff", (_z(4, device=device), [1.0, math.nan]), ValueError, r"^polynomial: coeffs\[1\] must be finite, got nan")


def _combine_samples(dtype, device):
    for k, (batch, spec, nterms) in enumerate([((), (6, 5), 1), ((3,), (6, 5), 2), ((2, 2), (7, 3), 4),
                                               ((2,), (9,), 8), ((1,), (3, 4, 5), 3)]):
        rng = _rng("combine", k)
        terms = [_crandn(rng, (*batch, *spec), dtype, device) for _ in range(nterms)]
        weights = [_randn(rng, spec, dtype, device) for _ in range(nterms)]
        yield Sample((terms, weights), id=f"{batch}-{spec}-{nterms}", grad=k == 1)


def _combine_reference(terms, weights):
    return (sum(w * t for t, w in zip(terms, weights)),)


def _combine_zero(dtype, device):
    c = COMPLEX[dtype]
    yield Sample(([torch.zeros(0, 4, 3, dtype=c, device=device)] * 2, [_z(4, 3, dtype=dtype, device=device)] * 2),
                 id="batch0"), None
    yield Sample(([torch.zeros(2, 0, 3, dtype=c, device=device)], [_z(0, 3, dtype=dtype, device=device)]), id="axis0"), None


def _combine_bad(device):
    def cz(*s, dtype=torch.complex64):
        return torch.zeros(*s, dtype=dtype, device=device)

    def z(*s, dtype=f32):
        return _z(*s, dtype=dtype, device=device)

    n = "spectral_combine"
    # ([], []) has no tensor to dispatch on: the dispatcher refuses it before any kernel (see the
    # wrapper's test in test_pointwise_ops.py).
    yield Bad("9 terms", ([cz(2, 3)] * 9, [z(3)] * 9), ValueError, rf"^{n}: terms must hold 1 to 8 tensors, got 9")
    yield Bad("weights count", ([cz(2, 3)], [z(3), z(3)]), ValueError, rf"^{n}: weights must hold one tensor per term \(1\), got 2")
    yield Bad("real terms", ([z(2, 3)], [z(3)]), TypeError, rf"^{n}: terms must be complex64 or complex128 tensors, got Float")
    yield Bad("trailing", ([cz(2, 3)], [z(2)]), ValueError, rf"^{n}: weights\[0\] of shape \[2\] must match the trailing")
    yield Bad("weights ndim", ([cz(3)], [z(2, 3)]), ValueError, rf"^{n}: weights\[0\] of shape \[2, 3\] must match the trailing")
    yield Bad("terms shape", ([cz(2, 3), cz(1, 3)], [z(3), z(3)]), ValueError, rf"^{n}: terms\[1\] has shape \[1, 3\] but")
    yield Bad("terms dtype", ([cz(2, 3), cz(2, 3, dtype=torch.complex128)], [z(3), z(3)]), TypeError,
              rf"^{n}: terms\[1\] is ComplexDouble but terms\[0\] is ComplexFloat")
    yield Bad("weights shape", ([cz(2, 3), cz(2, 3)], [z(3), z(1, 3)]), ValueError, rf"^{n}: weights\[1\] has shape \[1, 3\]")
    yield Bad("weight dtype", ([cz(2, 3)], [z(3, dtype=f64)]), TypeError,
              rf"^{n}: weights\[0\] must be Float to match ComplexFloat terms, got Double")


def _pack_samples(dtype, device):
    for k, (shape, ndim) in enumerate([((2,), 1), ((16,), 1), ((3, 10), 1), ((6, 10), 2), ((5, 7, 12), 3),
                                       ((2, 4, 6, 8), 3), ((3, 4, 6, 8), 4), ((3, 5, 14), 2)]):
        half = (*shape[:-1], shape[-1] // 2 + 1)  # not Hermitian in its k = 0 and Nyquist columns
        yield Sample((_crandn(_rng("pack", k), half, dtype, device), ndim), id=f"{shape}-{ndim}", grad=k == 3)


def _pack_reference(u_hat, ndim):
    """The Z with ifftn(Z) = x[..., 0::2] + i x[..., 1::2] for x = irfftn(u_hat): its complex inverse
    FFT read as real numbers is x."""
    axes = tuple(range(-ndim, 0))
    shape = (*u_hat.shape[u_hat.ndim - ndim:-1], 2 * (u_hat.shape[-1] - 1))
    x = np.fft.irfftn(u_hat, s=shape, axes=axes) if u_hat.size else np.zeros((*u_hat.shape[:-1], shape[-1]))
    return (np.fft.fftn(x[..., 0::2] + 1j * x[..., 1::2], axes=axes) if x.size else x[..., 0::2].astype(complex),)


def _pack_zero(dtype, device):
    c = COMPLEX[dtype]
    yield Sample((torch.zeros(0, 4, 5, dtype=c, device=device), 2), id="batch0"), None
    yield Sample((torch.zeros(2, 0, 5, dtype=c, device=device), 2), id="axis0"), None
    yield (Sample((torch.zeros(4, 1, dtype=c, device=device), 1), id="last1"),
           (ValueError, r"the last axis of u_hat must hold m \+ 1 >= 2"))


def _pack_bad(device):
    cz = torch.zeros(4, 5, dtype=torch.complex64, device=device)
    n = "real_fft_pack"
    yield Bad("real", (cz.real.contiguous(), 2), TypeError, rf"^{n}: u_hat must be a complex64 or complex128 tensor, got Float")
    yield Bad("ndim 0", (cz, 0), ValueError, rf"^{n}: ndim must be 1 to 4, got 0")
    yield Bad("ndim 5", (cz, 5), ValueError, rf"^{n}: ndim must be 1 to 4, got 5")
    yield Bad("rank", (cz[0], 2), ValueError, rf"^{n}: ndim = 2 transform axes, but u_hat has shape \[5\]")
    yield Bad("short", (cz[:, :1].contiguous(), 1), ValueError, rf"^{n}: the last axis of u_hat must hold m \+ 1 >= 2")


# --- finite volumes -----------------------------------------------------------------------------


def _rows(tag, dtype, device):
    for k, shape in enumerate([(37,), (3, 2, 37), (2, 5), (4, 16), (1, 64)]):
        yield k, shape, _randn(_rng(tag, k), shape, dtype, device)


def _weno_samples(dtype, device):
    for k, shape, v in _rows("weno", dtype, device):
        yield Sample((v, ("godunov", "lax_friedrichs")[k % 2]) if k != 2 else (v,), id=f"{shape}", grad=k == 3)


def _weno_reference(v, flux="godunov"):
    left, right = ref.weno5_states(v)
    return ((ref.godunov_burgers if flux == "godunov" else ref.lax_friedrichs_burgers)(left, right),)


def _weno_zero(name, extra):
    def zero_size(dtype, device):
        yield Sample((_z(0, 8, dtype=dtype, device=device), *extra), id="batch0"), None
        yield Sample((_z(2, 0, 8, dtype=dtype, device=device), *extra), id="batch0-inner"), None
        yield (Sample((_z(2, 0, dtype=dtype, device=device), *extra), id="n0"),
               (ValueError, r"v must be \[\*batch, n\] with n >= 5 cells"))

    return zero_size


def _weno_bad(name, extra):
    def bad(device):
        yield Bad("short", (_z(2, 4, device=device), *extra), ValueError, rf"^{name}: v must be \[\*batch, n\] with n >= 5 cells")
        yield Bad("0-d", (_z((), device=device), *extra), ValueError, rf"^{name}: v must be \[\*batch, n\]")
        yield Bad("half", (_z(8, dtype=torch.float16, device=device), *extra), TypeError,
                  rf"^{name}: v must be a float32 or float64 tensor, got Half")
        yield Bad("int", (_z(8, dtype=torch.int32, device=device), *extra), TypeError,
                  rf"^{name}: v must be a float32 or float64 tensor, got Int")
        if name == "weno5_flux":
            yield Bad("flux", (_z(2, 8, device=device), "roe"), ValueError,
                      r"^weno5_flux: flux must be 'godunov' or 'lax_friedrichs', got 'roe'")

    return bad


WENO_TOL = dict(rtol={f32: 1e-5, f64: 1e-12}, atol={f32: 1e-5, f64: 1e-12})


def _restrict_samples(dtype, device):
    cases = [((2, 24), 1, 4), ((3, 12, 8), 2, 4), ((2, 4, 8, 12), 3, 4), ((15,), 1, 3), ((2, 9, 6), 2, 3),
             ((5, 7), 1, 1), ((2, 6, 10), 2, 2)]
    for k, (shape, ndim, factor) in enumerate(cases):
        u = _randn(_rng("restrict", k), shape, dtype, device)
        yield Sample((u, ndim, factor), id=f"{shape}-{ndim}-{factor}", grad=k in (3, 6))


def _restrict_reference(u, ndim, factor):
    return (ref.restrict_average(u, factor=factor, ndim=ndim),)


def _restrict_zero(dtype, device):
    yield Sample((_z(0, 8, dtype=dtype, device=device), 1, 2), id="batch0"), None
    yield Sample((_z(2, 0, dtype=dtype, device=device), 1, 2), id="grid0"), None
    yield Sample((_z(3, 0, 6, dtype=dtype, device=device), 2, 3), id="grid0-2d"), None


def _restrict_bad(device):
    n = "restrict_average"
    z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731
    yield Bad("factor", (z(2, 8), 1, 3), ValueError, rf"^{n}: grid axis 0 has 8 cells, not divisible by factor 3")
    yield Bad("2d factor", (z(2, 8, 6), 2, 4), ValueError, rf"^{n}: grid axis 1 has 6 cells, not divisible by factor 4")
    yield Bad("factor 0", (z(8), 1, 0), ValueError, rf"^{n}: factor must be >= 1, got 0")
    yield Bad("factor -2", (z(8), 1, -2), ValueError, rf"^{n}: factor must be >= 1, got -2")
    yield Bad("ndim 4", (z(2, 8), 4, 2), ValueError, rf"^{n}: ndim must be 1, 2 or 3, got 4")
    yield Bad("ndim 0", (z(2, 8), 0, 2), ValueError, rf"^{n}: ndim must be 1, 2 or 3, got 0")
    yield Bad("rank", (z(8), 2, 2), ValueError, rf"^{n}: u must have at least ndim = 2 axes, got shape \[8\]")
    yield Bad("int dtype", (z(8, dtype=torch.int32), 1, 2), TypeError, rf"^{n}: u must be a float32 or float64 tensor, got Int")


def _filter_cases(tag, dtype, device, with_grad):
    for k, (batch, n, width, offset) in enumerate([((), 9, 4, -2), ((2,), 20, 6, -2), ((2, 3), 7, 6, 3),
                                                   ((3,), 5, 1, -11), ((1,), 1, 3, 0)]):
        rng = _rng(tag, k)
        tensors = ([_randn(rng, (*batch, n), dtype, device)] if with_grad else []) + [
            _randn(rng, (*batch, n), dtype, device), _randn(rng, (*batch, n, width), dtype, device)]
        yield Sample((*tensors, offset), id=f"{batch}-{n}-{width}-{offset}", grad=k == 0 or (k == 2 and not with_grad))


def _filter_reference(v, coeffs, offset):
    return (ref.stencil_filter(v, coeffs, offset),)


def _filter_backward_reference(grad, v, coeffs, offset):
    """grad_v[i] = sum over (j, k) with (j + offset + k) mod n = i of g[j] c[j, k];
    grad_c[j, k] = g[j] v[(j + offset + k) mod n]."""
    width = coeffs.shape[-1]
    grad_v = sum(np.roll(grad * coeffs[..., k], offset + k, axis=-1) for k in range(width))
    grad_c = np.stack([grad * np.roll(v, -(offset + k), axis=-1) for k in range(width)], axis=-1)
    return grad_v + np.zeros_like(v), grad_c


def _filter_zero(backward):
    def zero_size(dtype, device):
        z = lambda *s: _z(*s, dtype=dtype, device=device)  # noqa: E731
        g = (z(0, 8),) if backward else ()
        yield Sample((*g, z(0, 8), z(0, 8, 3), -1), id="batch0"), None
        g = (z(2, 0),) if backward else ()
        yield Sample((*g, z(2, 0), z(2, 0, 3), 0), id="n0"), (ValueError, r"v must be \[\*batch, n\], got shape \[2, 0\]")

    return zero_size


def _filter_bad(name, backward):
    def bad(device):
        z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731

        def call(v, c, offset=0, g=None):
            return ((z(*v.shape) if g is None else g,) if backward else ()) + (v, c, offset)

        yield Bad("coeffs shape", call(z(2, 8), z(2, 7, 3)), ValueError,
                  rf"^{name}: coeffs must be \[\*batch, n, width\] for v of shape \[2, 8\], got \[2, 7, 3\]")
        yield Bad("coeffs rank", call(z(2, 8), z(2, 8)), ValueError, rf"^{name}: coeffs must be \[\*batch, n, width\]")
        yield Bad("width 0", call(z(2, 8), z(2, 8, 0)), ValueError, rf"^{name}: coeffs must be \[\*batch, n, width\]")
        yield Bad("coeffs dtype", call(z(2, 8), z(2, 8, 3, dtype=f64)), TypeError,
                  rf"^{name}: coeffs must have the dtype of v \(Float\), got Double")
        yield Bad("v dtype", call(z(2, 8, dtype=torch.int64), z(2, 8, 3)), TypeError,
                  rf"^{name}: v must be a float32 or float64 tensor, got Long")
        yield Bad("0-d v", call(z(()), z(3)), ValueError, rf"^{name}: v must be \[\*batch, n\]")
        yield Bad("offset", call(z(2, 8), z(2, 8, 3), 1 << 21), ValueError, rf"^{name}: offset out of range: {1 << 21}")
        yield Bad("offset neg", call(z(2, 8), z(2, 8, 3), -(1 << 21)), ValueError, rf"^{name}: offset out of range")
        if backward:
            yield Bad("grad shape", call(z(2, 8), z(2, 8, 3), g=z(2, 7)), ValueError,
                      rf"^{name}: grad must match v \(\[2, 8\], Float\), got \[2, 7\], Float")
            yield Bad("grad dtype", call(z(2, 8), z(2, 8, 3), g=z(2, 8, dtype=f64)), ValueError,
                      rf"^{name}: grad must match v \(\[2, 8\], Float\), got \[2, 8\], Double")

    return bad


# --- take_along_last (the cosine / sine transforms' gathers) and its adjoint ----------------------


def _take_index(n, m, device, seed):
    rng = _rng("take", n, m, seed)
    return torch.from_numpy(rng.integers(0, n, size=m)).to(device)


def _take_samples(backward: bool):
    def samples(dtype, device):
        for shape, m, sid in (((7,), 7, "1d perm"), ((3, 5), 9, "repeats"), ((2, 3, 16), 16, "3d"),
                              ((4, 1), 3, "n=1")):
            n = shape[-1]
            index = torch.randperm(n, generator=torch.Generator().manual_seed(n)).to(device) if sid != "repeats" \
                else _take_index(n, m, device, 1)
            if sid == "n=1":
                index = torch.zeros(m, dtype=torch.int64, device=device)
            x = _randn(_rng("take", sid, str(dtype)), shape, dtype, device)
            if backward:
                g = _randn(_rng("take-g", sid, str(dtype)), (*shape[:-1], index.numel()), dtype, device)
                yield Sample((g, index, n), id=sid, grad=True, scale=float(m))
            else:
                yield Sample((x, index), id=sid, grad=True)
    return samples


def _take_reference(x, index):
    return (x[..., np.asarray(index).astype(np.int64)],)


def _take_backward_reference(g, index, n):
    out = np.zeros((*g.shape[:-1], n))
    np.add.at(out, (..., np.asarray(index).astype(np.int64)), g)
    return (out,)


def _take_zero(backward: bool):
    def zero(dtype, device):
        idx = torch.tensor([1, 0], device=device)
        if backward:
            yield Sample((_z(0, 2, dtype=dtype, device=device), idx, 3), id="batch0"), None
            yield Sample((_z(2, 0, dtype=dtype, device=device), idx[:0], 3), id="m0"), None
        else:
            yield Sample((_z(0, 3, dtype=dtype, device=device), idx), id="batch0"), None
            yield Sample((_z(2, 3, dtype=dtype, device=device), idx[:0]), id="m0"), None
    return zero


def _take_bad(backward: bool):
    name = "take_along_last_backward" if backward else "take_along_last"

    def bad(device):
        idx = torch.tensor([1, 0], device=device)
        if backward:
            yield Bad("int grad", (_z(2, 2, dtype=torch.int32, device=device), idx, 3), TypeError,
                      rf"^{name}: grad must be a float32 or float64 tensor, got Int")
            yield Bad("grad length", (_z(2, 3, device=device), idx, 3), ValueError,
                      rf"^{name}: grad must be \[\.\.\., m\] with m = 2")
            yield Bad("n", (_z(2, 2, device=device), idx, -1), ValueError, rf"^{name}: n must be >= 0, got -1")
            yield Bad("index range", (_z(2, 2, device=device), torch.tensor([0, 3], device=device), 3), ValueError,
                      rf"^{name}: index\[1\] = 3 is outside \[0, 3\)", fake_sees_it=False)
        else:
            yield Bad("int x", (_z(2, 3, dtype=torch.int32, device=device), idx), TypeError,
                      rf"^{name}: x must be a float32 or float64 tensor, got Int")
            yield Bad("index dtype", (_z(2, 3, device=device), idx.int()), TypeError,
                      rf"^{name}: index must be an int64 tensor, got Int")
            yield Bad("2-d index", (_z(2, 3, device=device), idx[None]), ValueError, rf"^{name}: index must be 1-D")
            yield Bad("index range", (_z(2, 3, device=device), torch.tensor([0, -1], device=device)), ValueError,
                      rf"^{name}: index\[1\] = -1 is outside \[0, 3\)", fake_sees_it=False)
    return bad


# --- the table ----------------------------------------------------------------------------------


def _table() -> dict[str, OpInfo]:
    entries = _stencil_entries() + [
        OpInfo("cahn_hilliard_explicit", _pf_samples(True), _pf_reference(True), False, **PF_TOL,
               zero_size=_pf_zero(True), bad=_pf_bad("cahn_hilliard_explicit", True)),
        OpInfo("allen_cahn_explicit", _pf_samples(False), _pf_reference(False), False, **PF_TOL,
               zero_size=_pf_zero(False), bad=_pf_bad("allen_cahn_explicit", False)),
        OpInfo("polynomial", _poly_samples, _poly_reference, False,
               rtol={f32: 4 * EPS[f32], f64: 8 * EPS[f64]}, atol={f32: 16 * EPS[f32], f64: 16 * EPS[f64]},
               zero_size=_poly_zero, bad=_poly_bad),
        OpInfo("spectral_combine", _combine_samples, _combine_reference, False,
               atol={f32: 64 * EPS[f32], f64: 64 * EPS[f64]}, zero_size=_combine_zero, bad=_combine_bad),
        OpInfo("real_fft_pack", _pack_samples, _pack_reference, False,
               atol={f32: 64 * EPS[f32], f64: 64 * EPS[f64]}, zero_size=_pack_zero, bad=_pack_bad),
        OpInfo("take_along_last", _take_samples(False), _take_reference, True,
               zero_size=_take_zero(False), bad=_take_bad(False)),
        OpInfo("take_along_last_backward", _take_samples(True), _take_backward_reference, True,
               atol={f32: 64 * EPS[f32], f64: 64 * EPS[f64]}, zero_size=_take_zero(True), bad=_take_bad(True)),
        OpInfo("weno5_flux", _weno_samples, _weno_reference, False, **WENO_TOL,
               zero_size=_weno_zero("weno5_flux", ("godunov",)), bad=_weno_bad("weno5_flux", ("godunov",))),
        OpInfo("weno5_reconstruct", lambda dtype, device: (Sample(s.args[:1], id=s.id, grad=s.grad)
                                                           for s in _weno_samples(dtype, device)),
               lambda v: ref.weno5_states(v), False, **WENO_TOL,
               zero_size=_weno_zero("weno5_reconstruct", ()), bad=_weno_bad("weno5_reconstruct", ())),
        OpInfo("restrict_average", _restrict_samples, _restrict_reference, True,
               rtol={f32: 4 * EPS[f32], f64: 4 * EPS[f64]}, atol={f32: 16 * EPS[f32], f64: 16 * EPS[f64]},
               zero_size=_restrict_zero, bad=_restrict_bad),
        OpInfo("stencil_filter", lambda dtype, device: _filter_cases("filter", dtype, device, False),
               _filter_reference, True, grad_args=(0, 1), zero_size=_filter_zero(False),
               bad=_filter_bad("stencil_filter", False)),
        OpInfo("stencil_filter_backward", lambda dtype, device: _filter_cases("filter_bw", dtype, device, True),
               _filter_backward_reference, True, grad_args=(0, 1, 2), zero_size=_filter_zero(True),
               bad=_filter_bad("stencil_filter_backward", True)),
    ]
    return {e.name: e for e in entries}


OPS: dict[str, OpInfo] = _table()


def scale_of(info: OpInfo, sample: Sample, expected: tuple) -> float:
    """The magnitude the absolute tolerance is relative to: the sample's term scale, or the largest
    reference value."""
    if sample.scale != 1.0:
        return sample.scale
    biggest = max((float(np.abs(e).max()) for e in expected if e.size), default=1.0)
    return max(biggest, 1.0)


# --- particle binning (bin_particles, its backward) ----------------------------------------------


def _bin_cells(positions, bins, box, origin, assignment, periodic):
    """Per axis, the cells a particle touches as (index, weight, d weight / d position) triples,
    and which particles are kept (inside the box, or every one when periodic). Conventions of
    numpy.histogramdd: cell i of axis a covers [o_a + i h_a, o_a + (i + 1) h_a); cloud in cell puts
    linear weights on the two nearest cell centres."""
    n, d = positions.shape
    o = list(origin) if len(origin) else [0.0] * d
    keep = np.ones(n, dtype=bool)
    axes = []
    for a in range(d):
        h = box[a] / bins[a]
        x = positions[:, a] - o[a]
        if periodic:
            x = np.mod(x, box[a])
        else:
            keep &= (x >= 0) & (x <= box[a])
        if assignment == "ngp":
            i = np.minimum(np.floor(x / h).astype(np.int64), bins[a] - 1) % bins[a]
            axes.append([(i, np.ones(n), np.zeros(n))])
        else:
            s = x / h - 0.5
            i0 = np.floor(s).astype(np.int64)
            f = s - i0
            i1 = i0 + 1
            if periodic:
                i0, i1 = i0 % bins[a], i1 % bins[a]
            else:  # a weight beyond an outer cell centre stays in that cell
                i0, i1 = np.clip(i0, 0, bins[a] - 1), np.clip(i1, 0, bins[a] - 1)
            axes.append([(i0, 1 - f, -np.ones(n) / h), (i1, f, np.ones(n) / h)])
    return axes, keep


def _bin_reference(positions, quantities, bins, box, origin, assignment="ngp", periodic=True):
    n = positions.shape[0]
    q = np.ones((n, 1)) if quantities is None else quantities
    axes, keep = _bin_cells(positions, bins, box, origin, assignment, periodic)
    sums = np.zeros((q.shape[1], *bins))
    for corner in itertools.product(*axes):
        index = tuple(i[keep] for i, _, _ in corner)
        weight = np.prod([w for _, w, _ in corner], axis=0)[keep]
        for k in range(q.shape[1]):
            np.add.at(sums[k], index, weight * q[keep, k])
    return sums, np.array(np.count_nonzero(~keep), dtype=np.int64)


def _bin_backward_reference(grad, positions, quantities, bins, box, origin, assignment, periodic):
    """The adjoint: grad_quantities[p, k] = sum over p's cells of weight * grad[k, cell];
    grad_positions[p, a] = sum over cells and k of q[p, k] grad[k, cell] d(weight)/dx_a (zero for
    nearest grid point, whose weights are piecewise constant)."""
    n, d = positions.shape
    q = np.ones((n, 1)) if quantities is None else quantities
    axes, keep = _bin_cells(positions, bins, box, origin, assignment, periodic)
    grad_q = np.zeros((n, q.shape[1]))
    grad_x = np.zeros((n, d))
    for corner in itertools.product(*axes):
        index = tuple(i for i, _, _ in corner)
        weights = [w for _, w, _ in corner]
        g = np.stack([grad[k][index] for k in range(q.shape[1])], axis=1) * keep[:, None]  # [n, q]
        grad_q += np.prod(weights, axis=0)[:, None] * g
        for a in range(d):
            dw = corner[a][2] * np.prod([w for b, w in enumerate(weights) if b != a], axis=0)
            grad_x[:, a] += dw * (q * g).sum(axis=1)
    return grad_x, grad_q


BIN_CASES = [  # d, n, quantities columns (None: counts), bins, box, origin, assignment, periodic, grad
    (1, 50, None, [7], [3.0], [], "ngp", True, False),
    (2, 12, 1, [5, 6], [2.0, 3.0], [0.5, -1.0], "cic", True, True),
    (3, 10, 3, [3, 4, 5], [1.0, 2.0, 1.5], [], "cic", False, True),
    (2, 25, None, [4, 3], [1.0, 1.0], [], "ngp", False, False),
    (1, 17, 2, [9], [2.0], [], None, None, False),  # the schema's defaults: ngp, periodic
    (3, 40, 2, [2, 3, 5], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], "cic", True, False),
]


def _bin_samples(backward: bool):
    def samples(dtype, device):
        for k, (d, n, nq, bins, box, origin, assignment, periodic, grad) in enumerate(BIN_CASES):
            rng = _rng("bin", k)
            low = np.array(origin or [0.0] * d)
            # periodic: positions well outside the box too (wrapped); otherwise some just outside (dropped)
            spread = np.array(box) * (1.6 if periodic in (True, None) else 1.2)
            x = low - 0.1 * np.array(box) + rng.random((n, d)) * spread
            positions = torch.from_numpy(x).to(device, dtype)
            quantities = None if nq is None else _randn(rng, (n, nq), dtype, device)
            args = (positions, quantities, bins, box, origin)
            if assignment is not None:
                args = (*args, assignment, periodic)
            if backward:
                if assignment is None:
                    args = (*args, "ngp", True)
                g = _randn(rng, (1 if nq is None else nq, *bins), dtype, device)
                args = (g, *args)
            yield Sample(args, id=f"{d}d-{n}-{nq}-{assignment}-{periodic}", grad=grad)

    return samples


def _bin_zero(backward: bool):
    def zero_size(dtype, device):
        for nq in (None, 3):
            positions = _z(0, 2, dtype=dtype, device=device)
            quantities = None if nq is None else _z(0, nq, dtype=dtype, device=device)
            args = (positions, quantities, [3, 4], [2.0, 2.0], [1.0, 1.0], "cic", False)
            if backward:
                args = (_randn(_rng("bin0"), (1 if nq is None else nq, 3, 4), dtype, device), *args)
            yield Sample(args, id=f"n0-{nq}"), None
        args = (_z(5, 2, dtype=dtype, device=device), None, [0, 4], [2.0, 2.0], [], "ngp", True)
        if backward:
            args = (_z(1, 0, 4, dtype=dtype, device=device), *args)
        yield Sample(args, id="bins0"), (ValueError, r"bins\[0\] must be >= 1, got 0")

    return zero_size


def _bin_bad(name: str, backward: bool):
    def bad(device):
        z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731

        def call(positions=None, quantities=None, bins=(3, 4), box=(2.0, 2.0), origin=(), assignment="cic",
                 periodic=True, grad=None):
            positions = z(5, 2) if positions is None else positions
            args = (positions, quantities, list(bins), list(box), list(origin), assignment, periodic)
            if backward:
                g = z(1 if quantities is None else quantities.shape[-1], *bins) if grad is None else grad
                args = (g, *args)
            return args

        yield Bad("int positions", call(z(5, 2, dtype=torch.int32)), TypeError,
                  rf"^{name}: positions must be a float32 or float64 tensor, got Int")
        yield Bad("1-d positions", call(z(5), bins=[3], box=[2.0]), ValueError, rf"^{name}: positions must be \[n, d\]")
        yield Bad("d = 4", call(z(5, 4), bins=[2] * 4, box=[1.0] * 4), ValueError,
                  rf"^{name}: positions must be \[n, d\] with d = 1, 2 or 3 coordinates, got d = 4")
        yield Bad("bins count", call(bins=[3]), ValueError, rf"^{name}: bins must have one entry per coordinate \(2\), got 1")
        yield Bad("box count", call(box=[2.0]), ValueError, rf"^{name}: box must have one length per coordinate \(2\), got 1")
        yield Bad("origin count", call(origin=[0.0]), ValueError, rf"^{name}: origin must be empty or have one entry")
        yield Bad("assignment", call(assignment="tsc"), ValueError, rf"^{name}: assignment must be 'ngp' .* got 'tsc'")
        yield Bad("bins 0", call(bins=[3, 0]), ValueError, rf"^{name}: bins\[1\] must be >= 1, got 0")
        for value in (0.0, -1.0, math.nan, math.inf):
            yield Bad(f"box {value}", call(box=[2.0, value]), ValueError,
                      rf"^{name}: box\[1\] must be a positive finite length, got {value:g}")
        yield Bad("origin inf", call(origin=[0.0, math.inf]), ValueError, rf"^{name}: origin\[1\] must be finite, got inf")
        if not backward:  # (the backward's grad would be a 16 GB tensor)
            yield Bad("2^31 cells", call(bins=[1 << 16, 1 << 16]), ValueError, rf"^{name}: bins has more than 2\^31 - 1 cells")
        yield Bad("quantities dtype", call(quantities=z(5, 1, dtype=f64)), TypeError,
                  rf"^{name}: quantities must have the dtype of positions \(Float\), got Double")
        yield Bad("quantities rows", call(quantities=z(6, 1)), ValueError, rf"^{name}: quantities must be \[n, q\] with n = 5")
        yield Bad("quantities 1-d", call(quantities=z(5)), ValueError, rf"^{name}: quantities must be \[n, q\]")
        if backward:
            yield Bad("grad shape", call(grad=z(2, 3, 4)), ValueError,
                      rf"^{name}: grad must be \[1, 3, 4\] Float on {device}, got \[2, 3, 4\] Float")
        if not backward:  # (the backward sees the positions its forward accepted)
            nan = z(5, 2)
            nan[2, 1] = math.nan
            yield Bad("nan position", call(nan), ValueError, rf"^{name}: positions has 1 particle\(s\) with a NaN or infinite coordinate", fake_sees_it=False)

    return bad


OPS.update({
    "bin_particles": OpInfo("bin_particles", _bin_samples(False), _bin_reference, True, grad_args=(0, 1),
                            double_backward=False, rtol={f32: 1e-5, f64: 1e-12}, atol={f32: 1e-5, f64: 1e-12},
                            zero_size=_bin_zero(False), bad=_bin_bad("bin_particles", False)),
    "bin_particles_backward": OpInfo("bin_particles_backward", _bin_samples(True), _bin_backward_reference, False,
                                     rtol={f32: 1e-5, f64: 1e-12}, atol={f32: 1e-5, f64: 1e-12},
                                     zero_size=_bin_zero(True), bad=_bin_bad("bin_particles_backward", True)),
})


# --- tridiagonal solves (tridiagonal_solve) and the implicit diffusion step ---------------------


def _banded_solve(lower, diag, upper, rhs):
    """scipy.linalg.solve_banded, one system per row of the [*batch, n] bands."""
    import scipy.linalg

    n = diag.shape[-1]
    x = np.zeros(diag.shape)
    if x.size == 0:
        return (x,)
    flat = [a.reshape(-1, n) for a in (lower, diag, upper, rhs)]
    for k in range(flat[1].shape[0]):
        ab = np.zeros((3, n))
        ab[0, 1:] = flat[2][k, :-1]
        ab[1] = flat[1][k]
        ab[2, :-1] = flat[0][k, 1:]
        x.reshape(-1, n)[k] = scipy.linalg.solve_banded((1, 1), ab, flat[3][k])
    return (x,)


TRIDIAGONAL_SHAPES = [  # shape, grad
    ((3, 7), True), ((1,), True), ((2,), True), ((2, 2, 5), True), ((4, 33), False), ((17,), False), ((6, 2), False),
]


def _tridiagonal_samples(dtype, device):
    for k, (shape, grad) in enumerate(TRIDIAGONAL_SHAPES):
        rng = _rng("tridiagonal", k)
        lower, upper, rhs = (rng.standard_normal(shape) for _ in range(3))
        # diagonally dominant, with either sign on the diagonal
        sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        diag = sign * (np.abs(lower) + np.abs(upper) + 0.5 + rng.random(shape))
        args = tuple(torch.from_numpy(a).to(device, dtype) for a in (lower, diag, upper, rhs))
        yield Sample(args, id=f"{shape}", grad=grad)


def _tridiagonal_zero(dtype, device):
    for shape in ((0, 5), (3, 0), (0,)):
        args = tuple(_z(shape, dtype=dtype, device=device) + (2.0 if i == 1 else 0.0) for i in range(4))
        yield Sample(args, id=f"{shape}"), None


def _tridiagonal_bad(device):
    z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731
    ones = lambda *s: z(*s) + 1.0  # noqa: E731
    yield Bad("int lower", (z(3, 4, dtype=torch.int32), ones(3, 4), z(3, 4), z(3, 4)), TypeError,
              r"^tridiagonal_solve: lower must be a float32 or float64 tensor, got Int")
    yield Bad("0-d diag", (z(), ones(), z(), z()), ValueError, r"^tridiagonal_solve: diag must be \[\*batch, n\]")
    yield Bad("upper dtype", (z(3, 4), ones(3, 4), z(3, 4, dtype=f64), z(3, 4)), TypeError,
              r"^tridiagonal_solve: upper must have the dtype of diag \(Float\), got Double")
    yield Bad("rhs shape", (z(3, 4), ones(3, 4), z(3, 4), z(3, 5)), ValueError,
              r"^tridiagonal_solve: rhs must have the shape of diag \[3, 4\], got \[3, 5\]")
    yield Bad("lower shape", (z(4), ones(3, 4), z(3, 4), z(3, 4)), ValueError,
              r"^tridiagonal_solve: lower must have the shape of diag \[3, 4\], got \[4\]")
    diag = ones(2, 3, 4)
    diag[1, 2, 0] = 0.0
    yield Bad("zero pivot", (z(2, 3, 4), diag, z(2, 3, 4), z(2, 3, 4)), ValueError,
              r"^tridiagonal_solve: zero pivot in system \(1, 2\) at row 0: the Thomas algorithm does not pivot",
              fake_sees_it=False)
    # a singular leading 2 x 2 block: the second pivot is 1 - 1 * 1 = 0
    yield Bad("zero pivot row 1", (ones(3), ones(3), ones(3), z(3)), ValueError,
              r"^tridiagonal_solve: zero pivot at row 1:", fake_sees_it=False)


def _diffusion_matrix(a, dx, n):
    """M and s with du/dt = M u + s for walls (1, 0) scaled later: built from a face-gradient matrix
    G ([n + 1, n]: interior (u_i - u_{i-1}) / dx, walls over half a cell) and the divergence."""
    G = np.zeros((n + 1, n))
    for f in range(1, n):
        G[f, f - 1], G[f, f] = -1.0 / dx, 1.0 / dx
    G[0, 0] = 1.0 / (dx / 2)          # (u_0 - left) / (dx / 2)
    G[n, n - 1] = -1.0 / (dx / 2)     # (right - u_{n-1}) / (dx / 2)
    h_left = np.zeros(n + 1)
    h_left[0] = -1.0 / (dx / 2)
    h_right = np.zeros(n + 1)
    h_right[n] = 1.0 / (dx / 2)
    Dv = np.zeros((n, n + 1))          # du_i/dt = (a g)_{i+1} - (a g)_i over dx
    for i in range(n):
        Dv[i, i], Dv[i, i + 1] = -1.0 / dx, 1.0 / dx
    return Dv @ (a[:, None] * G), Dv @ (a * h_left), Dv @ (a * h_right)


def _diffusion_reference(u, a_faces, left, right, spacing, dt, scheme="backward_euler"):
    """Dense numpy.linalg.solve of the theta scheme built from the flux form (face gradients with the
    wall values half a cell from the first and last centres)."""
    theta = 1.0 if scheme == "backward_euler" else 0.5
    n = u.shape[-1]
    batch = u.shape[:-1]
    rows = int(np.prod(batch)) if batch else 1
    U = u.reshape(rows, n)
    A = np.broadcast_to(a_faces, (*batch, n + 1)).reshape(rows, n + 1)
    Lw = np.broadcast_to(left, batch).reshape(rows)
    Rw = np.broadcast_to(right, batch).reshape(rows)
    out = np.zeros((rows, n))
    for k in range(rows):
        M, sl, sr = _diffusion_matrix(A[k], spacing, n)
        s = sl * Lw[k] + sr * Rw[k]
        eye = np.eye(n)
        out[k] = np.linalg.solve(eye - theta * dt * M, (eye + (1 - theta) * dt * M) @ U[k] + dt * s)
    return (out.reshape(u.shape),)


DIFFUSION_CASES = [  # u shape, a shared, walls per row, spacing, dt, scheme (None: the default)
    ((3, 7), False, True, 0.1, 0.01, "crank_nicolson"),
    ((5,), True, False, 0.2, 0.5, "backward_euler"),
    ((2, 2, 4), True, True, 1e-3, 1e-2, "crank_nicolson"),  # dt / dx^2 = 1e4: stiff
    ((2, 1), False, False, 0.5, 0.1, None),
    ((3, 2), False, True, 0.3, 0.05, "backward_euler"),
    ((4, 40), False, True, 0.025, 0.01, "backward_euler"),
]


def _diffusion_samples(dtype, device):
    for k, (shape, shared, per_row, spacing, dt, scheme) in enumerate(DIFFUSION_CASES):
        rng = _rng("diffusion", k)
        n = shape[-1]
        u = _randn(rng, shape, dtype, device)
        a_shape = (n + 1,) if shared else (*shape[:-1], n + 1)
        a = torch.from_numpy(1.1 + np.sin(2 * np.pi * rng.random(a_shape))).to(device, dtype)
        wall_shape = shape[:-1] if per_row else ()
        left, right = _randn(rng, wall_shape, dtype, device), _randn(rng, wall_shape, dtype, device)
        args = (u, a, left, right, spacing, dt) + (() if scheme is None else (scheme,))
        yield Sample(args, id=f"{shape}-{scheme}", grad=k < 2)


def _diffusion_zero(dtype, device):
    z = lambda *s: _z(*s, dtype=dtype, device=device)  # noqa: E731
    yield Sample((z(0, 4), z(5) + 1.0, z(), z(), 0.1, 0.01), id="batch0"), None
    yield Sample((z(0, 4), z(0, 5) + 1.0, z(0), z(0), 0.1, 0.01, "crank_nicolson"), id="batch0-rows"), None
    yield Sample((z(3, 0), z(1) + 1.0, z(), z(), 0.1, 0.01), id="n0"), (
        ValueError, r"u must be \[\*batch, n\] with n >= 1 cells, got shape \[3, 0\]")


def _diffusion_bad(device):
    op = "heterogeneous_diffusion_step"
    z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731

    def call(u=None, a=None, left=None, right=None, spacing=0.1, dt=0.01, scheme="backward_euler"):
        u = z(3, 4) if u is None else u
        a = z(5) + 1.0 if a is None else a
        return (u, a, z() if left is None else left, z() if right is None else right, spacing, dt, scheme)

    yield Bad("int u", call(u=z(3, 4, dtype=torch.int64)), TypeError, rf"^{op}: u must be a float32 or float64 tensor, got Long")
    yield Bad("0-d u", call(u=z()), ValueError, rf"^{op}: u must be \[\*batch, n\] with n >= 1 cells, got shape \[\]")
    yield Bad("a dtype", call(a=z(5, dtype=f64)), TypeError, rf"^{op}: a_faces must have the dtype of u \(Float\), got Double")
    yield Bad("a cells", call(a=z(4)), ValueError,
              rf"^{op}: a_faces must be \[n \+ 1\] = \[5\] or \[\*batch, n \+ 1\] = \[3, 5\] \(the diffusivity at the faces\), got \[4\]")
    yield Bad("a batch", call(a=z(2, 5)), ValueError, rf"^{op}: a_faces must be .* got \[2, 5\]")
    yield Bad("left shape", call(left=z(4), right=z(4)), ValueError, rf"^{op}: left must be 0-d or \[\*batch\] = \[3\], got \[4\]")
    yield Bad("walls mixed", call(left=z(3)), ValueError, rf"^{op}: left and right must both be 0-d or both \[\*batch\]")
    yield Bad("right dtype", call(right=z(dtype=f64)), TypeError, rf"^{op}: right must have the dtype of u")
    for value in (0.0, -1.0, math.nan, math.inf):
        yield Bad(f"spacing {value}", call(spacing=value), ValueError,
                  rf"^{op}: spacing must be a positive finite number, got {value:g}")
    yield Bad("dt 0", call(dt=0.0), ValueError, rf"^{op}: dt must be a positive finite number, got 0")
    yield Bad("scheme", call(scheme="rk4"), ValueError, rf"^{op}: scheme must be 'backward_euler' or 'crank_nicolson', got 'rk4'")
    # negative diffusivity: 1 + (dt / dx^2) (2 a_0 + 2 a_1) = 0 for one cell
    yield Bad("zero pivot", call(u=z(2, 1), a=z(2, 2) - 0.25, left=z(2), right=z(2), spacing=1.0, dt=1.0), ValueError,
              rf"^{op}: zero pivot in system \(0\) at row 0", fake_sees_it=False)


OPS.update({
    "tridiagonal_solve": OpInfo("tridiagonal_solve", _tridiagonal_samples, _banded_solve, True, grad_args=(0, 1, 2, 3),
                                rtol={f32: 1e-5, f64: 1e-12}, atol={f32: 256 * EPS[f32], f64: 256 * EPS[f64]},
                                zero_size=_tridiagonal_zero, bad=_tridiagonal_bad),
    "heterogeneous_diffusion_step": OpInfo("heterogeneous_diffusion_step", _diffusion_samples, _diffusion_reference,
                                           False, rtol={f32: 1e-5, f64: 1e-11},
                                           atol={f32: 256 * EPS[f32], f64: 256 * EPS[f64]},
                                           zero_size=_diffusion_zero, bad=_diffusion_bad),
})


# --- the 2D lattice diffusion rate (lattice_diffusion_rate, arbabi2020 Eq 25) --------------------


def _lattice_reference(u, kx, ky, spacing, boundary="periodic"):
    """Eq 25 with np.roll, x the last axis: kx[..., j, i] couples (i, j) and (i + 1, j), ky[..., j, i]
    couples (i, j) and (i, j + 1); on a patch the ring is set to 0 (interior points never wrap)."""
    kx, ky = np.broadcast_to(kx, u.shape), np.broadcast_to(ky, u.shape)
    rate = (kx * (np.roll(u, -1, -1) - u) + np.roll(kx, 1, -1) * (np.roll(u, 1, -1) - u)
            + ky * (np.roll(u, -1, -2) - u) + np.roll(ky, 1, -2) * (np.roll(u, 1, -2) - u)) / spacing**2
    if boundary == "patch" and rate.size:
        rate[..., 0, :] = rate[..., -1, :] = 0.0
        rate[..., :, 0] = rate[..., :, -1] = 0.0
    return (rate,)


LATTICE_CASES = [  # u shape, kx shape, ky shape (None: u's), spacing, boundary (None: the default), grad
    ((5, 7), None, None, 0.3, "periodic", True),
    ((2, 5, 4), (5, 4), None, 0.7, "patch", True),
    ((2, 3, 3), None, (3, 3), 1.3, "patch", True),
    ((3, 1, 6), (1, 6), (1, 6), 0.5, None, False),           # ny = 1: the y bonds join a point to itself
    ((2, 2, 2, 5), (2, 2, 5), (2, 5), 0.05, "periodic", False),  # ny = 2; kx per patch, repeated over axis 0
    ((4, 9, 11), None, None, 2.0, "patch", False),
    ((2, 3, 17, 13), (3, 17, 13), (17, 13), 0.2, "periodic", False),
    ((2, 4, 5, 5), (5, 5), (5, 5), 0.0131, "patch", False),   # gap-tooth teeth: [trajectory, patch, 5, 5]
    ((3, 7, 5, 5), (7, 5, 5), (5, 5), 0.0131, "patch", False),  # kx per tooth, repeated over trajectories
    ((2, 3, 4, 3), (3, 4, 3), None, 0.9, "patch", False),
]


def _lattice_samples(dtype, device):
    for k, (shape, kx_shape, ky_shape, spacing, boundary, grad) in enumerate(LATTICE_CASES):
        rng = _rng("lattice", k)
        u = _randn(rng, shape, dtype, device)
        kx, ky = (torch.from_numpy(0.5 + 2.0 * rng.random(s or shape)).to(device, dtype) for s in (kx_shape, ky_shape))
        args = (u, kx, ky, spacing) + (() if boundary is None else (boundary,))
        # each rate sums 8 products of |k| |u| over spacing^2
        scale = 8 * float(u.abs().max()) * 2.5 / spacing**2
        yield Sample(args, id=f"{shape}-{boundary}", grad=grad, scale=scale)


def _lattice_zero(dtype, device):
    z = lambda *s: _z(*s, dtype=dtype, device=device)  # noqa: E731
    yield Sample((z(0, 4, 5), z(4, 5) + 1.0, z(4, 5) + 1.0, 0.1, "patch"), id="batch0-patch"), None
    yield Sample((z(3, 0, 5), z(0, 5), z(3, 0, 5), 0.1), id="ny0-periodic"), None
    yield Sample((z(2, 4, 0), z(4, 0), z(4, 0), 0.1, "periodic"), id="nx0-periodic"), None
    yield Sample((z(2, 0, 5), z(0, 5), z(0, 5), 0.1, "patch"), id="ny0-patch"), (
        ValueError, r"boundary 'patch' needs ny >= 3 and nx >= 3 .* got u of shape \[2, 0, 5\]")


def _lattice_bad(device):
    op = "lattice_diffusion_rate"
    z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731

    def call(u=None, kx=None, ky=None, spacing=0.1, boundary="periodic"):
        u = z(2, 4, 5) if u is None else u
        return (u, z(4, 5) + 1.0 if kx is None else kx, z(4, 5) + 1.0 if ky is None else ky, spacing, boundary)

    yield Bad("int u", call(u=z(2, 4, 5, dtype=torch.int32)), TypeError,
              rf"^{op}: u must be a float32 or float64 tensor, got Int")
    yield Bad("kx dtype", call(kx=z(4, 5, dtype=f64)), TypeError, rf"^{op}: kx must have the dtype of u \(Float\), got Double")
    yield Bad("ky dtype", call(ky=z(4, 5, dtype=torch.int64)), TypeError, rf"^{op}: ky must have the dtype of u \(Float\), got Long")
    yield Bad("1-d u", call(u=z(5), kx=z(5), ky=z(5)), ValueError,
              rf"^{op}: u must be \[\*batch, ny, nx\] \(at least the two grid axes\), got shape \[5\]")
    yield Bad("kx transposed", call(kx=z(5, 4)), ValueError,
              rf"^{op}: kx must have the shape of u \[2, 4, 5\] or a trailing part of it with at least \[ny, nx\] = "
              rf"\[4, 5\] \(the bond diffusivities, repeated over u's leading axes\), got \[5, 4\]")
    yield Bad("ky batch", call(ky=z(3, 4, 5)), ValueError, rf"^{op}: ky must have the shape of u \[2, 4, 5\] .* got \[3, 4, 5\]")
    yield Bad("kx rank", call(kx=z(1, 2, 4, 5)), ValueError, rf"^{op}: kx must have the shape of u .* got \[1, 2, 4, 5\]")
    yield Bad("ky 1-d", call(ky=z(5)), ValueError, rf"^{op}: ky must have the shape of u .* got \[5\]")
    for value in (0.0, -1.0, math.nan, math.inf):
        yield Bad(f"spacing {value}", call(spacing=value), ValueError,
                  rf"^{op}: spacing must be a positive finite number, got {value:g}")
    yield Bad("boundary", call(boundary="dirichlet"), ValueError,
              rf"^{op}: boundary must be 'periodic' or 'patch', got 'dirichlet'")
    yield Bad("patch too small", call(u=z(3, 2, 5), kx=z(2, 5), ky=z(2, 5), boundary="patch"), ValueError,
              rf"^{op}: boundary 'patch' needs ny >= 3 and nx >= 3 \(a ring of edge values around the interior\), "
              rf"got u of shape \[3, 2, 5\]")
    yield Bad("patch too narrow", call(u=z(4, 2), kx=z(4, 2), ky=z(4, 2), boundary="patch"), ValueError,
              rf"^{op}: boundary 'patch' needs ny >= 3 and nx >= 3")


OPS.update({
    "lattice_diffusion_rate": OpInfo("lattice_diffusion_rate", _lattice_samples, _lattice_reference, True,
                                     grad_args=(0, 1, 2), zero_size=_lattice_zero, bad=_lattice_bad),
})


# --- point-wise networks (pointwise_mlp, its backward) -----------------------------------------

# (lead shape, n_in, width, depth, n_out, activation): one point, a block tail (the CPU takes 64
# points at a time), several lead axes, the largest network the op takes, and inputs out to
# -60 (ELU's exp clamps at -40 in float64, -20 in float32).
MLP_CASES = [((1,), 1, 4, 4, 1, "elu"), ((130,), 1, 4, 4, 1, "elu"), ((3, 5), 2, 3, 1, 2, "tanh"),
             ((2, 33), 3, 5, 3, 2, "elu"), ((70,), 8, 16, 8, 8, "elu"), ((9,), 8, 16, 8, 8, "tanh")]


def _mlp_count(n_in, width, depth, n_out):
    return width * n_in + width + (depth - 1) * (width * width + width) + n_out * width + n_out


def _mlp_layers(params, n_in, width, depth, n_out):
    """(W, b) per layer, first to output, from the flat parameters."""
    sizes = [(width, n_in)] + [(width, width)] * (depth - 1) + [(n_out, width)]
    layers, at = [], 0
    for rows, cols in sizes:
        w = params[at: at + rows * cols].reshape(rows, cols)
        at += rows * cols
        layers.append((w, params[at: at + rows]))
        at += rows
    return layers


def _mlp_act(z, activation):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0))) if activation == "elu" else np.tanh(z)


def _mlp_slope(a, activation):
    return np.where(a > 0, 1.0, a + 1.0) if activation == "elu" else 1.0 - a * a


def _mlp_forward_np(x, params, width, depth, n_out, activation):
    layers = _mlp_layers(params, x.shape[-1], width, depth, n_out)
    acts = [x]
    for w, b in layers[:-1]:
        acts.append(_mlp_act(acts[-1] @ w.T + b, activation))
    w, b = layers[-1]
    return acts[-1] @ w.T + b, acts, layers


def _mlp_samples(backward):
    def samples(dtype, device):
        for k, (lead, n_in, width, depth, n_out, act) in enumerate(MLP_CASES):
            rng = _rng("mlp", k, backward)
            x = _randn(rng, (*lead, n_in), dtype, device) * (20.0 if k == 1 else 2.0)
            if k == 1:
                x[0, 0] = -60.0
            # weights of about 1.4 / sqrt(fan in): the activations neither vanish nor blow up with depth
            params = _randn(rng, (_mlp_count(n_in, width, depth, n_out),), dtype, device) * (1.4 / math.sqrt(width))
            g = (_randn(rng, (*lead, n_out), dtype, device),) if backward else ()
            args = (*g, x, params, width, depth) + ((act,) if backward else (n_out, act))
            yield Sample(args, id=f"{lead}-{n_in}-{width}x{depth}-{n_out}-{act}", grad=k in (0, 2))

    return samples


def _mlp_reference(x, params, width, depth, n_out, activation="elu"):
    return (_mlp_forward_np(x, params, width, depth, n_out, activation)[0],)


def _mlp_backward_reference(grad, x, params, width, depth, activation="elu"):
    lead = x.shape[:-1]
    xs, gs = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
    _, acts, layers = _mlp_forward_np(xs, params, width, depth, grad.shape[-1], activation)
    grads, delta = [], gs
    for li in range(len(layers) - 1, -1, -1):
        w, _ = layers[li]
        grads.append((delta.T @ acts[li], delta.sum(0)))
        delta = delta @ w
        if li > 0:
            delta = delta * _mlp_slope(acts[li], activation)
    flat = np.concatenate([np.concatenate([gw.ravel(), gb]) for gw, gb in reversed(grads)])
    return delta.reshape(*lead, x.shape[-1]), flat


def _mlp_zero(backward):
    def zero_size(dtype, device):
        z = lambda *s: _z(*s, dtype=dtype, device=device)  # noqa: E731
        p = z(_mlp_count(1, 4, 4, 1))
        g = (z(0, 1),) if backward else ()
        tail = (4, 4, "elu") if backward else (4, 4, 1, "elu")
        yield Sample((*g, z(0, 1), p, *tail), id="points0"), None
        g = (z(2, 0, 1),) if backward else ()
        yield Sample((*g, z(2, 0, 1), p, *tail), id="lead0"), None

    return zero_size


def _mlp_bad(backward):
    name = "pointwise_mlp_backward" if backward else "pointwise_mlp"

    def bad(device):
        z = lambda *s, dtype=f32: _z(*s, dtype=dtype, device=device)  # noqa: E731

        def call(x, params, width=4, depth=4, n_out=1, activation="elu", g=None):
            if backward:
                return (z(*x.shape[:-1], n_out) if g is None else g, x, params, width, depth, activation)
            return (x, params, width, depth, n_out, activation)

        ok = _mlp_count(1, 4, 4, 1)
        yield Bad("params length", call(z(5, 1), z(ok - 1)), ValueError,
                  rf"^{name}: params must be a flat tensor of {ok} parameters for n_in = 1, width = 4, depth = 4, "
                  rf"n_out = 1, got shape \[{ok - 1}\]")
        yield Bad("params 2d", call(z(5, 1), z(1, ok)), ValueError, rf"^{name}: params must be a flat tensor")
        yield Bad("width", call(z(5, 1), z(ok), width=17), ValueError, rf"^{name}: width must be 1 to 16, got 17")
        yield Bad("depth", call(z(5, 1), z(ok), depth=0), ValueError, rf"^{name}: depth must be 1 to 8, got 0")
        if not backward:
            yield Bad("n_out", call(z(5, 1), z(ok), n_out=9), ValueError, rf"^{name}: n_out must be 1 to 8, got 9")
        yield Bad("n_in", call(z(5, 9), z(ok)), ValueError,
                  rf"^{name}: the number of inputs per point \(x.shape\[-1\]\) must be 1 to 8, got 9")
        yield Bad("activation", call(z(5, 1), z(ok), activation="relu"), ValueError,
                  rf"^{name}: activation must be 'elu' or 'tanh', got 'relu'")
        yield Bad("x dtype", call(z(5, 1, dtype=torch.int32), z(ok)), TypeError,
                  rf"^{name}: x must be a float32 or float64 tensor, got Int")
        yield Bad("params dtype", call(z(5, 1), z(ok, dtype=f64)), TypeError,
                  rf"^{name}: params must have the dtype of x \(Float\), got Double")
        yield Bad("x 0-d", call(z(), z(ok)), ValueError, rf"^{name}: x must have at least one axis")
        if backward:
            yield Bad("grad shape", call(z(5, 1), z(ok), g=z(4, 1)), ValueError,
                      rf"^{name}: grad must have the output's shape \[5, 1\]")

    return bad


# Relative to the largest reference value: a network sums width products per unit and layer.
MLP_TOL = dict(rtol={f32: 1e-5, f64: 1e-12}, atol={f32: 2e-5, f64: 2e-13})

OPS.update({
    "pointwise_mlp": OpInfo("pointwise_mlp", _mlp_samples(False), _mlp_reference, True, grad_args=(0, 1),
                            double_backward=False, **MLP_TOL, zero_size=_mlp_zero(False), bad=_mlp_bad(False)),
    "pointwise_mlp_backward": OpInfo("pointwise_mlp_backward", _mlp_samples(True), _mlp_backward_reference, False,
                                     **MLP_TOL, zero_size=_mlp_zero(True), bad=_mlp_bad(True)),
})
