"""arbabi2020 training data as coarsegrain HDF5 datasets: the macro field ``U`` in ``/fields`` and
its estimated time derivative ``dU/dt`` in ``/rhs`` (the format's "exact coarse time derivative"
slot; here the equation-free estimate at each saved frame).

* ``arbabi-patch-1d`` (§5.1, :class:`PatchDynamicsSpec`): patch dynamics with buffers of
  ``(a(x/eps) u_x)_x``, ``a = 1.1 + sin(2 pi x / eps)``, on [0, 1] with Dirichlet ends held at the
  initial values (Eq 21), 9 teeth (h = 1e-4, H = 8e-3, dx = 1e-7), forward-Euler projective steps
  of 1e-3, Eq 23 initial conditions. The stored grid is the 11-point macro grid ``x = 0, 0.1, ..,
  1`` *including* the two Dirichlet ends (their ``dU/dt`` is exactly 0); ``boundary="dirichlet"``.
  The burst has the paper's length 1e-6 but is two Crank-Nicolson steps of 5e-7 rather than the
  paper's one backward-Euler step: measured (least-squares a* from Eq 23 trajectories, relative
  error; cost per macro step and trajectory on one thread) one BE step -5.35e-3 (~12 ms), one CN
  step -4.6e-4 (13 ms), two CN steps -1.0e-4 (17 ms), five BE steps -2.5e-4 (43 ms)
  (:mod:`coarsegrain.equation_free.patch_dynamics` explains the leak through the buffers).
* ``arbabi-gaptooth-2d`` (§5.2, :class:`GapToothSpec`): the edgy, spectrally coupled patch scheme
  (:class:`~coarsegrain.equation_free.patch_scheme.PatchScheme2D`, 16 x 16 patches of 5 x 5
  points, h = 2 pi / 480, patch side 4h = 0.0524) of the Eq 25-26 lattice, Eq 28 initial
  conditions sampled at every micro point; ``U`` = the mean over each patch's 3 x 3 interior
  points, ``dU/dt`` the restricted micro rate at the saved state; 100 snapshots at t = 0.01, ..,
  1 (the unrelaxed t = 0 lift is left out: :attr:`GapToothSpec.times`). The scheme is linear, so by
  default it is advanced by its exact propagator ``expm(J dt)`` (``J`` its Jacobian on the interior
  values, 2304 x 2304); ``integrator="rk4"`` uses the scheme's own RK4 instead (the two agree to
  round-off, tests/test_arbabi2020.py). Cost (one thread, measured): the Jacobian 0.6 s and its
  exponential 8 s once, then one 2304 x 2304 product per frame; RK4 needs steps of 1.8e-5 (its
  stability limit), 56,600 to t = 1, at 0.35 ms per rate evaluation for one trajectory and 0.47 ms
  for four (PatchScheme2D's default compiled micro rate; the torch reference: 0.38 and 0.64 ms, the
  spectral coupling dominating): about half a minute per trajectory.

Trajectory ``i`` uses ``seed + i``; its initial-condition parameters are stored in
``/trajectory_parameters``. Files are written trajectory by trajectory through
:class:`~coarsegrain.data.DatasetWriter`: atomic (``.partial`` renamed when complete) and
resumable (a rerun completes only the missing trajectories).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import threads
from .._progress import progress_bar

__all__ = ["MacroGrid", "PatchDynamicsSpec", "GapToothSpec", "SineModes2D", "random_sine_modes_2d",
           "simulate_patch_dynamics", "simulate_gap_tooth", "exact_homogenized_2d", "gap_tooth_scheme", "lift_modes",
           "ARBABI_A_STAR"]

ARBABI_A_STAR = math.sqrt(1.1 ** 2 - 1)
"""The exact a* of arbabi2020 Eq 20 (the harmonic mean of 1.1 + sin): sqrt(0.21)."""


def _check_frames(spec, ints: tuple[str, ...], numbers: tuple[str, ...]) -> None:
    """The checks both dataset specs share: ``ints`` positive whole numbers, ``t_end``, ``dt`` and
    ``numbers`` positive, ``t_end`` a whole number of frame intervals, a float dtype."""
    owner = spec.name
    for key in ints:
        setattr(spec, key, _positive_int(owner, key, getattr(spec, key)))
    for key in ("t_end", "dt", *numbers):
        setattr(spec, key, _positive_number(owner, key, getattr(spec, key)))
    _whole_multiple(owner, "t_end", spec.t_end, "frame intervals save_every x dt", spec.save_every * spec.dt)
    if spec.dtype not in ("float32", "float64"):
        raise ValueError(f"{owner}: dtype must be float32 or float64, got {spec.dtype!r}")


@dataclass(frozen=True)
class MacroGrid:
    """The stored macro grid: ``shape``, ``spacing`` per axis and the ``boundary`` name."""

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    boundary: str

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def _positive_number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be a positive finite number, got {value!r}")
    return float(value)


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive whole number, got {value!r}")
    return int(value)


def _whole_multiple(owner: str, name: str, value: float, unit_name: str, unit: float) -> int:
    n = round(value / unit)
    if n < 1 or abs(value / unit - n) > 1e-9 * n:
        raise ValueError(f"{owner}: {name} = {value!r} must be a whole number of {unit_name} = {unit!r}")
    return n


# --- 1D: patch dynamics ----------------------------------------------------------------------------

@dataclass
class PatchDynamicsSpec:
    """Everything that defines an ``arbabi-patch-1d`` ensemble (stored in the metadata)."""

    name: str = "arbabi-patch-1d"
    n_traj: int = 10
    t_end: float = 1.0
    dt: float = 1e-3                 # projective (macro) step
    save_every: int = 1              # macro steps between frames
    seed: int = 0
    dtype: str = "float64"
    n_teeth: int = 9
    tooth_width: float = 1e-4
    patch_width: float = 8e-3
    micro_dx: float = 1e-7
    eps: float = 1e-5
    burst_scheme: str = "crank_nicolson"
    burst_steps: int = 2
    micro_dt: float = 5e-7
    projective: str = "euler"
    lift_degree: int = 2
    n_modes: int = 20
    max_wavenumber: float = 4.0
    batch: int = 5                   # trajectories advanced together (the resume granularity)
    description: str = ""
    device: str = "cpu"

    def __post_init__(self):
        owner = self.name
        _check_frames(self, ("n_traj", "save_every", "burst_steps", "batch"), ("micro_dt", "eps", "max_wavenumber"))
        if self.projective not in ("euler", "heun"):
            raise ValueError(f"{owner}: projective must be 'euler' or 'heun', got {self.projective!r}")
        if self.device != "cpu":
            raise ValueError(f"{owner}: device must be 'cpu' (the micro bursts run there), got {self.device!r}")
        self.geometry()  # validates the patch geometry

    def geometry(self):
        from .patches import PatchGeometry

        return PatchGeometry(self.n_teeth, domain=(0.0, 1.0), tooth_width=self.tooth_width,
                             patch_width=self.patch_width, dx=self.micro_dx, boundary="dirichlet")

    def dynamics(self):
        from .patch_dynamics import PatchDynamics, oscillating_diffusivity

        return PatchDynamics(self.geometry(), micro_dt=self.micro_dt, burst_steps=self.burst_steps,
                             lift_degree=self.lift_degree, scheme=self.burst_scheme,
                             diffusivity=oscillating_diffusivity(self.eps))

    @property
    def n_steps(self) -> int:
        return round(self.t_end / self.dt)

    @property
    def n_frames(self) -> int:
        return self.n_steps // self.save_every + 1

    @property
    def method(self) -> str:
        return f"patch dynamics ({self.projective}, burst {self.burst_steps} x {self.burst_scheme} {self.micro_dt:g})"

    @property
    def grid(self) -> MacroGrid:
        return MacroGrid((self.n_teeth + 2,), (1.0 / (self.n_teeth + 1),), "dirichlet")

    @property
    def x(self) -> np.ndarray:
        """Macro grid points (the Dirichlet ends included)."""
        return np.arange(self.n_teeth + 2) / (self.n_teeth + 1)

    def replace(self, **changes) -> "PatchDynamicsSpec":
        return dataclasses.replace(self, **changes)

    def metadata(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("batch")
        d.pop("name")
        return {"preset": self.name, **d, "a_star_exact": ARBABI_A_STAR,
                "diffusivity": f"1.1 + sin(2 pi x / {self.eps:g})", "domain": [0.0, 1.0],
                "fields": "U: tooth averages on the macro grid, Dirichlet ends included",
                "rhs": "dU/dt estimated by the burst (Eq 11) at each frame; 0 at the Dirichlet ends"}

    def initial_conditions(self, indices):
        """The Eq 23 series of the given trajectories (one ``random_sine_series`` per seed)."""
        from .patch_dynamics import SineSeries, random_sine_series

        parts = [random_sine_series(1, self.seed + int(i), n_modes=self.n_modes, max_wavenumber=self.max_wavenumber)
                 for i in indices]
        return SineSeries(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("amplitude", "wavenumber", "phase")))


def simulate_patch_dynamics(spec: PatchDynamicsSpec, path: str | Path, *, overwrite: bool = False,
                            progress: bool = True) -> Path:
    """Runs the ``arbabi-patch-1d`` ensemble into ``path`` (resuming an interrupted run)."""
    from ..data.dataset import DatasetWriter

    geometry, dynamics = spec.geometry(), spec.dynamics()
    every_ic = spec.initial_conditions(range(spec.n_traj))
    time = np.arange(spec.n_frames) * spec.save_every * spec.dt
    writer = DatasetWriter(
        path, system="arbabi2020-heterogeneous-diffusion-1d", grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
        boundary="dirichlet", parameters=spec.metadata(), dt_save=spec.save_every * spec.dt, time=time,
        seeds=[spec.seed + i for i in range(spec.n_traj)], dtype=spec.dtype, with_rhs=True,
        trajectory_parameters={"amplitude": every_ic.amplitude, "wavenumber": every_ic.wavenumber,
                               "phase": every_ic.phase},
        overwrite=overwrite)
    with writer:
        pending = writer.pending
        bar = progress_bar(progress and bool(pending), delayed=False, total=spec.n_steps * len(pending),
                           desc=spec.name, unit="traj-step", unit_scale=True)
        for start in range(0, len(pending), spec.batch):
            ids = pending[start:start + spec.batch]
            U0, bv = spec.initial_conditions(ids).macro_state(geometry)
            frames, rates = _patch_dynamics_run(dynamics, U0, bv, spec, bar, len(ids))
            for j, i in enumerate(ids):
                writer.write(i, frames[j], rates[j])
        bar.close()
    return Path(path)


def _patch_dynamics_run(dynamics, U, bv, spec: PatchDynamicsSpec, bar, n: int):
    """Frames ``[n, n_frames, 1, N + 2]`` of U (ends = Dirichlet values) and dU/dt (ends 0)."""
    store = np.dtype(spec.dtype)
    frames = np.zeros((n, spec.n_frames, 1, spec.n_teeth + 2), dtype=store)
    rates = np.zeros_like(frames)
    frames[:, :, 0, 0] = bv[:, :1].numpy()
    frames[:, :, 0, -1] = bv[:, 1:].numpy()
    for k in range(spec.n_steps + 1):
        threads.tick()
        rate = dynamics.estimate_rate(U, bv)
        if not bool(torch.isfinite(rate).all()):
            raise FloatingPointError(f"{spec.name}: the estimated rate is not finite at t = {k * spec.dt:g}")
        if k % spec.save_every == 0:
            frames[:, k // spec.save_every, 0, 1:-1] = U.numpy()
            rates[:, k // spec.save_every, 0, 1:-1] = rate.numpy()
        if k == spec.n_steps:
            break
        U, _ = dynamics.step(U, spec.dt, bv, spec.projective, rate=rate)
        bar.update(n)
    return frames, rates


# --- 2D: gap-tooth / patch scheme --------------------------------------------------------------------

@dataclass
class SineModes2D:
    """arbabi2020 Eq 28 per trajectory: ``u = sum_j a_j sin(lx_j x + px_j) sin(ly_j y + py_j)``; each
    array ``[batch, n_modes]`` (float64; the wavenumbers integer-valued)."""

    amplitude: np.ndarray
    lx: np.ndarray
    ly: np.ndarray
    phase_x: np.ndarray
    phase_y: np.ndarray

    def __call__(self, x, y) -> np.ndarray:
        """Point values ``[batch, *broadcast(x, y).shape]``."""
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        e = (..., *([None] * x.ndim))
        return (self.amplitude[e] * np.sin(self.lx[e] * x + self.phase_x[e])
                * np.sin(self.ly[e] * y + self.phase_y[e])).sum(axis=1)

    def plane_waves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(coefficient [batch, 2m], k [batch, 2m, 2], phase [batch, 2m])`` with ``u = sum c cos(k.x + phase)``:
        ``sin A sin B = (cos(A - B) - cos(A + B)) / 2``."""
        k = np.stack([np.concatenate([self.lx, self.lx], 1), np.concatenate([-self.ly, self.ly], 1)], -1)
        c = np.concatenate([self.amplitude / 2, -self.amplitude / 2], 1)
        phase = np.concatenate([self.phase_x - self.phase_y, self.phase_x + self.phase_y], 1)
        return c, k, phase


