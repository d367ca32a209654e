"""Field metrics against their formulas; the derivative dictionary against exact derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coarsegrain import Grid
from coarsegrain.metrics import mae, mse, r2, relative_mse, rmse
from coarsegrain.models import DerivativeDictionary


def test_metrics_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(4, 8, 6, generator=g, dtype=torch.float64)
    pred = target + 0.1 * torch.randn(4, 8, 6, generator=g, dtype=torch.float64)
    t, p = target.numpy(), pred.numpy()
    assert mse(pred, target).item() == pytest.approx(np.mean((p - t) ** 2))
    assert rmse(pred, target).item() == pytest.approx(np.sqrt(np.mean((p - t) ** 2)))
    assert mae(pred, target).item() == pytest.approx(np.mean(np.abs(p - t)))
    rel = np.sum((p - t) ** 2) / np.sum((t - t.mean()) ** 2)
    assert relative_mse(pred, target).item() == pytest.approx(rel)
    assert r2(pred, target).item() == pytest.approx(1 - rel)
    per_snapshot = r2(pred, target, ndim=2)
    assert per_snapshot.shape == (4,)
    for i in range(4):
        ti, pi = t[i], p[i]
        assert per_snapshot[i].item() == pytest.approx(1 - np.sum((pi - ti) ** 2) / np.sum((ti - ti.mean()) ** 2))
    assert r2(target, target).item() == 1.0
    assert r2(torch.full_like(target, target.mean().item()), target).item() == pytest.approx(0.0, abs=1e-12)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"rmse|mse: pred has shape \(3,\) but target has \(4,\)"):
        rmse(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"ndim must be between 1 and 1"):
        mae(torch.zeros(3), torch.zeros(3), ndim=2)


def _wave(n, L=2 * math.pi):
    """u = sin(x + 0.3) cos(2y) on n x n points of [0, L)^2, and its exact derivatives."""
    h = L / n
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64) * h, torch.arange(n, dtype=torch.float64) * h,
                          indexing="ij")
    u = torch.sin(x + 0.3) * torch.cos(2 * y)

    def exact(oy, ox):
        dx = [torch.sin, torch.cos, lambda a: -torch.sin(a), lambda a: -torch.cos(a)][ox % 4](x + 0.3)
        dy = [torch.cos, lambda a: -torch.sin(a), lambda a: -torch.cos(a), torch.sin][oy % 4](2 * y) * 2.0**oy
        return dx * dy

    return Grid((n, n), h), u[None], exact


def test_fd_dictionary_converges_at_second_order_for_every_derivative_order():
    errors = []
    for n in (32, 64):
        grid, u, exact = _wave(n)
        d = DerivativeDictionary(grid, 6, mixed=[(1, 1), (2, 2)])
        feats = d(u)[0]
        errors.append([(feats[i] - exact(*t)).abs().max().item() for i, t in enumerate(d.terms)])
    for name, e32, e64 in zip(d.names, *errors):
        if name == "u":
            assert e32 == 0.0 and e64 == 0.0
            continue
        assert math.log2(e32 / e64) == pytest.approx(2.0, abs=0.15), (name, e32, e64)


def test_spectral_dictionary_is_exact_for_band_limited_fields():
    grid, u, exact = _wave(32)
    d = DerivativeDictionary(grid, 6, mixed=[(1, 1)], method="spectral")
    feats = d(u)[0]
    for i, t in enumerate(d.terms):
        assert (feats[i] - exact(*t)).abs().max().item() < 1e-9 * 2.0 ** sum(t) * 10


def test_dictionary_names_gradients_and_errors():
    grid = Grid((8, 8))
    d = DerivativeDictionary(grid, 2, mixed=[(1, 1)])
    assert d.names == ["u", "u_y", "u_yy", "u_x", "u_xx", "u_xy"]
    u = torch.randn(2, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: d(v), (u,))
    with pytest.raises(ValueError, match=r"max_order must be in 0..6"):
        DerivativeDictionary(grid, 7)
    with pytest.raises(ValueError, match=r"mixed term \(1,\) needs 2 orders"):
        DerivativeDictionary(grid, 1, mixed=[(1,)])
    with pytest.raises(ValueError, match=r"its last 2 axes must be the grid \(8, 8\)"):
        d(torch.zeros(1, 8, 9))
