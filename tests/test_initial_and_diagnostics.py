"""Initial fields (seeded, periodic, exact mean) and pattern diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coarsegrain import Grid
from coarsegrain.systems import diagnostics, initial


def _max_jump(u: torch.Tensor, axis: int, at_seam: bool) -> float:
    jumps = (u - u.roll(1, axis)).abs()
    index = [slice(None)] * u.dim()
    index[axis] = 0 if at_seam else slice(1, None)
    return jumps[tuple(index)].max().item()


@pytest.mark.parametrize("shape", [(64, 48), (24, 20, 16)])
def test_perlin_tiles_the_box_and_hits_mean_and_amplitude(shape):
    grid = Grid(shape, 1.0)
    u = initial.perlin(grid, 3, correlation_length=8.0, mean=0.45, amplitude=0.3, seed=7)
    dims = tuple(range(-grid.ndim, 0))
    torch.testing.assert_close(u.mean(dims), torch.full((3,), 0.45, dtype=torch.float64))
    torch.testing.assert_close((u - 0.45).abs().amax(dims), torch.full((3,), 0.3, dtype=torch.float64))
    for axis in range(-grid.ndim, 0):
        # No seam: the jump across the periodic boundary is like any jump inside the box.
        assert _max_jump(u, axis, at_seam=True) <= 1.05 * _max_jump(u, axis, at_seam=False)


def test_non_periodic_noise_would_fail_the_seam_check():
    # The check above can fail: a field with a ramp has a jump at the seam.
    u = torch.linspace(0, 1, 64, dtype=torch.float64).expand(64, 64)[None]
    assert _max_jump(u, -1, at_seam=True) > 10 * _max_jump(u, -1, at_seam=False)


def test_generators_are_seeded_and_reproducible():
    grid = Grid((16, 16))
    for make in (lambda s: initial.uniform(grid, 2, seed=s),
                 lambda s: initial.perlin(grid, 2, correlation_length=4.0, seed=s),
                 lambda s: initial.gaussian_random_field(grid, 2, correlation_length=2.0, seed=s)):
        assert torch.equal(make(3), make(3))
        assert not torch.equal(make(3), make(4))
    f32 = initial.uniform(grid, 1, seed=5, dtype=torch.float32)
    torch.testing.assert_close(f32, initial.uniform(grid, 1, seed=5).float())


def test_uniform_and_gaussian_statistics():
    grid = Grid((64, 64), 0.5)
    u = initial.uniform(grid, 4, low=-0.3, high=0.1, seed=0)
    assert u.min() >= -0.3 and u.max() <= 0.1 and abs(u.mean().item() + 0.1) < 0.01
    g = initial.gaussian_random_field(grid, 2, correlation_length=1.5, mean=0.2, std=0.05, seed=0)
    torch.testing.assert_close(g.mean((-2, -1)), torch.full((2,), 0.2, dtype=torch.float64))
    torch.testing.assert_close(g.std((-2, -1)), torch.full((2,), 0.05, dtype=torch.float64))


def test_bad_initial_arguments():
    grid = Grid((8, 8))
    with pytest.raises(ValueError, match="high must exceed low"):
        initial.uniform(grid, low=1.0, high=0.0)
    with pytest.raises(ValueError, match="correlation_length must be positive"):
        initial.perlin(grid, correlation_length=0.0)
    with pytest.raises(ValueError, match=r"values has shape \(8, 9\), but its last 2 axes must be the grid"):
        initial.from_array(grid, np.zeros((8, 9)))
    with pytest.raises(ValueError, match="values must be finite"):
        initial.from_array(grid, np.full((8, 8), np.nan))


@pytest.mark.parametrize("m", [2, 5])
def test_structure_factor_and_length_of_a_single_mode(m):
    grid = Grid((64, 32), (0.5, 1.0))  # a box of 32 x 32
    y, x = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) * h for n, h in zip(grid.shape, grid.spacing)),
                          indexing="ij")
    u = torch.cos(2 * math.pi * m * x / 32.0)[None]
    k, s = diagnostics.structure_factor(u, grid)
    assert k[s[0].argmax()].item() == pytest.approx(2 * math.pi * m / 32.0)
    assert diagnostics.characteristic_length(u, grid).item() == pytest.approx(32.0 / m)
