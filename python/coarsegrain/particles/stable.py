r"""Stable random variables and the increments of isotropic and per-axis Lévy flights (patel2021 §5).

Conventions
-----------
``S(alpha, beta=0, scale=c)`` is the symmetric stable law with characteristic function

.. math:: \mathbb{E}\, e^{ikX} = e^{-|c k|^\alpha}, \qquad 0 < \alpha \le 2,

which is scipy's ``levy_stable(alpha, 0, scale=c)`` (for ``beta = 0`` its S0 and S1
parametrizations agree). ``alpha = 2`` is the Gaussian of variance ``2 c^2``, ``alpha = 1`` the
Cauchy law of scale ``c``.

patel2021 Eq 19 takes increments ``Z(t + dt) - Z(t) ~ S(alpha, 0, dt^(1/alpha))``, so per step
``E exp(i k dX) = exp(-dt |k|^alpha)``: the process's characteristic exponent is ``|k|^alpha``
with coefficient exactly 1, and the density obeys (Fourier transform in x)

.. math:: \partial_t \hat u = -|k|^\alpha \hat u, \quad\text{i.e.}\quad
          \partial_t u = -(-\Delta)^{\alpha/2} u,

which for ``alpha = 2`` is Eq 20, ``u_t = Δu`` (variance ``2 dt`` per axis and step: D = 1).

Samplers (all written with torch, drawing only from the ``generator`` passed in):

* :func:`symmetric_stable` — Chambers–Mallows–Stuck with ``beta = 0``:
  ``X = sin(αV) / cos(V)^(1/α) · (cos((1 − α)V) / W)^((1 − α)/α)``, ``V ~ U(−π/2, π/2)``,
  ``W ~ Exp(1)``; continuous through ``alpha = 1`` (where it is ``tan V``). ``alpha = 2`` is drawn
  as ``sqrt(2)·N(0, 1)`` directly.
* :func:`positive_stable` — the totally skewed (``beta = 1``) stable law of index ``a`` in (0, 1]
  normalized by its Laplace transform ``E exp(−sA) = exp(−s^a)``. It is CMS with ``beta = 1``
  (``B = π/2``) times ``cos(πa/2)^(1/a)``, which removes the S1 scale factor
  ``(1 + tan²(πa/2))^(1/(2a)) = cos(πa/2)^(−1/a)`` that blows up as ``a → 1``; with ``U = V + π/2``
  it reads ``A = sin(aU) / sin(U)^(1/a) · (sin((1 − a)U) / W)^((1 − a)/a)`` (Kanter's form), which
  tends to the degenerate ``A = 1`` as ``a → 1`` and is exactly 1 at ``a = 1``.
* :func:`stable_increments` — Lévy-flight steps in ``ndim`` = 1, 2, 3 dimensions:

  - ``isotropic=True`` (sub-Gaussian construction): ``X = dt^(1/α) · sqrt(2A) · G`` with ``A``
    from :func:`positive_stable` of index ``α/2`` and ``G ~ N(0, I_d)``. Then
    ``E exp(ik·X) = E exp(−A dt^(2/α) |k|²) = exp(−(dt^(2/α)|k|²)^(α/2)) = exp(−dt |k|^α)``.
    The mixing variable ``2 dt^(2/α) A`` has Laplace transform ``exp(−2^(α/2) dt s^(α/2))``; at
    ``α = 2`` it is the constant ``2 dt`` (the Gaussian of variance 2 dt per axis).
    Continuum equation: ``u_t = −(−Δ)^(α/2) u`` (symbol ``|k|^α``).
  - ``isotropic=False`` (independent axes): ``X_i = dt^(1/α) S_i`` with ``S_i ~ S(α, 0, 1)``
    independent, so ``E exp(ik·X) = exp(−dt Σ_i |k_i|^α)``. Continuum equation:
    ``u_t = −Σ_i (−∂_i²)^(α/2) u`` (symbol ``Σ_i |k_i|^α``; anisotropic unless ``α = 2``).

  In 1D both are the same law (drawn with :func:`symmetric_stable`).

Edge cases: the uniforms are kept off the ends of their interval (``u >= eps/4``), and the few
values a float cannot hold (``|X|`` beyond the dtype's largest finite number, which happens for
small ``alpha`` in float32) are clamped to it, so every sample is finite. Each step of a flight is
exact in law (there is no time-discretization error in the Euler–Maruyama step of Eq 19).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["check_alpha", "check_ndim", "symmetric_stable", "positive_stable", "stable_increments", "symbol"]


def check_alpha(alpha) -> float:
    """``alpha`` as a float in (0, 2], or a one-line ValueError naming it."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 2], got {alpha!r}") from None
    if not (math.isfinite(a) and 0.0 < a <= 2.0):
        raise ValueError(f"alpha must be in (0, 2], got {alpha!r}")
    return a


def check_ndim(ndim) -> int:
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    return ndim


def _check_dt(dt) -> float:
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}")
    return value


def _check_dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype


def _shape(shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int) else tuple(int(n) for n in shape)


def _uniform(shape, generator, dtype, device) -> torch.Tensor:
    """U(0, 1) kept off 0 (values below eps/4 are raised to it; torch.rand never returns 1)."""
    u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    return u.clamp_min_(torch.finfo(dtype).eps / 4)


