"""Tridiagonal solves and the implicit heterogeneous-diffusion micro-step (issue 19, arbabi2020
sec. 3 / 5.1). The op table (op_samples.py) holds the scipy.linalg.solve_banded and dense
numpy.linalg.solve references, gradcheck, opcheck, compile, zero-size, non-contiguous and bad-input
checks; here: conservation to round-off, convergence orders toward analytic solutions, the _core
(NumPy) twins, thread-count determinism, the paper's stiff micro-scale, and CUDA against CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coarsegrain import _core, ops

f64 = torch.float64


def _micro_problem(rows, n, dtype, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(rows, n, generator=g, dtype=f64)
    x_faces = torch.linspace(0.0, 1.0, n + 1, dtype=f64)
    a = 1.1 + torch.sin(2 * math.pi * x_faces * 7.3 + torch.rand(rows, 1, generator=g, dtype=f64))
    left, right = torch.randn(rows, generator=g, dtype=f64), torch.randn(rows, generator=g, dtype=f64)
    return [t.to(device, dtype) for t in (u, a, left, right)]


def _wall_fluxes(u, a, left, right, dx):
    """The fluxes into the domain through the left wall and out of it through the right wall."""
    return -2 * a[..., 0] * (u[..., 0] - left) / dx, -2 * a[..., -1] * (right - u[..., -1]) / dx


@pytest.mark.parametrize("scheme, theta", [("backward_euler", 1.0), ("crank_nicolson", 0.5)])
@pytest.mark.parametrize("dt", [1e-6, 1e-3, 1.0])
def test_total_changes_only_through_the_wall_fluxes(scheme, theta, dt):
    dx = 1.0 / 200
    u, a, left, right = _micro_problem(8, 200, f64)
    new = ops.heterogeneous_diffusion_step(u, a, spacing=dx, dt=dt, left=left, right=right, scheme=scheme)
    f0_old, fn_old = _wall_fluxes(u, a, left, right, dx)
    f0_new, fn_new = _wall_fluxes(new, a, left, right, dx)
    change = (new - u).sum(-1) * dx
    expected = dt * (theta * (f0_new - fn_new) + (1 - theta) * (f0_old - fn_old))
    # round-off: each of n cells moves by ~ |u| + dt |flux| / dx; the sums carry n of them
    scale = (u.abs().sum(-1) + new.abs().sum(-1)) * dx + dt * (f0_new.abs() + fn_new.abs() + f0_old.abs() + fn_old.abs())
    assert torch.all((change - expected).abs() <= 64 * torch.finfo(f64).eps * scale), (change - expected).abs().max()


def _analytic(x, t, left, right, diffusivity):
    """u = left + (right - left) x + exp(-D pi^2 t) sin(pi x) on [0, 1]."""
    return left + (right - left) * x + np.exp(-diffusivity * np.pi**2 * t) * np.sin(np.pi * x)


def _run(n, steps, t_end, scheme, left=0.3, right=-0.7, diffusivity=0.8):
    dx = 1.0 / n
    x = (np.arange(n) + 0.5) * dx
    u = torch.from_numpy(_analytic(x, 0.0, left, right, diffusivity))[None]
    a = torch.full((n + 1,), diffusivity, dtype=f64)
    for _ in range(steps):
        u = ops.heterogeneous_diffusion_step(u, a, spacing=dx, dt=t_end / steps, left=left, right=right, scheme=scheme)
    return float(np.abs(u[0].numpy() - _analytic(x, t_end, left, right, diffusivity)).max())


def _orders(errors):
    return [math.log2(e0 / e1) for e0, e1 in zip(errors, errors[1:])]


@pytest.mark.parametrize("scheme, order", [("backward_euler", 1), ("crank_nicolson", 2)])
def test_time_convergence_order(scheme, order):
    # n = 2000: the spatial error (~ 1e-7) stays far below the time error at every dt
    errors = [_run(2000, steps, 0.1, scheme) for steps in (5, 10, 20, 40)]
    got = _orders(errors)
    assert all(abs(p - order) < 0.1 for p in got), (errors, got)


def test_space_convergence_order_two():
    # Crank-Nicolson with dt = 1e-4: the time error (~ 1e-9) is far below the spatial one
    errors = [_run(n, 500, 0.05, "crank_nicolson") for n in (10, 20, 40, 80)]
    got = _orders(errors)
    assert all(abs(p - 2) < 0.15 for p in got), (errors, got)


def test_linear_steady_state_is_exact():
    # constant a: the discrete steady state is the line through the wall values (the half-cell
    # wall flux is exact for a line), for any dt
    n = 9
    x = (np.arange(n) + 0.5) / n
    u = torch.from_numpy(0.3 + (-0.7 - 0.3) * x)[None]
    for scheme in ("backward_euler", "crank_nicolson"):
        out = ops.heterogeneous_diffusion_step(u, torch.full((n + 1,), 2.0, dtype=f64), spacing=1.0 / n, dt=10.0,
                                               left=0.3, right=-0.7, scheme=scheme)
        torch.testing.assert_close(out, u, rtol=0, atol=1e-14)


def test_the_papers_micro_scale_is_stable_and_bounded():
    # arbabi2020 sec. 5.1: a = 1.1 + sin(2 pi x / eps), eps = 1e-5, dx = 1e-7, dt = 1e-6 over a tooth
    # plus buffer of 1000 cells (dt / dx^2 = 1e8). Backward Euler keeps a maximum principle.
    eps, dx, n = 1e-5, 1e-7, 1000
    faces = np.arange(n + 1) * dx
    a = torch.from_numpy(1.1 + np.sin(2 * np.pi * faces / eps))
    u = torch.rand(4, n, generator=torch.Generator().manual_seed(3), dtype=f64)
    for _ in range(20):
        u = ops.heterogeneous_diffusion_step(u, a, spacing=dx, dt=1e-6, left=0.25, right=0.75)
    assert torch.all(u >= 0.25 - 1e-12) and torch.all(u <= 1.0 + 1e-12)
    assert float(u.std(-1).max()) < 0.2  # relaxed towards the line between the walls


def _exact_steady_state(a, left, right):
    """The discrete steady state: one flux through the chain of face resistances h / a (half a cell,
    h / (2 a), at each wall), u dropping in proportion to the resistance passed."""
    resistance = np.concatenate([[0.5 / a[0]], 1.0 / a[1:-1], [0.5 / a[-1]]])
    return left + (right - left) * np.cumsum(resistance)[:-1] / resistance.sum()


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
@pytest.mark.parametrize("scheme", ["backward_euler", "crank_nicolson"])
def test_no_round_off_drift_at_the_papers_stiffness(scheme, dtype):
    """dt a / h^2 ~ 1e8 (h = 1e-7, dt = 1e-6, arbabi2020 sec. 5.1), data of order 10: the step is taken
    for the increment with the rate in flux form, so its round-off is relative to the change, not to
    |u|. Backward Euler from smooth data reaches the exact discrete steady state in a few steps (the
    slowest mode decays by ~1e-4 per step) and must stay there; Crank-Nicolson, started on it, must
    not move over 1000 steps. Solving for u' directly (the same Thomas sweep on the direct system,
    measured) misses it by 1.5e-12 (BE) and drifts away from it, 1.1e-13 / 5.9e-13 / 1.9e-12 after
    10 / 100 / 1000 steps (CN), in float64; by 6.7e-4 and 7.6e-4 in float32. The increment form:
    1.8e-15 and 0 in float64, 6.7e-7 and 4.8e-7 (below a float32 ulp of 10) in float32. The bound:
    64 ulps of |u| ~ 10."""
    n, h, dt, offset = 300, 1e-7, 1e-6, 10.0
    a = 1.1 + np.sin(2 * np.pi * np.arange(n + 1) * h / 1e-5)
    left, right = offset + 0.3, offset - 0.7
    exact = _exact_steady_state(a, left, right)
    x = (np.arange(n) + 0.5) / n
    start = offset + 0.3 - x + np.sin(np.pi * x) if scheme == "backward_euler" else exact
    u = torch.from_numpy(start).to(dtype)
    a_t = torch.from_numpy(a).to(dtype)
    for _ in range(1000):
        u = ops.heterogeneous_diffusion_step(u, a_t, spacing=h, dt=dt, left=left, right=right, scheme=scheme)
    error = float(np.abs(u.double().numpy() - exact).max())
    assert error <= 64 * torch.finfo(dtype).eps * offset, error


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
def test_core_matches_the_torch_ops(dtype):
    u, a, left, right = _micro_problem(5, 33, dtype)
    got = _core.heterogeneous_diffusion_step(u.numpy(), a.numpy(), left.numpy(), right.numpy(), spacing=0.03, dt=0.01,
                                             scheme="crank_nicolson")
    expected = ops.heterogeneous_diffusion_step(u, a, spacing=0.03, dt=0.01, left=left, right=right,
                                                scheme="crank_nicolson")
    np.testing.assert_array_equal(got, expected.numpy())
    got = _core.heterogeneous_diffusion_step(u.numpy(), a[0].numpy(), 1.0, 0.0, spacing=0.03, dt=0.01)
    expected = ops.heterogeneous_diffusion_step(u, a[0], spacing=0.03, dt=0.01, left=1.0, right=0.0)
    np.testing.assert_array_equal(got, expected.numpy())
    d = u + 4.0
    got = _core.tridiagonal_solve(a[:, 1:].numpy(), d.numpy(), a[:, :-1].numpy(), left[:, None].expand(5, 33).numpy())
    np.testing.assert_array_equal(got, ops.tridiagonal_solve(a[:, 1:], d, a[:, :-1], left[:, None].expand(5, 33)).numpy())


def test_core_errors():
    with pytest.raises(ValueError, match=r"^tridiagonal_solve: zero pivot in system \(1\) at row 0"):
        _core.tridiagonal_solve(np.zeros((2, 3)), np.array([[1.0] * 3, [0.0] * 3]), np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^tridiagonal_solve: rhs must have the shape of diag \[2, 3\], got \[3\]"):
        _core.tridiagonal_solve(np.zeros((2, 3)), np.ones((2, 3)), np.zeros((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"^heterogeneous_diffusion_step: scheme must be"):
        _core.heterogeneous_diffusion_step(np.zeros(3), np.ones(4), 0.0, 0.0, spacing=1.0, dt=1.0, scheme="euler")
    with pytest.raises(ValueError, match=r"^heterogeneous_diffusion_step: a_faces must be \[n \+ 1\] = \[4\]"):
        _core.heterogeneous_diffusion_step(np.zeros(3), np.ones(3), 0.0, 0.0, spacing=1.0, dt=1.0)


def test_same_bits_for_any_thread_count():
    lower, diag, upper, rhs = (torch.randn(300, 101, generator=torch.Generator().manual_seed(k)) for k in range(4))
    diag = diag.abs() + lower.abs() + upper.abs() + 0.1
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.tridiagonal_solve(lower, diag, upper, rhs)
        torch.set_num_threads(max(2, threads))
        many = ops.tridiagonal_solve(lower, diag, upper, rhs)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)


def test_interleaved_groups_give_the_bits_of_single_solves():
    # the CPU kernels sweep four systems at once; a lone system goes through the one-at-a-time path
    lower, diag, upper, rhs = (torch.randn(7, 53, generator=torch.Generator().manual_seed(10 + k), dtype=f64)
                               for k in range(4))
    diag = diag.abs() + lower.abs() + upper.abs() + 0.1
    together = ops.tridiagonal_solve(lower, diag, upper, rhs)
    for k in range(7):
        assert torch.equal(together[k], ops.tridiagonal_solve(lower[k], diag[k], upper[k], rhs[k]))
    u, a, left, right = _micro_problem(7, 40, f64)
    together = ops.heterogeneous_diffusion_step(u, a, spacing=0.1, dt=0.3, left=left, right=right, scheme="crank_nicolson")
    for k in range(7):
        alone = ops.heterogeneous_diffusion_step(u[k], a[k], spacing=0.1, dt=0.3, left=left[k], right=right[k],
                                                 scheme="crank_nicolson")
        assert torch.equal(together[k], alone)


def test_wrapper_leaves_shape_errors_to_the_op():
    with pytest.raises(ValueError, match=r"^heterogeneous_diffusion_step: a_faces must be \[n \+ 1\] = \[5\]"):
        ops.heterogeneous_diffusion_step(torch.zeros(4), torch.ones(2, 5), spacing=0.1, dt=0.1)
    with pytest.raises(ValueError, match=r"^heterogeneous_diffusion_step: left must be 0-d or \[\*batch\] = \[3\]"):
        ops.heterogeneous_diffusion_step(torch.zeros(3, 4), torch.ones(5), spacing=0.1, dt=0.1, left=torch.zeros(2))


def test_readme_example_runs():
    dx, n = 1e-7, 1000
    faces = torch.arange(n + 1, dtype=f64) * dx
    a = 1.1 + torch.sin(2 * torch.pi * faces / 1e-5)
    u = torch.rand(9, n, dtype=f64, generator=torch.Generator().manual_seed(5))
    u = ops.heterogeneous_diffusion_step(u, a, spacing=dx, dt=1e-6, left=0.0, right=torch.ones(9), scheme="backward_euler")
    assert u.dtype == f64 and u.shape == (9, n) and 0.0 <= float(u.min()) and float(u.max()) <= 1.0


def test_zero_pivot_names_the_lowest_failing_system():
    diag = torch.ones(64, 4, 50, dtype=f64)
    diag[40, 1, 3] = 0.0  # row 3 of this system: pivot 0 (the bands are zero)
    diag[7, 2, 9] = 0.0
    z = torch.zeros_like(diag)
    with pytest.raises(ValueError, match=r"^tridiagonal_solve: zero pivot in system \(7, 2\) at row 9"):
        ops.tridiagonal_solve(z, diag, z, z)


def test_wrapper_broadcasts_diffusivity_and_walls():
    u, a, left, right = _micro_problem(6, 12, f64)
    got = ops.heterogeneous_diffusion_step(u.view(2, 3, 12), a[:1].view(1, 1, 13), spacing=0.1, dt=0.1,
                                           left=left[:3], right=0.5)
    expected = ops.heterogeneous_diffusion_step(u.view(2, 3, 12), a[0], spacing=0.1, dt=0.1,
                                                left=left[:3].expand(2, 3), right=torch.full((2, 3), 0.5, dtype=f64))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, f64], ids=["float32", "float64"])
def test_cuda_matches_cpu(dtype):
    from conftest import require_device

    require_device("cuda")
    u, a, left, right = _micro_problem(300, 257, dtype)
    for scheme in ("backward_euler", "crank_nicolson"):
        cpu = ops.heterogeneous_diffusion_step(u, a, spacing=1e-3, dt=1e-2, left=left, right=right, scheme=scheme)
        gpu = ops.heterogeneous_diffusion_step(u.cuda(), a.cuda(), spacing=1e-3, dt=1e-2, left=left.cuda(),
                                               right=right.cuda(), scheme=scheme)
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-6)
    diag = (u + 3.0).cuda()
    x = ops.tridiagonal_solve(a[:, 1:].cuda(), diag, a[:, :-1].cuda(), u.cuda())
    torch.testing.assert_close(x.cpu(), ops.tridiagonal_solve(a[:, 1:], diag.cpu(), a[:, :-1], u),
                               rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-6)
    bad = diag.clone()
    bad[123, 0] = 0.0
    with pytest.raises(ValueError, match=r"^tridiagonal_solve: zero pivot in system \(123\) at row 0"):
        ops.tridiagonal_solve(torch.zeros_like(bad), bad, torch.zeros_like(bad), bad)
