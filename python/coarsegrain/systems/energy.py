"""Bulk free-energy densities f(U), as polynomials.

Every named form of the phase-field papers is a polynomial, so one class serves them all and
the compiled steppers only need the coefficients of f'(U).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["PolynomialEnergy", "quartic", "lanzoni", "double_well"]

MAX_DERIVATIVE_TERMS = 8  # the compiled steppers take f'(U) up to degree 7


def _horner(coeffs: Sequence[float], u: torch.Tensor) -> torch.Tensor:
    out = torch.full_like(u, float(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        out = out * u + c
    return out


@dataclass(frozen=True)
class PolynomialEnergy:
    """f(U) = sum_k coeffs[k] U^k (constant term first)."""

    coeffs: tuple[float, ...]
    name: str = "polynomial"

    def __post_init__(self):
        c = tuple(float(x) for x in self.coeffs)
        if len(c) < 2:
            raise ValueError("PolynomialEnergy: coeffs needs at least 2 values (f must depend on U)")
        if len(c) - 1 > MAX_DERIVATIVE_TERMS:
            raise ValueError(
                f"PolynomialEnergy: degree {len(c) - 1} is above the supported {MAX_DERIVATIVE_TERMS}"
            )
        if not all(math.isfinite(x) for x in c):
            raise ValueError(f"PolynomialEnergy: coeffs must be finite, got {c}")
        object.__setattr__(self, "coeffs", c)

    @property
    def derivative_coeffs(self) -> tuple[float, ...]:
        """Coefficients of f'(U)."""
        return tuple(k * c for k, c in enumerate(self.coeffs))[1:]

    @property
    def second_derivative_coeffs(self) -> tuple[float, ...]:
        d = self.derivative_coeffs
        return tuple(k * c for k, c in enumerate(d))[1:] or (0.0,)

    def f(self, u: torch.Tensor) -> torch.Tensor:
        return _horner(self.coeffs, u)

    def df(self, u: torch.Tensor) -> torch.Tensor:
        return _horner(self.derivative_coeffs, u)

    def d2f(self, u: torch.Tensor) -> torch.Tensor:
        return _horner(self.second_derivative_coeffs, u)

    def max_curvature(self, lo: float, hi: float, samples: int = 257) -> float:
        """max f''(U) over [lo, hi] (sampled): what tightens explicit stability limits."""
        u = torch.linspace(lo, hi, samples, dtype=torch.float64)
        return float(self.d2f(u).max())

    def minimizers(self) -> tuple[float, ...]:
        """The real local minima of f, ascending (the wells of a double-well energy)."""
        import numpy as np

        roots = np.roots(list(reversed(self.derivative_coeffs))) if len(self.derivative_coeffs) > 1 else []
        real = sorted(float(r.real) for r in roots if abs(r.imag) < 1e-9 * max(1.0, abs(r)))
        return tuple(r for r in real if _horner(self.second_derivative_coeffs, torch.tensor(r)) > 0)

    def well_curvature(self) -> float:
        """max f''(U) between the outermost minima of f (0 without two minima): the
        stabilization that keeps exponential steppers stable at long steps near equilibrium."""
        wells = self.minimizers()
        return max(0.0, self.max_curvature(wells[0], wells[-1])) if len(wells) >= 2 else 0.0

    def well_midpoint(self) -> float:
        """Midway between the outermost minima of f (0 without two minima): the state a
        double well is symmetric about, whatever origin it is written in."""
        wells = self.minimizers()
        return 0.5 * (wells[0] + wells[-1]) if len(wells) >= 2 else 0.0

    def shifted(self, reference: float) -> "PolynomialEnergy":
        """f(reference + V) as a polynomial in V: the same energy written about ``reference``.
        Its derivative coefficients are the Taylor coefficients of f' about ``reference``
        (f'(r), f''(r), f'''(r) / 2, ...)."""
        r = float(reference)
        # (r + V)^j = sum_i C(j, i) r^(j - i) V^i
        out = [sum(c * math.comb(j, i) * r ** (j - i) for j, c in enumerate(self.coeffs) if j >= i)
               for i in range(len(self.coeffs))]
        return PolynomialEnergy(tuple(out), name=f"{self.name} about {r:g}")

    def to_dict(self) -> dict:
        return {"name": self.name, "coeffs": list(self.coeffs)}


def quartic(a2: float = 1.0, a4: float = 1.0) -> PolynomialEnergy:
    """f = -(a2/2) U^2 + (a4/4) U^4 (kiyani2022 with a2 = a4 = 1); f' = -a2 U + a4 U^3."""
    return PolynomialEnergy((0.0, 0.0, -a2 / 2, 0.0, a4 / 4), name=f"quartic(a2={a2}, a4={a4})")


def lanzoni(epsilon: float = 3.0) -> PolynomialEnergy:
    """f = (18/eps) phi^2 (1 - phi)^2 (lanzoni2024 Eq 1, used with kappa = eps)."""
    # eps is the interface width: 0 divides by zero, a negative one turns the double well into
    # an energy unbounded below.
    import numbers

    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not (
            math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"lanzoni: epsilon (the interface width) must be a positive finite number, got {epsilon!r}")
    s = 18.0 / epsilon
    return PolynomialEnergy((0.0, 0.0, s, -2 * s, s), name=f"lanzoni(epsilon={epsilon})")


def double_well(rho: float, c_alpha: float, c_beta: float) -> PolynomialEnergy:
    """f = rho (c - c_alpha)^2 (c_beta - c)^2, minima at c_alpha and c_beta."""
    a, b = c_alpha, c_beta
    # (c - a)^2 (c - b)^2 = (c^2 - (a+b) c + ab)^2
    p, q = -(a + b), a * b
    coeffs = (q * q, 2 * p * q, p * p + 2 * q, 2 * p, 1.0)
    return PolynomialEnergy(tuple(rho * c for c in coeffs),
                            name=f"double_well(rho={rho}, c_alpha={a}, c_beta={b})")
