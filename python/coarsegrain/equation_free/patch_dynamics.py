"""Patch dynamics with buffers and projective integration (arbabi2020 §3, §5.1), in 1D.

One macro step from ``U`` (tooth averages ``[*batch, N]``): lift each tooth's Taylor polynomial
over its patch (tooth + buffers, :meth:`PatchGeometry.lift`), run a short burst of the micro-solver
(``burst_steps`` steps of ``micro_dt``, the buffer-edge Dirichlet values held at the lifted
polynomial's edge values), restrict (tooth averages), and estimate ``dU/dt = (U(dt_burst) - U) /
dt_burst`` (Eq 11); then a projective step of ``dt_macro >> dt_burst`` with forward Euler (the
paper) or Heun (second order: two bursts per step). :class:`GapTooth` is the other coupling
(Eq 9): teeth without buffers, simulated for all time, edge-gradient conditions from ``p_i^k``.

The micro-solver is any callable ``micro_step(u, dt, left, right) -> u`` with ``u [*batch, N,
n_patch]`` and the wall values ``left``, ``right [*batch, N]``. The default,
:class:`HeterogeneousDiffusionMicroStep`, is the compiled implicit step
``coarsegrain.ops.heterogeneous_diffusion_step`` of ``u_t = (a(x) u_x)_x`` with ``a`` sampled at
each patch's micro faces (default ``a(x) = 1.1 + sin(2 pi x / eps)``, ``eps = 1e-5``).

Accuracy of the rate estimate (measured; tests/test_patch_dynamics.py). At the paper's parameters
(eps = 1e-5, dx = 1e-7, h = 1e-4, H = 8e-3, one backward-Euler step of 1e-6) the estimate of a
quadratic's rate is ``a* D2 (1 - 5.43e-3) - 9.9e-3 D1``: one implicit step has the Green's function
``exp(-|x| / l) / (2 l)``, ``l = sqrt(a* dt)``, an exponential (not Gaussian) tail, so the held
buffer-edge values (the smooth polynomial's, without the micro-scale corrector) leak
``1 / cosh((H / 2) / l) = 5.43e-3`` into the tooth (the exact heat kernel's leak at this ``H`` is
~1e-6). Least-squares a* from Eq 23 trajectories, relative error (bias of a quadratic's rate):
one BE step of 1e-6 -5.35e-3 (-5.43e-3); 2 x 5e-7 -1.41e-3 (-1.45e-3); 5 x 2e-7 -2.3e-4; 10 x
1e-7 -6.5e-5 (-7.1e-5); one Crank-Nicolson step of 1e-6 -4.4e-4; one BE step, H = 1.2e-2
-2.7e-4, H = 1.6e-2 -8e-6. The leak is set by H / sqrt(a* dt), not by dt / dx^2: the quadratic's
bias is -5.43e-3 at dx = 1e-7 and 2e-7 (-5.70e-3 at 5e-7 = eps / 20), and with a quartic lift.
Cost (one CPU thread, float64, 9 patches x 80,000 cells): ~10-14 ms per forward-Euler macro step
with one BE step per burst, ~100 ms with ten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .._progress import progress_bar
from ..ops.tridiagonal import DIFFUSION_SCHEMES, heterogeneous_diffusion_step
from .patches import PatchGeometry

__all__ = ["oscillating_diffusivity", "HeterogeneousDiffusionMicroStep", "PatchDynamics", "GapTooth",
           "PatchTrajectory", "SineSeries", "random_sine_series", "PROJECTIVE_METHODS"]

PROJECTIVE_METHODS = ("euler", "heun")
MicroStep = Callable[[Tensor, float, Tensor, Tensor], Tensor]


def oscillating_diffusivity(eps: float = 1e-5, mean: float = 1.1, amplitude: float = 1.0) -> Callable:
    """``a(x) = mean + amplitude * sin(2 pi x / eps)`` (arbabi2020 Eq 20) as a numpy function of x."""
    for name, v in (("eps", eps), ("mean", mean), ("amplitude", amplitude)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"oscillating_diffusivity: {name} must be a finite number, got {v!r}")
    if eps <= 0:
        raise ValueError(f"oscillating_diffusivity: eps must be positive, got {eps!r}")
    if mean - abs(amplitude) <= 0:
        raise ValueError(f"oscillating_diffusivity: mean - |amplitude| must be positive (a > 0), got {mean!r}, "
                         f"{amplitude!r}")

    def a(x):
        phase = np.asarray(x, dtype=np.float64) / eps
        return mean + amplitude * np.sin(2 * np.pi * (phase - np.floor(phase)))

    a.eps, a.mean, a.amplitude = eps, mean, amplitude
    return a


class HeterogeneousDiffusionMicroStep:
    """The default micro-solver: one ``scheme`` step (backward Euler / Crank-Nicolson) of
    ``u_t = (a u_x)_x`` in every patch, ``a = diffusivity(x)`` at the patch's micro faces.

    The implicit matrix has ``dt a / dx^2 ~ 1e8`` at the paper's parameters; the op solves for the
    increment (its round-off is relative to the change, not to ``|u|``), so no per-patch constant
    needs subtracting: with and without subtracting the mean of the two wall values the rates of
    Eq 23 fields (data and data + 10, four burst settings) agree to 1.5e-13 relative in float64
    (measured). A float32 burst stays wrong by 7-46% (below).
    """

    def __init__(self, geometry: PatchGeometry, diffusivity: Callable | None = None, *,
                 scheme: str = "backward_euler"):
        if not isinstance(geometry, PatchGeometry):
            raise TypeError(f"geometry must be a PatchGeometry, got {type(geometry).__name__}")
        if scheme not in DIFFUSION_SCHEMES:
            raise ValueError(f"scheme must be one of {DIFFUSION_SCHEMES}, got {scheme!r}")
        diffusivity = oscillating_diffusivity() if diffusivity is None else diffusivity
        if not callable(diffusivity):
            raise TypeError(f"diffusivity must be a callable a(x) on numpy arrays, got {type(diffusivity).__name__}")
        faces = geometry.face_positions()
        a = np.array(np.broadcast_to(np.asarray(diffusivity(faces), dtype=np.float64), faces.shape))
        if not np.isfinite(a).all() or (a < 0).any():
            raise ValueError("diffusivity must be finite and non-negative at every micro face")
        self.geometry, self.scheme = geometry, scheme
        self.a_faces = torch.from_numpy(a)  # [N, n_patch + 1] float64
        self._cache: dict = {}

    def faces(self, dtype, device) -> Tensor:
        key = (dtype, str(device))
        if key not in self._cache:
            self._cache[key] = self.a_faces.to(dtype=dtype, device=device)
        return self._cache[key]

    def __call__(self, u: Tensor, dt: float, left: Tensor, right: Tensor) -> Tensor:
        a = self.faces(u.dtype, u.device)
        if u.dim() > 2:
            a = a.expand(*u.shape[:-2], *a.shape)
        return heterogeneous_diffusion_step(u, a, spacing=self.geometry.dx, dt=dt, left=left, right=right,
                                            scheme=self.scheme)


@dataclass
class PatchTrajectory:
    """Frames of a patch-dynamics run: ``times [F]`` (float64 numpy), ``U [F, *batch, N]`` tooth
    averages, ``dUdt [F, *batch, N]`` the estimated time derivative (Eq 11) at each frame's U."""

    times: np.ndarray
    U: Tensor
    dUdt: Tensor


