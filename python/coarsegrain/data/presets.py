"""Named simulation presets reproducing the papers' data sets.

kiyani2022 (Table 1; §2.3: SymPhas, semi-implicit Fourier spectral; h = 1; five runs of 100
equally spaced frames; uniform random initial fields) and lanzoni2024 §2.1 (explicit finite
differences on 64^3, dt = 1.25e-3, eps = 3, M = 1, periodic Perlin initial fields of varied mean
and correlation length, 50 frames tau = 0.5 apart, sequences starting from noise or later).

Where the papers are silent, the choice is written here:
* kiyani's uniform range: [-1, 1] for Allen-Cahn and Cahn-Hilliard (the wells of f are at
  +-1), and [-0.3, -0.1] for the phase-field crystal (mean -0.2, inside the patterned region
  for eps = 0.1);
* lanzoni's Perlin parameters: amplitude 0.3 about the mean, correlation length U(8, 24)
  grid units, warm-up of up to 20 frame intervals before the first saved frame.

patel2021 §5.2.1 and §5.2.3 (particles, :mod:`coarsegrain.particles`): ``patel-brownian-1d``
(Brownian motion, 256 bins on [0, 2π), dt 1e-3, 51,200 particles per set, von Mises mixtures with
κ ~ U[5, 10]) and ``patel-levy-2d`` (isotropic Lévy flights, α = 1.5, 64² bins on [0, 2π)², dt
1e-3, 819,200 particles per set, κ ~ U[1, 10] per axis, anisotropy β = 0). Both bin every step.
By default they are small (4 sets, fewer particles, 100 steps: seconds); ``full=True``
(``coarsegrain simulate --full``) gives the paper's 100 sets of 1000 steps (t = 1, the final time
of the paper's Fig 4). Five mixture components (the paper's text; its Eq 22 says ten); densities
``u = counts · n_bins / N`` (mean 1), as the dataset's metadata says.

arbabi2020 §5.1-5.2 (equation-free data, :mod:`coarsegrain.equation_free.datasets`):
``arbabi-patch-1d`` (patch dynamics of 1D heterogeneous diffusion, 9 teeth on [0, 1] with
Dirichlet ends, U and dU/dt every 1e-3) and ``arbabi-gaptooth-2d`` (the gap-tooth scheme of the
Eq 25-26 lattice, 16 x 16 patches, U and dU/dt every 0.01). Small by default (2 trajectories to
t = 0.1; 4 trajectories); ``full=True`` the paper's 10 (8 + 2) trajectories to t = 1 and 100.
"""

from __future__ import annotations

from typing import Callable

from ..equation_free.datasets import GapToothSpec, PatchDynamicsSpec
from ..grid import Grid
from ..particles import LevyFlight, ParticleSpec
from ..systems import AllenCahn, CahnHilliard, PhaseFieldCrystal, lanzoni, make_stepper, quartic
from ..systems.steppers import _check_dt
from .generate import SimulationSpec

__all__ = ["PRESETS", "get_preset"]


def _kiyani_allen_cahn() -> SimulationSpec:
    return SimulationSpec(
        name="kiyani-allen-cahn", model=AllenCahn(Grid((256, 256), 1.0), quartic(1.0, 1.0)),
        method="spectral", dt=0.1, t_end=20.0, save_every=2, n_traj=5,
        initial={"kind": "uniform", "low": -1.0, "high": 1.0},
        description="kiyani2022 Table 1: Allen-Cahn, 256^2, dt 0.1, t 20, a2 = a4 = 1")


def _kiyani_cahn_hilliard() -> SimulationSpec:
    return SimulationSpec(
        name="kiyani-cahn-hilliard", model=CahnHilliard(Grid((128, 128), 1.0), quartic(1.0, 1.0)),
        method="spectral", dt=0.01, t_end=20.0, save_every=20, n_traj=5,
        initial={"kind": "uniform", "low": -1.0, "high": 1.0},
        description="kiyani2022 Table 1: Cahn-Hilliard, 128^2, dt 0.01, t 20, a2 = a4 = 1")


def _kiyani_pfc() -> SimulationSpec:
    return SimulationSpec(
        name="kiyani-pfc", model=PhaseFieldCrystal(Grid((128, 128), 1.0), q0=1.0, epsilon=0.1),
        method="spectral", dt=0.05, t_end=100.0, save_every=20, n_traj=5,
        initial={"kind": "uniform", "low": -0.3, "high": -0.1},
        description="kiyani2022 Table 1: phase-field crystal, 128^2, dt 0.05, t 100, q0 = 1, eps = 0.1")


