"""Phase-field models and steppers: conservation, dissipation, orders of accuracy, energies."""

from __future__ import annotations

import math

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.systems import (
    AdaptiveExponentialSpectral,
    AllenCahn,
    CahnHilliard,
    ExplicitEuler,
    ExponentialSpectral,
    PhaseFieldCrystal,
    PolynomialEnergy,
    SemiImplicitSpectral,
    double_well,
    lanzoni,
    make_stepper,
    quartic,
)
from coarsegrain.systems.exponential import ExponentialRK, phi_functions
from coarsegrain.systems.initial import gaussian_random_field, uniform
from coarsegrain.systems.steppers import STEPPERS, _EtdStep

L = 8 * math.pi  # box side for the smooth-solution tests: wavenumbers k = 2 pi m / L


def smooth_field(n: int, ndim: int = 2) -> torch.Tensor:
    """A few low Fourier modes sampled on n^ndim points of the box [0, L)^ndim."""
    k = 2 * math.pi / L
    axes = [torch.arange(n, dtype=torch.float64) * L / n for _ in range(ndim)]
    mesh = torch.meshgrid(*axes, indexing="ij")
    y, x = mesh[-2], mesh[-1]
    return (0.3 * torch.cos(k * x) + 0.2 * torch.sin(k * y + 2 * k * x) + 0.1 * torch.cos(2 * k * y))[None]


# --- energies ------------------------------------------------------------------------------------


def test_named_energies_match_their_formulas():
    u = torch.linspace(-1.5, 1.5, 41, dtype=torch.float64)
    torch.testing.assert_close(quartic(2.0, 3.0).f(u), -u**2 + 0.75 * u**4)
    torch.testing.assert_close(lanzoni(3.0).f(u), 6.0 * u**2 * (1 - u) ** 2)
    torch.testing.assert_close(double_well(2.0, 0.1, 0.9).f(u), 2.0 * (u - 0.1) ** 2 * (0.9 - u) ** 2)


@pytest.mark.parametrize("energy", [quartic(), lanzoni(), double_well(1.5, -0.2, 0.7),
                                    PolynomialEnergy((0.1, -0.3, 0.2, 0.5, -0.1, 0.02))])
def test_energy_derivatives_match_autograd(energy):
    u = torch.linspace(-1.2, 1.2, 25, dtype=torch.float64, requires_grad=True)
    (df,) = torch.autograd.grad(energy.f(u).sum(), u, create_graph=True)
    (d2f,) = torch.autograd.grad(df.sum(), u)
    torch.testing.assert_close(energy.df(u), df)
    torch.testing.assert_close(energy.d2f(u.detach()), d2f)


def test_bad_model_parameters_are_refused():
    g = Grid((8, 8))
    with pytest.raises(ValueError, match=r"cahn_hilliard: mobility must be a positive finite number, got 0"):
        CahnHilliard(g, mobility=0.0)
    with pytest.raises(ValueError, match=r"allen_cahn: kappa must be a positive finite number, got -1"):
        AllenCahn(g, kappa=-1.0)
    with pytest.raises(ValueError, match=r"u has shape \(1, 8, 9\), but its last 2 axes must be the grid \(8, 8\)"):
        CahnHilliard(g).rhs(torch.zeros(1, 8, 9))
    with pytest.raises(TypeError, match=r"supports AllenCahn and CahnHilliard"):
        ExplicitEuler(PhaseFieldCrystal(g), 1e-3)
    with pytest.raises(ValueError, match=r"ExplicitEuler: dt = 0.1 is beyond the stability limit 0.03125"):
        ExplicitEuler(CahnHilliard(g), 0.1)
    with pytest.raises(ValueError, match=r"ExponentialSpectral: variant must be one of \('cox-matthews', "
                       r"'hochbruck-ostermann'\), got 'rk4'"):
        ExponentialSpectral(CahnHilliard(g), 0.1, order=4, variant="rk4")
    with pytest.raises(ValueError, match=r"ExponentialSpectral: stabilization must be a finite number >= 0, got -1"):
        ExponentialSpectral(CahnHilliard(g), 0.1, order=4, stabilization=-1.0)