class PatchDynamics:
    """Patch dynamics with buffers (arbabi2020 §3) on a :class:`PatchGeometry`.

    ``micro_step``: ``(u [*batch, N, n_patch], dt, left [*batch, N], right [*batch, N]) -> u``;
    default :class:`HeterogeneousDiffusionMicroStep` with ``diffusivity`` (default
    ``1.1 + sin(2 pi x / 1e-5)``) and ``scheme`` (both only for the default). ``micro_dt``: the
    micro step; ``burst_steps``: micro steps per rate estimate (burst length ``dt_burst =
    burst_steps * micro_dt``); ``lift_degree``: degree of the Taylor lift (0..4; the paper: 2).
    Defaults are the paper's: one backward-Euler step of 1e-6 (see the module docstring for its
    0.54% bias and ``burst_steps=10, micro_dt=1e-7`` for the same burst without it).
    ``micro_dtype``: the precision of lift, burst and restriction (default float64 whatever U's
    dtype; the rate is returned in U's). At the paper's parameters the implicit micro matrix has
    ``dt a / dx^2 ~ 1e8`` and a condition number ~2e8-4e8, beyond float32's ``1 / eps ~ 1.7e7``: a
    float32 burst gets the rate of an Eq 23 field wrong by 45-46% (one backward-Euler step of 1e-6),
    17% (ten of 1e-7), 7-10% (one Crank-Nicolson step; measured, two fields; the float32 rounding of
    the lifted field alone costs 0.1%: it is the float32 solve), so ``None`` (U's dtype) is only for
    micro-solvers that can afford it.
    """

    def __init__(self, geometry: PatchGeometry, micro_step: MicroStep | None = None, *, micro_dt: float = 1e-6,
                 burst_steps: int = 1, lift_degree: int = 2, scheme: str = "backward_euler",
                 diffusivity: Callable | None = None, micro_dtype: torch.dtype | None = torch.float64):
        if not isinstance(geometry, PatchGeometry):
            raise TypeError(f"geometry must be a PatchGeometry, got {type(geometry).__name__}")
        if isinstance(micro_dt, bool) or not isinstance(micro_dt, (int, float)) or not (
                math.isfinite(micro_dt) and micro_dt > 0):
            raise ValueError(f"micro_dt must be a positive finite number, got {micro_dt!r}")
        if isinstance(burst_steps, bool) or not isinstance(burst_steps, int) or burst_steps < 1:
            raise ValueError(f"burst_steps must be a positive int, got {burst_steps!r}")
        geometry.derivative_weights(lift_degree)  # validates the degree against the grid
        if micro_step is None:
            micro_step = HeterogeneousDiffusionMicroStep(geometry, diffusivity, scheme=scheme)
        elif not callable(micro_step):
            raise TypeError(f"micro_step must be callable (u, dt, left, right) -> u, got {type(micro_step).__name__}")
        if micro_dtype not in (None, torch.float32, torch.float64):
            raise ValueError(f"micro_dtype must be torch.float64, torch.float32 or None (U's dtype), got {micro_dtype!r}")
        self.geometry, self.micro_step, self.micro_dtype = geometry, micro_step, micro_dtype
        self.micro_dt, self.burst_steps, self.lift_degree = float(micro_dt), burst_steps, lift_degree

    @property
    def burst_length(self) -> float:
        return self.micro_dt * self.burst_steps

    def time_fraction(self, dt_macro: float, method: str = "euler") -> float:
        """Fraction of the time axis micro-simulated: bursts per macro step times ``dt_burst / dt_macro``."""
        return (2 if method == "heun" else 1) * self.burst_length / dt_macro

    def burst(self, U: Tensor, boundary_values=None) -> Tensor:
        """Lift ``U``, run ``burst_steps`` micro steps with the buffer edges held at their lifted
        values; returns the micro field ``[*batch, N, n_patch]`` at the end of the burst."""
        u, left, right = self.geometry.lift(U, self.lift_degree, boundary_values, return_edges=True)
        for _ in range(self.burst_steps):
            u = self.micro_step(u, self.micro_dt, left, right)
        return u

    def estimate_rate(self, U: Tensor, boundary_values=None) -> Tensor:
        """``dU/dt ~ (restrict(burst(U)) - U) / dt_burst`` (Eq 11), ``[*batch, N]``."""
        self.geometry.check_macro("U", U)
        work = U if self.micro_dtype is None else U.to(self.micro_dtype)
        if boundary_values is not None:
            boundary_values = torch.as_tensor(boundary_values, device=U.device).to(work.dtype)
        u = self.burst(work, boundary_values)
        if not isinstance(u, Tensor) or u.shape[-2:] != (self.geometry.n_teeth, self.geometry.n_patch_cells):
            raise ValueError(f"micro_step must return the patches' shape [*batch, {self.geometry.n_teeth}, "
                             f"{self.geometry.n_patch_cells}], got {getattr(u, 'shape', type(u).__name__)}")
        return ((self.geometry.restrict(u) - work) / self.burst_length).to(U.dtype)

    def step(self, U: Tensor, dt_macro: float, boundary_values=None, method: str = "euler",
             rate: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One projective step; returns ``(U(t + dt_macro), dU/dt estimated at U)``. ``rate``: the
        estimate at ``U`` if already known (saves a burst)."""
        if method not in PROJECTIVE_METHODS:
            raise ValueError(f"method must be one of {PROJECTIVE_METHODS}, got {method!r}")
        k1 = self.estimate_rate(U, boundary_values) if rate is None else rate
        if method == "euler":
            return U + dt_macro * k1, k1
        k2 = self.estimate_rate(U + dt_macro * k1, boundary_values)
        return U + 0.5 * dt_macro * (k1 + k2), k1

    def integrate(self, U0: Tensor, t_end: float, dt_macro: float = 1e-3, *, boundary_values=None,
                  save_every: int = 1, method: str = "euler", progress: bool = False) -> PatchTrajectory:
        """Projective integration from ``U0 [*batch, N]`` over ``t_end`` (a whole number of
        ``dt_macro``); frames every ``save_every`` macro steps, the first at t = 0 and the last at
        ``t_end`` when ``save_every`` divides the step count, each with the rate estimated at it."""
        self.geometry.check_macro("U0", U0)
        for name, v in (("t_end", t_end), ("dt_macro", dt_macro)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        n_steps = round(t_end / dt_macro)
        if n_steps < 1 or abs(t_end / dt_macro - n_steps) > 1e-9 * n_steps:
            raise ValueError(f"t_end = {t_end!r} must be a whole number of dt_macro = {dt_macro!r} steps")
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
            raise ValueError(f"save_every must be a positive int, got {save_every!r}")
        if method not in PROJECTIVE_METHODS:
            raise ValueError(f"method must be one of {PROJECTIVE_METHODS}, got {method!r}")
        bv = self.geometry.check_boundary_values(boundary_values, U0)
        U, frames, rates, times = U0, [], [], []
        rate = None
        with progress_bar(progress, total=n_steps, desc="patch dynamics", unit="step") as bar:
            for k in range(n_steps + 1):
                save = k % save_every == 0
                if save or k < n_steps:
                    rate = self.estimate_rate(U, bv)
                    if not bool(torch.isfinite(rate).all()):
                        raise FloatingPointError(f"patch dynamics: the estimated rate is not finite at step {k} "
                                                 f"(t = {k * dt_macro:g}); is dt_macro beyond the stability limit?")
                if save:
                    frames.append(U)
                    rates.append(rate)
                    times.append(k * dt_macro)
                if k == n_steps:
                    break
                U, _ = self.step(U, dt_macro, bv, method, rate=rate)
                bar.update(1)
        return PatchTrajectory(np.asarray(times), torch.stack(frames), torch.stack(rates))


class GapTooth:
    """The gap-tooth scheme (arbabi2020 §3, Eq 7-9): teeth without buffers (``patch_width ==
    tooth_width``), micro-simulated for all time; before every micro step each tooth's edges get the
    slopes of ``p_i^k`` (the degree-``k`` polynomial, ``k`` even, with the tooth averages of tooth
    ``i`` and ``k / 2`` neighbours each side; the Dirichlet end values as point values).

    Edge condition (Eq 9): the gradient averaged over one heterogeneity period next to the edge
    equals the polynomial's over the same window, ``u(x_R) - u(x_R - w) = p(x_R) - p(x_R - w)`` on
    the right, ``u(x_L + w) - u(x_L) = p(x_L + w) - p(x_L)`` on the left, ``w = gradient_window``
    (default the diffusivity's ``eps``). The paper writes the window as ``[x_e - eps, x_e + eps]``,
    centred on the edge, which reaches outside the tooth where there is no micro solution; the
    period inside the tooth averages the gradient the same way (so the flux through the edge is
    ``a*`` times the macro gradient, not ``a(x_e)`` times it as a point Neumann condition would
    give), and matching ``p``'s difference over that window rather than ``p'(x_e)`` keeps it
    consistent: measured, ``w p'(x_e)`` would inflate the rate by ``h / (h - w)`` (1.11 at
    ``w = h / 10``). ``w`` must span whole periods of the heterogeneity: otherwise the two edges
    average ``1 / a`` over different phases, their fluxes are ``c_L p'`` and ``c_R p'`` with
    ``c_L != c_R``, and the tooth average drifts at ``(c_R - c_L) p' / h`` (measured: rates off by
    factors of 1e2-1e4 at ``w = dx`` or ``eps / 2`` for the paper's diffusivity; fine at ``eps``,
    ``2 eps``, and at ``w = dx`` for constant ``a``). ``u(x_e -+ w)`` is the mean of the two cells
    at that face; the wall values are
    the unknowns of a 2 x 2 system per tooth, solved exactly by the linearity of the implicit step:
    ``step(u; L, R) = step(u; 0, 0) + L step(0; 1, 0) + R step(0; 0, 1)``.
    """

    def __init__(self, geometry: PatchGeometry, *, micro_dt: float = 1e-6, degree: int = 2,
                 diffusivity: Callable | None = None, scheme: str = "backward_euler",
                 gradient_window: float | None = None):
        if not isinstance(geometry, PatchGeometry):
            raise TypeError(f"geometry must be a PatchGeometry, got {type(geometry).__name__}")
        if geometry.n_buffer_cells != 0:
            raise ValueError(f"GapTooth: teeth have no buffers: patch_width must equal tooth_width, got "
                             f"{geometry.patch_width!r} and {geometry.tooth_width!r}")
        if isinstance(degree, bool) or not isinstance(degree, int) or degree not in (2, 4):
            raise ValueError(f"GapTooth: degree must be 2 or 4 (even, Eq 8), got {degree!r}")
        geometry.derivative_weights(degree)
        if isinstance(micro_dt, bool) or not isinstance(micro_dt, (int, float)) or not (
                math.isfinite(micro_dt) and micro_dt > 0):
            raise ValueError(f"micro_dt must be a positive finite number, got {micro_dt!r}")
        self.micro = HeterogeneousDiffusionMicroStep(geometry, diffusivity, scheme=scheme)
        if gradient_window is None:
            gradient_window = getattr(diffusivity if diffusivity is not None else oscillating_diffusivity(), "eps",
                                      geometry.dx)
        if isinstance(gradient_window, bool) or not isinstance(gradient_window, (int, float)) or not (
                math.isfinite(gradient_window) and gradient_window > 0):
            raise ValueError(f"GapTooth: gradient_window must be a positive finite number, got {gradient_window!r}")
        cells = round(gradient_window / geometry.dx)
        if cells < 1 or abs(gradient_window / geometry.dx - cells) > 1e-9 * cells or 2 * cells > geometry.n_tooth_cells:
            raise ValueError(f"GapTooth: gradient_window = {gradient_window!r} must be a whole number of cells dx, "
                             f"at most half the tooth ({geometry.n_tooth_cells // 2} cells)")
        self.geometry, self.micro_dt, self.degree = geometry, float(micro_dt), degree
        self.window_cells, self.gradient_window = cells, cells * geometry.dx
        self._responses: dict = {}

    def _face(self, u: Tensor, face: int) -> Tensor:
        return 0.5 * (u[..., face - 1] + u[..., face])

    def _unit_responses(self, dtype, device):
        key = (dtype, str(device))
        if key not in self._responses:
            n, cells = self.geometry.n_teeth, self.geometry.n_patch_cells
            zero = torch.zeros(n, cells, dtype=dtype, device=device)
            one, off = torch.ones(n, dtype=dtype, device=device), torch.zeros(n, dtype=dtype, device=device)
            self._responses[key] = (self.micro(zero, self.micro_dt, one, off), self.micro(zero, self.micro_dt, off, one))
        return self._responses[key]

    def edge_slopes(self, U: Tensor, boundary_values=None) -> tuple[Tensor, Tensor]:
        """Mean slopes of ``p_i^k`` over the two edge windows, ``(p(x_L + w) - p(x_L)) / w`` and
        ``(p(x_R) - p(x_R - w)) / w``, each ``[*batch, N]``."""
        D = self.geometry.macro_derivatives(U, self.degree, boundary_values)
        half, w = self.geometry.tooth_width / 2, self.gradient_window

        def p(x):  # the constant term cancels in the differences
            return sum(D[..., k] * x ** k / math.factorial(k) for k in range(1, self.degree + 1))

        return (p(-half + w) - p(-half)) / w, (p(half) - p(half - w)) / w

    def initial_state(self, U0: Tensor, boundary_values=None) -> Tensor:
        """The teeth's micro cells ``[*batch, N, n_tooth]``: the lift of degree ``k``, float64."""
        bv = None if boundary_values is None else torch.as_tensor(boundary_values).to(torch.float64)
        return self.geometry.lift(U0.to(torch.float64), self.degree, bv)

    def step(self, u: Tensor, boundary_values=None) -> Tensor:
        """One micro step of every tooth with the Eq 9 edge conditions from its current averages."""
        g, m = self.geometry, self.window_cells
        g.check_micro("u", u)
        U = g.restrict(u)
        bv = None if boundary_values is None else torch.as_tensor(boundary_values, device=u.device).to(u.dtype)
        slope_left, slope_right = self.edge_slopes(U, bv)
        shift = U[..., None]
        free = self.micro(u - shift, self.micro_dt, torch.zeros_like(U), torch.zeros_like(U))
        g_left, g_right = self._unit_responses(u.dtype, u.device)
        n = g.n_patch_cells
        w = self.gradient_window
        # unknown wall values (shifted) L, R:  f_L(u') - L = w s_L,  R - f_R(u') = w s_R
        a11 = self._face(g_left, m) - 1
        a12 = self._face(g_right, m)
        b1 = w * slope_left - self._face(free, m)
        a21 = -self._face(g_left, n - m)
        a22 = 1 - self._face(g_right, n - m)
        b2 = w * slope_right + self._face(free, n - m)
        det = a11 * a22 - a12 * a21
        wall_left = (b1 * a22 - a12 * b2) / det
        wall_right = (a11 * b2 - a21 * b1) / det
        return free + wall_left[..., None] * g_left + wall_right[..., None] * g_right + shift

    def integrate(self, U0: Tensor, t_end: float, *, boundary_values=None, save_every: int = 1,
                  progress: bool = False) -> PatchTrajectory:
        """Gap-tooth run over ``t_end`` (a whole number of micro steps); frames every ``save_every``
        micro steps with ``dU/dt`` the change over the next micro step (float64)."""
        g = self.geometry
        g.check_macro("U0", U0)
        bv = g.check_boundary_values(boundary_values, U0)
        if isinstance(t_end, bool) or not isinstance(t_end, (int, float)) or not (math.isfinite(t_end) and t_end > 0):
            raise ValueError(f"t_end must be a positive finite number, got {t_end!r}")
        n_steps = round(t_end / self.micro_dt)
        if n_steps < 1 or abs(t_end / self.micro_dt - n_steps) > 1e-9 * n_steps:
            raise ValueError(f"t_end = {t_end!r} must be a whole number of micro_dt = {self.micro_dt!r} steps")
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
            raise ValueError(f"save_every must be a positive int, got {save_every!r}")
        bv = None if bv is None else bv.to(torch.float64)
        u = self.initial_state(U0, bv)
        U = g.restrict(u)
        frames, rates, times = [], [], []
        with progress_bar(progress, total=n_steps, desc="gap-tooth", unit="step") as bar:
            for k in range(n_steps + 1):
                save = k % save_every == 0
                if k == n_steps and not save:
                    break
                new = self.step(u, bv)
                U_new = g.restrict(new)
                if save:
                    frames.append(U)
                    rates.append((U_new - U) / self.micro_dt)
                    times.append(k * self.micro_dt)
                if k == n_steps:
                    break
                u, U = new, U_new
                bar.update(1)
        return PatchTrajectory(np.asarray(times), torch.stack(frames), torch.stack(rates))


