"""Op contracts (issue 16), driven by the table in op_samples.py, for every op of
``torch.ops.coarsegrain`` on CPU and (when built and present) CUDA:

(a) the NumPy reference in float32 and float64; (b) gradcheck (and gradgradcheck where the op is
twice differentiable) in float64, or a backward that raises naming the op; (c)
``torch.library.opcheck``; (d) ``torch.compile(fullgraph=True)`` equals eager (about 7 s in all
on an idle machine, so not marked slow); (e) zero-size and non-contiguous inputs; (f) bad inputs
raise naming the parameter, identically in eager and under the fake kernel. Plus: README's table
of differentiable and ``out=`` operators is true.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from coarsegrain import ops
from op_samples import CUBIC, OPS, Sample, scale_of

NAMES = sorted(OPS)
DIFFERENTIABLE = [n for n in NAMES if OPS[n].differentiable]
REFUSED = [n for n in NAMES if not OPS[n].differentiable]
f64 = torch.float64


def _numpy(x):
    """float64 / complex128 NumPy copies of the tensors in an argument (lists too)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.complex128 if x.is_complex() else f64).numpy()
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], torch.Tensor):
        return [_numpy(t) for t in x]
    return x


def _tensors(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, torch.Tensor))


def _map_tensors(args, fn, skip=None):
    out = []
    for i, a in enumerate(args):
        if i == skip:
            out.append(a)
        elif isinstance(a, torch.Tensor):
            out.append(fn(a))
        elif isinstance(a, list) and a and isinstance(a[0], torch.Tensor):
            out.append([fn(t) for t in a])
        else:
            out.append(a)
    return tuple(out)


def _check_reference(info, sample: Sample, dtype, device, got=None):
    got = info.run(sample) if got is None else got
    expected = info.reference(*(_numpy(a) for a in sample.args), **sample.kwargs)
    first = next(_tensors(sample.args))
    assert len(got) == len(expected), sample.id
    scale = scale_of(info, sample, expected)
    for g, e in zip(got, expected):
        assert g.dtype == (torch.int64 if e.dtype.kind == "i" else first.dtype), sample.id
        assert g.device.type == device, sample.id
        assert tuple(g.shape) == e.shape, sample.id
        assert g.is_contiguous(), sample.id
        np.testing.assert_allclose(_numpy(g), e, rtol=info.rtol[dtype], atol=info.atol[dtype] * scale,
                                   err_msg=f"{info.name} {sample.id}")


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None


def _fake_error(op, args):
    mode = FakeTensorMode()
    fake_args = _map_tensors(args, mode.from_tensor)
    with mode:
        return _error(lambda: op(*fake_args))


def test_the_table_covers_every_registered_op():
    registered = {s.name.split("::")[1] for s in torch._C._jit_get_all_schemas() if s.name.startswith("coarsegrain::")}
    assert registered == set(OPS), "a new op needs its entry in tests/op_samples.py"


# --- (a) the NumPy reference --------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_matches_numpy_reference(name, dtype, device):
    info = OPS[name]
    for sample in info.samples(dtype, device):
        _check_reference(info, sample, dtype, device)


# --- (b) gradients, or a clear refusal -----------------------------------------------------------


def _grad_samples(info, device):
    return [s for s in info.samples(f64, device) if s.grad]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_and_gradgradcheck(name, device):
    info = OPS[name]
    samples = _grad_samples(info, device)
    assert samples
    for sample in samples:
        inputs = tuple(sample.args[i].detach().clone().requires_grad_() for i in info.grad_args)

        def fn(*ts, sample=sample):
            args = list(sample.args)
            for i, t in zip(info.grad_args, ts):
                args[i] = t
            return info.op(*args, **sample.kwargs)

        assert torch.autograd.gradcheck(fn, inputs), sample.id
        if info.double_backward:
            assert torch.autograd.gradgradcheck(fn, inputs), sample.id


