"""arbabi2020 (issue 19): the equation-free presets, the a* and tensor fits, the F/G nets, BDF
rollouts and the `coarsegrain reproduce arbabi2020` command (tiny sizes)."""

import math

import numpy as np
import pytest
import torch

from coarsegrain.cli import main
from coarsegrain.data import get_preset, load, open_dataset, simulate
from coarsegrain.equation_free.datasets import (
    ARBABI_A_STAR,
    GapToothSpec,
    SineModes2D,
    exact_homogenized_2d,
    gap_tooth_scheme,
)
from coarsegrain.equation_free.homogenization import ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y, effective_diffusion_tensor
from coarsegrain.experiments import arbabi2020 as A
from coarsegrain.rollout import solve_ivp_rollout

D_STAR = effective_diffusion_tensor(ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # these tensors are tiny: torch's thread team only contends with other processes
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def patch_1d(tmp_path_factory):
    spec = get_preset("arbabi-patch-1d").replace(n_traj=2, t_end=0.006, seed=3)
    path = simulate(spec, tmp_path_factory.mktemp("p1") / "p.h5", progress=False)
    return spec, path


def test_patch_1d_preset_round_trip(patch_1d):
    spec, path = patch_1d
    data = load(path)
    info = data["info"]
    assert info.grid_shape == (11,) and info.boundary == "dirichlet" and info.has_rhs and info.complete
    assert data["fields"].shape == (2, 7, 1, 11) and data["rhs"].shape == (2, 7, 1, 11)
    np.testing.assert_allclose(data["time"], np.arange(7) * 1e-3, atol=1e-15)
    ics = spec.initial_conditions(range(2))
    np.testing.assert_array_equal(data["trajectory_parameters"]["amplitude"], ics.amplitude)
    U0, bv = ics.macro_state(spec.geometry())
    np.testing.assert_allclose(data["fields"][:, 0, 0, 1:-1], U0.numpy(), rtol=0, atol=1e-14)
    # Dirichlet ends: held values, zero rate
    np.testing.assert_array_equal(data["fields"][:, :, 0, 0], np.repeat(bv[:, :1].numpy(), 7, 1))
    assert np.all(data["rhs"][:, :, 0, [0, -1]] == 0)
    # forward-Euler projective steps: U(t + dt) = U + dt * rate
    U, R = data["fields"][:, :, 0], data["rhs"][:, :, 0]
    np.testing.assert_allclose(U[:, 1:], U[:, :-1] + 1e-3 * R[:, :-1], rtol=0, atol=1e-12)
    with open_dataset(path) as reader:
        assert reader.info.parameters["burst_scheme"] == "crank_nicolson"
        assert reader.frames(1, 3).shape == (1, 11)


def test_a_star_fit_from_a_tiny_dataset(patch_1d):
    _, path = patch_1d
    data = load(path)
    a = A.fit_a_star(data["fields"][:, :, 0], data["rhs"][:, :, 0], 0.1)
    assert abs(a / ARBABI_A_STAR - 1) < 1e-3
    assert abs(ARBABI_A_STAR - 0.45825686) < 1e-6


def test_gap_tooth_preset_expm_matches_rk4_and_the_homogenized_solution(tmp_path):
    base = GapToothSpec(n_traj=2, t_end=0.03, patches=8, cells_per_side=240, max_wavenumber=3, seed=4)
    exact = simulate(base, tmp_path / "e.h5", progress=False)
    rk4 = simulate(base.replace(integrator="rk4"), tmp_path / "r.h5", progress=False)
    e, r = load(exact), load(rk4)
    assert e["fields"].shape == (2, 3, 1, 8, 8)
    np.testing.assert_allclose(e["time"], [0.01, 0.02, 0.03])
    scale = np.abs(e["fields"]).max()
    np.testing.assert_allclose(e["fields"], r["fields"], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(e["rhs"], r["rhs"], rtol=0, atol=1e-8 * np.abs(e["rhs"]).max())
    # against the exact homogenized solution with D* (patch averages): the scheme's own error only
    modes = base.initial_conditions(range(2))
    truth = exact_homogenized_2d(modes, e["time"], D_STAR, (base.centres, base.centres),
                                 micro_spacing=base.micro_spacing)
    assert np.abs(e["fields"][:, :, 0] - truth).max() < 2e-3 * scale


def test_exact_homogenized_2d_is_the_restriction_of_eq28(tmp_path):
    spec = GapToothSpec(patches=8, cells_per_side=240, max_wavenumber=3)
    modes = spec.initial_conditions(range(3))
    scheme = gap_tooth_scheme(spec)
    from coarsegrain.equation_free.datasets import lift_modes

    lifted = scheme.restrict(lift_modes(scheme, modes))
    at0 = exact_homogenized_2d(modes, [0.0], D_STAR, (spec.centres, spec.centres), micro_spacing=spec.micro_spacing)
    np.testing.assert_allclose(at0[:, 0], lifted.numpy(), atol=1e-13)


def test_tensor_fit_from_exact_rates_and_from_gap_tooth_data(tmp_path):
    spec = GapToothSpec(n_traj=2, t_end=0.05, patches=8, cells_per_side=240, max_wavenumber=3, seed=1)
    modes = spec.initial_conditions(range(2))
    times = np.linspace(0, 0.1, 5)
    U = exact_homogenized_2d(modes, times, D_STAR, (spec.centres, spec.centres))
    rates = A.RHS2D("tensor", coef=D_STAR)(torch.from_numpy(U.reshape(-1, 8, 8))).numpy()
    np.testing.assert_allclose(A.fit_tensor(U, rates.reshape(U.shape)), D_STAR, atol=1e-10)
    data = load(simulate(spec, tmp_path / "g.h5", progress=False))
    fitted = A.fit_tensor(data["fields"][:, :, 0], data["rhs"][:, :, 0])
    assert np.abs(fitted - D_STAR).max() < 2e-3 * np.abs(D_STAR).max()


def test_preset_sizes_and_refused_options():
    assert get_preset("arbabi-patch-1d", full=True).n_traj == 10
    assert get_preset("arbabi-gaptooth-2d", full=True).n_traj == 100
    assert get_preset("arbabi-gaptooth-2d").n_frames == 100
    with pytest.raises(ValueError, match="grid"):
        get_preset("arbabi-patch-1d", grid=[5])
    with pytest.raises(ValueError, match="t_end"):
        get_preset("arbabi-patch-1d", t_end=0.0015)


def test_nets_are_the_papers_and_map_the_macro_grids():
    f1, g1 = A.RHS1D("F", 0.1), A.RHS1D("G", 0.1)
    linears = [m for m in f1.net.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 32), (32, 32), (32, 1)]
    assert [type(m).__name__ for m in f1.net.mlp] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    convs = [m for m in g1.net.net.net if isinstance(m, torch.nn.Conv1d)]
    assert [(c.kernel_size[0], c.out_channels) for c in convs] == [(3, 32), (1, 32), (1, 1)]
    U = torch.randn(5, 11)
    assert f1(U).shape == (5, 9) and g1(U).shape == (5, 9)
    # G's tooth outputs never see the other end (no periodic wrap under Dirichlet ends)
    V = U.clone()
    V[:, -1] += 10.0
    assert torch.equal(g1(U)[:, :-1], g1(V)[:, :-1]) and torch.equal(f1(U)[:, :-1], f1(V)[:, :-1])
    f2, g2 = A.RHS2D("F"), A.RHS2D("G")
    W = torch.randn(3, 16, 16)
    assert f2(W).shape == (3, 16, 16) and g2(W).shape == (3, 16, 16)


def test_spectral_features_are_exact_for_resolved_modes():
    x = (torch.arange(16, dtype=torch.float64) + 0.5) * 2 * math.pi / 16
    X, Y = torch.meshgrid(x, x, indexing="ij")
    U = torch.sin(2 * X + 0.3) * torch.cos(3 * Y)
    f = A.spectral_features_2d(U)
    exact = [U, 2 * torch.cos(2 * X + 0.3) * torch.cos(3 * Y), -3 * torch.sin(2 * X + 0.3) * torch.sin(3 * Y),
             -4 * U, -9 * U, -6 * torch.cos(2 * X + 0.3) * torch.sin(3 * Y)]
    for k, e in enumerate(exact):
        assert torch.allclose(f[..., k], e, atol=1e-12), k


@pytest.mark.parametrize("kind", ["F", "G"])
def test_net_trained_on_exact_homogenized_data_learns_a_star_uxx(kind):
    from coarsegrain.equation_free.patch_dynamics import random_sine_series

    x = np.linspace(0, 1, 11)
    series = random_sine_series(600, seed=2, max_wavenumber=1.5)
    U = torch.from_numpy(series(x))
    target = A.RHS1D("fd", 0.1, coef=ARBABI_A_STAR)(U)
    torch.manual_seed(0)
    rhs = A.RHS1D(kind, 0.1)
    rhs.net = rhs.net.double()
    A.train_rhs_model(rhs, U[:500], target[:500], epochs=40, lr=3e-3, seed=0)  # 320 Adam steps
    with torch.no_grad():
        pred = rhs(U[500:])
    d2 = (U[500:, 2:] - 2 * U[500:, 1:-1] + U[500:, :-2]) / 0.01
    slope = float((pred * d2).sum() / (d2 * d2).sum())
    assert abs(slope / ARBABI_A_STAR - 1) < 0.03
    assert float((pred - target[500:]).norm() / target[500:].norm()) < 0.05


def _rollout(rhs, U0: np.ndarray, times, **tolerances) -> np.ndarray:
    """arbabi2020's rollout (solve_ivp_rollout with ROLLOUT_OPTIONS) of ``rhs`` from ``U0 [*shape]``."""
    options = {**A.ROLLOUT_OPTIONS, **tolerances}
    return solve_ivp_rollout(rhs, torch.from_numpy(U0[None]), times, progress=False, **options)[:, 0].numpy()


def test_the_rollout_of_the_exact_operator_matches_sine_modes():
    # 2D: sin(x) sin(2y) + 0.5 sin(3x + 1) sin(y) under div(D* grad u), exact decay k^T D* k per plane wave
    modes = SineModes2D(np.array([[1.0, 0.5]]), np.array([[1.0, 3.0]]), np.array([[2.0, 1.0]]),
                        np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]]))
    centres = (np.arange(8) + 0.5) * 2 * math.pi / 8
    times = np.linspace(0, 1, 11)
    truth = exact_homogenized_2d(modes, times, D_STAR, (centres, centres))[0]
    roll = _rollout(A.RHS2D("tensor", coef=D_STAR), truth[0], times, rtol=1e-9, atol=1e-11)
    assert A.relative_mse(roll, truth) < 1e-14
    # 1D: sin(pi x) with zero Dirichlet ends decays at the semi-discrete rate a (2 - 2 cos(pi dx)) / dx^2
    x = np.linspace(0, 1, 11)
    rate = ARBABI_A_STAR * (2 - 2 * math.cos(math.pi * 0.1)) / 0.01
    exact = np.exp(-rate * times)[:, None] * np.sin(math.pi * x[1:-1])
    fd = A.RHS1D("fd", 0.1, coef=ARBABI_A_STAR)

    def interior(v):
        return fd(torch.nn.functional.pad(v, (1, 1)))

    roll1 = _rollout(interior, exact[0], times, rtol=1e-10, atol=1e-12)
    per = A.relative_mse_per_snapshot(roll1, exact)
    assert per.max() < 1e-12 and A.relative_mse(roll1, exact) < 1e-12
    # the error measure itself (Eq 24): a 10% uniform overshoot of a zero-mean field is 1e-2
    assert A.relative_mse(1.1 * exact, exact) == pytest.approx(
        0.01 * (exact ** 2).sum() / ((exact - exact.mean()) ** 2).sum())
    # a rollout of a trained net runs through the autograd Jacobian too
    g = A.RHS1D("G", 0.1)
    g.net = g.net.double()
    out = _rollout(lambda v: g(torch.nn.functional.pad(v, (1, 1))), exact[0], times[:3])
    assert out.shape == (3, 9) and np.isfinite(out).all()