# --- conservation and dissipation --------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ExplicitEuler(CahnHilliard(Grid((24, 24))), 0.01),
        lambda: SemiImplicitSpectral(CahnHilliard(Grid((24, 24))), 0.05),
        lambda: SemiImplicitSpectral(CahnHilliard(Grid((24, 24))), 0.05, order=2),
        lambda: SemiImplicitSpectral(PhaseFieldCrystal(Grid((24, 24), 0.8)), 0.05),
        lambda: ExponentialSpectral(CahnHilliard(Grid((24, 24))), 0.05, order=2),
        lambda: ExponentialSpectral(PhaseFieldCrystal(Grid((24, 24), 0.8)), 0.05, order=1),
        lambda: ExponentialSpectral(CahnHilliard(Grid((24, 24))), 0.2, order=4),
        lambda: AdaptiveExponentialSpectral(CahnHilliard(Grid((24, 24))), 0.05, rtol=1e-3),
        lambda: ExplicitEuler(CahnHilliard(Grid((10, 10, 10)), lanzoni(3.0), kappa=3.0), 1.25e-3),
    ],
    ids=["ch-explicit", "ch-spectral", "ch-spectral2", "pfc-spectral", "ch-etd2", "pfc-etd1", "ch-etd4",
         "ch-etd4-adaptive", "ch3d-lanzoni"],
)
def test_conserved_models_keep_mass_to_roundoff(make):
    stepper = make()
    grid = stepper.model.grid
    u0 = uniform(grid, 2, low=-0.5, high=0.3, seed=4)
    u = stepper.advance(u0, 1000)
    drift = (stepper.model.mass(u) - stepper.model.mass(u0)).abs().max().item()
    assert drift < 1e-13
    assert torch.isfinite(u).all()


@pytest.mark.parametrize("model_cls", [AllenCahn, CahnHilliard])
@pytest.mark.parametrize("method", STEPPERS)
def test_free_energy_does_not_increase(model_cls, method):
    model = model_cls(Grid((32, 32)), quartic())
    dt = 0.01 if model.conserved else 0.05
    stepper = make_stepper(model, method, dt)
    u = uniform(model.grid, 1, low=-0.2, high=0.2, seed=0)
    energies = [model.free_energy(u, stepper.discretization).item()]
    for _ in range(40):
        u = stepper.advance(u, 10)
        energies.append(model.free_energy(u, stepper.discretization).item())
    steps = [b - a for a, b in zip(energies, energies[1:])]
    assert max(steps) <= 1e-10 * abs(energies[0]), steps
    assert energies[-1] < energies[0] - 1.0


def test_fd_rhs_is_the_explicit_update():
    model = CahnHilliard(Grid((16, 12), (0.9, 1.1)), double_well(2.0, -0.5, 0.5), mobility=0.7, kappa=1.3)
    u = uniform(model.grid, 2, low=-0.6, high=0.6, seed=1)
    dt = 1e-4
    stepped = ExplicitEuler(model, dt).advance(u, 1)
    torch.testing.assert_close((stepped - u) / dt, model.rhs(u, "fd"), rtol=1e-9, atol=1e-9)


def test_fd_free_energy_gradient_is_the_chemical_potential():
    model = AllenCahn(Grid((10, 14), (0.7, 1.2)), lanzoni(2.0), kappa=2.0)
    u = uniform(model.grid, 1, low=0.0, high=1.0, seed=2).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.free_energy(u, "fd").sum(), u)
    torch.testing.assert_close(grad / model.grid.cell_volume, model.chemical_potential(u.detach(), "fd"))


# --- orders of accuracy ----------------------------------------------------------------------


def _error(a, b):
    return (a - b).abs().max().item()


def test_explicit_fd_converges_to_spectral_at_second_order_in_space():
    errors = []
    for n in (16, 32):
        model = CahnHilliard(Grid((n, n), L / n), quartic())
        u0 = smooth_field(n)
        fd = ExplicitEuler(model, 2e-3).advance(u0, 250)
        spectral = SemiImplicitSpectral(model, 2e-3, order=2).advance(u0, 250)
        errors.append(_error(fd, spectral))
    assert math.log2(errors[0] / errors[1]) == pytest.approx(2.0, abs=0.15), errors


@pytest.mark.slow
@pytest.mark.parametrize("order", [1, 2])
def test_semi_implicit_spectral_order_in_time(order):
    model = CahnHilliard(Grid((32, 32), L / 32), quartic())
    u0 = smooth_field(32)
    T = 2.0
    reference = SemiImplicitSpectral(model, 2e-4, order=2).advance(u0, 10000)
    errors = [_error(SemiImplicitSpectral(model, dt, order=order).advance(u0, round(T / dt)), reference)
              for dt in (0.1, 0.05)]
    assert math.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.2), errors


