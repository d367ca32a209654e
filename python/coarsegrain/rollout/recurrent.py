"""Long rollouts of recurrent surrogates (lanzoni2024 §3): any length, persistent hidden state,
any grid size, chunks written to a coarsegrain HDF5 file that an interrupted run resumes.

The model must offer ``step(frame, state) -> (next_frame, state)`` and ``initial_state(frame)``
(:class:`~coarsegrain.models.ConservativeCRNN` does). Rollouts run without gradients in the
model's dtype; the mass (mean of each field) is tracked in float64, and a boundedness monitor
stops a rollout whose field leaves ``bounds`` with a :class:`BlowUpError` saying when and where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .. import threads
from .._progress import progress_bar
from .learned import check_bounds, normalize_bounds

__all__ = ["RecurrentRollout", "rollout_recurrent", "rollout_to_file"]


@dataclass
class RecurrentRollout:
    """Saved frames ``[B, n_saved, C, *grid]`` (the initial one first), their step numbers,
    the mass ``[B, n_saved, C]`` (float64) and the state after the last step."""

    frames: Tensor
    steps: list[int]
    mass: Tensor
    final_frame: Tensor
    state: list[Tensor] = field(repr=False)

    @property
    def mass_drift(self) -> Tensor:
        """Largest relative change of the mass from the initial frame, per batch entry (the
        absolute change for a channel whose initial mass is exactly zero)."""
        m0 = self.mass[:, :1]
        return ((self.mass - m0).abs() / torch.where(m0 == 0, torch.ones_like(m0), m0.abs())).amax(dim=(1, 2))


def _grid_dims(frame: Tensor) -> tuple[int, ...]:
    return tuple(range(2, frame.dim()))


def _check_bounds(frame: Tensor, step: int, bounds: tuple[float, float] | None) -> None:
    check_bounds(frame, bounds, f"recurrent rollout left the valid range at step {step}", float(step),
                 layout=" (batch, channel, *grid)")


def _check_model(model: nn.Module, frame: Tensor) -> None:
    if not (hasattr(model, "step") and hasattr(model, "initial_state")):
        raise TypeError(f"{type(model).__name__} is not a recurrent model (it needs step and initial_state)")
    if hasattr(model, "check_frame"):
        model.check_frame(frame, "phi0")
    if not torch.isfinite(frame).all():
        raise ValueError("phi0 holds non-finite values")


def rollout_recurrent(model: nn.Module, phi0: Tensor, steps: int, *, save_every: int = 1,
                      state: Sequence[Tensor] | None = None, bounds: float | tuple[float, float] | None = None,
                      start_step: int = 0, callback: Callable[[int, Tensor], None] | None = None,
                      progress: bool = True) -> RecurrentRollout:
    """Iterates ``model.step`` ``steps`` times from ``phi0 [B, C, *grid]``.

    Frames at multiples of ``save_every`` (counted from ``start_step``) are kept on the CPU.
    ``state`` continues an earlier rollout's hidden state. ``callback(step, frame)`` runs after
    every step (monitoring, or an injected interruption in tests). ``progress`` shows a bar
    once the rollout has run ``PROGRESS_DELAY_S`` seconds (quick ones print nothing).
    ``bounds``: a number b for ``[-b, b]`` or a ``(lo, hi)`` pair
    (:func:`~coarsegrain.rollout.learned.normalize_bounds`).
    """
    bounds = normalize_bounds(bounds)
    if steps < 0 or save_every < 1:
        raise ValueError(f"need steps >= 0 and save_every >= 1, got {steps} and {save_every}")
    _check_model(model, phi0)
    param = next(model.parameters(), None)
    if param is not None and (phi0.dtype != param.dtype or phi0.device != param.device):
        raise ValueError(f"phi0 is {phi0.dtype} on {phi0.device} but the model is {param.dtype} on "
                         f"{param.device}; convert one of them")
    frame = phi0.detach()
    state = list(state) if state is not None else model.initial_state(frame)
    dims = _grid_dims(frame)
    frames, saved_steps, mass = [frame.cpu()], [start_step], [frame.double().mean(dims).cpu()]
    bar = progress_bar(progress, total=steps, desc="rollout", unit="step")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for k in range(1, steps + 1):
                threads.tick()
                frame, state = model.step(frame, state)
                _check_bounds(frame, start_step + k, bounds)
                if k % save_every == 0:
                    frames.append(frame.cpu())
                    saved_steps.append(start_step + k)
                    mass.append(frame.double().mean(dims).cpu())
                if callback is not None:
                    callback(start_step + k, frame)
                bar.update(1)
    finally:
        model.train(was_training)
        bar.close()
    return RecurrentRollout(torch.stack(frames, 1), saved_steps, torch.stack(mass, 1), frame, state)


def rollout_to_file(model: nn.Module, phi0: Tensor, path: str | os.PathLike, steps: int, *,
                    save_every: int = 1, chunk_steps: int = 100, tau: float = 1.0,
                    spacing: Sequence[float] | None = None, bounds: float | tuple[float, float] | None = None,
                    parameters: dict[str, Any] | None = None, overwrite: bool = False,
                    progress: bool = True, callback: Callable[[int, Tensor], None] | None = None) -> Path:
    """A rollout of ``steps`` steps written to a coarsegrain dataset at ``path``, chunk by chunk.

    The file is ``<path>.partial`` until the last chunk is written. After each chunk the frames,
    the current field and hidden state (in one of two alternating slots) and the committed step
    count are flushed; rerunning the same call after an interruption resumes from the last
    committed chunk and gives the same frames as an uninterrupted run. ``parameters`` (stored as
    metadata, e.g. the model's spec) must match for a resume. Returns ``path``.
    """
    from ..data.dataset import DatasetWriter

    bounds = normalize_bounds(bounds)

    if steps < 1 or save_every < 1 or chunk_steps < 1 or chunk_steps % save_every:
        raise ValueError("need steps >= 1, save_every >= 1 and chunk_steps a positive multiple of "
                         f"save_every; got steps={steps}, save_every={save_every}, chunk_steps={chunk_steps}")
    _check_model(model, phi0)
    ndim = phi0.dim() - 2
    spacing = [1.0] * ndim if spacing is None else [float(h) for h in spacing]
    n_saved = steps // save_every + 1
    meta = {"steps": steps, "save_every": save_every, "chunk_steps": chunk_steps, "tau": tau,
            "model": type(model).__name__, "initial_sha": _digest(phi0), **(parameters or {})}
    np_dtype = {torch.float32: "float32", torch.float64: "float64"}.get(phi0.dtype)
    if np_dtype is None:
        raise ValueError(f"phi0 must be float32 or float64, got {phi0.dtype}")
    writer = DatasetWriter(path, system=f"rollout:{type(model).__name__}", grid_shape=phi0.shape[2:],
                           spacing=spacing, boundary="periodic", parameters=meta, dt_save=tau * save_every,
                           time=np.arange(n_saved) * tau * save_every, seeds=np.zeros(phi0.shape[0], np.int64),
                           n_fields=phi0.shape[1], dtype=np_dtype, with_rhs=False, overwrite=overwrite)
    f = writer.file
    bar = None
    try:
        done = int(f.attrs.get("steps_done", 0))
        if "rollout_state" in f and done > 0:
            slot = f["rollout_state"][f"slot{int(f.attrs['state_slot'])}"]
            frame = torch.as_tensor(slot["frame"][...]).to(phi0)
            state = [torch.as_tensor(slot[f"layer{i}"][...]).to(phi0) for i in range(len(slot) - 1)]
        else:
            frame, state = phi0.detach(), None
            f["fields"][:, 0] = frame.cpu().numpy()
            f.require_dataset("mass", shape=(phi0.shape[0], n_saved, phi0.shape[1]), dtype="float64")
            f["mass"][:, 0] = frame.double().mean(_grid_dims(frame)).cpu().numpy()
        bar = progress_bar(progress, total=steps, initial=done, desc="rollout", unit="step")

        def step_done(step: int, frame: Tensor) -> None:
            # Per step, not per chunk: a chunk of a large grid can take minutes.
            bar.update(1)
            if callback is not None:
                callback(step, frame)

        while done < steps:
            n = min(chunk_steps, steps - done)
            part = rollout_recurrent(model, frame, n, save_every=save_every, state=state, bounds=bounds,
                                     start_step=done, callback=step_done, progress=False)
            frame, state = part.final_frame, part.state
            first = done // save_every + 1
            new = part.frames[:, 1:]
            if new.shape[1]:
                f["fields"][:, first:first + new.shape[1]] = new.numpy()
                f["mass"][:, first:first + new.shape[1]] = part.mass[:, 1:].numpy()
            slot_index = 1 - int(f.attrs.get("state_slot", 1))
            group = f.require_group("rollout_state").require_group(f"slot{slot_index}")
            for name, t in [("frame", frame)] + [(f"layer{i}", h) for i, h in enumerate(state)]:
                if name in group:
                    del group[name]
                group.create_dataset(name, data=t.cpu().numpy())
            f.flush()
            done += n
            f.attrs["state_slot"], f.attrs["steps_done"] = slot_index, done  # the commit
            f.flush()
        f["done"][...] = True
        if "rollout_state" in f:
            del f["rollout_state"]  # the state is only needed to resume
    finally:
        if bar is not None:
            bar.close()
        result = writer.close()
    if result is None:
        raise RuntimeError(f"rollout to {path} did not complete")  # pragma: no cover
    return result


def _digest(t: Tensor) -> str:
    import hashlib

    return hashlib.sha1(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
