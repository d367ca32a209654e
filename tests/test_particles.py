"""Particle simulators (patel2021 §5): stable samplers, Lévy flights, von Mises initial positions,
binned densities, the patel-* presets.

Independent references: scipy.stats.levy_stable / vonmises, the closed-form heat kernel (erf of the
periodic images), the fractional heat kernel by inverse FFT of exp(-t|k|^alpha) on the periodic
box, empirical characteristic / Laplace functions against their closed forms.

Statistical tests and their false-failure probabilities (under a correct sampler, per test case):
KS and chi-square tests fail below p = 1e-4; z-scores fail beyond 4.5 (two-sided 7e-6 each, a few
per case). All seeds are fixed, so the outcome is deterministic; the probabilities say how unlikely
a failure would be for a randomly chosen seed.

Until the compiled ``coarsegrain.ops.bin_particles`` exists, the ``binning`` fixture stands in
for it with numpy.histogramdd (NGP only); once it exists, the tests use the op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from scipy.special import erf

import coarsegrain.ops as ops
from coarsegrain.particles import (
    DENSITY_NORMALIZATION,
    LevyFlight,
    PointSource,
    VonMisesMixture,
    block_generator,
    positive_stable,
    simulate_density,
    stable_increments,
    symmetric_stable,
    von_mises,
)

P_FAIL = 1e-4  # p-value below which a KS / chi-square test fails
Z_FAIL = 4.5  # |z| above which a z-score test fails
TWO_PI = 2 * math.pi


def _histogramdd_binning(positions, quantities=None, *, bins, box, origin=None, assignment="ngp", periodic=True,
                         return_dropped=False):
    assert quantities is None and assignment == "ngp" and periodic and origin is None and not return_dropped
    h, _ = np.histogramdd(positions.detach().cpu().numpy(), bins=list(bins), range=[(0.0, b) for b in box])
    return torch.as_tensor(h, dtype=positions.dtype, device=positions.device)


@pytest.fixture
def binning(monkeypatch):
    """``coarsegrain.ops.bin_particles``, or numpy.histogramdd standing in until the op lands."""
    if not hasattr(ops, "bin_particles"):
        monkeypatch.setattr(ops, "bin_particles", _histogramdd_binning, raising=False)
    return ops.bin_particles


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine, torch's OpenMP teams run these elementwise
    samplers 10-30x slower on 2 threads beside other busy processes (see coarsegrain.threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def ks_against_cdf(x: np.ndarray, cdf, *, center_gap: float = 0.0) -> float:
    """KS p-value of the samples ``x`` against ``cdf``, evaluated at 801 sample quantiles and
    interpolated (the sup is taken over the samples inside that range, so the test can only be more
    lenient than the full one; its false-failure probability stays <= P_FAIL). Grid points within
    ``center_gap`` of 0 are left out (scipy's levy_stable.cdf returns exactly 1/2 there)."""
    x = np.sort(x)
    n = x.size
    grid = np.unique(np.quantile(x, np.linspace(5e-4, 1 - 5e-4, 801)))
    if center_gap:
        grid = np.unique(np.concatenate([grid[np.abs(grid) >= center_gap], [-center_gap, center_gap]]))
    f = cdf(grid)
    inside = (x >= grid[0]) & (x <= grid[-1])
    fx = np.interp(x, grid, f)
    i = np.arange(1, n + 1)
    d = max(np.max((i / n - fx)[inside]), np.max((fx - (i - 1) / n)[inside]))
    return float(st.kstwo.sf(d, n))


def ecf_z(samples: np.ndarray, k: np.ndarray, phi) -> np.ndarray:
    """z-scores of the empirical E cos(k.X) against the real characteristic function ``phi``
    (``samples`` [n, d], ``k`` [m, d]); Var cos(k.X) = (1 + phi(2k)) / 2 - phi(k)^2."""
    n = samples.shape[0]
    emp = np.cos(samples @ k.T).mean(0)
    var = (1 + phi(2 * k)) / 2 - phi(k) ** 2
    return (emp - phi(k)) / np.sqrt(var / n)


# ---------------------------------------------------------------------------------------------
# stable samplers


@pytest.mark.parametrize("alpha", [0.7, 1.0, 1.5, 2.0])
def test_symmetric_stable_against_scipy_ks(alpha):
    """Increments of a step dt are S(alpha, 0, dt^(1/alpha)): scipy's levy_stable(alpha, 0,
    scale=dt^(1/alpha)) (beta = 0: its S0 and S1 agree; CF exp(-|scale k|^alpha); alpha = 2 is
    N(0, 2 scale^2))."""
    dt = 0.01
    x = stable_increments(100_000, 1, alpha, dt, generator=gen(11)).numpy()[:, 0]
    scale = dt ** (1 / alpha)
    p = ks_against_cdf(x, lambda g: st.levy_stable.cdf(g, alpha, 0.0, scale=scale), center_gap=0.01 * scale)
    assert p > P_FAIL, (alpha, p)
    if alpha == 2.0:  # Brownian: variance 2 dt (D = 1)
        assert st.kstest(x, st.norm(scale=math.sqrt(2 * dt)).cdf).pvalue > P_FAIL


@pytest.mark.parametrize("alpha", [0.7, 0.999, 1.0, 1.001, 1.5, 1.999, 2.0])
def test_symmetric_stable_characteristic_function(alpha):
    dt = 0.01
    x = stable_increments(100_000, 1, alpha, dt, generator=gen(12)).numpy()
    k = np.array([[0.5], [2.0], [8.0], [30.0]])
    z = ecf_z(x, k, lambda kk: np.exp(-dt * np.abs(kk[:, 0]) ** alpha))
    assert np.all(np.abs(z) < Z_FAIL), z


@pytest.mark.parametrize("a", [0.35, 0.5, 0.75, 0.9995, 1.0])
def test_positive_stable_laplace_transform(a):
    """E exp(-sA) = exp(-s^a): the normalization the sub-Gaussian construction needs."""
    A = positive_stable(100_000, a, generator=gen(13)).numpy()
    assert (A > 0).all() and np.isfinite(A).all()
    for s in (0.2, 1.0, 4.0):
        lt = math.exp(-(s**a))
        var = math.exp(-((2 * s) ** a)) - lt**2
        emp = np.exp(-s * A).mean()
        if var == 0.0:  # a = 1: A = 1 exactly
            assert emp == pytest.approx(lt, rel=1e-12)
        else:
            assert abs(emp - lt) / math.sqrt(var / A.size) < Z_FAIL, (s, emp, lt)


def test_positive_stable_against_scipy_s1():
    """Our A (Laplace exp(-s^a)) is scipy's totally skewed S1 law levy_stable(a, 1) of scale
    cos(pi a / 2)^(1/a)."""
    a = 0.75
    A = positive_stable(100_000, a, generator=gen(14)).numpy()
    scale = math.cos(math.pi * a / 2) ** (1 / a)
    assert ks_against_cdf(A, lambda g: st.levy_stable.cdf(g, a, 1.0, scale=scale)) > P_FAIL


def test_float32_samples_finite_and_match_float64_law():
    """Small alpha in float32: every sample finite (the few beyond float32's range are clamped)."""
    for alpha in (0.3, 1.0, 1.9):
        x = stable_increments(200_000, 2, alpha, 1e-3, isotropic=True, generator=gen(15), dtype=torch.float32)
        assert x.dtype == torch.float32 and torch.isfinite(x).all()
        y = stable_increments(200_000, 2, alpha, 1e-3, isotropic=False, generator=gen(15), dtype=torch.float32)
        assert torch.isfinite(y).all()


# ---------------------------------------------------------------------------------------------
# 2D laws: isotropic (sub-Gaussian) and per axis


def _sector_radii(x: np.ndarray):
    """Radii of the samples within pi/16 of an axis and within pi/16 of a diagonal."""
    theta = np.mod(np.arctan2(x[:, 1], x[:, 0]), math.pi / 2)  # fold the 4 quadrants
    r = np.hypot(x[:, 0], x[:, 1])
    axis = (theta < math.pi / 16) | (theta > math.pi / 2 - math.pi / 16)
    diag = np.abs(theta - math.pi / 4) < math.pi / 16
    return r[axis], r[diag]


@pytest.mark.parametrize("alpha", [1.0, 1.5])
def test_isotropic_2d_law(alpha):
    dt = 0.01
    x = stable_increments(100_000, 2, alpha, dt, isotropic=True, generator=gen(21)).numpy()
    # The characteristic function exp(-dt |k|^alpha) in several directions.
    ang = np.linspace(0, math.pi, 7)[:-1]
    k = np.concatenate([m * np.stack([np.cos(ang), np.sin(ang)], 1) for m in (1.0, 5.0, 20.0)])
    z = ecf_z(x, k, lambda kk: np.exp(-dt * np.linalg.norm(kk, axis=1) ** alpha))
    assert np.all(np.abs(z) < Z_FAIL), z
    # Isotropy: the radius has the same law along the axes and along the diagonals.
    ra, rd = _sector_radii(x)
    assert st.ks_2samp(ra, rd).pvalue > P_FAIL
    # The angle is uniform.
    assert st.kstest(np.arctan2(x[:, 1], x[:, 0]), st.uniform(-math.pi, TWO_PI).cdf).pvalue > P_FAIL
    # Its marginal is the 1D law S(alpha, 0, dt^(1/alpha)).
    scale = dt ** (1 / alpha)
    p = ks_against_cdf(x[:, 0], lambda g: st.levy_stable.cdf(g, alpha, 0.0, scale=scale), center_gap=0.01 * scale)
    assert p > P_FAIL


@pytest.mark.parametrize("isotropic", [True, False])
def test_3d_laws_characteristic_function(isotropic):
    alpha, dt = 1.2, 0.01
    x = stable_increments(60_000, 3, alpha, dt, isotropic=isotropic, generator=gen(24)).numpy()
    rng = np.random.default_rng(0)
    k = rng.normal(size=(8, 3)) * np.array([[1.0], [1.0], [4.0], [4.0], [12.0], [12.0], [30.0], [30.0]])

    def psi(kk):  # the closed forms
        return np.linalg.norm(kk, axis=1) ** alpha if isotropic else (np.abs(kk) ** alpha).sum(1)

    symbol = LevyFlight(alpha, 3, isotropic).symbol([torch.from_numpy(k[:, a]) for a in range(3)])
    np.testing.assert_allclose(symbol.numpy(), psi(k), rtol=1e-12)
    z = ecf_z(x, k, lambda kk: np.exp(-dt * psi(kk)))
    assert np.all(np.abs(z) < Z_FAIL), z


def test_per_axis_2d_law():
    alpha, dt = 1.0, 0.01
    x = stable_increments(100_000, 2, alpha, dt, isotropic=False, generator=gen(22)).numpy()
    scale = dt ** (1 / alpha)
    for a in range(2):
        p = ks_against_cdf(x[:, a], lambda g: st.levy_stable.cdf(g, alpha, 0.0, scale=scale), center_gap=0.01 * scale)
        assert p > P_FAIL
    k = np.array([[1.0, 1.0], [5.0, -5.0], [20.0, 7.0], [0.0, 12.0]])
    z = ecf_z(x, k, lambda kk: np.exp(-dt * (np.abs(kk) ** alpha).sum(1)))
    assert np.all(np.abs(z) < Z_FAIL), z
    # The isotropy test above tells the two laws apart: the per-axis law is not isotropic.
    ra, rd = _sector_radii(x)
    assert st.ks_2samp(ra, rd).pvalue < 1e-6


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("isotropic", [True, False])
def test_brownian_mean_square_displacement(ndim, isotropic):
    """alpha = 2: E|X(t) - X(0)|^2 = 2 d D t with D = 1 (u_t = Laplacian u, Eq 20)."""
    flight = LevyFlight(alpha=2.0, ndim=ndim, isotropic=isotropic)
    n, steps, dt = 20_000, 40, 1e-3
    g = gen(23)
    x = torch.zeros(n, ndim, dtype=torch.float64)
    for _ in range(steps):
        x += flight.increments(n, dt, generator=g)
    r2 = (x**2).sum(1).numpy()
    t = steps * dt
    sigma2 = 2 * t  # per axis
    expected, var = 2 * ndim * t, 2 * ndim * sigma2**2
    assert abs(r2.mean() - expected) / math.sqrt(var / n) < Z_FAIL


# ---------------------------------------------------------------------------------------------
# binned densities against the (fractional) heat kernel


def _heat_kernel_bins_1d(t: float, x0: float, n_bins: int, box: float = TWO_PI, images: int = 6) -> np.ndarray:
    """P(particle in bin j) for u_t = u_xx from a point: the Gaussian of variance 2t, its periodic
    images summed, integrated over each bin with erf."""
    edges = np.linspace(0.0, box, n_bins + 1)
    s = math.sqrt(4 * t)
    p = np.zeros(n_bins)
    for m in range(-images, images + 1):
        c = 0.5 * erf((edges - x0 - m * box) / s)
        p += np.diff(c)
    return p


def _fractional_kernel_bins(t: float, alpha: float, x0, n_bins: int, box: float = TWO_PI, refine: int = 8,
                            isotropic: bool = True) -> np.ndarray:
    """P(particle in bin j) for u_t = -(-Lap)^(alpha/2) u (or the per-axis symbol) from a point:
    inverse FFT of exp(-t psi(k)) e^{-ik.x0} times the bins' cell-average factors prod sinc(k h/2)
    on a grid ``refine`` times finer, read at the bin centres, times the cell volume."""
    d = len(x0)
    m = n_bins * refine
    h = box / n_bins
    k1 = TWO_PI * np.fft.fftfreq(m, d=box / m)
    ks = np.meshgrid(*([k1] * d), indexing="ij")
    psi = np.sqrt(sum(k**2 for k in ks)) ** alpha if isotropic else sum(np.abs(k) ** alpha for k in ks)
    coef = np.exp(-t * psi) / box**d
    for k, c in zip(ks, x0):
        coef = coef * np.exp(-1j * k * c) * np.sinc(k * h / 2 / math.pi)  # np.sinc(x) = sin(pi x)/(pi x)
    p_avg = np.fft.ifftn(coef).real * m**d  # cell-averaged density on the fine grid x_n = n box/m
    centre = slice(refine // 2, None, refine)  # fine index j*refine + refine/2 = bin centre (j + 1/2) h
    return p_avg[(centre,) * d] * h**d


def chi_square_p(counts: np.ndarray, expected: np.ndarray) -> float:
    """Pearson chi-square p-value; bins expecting fewer than 5 are pooled into one."""
    counts, expected = counts.ravel(), expected.ravel()
    assert abs(counts.sum() - expected.sum()) < 1e-6 * expected.sum()
    big = expected >= 5
    c = np.append(counts[big], counts[~big].sum())
    e = np.append(expected[big], expected[~big].sum())
    if e[-1] == 0:
        c, e = c[:-1], e[:-1]
    stat = ((c - e) ** 2 / e).sum()
    return float(st.chi2.sf(stat, c.size - 1))


def _counts(u: torch.Tensor, n_particles: int, ndim: int) -> np.ndarray:
    """Undo u = counts * n_bins / N."""
    n_bins = math.prod(u.shape[-ndim:])
    return u.numpy() * n_particles / n_bins


def test_kernel_references_agree():
    """The two references agree where both apply (alpha = 2 in 1D): checks the FFT one."""
    a = _heat_kernel_bins_1d(0.05, 1.3, 32)
    b = _fractional_kernel_bins(0.05, 2.0, [1.3], 32)
    np.testing.assert_allclose(b, a, atol=1e-12)


def test_brownian_density_against_heat_kernel(binning):
    """Particles from a point (several realizations, pooled): their NGP histogram at t = 0.02 and
    0.05 against the bins' heat-kernel probabilities (chi-square)."""
    n_bins, dt, n = 64, 1e-3, 50_000
    x0 = (20 + 0.5) * TWO_PI / n_bins
    counts = 0.0
    for seed in range(3):  # realizations
        u = simulate_density(LevyFlight(2.0, 1), PointSource([x0]), n, bins=[n_bins], dt=dt, n_steps=50,
                             save_every=10, seed=seed)
        counts = counts + _counts(u, n, 1)
    assert np.all(counts[0] == np.eye(n_bins)[20] * 3 * n)  # frame 0: all in the source's bin
    for frame in (2, 5):
        expected = 3 * n * _heat_kernel_bins_1d(frame * 10 * dt, x0, n_bins)
        assert chi_square_p(counts[frame], expected) > P_FAIL


@pytest.mark.parametrize("ndim,isotropic", [(1, True), (2, True), (2, False)])
def test_levy_density_against_fractional_heat_kernel(binning, ndim, isotropic):
    alpha, n_bins, dt, steps, n = 1.5, 32, 0.01, 20, 100_000
    x0 = [(5 + 0.5) * TWO_PI / n_bins, (12 + 0.25) * TWO_PI / n_bins][:ndim]
    u = simulate_density(LevyFlight(alpha, ndim, isotropic), PointSource(x0), n, bins=[n_bins] * ndim, dt=dt,
                         n_steps=steps, save_every=steps, seed=7, chunk_size=2**15, rng_block=2**14)
    expected = n * _fractional_kernel_bins(steps * dt, alpha, x0, n_bins, isotropic=isotropic)
    assert chi_square_p(_counts(u, n, ndim)[1], expected) > P_FAIL
    # The anisotropic law really differs from the isotropic kernel at this size (power check).
    if ndim == 2 and not isotropic:
        iso = n * _fractional_kernel_bins(steps * dt, alpha, x0, n_bins, isotropic=True)
        assert chi_square_p(_counts(u, n, ndim)[1], iso) < 1e-6


def test_density_normalization(binning):
    mix = VonMisesMixture.draw(np.random.default_rng(3), 2)
    u = simulate_density(LevyFlight(1.5, 2), mix, 5000, bins=[16, 8], dt=1e-3, n_steps=4, seed=1)
    assert u.shape == (5, 16, 8) and u.dtype == torch.float64
    torch.testing.assert_close(u.mean(dim=(1, 2)), torch.ones(5, dtype=torch.float64), rtol=1e-13, atol=0)
    assert "n_bins / n_particles" in DENSITY_NORMALIZATION


# ---------------------------------------------------------------------------------------------
# von Mises initial positions


@pytest.mark.parametrize("kappa", [0.0, 0.3, 5.0, 60.0])
def test_von_mises_against_scipy(kappa):
    theta = von_mises(torch.full((50_000,), kappa, dtype=torch.float64), generator=gen(31)).numpy()
    assert np.all(np.abs(theta) <= math.pi)
    cdf = st.uniform(-math.pi, TWO_PI).cdf if kappa == 0 else st.vonmises(kappa).cdf
    assert st.kstest(theta, cdf).pvalue > P_FAIL


def _mixture_cdf(mix: VonMisesMixture, axis: int):
    grid = np.linspace(0.0, mix.box, 2**16 + 1)
    pdf = mix.pdf(grid, axis)
    cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))])
    assert cdf[-1] == pytest.approx(1.0, abs=1e-9)  # Eq 22/24 normalized
    return lambda x: np.interp(x, grid, cdf)