@pytest.mark.parametrize("name", REFUSED)
def test_backward_is_refused_naming_the_op(name, device):
    info = OPS[name]
    sample = (_grad_samples(info, device) or list(info.samples(f64, device)))[0]
    if info.out_arg is not None:
        # The raw *_into op only writes; its public form is the wrapper's out=, which refuses autograd.
        base = name.removesuffix("_into")
        x = sample.args[0].detach().clone().requires_grad_()
        kwargs = {"order": sample.args[2]} if base == "laplacian" else {}
        with pytest.raises(RuntimeError, match=rf"^{base}: out= does not support automatic differentiation"):
            getattr(ops, base)(x, sample.args[1], out=sample.args[info.out_arg], **kwargs)
        # The raw op refuses too (its C++ Autograd kernel), before writing anything.
        out = torch.full_like(sample.args[info.out_arg], 7.0)
        raw_args = (x, *sample.args[1:info.out_arg], out, *sample.args[info.out_arg + 1:])
        with pytest.raises(RuntimeError, match=rf"^{name}: writing into out= has no derivative and \w+ requires "
                                               rf"grad; call coarsegrain.ops.{base} without out="):
            info.op(*raw_args)
        assert torch.all(out == 7.0)  # untouched
        with torch.no_grad():
            info.op(*raw_args)
        return
    x = next(_tensors(sample.args)).detach().clone().requires_grad_()
    args = _map_tensors(sample.args, lambda t: x if t is next(_tensors(sample.args)) else t)
    outputs = info.run(Sample(args, sample.kwargs))
    for out in outputs:
        assert out.requires_grad
        with pytest.raises(NotImplementedError, match=rf"^{name} is not differentiable; "):
            torch.autograd.grad(out.real.sum(), x, retain_graph=True)


# --- (c) opcheck ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_opcheck(name, device):
    info = OPS[name]
    # a small float64 sample (its inputs requiring grad where the op is differentiable) and a float32 one
    sample = (_grad_samples(info, device) or list(info.samples(f64, device)))[0]
    args = _map_tensors(sample.args, lambda t: t.detach().clone().requires_grad_(t.is_floating_point())) \
        if info.differentiable else sample.args
    torch.library.opcheck(info.op, args, sample.kwargs)
    sample = next(iter(info.samples(torch.float32, device)))
    torch.library.opcheck(info.op, sample.args, sample.kwargs)


# --- (d) torch.compile ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_torch_compile_matches_eager(name, device):
    info = OPS[name]
    sample = next(iter(info.samples(f64, device)))

    def call(*args):
        result = info.op(*args, **sample.kwargs)
        return args[info.out_arg] if info.out_arg is not None else result

    torch._dynamo.reset()
    fresh = lambda: _map_tensors(sample.args, torch.clone)  # noqa: E731 - the *_into ops write into out
    expected = call(*fresh())
    got = torch.compile(call, fullgraph=True)(*fresh())
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def _compiled_error(fn, *args):
    torch._dynamo.reset()
    with pytest.raises(Exception) as info:
        torch.compile(fn, fullgraph=True)(*args)
    e = info.value
    while e is not None and type(e).__module__.startswith("torch._dynamo"):
        e = e.__cause__ or e.__context__
    return type(e), str(e)


@pytest.mark.parametrize("fn, arg", [
    (lambda u: ops.restrict_average(u, factor=3), torch.zeros(2, 8)),
    (lambda v: ops.stencil_filter(v, v[..., None].expand(2, 8, 3)[:, :7], 0), torch.zeros(2, 8)),
    (lambda u: ops.laplacian(u, [1.0, 1.0], order=3), torch.zeros(4, 4)),
], ids=["restrict_average", "stencil_filter", "laplacian"])
def test_compiled_code_raises_the_eager_error(fn, arg):
    eager = _error(lambda: fn(arg))
    assert eager is not None
    assert _compiled_error(fn, arg) == eager


# --- (e) zero-size and non-contiguous inputs -----------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_zero_size_inputs(name, dtype, device):
    info = OPS[name]
    cases = list(info.zero_size(dtype, device))
    assert any(expect is None for _, expect in cases), "no zero-size call the op accepts"
    for sample, expect in cases:
        if expect is None:
            _check_reference(info, sample, dtype, device)
            continue
        exc, match = expect
        eager = _error(lambda: info.run(sample))
        assert eager is not None and eager[0] is exc and re.search(match, eager[1]), (sample.id, eager)
        assert eager[1].startswith(f"{name.removesuffix('_into')}: "), eager
        assert _fake_error(info.op, sample.args) == eager, sample.id


def _transposed(t: torch.Tensor) -> torch.Tensor:
    """The same values with the strides of the last two axes swapped (a dense, permuted layout)."""
    if t.dim() >= 2 and t.shape[-1] > 1 and t.shape[-2] > 1:
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    return t


def _strided(t: torch.Tensor) -> torch.Tensor:
    """The same values in every other element, along the first axis longer than 1, of a buffer
    twice as long there (not dense)."""
    axis = next((a for a, n in enumerate(t.shape) if n > 1), None)
    if axis is None:
        return t
    shape = list(t.shape)
    shape[axis] *= 2
    buf = torch.full(shape, float("nan") if t.is_floating_point() or t.is_complex() else -1, dtype=t.dtype,
                     device=t.device)
    view = buf[(slice(None),) * axis + (slice(None, None, 2),)]
    view.copy_(t)
    return view


