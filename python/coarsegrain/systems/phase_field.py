"""Phase-field models: Allen-Cahn, Cahn-Hilliard and the phase-field crystal.

Sources: kiyani2022 §2 (Eqs 1-6, Table 1) and lanzoni2024 §2.1 (Eqs 1-2). With the free
energy ``F[U] = ∫ f(U) + (kappa/2)|grad U|^2`` and ``mu = dF/dU = f'(U) - kappa lap U``:

* Allen-Cahn (non-conserved):  ``U_t = -M mu``
* Cahn-Hilliard (conserved):   ``U_t = M lap(mu)``
* Phase-field crystal (conserved, kiyani Eq 6): ``U_t = lap[((q0^2 + lap)^2 - eps) U + U^2 + U^3]``

kiyani Eqs 3-4 as printed carry a sign on ``lap U`` that makes them anti-diffusive; the
gradient-flow forms above (kiyani Eqs 1-2) are the well-posed ones implemented here.

All three share one structure, used by every stepper:
``U_t = -M K (Lambda U + f'(U))`` with ``K = 1`` (non-conserved) or ``-lap`` (conserved) and
``Lambda`` a linear operator: ``-kappa lap`` for Allen-Cahn and Cahn-Hilliard,
``(q0^2 + lap)^2`` for the phase-field crystal (whose ``-eps U`` term sits in ``f'``).
Each model evaluates ``mu``, the right-hand side and ``F`` in two discretizations that match
the steppers: ``"fd"`` (3-point Laplacian, forward-difference gradient energy) and
``"spectral"`` (Fourier symbols).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .. import ops
from ..grid import Grid
from .energy import PolynomialEnergy, quartic

__all__ = ["PhaseFieldModel", "AllenCahn", "CahnHilliard", "PhaseFieldCrystal", "model_from_parameters"]

DISCRETIZATIONS = ("fd", "spectral")


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


@dataclass(frozen=True)
class PhaseFieldModel:
    """Base class; use AllenCahn, CahnHilliard or PhaseFieldCrystal."""

    grid: Grid
    energy: PolynomialEnergy = field(default_factory=quartic)
    mobility: float = 1.0
    kappa: float = 1.0

    conserved = False
    name = "phase_field"

    def __post_init__(self):
        if not isinstance(self.grid, Grid):
            raise TypeError(f"{self.name}: grid must be a coarsegrain.Grid, got {type(self.grid).__name__}")
        object.__setattr__(self, "mobility", _check_positive(f"{self.name}: mobility", self.mobility))
        object.__setattr__(self, "kappa", _check_positive(f"{self.name}: kappa", self.kappa))

    # --- linear operator Lambda and mobility operator K, in Fourier space -----------------------

    def linear_symbol(self, k2: Tensor) -> Tensor:
        """Symbol of Lambda as a function of |k|^2 (or of the FD Laplacian's eigenvalues)."""
        return self.kappa * k2

    def mobility_symbol(self, k2: Tensor) -> Tensor:
        return k2 if self.conserved else torch.ones_like(k2)

    # --- real-space evaluations ---------------------------------------------------------------

    def _check(self, u: Tensor, discretization: str) -> None:
        self.grid.check_field(u)
        if discretization not in DISCRETIZATIONS:
            raise ValueError(f"discretization must be one of {DISCRETIZATIONS}, got {discretization!r}")

    def apply_linear(self, u: Tensor, discretization: str = "fd") -> Tensor:
        """Lambda u."""
        self._check(u, discretization)
        if discretization == "fd":
            return -self.kappa * ops.laplacian(u, self.grid.spacing)
        return self._spectral_apply(u, self.linear_symbol)

    def _spectral_apply(self, u: Tensor, symbol) -> Tensor:
        dims = tuple(range(-self.grid.ndim, 0))
        k2 = self.grid.k_squared(device=u.device, dtype=u.dtype)
        return torch.fft.irfftn(symbol(k2) * torch.fft.rfftn(u, dim=dims), s=self.grid.shape, dim=dims)

    def chemical_potential(self, u: Tensor, discretization: str = "fd") -> Tensor:
        """mu = f'(U) + Lambda U."""
        return self.energy.df(u) + self.apply_linear(u, discretization)

    def rhs(self, u: Tensor, discretization: str = "fd") -> Tensor:
        """U_t of the semi-discrete system: -M mu, or M lap(mu) when conserved."""
        mu = self.chemical_potential(u, discretization)
        if not self.conserved:
            return -self.mobility * mu
        if discretization == "fd":
            return self.mobility * ops.laplacian(mu, self.grid.spacing)
        return -self.mobility * self._spectral_apply(mu, lambda k2: k2)

    def free_energy(self, u: Tensor, discretization: str = "fd") -> Tensor:
        """F[U] per batch entry, consistent with ``discretization``.

        ``"fd"``: h^d sum [f(U) + (kappa/2) sum_a ((U[i+e_a] - U[i]) / h_a)^2], whose gradient is
        exactly the FD chemical potential; ``"spectral"``: h^d sum f(U) + (1/2) <U, Lambda U>.
        """
        self._check(u, discretization)
        dims = tuple(range(-self.grid.ndim, 0))
        bulk = self.energy.f(u).sum(dims)
        if discretization == "fd" and type(self).linear_symbol is PhaseFieldModel.linear_symbol:
            grad = ops.face_gradient(u, self.grid.spacing)
            interface = 0.5 * self.kappa * grad.square().sum(dim=(-self.grid.ndim - 1, *dims))
        else:
            interface = 0.5 * (u * self.apply_linear(u, discretization)).sum(dims)
        return self.grid.cell_volume * (bulk + interface)

    def mass(self, u: Tensor) -> Tensor:
        """Mean of U per batch entry."""
        self.grid.check_field(u)
        return u.mean(dim=tuple(range(-self.grid.ndim, 0)))

    def parameters(self) -> dict:
        return {"model": self.name, "grid": self.grid.to_dict(), "energy": self.energy.to_dict(),
                "mobility": self.mobility, "kappa": self.kappa}


@dataclass(frozen=True)
class AllenCahn(PhaseFieldModel):
    """Allen-Cahn: U_t = -M (f'(U) - kappa lap U)."""

    conserved = False
    name = "allen_cahn"


@dataclass(frozen=True)
class CahnHilliard(PhaseFieldModel):
    """Cahn-Hilliard: U_t = M lap(f'(U) - kappa lap U)."""

    conserved = True
    name = "cahn_hilliard"


@dataclass(frozen=True)
class PhaseFieldCrystal(PhaseFieldModel):
    """Phase-field crystal (kiyani Eq 6): U_t = M lap[((q0^2 + lap)^2 - eps) U + U^2 + U^3].

    ``energy`` defaults to f = -eps U^2/2 + U^3/3 + U^4/4 (so f' = -eps U + U^2 + U^3) and
    Lambda = (q0^2 + lap)^2; ``kappa`` is unused. Spectral discretization only.
    """

    q0: float = 1.0
    epsilon: float = 0.1
    energy: PolynomialEnergy = None  # type: ignore[assignment]

    conserved = True
    name = "phase_field_crystal"

    def __post_init__(self):
        if self.energy is None:
            eps = float(self.epsilon)
            object.__setattr__(
                self, "energy",
                PolynomialEnergy((0.0, 0.0, -eps / 2, 1.0 / 3, 0.25), name=f"pfc(epsilon={eps})"),
            )
        super().__post_init__()
        object.__setattr__(self, "q0", _check_positive("phase_field_crystal: q0", self.q0))

    def linear_symbol(self, k2: Tensor) -> Tensor:
        return (self.q0**2 - k2) ** 2

    def apply_linear(self, u: Tensor, discretization: str = "spectral") -> Tensor:
        self._check(u, discretization)
        if discretization == "fd":
            h = self.grid.spacing
            v = self.q0**2 * u + ops.laplacian(u, h)
            return self.q0**2 * v + ops.laplacian(v, h)
        return self._spectral_apply(u, self.linear_symbol)

    def parameters(self) -> dict:
        return {**super().parameters(), "q0": self.q0, "epsilon": self.epsilon}


def model_from_parameters(params: dict) -> PhaseFieldModel:
    """Rebuilds a model from its ``parameters()`` (as stored in dataset metadata)."""
    grid = Grid(params["grid"]["shape"], params["grid"]["spacing"], params["grid"].get("boundary", "periodic"))
    energy = PolynomialEnergy(tuple(params["energy"]["coeffs"]), name=params["energy"].get("name", "polynomial"))
    kind = params["model"]
    common = dict(grid=grid, energy=energy, mobility=params["mobility"], kappa=params["kappa"])
    if kind == "allen_cahn":
        return AllenCahn(**common)
    if kind == "cahn_hilliard":
        return CahnHilliard(**common)
    if kind == "phase_field_crystal":
        return PhaseFieldCrystal(**common, q0=params["q0"], epsilon=params["epsilon"])
    raise ValueError(f"unknown phase-field model {kind!r}")
