"""Wall-clock timing of a call, with CUDA work synchronized: for demos and benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch


def time_call(
    fn: Callable[[], Any], reps: int = 10, device: str = "cpu", warmup: int = 2, reduce: str = "median"
) -> float:
    """Seconds per call of ``fn()``: the median (or ``reduce="min"``) over ``reps`` runs."""
    if reps < 1:
        raise ValueError(f"time_call: reps must be >= 1, got {reps}")
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    if reduce == "median":
        return statistics.median(times)
    if reduce == "min":
        return min(times)
    raise ValueError(f"time_call: reduce must be 'median' or 'min', got {reduce!r}")