def _lanzoni_ch3d() -> SimulationSpec:
    eps = 3.0
    return SimulationSpec(
        name="lanzoni-ch3d",
        model=CahnHilliard(Grid((64, 64, 64), 1.0), lanzoni(eps), mobility=1.0, kappa=eps),
        method="explicit", dt=1.25e-3, t_end=50 * 0.5, save_every=400, n_traj=10,
        initial={"kind": "perlin", "mean": [0.5, 0.1], "correlation_length": [8.0, 24.0],
                 "amplitude": 0.3},
        warmup_frames=20,
        description="lanzoni2024 §2.1: 3D Cahn-Hilliard, 64^3, explicit FD, dt 1.25e-3, eps 3, "
                    "M 1, Perlin initial fields, frames tau = 0.5 apart")


def _patel_brownian_1d(full: bool = False) -> ParticleSpec:
    return ParticleSpec(
        name="patel-brownian-1d", process=LevyFlight(alpha=2.0, ndim=1), bins=(256,),
        n_particles=51_200 if full else 10_240, dt=1e-3, t_end=1.0 if full else 0.1, save_every=1,
        n_traj=100 if full else 4,
        initial={"kind": "von-mises-mixture", "n_components": 5, "kappa_range": [5.0, 10.0], "anisotropy": 0.0},
        description="patel2021 §5.2.1: 1D Brownian particles (u_t = u_xx), 256 bins on [0, 2pi), dt 1e-3, "
                    "von Mises mixtures; small: 4 x 10,240 particles x 100 steps, --full: 100 x 51,200 x 1000")


def _patel_levy_2d(full: bool = False) -> ParticleSpec:
    return ParticleSpec(
        name="patel-levy-2d", process=LevyFlight(alpha=1.5, ndim=2, isotropic=True), bins=(64, 64),
        n_particles=819_200 if full else 16_384, dt=1e-3, t_end=1.0 if full else 0.1, save_every=1,
        n_traj=100 if full else 4,
        initial={"kind": "von-mises-mixture", "n_components": 5, "kappa_range": [1.0, 10.0], "anisotropy": 0.0},
        description="patel2021 §5.2.3: 2D isotropic Levy flights (alpha 1.5), 64^2 bins on [0, 2pi)^2, dt 1e-3; "
                    "small: 4 x 16,384 particles x 100 steps, --full: 100 x 819,200 x 1000")


def _arbabi_patch_1d(full: bool = False) -> PatchDynamicsSpec:
    return PatchDynamicsSpec(
        n_traj=10 if full else 2, t_end=1.0 if full else 0.1,
        description="arbabi2020 sec. 5.1: patch dynamics of (a(x/eps) u_x)_x, a = 1.1 + sin, eps 1e-5, 9 teeth on "
                    "[0, 1] (Dirichlet), burst 2 x CN 5e-7, projective Euler 1e-3, Eq 23 ICs; U and dU/dt every "
                    "1e-3; small: 2 x t 0.1, --full: 10 (8 + 2) x t 1")


def _arbabi_gaptooth_2d(full: bool = False) -> GapToothSpec:
    return GapToothSpec(
        n_traj=100 if full else 4,
        description="arbabi2020 sec. 5.2: gap-tooth scheme of the Eq 25-26 lattice, 16^2 patches of 5^2 points "
                    "on [0, 2pi)^2, spectral edgy coupling, Eq 28 ICs; U and dU/dt every 0.01 to t 1; small: 4 "
                    "trajectories, --full: 100")


PRESETS: dict[str, Callable[..., SimulationSpec | ParticleSpec]] = {
    "kiyani-allen-cahn": _kiyani_allen_cahn,
    "kiyani-cahn-hilliard": _kiyani_cahn_hilliard,
    "kiyani-pfc": _kiyani_pfc,
    "lanzoni-ch3d": _lanzoni_ch3d,
    "patel-brownian-1d": _patel_brownian_1d,
    "patel-levy-2d": _patel_levy_2d,
    "arbabi-patch-1d": _arbabi_patch_1d,
    "arbabi-gaptooth-2d": _arbabi_gaptooth_2d,
}
"""Preset name -> a function giving its spec (the particle and arbabi presets take ``full``)."""


