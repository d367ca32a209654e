"""WENO5 / Godunov fluxes, restriction and the pseudo-linear filter against NumPy references,
with convergence, the sonic point, conservation, gradients and errors."""

import numpy as np
import pytest
import torch

import reference as ref
from coarsegrain import _core, ops


def tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("flux", ["godunov", "lax_friedrichs"])
def test_weno5_flux_matches_numpy(device, dtype, flux):
    gen = np.random.default_rng(0)
    v = gen.standard_normal((3, 2, 37))
    expected = (ref.godunov_burgers if flux == "godunov" else ref.lax_friedrichs_burgers)(*ref.weno5_states(v))
    got = ops.weno5_flux(torch.tensor(v, dtype=dtype, device=device), flux)
    np.testing.assert_allclose(got.cpu().double().numpy(), expected, **tol(dtype))
    left, right = ops.weno5_reconstruct(torch.tensor(v, dtype=dtype, device=device))
    for a, b in zip((left, right), ref.weno5_states(v)):
        np.testing.assert_allclose(a.cpu().double().numpy(), b, **tol(dtype))
    if device == "cpu":
        np.testing.assert_allclose(_core.weno5_flux(v.astype(np.float64), flux), expected, rtol=1e-12, atol=1e-12)


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


def test_stencil_filter_matches_numpy_and_has_gradients(device, dtype):
    gen = np.random.default_rng(2)
    v, c = gen.standard_normal((2, 3, 20)), gen.standard_normal((2, 3, 20, 6))
    got = ops.stencil_filter(torch.tensor(v, dtype=dtype, device=device), torch.tensor(c, dtype=dtype, device=device), -2)
    np.testing.assert_allclose(got.cpu().double().numpy(), ref.stencil_filter(v, c, -2), **tol(dtype))
    if dtype == torch.float64:
        vt = torch.tensor(v[0], device=device, requires_grad=True)
        ct = torch.tensor(c[0], device=device, requires_grad=True)
        assert torch.autograd.gradcheck(lambda a, b: ops.stencil_filter(a, b, -2), (vt, ct))
        assert torch.autograd.gradcheck(lambda a, b: ops.stencil_filter(a, b, 3), (vt, ct))
    if device == "cpu":
        np.testing.assert_allclose(_core.stencil_filter(v, c, -2), ref.stencil_filter(v, c, -2), rtol=1e-12, atol=1e-12)


def test_restrict_average_matches_numpy(device, dtype):
    gen = np.random.default_rng(3)
    for ndim, shape in ((1, (2, 24)), (2, (3, 12, 8)), (3, (2, 4, 8, 12))):
        u = gen.standard_normal(shape)
        got = ops.restrict_average(torch.tensor(u, dtype=dtype, device=device), factor=4, ndim=ndim)
        np.testing.assert_allclose(got.cpu().double().numpy(), ref.restrict_average(u, factor=4, ndim=ndim), **tol(dtype))
    u = torch.tensor(gen.standard_normal((2, 8, 8)), device=device, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: ops.restrict_average(a, factor=2, ndim=2), (u,))
    if device == "cpu":
        np.testing.assert_allclose(_core.restrict_average(u.detach().numpy(), ndim=2, factor=2),
                                   ref.restrict_average(u.detach().numpy(), factor=2, ndim=2), rtol=1e-12)


def test_opcheck_and_compile():
    v = torch.randn(2, 16, dtype=torch.float64)
    c = torch.randn(2, 16, 6, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.coarsegrain.weno5_flux.default, (v, "godunov"))
    torch.library.opcheck(torch.ops.coarsegrain.weno5_reconstruct.default, (v,))
    torch.library.opcheck(torch.ops.coarsegrain.restrict_average.default, (v.clone().requires_grad_(), 1, 4))
    torch.library.opcheck(torch.ops.coarsegrain.stencil_filter.default, (v.clone().requires_grad_(), c, -2))

    @torch.compile(fullgraph=True)
    def rhs(u):
        return -ops.divergence(ops.weno5_flux(u)[..., None, :], [0.1]) + ops.restrict_average(u, factor=1, ndim=1)

    torch.testing.assert_close(rhs(v), -ops.divergence(ops.weno5_flux(v)[..., None, :], [0.1]) + v)


def test_finite_volume_errors():
    with pytest.raises(ValueError, match="flux must be one of"):
        ops.weno5_flux(torch.zeros(8), "roe")
    with pytest.raises(ValueError, match="n >= 5 cells"):
        ops.weno5_flux(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.weno5_flux(torch.zeros(8, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"coeffs must be \[\*batch, n, width\]"):
        ops.stencil_filter(torch.zeros(2, 8), torch.zeros(2, 7, 3), 0)
    with pytest.raises(TypeError, match="coeffs must have the dtype of v"):
        ops.stencil_filter(torch.zeros(2, 8), torch.zeros(2, 8, 3, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        ops.restrict_average(torch.zeros(2, 8), factor=3)
    with pytest.raises(ValueError, match="ndim must be 1, 2 or 3"):
        ops.restrict_average(torch.zeros(2, 8), factor=2, ndim=4)


def test_restrict_average_takes_factor_and_ndim_by_keyword_only():
    # The op's schema (and _core's binding) take (u, ndim, factor); the wrapper (u, *, factor,
    # ndim): a positional call, where the two ints could be swapped unnoticed, is refused.
    u = torch.arange(16.0).reshape(4, 4)
    with pytest.raises(TypeError):
        ops.restrict_average(u, 2, 1)
    with pytest.raises(TypeError):
        ops.restrict_average(u, 2)
    torch.testing.assert_close(ops.restrict_average(u, factor=2, ndim=1), u.reshape(4, 2, 2).mean(-1))
    torch.testing.assert_close(ops.restrict_average(u, ndim=2, factor=2),
                               torch.ops.coarsegrain.restrict_average(u, 2, 2))
    assert ops.restrict_average(u, factor=4, ndim=1).shape == (4, 1)
    assert ops.restrict_average(u, factor=1, ndim=2).equal(u)
