"""The 2D lattice heterogeneous-diffusion rate (issue 19, arbabi2020 sec. 5.2, Eq 25-26). The op
table (op_samples.py) holds the np.roll reference in float32 / float64 (periodic and patch, batched,
shared and per-patch diffusivities, odd and degenerate sizes), gradcheck / gradgradcheck, opcheck,
torch.compile, zero-size, non-contiguous and bad-input checks; here: conservation to round-off
(periodic sums and a patch's ring fluxes), the paper's 3-periodic diffusivities against a loop
written from Eq 25 with the paper's own indices, the _core (NumPy) twin, thread-count determinism,
the wrapper's broadcasting, compiled gradients, the README example, and CUDA against CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coarsegrain import _core, ops

f64 = torch.float64

# arbabi2020 Eq 26: kappa^x_{i,j} = KX[i mod 3, j mod 3] (first index i along x), likewise kappa^y.
KX = np.array([[1.0566, 0.6668, 1.1568], [6.5894, 0.8683, 2.4174], [0.9473, 1.1407, 1.6610]])
KY = np.array([[3.6355, 0.4470, 2.3896], [0.8628, 4.8558, 0.2833], [4.5025, 1.5865, 0.5679]])


def _field(shape, dtype, seed, positive=False):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(shape, generator=g, dtype=f64) if positive else torch.randn(shape, generator=g, dtype=f64)
    return (0.5 + 2.0 * t if positive else t).to(dtype)


def _term_scale(u, kx, ky, h):
    """Per point, the sum of |terms| of Eq 25 (float64): what one rate's round-off is relative to."""
    u, kx, ky = (t.double() for t in (u, kx, ky))
    kx, ky = kx.expand(u.shape), ky.expand(u.shape)
    return ((kx * (u.roll(-1, -1) - u).abs() + kx.roll(1, -1) * (u.roll(1, -1) - u).abs()
             + ky * (u.roll(-1, -2) - u).abs() + ky.roll(1, -2) * (u.roll(1, -2) - u).abs()) / h**2)


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, k_shape", [((3, 17, 13), (17, 13)), ((2, 9, 10), (2, 9, 10)), ((1, 1), (1, 1)),
                                            ((4, 2, 7), (2, 7))])
def test_periodic_rates_sum_to_zero(dtype, shape, k_shape):
    # every bond's flux enters its two ends with opposite signs
    u = _field(shape, dtype, 1)
    kx, ky = _field(k_shape, dtype, 2, positive=True), _field(k_shape, dtype, 3, positive=True)
    h = 0.37
    rate = ops.lattice_diffusion_rate(u, kx, ky, spacing=h)
    total = rate.double().sum(dim=(-2, -1))
    bound = 16 * torch.finfo(dtype).eps * _term_scale(u, kx, ky, h).sum(dim=(-2, -1))
    assert torch.all(total.abs() <= bound), (total, bound)
    assert u.shape[-2:] == (1, 1) or float(rate.double().abs().max()) > 1.0  # not trivially zero


def _ring_flux(u, kx, ky, h):
    """The net flux into a patch's interior through the bonds between ring and interior (NumPy,
    one sum per side): left kx[j, 0], right kx[j, nx-2], bottom ky[0, i], top ky[ny-2, i]."""
    u, kx, ky = (np.broadcast_to(a, u.shape).astype(np.float64) for a in (u, kx, ky))
    inner = slice(1, -1)
    left = kx[..., inner, 0] * (u[..., inner, 0] - u[..., inner, 1])
    right = kx[..., inner, -2] * (u[..., inner, -1] - u[..., inner, -2])
    bottom = ky[..., 0, inner] * (u[..., 0, inner] - u[..., 1, inner])
    top = ky[..., -2, inner] * (u[..., -1, inner] - u[..., -2, inner])
    return (left.sum(-1) + right.sum(-1) + bottom.sum(-1) + top.sum(-1)) / h**2


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, k_shape", [((6, 5, 5), (5, 5)), ((2, 3, 11, 8), (3, 11, 8)), ((3, 3), (3, 3))])
def test_patch_interior_rates_sum_to_the_ring_flux(dtype, shape, k_shape):
    u = _field(shape, dtype, 4)
    kx, ky = _field(k_shape, dtype, 5, positive=True), _field(k_shape, dtype, 6, positive=True)
    h = 0.0131
    rate = ops.lattice_diffusion_rate(u, kx, ky, spacing=h, boundary="patch")
    assert torch.all(rate[..., 0, :] == 0) and torch.all(rate[..., -1, :] == 0)
    assert torch.all(rate[..., :, 0] == 0) and torch.all(rate[..., :, -1] == 0)
    total = rate.double().sum(dim=(-2, -1)).numpy()
    expected = _ring_flux(u.numpy(), kx.numpy(), ky.numpy(), h)
    bound = 16 * torch.finfo(dtype).eps * _term_scale(u, kx, ky, h)[..., 1:-1, 1:-1].sum(dim=(-2, -1)).numpy()
    assert np.all(np.abs(total - expected) <= bound), (total - expected, bound)
    assert np.all(np.abs(expected) > 100 * bound)  # the ring flux is far from zero: the check bites


