"""Rollout of right-hand sides: exact RHS reproduces the simulator; receptive fields; blow-up; the one RK4
step; solve_ivp with the autograd Jacobian (exact linear solutions) and its two failure modes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from coarsegrain import Grid
from coarsegrain.models import StencilConvNet
from coarsegrain.rollout import BlowUpError, receptive_field, rk4_step, rollout, solve_ivp_rollout
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


# --- the one RK4 step ---------------------------------------------------------------------------------

def _linear_ode(n: int = 6, dtype=torch.float64, seed: int = 0):
    """A stiff linear system u' = A u (eigenvalues -1 ... -1000, non-normal) and its rhs on ``[1, n]``."""
    rng = np.random.default_rng(seed)
    basis = np.eye(n) + 0.3 * rng.standard_normal((n, n))
    A = basis @ np.diag(-np.logspace(0, 3, n)) @ np.linalg.inv(basis)
    A_t = torch.from_numpy(A.T.copy()).to(dtype)
    return A, (lambda u: u @ A_t)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rk4_step_is_fourth_order_and_serves_rollout_and_the_patch_scheme(dtype):
    from coarsegrain.equation_free.patch_scheme import rk4_integrate

    A = np.array([[-1.0, 2.0], [-2.0, -1.0]])  # spiral decay: exp(-t) times a rotation by 2t
    A_t = torch.from_numpy(A.T.copy()).to(dtype)

    def rhs(u):
        return u @ A_t

    u0 = torch.tensor([[1.0, 0.5]], dtype=dtype)
    exact = scipy.linalg.expm(A * 0.5) @ u0[0].double().numpy()
    errors = []
    for steps in (10, 20):
        u = u0
        for _ in range(steps):
            u = rk4_step(rhs, u, 0.5 / steps)
        assert u.dtype == dtype
        errors.append(np.abs(u[0].double().numpy() - exact).max())
    if dtype == torch.float64:
        assert 15.0 < errors[0] / errors[1] < 17.0  # 2^4: fourth order
    else:
        assert errors[1] < 1e-5
    # rollout(method="rk4") and rk4_integrate take exactly these steps (bit for bit)
    u = u0
    for _ in range(20):
        u = rk4_step(rhs, u, 0.025)
    assert torch.equal(rollout(rhs, u0, 0.025, 20, method="rk4", progress=False)[-1], u)
    assert torch.equal(rk4_integrate(rhs, u0, [0.0, 0.25, 0.5], max_step=0.025)[-1], u)


# --- solve_ivp_rollout with the autograd Jacobian, its failure modes, its BLAS thread -----------------------

@pytest.mark.parametrize("dtype,rtol,atol,tol", [(torch.float64, 1e-10, 1e-12, 1e-8), (torch.float32, 1e-5, 1e-7, 2e-5)])
def test_bdf_with_the_autograd_jacobian_reproduces_a_linear_odes_exact_solution(dtype, rtol, atol, tol):
    from threadpoolctl import threadpool_info

    A, linear = _linear_ode(dtype=dtype)
    seen = {"grad": False, "blas_threads": None}

    def rhs(u):
        seen["grad"] |= u.requires_grad
        if seen["blas_threads"] is None:
            seen["blas_threads"] = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return linear(u)

    u0 = torch.linspace(-1.0, 1.0, 6, dtype=dtype)[None]
    times = np.linspace(0.0, 2.0, 9)  # float32: rtol 1e-5 (1e-6 is below rhs's rounding: 20x the steps)
    out = solve_ivp_rollout(rhs, u0, times, method="BDF", jacobian="autograd", rtol=rtol, atol=atol, progress=False)
    exact = np.stack([scipy.linalg.expm(A * t) @ u0[0].double().numpy() for t in times])
    assert out.shape == (9, 1, 6) and out.dtype == dtype
    assert np.abs(out[:, 0].double().numpy() - exact).max() < tol
    assert seen["grad"]  # the Jacobian came from autograd
    assert seen["blas_threads"] and all(n == 1 for n in seen["blas_threads"])  # BLAS on one thread in solve_ivp
    # solve_ivp's own finite differences do not differentiate through rhs
    seen["grad"] = False
    solve_ivp_rollout(rhs, u0, times, method="BDF", jac_sparsity=None, rtol=rtol, atol=atol, progress=False)
    assert not seen["grad"]


def test_solve_ivp_failure_raises_or_gives_nan_from_the_failure_on():
    def nan_above(u):  # u' = u until u passes 1.5 (t = ln 1.5 = 0.405), NaN beyond
        return torch.where(u > 1.5, torch.full_like(u, float("nan")), u)

    u0 = torch.ones(1, 3, dtype=torch.float64)
    times = np.linspace(0.0, 1.0, 11)
    out = solve_ivp_rollout(nan_above, u0, times, method="BDF", jacobian="autograd", rtol=1e-10, atol=1e-12,
                            on_failure="nan", progress=False)
    assert out.shape == (11, 1, 3)
    np.testing.assert_allclose(out[:5, 0].numpy(), np.exp(times[:5])[:, None].repeat(3, 1), rtol=1e-8)
    assert torch.isnan(out[5:]).all()
    with pytest.raises(BlowUpError, match=r"solve_ivp \(BDF\) failed at t = 0\.4: Required step size") as info:
        solve_ivp_rollout(nan_above, u0, times, method="BDF", jacobian="autograd", progress=False)
    assert info.value.trajectory.shape == (5, 1, 3)  # the frames reached
    # a frame outside the bounds (e^0.3 = 1.35 > 1.3) is NaN on, and with on_failure="raise" it stops the run
    out = solve_ivp_rollout(lambda u: u, u0, times, method="BDF", jacobian="autograd", bounds=1.3, on_failure="nan",
                            progress=False)
    assert torch.isfinite(out[:3]).all() and torch.isnan(out[3:]).all()
    with pytest.raises(BlowUpError, match=r"outside the bounds \[-1\.3, 1\.3\]"):
        solve_ivp_rollout(lambda u: u, u0, times, method="BDF", jacobian="autograd", bounds=1.3, progress=False)


def test_solve_ivp_rollout_refuses_bad_options():
    u0 = torch.ones(1, 3, dtype=torch.float64)
    cases = [(dict(jacobian="exact"), r"jacobian must be one of \('finite-difference', 'autograd'\), got 'exact'"),
             (dict(on_failure="zero"), r"on_failure must be one of \('raise', 'nan'\), got 'zero'"),
             (dict(method="RK45", jacobian="autograd"), r"jacobian='autograd' needs an implicit method .* got 'RK45'"),
             (dict(jacobian="autograd", jac_sparsity=None), r"jac_sparsity applies to jacobian='finite-difference'")]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=r"^solve_ivp_rollout: " + match):
            solve_ivp_rollout(lambda u: -u, u0, [0.0, 1.0], progress=False, **kwargs)
