r"""Lévy flights and Brownian particles in a periodic box, binned into densities (patel2021 §5).

Particles move by ``X(t + dt) = X(t) + dX`` (Eq 19, the Euler–Maruyama step, which is exact in law
for a Lévy process) with the stable increments of :mod:`coarsegrain.particles.stable`, and are
wrapped into ``[0, L)^d``. Their density obeys, in expectation and at every saved time exactly
(up to the cell averaging of the bins),

* isotropic: ``u_t = −(−Δ)^(α/2) u`` (symbol ``|k|^α``; ``α = 2``: ``u_t = Δu``, Eq 20),
* per axis: ``u_t = −Σ_i (−∂_i²)^(α/2) u`` (symbol ``Σ_i |k_i|^α``),

on the periodic box, wavenumbers ``k ∈ (2π/L) Z^d``.

Density normalization
---------------------
``u = counts · n_bins / N`` (:data:`DENSITY_NORMALIZATION`): the number density relative to its
mean, so the mean of ``u`` over the grid is 1 and ``∫ u dx = L^d``; a ``δ`` at one bin is
``n_bins`` there — the normalization of patel2021 Eq 26 (``4096 Π⁻¹ exp(−|κ|^1.5 t)`` on 64²).
``counts / (N · cell volume)`` (a probability density) is ``u / L^d``.

Memory and seeding
------------------
:func:`simulate_density` never holds more than ``chunk_size`` particles: it advances one chunk
through all steps, bins every saved step with :func:`coarsegrain.ops.bin_particles` and adds the
counts to a float64 accumulator ``[n_frames, *bins]``, then starts the next chunk. Random numbers
come in streams of ``rng_block`` particles: block ``b`` (particles ``b·rng_block`` to
``(b+1)·rng_block − 1``) has its own ``torch.Generator`` seeded from ``(seed, b)`` (NumPy
``SeedSequence``), which draws its initial positions and then its increments step after step.
The result therefore does not depend on ``chunk_size`` (rounded down to a multiple of
``rng_block``), nor on the thread count (torch's CPU generator is sequential, NGP counts are
integers summed exactly, and the CPU binning kernel sums CIC weights in a fixed order; both are
tested); it does depend on ``seed``, ``rng_block``, the dtype and the device (CPU and CUDA
generators are different streams).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .initial import wrap
from .stable import _check_dt, check_alpha, check_ndim, stable_increments, symbol

__all__ = ["LevyFlight", "simulate_density", "stream_seed", "block_generator", "DENSITY_NORMALIZATION",
           "normalize_counts"]

DENSITY_NORMALIZATION = "u = counts * n_bins / n_particles (grid mean of u = 1, integral of u = box^ndim)"


@dataclass(frozen=True)
class LevyFlight:
    """The process of Eq 19 in ``[0, box)^ndim``: stable increments of index ``alpha`` and
    scale ``dt^(1/alpha)`` (``alpha = 2``: Brownian motion with D = 1), isotropic or independent
    per axis (the same law in 1D and at ``alpha = 2``)."""

    alpha: float = 2.0
    ndim: int = 1
    isotropic: bool = True
    box: float = 2 * math.pi

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        check_ndim(self.ndim)
        if not isinstance(self.isotropic, bool):
            raise ValueError(f"isotropic must be True or False, got {self.isotropic!r}")
        box = float(self.box) if isinstance(self.box, (int, float)) else float("nan")
        if not (math.isfinite(box) and box > 0):
            raise ValueError(f"box must be a positive finite number, got {self.box!r}")
        object.__setattr__(self, "box", box)

    def increments(self, n: int, dt: float, *, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
        """``[n, ndim]`` steps of length ``dt`` (unwrapped)."""
        return stable_increments(n, self.ndim, self.alpha, dt, isotropic=self.isotropic, generator=generator,
                                 dtype=dtype, device=device)

    def symbol(self, k) -> torch.Tensor:
        """``ψ(k)`` with ``u_t = −ψ(−i∇) u``: ``|k|^alpha`` or ``Σ_i |k_i|^alpha``."""
        return symbol(k, self.alpha, isotropic=self.isotropic)

    @property
    def equation(self) -> str:
        if self.alpha == 2.0:
            return "u_t = Laplacian(u)"
        if self.ndim == 1 or self.isotropic:
            return f"u_t = -(-Laplacian)^({self.alpha:g}/2) u  (symbol |k|^{self.alpha:g})"
        return f"u_t = -sum_i (-d_i^2)^({self.alpha:g}/2) u  (symbol sum_i |k_i|^{self.alpha:g})"

    def parameters(self) -> dict:
        return {"alpha": self.alpha, "ndim": self.ndim, "isotropic": self.isotropic, "box": self.box,
                "increment_scale": "dt^(1/alpha)", "equation": self.equation}


def stream_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for the stream ``key`` of ``seed`` (NumPy SeedSequence spawn keys)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    words = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)).generate_state(2, np.uint32)
    return int(words[0]) | (int(words[1]) & 0x7FFFFFFF) << 32


def block_generator(seed: int, block: int, device) -> torch.Generator:
    """The generator of particle block ``block`` (stream key ``(1, block)``)."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(stream_seed(seed, 1, block))
    return g