def _eq25_loop(u_paper, kx_of, ky_of, h):
    """Eq 25 verbatim, with the paper's indices: u_paper[i, j], i along x, periodic."""
    nxp, nyp = u_paper.shape
    rate = np.zeros_like(u_paper)
    for i in range(nxp):
        for j in range(nyp):
            ip, im, jp, jm = (i + 1) % nxp, (i - 1) % nxp, (j + 1) % nyp, (j - 1) % nyp
            c = u_paper[i, j]
            rate[i, j] = (kx_of(i, j) * (u_paper[ip, j] - c) + kx_of(im, j) * (u_paper[im, j] - c)
                          + ky_of(i, j) * (u_paper[i, jp] - c) + ky_of(i, jm) * (u_paper[i, jm] - c)) / h**2
    return rate


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
def test_the_papers_three_periodic_lattice_matches_a_loop_over_eq_25(dtype):
    # the bi-periodic [0, 2 pi)^2 lattice of sec. 5.2, coarser (48 x 36 points, both divisible by 3)
    nx, ny = 48, 36
    h = 2 * math.pi / nx
    x = np.arange(nx) * h
    y = np.arange(ny) * (2 * math.pi / ny)
    # a smooth field, in the op's layout [ny, nx] (x last)
    u = np.sin(x)[None, :] * np.cos(2 * y)[:, None] + 0.3 * np.cos(3 * x[None, :] + y[:, None])
    expected = _eq25_loop(u.T.copy(), lambda i, j: KX[i % 3, j % 3], lambda i, j: KY[i % 3, j % 3], h).T
    # the op's layout: kx[j, i] = KX[i mod 3, j mod 3], i.e. the transposed matrix, tiled
    kx, ky = np.tile(KX.T, (ny // 3, nx // 3)), np.tile(KY.T, (ny // 3, nx // 3))
    got = ops.lattice_diffusion_rate(*(torch.from_numpy(a).to(dtype) for a in (u, kx, ky)), spacing=h).double().numpy()
    scale = float(_term_scale(*(torch.from_numpy(a) for a in (u, kx, ky)), h).max())
    np.testing.assert_allclose(got, expected, rtol=0, atol=16 * torch.finfo(dtype).eps * scale)
    # the heterogeneity matters at the lattice scale: the same field with the matrices untransposed
    # (x and y bonds swapped for an index convention mix-up) differs by far more than round-off
    wrong = np.tile(KX, (ny // 3, nx // 3))
    other = ops.lattice_diffusion_rate(*(torch.from_numpy(a) for a in (u, wrong, ky)), spacing=h).numpy()
    assert np.abs(other - expected).max() > 1e3 * 16 * torch.finfo(dtype).eps * scale


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("boundary", ["periodic", "patch"])
def test_core_matches_the_torch_op(dtype, boundary):
    u = _field((2, 3, 7, 6), dtype, 7)
    kx, ky = _field((3, 7, 6), dtype, 8, positive=True), _field((7, 6), dtype, 9, positive=True)
    got = _core.lattice_diffusion_rate(u.numpy(), kx.numpy(), ky.numpy(), spacing=0.4, boundary=boundary)
    expected = ops.lattice_diffusion_rate(u, kx, ky, spacing=0.4, boundary=boundary)
    assert got.dtype == u.numpy().dtype and got.shape == u.shape
    np.testing.assert_array_equal(got, expected.numpy())
    # non-contiguous NumPy input: copied to C order first
    got = _core.lattice_diffusion_rate(u.numpy()[..., ::-1].copy()[..., ::-1], kx.numpy(), ky.numpy(), spacing=0.4,
                                       boundary=boundary)
    np.testing.assert_array_equal(got, expected.numpy())


def test_core_errors():
    with pytest.raises(ValueError, match=r"^lattice_diffusion_rate: boundary must be 'periodic' or 'patch', got 'x'$"):
        _core.lattice_diffusion_rate(np.zeros((3, 3)), np.ones((3, 3)), np.ones((3, 3)), spacing=1.0, boundary="x")
    with pytest.raises(ValueError, match=r"^lattice_diffusion_rate: ky must have the shape of u \[3, 4\]"):
        _core.lattice_diffusion_rate(np.zeros((3, 4)), np.ones((3, 4)), np.ones((4, 3)), spacing=1.0)
    with pytest.raises(ValueError, match=r"^lattice_diffusion_rate: spacing must be a positive finite number, got nan$"):
        _core.lattice_diffusion_rate(np.zeros((3, 4)), np.ones((3, 4)), np.ones((3, 4)), spacing=math.nan)
    with pytest.raises(TypeError, match=r"^lattice_diffusion_rate: kx must have the dtype of u \(float64\), got float32"):
        _core.lattice_diffusion_rate(np.zeros((3, 4)), np.ones((3, 4), np.float32), np.ones((3, 4)), spacing=1.0)
    with pytest.raises(TypeError, match=r"^lattice_diffusion_rate: u must be a float32 or float64 array"):
        _core.lattice_diffusion_rate(np.zeros((3, 4), np.int32), np.ones((3, 4)), np.ones((3, 4)), spacing=1.0)


# Shapes that take each order of the CPU kernel's work: groups of whole small patches, rows across
# the planes (long rows, diffusivities shared by every plane), rows a plane at a time (the rest).
CPU_PATHS = [  # u shape, kx shape, ky shape, boundary
    ((3000, 5, 5), (5, 5), (5, 5), "patch"),
    ((40, 70, 5, 5), (70, 5, 5), (40, 70, 5, 5), "patch"),
    ((4, 130, 129), (130, 129), (130, 129), "periodic"),
    ((3, 80, 97), (80, 97), (80, 97), "patch"),
    ((4, 130, 129), (130, 129), (4, 130, 129), "periodic"),
    ((3, 200, 97), (200, 97), (3, 200, 97), "patch"),
    ((700, 7, 11), (7, 11), (7, 11), "periodic"),
]


@pytest.mark.parametrize("shape, kx_shape, ky_shape, boundary", CPU_PATHS)
def test_every_cpu_path_matches_numpy(shape, kx_shape, ky_shape, boundary):
    from op_samples import _lattice_reference

    u = _field(shape, f64, 30)
    kx, ky = _field(kx_shape, f64, 31, positive=True), _field(ky_shape, f64, 32, positive=True)
    got = ops.lattice_diffusion_rate(u, kx, ky, spacing=0.25, boundary=boundary).numpy()
    (expected,) = _lattice_reference(u.numpy(), kx.numpy(), ky.numpy(), 0.25, boundary)
    np.testing.assert_allclose(got, expected, rtol=0, atol=64 * np.finfo(np.float64).eps * float(np.abs(expected).max()))


@pytest.mark.parametrize("shape, kx_shape, ky_shape, boundary", CPU_PATHS)
def test_same_bits_for_any_thread_count_and_any_batch_split(shape, kx_shape, ky_shape, boundary):
    # above 2^15 points the CPU kernel splits the work among threads
    u = _field(shape, torch.float32, 10)
    kx, ky = _field(kx_shape, torch.float32, 11, positive=True), _field(ky_shape, torch.float32, 12, positive=True)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.lattice_diffusion_rate(u, kx, ky, spacing=0.1, boundary=boundary)
        torch.set_num_threads(max(3, threads))
        many = ops.lattice_diffusion_rate(u, kx, ky, spacing=0.1, boundary=boundary)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)
    for k in (0, shape[0] // 2, shape[0] - 1):  # a batch entry alone takes other chunk and group boundaries
        ky_k = ky[k] if ky.dim() == u.dim() else ky
        assert torch.equal(ops.lattice_diffusion_rate(u[k], kx, ky_k, spacing=0.1, boundary=boundary), one[k])


def test_wrapper_broadcasts_the_diffusivities():
    u = _field((2, 3, 6, 5), f64, 13)
    kx = _field((6, 5), f64, 14, positive=True).requires_grad_()
    ky = _field((3, 1, 5), f64, 15, positive=True)  # broadcasts to u: expanded
    got = ops.lattice_diffusion_rate(u, kx[None, None], ky, spacing=0.3)
    expected = ops.lattice_diffusion_rate(u, kx.detach(), ky.expand(2, 3, 6, 5).contiguous(), spacing=0.3)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    got.sum().backward()
    assert kx.grad.shape == (6, 5)
    with pytest.raises(ValueError, match=r"^lattice_diffusion_rate: ky must have the shape of u \[2, 3, 6, 5\]"):
        ops.lattice_diffusion_rate(u, kx, ky[:, :, :4], spacing=0.3)
    with pytest.raises(TypeError, match=r"^lattice_diffusion_rate: spacing must be a number, got str"):
        ops.lattice_diffusion_rate(u, kx, kx, spacing="0.3")
    with pytest.raises(TypeError, match=r"^lattice_diffusion_rate: kx must be a torch.Tensor, got ndarray"):
        ops.lattice_diffusion_rate(u, np.ones((6, 5)), kx, spacing=0.3)


def test_wrapper_reads_an_expanded_diffusivity_once():
    # kx.expand(...) over u's leading axes (stride 0) goes to the op as the one [ny, nx] plane
    from coarsegrain.ops.lattice import _fit_diffusivity

    u = _field((4, 3, 6, 5), f64, 16)
    kx = _field((6, 5), f64, 17, positive=True).requires_grad_()
    ky = _field((3, 6, 5), f64, 18, positive=True)
    expanded = kx.expand(4, 3, 6, 5)
    assert _fit_diffusivity(expanded, u).shape == (6, 5)
    assert _fit_diffusivity(ky.expand(4, 3, 6, 5), u).shape == (3, 6, 5)
    assert _fit_diffusivity(kx.detach().repeat(4, 3, 1, 1), u).shape == (4, 3, 6, 5)  # a copy: read as it is
    got = ops.lattice_diffusion_rate(u, expanded, ky.expand(4, 3, 6, 5), spacing=0.2, boundary="patch")
    expected = ops.lattice_diffusion_rate(u, kx.detach().repeat(4, 3, 1, 1), ky.repeat(4, 1, 1, 1), spacing=0.2,
                                          boundary="patch")
    assert torch.equal(got, expected)
    (grad,) = torch.autograd.grad(got.square().sum(), kx)
    plain = kx.detach().repeat(4, 3, 1, 1).requires_grad_()
    ops.lattice_diffusion_rate(u, plain, ky, spacing=0.2, boundary="patch").square().sum().backward()
    torch.testing.assert_close(grad, plain.grad.sum(dim=(0, 1)), rtol=1e-13, atol=0)
    # a repeat over a leading axis of the wrong size is still an error, not silently dropped
    with pytest.raises(ValueError, match=r"^lattice_diffusion_rate: kx must have the shape of u \[4, 3, 6, 5\]"):
        ops.lattice_diffusion_rate(u, kx.expand(2, 3, 6, 5), ky, spacing=0.2)


@pytest.mark.parametrize("boundary", ["periodic", "patch"])
def test_gradients_are_the_adjoint(boundary):
    # <g, d rate> = <grad, d input> for a random direction in each input (the rate is linear in each)
    u, g = _field((3, 6, 7), f64, 16), _field((3, 6, 7), f64, 17)
    kx, ky = _field((6, 7), f64, 18, positive=True), _field((3, 6, 7), f64, 19, positive=True)
    du, dkx, dky = _field((3, 6, 7), f64, 20), _field((6, 7), f64, 21), _field((3, 6, 7), f64, 22)
    inputs = [t.clone().requires_grad_() for t in (u, kx, ky)]
    rate = ops.lattice_diffusion_rate(*inputs, spacing=0.6, boundary=boundary)
    grads = torch.autograd.grad(rate, inputs, g)
    r = lambda a, b, c: ops.lattice_diffusion_rate(a, b, c, spacing=0.6, boundary=boundary)  # noqa: E731
    base = r(u, kx, ky)
    for grad, direction, moved in zip(grads, (du, dkx, dky), (r(u + du, kx, ky), r(u, kx + dkx, ky), r(u, kx, ky + dky))):
        lhs = float((g * (moved - base)).sum())
        assert abs(lhs - float((grad * direction).sum())) <= 1e-11 * max(1.0, abs(lhs))


def test_compiled_gradients_match_eager():
    u = _field((4, 5, 5), f64, 23).requires_grad_()
    kx, ky = (_field((5, 5), f64, s, positive=True).requires_grad_() for s in (24, 25))

    def loss(u, kx, ky):
        return ops.lattice_diffusion_rate(u, kx, ky, spacing=0.0131, boundary="patch").square().sum()

    eager = torch.autograd.grad(loss(u, kx, ky), (u, kx, ky))
    torch._dynamo.reset()
    compiled = torch.autograd.grad(torch.compile(loss, fullgraph=True)(u, kx, ky), (u, kx, ky))
    for a, b in zip(compiled, eager):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)


def test_readme_example_runs():
    kx = torch.from_numpy(np.tile(KX.T, (2, 2))[:5, :5]).float()
    ky = torch.from_numpy(np.tile(KY.T, (2, 2))[:5, :5]).float()
    u2 = torch.rand(100, 16, 16, 5, 5, generator=torch.Generator().manual_seed(26))
    rate = ops.lattice_diffusion_rate(u2, kx, ky, spacing=0.0131, boundary="patch")
    assert rate.shape == u2.shape and float(rate[..., 0, :].abs().max()) == 0.0
    u2 = u2 + 1e-6 * rate  # an explicit micro-step (dt < h^2 / (4 max kappa) ~ 6.6e-6 for stability)
    assert bool(torch.isfinite(u2).all())


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
def test_cuda_matches_cpu(dtype):
    from conftest import require_device

    require_device("cuda")
    u = _field((5, 3, 33, 70), dtype, 27)
    kx, ky = _field((3, 33, 70), dtype, 28, positive=True), _field((33, 70), dtype, 29, positive=True)
    tol = dict(rtol=1e-5, atol=1e-3) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-9)
    for boundary in ("periodic", "patch"):
        cpu = ops.lattice_diffusion_rate(u, kx, ky, spacing=0.05, boundary=boundary)
        gpu = ops.lattice_diffusion_rate(u.cuda(), kx.cuda(), ky.cuda(), spacing=0.05, boundary=boundary)
        torch.testing.assert_close(gpu.cpu(), cpu, **tol)
        inputs = [t.cuda().requires_grad_() for t in (u, kx, ky)]
        gpu_grads = torch.autograd.grad(ops.lattice_diffusion_rate(*inputs, spacing=0.05, boundary=boundary).square().sum(),
                                        inputs)
        inputs = [t.clone().requires_grad_() for t in (u, kx, ky)]
        cpu_grads = torch.autograd.grad(ops.lattice_diffusion_rate(*inputs, spacing=0.05, boundary=boundary).square().sum(),
                                        inputs)
        for a, b in zip(gpu_grads, cpu_grads):
            torch.testing.assert_close(a.cpu(), b, rtol=1e-4 if dtype == torch.float32 else 1e-11,
                                       atol=float(b.abs().max()) * (1e-5 if dtype == torch.float32 else 1e-12))
