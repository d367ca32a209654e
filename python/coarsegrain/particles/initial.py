r"""Initial particle positions: multi-von Mises mixtures (patel2021 Eqs 22 and 24) and point sources.

A von Mises mixture on the periodic interval ``[0, L)`` (``L = 2π`` in the paper) has, per axis,
the density

.. math:: p(x) = \frac{1}{m}\sum_{i=1}^{m} \frac{\exp(\kappa_i \cos(2\pi x/L - \mu_i))}{L\, I_0(\kappa_i)}

(Eq 22 with ``L = 2π``; the paper's ``2π I_0`` is ``L I_0(κ_i)``). A particle first draws its
component ``i`` uniformly from ``0..m-1``, then its angle from the von Mises law ``VM(μ_i, κ_i)``.
In 2D and 3D every coordinate has its own mixture and draws its own component independently, so
the density is the product of the per-axis densities (Eq 24 "per coordinate").

Choices where the paper is loose (NOTES.md):

* **Components.** Eq 22 writes ``1/10 Σ_{i=1}^{10}`` while the text draws ``i`` from
  ``U[0, 5]`` and speaks of "the five scale and location parameters"; Eq 24 (2D) has five. We use
  ``m = 5`` everywhere (``n_components`` changes it).
* **Ranges.** 1D (§5.2.1): ``κ_i ~ U[5, 10]``, ``μ_i ~ U[0, 2π)``. 2D/3D (§5.2.3):
  ``κ̂_i^x, κ_i^y (, κ_i^z) ~ U[1, 10]``, ``κ_i^x = (1 − β) κ̂_i^x`` with the degree of
  anisotropy ``β`` in [0, 1] (``β = 1``: uniform in x, so the data hold nothing about x-dynamics).
  "x" is the last grid axis (fields are stored z, y, x; particle coordinates follow the grid's
  axis order: ``positions[:, a]`` is the coordinate along grid axis ``a``).
* **Sampler.** Best & Fisher (1979) rejection from a wrapped Cauchy envelope, vectorized and
  drawing only from the given ``torch.Generator`` (in float64 whatever the output dtype);
  ``κ < 1e-12`` is drawn as uniform (the law differs from uniform by less than 1e-12 in density).

The mixture's parameters are drawn with NumPy from a seed (:meth:`VonMisesMixture.draw`), so
they are the same on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

__all__ = ["von_mises", "VonMisesMixture", "PointSource", "wrap"]

_KAPPA_UNIFORM = 1e-12


def wrap(x: torch.Tensor, box: float) -> torch.Tensor:
    """``x`` mod ``box`` in [0, box) (also after rounding: a value that rounds to ``box`` becomes 0)."""
    x = torch.remainder(x, box)
    return x.masked_fill_(x >= box, 0.0)


def von_mises(kappa: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Angles in (-π, π] from the von Mises law of concentration ``kappa`` (a float64 tensor,
    one value per sample, >= 0) about 0: density ``exp(κ cos θ) / (2π I_0(κ))``.

    Best–Fisher: with ``τ = 1 + sqrt(1 + 4κ²)``, ``ρ = (τ − sqrt(2τ)) / (2κ)`` (computed as
    ``2κ / (τ + sqrt(2τ))``, free of cancellation at small κ) and ``r = (1 + ρ²) / (2ρ)``, repeat
    ``z = cos(π u1)``, ``f = (1 + r z)/(r + z)``, ``c = κ (r − f)`` until
    ``c (2 − c) > u2`` or ``log(c / u2) + 1 − c >= 0``; then ``θ = sign(u3 − 1/2) arccos f``.
    """
    if kappa.dtype != torch.float64:
        raise ValueError(f"kappa must be float64, got {kappa.dtype}")
    if bool((kappa < 0).any()) or not bool(torch.isfinite(kappa).all()):
        raise ValueError("kappa must be finite and >= 0")
    device = kappa.device
    n = kappa.numel()
    kappa = kappa.reshape(-1)
    flat = kappa < _KAPPA_UNIFORM
    tau = 1.0 + torch.sqrt(1.0 + 4.0 * kappa * kappa)
    rho = 2.0 * kappa / (tau + torch.sqrt(2.0 * tau))
    r = torch.where(flat, torch.ones_like(rho), (1.0 + rho * rho) / (2.0 * rho.clamp_min(1e-300)))
    todo = torch.arange(n, device=device)
    theta = torch.empty(n, dtype=torch.float64, device=device)
    while todo.numel():
        u = torch.rand((3, todo.numel()), generator=generator, dtype=torch.float64, device=device)
        k, rr = kappa[todo], r[todo]
        z = torch.cos(math.pi * u[0])
        f = (1.0 + rr * z) / (rr + z)
        c = k * (rr - f)
        u2 = u[1].clamp_min(1e-300)
        ok = (c * (2.0 - c) > u2) | (torch.log(c.clamp_min(1e-300) / u2) + 1.0 - c >= 0) | flat[todo]
        sign = torch.where(u[2] < 0.5, -1.0, 1.0)
        ang = sign * torch.arccos(f.clamp(-1.0, 1.0))
        # Flat (κ ≈ 0) samples: a uniform angle from the first uniform.
        ang = torch.where(flat[todo], math.pi * (2.0 * u[0] - 1.0), ang)
        theta[todo[ok]] = ang[ok]
        todo = todo[~ok]
    return theta


