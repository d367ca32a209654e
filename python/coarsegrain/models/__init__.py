"""The model zoo and its building blocks."""

from .derivatives import DerivativeDictionary
from .zoo import CNNLSTM, DictionaryMLP, StencilConvNet, UNetCNN, count_parameters

__all__ = ["CNNLSTM", "DerivativeDictionary", "DictionaryMLP", "StencilConvNet", "UNetCNN", "count_parameters"]
