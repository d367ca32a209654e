"""Time steppers for the phase-field models.

* :class:`ExplicitEuler` -- finite differences, fused compiled ops (Allen-Cahn, Cahn-Hilliard);
  refuses a dt beyond the stability limit and says what the limit is.
* :class:`SemiImplicitSpectral` -- Fourier pseudo-spectral, stiff linear part implicit and
  f'(U) explicit (Chen & Shen 1998; kiyani2022 §2.3). ``order=1`` is the first-order
  semi-implicit scheme, ``order=2`` the second-order SBDF2 (BDF2 with extrapolated f'),
  started by one first-order step. FFTs go through torch.fft (pocketfft / cuFFT).
* :class:`ExponentialSpectral` -- exponential time differencing: ETD1 (SymPhas's scheme) and
  ETDRK2, which integrate the linear part exactly; far more accurate per step on stiff
  problems, for two FFT pairs per ETDRK2 step.

Both advance any number of steps per call and say which discretization their state lives in
(``discretization``), so diagnostics and right-hand sides can be evaluated consistently.
"""

from __future__ import annotations

import abc
import math
import warnings

import torch
from torch import Tensor

from .. import ops
from .phase_field import AllenCahn, CahnHilliard, PhaseFieldModel

__all__ = ["ExplicitEuler", "SemiImplicitSpectral", "ExponentialSpectral", "make_stepper"]


def _check_dt(dt: float) -> float:
    dt = float(dt)
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive finite number, got {dt}")
    return dt


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
        if self.dt >= self.limit:
            raise ValueError(
                f"ExplicitEuler: dt = {self.dt} is beyond the stability limit {self.limit:.6g} of "
                f"the linear part on this grid (2 / (M kappa lam{'^2' if model.conserved else ''}), "
                f"lam = sum 4/h^2 = {model.grid.max_laplacian_eigenvalue():g}); take a smaller dt "
                "or SemiImplicitSpectral"
            )
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
        with torch.no_grad():
            if m.conserved:
                return ops.cahn_hilliard_explicit(u, m.grid.spacing, self.dt, scheme=self.scheme, **kwargs)
            return ops.allen_cahn_explicit(u, m.grid.spacing, self.dt, **kwargs)

    def parameters(self) -> dict:
        return {"stepper": "explicit_euler", "dt": self.dt, "scheme": self.scheme}


