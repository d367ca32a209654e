"""The model zoo and its building blocks."""

from .derivatives import DerivativeDictionary

__all__ = ["DerivativeDictionary"]