def random_sine_modes_2d(seed: int, n_modes: int = 10, max_wavenumber: int = 5) -> SineModes2D:
    """One Eq 28 draw from ``numpy.random.default_rng(seed)``: ``a ~ U[-1, 1]``, ``lx, ly`` uniform integers
    in ``1..max_wavenumber``, ``phases ~ U[0, 2 pi]`` (in that order); batch 1."""
    rng = np.random.default_rng(seed)
    shape = (1, n_modes)
    a = rng.uniform(-1.0, 1.0, shape)
    lx = rng.integers(1, max_wavenumber + 1, shape).astype(np.float64)
    ly = rng.integers(1, max_wavenumber + 1, shape).astype(np.float64)
    return SineModes2D(a, lx, ly, rng.uniform(0, 2 * np.pi, shape), rng.uniform(0, 2 * np.pi, shape))


def exact_homogenized_2d(modes: SineModes2D, times, tensor, centres, *, micro_spacing: float | None = None,
                         interior: int = 3) -> np.ndarray:
    """The exact solution of ``u_t = div(D grad u)`` (``D = tensor``, 2 x 2) from Eq 28's series: every
    plane wave ``cos(k.x + phase)`` decays at ``k^T D k``. Returns ``[batch, len(times), Nx, Ny]`` at the
    points ``centres = (x [Nx], y [Ny])``; with ``micro_spacing`` the mean over the ``interior x interior``
    micro points centred there instead (the patch scheme's restriction, exact: a factor
    ``sum_m cos(k m d) / interior`` per axis)."""
    tensor = np.asarray(tensor, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64).reshape(-1)
    c, k, phase = modes.plane_waves()
    rate = np.einsum("bmi,ij,bmj->bm", k, tensor, k)
    if micro_spacing is not None:
        offsets = (np.arange(interior) - (interior - 1) / 2) * micro_spacing
        factor = np.prod(np.cos(k[..., None] * offsets).mean(-1), axis=-1)
        c = c * factor
    x, y = (np.asarray(a, dtype=np.float64) for a in centres)
    arg = k[..., 0, None, None] * x[:, None] + k[..., 1, None, None] * y[None, :] + phase[..., None, None]
    decay = np.exp(-rate[:, None, :] * times[None, :, None])  # [b, t, m]
    return np.einsum("btm,bmxy->btxy", decay * c[:, None, :], np.cos(arg))


