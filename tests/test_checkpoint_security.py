"""Checkpoints are loaded with torch's weights-only unpickler: a crafted file whose pickle would
run code is refused with a clear error, and the code never runs."""

from __future__ import annotations

import os

import pytest
import torch

from coarsegrain.training import CheckpointError, load_model
from coarsegrain.training.checkpoint import load_checkpoint, save_atomic


class _Payload:
    """Unpickling this calls os.mkdir(marker): a stand-in for any code a crafted file could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "crafted.pt"
    torch.save({"model_state": {"w": torch.zeros(2)}, "model_spec": {"class": "UNetCNN"},
                "history": [_Payload(marker)]}, path)
    return path, marker


def test_a_checkpoint_that_would_run_code_is_refused(crafted):
    path, marker = crafted
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "other than tensors, numbers, strings, lists and dicts" in message
    assert "does not unpickle arbitrary objects" in message
    assert not marker.exists()


def test_load_model_refuses_it_too(crafted):
    path, marker = crafted
    with pytest.raises(CheckpointError, match="does not unpickle arbitrary objects"):
        load_model(path)
    assert not marker.exists()


def test_cli_rollout_refuses_it(crafted, capsys):
    from coarsegrain.cli import main

    path, marker = crafted
    code = main(["rollout", str(path), "--grid", "8", "--steps", "2"])
    assert code != 0
    assert "does not unpickle arbitrary objects" in capsys.readouterr().err
    assert not marker.exists()


def test_plain_checkpoints_still_load(tmp_path):
    state = {"model_state": {"w": torch.arange(3.0)}, "history": [{"epoch": 1, "lr": 1e-3}],
             "config": {"betas": (0.9, 0.999), "scheduler": None}, "rng_cpu": torch.get_rng_state()}
    ckpt = load_checkpoint(save_atomic(state, tmp_path / "ok.pt"))
    assert torch.equal(ckpt["model_state"]["w"], state["model_state"]["w"])
    assert ckpt["config"]["betas"] == (0.9, 0.999)


def test_a_damaged_file_is_not_reported_as_unsafe(tmp_path):
    path = tmp_path / "damaged.pt"
    path.write_bytes(b"not a checkpoint at all" * 8)
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        load_checkpoint(path)