@pytest.mark.parametrize("name, layout", [(n, layout) for n in NAMES for layout in ("transposed", "strided")],
                         ids=str)
def test_non_contiguous_inputs_equal_contiguous_copies(name, layout, device):
    info = OPS[name]
    checked = 0
    for sample in list(info.samples(f64, device))[:4]:
        args = _map_tensors(sample.args, _transposed if layout == "transposed" else _strided, skip=info.out_arg)
        if all(t.is_contiguous() for t in _tensors(args)):
            continue  # no such layout for this sample (a 1D grid without batch, say)
        checked += 1
        if info.out_arg is not None:
            args = (*args[:info.out_arg], args[info.out_arg].clone(), *args[info.out_arg + 1:])
        got = info.run(Sample(args, sample.kwargs))
        expected = info.run(sample)
        for g, e in zip(got, expected):
            torch.testing.assert_close(g, e, rtol=0, atol=0, msg=lambda m: f"{sample.id}: {m}")
    assert checked, "no sample has this layout"


# --- (f) bad inputs ------------------------------------------------------------------------------


# Bad calls whose eager and fake errors differ today: (op, case id) -> the defect. Each is an
# xfail(strict=True) test of its own below; the loop over the table leaves it out.
KNOWN_FAKE_MISMATCHES: dict[tuple[str, str], str] = {
    # none today; so far: the phase-field unstable-dt message (fixed by the shared-math merge) and
    # bin_particles' box length printed "got 0.000000" by the C++ (fixed in cpp/src/binning.cpp)
}


def _check_bad(info, case):
    eager = _error(lambda: info.op(*case.args))
    assert eager is not None, f"{case.id}: eager accepted the input"
    assert eager[0] is case.exc and re.search(case.match, eager[1]), (case.id, eager)
    if case.fake_sees_it:
        assert _fake_error(info.op, case.args) == eager, case.id


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_naming_the_parameter_like_the_fake_kernel(name, device):
    info = OPS[name]
    bad = list(info.bad(device))
    assert len(bad) >= 3
    for case in bad:
        if (name, case.id) not in KNOWN_FAKE_MISMATCHES:
            _check_bad(info, case)


@pytest.mark.parametrize("name, case_id", [
    pytest.param(name, case_id, marks=pytest.mark.xfail(strict=True, reason=reason), id=f"{name}-{case_id}")
    for (name, case_id), reason in KNOWN_FAKE_MISMATCHES.items()])
def test_known_fake_mismatches(name, case_id):
    info = OPS[name]
    (case,) = [c for c in info.bad("cpu") if c.id == case_id]
    _check_bad(info, case)


def test_out_and_input_apart_in_one_buffer_are_accepted_like_the_fake_kernel():
    buf = torch.randn(2, 6, 5, dtype=f64)
    expected = OPS["laplacian"].op(buf[1].clone(), [1.0, 1.0], 2)
    args = (buf[1], [1.0, 1.0], 2, buf[0])
    assert _fake_error(OPS["laplacian_into"].op, args) is None
    OPS["laplacian_into"].op(*args)
    torch.testing.assert_close(buf[0], expected, rtol=0, atol=0)


# --- README: which operators are differentiable and which have out= -------------------------------


def _readme_table() -> dict[str, tuple[bool, bool]]:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    rows = {}
    header = re.search(r"^\| operator \| differentiable \| `out=` \|.*$", text, re.M)
    assert header, "README has no operator | differentiable | out= table"
    for line in text[header.end():].lstrip("\n").splitlines()[1:]:
        m = re.match(r"^\| `(\w+)` \| (yes|no)[^|]*\| (yes|no)[^|]*\|", line)
        if not m:
            break
        rows[m[1]] = (m[2] == "yes", m[3] == "yes")
    return rows


