"""WENO5 / Godunov fluxes, restriction and the pseudo-linear filter: _core against NumPy references,
convergence, the sonic point, conservation, and the wrappers' keyword-only and flux arguments."""

import numpy as np
import pytest
import torch

import reference as ref
from coarsegrain import _core, ops

# The torch ops against NumPy (float32/float64, CPU/CUDA), their gradients, opcheck, compile,
# zero-size, non-contiguous and bad input: test_op_table.py. Here _core, the physics and the wrappers.


@pytest.mark.parametrize("flux", ["godunov", "lax_friedrichs"])
def test_core_weno5_flux_matches_numpy(flux):
    v = np.random.default_rng(0).standard_normal((3, 2, 37))
    expected = (ref.godunov_burgers if flux == "godunov" else ref.lax_friedrichs_burgers)(*ref.weno5_states(v))
    np.testing.assert_allclose(_core.weno5_flux(v, flux), expected, rtol=1e-12, atol=1e-12)


def test_weno5_is_fifth_order_on_smooth_data():
    errors = []
    sizes = [16, 32, 64, 128]
    for n in sizes:
        h = 2 * np.pi / n
        x = np.arange(n) * h
        # exact cell averages of sin(x) + 0.5 cos(2x) over [x - h/2, x + h/2]
        avg = (np.sin(x) * np.sin(h / 2) * 2 / h + 0.5 * np.cos(2 * x) * np.sin(h) / h)
        left, right = ops.weno5_reconstruct(torch.tensor(avg))
        xf = x + h / 2
        exact = np.sin(xf) + 0.5 * np.cos(2 * xf)
        errors.append(max(np.abs(left.numpy() - exact).max(), np.abs(right.numpy() - exact).max()))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert rates[-1] > 4.5, (errors, rates)


def test_godunov_flux_is_zero_at_the_sonic_point():
    # -1 on cells 0..7, +1 on 8..15: at face 7 (between them) the left state is -1 and the right
    # +1, a sonic rarefaction whose exact flux is 0 (min(uL^2, uR^2)/2 would give 0.5); at face
    # 15 (+1 | -1, periodic) a standing shock carries f = 1/2.
    v = torch.cat([-torch.ones(8), torch.ones(8)]).double()
    flux = ops.weno5_flux(v, "godunov")
    left, right = ops.weno5_reconstruct(v)
    assert left[7] < 0 < right[7]
    assert flux[7].item() == 0.0
    assert abs(flux[15].item() - 0.5) < 1e-10
    np.testing.assert_allclose(flux[[2, 11]].numpy(), 0.5)  # smooth regions: f(v) = 1/2
    lf = ops.weno5_flux(v, "lax_friedrichs")
    assert abs(lf[7].item() + 0.5) < 1e-9  # Rusanov: (f(L) + f(R))/2 - max|v| (R - L)/2 = -1/2


def test_weno5_update_conserves_to_round_off(dtype):
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(4, 64, generator=gen, dtype=dtype)
    mass0 = v.double().sum(-1)
    dx, dt = 2 * np.pi / 64, 1e-3
    for _ in range(200):
        v = v - dt * ops.divergence(ops.weno5_flux(v)[..., None, :], [dx])
    drift = (v.double().sum(-1) - mass0).abs().max().item()
    assert drift < 200 * 64 * torch.finfo(dtype).eps * 3


def test_core_stencil_filter_and_restrict_average_match_numpy():
    gen = np.random.default_rng(2)
    v, c = gen.standard_normal((2, 3, 20)), gen.standard_normal((2, 3, 20, 6))
    np.testing.assert_allclose(_core.stencil_filter(v, c, -2), ref.stencil_filter(v, c, -2), rtol=1e-12, atol=1e-12)
    u = gen.standard_normal((2, 8, 8))
    np.testing.assert_allclose(_core.restrict_average(u, ndim=2, factor=2), ref.restrict_average(u, factor=2, ndim=2),
                               rtol=1e-12)


def test_weno5_flux_wrapper_names_the_fluxes():
    with pytest.raises(ValueError, match=r"weno5_flux: flux must be one of \('godunov', 'lax_friedrichs'\), got 'roe'"):
        ops.weno5_flux(torch.zeros(8), "roe")


def test_restrict_average_takes_ndim_and_factor_by_keyword_only():
    # The op's schema (and _core's binding) take (u, ndim, factor); the wrapper (u, *, ndim=1,
    # factor): a positional call, where the two ints could be swapped unnoticed, is refused.
    u = torch.arange(16.0).reshape(4, 4)
    with pytest.raises(TypeError):
        ops.restrict_average(u, 2, 1)
    with pytest.raises(TypeError):
        ops.restrict_average(u, 2)
    torch.testing.assert_close(ops.restrict_average(u, factor=2, ndim=1), u.reshape(4, 2, 2).mean(-1))
    torch.testing.assert_close(ops.restrict_average(u, ndim=2, factor=2),
                               torch.ops.coarsegrain.restrict_average(u, 2, 2))
    torch.testing.assert_close(ops.restrict_average(u, factor=4), u.mean(-1, keepdim=True))  # ndim=1
    assert ops.restrict_average(u, factor=1, ndim=2).equal(u)
