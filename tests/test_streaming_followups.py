"""Follow-ups of issue 15 in the modules around the streaming readers: the trainer's statistics,
the experiments, the CLI and the generator read a few frames at a time, and say sizes first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import coarsegrain.data as data
from coarsegrain.data import dataset as dataset_module


def test_data_package_exports_the_streaming_readers():
    for name in ("open_dataset", "DatasetReader", "dataset_nbytes", "format_nbytes"):
        assert name in data.__all__
        assert getattr(data, name) is getattr(dataset_module, name)