def test_von_mises_mixture_1d_against_density():
    """Eq 22 with the paper's 1D ranges (kappa ~ U[5, 10], mu ~ U[0, 2pi), 5 components)."""
    mix = VonMisesMixture.draw(np.random.default_rng(4), 1)
    assert mix.n_components == 5 and all(5 <= k <= 10 for k in mix.kappa[0])
    x = mix.sample(100_000, generator=gen(32)).numpy()[:, 0]
    assert x.min() >= 0 and x.max() < TWO_PI
    assert st.kstest(x, _mixture_cdf(mix, 0)).pvalue > P_FAIL


def test_von_mises_mixture_2d_anisotropy():
    """Eq 24 per coordinate; beta = 1 makes x (the last axis) uniform, beta = 0.5 halves its kappa;
    x and y independent."""
    for beta in (0.5, 1.0):
        mix = VonMisesMixture.draw(np.random.default_rng(5), 2, anisotropy=beta)
        ref = VonMisesMixture.draw(np.random.default_rng(5), 2)
        np.testing.assert_allclose(np.array(mix.kappa[1]), (1 - beta) * np.array(ref.kappa[1]))
        np.testing.assert_array_equal(mix.kappa[0], ref.kappa[0])
        x = mix.sample(60_000, generator=gen(33), dtype=torch.float32).double().numpy()
        for a in range(2):
            assert st.kstest(x[:, a], _mixture_cdf(mix, a)).pvalue > P_FAIL
        if beta == 1.0:
            assert st.kstest(x[:, 1], st.uniform(0, TWO_PI).cdf).pvalue > P_FAIL
        # Independence of the coordinates: a 4x4 contingency table.
        table = np.histogram2d(x[:, 0], x[:, 1], bins=4, range=[(0, TWO_PI)] * 2)[0]
        assert st.chi2_contingency(table).pvalue > P_FAIL


