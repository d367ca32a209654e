"""coarsegrain: learn coarse-grained PDE dynamics from fine-scale simulation data.

Two compiled modules back the package:

* ``coarsegrain._core`` -- the CPU kernels over NumPy arrays (pybind11, no torch);
* ``coarsegrain._C`` -- the ``torch.ops.coarsegrain.*`` operators (CPU and, when built, CUDA).

The typed, differentiable Python entry points live in :mod:`coarsegrain.ops`.
"""

from __future__ import annotations

import torch  # noqa: F401  -- must be loaded before _C, which links against libtorch

from . import (
    _C,  # noqa: F401  -- registers torch.ops.coarsegrain
    _core,
    ops,
)
from ._build_info import build_info
from .grid import Grid

__version__: str = _core.build_config()["version"]

__all__ = ["Grid", "build_info", "ops", "__version__"]
