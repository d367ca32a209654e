"""bin_particles (NGP and cloud-in-cell) against NumPy references: numpy.histogramdd for nearest
grid point, a bincount implementation of cloud in cell; conservation, edge cases, determinism
across thread counts, autograd at the weights' kinks and walls, the public wrapper, _core, CUDA.
opcheck, the fake kernels and the op's bad-input errors are in the op table (tests/op_samples.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import coarsegrain.ops as ops
from coarsegrain import _core

CUDA = torch.cuda.is_available() and hasattr(torch.ops.coarsegrain, "bin_particles") and \
    torch._C._dispatch_has_kernel_for_dispatch_key("coarsegrain::bin_particles", "CUDA")
DEVICES = ["cpu"] + (["cuda"] if CUDA else [])
TOL = {torch.float32: dict(rtol=2e-5, atol=2e-4), torch.float64: dict(rtol=1e-12, atol=1e-10)}


# --- NumPy references (independent of the op) ---------------------------------------------------


def ngp_reference(x, q, bins, box, origin, periodic):
    x = np.asarray(x, np.float64)
    origin = np.zeros(len(bins)) if origin is None else np.asarray(origin, np.float64)
    box = np.asarray(box, np.float64)
    if periodic:
        x = origin + np.mod(x - origin, box)
    rng = [(origin[a], origin[a] + box[a]) for a in range(len(bins))]
    if q is None:
        return np.histogramdd(x, bins=bins, range=rng)[0]
    return np.stack([np.histogramdd(x, bins=bins, range=rng, weights=q[:, j])[0] for j in range(q.shape[1])])


def cic_reference(x, q, bins, box, origin, periodic):
    x = np.asarray(x, np.float64)
    n, d = x.shape
    origin = np.zeros(d) if origin is None else np.asarray(origin, np.float64)
    h = np.asarray(box, np.float64) / np.asarray(bins)
    inside = np.ones(n, bool) if periodic else np.all((x >= origin) & (x <= origin + np.asarray(box)), axis=1)
    lo, hi, w_hi = [], [], []
    for a in range(d):
        s = (x[:, a] - origin[a]) / h[a] - 0.5
        f = np.floor(s)
        w_hi.append(s - f)
        i0 = f.astype(np.int64)
        if periodic:
            lo.append(np.mod(i0, bins[a]))
            hi.append(np.mod(i0 + 1, bins[a]))
        else:
            lo.append(np.clip(i0, 0, bins[a] - 1))
            hi.append(np.clip(i0 + 1, 0, bins[a] - 1))
    weights = np.ones((n, 1)) if q is None else np.asarray(q, np.float64)
    out = np.zeros((weights.shape[1], int(np.prod(bins))))
    for corner in itertools.product((0, 1), repeat=d):
        flat = np.zeros(n, np.int64)
        w = np.ones(n)
        for a, up in enumerate(corner):
            flat = flat * bins[a] + (hi[a] if up else lo[a])
            w = w * (w_hi[a] if up else 1 - w_hi[a])
        for j in range(weights.shape[1]):
            out[j] += np.bincount(flat[inside], weights=(w * weights[:, j])[inside], minlength=out.shape[1])
    out = out.reshape(weights.shape[1], *bins)
    return out[0] if q is None else out


REFERENCE = {"ngp": ngp_reference, "cic": cic_reference}

CASES = [  # (bins, box, origin)
    ([37], [2 * np.pi], None),
    ([16, 9], [2.0, 3.5], [-1.0, 0.25]),
    ([5, 7, 6], [1.0, 1.5, 2.0], [0.0, -0.5, 3.0]),
]


def _particles(n, box, origin, dtype, device, seed=0, margin=0.0):
    g = np.random.default_rng(seed)
    box = np.asarray(box)
    origin = np.zeros(len(box)) if origin is None else np.asarray(origin)
    x = origin + (-margin + (1 + 2 * margin) * g.random((n, len(box)))) * box
    return torch.tensor(x, dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("assignment", ["ngp", "cic"])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_numpy_reference(case, periodic, assignment, dtype, device):
    bins, box, origin = CASES[case]
    # Outside the box too: wrapped when periodic, dropped otherwise.
    x = _particles(3001, box, origin, dtype, device, seed=case, margin=0.3)
    q = torch.randn(3001, 2, dtype=dtype, device=device, generator=torch.Generator().manual_seed(1)) \
        if device == "cpu" else torch.randn(3001, 2, dtype=dtype).to(device)
    xn = x.double().cpu().numpy()
    ref = REFERENCE[assignment]
    counts, dropped = ops.bin_particles(x, bins=bins, box=box, origin=origin, assignment=assignment,
                                        periodic=periodic, return_dropped=True)
    expected = ref(xn, None, bins, box, origin, periodic)
    torch.testing.assert_close(counts.cpu().double(), torch.from_numpy(expected), **TOL[dtype])
    sums = ops.bin_particles(x, q, bins=bins, box=box, origin=origin, assignment=assignment, periodic=periodic)
    torch.testing.assert_close(sums.cpu().double(), torch.from_numpy(ref(xn, q.double().cpu().numpy(), bins, box,
                                                                           origin, periodic)), **TOL[dtype])
    lo = np.zeros(len(bins)) if origin is None else np.asarray(origin)
    outside = np.any((xn < lo) | (xn > lo + np.asarray(box)), axis=1).sum()
    assert int(dropped) == (0 if periodic else outside)
    if not periodic:
        assert outside > 100  # the case exercises dropping


@pytest.mark.parametrize("assignment", ["ngp", "cic"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_total_equals_sum_of_quantities(assignment, d):
    x = _particles(20000, [1.7] * d, None, torch.float64, "cpu", seed=d, margin=2.0)  # far outside: wrapped
    q = torch.randn(20000, 3, dtype=torch.float64)
    sums = ops.bin_particles(x, q, bins=[6] * d, box=1.7, assignment=assignment)
    total = sums.sum(dim=tuple(range(1, d + 1)))
    torch.testing.assert_close(total, q.sum(0), rtol=0, atol=1e-11)
    counts = ops.bin_particles(x.float(), bins=[6] * d, box=1.7, assignment=assignment)
    assert counts.sum().item() == pytest.approx(20000, abs=1e-2)


# --- edge cases (a dyadic box, where every position and cell edge is exact) ----------------------


def _ngp1(x, *, periodic=True, bins=8, box=1.0, dtype=torch.float64):
    return ops.bin_particles(torch.tensor([[v] for v in x], dtype=dtype), bins=[bins], box=[box],
                             periodic=periodic, return_dropped=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bin_edges_upper_face_and_far_outside(dtype):
    # On an interior edge a particle belongs to the cell above it (as numpy.histogramdd).
    c, dropped = _ngp1([0.125, 0.5, 0.0], dtype=dtype)
    assert c.tolist() == [1, 1, 0, 0, 1, 0, 0, 0] and int(dropped) == 0
    # The upper face: the first cell when periodic, the last one (not dropped) otherwise.
    assert _ngp1([1.0], dtype=dtype)[0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    c, dropped = _ngp1([1.0], periodic=False, dtype=dtype)
    assert c.tolist() == [0, 0, 0, 0, 0, 0, 0, 1] and int(dropped) == 0
    # Far outside a periodic box: x = 10 L and -3 L are x = 0; 10 L + 0.3 h is in cell 0, -3 L - 0.3 h in cell 7.
    c, _ = _ngp1([10.0, -3.0, 10.0 + 0.3 / 8, -3.0 - 0.3 / 8], dtype=dtype)
    assert c.tolist() == [3, 0, 0, 0, 0, 0, 0, 1]
    # Just outside a non-periodic box: dropped and counted.
    c, dropped = _ngp1([-1e-9, 1.0 + 1e-6, 0.5], periodic=False, dtype=dtype)
    assert c.sum().item() == 1 and int(dropped) == 2


def test_far_outside_with_a_non_dyadic_box():
    L, n = 2 * np.pi, 64
    h = L / n
    x = torch.tensor([[10 * L + 5.5 * h], [-3 * L + 20.5 * h], [1e6 * L + 0.5 * h]], dtype=torch.float64)
    c = ops.bin_particles(x, bins=n, box=L)
    assert c.nonzero().flatten().tolist() == [0, 5, 20]


@pytest.mark.parametrize("periodic", [True, False])
def test_cic_single_bin_and_edges(periodic):
    x = torch.tensor([[0.0], [0.999], [0.5], [1.0]], dtype=torch.float64)
    one = ops.bin_particles(x, bins=1, box=1.0, assignment="cic", periodic=periodic)
    assert one.tolist() == [4.0]
    # Cell-centred weights: a particle on a cell centre puts all of it there; half way between
    # centres, half each; at the walls of a non-periodic box the half beyond the outer centre
    # stays in the outer cell, while periodic wraps it.
    c = ops.bin_particles(torch.tensor([[0.125], [0.25]], dtype=torch.float64), bins=4, box=1.0,
                          assignment="cic", periodic=periodic)
    assert c.tolist() == [1.5, 0.5, 0.0, 0.0]
    wall = ops.bin_particles(torch.tensor([[0.0]], dtype=torch.float64), bins=4, box=1.0, assignment="cic",
                             periodic=periodic)
    assert wall.tolist() == ([0.5, 0, 0, 0.5] if periodic else [1.0, 0, 0, 0])


@pytest.mark.parametrize("device", DEVICES)
def test_nonfinite_positions_raise_naming_count_and_first(device):
    x = torch.rand(50, 3, dtype=torch.float64, device=device)
    x[7, 2] = float("nan")
    x[30, 0] = float("inf")
    x[31, 1] = -float("inf")
    with pytest.raises(ValueError, match=r"positions has 3 particle\(s\) with a NaN or infinite coordinate "
                                         r"\(the first: particle 7, coordinate 2\)"):
        ops.bin_particles(x, bins=4, box=1.0)
    with pytest.raises(ValueError, match="particle 7, coordinate 2"):
        _core.bin_particles(x.cpu().numpy(), bins=[4] * 3, box=[1.0] * 3, assignment="cic")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("assignment", ["ngp", "cic"])
def test_zero_particles(assignment, device):
    x = torch.empty(0, 2, device=device)
    c, dropped = ops.bin_particles(x, bins=[3, 4], box=1.0, assignment=assignment, return_dropped=True)
    assert c.shape == (3, 4) and c.abs().sum().item() == 0 and int(dropped) == 0
    s = ops.bin_particles(x, torch.empty(0, 5, device=device), bins=[3, 4], box=1.0, assignment=assignment)
    assert s.shape == (5, 3, 4) and s.abs().sum().item() == 0


def test_non_contiguous_inputs_match_contiguous():
    base = torch.rand(3, 4000, dtype=torch.float64)
    x = base[:2].t()  # [4000, 2], strided
    q = torch.randn(2, 4000, dtype=torch.float64).t()
    assert not x.is_contiguous() and not q.is_contiguous()
    for assignment in ("ngp", "cic"):
        torch.testing.assert_close(ops.bin_particles(x, q, bins=[5, 6], box=1.0, assignment=assignment),
                                   ops.bin_particles(x.contiguous(), q.contiguous(), bins=[5, 6], box=1.0,
                                                     assignment=assignment), rtol=0, atol=0)


# --- determinism: the same bits for any thread count -------------------------------------------


@pytest.mark.parametrize("assignment", ["ngp", "cic"])
def test_same_bits_for_any_thread_count(assignment):
    x = _particles(700_001, [2 * np.pi, 2 * np.pi], None, torch.float32, "cpu", seed=3)
    q = torch.randn(700_001, 2)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 4):
            torch.set_num_threads(threads)
            results.append((ops.bin_particles(x, q, bins=[64, 64], box=2 * np.pi, assignment=assignment),
                            ops.bin_particles(x, bins=[64, 64], box=2 * np.pi, assignment=assignment)))
    finally:
        torch.set_num_threads(before)
    for sums, counts in results[1:]:
        assert torch.equal(sums, results[0][0]) and torch.equal(counts, results[0][1])
    # double accumulation: float32 sums match the float64 reference to float32 rounding of the result
    ref = cic_reference if assignment == "cic" else ngp_reference
    expected = ref(x.double().numpy(), q.double().numpy(), [64, 64], [2 * np.pi] * 2, None, True)
    np.testing.assert_allclose(results[0][0].numpy(), expected, rtol=1e-6, atol=1e-4)


def test_core_matches_torch_op():
    x = _particles(5000, [1.0, 2.0, 3.0], [0.5, 0, 0], torch.float64, "cpu", margin=0.1)
    q = torch.randn(5000, 2, dtype=torch.float64)
    for assignment, periodic in itertools.product(("ngp", "cic"), (True, False)):
        kw = dict(bins=[4, 5, 6], box=[1.0, 2.0, 3.0], origin=[0.5, 0, 0], assignment=assignment, periodic=periodic)
        s, dropped = _core.bin_particles(x.numpy(), q.numpy(), **kw)
        t, t_dropped = ops.bin_particles(x, q, return_dropped=True, **kw)
        np.testing.assert_array_equal(s, t.numpy())
        assert dropped == int(t_dropped)
        c, _ = _core.bin_particles(x.numpy().astype(np.float32), None, **kw)
        np.testing.assert_array_equal(c, ops.bin_particles(x.float(), **kw).numpy())
        one, _ = _core.bin_particles(x.numpy(), q[:, 0].numpy(), **kw)
        np.testing.assert_array_equal(one, s[0])


# --- autograd, opcheck, compile ----------------------------------------------------------------


def _away_from_centres(n, d, bins, seed=0):
    """Positions at least 0.05 cells from every cell centre (the CIC weights' kinks)."""
    g = np.random.default_rng(seed)
    cell = g.integers(0, bins, size=(n, d))
    frac = g.choice([-1, 1], size=(n, d)) * g.uniform(0.05, 0.45, size=(n, d))
    return torch.tensor((cell + 0.5 + frac) / bins, dtype=torch.float64)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("periodic", [True, False])
def test_gradcheck_cic_positions_and_quantities(d, periodic):
    x = _away_from_centres(12, d, 4, seed=d).requires_grad_()
    q = torch.randn(12, 2, dtype=torch.float64, requires_grad=True)
    def fn(x_, q_):
        return ops.bin_particles(x_, q_, bins=[4] * d, box=1.0, assignment="cic", periodic=periodic)

    assert torch.autograd.gradcheck(fn, (x, q))
    assert torch.autograd.gradcheck(lambda x_: ops.bin_particles(x_, bins=[4] * d, box=1.0, assignment="cic",
                                                                 periodic=periodic), (x,))


def test_cic_position_gradient_is_the_analytic_slope():
    # One particle between the centres of cells 1 and 2 (of 4 on [0, 1)): cell 2 gets s - 1 with
    # s = 4 x - 1/2, so d(cell 2)/dx = 4 and d(cell 1)/dx = -4.
    x = torch.tensor([[0.4]], dtype=torch.float64, requires_grad=True)
    c = ops.bin_particles(x, bins=4, box=1.0, assignment="cic")
    (g,) = torch.autograd.grad(c[2] - 2 * c[1], x)
    assert g.item() == pytest.approx(4 + 8)


@pytest.mark.parametrize("periodic", [True, False])
def test_gradcheck_ngp_quantities_and_refusal_for_positions(periodic):
    x = _away_from_centres(20, 2, 5).mul(1.2).sub(0.1)  # some outside a non-periodic box
    q = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q_: ops.bin_particles(x, q_, bins=[5, 5], box=1.0, periodic=periodic),
                                    (q,))
    xr = x.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="nearest-grid-point assignment is piecewise constant"):
        ops.bin_particles(xr, q, bins=[5, 5], box=1.0).sum().backward()
    g = torch.ones(1, 5, 5, dtype=torch.float64)
    with pytest.raises(NotImplementedError, match="bin_particles_backward is not differentiable"):
        gp, _ = torch.ops.coarsegrain.bin_particles_backward(g.requires_grad_(), x, None, [5, 5], [1.0, 1.0], [],
                                                             "cic", True)
        gp.sum().backward()


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    x = _away_from_centres(500, 2, 8)
    q = torch.randn(500, 2, dtype=torch.float64)

    def density(x_, q_):
        return ops.bin_particles(x_, q_, bins=[8, 8], box=1.0, assignment="cic").sum(0) * 64 / 500

    compiled = torch.compile(density, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, q), density(x, q))


