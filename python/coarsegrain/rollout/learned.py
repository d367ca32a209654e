"""Integrate ``u_t = F(u)`` for a learned (or exact) right-hand side F.

* :func:`rollout` -- fixed-step explicit Euler or RK4 (:func:`rk4_step`, the one classical RK4
  step of the package) in torch, on any device, batched.
* :func:`solve_ivp_rollout` -- scipy's ``solve_ivp`` (BDF, LSODA, RK45, ...) driven by a
  batched torch F. For the implicit methods the Jacobian is estimated by finite differences
  with the sparsity pattern of F's receptive field (:func:`receptive_field`), so BDF costs a
  handful of F evaluations per Jacobian instead of one per unknown; or, for small systems,
  ``jacobian="autograd"`` gives solve_ivp F's exact dense Jacobian.

Both stop on blow-up -- a non-finite value or one outside ``bounds`` (a number b for
``[-b, b]`` or a ``(lo, hi)`` pair, :func:`normalize_bounds`; the recurrent rollouts take the
same) -- with a :class:`BlowUpError` that says when and where, and carries the trajectory so far. Both show a
progress bar (``progress=True``, the default) once they have run :data:`PROGRESS_DELAY_S`
seconds, so quick calls print nothing; ``progress=False`` prints nothing at all.
``solve_ivp_rollout(..., on_failure="nan")`` instead returns NaN frames from the failure on.
"""

from __future__ import annotations

import itertools
import time as _time
from typing import Callable, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from .. import threads
from .._progress import PROGRESS_DELAY_S, progress_bar  # noqa: F401  (PROGRESS_DELAY_S: named in the docs)

__all__ = ["BlowUpError", "rollout", "rk4_step", "solve_ivp_rollout", "receptive_field", "normalize_bounds",
           "check_bounds", "outside_bounds"]

RHS = Callable[[Tensor], Tensor]


class _TimeProgress:
    """Progress of an adaptive integrator in model time t, fed from the rhs evaluations.

    solve_ivp calls F at trial times (and many times at one t for a Jacobian), so the bar shows
    the largest t seen and the number of F evaluations; it is touched at most every 0.25 s,
    so an evaluation costs one clock read.
    """

    def __init__(self, t0: float, t1: float, enabled: bool, desc: str):
        self.t0, self.t1, self.shown, self.evals = t0, t1, t0, 0
        self.latest, self.next_draw = t0, 0.0
        # The bar counts model time from t0: "1.8/4" of the span t0 -> t1 in the description.
        self.bar = progress_bar(enabled, total=t1 - t0, desc=f"{desc}, t {t0:g} -> {t1:g}",
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g}{postfix} "
                                           "[{elapsed}<{remaining}]")
        self.enabled = enabled and not self.bar.disable

    def __call__(self, t: float) -> None:
        self.evals += 1
        threads.tick()
        self.latest = max(self.latest, min(t, self.t1))
        if self.enabled and _time.monotonic() >= self.next_draw:
            self.next_draw = _time.monotonic() + 0.25
            self._draw()

    def _draw(self) -> None:
        self.bar.set_postfix_str(f"{self.evals} F evaluations", refresh=False)
        self.bar.update(self.latest - self.shown)
        self.shown = self.latest

    def close(self, done: bool) -> None:
        if self.enabled:
            if done:
                self.latest = self.t1
            self._draw()
        self.bar.close()


class BlowUpError(FloatingPointError):
    """A rollout that left the finite or bounded range."""

    def __init__(self, message: str, time: float, index: tuple[int, ...], trajectory: Tensor | None):
        super().__init__(message)
        self.time, self.index, self.trajectory = time, index, trajectory


def normalize_bounds(bounds, name: str = "bounds") -> tuple[float, float] | None:
    """``bounds`` as a ``(lo, hi)`` pair: a number b means ``(-b, b)``; None means no limit
    (only non-finite values stop a rollout)."""
    if bounds is None:
        return None
    if isinstance(bounds, (int, float)) and not isinstance(bounds, bool):
        b = float(bounds)
        if not b > 0:  # also refuses NaN
            raise ValueError(f"{name} must be a positive number b (for [-b, b]) or a (lo, hi) pair, got {bounds!r}")
        return (-b, b)
    try:
        lo, hi = (float(x) for x in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number b (for [-b, b]) or a (lo, hi) pair, "
                         f"got {bounds!r}") from None
    if not lo < hi:
        raise ValueError(f"{name} must have lo < hi, got ({lo:g}, {hi:g})")
    return (lo, hi)


