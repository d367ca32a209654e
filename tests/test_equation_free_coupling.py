"""Interpolation coupling of patches (coarsegrain.equation_free.coupling) and the
interpolation-coupled patch scheme with its macroscale Jacobian (patch_scheme)."""

import math

import numpy as np
import pytest
import torch

from coarsegrain import ops
from coarsegrain.equation_free.coupling import (
    couple_patches_1d,
    couple_patches_2d,
    edge_offset,
    interpolate_shift,
    lagrange_weights,
)
from coarsegrain.equation_free.homogenization import ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y, harmonic_mean_lattice
from coarsegrain.equation_free.patch_scheme import (
    PatchScheme1D,
    PatchScheme2D,
    lattice_diffusion_rate_1d,
    lattice_diffusion_rate_2d,
    lattice_diffusion_rate_2d_reference,
    tile_heterogeneity,
)

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 2e-5, torch.float64: 1e-12}


# --------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("order", [2, 4, 6])
def test_lagrange_weights_reproduce_monomials(order):
    for offset in (0.0, 0.3, -0.77, 1.0):
        w = lagrange_weights(order, offset)
        nodes = np.arange(-order // 2, order // 2 + 1)
        for degree in range(order + 1):
            assert abs(w @ nodes.astype(float) ** degree - offset**degree) < 1e-12
        # one degree more is not reproduced (except at the nodes themselves)
        if offset not in nodes:
            assert abs(w @ nodes.astype(float) ** (order + 1) - offset ** (order + 1)) > 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [2, 4, 6])