def test_largest_fourier_modes_pick_the_initial_modes():
    x = (np.arange(16) + 0.5) * 2 * math.pi / 16
    X, Y = np.meshgrid(x, x, indexing="ij")
    U = np.stack([np.sin(X) * np.exp(-t) + 0.3 * np.cos(2 * Y) for t in (0, 0.5, 1)])
    idx, mags = A.largest_fourier_modes(U, 2)
    assert idx == [(1, 0), (0, 2)]  # sin x once (not also its conjugate (15, 0)), then cos 2y
    np.testing.assert_allclose(mags[:, 0], 0.5 * np.exp(-np.array([0, 0.5, 1])), rtol=1e-12)
    np.testing.assert_allclose(mags[:, 1], 0.15, rtol=1e-12)


def test_config_refuses_bad_values():
    with pytest.raises(ValueError, match="section"):
        A.ArbabiConfig(sections=("3d",)).resolved()
    with pytest.raises(ValueError, match="CPU"):
        A.ArbabiConfig(device="cuda").resolved()
    with pytest.raises(ValueError, match="t_end_1d"):
        A.ArbabiConfig(t_end_1d=0.0005).resolved()
    with pytest.raises(ValueError, match="schedule"):
        A.ArbabiConfig(schedule="step").resolved()
    with pytest.raises(ValueError, match="schedule"):
        A.train_rhs_model(A.RHS1D("F", 0.1), torch.zeros(2, 11), torch.zeros(2, 9), epochs=1, schedule="step")
    full = A.ArbabiConfig(full=True).resolved()
    assert (full["train_1d"], full["test_1d"], full["train_2d"], full["test_2d"]) == (8, 2, 85, 15)