@dataclass
class GapToothSpec:
    """Everything that defines an ``arbabi-gaptooth-2d`` ensemble (stored in the metadata)."""

    name: str = "arbabi-gaptooth-2d"
    n_traj: int = 100
    t_end: float = 1.0
    dt: float = 0.01                 # the sampling interval
    save_every: int = 1
    seed: int = 0
    dtype: str = "float64"
    patches: int = 16
    points: int = 5
    cells_per_side: int = 480        # micro spacing h = 2 pi / cells_per_side
    order: int = 0                   # 0: spectral interpolation
    mode: str = "edgy"
    n_modes: int = 10
    max_wavenumber: int = 5
    integrator: str = "expm"
    batch: int = 25
    description: str = ""
    device: str = "cpu"

    def __post_init__(self):
        owner = self.name
        _check_frames(self, ("n_traj", "save_every", "patches", "points", "cells_per_side", "n_modes",
                             "max_wavenumber", "batch"), ())
        if self.integrator not in ("expm", "rk4"):
            raise ValueError(f"{owner}: integrator must be 'expm' or 'rk4', got {self.integrator!r}")
        if self.device != "cpu":
            raise ValueError(f"{owner}: device must be 'cpu', got {self.device!r}")
        if 2 * self.max_wavenumber >= self.patches:
            raise ValueError(f"{owner}: {self.patches} patches per side do not resolve wavenumber {self.max_wavenumber}")

    @property
    def micro_spacing(self) -> float:
        return 2 * math.pi / self.cells_per_side

    @property
    def n_steps(self) -> int:
        return round(self.t_end / self.dt)

    @property
    def n_frames(self) -> int:
        """Snapshots at ``t = k save_every dt``, ``k = 1 .. t_end / (save_every dt)`` (the paper's 100
        snapshots 0.01 apart; the initial lift itself is not stored, see :attr:`times`)."""
        return self.n_steps // self.save_every

    @property
    def times(self) -> np.ndarray:
        """Frame times ``(k + 1) save_every dt``. The t = 0 state is the Eq 28 field sampled at the micro
        points, without the micro-scale corrector: its restricted rate is no macro rate (measured, a
        tensor fitted with it is off by up to 70%); the micro field relaxes within ~1e-3, so every stored
        frame is a relaxed one (the fit from them: D* to 1e-3)."""
        return (np.arange(self.n_frames) + 1) * self.save_every * self.dt

    @property
    def method(self) -> str:
        return f"gap-tooth patch scheme ({self.mode}, order {self.order}, {self.integrator})"

    @property
    def grid(self) -> MacroGrid:
        return MacroGrid((self.patches, self.patches), (2 * math.pi / self.patches,) * 2, "periodic")

    @property
    def centres(self) -> np.ndarray:
        return (np.arange(self.patches) + 0.5) * 2 * math.pi / self.patches

    def replace(self, **changes) -> "GapToothSpec":
        return dataclasses.replace(self, **changes)

    def metadata(self) -> dict[str, Any]:
        from .homogenization import ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y

        d = dataclasses.asdict(self)
        d.pop("batch")
        d.pop("name")
        return {"preset": self.name, **d, "micro_spacing": self.micro_spacing,
                "kappa_x": ARBABI2020_KAPPA_X.tolist(), "kappa_y": ARBABI2020_KAPPA_Y.tolist(),
                "domain": [0.0, 2 * math.pi], "patch_centres": "(I + 1/2) 2 pi / patches",
                "fields": "U: mean over each patch's interior micro points (axis order x, y)",
                "rhs": "dU/dt: the restricted micro rate of the coupled patch state at each frame"}

    def initial_conditions(self, indices) -> SineModes2D:
        parts = [random_sine_modes_2d(self.seed + int(i), self.n_modes, self.max_wavenumber) for i in indices]
        return SineModes2D(*(np.concatenate([getattr(p, f.name) for p in parts])
                             for f in dataclasses.fields(SineModes2D)))


