"""Checkpoint files: atomic writes, clear errors, and models rebuilt from a spec.

A model spec is ``{"class": "UNetCNN", "kwargs": {...}}`` with JSON-friendly kwargs (a grid as
``{"shape": [...], "spacing": [...]}``), so a checkpoint alone is enough to rebuild its model.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import models
from .._atomic import write_atomic
from ..grid import Grid

__all__ = ["CheckpointError", "save_atomic", "load_checkpoint", "build_model", "load_model", "MODEL_CLASSES"]

MODEL_CLASSES = {
    "DictionaryMLP": models.DictionaryMLP,
    "CNNLSTM": models.CNNLSTM,
    "UNetCNN": models.UNetCNN,
    "StencilConvNet": models.StencilConvNet,
    "ConservativeCRNN": models.ConservativeCRNN,
    "LearnedFiniteVolume": models.LearnedFiniteVolume,
    "ModalOperator": models.ModalOperator,
}


# Keyword arguments renamed since checkpoints were first written (class -> {old: new}): the specs
# of older checkpoints still rebuild their models.
_RENAMED_KWARGS = {"LearnedFiniteVolume": {"h": "spacing"}}


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable, or made for another model or run."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (:func:`coarsegrain._atomic.write_atomic`): the
    file is whole or absent, and a failed save leaves the previous checkpoint as it was."""
    return write_atomic(path, lambda tmp: torch.save(obj, tmp))


def _first_line(e: Exception) -> str:
    """torch's own reason, without its advice to retry with weights_only=False."""
    text = str(e).split("WeightsUnpickler error:")[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def _refused_global(e: Exception) -> str:
    """The class or function torch's weights-only unpickler refused, from its message."""
    for line in str(e).splitlines():
        if "GLOBAL" in line or "global" in line:
            return line.strip().rstrip(".")
    return "a pickled global"


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        # weights_only=True: the unpickler builds tensors, numbers, strings, lists, tuples and
        # dicts (and a few torch containers) only; a crafted file's code never runs.
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():  # a damaged or foreign pickle, not a refused class
            raise CheckpointError(f"{path} cannot be read as a checkpoint ({_first_line(e)}); "
                                  "it is corrupt or was not written by coarsegrain") from e
        raise CheckpointError(
            f"{path} holds objects other than tensors, numbers, strings, lists and dicts "
            f"({_refused_global(e)}); coarsegrain does not unpickle arbitrary objects, since "
            "unpickling them can run code"
        ) from e
    except Exception as e:  # torch raises several types for damaged files
        raise CheckpointError(f"{path} cannot be read as a checkpoint ({type(e).__name__}: {e}); "
                              "it is corrupt or was not written by coarsegrain") from e
    if not isinstance(ckpt, dict) or "model_state" not in ckpt:
        raise CheckpointError(f"{path} is not a coarsegrain checkpoint (no model_state)")
    return ckpt


def build_model(spec: dict[str, Any]) -> nn.Module:
    """The model a spec describes, freshly initialized."""
    name = spec.get("class")
    if name not in MODEL_CLASSES:
        raise CheckpointError(f"unknown model class {name!r}; known: {', '.join(MODEL_CLASSES)}")
    kwargs = dict(spec.get("kwargs", {}))
    for old, new in _RENAMED_KWARGS.get(name, {}).items():
        if old in kwargs and new not in kwargs:
            kwargs[new] = kwargs.pop(old)
    if "grid" in kwargs and isinstance(kwargs["grid"], dict):
        kwargs["grid"] = Grid(kwargs["grid"]["shape"], kwargs["grid"]["spacing"])
    return MODEL_CLASSES[name](**kwargs)


def load_model(path: str | os.PathLike, map_location="cpu") -> nn.Module:
    """The trained model of a checkpoint (best weights, with its normalization), in eval mode."""
    from .trainer import NormalizedModel

    ckpt = load_checkpoint(path, map_location)
    if not ckpt.get("model_spec"):
        raise CheckpointError(f"{path} holds no model spec; it cannot rebuild its model")
    model = build_model(ckpt["model_spec"])
    if ckpt.get("wrapper", "normalized") == "normalized":
        model = NormalizedModel(model, channels=ckpt.get("channels", 1), ndim=ckpt.get("ndim", 2))
    state = ckpt.get("best_state") or ckpt["model_state"]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path} was written for another architecture: {e}") from e
    return model.eval()
