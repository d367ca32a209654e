"""Time steppers for the phase-field models.

* :class:`ExplicitEuler` -- finite differences, fused compiled ops (Allen-Cahn, Cahn-Hilliard);
  refuses a dt beyond the stability limit and says what the limit is.
* :class:`SemiImplicitSpectral` -- Fourier pseudo-spectral, stiff linear part implicit and
  f'(U) explicit (Chen & Shen 1998; kiyani2022 §2.3). ``order=1`` is the first-order
  semi-implicit scheme, ``order=2`` the second-order SBDF2 (BDF2 with extrapolated f'),
  started by one first-order step. FFTs go through torch.fft (pocketfft / cuFFT).

Both advance any number of steps per call and say which discretization their state lives in
(``discretization``), so diagnostics and right-hand sides can be evaluated consistently.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from .. import ops
from .phase_field import AllenCahn, CahnHilliard, PhaseFieldModel

__all__ = ["ExplicitEuler", "SemiImplicitSpectral", "make_stepper"]


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


class SemiImplicitSpectral:
    """Semi-implicit Fourier spectral stepping of ``U_t = -M K (Lambda U + f'(U))``.

    order 1: ``(1 + dt M K Lambda) U+ = U - dt M K f'(U)``
    order 2: ``(3 + 2 dt M K Lambda) U+ = 4U - U- - 2 dt M K (2 f'(U) - f'(U-))``
    (all in Fourier space). The state carries the previous step for order 2; a call with a
    tensor other than the last result starts over with a first-order step.
    """

    discretization = "spectral"

    def __init__(self, model: PhaseFieldModel, dt: float, order: int = 1):
        if order not in (1, 2):
            raise ValueError(f"SemiImplicitSpectral: order must be 1 or 2, got {order}")
        self.model, self.dt, self.order = model, _check_dt(dt), order
        self._cache: dict = {}
        self._history: tuple | None = None  # (last result, its f' hat, previous u hat, previous f' hat)

    def _weights(self, u: Tensor):
        """Real weights of the update's terms on the rfftn grid, cached per device and dtype."""
        key = (u.device, u.dtype)
        if key not in self._cache:
            m = self.model
            k2 = m.grid.k_squared(device=u.device, dtype=torch.float64)
            mk = self.dt * m.mobility * m.mobility_symbol(k2)  # dt M K
            lam = m.linear_symbol(k2)
            inv1, inv2 = 1.0 / (1.0 + mk * lam), 1.0 / (3.0 + 2.0 * mk * lam)
            first = [inv1, -mk * inv1]                                  # u, f'(u)
            second = [4 * inv2, -inv2, -4 * mk * inv2, 2 * mk * inv2]   # u, u-, f'(u), f'(u-)
            cast = lambda ws: [w.to(u.dtype).expand(k2.shape).contiguous() for w in ws]  # noqa: E731
            self._cache[key] = (cast(first), cast(second))
        return self._cache[key]

    def advance(self, u: Tensor, steps: int) -> Tensor:
        m = self.model
        m.grid.check_field(u)
        if steps < 1:
            raise ValueError(f"SemiImplicitSpectral: steps must be >= 1, got {steps}")
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

    def parameters(self) -> dict:
        return {"stepper": "semi_implicit_spectral", "dt": self.dt, "order": self.order}


def make_stepper(model: PhaseFieldModel, method: str, dt: float, **kwargs):
    """``method``: "explicit" (ExplicitEuler), "spectral" or "spectral2" (SemiImplicitSpectral)."""
    if method == "explicit":
        return ExplicitEuler(model, dt, **kwargs)
    if method == "spectral":
        return SemiImplicitSpectral(model, dt, order=1)
    if method == "spectral2":
        return SemiImplicitSpectral(model, dt, order=2)
    raise ValueError(f"unknown stepper {method!r}: use 'explicit', 'spectral' or 'spectral2'")
