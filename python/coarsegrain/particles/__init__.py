"""Particle simulators for coarse-graining (patel2021 §5): Brownian motion and Lévy flights in a
periodic box, multi-von Mises initial positions, and densities binned with
:func:`coarsegrain.ops.bin_particles`.

* :mod:`.stable` — stable samplers (Chambers–Mallows–Stuck) and isotropic / per-axis flight steps;
* :mod:`.initial` — von Mises mixtures (Eqs 22, 24, the anisotropy β of §5.2.3) and point sources;
* :mod:`.simulate` — :class:`LevyFlight` and the chunked, memory-bounded :func:`simulate_density`;
* :mod:`.ensemble` — :class:`ParticleSpec` and the HDF5 ensembles behind the ``patel-*`` presets;
* :mod:`.moments` — per-cell number, mass and momentum densities, mean velocity and temperature.
"""

from .ensemble import ParticleSpec, simulate_particles, trajectory_mixture
from .initial import PointSource, VonMisesMixture, von_mises, wrap
from .moments import CoarseMoments, coarse_moments
from .simulate import (
    DENSITY_NORMALIZATION,
    LevyFlight,
    block_generator,
    normalize_counts,
    simulate_density,
    stream_seed,
)
from .stable import positive_stable, stable_increments, symbol, symmetric_stable

__all__ = ["CoarseMoments", "coarse_moments", "DENSITY_NORMALIZATION", "LevyFlight", "ParticleSpec", "PointSource", "VonMisesMixture",
           "block_generator", "normalize_counts", "positive_stable", "simulate_density", "simulate_particles",
           "stable_increments", "stream_seed", "symbol", "symmetric_stable", "trajectory_mixture", "von_mises",
           "wrap"]