def test_explicit_euler_first_order_in_time():
    model = AllenCahn(Grid((32, 32), L / 32), quartic())
    u0 = smooth_field(32)
    reference = ExplicitEuler(model, 1e-4).advance(u0, 20000)
    errors = [_error(ExplicitEuler(model, dt).advance(u0, round(2.0 / dt)), reference) for dt in (0.04, 0.02)]
    assert math.log2(errors[0] / errors[1]) == pytest.approx(1.0, abs=0.15), errors


def test_second_order_history_survives_chunked_advances():
    model = CahnHilliard(Grid((16, 16), L / 16), quartic())
    u0 = smooth_field(16)
    one = SemiImplicitSpectral(model, 0.05, order=2).advance(u0, 40)
    stepper = SemiImplicitSpectral(model, 0.05, order=2)
    u = u0
    for _ in range(4):
        u = stepper.advance(u, 10)
    torch.testing.assert_close(u, one, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("order, dts, variant", [(1, (0.2, 0.1), "cox-matthews"), (2, (0.2, 0.1), "cox-matthews"),
                                                (4, (0.2, 0.1), "cox-matthews"), (4, (0.1, 0.05), "hochbruck-ostermann")])
def test_exponential_spectral_order_in_time(order, dts, variant):
    model = AllenCahn(Grid((32, 32), L / 32), quartic())
    u0 = smooth_field(32)
    reference = ExponentialSpectral(model, 1e-2, order=4).advance(u0, 200)
    errors = [_error(ExponentialSpectral(model, dt, order=order, variant=variant).advance(u0, round(2.0 / dt)),
                     reference) for dt in dts]
    assert math.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.25), errors


def test_etdrk4_matches_an_independent_contour_integral_implementation():
    """ETDRK4 as Kassam & Trefethen (2005) compute it: coefficients by the mean over a circle
    of points around each L dt (no phi functions, no series switch), in complex128 NumPy."""
    np = pytest.importorskip("numpy")
    model = CahnHilliard(Grid((24, 24), 0.7), quartic(), mobility=0.8, kappa=1.3)
    u0 = uniform(model.grid, 1, low=-0.4, high=0.4, seed=3)
    dt, steps = 0.3, 5
    # the implementation below splits f' about 0, as written (the default splits about the mean)
    ours = ExponentialSpectral(model, dt, order=4, reference=0.0).advance(u0, steps)[0].numpy()

    k2 = model.grid.k_squared(dtype=torch.float64).numpy()
    k2 = np.broadcast_to(k2, (24, 13))
    lin = -0.8 * k2 * (1.3 * k2 - 1.0)          # -M k^2 (kappa k^2 + c1), c1 = -1
    z = lin * dt
    roots = np.exp(1j * np.pi * (np.arange(64) + 0.5) / 32)
    zc = z[..., None] + roots

    def mean(values):
        return values.mean(-1).real

    e, e2 = np.exp(z), np.exp(z / 2)
    q = dt * mean((np.exp(zc / 2) - 1) / zc)
    f1 = dt * mean((-4 - zc + np.exp(zc) * (4 - 3 * zc + zc**2)) / zc**3)
    f2 = dt * mean((2 + zc + np.exp(zc) * (zc - 2)) / zc**3)
    f3 = dt * mean((-4 - 3 * zc - zc**2 + np.exp(zc) * (4 - zc)) / zc**3)

    def nonlinear(v_hat):
        v = np.fft.irfft2(v_hat, s=(24, 24))
        return -0.8 * k2 * np.fft.rfft2(v**3)

    v = np.fft.rfft2(u0[0].numpy())
    for _ in range(steps):
        nv = nonlinear(v)
        a = e2 * v + q * nv
        na = nonlinear(a)
        b = e2 * v + q * na
        nb = nonlinear(b)
        c = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(c)
        v = e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nc
    np.testing.assert_allclose(ours, np.fft.irfft2(v, s=(24, 24)), rtol=0, atol=1e-12)


