"""Pieces of the paper pipelines that can be checked against the simulator itself."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coarsegrain.data import get_preset, simulate
from coarsegrain.experiments.kiyani2022 import KiyaniConfig, dictionary_ceiling, learned_pde_rollout, make_model
from coarsegrain.grid import Grid
from coarsegrain.models import count_parameters


class ExactRHS(nn.Module):
    """The simulated system's own right-hand side, shaped like a learned model."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, u):
        return self.model.rhs(u[:, 0], "spectral")[:, None]


@pytest.mark.slow
def test_rollout_of_the_exact_rhs_reproduces_the_data(tmp_path):
    spec = get_preset("kiyani-cahn-hilliard", n_traj=1, grid=[16], t_end=6.0, save_every=20, dtype="float64")
    path = simulate(spec, tmp_path / "ch.h5", progress=False)
    for method in ("LSODA", "rk4"):
        result = learned_pde_rollout(ExactRHS(spec.model), path, KiyaniConfig(rollout_method=method))
        assert not result["blew_up"]
        assert result["t"] == [2.2, 6.0]
        # The data come from first-order semi-implicit steps of dt = 0.01: a few 1e-3 apart.
        assert max(result["relative_l2"]) < 0.02, result["relative_l2"]


def test_kiyani_models_are_the_papers():
    grid = Grid((16, 16))
    assert count_parameters(make_model("unet", "cahn_hilliard", grid)[0]) == 121_057
    mlp, spec = make_model("mlp", "pfc", grid)
    assert {"u_xxxxxx", "u_xxxxyy", "u_xxyyyy"} <= set(mlp.dictionary.names) and spec["kwargs"]["max_order"] == 6
    # Allen-Cahn: exactly the inputs of kiyani Fig 2a
    assert sorted(make_model("mlp", "allen_cahn", grid)[0].dictionary.names) == ["u", "u_x", "u_xx", "u_y", "u_yy"]
    assert isinstance(make_model("cnnlstm", "allen_cahn", grid)[0].lstm, torch.nn.LSTM)


def test_kiyani_epochs_override_applies_to_every_model():
    cfg = KiyaniConfig(full=True, epochs_override=300)
    assert cfg.epochs == {"mlp": 300, "cnnlstm": 300, "unet": 300} and cfg.grids["allen_cahn"] == 256
    assert KiyaniConfig(full=True).epochs["unet"] == 20_000
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        KiyaniConfig(epochs_override=0).check()


@pytest.mark.parametrize("system, operator", [("cahn_hilliard", 2), ("pfc", 3)])
def test_kiyani_mlp_dictionary_spans_the_linear_part(system, operator):
    """lap^2 U (Cahn-Hilliard) and lap^3 U (PFC) are linear combinations of the MLP's inputs; without
    the mixed derivatives they are not (least squares over a field of random low modes)."""
    n = 64
    grid = Grid((n, n), 1.0)
    g = torch.Generator().manual_seed(3)
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    u = torch.zeros(n, n, dtype=torch.float64)
    for _ in range(12):
        kx, ky = (2 * torch.pi / n * torch.randint(-2, 3, (2,), generator=g)).tolist()
        u += torch.randn((), generator=g, dtype=torch.float64) * torch.cos(kx * x + ky * y + 6 * torch.rand((), generator=g).item())
    k2 = grid.k_squared(dtype=torch.float64)
    target = torch.fft.irfftn((-k2) ** operator * torch.fft.rfftn(u), s=(n, n)).reshape(-1)

    def r2_of_best_fit(dictionary):
        feats = dictionary(u[None])[0].reshape(dictionary.n_features, -1).T
        coef = torch.linalg.lstsq(feats, target[:, None]).solution
        residual = target - (feats @ coef)[:, 0]
        return 1 - residual.square().sum().item() / (target - target.mean()).square().sum().item()

    mlp, _ = make_model("mlp", system, grid)
    assert r2_of_best_fit(mlp.dictionary) > 0.9995
    pure = type(mlp.dictionary)(grid, mlp.dictionary.max_order)  # no mixed derivatives
    assert r2_of_best_fit(pure) < 0.995  # 0.989 (CH), 0.955 (PFC)


def test_dictionary_ceiling_separates_the_discretizations(tmp_path):
    """On spectral data the PDE with spectral derivatives explains U_t exactly; the same PDE through
    second-order finite differences does not, nor (on a rough, barely resolved field) does the
    pointwise product-rule polynomial of finite-difference features."""
    spec = get_preset("kiyani-cahn-hilliard", n_traj=1, grid=[24], t_end=2.0, save_every=20, dtype="float64")
    path = simulate(spec, tmp_path / "ch.h5", progress=False)
    ceiling = dictionary_ceiling(path, "cahn_hilliard", frame_every=1)
    assert ceiling["pde_spectral"] > 1 - 1e-9
    assert ceiling["pde_fd"] < 0.99
    assert ceiling["polynomial_fd"] < ceiling["polynomial_spectral"] <= 1 + 1e-12