@dataclass(frozen=True)
class VonMisesMixture:
    """Per-axis multi-von Mises mixtures on ``[0, box)^d`` (patel2021 Eqs 22, 24).

    ``kappa``, ``mu``: arrays ``[ndim, m]`` (axis ``a`` in grid order; ``mu`` in radians on the
    circle ``2π x / box``).
    """

    kappa: tuple[tuple[float, ...], ...]
    mu: tuple[tuple[float, ...], ...]
    box: float = 2 * math.pi

    def __init__(self, kappa, mu, box: float = 2 * math.pi):
        k = np.atleast_2d(np.asarray(kappa, dtype=np.float64))
        m = np.atleast_2d(np.asarray(mu, dtype=np.float64))
        if k.shape != m.shape or k.ndim != 2 or not 1 <= k.shape[0] <= 3 or k.shape[1] < 1:
            raise ValueError(f"kappa and mu must both be [ndim, components] with ndim 1-3, got {k.shape} and {m.shape}")
        if not (np.isfinite(k).all() and (k >= 0).all()):
            raise ValueError("kappa must be finite and >= 0")
        if not np.isfinite(m).all():
            raise ValueError("mu must be finite")
        box = float(box)
        if not (math.isfinite(box) and box > 0):
            raise ValueError(f"box must be a positive finite number, got {box}")
        object.__setattr__(self, "kappa", tuple(map(tuple, k.tolist())))
        object.__setattr__(self, "mu", tuple(map(tuple, m.tolist())))
        object.__setattr__(self, "box", box)

    @property
    def ndim(self) -> int:
        return len(self.kappa)

    @property
    def n_components(self) -> int:
        return len(self.kappa[0])

    @classmethod
    def draw(cls, rng: np.random.Generator, ndim: int, *, n_components: int = 5,
             kappa_range: Sequence[float] | None = None, anisotropy: float = 0.0,
             box: float = 2 * math.pi) -> "VonMisesMixture":
        """Random parameters as patel2021 draws them: ``μ ~ U[0, 2π)``; ``κ ~ U[5, 10]`` in 1D
        (§5.2.1), ``U[1, 10]`` per axis in 2D/3D (§5.2.3) unless ``kappa_range`` says otherwise;
        then the x (last) axis' ``κ`` times ``1 − anisotropy`` (β of §5.2.3; 2D/3D only)."""
        from .stable import check_ndim

        ndim = check_ndim(ndim)
        if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
            raise ValueError(f"n_components must be a positive int, got {n_components!r}")
        lo, hi = (5.0, 10.0) if kappa_range is None and ndim == 1 else (1.0, 10.0) if kappa_range is None else kappa_range
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
            raise ValueError(f"kappa_range must be 0 <= low <= high, got {kappa_range}")
        beta = float(anisotropy)
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"anisotropy (beta) must be in [0, 1], got {anisotropy!r}")
        if beta != 0.0 and ndim == 1:
            raise ValueError("anisotropy (beta) needs ndim 2 or 3: it scales the x axis' kappa")
        kappa = rng.uniform(lo, hi, size=(ndim, n_components))
        mu = rng.uniform(0.0, 2 * math.pi, size=(ndim, n_components))
        kappa[-1] *= 1.0 - beta
        return cls(kappa, mu, box)

    def sample(self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
               device=None) -> torch.Tensor:
        """``n`` positions ``[n, ndim]`` in ``[0, box)``; per axis in turn: ``n`` component
        indices, then the von Mises angles (float64, rounded to ``dtype`` at the end)."""
        device = torch.device("cpu") if device is None else torch.device(device)
        cols = []
        for kap, mu in zip(self.kappa, self.mu):
            m = len(kap)
            comp = torch.randint(m, (n,), generator=generator, device=device)
            k = torch.tensor(kap, dtype=torch.float64, device=device)[comp]
            loc = torch.tensor(mu, dtype=torch.float64, device=device)[comp]
            theta = von_mises(k, generator=generator) + loc
            cols.append(wrap(theta * (self.box / (2 * math.pi)), self.box))
        x = torch.stack(cols, dim=1).to(dtype) if cols else torch.empty((n, 0), dtype=dtype, device=device)
        return wrap(x, self.box)

    def pdf(self, x: np.ndarray, axis: int = 0) -> np.ndarray:
        """The mixture density of axis ``axis`` at ``x`` (NumPy, float64); integrates to 1 over
        [0, box)."""
        from scipy.special import i0e

        x = np.asarray(x, dtype=np.float64)
        theta = 2 * math.pi * x / self.box
        total = np.zeros_like(theta)
        for k, mu in zip(self.kappa[axis], self.mu[axis]):
            # exp(κ cos(θ−μ)) / I0(κ) = exp(κ (cos(θ−μ) − 1)) / i0e(κ)
            total += np.exp(k * (np.cos(theta - mu) - 1.0)) / i0e(k)
        return total / (len(self.kappa[axis]) * self.box)

    def parameters(self) -> dict:
        return {"kind": "von-mises-mixture", "kappa": [list(k) for k in self.kappa],
                "mu": [list(m) for m in self.mu], "box": self.box}


