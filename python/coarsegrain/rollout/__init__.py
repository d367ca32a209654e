"""Rollout of learned right-hand sides (kiyani2022 Eq 13)."""

from .learned import BlowUpError, receptive_field, rollout, solve_ivp_rollout

__all__ = ["BlowUpError", "receptive_field", "rollout", "solve_ivp_rollout"]
