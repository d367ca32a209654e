"""Follow-ups of issue 15 in the modules around the streaming readers: the trainer's statistics,
the experiments, the CLI and the generator read a few frames at a time, and say sizes first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import coarsegrain.data as data
from coarsegrain.data import dataset as dataset_module


def test_data_package_exports_the_streaming_readers():
    for name in ("open_dataset", "DatasetReader", "dataset_nbytes", "format_nbytes"):
        assert name in data.__all__
        assert getattr(data, name) is getattr(dataset_module, name)


# --- the trainer's statistics of a streaming split -------------------------------------------

def _write(path, n_traj=3, n_time=7, grid=(12, 10), n_fields=2, offset=5.0, seed=0, nan_at=None):
    rng = np.random.default_rng(seed)
    with dataset_module.DatasetWriter(path, system="synthetic", grid_shape=grid, spacing=(0.5, 0.5),
                                      boundary="periodic", parameters={"what": "synthetic"}, dt_save=0.1,
                                      time=np.arange(n_time) * 0.1, seeds=np.arange(n_traj),
                                      n_fields=n_fields) as w:
        for i in range(n_traj):
            # A large offset against a small spread: a one-pass E[x^2] - E[x]^2 would lose digits.
            fields = (offset + 1e-3 * rng.standard_normal((n_time, n_fields, *grid))).astype(np.float32)
            rhs = (rng.standard_normal((n_time, n_fields, *grid)) * [[[2.0]], [[0.5]]]).astype(np.float32)
            w.write(i, fields, rhs)
    return path


def _trainer(train, tmp_path):
    from coarsegrain.training import TrainConfig, Trainer

    return Trainer(torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), train, None,
                   TrainConfig(epochs=1, progress=False), tmp_path / "run")


def test_trainer_statistics_of_a_streaming_split_equal_the_in_memory_ones(tmp_path, monkeypatch):
    from coarsegrain.data import FieldRHSDataset
    from coarsegrain.training import trainer as trainer_module

    path = _write(tmp_path / "d.h5")
    memory = FieldRHSDataset(path, "train", in_memory=True)
    streaming = FieldRHSDataset(path, "train", in_memory=False)
    assert streaming.in_memory is False and len(streaming) > 3
    # Several chunks, the last one short: the passes must combine them exactly.
    monkeypatch.setattr(trainer_module, "STATISTICS_CHUNK_BYTES", 3 * 2 * 2 * 12 * 10 * 4)
    a = _trainer(memory, tmp_path / "a").model
    calls = []
    original = trainer_module.Trainer._stack

    def spy(data):
        calls.append(data)
        return original(data)

    monkeypatch.setattr(trainer_module.Trainer, "_stack", staticmethod(spy))
    b = _trainer(streaming, tmp_path / "b").model
    assert calls == []  # the streaming split is never stacked whole
    for name in ("in_mean", "in_std", "out_mean", "out_std"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == torch.float64
        torch.testing.assert_close(y, x, rtol=1e-12, atol=0)
    # Not trivially equal: the channels differ.
    assert not torch.allclose(a.out_std[0], a.out_std[1])


def test_trainer_refuses_non_finite_values_of_a_streaming_split(tmp_path):
    from coarsegrain.data import FieldRHSDataset

    class Poisoned(torch.utils.data.Dataset):
        in_memory = False

        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            x, y = self.inner[i]
            if i == len(self.inner) - 1:
                y = y.clone()
                y[0, 0, 0] = float("inf")
            return x, y

    path = _write(tmp_path / "d.h5")
    with pytest.raises(ValueError, match="non-finite"):
        _trainer(Poisoned(FieldRHSDataset(path, "train", in_memory=False)), tmp_path)
