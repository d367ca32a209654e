"""Ensemble generation: simulate a phase-field model from seeded initial fields and write the
frames (and the exact right-hand side at each frame) to a coarsegrain HDF5 dataset."""

from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import threads
from .._progress import progress_bar
from ..grid import Grid
from ..systems import initial as initial_fields
from ..systems.phase_field import PhaseFieldModel
from ..systems.steppers import FrameSchedule, check_time_frames, make_stepper
from .dataset import DatasetWriter, dataset_nbytes, format_nbytes, partial_path

__all__ = ["SimulationSpec", "simulate", "initial_condition"]

ANNOUNCE_BYTES = 10**9
"""A dataset of at least this many bytes is announced (its size and file) before it is written."""


@dataclass
class SimulationSpec(FrameSchedule):
    """Everything that defines an ensemble; stored in the dataset's metadata.

    ``initial`` picks the initial fields: ``{"kind": "uniform", "low", "high"}`` or
    ``{"kind": "perlin", "mean": [mu, sigma], "correlation_length": [lo, hi], "amplitude"}``
    (the mean drawn from N(mu, sigma) and the correlation length from U(lo, hi) per trajectory)
    or ``{"kind": "gaussian", "correlation_length", "mean", "std"}``. Trajectory ``i`` uses
    seed ``seed + i``. With ``warmup_frames = w``, each trajectory first runs a random number
    of frame intervals in ``0..w`` unsaved, so sequences start from noise or from later states.
    """

    name: str
    model: PhaseFieldModel
    method: str
    dt: float
    t_end: float
    save_every: int
    n_traj: int
    initial: dict[str, Any]
    warmup_frames: int = 0
    seed: int = 0
    dtype: str = "float32"
    compute_dtype: str = "float64"
    device: str = "cpu"
    description: str = ""
    stepper_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.n_traj < 1:
            raise ValueError(f"{self.name}: n_traj must be >= 1, got {self.n_traj}")
        if self.save_every < 1:
            raise ValueError(f"{self.name}: save_every must be >= 1, got {self.save_every}")
        check_time_frames(self.name, self.dt, self.t_end, self.save_every)


    @property
    def grid(self) -> Grid:
        return self.model.grid

    def replace(self, **changes) -> "SimulationSpec":
        return dataclasses.replace(self, **changes)

    def metadata(self) -> dict[str, Any]:
        return {
            "preset": self.name, "description": self.description, **self.model.parameters(),
            "stepper": make_stepper(self.model, self.method, self.dt, **self.stepper_options).parameters(),
            "t_end": self.t_end, "save_every": self.save_every, "n_traj": self.n_traj,
            "initial": self.initial, "warmup_frames": self.warmup_frames, "seed": self.seed,
            "dtype": self.dtype, "compute_dtype": self.compute_dtype,
        }


def _trajectory_draws(spec: SimulationSpec, index: int) -> dict[str, float]:
    """Per-trajectory random parameters, reproducible from the trajectory's seed."""
    rng = np.random.default_rng(spec.seed + index)
    draws: dict[str, float] = {}
    init = spec.initial
    if init["kind"] == "perlin":
        mu, sigma = init["mean"]
        lo, hi = init["correlation_length"]
        draws["mean"] = float(rng.normal(mu, sigma))
        draws["correlation_length"] = float(rng.uniform(lo, hi))
    draws["warmup_frames"] = int(rng.integers(0, spec.warmup_frames + 1)) if spec.warmup_frames else 0
    return draws