def _wrapper_calls():
    """A small float64 call of each operator's Python wrapper, by name: (fn, differentiable inputs)."""
    g = torch.Generator().manual_seed(16)
    r = lambda *s: torch.randn(*s, generator=g, dtype=f64)  # noqa: E731
    c = lambda *s: torch.randn(*s, generator=g, dtype=torch.complex128)  # noqa: E731
    h = [0.7, 1.3]
    return {
        "laplacian": (lambda u: ops.laplacian(u, h, order=4), [r(2, 5, 4)]),
        "gradient": (lambda u: ops.gradient(u, h), [r(5, 4)]),
        "gradient_adjoint": (lambda v: ops.gradient_adjoint(v, h), [r(2, 5, 4)]),
        "divergence": (lambda f: ops.divergence(f, h), [r(3, 2, 5, 4)]),
        "divergence_adjoint": (lambda w: ops.divergence_adjoint(w, h), [r(5, 4)]),
        "face_gradient": (lambda u: ops.face_gradient(u, h), [r(5, 4)]),
        "restrict_average": (lambda u: ops.restrict_average(u, ndim=2, factor=2), [r(3, 4, 6)]),
        "stencil_filter": (lambda v, k: ops.stencil_filter(v, k, -2), [r(2, 7), r(2, 7, 4)]),
        "irfftn": (lambda z: ops.irfftn(z, (2, 4)), [c(2, 3)]),
        "bin_particles": (lambda x, q: ops.bin_particles(x, q, bins=[3, 4], box=[1.0, 2.0], assignment="cic"),
                          [torch.rand(6, 2, generator=g, dtype=f64), r(6, 2)]),
        "take_along_last": (lambda x: ops.take_along_last(x, torch.tensor([3, 0, 0, 2])), [r(2, 4)]),
        "pointwise_mlp": (lambda x, p: ops.pointwise_mlp(x, p, width=3, depth=2, n_out=2), [r(5, 2), r(3 * 2 + 3 + 12 + 8)]),
        "tridiagonal_solve": (ops.tridiagonal_solve, [r(2, 5), r(2, 5) + 8.0, r(2, 5), r(2, 5)]),
        "heterogeneous_diffusion_step": (lambda u: ops.heterogeneous_diffusion_step(u, torch.ones(6, dtype=f64), spacing=0.1,
                                                                                   dt=0.01, left=1.0),
                                         [r(2, 5)]),
        "lattice_diffusion_rate": (lambda u, kx, ky: ops.lattice_diffusion_rate(u, kx, ky, spacing=0.7, boundary="patch"),
                                   [r(2, 5, 4), r(5, 4).abs() + 0.5, r(2, 5, 4).abs() + 0.5]),
        "weno5_flux": (ops.weno5_flux, [r(2, 8)]),
        "weno5_reconstruct": (ops.weno5_reconstruct, [r(2, 8)]),
        "polynomial": (lambda u: ops.polynomial(u, CUBIC), [r(6)]),
        "spectral_combine": (lambda z: ops.spectral_combine([z], [torch.ones(3, dtype=f64)]), [c(2, 3)]),
        "real_fft_pack": (lambda z: ops.real_fft_pack(z, 1), [c(2, 5)]),
        "cahn_hilliard_explicit": (lambda u: ops.cahn_hilliard_explicit(u, h, 1e-3, mobility=1.0, kappa=1.0,
                                                                        dfdu=CUBIC), [r(6, 5)]),
        "allen_cahn_explicit": (lambda u: ops.allen_cahn_explicit(u, h, 1e-3, mobility=1.0, kappa=1.0, dfdu=CUBIC),
                                [r(6, 5)]),
    }


def test_readme_names_every_operator_once():
    public = {n for n in OPS if not n.endswith("_into") and not n.endswith("_backward")}
    assert set(_readme_table()) == public | {"face_gradient", "irfftn"}
    assert set(_readme_table()) == set(_wrapper_calls())


@pytest.mark.parametrize("name", sorted(_wrapper_calls()))
def test_readme_differentiable_and_out_columns_are_true(name):
    differentiable, has_out = _readme_table()[name]
    fn, inputs = _wrapper_calls()[name]
    inputs = [t.requires_grad_() for t in inputs]
    try:
        # fast mode (a random projection of the Jacobian): the full checks of the ops, second
        # derivatives included, are above
        passes = torch.autograd.gradcheck(fn, inputs, fast_mode=True)
    except (NotImplementedError, RuntimeError) as e:
        assert name in str(e), e  # a refusal names the operator
        passes = False
    assert passes == differentiable

    wrapper = getattr(ops, name)
    assert ("out" in inspect.signature(wrapper).parameters) == has_out
    if has_out:
        x = inputs[0].detach()
        expected = fn(x)
        buf = torch.full_like(expected, float("nan"))
        h = [0.7, 1.3]
        result = wrapper(x, h, out=buf, **({"order": 4} if name == "laplacian" else {}))
        assert result is buf
        torch.testing.assert_close(buf, expected, rtol=0, atol=0)


def test_restrict_average_signature_follows_the_schema():
    params = inspect.signature(ops.restrict_average).parameters
    assert list(params) == ["u", "ndim", "factor"]
    assert [p.kind for p in params.values()][1:] == [inspect.Parameter.KEYWORD_ONLY] * 2
    assert params["ndim"].default == 1 and params["factor"].default is inspect.Parameter.empty
    schema = torch.ops.coarsegrain.restrict_average.default._schema
    assert [a.name for a in schema.arguments] == list(params)