def test_polynomial_interpolation_exact_up_to_order_non_periodic(dtype, order):
    # every patch of a non-periodic window, the end ones with stencils shifted inwards
    grid = torch.arange(12, dtype=torch.float64)
    scale = 12.0
    for degree in range(order + 1):
        values = ((grid - 4.3) / scale) ** degree
        for offset in (0.17, -0.4, 0.93):
            out = interpolate_shift(values.to(dtype), offset, order, periodic=False)
            exact = ((grid + offset - 4.3) / scale) ** degree
            assert out.dtype == dtype
            assert torch.allclose(out.double(), exact, atol=TOL[dtype] * 10, rtol=0)
    # degree order + 1 is not exact: the test can fail
    values = ((grid - 4.3) / scale) ** (order + 1)
    out = interpolate_shift(values, 0.37, order, periodic=False)
    assert (out - ((grid + 0.37 - 4.3) / scale) ** (order + 1)).abs().max() > 1e-9


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [15, 16])
def test_spectral_exact_on_resolved_fourier_modes(dtype, n):
    grid = torch.arange(n, dtype=torch.float64)
    for k in range(0, (n - 1) // 2 + 1):
        for phase in (0.0, 0.7):
            values = torch.cos(2 * math.pi * k * grid / n + phase)
            for offset in (0.3, -0.81, 2.5):
                out = interpolate_shift(values.to(dtype), offset, 0)
                exact = torch.cos(2 * math.pi * k * (grid + offset) / n + phase)
                assert torch.allclose(out.double(), exact, atol=TOL[dtype] * 5, rtol=0), (k, offset)
    if n % 2 == 0:  # Nyquist: cos(πJ) -> cos(πs) cos(πJ), real
        out = interpolate_shift(torch.cos(math.pi * grid), 0.3, 0)
        assert torch.allclose(out, math.cos(0.3 * math.pi) * torch.cos(math.pi * grid), atol=1e-12)


def test_periodic_polynomial_matches_non_periodic_away_from_ends():
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(3, 20, generator=gen, dtype=torch.float64)
    for order in (2, 4, 6):
        a = interpolate_shift(values, 0.4, order, periodic=True)
        b = interpolate_shift(values, 0.4, order, periodic=False)
        inner = slice(order // 2, 20 - order // 2)
        assert torch.allclose(a[:, inner], b[:, inner], atol=1e-13)


def _convergence_order(order: int, offset_ratio: float) -> float:
    """Observed order of the patch-edge error on sin(x) as the patch count doubles."""
    errors = []
    counts = (16, 32, 64)
    for n in counts:
        spacing = 2 * math.pi / n
        centres = (torch.arange(n, dtype=torch.float64) + 0.5) * spacing
        out = interpolate_shift(torch.sin(centres + 0.3), offset_ratio, order)
        errors.append((out - torch.sin(centres + offset_ratio * spacing + 0.3)).abs().max().item())
    return math.log2(errors[-2] / errors[-1]), errors


@pytest.mark.parametrize("order", [2, 4, 6])
@pytest.mark.parametrize("ratio", [0.1, 0.3])
def test_interpolation_error_converges_at_the_order(order, ratio):
    rate, errors = _convergence_order(order, ratio)
    # Lagrange error ~ C(r) Δ^(p+1) f^(p+1): observed rate p+1
    assert abs(rate - (order + 1)) < 0.15, (rate, errors)


def test_interpolation_error_grows_with_ratio():
    # the error constant is prod |r - m| over the stencil nodes: larger for larger offsets
    for order in (2, 4, 6):
        _, small = _convergence_order(order, 0.05)
        _, large = _convergence_order(order, 0.4)
        assert large[-1] > 3 * small[-1]


def test_spectral_interpolation_is_round_off_on_smooth_periodic_field():
    n = 32
    grid = (torch.arange(n, dtype=torch.float64) + 0.5) * 2 * math.pi / n
    field = torch.exp(torch.sin(grid))  # analytic: spectral error decays geometrically
    out = interpolate_shift(field, 0.3, 0)
    exact = torch.exp(torch.sin(grid + 0.3 * 2 * math.pi / n))
    assert (out - exact).abs().max() < 1e-11


# --------------------------------------------------------------------------- coupling 1D / 2D


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["centre", "edgy"])
@pytest.mark.parametrize("points", [5, 6])
def test_coupling_1d_sets_edges_of_a_fourier_mode(dtype, mode, points):
    n_patch, ratio = 12, 0.2
    spacing = 2 * math.pi / n_patch
    d = 2 * ratio * spacing / (points - 1)
    centres = (torch.arange(n_patch, dtype=torch.float64) + 0.5) * spacing
    x = centres[:, None] + (torch.arange(points, dtype=torch.float64) - (points - 1) / 2) * d
    u = torch.cos(2 * x + 0.4).expand(2, -1, -1)
    corrupted = u.clone()
    corrupted[..., 0] = 7.0
    corrupted[..., -1] = -3.0
    out = couple_patches_1d(corrupted.to(dtype), ratio, order=0, mode=mode)
    assert out.shape == u.shape and out.dtype == dtype
    assert torch.equal(out[..., 1:-1], corrupted.to(dtype)[..., 1:-1])
    expected = u.clone()
    if mode == "centre" and points % 2 == 0:
        # even n: the centre value is the mean of the two centre points = cos(2X) cos(d)
        expected = expected * math.cos(2 * d / 2)
    assert torch.allclose(out[..., [0, -1]].double(), expected[..., [0, -1]], atol=TOL[dtype] * 10)


def test_edge_offsets():
    assert edge_offset(0.2, 7, "centre") == 0.2
    assert math.isclose(edge_offset(0.2, 7, "edgy"), 2 * 0.2 * 5 / 6)
    with pytest.raises(ValueError, match="mode"):
        edge_offset(0.2, 7, "middle")
    with pytest.raises(ValueError, match="points"):
        edge_offset(0.2, 2, "edgy")
    with pytest.raises(ValueError, match="ratio"):
        edge_offset(-0.1, 5, "edgy")
    with pytest.raises(ValueError, match="order"):
        couple_patches_1d(torch.zeros(4, 5), 0.2, order=3)
    with pytest.raises(ValueError, match="periodic"):
        interpolate_shift(torch.zeros(8), 0.2, 0, periodic=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        couple_patches_1d(torch.zeros(4, 5, dtype=torch.int64), 0.2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["centre", "edgy"])
@pytest.mark.parametrize("order", [0, 4])
def test_coupling_2d_fills_all_edges_and_corners_of_a_smooth_field(dtype, mode, order):
    scheme = PatchScheme2D((10, 12), 5, ratio=0.2, length=(2 * math.pi, 2 * math.pi * 12 / 10), order=order, mode=mode)
    u = scheme.lift(lambda x, y: torch.cos(x + 0.3) * torch.sin(y / 1.2 + 0.1))
    corrupted = u.clone()
    corrupted[..., 0, :] = 5.0
    corrupted[..., -1, :] = 5.0
    corrupted[..., :, 0] = 5.0
    corrupted[..., :, -1] = 5.0
    out = couple_patches_2d(corrupted.to(dtype), scheme.ratio, order, mode)
    assert torch.equal(out[..., 1:-1, 1:-1], corrupted.to(dtype)[..., 1:-1, 1:-1])
    err = (out.double() - u).abs().max().item()
    assert err < (TOL[dtype] * 10 if order == 0 else 2e-3), err


def test_coupling_2d_is_x_then_y_tensor_product():
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(6, 7, 5, 5, generator=gen, dtype=torch.float64)
    out = couple_patches_2d(u, (0.3, 0.2), order=4, mode="edgy")
    # corner (right, top) = y-interpolation of (x-interpolated right edge at row 1)
    right = couple_patches_1d(u.permute(1, 3, 0, 2), 0.3, order=4, mode="edgy").permute(2, 0, 3, 1)
    corner = couple_patches_1d(right.permute(0, 2, 1, 3), 0.2, order=4, mode="edgy").permute(0, 2, 1, 3)
    assert torch.allclose(out, corner, atol=1e-14)


def test_coupling_is_differentiable():
    u = torch.randn(1, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: couple_patches_1d(t, 0.25, 0, "edgy"), (u,))
    v = torch.randn(3, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: couple_patches_2d(t, 0.25, 2, "centre"), (v,))


# --------------------------------------------------------------------------- micro rates


def test_micro_rates_match_dense_numpy_reference():
    gen = np.random.default_rng(2)
    u = gen.standard_normal((6, 7))
    kx = gen.uniform(0.5, 2, (6, 7))
    ky = gen.uniform(0.5, 2, (6, 7))
    h = 0.3
    ref = np.zeros_like(u)
    for i in range(6):
        for j in range(7):
            ref[i, j] = (kx[i, j] * (u[(i + 1) % 6, j] - u[i, j]) + kx[i - 1, j] * (u[i - 1, j] - u[i, j])
                         + ky[i, j] * (u[i, (j + 1) % 7] - u[i, j]) + ky[i, j - 1] * (u[i, j - 1] - u[i, j])) / h**2
    t = [torch.as_tensor(a) for a in (u, kx, ky)]
    periodic = lattice_diffusion_rate_2d_reference(*t, h, boundary="periodic").numpy()
    assert np.allclose(periodic, ref, atol=1e-12)
    patch = lattice_diffusion_rate_2d_reference(*t, h, boundary="patch").numpy()
    assert np.allclose(patch[1:-1, 1:-1], ref[1:-1, 1:-1], atol=1e-12)
    assert np.all(patch[[0, -1], :] == 0) and np.all(patch[:, [0, -1]] == 0)
    r1 = lattice_diffusion_rate_1d(t[0][0], t[1][0], h, boundary="periodic").numpy()
    ref1 = (kx[0] * (np.roll(u[0], -1) - u[0]) + np.roll(kx[0], 1) * (np.roll(u[0], 1) - u[0])) / h**2
    assert np.allclose(r1, ref1, atol=1e-12)


def _eq25_term_scale(u, kx, ky, spacing):
    """Per point, the sum of |each bond term| of Eq 25 (u[..., nx, ny], x = axis -2, periodic
    neighbours): what the round-off of any order of summation is relative to."""
    terms = (kx * (u.roll(-1, -2) - u).abs() + kx.roll(1, -2) * (u.roll(1, -2) - u).abs()
             + ky * (u.roll(-1, -1) - u).abs() + ky.roll(1, -1) * (u.roll(1, -1) - u).abs())
    return terms / spacing**2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("boundary", ["patch", "periodic"])
def test_compiled_2d_micro_rate_matches_the_torch_reference_on_eq26(dtype, boundary):
    # Eq 26's cell tiled over [3, 4] patches of 5 x 8 points (x first, nx != ny, kx != ky: a swap of
    # the two axes or of the two diffusivities would show), h of the paper's 2D run
    points = (5, 8)
    kx = torch.as_tensor(tile_heterogeneity(ARBABI2020_KAPPA_X, points), dtype=dtype)
    ky = torch.as_tensor(tile_heterogeneity(ARBABI2020_KAPPA_Y, points), dtype=dtype)
    gen = torch.Generator().manual_seed(26)
    u = torch.randn(3, 4, *points, generator=gen, dtype=torch.float64).to(dtype)
    spacing = 2 * math.pi / 480
    got = lattice_diffusion_rate_2d(u, kx, ky, spacing, boundary=boundary)
    expected = lattice_diffusion_rate_2d_reference(u, kx, ky, spacing, boundary=boundary)
    bound = 8 * torch.finfo(dtype).eps * _eq25_term_scale(u.double(), kx.double(), ky.double(), spacing)
    assert torch.all((got.double() - expected.double()).abs() <= bound)
    assert got.dtype == dtype and got.shape == u.shape
    if boundary == "patch":
        assert torch.all(got[..., [0, -1], :] == 0) and torch.all(got[..., :, [0, -1]] == 0)
    # the op with its own (x last) roles unswapped is a different operator here
    unswapped = ops.lattice_diffusion_rate(u, kx, ky, spacing=spacing, boundary=boundary)
    assert (unswapped.double() - expected.double()).abs().max() > 1e3 * bound.max()
    # and so is the reference with its axes transposed (the test sees the layout)
    transposed = lattice_diffusion_rate_2d_reference(u.transpose(-1, -2), kx.transpose(-1, -2),
                                                     ky.transpose(-1, -2), spacing, boundary).transpose(-1, -2)
    assert (transposed.double() - expected.double()).abs().max() > 1e3 * bound.max()


def test_compiled_2d_micro_rate_gradients_match_the_reference():
    points = (5, 5)
    kx = torch.as_tensor(tile_heterogeneity(ARBABI2020_KAPPA_X, points)).requires_grad_()
    ky = torch.as_tensor(tile_heterogeneity(ARBABI2020_KAPPA_Y, points)).requires_grad_()
    u = torch.randn(6, *points, generator=torch.Generator().manual_seed(3), dtype=torch.float64).requires_grad_()
    weights = torch.randn(6, *points, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    grads = [torch.autograd.grad((rate(u, kx, ky, 0.1) * weights).sum(), (u, kx, ky))
             for rate in (lattice_diffusion_rate_2d, lattice_diffusion_rate_2d_reference)]
    for got, expected in zip(*grads):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_patch_scheme_2d_default_micro_rate_is_the_compiled_op(dtype):
    kw = dict(micro_spacing=2 * math.pi / 480, order=4, mode="edgy", kx_cell=ARBABI2020_KAPPA_X,
              ky_cell=ARBABI2020_KAPPA_Y, dtype=dtype)
    scheme = PatchScheme2D(6, 5, **kw)
    assert scheme.micro_rate is lattice_diffusion_rate_2d
    reference = PatchScheme2D(6, 5, micro_rate=lattice_diffusion_rate_2d_reference, **kw)
    u = scheme.lift(lambda x, y: torch.cos(x) * torch.sin(2 * y + 0.3) + 0.2 * torch.sin(x - y))
    u = u + 1e-3 * torch.randn(u.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(dtype)
    u = torch.stack([u, 2 * u - 0.1])  # a batch of two states
    got, expected = scheme.rate(u), reference.rate(u)
    coupled = scheme.couple(u).double()
    bound = 8 * torch.finfo(dtype).eps * _eq25_term_scale(coupled, scheme.kx.double(), scheme.ky.double(),
                                                           scheme.micro_spacing)
    assert torch.all((got.double() - expected.double()).abs() <= bound)
    assert got.abs().max() > 1.0  # not a vacuous comparison


def test_tile_heterogeneity_checks_period():
    assert np.array_equal(tile_heterogeneity([1.0, 2.0], (6,)), [1, 2, 1, 2, 1, 2])
    tiled = tile_heterogeneity(np.arange(1, 10, dtype=float).reshape(3, 3), (5, 5))
    assert tiled[3, 4] == tiled[0, 1]
    with pytest.raises(ValueError, match="must divide"):
        tile_heterogeneity([1.0, 2.0, 3.0], (6,))
    with pytest.raises(ValueError, match="positive"):
        tile_heterogeneity([1.0, -2.0], (6,))


# --------------------------------------------------------------------------- patch scheme

BONDS = (0.5, 2.0, 4.0, 0.8)  # harmonic mean exactly 1, period 4


def test_bonds_have_unit_harmonic_mean():
    assert harmonic_mean_lattice(BONDS) == pytest.approx(1.0, abs=1e-15)


def test_edgy_patches_that_tile_the_domain_are_the_full_lattice():
    # 2 r Δ = Δ + d: the edgy offset is exactly one patch, so the scheme is the periodic lattice of
    # N (n - 2) points (for every order); compare spectra with the dense lattice operator.
    n_patch, points = 5, 6
    ratio = (points - 1) / (2 * (points - 2))
    total = n_patch * (points - 2)
    d = 2 * math.pi / total
    bonds = np.tile(BONDS, total // 4)
    lattice = np.zeros((total, total))
    for j in range(total):
        lattice[j, (j + 1) % total] += bonds[j] / d**2
        lattice[j, j] -= bonds[j] / d**2
        lattice[j, j - 1] += bonds[j - 1] / d**2
        lattice[j, j] -= bonds[j - 1] / d**2
    expected = np.sort(np.linalg.eigvalsh(lattice))
    for order in (0, 2, 4):
        scheme = PatchScheme1D(n_patch, points, ratio, order=order, mode="edgy", bond_diffusivity=BONDS)
        assert math.isclose(scheme.micro_spacing, d, rel_tol=1e-14)
        got = np.sort(np.linalg.eigvals(scheme.jacobian()).real)
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-7)


def _leading_relative_errors(order, mode="edgy", bonds=BONDS, n_patch=16, points=6, ratio=0.1):
    scheme = PatchScheme1D(n_patch, points, ratio, order=order, mode=mode, bond_diffusivity=bonds)
    values, waves = scheme.macroscale_eigen(7)
    assert abs(values[0]) < 1e-8  # conserved mean
    errors = {}
    for k in (1, 2, 3):
        pair = values[np.abs(waves[:, 0]) == k]
        assert pair.shape == (2,), (k, waves)
        errors[k] = np.abs(pair / -(k * k) - 1).max()
    return errors, values


def test_heterogeneous_patch_scheme_spectral_edgy_matches_homogenized_eigenvalues():
    # arbabi2020 / toolbox check: leading macroscale eigenvalues -> -k^2 (a* = 1), each double
    errors, values = _leading_relative_errors(0)
    assert np.abs(values.imag).max() < 1e-9
    for k in (1, 2, 3):
        assert errors[k] < 1e-3, errors
    # quadratic coupling is far off, quartic is usable only for k = 1, sixth better
    quadratic, _ = _leading_relative_errors(2)
    quartic, _ = _leading_relative_errors(4)
    sixth, _ = _leading_relative_errors(6)
    assert quadratic[1] > 1e-2 and quadratic[3] > 0.1
    assert quartic[1] < 2e-3 < quartic[3]
    assert sixth[1] < quartic[1] and sixth[3] < quartic[3] < quadratic[3]


def test_quadratic_coupling_eigenvalue_error_is_second_order_in_the_macro_spacing():
    errors = []
    for n_patch in (16, 32, 64):
        scheme = PatchScheme1D(n_patch, 6, 0.1, order=2, mode="edgy", bond_diffusivity=BONDS)
        values = scheme.macroscale_eigenvalues(3)
        errors.append(abs(values[1].real + 1.0))
    rates = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
    assert all(abs(rate - 2) < 0.1 for rate in rates), (errors, rates)


def test_centre_coupling_even_points_bias_is_the_predicted_factor():
    # homogeneous diffusion: odd n with centre coupling is accurate, even n (centre = mean of the
    # two centre points) rescales the eigenvalues by 1 / (1 - 1/(n-1)^2) (continuum analysis)
    odd, _ = _leading_relative_errors(0, "centre", (1.0,), points=7)
    assert max(odd.values()) < 1e-3
    scheme = PatchScheme1D(16, 6, 0.1, order=0, mode="centre", bond_diffusivity=(1.0,))
    lam = np.sort(scheme.macroscale_eigenvalues(3).real)[::-1][1]
    assert lam == pytest.approx(-1.0 / (1 - 1 / 25), rel=1e-3)


def test_patch_scheme_rk4_integration_matches_matrix_exponential():
    import scipy.linalg

    scheme = PatchScheme1D(8, 6, 0.15, order=4, mode="edgy", bond_diffusivity=BONDS)
    u0 = scheme.lift(lambda x: torch.cos(x) + 0.5 * torch.sin(2 * x + 0.3))
    dt = scheme.stable_time_step()
    times = [0.0, 0.02, 0.05]
    states = scheme.integrate(u0, times)
    jac = scheme.jacobian()
    for t, state in zip(times, states):
        expected = scipy.linalg.expm(jac * t) @ u0[..., 1:-1].reshape(-1).numpy()
        assert np.allclose(state[..., 1:-1].reshape(-1).numpy(), expected, atol=1e-9)
    # the step is within RK4's stability: the largest |lambda| dt below 2.785
    assert np.abs(np.linalg.eigvals(jac)).max() * dt < 2.785
    # the macroscale mean is conserved
    means = scheme.restrict(states).mean(dim=-1)
    assert torch.allclose(means, means[0].expand_as(means), atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_patch_scheme_rate_float32_matches_float64(dtype):
    scheme = PatchScheme1D(8, 6, 0.2, order=0, mode="edgy", bond_diffusivity=BONDS, dtype=dtype)
    u = scheme.lift(lambda x: torch.sin(x))
    assert u.dtype == dtype
    rate = scheme.rate(u)
    ref = PatchScheme1D(8, 6, 0.2, order=0, mode="edgy", bond_diffusivity=BONDS).rate(
        PatchScheme1D(8, 6, 0.2).lift(lambda x: torch.sin(x)))
    assert torch.allclose(rate.double(), ref, rtol=1e-4, atol=1e-3 * ref.abs().max().item())
    assert torch.all(rate[..., [0, -1]] == 0)


def test_patch_scheme_2d_tiling_patches_equal_full_lattice_and_accept_custom_rate():
    kx = np.array([[1.0, 2.0], [0.5, 1.5]])
    ky = np.array([[2.0, 0.7], [1.2, 0.9]])
    calls = []

    def counting_rate(u, a, b, spacing, boundary):
        calls.append(u.shape)
        return lattice_diffusion_rate_2d_reference(u, a, b, spacing, boundary)

    scheme = PatchScheme2D(3, 4, ratio=3 / 4, order=0, mode="edgy", kx_cell=kx, ky_cell=ky, micro_rate=counting_rate)
    from coarsegrain.equation_free.homogenization import periodic_lattice_operator

    full = periodic_lattice_operator(kx, ky, 3, scheme.micro_spacing).toarray()
    expected = np.sort(np.linalg.eigvalsh(full))
    got = np.sort(np.linalg.eigvals(scheme.jacobian()).real)
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-6)
    assert calls and calls[0][-2:] == (4, 4)


def test_patch_scheme_input_errors():
    with pytest.raises(ValueError, match="must divide"):
        PatchScheme1D(8, 7, 0.1, bond_diffusivity=BONDS)
    with pytest.raises(ValueError, match="exactly one"):
        PatchScheme2D(4, 5)
    with pytest.raises(ValueError, match="u must be"):
        PatchScheme1D(8, 6, 0.1).rate(torch.zeros(8, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="num_patches"):
        PatchScheme1D(0, 6, 0.1)


def test_patch_scheme_2d_rk4_matches_matrix_exponential_and_conserves_mean():
    import scipy.linalg

    kx = np.array([[1.0, 2.0, 0.6], [0.5, 1.5, 1.1], [0.9, 0.7, 2.2]])
    ky = kx.T[::-1].copy()
    scheme = PatchScheme2D(4, 5, ratio=0.2, order=2, mode="edgy", kx_cell=kx, ky_cell=ky)
    u0 = scheme.lift(lambda x, y: torch.cos(x) * torch.sin(y + 0.2) + 0.3 * torch.cos(2 * y))
    expected = scipy.linalg.expm(scheme.jacobian() * 0.01) @ u0[..., 1:-1, 1:-1].reshape(-1).numpy()
    # at the stability-limit step (two steps) the fast transients carry RK4 truncation error ...
    states = scheme.integrate(u0, [0.0, 0.01])
    assert np.abs(states[-1][..., 1:-1, 1:-1].reshape(-1).numpy() - expected).max() < 1e-2
    # ... which vanishes at fourth order as the step shrinks
    errors = []
    for dt in (1e-3, 5e-4):
        state = scheme.integrate(u0, [0.0, 0.01], dt=dt)[-1]
        errors.append(np.abs(state[..., 1:-1, 1:-1].reshape(-1).numpy() - expected).max())
    assert errors[1] < 1e-6 and 3.5 < math.log2(errors[0] / errors[1]) < 5.5, errors
    means = scheme.restrict(states).mean(dim=(-2, -1))
    assert abs(means[1] - means[0]) < 1e-12
