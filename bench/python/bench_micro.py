"""The micro-solver's batched tridiagonal solve against its peers, in one run: batch 1024 x n 1000
(many short systems: arbabi2020's teeth-with-buffers) and batch 16 x n 80000 (few long ones: a
whole micro-resolved domain), float32 and float64, on the CPU.

Peers: scipy.linalg.solve_banded looped over the batch (LAPACK gtsv-class banded solve, one call
per system, banded storage built before timing, check_finite=False), and a PyTorch eager Thomas
implementation (a Python loop over the n rows, vectorized over the batch, on [n, batch]-transposed
copies so that each step reads contiguous memory; the transposes are timed). The bandwidth
reference is a copy of the four input arrays into preallocated buffers (numpy.copyto, one thread),
measured in the same run (the solve reads the four bands and writes x and one scratch band). Last, one
heterogeneous_diffusion_step on the same shapes (bands built inside the sweep).

    python bench/python/bench_micro.py [--quick]

Writes bench/results/micro_cpu.json.
"""

from __future__ import annotations

import argparse
import itertools

import benchutil
import numpy as np
import scipy.linalg
import torch

from coarsegrain import ops

CASES = [(1024, 1000), (16, 80000)]  # (batch, n)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
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
            lambda: ops.heterogeneous_diffusion_step(u, a, dx=1e-7, dt=1e-6, left=0.0, right=1.0), reps)
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
    path = benchutil.write_results("micro", "cpu", {"tridiagonal": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
