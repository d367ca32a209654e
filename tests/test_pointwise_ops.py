"""Fused pointwise ops of the spectral steppers against NumPy, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coarsegrain import ops

COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@pytest.mark.parametrize("coeffs", [[0.5], [0.0, -1.0, 0.0, 1.0], [0.1, -0.3, 0.2, 0.5, -0.1, 0.02, 0.01, -0.003]])
def test_polynomial_matches_numpy(coeffs, dtype, device):
    u = torch.linspace(-1.5, 1.5, 1000, dtype=dtype).reshape(10, 100)
    got = ops.polynomial(u.to(device), coeffs).cpu().numpy()
    x = u.double().numpy()
    expected = sum(c * x**k for k, c in enumerate(coeffs))
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("nterms", [1, 2, 4, 8])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)], ids=str)
def test_spectral_combine_matches_numpy(nterms, batch, dtype, device):
    g = torch.Generator().manual_seed(nterms)
    spec = (6, 5)
    terms = [torch.randn(*batch, *spec, generator=g, dtype=COMPLEX[dtype]) for _ in range(nterms)]
    weights = [torch.randn(*spec, generator=g, dtype=dtype) for _ in range(nterms)]
    got = ops.spectral_combine([t.to(device) for t in terms], [w.to(device) for w in weights]).cpu()
    expected = sum(w.numpy().astype(np.float64) * t.numpy().astype(np.complex128) for t, w in zip(terms, weights))
    tol = 1e-5 if dtype == torch.float32 else 1e-13
    np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)


def test_spectral_combine_rejects_mismatches():
    t = torch.zeros(2, 4, 3, dtype=torch.complex64)
    w = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"weights must hold one tensor per term \(2\), got 1"):
        ops.spectral_combine([t, t], [w])
    with pytest.raises(TypeError, match=r"weights\[0\] must be Float to match ComplexFloat terms, got Double"):
        ops.spectral_combine([t], [w.double()])
    with pytest.raises(TypeError, match=r"terms must be complex64 or complex128"):
        ops.spectral_combine([t.real], [w])
    with pytest.raises(ValueError, match=r"must match the trailing dimensions"):
        ops.spectral_combine([t], [torch.zeros(3, 4)])
    with pytest.raises(ValueError, match=r"terms\[1\] has shape"):
        ops.spectral_combine([t, t[:1]], [w, w])
    with pytest.raises(ValueError, match=r"terms must hold 1 to 8 tensors, got 9"):
        ops.spectral_combine([t] * 9, [w] * 9)


def test_polynomial_rejects_bad_input():
    with pytest.raises(TypeError, match=r"polynomial: u must be a float32 or float64 tensor"):
        ops.polynomial(torch.zeros(3, dtype=torch.int64), [1.0])
    with pytest.raises(ValueError, match=r"coeffs must hold 1 to 8"):
        ops.polynomial(torch.zeros(3), [])
    with pytest.raises(RuntimeError, match=r"no autograd"):
        ops.polynomial(torch.zeros(3, requires_grad=True), [1.0, 2.0])


def test_opcheck_pointwise(device):
    u = torch.randn(3, 7, dtype=torch.float64, device=device)
    torch.library.opcheck(torch.ops.coarsegrain.polynomial.default, (u, [0.0, -1.0, 0.0, 1.0]))
    t = torch.randn(2, 4, 3, dtype=torch.complex128, device=device)
    w = torch.randn(4, 3, dtype=torch.float64, device=device)
    torch.library.opcheck(torch.ops.coarsegrain.spectral_combine.default, ([t, t], [w, w]))


def _random_half_spectrum(shape, ndim, dtype, seed):
    """A random half spectrum for a real field of ``shape`` over its last ``ndim`` axes; not
    Hermitian in its k = 0 and Nyquist columns, which irfftn must ignore."""
    g = torch.Generator().manual_seed(seed)
    half = (*shape[:-1], shape[-1] // 2 + 1)
    return torch.randn(*half, generator=g, dtype=COMPLEX[dtype])


@pytest.mark.parametrize("shape, ndim", [((2,), 1), ((16,), 1), ((3, 10), 1), ((6, 10), 2), ((5, 7, 12), 3),
                                         ((2, 4, 6, 8), 3), ((3, 4, 6, 8), 4)], ids=str)
def test_real_fft_pack_matches_numpy_irfftn(shape, ndim, dtype, device):
    u_hat = _random_half_spectrum(shape, ndim, dtype, seed=len(shape) + ndim)
    dims = tuple(range(-ndim, 0))
    z = ops.real_fft_pack(u_hat.to(device), ndim)
    assert z.shape == (*shape[:-1], shape[-1] // 2)
    got = torch.view_as_real(torch.fft.ifftn(z, dim=dims)).reshape(shape).cpu().numpy()
    expected = np.fft.irfftn(u_hat.numpy().astype(np.complex128), s=shape[-ndim:], axes=dims)
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(64, 64), (4, 16, 12, 10), (9, 10)], ids=str)
def test_irfftn_equals_torch_and_inverts_rfftn(shape, dtype):
    ndim = min(len(shape), 3)
    dims = tuple(range(-ndim, 0))
    u_hat = _random_half_spectrum(shape, ndim, dtype, seed=1)
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    expected = torch.fft.irfftn(u_hat, s=shape[-ndim:], dim=dims)
    got = ops.irfftn(u_hat, shape[-ndim:])
    assert got.dtype == dtype and got.shape == shape and got.is_contiguous()
    torch.testing.assert_close(got, expected, rtol=0, atol=tol * expected.abs().max().item())
    u = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ops.irfftn(torch.fft.rfftn(u, dim=dims), shape[-ndim:]), u, rtol=0, atol=tol * 10)


def test_irfftn_falls_back_where_packing_does_not_apply():
    # odd last axis, and a tensor that needs gradients: torch.fft.irfftn, differentiable
    u_hat = _random_half_spectrum((6, 9), 2, torch.float64, seed=3)
    torch.testing.assert_close(ops.irfftn(u_hat, (6, 9)), torch.fft.irfftn(u_hat, s=(6, 9)))
    u_hat = _random_half_spectrum((6, 8), 2, torch.float64, seed=4).requires_grad_()
    ops.irfftn(u_hat, (6, 8)).square().sum().backward()
    reference = u_hat.detach().clone().requires_grad_()
    torch.fft.irfftn(reference, s=(6, 8)).square().sum().backward()
    torch.testing.assert_close(u_hat.grad, reference.grad, rtol=1e-12, atol=1e-14)
    # and against finite differences (complex input: Wirtinger derivatives)
    small = _random_half_spectrum((4, 6), 2, torch.float64, seed=5).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: ops.irfftn(z, (4, 6)), (small,))


def test_real_fft_pack_rejects_bad_input():
    good = torch.zeros(4, 5, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"real_fft_pack: u_hat must be a complex64 or complex128 tensor, got Float"):
        ops.real_fft_pack(good.real, 2)
    with pytest.raises(ValueError, match=r"ndim must be 1 to 4, got 0"):
        ops.real_fft_pack(good, 0)
    with pytest.raises(ValueError, match=r"ndim = 3 transform axes, but u_hat has shape \[4, 5\]"):
        ops.real_fft_pack(good, 3)
    with pytest.raises(ValueError, match=r"m \+ 1 >= 2 half-spectrum columns"):
        ops.real_fft_pack(torch.zeros(4, 1, dtype=torch.complex64), 2)
    with pytest.raises(RuntimeError, match=r"no autograd"):
        ops.real_fft_pack(good.clone().requires_grad_(), 2)


def test_opcheck_real_fft_pack(device):
    u_hat = torch.randn(2, 4, 5, dtype=torch.complex128, device=device)
    torch.library.opcheck(torch.ops.coarsegrain.real_fft_pack.default, (u_hat, 2))


def test_spectral_step_under_torch_compile(device):
    """A semi-implicit step built from the three stepper ops compiles as one graph."""
    shape = (16, 12)
    k2 = torch.rand(16, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).to(device)
    a, b = 1.0 / (1.0 + 0.1 * k2), -0.1 * k2 / (1.0 + 0.1 * k2)

    def step(u):
        n_hat = torch.fft.rfftn(ops.polynomial(u, [0.0, -1.0, 0.0, 1.0]), dim=(-2, -1))
        u_hat = torch.fft.rfftn(u, dim=(-2, -1))
        return ops.irfftn(ops.spectral_combine([u_hat, n_hat], [a, b]), shape)

    u = torch.randn(2, *shape, dtype=torch.float64, device=device)
    with torch.no_grad():
        expected = torch.fft.irfftn(a * torch.fft.rfftn(u, dim=(-2, -1)) + b * torch.fft.rfftn(u**3 - u, dim=(-2, -1)),
                                    s=shape, dim=(-2, -1))
        torch.testing.assert_close(step(u), expected, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(torch.compile(step, fullgraph=True)(u), expected, rtol=1e-12, atol=1e-12)
