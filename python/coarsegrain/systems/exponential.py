"""The one exponential Runge-Kutta core: ``v_t = L v + N(v, t)`` with L diagonal (a Fourier
symbol), used by the phase-field steppers (:class:`~coarsegrain.systems.steppers.ExponentialSpectral`,
:class:`~coarsegrain.systems.steppers.AdaptiveExponentialSpectral`) and the 1D reference solvers
(:class:`~coarsegrain.systems.conservation1d.ETDRK4`).

* :func:`phi_functions` -- phi1, phi2, phi3 of real or complex z, accurate where z -> 0;
* :class:`ExponentialRK` -- a scheme (ETD1, ETDRK2, ETDRK4 of Cox & Matthews, the stiffly
  accurate ETDRK4 of Hochbruck & Ostermann): its stage tables, the weights of its spectral
  combinations from the symbol of L, and one step given how to evaluate N and how to combine
  spectra (the phase-field steppers combine with the compiled ``spectral_combine`` op and real
  weights; the 1D solvers with torch arithmetic and complex weights, since KdV's L is imaginary).

A step keeps every stage as a combination of the state and the nonlinear terms before it:
stage j is ``sum_i w_ji T_i`` over the terms ``T = (v, N(v), N(stage 2), ...)``, the new state
likewise. The first weight of a combination multiplies v (a power of e^{L dt}), the others
carry ``dt`` times the phi functions and the factor ``nonlinear_factor`` that turns the
evaluated spectrum into N-hat (for the phase-field steppers the ``-M K`` in front of f').
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["phi_functions", "ExponentialRK", "SCHEMES"]

# Taylor series below |z| = 1: the closed forms cancel there (phi3 loses about 3 log10(1/|z|)
# digits); 18 terms leave a truncation below 1/(17 + 1 + 1)! ~ 1e-17 relative.
_SERIES_RADIUS, _SERIES_TERMS = 1.0, 18


def phi_functions(z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """phi1, phi2, phi3 of ``z`` (real or complex; best in float64 / complex128):
    ``phi_k(z) = (e^z - sum_{j<k} z^j / j!) / z^k``, with their z -> 0 limits 1, 1/2, 1/6.

    ``phi_k(z) = sum_j z^j / (j + k)!`` (Horner) where |z| < 1, the closed forms elsewhere, where
    they lose at most a digit to cancellation; both agree to round-off at |z| = 1.
    """
    small = z.abs() < _SERIES_RADIUS
    zs = torch.where(small, torch.ones_like(z), z)
    em1 = torch.expm1(zs)
    closed = (em1 / zs, (em1 - zs) / zs**2, (em1 - zs - zs**2 / 2) / zs**3)
    out = []
    for k, c in zip((1, 2, 3), closed):
        series = torch.full_like(z, 1.0 / math.factorial(_SERIES_TERMS - 1 + k))
        for j in range(_SERIES_TERMS - 2, -1, -1):
            series = series * z + 1.0 / math.factorial(j + k)
        out.append(torch.where(small, series, c))
    return tuple(out)


# Per scheme: for the stages 2, 3, ... (stage 1 is v) and then the new state, the terms each
# combination takes (0 is v, j >= 1 the nonlinear part N_j of stage j); the stages' times as
# fractions of the step (c_2, c_3, ...); the stage that approximates v+ to lower order (its
# difference from v+ estimates the local error), if any.
SCHEMES = {
    "etd1": ((), (0, 1), (), None),
    "etdrk2": (((0, 1),), (0, 1, 2), (1.0,), None),
    "cox-matthews": (((0, 1), (0, 2), (0, 1, 3)), (0, 1, 2, 3, 4), (0.5, 0.5, 1.0), None),
    # Hochbruck-Ostermann's stage 4 (c = 1) is of stiff order 2.
    "hochbruck-ostermann": (((0, 1), (0, 1, 2), (0, 1, 2, 3), (0, 1, 2, 3, 4)), (0, 1, 4, 5),
                            (0.5, 0.5, 1.0, 0.5), 4),
}

Combine = Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]


def combine_terms(terms: Sequence[Tensor], weights: Sequence[Tensor]) -> Tensor:
    """``sum_i weights[i] * terms[i]`` in torch arithmetic (any dtypes that broadcast)."""
    out = terms[0] * weights[0]
    for t, w in zip(terms[1:], weights[1:]):
        out.addcmul_(t, w)
    return out


class ExponentialRK:
    """An exponential Runge-Kutta scheme for ``v_t = L v + N(v, t)``, L diagonal.

    ``scheme``: ``"etd1"`` (exponential Euler), ``"etdrk2"``, ``"cox-matthews"`` (ETDRK4 of Cox
    & Matthews 2002, Eqs 26-29; order 4 where N is smooth in time, stiff order 2) or
    ``"hochbruck-ostermann"`` (the five-stage method of Hochbruck & Ostermann 2005, stiff
    order 4, with an embedded stiff-order-2 stage for error estimates).
    """

    def __init__(self, scheme: str):
        if scheme not in SCHEMES:
            raise ValueError(f"ExponentialRK: scheme must be one of {tuple(SCHEMES)}, got {scheme!r}")
        self.scheme = scheme
        self.stage_sources, self.final_sources, self.nodes, self.embedded_stage = SCHEMES[scheme]

    @property
    def evaluations_per_step(self) -> int:
        """Evaluations of N per step: one per stage after the first and one of the new state."""
        return len(self.stage_sources) + 1

    def node(self, stage: int) -> float:
        """The time of stage ``stage`` (2, 3, ...) as a fraction of the step."""
        return self.nodes[stage - 2]

    def weights(self, linear: Tensor, dt: float, nonlinear_factor: Tensor | float = 1.0) -> list[list[Tensor]]:
        """The weight lists of one step of size ``dt``: the stages', then the new state's, over
        the terms of ``SCHEMES[scheme]``. ``linear`` is the symbol of L (real or complex,
        float64 or complex128 for accuracy); ``nonlinear_factor`` multiplies every weight of a
        nonlinear term.

        Cox-Matthews: a = e^{z/2} v + Q N1, b = e^{z/2} v + Q N_a, c = e^{z/2} a + Q (2 N_b - N1)
        (written over v: e^z v + (e^{z/2} - 1) Q N1 + 2 Q N_b), Q = dt phi1(z/2) / 2, and
        v+ = e^z v + f1 N1 + 2 f2 (N_a + N_b) + f3 N_c with f1 = dt (phi1 - 3 phi2 + 4 phi3),
        f2 = dt (phi2 - 2 phi3), f3 = dt (4 phi3 - phi2).
        Hochbruck-Ostermann (2005, Eq 5.8; c = 0, 1/2, 1/2, 1, 1/2), phi_ij = phi_i(c_j z):
        a21 = phi_12 / 2; a31 = phi_13 / 2 - phi_23, a32 = phi_23; a41 = phi_1 - 2 phi_2,
        a42 = a43 = phi_2; a52 = a53 = phi_25 / 2 - phi_34 + phi_24 / 4 - phi_35 / 2,
        a54 = phi_25 / 4 - a52, a51 = phi_15 / 2 - 2 a52 - a54; b1 = phi_1 - 3 phi_2 + 4 phi_3,
        b4 = 4 phi_3 - phi_2, b5 = 4 phi_2 - 8 phi_3.
        """
        z = linear * dt
        phi1, phi2, phi3 = phi_functions(z)
        full = torch.exp(z)
        g = nonlinear_factor * dt
        scheme = self.scheme
        if scheme == "etd1":
            return [[full, g * phi1]]
        if scheme == "etdrk2":
            return [[full, g * phi1], [full, g * (phi1 - phi2), g * phi2]]
        half = torch.exp(z / 2)
        p1, p2, p3 = phi_functions(z / 2)
        if scheme == "cox-matthews":
            q = g * p1 / 2
            f1, f2, f3 = g * (phi1 - 3 * phi2 + 4 * phi3), g * (phi2 - 2 * phi3), g * (4 * phi3 - phi2)
            return [[half, q], [half, q], [full, (half - 1) * q, 2 * q], [full, f1, 2 * f2, 2 * f2, f3]]
        a52 = p2 / 2 - phi3 + phi2 / 4 - p3 / 2
        a54 = p2 / 4 - a52
        a41, a42 = phi1 - 2 * phi2, phi2
        b1, b4, b5 = phi1 - 3 * phi2 + 4 * phi3, 4 * phi3 - phi2, 4 * phi2 - 8 * phi3
        return [[half, g * p1 / 2],
                [half, g * (p1 / 2 - p2), g * p2],
                [full, g * a41, g * a42, g * a42],
                [half, g * (p1 / 2 - 2 * a52 - a54), g * a52, g * a52, g * a54],
                [full, g * b1, g * b4, g * b5]]

    def step(self, v_hat: Tensor, n_hat: Tensor, weights: Sequence[Sequence[Tensor]],
             evaluate: Callable[[Tensor, int], Tensor], combine: Combine = combine_terms) -> Tensor:
        """The spectrum of v after one step from ``v_hat`` (whose nonlinear part is ``n_hat``).

        ``evaluate(stage_hat, stage)`` returns N of stage ``stage`` (2, 3, ...; at time
        ``t + node(stage) dt``); ``combine(terms, weights)`` forms ``sum_i w_i T_i``.
        """
        terms = [v_hat, n_hat]
        for stage, (sources, w) in enumerate(zip(self.stage_sources, weights), start=2):
            terms.append(evaluate(combine([terms[j] for j in sources], w), stage))
        return combine([terms[j] for j in self.final_sources], weights[-1])
