"""Fused explicit phase-field ops: _core against NumPy, CUDA tiling, conservation, the stability
limit, and the wrappers' own errors (the torch-op contracts are in test_op_table.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import reference as ref
from coarsegrain import _core, ops
from coarsegrain.ops import phase_field as pf

SPACINGS = {1: [0.9], 2: [0.9, 1.1], 3: [0.9, 1.1, 1.0]}
GRIDS = {1: (24,), 2: (12, 10), 3: (10, 6, 8)}
# f'(U) of a quartic (4 terms: the short path) and of a sextic (6 terms: the general path).
POLYS = {"cubic": [0.0, -1.0, 0.0, 1.0], "quintic": [0.1, -1.0, 0.2, 1.0, -0.05, 0.02]}


def _field(nd, batch, dtype, seed=0):
    rng = np.random.default_rng(seed)
    u = 0.5 * rng.standard_normal((*batch, *GRIDS[nd]))
    return u.astype(np.float32 if dtype == torch.float32 else np.float64)


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == torch.float32 else dict(rtol=1e-11, atol=1e-12)


# The torch ops against NumPy (1D-3D, both polynomial paths, both schemes, float32/float64,
# CPU/CUDA), the refusal of backward, opcheck, compile, zero-size, non-contiguous and bad input:
# test_op_table.py. Here _core, CUDA tiling, conservation, the stability limit, the wrappers.


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("poly", list(POLYS))
@pytest.mark.parametrize("scheme", ["fused", "two_pass"])
def test_core_cahn_hilliard_matches_numpy(nd, poly, scheme, dtype):
    h, dt, steps = SPACINGS[nd], 2e-3, 4
    u = _field(nd, (2,), dtype)
    expected = ref.cahn_hilliard_explicit(u.astype(np.float64), h, dt, 1.3, 0.7, POLYS[poly], steps)
    core = _core.cahn_hilliard_explicit(u, h, dt, 1.3, 0.7, POLYS[poly], steps, scheme)
    np.testing.assert_allclose(core, expected, **_tol(dtype))


@pytest.mark.parametrize("scheme", ["fused", "two_pass"])
@pytest.mark.parametrize("grid", [(24, 9, 35), (40, 70)], ids=str)
def test_cahn_hilliard_across_tiles_and_chunks(grid, scheme, dtype, device):
    # Several CUDA tiles (32 x 8) in x and y, partial ones at the edges, and several z chunks.
    h = [0.9, 1.1, 1.0][: len(grid)]
    u = (0.5 * np.random.default_rng(5).standard_normal((2, *grid))).astype(
        np.float32 if dtype == torch.float32 else np.float64)
    out = ops.cahn_hilliard_explicit(torch.from_numpy(u).to(device), h, 2e-3, mobility=1.3, kappa=0.7,
                                     dfdu=POLYS["quintic"], steps=3, scheme=scheme)
    expected = ref.cahn_hilliard_explicit(u.astype(np.float64), h, 2e-3, 1.3, 0.7, POLYS["quintic"], 3)
    np.testing.assert_allclose(out.cpu().numpy(), expected, **_tol(dtype))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("poly", list(POLYS))
def test_core_allen_cahn_matches_numpy(nd, poly, dtype):
    h, dt, steps = SPACINGS[nd], 1e-2, 5
    u = _field(nd, (3,), dtype, seed=1)
    expected = ref.allen_cahn_explicit(u.astype(np.float64), h, dt, 0.8, 1.2, POLYS[poly], steps)
    np.testing.assert_allclose(_core.allen_cahn_explicit(u, h, dt, 0.8, 1.2, POLYS[poly], steps),
                               expected, **_tol(dtype))


def test_fused_handles_many_batches_and_small_slabs():
    # batch >= threads (one chunk per batch entry) and sweeps shorter than a chunk.
    for shape in [(5, 3, 2, 7), (1, 2, 9, 4), (4, 40, 6)]:
        nd = len(shape) - 1
        h = [1.0] * nd
        u = np.random.default_rng(3).standard_normal(shape)
        a = ops.cahn_hilliard_explicit(torch.from_numpy(u), h, 1e-3, mobility=1, kappa=1,
                                       dfdu=POLYS["cubic"], steps=3)
        np.testing.assert_allclose(
            a.numpy(), ref.cahn_hilliard_explicit(u, h, 1e-3, 1, 1, POLYS["cubic"], 3), rtol=1e-12, atol=1e-12)


def test_cahn_hilliard_conserves_mass_to_roundoff(device):
    u = torch.from_numpy(_field(3, (2,), torch.float64)).to(device) + 0.3
    out = ops.cahn_hilliard_explicit(u, SPACINGS[3], 2e-3, mobility=1, kappa=0.5, dfdu=POLYS["cubic"], steps=1000)
    drift = (out.sum((-3, -2, -1)) - u.sum((-3, -2, -1))).abs().max().item()
    assert drift < 1e-11 * u.abs().sum().item()


@pytest.mark.parametrize("conserved", [True, False])
def test_unstable_dt_is_refused_with_the_limit(conserved):
    u = torch.zeros(16, 16)
    op = ops.cahn_hilliard_explicit if conserved else ops.allen_cahn_explicit
    limit = ops.explicit_stability_limit([0.5, 0.5], 2.0, 1.5, conserved)
    assert limit == pytest.approx(2 / (2.0 * 1.5 * 32**2) if conserved else 2 / (2.0 * 1.5 * 32))
    with pytest.raises(ValueError, match=r"stability limit .* = " + re.escape(f"{limit:.6g}")):
        op(u, [0.5, 0.5], 1.01 * limit, mobility=2.0, kappa=1.5, dfdu=[0, -1, 0, 1])
    op(u, [0.5, 0.5], 0.9 * limit, mobility=2.0, kappa=1.5, dfdu=[0, -1, 0, 1])  # accepted


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mobility=0.0), r"mobility must be a positive finite number, got 0"),
        (dict(mobility=-1.0), r"mobility must be a positive finite number"),
        (dict(kappa=float("nan")), r"kappa must be a positive finite number, got nan"),
        (dict(dt=-1e-3), r"dt must be a positive finite number"),
        (dict(dfdu=[]), r"dfdu must hold 1 to 8 polynomial coefficients"),
        (dict(dfdu=[0.0] * 9), r"dfdu must hold 1 to 8 polynomial coefficients .* got 9"),
        (dict(dfdu=[0.0, float("inf")]), r"dfdu\[1\] must be finite"),
        (dict(steps=0), r"steps must be >= 1, got 0"),
        (dict(scheme="three_pass"), r"scheme must be 'fused' or 'two_pass'"),
    ],
)
def test_core_bad_arguments(kwargs, match):
    args = dict(dt=1e-3, mobility=1.0, kappa=1.0, dfdu=[0, -1, 0, 1], steps=1, scheme="fused")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        _core.cahn_hilliard_explicit(np.zeros((8, 8)), [1.0, 1.0], args["dt"], args["mobility"], args["kappa"],
                                     args["dfdu"], args["steps"], args["scheme"])


def test_wrappers_refuse_autograd_up_front():
    with pytest.raises(RuntimeError, match=r"without autograd"):
        ops.allen_cahn_explicit(torch.zeros(8, 8, requires_grad=True), [1.0, 1.0], 1e-3,
                                mobility=1, kappa=1, dfdu=[0, 1])




def _minus_laplacian_matrix(shape, spacing, order):
    """The periodic finite-difference -lap as a dense NumPy matrix, built from its stencil."""
    stencil = {2: {0: -2.0, 1: 1.0, -1: 1.0},
               4: {0: -30 / 12, 1: 16 / 12, -1: 16 / 12, 2: -1 / 12, -2: -1 / 12}}[order]
    n = int(np.prod(shape))
    index = np.arange(n).reshape(shape)
    a = np.zeros((n, n))
    for axis, h in enumerate(spacing):
        for offset, weight in stencil.items():
            a[index.reshape(-1), np.roll(index, -offset, axis).reshape(-1)] -= weight / h**2
    return a


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("conserved", [True, False])
@pytest.mark.parametrize("curvature", [0.0, 2.0, -1.0])
def test_explicit_stability_limit_against_the_numerical_spectrum(order, conserved, curvature):
    """The limit is where the explicit-Euler amplification matrix of the linearized equation,
    I - dt M K (kappa L + c) (K = L for Cahn-Hilliard, I for Allen-Cahn, L = -lap built from
    the stencil), reaches spectral radius 1: checked with NumPy's eigenvalues on a 6 x 8 grid of
    unequal spacings."""
    shape, spacing, mobility, kappa = (6, 8), (0.7, 1.3), 1.7, 0.6
    lap = _minus_laplacian_matrix(shape, spacing, order)
    lam = np.linalg.eigvalsh(lap).max()
    assert pf.laplacian_max_eigenvalue(spacing, order) == pytest.approx(lam, rel=1e-12)
    limit = ops.explicit_stability_limit(spacing, mobility, kappa, conserved, curvature, laplacian_order=order)
    eye = np.eye(lap.shape[0])
    rate = mobility * (lap if conserved else eye) @ (kappa * lap + max(curvature, 0.0) * eye)

    def radius(dt):
        return np.abs(np.linalg.eigvals(eye - dt * rate)).max()

    assert radius(0.999 * limit) <= 1 + 1e-12 < radius(1.001 * limit)
    message = pf.explicit_stability_error(1.001 * limit, spacing, mobility, kappa, conserved, curvature, order)
    assert f"stability limit {limit:.6g}" in message and ("(16/3)/h^2" if order == 4 else "4/h^2") in message
    assert pf.explicit_stability_error(0.999 * limit, spacing, mobility, kappa, conserved, curvature, order) is None


def test_laplacian_max_eigenvalue_refuses_other_orders():
    with pytest.raises(ValueError, match="laplacian_max_eigenvalue: order must be 2 or 4, got 6"):
        pf.laplacian_max_eigenvalue([1.0], 6)
