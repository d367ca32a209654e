"""The Fourier steppers do not depend on the origin the physics is written about (issue 15.2).

A double well about 0.5 in c and the same well about 0 in u = c - 0.5 are one problem; a
scheme that linearizes f' about 0 (rather than about the conserved mean) or that measures its
error relative to the RMS of U (its mean included) treats them differently.
"""

from __future__ import annotations

import math

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.systems import (
    AdaptiveExponentialSpectral,
    AllenCahn,
    CahnHilliard,
    ExponentialSpectral,
    PolynomialEnergy,
    SemiImplicitSpectral,
    double_well,
    lanzoni,
)
from coarsegrain.systems.initial import gaussian_random_field

SHIFT = 0.5
GRID = Grid((32, 32), 1.0)
T = 10.0


def _models(kind):
    # PFHub benchmark 1's energy and constants (rho 5, kappa 2, M 5), wells at 0.3 and 0.7
    return tuple(kind(GRID, double_well(5.0, SHIFT + a, SHIFT + b), mobility=5.0, kappa=2.0)
                 for a, b in ((-0.2, 0.2), (-0.2 - SHIFT, 0.2 - SHIFT)))


@pytest.fixture(scope="module")
def problem():
    """(model in c, model in u, u0, fine-step reference in u) for Cahn-Hilliard spinodal growth."""
    model_c, model_u = _models(CahnHilliard)
    u0 = gaussian_random_field(GRID, 1, correlation_length=3.0, std=0.05, seed=1)
    reference = ExponentialSpectral(model_u, 0.01, order=4, variant="hochbruck-ostermann").advance(u0, 1000)
    assert reference.std() > 0.1  # the phases have separated: the nonlinearity matters
    return model_c, model_u, u0, reference


def _error(u, reference):
    return (u - reference).abs().max().item()


STEPPERS = {
    "semi-implicit 1": (lambda m: SemiImplicitSpectral(m, 0.05, order=1), 0.05),
    "semi-implicit 2": (lambda m: SemiImplicitSpectral(m, 0.05, order=2), 0.05),
    "etd1": (lambda m: ExponentialSpectral(m, 0.1, order=1), 0.1),
    "etd2": (lambda m: ExponentialSpectral(m, 0.1, order=2), 0.1),
    "etd4 cox-matthews": (lambda m: ExponentialSpectral(m, 0.1, order=4), 0.1),
    "etd4 hochbruck-ostermann": (lambda m: ExponentialSpectral(m, 0.1, order=4, variant="hochbruck-ostermann"), 0.1),
    "etd4 stabilized": (lambda m: ExponentialSpectral(m, 0.2, order=4, stabilization=0.5), 0.2),
}


@pytest.mark.parametrize("name", list(STEPPERS))
def test_the_same_problem_in_c_and_in_c_minus_a_half_has_the_same_error_for_the_same_work(problem, name):
    model_c, model_u, u0, reference = problem
    make, dt = STEPPERS[name]
    steps = round(T / dt)
    error_c = _error(make(model_c).advance(u0 + SHIFT, steps) - SHIFT, reference)
    error_u = _error(make(model_u).advance(u0, steps), reference)
    assert error_c == pytest.approx(error_u, rel=0.1), (error_c, error_u)
    assert error_u < 1e-2  # a meaningful comparison: both converge


def test_the_adaptive_stepper_takes_the_same_steps_to_the_same_error_in_c_and_in_c_minus_a_half(problem):
    model_c, model_u, u0, reference = problem
    results = []
    for model, shift in ((model_c, SHIFT), (model_u, 0.0)):
        stepper = AdaptiveExponentialSpectral(model, 1.0, rtol=1e-4)
        u = stepper.advance(u0 + shift, round(T)) - shift
        # the free energy in one writing (the two differ by a constant)
        energy = model_u.free_energy(u, "spectral").item()
        results.append((_error(u, reference), energy, stepper.stats["nonlinear_evaluations"]))
    (error_c, energy_c, work_c), (error_u, energy_u, work_u) = results
    assert error_c == pytest.approx(error_u, rel=0.1), results
    assert work_c == pytest.approx(work_u, rel=0.1), results
    energy_reference = model_u.free_energy(reference, "spectral").item()
    assert abs(energy_c - energy_reference) < 1e-4 * abs(energy_reference), results
    assert error_u < 1e-3


