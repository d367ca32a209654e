"""The model zoo and its building blocks."""

from .crnn import ConservativeCRNN, ConvGRUCell
from .derivatives import DerivativeDictionary
from .zoo import CNNLSTM, DictionaryMLP, StencilConvNet, UNetCNN, count_parameters

__all__ = ["ConservativeCRNN", "ConvGRUCell", "CNNLSTM", "DerivativeDictionary", "DictionaryMLP", "StencilConvNet", "UNetCNN", "count_parameters"]