def normalize_counts(counts: torch.Tensor, n_particles: int, ndim: int) -> torch.Tensor:
    """``counts · n_bins / n_particles`` (:data:`DENSITY_NORMALIZATION`) for histograms
    ``[..., *bins]`` of ``n_particles`` particles each, ``n_bins`` the product of the last
    ``ndim`` axes."""
    return counts * (math.prod(counts.shape[counts.dim() - ndim:]) / n_particles)


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def simulate_density(process: LevyFlight, initial, n_particles: int, *, bins: Sequence[int], dt: float,
                     n_steps: int, save_every: int = 1, seed: int = 0, chunk_size: int = 2**18,
                     rng_block: int = 2**16, dtype: torch.dtype = torch.float64, device="cpu",
                     assignment: str = "ngp", progress: Callable[[int], None] | None = None) -> torch.Tensor:
    """The binned density ``u [n_frames, *bins]`` (float64, on ``device``) of ``n_particles``
    particles started from ``initial`` (an object with ``ndim``, ``box`` and
    ``sample(n, generator=, dtype=, device=)``, e.g. :class:`~coarsegrain.particles.VonMisesMixture`)
    and moved by ``process`` for ``n_steps`` steps of ``dt``; frame ``j`` is time
    ``j · save_every · dt`` (frame 0 the initial positions).

    ``u = counts · n_bins / n_particles`` (:data:`DENSITY_NORMALIZATION`); the binning is
    :func:`coarsegrain.ops.bin_particles` with ``assignment`` ("ngp" or "cic"), box ``[0, L)^d``,
    output axis ``a`` ↔ ``positions[:, a]`` ↔ grid axis ``a``. ``progress(k)`` is called with the
    number of particle-steps done since its last call.
    """
    from .. import ops

    if not isinstance(process, LevyFlight):
        raise ValueError(f"process must be a LevyFlight, got {type(process).__name__}")
    n_particles = _positive_int("n_particles", n_particles)
    dt = _check_dt(dt)
    n_steps = _positive_int("n_steps", n_steps, 0)
    save_every = _positive_int("save_every", save_every)
    if n_steps % save_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every})")
    chunk_size = _positive_int("chunk_size", chunk_size)
    rng_block = _positive_int("rng_block", rng_block)
    bins = tuple(_positive_int("bins", b) for b in (bins if isinstance(bins, (list, tuple)) else [bins]))
    d = process.ndim
    if len(bins) != d:
        raise ValueError(f"bins must have {d} entries (one per axis of the {d}D process), got {len(bins)}")
    if getattr(initial, "ndim", None) != d:
        raise ValueError(f"initial has ndim {getattr(initial, 'ndim', None)} but the process has ndim {d}")
    if getattr(initial, "box", None) != process.box:
        raise ValueError(f"initial's box ({getattr(initial, 'box', None)}) differs from the process' box ({process.box})")
    if assignment not in ("ngp", "cic"):
        raise ValueError(f"assignment must be 'ngp' or 'cic', got {assignment!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.device(device)
    stream_seed(seed)  # validates the seed

    from .. import threads

    box, n_frames = process.box, n_steps // save_every + 1
    blocks_per_chunk = max(1, chunk_size // rng_block)
    n_blocks = -(-n_particles // rng_block)
    acc = torch.zeros((n_frames, *bins), dtype=torch.float64, device=device)
    bin_kw = dict(bins=list(bins), box=[box] * d, assignment=assignment, periodic=True)
    with torch.no_grad():
        for first in range(0, n_blocks, blocks_per_chunk):
            blocks = range(first, min(first + blocks_per_chunk, n_blocks))
            sizes = [min(rng_block, n_particles - b * rng_block) for b in blocks]
            gens = [block_generator(seed, b, device) for b in blocks]
            x = torch.cat([initial.sample(m, generator=g, dtype=dtype, device=device) for m, g in zip(sizes, gens)])
            acc[0] += ops.bin_particles(x, **bin_kw).to(torch.float64)
            for step in range(1, n_steps + 1):
                threads.tick()
                dx = torch.cat([process.increments(m, dt, generator=g, dtype=dtype, device=device)
                                for m, g in zip(sizes, gens)])
                x = wrap(x.add_(dx), box)
                if step % save_every == 0:
                    acc[step // save_every] += ops.bin_particles(x, **bin_kw).to(torch.float64)
                if progress is not None:
                    progress(x.shape[0])
    return normalize_counts(acc, n_particles, d)