def gap_tooth_scheme(spec: GapToothSpec, micro_rate=None):
    """The :class:`~coarsegrain.equation_free.patch_scheme.PatchScheme2D` of a spec (Eq 26 bonds)."""
    from .homogenization import ARBABI2020_KAPPA_X, ARBABI2020_KAPPA_Y
    from .patch_scheme import PatchScheme2D

    return PatchScheme2D(spec.patches, spec.points, micro_spacing=spec.micro_spacing, order=spec.order,
                         mode=spec.mode, kx_cell=ARBABI2020_KAPPA_X, ky_cell=ARBABI2020_KAPPA_Y,
                         micro_rate=micro_rate)


class _ExactPropagator:
    """``u(t + dt) = expm(J dt) u(t)`` on the interior values of the linear patch scheme."""

    def __init__(self, scheme, dt: float):
        import scipy.linalg

        self.scheme = scheme
        self.jacobian = scheme.jacobian()
        self.step = scipy.linalg.expm(self.jacobian * dt)

    def interior(self, u: torch.Tensor) -> np.ndarray:
        inner = u[..., 1:-1, 1:-1]
        return inner.reshape(inner.shape[0], -1).numpy()

    def restrict(self, v: np.ndarray) -> np.ndarray:
        shape = self.scheme.interior_shape
        return v.reshape(v.shape[0], *shape).mean(axis=(-1, -2))