def test_hochbruck_ostermann_matches_an_independent_numpy_implementation():
    """The five-stage ETDRK4 of Hochbruck & Ostermann (2005) written stage by stage from the
    paper's tableau, its phi functions by contour means (Kassam & Trefethen), with S = 0.7."""
    np = pytest.importorskip("numpy")
    model = CahnHilliard(Grid((24, 24), 0.7), quartic(), mobility=0.8, kappa=1.3)
    u0 = uniform(model.grid, 1, low=-0.6, high=0.6, seed=4)
    dt, steps, s = 0.4, 5, 0.7
    stepper = ExponentialSpectral(model, dt, order=4, stabilization=s, variant="hochbruck-ostermann",
                                  reference=0.0)  # split about 0, as below
    ours = stepper.advance(u0, steps)[0].numpy()

    k2 = np.broadcast_to(model.grid.k_squared(dtype=torch.float64).numpy(), (24, 13))
    lin = -0.8 * k2 * (1.3 * k2 - 1.0 + s)
    roots = np.exp(1j * np.pi * (np.arange(64) + 0.5) / 32)

    def phis(z):
        zc = z[..., None] + roots
        e = np.exp(zc)
        return [(v.mean(-1).real) for v in ((e - 1) / zc, (e - 1 - zc) / zc**2, (e - 1 - zc - zc**2 / 2) / zc**3)]

    z = lin * dt
    p1, p2, p3 = phis(z)
    q1, q2, q3 = phis(z / 2)   # phi_i(c_j z) for the stages at c = 1/2
    a52 = q2 / 2 - p3 + p2 / 4 - q3 / 2
    a54 = q2 / 4 - a52

    def nonlinear(v_hat):
        v = np.fft.irfft2(v_hat, s=(24, 24))
        return -0.8 * k2 * np.fft.rfft2(v**3 - s * v) * dt

    v = np.fft.rfft2(u0[0].numpy())
    for _ in range(steps):
        n1 = nonlinear(v)
        n2 = nonlinear(np.exp(z / 2) * v + q1 / 2 * n1)
        n3 = nonlinear(np.exp(z / 2) * v + (q1 / 2 - q2) * n1 + q2 * n2)
        n4 = nonlinear(np.exp(z) * v + (p1 - 2 * p2) * n1 + p2 * (n2 + n3))
        n5 = nonlinear(np.exp(z / 2) * v + (q1 / 2 - 2 * a52 - a54) * n1 + a52 * (n2 + n3) + a54 * n4)
        v = np.exp(z) * v + (p1 - 3 * p2 + 4 * p3) * n1 + (4 * p3 - p2) * n4 + (4 * p2 - 8 * p3) * n5
    np.testing.assert_allclose(ours, np.fft.irfft2(v, s=(24, 24)), rtol=0, atol=1e-12)


def test_hochbruck_ostermann_keeps_its_order_on_stiff_coarsening_where_cox_matthews_drops_to_two():
    """Late Cahn-Hilliard coarsening (S = 1) is stiff: Cox-Matthews ETDRK4 converges at
    order ~2 there (Hochbruck & Ostermann 2005), the stiffly accurate variant near 3."""
    model = CahnHilliard(Grid((32, 32), 0.5), quartic())
    u = ExponentialSpectral(model, 0.1, order=4).advance(
        gaussian_random_field(model.grid, 1, correlation_length=4.0, std=0.1, seed=0), 100)
    reference = ExponentialSpectral(model, 0.01, order=4, stabilization=1.0,
                                    variant="hochbruck-ostermann").advance(u, 2000)
    errors = {}
    for variant in ExponentialSpectral.variants:
        errors[variant] = [_error(ExponentialSpectral(model, dt, order=4, stabilization=1.0, variant=variant)
                                  .advance(u, round(20 / dt)), reference) for dt in (1.0, 0.5)]
    cm, ho = errors["cox-matthews"], errors["hochbruck-ostermann"]
    assert math.log2(cm[0] / cm[1]) < 2.3 and math.log2(ho[0] / ho[1]) > 2.4, errors
    assert ho[1] < cm[1] / 5, errors


