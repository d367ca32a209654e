"""Training recurrent models on sequences, with a teacher-forcing curriculum (lanzoni2024 §2.2).

Early epochs feed the true frames to the model and ask for the next one (teacher forcing);
the number of forced frames then falls linearly with the epoch until the whole sequence is
generated from its first frame. Validation always generates the whole sequence from the first
frame, so its loss measures what a rollout will do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from .trainer import TrainConfig, Trainer

__all__ = ["Curriculum", "SequenceTrainer"]


@dataclass
class Curriculum:
    """n_forced(epoch) = max_forced * (1 - (epoch - hold_epochs) / ramp_epochs), clipped to
    [min_forced, max_forced] (epochs counted from 0).

    ``max_forced = None`` means every input but the first prediction's is forced at the start
    (T - 1 forced frames: predict the last frame from all the others). ``min_forced = 1`` ends
    fully autoregressive. ``noise_std`` is Gaussian noise on fed-back predictions;
    ``mass_weight`` adds that weight times the MSE of the frames' spatial means to the loss;
    ``checkpoint_steps`` recomputes each step in the backward pass to bound memory.
    """

    max_forced: int | None = None
    ramp_epochs: int = 25
    min_forced: int = 1
    hold_epochs: int = 0
    noise_std: float = 0.0
    mass_weight: float = 0.0
    checkpoint_steps: bool = False

    def __post_init__(self):
        if self.min_forced < 1:
            raise ValueError(f"Curriculum.min_forced must be >= 1, got {self.min_forced}")
        if self.ramp_epochs < 0 or self.hold_epochs < 0:
            raise ValueError("Curriculum.ramp_epochs and hold_epochs must be >= 0")
        if self.noise_std < 0 or self.mass_weight < 0:
            raise ValueError("Curriculum.noise_std and mass_weight must be >= 0")

    def n_forced(self, epoch: int, steps: int) -> int:
        """Forced inputs in ``epoch`` for sequences of ``steps`` predictions."""
        top = steps if self.max_forced is None else min(self.max_forced, steps)
        if self.ramp_epochs == 0:
            frac = 0.0 if epoch >= self.hold_epochs else 1.0
        else:
            frac = 1.0 - max(0, epoch - self.hold_epochs) / self.ramp_epochs
        return int(max(self.min_forced, min(top, round(top * frac))))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SequenceTrainer(Trainer):
    """Trains a recurrent model (e.g. :class:`~coarsegrain.models.ConservativeCRNN`) on a dataset
    of sequences ``[T, channels, *grid]``; everything else (checkpoints, exact resume, logs,
    best-of-last-N selection) is :class:`Trainer`'s. The model works in physical units: no
    normalization wrapper.
    """

    def __init__(self, model: nn.Module, train: Dataset, val: Dataset | None, config: TrainConfig,
                 out_dir: str | Path, *, curriculum: Curriculum | None = None,
                 model_spec: dict | None = None):
        self.curriculum = curriculum or Curriculum()
        super().__init__(model, train, val, config, out_dir, model_spec=model_spec)

    def _prepare_model(self, model: nn.Module) -> nn.Module:
        seq = self.train_data[0]
        if not isinstance(seq, Tensor):
            raise TypeError(f"sequence datasets yield tensors [T, channels, *grid], got {type(seq).__name__}")
        self.ndim = seq.dim() - 2
        model = model.to(self.device)
        if getattr(model, "ndim", self.ndim) != self.ndim or getattr(model, "channels", seq.shape[1]) != seq.shape[1]:
            raise ValueError(f"sequences of shape {tuple(seq.shape)} do not fit a model with ndim = "
                             f"{getattr(model, 'ndim', '?')} and channels = {getattr(model, 'channels', '?')}")
        for i in range(len(self.train_data)):
            if not torch.isfinite(self.train_data[i]).all():
                raise ValueError(f"training sequence {i} holds non-finite values")
        return model

    def _batch_loss(self, batch: Tensor, training: bool) -> tuple[Tensor, int]:
        seq = batch.to(self.device)
        steps = seq.shape[1] - 1
        cur = self.curriculum
        if training:
            pred = self.model(seq, n_forced=cur.n_forced(self.epoch, steps), noise_std=cur.noise_std,
                              checkpoint_steps=cur.checkpoint_steps)
        else:
            pred = self.model(seq, n_forced=1)
        target = seq[:, 1:]
        loss = self._loss(pred, target)
        if cur.mass_weight > 0:
            dims = tuple(range(-self.ndim, 0))
            loss = loss + cur.mass_weight * (pred.mean(dims) - target.mean(dims)).square().mean()
        return loss, len(seq)

    def _model_meta(self) -> dict[str, Any]:
        return {"wrapper": None, "ndim": self.ndim, "curriculum": self.curriculum.to_dict()}

    def _run_identity(self) -> dict[str, Any]:
        return {**self.config.run_identity(), "curriculum": self.curriculum.to_dict()}
