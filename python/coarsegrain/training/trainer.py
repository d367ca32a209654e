"""The trainer shared by every coarsegrain model.

Adam (optionally a cosine or plateau schedule), MSE or MAE loss on normalized targets, mini-
batches, early stopping, gradient clipping, mixed precision on CUDA, deterministic seeding,
a progress bar, a CSV log (and TensorBoard when installed), and checkpoints after every epoch
holding the model, optimizer, scheduler, RNG state, normalization, config and history, written
atomically. Rerunning ``fit`` on the same output directory resumes where the last run stopped
and produces the same weights as an uninterrupted run; the best model on validation is kept.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .. import threads
from .._atomic import write_text_atomic
from .._progress import progress_bar
from .checkpoint import CheckpointError, build_model, load_checkpoint, save_atomic
from .seeding import seed_everything

__all__ = ["TrainConfig", "Trainer", "NormalizedModel"]


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    # "adam", or "lbfgs" (torch.optim.LBFGS with a strong-Wolfe line search, lbfgs_iterations
    # iterations per batch; lr is its initial step, 1.0 is usual): for small smooth problems such as
    # modal operators (patel2021), where Adam needs many thousands of steps for a few % accuracy.
    optimizer: str = "adam"
    lbfgs_iterations: int = 20
    loss: str = "mse"                 # "mse" or "mae"
    scheduler: str | None = None      # None, "cosine" or "plateau"
    early_stopping: int | None = None  # patience in epochs
    grad_clip: float | None = None
    amp: bool = False                 # CUDA only
    select_last: int | None = None    # choose the best model among the last N epochs only
    seed: int = 0
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self):
        if self.loss not in ("mse", "mae"):
            raise ValueError(f"loss must be 'mse' or 'mae', got {self.loss!r}")
        if self.optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {self.optimizer!r}")
        if self.optimizer == "lbfgs" and self.amp:
            raise ValueError("optimizer 'lbfgs' does not support amp (mixed precision)")
        if self.lbfgs_iterations < 1:
            raise ValueError(f"lbfgs_iterations must be >= 1, got {self.lbfgs_iterations}")
        if self.scheduler not in (None, "cosine", "plateau"):
            raise ValueError(f"scheduler must be None, 'cosine' or 'plateau', got {self.scheduler!r}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
        if self.select_last is not None and self.select_last < 1:
            raise ValueError(f"select_last must be None or >= 1, got {self.select_last}")
        self.betas = tuple(self.betas)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def run_identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the interrupted one."""
        d = self.to_dict()
        for key in ("epochs", "progress", "device", "early_stopping"):
            d.pop(key)
        return d


class NormalizedModel(nn.Module):
    """``denormalize_out(model(normalize_in(u)))``: a model that works in physical units.

    The per-channel statistics are buffers, so they travel with the state dict.
    """

    def __init__(self, model: nn.Module, channels: int = 1, ndim: int = 2):
        super().__init__()
        self.model, self.ndim = model, ndim
        for name in ("in_mean", "out_mean"):
            self.register_buffer(name, torch.zeros(channels, dtype=torch.float64))
        for name in ("in_std", "out_std"):
            self.register_buffer(name, torch.ones(channels, dtype=torch.float64))

    def _v(self, t: Tensor, like: Tensor) -> Tensor:
        return t.to(like.dtype).reshape(-1, *([1] * self.ndim))

    def set_statistics(self, x: Tensor, y: Tensor) -> None:
        """Per-channel mean and (n - 1) standard deviation of ``x`` and ``y`` ``[n, channels, *grid]``."""
        dims = (0, *range(2, x.dim()))
        for prefix, t in (("in", x), ("out", y)):
            t64 = t.double()
            getattr(self, f"{prefix}_mean").copy_(t64.mean(dims))
            getattr(self, f"{prefix}_std").copy_(t64.std(dims).clamp_min(1e-12))

    def set_moments(self, in_mean: Tensor, in_std: Tensor, out_mean: Tensor, out_std: Tensor) -> None:
        """Sets the statistics computed elsewhere (std clamped like :meth:`set_statistics`)."""
        for name, t in (("in_mean", in_mean), ("in_std", in_std.clamp_min(1e-12)),
                        ("out_mean", out_mean), ("out_std", out_std.clamp_min(1e-12))):
            getattr(self, name).copy_(t.double())

    def normalized(self, u: Tensor) -> Tensor:
        """The wrapped model's output in normalized target units."""
        return self.model((u - self._v(self.in_mean, u)) / self._v(self.in_std, u))

    def normalize_target(self, y: Tensor) -> Tensor:
        return (y - self._v(self.out_mean, y)) / self._v(self.out_std, y)

    def forward(self, u: Tensor) -> Tensor:
        out = self.normalized(u)
        return out * self._v(self.out_std, out) + self._v(self.out_mean, out)


