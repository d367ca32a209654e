"""Physics metrics for phase-field trajectories (lanzoni2024 §3.3, Appendix C).

* :func:`interface_displacement` -- the mean interface displacement delta-bar (Eq 4), in grid
  units: sqrt(int (phi - phi_hat)^2 / int |grad phi|^2).
* :func:`coarsening_exponent` -- the power-law exponent of F(t) or L(t) by a least-squares fit
  in log-log coordinates (Cahn-Hilliard coarsening: F ~ t^(-1/3), L ~ t^(1/3)).
* :func:`compare_trajectories` -- RMSE, delta-bar, F/V and its relative error, L(t) and the mass
  drift of a predicted trajectory against the truth, as curves and a summary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import ops
from ..grid import Grid
from ..systems.diagnostics import characteristic_length
from .fields import rmse

__all__ = ["coarsening_exponent", "compare_trajectories", "free_energy_density", "interface_displacement",
           "mass_drift"]


def _check_pair(truth: Tensor, pred: Tensor, name: str) -> None:
    if truth.shape != pred.shape:
        raise ValueError(f"{name}: truth has shape {tuple(truth.shape)} but pred has {tuple(pred.shape)}")


def interface_displacement(truth: Tensor, pred: Tensor, grid: Grid) -> Tensor:
    """delta-bar of lanzoni Eq 4 over the last ``grid.ndim`` axes, in the length units of
    ``grid.spacing`` (on a coarse grid of spacing 2 fine units: fine grid units, as the paper).

    The gradient is the forward face difference of the truth (the one whose sum of squares is
    the FD interface energy). Returns one value per leading index.

    delta-bar is undefined where the truth has no interface (a constant frame: zero gradient);
    such a frame raises a ValueError rather than giving inf or NaN.
    """
    _check_pair(truth, pred, "interface_displacement")
    grid.check_field(truth, "truth")
    dims = tuple(range(-grid.ndim, 0))
    num = (truth - pred).square().sum(dims)
    grad = ops.face_gradient(truth, grid.spacing, ndim=grid.ndim)
    den = grad.square().sum(dim=(-grid.ndim - 1, *dims))
    flat = den == 0
    if flat.any():
        raise ValueError(f"interface_displacement: {int(flat.sum())} of {flat.numel()} truth frames are constant "
                         f"(zero gradient, no interface), where delta-bar is undefined")
    return torch.sqrt(num / den)


def free_energy_density(model, u: Tensor) -> Tensor:
    """F[u] / V for a phase-field model (FD discretization), per leading index."""
    return model.free_energy(u, "fd") / math.prod(model.grid.lengths)


def mass_drift(frames: Tensor, ndim: int) -> Tensor:
    """Relative change of the field mean from the first frame: ``[..., T]`` for ``[..., T, *grid]``
    (float64).

    Where the first frame's mean is exactly zero (a relative change is undefined) the value is
    the absolute change of the mean instead.
    """
    dims = tuple(range(-ndim, 0))
    m = frames.double().mean(dims)
    m0 = m[..., :1]
    return (m - m0) / torch.where(m0 == 0, torch.ones_like(m0), m0.abs())


def coarsening_exponent(t, y, t_min: float | None = None, t_max: float | None = None) -> float:
    """Slope of log y against log t over ``t_min <= t <= t_max`` (least squares)."""
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    keep = (t > 0) & (y > 0) & np.isfinite(y)
    if t_min is not None:
        keep &= t >= t_min
    if t_max is not None:
        keep &= t <= t_max
    if keep.sum() < 2:
        raise ValueError("coarsening_exponent: fewer than two positive points in the fit window")
    slope, _ = np.polyfit(np.log(t[keep]), np.log(y[keep]), 1)
    return float(slope)


def compare_trajectories(truth: Tensor, pred: Tensor, model, times, *,
                         fit_window: tuple[float, float] | None = None) -> dict[str, Any]:
    """Curves and a summary comparing ``pred`` with ``truth``, both ``[T, *grid]`` (one field).

    ``model`` is the phase-field model (grid, energy, kappa) that defines F; ``times`` are the
    frames' times. The exponents are fitted over ``fit_window`` (default: the second half of the
    run in log time).
    """
    _check_pair(truth, pred, "compare_trajectories")
    grid: Grid = model.grid
    truth, pred = truth.double(), pred.double()
    times = np.asarray(times, dtype=float)
    f_true = free_energy_density(model, truth)
    f_pred = free_energy_density(model, pred)
    curves = {
        "time": times.tolist(),
        "rmse": rmse(pred, truth, ndim=grid.ndim).tolist(),
        "delta_bar": interface_displacement(truth, pred, grid).tolist(),
        "free_energy_density_true": f_true.tolist(),
        "free_energy_density_pred": f_pred.tolist(),
        "free_energy_relative_error": ((f_pred - f_true).abs() / f_true.abs()).tolist(),
        "length_true": characteristic_length(truth, grid).tolist(),
        "length_pred": characteristic_length(pred, grid).tolist(),
        "mass_drift_pred": mass_drift(pred, grid.ndim).tolist(),
    }
    if fit_window is None:
        positive = times[times > 0]
        lo = float(np.sqrt(positive[0] * positive[-1])) if len(positive) else 0.0
        fit_window = (lo, float(times[-1]))
    summary = {
        "rmse_max": max(curves["rmse"]), "rmse_final": curves["rmse"][-1],
        "delta_bar_max": max(curves["delta_bar"][1:] or curves["delta_bar"]),
        "delta_bar_mean": float(np.mean(curves["delta_bar"][1:] or curves["delta_bar"])),
        "free_energy_relative_error_max": max(curves["free_energy_relative_error"]),
        "mass_drift_max": float(np.max(np.abs(curves["mass_drift_pred"]))),
        "fit_window": list(fit_window),
    }
    for who in ("true", "pred"):
        for what, key in (("free_energy_density", "F"), ("length", "L")):
            try:
                summary[f"exponent_{key}_{who}"] = coarsening_exponent(times, curves[f"{what}_{who}"], *fit_window)
            except ValueError:
                summary[f"exponent_{key}_{who}"] = None
    return {"curves": curves, "summary": summary}
