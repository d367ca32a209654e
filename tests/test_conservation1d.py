"""Reference solvers of barsinai2019: ETDRK4 order, mesh convergence, WENO-FV against spectral,
exact conservation, forcing averages and clear errors."""

import math

import numpy as np
import pytest
import torch

from coarsegrain.grid import Grid
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
    grid = Grid(n, pde.length / n)
    u0 = random_sinusoids(grid, 1, 3)
    ref = ETDRK4(pde, grid, dts[-1] / 4).advance(u0, round(4 * t_end / dts[-1]))
    errs = [(ETDRK4(pde, grid, dt).advance(u0, round(t_end / dt)) - ref).abs().max().item() for dt in dts]
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert rates.min() > 3.5, (errs, rates)


def test_spectral_burgers_is_mesh_converged_at_the_reference_resolution():
    pde = Burgers(forcing=SinusoidForcing.random(1, 1))
    sol = {n: ETDRK4(pde, Grid(n, pde.length / n), 1e-3).advance(torch.zeros(1, n, dtype=torch.float64), 1000)
           for n in (128, 256, 512)}
    coarse_err = (sol[128] - sol[512][..., ::4]).abs().max().item()
    fine_err = (sol[256] - sol[512][..., ::2]).abs().max().item()
    assert fine_err < 1e-3 and fine_err < coarse_err / 10


