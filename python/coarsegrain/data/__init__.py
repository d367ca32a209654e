"""Datasets: the HDF5 format, ensemble generation and presets."""

from .augment import AugmentedSequences, GridSymmetry, apply_symmetry, downscale, grid_symmetries
from .dataset import DatasetError, DatasetWriter, load, read_info
from .generate import SimulationSpec, simulate
from .presets import PRESETS, get_preset
from .torch_data import FieldRHSDataset, LocalStencilDataset, Normalizer, SequenceDataset, split_indices

__all__ = ["AugmentedSequences", "GridSymmetry", "apply_symmetry", "downscale", "grid_symmetries", "DatasetError", "DatasetWriter", "FieldRHSDataset", "LocalStencilDataset", "Normalizer", "PRESETS", "SequenceDataset",
           "SimulationSpec", "get_preset", "load", "read_info", "simulate", "split_indices"]