def get_preset(name: str, *, n_traj: int | None = None, grid: list[int] | None = None,
               t_end: float | None = None, save_every: int | None = None, dtype: str | None = None,
               device: str | None = None, seed: int | None = None, method: str | None = None,
               dt: float | None = None, rtol: float | None = None, full: bool = False,
               n_particles: int | None = None, anisotropy: float | None = None) -> SimulationSpec | ParticleSpec:
    """A preset with overrides (``grid`` replaces the shape and keeps the spacing).

    The particle presets (``patel-*``, a :class:`~coarsegrain.particles.ParticleSpec`) take
    ``full`` (the paper's sizes), ``n_particles`` and ``anisotropy`` (β of patel2021 §5.2.3, 2D);
    their ``grid`` is the number of bins on the fixed box [0, 2π)^d, and they have no ``method``
    or ``rtol``. ``full`` changes nothing in the phase-field presets: they are the papers' sizes.

    ``method`` picks another stepper (see :func:`coarsegrain.systems.make_stepper`); ``dt``
    another step, so the frames, ``save_every`` steps apart, move with it; ``rtol`` is the
    tolerance of ``method="etd4-adaptive"``, whose ``dt`` is then only the unit of the
    frame interval.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    if name.startswith("arbabi-"):
        return _arbabi_preset(name, n_traj=n_traj, t_end=t_end, save_every=save_every, dtype=dtype, device=device,
                              seed=seed, dt=dt, full=full, grid=grid, method=method, rtol=rtol,
                              n_particles=n_particles, anisotropy=anisotropy)
    if name.startswith("patel-"):
        return _particle_preset(name, n_traj=n_traj, grid=grid, t_end=t_end, save_every=save_every, dtype=dtype,
                                device=device, seed=seed, method=method, dt=dt, rtol=rtol, full=full,
                                n_particles=n_particles, anisotropy=anisotropy)
    for key, value in (("n_particles", n_particles), ("anisotropy", anisotropy)):
        if value is not None:
            raise ValueError(f"{name}: {key} applies to the particle presets (patel-*) only")
    spec = PRESETS[name]()
    changes: dict = {}
    if grid is not None:
        old = spec.model.grid
        if len(grid) == 1:
            grid = list(grid) * old.ndim
        if len(grid) != old.ndim:
            raise ValueError(f"{name}: --grid needs 1 or {old.ndim} sizes, got {grid}")
        import dataclasses

        changes["model"] = dataclasses.replace(spec.model, grid=Grid(grid, old.spacing))
    for key, value in (("n_traj", n_traj), ("t_end", t_end), ("save_every", save_every),
                       ("dtype", dtype), ("device", device), ("seed", seed), ("method", method), ("dt", dt)):
        if value is not None:
            changes[key] = value
    if method is not None and method != spec.method:
        changes["stepper_options"] = {}  # the preset's options belong to its own stepper
    if rtol is not None:
        if (method or spec.method) != "etd4-adaptive":
            raise ValueError(f"{name}: rtol applies to method 'etd4-adaptive' only, not {method or spec.method!r}")
        changes["stepper_options"] = {"rtol": float(rtol)}
    # The stepper is checked before the spec: an unknown method or an unstable or negative dt is
    # the real problem, not the frame count it would lead to.
    new_dt = changes.get("dt", spec.dt)
    _preset_dt(name, new_dt)
    make_stepper(changes.get("model", spec.model), changes.get("method", spec.method), new_dt,
                 **changes.get("stepper_options", spec.stepper_options))
    return spec.replace(**changes) if changes else spec


def _preset_dt(name: str, dt) -> None:
    _check_dt(dt, name)


def _particle_preset(name: str, *, grid, method, rtol, full, n_particles, anisotropy, **overrides) -> ParticleSpec:
    for key, value in (("method", method), ("rtol", rtol)):
        if value is not None:
            raise ValueError(f"{name}: {key} applies to the phase-field presets only (particles take exact "
                             "stable steps)")
    spec = PRESETS[name](full=full)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "dt" in changes:
        _preset_dt(name, changes["dt"])
    if grid is not None:
        ndim = spec.process.ndim
        if len(grid) == 1:
            grid = list(grid) * ndim
        if len(grid) != ndim:
            raise ValueError(f"{name}: --grid needs 1 or {ndim} sizes, got {grid}")
        changes["bins"] = tuple(int(n) for n in grid)
    if n_particles is not None:
        changes["n_particles"] = n_particles
    if anisotropy is not None:
        changes["initial"] = {**spec.initial, "anisotropy": float(anisotropy)}
    return spec.replace(**changes) if changes else spec


def _arbabi_preset(name: str, *, full: bool, grid, method, rtol, n_particles, anisotropy,
                   **overrides) -> PatchDynamicsSpec | GapToothSpec:
    """The equation-free presets (arbabi2020): their grids and micro-solvers are fixed by the paper, so
    only the ensemble's size, times, seed and stored precision can change (``dt``: the projective step
    in 1D, the sampling interval in 2D)."""
    for key, value in (("grid", grid), ("method", method), ("rtol", rtol), ("n_particles", n_particles),
                       ("anisotropy", anisotropy)):
        if value is not None:
            raise ValueError(f"{name}: {key} does not apply to the equation-free presets (arbabi-*)")
    spec = PRESETS[name](full=full)
    changes = {k: v for k, v in overrides.items() if v is not None}
    return spec.replace(**changes) if changes else spec