def outside_bounds(u: Tensor, bounds: tuple[float, float] | None) -> Tensor:
    """The boolean mask of the entries of ``u`` that are non-finite or outside ``bounds``
    (already normalized, :func:`normalize_bounds`)."""
    bad = ~torch.isfinite(u)
    if bounds is not None:
        bad = bad | (u < bounds[0]) | (u > bounds[1])
    return bad


def check_bounds(u: Tensor, bounds: tuple[float, float] | None, when: str, time: float,
                 saved: Sequence[Tensor] = (), layout: str = "") -> None:
    """Raises :class:`BlowUpError` if ``u`` holds a non-finite value or one outside ``bounds``
    (already normalized): "<when>: <what> at index <index><layout>", carrying the frames
    ``saved`` so far (stacked; None if there are none)."""
    bad = outside_bounds(u, bounds)
    if bool(bad.any()):
        index = tuple(int(i) for i in torch.nonzero(bad)[0])
        value = u[index].item()
        what = ("a non-finite value" if not np.isfinite(value)
                else f"value {value:.4g} outside the bounds [{bounds[0]:g}, {bounds[1]:g}]")
        raise BlowUpError(f"{when}: {what} at index {index}{layout}", time, index,
                          torch.stack(list(saved)) if len(saved) else None)


def _check_state(u: Tensor, t: float, bounds: tuple[float, float] | None, saved: list[Tensor]) -> None:
    check_bounds(u, bounds, f"rollout blew up at t = {t:g}", t, saved)