def test_von_mises_mixture_on_another_box():
    mix = VonMisesMixture([[8.0, 2.0]], [[1.0, 4.0]], box=3.0)
    x = mix.sample(50_000, generator=gen(34)).numpy()[:, 0]
    assert x.min() >= 0 and x.max() < 3.0
    assert st.kstest(x, _mixture_cdf(mix, 0)).pvalue > P_FAIL


# ---------------------------------------------------------------------------------------------
# reproducibility


def _run(n=5000, **kw):
    mix = VonMisesMixture.draw(np.random.default_rng(6), 2)
    base = dict(bins=[16, 16], dt=1e-3, n_steps=6, save_every=2, seed=9, rng_block=1024)
    return simulate_density(LevyFlight(1.5, 2), mix, n, **{**base, **kw})


def test_same_seed_same_bits_any_chunk_size(binning):
    a = _run(chunk_size=1024)
    for chunk in (2048, 3000, 2**18):  # 3000 rounds down to 2048
        assert torch.equal(a, _run(chunk_size=chunk))
    assert not torch.equal(a, _run(chunk_size=1024, seed=10))
    assert not torch.equal(a, _run(chunk_size=1024, rng_block=512))  # rng_block is part of the seeding


def test_first_frame_is_the_histogram_of_the_block_streams(binning):
    """Frame 0 is the NGP histogram (numpy.histogramdd) of the initial positions drawn block by
    block from block_generator(seed, b): the seeding scheme and the binning, end to end."""
    mix = VonMisesMixture.draw(np.random.default_rng(6), 2)
    n, block = 2500, 1024
    u = simulate_density(LevyFlight(1.5, 2), mix, n, bins=[16, 12], dt=1e-3, n_steps=1, seed=9, rng_block=block)
    x = torch.cat([mix.sample(min(block, n - b * block), generator=block_generator(9, b, "cpu")) for b in range(3)])
    h = np.histogramdd(x.numpy(), bins=[16, 12], range=[(0, TWO_PI)] * 2)[0]
    counts = u[0].numpy() * n / (16 * 12)
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-9)
    np.testing.assert_array_equal(np.rint(counts), h)


