"""Reference solvers of barsinai2019: ETDRK4 order, mesh convergence, WENO-FV against spectral,
exact conservation, forcing averages and clear errors."""

import math

import numpy as np
import pytest
import torch

from coarsegrain.systems.conservation1d import (
    ETDRK4,
    Burgers,
    KdV,
    KuramotoSivashinsky,
    SinusoidForcing,
    WenoBurgers,
    random_sinusoids,
    spectral_cell_averages,
)


@pytest.mark.parametrize("pde,n,t_end,dts", [
    (KuramotoSivashinsky(), 64, 10.0, (0.2, 0.1, 0.05)),
    (KdV(), 128, 1.0, (8e-3, 4e-3, 2e-3)),
    (Burgers(forcing=SinusoidForcing.random(1, 0)), 64, 1.0, (0.02, 0.01, 0.005)),
])
def test_etdrk4_is_fourth_order(pde, n, t_end, dts):
    u0 = random_sinusoids(n, pde.length, 1, 3)
    ref = ETDRK4(pde, n, dts[-1] / 4).advance(u0, round(4 * t_end / dts[-1]))
    errs = [(ETDRK4(pde, n, dt).advance(u0, round(t_end / dt)) - ref).abs().max().item() for dt in dts]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert rates.min() > 3.5, (errs, rates)


def test_spectral_burgers_is_mesh_converged_at_the_reference_resolution():
    pde = Burgers(forcing=SinusoidForcing.random(1, 1))
    sol = {n: ETDRK4(pde, n, 1e-3).advance(torch.zeros(1, n, dtype=torch.float64), 1000) for n in (128, 256, 512)}
    coarse_err = (sol[128] - sol[512][..., ::4]).abs().max().item()
    fine_err = (sol[256] - sol[512][..., ::2]).abs().max().item()
    assert fine_err < 1e-3 and fine_err < coarse_err / 10


def test_weno_burgers_converges_to_the_spectral_cell_averages_and_conserves():
    pde = Burgers(forcing=SinusoidForcing.random(1, 2))
    t_end = 1.0
    spectral = ETDRK4(pde, 512, 1e-3).advance(torch.zeros(1, 512, dtype=torch.float64), 1000)
    errors = []
    for n in (64, 128, 256):
        h = pde.length / n
        dt = min(0.4 * h / 3, 0.9 * h * h / (2 * pde.eta))
        steps = math.ceil(t_end / dt)
        solver = WenoBurgers(pde, n, t_end / steps)
        v = solver.advance(torch.zeros(1, n, dtype=torch.float64), steps)
        errors.append((v - spectral_cell_averages(spectral, 512 // n)).abs().max().item())
    assert errors[2] < errors[1] < errors[0] and errors[2] < 0.02, errors
    # without forcing the cell averages' sum is conserved to round-off
    free = WenoBurgers(Burgers(), 64, 1e-3)
    v0 = random_sinusoids(64, 2 * math.pi, 2, 4)
    v = free.advance(v0, 300)
    assert (v.sum(-1) - v0.sum(-1)).abs().max().item() < 1e-12
    assert (v - v0).abs().max().item() > 1e-2


def test_forcing_cell_averages_are_exact():
    f = SinusoidForcing.random(2, 5)
    n, fine = 16, 16 * 512
    x = (torch.arange(fine, dtype=torch.float64) + 0.5) * f.length / fine
    midpoint = f.point_values(x, 0.7).reshape(2, n, 512).mean(-1)
    torch.testing.assert_close(f.cell_averages(n, 0.7), midpoint, rtol=0, atol=1e-6)
    assert f.wavenumber.abs().max() <= 3 and f.amplitude.abs().max() <= 0.5


def test_spectral_cell_averages_of_a_sinusoid():
    n, factor = 64, 8
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    u = torch.sin(3 * x)
    H = factor * 2 * math.pi / n
    centres = (torch.arange(n // factor, dtype=torch.float64) + 0.5) * H
    exact = torch.sin(3 * centres) * math.sin(3 * H / 2) / (3 * H / 2)
    torch.testing.assert_close(spectral_cell_averages(u, factor), exact, rtol=0, atol=1e-13)
    torch.testing.assert_close(spectral_cell_averages(u, factor).mean(), u.mean(), rtol=0, atol=1e-15)


def test_solver_errors():
    with pytest.raises(ValueError, match="beyond the explicit viscous stability limit"):
        WenoBurgers(Burgers(), 2048, 1e-3)
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        spectral_cell_averages(torch.zeros(16, dtype=torch.float64), 3)
    with pytest.raises(FloatingPointError, match="ETDRK4 blew up"):
        ETDRK4(KdV(), 64, 0.5).advance(5 * random_sinusoids(64, 32.0, 1, 0), 200)
    with pytest.raises(ValueError, match="built for 64"):
        ETDRK4(KdV(), 64, 1e-3).advance(torch.zeros(1, 32, dtype=torch.float64), 1)