STATISTICS_CHUNK_BYTES = 64 << 20
"""Bytes of samples (inputs and targets) read at a time for the statistics of a streaming split."""


def _chunks(data: Dataset, sample_bytes: int):
    """(inputs, targets) of ``data`` a chunk of samples at a time (``get_batch`` when it has one)."""
    step = max(1, STATISTICS_CHUNK_BYTES // max(1, sample_bytes))
    get_batch = getattr(data, "get_batch", None)
    for start in range(0, len(data), step):
        stop = min(start + step, len(data))
        if get_batch is not None:
            xs, ys = get_batch(start, stop)[:2]
        else:
            items = [data[k] for k in range(start, stop)]
            xs, ys = torch.stack([it[0] for it in items]), torch.stack([it[1] for it in items])
        yield xs, ys


class _Moments:
    """Per-channel count, mean and sum of squared deviations in float64, merged chunk by chunk
    with Chan et al.'s parallel update (exact for any chunking, no cancellation of a
    sum-of-squares formula)."""

    def __init__(self, channels: int):
        self.n = 0
        self.mean = torch.zeros(channels, dtype=torch.float64)
        self.m2 = torch.zeros(channels, dtype=torch.float64)

    def add(self, t: Tensor) -> None:
        """Adds a chunk ``[m, channels, *grid]``."""
        t64 = t.detach().cpu().double()
        if not bool(torch.isfinite(t64).all()):
            raise ValueError("the training data holds non-finite values")
        flat = t64.transpose(0, 1).reshape(t64.shape[1], -1)
        nb = flat.shape[1]
        if nb == 0:
            return
        mean_b = flat.mean(1)
        m2_b = (flat - mean_b[:, None]).square().sum(1)
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2_b + delta.square() * (self.n * nb / n)
        self.n = n

    def std(self) -> Tensor:
        # n - 1 as torch.std's default; one value per channel gives nan there, as here.
        return (self.m2 / (self.n - 1)).sqrt() if self.n > 1 else torch.full_like(self.m2, float("nan"))


def _streamed_moments(data: Dataset, x0: Tensor, y0: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-channel (in_mean, in_std, out_mean, out_std) of every sample, as
    :meth:`NormalizedModel.set_statistics` defines them (std with n - 1), from one float64 pass
    over chunks of the data (:class:`_Moments`); never the whole split in memory."""
    sample_bytes = x0.numel() * x0.element_size() + y0.numel() * y0.element_size()
    moments = (_Moments(x0.shape[0]), _Moments(y0.shape[0]))
    for xs, ys in _chunks(data, sample_bytes):
        moments[0].add(xs)
        moments[1].add(ys)
    return moments[0].mean, moments[0].std(), moments[1].mean, moments[1].std()


class Trainer:
    """Trains ``model`` (wrapped in a NormalizedModel) on (input, target) datasets.

    ``out_dir`` receives ``checkpoint.pt`` (latest, for resuming), ``best.pt`` (best on
    validation, loadable with :func:`load_model`) and ``log.csv``. ``model_spec`` (see
    :func:`build_model`) is stored so the checkpoint can rebuild the model.

    Seeding: ``config.seed`` decides the batch order and any randomness of training, but the
    initial weights are drawn when the model is built. Pass ``model`` as a spec (``{"class":
    "UNetCNN", "kwargs": {...}}``) and the trainer builds it right after seeding with
    ``config.seed``, so the same seed gives the same run; or call
    :func:`~coarsegrain.training.seed_everything` before building the module yourself. A module
    passed in is used as it is (it may hold weights to fine-tune).
    """

    def __init__(self, model: nn.Module | dict, train: Dataset, val: Dataset | None, config: TrainConfig,
                 out_dir: str | Path, *, model_spec: dict | None = None):
        if isinstance(model, dict):
            if model_spec is not None and model_spec != model:
                raise ValueError("model is a spec; model_spec must be left out or equal to it")
            model_spec = model
            # The one seeding of this run: it decides the weights drawn here and, after them, any
            # randomness of training.
            seed_everything(config.seed)
            model = build_model(model_spec)
        else:
            # A module built by the caller (who seeded its weights): the seed decides training only.
            torch.manual_seed(config.seed)
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("TrainConfig.device is cuda but CUDA is not available")
        if config.amp and self.device.type != "cuda":
            raise ValueError("TrainConfig.amp (mixed precision) needs a CUDA device")
        if len(train) == 0:
            raise ValueError("the training dataset is empty")
        self.train_data, self.val_data = train, val
        self.model_spec = model_spec
        self.model = self._prepare_model(model)
        if config.optimizer == "lbfgs":
            self.optimizer = torch.optim.LBFGS(self.model.parameters(), lr=config.lr,
                                               max_iter=config.lbfgs_iterations, line_search_fn="strong_wolfe")
        else:
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, betas=config.betas,
                                              weight_decay=config.weight_decay)
        if config.scheduler == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=config.epochs)
        elif config.scheduler == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5, patience=10)
        else:
            self.scheduler = None
        self.scaler = torch.amp.GradScaler("cuda") if config.amp else None
        self.history: list[dict[str, float]] = []
        self.best_val = math.inf
        self.best_state: dict | None = None
        self.since_best = 0  # epochs since the validation loss last improved
        self.epoch = 0

    # --- hooks a trainer for another kind of sample overrides ---------------------------------

    def _prepare_model(self, model: nn.Module) -> nn.Module:
        """The module to optimize: here ``model`` wrapped with the training data's statistics."""
        x0, y0 = self.train_data[0]
        self.ndim = x0.dim() - 1
        wrapped = NormalizedModel(model, channels=x0.shape[0], ndim=self.ndim).to(self.device)
        self._check_fit(wrapped, x0, y0)
        if getattr(self.train_data, "in_memory", True):
            xs, ys = self._stack(self.train_data)
            if not (torch.isfinite(xs).all() and torch.isfinite(ys).all()):
                raise ValueError("the training data holds non-finite values")
            wrapped.set_statistics(xs, ys)
        else:
            # A split that streams from its file: the statistics in one pass, a few frames at a time.
            wrapped.set_moments(*_streamed_moments(self.train_data, x0, y0))
        return wrapped

    def _batch_loss(self, batch, training: bool) -> tuple[Tensor, int]:
        """The mean loss of one batch and its number of samples."""
        x, y = batch[0].to(self.device), batch[1].to(self.device)
        return self._loss(self.model.normalized(x), self.model.normalize_target(y)), len(x)

    def _model_meta(self) -> dict[str, Any]:
        """What :func:`load_model` needs besides the spec to rebuild the trained module."""
        return {"wrapper": "normalized", "channels": int(self.model.in_mean.numel()), "ndim": self.ndim}

    def _run_identity(self) -> dict[str, Any]:
        return self.config.run_identity()

    def _check_fit(self, model: nn.Module, x0: Tensor, y0: Tensor) -> None:
        try:
            with torch.no_grad():
                model.eval()
                out = model(x0[None].to(self.device))
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"dataset samples of shape {tuple(x0.shape)} do not fit the model: {e}") from e
        if out.shape[1:] != y0.shape:
            raise ValueError(f"the model maps a sample {tuple(x0.shape)} to {tuple(out.shape[1:])}, "
                             f"but the targets are {tuple(y0.shape)}")

    @staticmethod
    def _stack(data: Dataset) -> tuple[Tensor, ...]:
        """Every field of the samples stacked: (inputs, targets, ...)."""
        return tuple(torch.stack(t) for t in zip(*(data[k] for k in range(len(data)))))

    def _loss(self, pred: Tensor, target: Tensor) -> Tensor:
        d = pred - target
        return d.square().mean() if self.config.loss == "mse" else d.abs().mean()

    # --- checkpoints ---------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def _state(self) -> dict[str, Any]:
        return {
            "model_state": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "epoch": self.epoch, "history": self.history, "best_val": self.best_val,
            "since_best": self.since_best,
            "best_state": self.best_state, "config": self.config.to_dict(),
            "run_identity": self._run_identity(), "model_spec": self.model_spec,
            **self._model_meta(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def _resume(self) -> None:
        ckpt = load_checkpoint(self.checkpoint_path, map_location=self.device)
        if ckpt.get("run_identity") != self._run_identity():
            raise CheckpointError(
                f"{self.checkpoint_path} belongs to a run with other settings "
                f"({ckpt.get('run_identity')}); use another output directory or delete it"
            )
        try:
            self.model.load_state_dict(ckpt["model_state"])
        except RuntimeError as e:
            raise CheckpointError(f"{self.checkpoint_path} was written for another architecture: {e}") from e
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler and ckpt["scheduler"]:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler and ckpt["scaler"]:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.history = ckpt["epoch"], ckpt["history"]
        self.best_val, self.best_state = ckpt["best_val"], ckpt["best_state"]
        self.since_best = ckpt.get("since_best", 0)
        torch.set_rng_state(ckpt["rng_cpu"].cpu())
        if ckpt.get("rng_cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng_cuda"]])

    def _write_log(self) -> None:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(self.history[0]))
        writer.writeheader()
        writer.writerows(self.history)
        write_text_atomic(self.out_dir / "log.csv", text.getvalue(), newline="")

    # --- training ------------------------------------------------------------------------------

    def _loader(self, data: Dataset, shuffle: bool) -> DataLoader:
        # The shuffle order depends on (seed, epoch) only, so a resumed run sees the same batches.
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.epoch)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=shuffle, generator=g)

    def _evaluate(self, data: Dataset) -> float:
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in self._loader(data, shuffle=False):
                threads.tick()
                loss, n = self._batch_loss(batch, training=False)
                total += loss.item() * n
                count += n
        return total / count

    def fit(self, resume: bool = True) -> list[dict[str, float]]:
        """Trains to ``config.epochs`` (resuming from ``out_dir`` if a checkpoint is there)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.checkpoint_path.exists():
            self._resume()
        cfg = self.config
        bar = progress_bar(cfg.progress, delayed=False, mininterval=0.1, total=cfg.epochs, initial=self.epoch,
                           desc="training", unit="epoch")
        tb = self._tensorboard()
        while self.epoch < cfg.epochs:
            start = time.perf_counter()
            train_loss = self._train_epoch()
            self.epoch += 1
            val_loss = self._evaluate(self.val_data) if self.val_data is not None and len(self.val_data) else train_loss
            if self.scheduler is not None:
                self.scheduler.step(val_loss) if cfg.scheduler == "plateau" else self.scheduler.step()
            eligible = cfg.select_last is None or self.epoch > cfg.epochs - cfg.select_last
            if eligible and val_loss < self.best_val:
                self.best_val, self.since_best = val_loss, 0
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                self.since_best += 1
            self.history.append({"epoch": self.epoch, "train_loss": train_loss, "val_loss": val_loss,
                                 "lr": self.optimizer.param_groups[0]["lr"],
                                 "seconds": time.perf_counter() - start})
            save_atomic(self._state(), self.checkpoint_path)
            save_atomic({**self._state(), "model_state": self.best_state or self.model.state_dict()},
                        self.out_dir / "best.pt")
            self._write_log()
            if tb is not None:
                for key in ("train_loss", "val_loss", "lr"):
                    tb.add_scalar(key, self.history[-1][key], self.epoch)
            bar.update(1)
            bar.set_postfix_str(f"train {train_loss:.3e} val {val_loss:.3e}")
            if cfg.early_stopping is not None and self.since_best >= cfg.early_stopping:
                break
        bar.close()
        if tb is not None:
            tb.close()
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        return self.history

    def _train_epoch(self) -> float:
        self.model.train()
        cfg = self.config
        total, count = 0.0, 0
        for batch in self._loader(self.train_data, shuffle=True):
            threads.tick()
            if cfg.optimizer == "lbfgs":
                loss, n = self._lbfgs_step(batch)
                total += loss * n
                count += n
                continue
            self.optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda") if cfg.amp else contextlib.nullcontext():
                loss, n = self._batch_loss(batch, training=True)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss.item()} in epoch {self.epoch + 1}; "
                                         "lower the learning rate or check the data")
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
            else:
                loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            total += loss.item() * n
            count += n
        return total / count

    def _lbfgs_step(self, batch) -> tuple[float, int]:
        """One L-BFGS step (several iterations with line search) on a batch: the closure
        re-evaluates the loss and its gradient as often as the line search asks, each time with the
        same random draws (a loss that samples, as Eq 34's step counts, must be one function here)."""
        cfg = self.config
        cuda = self.device.type == "cuda"
        rng = torch.random.get_rng_state(), (torch.cuda.get_rng_state(self.device) if cuda else None)

        def closure():
            torch.random.set_rng_state(rng[0])
            if cuda:
                torch.cuda.set_rng_state(rng[1], self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss, _ = self._batch_loss(batch, training=True)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss.item()} in epoch {self.epoch + 1}; "
                                         "lower lr (the L-BFGS step) or check the data")
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            return loss

        self.optimizer.step(closure)
        with torch.no_grad():  # the loss after the step, on the same draws
            torch.random.set_rng_state(rng[0])
            if cuda:
                torch.cuda.set_rng_state(rng[1], self.device)
            loss, n = self._batch_loss(batch, training=True)
        return loss.item(), n

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(str(self.out_dir / "tensorboard"))