class _FourierStepper(abc.ABC):
    """Shared parts of the Fourier steppers: the per-(device, dtype) cache of the real weight
    arrays that the update combines the spectra with, and the checks of ``advance``."""

    discretization = "spectral"

    def __init__(self, model: PhaseFieldModel, dt: float, order: int):
        if order not in (1, 2):
            raise ValueError(f"{type(self).__name__}: order must be 1 or 2, got {order}")
        self.model, self.dt, self.order = model, _check_dt(dt), order
        self._cache: dict = {}

    def _weights(self, u: Tensor):
        key = (u.device, u.dtype)
        if key not in self._cache:
            m = self.model
            k2 = m.grid.k_squared(device=u.device, dtype=torch.float64)
            cast = lambda ws: [w.to(u.dtype).expand(k2.shape).contiguous() for w in ws]  # noqa: E731
            self._cache[key] = tuple(cast(ws) for ws in self._build_weights(k2))
        return self._cache[key]

    @abc.abstractmethod
    def _build_weights(self, k2: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """The real weight arrays of the update's spectral combinations, from |k|^2."""

    def _check_advance(self, u: Tensor, steps: int) -> None:
        self.model.grid.check_field(u)
        if steps < 1:
            raise ValueError(f"{type(self).__name__}: steps must be >= 1, got {steps}")

    def parameters(self) -> dict:
        return {"stepper": self.stepper_name, "dt": self.dt, "order": self.order}


class SemiImplicitSpectral(_FourierStepper):
    """Semi-implicit Fourier spectral stepping of ``U_t = -M K (Lambda U + f'(U))``.

    order 1: ``(1 + dt M K Lambda) U+ = U - dt M K f'(U)``
    order 2: ``(3 + 2 dt M K Lambda) U+ = 4U - U- - 2 dt M K (2 f'(U) - f'(U-))``
    (all in Fourier space). The state carries the previous step for order 2; a call with a
    tensor other than the last result starts over with a first-order step.
    """

    stepper_name = "semi_implicit_spectral"

    def __init__(self, model: PhaseFieldModel, dt: float, order: int = 1):
        super().__init__(model, dt, order)
        self._history: tuple | None = None  # (last result, its f' hat, previous u hat, previous f' hat)

    def _build_weights(self, k2: Tensor):
        m = self.model
        mk = self.dt * m.mobility * m.mobility_symbol(k2)  # dt M K
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
        rfftn, irfftn = torch.fft.rfftn, torch.fft.irfftn
        with torch.no_grad():
            u = u.contiguous()
            u_hat = rfftn(u, dim=dims)
            n_hat = rfftn(poly(u, dfdu), dim=dims)
            prev = None
            if self.order == 2 and self._history is not None and self._history[0] is u:
                prev = self._history[2:]
            for _ in range(steps):
                if prev is None or self.order == 1:
                    new_hat = combine([u_hat, n_hat], first)
                else:
                    new_hat = combine([u_hat, prev[0], n_hat, prev[1]], second)
                prev = (u_hat, n_hat)
                u_hat = new_hat
                u = irfftn(u_hat, s=shape, dim=dims)
                n_hat = rfftn(poly(u, dfdu), dim=dims)
            self._history = (u, n_hat, *prev)
        return u


def _phi_functions(z: Tensor) -> tuple[Tensor, Tensor]:
    """phi1(z) = (e^z - 1)/z and phi2(z) = (e^z - 1 - z)/z^2, with their z -> 0 limits (1, 1/2).

    Near 0 (|z| < 1e-2) the closed forms cancel catastrophically, so a Taylor series is used
    (truncation below 1e-10 relative).
    """
    small = z.abs() < 1e-2
    zs = torch.where(small, torch.ones_like(z), z)
    em1 = torch.expm1(zs)
    phi1 = torch.where(small, 1 + z / 2 + z**2 / 6 + z**3 / 24 + z**4 / 120, em1 / zs)
    phi2 = torch.where(small, 0.5 + z / 6 + z**2 / 24 + z**3 / 120 + z**4 / 720, (em1 - zs) / zs**2)
    return phi1, phi2


class ExponentialSpectral(_FourierStepper):
    """Exponential time differencing (Cox & Matthews 2002) of ``U_t = L U + N(U)``.

    The whole linear part is integrated exactly: ``L = -M K (Lambda + c1)`` with ``c1`` the
    linear coefficient of f'(U), and ``N(U) = -M K (f'(U) - c1 U)``.

    order 1 (exponential Euler, the scheme of SymPhas): ``U+ = e^{L dt} U + dt phi1(L dt) N(U)``;
    order 2 (ETDRK2): ``a = e^{L dt} U + dt phi1 N(U)``, ``U+ = a + dt phi2 (N(a) - N(U))``.
    The phi functions take their limits where L = 0 (the k = 0 mode of conserved models).
    """

    stepper_name = "exponential_spectral"

    def __init__(self, model: PhaseFieldModel, dt: float, order: int = 2):
        super().__init__(model, dt, order)
        coeffs = list(model.energy.derivative_coeffs) + [0.0]
        self._c1 = float(coeffs[1])
        nonlinear = coeffs[:]
        nonlinear[1] = 0.0
        self._nonlinear = [float(c) for c in nonlinear[: max(1, len(coeffs) - 1)]]

    def _build_weights(self, k2: Tensor):
        m = self.model
        mk = m.mobility * m.mobility_symbol(k2)
        lin = -mk * (m.linear_symbol(k2) + self._c1)
        phi1, phi2 = _phi_functions(lin * self.dt)
        # N-hat carries -M K: fold it into the weights.
        w1, w2 = -mk * self.dt * phi1, -mk * self.dt * phi2
        return [torch.exp(lin * self.dt), w1], [torch.ones_like(k2), w2, -w2]

    def advance(self, u: Tensor, steps: int) -> Tensor:
        self._check_advance(u, steps)
        m = self.model
        dims = tuple(range(-m.grid.ndim, 0))
        shape = m.grid.shape
        first, second = self._weights(u)
        poly = torch.ops.coarsegrain.polynomial.default
        combine = torch.ops.coarsegrain.spectral_combine.default
        rfftn, irfftn = torch.fft.rfftn, torch.fft.irfftn
        g = self._nonlinear
        with torch.no_grad():
            u = u.contiguous()
            u_hat = rfftn(u, dim=dims)
            n_hat = rfftn(poly(u, g), dim=dims)
            for _ in range(steps):
                a_hat = combine([u_hat, n_hat], first)
                if self.order == 2:
                    a = irfftn(a_hat, s=shape, dim=dims)
                    na_hat = rfftn(poly(a, g), dim=dims)
                    a_hat = combine([a_hat, na_hat, n_hat], second)
                u_hat = a_hat
                u = irfftn(u_hat, s=shape, dim=dims)
                n_hat = rfftn(poly(u, g), dim=dims)
        return u


STEPPERS = ("explicit", "spectral", "spectral2", "etd1", "etd2")


def make_stepper(model: PhaseFieldModel, method: str, dt: float, **kwargs):
    """``method``: "explicit" (ExplicitEuler), "spectral" / "spectral2" (SemiImplicitSpectral of
    order 1 / 2) or "etd1" / "etd2" (ExponentialSpectral of order 1 / 2)."""
    if method == "explicit":
        return ExplicitEuler(model, dt, **kwargs)
    if method in ("spectral", "spectral2"):
        return SemiImplicitSpectral(model, dt, order=2 if method == "spectral2" else 1)
    if method in ("etd1", "etd2"):
        return ExponentialSpectral(model, dt, order=int(method[-1]))
    raise ValueError(f"unknown stepper {method!r}: use one of {', '.join(STEPPERS)}")
