"""Training: the shared trainer, the sequence trainer with its curriculum, checkpoints."""

from .checkpoint import CheckpointError, build_model, load_model
from .seeding import seed_everything
from .sequence import Curriculum, SequenceTrainer
from .trainer import NormalizedModel, TrainConfig, Trainer

__all__ = ["CheckpointError", "Curriculum", "NormalizedModel", "SequenceTrainer", "TrainConfig", "Trainer",
           "build_model", "load_model", "seed_everything"]
