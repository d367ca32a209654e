"""Multi-step losses of discrete-update models (patel2021 Eq 21 and Eq 34) on the shared trainer.

A model with ``step(u[, params]) = (I + L) u`` (e.g. :class:`~coarsegrain.models.ModalOperator`)
is trained on trajectory windows ``[batch, time, n_fields, *grid]`` by comparing u_{j+m} with
(I + L)^m u_j:

* ``curriculum`` (Eq 21): stage m = 1, 2, ..., M in turn, ``stage_epochs`` epochs each, every
  stage included (the public code's ``range(1, M)`` skips m = M). One optimizer for all stages;
  ``reset_optimizer=True`` gives each stage fresh Adam moments (what the public code does by
  re-creating its optimizer).
* ``weighted`` (Eq 34): every trajectory of a batch draws m uniformly from 1 ... M (not 0: the
  weight is 1/m^β) and contributes m^-β times its m-step error, so the batch loss is an unbiased
  estimate of (1/M) Σ_m m^-β E|u_{j+m} - (I + L)^m u_j|².

Errors are mean squares (``TrainConfig.loss = "mae"``: mean absolute values) over the points, the
fields and the starting frames j of a window (``starts="all"``: every j with j + m in the window;
``"first"``: j = 0 only). Validation is deterministic: the M-step error for the curriculum, the
expectation over m of the weighted loss for Eq 34.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from .trainer import TrainConfig, Trainer

__all__ = ["MultistepObjective", "MultistepTrainer", "multistep_errors", "curriculum_loss",
           "weighted_multistep_loss", "draw_steps", "step_weights"]

Step = Callable[..., Tensor]


def multistep_errors(step: Step, traj: Tensor, max_steps: int, *, params: Tensor | None = None,
                     kind: str = "mse", starts: str = "all") -> Tensor:
    """``errors[m - 1, b]`` for m = 1 ... ``max_steps``: the mean over points, fields and starting
    frames j of ``|u_{j+m} - step^m(u_j)|²`` (``kind="mae"``: ``|.|``) in trajectory ``b`` of
    ``traj [batch, time, n_fields, *grid]``. ``starts="all"`` takes every j with j + m < time,
    ``"first"`` j = 0 only. ``step(u)`` (or ``step(u, params)`` with ``params [batch, ...]``) maps
    frames ``[n, n_fields, *grid]`` to the next ones."""
    if kind not in ("mse", "mae"):
        raise ValueError(f"kind must be 'mse' or 'mae', got {kind!r}")
    if starts not in ("all", "first"):
        raise ValueError(f"starts must be 'all' or 'first', got {starts!r}")
    if traj.dim() < 4:
        raise ValueError(f"trajectories are [batch, time, n_fields, *grid], got {tuple(traj.shape)}")
    n_batch, n_time = traj.shape[:2]
    if not 1 <= max_steps <= n_time - 1:
        raise ValueError(f"{max_steps} steps need windows of at least {max_steps + 1} frames, got {n_time}")
    frame = tuple(traj.shape[2:])
    # Starting frames still needed after k steps: j <= time - 1 - k ("all") or j = 0 ("first").
    n_starts = n_time - 1 if starts == "all" else 1
    state = traj[:, :n_starts]
    p = None
    if params is not None:
        p = params[:, None].expand(n_batch, n_starts, *params.shape[1:])
    errors = []
    for k in range(1, max_steps + 1):
        n = state.shape[1]
        flat = state.reshape(n_batch * n, *frame)
        nxt = step(flat) if p is None else step(flat, p[:, :n].reshape(n_batch * n, *params.shape[1:]))
        state = nxt.reshape(n_batch, n, *frame)
        if starts == "all":
            state = state[:, : n_time - k]
            p = p[:, : n_time - k] if p is not None else None
        diff = state - traj[:, k : k + state.shape[1]]
        e = diff.square() if kind == "mse" else diff.abs()
        errors.append(e.reshape(n_batch, -1).mean(1))
    return torch.stack(errors)


def step_weights(max_steps: int, beta: float, *, dtype=torch.float64, device=None) -> Tensor:
    """Eq 34's weights 1/m^β for m = 1 ... ``max_steps``."""
    m = torch.arange(1, max_steps + 1, dtype=dtype, device=device)
    return m.pow(-float(beta))