def test_cli_help_and_bad_flags(capsys):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "arbabi2020", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "Default size" in out and "--full" in out and "--sections" in out
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "arbabi2020", "--sections", "1d", "3d"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--sections" in err and "3d" in err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "arbabi2020", "--epochs-1d", "0"])
    assert e.value.code == 2
    assert "--epochs-1d" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "arbabi2020", "--bogus"])
    assert e.value.code == 2


def test_patch_1d_preset_resumes_an_interrupted_run(tmp_path, monkeypatch):
    from coarsegrain.data.dataset import partial_path
    from coarsegrain.equation_free import datasets

    spec = get_preset("arbabi-patch-1d").replace(n_traj=2, t_end=0.003, batch=1, seed=7)
    whole = load(simulate(spec, tmp_path / "whole.h5", progress=False))
    real, calls = datasets._patch_dynamics_run, []

    def interrupted(*args):
        calls.append(args[1].shape[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(datasets, "_patch_dynamics_run", interrupted)
    path = tmp_path / "resumed.h5"
    with pytest.raises(KeyboardInterrupt):
        simulate(spec, path, progress=False)
    assert partial_path(path).exists() and not path.exists()
    calls.clear()
    monkeypatch.setattr(datasets, "_patch_dynamics_run", lambda *a: (calls.append(1), real(*a))[1])
    resumed = load(simulate(spec, path, progress=False))
    assert calls == [1]  # only the missing trajectory ran
    np.testing.assert_array_equal(resumed["fields"], whole["fields"])
    np.testing.assert_array_equal(resumed["rhs"], whole["rhs"])
