"""Equation-free multiscale computation (arbabi2020 §3): patches of a micro-solver coupled into a
macro-scale simulation, restriction and lifting between the scales, projective integration, and
the homogenization references they are checked against.

Submodules: ``patches`` (1D patch geometry, restriction, lifting), ``patch_dynamics`` (patch
dynamics with buffers and projective integration, gap-tooth), ``coupling`` (interpolation of
patch-edge values across patches), ``patch_scheme`` (the interpolation-coupled patch scheme in 1D
and 2D and its macroscale Jacobian), ``homogenization`` (effective coefficients from the cell
problem, the homogenized 1D reference solution), ``datasets`` (the arbabi2020 datasets: patch
dynamics in 1D, the gap-tooth scheme in 2D). The names below are the ones most scripts need.
"""

from .coupling import couple_patches_1d, couple_patches_2d, interpolate_shift
from .datasets import GapToothSpec, PatchDynamicsSpec, simulate_gap_tooth, simulate_patch_dynamics
from .homogenization import (
    effective_diffusion_tensor,
    harmonic_mean_continuum,
    harmonic_mean_lattice,
    solve_homogenized_1d,
)
from .patch_dynamics import (
    GapTooth,
    HeterogeneousDiffusionMicroStep,
    PatchDynamics,
    PatchTrajectory,
    oscillating_diffusivity,
    random_sine_series,
)
from .patch_scheme import PatchScheme1D, PatchScheme2D
from .patches import PatchGeometry

__all__ = [
    "PatchGeometry", "PatchDynamics", "PatchTrajectory", "GapTooth", "HeterogeneousDiffusionMicroStep",
    "oscillating_diffusivity", "random_sine_series", "couple_patches_1d", "couple_patches_2d", "interpolate_shift",
    "PatchScheme1D", "PatchScheme2D", "effective_diffusion_tensor", "harmonic_mean_continuum", "harmonic_mean_lattice",
    "solve_homogenized_1d", "PatchDynamicsSpec", "GapToothSpec", "simulate_patch_dynamics", "simulate_gap_tooth",
]