def test_cic_assignment(binning):
    if binning is _histogramdd_binning:
        pytest.skip("numpy.histogramdd stands in for bin_particles: NGP only")
    ngp, cic = _run(assignment="ngp"), _run(assignment="cic")
    torch.testing.assert_close(cic.mean(dim=(1, 2)), torch.ones(4, dtype=torch.float64), rtol=1e-12, atol=0)
    assert not torch.equal(ngp, cic) and (cic >= 0).all()
    # CIC smooths: its frame-to-frame roughness (sum of squared neighbour differences) is lower.
    rough = lambda u: ((u - u.roll(1, -1)) ** 2).sum()  # noqa: E731
    assert rough(cic) < rough(ngp)


def test_same_bits_any_thread_count(binning):
    before = torch.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs.append([_run(600, n_steps=1, save_every=1, rng_block=256, assignment=a)
                         for a in (("ngp", "cic") if binning is not _histogramdd_binning else ("ngp",))])
    finally:
        torch.set_num_threads(before)
    for one, two in zip(*runs):
        assert torch.equal(one, two)


def test_sampler_same_generator_state_same_bits(dtype):
    for iso in (True, False):
        a = stable_increments(1000, 3, 1.3, 1e-3, isotropic=iso, generator=gen(40), dtype=dtype)
        b = stable_increments(1000, 3, 1.3, 1e-3, isotropic=iso, generator=gen(40), dtype=dtype)
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------------
# bad input


