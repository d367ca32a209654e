"""Datasets: the HDF5 format, ensemble generation and presets."""

from .dataset import DatasetError, DatasetWriter, load, read_info
from .generate import SimulationSpec, simulate
from .presets import PRESETS, get_preset

__all__ = ["DatasetError", "DatasetWriter", "PRESETS", "SimulationSpec", "get_preset", "load",
           "read_info", "simulate"]