@pytest.mark.slow
def test_adaptive_etdrk4_meets_its_tolerance_and_takes_long_steps_when_the_dynamics_slow():
    model = CahnHilliard(Grid((32, 32), 0.75), quartic())
    u0 = uniform(model.grid, 1, low=-0.3, high=0.3, seed=5)
    reference_20 = ExponentialSpectral(model, 0.01, order=4).advance(u0, 2000)
    # stabilized fixed steps for the slow late coarsening (dt 0.05 agrees to 4e-7)
    reference_400 = ExponentialSpectral(model, 0.1, order=4, stabilization=2.0).advance(reference_20, 3800)

    def relative_l2(u, reference):  # what the controller's RMS tolerance is about
        return ((u - reference).norm() / reference.norm()).item()

    for rtol in (1e-3, 1e-5):
        stepper = AdaptiveExponentialSpectral(model, 1.0, rtol=rtol, dt_initial=0.01, stabilization=2.0)
        u = stepper.advance(u0, 20)
        assert relative_l2(u, reference_20) < 2 * rtol
        u = stepper.advance(u, 380)
        assert relative_l2(u, reference_400) < 20 * rtol  # global: errors of ~1000 steps add up
        if rtol == 1e-3:
            # coarsening slows down: steps grow from 0.01 past 16 (a fixed ETDRK4 step without
            # stabilization is capped near 1 by its explicit part)
            assert stepper.stabilization == 2.0 and AdaptiveExponentialSpectral(model, 1.0).stabilization == 1.0
            assert stepper._next >= 16 and stepper.stats["accepted"] < 200, (stepper._next, stepper.stats)


def test_adaptive_stepper_lands_on_output_times_and_resumes_with_its_step():
    model = AllenCahn(Grid((16, 16), L / 16), quartic())
    u0 = smooth_field(16)
    stepper = AdaptiveExponentialSpectral(model, 0.5, rtol=1e-8)
    chunked = stepper.advance(stepper.advance(u0, 3), 1)
    whole = AdaptiveExponentialSpectral(model, 0.5, rtol=1e-8).advance(u0, 4)
    reference = ExponentialSpectral(model, 0.005, order=4).advance(u0, 400)
    assert _error(chunked, reference) < 1e-6 and _error(whole, reference) < 1e-6
    assert stepper.evaluations_per_step == 5  # Hochbruck-Ostermann: four stages and the new state
    assert stepper.stats["nonlinear_evaluations"] == 5 * (stepper.stats["accepted"] + stepper.stats["rejected"]) + 2


@pytest.mark.parametrize("shape", [(12, 10), (6, 4, 8)])
def test_adaptive_error_ratio_is_the_rms_ratio_of_the_worst_batch_member(shape):
    """RMS(error) / (atol + rtol RMS(V - mean V)) for conserved models (the mean is exact, it
    must not loosen the tolerance), RMS(error) / (atol + rtol RMS(V)) for Allen-Cahn."""
    model = CahnHilliard(Grid(shape), quartic())
    stepper = AdaptiveExponentialSpectral(model, 0.1, rtol=1e-3, atol=1e-6)
    gen = torch.Generator().manual_seed(3)
    error = torch.randn(3, *shape, generator=gen, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.5]).reshape(3, *[1] * len(shape))
    u = torch.randn(3, *shape, generator=gen, dtype=torch.float64) + torch.tensor([0.0, 0.3, -2.0]).reshape(3, *[1] * len(shape))
    dims = tuple(range(1, len(shape) + 1))
    rms_error = error.square().mean(dims).sqrt()
    expected = (rms_error / (1e-6 + 1e-3 * u.std(dims, unbiased=False))).max().item()
    assert stepper._error_ratio(error, u) == pytest.approx(expected, rel=1e-12)
    # the mean from the spectrum's k = 0 mode, as the stepper passes it
    assert stepper._error_ratio(error, u, torch.fft.rfftn(u, dim=dims)) == pytest.approx(expected, rel=1e-12)
    assert stepper._error_ratio(error[:1].float(), u[:1].float()) == pytest.approx(
        (rms_error[0] / (1e-6 + 1e-3 * u[0].std(unbiased=False))).item(), rel=1e-5)
    not_conserved = AdaptiveExponentialSpectral(AllenCahn(Grid(shape), quartic()), 0.1, rtol=1e-3, atol=1e-6)
    expected = (rms_error / (1e-6 + 1e-3 * u.square().mean(dims).sqrt())).max().item()
    assert not_conserved._error_ratio(error, u) == pytest.approx(expected, rel=1e-12)
    error[1, 0] = float("nan")
    assert stepper._error_ratio(error, u) == math.inf


