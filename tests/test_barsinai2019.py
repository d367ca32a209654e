"""barsinai2019 reproduction pieces: the metrics, the coarse integrator, the coarse views, the
learned models for KdV and KS, the larger-domain forcing, the reference resolution, and the
pipeline end to end at toy size."""

from __future__ import annotations

import json
import math

import pytest
import torch

from coarsegrain.experiments import barsinai2019 as bs
from coarsegrain.grid import Grid
from coarsegrain.models import LearnedFiniteVolume
from coarsegrain.models.learned_fv import baseline_width, godunov_burgers_flux
from coarsegrain.systems.conservation1d import (
    ETDRK4,
    KdV,
    KuramotoSivashinsky,
    SinusoidForcing,
    random_sinusoids,
    spectral_cell_averages,
)
from coarsegrain.training import TrainConfig


def test_valid_time_is_the_first_time_too_few_points_are_close():
    times = torch.arange(6, dtype=torch.float64)
    truth = torch.linspace(-1, 1, 50, dtype=torch.float64).repeat(6, 3, 1) + 0.1
    pred = truth.clone()
    # realization 0: 30% of the points far off from t = 3; realization 1: 10% off (still valid);
    # realization 2: NaN (diverged) from t = 2
    pred[3:, 0, :15] += 10.0
    pred[1:, 1, :5] += 10.0
    pred[2:, 2] = math.nan
    got = bs.valid_time(pred, truth, times)
    assert got.tolist() == [3.0, 5.0, 2.0]
    # the threshold is the 20th percentile of |truth|: an error just below it everywhere is valid
    q20 = torch.quantile(truth.abs(), 0.2, dim=-1, keepdim=True)
    assert bs.valid_time(truth + 0.99 * q20, truth, times).tolist() == [5.0] * 3
    assert bs.valid_time(truth + 1.01 * q20, truth, times).tolist() == [1.0] * 3


def test_ssprk3_is_third_order_and_marks_blow_up():
    rate = lambda v: -v * (1 + 0.0 * v)  # noqa: E731  (v [B, 1, n])
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    v0 = torch.ones(2, 4, dtype=torch.float64)
    errs = [abs(bs.integrate_ssprk3(rate, v0, times, dt)[-1, 0, 0].item() - math.exp(-1)) for dt in (0.1, 0.05)]
    assert 7.0 < errs[0] / errs[1] < 9.0
    forcing = lambda t: torch.full((2, 4), math.cos(t), dtype=torch.float64)  # noqa: E731
    out = bs.integrate_ssprk3(lambda v: 0 * v, v0, times, 0.01, forcing)  # v = 1 + sin t
    assert abs(out[-1, 0, 0].item() - (1 + math.sin(1.0))) < 1e-7
    # e^5 ~ 148 stays below the bound at t = 0.5; e^10 ~ 2e4 is past it by t = 1
    grow = bs.integrate_ssprk3(lambda v: 10 * v, v0, torch.tensor([0.0, 0.5, 1.0]), 0.01, bounds=1e3)
    assert torch.isnan(grow[2]).all() and torch.isfinite(grow[1]).all()
    # a (lo, hi) pair: decay from 1 to e^-1 ~ 0.37 leaves [0.5, 2] (at t = ln 2) before t = 1 only
    decay = bs.integrate_ssprk3(rate, v0, torch.tensor([0.0, 0.5, 1.0]), 0.01, bounds=(0.5, 2.0))
    assert torch.isfinite(decay[1]).all() and torch.isnan(decay[2]).all()
    assert torch.isfinite(bs.integrate_ssprk3(rate, v0, times, 0.01, bounds=None)).all()
    with pytest.raises(ValueError, match="^bounds must"):
        bs.integrate_ssprk3(rate, v0, times, 0.01, bounds=-1.0)
    with pytest.raises(TypeError, match="bound"):
        bs.integrate_ssprk3(rate, v0, times, 0.01, bound=1e3)  # the old name is gone


@pytest.mark.parametrize("finite_volume", [True, False])
def test_coarse_views_of_shifted_cells(finite_volume):
    n, f, s = 64, 4, 3
    L = 2 * math.pi
    # exact cell averages of sin(x) over [a, b): (cos a - cos b) / (b - a)
    edges = torch.arange(n // f + 1, dtype=torch.float64) * f * L / n + s * L / n
    exact = (torch.cos(edges[:-1]) - torch.cos(edges[1:])) / (edges[1:] - edges[:-1])
    if finite_volume:
        fine_edges = torch.arange(n + 1, dtype=torch.float64) * L / n
        fine = (torch.cos(fine_edges[:-1]) - torch.cos(fine_edges[1:])) / (L / n)
    else:
        fine = torch.sin(torch.arange(n, dtype=torch.float64) * L / n)
    got = bs.coarse_view(fine[None], f, s, finite_volume)[0]
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-12)