def simulate_gap_tooth(spec: GapToothSpec, path: str | Path, *, overwrite: bool = False, progress: bool = True,
                       micro_rate=None) -> Path:
    """Runs the ``arbabi-gaptooth-2d`` ensemble into ``path`` (resuming an interrupted run)."""
    from ..data.dataset import DatasetWriter

    scheme = gap_tooth_scheme(spec, micro_rate)
    every_ic = spec.initial_conditions(range(spec.n_traj))
    time = spec.times
    writer = DatasetWriter(
        path, system="arbabi2020-lattice-diffusion-2d", grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
        boundary="periodic", parameters=spec.metadata(), dt_save=spec.save_every * spec.dt, time=time,
        seeds=[spec.seed + i for i in range(spec.n_traj)], dtype=spec.dtype, with_rhs=True,
        trajectory_parameters={f.name: getattr(every_ic, f.name) for f in dataclasses.fields(SineModes2D)},
        overwrite=overwrite)
    with writer:
        pending = writer.pending
        if not pending:
            return Path(path)
        bar = progress_bar(progress, delayed=False, total=spec.n_frames * len(pending), desc=spec.name,
                           unit="frame")
        propagator = None
        if spec.integrator == "expm":
            bar.set_postfix_str("propagator expm(J dt)")
            propagator = _ExactPropagator(scheme, spec.save_every * spec.dt)
            bar.set_postfix_str("")
        for start in range(0, len(pending), spec.batch):
            ids = pending[start:start + spec.batch]
            modes = spec.initial_conditions(ids)
            u0 = lift_modes(scheme, modes)
            frames, rates = _gap_tooth_run(scheme, propagator, u0, spec, bar)
            for j, i in enumerate(ids):
                writer.write(i, frames[j][:, None].astype(spec.dtype), rates[j][:, None].astype(spec.dtype))
        bar.close()
    return Path(path)


