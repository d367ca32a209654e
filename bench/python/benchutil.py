"""Shared helpers for the Python benchmarks: timing, machine description, JSON results.

Allocation matters on CPU: torch's CPU allocator returns large blocks to the OS, so every
fresh 64 MB tensor pays ~20 ms of page faults on the 2-core development VM (more than a
256^3 Laplacian); THP_MEM_ALLOC_ENABLE=1 (huge pages) trades that for a different cost.
The benchmarks therefore time both the allocating op and its `out=` form, and record the
setting in the JSON.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import torch

import coarsegrain
from coarsegrain._atomic import write_json_atomic
from coarsegrain.timing import time_call

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def median_time(fn: Callable[[], Any], reps: int, device: str = "cpu", warmup: int = 2) -> float:
    """Median wall time of fn() in seconds (CUDA work synchronized)."""
    return time_call(fn, reps, device, warmup)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device: str) -> dict[str, Any]:
    info = {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "device": device,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def write_results(name: str, device: str, payload: dict[str, Any]) -> Path:
    """Writes bench/results/<name>_<device>.json atomically, with machine and build info."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(device),
        "build": coarsegrain.build_info(),
        **payload,
    }
    return write_json_atomic(RESULTS_DIR / f"{name}_{device}.json", doc)