def initial_condition(spec: SimulationSpec, index: int, dtype, device) -> torch.Tensor:
    """The initial field of trajectory ``index`` as [1, *grid]."""
    init, grid, seed = spec.initial, spec.grid, spec.seed + index
    draws = _trajectory_draws(spec, index)
    kw = dict(seed=seed, dtype=dtype, device=device)
    if init["kind"] == "uniform":
        return initial_fields.uniform(grid, 1, low=init["low"], high=init["high"], **kw)
    if init["kind"] == "perlin":
        return initial_fields.perlin(grid, 1, correlation_length=draws["correlation_length"],
                                     mean=draws["mean"], amplitude=init["amplitude"],
                                     octaves=init.get("octaves", 1), **kw)
    if init["kind"] == "gaussian":
        return initial_fields.gaussian_random_field(
            grid, 1, correlation_length=init["correlation_length"], mean=init.get("mean", 0.0),
            std=init.get("std", 1.0), **kw)
    raise ValueError(f"{spec.name}: unknown initial condition kind {init['kind']!r}")


def spec_device(name: str, device) -> torch.device:
    """The device a generator runs on: 'cpu' or 'cuda' (or 'cuda:N'), CUDA only when present."""
    try:
        dev = torch.device(device)
    except RuntimeError:  # torch's message lists every backend it knows
        raise ValueError(f"{name}: device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: device must be 'cpu' or 'cuda' (or 'cuda:N'), got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{name}: device {device!r} requested but CUDA is not available")
    return dev


def simulate(spec: SimulationSpec, path: str | Path, *, overwrite: bool = False,
             progress: bool = True, with_rhs: bool = True) -> Path:
    """Runs the ensemble into ``path`` (resuming an interrupted run) and returns the path.

    ``with_rhs=False`` leaves out ``/rhs`` (half the file; sequence models do not need it).
    A :class:`~coarsegrain.particles.ParticleSpec` (the ``patel-*`` presets) runs the particle
    simulator, which writes no ``/rhs``; the equation-free specs (``arbabi-*``,
    :mod:`coarsegrain.equation_free.datasets`) run patch dynamics or the gap-tooth scheme.
    """
    from ..equation_free.datasets import GapToothSpec, PatchDynamicsSpec, simulate_gap_tooth, simulate_patch_dynamics
    from ..particles.ensemble import ParticleSpec, simulate_particles

    if isinstance(spec, ParticleSpec):
        return simulate_particles(spec, path, overwrite=overwrite, progress=progress)
    if isinstance(spec, PatchDynamicsSpec):
        return simulate_patch_dynamics(spec, path, overwrite=overwrite, progress=progress)
    if isinstance(spec, GapToothSpec):
        return simulate_gap_tooth(spec, path, overwrite=overwrite, progress=progress)
    dtype = getattr(torch, spec.compute_dtype)
    device = spec_device(spec.name, spec.device)
    _check_space(spec, Path(path), overwrite, with_rhs)
    draws = [_trajectory_draws(spec, i) for i in range(spec.n_traj)]
    traj_params = {k: [d[k] for d in draws] for k in draws[0]}
    time = np.arange(spec.n_frames) * spec.save_every * spec.dt
    writer = DatasetWriter(
        path, system=spec.model.name, grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
        boundary=spec.grid.boundary, parameters=spec.metadata(), dt_save=spec.save_every * spec.dt,
        time=time, seeds=[spec.seed + i for i in range(spec.n_traj)], dtype=spec.dtype,
        with_rhs=with_rhs, trajectory_parameters=traj_params, overwrite=overwrite,
    )
    with writer:
        pending = writer.pending
        # Trajectories with the same warm-up advance together as one batch.
        groups: dict[int, list[int]] = {}
        for i in pending:
            groups.setdefault(draws[i]["warmup_frames"], []).append(i)
        total = sum((spec.n_frames - 1 + w) * spec.save_every * len(ids) for w, ids in groups.items())
        bar = progress_bar(progress and total > 0, delayed=False, mininterval=0.1, total=total, desc=spec.name,
                           unit="step", unit_scale=True, smoothing=0.1)
        size = _batch_size(spec)
        for warmup, ids in groups.items():
            for start in range(0, len(ids), size):
                batch = ids[start:start + size]
                frames, rhs = _run_batch(spec, batch, warmup, dtype, device, bar, with_rhs)
                for j, i in enumerate(batch):
                    writer.write(i, frames[j], rhs[j] if with_rhs else None)
        bar.close()
    return Path(path)


