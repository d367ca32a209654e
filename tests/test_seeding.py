"""Same seed, same numbers: the seed is set before the weights are drawn, so two fresh processes
give bit-identical losses and metrics on CPU (the demo) and a spec built by the trainer gets the
same weights on every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from coarsegrain.models import StencilConvNet
from coarsegrain.training import TrainConfig, Trainer, seed_everything

# A fresh interpreter runs the demo at a tiny size and prints what a user compares between runs:
# the per-epoch losses (as exact hex floats) and the test metrics.
_DEMO = """
import csv, json, sys
from pathlib import Path
from coarsegrain.demo import run_end_to_end
out = Path(sys.argv[1])
run_end_to_end(out, grid=12, epochs=2, progress=False, seed=3)
rows = list(csv.DictReader(open(out / "run" / "log.csv")))
losses = [float(r[k]).hex() for r in rows for k in ("train_loss", "val_loss")]
metrics = json.loads((out / "demo.json").read_text())["metrics"]
print("RESULT " + json.dumps({"losses": losses, "metrics": metrics}))
"""


def _run_demo(out) -> dict:
    # One thread each: the two processes run side by side on a small machine, and the result
    # must not depend on how the work was split.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _DEMO, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    return proc


@pytest.mark.slow
def test_two_fresh_processes_give_bit_identical_demo_results(tmp_path):
    procs = [_run_demo(tmp_path / f"run{i}") for i in range(2)]
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode in (0, 1), stderr  # 1: a blown-up rollout, still a finished run
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT "):]))
    assert results[0]["losses"] and results[0] == results[1]


def test_trainer_builds_a_spec_after_seeding(tmp_path):
    spec = {"class": "StencilConvNet", "kwargs": {"ndim": 2, "width": 4}}
    x = torch.randn(6, 1, 8, 8)
    data = torch.utils.data.TensorDataset(x, x.roll(1, -1))
    weights = []
    for run in range(2):
        torch.manual_seed(run)  # whatever happened before must not matter
        t = Trainer(spec, data, None, TrainConfig(epochs=1, seed=7, progress=False), tmp_path / f"r{run}")
        assert t.model_spec == spec
        weights.append([p.detach().clone() for p in t.model.parameters()])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # The same as seeding by hand before building the module.
    seed_everything(7)
    by_hand = Trainer(StencilConvNet(2, width=4), data, None, TrainConfig(epochs=1, seed=7, progress=False),
                      tmp_path / "hand")
    for a, b in zip(weights[0], by_hand.model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_seed_must_be_an_integer():
    with pytest.raises(TypeError, match="seed must be an integer"):
        seed_everything(1.5)
    assert seed_everything(-1) == -1


def test_the_trainer_seeds_once(tmp_path, monkeypatch):
    """The spec path seeds once (seed_everything, then the weights are drawn) and does not reseed
    torch afterwards: its random stream continues from the weights, as when seeding and building
    by hand. A module passed in gets one torch.manual_seed(config.seed) for training."""
    spec = {"class": "StencilConvNet", "kwargs": {"ndim": 2, "width": 4}}
    x = torch.randn(6, 1, 8, 8)
    data = torch.utils.data.TensorDataset(x, x.roll(1, -1))
    calls = []
    original = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda s: calls.append(s) or original(s))
    Trainer(spec, data, None, TrainConfig(epochs=1, seed=7, progress=False), tmp_path / "spec")
    assert calls == [7]
    after_trainer = torch.rand(3)
    seed_everything(7)
    StencilConvNet(2, width=4)
    torch.testing.assert_close(after_trainer, torch.rand(3), rtol=0, atol=0)
    calls.clear()
    Trainer(StencilConvNet(2, width=4), data, None, TrainConfig(epochs=1, seed=5, progress=False), tmp_path / "mod")
    assert calls == [5]
    after_module = torch.rand(3)
    original(5)
    torch.testing.assert_close(after_module, torch.rand(3), rtol=0, atol=0)