BAD = [
    (lambda: stable_increments(10, 1, 0.0, 1e-3), "alpha"),
    (lambda: stable_increments(10, 1, -1.0, 1e-3), "alpha"),
    (lambda: stable_increments(10, 1, 2.5, 1e-3), "alpha"),
    (lambda: stable_increments(10, 1, float("nan"), 1e-3), "alpha"),
    (lambda: stable_increments(10, 1, float("inf"), 1e-3), "alpha"),
    (lambda: symmetric_stable(10, "x"), "alpha"),
    (lambda: positive_stable(10, 1.5), "alpha"),
    (lambda: stable_increments(10, 1, 1.5, 0.0), "dt"),
    (lambda: stable_increments(10, 1, 1.5, -1e-3), "dt"),
    (lambda: stable_increments(10, 1, 1.5, float("nan")), "dt"),
    (lambda: stable_increments(10, 1, 1.5, float("inf")), "dt"),
    (lambda: stable_increments(10, 0, 1.5, 1e-3), "ndim"),
    (lambda: stable_increments(10, 4, 1.5, 1e-3), "ndim"),
    (lambda: LevyFlight(alpha=3.0), "alpha"),
    (lambda: LevyFlight(ndim=4), "ndim"),
    (lambda: LevyFlight(box=float("inf")), "box"),
    (lambda: simulate_density(LevyFlight(2.0, 1), PointSource([1.0]), 10, bins=[8], dt=-1.0, n_steps=2), "dt"),
    (lambda: simulate_density(LevyFlight(2.0, 1), PointSource([1.0]), 10, bins=[8, 8], dt=1e-3, n_steps=2), "bins"),
    (lambda: simulate_density(LevyFlight(2.0, 2), PointSource([1.0]), 10, bins=[8, 8], dt=1e-3, n_steps=2),
     "ndim"),
    (lambda: simulate_density(LevyFlight(2.0, 1), PointSource([1.0]), 0, bins=[8], dt=1e-3, n_steps=2),
     "n_particles"),
    (lambda: simulate_density(LevyFlight(2.0, 1), PointSource([1.0]), 10, bins=[8], dt=1e-3, n_steps=3,
                              save_every=2), "save_every"),
    (lambda: simulate_density(LevyFlight(2.0, 1), PointSource([1.0]), 10, bins=[8], dt=1e-3, n_steps=2,
                              seed=-1), "seed"),
    (lambda: PointSource([7.0]), "position"),
    (lambda: VonMisesMixture.draw(np.random.default_rng(0), 2, anisotropy=1.5), "anisotropy"),
    (lambda: VonMisesMixture.draw(np.random.default_rng(0), 1, anisotropy=0.5), "anisotropy"),
    (lambda: VonMisesMixture.draw(np.random.default_rng(0), 4), "ndim"),
    (lambda: VonMisesMixture([[-1.0]], [[0.0]]), "kappa"),
]