def _pending_fraction(partial: Path, n_traj: int) -> float:
    """Share of the trajectories an interrupted run at ``partial`` still has to write (1 when
    it cannot tell; the writer then says what is wrong with the file)."""
    try:
        import h5py

        with h5py.File(partial, "r") as f:
            done = np.asarray(f["done"][...], dtype=bool)
        return float((~done).sum()) / n_traj if done.shape == (n_traj,) else 1.0
    except Exception:
        return 1.0


def _existing_dir(path: Path) -> Path:
    """``path``'s directory, or its nearest ancestor that exists (the writer creates the rest)."""
    d = path.absolute().parent
    while not d.exists() and d != d.parent:
        d = d.parent
    return d


def _check_space(spec: SimulationSpec, path: Path, overwrite: bool, with_rhs: bool) -> None:
    """Says the size of a large dataset before writing it, and refuses, before writing anything,
    when the disk holding ``path`` has less free space than what is left to write."""
    if path.exists() and not overwrite:
        return  # the writer refuses to replace it
    total = dataset_nbytes(spec.n_traj, spec.n_frames, spec.grid.shape, dtype=spec.dtype, with_rhs=with_rhs)
    partial = partial_path(path)
    resuming = partial.exists() and not overwrite
    need = int(math.ceil(total * _pending_fraction(partial, spec.n_traj))) if resuming else total
    if need >= ANNOUNCE_BYTES:
        left = f" ({format_nbytes(total)} in all, resuming)" if resuming else ""
        print(f"{spec.name}: {format_nbytes(need)} to write to {path}{left}", flush=True)
    if need == 0:
        return
    directory = _existing_dir(path)
    free = shutil.disk_usage(directory).free
    if overwrite and partial.exists():
        free += partial.stat().st_size  # the writer deletes it first
    if free < need:
        raise OSError(f"{spec.name}: the dataset needs {format_nbytes(need)} but {directory} has only "
                      f"{format_nbytes(free)} free; choose another --out (or free some space)")


def _batch_size(spec: SimulationSpec) -> int:
    # Keep a batch's frames under ~1 GB in memory.
    per_traj = spec.n_frames * spec.grid.size * 8 * 2
    return max(1, min(64, int(1e9 // per_traj)))


def _run_batch(spec, batch, warmup, dtype, device, bar, with_rhs=True):
    model = spec.model
    stepper = make_stepper(model, spec.method, spec.dt, **spec.stepper_options)
    u = torch.cat([initial_condition(spec, i, dtype, device) for i in batch])
    store = np.dtype(spec.dtype)
    frames = np.empty((len(batch), spec.n_frames, 1, *spec.grid.shape), dtype=store)
    rhs = np.empty_like(frames) if with_rhs else None
    for _ in range(warmup):
        u = stepper.advance(u, spec.save_every)
        bar.update(spec.save_every * len(batch))
    for k in range(spec.n_frames):
        threads.tick()
        if k > 0:
            u = stepper.advance(u, spec.save_every)
            bar.update(spec.save_every * len(batch))
        # A diverging run can stay finite in float64 and overflow only in the stored float32:
        # both are the step's fault, and say so (not a warning and a later "non-finite" error).
        with np.errstate(over="ignore", invalid="ignore"):
            frames[:, k, 0] = u.cpu().numpy()
            if with_rhs:
                rhs[:, k, 0] = model.rhs(u, stepper.discretization).cpu().numpy()
        if not (np.isfinite(frames[:, k]).all() and (not with_rhs or np.isfinite(rhs[:, k]).all())):
            raise FloatingPointError(
                f"{spec.name}: trajectories {batch} became non-finite (or too large for {spec.dtype}) by t = "
                f"{k * spec.save_every * spec.dt:g}; reduce dt (now {spec.dt:g})"
            )
    return frames, rhs