# --- bad input (the op's own checks, eager and fake, are in tests/op_samples.py's table) --------------


def test_public_wrapper_errors():
    with pytest.raises(ValueError, match="assignment must be"):
        ops.bin_particles(torch.rand(3, 1), bins=2, box=1.0, assignment="nearest")
    with pytest.raises(TypeError, match="positions must be a torch.Tensor"):
        ops.bin_particles(np.zeros((3, 1)), bins=2, box=1.0)
    with pytest.raises(ValueError, match="bins must have one entry per coordinate"):
        _core.bin_particles(np.zeros((3, 2)), bins=[2], box=[1.0, 1.0])


# --- CUDA against the CPU ------------------------------------------------------------------------


@pytest.mark.skipif(not CUDA, reason="CUDA build and GPU needed")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("assignment", ["ngp", "cic"])
@pytest.mark.parametrize("bins", [[256], [64, 64], [96, 96, 96]])
def test_cuda_matches_cpu(bins, assignment, dtype):
    d = len(bins)
    x = _particles(200_000, [2.0] * d, None, dtype, "cpu", margin=0.2)
    q = torch.randn(200_000, 2, dtype=dtype)
    for periodic in (True, False):
        cpu, dc = ops.bin_particles(x, q, bins=bins, box=2.0, assignment=assignment, periodic=periodic,
                                    return_dropped=True)
        gpu, dg = ops.bin_particles(x.cuda(), q.cuda(), bins=bins, box=2.0, assignment=assignment,
                                    periodic=periodic, return_dropped=True)
        torch.testing.assert_close(gpu.cpu(), cpu, **TOL[dtype])
        assert int(dg) == int(dc)
    xg = _away_from_centres(40, d, 4).to(dtype).cuda()
    if dtype == torch.float64:
        qg = torch.randn(40, 2, dtype=dtype, device="cuda", requires_grad=True)
        def fn(x_, q_):
            return ops.bin_particles(x_, q_, bins=[4] * d, box=1.0, assignment="cic")

        assert torch.autograd.gradcheck(fn, (xg.requires_grad_(), qg))
