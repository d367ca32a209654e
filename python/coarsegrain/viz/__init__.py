"""Plots (matplotlib, an optional dependency: pip install 'coarsegrain[plot]')."""

from .datasets import plot_dataset

__all__ = ["plot_dataset"]