def test_weno_burgers_converges_to_the_spectral_cell_averages_and_conserves():
    pde = Burgers(forcing=SinusoidForcing.random(1, 2))
    t_end = 1.0
    spectral = ETDRK4(pde, Grid(512, pde.length / 512), 1e-3).advance(torch.zeros(1, 512, dtype=torch.float64), 1000)
    errors = []
    for n in (64, 128, 256):
        h = pde.length / n
        dt = min(0.4 * h / 3, 0.9 * h * h / (2 * pde.eta))
        steps = math.ceil(t_end / dt)
        solver = WenoBurgers(pde, Grid(n, h), t_end / steps)
        assert solver.spacing == h and solver.n == n
        v = solver.advance(torch.zeros(1, n, dtype=torch.float64), steps)
        errors.append((v - spectral_cell_averages(spectral, 512 // n)).abs().max().item())
    assert errors[2] < errors[1] < errors[0] and errors[2] < 0.02, errors
    # without forcing the cell averages' sum is conserved to round-off
    free = WenoBurgers(Burgers(), 64, 1e-3)
    v0 = random_sinusoids(free.grid, 2, 4)
    v = free.advance(v0, 300)
    assert (v.sum(-1) - v0.sum(-1)).abs().max().item() < 1e-12
    assert (v - v0).abs().max().item() > 1e-2


def test_forcing_cell_averages_are_exact():
    f = SinusoidForcing.random(2, 5)
    n, fine = 16, 16 * 512
    x = (torch.arange(fine, dtype=torch.float64) + 0.5) * f.length / fine
    midpoint = f.point_values(x, 0.7).reshape(2, n, 512).mean(-1)
    torch.testing.assert_close(f.cell_averages(Grid(n, f.length / n), 0.7), midpoint, rtol=0, atol=1e-6)
    # a number of points n is Grid(n, length / n), as for the 1D solvers
    torch.testing.assert_close(f.cell_averages(n, 0.7), f.cell_averages(Grid(n, f.length / n), 0.7), rtol=0, atol=0)
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
        WenoBurgers(Burgers(), Grid(2048, 2 * math.pi / 2048), 1e-3)
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        spectral_cell_averages(torch.zeros(16, dtype=torch.float64), 3)
    with pytest.raises(FloatingPointError, match="ETDRK4 blew up"):
        ETDRK4(KdV(), Grid(64, 0.5), 0.5).advance(5 * random_sinusoids(Grid(64, 0.5), 1, 0), 200)
    with pytest.raises(ValueError, match="built for 64"):
        ETDRK4(KdV(), 64, 1e-3).advance(torch.zeros(1, 32, dtype=torch.float64), 1)


@pytest.mark.parametrize("pde, n, dt, steps", [
    (KdV(), 64, 2e-3, 50),                                         # imaginary L: complex weights
    (KuramotoSivashinsky(), 64, 0.05, 40),
    (Burgers(forcing=SinusoidForcing.random(2, 7)), 64, 0.01, 40),  # forcing at the stages' times
])
def test_etdrk4_matches_an_independent_kassam_trefethen_implementation(pde, n, dt, steps):
    """Cox-Matthews ETDRK4 as Kassam & Trefethen (2005) write it in NumPy: coefficients by the
    mean over 64 points of a circle about each L dt (no phi functions, no series switch)."""
    grid = Grid(n, pde.length / n)
    u0 = random_sinusoids(grid, 2, 11, max_wavenumber=4)
    ours = ETDRK4(pde, grid, dt).advance(u0, steps, t0=0.3).numpy()

    k = 2 * np.pi * np.fft.rfftfreq(n, d=pde.length / n)
    lin = pde.linear_symbol(torch.as_tensor(k)).numpy()
    z = dt * lin
    zc = z[:, None] + np.exp(2j * np.pi * (np.arange(64) + 0.5) / 64)[None, :]
    e, e2 = np.exp(z), np.exp(z / 2)
    q = dt * ((np.exp(zc / 2) - 1) / zc).mean(-1)
    f1 = dt * ((-4 - zc + np.exp(zc) * (4 - 3 * zc + zc**2)) / zc**3).mean(-1)
    f2 = dt * ((2 + zc + np.exp(zc) * (zc - 2)) / zc**3).mean(-1)
    f3 = dt * ((-4 - 3 * zc - zc**2 + np.exp(zc) * (4 - zc)) / zc**3).mean(-1)
    dealias = np.abs(k) <= 2 / 3 * np.abs(k).max()
    c = pde.quadratic_coefficient()

    def nonlinear(v_hat, t):
        u = np.fft.irfft(v_hat, n=n)
        out = c * 1j * k * dealias * np.fft.rfft(u * u)
        if getattr(pde, "forcing", None) is not None:
            x = np.arange(n) * pde.length / n
            f = pde.forcing
            args = (f.omega.numpy()[..., None] * t + f.wavenumber.numpy()[..., None] * 2 * np.pi / pde.length * x
                    + f.phase.numpy()[..., None])
            out = out + np.fft.rfft((f.amplitude.numpy()[..., None] * np.sin(args)).sum(-2))
        return out

    v, t = np.fft.rfft(u0.numpy()), 0.3
    for _ in range(steps):
        nv = nonlinear(v, t)
        a = e2 * v + q * nv
        na = nonlinear(a, t + dt / 2)
        b = e2 * v + q * na
        nb = nonlinear(b, t + dt / 2)
        cc = e2 * a + q * (2 * nb - nv)
        nc = nonlinear(cc, t + dt)
        v = e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nc
        t += dt
    expected = np.fft.irfft(v, n=n)
    assert np.abs(expected - u0.numpy()).max() > 1e-2  # the fields moved
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-11)


def test_hochbruck_ostermann_variant_of_the_1d_solver_is_fourth_order_on_ks():
    pde = KuramotoSivashinsky()
    grid = Grid(64, pde.length / 64)
    u0 = random_sinusoids(grid, 1, 3)
    ref = ETDRK4(pde, grid, 0.0125).advance(u0, 800)
    errs = [(ETDRK4(pde, grid, dt, variant="hochbruck-ostermann").advance(u0, round(10 / dt)) - ref).abs().max().item()
            for dt in (0.2, 0.1)]
    assert math.log2(errs[0] / errs[1]) > 3.5, errs


def test_1d_solvers_take_a_grid_and_build_one_from_a_number_of_points():
    pde = KdV()
    by_grid, by_n = ETDRK4(pde, Grid(64, 0.5), 1e-3), ETDRK4(pde, 64, 1e-3)
    assert by_grid.grid == by_n.grid == Grid(64, 0.5) and by_n.n == 64
    u0 = random_sinusoids(by_grid.grid, 1, 0)
    assert torch.equal(by_grid.advance(u0, 3), by_n.advance(u0, 3))
    weno = WenoBurgers(Burgers(), 64)
    assert weno.grid == Grid(64, 2 * math.pi / 64) and weno.spacing == pytest.approx(2 * math.pi / 64)
    with pytest.raises(ValueError, match=r"ETDRK4: grid spans 64 \(n \* spacing\) but the KdV has period 32"):
        ETDRK4(pde, Grid(64, 1.0), 1e-3)
    with pytest.raises(ValueError, match="WenoBurgers: grid must be 1D and periodic"):
        WenoBurgers(Burgers(), Grid((8, 8), 2 * math.pi / 8))
    with pytest.raises(TypeError, match="ETDRK4: grid must be a 1D coarsegrain.Grid"):
        ETDRK4(pde, 64.0, 1e-3)
    with pytest.raises(ValueError, match="ETDRK4: dt must be a positive finite number, got -1"):
        ETDRK4(pde, 64, -1.0)
    with pytest.raises(ValueError, match="ETDRK4: variant must be"):
        ETDRK4(pde, 64, 1e-3, variant="rk4")


def test_forcing_and_initial_fields_take_a_grid():
    """SinusoidForcing.grid_values / cell_averages and random_sinusoids on a Grid: values at
    x_j = j * spacing against the closed forms, and one-line errors naming the grid."""
    f = SinusoidForcing.random(2, 3)
    grid = Grid(24, f.length / 24)
    x = torch.arange(24, dtype=torch.float64) * grid.spacing[0]
    expected = (f.amplitude[..., None] * torch.sin(f.omega[..., None] * 0.4 + f.wavenumber[..., None] * x
                                                   + f.phase[..., None])).sum(-2)  # length 2 pi: 2 pi / L = 1
    torch.testing.assert_close(f.grid_values(grid, 0.4), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"SinusoidForcing.grid_values: grid spans 48 \(n \* spacing\) but the "
                                         r"forcing has period 6.28"):
        f.grid_values(Grid(24, 2.0), 0.0)
    with pytest.raises(ValueError, match="SinusoidForcing.cell_averages: grid must be 1D"):
        f.cell_averages(Grid((4, 4), f.length / 4), 0.0)
    with pytest.raises(TypeError, match="SinusoidForcing.grid_values: grid must be a 1D coarsegrain.Grid"):
        f.grid_values(24.0, 0.0)
    # random_sinusoids: the field depends on x / L only, so a grid twice as fine over the same
    # period holds the same values at its even points
    u = random_sinusoids(Grid(32, 0.25), 3, seed=5, max_wavenumber=2)
    v = random_sinusoids(Grid(64, 0.125), 3, seed=5, max_wavenumber=2)
    assert u.shape == (3, 32)
    torch.testing.assert_close(v[:, ::2], u, rtol=0, atol=1e-12)  # the same field on a finer grid
    with pytest.raises(TypeError, match="random_sinusoids: grid must be a 1D coarsegrain.Grid"):
        random_sinusoids(32, 3, seed=0)
    with pytest.raises(ValueError, match="random_sinusoids: grid must be 1D"):
        random_sinusoids(Grid((4, 4)), 1, seed=0)
