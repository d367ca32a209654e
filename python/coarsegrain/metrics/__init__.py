"""Field metrics (kiyani2022 Eqs 9-11, arbabi2020 Eq 24) and phase-field physics metrics (lanzoni2024)."""

from .fields import mae, mse, r2, relative_mse, rmse
from .physics import (
    coarsening_exponent,
    compare_trajectories,
    free_energy_density,
    interface_displacement,
    mass_drift,
)

__all__ = ["coarsening_exponent", "compare_trajectories", "free_energy_density", "interface_displacement", "mae",
           "mass_drift", "mse", "r2", "relative_mse", "rmse"]
