"""coarsegrain.transforms: FFT, DCT-II and DST-II bases (patel2021 §2.3) against scipy.fft,
round trips, gradients, the Laplacian symbol on cell-centred Neumann/Dirichlet grids, wavenumbers
and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
import torch

from coarsegrain import transforms as T

NORMS = ["backward", "ortho", "forward"]
OURS = {"dct": T.dct2, "dst": T.dst2, "idct": T.idct2, "idst": T.idst2}
SCIPY = {"dct": scipy.fft.dctn, "dst": scipy.fft.dstn, "idct": scipy.fft.idctn, "idst": scipy.fft.idstn}
# grid shapes per ndim: odd, even and tiny sizes
SHAPES = {1: [(1,), (2,), (7,), (16,), (33,)], 2: [(5, 8), (6, 1), (9, 9)], 3: [(3, 4, 5), (4, 2, 3)]}


def _rng_tensor(shape, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("name", list(OURS))
def test_matches_scipy(name, ndim, norm, device, dtype):
    rtol = 2e-5 if dtype == torch.float32 else 1e-12
    for grid in SHAPES[ndim]:
        x = _rng_tensor((2,) + grid, dtype, device)
        got = OURS[name](x, ndim, norm)
        assert got.dtype == dtype and got.device.type == device and got.shape == x.shape
        ref = SCIPY[name](x.double().cpu().numpy(), type=2, norm=norm, axes=tuple(range(-ndim, 0)))
        scale = float(np.abs(ref).max())
        np.testing.assert_allclose(got.double().cpu().numpy(), ref, rtol=rtol, atol=rtol * scale,
                                   err_msg=f"{name} {grid} {norm}")


def test_norm_none_is_backward_and_scipy_none():
    x = _rng_tensor((3, 10), torch.float64, "cpu")
    np.testing.assert_allclose(T.dct2(x, norm=None).numpy(), scipy.fft.dct(x.numpy(), type=2, norm=None),
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(T.idst2(x, norm=None).numpy(), T.idst2(x).numpy(), rtol=0, atol=0)


def test_noncontiguous_input_and_contiguous_output():
    x = _rng_tensor((6, 8, 5), torch.float64, "cpu").transpose(-1, -2)   # [6, 5, 8], not contiguous
    for name in OURS:
        got = OURS[name](x, 2, "ortho")
        assert got.is_contiguous()
        ref = SCIPY[name](x.numpy(), type=2, norm="ortho", axes=(-2, -1))
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("kind", T.KINDS)
def test_round_trip(kind, norm, device, dtype):
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for ndim, grid in [(1, (11,)), (1, (12,)), (2, (6, 7)), (3, (4, 5, 3))]:
        b = T.basis(kind, grid, 2.5, dtype=dtype, device=device, norm=norm)
        u = _rng_tensor((3,) + grid, dtype, device)
        c = b.forward(u)
        assert tuple(c.shape) == (3,) + b.coefficient_shape
        assert c.is_complex() == (kind == "fourier")
        torch.testing.assert_close(b.inverse(c), u, rtol=tol, atol=tol)


def test_basis_matches_functions():
    u = _rng_tensor((2, 6, 9), torch.float64, "cpu")
    for kind, fwd, inv in [("cosine", T.dct2, T.idct2), ("sine", T.dst2, T.idst2)]:
        b = T.basis(kind, (6, 9), (1.0, 2.0), dtype=torch.float64, norm="ortho")
        torch.testing.assert_close(b.forward(u), fwd(u, 2, "ortho"), rtol=0, atol=0)
        torch.testing.assert_close(b.inverse(u), inv(u, 2, "ortho"), rtol=0, atol=0)
    b = T.basis("fourier", (6, 9), 1.0, dtype=torch.float64)
    torch.testing.assert_close(b.forward(u), torch.fft.rfftn(u, dim=(-2, -1)), rtol=0, atol=0)


@pytest.mark.parametrize("kind", T.KINDS)
def test_gradcheck(kind):
    for grid in [(5,), (2, 3)]:
        b = T.basis(kind, grid, 1.0, dtype=torch.float64, norm="ortho" if kind == "sine" else "backward")
        u = _rng_tensor((2,) + grid, torch.float64, "cpu").requires_grad_()
        assert torch.autograd.gradcheck(b.forward, (u,))
        c = b.forward(u).detach().requires_grad_()
        assert torch.autograd.gradcheck(b.inverse, (c,))


def test_gradcheck_functions_all_norms():
    x = _rng_tensor((2, 5), torch.float64, "cpu").requires_grad_()
    for fn in OURS.values():
        for norm in NORMS:
            assert torch.autograd.gradcheck(lambda t: fn(t, 1, norm), (x,), fast_mode=True)


# ---------------------------------------------------------------------------------------------
# the Laplacian: spectral symbol -kappa^2 against the cell-centred finite-difference Laplacian


def _fd_laplacian(u: np.ndarray, h: float, kind: str) -> np.ndarray:
    """3-point Laplacian with ghost cells: mirror (Neumann, u_{-1} = u_0) or antisymmetric
    (Dirichlet, u_{-1} = -u_0) at both walls."""
    s = 1.0 if kind == "cosine" else -1.0
    padded = np.concatenate([s * u[..., :1], u, s * u[..., -1:]], axis=-1)
    return (padded[..., :-2] - 2 * padded[..., 1:-1] + padded[..., 2:]) / h**2


def _smooth_field(kind: str, x: np.ndarray, length: float):
    """A smooth field satisfying the boundary condition (its even/odd extension is smooth), and its
    analytic second derivative."""
    th, a = math.pi * x / length, (math.pi / length) ** 2
    e = np.exp(np.cos(th))
    if kind == "cosine":   # u'(0) = u'(L) = 0
        return e, a * (np.sin(th) ** 2 - np.cos(th)) * e
    return np.sin(th) * e, a * np.sin(th) * (np.sin(th) ** 2 - 3 * np.cos(th) - 1) * e   # u(0) = u(L) = 0


@pytest.mark.parametrize("kind", ["cosine", "sine"])
def test_laplacian_convergence(kind):
    length = 3.0
    fd_err, sp_err = [], []
    for n in (16, 32, 64, 128):
        h = length / n
        x = (np.arange(n) + 0.5) * h
        u, lap = _smooth_field(kind, x, length)
        b = T.basis(kind, (n,), length, dtype=torch.float64)
        spectral = b.inverse(-b.wavenumber_magnitude() ** 2 * b.forward(torch.from_numpy(u))).numpy()
        fd_err.append(np.abs(_fd_laplacian(u, h, kind) - lap).max())
        sp_err.append(np.abs(spectral - lap).max())
    orders = np.log2(np.array(fd_err[:-1]) / np.array(fd_err[1:]))
    assert np.all(np.abs(orders - 2) < 0.1), orders
    assert max(sp_err[1:]) < 1e-10 * np.abs(lap).max(), sp_err       # spectral: exponential convergence
    # the difference FD - spectral converges at second order too
    assert fd_err[-1] < fd_err[0] / 50


@pytest.mark.parametrize("kind", ["cosine", "sine"])
def test_laplacian_exact_on_eigenfunctions(kind):
    length, n = 2.0, 32
    x = (np.arange(n) + 0.5) * length / n
    b = T.basis(kind, (n,), length, dtype=torch.float64)
    for j in (1, 2, 5):
        k = math.pi * j / length
        u = np.cos(k * x) if kind == "cosine" else np.sin(k * x)
        spectral = b.inverse(-b.wavenumber_magnitude() ** 2 * b.forward(torch.from_numpy(u))).numpy()
        np.testing.assert_allclose(spectral, -k * k * u, rtol=0, atol=1e-11)


@pytest.mark.parametrize("kind", ["cosine", "sine"])
def test_fd_laplacian_eigenvalues(kind):
    """The ghost-cell FD Laplacian is diagonal in the DCT/DST basis with eigenvalues
    -(2/h sin(kappa h / 2))^2: exact for every mode, in 1D and 2D (the sum over axes)."""
    length = (1.5, 2.0)
    grid = (10, 7)
    h = [v / n for v, n in zip(length, grid)]
    b = T.basis(kind, grid, length, dtype=torch.float64, norm="ortho")
    u = _rng_tensor((3,) + grid, torch.float64, "cpu")
    lam = sum(-(2 / hh * torch.sin(k * hh / 2)) ** 2 for k, hh in zip(b.wavenumbers(), h))
    via_modes = b.inverse(lam * b.forward(u)).numpy()
    fd = _fd_laplacian(u.numpy(), h[1], kind)
    fd = fd + np.swapaxes(_fd_laplacian(np.swapaxes(u.numpy(), -1, -2), h[0], kind), -1, -2)
    np.testing.assert_allclose(via_modes, fd, rtol=0, atol=1e-10 * np.abs(fd).max())
    # single modes in 1D: FD(mode_j) = lambda_j mode_j
    n, L = grid[1], length[1]
    x = (np.arange(n) + 0.5) * L / n
    for j in range(n):
        k = math.pi * (j + (1 if kind == "sine" else 0)) / L
        mode = np.cos(k * x) if kind == "cosine" else np.sin(k * x)
        lam_j = -(2 / h[1] * math.sin(k * h[1] / 2)) ** 2
        np.testing.assert_allclose(_fd_laplacian(mode, h[1], kind), lam_j * mode, rtol=0, atol=1e-11)


# ---------------------------------------------------------------------------------------------
# wavenumbers


def test_wavenumbers():
    grid, length = (6, 5, 7), (2.0, 3.0, 1.5)
    b = T.basis("fourier", grid, length, dtype=torch.float64)
    ks = b.wavenumbers()
    for a, (n, L) in enumerate(zip(grid, length)):
        freq = np.fft.rfftfreq(n, L / n) if a == 2 else np.fft.fftfreq(n, L / n)
        assert ks[a].shape[a] == freq.size and ks[a].numel() == freq.size and ks[a].dim() == 3
        np.testing.assert_allclose(ks[a].reshape(-1).numpy(), 2 * np.pi * freq, rtol=1e-14, atol=1e-14)
    mag = b.wavenumber_magnitude()
    assert tuple(mag.shape) == b.coefficient_shape == (6, 5, 4)
    np.testing.assert_allclose(mag.numpy(), np.sqrt(sum(k.numpy() ** 2 for k in ks)), rtol=1e-14)
    for kind, first in [("cosine", 0), ("sine", 1)]:
        b = T.basis(kind, grid, length, dtype=torch.float32)
        for a, (n, L) in enumerate(zip(grid, length)):
            k = b.wavenumbers()[a]
            assert k.dtype == torch.float32 and k.shape[a] == n
            np.testing.assert_allclose(k.reshape(-1).numpy(), np.pi * np.arange(first, n + first) / L, rtol=1e-6)
        assert tuple(b.wavenumber_magnitude().shape) == grid
    assert T.basis("sine", 4, 1.0).wavenumber_magnitude()[0] > 0                     # no zero mode
    assert T.basis("cosine", 4, 1.0).wavenumber_magnitude()[0] == 0


def test_wavenumbers_device(device):
    b = T.basis("cosine", (4, 4), 1.0, device=device)
    assert all(k.device.type == device for k in b.wavenumbers())
    assert b.wavenumber_magnitude().device.type == device


# ---------------------------------------------------------------------------------------------
# bad input


def test_bad_input():
    u = torch.zeros(2, 8)
    cases = [
        (lambda: T.basis("chebyshev", (8,), 1.0), ValueError, "kind"),
        (lambda: T.basis("cosine", (8, 8, 8, 8), 1.0), ValueError, "shape"),
        (lambda: T.basis("cosine", (0,), 1.0), ValueError, "shape"),
        (lambda: T.basis("cosine", (8,), (1.0, 2.0)), ValueError, "length"),
        (lambda: T.basis("cosine", (8,), -1.0), ValueError, "length"),
        (lambda: T.basis("cosine", (8,), 1.0, dtype=torch.int64), TypeError, "dtype"),
        (lambda: T.basis("cosine", (8,), 1.0, norm="unitary"), ValueError, "norm"),
        (lambda: T.basis("cosine", (6,), 1.0).forward(u), ValueError, "u has shape"),
        (lambda: T.basis("sine", (8,), 1.0).inverse(torch.zeros(2, 7)), ValueError, "c has shape"),
        (lambda: T.basis("fourier", (8,), 1.0).inverse(torch.zeros(2, 5)), TypeError, "c must be complex"),
        (lambda: T.basis("fourier", (8,), 1.0).inverse(torch.zeros(2, 8, dtype=torch.complex64)),
         ValueError, "c has shape"),
        (lambda: T.basis("cosine", (8,), 1.0).forward(torch.zeros(2, 8, dtype=torch.int32)), TypeError, "u must be"),
        (lambda: T.basis("cosine", (8,), 1.0).inverse(torch.zeros(8, dtype=torch.complex64)), TypeError, "c must be"),
        (lambda: T.dct2(torch.zeros(8, dtype=torch.int64)), TypeError, "u must be float32"),
        (lambda: T.dst2(torch.zeros(8, dtype=torch.complex128)), TypeError, "u must be float32"),
        (lambda: T.idct2(u, ndim=0), ValueError, "ndim"),
        (lambda: T.idst2(u, ndim=4), ValueError, "ndim"),
        (lambda: T.dct2(u, ndim=3), ValueError, "ndim=3"),
        (lambda: T.dct2(u, norm="ortho2"), ValueError, "norm"),
        (lambda: T.dct2(torch.zeros(2, 0)), ValueError, "at least 1 point"),
        (lambda: T.dct2([1.0, 2.0]), TypeError, "u must be a torch.Tensor"),
    ]
    for fn, exc, text in cases:
        with pytest.raises(exc, match=text) as info:
            fn()
        assert "\n" not in str(info.value)


def test_zero_size_batch():
    x = torch.zeros(0, 6, 5, dtype=torch.float64)
    for fn in OURS.values():
        assert fn(x, 2).shape == x.shape
