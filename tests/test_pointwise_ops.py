"""Fused pointwise ops of the spectral steppers: the wrappers, irfftn, and a compiled spectral step."""

from __future__ import annotations

import pytest
import torch

from coarsegrain import ops

COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


# The ops against NumPy (float32/float64, CPU/CUDA), the refusal of backward, opcheck, compile,
# zero-size, non-contiguous and bad input: test_op_table.py. Here the wrappers, irfftn, and a
# compiled spectral step.


def test_wrappers_refuse_autograd_up_front():
    with pytest.raises(RuntimeError, match=r"^polynomial: no autograd"):
        ops.polynomial(torch.zeros(3, requires_grad=True), [1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^real_fft_pack: no autograd"):
        ops.real_fft_pack(torch.zeros(4, 5, dtype=torch.complex64, requires_grad=True), 2)
    w = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^spectral_combine: no autograd"):
        ops.spectral_combine([torch.zeros(2, 3, dtype=torch.complex64)], [w])


def test_spectral_combine_wrapper_refuses_no_terms():
    # The raw op cannot say it: with no tensor argument the dispatcher finds no kernel to run.
    with pytest.raises(ValueError, match=r"^spectral_combine: terms must hold 1 to 8 tensors, got 0"):
        ops.spectral_combine([], [])


def _random_half_spectrum(shape, ndim, dtype, seed):
    """A random half spectrum for a real field of ``shape`` over its last ``ndim`` axes; not
    Hermitian in its k = 0 and Nyquist columns, which irfftn must ignore."""
    g = torch.Generator().manual_seed(seed)
    half = (*shape[:-1], shape[-1] // 2 + 1)
    return torch.randn(*half, generator=g, dtype=COMPLEX[dtype])


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