def test_adaptive_error_estimate_is_the_new_state_minus_the_fourth_stage():
    """The estimate the controller sees is U+ minus Hochbruck-Ostermann's stage 4 (c = 1), built
    here by hand from the same weights."""
    model = CahnHilliard(Grid((16, 12), 0.8), quartic())
    stepper = AdaptiveExponentialSpectral(model, 0.3, rtol=1e-3)
    u = uniform(model.grid, 2, low=-0.5, high=0.5, seed=6)
    step = _EtdStep(stepper)
    u_hat, n_hat = step.start(u)
    weights = stepper._weights(u, 0.3, step.linear)
    new, _, _, error = step(u_hat, n_hat, weights, 0.3, estimate_error=True)
    dims = (-2, -1)
    irfft = lambda x: torch.fft.irfftn(x, s=(16, 12), dim=dims)  # noqa: E731
    nl = lambda v: torch.fft.rfftn(v**3 - v * stepper.stabilization, dim=dims)  # noqa: E731  (g(U) of the quartic, S moved out)
    n = [n_hat]
    for w in weights[:2]:
        n.append(nl(irfft(w[0] * u_hat + sum(wi * ni for wi, ni in zip(w[1:], n)))))
    w = weights[2]
    stage4 = irfft(w[0] * u_hat + sum(wi * ni for wi, ni in zip(w[1:], n)))
    torch.testing.assert_close(error, new - stage4, rtol=0, atol=1e-13)
    assert error.abs().max() > 1e-6  # a real difference, not zero by construction


@pytest.mark.parametrize("make, hint", [
    (lambda m: ExponentialSpectral(m, 4.0, order=4), "stabilization"),
    (lambda m: SemiImplicitSpectral(m, 4.0, order=2), "ExponentialSpectral"),
])
def test_fourier_steppers_report_a_blow_up_with_its_step(make, hint):
    """Unstable fixed steps (the explicit cubic term at dt = 4 on separated phases) end in a
    clear error naming dt and what to do, not in a silently NaN field."""
    model = CahnHilliard(Grid((32, 32), 0.5), quartic())
    u = torch.sign(uniform(model.grid, 1, low=-1.0, high=1.0, seed=2)) * 1.2
    with pytest.raises(FloatingPointError, match=rf"non-finite within these 200 steps of dt = 4: .*{hint}"):
        make(model).advance(u, 200)


def test_weight_cache_is_bounded_in_count_and_in_bytes_and_matches_a_direct_build():
    model = CahnHilliard(Grid((16, 12), 0.7), quartic())
    stepper = ExponentialSpectral(model, 0.1, order=4, variant="hochbruck-ostermann")
    u = torch.zeros(1, 16, 12)
    for i in range(20):
        stepper._weights(u, 0.1 * (i + 1), 0.5)
    assert len(stepper._cache) == stepper._cache_size == 16
    entry = sum(w.numel() * w.element_size() for ws in stepper._weights(u, 2.0, 0.5) for w in ws)
    stepper._cache_bytes = 3 * entry + 1
    got = stepper._weights(u, 5.0, 0.5)
    assert len(stepper._cache) == 3 and list(stepper._cache)[-1][2] == 5.0
    # spread from the distinct |k|^2 values: the same numbers as computing on every mode
    k2 = model.grid.k_squared(dtype=torch.float64).expand(16, 7)
    direct = stepper._build_weights(k2, 5.0, 0.5)
    for ws, ds in zip(got, direct):
        for w, d in zip(ws, ds):
            assert torch.equal(w, d.expand(16, 7).float())


def test_adaptive_stepper_refuses_bad_tolerances_and_reports_a_collapsing_step():
    model = CahnHilliard(Grid((8, 8)), quartic())
    with pytest.raises(ValueError, match="rtol"):
        AdaptiveExponentialSpectral(model, 0.1, rtol=-1.0)
    with pytest.raises(ValueError, match="both be 0"):
        AdaptiveExponentialSpectral(model, 0.1, rtol=0.0, atol=0.0)
    with pytest.raises(ValueError, match="duration"):
        AdaptiveExponentialSpectral(model, 0.1).integrate(torch.zeros(1, 8, 8, dtype=torch.float64), -1.0)
    blowing_up = torch.full((1, 8, 8), float("nan"), dtype=torch.float64)
    with pytest.raises(FloatingPointError, match="step size fell"):
        AdaptiveExponentialSpectral(model, 0.1).integrate(blowing_up, 1.0)