@pytest.mark.parametrize("equation", ["kdv", "ks"])
def test_standard_schemes_converge_for_kdv_and_ks(equation):
    """The untrained model (standard 6-point stencils) on exact cell averages of a smooth field
    gives the flux part of u_t at the order of its highest derivative's stencil."""
    pde = KdV(length=32.0) if equation == "kdv" else KuramotoSivashinsky(length=64.0)
    fine = random_sinusoids(Grid(1024, pde.length / 1024), 1, seed=3, max_wavenumber=2)
    rate = pde.flux_rhs(fine)
    errors = []
    for n in (32, 64, 128):
        f = 1024 // n
        v = spectral_cell_averages(fine, f)
        model = LearnedFiniteVolume(pde.length / n, coefficients="constant", equation=equation).double()
        with torch.no_grad():
            got = model(v[:, None])[:, 0]
        assert got.sum().abs() < 1e-9 * got.abs().sum()  # conservative
        errors.append((got - spectral_cell_averages(rate, f)).abs().max().item())
    order = math.log2(errors[1] / errors[2])
    assert order > 2.5, errors


def test_godunov_variant_and_flux():
    left = torch.tensor([-1.0, -1.0, 1.0, 2.0, -2.0])
    right = torch.tensor([1.0, -2.0, 2.0, 1.0, -1.0])
    # sonic rarefaction -> 0; shock (left > right) -> max f; rarefaction moving right -> f(left),
    # moving left -> f(right)
    assert godunov_burgers_flux(left, right).tolist() == [0.0, 2.0, 0.5, 2.0, 0.5]
    v = torch.randn(3, 1, 32, dtype=torch.float64)
    exact = LearnedFiniteVolume(0.2, coefficients="constant").double()
    upwind = LearnedFiniteVolume(0.2, coefficients="network", numerical_flux="godunov").double()
    torch.testing.assert_close(upwind(v), exact(v))  # equal states at initialization
    with torch.no_grad():
        upwind.net[-1].bias.normal_()
    assert upwind(v).sum(-1).abs().max() < 1e-12  # still conservative
    with pytest.raises(ValueError, match="numerical_flux"):
        LearnedFiniteVolume(0.2, equation="kdv", numerical_flux="godunov")
    with pytest.raises(ValueError, match="equation must be one of"):
        LearnedFiniteVolume(0.2, equation="heat")
    assert baseline_width("burgers", 1) == 2 and baseline_width("burgers", 3) == 4
    assert baseline_width("ks", 1) == 4 and baseline_width("kdv", 3) == 6


def test_larger_domain_forcing_has_the_training_wavenumbers_without_period_2pi():
    f = SinusoidForcing.random(4, seed=1, length=20 * math.pi, domain_multiple=10)
    physical = f.wavenumber.abs() * 2 * math.pi / f.length
    assert physical.min() >= 1.0 and physical.max() <= 3.0
    assert (f.wavenumber.abs() % 10 != 0).any()
    base = SinusoidForcing.random(4, seed=1)
    assert set(base.wavenumber.abs().unique().tolist()) <= {1.0, 2.0, 3.0}
    with pytest.raises(ValueError, match="domain_multiple"):
        SinusoidForcing.random(1, 0, domain_multiple=0)


@pytest.mark.parametrize("equation", ["kdv", "ks"])
def test_spectral_references_are_mesh_converged(equation):
    setup = bs.SETUPS[equation]
    pde = KdV(length=setup.length) if equation == "kdv" else KuramotoSivashinsky(length=setup.length)
    u0 = random_sinusoids(Grid(2 * setup.fine, setup.length / (2 * setup.fine)), 2, seed=4)
    t_end = 3.0
    fine_grid, grid = Grid(2 * setup.fine, setup.length / (2 * setup.fine)), Grid(setup.fine, setup.length / setup.fine)
    fine = ETDRK4(pde, fine_grid, setup.dt / 2).advance(u0, int(round(t_end / (setup.dt / 2))))
    coarse = ETDRK4(pde, grid, setup.dt).advance(u0[:, ::2], int(round(t_end / setup.dt)))
    diff = (spectral_cell_averages(fine, 8) - spectral_cell_averages(coarse, 4)).abs().max()
    assert diff < 1e-4 * fine.abs().max()