def _exponential(shape, generator, dtype, device) -> torch.Tensor:
    """Exp(1) as -log(1 - u), kept off 0."""
    u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    return torch.log1p(-u).neg_().clamp_min_(torch.finfo(dtype).tiny)


def _finite(x: torch.Tensor) -> torch.Tensor:
    big = torch.finfo(x.dtype).max
    return torch.nan_to_num_(x, nan=0.0, posinf=big, neginf=-big)


def symmetric_stable(shape: int | Sequence[int], alpha: float, *, scale: float = 1.0,
                     generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
                     device=None) -> torch.Tensor:
    """Samples of ``S(alpha, 0, scale)``: ``E exp(ikX) = exp(-|scale k|^alpha)``.

    Chambers–Mallows–Stuck (two uniforms-worth of draws per sample: the angle, then the
    exponential); ``alpha = 2`` draws ``scale·sqrt(2)·N(0, 1)`` (one normal per sample).
    Same ``generator`` state → same bits.
    """
    a = check_alpha(alpha)
    dtype = _check_dtype(dtype)
    shape = _shape(shape)
    if a == 2.0:
        return torch.randn(shape, generator=generator, dtype=dtype, device=device).mul_(math.sqrt(2.0) * scale)
    tiny = torch.finfo(dtype).tiny
    v = _uniform(shape, generator, dtype, device).sub_(0.5).mul_(math.pi)  # (-π/2, π/2)
    w = _exponential(shape, generator, dtype, device)
    log_cos_v = torch.cos(v).clamp_min_(tiny).log_()
    log_cos_rest = torch.cos((1.0 - a) * v).clamp_min_(tiny).log_()
    expo = log_cos_v.mul_(-1.0 / a).add_((log_cos_rest - w.log_()).mul_((1.0 - a) / a))
    x = torch.sin(a * v).mul_(expo.exp_())
    return _finite(x.mul_(scale))


def positive_stable(shape: int | Sequence[int], alpha: float, *, generator: torch.Generator | None = None,
                    dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """Samples of the positive stable law of index ``alpha`` in (0, 1] with
    ``E exp(-s A) = exp(-s^alpha)`` (s >= 0); ``alpha = 1`` gives ``A = 1``.

    In scipy's terms this is ``levy_stable(alpha, 1, scale=cos(pi alpha / 2)^(1/alpha))`` (S1)
    for ``alpha < 1``.
    """
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not (math.isfinite(a) and 0.0 < a <= 1.0):
        raise ValueError(f"alpha must be in (0, 1] for the positive stable law, got {alpha!r}")
    dtype = _check_dtype(dtype)
    shape = _shape(shape)
    if a == 1.0:
        return torch.ones(shape, dtype=dtype, device=device)
    tiny = torch.finfo(dtype).tiny
    u = _uniform(shape, generator, dtype, device).mul_(math.pi)  # U in (0, π)
    w = _exponential(shape, generator, dtype, device)
    log_a = torch.sin(a * u).clamp_min_(tiny).log_()
    log_a -= torch.sin(u).clamp_min_(tiny).log_().mul_(1.0 / a)
    log_a += (torch.sin((1.0 - a) * u).clamp_min_(tiny).log_() - w.log_()).mul_((1.0 - a) / a)
    return _finite(log_a.exp_())


def stable_increments(n: int, ndim: int, alpha: float, dt: float, *, isotropic: bool = True,
                      generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
                      device=None) -> torch.Tensor:
    """``n`` Lévy-flight steps of length ``dt`` in ``ndim`` dimensions, shape ``[n, ndim]``.

    ``E exp(i k·X) = exp(-dt |k|^alpha)`` (``isotropic=True``) or ``exp(-dt Σ_i |k_i|^alpha)``
    (``isotropic=False``); see the module docstring for the construction and the continuum
    equation. ``alpha = 2`` is Brownian motion with D = 1 (variance ``2 dt`` per axis) either way.
    """
    a = check_alpha(alpha)
    ndim = check_ndim(ndim)
    dt = _check_dt(dt)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    dtype = _check_dtype(dtype)
    step = dt ** (1.0 / a)
    if a == 2.0 or ndim == 1 or not isotropic:
        return symmetric_stable((n, ndim), a, scale=step, generator=generator, dtype=dtype, device=device)
    mix = positive_stable((n, 1), a / 2.0, generator=generator, dtype=dtype, device=device)
    g = torch.randn((n, ndim), generator=generator, dtype=dtype, device=device)
    return _finite(g.mul_(mix.mul_(2.0).sqrt_()).mul_(step))


def symbol(k: Sequence[torch.Tensor] | torch.Tensor, alpha: float, *, isotropic: bool = True) -> torch.Tensor:
    """The characteristic exponent ψ(k) of the flight (``E exp(ik·X_t) = exp(-t ψ(k))``), the
    symbol of the continuum operator ``u_t = -ψ(-i∇) u``: ``|k|^alpha`` (isotropic) or
    ``Σ_i |k_i|^alpha`` (per axis). ``k``: one tensor per axis (broadcastable) or a single tensor
    for 1D."""
    a = check_alpha(alpha)
    ks = [k] if isinstance(k, torch.Tensor) else list(k)
    if isotropic or len(ks) == 1:
        return sum(kk * kk for kk in ks) ** (a / 2.0)
    return sum(kk.abs() ** a for kk in ks)
