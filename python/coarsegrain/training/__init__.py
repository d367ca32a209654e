"""Training: the shared trainer, the sequence trainer with its curriculum, the multi-step losses, checkpoints."""

from .checkpoint import CheckpointError, build_model, load_model
from .multistep import (
    MultistepObjective,
    MultistepTrainer,
    curriculum_loss,
    draw_steps,
    multistep_errors,
    step_weights,
    weighted_multistep_loss,
)
from .seeding import seed_everything
from .sequence import Curriculum, SequenceTrainer
from .trainer import NormalizedModel, TrainConfig, Trainer

__all__ = ["CheckpointError", "Curriculum", "MultistepObjective", "MultistepTrainer", "curriculum_loss", "draw_steps",
           "multistep_errors", "step_weights", "weighted_multistep_loss", "NormalizedModel", "SequenceTrainer", "TrainConfig", "Trainer",
           "build_model", "load_model", "seed_everything"]
