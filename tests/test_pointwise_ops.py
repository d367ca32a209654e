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
