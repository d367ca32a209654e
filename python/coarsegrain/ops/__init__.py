"""Typed, differentiable wrappers of the ``torch.ops.coarsegrain`` operators."""

from .binning import bin_particles
from .finite_volume import restrict_average, stencil_filter, weno5_flux, weno5_reconstruct
from .lattice import lattice_diffusion_rate
from .phase_field import allen_cahn_explicit, cahn_hilliard_explicit, explicit_stability_limit
from .pointwise import irfftn, irfftn_for, polynomial, real_fft_pack, spectral_combine, take_along_last
from .pointwise_mlp import flatten_layers, pointwise_mlp
from .stencil import (
    divergence,
    divergence_adjoint,
    face_gradient,
    gradient,
    gradient_adjoint,
    laplacian,
    normalize_spacing,
    stencil_neighbours,
)
from .tridiagonal import heterogeneous_diffusion_step, tridiagonal_solve

__all__ = [
    "allen_cahn_explicit",
    "bin_particles",
    "cahn_hilliard_explicit",
    "explicit_stability_limit",
    "flatten_layers",
    "divergence",
    "divergence_adjoint",
    "face_gradient",
    "gradient",
    "gradient_adjoint",
    "heterogeneous_diffusion_step",
    "laplacian",
    "lattice_diffusion_rate",
    "normalize_spacing",
    "irfftn",
    "pointwise_mlp",
    "polynomial",
    "real_fft_pack",
    "irfftn_for",
    "restrict_average",
    "spectral_combine",
    "stencil_filter",
    "stencil_neighbours",
    "take_along_last",
    "tridiagonal_solve",
    "weno5_flux",
    "weno5_reconstruct",
]
