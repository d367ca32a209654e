"""Metrics on constant or zero targets: a clear error or a documented value, never a silent
inf / NaN, in float32 as in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coarsegrain import Grid
from coarsegrain.metrics import interface_displacement, mass_drift, r2, relative_mse
from coarsegrain.rollout.recurrent import RecurrentRollout
from coarsegrain.systems.diagnostics import characteristic_length


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("metric, name", [(r2, "r2"), (relative_mse, "relative_mse")])
def test_constant_target_raises(metric, name, dtype):
    pred = torch.rand(4, 8, 8, dtype=dtype)
    for target in (torch.zeros(4, 8, 8, dtype=dtype), torch.full((4, 8, 8), 3.0, dtype=dtype)):
        with pytest.raises(ValueError, match=f"{name}: .*zero variance"):
            metric(pred, target)
    per_frame = torch.rand(4, 8, 8, dtype=dtype)
    per_frame[1] = 0.0
    with pytest.raises(ValueError, match=f"{name}: 1 of 4 target snapshots"):
        metric(pred, per_frame, ndim=2)
    target = torch.rand(4, 8, 8, dtype=dtype)
    ok = metric(pred, target, ndim=2)
    # per snapshot, from NumPy: sum (p - t)^2 / sum (t - mean t)^2 (and 1 minus that for r2)
    p, t = pred.double().numpy(), target.double().numpy()
    ratio = ((p - t) ** 2).sum(axis=(1, 2)) / ((t - t.mean(axis=(1, 2), keepdims=True)) ** 2).sum(axis=(1, 2))
    expected = 1 - ratio if name == "r2" else ratio
    assert ok.dtype == dtype and ok.shape == (4,)
    np.testing.assert_allclose(ok.double().numpy(), expected, rtol=1e-6 if dtype == torch.float32 else 1e-13)


def test_r2_float32_tiny_spread_is_finite():
    # float32 target whose squared deviations underflow in float32 (1e-23^2 < tiny): summed in float64.
    target = torch.tensor([0.0, 1e-23, -1e-23, 2e-23], dtype=torch.float32)
    value = r2(target.clone(), target)
    assert value.dtype == torch.float32 and value.item() == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_interface_displacement_constant_truth_raises(dtype):
    grid = Grid((8, 8), 1.0)
    truth = torch.zeros(2, 8, 8, dtype=dtype)
    truth[0] = torch.rand(8, 8, dtype=dtype)
    with pytest.raises(ValueError, match="interface_displacement: 1 of 2 truth frames are constant"):
        interface_displacement(truth, truth + 0.1, grid)
    out = interface_displacement(truth[:1], truth[:1] + 0.1, grid)
    # Eq 4 from NumPy: sqrt(sum (truth - pred)^2 / sum |forward-difference grad truth|^2), spacing 1
    t = truth[0].double().numpy()
    d = (truth[:1] - (truth[:1] + 0.1)).double().numpy()
    grad2 = sum(((np.roll(t, -1, axis=a) - t) ** 2).sum() for a in (0, 1))
    expected = np.sqrt((d**2).sum() / grad2)
    assert out.dtype == dtype and out.shape == (1,)
    np.testing.assert_allclose(out.double().numpy(), [expected], rtol=1e-6 if dtype == torch.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_characteristic_length_uniform_field_is_inf(dtype):
    grid = Grid((16, 16), 1.0)
    u = torch.zeros(2, 16, 16, dtype=dtype)
    u[0] = torch.cos(2 * math.pi * torch.arange(16, dtype=dtype) / 4)[None, :]
    length = characteristic_length(u, grid)
    assert length[0].item() == pytest.approx(4.0, rel=0.01)
    assert math.isinf(length[1].item()) and length[1].item() > 0


def test_mass_drift_zero_initial_mass_is_absolute():
    frames = torch.zeros(2, 3, 4, 4)
    frames[0] = 1.0
    frames[0, 2] = 1.5
    frames[1, 1] = 1e-6
    drift = mass_drift(frames, 2)
    torch.testing.assert_close(drift[0], torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(drift[1], torch.tensor([0.0, 1e-6, 0.0], dtype=torch.float64))
    mass = torch.tensor([[[0.0], [1e-6]], [[2.0], [3.0]]], dtype=torch.float64)
    roll = RecurrentRollout(frames=torch.zeros(2, 2, 1, 4), steps=[0, 1], mass=mass,
                            final_frame=torch.zeros(2, 1, 4), state=[])
    torch.testing.assert_close(roll.mass_drift, torch.tensor([1e-6, 0.5], dtype=torch.float64))
