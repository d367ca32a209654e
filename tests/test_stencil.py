"""Periodic stencil operators: _core against NumPy, convergence, conservation, adjoints, null spaces,
a compiled step with its gradient, and the wrappers' own errors. The op contracts (NumPy reference on
CPU/CUDA, gradcheck, opcheck, compile, zero-size and non-contiguous input, bad input) are in
test_op_table.py."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import reference as ref
from coarsegrain import _core, ops
from conftest import require_device, unit_roundoff

# name -> (torch wrapper, _core function, NumPy reference, takes a vector field)
OPS = {
    "laplacian2": (lambda x, h: ops.laplacian(x, h, order=2), lambda x, h: _core.laplacian(x, h, 2),
                   lambda x, h: ref.laplacian(x, h, 2), False),
    "laplacian4": (lambda x, h: ops.laplacian(x, h, order=4), lambda x, h: _core.laplacian(x, h, 4),
                   lambda x, h: ref.laplacian(x, h, 4), False),
    "gradient": (ops.gradient, _core.gradient, ref.gradient, False),
    "gradient_adjoint": (ops.gradient_adjoint, _core.gradient_adjoint, ref.gradient_adjoint, True),
    "divergence": (ops.divergence, _core.divergence, ref.divergence, True),
    "divergence_adjoint": (ops.divergence_adjoint, _core.divergence_adjoint,
                           ref.divergence_adjoint, False),
}

# Grids with odd, even, and degenerate (1, 2: narrower than the stencil) extents; (20, 11, 37)
# spans several CUDA tiles in x and y (32 x 8) and several z chunks, none of them full.
GRIDS = {1: [(17,), (2,), (1,)], 2: [(6, 9), (1, 5), (3, 2)], 3: [(5, 4, 7), (2, 3, 1), (20, 11, 37)]}
SPACINGS = {1: [0.3], 2: [0.3, 1.7], 3: [0.3, 1.7, 0.05]}
BATCHES = [(), (3,), (2, 2)]


def _input(name, batch, grid, dtype, seed=0):
    nd = len(grid)
    shape = (*batch, nd, *grid) if OPS[name][3] else (*batch, *grid)
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32 if dtype == torch.float32 else np.float64)


def _check_against_reference(name, out, x, h, dtype):
    expected = OPS[name][2](x.astype(np.float64), h)
    # A stencil sums O(1) terms of size |x| / h^2: bound the round-off by that.
    scale = np.abs(x).max() * sum(1.0 / hh**2 + 1.0 / hh for hh in h) * 64
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=8 * unit_roundoff(dtype) * scale)


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("batch", BATCHES, ids=str)
def test_core_matches_numpy(name, nd, batch, dtype):
    h = SPACINGS[nd]
    for grid in GRIDS[nd]:
        x = _input(name, batch, grid, dtype)
        out = OPS[name][1](x, h)
        assert out.dtype == x.dtype
        _check_against_reference(name, out, x, h, dtype)


@pytest.mark.parametrize("name", list(OPS))
def test_core_noncontiguous_input(name):
    # The torch ops' non-contiguous inputs are checked in test_op_table.py; here _core's NumPy views.
    h = SPACINGS[2]
    x = _input(name, (4,), (10, 12), torch.float64)
    np.testing.assert_array_equal(OPS[name][1](x[::2], h), OPS[name][1](np.ascontiguousarray(x[::2]), h))
    transposed = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    np.testing.assert_array_equal(OPS[name][1](transposed, h), OPS[name][1](x, h))


# --- convergence on smooth periodic fields ------------------------------------------------------

LENGTHS = (2 * math.pi, 3.0, 5.0)  # anisotropic periodic boxes
WAVES = (1, 2, 1)


def _mesh(n, nd, shift=0.0):
    """Cell-centre coordinates (shifted by `shift` cells along every axis), z-y-x order."""
    axes = [(np.arange(n) + shift) * LENGTHS[a] / n for a in range(nd)]
    return np.meshgrid(*axes, indexing="ij"), [LENGTHS[a] / n for a in range(nd)]


def _smooth(coords, nd):
    """u = prod_a sin(k_a x_a + a) and its exact gradient and Laplacian."""
    k = [2 * math.pi * WAVES[a] / LENGTHS[a] for a in range(nd)]
    s = [np.sin(k[a] * coords[a] + a) for a in range(nd)]
    c = [np.cos(k[a] * coords[a] + a) for a in range(nd)]
    u = np.prod(s, axis=0)
    grad = [k[a] * c[a] * np.prod([s[b] for b in range(nd) if b != a], axis=0) for a in range(nd)]
    lap = -sum(kk**2 for kk in k) * u
    return u, grad, lap


def _rate(errors):
    return math.log2(errors[0] / errors[1])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("order", [2, 4])
def test_laplacian_convergence(nd, order, device):
    errors = []
    for n in (16, 32):
        coords, h = _mesh(n, nd)
        u, _, lap = _smooth(coords, nd)
        out = ops.laplacian(torch.from_numpy(u).to(device), h, order=order).cpu().numpy()
        errors.append(np.abs(out - lap).max())
    assert abs(_rate(errors) - order) < 0.15, errors


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradient_convergence(nd, device):
    errors = []
    for n in (16, 32):
        coords, h = _mesh(n, nd)
        u, grad, _ = _smooth(coords, nd)
        out = ops.gradient(torch.from_numpy(u).to(device), h).cpu().numpy()
        errors.append(np.abs(out - np.stack(grad)).max())
    assert abs(_rate(errors) - 2) < 0.15, errors


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_divergence_of_face_flux_convergence(nd, device):
    # F_a sampled on the faces i + e_a/2; the divergence at the cell centres is second order.
    errors = []
    for n in (16, 32):
        coords, h = _mesh(n, nd)
        flux = []
        for a in range(nd):
            face_coords = list(coords)
            face_coords[a] = coords[a] + h[a] / 2
            flux.append(_smooth(face_coords, nd)[1][a])  # F = grad u, so div F = lap u
        lap = _smooth(coords, nd)[2]
        out = ops.divergence(torch.from_numpy(np.stack(flux)).to(device), h).cpu().numpy()
        errors.append(np.abs(out - lap).max())
    assert abs(_rate(errors) - 2) < 0.15, errors


# --- conservation, null spaces, adjoints --------------------------------------------------------


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_divergence_sums_to_zero(nd, dtype, device):
    h = SPACINGS[nd]
    grid = (12, 10, 6)[:nd]
    flux = torch.from_numpy(_input("divergence", (3,), grid, dtype, seed=1)).to(device)
    div = ops.divergence(flux, h)
    grid_dims = tuple(range(-nd, 0))
    total = div.double().sum(dim=grid_dims)
    magnitude = div.double().abs().sum(dim=grid_dims)
    # One rounding per point and term: the sum is zero up to eps times the sum of magnitudes.
    assert torch.all(total.abs() <= 4 * unit_roundoff(dtype) * magnitude), total


def _operator_matrix(apply, grid):
    """Dense matrix of a linear operator on a grid, one column per unit vector (a batch)."""
    n = int(np.prod(grid))
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *grid)
    return apply(eye).reshape(n, -1).T.numpy()


def test_staggered_laplacian_null_space_is_constants():
    grid, h = (6, 8), [0.7, 1.3]
    staggered = _operator_matrix(lambda u: ops.divergence(ops.face_gradient(u, h), h), grid)
    assert np.linalg.matrix_rank(staggered) == staggered.shape[0] - 1
    # It is the 5-point Laplacian exactly.
    lap = _operator_matrix(lambda u: ops.laplacian(u, h), grid)
    np.testing.assert_allclose(staggered, lap, atol=1e-12)
    # The centred gradient, by contrast, annihilates the checkerboard modes too.
    centred = _operator_matrix(lambda u: ops.gradient_adjoint(ops.gradient(u, h), h), grid)
    assert np.linalg.matrix_rank(centred) == centred.shape[0] - 4


@pytest.mark.parametrize(
    "forward,adjoint,vector_in",
    [(ops.gradient, ops.gradient_adjoint, False), (ops.divergence, ops.divergence_adjoint, True),
     (lambda u, h: ops.laplacian(u, h, order=4), lambda u, h: ops.laplacian(u, h, order=4), False)],
    ids=["gradient", "divergence", "laplacian4"],
)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adjoint_identity(forward, adjoint, vector_in, nd, device):
    # <A x, y> == <x, A^T y> for random x, y.
    h, grid = SPACINGS[nd], (7, 6, 5)[:nd]
    g = torch.Generator().manual_seed(nd)
    x = torch.randn((2, nd, *grid) if vector_in else (2, *grid), generator=g, dtype=torch.float64)
    ax = forward(x.to(device), h)
    y = torch.randn(ax.shape, generator=g, dtype=torch.float64).to(device)
    lhs = (ax * y).sum().item()
    rhs = (x.to(device) * adjoint(y, h)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


# --- autograd, opcheck, torch.compile -----------------------------------------------------------


def test_torch_compile_fullgraph(device):
    h = [0.5, 0.25]

    def step(u):
        mu = u**3 - u - ops.laplacian(u, h, order=4)
        return u + 1e-3 * ops.divergence(ops.face_gradient(mu, h), h) + 1e-3 * ops.gradient(u, h).sum(-3)

    u = torch.randn(2, 16, 12, dtype=torch.float64, device=device, requires_grad=True)
    compiled = torch.compile(step, fullgraph=True)
    expected = step(u)
    got = compiled(u)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    (g_expected,) = torch.autograd.grad(expected.square().sum(), u)
    (g_got,) = torch.autograd.grad(got.square().sum(), u)
    torch.testing.assert_close(g_got, g_expected, rtol=1e-12, atol=1e-12)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("np_dtype", [np.int32, np.complex128, np.float16])
def test_core_rejects_non_float_dtypes(np_dtype):
    with pytest.raises(TypeError, match=r"gradient: u must be a float32 or float64 array"):
        _core.gradient(np.zeros((4, 4), dtype=np_dtype), [1.0, 1.0])


# Bad input to the torch ops (dtype, rank, spacing, order, out buffers) is checked, with the fake
# kernels, in test_op_table.py; here _core's checks and the wrappers' own.


def test_core_rejects_too_few_dims():
    with pytest.raises(ValueError, match=r"laplacian: u must have at least 3 dimensions.*got 2"):
        _core.laplacian(np.zeros((4, 4)), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_core_rejects_bad_spacing(bad):
    with pytest.raises(ValueError, match=r"gradient: spacing\[1\] must be a positive finite number"):
        _core.gradient(np.zeros((4, 4)), [1.0, bad])


def test_scalar_spacing_needs_ndim():
    u = torch.zeros(3, 8, 8)
    with pytest.raises(ValueError, match=r"pass ndim"):
        ops.laplacian(u, 0.5)
    torch.testing.assert_close(ops.laplacian(u + 1, 0.5, ndim=2), torch.zeros_like(u))
    with pytest.raises(TypeError, match=r"spacing must be a number or a sequence"):
        ops.laplacian(u, None)


def test_rejects_flux_component_mismatch():
    h = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"flux must have 2 components .* got 3"):
        _core.divergence(np.zeros((3, 4, 4)), h)
    with pytest.raises(ValueError, match=r"one component per grid axis \(2\), got 3"):
        ops.divergence([torch.zeros(4, 4)] * 3, h)
    with pytest.raises(ValueError, match=r"flux\[1\] has shape \(4, 5\) but flux\[0\] has \(4, 4\)"):
        ops.divergence([torch.zeros(4, 4), torch.zeros(4, 5)], h)
    with pytest.raises(TypeError, match=r"flux\[1\] is torch.float32 but flux\[0\] is torch.float64"):
        ops.divergence([torch.zeros(4, 4, dtype=torch.float64), torch.zeros(4, 4)], h)


def test_rejects_flux_components_on_different_devices():
    with pytest.raises(ValueError, match=r"flux\[1\] is on meta but flux\[0\] is on cpu"):
        ops.divergence([torch.zeros(4, 4), torch.zeros(4, 4, device="meta")], [1.0, 1.0])


def test_core_rejects_bad_order_and_ops_non_tensors():
    with pytest.raises(ValueError, match=r"order must be 2 or 4, got 6"):
        _core.laplacian(np.zeros((4, 4)), [1.0, 1.0], 6)
    with pytest.raises(TypeError, match=r"laplacian: u must be a torch.Tensor, got ndarray"):
        ops.laplacian(np.zeros((4, 4)), [1.0, 1.0])


def test_rejects_flux_components_on_cpu_and_cuda():
    require_device("cuda")
    with pytest.raises(ValueError, match=r"flux\[1\] is on cpu but flux\[0\] is on cuda"):
        ops.divergence([torch.zeros(4, 4, device="cuda"), torch.zeros(4, 4)], [1.0, 1.0])


# --- out= overloads ------------------------------------------------------------------------------


def test_out_rejects_aliasing_and_non_tensor_buffers():
    # out's shape, dtype and layout, and out= under autograd: test_op_table.py.
    u = torch.randn(4, 6, 6, dtype=torch.float64)
    h = [1.0, 1.0]
    with pytest.raises(ValueError, match=r"out must not share memory with u"):
        ops.laplacian(u, h, out=u)
    with pytest.raises(TypeError, match=r"laplacian: out must be a torch.Tensor"):
        ops.laplacian(u, h, out=np.empty((4, 6, 6)))


# --- both compiled instruction-set copies of the CPU kernels -------------------------------------


def test_generic_cpu_kernels_match_numpy():
    """The baseline copy (forced by COARSEGRAIN_CPU_ISA=generic) is as correct as the default."""
    script = textwrap.dedent(
        """
        import json, sys
        import numpy as np
        from coarsegrain import _core
        sys.path.insert(0, sys.argv[1])
        import reference as ref
        h = [0.3, 1.7, 0.05]
        rng = np.random.default_rng(0)
        u = rng.standard_normal((2, 5, 6, 7))
        f = rng.standard_normal((2, 3, 5, 6, 7))
        errors = {
            "laplacian2": np.abs(_core.laplacian(u, h, 2) - ref.laplacian(u, h, 2)).max(),
            "laplacian4": np.abs(_core.laplacian(u, h, 4) - ref.laplacian(u, h, 4)).max(),
            "gradient": np.abs(_core.gradient(u, h) - ref.gradient(u, h)).max(),
            "divergence": np.abs(_core.divergence(f, h) - ref.divergence(f, h)).max(),
        }
        print(json.dumps({"isa": _core.active_cpu_isa(), "errors": errors}))
        """
    )
    env = {**os.environ, "COARSEGRAIN_CPU_ISA": "generic"}
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], env=env,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["isa"] == "generic"
    assert max(result["errors"].values()) < 1e-9, result