@dataclass(frozen=True)
class PointSource:
    """Every particle at ``position`` (a point in ``[0, box)^d``): the fundamental solution's
    initial condition, for checks against the (fractional) heat kernel."""

    position: tuple[float, ...]
    box: float = 2 * math.pi

    def __init__(self, position, box: float = 2 * math.pi):
        pos = tuple(float(p) for p in np.atleast_1d(np.asarray(position, dtype=np.float64)))
        if not 1 <= len(pos) <= 3:
            raise ValueError(f"position must have 1 to 3 coordinates, got {len(pos)}")
        box = float(box)
        if not (math.isfinite(box) and box > 0):
            raise ValueError(f"box must be a positive finite number, got {box}")
        if not all(math.isfinite(p) and 0 <= p < box for p in pos):
            raise ValueError(f"position must lie in [0, {box:g}) per axis, got {pos}")
        object.__setattr__(self, "position", pos)
        object.__setattr__(self, "box", box)

    @property
    def ndim(self) -> int:
        return len(self.position)

    def sample(self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
               device=None) -> torch.Tensor:
        del generator  # nothing random
        x = torch.tensor(self.position, dtype=dtype, device=device).expand(n, -1).clone()
        return wrap(x, self.box)

    def parameters(self) -> dict:
        return {"kind": "point", "position": list(self.position), "box": self.box}
