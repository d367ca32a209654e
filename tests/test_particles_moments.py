"""Coarse moments of particles against per-cell NumPy loops, Galilean invariance, a Maxwellian's
temperature, conservation under cloud in cell, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coarsegrain.particles import coarse_moments


def _gas(n=4000, d=2, dv=3, seed=0, drift=(0.3, -1.0, 2.0)):
    g = np.random.default_rng(seed)
    x = g.random((n, d)) * np.array([2.0, 3.0, 1.0][:d])
    m = g.uniform(0.5, 2.0, n)
    v = g.normal(size=(n, dv)) / np.sqrt(m)[:, None] + np.array(drift[:dv])
    return x, v, m


def _numpy_moments(x, v, m, bins, box, unbiased):
    """Per-cell loops: cell of each particle from floor(x / h)."""
    h = np.asarray(box) / np.asarray(bins)
    cell = np.floor(x / h).astype(int)
    shape = tuple(bins)
    counts = np.zeros(shape)
    mass = np.zeros(shape)
    mom = np.zeros((v.shape[1],) + shape)
    temp = np.zeros(shape)
    for idx in np.ndindex(*shape):
        sel = np.all(cell == np.array(idx), axis=1)
        k = sel.sum()
        counts[idx] = k
        if k == 0:
            continue
        mass[idx] = m[sel].sum()
        p = (m[sel, None] * v[sel]).sum(0)
        mom[(slice(None),) + idx] = p
        u = p / mass[idx]
        dof = v.shape[1] * (k - 1 if unbiased else k)
        if dof > 0:
            temp[idx] = (m[sel, None] * (v[sel] - u) ** 2).sum() / dof
    vol = np.prod(h)
    return counts / vol, mass / vol, mom / vol, temp, mom / np.where(mass > 0, mass, 1)


@pytest.mark.parametrize("unbiased", [False, True])
def test_matches_per_cell_numpy(unbiased):
    x, v, m = _gas()
    bins, box = [4, 6], [2.0, 3.0]
    got = coarse_moments(torch.tensor(x), torch.tensor(v), torch.tensor(m), bins=bins, box=box, unbiased=unbiased)
    nd, md, pd, temp, vel = _numpy_moments(x, v, m, bins, box, unbiased)
    np.testing.assert_allclose(got.number_density.numpy(), nd, rtol=1e-12)
    np.testing.assert_allclose(got.mass_density.numpy(), md, rtol=1e-12)
    np.testing.assert_allclose(got.momentum_density.numpy(), pd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.velocity.numpy(), vel, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.temperature.numpy(), temp, rtol=1e-9)


def test_temperature_is_galilean_invariant_and_velocity_shifts():
    x, v, m = _gas(seed=1)
    kw = dict(bins=[5, 5], box=[2.0, 3.0])
    a = coarse_moments(torch.tensor(x), torch.tensor(v), torch.tensor(m), **kw)
    shift = np.array([40.0, -7.0, 3.0])
    b = coarse_moments(torch.tensor(x), torch.tensor(v + shift), torch.tensor(m), **kw)
    torch.testing.assert_close(b.temperature, a.temperature, rtol=1e-9, atol=0)
    torch.testing.assert_close(b.velocity, a.velocity + torch.tensor(shift)[:, None, None], rtol=1e-12, atol=1e-10)


def test_maxwellian_temperature_within_statistical_error():
    g = np.random.default_rng(7)
    n, T, mass = 200_000, 2.5, 1.3
    x = g.random((n, 1))
    v = g.normal(scale=np.sqrt(T / mass), size=(n, 3)) + np.array([1.0, 0.0, -2.0])
    got = coarse_moments(torch.tensor(x), torch.tensor(v), mass, bins=8, box=1.0, unbiased=True)
    # Each cell's unbiased estimate has relative standard deviation sqrt(2 / (3 (N - 1))).
    est = got.temperature.numpy()
    sigma = T * np.sqrt(2 / (3 * (got.counts.numpy() - 1)))
    assert np.all(np.abs(est - T) < 4.5 * sigma)
    assert abs(est.mean() - T) < 4.5 * sigma.mean() / np.sqrt(8)
    np.testing.assert_allclose(got.velocity.numpy().mean(1), [1.0, 0.0, -2.0], atol=4.5 * np.sqrt(T / mass / n * 8))


def test_cloud_in_cell_conserves_mass_and_momentum():
    x, v, m = _gas(n=3000, d=3, seed=2)
    bins, box = [3, 4, 2], [2.0, 3.0, 1.0]
    got = coarse_moments(torch.tensor(x), torch.tensor(v), torch.tensor(m), bins=bins, box=box, assignment="cic")
    vol = np.prod(np.asarray(box) / np.asarray(bins))
    assert got.mass_density.sum().item() * vol == pytest.approx(m.sum(), rel=1e-12)
    np.testing.assert_allclose(got.momentum_density.sum((1, 2, 3)).numpy() * vol, (m[:, None] * v).sum(0), rtol=1e-10)
    assert torch.all(got.temperature >= 0)


def test_empty_cells_and_positions_only():
    x = torch.tensor([[0.1], [0.15]], dtype=torch.float64)
    v = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    got = coarse_moments(x, v, bins=4, box=1.0)
    assert got.counts.tolist() == [2, 0, 0, 0]
    assert got.velocity[0].tolist() == [2.0, 0, 0, 0]
    assert got.temperature.tolist() == [1.0, 0, 0, 0]  # (1 + 1) / (1 * 2)
    only = coarse_moments(x, bins=4, box=1.0)
    assert only.velocity is None and only.temperature is None and only.number_density[0].item() == 8.0


def test_bad_input():
    x = torch.rand(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="velocities must be"):
        coarse_moments(x, torch.rand(4, 2, dtype=torch.float64), bins=2, box=1.0)
    with pytest.raises(ValueError, match="masses must be"):
        coarse_moments(x, masses=torch.rand(5), bins=2, box=1.0)
    with pytest.raises(ValueError, match="unbiased=True needs assignment='ngp'"):
        coarse_moments(x, bins=2, box=1.0, assignment="cic", unbiased=True)
    with pytest.raises(ValueError, match="masses must be positive"):
        coarse_moments(x, masses=-1.0, bins=2, box=1.0)