@pytest.mark.parametrize("method", ["etd2", "etd4 hochbruck-ostermann"])
def test_allen_cahn_is_split_about_the_midpoint_of_the_wells(method):
    """Allen-Cahn's mean moves: the default reference is where the double well is symmetric,
    which moves with the origin the energy is written about."""
    model_c, model_u = _models(AllenCahn)
    u0 = gaussian_random_field(GRID, 1, correlation_length=3.0, std=0.1, seed=2)
    make, dt = STEPPERS[method]
    stepper_c = make(model_c)
    got_c = stepper_c.advance(u0 + SHIFT, 20) - SHIFT
    got_u = make(model_u).advance(u0, 20)
    torch.testing.assert_close(got_c, got_u, rtol=0, atol=1e-12)
    assert stepper_c._groups(u0 + SHIFT) == [(pytest.approx(SHIFT, abs=1e-12), None)]


def test_fields_of_different_means_in_one_batch_each_get_their_own_linear_part():
    """A field's result does not depend on fields of other means it is batched with, and each
    is linearized about its own mean (two sub-batches here; the adaptive stepper takes one step
    size for a sub-batch)."""
    model = CahnHilliard(Grid((24, 24), 1.0), lanzoni(3.0), kappa=3.0)
    noise = gaussian_random_field(model.grid, 3, correlation_length=3.0, std=0.05, seed=4)
    u0 = noise + torch.tensor([0.5, 0.35, 0.5], dtype=torch.float64)[:, None, None]
    for make in (lambda: ExponentialSpectral(model, 0.05, order=4),
                 lambda: AdaptiveExponentialSpectral(model, 0.5, rtol=1e-5)):
        stepper = make()
        groups = stepper._groups(u0)
        assert [r for r, _ in groups] == [0.5, pytest.approx(0.35, abs=1 / 512)]
        assert groups[0][1].tolist() == [0, 2] and groups[1][1].tolist() == [1]
        batched = stepper.advance(u0, 4)
        for index in ([0, 2], [1]):
            alone = make().advance(u0[index], 4)
            torch.testing.assert_close(batched[index], alone, rtol=0, atol=1e-13)
        torch.testing.assert_close(batched.mean((-2, -1)), u0.mean((-2, -1)), rtol=0, atol=1e-13)


def test_the_split_about_any_reference_is_the_same_equation():
    """Linearizing about 0, the mean or anything else changes the numerical error, not the
    solution: all converge to the same state."""
    model = CahnHilliard(Grid((16, 16), 1.0), lanzoni(3.0), kappa=3.0)
    u0 = gaussian_random_field(model.grid, 1, correlation_length=3.0, std=0.05, seed=5) + 0.4
    fine = ExponentialSpectral(model, 0.005, order=4, variant="hochbruck-ostermann").advance(u0, 400)
    assert (fine - u0).abs().max() > 0.05
    errors = {r: [_error(ExponentialSpectral(model, dt, order=4, reference=r).advance(u0, round(2 / dt)), fine)
                  for dt in (0.02, 0.01)] for r in ("auto", "mean", 0.0, 0.4)}
    for r, (coarse, finer) in errors.items():
        assert finer < coarse / 4 and finer < 2e-5, errors  # converging (order 3-4) to one solution
    # the split about the mean (0.4, rounded to 1/256) is the better one
    assert errors["auto"] == errors["mean"] == pytest.approx(errors[0.4], rel=0.05)
    assert errors["auto"][0] < errors[0.0][0] / 3, errors


def test_reference_is_validated_and_recorded():
    model = CahnHilliard(Grid((8, 8)), lanzoni())
    with pytest.raises(ValueError, match="reference"):
        ExponentialSpectral(model, 0.1, reference="middle")
    with pytest.raises(ValueError, match="reference"):
        ExponentialSpectral(model, 0.1, reference=math.nan)
    assert ExponentialSpectral(model, 0.1, reference=0.25).parameters()["reference"] == 0.25
    assert AdaptiveExponentialSpectral(model, 0.1).parameters()["reference"] == "auto"


@pytest.mark.parametrize("energy", [lanzoni(), double_well(5.0, 0.3, 0.7),
                                    PolynomialEnergy((0.1, -0.3, 0.2, 0.5, -0.1, 0.02))])
def test_an_energy_written_about_another_origin_is_the_same_function(energy):
    u = torch.linspace(-1.0, 1.5, 26, dtype=torch.float64)
    for r in (0.5, -0.3):
        shifted = energy.shifted(r)
        torch.testing.assert_close(shifted.f(u - r), energy.f(u), rtol=1e-12, atol=1e-12)
        assert shifted.derivative_coeffs[1] == pytest.approx(energy.d2f(torch.tensor(r, dtype=torch.float64)).item(), rel=1e-12)
    assert double_well(5.0, 0.3, 0.7).well_midpoint() == pytest.approx(0.5, abs=1e-12)
    assert PolynomialEnergy((0.0, 0.0, 1.0)).well_midpoint() == 0.0
