"""Datasets: the HDF5 format, ensemble generation and presets."""

from .augment import AugmentedSequences, GridSymmetry, apply_symmetry, downscale, grid_symmetries
from .dataset import (
    DatasetError,
    DatasetReader,
    DatasetWriter,
    dataset_nbytes,
    format_nbytes,
    load,
    open_dataset,
    read_info,
)
from .generate import SimulationSpec, simulate
from .presets import PRESETS, get_preset
from .torch_data import FieldRHSDataset, LocalStencilDataset, Normalizer, SequenceDataset, split_indices

__all__ = ["AugmentedSequences", "GridSymmetry", "apply_symmetry", "downscale", "grid_symmetries", "DatasetError", "DatasetReader", "DatasetWriter", "FieldRHSDataset", "LocalStencilDataset", "Normalizer", "PRESETS", "SequenceDataset",
           "SimulationSpec", "dataset_nbytes", "format_nbytes", "get_preset", "load", "open_dataset", "read_info", "simulate", "split_indices"]
