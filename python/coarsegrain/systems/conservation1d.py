"""Reference solvers for the 1D periodic equations of barsinai2019.

* Burgers with forcing (Eq 4): v_t + (v^2/2 - eta v_x)_x = f(x, t), eta = 0.04, period 2 pi;
  f a sum of 20 random travelling sinusoids (:class:`SinusoidForcing`).
* Korteweg-de Vries: u_t = -6 u u_x - u_xxx, period 32.
* Kuramoto-Sivashinsky: u_t = -u u_x - u_xx - u_xxxx, period 64.

Two discretizations:

* pseudo-spectral in space with fourth-order exponential time differencing (ETDRK4, Cox &
  Matthews 2002, through the exponential Runge-Kutta core the phase-field steppers share,
  :mod:`coarsegrain.systems.exponential`), 2/3-rule dealiasing of the quadratic term --
  :class:`ETDRK4`, for all three;
* finite volumes with WENO5 and the exact Godunov flux for v^2/2, a centred viscous flux and
  exactly cell-averaged forcing, advanced with SSP-RK3 -- :class:`WenoBurgers`, for Burgers.

The solvers run on a 1D periodic :class:`~coarsegrain.grid.Grid` of n points, spacing h = L / n
(L the pde's period). Fields are ``[*batch, n]`` float64 tensors of point values (spectral) on
``x_j = j h`` or cell averages (FV) over the cells ``[j, j + 1) h`` (the Grid's cells, whose
centres are the Grid's points).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import ops
from ..grid import Grid
from .exponential import ExponentialRK

__all__ = ["ETDRK4", "Burgers", "KdV", "KuramotoSivashinsky", "SinusoidForcing", "WenoBurgers",
           "random_sinusoids", "spectral_cell_averages", "ssprk3_step"]


@dataclass
class SinusoidForcing:
    """f(x, t) = sum_j a_j sin(omega_j t + k_j 2 pi x / L + phi_j), per batch entry.

    barsinai2019: 20 modes, a in U(-0.5, 0.5), omega in U(-0.4, 0.4), k in +-{1, 2, 3},
    phi in U(0, 2 pi). Arrays are ``[batch, modes]``.
    """

    amplitude: Tensor
    omega: Tensor
    wavenumber: Tensor
    phase: Tensor
    length: float = 2 * math.pi

    @classmethod
    def random(cls, batch: int, seed: int, modes: int = 20, length: float = 2 * math.pi,
               domain_multiple: int = 1) -> SinusoidForcing:
        """barsinai2019's random forcing. On a domain ``domain_multiple`` times 2 pi long
        (``length`` = 2 pi m) the mode numbers are drawn from +-{m, ..., 3m}: physical
        wavenumbers in [1, 3] like the training distribution, without a period of 2 pi."""
        rng = np.random.default_rng(seed)
        t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        m = int(domain_multiple)
        if m < 1:
            raise ValueError(f"domain_multiple must be >= 1, got {domain_multiple}")
        choices = [1, 2, 3] if m == 1 else list(range(m, 3 * m + 1))
        k = rng.choice(choices, size=(batch, modes)) * rng.choice([-1, 1], size=(batch, modes))
        return cls(t(rng.uniform(-0.5, 0.5, (batch, modes))), t(rng.uniform(-0.4, 0.4, (batch, modes))),
                   t(k), t(rng.uniform(0, 2 * math.pi, (batch, modes))), length)

    def _args(self, x: Tensor, t: float) -> Tensor:
        q = 2 * math.pi / self.length
        return (self.omega[..., None] * t + self.wavenumber[..., None] * q * x + self.phase[..., None])

    def point_values(self, x: Tensor, t: float) -> Tensor:
        """f at the points ``x`` ([n]), ``[batch, n]``."""
        return (self.amplitude[..., None] * torch.sin(self._args(x, t))).sum(-2)

    def _on_grid(self, grid: Grid | int, cells: bool, t: float, name: str) -> Tensor:
        # sin(k x + theta) = sin(k x) cos(theta) + cos(k x) sin(theta): the spatial factors are
        # cached per grid, so each call costs one [batch, modes] x [batch, modes, n] product.
        n = _periodic_grid(f"SinusoidForcing.{name}", self.length, grid, "the forcing").shape[0]
        cache = self.__dict__.setdefault("_grid_cache", {})
        if (n, cells) not in cache:
            h = self.length / n
            x = (torch.arange(n, dtype=torch.float64) + (0.5 if cells else 0.0)) * h
            kq = self.wavenumber[..., None] * 2 * math.pi / self.length
            weight = self.amplitude[..., None]
            if cells:  # the mean of sin(kx + c) over a cell of width h about x0 is sin(k x0 + c) sinc
                weight = weight * torch.sin(kq * h / 2) / (kq * h / 2)
            cache[(n, cells)] = (weight * torch.sin(kq * x), weight * torch.cos(kq * x))
        s, c = cache[(n, cells)]
        theta = self.omega * t + self.phase
        return torch.einsum("bm,bmn->bn", torch.cos(theta), s) + torch.einsum("bm,bmn->bn", torch.sin(theta), c)

    def grid_values(self, grid: Grid | int, t: float) -> Tensor:
        """f at the points x_j = j * spacing of a 1D periodic ``grid`` spanning ``length`` (a
        number of points n is taken as ``Grid(n, length / n)``), ``[batch, n]``."""
        return self._on_grid(grid, False, t, "grid_values")

    def cell_averages(self, grid: Grid | int, t: float) -> Tensor:
        """Exact averages of f over the cells [j, j + 1) * spacing of ``grid`` (as in
        :meth:`grid_values`), ``[batch, n]``."""
        return self._on_grid(grid, True, t, "cell_averages")


def random_sinusoids(grid: Grid, batch: int, seed: int, *, modes: int = 10, max_wavenumber: int = 3,
                     amplitude: float = 1.0) -> Tensor:
    """Initial fields on the points x_j = j * spacing of a 1D periodic ``grid`` (period L = n *
    spacing): sums of long-wavelength sinusoids with random amplitudes and phases,
    ``sum_k a_k sin(2 pi k x / L + phi_k)`` with k in 1..max_wavenumber, ``[batch, n]``."""
    if not isinstance(grid, Grid):
        raise TypeError(f"random_sinusoids: grid must be a 1D coarsegrain.Grid, got {type(grid).__name__}")
    if grid.ndim != 1:
        raise ValueError(f"random_sinusoids: grid must be 1D, got shape {grid.shape}")
    (n,), (length,) = grid.shape, grid.lengths
    rng = np.random.default_rng(seed)
    x = torch.arange(n, dtype=torch.float64) * grid.spacing[0]
    ks = torch.as_tensor(rng.integers(1, max_wavenumber + 1, (batch, modes)), dtype=torch.float64)
    a = torch.as_tensor(rng.uniform(-amplitude, amplitude, (batch, modes)) / math.sqrt(modes))
    phi = torch.as_tensor(rng.uniform(0, 2 * math.pi, (batch, modes)))
    return (a[..., None] * torch.sin(ks[..., None] * 2 * math.pi * x / length + phi[..., None])).sum(-2)


class _Spectral1D(abc.ABC):
    """u_t = L u + N(u, t) on a periodic interval, in rfft space."""

    length: float

    def wavenumbers(self, n: int) -> Tensor:
        return 2 * math.pi * torch.fft.rfftfreq(n, d=self.length / n, dtype=torch.float64)

    @abc.abstractmethod
    def linear_symbol(self, k: Tensor) -> Tensor:
        """The symbol of the linear part L at wavenumbers ``k`` (complex)."""

    @abc.abstractmethod
    def quadratic_coefficient(self) -> float:
        """c in N(u) = c (u^2)_x."""

    def forcing_hat(self, grid: Grid, t: float, batch_shape) -> Tensor | None:
        return None

    def flux_rhs(self, u: Tensor) -> Tensor:
        """The conservative part of u_t (everything but the forcing) at the points of ``u``
        (``[*batch, n]``), spectrally: L u + c (u^2)_x."""
        n = u.shape[-1]
        k = self.wavenumbers(n)
        u = u.to(torch.float64)
        out = self.linear_symbol(k) * torch.fft.rfft(u) + self.quadratic_coefficient() * 1j * k * torch.fft.rfft(u * u)
        return torch.fft.irfft(out, n=n)


@dataclass
class Burgers(_Spectral1D):
    """v_t = -(v^2/2)_x + eta v_xx + f(x, t) (barsinai2019 Eq 4)."""

    eta: float = 0.04
    length: float = 2 * math.pi
    forcing: SinusoidForcing | None = None

    def linear_symbol(self, k):
        return (-self.eta * k ** 2).to(torch.complex128)

    def quadratic_coefficient(self):
        return -0.5

    def forcing_hat(self, grid, t, batch_shape):
        if self.forcing is None:
            return None
        return torch.fft.rfft(self.forcing.grid_values(grid, t))


@dataclass
class KdV(_Spectral1D):
    """u_t = -6 u u_x - u_xxx."""

    length: float = 32.0

    def linear_symbol(self, k):
        return 1j * k.to(torch.complex128) ** 3  # -(ik)^3

    def quadratic_coefficient(self):
        return -3.0


@dataclass
class KuramotoSivashinsky(_Spectral1D):
    """u_t = -u u_x - u_xx - u_xxxx."""

    length: float = 64.0

    def linear_symbol(self, k):
        return (k ** 2 - k ** 4).to(torch.complex128)

    def quadratic_coefficient(self):
        return -0.5


def _periodic_grid(owner: str, length: float, grid: Grid | int, whose: str) -> Grid:
    """``grid`` as a 1D periodic Grid spanning ``length``: a Grid (checked), or a number of points
    n (a convenience: ``Grid(n, length / n)``)."""
    if isinstance(grid, bool) or not isinstance(grid, (Grid, int)):
        raise TypeError(f"{owner}: grid must be a 1D coarsegrain.Grid (or a number of points), "
                        f"got {type(grid).__name__}")
    if isinstance(grid, int):
        if grid < 1:
            raise ValueError(f"{owner}: grid (a number of points) must be >= 1, got {grid}")
        grid = Grid(grid, length / grid)
    if grid.ndim != 1 or grid.boundary != "periodic":
        raise ValueError(f"{owner}: grid must be 1D and periodic, got shape {grid.shape}, boundary {grid.boundary!r}")
    if not math.isclose(grid.lengths[0], length, rel_tol=1e-12):
        raise ValueError(f"{owner}: grid spans {grid.lengths[0]:g} (n * spacing) but {whose} has period {length:g}")
    return grid


def _solver_grid(solver: str, pde: _Spectral1D, grid: Grid | int) -> Grid:
    """``grid`` as the 1D periodic Grid the solver runs on: a Grid spanning the pde's period, or
    a number of points n (a convenience: ``Grid(n, pde.length / n)``)."""
    return _periodic_grid(solver, pde.length, grid, f"the {type(pde).__name__}")


class ETDRK4:
    """Fourth-order exponential time differencing Runge-Kutta (Cox & Matthews 2002) for a
    :class:`_Spectral1D` PDE on a 1D periodic ``grid`` (a :class:`~coarsegrain.grid.Grid` that
    spans the pde's period; a number of points n is taken as ``Grid(n, pde.length / n)``), step
    ``dt``. Points sit at ``x_j = j * spacing``.

    The scheme and its phi-function coefficients are the shared exponential Runge-Kutta core
    (:class:`~coarsegrain.systems.exponential.ExponentialRK`, the phase-field steppers' too),
    evaluated on the complex symbol of L (series near L dt = 0, so the k = 0 mode and the small
    wavenumbers keep full accuracy); ``variant="hochbruck-ostermann"`` takes the stiffly
    accurate five-stage method instead. The quadratic term is dealiased by the 2/3 rule; the
    forcing is evaluated at the stages' times.
    """

    def __init__(self, pde: _Spectral1D, grid: Grid | int, dt: float, variant: str = "cox-matthews"):
        self.grid = _solver_grid("ETDRK4", pde, grid)
        n = self.grid.shape[0]
        dt = float(dt)
        if n < 8:
            raise ValueError(f"ETDRK4: grid needs at least 8 points, got {n}")
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"ETDRK4: dt must be a positive finite number, got {dt}")
        if variant not in ("cox-matthews", "hochbruck-ostermann"):
            raise ValueError(f"ETDRK4: variant must be 'cox-matthews' or 'hochbruck-ostermann', got {variant!r}")
        self.pde, self.dt, self.variant = pde, dt, variant
        self.method = ExponentialRK(variant)
        (k,) = self.grid.wavenumbers(dtype=torch.float64)
        self.weights = self.method.weights(pde.linear_symbol(k), dt)
        keep = (k.abs() <= (2 / 3) * k.abs().max()).to(torch.float64)
        self.nonlinear_factor = pde.quadratic_coefficient() * 1j * k * keep

    @property
    def n(self) -> int:
        return self.grid.shape[0]

    def _nonlinear(self, v_hat: Tensor, t: float) -> Tensor:
        u = torch.fft.irfft(v_hat, n=self.n)
        out = self.nonlinear_factor * torch.fft.rfft(u * u)
        f = self.pde.forcing_hat(self.grid, t, v_hat.shape[:-1])
        return out if f is None else out + f

    def advance(self, u: Tensor, steps: int, t0: float = 0.0) -> Tensor:
        """``u`` (``[*batch, n]``) after ``steps`` steps from time ``t0``."""
        if u.shape[-1] != self.n:
            raise ValueError(f"ETDRK4: u has {u.shape[-1]} points, the stepper was built for {self.n}")
        v = torch.fft.rfft(u.to(torch.float64))
        dt, t, node = self.dt, t0, self.method.node
        for _ in range(steps):
            start = t
            v = self.method.step(v, self._nonlinear(v, t), self.weights,
                                 lambda stage_hat, stage: self._nonlinear(stage_hat, start + node(stage) * dt))
            t += dt
        out = torch.fft.irfft(v, n=self.n)
        if not torch.isfinite(out).all():
            raise FloatingPointError(f"ETDRK4 blew up before t = {t:g}; reduce dt (now {dt:g})")
        return out


class WenoBurgers:
    """Finite-volume Burgers on the cells of a 1D periodic ``grid`` (a
    :class:`~coarsegrain.grid.Grid` spanning the pde's period; a number of cells n is taken as
    ``Grid(n, pde.length / n)``): dv_j/dt = -(J_{j+1/2} - J_{j-1/2}) / h + <f>_j with
    J = Godunov(WENO5 states) - eta (v_{j+1} - v_j) / h, h = ``spacing``, advanced by SSP-RK3
    (Shu-Osher).

    ``dt=None`` picks :meth:`stable_dt` for speeds up to ``max_speed`` (the forced Burgers
    solutions of barsinai2019 stay below ~3)."""

    def __init__(self, pde: Burgers, grid: Grid | int, dt: float | None = None, flux: str = "godunov",
                 max_speed: float = 3.0):
        self.grid = _solver_grid("WenoBurgers", pde, grid)
        self.pde, self.flux = pde, flux
        n = self.n
        limit = self.viscous_limit()
        if dt is None:  # within CFL 0.4 for |v| <= max_speed and the viscous limit
            dt = self.stable_dt(max_speed)
        if not 0 < dt <= limit:
            raise ValueError(f"WenoBurgers: dt = {dt:g} is beyond the explicit viscous stability limit "
                             f"h^2 / (2 eta) = {limit:g} (n = {n}); use dt <= {limit:g}")
        self.dt = dt

    @property
    def n(self) -> int:
        return self.grid.shape[0]

    @property
    def spacing(self) -> float:
        """The cell width h."""
        return self.grid.spacing[0]

    def viscous_limit(self) -> float:
        """Largest stable dt of the explicit viscous term, h^2 / (2 eta)."""
        return self.spacing ** 2 / (2 * self.pde.eta) if self.pde.eta > 0 else math.inf

    def stable_dt(self, max_speed: float, cfl: float = 0.4) -> float:
        """A dt within both the advective CFL limit (cfl h / max|v|) and the viscous limit."""
        return min(cfl * self.spacing / max(max_speed, 1e-12), 0.9 * self.viscous_limit())

    def flux_rhs(self, v: Tensor) -> Tensor:
        """The conservative part of dv/dt (everything but the forcing), ``[*batch, n]``."""
        h = self.spacing
        face = ops.weno5_flux(v, self.flux) - self.pde.eta * (torch.roll(v, -1, -1) - v) / h
        return -ops.divergence(face[..., None, :], [h])

    def rhs(self, v: Tensor, t: float) -> Tensor:
        out = self.flux_rhs(v)
        if self.pde.forcing is not None:
            out = out + self.pde.forcing.cell_averages(self.grid, t).to(v)
        return out

    def advance(self, v: Tensor, steps: int, t0: float = 0.0) -> Tensor:
        dt, t = self.dt, t0
        for _ in range(steps):
            v = ssprk3_step(self.rhs, v, t, dt)
            t += dt
        if not torch.isfinite(v).all():
            raise FloatingPointError(f"WenoBurgers blew up before t = {t:g}; reduce dt (now {dt:g})")
        return v


def ssprk3_step(rate, v: Tensor, t: float, dt: float) -> Tensor:
    """One step ``dt`` of the strong-stability-preserving third-order Runge-Kutta scheme
    (Shu-Osher) for dv/dt = rate(v, t); differentiable."""
    v1 = v + dt * rate(v, t)
    v2 = 0.75 * v + 0.25 * (v1 + dt * rate(v1, t + dt))
    return v / 3 + (2 / 3) * (v2 + dt * rate(v2, t + dt / 2))


def spectral_cell_averages(u: Tensor, factor: int) -> Tensor:
    """Exact averages over coarse cells [i, i + 1) * factor * h of the trigonometric interpolant
    of point values ``u`` on x_j = j h (``[*batch, n]`` -> ``[*batch, n / factor]``).

    The average over a cell of width H = factor h centred at x is the interpolant filtered by
    sin(k H / 2) / (k H / 2); the centres sit H / 2 after the coarse cell edges.
    """
    n = u.shape[-1]
    if factor < 1 or n % factor:
        raise ValueError(f"spectral_cell_averages: {n} points are not divisible by factor {factor}")
    k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64) * 2 * math.pi / n  # wavenumber * h
    half = k * factor / 2
    filt = torch.where(half == 0, torch.ones_like(half), torch.sin(half) / torch.where(half == 0, torch.ones_like(half), half))
    shifted = torch.fft.rfft(u.to(torch.float64)) * filt * torch.exp(1j * half)
    return torch.fft.irfft(shifted, n=n)[..., ::factor]
