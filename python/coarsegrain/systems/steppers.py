"""Time steppers for the phase-field models.

* :class:`ExplicitEuler` -- finite differences, fused compiled ops (Allen-Cahn, Cahn-Hilliard);
  refuses a dt beyond the stability limit (:func:`coarsegrain.ops.explicit_stability_limit`)
  and says what the limit is.
* :class:`SemiImplicitSpectral` -- Fourier pseudo-spectral, stiff linear part implicit and
  f'(U) explicit (Chen & Shen 1998; kiyani2022 §2.3). ``order=1`` is the first-order
  semi-implicit scheme, ``order=2`` the second-order SBDF2 (BDF2 with extrapolated f'),
  started by one first-order step. FFTs go through torch.fft (MKL or pocketfft, cuFFT),
  the inverse on CPU through ``ops.irfftn`` (a half-length complex FFT, faster there).
* :class:`ExponentialSpectral` -- exponential time differencing: ETD1 (SymPhas's scheme),
  ETDRK2 and ETDRK4 (Cox-Matthews, or the stiffly accurate Hochbruck-Ostermann; the schemes and
  their phi-function weights are the core in :mod:`.exponential`, shared with the 1D solvers), which
  integrate the linear part exactly; far more accurate per step on stiff problems, for two
  (ETDRK2), four or five (ETDRK4) FFT pairs per step.
* :class:`AdaptiveExponentialSpectral` -- stiffly accurate ETDRK4 with an embedded error
  estimate and step-size control, for long coarsening runs whose dynamics slow down.

All advance any number of steps per call and say which discretization their state lives in
(``discretization``), so diagnostics and right-hand sides can be evaluated consistently.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import dataclasses
import functools
import math
import warnings

import torch
from torch import Tensor

from .. import ops
from ..ops.phase_field import explicit_stability_error
from .exponential import ExponentialRK
from .phase_field import AllenCahn, CahnHilliard, PhaseFieldModel

__all__ = ["ExplicitEuler", "SemiImplicitSpectral", "SBDF2History", "ExponentialSpectral", "AdaptiveExponentialSpectral",
           "make_stepper"]


@contextlib.contextmanager
def _without_autograd():
    """Steppers never differentiate: below the Autograd dispatch key the compiled ops skip their
    Python autograd kernels (the non-differentiable ops' backward refusal), ~4 us per call and
    ~13 calls per ETDRK4 step."""
    with torch.no_grad(), torch._C._AutoDispatchBelowAutograd():
        yield


def _check_dt(dt: float, owner: str | None = None) -> float:
    """``dt`` as a float, or a one-line ValueError ("<owner>: dt must be ...") naming the value:
    the one check of a time step that steppers, presets and ensemble specs share."""
    prefix = f"{owner}: " if owner else ""
    try:
        value = math.nan if isinstance(dt, bool) else float(dt)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{prefix}dt must be a positive finite number, got {dt}")
    return value


def check_time_frames(name: str, dt: float, t_end: float, save_every: int) -> None:
    """The time grid of a generated trajectory: dt valid, t_end positive and a whole number of
    frame intervals (save_every x dt). A t_end between two frames would be cut short silently,
    so it is refused with the nearest values that work."""
    # dt first: a bad step would otherwise surface as a confusing step-count problem.
    _check_dt(dt, name)
    if not (t_end > 0 and math.isfinite(t_end)):
        raise ValueError(f"{name}: t_end must be positive, got {t_end}")
    interval = save_every * dt
    frames = t_end / interval
    if abs(frames - round(frames)) > 1e-9 * max(1.0, frames) or round(frames) < 1:
        lo, hi = math.floor(frames) * interval, (math.floor(frames) + 1) * interval
        nearest = f"{lo:.10g} or {hi:.10g}" if lo > 0 else f"{hi:.10g}"
        raise ValueError(
            f"{name}: t_end = {t_end:g} is not a whole number of frame intervals "
            f"(save_every x dt = {save_every} x {dt:g} = {interval:.10g}); the nearest valid t_end: {nearest}")


class FrameSchedule:
    """Steps and saved frames of a spec with ``dt``, ``t_end`` and ``save_every`` (checked by
    :func:`check_time_frames`)."""

    @property
    def n_steps(self) -> int:
        return int(round(self.t_end / self.dt))

    @property
    def n_frames(self) -> int:
        """Saved frames, the initial one included."""
        return self.n_steps // self.save_every + 1


class ExplicitEuler:
    """Explicit Euler on the finite-difference system, through the fused compiled steppers."""

    discretization = "fd"

    def __init__(self, model: PhaseFieldModel, dt: float, scheme: str = "fused"):
        if not isinstance(model, (AllenCahn, CahnHilliard)):
            raise TypeError(
                f"ExplicitEuler supports AllenCahn and CahnHilliard, got {type(model).__name__}; "
                "use SemiImplicitSpectral for the phase-field crystal"
            )
        self.model, self.dt, self.scheme = model, _check_dt(dt), scheme
        self.limit = ops.explicit_stability_limit(
            model.grid.spacing, model.mobility, model.kappa, model.conserved
        )
        message = explicit_stability_error(self.dt, model.grid.spacing, model.mobility, model.kappa,
                                               model.conserved)
        if message is not None:
            raise ValueError(f"ExplicitEuler: {message}")
        self._warned = False

    def _warn_if_nonlinear_unstable(self, u: Tensor) -> None:
        if self._warned:
            return
        lo, hi = float(u.min()), float(u.max())
        curvature = self.model.energy.max_curvature(lo, hi)
        tighter = ops.explicit_stability_limit(
            self.model.grid.spacing, self.model.mobility, self.model.kappa,
            self.model.conserved, curvature,
        )
        if self.dt >= tighter:
            warnings.warn(
                f"ExplicitEuler: dt = {self.dt} exceeds {tighter:.6g}, the stability limit with "
                f"f''(U) <= {curvature:.3g} over the field's range [{lo:.3g}, {hi:.3g}]",
                RuntimeWarning, stacklevel=3,
            )
            self._warned = True

    def advance(self, u: Tensor, steps: int) -> Tensor:
        """The state ``steps`` steps after ``u`` (a new tensor)."""
        self.model.grid.check_field(u)
        self._warn_if_nonlinear_unstable(u)
        m = self.model
        kwargs = dict(mobility=m.mobility, kappa=m.kappa, dfdu=m.energy.derivative_coeffs, steps=steps)
        with _without_autograd():
            if m.conserved:
                return ops.cahn_hilliard_explicit(u, m.grid.spacing, self.dt, scheme=self.scheme, **kwargs)
            return ops.allen_cahn_explicit(u, m.grid.spacing, self.dt, **kwargs)

    def parameters(self) -> dict:
        return {"stepper": "explicit_euler", "dt": self.dt, "scheme": self.scheme}


class _FourierStepper(abc.ABC):
    """Shared parts of the Fourier steppers: the cache of the real weight arrays that the update
    combines the spectra with (per device, dtype and step size; a few step sizes are kept for
    the adaptive stepper), and the checks of ``advance``."""

    discretization = "spectral"
    orders: tuple[int, ...] = (1, 2)
    evaluations_per_step = 1  # nonlinear evaluations (FFT pairs) per step
    _blow_up_remedy = "ExponentialSpectral"  # what to try instead, named when a run blows up
    _cache_size, _cache_bytes = 16, 2**29

    def __init__(self, model: PhaseFieldModel, dt: float, order: int):
        if order not in self.orders:
            raise ValueError(f"{type(self).__name__}: order must be one of {self.orders}, got {order}")
        self.model, self.dt, self.order = model, _check_dt(dt), order
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._k_squared: dict = {}

    def _weights(self, u: Tensor, dt: float | None = None, linear: float | None = None):
        """The weights for step ``dt`` (default: the stepper's) and, for the exponential
        steppers, the coefficient ``linear`` of V in the exact linear part (their split's,
        :meth:`ExponentialSpectral._split`; required there, unused by the semi-implicit one)."""
        dt = self.dt if dt is None else dt
        key = (u.device, u.dtype, dt, linear)
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            # The weights depend on |k|^2 alone, which takes far fewer distinct values than the
            # half spectrum has modes (256^2: 7k of 33k; 128^3: 19k of 1.06M): they are computed
            # on those and spread out, which makes a new step size cheap for the adaptive stepper.
            k2, where = self._distinct_k_squared(u.device)
            lists = self._build_weights(k2, dt, linear)
            spread = torch.stack([w.expand(k2.shape) for ws in lists for w in ws]).to(u.dtype)
            spread = spread.index_select(1, where.flatten())
            rows = iter(spread.view(-1, *where.shape))
            self._cache[key] = tuple([next(rows) for _ in ws] for ws in lists)
            # Bounded in count and in bytes (3D adaptive runs: ~100 MB per step size at 128^3);
            # rebuilding an evicted size costs a few FFT pairs' time.
            entry_bytes = spread.numel() * spread.element_size()
            while len(self._cache) > 1 and (len(self._cache) > self._cache_size
                                            or len(self._cache) * entry_bytes > self._cache_bytes):
                self._cache.popitem(last=False)
        return self._cache[key]

    def _distinct_k_squared(self, device) -> tuple[Tensor, Tensor]:
        """The distinct values of |k|^2 over the half spectrum (float64) and, for every mode,
        the index of its value."""
        device = torch.device(device)
        if device not in self._k_squared:
            k2 = self.model.grid.k_squared(device=device, dtype=torch.float64)
            self._k_squared[device] = torch.unique(k2, return_inverse=True)
        return self._k_squared[device]

    @abc.abstractmethod
    def _build_weights(self, k2: Tensor, dt: float, linear: float | None) -> tuple[list[Tensor], ...]:
        """The real weight arrays of the update's spectral combinations, from |k|^2."""

    def _check_advance(self, u: Tensor, steps: int) -> None:
        self.model.grid.check_field(u)
        if steps < 1:
            raise ValueError(f"{type(self).__name__}: steps must be >= 1, got {steps}")

    def _check_result(self, u: Tensor, steps: int) -> Tensor:
        """``u``, or a FloatingPointError if it is no longer finite (one reduction per call)."""
        if not torch.isfinite(u).all():
            raise FloatingPointError(
                f"{type(self).__name__}: the field became non-finite within these {steps} steps of "
                f"dt = {self.dt:g}: the explicit part is unstable at this step; take a smaller dt, "
                f"or {self._blow_up_remedy}")
        return u

    def parameters(self) -> dict:
        return {"stepper": self.stepper_name, "dt": self.dt, "order": self.order}


class SemiImplicitSpectral(_FourierStepper):
    """Semi-implicit Fourier spectral stepping of ``U_t = -M K (Lambda U + f'(U))``.

    order 1: ``(1 + dt M K Lambda) U+ = U - dt M K f'(U)``
    order 2: ``(3 + 2 dt M K Lambda) U+ = 4U - U- - 2 dt M K (2 f'(U) - f'(U-))``
    (all in Fourier space).

    Order 2 needs the step before the current one: it is kept as explicit state,
    :attr:`history` (a :class:`SBDF2History`, ``None`` before the first call and after
    :meth:`reset`). A call continues at second order when its ``u`` holds the same values as the
    last result (the result itself, or a clone or copy of it, on the same device and dtype) and
    starts over with one first-order step for any other field (or after the result was modified
    in place). ``history`` may be saved and assigned back to resume a run.
    """

    stepper_name = "semi_implicit_spectral"

    def __init__(self, model: PhaseFieldModel, dt: float, order: int = 1):
        super().__init__(model, dt, order)
        self.history: SBDF2History | None = None

    def reset(self) -> None:
        """Forget the history: the next call starts with a first-order step."""
        self.history = None

    def _build_weights(self, k2: Tensor, dt: float, linear: float | None):
        # f' is wholly explicit: nothing of it sits in the implicit part, so where it is
        # linearized does not matter (and a constant shift of U passes through the scheme
        # exactly, since K or Lambda vanishes on constants).
        m = self.model
        mk = dt * m.mobility * m.mobility_symbol(k2)  # dt M K
        lam = m.linear_symbol(k2)
        inv1, inv2 = 1.0 / (1.0 + mk * lam), 1.0 / (3.0 + 2.0 * mk * lam)
        first = [inv1, -mk * inv1]                                  # u, f'(u)
        second = [4 * inv2, -inv2, -4 * mk * inv2, 2 * mk * inv2]   # u, u-, f'(u), f'(u-)
        return first, second

    def advance(self, u: Tensor, steps: int) -> Tensor:
        self._check_advance(u, steps)
        m = self.model
        dims = tuple(range(-m.grid.ndim, 0))
        shape = m.grid.shape
        first, second = self._weights(u)
        dfdu = [float(c) for c in m.energy.derivative_coeffs]
        # The op handles directly: this loop runs once per step, Python overhead counts.
        poly = torch.ops.coarsegrain.polynomial.default
        combine = torch.ops.coarsegrain.spectral_combine.default
        rfftn, irfftn = torch.fft.rfftn, ops.irfftn_for(shape, u.device)
        with _without_autograd():
            u = u.contiguous()
            u_hat = rfftn(u, dim=dims)
            n_hat = rfftn(poly(u, dfdu), dim=dims)
            prev = None
            if self.order == 2 and self.history is not None and self.history.continues(u):
                prev = (self.history.prev_u_hat, self.history.prev_n_hat)
            for _ in range(steps):
                if prev is None or self.order == 1:
                    new_hat = combine([u_hat, n_hat], first)
                else:
                    new_hat = combine([u_hat, prev[0], n_hat, prev[1]], second)
                prev = (u_hat, n_hat)
                u_hat = new_hat
                u = irfftn(u_hat)
                n_hat = rfftn(poly(u, dfdu), dim=dims)
            if self.order == 2:
                self.history = SBDF2History(u, _version(u), *prev)
        return self._check_result(u, steps)


@dataclasses.dataclass
class SBDF2History:
    """The state SBDF2 carries between calls: the last result, its version counter when it was
    returned, and the spectra of U and f'(U) one step before it."""

    last: Tensor
    last_version: int
    prev_u_hat: Tensor
    prev_n_hat: Tensor

    def continues(self, u: Tensor) -> bool:
        """Whether ``u`` is the state this history ends at: equal in values (not identity, so a
        clone continues) to the last result, which has not been modified in place since."""
        return (_version(self.last) == self.last_version and u.shape == self.last.shape
                and u.dtype == self.last.dtype and u.device == self.last.device
                and (u is self.last or torch.equal(u, self.last)))


def _version(t: Tensor) -> int | None:
    """The in-place version counter of ``t`` (None for inference tensors, which have none)."""
    return None if t.is_inference() else t._version


class ExponentialSpectral(_FourierStepper):
    """Exponential Runge-Kutta stepping of ``U_t = L U + N(U)``.

    The stiff linear part is integrated exactly, taken about a reference state r: with
    ``V = U - r`` and ``c = f''(r)``, ``L = -M K (Lambda + c)`` and
    ``N(V) = -M K (f'(r + V) - c V)`` (f' is expanded about r, so N is f's remainder
    ``f'(r) + f'''(r) V^2 / 2 + ...``): the same equation as before for any r, but the split
    is only good where U stays near r. ``reference`` says which r:

    * ``"auto"`` (default): for conserved models (Cahn-Hilliard, phase-field crystal) each
      field's mean, which the dynamics keeps exactly; for Allen-Cahn, whose mean moves, the
      midpoint of the energy's outermost minima (0 without two minima), the state a double
      well is symmetric about. Either way the same physics written about another origin
      (c or c - 0.5) gives the same numbers;
    * ``"mean"``: each field's mean at the start of every ``advance`` call (also for Allen-Cahn);
    * a number: that r for every field (0 is the split of f' as written, this stepper's
      behaviour before the reference was added).

    Means are rounded to 1/256 of the distance between the energy's outermost minima (of 1/256
    without two minima) so that the weights of one r are computed once and reused across calls
    (the mean of a float32 field wanders by round-off); fields of one batch whose rounded
    means differ are advanced as separate sub-batches, each with its own linear part, so a
    field's result does not depend on what it is batched with.

    order 1 (exponential Euler, the scheme of SymPhas): ``V+ = e^{L dt} V + dt phi1(L dt) N(V)``;
    order 2 (ETDRK2): ``a = e^{L dt} V + dt phi1 N(V)``, ``V+ = a + dt phi2 (N(a) - N(V))``;
    order 4, in two variants (``variant``):

    * ``"cox-matthews"`` (ETDRK4 of Cox & Matthews 2002, Eqs 26-29): four stages, four FFT
      pairs per step; order 4 where N is smooth in time, but only order 2 on stiff problems
      (Hochbruck & Ostermann 2005): on late quartic Cahn-Hilliard coarsening (256^2, spacing 0.5,
      S = 1) its error falls as dt^2.1.
    * ``"hochbruck-ostermann"`` (the five-stage method of Hochbruck & Ostermann 2005, stiff
      order 4): five FFT pairs per step, error falling as dt^2.8 on the same coarsening, and
      about 1.5x fewer FFTs than Cox-Matthews for a 1e-3 error over it (S = 1); on the early
      spinodal growth the two cost the same.

    The phi functions take their limits where L = 0 (the k = 0 mode of conserved models).

    ``stabilization`` S moves ``S V`` from N into L (``L = -M K (Lambda + c + S)``): with S at
    least the curvature f'' of the wells, the explicit part no longer limits the step near
    equilibrium (the linearly stabilized ETD of Du, Ju, Li & Qiao 2019); 0 keeps the plain split.
    """

    stepper_name = "exponential_spectral"
    orders = (1, 2, 4)
    variants = ("cox-matthews", "hochbruck-ostermann")
    _blow_up_remedy = "its stabilization (e.g. half the curvature of the wells) or AdaptiveExponentialSpectral"
    _reference_steps = 256  # rounding of means: this many steps between the outermost wells

    def __init__(self, model: PhaseFieldModel, dt: float, order: int = 2, stabilization: float = 0.0,
                 variant: str = "cox-matthews", reference: float | str = "auto"):
        super().__init__(model, dt, order)
        stabilization = float(stabilization)
        if not (math.isfinite(stabilization) and stabilization >= 0):
            raise ValueError(f"{type(self).__name__}: stabilization must be a finite number >= 0, got {stabilization}")
        if variant not in self.variants:
            raise ValueError(f"{type(self).__name__}: variant must be one of {self.variants}, got {variant!r}")
        if isinstance(reference, str):
            if reference not in ("auto", "mean"):
                raise ValueError(f"{type(self).__name__}: reference must be 'auto', 'mean' or a number, got {reference!r}")
        else:
            reference = float(reference)
            if not math.isfinite(reference):
                raise ValueError(f"{type(self).__name__}: reference must be finite, got {reference}")
        self.stabilization, self.variant, self.reference = stabilization, variant, reference
        self.scheme = {1: "etd1", 2: "etdrk2", 4: variant}[order]
        self.method = ExponentialRK(self.scheme)  # the shared exponential Runge-Kutta core
        wells = model.energy.minimizers()
        self._reference_quantum = (wells[-1] - wells[0] if len(wells) >= 2 else 1.0) / self._reference_steps
        self._fixed_reference = (reference if isinstance(reference, float)
                                 else model.energy.well_midpoint() if reference == "auto" and not model.conserved
                                 else None)
        self._splits: dict = {}
        self._growth_rates: dict = {}

    def _split(self, reference: float) -> tuple[float, list[float]]:
        """The coefficient of V in L (f''(r) + S) and the coefficients of N's polynomial in V,
        ``f'(r + V) - (f''(r) + S) V``."""
        if reference not in self._splits:
            taylor = list(self.model.energy.shifted(reference).derivative_coeffs) + [0.0]
            linear = float(taylor[1]) + self.stabilization
            taylor[1] = -self.stabilization  # f''(r) V stays in L; S V moves from N into L
            self._splits[reference] = (linear, [float(c) for c in taylor])
        return self._splits[reference]

    def _groups(self, u: Tensor) -> list[tuple[float, Tensor | None]]:
        """(reference, indices of the batch fields that use it; None for all) for ``u``."""
        if self._fixed_reference is not None:
            return [(self._fixed_reference, None)]
        dims = tuple(range(-self.model.grid.ndim, 0))
        means = u.mean(dim=dims, dtype=torch.float64).reshape(-1).tolist()  # one host transfer
        q = self._reference_quantum
        rounded = [round(m / q) * q if math.isfinite(m) else 0.0 for m in means]
        if len(set(rounded)) == 1:
            return [(rounded[0], None)]
        batch = u.shape[: u.dim() - len(dims)]
        if len(batch) != 1:  # several batch axes: flatten them (the caller's reshape is a view)
            raise ValueError(f"{type(self).__name__}: fields of different means need one batch axis, got {tuple(batch)}")
        return [(r, torch.tensor([i for i, x in enumerate(rounded) if x == r], device=u.device))
                for r in dict.fromkeys(rounded)]

    def _by_reference(self, u: Tensor, run) -> Tensor:
        """``run(V, reference) + reference`` with ``V = U - reference``, per group of fields."""
        groups = self._groups(u)
        if len(groups) == 1:
            r = groups[0][0]
            return run(u - r, r) + r if r != 0.0 else run(u, r)
        out = torch.empty_like(u)
        for r, index in groups:
            out[index] = run(u[index] - r, r) + r
        return out

    def _linear_and_nonlinear_symbols(self, k2: Tensor, linear: float) -> tuple[Tensor, Tensor]:
        """The symbol of L and the factor -M K that turns the spectrum of N's polynomial into N-hat."""
        m = self.model
        mk = m.mobility * m.mobility_symbol(k2)
        return -mk * (m.linear_symbol(k2) + linear), -mk

    def _build_weights(self, k2: Tensor, dt: float, linear: float):
        if linear is None:
            raise TypeError(f"{type(self).__name__}: the weights need the split's linear coefficient")
        lin, nonlinear_factor = self._linear_and_nonlinear_symbols(k2, linear)
        return self.method.weights(lin, dt, nonlinear_factor)

    def _growth_rate(self, linear: float) -> float:
        """The largest eigenvalue of L (> 0 where the linear part has unstable modes)."""
        if linear not in self._growth_rates:
            k2 = self.model.grid.k_squared(dtype=torch.float64)
            self._growth_rates[linear] = float(self._linear_and_nonlinear_symbols(k2, linear)[0].max())
        return self._growth_rates[linear]

    @property
    def evaluations_per_step(self) -> int:
        """Nonlinear evaluations (FFT pairs) per step: the stages and the new state."""
        return self.method.evaluations_per_step

    def parameters(self) -> dict:
        extra = {"variant": self.variant} if self.order == 4 else {}
        return {**super().parameters(), "stabilization": self.stabilization, "reference": self.reference, **extra}

    def advance(self, u: Tensor, steps: int) -> Tensor:
        self._check_advance(u, steps)
        with _without_autograd():
            u = self._by_reference(u, functools.partial(self._advance_about, steps=steps))
        return self._check_result(u, steps)

    def _advance_about(self, v: Tensor, reference: float, steps: int) -> Tensor:
        step = _EtdStep(self, reference)
        weights = self._weights(v, linear=step.linear)
        v_hat, n_hat = step.start(v)
        for _ in range(steps):
            v, v_hat, n_hat, _ = step(v_hat, n_hat, weights, self.dt)
        return v


class _EtdStep:
    """One exponential Runge-Kutta step on spectra, shared by the fixed-step and the adaptive
    stepper.

    State: the spectrum of the deviation V = U - r from the reference state r and of its
    nonlinear part g(V) = f'(r + V) - (f''(r) + S) V. A call returns V+ (real space), its
    spectra and, with ``estimate_error``, the local error estimate V+ minus the scheme's
    embedded stage (real space; else None).
    """

    def __init__(self, stepper: ExponentialSpectral, reference: float = 0.0):
        grid = stepper.model.grid
        self.dims = tuple(range(-grid.ndim, 0))
        self.shape = grid.shape
        self.scheme = stepper.scheme
        self.method = stepper.method
        self.embedded_stage = self.method.embedded_stage
        self.linear, self.g = stepper._split(reference)
        # The op handles directly: this runs once per stage, Python overhead counts.
        self.poly = torch.ops.coarsegrain.polynomial.default
        self.combine = torch.ops.coarsegrain.spectral_combine.default
        self._mirror: Tensor | None = None
        self._unprojected_growth = 0.0
        self.growth_rate = stepper._growth_rate(self.linear)

    def start(self, u: Tensor) -> tuple[Tensor, Tensor]:
        u = u.contiguous()
        self.irfftn = ops.irfftn_for(self.shape, u.device)
        return torch.fft.rfftn(u, dim=self.dims), self.nonlinear_hat(u)

    def nonlinear_hat(self, u: Tensor) -> Tensor:
        return torch.fft.rfftn(self.poly(u, self.g), dim=self.dims)

    def __call__(self, u_hat, n_hat, weights, dt: float, estimate_error: bool = False):
        if estimate_error and self.embedded_stage is None:
            raise ValueError(f"{self.scheme}: no embedded stage to estimate the error with")
        irfftn, embedded_stage, kept = self.irfftn, self.embedded_stage, []

        def evaluate(stage_hat: Tensor, number: int) -> Tensor:
            stage = irfftn(stage_hat)
            if number == embedded_stage:
                kept.append(stage)
            return self.nonlinear_hat(stage)

        new_hat = self.method.step(u_hat, n_hat, weights, evaluate, self.combine)
        # Project often enough that hidden round-off grows at most 10x in between (never where
        # no mode grows, e.g. with stabilization): the projection costs about 1/10 of a step.
        self._unprojected_growth += self.growth_rate * dt
        if self._unprojected_growth > math.log(10.0):
            self.make_hermitian_(new_hat)
            self._unprojected_growth = 0.0
        u = irfftn(new_hat)
        # In real space, where both fields already are: one subtraction instead of a combination
        # of five spectra (and the norm needs no Parseval bookkeeping).
        error = u - kept[0] if estimate_error else None
        return u, new_hat, self.nonlinear_hat(u), error

    def make_hermitian_(self, x_hat: Tensor) -> None:
        """Restores X(-k) = conj X(k) in the half spectrum's self-conjugate slices (last-axis
        index 0 and, for even sizes, n/2), in place.

        irfftn ignores the anti-Hermitian part of these slices, so nothing in the dynamics
        feeds back on it: round-off put there by the FFTs would grow unseen at the rate of the
        linearly unstable modes (e^{t/4} for Cahn-Hilliard: from 1e-7 to overflow in t ~ 300
        in float32), then leak into the field. Carrying the spectrum from step to step needs
        this; the non-Hermitian part is projected out (``__call__`` says how often).
        """
        if self._mirror is None:
            last = self.shape[-1]
            self._slices = [0, last // 2] if last % 2 == 0 else [0]
            # k -> -k along the other grid axes: index i -> (n - i) mod n, flattened
            mirror = torch.zeros((), dtype=torch.long)
            for n in self.shape[:-1]:
                mirror = mirror[..., None] * n + (-torch.arange(n)) % n
            self._mirror = mirror.reshape(-1).to(x_hat.device)
        batch = x_hat.shape[: x_hat.dim() - len(self.shape)]
        slices = x_hat[..., self._slices]                      # a copy: [*batch, *other, s]
        flat = slices.reshape(*batch, -1, len(self._slices))
        flat = (flat + flat[..., self._mirror, :].conj()) * 0.5
        x_hat[..., self._slices] = flat.reshape(slices.shape)


def _sum_squares(x: Tensor, ndim: int) -> Tensor:
    """Sum of x^2 over the last ``ndim`` axes of a real ``x`` (one value per leading index), as
    a batched dot product."""
    batch = x.shape[: x.dim() - ndim]
    flat = x.reshape(math.prod(batch), 1, -1)
    return torch.bmm(flat, flat.transpose(1, 2)).reshape(batch)


class AdaptiveExponentialSpectral(ExponentialSpectral):
    """The stiffly accurate ETDRK4 of Hochbruck & Ostermann with step-size control: its fourth
    stage, a second-order solution at the end of the step, gives the local error estimate at no
    extra FFT, and the step grows or shrinks to keep its RMS at most ``atol + rtol * RMS(V)``,
    with V what evolves: the deviation from the mean for conserved models (which keep the mean
    exactly, so an offset such as c ~ 0.5 must not loosen the tolerance), from the reference
    state (see :class:`ExponentialSpectral`) for Allen-Cahn. The norm is taken over the whole
    field rather than point by point (scipy's ``atol + rtol |y_i|``): a phase field's error sits
    at its interfaces, where V passes through 0. rtol bounds the local error; the global error
    may be larger. On 2D
    quartic Cahn-Hilliard coarsening (256^2, t = 200, float32) it ends 1.0e-3 / 5.6e-4 from the
    reference at rtol 1e-3 / 5e-4, in 630 / 810 FFT pairs, where Cox-Matthews ETDRK4 with an
    embedded ETDRK2 needed rtol 1.5e-4 and 980 pairs for 9.5e-4; on lanzoni's energy in 3D
    (32^3, t = 20) and on the phase-field crystal (64^2, t = 50) the two cost about the same for
    the same error, and the global error there is 1-15x rtol.

    ``dt`` is the unit of ``advance(u, steps)``, which integrates over ``steps * dt`` exactly
    (the output times of data generation); the internal steps are chosen freely and carried
    over from one call to the next. Step sizes are snapped to a ladder ``dt * 2^(j/4)`` so that
    the weights of a handful of sizes are computed once and reused. The steps follow the
    dynamics: from 0.01 through the noise decay to 45 by t = 400 on a nearly separated 32^2
    quartic system (S = 2); on 256^2 (spacing 0.5), where interfaces keep moving, they grow to
    about 2 by t = 200 (rtol 1e-3).

    ``stabilization`` (see :class:`ExponentialSpectral`) defaults to ``"auto"``: half the largest
    f'' between the energy's outermost minima (1 for the quartic, 18/eps for lanzoni's), which
    lifts the cap that ETDRK4's explicit part puts on the step (about 0.5 on a 256^2 grid of
    spacing 0.5 for the quartic) at a modest cost in accuracy. A larger S (the full curvature)
    lets the steps grow without bound as the system nears equilibrium, but costs more accuracy
    during coarsening.

    ``stats`` counts accepted and rejected steps and nonlinear evaluations (one FFT pair each).
    """

    stepper_name = "adaptive_exponential_spectral"
    orders = (4,)
    _safety, _grow_max, _shrink_min = 0.9, 4.0, 0.2

    def __init__(self, model: PhaseFieldModel, dt: float, rtol: float = 1e-4, atol: float = 1e-8,
                 dt_initial: float | None = None, dt_max: float | None = None,
                 stabilization: float | str = "auto", reference: float | str = "auto"):
        if stabilization == "auto":
            stabilization = model.energy.well_curvature() / 2
        super().__init__(model, dt, order=4, stabilization=stabilization, variant="hochbruck-ostermann",
                         reference=reference)
        for name, value in (("rtol", rtol), ("atol", atol)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{type(self).__name__}: {name} must be a finite number >= 0, got {value}")
        if rtol == 0 and atol == 0:
            raise ValueError(f"{type(self).__name__}: rtol and atol cannot both be 0")
        self.rtol, self.atol = float(rtol), float(atol)
        self.dt_max = math.inf if dt_max is None else _check_dt(dt_max)
        self._next = self._snap(self.dt if dt_initial is None else _check_dt(dt_initial))
        self._next_by_reference: dict = {}  # the step to resume with, per group of fields
        self.stats = {"accepted": 0, "rejected": 0, "nonlinear_evaluations": 0}

    def _snap(self, h: float) -> float:
        """The largest ladder size dt * 2^(j/4) not above h (and not above dt_max)."""
        h = min(h, self.dt_max)
        j = math.floor(4 * math.log2(h / self.dt) + 1e-9)
        return self.dt * 2.0 ** (j / 4)

    def _error_ratio(self, error: Tensor, v: Tensor, v_hat: Tensor | None = None) -> float:
        """max over the batch of RMS(error) / (atol + rtol RMS(V+ - mean)) for conserved models,
        RMS(error) / (atol + rtol RMS(V+)) otherwise; accept the step when <= 1. ``v_hat``, the
        spectrum of V+, gives the mean for free (its k = 0 mode).

        The sums of squares are BLAS dot products (a tenth of the time of torch's reductions on
        CPU, where they ran at a quarter of a whole step), brought to the host in one transfer."""
        ndim = self.model.grid.ndim
        size = math.prod(self.model.grid.shape)
        rows = [_sum_squares(error, ndim), _sum_squares(v, ndim)]
        if self.model.conserved:
            dims = tuple(range(-ndim, 0))
            # the sum of V: its spectrum's k = 0 mode (free), else a reduction
            rows.append(v_hat.reshape(rows[0].numel(), -1)[:, 0].real.reshape(rows[0].shape)
                        if v_hat is not None else v.sum(dims))
        sums = torch.stack(rows).reshape(len(rows), -1).tolist()
        if not all(math.isfinite(x) for row in sums for x in row):
            return math.inf
        means = [x / size for x in sums[2]] if self.model.conserved else [0.0] * len(sums[0])
        # mean square minus squared mean: V is near its reference, so nothing large cancels
        return max(math.sqrt(err / size) / (self.atol + self.rtol * math.sqrt(max(field / size - mean**2, 0.0)))
                   for err, field, mean in zip(sums[0], sums[1], means))

    def integrate(self, u: Tensor, duration: float) -> Tensor:
        """The state ``duration`` after ``u``, reached exactly."""
        self.model.grid.check_field(u)
        duration = float(duration)
        if not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"{type(self).__name__}: duration must be a positive finite number, got {duration}")
        with _without_autograd():
            return self._by_reference(u, functools.partial(self._integrate_about, duration=duration))

    def _integrate_about(self, u: Tensor, reference: float, duration: float) -> Tensor:
        """``integrate`` for the deviation ``u`` from ``reference``."""
        step = _EtdStep(self, reference)
        u_hat, n_hat = step.start(u)
        self.stats["nonlinear_evaluations"] += 1
        t, h = 0.0, self._next_by_reference.get(reference, self._next)
        while duration - t > 1e-12 * duration:
            remaining = duration - t
            # Land on the end without a sliver of a last step.
            h_try = remaining if h >= remaining else (remaining / 2 if h > remaining / 2 else h)
            new, new_hat, new_n_hat, error = step(u_hat, n_hat, self._weights(u, h_try, step.linear), h_try,
                                                  estimate_error=True)
            self.stats["nonlinear_evaluations"] += self.evaluations_per_step
            ratio = self._error_ratio(error, new, new_hat)
            factor = self._safety * ratio ** (-1 / 3) if ratio > 0 else self._grow_max
            if ratio <= 1.0:
                t += h_try
                u, u_hat, n_hat = new, new_hat, new_n_hat
                self.stats["accepted"] += 1
                if h_try == h:  # a shortened last step says nothing about the next size
                    h = self._snap(h * min(self._grow_max, factor))
            else:
                self.stats["rejected"] += 1
                h = self._snap(h_try * max(self._shrink_min, min(factor, 0.9)))
                if h < 1e-12 * duration:
                    raise FloatingPointError(
                        f"{type(self).__name__}: the step size fell below {h:.3g} at t = {t:.6g} "
                        f"(error ratio {ratio:.3g}); the solution is blowing up or rtol/atol are too tight")
        self._next = self._next_by_reference[reference] = h
        return u

    def advance(self, u: Tensor, steps: int) -> Tensor:
        """The state ``steps * dt`` after ``u`` (internal steps chosen adaptively)."""
        self._check_advance(u, steps)
        return self.integrate(u, steps * self.dt)

    def parameters(self) -> dict:
        return {**super().parameters(), "rtol": self.rtol, "atol": self.atol}


STEPPERS = ("explicit", "spectral", "spectral2", "etd1", "etd2", "etd4", "etd4-ho", "etd4-adaptive")


# The options make_stepper passes on, per method ("variant" and "order" are the method's own).
_OPTIONS = {
    "explicit": ("scheme",),
    "spectral": (), "spectral2": (),
    "etd1": ("stabilization", "reference"), "etd2": ("stabilization", "reference"),
    "etd4": ("stabilization", "reference"), "etd4-ho": ("stabilization", "reference"),
    "etd4-adaptive": ("rtol", "atol", "dt_initial", "dt_max", "stabilization", "reference"),
}


def make_stepper(model: PhaseFieldModel, method: str, dt: float, **kwargs):
    """``method``: "explicit" (ExplicitEuler), "spectral" / "spectral2" (SemiImplicitSpectral of
    order 1 / 2), "etd1" / "etd2" / "etd4" (ExponentialSpectral of order 1 / 2 / 4; etd4 is
    Cox-Matthews), "etd4-ho" (its stiffly accurate Hochbruck-Ostermann variant) or
    "etd4-adaptive" (AdaptiveExponentialSpectral; ``dt`` is then the unit of ``advance``).

    ``kwargs`` are the stepper's options, passed on: ``scheme`` (explicit); ``stabilization``
    and ``reference`` (every exponential method); ``rtol``, ``atol``, ``dt_initial``, ``dt_max``
    (etd4-adaptive). The semi-implicit methods take none. An option the method does not take is
    refused, not ignored."""
    if method not in _OPTIONS:
        raise ValueError(f"unknown stepper {method!r}: use one of {', '.join(STEPPERS)}")
    unknown = sorted(set(kwargs) - set(_OPTIONS[method]))
    if unknown:
        takes = ", ".join(_OPTIONS[method]) or "none"
        raise ValueError(f"stepper {method!r} takes no option {', '.join(unknown)} (its options: {takes})")
    if method == "explicit":
        return ExplicitEuler(model, dt, **kwargs)
    if method in ("spectral", "spectral2"):
        return SemiImplicitSpectral(model, dt, order=2 if method == "spectral2" else 1)
    if method in ("etd1", "etd2", "etd4"):
        return ExponentialSpectral(model, dt, order=int(method[-1]), **kwargs)
    if method == "etd4-ho":
        return ExponentialSpectral(model, dt, order=4, variant="hochbruck-ostermann", **kwargs)
    return AdaptiveExponentialSpectral(model, dt, **kwargs)