def lift_modes(scheme, modes: SineModes2D) -> torch.Tensor:
    """Eq 28 at every micro point of the scheme: ``[batch, Nx, Ny, nx, ny]`` float64."""
    x, y = scheme.xy
    return torch.from_numpy(modes(x.double().numpy(), y.double().numpy()))


def _gap_tooth_run(scheme, propagator, u0: torch.Tensor, spec: GapToothSpec, bar):
    n = u0.shape[0]
    u0 = u0.reshape(n, *scheme.state_shape)
    frames = np.empty((n, spec.n_frames, spec.patches, spec.patches))
    rates = np.empty_like(frames)
    if propagator is not None:
        jac_t, step_t = propagator.jacobian.T, propagator.step.T
        v = propagator.interior(scheme.couple(u0))
        for k in range(spec.n_frames):
            threads.tick()
            v = v @ step_t
            frames[:, k] = propagator.restrict(v)
            rates[:, k] = propagator.restrict(v @ jac_t)
            bar.update(n)
        return frames, rates
    states = scheme.integrate(u0, np.concatenate([[0.0], spec.times]))[1:]  # [F, n, ...]
    for k in range(spec.n_frames):
        frames[:, k] = scheme.restrict(states[k]).numpy()
        rates[:, k] = scheme.restrict(scheme.rate(states[k])).numpy()
        bar.update(n)
    return frames, rates