def draw_steps(n: int, max_steps: int, *, generator: torch.Generator | None = None, device=None) -> Tensor:
    """``n`` step counts drawn uniformly from 1 ... ``max_steps`` (on the CPU generator)."""
    return torch.randint(1, max_steps + 1, (n,), generator=generator).to(device)


def curriculum_loss(step: Step, traj: Tensor, m: int, *, params: Tensor | None = None, kind: str = "mse",
                    starts: str = "all") -> Tensor:
    """Eq 21 at stage ``m``: the mean m-step error of the batch."""
    return multistep_errors(step, traj, m, params=params, kind=kind, starts=starts)[m - 1].mean()


def weighted_multistep_loss(step: Step, traj: Tensor, max_steps: int, beta: float = 0.0, *,
                            m: Tensor | None = None, generator: torch.Generator | None = None,
                            params: Tensor | None = None, kind: str = "mse", starts: str = "all") -> Tensor:
    """Eq 34: ``mean_b m_b^-β · error_b(m_b)`` with m_b drawn uniformly from 1 ... ``max_steps``
    per trajectory (from ``generator``), or given as ``m [batch]``."""
    n_batch = traj.shape[0]
    if m is None:
        m = draw_steps(n_batch, max_steps, generator=generator)
    m = torch.as_tensor(m, dtype=torch.long).reshape(-1)
    if m.numel() != n_batch or int(m.min()) < 1 or int(m.max()) > max_steps:
        raise ValueError(f"m must hold {n_batch} step counts in 1 ... {max_steps}, got {m.tolist()}")
    m = m.to(traj.device)
    errors = multistep_errors(step, traj, int(m.max()), params=params, kind=kind, starts=starts)
    chosen = errors[m - 1, torch.arange(n_batch, device=traj.device)]
    return (chosen * m.to(chosen.dtype).pow(-float(beta))).mean()


