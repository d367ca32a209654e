"""Learned finite-volume models of barsinai2019: exact conservation, the standard scheme at
initialization, and learning from coarse-grained WENO data."""

import math

import pytest
import torch

from coarsegrain import ops
from coarsegrain.grid import Grid
from coarsegrain.models import LearnedFiniteVolume, face_stencil_offsets, standard_stencil
from coarsegrain.systems.conservation1d import Burgers, SinusoidForcing, WenoBurgers


def coarse_burgers_data(n=128, factor=4, realizations=6, seed=7):
    pde = Burgers(forcing=SinusoidForcing.random(realizations, seed))
    solver = WenoBurgers(pde, Grid(n, pde.length / n))
    v, t, xs, ys = torch.zeros(realizations, n, dtype=torch.float64), 0.0, [], []
    while t < 2.0:
        v = solver.advance(v, 15, t)
        t += 15 * solver.dt
        if t > 0.8:
            rhs = solver.rhs(v, t) - pde.forcing.cell_averages(solver.grid, t)  # the flux part only
            xs.append(ops.restrict_average(v, factor=factor))
            ys.append(ops.restrict_average(rhs, factor=factor))
    return torch.cat(xs)[:, None], torch.cat(ys)[:, None], 2 * math.pi / (n // factor)


def test_untrained_model_is_the_standard_scheme_and_conserves():
    h = 0.1
    model = LearnedFiniteVolume(h).double()
    v = torch.randn(3, 1, 40, dtype=torch.float64)
    out = model(v)
    assert out.sum(-1).abs().max() < 1e-12
    offsets = face_stencil_offsets(6)
    a0, a1 = standard_stencil(offsets, 0), standard_stencil(offsets, 1) / h
    u = v[:, 0]
    face = sum(a0[k] * torch.roll(u, -(k - 2), -1) for k in range(6))
    slope = sum(a1[k] * torch.roll(u, -(k - 2), -1) for k in range(6))
    flux = 0.5 * face ** 2 - 0.04 * slope
    expected = -(flux - torch.roll(flux, 1, -1)) / h
    torch.testing.assert_close(out[:, 0], expected, rtol=1e-10, atol=1e-10)


def test_learned_coefficients_beat_the_standard_stencil_on_coarse_burgers():
    torch.manual_seed(0)
    x, y, h = coarse_burgers_data()
    split = len(x) * 3 // 4
    for kind, lr, iters, target in (("constant", 1e-2, 150, 0.5), ("network", 3e-3, 60, 0.5)):
        model = LearnedFiniteVolume(h, coefficients=kind, input_scale=float(x.std())).double()
        with torch.no_grad():
            before = (model(x[split:]) - y[split:]).square().mean().item()
        opt = torch.optim.Adam(model.parameters(), lr)
        for _ in range(iters):
            i = torch.randint(0, split, (16,))
            loss = (model(x[i]) - y[i]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            after = (model(x[split:]) - y[split:]).square().mean().item()
            assert model(x[split:]).sum(-1).abs().max() < 1e-9  # still conservative
        assert after < target * before, (kind, before, after)


def test_learned_fv_errors():
    with pytest.raises(ValueError, match="coefficients must be"):
        LearnedFiniteVolume(0.1, coefficients="spline")
    with pytest.raises(ValueError, match=r"v must be \[batch, 1, n\]"):
        LearnedFiniteVolume(0.1)(torch.zeros(2, 16))


def test_learned_fv_takes_spacing():
    """``spacing`` (the name every 1D solver uses) scales the divergence: a linear profile's
    exact flux v^2/2 - eta v_x over faces ``spacing`` apart, independently of the stencils."""
    by_keyword = LearnedFiniteVolume(spacing=0.25, coefficients="constant").double()
    assert by_keyword.spacing == 0.25
    v = torch.randn(2, 1, 16, dtype=torch.float64)
    torch.testing.assert_close(by_keyword(v), LearnedFiniteVolume(0.25, coefficients="constant").double()(v))
    # halving the spacing doubles the divergence of the same face values (eta = 0: no slope term)
    coarse = LearnedFiniteVolume(spacing=0.5, eta=0.0, coefficients="constant").double()
    fine = LearnedFiniteVolume(spacing=0.25, eta=0.0, coefficients="constant").double()
    torch.testing.assert_close(fine(v), 2 * coarse(v))
    for bad in (0.0, -1.0, math.nan, math.inf, "x", None, True):
        with pytest.raises(ValueError, match="^LearnedFiniteVolume: spacing must be a positive finite number"):
            LearnedFiniteVolume(bad)
    with pytest.raises(TypeError):
        LearnedFiniteVolume(h=0.1)  # the old name is gone


def test_checkpoints_written_with_the_old_h_keyword_still_rebuild():
    from coarsegrain.training import build_model

    old = build_model({"class": "LearnedFiniteVolume", "kwargs": {"h": 0.3, "coefficients": "constant"}})
    new = build_model({"class": "LearnedFiniteVolume", "kwargs": {"spacing": 0.3, "coefficients": "constant"}})
    assert old.spacing == new.spacing == 0.3