@pytest.mark.slow
def test_reproduction_end_to_end_at_toy_size(tmp_path):
    cfg = bs.BarsinaiConfig(equations=("burgers", "ks"), factors={"burgers": [8, 16], "ks": [8]},
                            train_factors={"burgers": [16], "ks": [8]}, n_train=2, t_train=1.0, n_test=2,
                            t_max=1.0, t_mae=1.0, n_large=1, large_multiple=2, save_dt=0.25, steps=20)
    results = bs.run(tmp_path, cfg, progress=False)
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["equations"]["burgers"]["valid_time"]["16"]["network"]["median_valid_time"] <= 1.0
    for eq, methods in (("burgers", {"fv1", "fv3", "weno5", "network", "constant"}), ("ks", {"fv1", "fv3"})):
        for f, row in results["equations"][eq]["valid_time"].items():
            names = {k for k, v in row.items() if isinstance(v, dict)}
            assert names >= methods - ({"network", "constant"} if (eq, f) != ("burgers", "16") else set())
            for name in names:
                assert 0.0 <= row[name]["median_valid_time"] <= 1.0
    assert set(results["equations"]["burgers"]["large_domain"]) == {"8", "16"}
    assert (tmp_path / "fig4_valid_time.png").stat().st_size > 0
    assert (tmp_path / "fig3c_mae.png").stat().st_size > 0
    assert "| factor |" in (tmp_path / "results.md").read_text()
    (tmp_path / "results.md").unlink()
    bs.render(tmp_path)  # re-rendering from results.json alone
    assert "| factor |" in (tmp_path / "results.md").read_text()
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        bs.BarsinaiConfig(factors={"burgers": [3], "kdv": [2], "ks": [2]}).resolved()
    with pytest.raises(ValueError, match="unknown equation"):
        bs.BarsinaiConfig(equations=("navier",)).resolved()


def test_resolution_gain_interpolates_log_log():
    table = {"2": {"weno5": {"mae": 1e-3}}, "4": {"weno5": {"mae": 4e-3}},
             "8": {"weno5": {"mae": 2e-2}, "network": {"mae": 2e-3}}}
    text = bs._resolution_gain(table)
    assert "factor 2.83" in text and "gain 2.8x" in text
    table["8"]["network"]["mae"] = 2.5e-4  # below 2x: the 2x-4x segment extended, 2 * 4^(-1/2) = 1
    text = bs._resolution_gain(table)
    assert "below every evaluated" in text and "factor 1.00" in text and "gain 8.0x" in text


def test_unrolled_loss_adds_the_integrated_frames(tmp_path):
    """DerivativeTrainer with unroll = 1: the loss is the scaled derivative MSE plus the scaled
    MSE of the model integrated (SSP-RK3) over one frame interval, computed here independently."""
    ref = bs.Reference("ks", 2, seed=3)
    _, frames, rates = ref.solve(1.0, 0.25)
    x, y, seq = bs.training_pairs(ref, frames, rates, 8, unroll=1)
    assert seq.shape == (len(x), 1, x.shape[-1]) and len(x) == 8 * 2 * 3  # 3 frames with a successor
    torch.testing.assert_close(seq[0], bs.coarse_view(frames[2], 8, 0, False)[0:1].float())
    model = LearnedFiniteVolume(ref.length / (ref.n // 8), coefficients="network", equation="ks")
    data = torch.utils.data.TensorDataset(x, y, seq)
    cfg = TrainConfig(epochs=1, batch_size=8, progress=False)
    trainer = bs.DerivativeTrainer(model, data, None, cfg, tmp_path, unroll=1, interval=0.25, dt=0.1)
    with torch.no_grad():
        got, _ = trainer._batch_loss((x, y, seq), training=False)
        v = x
        for _ in range(3):  # 0.25 / 0.1 -> 3 steps of 0.25 / 3
            k = 0.25 / 3
            v1 = v + k * model(v)
            v2 = 0.75 * v + 0.25 * (v1 + k * model(v1))
            v = v / 3 + (2 / 3) * (v2 + k * model(v2))
        expected = ((model(x) - y).square().mean() / y.double().square().mean()
                    + (v - seq).square().mean() / seq.double().square().mean())
    assert abs(got.item() - expected.item()) < 1e-5 * expected.item()


def test_mae_loss_is_scaled_by_the_mean_absolute_target(tmp_path):
    x = torch.randn(6, 1, 16)
    y = torch.randn(6, 1, 16)
    model = LearnedFiniteVolume(0.3, coefficients="network")
    data = torch.utils.data.TensorDataset(x, y)
    trainer = bs.DerivativeTrainer(model, data, None, TrainConfig(epochs=1, loss="mae", progress=False), tmp_path)
    with torch.no_grad():
        got, _ = trainer._batch_loss((x, y), training=False)
        expected = (model(x) - y).abs().mean() / y.abs().mean()
    assert abs(got.item() - expected.item()) < 1e-6