@pytest.mark.parametrize("call,name", BAD, ids=[f"{i}-{n}" for i, (_, n) in enumerate(BAD)])
def test_bad_input_one_line_naming_the_parameter(call, name):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert name in message and "\n" not in message, message


# ---------------------------------------------------------------------------------------------
# devices


def test_cuda_sampler_and_simulation(device, binning):
    """Same laws on the device (CUDA bits differ from the CPU's: another generator)."""
    if device == "cpu":
        pytest.skip("the CPU runs every other test")
    x = stable_increments(100_000, 1, 1.5, 0.01, generator=gen(50, device), device=device, dtype=torch.float32)
    assert x.device.type == "cuda" and x.dtype == torch.float32
    k = np.array([[1.0], [10.0]])
    z = ecf_z(x.double().cpu().numpy(), k, lambda kk: np.exp(-0.01 * np.abs(kk[:, 0]) ** 1.5))
    assert np.all(np.abs(z) < Z_FAIL)
    mix = VonMisesMixture.draw(np.random.default_rng(6), 2)
    u = simulate_density(LevyFlight(1.5, 2), mix, 5000, bins=[16, 16], dt=1e-3, n_steps=4, seed=1, device=device)
    assert u.device.type == "cuda"
    torch.testing.assert_close(u.mean(dim=(1, 2)).cpu(), torch.ones(5, dtype=torch.float64))
    assert torch.equal(u, simulate_density(LevyFlight(1.5, 2), mix, 5000, bins=[16, 16], dt=1e-3, n_steps=4, seed=1,
                                           device=device, chunk_size=2**16))
