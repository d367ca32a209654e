"""Rollout of right-hand sides: exact RHS reproduces the simulator; receptive fields; blow-up."""

from __future__ import annotations

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.models import StencilConvNet
from coarsegrain.rollout import BlowUpError, receptive_field, rollout, solve_ivp_rollout
from coarsegrain.systems import AllenCahn, CahnHilliard, ExplicitEuler, quartic
from coarsegrain.systems.initial import gaussian_random_field


@pytest.fixture
def allen_cahn():
    m = AllenCahn(Grid((16, 16)), quartic())
    u0 = gaussian_random_field(m.grid, 2, correlation_length=2.0, std=0.3, seed=0)
    reference = ExplicitEuler(m, 1e-4).advance(u0, 10000)  # t = 1
    return m, u0, reference


@pytest.mark.parametrize("method", ["rk4", "euler"])
def test_fixed_step_rollout_of_the_exact_rhs_reproduces_the_simulator(allen_cahn, method):
    m, u0, reference = allen_cahn
    dt = 0.01 if method == "rk4" else 1e-4
    steps = round(1.0 / dt)
    traj = rollout(lambda u: m.rhs(u, "fd"), u0, dt, steps, method=method, save_every=steps)
    assert traj.shape == (2, *u0.shape)
    torch.testing.assert_close(traj[0], u0)
    tol = 1e-4 if method == "rk4" else 1e-12
    assert (traj[-1] - reference).abs().max().item() < tol


@pytest.mark.parametrize("method,sparsity", [("BDF", "auto"), ("BDF", None), ("LSODA", "auto"), ("RK45", "auto")])
def test_solve_ivp_rollout_of_the_exact_rhs(allen_cahn, method, sparsity):
    m, u0, reference = allen_cahn
    traj = solve_ivp_rollout(lambda u: m.rhs(u, "fd"), u0, [0.0, 0.5, 1.0], method=method, ndim=2,
                             rtol=1e-8, atol=1e-10, jac_sparsity=sparsity)
    assert traj.shape == (3, *u0.shape)
    assert (traj[-1] - reference).abs().max().item() < 1e-4


def test_receptive_fields():
    ch = CahnHilliard(Grid((12, 12)), quartic())
    offsets = receptive_field(lambda u: ch.rhs(u, "fd"), (1, 12, 12), 2)
    # lap(f'(u) - lap u): the 13-point diamond |dy| + |dx| <= 2.
    assert offsets == sorted((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if abs(dy) + abs(dx) <= 2)
    net = StencilConvNet(1, kernel=5).double()
    offsets = receptive_field(lambda u: net(u), (1, 1, 16), 1)
    assert offsets == [(-2,), (-1,), (0,), (1,), (2,)]


def test_blow_up_is_reported_with_time_and_place():
    u0 = torch.zeros(1, 8, dtype=torch.float64)
    u0[0, 3] = 1.0  # u_t = u^2 from u = 1 blows up at t = 1
    with pytest.raises(BlowUpError, match=r"rollout blew up at t = 0\.9[0-9]*: value 1\d\.?\d* outside the bounds "
                                          r"\[-10, 10\] at index \(0, 3\)") as info:
        rollout(lambda u: u * u, u0, 1e-3, 2000, method="rk4", bounds=10.0)
    assert 0.88 < info.value.time < 1.0 and info.value.index == (0, 3)
    assert info.value.trajectory is not None
    with pytest.raises(BlowUpError, match=r"non-finite"):
        rollout(lambda u: u * float("nan"), u0, 1e-3, 5)
    with pytest.raises(BlowUpError):
        solve_ivp_rollout(lambda u: u * u, u0, [0.0, 2.0], method="RK45", bounds=100.0)


def test_rollout_bounds_take_a_number_or_a_pair_and_one_check_serves_both_rollouts():
    from coarsegrain.rollout.learned import normalize_bounds

    assert normalize_bounds(None) is None and normalize_bounds(2) == (-2.0, 2.0)
    assert normalize_bounds((-0.5, 1.5)) == (-0.5, 1.5) and normalize_bounds([0, 1]) == (0.0, 1.0)
    for bad, match in ((0.0, "positive number"), (float("nan"), "positive number"), ((1.0, 0.0), "lo < hi"),
                       ("ab", "positive number b"), ((1, 2, 3), "positive number b"), (True, "positive number b")):
        with pytest.raises(ValueError, match=r"bounds must .*" + match):
            normalize_bounds(bad)
    # a pair bounds each side: u' = 1 from 0 leaves [-1, 0.5] at t > 0.5, not at |u| > 1
    u0 = torch.zeros(1, 4, dtype=torch.float64)
    with pytest.raises(BlowUpError, match=r"t = 0\.6: value 0\.6 outside the bounds \[-1, 0\.5\]") as info:
        rollout(lambda u: torch.ones_like(u), u0, 0.1, 10, method="euler", bounds=(-1.0, 0.5), progress=False)
    assert info.value.trajectory.shape == (6, 1, 4)  # the frames before the blow-up
    out = rollout(lambda u: -torch.ones_like(u), u0, 0.1, 5, method="euler", bounds=(-1.0, 0.5), progress=False)
    assert out[-1].min().item() == pytest.approx(-0.5)
    with pytest.raises(ValueError, match=r"bounds must have lo < hi, got \(1, -1\)"):
        rollout(lambda u: u, u0, 0.1, 2, bounds=(1.0, -1.0))
    with pytest.raises(BlowUpError, match=r"outside the bounds \[-0\.4, 0\.4\]"):
        solve_ivp_rollout(lambda u: torch.ones_like(u), u0, [0.0, 1.0], method="RK45", bounds=0.4, progress=False)
