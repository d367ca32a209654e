"""Phase-field models and steppers: conservation, dissipation, orders of accuracy, energies."""

from __future__ import annotations

import math

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.systems import (
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
from coarsegrain.systems.steppers import _phi_functions
from coarsegrain.systems.initial import uniform

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
        lambda: ExplicitEuler(CahnHilliard(Grid((10, 10, 10)), lanzoni(3.0), kappa=3.0), 1.25e-3),
    ],
    ids=["ch-explicit", "ch-spectral", "ch-spectral2", "pfc-spectral", "ch-etd2", "pfc-etd1", "ch3d-lanzoni"],
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
@pytest.mark.parametrize("method", ["explicit", "spectral", "spectral2", "etd1", "etd2"])
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


@pytest.mark.parametrize("order", [1, 2])
def test_exponential_spectral_order_in_time(order):
    model = AllenCahn(Grid((32, 32), L / 32), quartic())
    u0 = smooth_field(32)
    reference = ExponentialSpectral(model, 1e-3, order=2).advance(u0, 2000)
    errors = [_error(ExponentialSpectral(model, dt, order=order).advance(u0, round(2.0 / dt)), reference)
              for dt in (0.2, 0.1)]
    assert math.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.2), errors


def test_phi_functions_are_accurate_across_the_series_switch():
    z = torch.tensor([-50.0, -1.0, -0.011, -0.009, -1e-8, 0.0, 1e-8, 0.009, 0.5], dtype=torch.float64)
    phi1, phi2 = _phi_functions(z)
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    for zi, p1, p2 in zip(z.tolist(), phi1.tolist(), phi2.tolist()):
        zz = mp.mpf(zi)
        e1 = 1 if zi == 0 else (mp.e**zz - 1) / zz
        e2 = mp.mpf(1) / 2 if zi == 0 else (mp.e**zz - 1 - zz) / zz**2
        assert p1 == pytest.approx(float(e1), rel=1e-12)
        assert p2 == pytest.approx(float(e2), rel=1e-10)
