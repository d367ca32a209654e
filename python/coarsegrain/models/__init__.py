"""The model zoo and its building blocks."""

from .crnn import ConservativeCRNN, ConvGRUCell
from .derivatives import DerivativeDictionary
from .discretization import PolynomialAccuracy, face_stencil_offsets, finite_volume_constraints, standard_stencil
from .learned_fv import LearnedFiniteVolume
from .modal import GaugeFixed, ModalMLP, ModalOperator
from .zoo import CNNLSTM, DictionaryMLP, StencilConvNet, UNetCNN, count_parameters

__all__ = ["GaugeFixed", "ModalMLP", "ModalOperator", "LearnedFiniteVolume", "PolynomialAccuracy", "face_stencil_offsets", "finite_volume_constraints", "standard_stencil", "ConservativeCRNN", "ConvGRUCell", "CNNLSTM", "DerivativeDictionary", "DictionaryMLP", "StencilConvNet", "UNetCNN", "count_parameters"]
