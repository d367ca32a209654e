"""Training: the shared trainer, normalization wrapper and checkpoints."""

from .checkpoint import CheckpointError, build_model, load_model
from .trainer import NormalizedModel, TrainConfig, Trainer

__all__ = ["CheckpointError", "NormalizedModel", "TrainConfig", "Trainer", "build_model", "load_model"]
