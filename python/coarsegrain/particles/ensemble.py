"""Particle ensembles into coarsegrain HDF5 datasets (the ``patel-*`` presets of ``coarsegrain simulate``).

Trajectory ``i`` of a :class:`ParticleSpec` is one "set" of patel2021 §5.2: its own multi-von
Mises parameters, drawn with NumPy from ``SeedSequence(seed + i, spawn_key=(0,))``, and
``n_particles`` particles whose random streams are keyed ``(seed + i, 1, block)`` (see
:mod:`coarsegrain.particles.simulate`). Its frames are the binned densities ``u`` at every
``save_every``-th step, normalized as :data:`~coarsegrain.particles.DENSITY_NORMALIZATION` says;
``/fields`` is ``[n_traj, n_frames, 1, *bins]`` and there is no ``/rhs`` (a histogram has no exact
time derivative). The mixture parameters are stored per trajectory in
``/trajectory_parameters/kappa`` and ``/mu`` (``[n_traj, ndim, n_components]``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..grid import Grid
from ..systems.steppers import FrameSchedule, check_time_frames
from .initial import VonMisesMixture
from .simulate import DENSITY_NORMALIZATION, LevyFlight, simulate_density

__all__ = ["ParticleSpec", "simulate_particles", "trajectory_mixture"]


@dataclass
class ParticleSpec(FrameSchedule):
    """Everything that defines a particle ensemble; stored in the dataset's metadata.

    ``initial``: ``{"kind": "von-mises-mixture", "n_components": m, "kappa_range": [lo, hi] or
    None (the paper's: [5, 10] in 1D, [1, 10] in 2D/3D), "anisotropy": beta}``.
    """

    name: str
    process: LevyFlight
    bins: tuple[int, ...]
    n_particles: int
    dt: float
    t_end: float
    save_every: int
    n_traj: int
    initial: dict[str, Any] = field(default_factory=lambda: {"kind": "von-mises-mixture", "n_components": 5,
                                                             "kappa_range": None, "anisotropy": 0.0})
    seed: int = 0
    dtype: str = "float32"
    compute_dtype: str = "float64"
    device: str = "cpu"
    assignment: str = "ngp"
    chunk_size: int = 2**18
    rng_block: int = 2**16
    description: str = ""

    method = "euler-maruyama"  # what `coarsegrain simulate` prints

    def __post_init__(self):

        self.bins = tuple(int(b) for b in self.bins)
        if len(self.bins) != self.process.ndim or any(b < 1 for b in self.bins):
            raise ValueError(f"{self.name}: bins must be {self.process.ndim} positive sizes, got {self.bins}")
        for key in ("n_traj", "save_every", "n_particles", "chunk_size", "rng_block"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{self.name}: {key} must be an int >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"{self.name}: seed must be a non-negative int, got {self.seed!r}")
        check_time_frames(self.name, self.dt, self.t_end, self.save_every)
        for key in ("dtype", "compute_dtype"):
            if getattr(self, key) not in ("float32", "float64"):
                raise ValueError(f"{self.name}: {key} must be 'float32' or 'float64', got {getattr(self, key)!r}")
        if self.assignment not in ("ngp", "cic"):
            raise ValueError(f"{self.name}: assignment must be 'ngp' or 'cic', got {self.assignment!r}")
        if self.initial.get("kind") != "von-mises-mixture":
            raise ValueError(f"{self.name}: initial kind must be 'von-mises-mixture', got {self.initial.get('kind')!r}")
        # Draws once to check the mixture's settings (n_components, kappa_range, anisotropy).
        trajectory_mixture(self, 0)


    @property
    def grid(self) -> Grid:
        return Grid(self.bins, [self.process.box / b for b in self.bins])

    def replace(self, **changes) -> "ParticleSpec":
        return dataclasses.replace(self, **changes)

    def metadata(self) -> dict[str, Any]:
        # chunk_size is left out: it does not change the result (the random streams are per
        # rng_block particles), so a run may resume with another.
        return {
            "preset": self.name, "description": self.description, "system": "levy-flight",
            "process": self.process.parameters(), "dt": self.dt, "method": self.method, "t_end": self.t_end,
            "save_every": self.save_every, "n_traj": self.n_traj, "n_particles": self.n_particles,
            "bins": list(self.bins), "assignment": self.assignment, "density_normalization": DENSITY_NORMALIZATION,
            "initial": self.initial, "seed": self.seed, "rng_block": self.rng_block,
            "seeding": "mixture: numpy SeedSequence(seed + i, spawn_key=(0,)); particle block b: "
                       "torch.Generator seeded from SeedSequence(seed + i, spawn_key=(1, b))",
            "dtype": self.dtype, "compute_dtype": self.compute_dtype,
        }


def trajectory_mixture(spec: ParticleSpec, index: int) -> VonMisesMixture:
    """The initial-position mixture of trajectory ``index`` (NumPy draws: the same on every device)."""
    init = spec.initial
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed + index, spawn_key=(0,)))
    try:
        return VonMisesMixture.draw(rng, spec.process.ndim, n_components=init.get("n_components", 5),
                                    kappa_range=init.get("kappa_range"), anisotropy=init.get("anisotropy", 0.0),
                                    box=spec.process.box)
    except ValueError as e:
        raise ValueError(f"{spec.name}: {e}") from None


def simulate_particles(spec: ParticleSpec, path: str | Path, *, overwrite: bool = False,
                       progress: bool = True) -> Path:
    """Runs the ensemble into ``path`` (resuming an interrupted run) and returns the path."""
    from .._progress import progress_bar
    from ..data.dataset import DatasetWriter
    from ..data.generate import _check_space, spec_device

    device = spec_device(spec.name, spec.device)
    _check_space(spec, Path(path), overwrite, False)
    mixtures = [trajectory_mixture(spec, i) for i in range(spec.n_traj)]
    time = np.arange(spec.n_frames) * spec.save_every * spec.dt
    writer = DatasetWriter(
        path, system="levy-flight", grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
        boundary=spec.grid.boundary, parameters=spec.metadata(), dt_save=spec.save_every * spec.dt, time=time,
        seeds=[spec.seed + i for i in range(spec.n_traj)], dtype=spec.dtype, with_rhs=False,
        trajectory_parameters={"kappa": [m.kappa for m in mixtures], "mu": [m.mu for m in mixtures]},
        overwrite=overwrite)
    dtype = getattr(torch, spec.compute_dtype)
    store = np.dtype(spec.dtype)
    with writer:
        pending = writer.pending
        bar = progress_bar(progress and bool(pending), delayed=False, mininterval=0.1,
                           total=len(pending) * spec.n_steps * spec.n_particles, desc=spec.name,
                           unit="particle-step", unit_scale=True, smoothing=0.1)
        for i in pending:
            u = simulate_density(spec.process, mixtures[i], spec.n_particles, bins=spec.bins, dt=spec.dt,
                                 n_steps=spec.n_steps, save_every=spec.save_every, seed=spec.seed + i,
                                 chunk_size=spec.chunk_size, rng_block=spec.rng_block, dtype=dtype, device=device,
                                 assignment=spec.assignment, progress=bar.update)
            writer.write(i, u.cpu().numpy().astype(store)[:, None])
        bar.close()
    return Path(path)