@dataclass
class MultistepObjective:
    """Which multi-step loss :class:`MultistepTrainer` minimizes.

    ``kind``: ``"weighted"`` (Eq 34) or ``"curriculum"`` (Eq 21); ``max_steps``: M; ``beta``: Eq
    34's exponent; ``stage_epochs``: epochs per curriculum stage (stage m runs epochs
    (m - 1)·stage_epochs ... m·stage_epochs - 1, counted from 0, and m stays M after the last
    stage); ``reset_optimizer``: fresh optimizer state at each new stage; ``starts``: see
    :func:`multistep_errors`.
    """

    kind: str = "weighted"
    max_steps: int = 4
    beta: float = 0.0
    stage_epochs: int = 1
    reset_optimizer: bool = False
    starts: str = "all"

    def __post_init__(self):
        if self.kind not in ("weighted", "curriculum"):
            raise ValueError(f"MultistepObjective.kind must be 'weighted' or 'curriculum', got {self.kind!r}")
        if self.max_steps < 1 or self.stage_epochs < 1:
            raise ValueError("MultistepObjective.max_steps and stage_epochs must be >= 1")
        if self.starts not in ("all", "first"):
            raise ValueError(f"MultistepObjective.starts must be 'all' or 'first', got {self.starts!r}")
        if self.reset_optimizer and self.kind != "curriculum":
            raise ValueError("reset_optimizer applies to the curriculum only")

    def stage(self, epoch: int) -> int:
        """The curriculum's m in ``epoch`` (from 0)."""
        return min(self.max_steps, epoch // self.stage_epochs + 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class MultistepTrainer(Trainer):
    """Trains a discrete-update model (``model.step``) with a :class:`MultistepObjective` on windows
    of trajectories ``[time, n_fields, *grid]`` (e.g. :class:`~coarsegrain.data.SequenceDataset`
    with ``length >= max_steps + 1``), or ``(window, params)`` pairs for a model conditioned on
    simulation parameters. Checkpoints, exact resume, logs and best-model selection are
    :class:`Trainer`'s; the model works in physical units (no normalization wrapper).
    """

    def __init__(self, model: nn.Module | dict, train: Dataset, val: Dataset | None, config: TrainConfig,
                 out_dir: str | Path, *, objective: MultistepObjective | None = None,
                 model_spec: dict | None = None):
        self.objective = objective or MultistepObjective()
        obj = self.objective
        if obj.kind == "curriculum" and config.epochs < obj.max_steps * obj.stage_epochs:
            raise ValueError(f"the curriculum needs {obj.max_steps} stages of {obj.stage_epochs} epochs; "
                             f"TrainConfig.epochs = {config.epochs} would never reach m = {obj.max_steps}")
        super().__init__(model, train, val, config, out_dir, model_spec=model_spec)

    @staticmethod
    def _split(sample) -> tuple[Tensor, Tensor | None]:
        if isinstance(sample, Tensor):
            return sample, None
        if isinstance(sample, (tuple, list)) and len(sample) == 2:
            return sample[0], sample[1]
        raise TypeError("multistep datasets yield windows [time, n_fields, *grid] or (window, params) pairs, "
                        f"got {type(sample).__name__}")

    def _prepare_model(self, model: nn.Module) -> nn.Module:
        if not callable(getattr(model, "step", None)):
            raise TypeError(f"{type(model).__name__} has no step(u) method: the multistep losses iterate it")
        seq, _ = self._split(self.train_data[0])
        self.ndim = seq.dim() - 2
        if seq.shape[0] < self.objective.max_steps + 1:
            raise ValueError(f"windows of {seq.shape[0]} frames are too short for max_steps = "
                             f"{self.objective.max_steps} (need {self.objective.max_steps + 1})")
        if getattr(model, "ndim", self.ndim) != self.ndim or getattr(model, "channels", seq.shape[1]) != seq.shape[1]:
            raise ValueError(f"windows of shape {tuple(seq.shape)} do not fit a model with ndim = "
                             f"{getattr(model, 'ndim', '?')} and channels = {getattr(model, 'channels', '?')}")
        for i in range(len(self.train_data)):
            if not torch.isfinite(self._split(self.train_data[i])[0]).all():
                raise ValueError(f"training window {i} holds non-finite values")
        return model.to(self.device)

    def _train_epoch(self) -> float:
        obj = self.objective
        if obj.reset_optimizer and self.epoch > 0 and self.epoch % obj.stage_epochs == 0 \
                and self.epoch // obj.stage_epochs < obj.max_steps:
            self.optimizer.state = defaultdict(dict)  # a fresh optimizer for the new stage
        return super()._train_epoch()

    def _batch_loss(self, batch, training: bool) -> tuple[Tensor, int]:
        seq, params = self._split(batch)
        seq = seq.to(self.device)
        params = params.to(self.device, seq.dtype) if params is not None else None
        obj, kind = self.objective, self.config.loss
        step = self.model.step
        if obj.kind == "curriculum":
            m = obj.stage(self.epoch) if training else obj.max_steps
            loss = curriculum_loss(step, seq, m, params=params, kind=kind, starts=obj.starts)
        elif training:
            loss = weighted_multistep_loss(step, seq, obj.max_steps, obj.beta, params=params, kind=kind,
                                           starts=obj.starts)
        else:
            errors = multistep_errors(step, seq, obj.max_steps, params=params, kind=kind, starts=obj.starts)
            w = step_weights(obj.max_steps, obj.beta, dtype=errors.dtype, device=errors.device)
            loss = (errors * w[:, None]).mean()
        return loss, len(seq)

    def _model_meta(self) -> dict[str, Any]:
        return {"wrapper": None, "ndim": self.ndim, "multistep": self.objective.to_dict()}

    def _run_identity(self) -> dict[str, Any]:
        return {**self.config.run_identity(), "multistep": self.objective.to_dict()}