def rk4_step(rhs: RHS, u: Tensor, dt: float) -> Tensor:
    """One classical (fourth-order) Runge-Kutta step of ``u_t = rhs(u)`` from ``u`` over ``dt``."""
    k1 = rhs(u)
    k2 = rhs(u + 0.5 * dt * k1)
    k3 = rhs(u + 0.5 * dt * k2)
    k4 = rhs(u + dt * k3)
    return u + (dt / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rollout(rhs: RHS, u0: Tensor, dt: float, steps: int, *, method: str = "rk4", save_every: int = 1,
            bounds: float | tuple[float, float] | None = None, progress: bool = True) -> Tensor:
    """States at ``t = k * save_every * dt`` for k = 0.., as ``[n_saved, *u0.shape]``; stops
    with a :class:`BlowUpError` at a value outside ``bounds`` (:func:`normalize_bounds`)."""
    bounds = normalize_bounds(bounds)
    if method not in ("euler", "rk4"):
        raise ValueError(f"rollout: method must be 'euler' or 'rk4', got {method!r}")
    if steps < 1 or save_every < 1 or not dt > 0:
        raise ValueError("rollout: need steps >= 1, save_every >= 1 and dt > 0")
    saved = [u0.detach().clone()]
    u = u0.detach()
    _check_state(u, 0.0, bounds, [])
    with torch.no_grad(), progress_bar(progress, total=steps, desc="rollout", unit="step") as bar:
        for step in range(1, steps + 1):
            threads.tick()
            u = u + dt * rhs(u) if method == "euler" else rk4_step(rhs, u, dt)
            _check_state(u, step * dt, bounds, saved)
            if step % save_every == 0:
                saved.append(u.clone())
            bar.update(1)
    return torch.stack(saved)


def receptive_field(rhs: RHS, shape: Sequence[int], ndim: int, *, dtype=torch.float64,
                    device="cpu", probes: int = 4) -> list[tuple[int, ...]]:
    """Grid offsets on which F's output at a point depends (periodic, from autograd).

    The output at ``probes^ndim`` neighbouring points is differentiated with respect to the
    input (a random state), and the union of the offsets with non-zero derivative is returned;
    the probes cover models that are translation invariant only in steps (pooling).
    """
    shape = tuple(shape)
    grid = shape[-ndim:]
    u = torch.randn(shape, dtype=dtype, device=device, generator=None).requires_grad_(True)
    out = rhs(u)
    offsets: set[tuple[int, ...]] = set()
    centre = [n // 2 for n in grid]
    for shift in itertools.product(range(probes), repeat=ndim):
        point = tuple(min(c + s, n - 1) for c, s, n in zip(centre, shift, grid))
        index = (0,) * (len(shape) - ndim) + point
        (g,) = torch.autograd.grad(out[index], u, retain_graph=True)
        nz = torch.nonzero(g.reshape(-1, *grid)[0] != 0)
        for pos in nz.tolist():
            off = tuple(((p - q + n // 2) % n) - n // 2 for p, q, n in zip(pos, point, grid))
            offsets.add(off)
    return sorted(offsets)


def _sparsity(grid: Sequence[int], offsets: Sequence[Sequence[int]], batch: int):
    from scipy import sparse

    n = int(np.prod(grid))
    idx = np.arange(n).reshape(grid)
    rows, cols = [], []
    for off in offsets:
        rows.append(idx.reshape(-1))
        cols.append(np.roll(idx, [-o for o in off], axis=tuple(range(len(grid)))).reshape(-1))
    block = sparse.csr_matrix((np.ones(len(offsets) * n), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    block.data[:] = 1.0
    return sparse.block_diag([block] * batch, format="csr")


_IMPLICIT_METHODS = ("BDF", "Radau", "LSODA")
_JACOBIANS = ("finite-difference", "autograd")
_ON_FAILURE = ("raise", "nan")


def _nan_from_first_bad_frame(out: Tensor, bounds: tuple[float, float] | None) -> Tensor:
    """``out`` ``[T, ...]`` with every frame from the first one holding a non-finite value or one
    outside ``bounds`` set to NaN."""
    bad = outside_bounds(out, bounds).reshape(out.shape[0], -1).any(dim=1)
    if bool(bad.any()):
        out[int(torch.nonzero(bad)[0]):] = float("nan")
    return out


def solve_ivp_rollout(rhs: RHS, u0: Tensor, t_eval: Sequence[float], *, method: str = "BDF",
                      ndim: int | None = None, rtol: float = 1e-4, atol: float = 1e-6,
                      bounds: float | tuple[float, float] | None = None, jac_sparsity="auto",
                      jacobian: str = "finite-difference", on_failure: str = "raise",
                      progress: bool = True, **options) -> Tensor:
    """States at ``t_eval`` (from ``t = t_eval[0]``) by ``scipy.integrate.solve_ivp``.

    ``rhs`` maps a torch tensor shaped like ``u0`` to its time derivative (e.g. a trained model).
    The Jacobian of an implicit ``method`` (BDF, Radau, LSODA):

    * ``jacobian="finite-difference"`` (default): solve_ivp's finite differences;
      ``jac_sparsity="auto"`` derives their pattern from F's receptive field (needs ``ndim``,
      the number of grid axes); pass ``None`` for a dense Jacobian or your own scipy sparse matrix.
    * ``jacobian="autograd"``: F's exact dense Jacobian by ``torch.autograd`` (one backward pass
      per unknown, vectorized), as ``jac=``; for small systems (``ndim`` is not needed and
      ``jac_sparsity`` must stay ``"auto"``).

    ``bounds``: see :func:`normalize_bounds`. ``on_failure="raise"`` (default): a state outside
    ``bounds`` (or non-finite) stops the run at once with a :class:`BlowUpError`, as does a failed
    solve_ivp (that one carries the frames it reached); ``on_failure="nan"``: nothing is checked
    during the run, and the frames from the first one that is non-finite, outside ``bounds`` or
    not reached by a failed solve_ivp on are NaN.
    Returns ``[len(t_eval), *u0.shape]`` in ``u0``'s dtype and device.
    ``progress`` shows the model time reached and the number of F evaluations (after
    :data:`PROGRESS_DELAY_S` seconds).
    """
    from scipy.integrate import solve_ivp

    bounds = normalize_bounds(bounds)
    t_eval = np.asarray(t_eval, dtype=np.float64)
    if t_eval.ndim != 1 or len(t_eval) < 2 or np.any(np.diff(t_eval) <= 0):
        raise ValueError("solve_ivp_rollout: t_eval must be at least two increasing times")
    if jacobian not in _JACOBIANS:
        raise ValueError(f"solve_ivp_rollout: jacobian must be one of {_JACOBIANS}, got {jacobian!r}")
    if on_failure not in _ON_FAILURE:
        raise ValueError(f"solve_ivp_rollout: on_failure must be one of {_ON_FAILURE}, got {on_failure!r}")
    auto_sparsity = isinstance(jac_sparsity, str) and jac_sparsity == "auto"
    if jacobian == "autograd":
        if method not in _IMPLICIT_METHODS:
            raise ValueError(f"solve_ivp_rollout: jacobian='autograd' needs an implicit method {_IMPLICIT_METHODS}, "
                             f"got {method!r}")
        if not auto_sparsity:
            raise ValueError("solve_ivp_rollout: jac_sparsity applies to jacobian='finite-difference' only, "
                             f"got {type(jac_sparsity).__name__} with jacobian='autograd'")
    shape, dtype, device = u0.shape, u0.dtype, u0.device
    saved: list[Tensor] = []
    tracker = _TimeProgress(float(t_eval[0]), float(t_eval[-1]), progress, f"solve_ivp {method}")

    def as_state(y) -> Tensor:
        return torch.from_numpy(y).to(dtype=dtype, device=device).reshape(shape)

    def f(t, y):
        tracker(float(t))
        u = as_state(y)
        if on_failure == "raise":
            _check_state(u, float(t), bounds, saved)
        with torch.no_grad():
            return rhs(u).double().cpu().numpy().reshape(-1)

    def flat_rhs(v: Tensor) -> Tensor:
        return rhs(v.to(dtype=dtype, device=device).reshape(shape)).reshape(-1)

    def autograd_jacobian(t, y):
        return torch.autograd.functional.jacobian(flat_rhs, torch.from_numpy(y), vectorize=True).double().cpu().numpy()

    kwargs = dict(options)
    if jacobian == "autograd":
        kwargs["jac"] = autograd_jacobian
    elif method in _IMPLICIT_METHODS and jac_sparsity is not None:
        if auto_sparsity:
            if ndim is None:
                raise ValueError("solve_ivp_rollout: jac_sparsity='auto' needs ndim (the number of grid axes)")
            batch = int(np.prod(shape[:-ndim]))
            offsets = receptive_field(rhs, shape, ndim, dtype=torch.float64 if dtype == torch.float64 else dtype,
                                      device=device)
            jac_sparsity = _sparsity(shape[-ndim:], offsets, batch)
        if method != "LSODA":
            kwargs["jac_sparsity"] = jac_sparsity
    y0 = u0.detach().double().cpu().numpy().reshape(-1)
    sol = None
    try:
        # The implicit methods factorize a dense Jacobian (256 x 256 for arbabi2020's 2D rollouts)
        # hundreds of times; beside busy processes OpenBLAS's thread team waits for lost cores at
        # every call (lu_factor 256 x 256: 48 ms on its default threads, 1.5 ms on one -- 30x --
        # measured on a shared 2-core machine), so BLAS runs on one thread here.
        with threadpool_limits(limits=1, user_api="blas"):
            sol = solve_ivp(f, (t_eval[0], t_eval[-1]), y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol,
                            **kwargs)
    finally:
        tracker.close(done=sol is not None and sol.success)
    reached = torch.from_numpy(sol.y.T.copy()).to(dtype=dtype, device=device).reshape(-1, *shape)
    if on_failure == "nan":
        out = torch.full((len(t_eval), *shape), float("nan"), dtype=dtype, device=device)
        out[: len(reached)] = reached
        return _nan_from_first_bad_frame(out, bounds)
    if not sol.success:
        t_fail = float(sol.t[-1]) if len(sol.t) else float(t_eval[0])
        raise BlowUpError(f"solve_ivp ({method}) failed at t = {t_fail:g}: {sol.message}", t_fail, (),
                          reached if len(reached) else None)
    return reached
