"""Op contracts (issue 16): every op has autograd or refuses backward with its own clear error;
stencil_filter is twice differentiable; fake kernels raise what the C++ raises, so compiled code
fails like eager code."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from coarsegrain import ops

C = torch.ops.coarsegrain
f64 = torch.float64


# --- backward: refused by the op itself --------------------------------------------------------

def _x(*shape):
    return torch.randn(*shape, dtype=f64, requires_grad=True)


REFUSED = {
    "weno5_flux": lambda: C.weno5_flux(_x(2, 8), "godunov"),
    "weno5_reconstruct": lambda: C.weno5_reconstruct(_x(2, 8))[0],
    "weno5_reconstruct right": lambda: C.weno5_reconstruct(_x(2, 8))[1],
    "polynomial": lambda: C.polynomial(_x(3, 4), [0.0, 1.0]),
    "real_fft_pack": lambda: C.real_fft_pack(torch.randn(4, 5, dtype=torch.complex128, requires_grad=True), 2),
    "spectral_combine": lambda: C.spectral_combine(
        [torch.randn(4, 3, dtype=torch.complex128, requires_grad=True)], [torch.randn(4, 3, dtype=f64)]),
    "cahn_hilliard_explicit": lambda: C.cahn_hilliard_explicit(_x(8, 8), [1.0, 1.0], 1e-3, 1.0, 1.0, [0.0, 1.0], 1),
    "allen_cahn_explicit": lambda: C.allen_cahn_explicit(_x(8, 8), [1.0, 1.0], 1e-3, 1.0, 1.0, [0.0, 1.0], 1),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_backward_through_a_non_differentiable_op_is_refused_by_the_op(name):
    out = REFUSED[name]()
    op = name.split()[0]
    with pytest.raises(NotImplementedError, match=rf"^{op} is not differentiable; "):
        out.real.sum().backward()


def test_weno5_forward_still_works_on_tensors_that_require_grad():
    v = _x(2, 9)
    with torch.no_grad():
        expected = ops.weno5_flux(v)
    torch.testing.assert_close(ops.weno5_flux(v).detach(), expected)


# --- stencil_filter: any order of derivative ---------------------------------------------------

@pytest.mark.parametrize("offset", [-2, 3, -11])
def test_stencil_filter_is_twice_differentiable(offset):
    g = torch.Generator().manual_seed(offset + 20)
    v = torch.randn(2, 9, generator=g, dtype=f64, requires_grad=True)
    c = torch.randn(2, 9, 4, generator=g, dtype=f64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda a, b: ops.stencil_filter(a, b, offset), (v, c))


def test_stencil_filter_backward_is_differentiable_in_all_inputs():
    g = torch.Generator().manual_seed(1)
    grad, v = (torch.randn(3, 7, generator=g, dtype=f64, requires_grad=True) for _ in range(2))
    c = torch.randn(3, 7, 6, generator=g, dtype=f64, requires_grad=True)
    fn = lambda *a: C.stencil_filter_backward(*a, -2)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (grad, v, c))
    assert torch.autograd.gradgradcheck(fn, (grad, v, c))


# --- fake kernels raise what the C++ raises -----------------------------------------------------

def z(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


cz = lambda *s: z(*s, dtype=torch.complex64)  # noqa: E731

BAD = {
    "restrict factor": (C.restrict_average, (z(2, 8), 1, 3)),
    "restrict 2d factor": (C.restrict_average, (z(2, 8, 6), 2, 4)),
    "restrict ndim": (C.restrict_average, (z(2, 8), 4, 2)),
    "restrict rank": (C.restrict_average, (z(8), 2, 2)),
    "restrict factor 0": (C.restrict_average, (z(8), 1, 0)),
    "restrict dtype": (C.restrict_average, (z(8, dtype=torch.int32), 1, 2)),
    "weno5 short": (C.weno5_flux, (z(2, 4), "godunov")),
    "weno5 flux": (C.weno5_flux, (z(2, 8), "roe")),
    "weno5 dtype": (C.weno5_reconstruct, (z(8, dtype=torch.float16),)),
    "filter shape": (C.stencil_filter, (z(2, 8), z(2, 7, 3), 0)),
    "filter dtype": (C.stencil_filter, (z(2, 8), z(2, 8, 3, dtype=f64), 0)),
    "filter width": (C.stencil_filter, (z(2, 8), z(2, 8, 0), 0)),
    "filter offset": (C.stencil_filter, (z(2, 8), z(2, 8, 3), 1 << 21)),
    "filter backward grad": (C.stencil_filter_backward, (z(2, 7), z(2, 8), z(2, 8, 3), 0)),
    "laplacian order": (C.laplacian, (z(8, 8), [1.0, 1.0], 3)),
    "laplacian spacing": (C.laplacian, (z(8, 8), [1.0, -1.0], 2)),
    "laplacian rank": (C.laplacian, (z(8), [1.0, 1.0], 2)),
    "laplacian dtype": (C.laplacian, (z(8, dtype=torch.int64), [1.0], 2)),
    "laplacian empty": (C.laplacian, (z(2, 0), [1.0], 2)),
    "divergence components": (C.divergence, (z(3, 8, 8), [1.0, 1.0])),
    "gradient 4 axes": (C.gradient, (z(2, 2, 2, 2), [1.0] * 4)),
    "laplacian_into out shape": (C.laplacian_into, (z(8, 8), [1.0, 1.0], 2, z(8, 7))),
    "gradient_into out dtype": (C.gradient_into, (z(8, 8), [1.0, 1.0], z(2, 8, 8, dtype=f64))),
    "laplacian_into out contiguous": (C.laplacian_into, (z(8, 8), [1.0, 1.0], 2, z(8, 8).t())),
    "polynomial terms": (C.polynomial, (z(4), [1.0] * 9)),
    "polynomial nan": (C.polynomial, (z(4), [1.0, float("nan")])),
    "polynomial dtype": (C.polynomial, (z(4, dtype=torch.int32), [1.0])),
    "combine weights": (C.spectral_combine, ([cz(2, 3)], [z(3), z(3)])),
    "combine trailing": (C.spectral_combine, ([cz(2, 3)], [z(2)])),
    "combine weight dtype": (C.spectral_combine, ([cz(2, 3)], [z(3, dtype=f64)])),
    "combine real terms": (C.spectral_combine, ([z(2, 3)], [z(3)])),
    "fft pack real": (C.real_fft_pack, (z(4, 5), 2)),
    "fft pack ndim": (C.real_fft_pack, (cz(4, 5), 5)),
    "fft pack rank": (C.real_fft_pack, (cz(5), 2)),
    "fft pack short": (C.real_fft_pack, (cz(4, 1), 1)),
    "ch unstable dt": (C.cahn_hilliard_explicit, (z(8, 8), [1.0, 1.0], 1.0, 1.0, 1.0, [0.0, 1.0], 1, "fused")),
    "ch scheme": (C.cahn_hilliard_explicit, (z(8, 8), [1.0, 1.0], 1e-3, 1.0, 1.0, [0.0, 1.0], 1, "x")),
    "ch steps": (C.cahn_hilliard_explicit, (z(8, 8), [1.0, 1.0], 1e-3, 1.0, 1.0, [0.0, 1.0], 0, "fused")),
    "ac kappa": (C.allen_cahn_explicit, (z(8, 8), [1.0, 1.0], 1e-3, 1.0, -1.0, [0.0, 1.0], 1)),
    "ac unstable dt": (C.allen_cahn_explicit, (z(8, 8), [0.5, 1.0], 0.3, 1.0, 1.0, [0.0, 1.0], 1)),
    "ac dfdu": (C.allen_cahn_explicit, (z(8, 8), [1.0, 1.0], 1e-3, 1.0, 1.0, [], 1)),
}


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None


@pytest.mark.parametrize("name", list(BAD))
def test_fake_kernel_raises_the_eager_error(name):
    op, args = BAD[name]
    eager = _error(lambda: op(*args))
    assert eager is not None, "eager accepted the input"
    mode = FakeTensorMode()
    fake_args = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else
                 [mode.from_tensor(t) for t in a] if isinstance(a, list) and a and isinstance(a[0], torch.Tensor)
                 else a for a in args]
    with mode:
        fake = _error(lambda: op(*fake_args))
    assert fake == eager


def _compiled_error(fn, *args):
    torch._dynamo.reset()
    with pytest.raises(Exception) as info:
        torch.compile(fn, fullgraph=True)(*args)
    e = info.value
    while e is not None and type(e).__module__.startswith("torch._dynamo"):
        e = e.__cause__ or e.__context__
    return type(e), str(e)


@pytest.mark.parametrize("fn, arg", [
    (lambda u: ops.restrict_average(u, factor=3), z(2, 8)),
    (lambda v: ops.stencil_filter(v, v[..., None].expand(2, 8, 3)[:, :7], 0), z(2, 8)),
])
def test_compiled_code_raises_the_eager_error(fn, arg):
    eager = _error(lambda: fn(arg))
    assert eager is not None
    assert _compiled_error(fn, arg) == eager
