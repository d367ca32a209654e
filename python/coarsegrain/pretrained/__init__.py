"""Trained models shipped with coarsegrain, each with the command that trained it.

``ch3d-crnn``: the conservative ConvGRU CRNN of lanzoni2024 trained on 3D Cahn-Hilliard data
(lanzoni-ch3d preset, 64^3 downscaled to 32^3, eps = 3 fine grid units). One step is tau = 0.5;
its grid spacing is 2 fine units; it runs on any grid size. ``ch3d-crnn.json`` next to the
weights records the training command, the data, the epochs and the validation figures.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

__all__ = ["PRETRAINED", "export_pretrained", "load_pretrained", "load_pretrained_or_checkpoint", "pretrained_info"]

PRETRAINED: dict[str, dict[str, Any]] = {
    "ch3d-crnn": {
        "weights": "ch3d-crnn.pt",
        "description": "lanzoni2024 conservative ConvGRU CRNN, 3D Cahn-Hilliard, one step = tau = 0.5, "
                       "grid spacing = 2 simulation units",
        "tau": 0.5, "spacing": 2.0, "epsilon": 3.0, "initial_mean": 0.5, "initial_amplitude": 0.3,
    },
}


def _file(name: str, suffix: str) -> Path:
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(PRETRAINED)}")
    path = Path(str(resources.files(__name__) / PRETRAINED[name]["weights"])).with_suffix(suffix)
    if not path.exists():
        raise FileNotFoundError(f"the weights of {name!r} are missing from this installation ({path})")
    return path


def pretrained_info(name: str) -> dict[str, Any]:
    """The registry entry plus the training record (command, data, validation figures)."""
    info = dict(PRETRAINED[name]) if name in PRETRAINED else None
    if info is None:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(PRETRAINED)}")
    record = _file(name, ".json")
    info["training"] = json.loads(record.read_text())
    return info


def load_pretrained(name: str, map_location="cpu") -> nn.Module:
    """The shipped model ``name`` in eval mode."""
    from ..training import load_model

    return load_model(_file(name, ".pt"), map_location=map_location)


def load_pretrained_or_checkpoint(source: str | Path, map_location="cpu") -> nn.Module:
    """A shipped model by name, or the model of a training checkpoint file."""
    if str(source) in PRETRAINED:
        return load_pretrained(str(source), map_location=map_location)
    from ..training import load_model

    return load_model(source, map_location=map_location)


def export_pretrained(checkpoint: str | Path, dest: str | Path, record: dict[str, Any]) -> Path:
    """Writes the best weights of a training checkpoint (no optimizer state) to ``dest`` (.pt) and
    ``record`` (training command, data, figures) next to it as JSON; both atomically."""
    from .._atomic import write_json_atomic
    from ..training.checkpoint import load_checkpoint, save_atomic

    ckpt = load_checkpoint(checkpoint)
    slim = {key: ckpt[key] for key in ("model_spec", "wrapper", "ndim", "channels") if key in ckpt}
    slim["model_state"] = {k: v.float() if v.is_floating_point() else v
                           for k, v in (ckpt.get("best_state") or ckpt["model_state"]).items()}
    dest = Path(dest)
    save_atomic(slim, dest)
    write_json_atomic(dest.with_suffix(".json"), record, default=str)
    return dest
