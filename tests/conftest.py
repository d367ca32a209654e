"""Shared fixtures: devices (CUDA when compiled and present), dtypes, tolerances."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import coarsegrain  # noqa: F401  -- registers torch.ops.coarsegrain
from coarsegrain._build_info import cuda_ops_compiled

REQUIRE_CUDA = os.environ.get("COARSEGRAIN_REQUIRE_CUDA", "") == "1"


def cuda_unusable_reason() -> str | None:
    if not cuda_ops_compiled():
        return "coarsegrain was built without CUDA operators"
    if not torch.cuda.is_available():
        return "no CUDA device is available"
    return None


def require_device(device: str) -> None:
    """Skips (or, with COARSEGRAIN_REQUIRE_CUDA=1, fails) a CUDA test that cannot run."""
    if device != "cuda":
        return
    reason = cuda_unusable_reason()
    if reason is None:
        return
    if REQUIRE_CUDA:
        pytest.fail(f"COARSEGRAIN_REQUIRE_CUDA=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(params=["cpu", "cuda"])
def device(request) -> str:
    require_device(request.param)
    return request.param


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    return request.param


def unit_roundoff(dtype) -> float:
    return float(np.finfo(np.float32 if dtype in (torch.float32, np.float32) else np.float64).eps)
