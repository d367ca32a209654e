"""Typed, differentiable wrappers of the ``torch.ops.coarsegrain`` operators."""

from .stencil import (
    divergence,
    divergence_adjoint,
    face_gradient,
    gradient,
    gradient_adjoint,
    laplacian,
    normalize_spacing,
)

__all__ = [
    "divergence",
    "divergence_adjoint",
    "face_gradient",
    "gradient",
    "gradient_adjoint",
    "laplacian",
    "normalize_spacing",
]
