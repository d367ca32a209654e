"""One call that makes a run's random numbers repeatable."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> int:
    """Seeds Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Call it before building a model: weights are drawn when a module is constructed, so a seed
    set afterwards (e.g. by :class:`Trainer`) no longer decides them. On CPU two runs with the
    same seed then give bit-identical weights, losses and metrics (with the same number of
    threads); CUDA kernels may still differ in the last bits. Returns ``seed``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seed takes 32 bits only
    torch.manual_seed(seed)
    return seed
