"""The trainer: it learns the heat equation, resumes exactly, selects the best epoch, and
fails clearly on bad data and bad checkpoints."""

from __future__ import annotations

import pytest
import torch

from coarsegrain import Grid
from coarsegrain.data import FieldRHSDataset, simulate
from coarsegrain.data.generate import SimulationSpec
from coarsegrain.metrics import r2
from coarsegrain.models import DictionaryMLP, StencilConvNet
from coarsegrain.systems import AllenCahn, PolynomialEnergy
from coarsegrain.training import CheckpointError, TrainConfig, Trainer, load_model


@pytest.fixture(scope="module")
def heat_data(tmp_path_factory):
    """u_t = lap u (Allen-Cahn with f = 0), smooth random initial fields on 16^2."""
    model = AllenCahn(Grid((16, 16), 1.0), PolynomialEnergy((0.0, 0.0), name="zero"), kappa=1.0)
    spec = SimulationSpec(name="heat", model=model, method="explicit", dt=0.05, t_end=1.0, save_every=2,
                          n_traj=8, initial={"kind": "gaussian", "correlation_length": 2.0})
    return simulate(spec, tmp_path_factory.mktemp("heat") / "heat.h5", progress=False)


def _pairs(path, split):
    ds = FieldRHSDataset(path, split, fractions=(0.6, 0.2, 0.2), by="trajectory", seed=0)
    return ds


def test_learns_the_heat_equation(heat_data, tmp_path):
    train, val, test = (_pairs(heat_data, s) for s in ("train", "val", "test"))
    model = DictionaryMLP(Grid((16, 16), 1.0), max_order=2, hidden=(32, 32))
    trainer = Trainer(model, train, val, TrainConfig(epochs=40, batch_size=16, lr=3e-3, progress=False),
                      tmp_path / "run", model_spec={"class": "DictionaryMLP", "kwargs": {
                          "grid": {"shape": [16, 16], "spacing": [1.0, 1.0]}, "max_order": 2, "hidden": [32, 32]}})
    trainer.fit()
    with torch.no_grad():
        pred = trainer.model(test.fields)
    assert r2(pred, test.rhs).item() > 0.99
    # best.pt rebuilds the same predictor.
    loaded = load_model(tmp_path / "run" / "best.pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(test.fields), pred)
    assert (tmp_path / "run" / "log.csv").read_text().count("\n") == 41


def test_resumed_run_equals_uninterrupted_run(heat_data, tmp_path):
    train, val = _pairs(heat_data, "train"), _pairs(heat_data, "val")

    def trainer(out, epochs):
        torch.manual_seed(123)
        return Trainer(StencilConvNet(2, width=8), train, val,
                       TrainConfig(epochs=epochs, batch_size=8, lr=1e-3, seed=5, progress=False), out)

    full = trainer(tmp_path / "full", 4)
    full.fit()
    part = trainer(tmp_path / "part", 2)
    part.fit()
    resumed = trainer(tmp_path / "part", 4)  # same directory, more epochs: continues from epoch 2
    resumed.fit()
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_resume_refuses_a_checkpoint_of_another_run(heat_data, tmp_path):
    train = _pairs(heat_data, "train")
    Trainer(StencilConvNet(2, width=4), train, None, TrainConfig(epochs=1, progress=False), tmp_path).fit()
    with pytest.raises(CheckpointError, match=r"belongs to a run with other settings"):
        Trainer(StencilConvNet(2, width=4), train, None, TrainConfig(epochs=2, lr=0.1, progress=False), tmp_path).fit()
    with pytest.raises(CheckpointError, match=r"written for another architecture"):
        Trainer(StencilConvNet(2, width=6), train, None, TrainConfig(epochs=2, progress=False), tmp_path).fit()


def test_bad_checkpoints_and_data_fail_clearly(heat_data, tmp_path):
    with pytest.raises(CheckpointError, match=r"no checkpoint at"):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"cannot be read as a checkpoint"):
        load_model(junk)
    train = _pairs(heat_data, "train")
    with pytest.raises(ValueError, match=r"do not fit the model: .*last 2 axes must be the grid \(8, 8\)"):
        Trainer(DictionaryMLP(Grid((8, 8))), train, None, TrainConfig(progress=False), tmp_path / "x")
    train.fields[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite"):
        Trainer(StencilConvNet(2), train, None, TrainConfig(progress=False), tmp_path / "y")
    with pytest.raises(ValueError, match=r"amp \(mixed precision\) needs a CUDA device"):
        Trainer(StencilConvNet(2), _pairs(heat_data, "val"), None, TrainConfig(amp=True), tmp_path / "z")
