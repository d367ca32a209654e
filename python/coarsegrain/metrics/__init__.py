"""Field metrics (kiyani2022 Eqs 9-11, arbabi2020 Eq 24)."""

from .fields import mae, mse, r2, relative_mse, rmse

__all__ = ["mae", "mse", "r2", "relative_mse", "rmse"]
