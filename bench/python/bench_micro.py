"""arbabi2020's micro-solvers against their peers, in one run, float32 and float64, on the CPU.

1. The batched tridiagonal solve (1D): batch 1024 x n 1000 (many short systems: arbabi2020's
teeth-with-buffers) and batch 16 x n 80000 (few long ones: a whole micro-resolved domain).

Peers: scipy.linalg.solve_banded looped over the batch (LAPACK gtsv-class banded solve, one call
per system, banded storage built before timing, check_finite=False), and a PyTorch eager Thomas
implementation (a Python loop over the n rows, vectorized over the batch, on [n, batch]-transposed
copies so that each step reads contiguous memory; the transposes are timed). The bandwidth
reference is a copy of the four input arrays into preallocated buffers (numpy.copyto, one thread),
measured in the same run (the solve reads the four bands and writes x and one scratch band). Last, one
heterogeneous_diffusion_step on the same shapes (bands built inside the sweep).

2. The 2D lattice diffusion rate (lattice_diffusion_rate, Eq 25 with Eq 26's 3-periodic bond
diffusivities): the gap-tooth case, 100 trajectories x 16 x 16 teeth of 5 x 5 points
(boundary="patch", one [5, 5] diffusivity pattern for every tooth), and a whole periodic 480 x 480
lattice (the paper's h = 2 pi / 480), batch 8. Peers: Eq 25 with numpy.roll (one thread; the ring
zeroed afterwards on patches), the same formula with torch.roll in PyTorch eager, and
torch.compile of that eager function (compiled before timing), each at torch's thread count and
again on one thread (beside other busy processes torch's OpenMP teams can stall at their barriers,
which inflates their multi-threaded times on a shared machine). The bandwidth reference is a copy
of u into a preallocated buffer (numpy.copyto), measured in the same run: the op reads u (and the
diffusivities, cache-resident when shared) and writes the rate, the traffic of that copy.

    python bench/python/bench_micro.py [--quick] [--threads N]

Writes bench/results/micro_cpu.json.
"""

from __future__ import annotations

import argparse
import itertools
import os

import benchutil
import numpy as np
import scipy.linalg
import torch

from coarsegrain import ops

CASES = [(1024, 1000), (16, 80000)]  # (batch, n)

# arbabi2020 Eq 26, indexed [i, j] (i along x); the op's layout is [..., j, i], so transposed.
EQ26_KX = np.array([[1.0566, 0.6668, 1.1568], [6.5894, 0.8683, 2.4174], [0.9473, 1.1407, 1.6610]])
EQ26_KY = np.array([[3.6355, 0.4470, 2.3896], [0.8628, 4.8558, 0.2833], [4.5025, 1.5865, 0.5679]])
LATTICE_CASES = [  # name, u shape, boundary, h
    ("gap-tooth 100 x 16 x 16 teeth of 5 x 5", (100, 16, 16, 5, 5), "patch", 0.0524 / 4),
    ("periodic 480 x 480, batch 8", (8, 480, 480), "periodic", 2 * np.pi / 480),
]


def torch_eager_thomas(lower, diag, upper, rhs):
    """The Thomas algorithm in PyTorch eager: a Python loop over rows, vectorized over the batch."""
    lo, d, up, b = (t.transpose(0, 1).contiguous() for t in (lower, diag, upper, rhs))
    n = d.shape[0]
    cp = torch.empty_like(d)
    x = torch.empty_like(d)
    c = up[0] / d[0]
    y = b[0] / d[0]
    cp[0], x[0] = c, y
    for i in range(1, n):
        pivot = d[i] - lo[i] * c
        c = up[i] / pivot
        y = (b[i] - lo[i] * y) / pivot
        cp[i], x[i] = c, y
    for i in range(n - 2, -1, -1):
        x[i] -= cp[i] * x[i + 1]
    return x.transpose(0, 1)


def banded(lower, diag, upper):
    """[batch, 3, n] LAPACK banded storage for solve_banded((1, 1), ...)."""
    ab = np.zeros((diag.shape[0], 3, diag.shape[1]), dtype=diag.dtype)
    ab[:, 0, 1:] = upper[:, :-1]
    ab[:, 1] = diag
    ab[:, 2, :-1] = lower[:, 1:]
    return ab


def scipy_loop(ab, rhs):
    return [scipy.linalg.solve_banded((1, 1), ab[k], rhs[k], check_finite=False) for k in range(rhs.shape[0])]


