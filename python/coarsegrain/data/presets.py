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
"""

from __future__ import annotations

import math
from typing import Callable

from ..grid import Grid
from ..systems import AllenCahn, CahnHilliard, PhaseFieldCrystal, lanzoni, make_stepper, quartic
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


PRESETS: dict[str, Callable[[], SimulationSpec]] = {
    "kiyani-allen-cahn": _kiyani_allen_cahn,
    "kiyani-cahn-hilliard": _kiyani_cahn_hilliard,
    "kiyani-pfc": _kiyani_pfc,
    "lanzoni-ch3d": _lanzoni_ch3d,
}


def get_preset(name: str, *, n_traj: int | None = None, grid: list[int] | None = None,
               t_end: float | None = None, save_every: int | None = None, dtype: str | None = None,
               device: str | None = None, seed: int | None = None, method: str | None = None,
               dt: float | None = None, rtol: float | None = None) -> SimulationSpec:
    """A preset with overrides (``grid`` replaces the shape and keeps the spacing).

    ``method`` picks another stepper (see :func:`coarsegrain.systems.make_stepper`); ``dt``
    another step, so the frames, ``save_every`` steps apart, move with it; ``rtol`` is the
    tolerance of ``method="etd4-adaptive"``, whose ``dt`` is then only the unit of the
    frame interval.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
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
    if not (new_dt > 0 and math.isfinite(new_dt)):
        raise ValueError(f"{name}: dt must be a positive number, got {new_dt}")
    make_stepper(changes.get("model", spec.model), changes.get("method", spec.method), new_dt,
                 **changes.get("stepper_options", spec.stepper_options))
    return spec.replace(**changes) if changes else spec
