"""Rollout of learned right-hand sides (kiyani2022 Eq 13) and of recurrent surrogates (lanzoni2024)."""

from .learned import BlowUpError, receptive_field, rk4_step, rollout, solve_ivp_rollout
from .recurrent import RecurrentRollout, rollout_recurrent, rollout_to_file

__all__ = ["BlowUpError", "RecurrentRollout", "receptive_field", "rk4_step", "rollout", "rollout_recurrent",
           "rollout_to_file", "solve_ivp_rollout"]