def eq26_pattern(ny, nx):
    """Eq 26 tiled over [ny, nx] in the op's layout: kx[j, i] = KX[i mod 3, j mod 3]."""
    reps = (-(-ny // 3), -(-nx // 3))
    return np.tile(EQ26_KX.T, reps)[:ny, :nx].copy(), np.tile(EQ26_KY.T, reps)[:ny, :nx].copy()


def numpy_rate(u, kx, ky, h, patch):
    """Eq 25 with numpy.roll (x the last axis)."""
    rate = (kx * (np.roll(u, -1, -1) - u) + np.roll(kx, 1, -1) * (np.roll(u, 1, -1) - u)
            + ky * (np.roll(u, -1, -2) - u) + np.roll(ky, 1, -2) * (np.roll(u, 1, -2) - u)) / (h * h)
    if patch:
        rate[..., 0, :] = rate[..., -1, :] = 0
        rate[..., :, 0] = rate[..., :, -1] = 0
    return rate


def torch_rate(u, kx, ky, h: float, patch: bool):
    """Eq 25 with torch.roll: the PyTorch eager peer (and, compiled, the torch.compile one)."""
    rate = (kx * (torch.roll(u, -1, -1) - u) + torch.roll(kx, 1, -1) * (torch.roll(u, 1, -1) - u)
            + ky * (torch.roll(u, -1, -2) - u) + torch.roll(ky, 1, -2) * (torch.roll(u, 1, -2) - u)) / (h * h)
    if patch:
        rate[..., 0, :] = 0
        rate[..., -1, :] = 0
        rate[..., :, 0] = 0
        rate[..., :, -1] = 0
    return rate


def bench_lattice(reps: int) -> list[dict]:
    rows = []
    compiled = torch.compile(torch_rate, fullgraph=True, dynamic=False)
    for dtype, (name, shape, boundary, h) in itertools.product((torch.float32, torch.float64), LATTICE_CASES):
        npd = np.float32 if dtype == torch.float32 else np.float64
        patch = boundary == "patch"
        u = np.random.default_rng(1).standard_normal(shape).astype(npd)
        kx, ky = (k.astype(npd) for k in eq26_pattern(*shape[-2:]))
        tu, tkx, tky = (torch.from_numpy(a) for a in (u, kx, ky))
        buf = np.empty_like(u)
        row = {"dtype": str(dtype), "case": name, "shape": list(shape), "boundary": boundary, "h": h,
               "points": int(u.size)}
        row["copy_u_s"] = benchutil.median_time(lambda: np.copyto(buf, u), reps)
        row["ours_s"] = benchutil.median_time(
            lambda: ops.lattice_diffusion_rate(tu, tkx, tky, spacing=h, boundary=boundary), reps)
        row["ours_points_per_s"] = u.size / row["ours_s"]
        row["ours_fraction_of_copy"] = row["copy_u_s"] / row["ours_s"]
        row["numpy_roll_s"] = benchutil.median_time(lambda: numpy_rate(u, kx, ky, h, patch), reps)
        row["torch_eager_s"] = benchutil.median_time(lambda: torch_rate(tu, tkx, tky, h, patch), reps)
        compiled(tu, tkx, tky, h, patch)  # compile outside the timing
        row["torch_compile_s"] = benchutil.median_time(lambda: compiled(tu, tkx, tky, h, patch), reps)
        for peer in ("numpy_roll", "torch_eager", "torch_compile"):
            row[f"speedup_vs_{peer}"] = row[f"{peer}_s"] / row["ours_s"]
        # the same three on one thread: beside other busy processes torch's OpenMP teams can stall at
        # their barriers for a scheduler slice, which one thread cannot
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            row["one_thread_ours_s"] = benchutil.median_time(
                lambda: ops.lattice_diffusion_rate(tu, tkx, tky, spacing=h, boundary=boundary), reps)
            row["one_thread_torch_eager_s"] = benchutil.median_time(lambda: torch_rate(tu, tkx, tky, h, patch), reps)
            row["one_thread_torch_compile_s"] = benchutil.median_time(lambda: compiled(tu, tkx, tky, h, patch), reps)
        finally:
            torch.set_num_threads(threads)
        for peer in ("torch_eager", "torch_compile"):
            row[f"one_thread_speedup_vs_{peer}"] = row[f"one_thread_{peer}_s"] / row["one_thread_ours_s"]
        row["one_thread_speedup_vs_numpy_roll"] = row["numpy_roll_s"] / row["one_thread_ours_s"]
        # correctness in the same run: against the float64 NumPy formula, relative to the term scale
        ours = ops.lattice_diffusion_rate(tu, tkx, tky, spacing=h, boundary=boundary).double().numpy()
        ref = numpy_rate(u.astype(np.float64), kx.astype(np.float64), ky.astype(np.float64), h, patch)
        scale = 8 * float(np.abs(u).max()) * float(max(kx.max(), ky.max())) / h**2
        row["max_error_vs_numpy_float64_over_term_scale"] = float(np.abs(ours - ref).max()) / scale
        assert row["max_error_vs_numpy_float64_over_term_scale"] < 64 * np.finfo(npd).eps
        assert np.abs(compiled(tu, tkx, tky, h, patch).double().numpy() - ref).max() / scale < 64 * np.finfo(npd).eps
        rows.append(row)
        print(f"{str(dtype):>14} {name:>40}: ours {row['ours_s'] * 1e3:7.2f} ms "
              f"({row['ours_points_per_s'] / 1e6:6.0f} M points/s, {row['ours_fraction_of_copy']:.2f} of copying u), "
              f"{row['speedup_vs_numpy_roll']:5.1f}x numpy.roll, {row['speedup_vs_torch_eager']:5.1f}x torch eager, "
              f"{row['speedup_vs_torch_compile']:5.1f}x torch.compile; one thread: "
              f"{row['one_thread_ours_s'] * 1e3:.2f} ms, {row['one_thread_speedup_vs_numpy_roll']:.1f}x numpy.roll, "
              f"{row['one_thread_speedup_vs_torch_eager']:.1f}x torch eager, "
              f"{row['one_thread_speedup_vs_torch_compile']:.1f}x torch.compile")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for ours and the torch peers (default: torch's; NumPy runs on one)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    reps = 3 if args.quick else 9
    g = np.random.default_rng(0)
    rows = []
    for dtype, (batch, n) in itertools.product((torch.float32, torch.float64), CASES):
        npd = np.float32 if dtype == torch.float32 else np.float64
        lower, upper, rhs = (g.standard_normal((batch, n)).astype(npd) for _ in range(3))
        diag = (np.abs(lower) + np.abs(upper) + 0.5 + g.random((batch, n))).astype(npd)
        t = [torch.from_numpy(a) for a in (lower, diag, upper, rhs)]
        arrays = (lower, diag, upper, rhs)
        bufs = [np.empty_like(a) for a in arrays]

        def copy():  # NumPy's single-threaded copy: torch's threaded copy_ stalls on a shared machine
            for dst, src in zip(bufs, arrays):
                np.copyto(dst, src)

        row = {"dtype": str(dtype), "batch": batch, "n": n}
        row["copy_inputs_s"] = benchutil.median_time(copy, reps)
        row["ours_s"] = benchutil.median_time(lambda: ops.tridiagonal_solve(*t), reps)
        row["ours_unknowns_per_s"] = batch * n / row["ours_s"]
        row["ours_fraction_of_copy"] = row["copy_inputs_s"] / row["ours_s"]
        ab = banded(lower, diag, upper)
        row["scipy_solve_banded_loop_s"] = benchutil.median_time(lambda: scipy_loop(ab, rhs), max(2, reps // 3), warmup=1)
        row["torch_eager_thomas_s"] = benchutil.median_time(lambda: torch_eager_thomas(*t), 1 if n > 10000 else 2,
                                                            warmup=0 if n > 10000 else 1)
        row["speedup_vs_scipy"] = row["scipy_solve_banded_loop_s"] / row["ours_s"]
        row["speedup_vs_torch_eager"] = row["torch_eager_thomas_s"] / row["ours_s"]
        # the micro-step on the same shape: bands built inside the sweep
        u = t[3]
        a = torch.from_numpy((1.1 + np.sin(np.linspace(0, 60, n + 1))).astype(npd))
        row["diffusion_step_s"] = benchutil.median_time(
            lambda: ops.heterogeneous_diffusion_step(u, a, spacing=1e-7, dt=1e-6, left=0.0, right=1.0), reps)
        # correctness in the same run
        x = ops.tridiagonal_solve(*t).double().numpy()
        ref = np.stack(scipy_loop(banded(*(a.astype(np.float64) for a in (lower, diag, upper))),
                                  rhs.astype(np.float64)))
        row["max_abs_error_vs_scipy_float64"] = float(np.abs(x - ref).max())
        assert row["max_abs_error_vs_scipy_float64"] < (1e-4 if dtype == torch.float32 else 1e-12)
        rows.append(row)
        print(f"{str(dtype):>14} {batch:>5} x {n:>6}: ours {row['ours_s'] * 1e3:8.2f} ms "
              f"({row['ours_unknowns_per_s'] / 1e6:6.1f} M unknowns/s, {row['ours_fraction_of_copy']:.2f} of copying "
              f"the inputs), {row['speedup_vs_scipy']:6.1f}x scipy solve_banded loop, "
              f"{row['speedup_vs_torch_eager']:7.1f}x torch eager Thomas; diffusion step "
              f"{row['diffusion_step_s'] * 1e3:.2f} ms")
    lattice = bench_lattice(reps)
    # the machine may be shared: its load at the end of the run says how far the times are to be trusted
    path = benchutil.write_results("micro", "cpu", {"load_average_1_5_15_min": list(os.getloadavg()),
                                                    "tridiagonal": rows, "lattice": lattice})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