# --- initial conditions (arbabi2020 Eq 23) -----------------------------------------------------


@dataclass
class SineSeries:
    """``u(x) = sum_j amplitude_j sin(2 pi wavenumber_j x + phase_j)`` per trajectory; each array
    ``[batch, n_modes]`` (float64 numpy)."""

    amplitude: np.ndarray
    wavenumber: np.ndarray
    phase: np.ndarray

    def __call__(self, x) -> np.ndarray:
        """Point values ``[batch, *x.shape]``."""
        x = np.asarray(x, dtype=np.float64)
        arg = 2 * np.pi * self.wavenumber[(..., *([None] * x.ndim))] * x + self.phase[(..., *([None] * x.ndim))]
        return (self.amplitude[(..., *([None] * x.ndim))] * np.sin(arg)).sum(axis=1)

    def average(self, centres, width: float) -> np.ndarray:
        """Exact averages over ``[c - width / 2, c + width / 2]``: ``[batch, *centres.shape]``
        (``sin`` times ``sinc(k width / 2)``)."""
        c = np.asarray(centres, dtype=np.float64)
        expand = (..., *([None] * c.ndim))
        k = 2 * np.pi * self.wavenumber[expand]
        return (self.amplitude[expand] * np.sin(k * c + self.phase[expand])
                * np.sinc(k * width / (2 * np.pi))).sum(axis=1)

    def macro_state(self, geometry: PatchGeometry, dtype=torch.float64, device=None) -> tuple[Tensor, Tensor | None]:
        """``(U0 [batch, N], boundary_values [batch, 2] or None)``: exact tooth averages and, for a
        Dirichlet geometry, ``u(x0), u(x1)`` held for all time (arbabi2020 Eq 21)."""
        U0 = torch.as_tensor(self.average(geometry.centres, geometry.tooth_width), dtype=dtype, device=device)
        if geometry.boundary == "periodic":
            return U0, None
        bv = torch.as_tensor(self(np.asarray(geometry.domain)), dtype=dtype, device=device)
        return U0, bv


def random_sine_series(n_trajectories: int = 1, seed: int = 0, *, n_modes: int = 20,
                       max_wavenumber: float = 4.0) -> SineSeries:
    """arbabi2020 Eq 23: ``a_j ~ U[-1, 1]``, ``l_j ~ U[0, max_wavenumber]``, ``phi_j ~ U[0, 2 pi]``,
    drawn from ``numpy.random.default_rng(seed)`` (amplitudes, then wavenumbers, then phases)."""
    for name, v in (("n_trajectories", n_trajectories), ("n_modes", n_modes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"random_sine_series: {name} must be a positive int, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"random_sine_series: seed must be an int, got {seed!r}")
    rng = np.random.default_rng(seed)
    shape = (n_trajectories, n_modes)
    return SineSeries(rng.uniform(-1.0, 1.0, shape), rng.uniform(0.0, max_wavenumber, shape),
                      rng.uniform(0.0, 2 * np.pi, shape))
