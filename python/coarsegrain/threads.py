"""Threads on a shared machine.

coarsegrain's compiled CPU ops run on their own pool (cpp/src/parallel.cpp), which follows
``torch.get_num_threads()`` per call and falls back to the calling thread when another thread
it waits for has lost its core, so they are never much slower on many threads than on one.
torch's own CPU ops (matmul, FFT, elementwise) run on OpenMP teams that wait at every barrier
for every member: beside one other busy process on a 2-core machine, the demo's learned
right-hand side took 27-86x longer on 2 threads than on one (bench/python/bench_contention.py).
Neither a passive OpenMP wait policy (2x slower idle, still 2x slower than one thread under load)
nor a shorter spin fixes that; using fewer threads does.

:func:`adapt_to_load` turns on a governor that long-running loops (stepping a simulation, training
batches, rollouts) call through :func:`tick`: at most once per ``interval`` seconds it counts the
runnable threads of *other* processes (Linux ``/proc``) and sets ``torch.set_num_threads`` to the
cores they leave free, between 1 and the count it started with. The ``coarsegrain`` command turns
it on (``--threads N`` fixes the count instead); in Python it is off unless asked for.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

__all__ = ["adapt_to_load", "adapt_to_load_enabled", "max_threads", "tick", "busy_threads_elsewhere", "serial"]

_state: dict = {"enabled": False, "max_threads": None, "interval": 1.0, "next": 0.0, "cores": 1}


def _running_threads_of_this_process() -> int:
    count = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            # The state follows the parenthesized command name, which may itself hold spaces.
            if stat.read_text().rpartition(")")[2].split()[0] == "R":
                count += 1
        except (OSError, IndexError):
            pass
    return count


def busy_threads_elsewhere(samples: int = 3, gap: float = 0.0005) -> int | None:
    """Runnable threads of other processes right now (median of ``samples`` looks ``gap`` seconds
    apart: ~1 ms of the calling loop's time), or None where ``/proc/loadavg`` does not exist."""
    counts = []
    for i in range(samples):
        try:
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return None
        counts.append(max(0, running - _running_threads_of_this_process()))
        if i + 1 < samples:
            time.sleep(gap)
    return int(statistics.median(counts))


def adapt_to_load(enabled: bool = True, *, max_threads: int | None = None, interval: float = 1.0) -> None:
    """Turns the governor on (or off, restoring the thread count it started from).

    ``max_threads`` caps the count (default: ``torch.get_num_threads()`` now); ``interval`` is the
    least time between two looks at the machine, in seconds.
    """
    if enabled:
        cap = torch.get_num_threads() if max_threads is None else int(max_threads)
        if cap < 1:
            raise ValueError(f"adapt_to_load: max_threads must be >= 1, got {max_threads}")
        if not interval > 0:
            raise ValueError(f"adapt_to_load: interval must be > 0 seconds, got {interval}")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        _state.update(enabled=True, max_threads=cap, interval=float(interval), next=0.0, cores=cores)
        tick()
    else:
        if _state["enabled"] and _state["max_threads"]:
            torch.set_num_threads(_state["max_threads"])
        _state.update(enabled=False, max_threads=None)


def adapt_to_load_enabled() -> bool:
    """Whether the governor is on."""
    return bool(_state["enabled"])


def max_threads() -> int:
    """The governor's cap (torch's current count when it is off)."""
    return _state["max_threads"] if _state["enabled"] else torch.get_num_threads()


def tick() -> None:
    """Called from long loops: when the governor is on and its interval has passed, sets torch's
    thread count to the cores other processes leave free. Costs ~50 ns otherwise."""
    if not _state["enabled"]:
        return
    now = time.monotonic()
    if now < _state["next"]:
        return
    _state["next"] = now + _state["interval"]
    busy = busy_threads_elsewhere()
    if busy is None:
        return
    wanted = max(1, min(_state["max_threads"], _state["cores"] - busy))
    if wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)


@contextmanager
def serial() -> Iterator[None]:
    """One torch thread inside the block, the previous count restored after it: for work whose ops are
    too small to gain from threads (a few thousand numbers each), which only loses to them when another
    process holds a core (a noise-free symbol fit of patel2021: 14 s on 2 threads, 5.8 s on one, beside
    one busy process; the same idle)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
