"""What this installation of coarsegrain was built with and can run on."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from . import _core

_NAMESPACE = "coarsegrain::"


def registered_ops() -> list[str]:
    """Names of the operators registered under ``torch.ops.coarsegrain``."""
    names = torch._C._dispatch_get_all_op_names()
    return sorted(n[len(_NAMESPACE):] for n in names if n.startswith(_NAMESPACE))


def cuda_ops_compiled() -> bool:
    """True when the CUDA implementations of the operators are compiled into this build."""
    return torch._C._dispatch_has_kernel_for_dispatch_key(_NAMESPACE + "laplacian", "CUDA")


def build_info() -> dict[str, Any]:
    """Package, torch, compiler and CUDA versions, threads and capabilities of this build.

    The ``cuda_ops_compiled`` entry is read from the dispatcher, so it says what is really
    registered; ``cuda_available`` says whether a GPU can be used right now.
    """
    cfg = _core.build_config()
    archs = [a for a in cfg["cuda_architectures"].split(",") if a]
    cuda_available = cuda_ops_compiled() and torch.cuda.is_available()
    return {
        "coarsegrain": cfg["version"],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_built_against": cfg["torch_built_against"],
        "torch_cuda": torch.version.cuda,
        "build_type": cfg["build_type"],
        "cxx_compiler": cfg["cxx_compiler"],
        "cxx_flags": cfg["cxx_flags"],
        "cpu_kernels_compiled": cfg["cpu_isas"].split(","),
        "cpu_kernels_active": _core.active_cpu_isa(),
        "threading": cfg["threading"],
        "kernel_threads": torch.get_num_threads(),
        "nvcc": cfg["nvcc"] or None,
        "cuda_kernels_compiled": cfg["cuda_kernels_compiled"],
        "cuda_ops_compiled": cuda_ops_compiled(),
        "cuda_architectures": archs,
        "cuda_gate": cfg["cuda_gate"],
        "cuda_available": cuda_available,
        "cuda_devices": (
            [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if cuda_available
            else []
        ),
        "float_types": ["float32", "float64"],
        "ops": registered_ops(),
    }
