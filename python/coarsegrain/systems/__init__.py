"""Fine-scale and reference PDE systems and their steppers."""

from . import conservation1d
from .energy import PolynomialEnergy, double_well, lanzoni, quartic
from .phase_field import (
    AllenCahn,
    CahnHilliard,
    PhaseFieldCrystal,
    PhaseFieldModel,
    model_from_parameters,
)
from .steppers import (
    AdaptiveExponentialSpectral,
    ExplicitEuler,
    ExponentialSpectral,
    SemiImplicitSpectral,
    make_stepper,
)

__all__ = [
    "AllenCahn",
    "conservation1d",
    "CahnHilliard",
    "ExplicitEuler",
    "ExponentialSpectral",
    "AdaptiveExponentialSpectral",
    "PhaseFieldCrystal",
    "PhaseFieldModel",
    "PolynomialEnergy",
    "SemiImplicitSpectral",
    "double_well",
    "lanzoni",
    "make_stepper",
    "model_from_parameters",
    "quartic",
]
