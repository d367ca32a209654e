"""Error metrics between predicted and true fields.

Every metric takes ``pred`` and ``target`` of one shape. With ``ndim=None`` it reduces over all
elements and returns a scalar (the aggregate over a test set); with ``ndim = d`` it reduces over
the last ``d`` axes only and returns one value per snapshot (kiyani2022 reports per snapshot).

Naming: kiyani2022's "rMSE" is the *root* mean squared error (:func:`rmse`, Eq 9); arbabi2020's
"rMSE" is the *relative* mean squared error (:func:`relative_mse`, Eq 24). R^2 (kiyani Eq 10) is
``1 - relative_mse`` with the mean taken over the same elements.

relative_mse and R^2 divide by the spread of the target about its mean: where the target is
constant (zero variance over the reduced elements, e.g. an all-zero frame) they are undefined,
and they raise a ValueError naming the metric instead of returning inf or NaN (use
:func:`mse` / :func:`rmse` there). The sums are taken in float64 and the result has the
inputs' dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["mse", "rmse", "mae", "r2", "relative_mse"]


def _dims(pred: Tensor, target: Tensor, ndim: int | None, name: str):
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: pred and target must be torch tensors")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}")
    if ndim is None:
        return tuple(range(pred.dim()))
    if not 1 <= ndim <= pred.dim():
        raise ValueError(f"{name}: ndim must be between 1 and {pred.dim()}, got {ndim}")
    return tuple(range(-ndim, 0))


def mse(pred: Tensor, target: Tensor, ndim: int | None = None) -> Tensor:
    """Mean squared error (kiyani Eq 9)."""
    dims = _dims(pred, target, ndim, "mse")
    return (pred - target).square().mean(dims)


def rmse(pred: Tensor, target: Tensor, ndim: int | None = None) -> Tensor:
    """Root mean squared error (kiyani's rMSE)."""
    return mse(pred, target, ndim).sqrt()


def mae(pred: Tensor, target: Tensor, ndim: int | None = None) -> Tensor:
    """Mean absolute error (kiyani Eq 11)."""
    dims = _dims(pred, target, ndim, "mae")
    return (pred - target).abs().mean(dims)


def relative_mse(pred: Tensor, target: Tensor, ndim: int | None = None) -> Tensor:
    """sum |pred - target|^2 / sum |target - mean(target)|^2 (arbabi Eq 24)."""
    return _relative_mse(pred, target, ndim, "relative_mse")


def _relative_mse(pred: Tensor, target: Tensor, ndim: int | None, name: str) -> Tensor:
    dims = _dims(pred, target, ndim, name)
    dtype = torch.promote_types(pred.dtype, target.dtype)
    p, t = pred.double(), target.double()
    residual = (p - t).square().sum(dims)
    spread = (t - t.mean(dims, keepdim=True)).square().sum(dims)
    flat = (spread == 0) | ~torch.isfinite(spread)
    if flat.any():
        where = "the target" if spread.dim() == 0 else f"{int(flat.sum())} of {flat.numel()} target snapshots"
        raise ValueError(f"{name}: {where} has zero variance (constant, e.g. all zeros) or is not finite, "
                         f"so the ratio to the target's spread is undefined; use mse or rmse for such targets")
    return (residual / spread).to(dtype)


def r2(pred: Tensor, target: Tensor, ndim: int | None = None) -> Tensor:
    """Coefficient of determination 1 - SS_res / SS_tot (kiyani Eq 10)."""
    return 1.0 - _relative_mse(pred, target, ndim, "r2")