@pytest.mark.parametrize("complex_z", [False, True])
def test_phi_functions_are_accurate_across_the_series_switch(complex_z):
    """Against 40-digit mpmath, on both sides of the switch from the series to the closed forms
    at |z| = 1, for real z (phase-field symbols) and complex z (KdV's imaginary symbol)."""
    real = [-2500.0, -50.0, -1.001, -0.999, -0.5, -0.101, -0.099, -0.011, -1e-8, 0.0, 1e-8, 0.099, 0.5,
            0.999, 1.001, 3.0]
    values = real + ([0.7j, -0.999j, 1.001j, 30j, 0.6 + 0.6j, -0.8 + 0.8j, 1e5j] if complex_z else [])
    z = torch.tensor(values, dtype=torch.complex128 if complex_z else torch.float64)
    phis = phi_functions(z)
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    for i, zi in enumerate(values):
        zz = mp.mpc(zi)
        for k, phi in enumerate(phis, start=1):
            if zi == 0:
                exact = mp.mpf(1) / mp.factorial(k)
            else:
                exact = (mp.e**zz - sum(zz**j / mp.factorial(j) for j in range(k))) / zz**k
            exact = complex(exact)
            got = complex(phi[i].item())
            assert abs(got - exact) <= 2e-15 * abs(exact), (k, zi, got, exact)


def test_the_phase_field_steppers_and_the_1d_solver_share_one_exponential_core():
    from coarsegrain.systems import conservation1d

    model = CahnHilliard(Grid((16, 16), 0.7), quartic())
    etd = ExponentialSpectral(model, 0.1, order=4)
    one_d = conservation1d.ETDRK4(conservation1d.KdV(), 64, 1e-3)
    assert type(etd.method) is type(one_d.method) is ExponentialRK
    assert etd.method.scheme == one_d.method.scheme == "cox-matthews"
    # the weights of a real symbol, from the core: e^{L dt} first, then dt phi-combinations
    lin = torch.tensor([0.0, -1.0, -40.0], dtype=torch.float64)
    w = ExponentialRK("etd1").weights(lin, 0.5)
    torch.testing.assert_close(w[0][0], torch.exp(lin * 0.5))
    torch.testing.assert_close(w[0][1], torch.tensor([0.5, 1 - math.exp(-0.5), (1 - math.exp(-20.0)) / 40],
                                                     dtype=torch.float64), rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match="ExponentialRK: scheme must be one of"):
        ExponentialRK("rk4")


def test_long_exponential_runs_do_not_grow_hidden_anti_hermitian_modes():
    """Carried spectra must stay Hermitian: round-off in the self-conjugate slices of the half
    spectrum is invisible to irfft and would grow at the unstable modes' rate e^{t/4} (float32:
    overflow near t = 300). The same run restarted from the real field every 10 time units
    (which re-projects) must agree."""
    model = CahnHilliard(Grid((32, 32), 0.75), quartic())   # k < 1: linearly unstable modes
    u0 = uniform(model.grid, 1, low=-0.3, high=0.3, seed=8).float()
    stepper = ExponentialSpectral(model, 0.1, order=2)
    whole = stepper.advance(u0, 3000)
    chunked = u0
    for _ in range(30):
        chunked = stepper.advance(chunked, 100)
    assert torch.isfinite(whole).all()
    torch.testing.assert_close(whole, chunked, rtol=0, atol=1e-3)


@pytest.mark.parametrize("method", ["etd4", "etd4-ho", "etd4-adaptive"])
def test_exponential_steppers_agree_across_devices_and_precisions(device, dtype, method):
    """CUDA (cuFFT, CUDA pointwise ops) against the CPU in float64; float32 against float64."""
    model = CahnHilliard(Grid((32, 32), L / 32), quartic())
    u0 = smooth_field(32)
    options = {"rtol": 1e-6} if method == "etd4-adaptive" else {}
    reference = make_stepper(model, method, 0.25, **options).advance(u0, 16)
    got = make_stepper(model, method, 0.25, **options).advance(u0.to(device, dtype), 16)
    assert got.device.type == device and got.dtype == dtype
    tolerance = 1e-10 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(got.cpu().double(), reference, rtol=0, atol=tolerance)
