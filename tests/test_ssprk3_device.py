"""integrate_ssprk3 and valid_time keep every tensor on the input's device (CPU and CUDA)."""

from __future__ import annotations

import math

import torch

from coarsegrain.experiments import barsinai2019 as bs


def test_integrate_ssprk3_on_device(device):
    v0 = torch.ones(3, 8, dtype=torch.float64, device=device)
    v0[2] *= 2.0
    times = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64, device=device)
    forcing = lambda t: torch.zeros(3, 8, dtype=torch.float64)  # noqa: E731  (on the CPU: moved)
    # growth 10 v: e^5 ~ 148 (x2 ~ 297) under the bound 200 only for the first two rows at t = 0.5
    out = bs.integrate_ssprk3(lambda v: 10 * v, v0, times, 0.01, forcing, bounds=200.0)
    assert out.device == v0.device and out.shape == (3, 3, 8)
    assert torch.isfinite(out[1, :2]).all() and torch.isnan(out[1, 2]).all() and torch.isnan(out[2]).all()
    decay = bs.integrate_ssprk3(lambda v: -v, v0, times, 0.01)
    assert abs(decay[-1, 0, 0].item() - math.exp(-1)) < 1e-6
    valid = bs.valid_time(out, decay, times)
    assert valid.device == times.device and valid.shape == (3,)
    # every realization is off (or NaN) by t = 0.5; a prediction equal to the truth stays valid to the end
    torch.testing.assert_close(valid.cpu(), torch.full((3,), 0.5, dtype=torch.float64))
    torch.testing.assert_close(bs.valid_time(decay, decay, times).cpu(), torch.full((3,), 1.0, dtype=torch.float64))
