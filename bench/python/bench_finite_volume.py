"""WENO5 face fluxes (barsinai2019 baseline and reference solver) against their peers, in one run.

coarsegrain's compiled ``weno5_flux`` (Godunov) against a NumPy implementation of the same
reconstruction and flux (np.roll, vectorized over the batch), PyTorch eager and torch.compile of
that implementation, and a copy of the field (the bandwidth limit: read v, write the flux).
Target on 2 CPU cores: >= 20x the NumPy implementation.

    python bench/python/bench_finite_volume.py [--device cpu|cuda] [--quick]

Writes bench/results/finite_volume_<device>.json.
"""

from __future__ import annotations

import argparse

import benchutil
import numpy as np
import torch

from coarsegrain import ops


def weno_side(a, b, c, d, e):
    q0 = (2 * a - 7 * b + 11 * c) / 6
    q1 = (-b + 5 * c + 2 * d) / 6
    q2 = (2 * c + 5 * d - e) / 6
    b0 = 13 / 12 * (a - 2 * b + c) ** 2 + 0.25 * (a - 4 * b + 3 * c) ** 2
    b1 = 13 / 12 * (b - 2 * c + d) ** 2 + 0.25 * (b - d) ** 2
    b2 = 13 / 12 * (c - 2 * d + e) ** 2 + 0.25 * (3 * c - 4 * d + e) ** 2
    a0, a1, a2 = 0.1 / (1e-6 + b0) ** 2, 0.6 / (1e-6 + b1) ** 2, 0.3 / (1e-6 + b2) ** 2
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


def numpy_flux(v):
    s = {k: np.roll(v, -k, axis=-1) for k in range(-2, 4)}
    left = weno_side(s[-2], s[-1], s[0], s[1], s[2])
    right = weno_side(s[3], s[2], s[1], s[0], s[-1])
    fl, fr = 0.5 * left ** 2, 0.5 * right ** 2
    return np.where(left <= right, np.where(left > 0, fl, np.where(right < 0, fr, 0.0)), np.maximum(fl, fr))


def torch_flux(v):
    s = {k: torch.roll(v, -k, dims=-1) for k in range(-2, 4)}
    left = weno_side(s[-2], s[-1], s[0], s[1], s[2])
    right = weno_side(s[3], s[2], s[1], s[0], s[-1])
    fl, fr = 0.5 * left ** 2, 0.5 * right ** 2
    zero = torch.zeros_like(fl)
    rare = torch.where(left > 0, fl, torch.where(right < 0, fr, zero))
    return torch.where(left <= right, rare, torch.maximum(fl, fr))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    dev, reps = args.device, (5 if args.quick else 15)
    shapes = [(64, 256), (256, 1024)] if args.quick else [(64, 256), (256, 1024), (1024, 4096)]
    compiled = torch.compile(torch_flux)
    rows = []
    for dtype in (torch.float32, torch.float64):
        for batch, n in shapes:
            v = torch.randn(batch, n, dtype=dtype, device=dev)
            ours = benchutil.median_time(lambda: ops.weno5_flux(v), reps, dev)
            buf = torch.empty_like(v)
            copy = benchutil.median_time(lambda: buf.copy_(v), reps, dev)
            eager = benchutil.median_time(lambda: torch_flux(v), max(3, reps // 3), dev)
            try:
                comp = benchutil.median_time(lambda: compiled(v), reps, dev, warmup=3)
            except Exception as e:  # needs a C++ toolchain at run time
                print(f"torch.compile failed: {type(e).__name__}: {e}")
                comp = None
            row = {"dtype": str(dtype), "batch": batch, "n": n, "coarsegrain_s": ours, "copy_s": copy,
                   "torch_eager_s": eager, "torch_compile_s": comp, "fraction_of_copy": copy / ours,
                   "speedup_vs_torch_eager": eager / ours,
                   "speedup_vs_torch_compile": None if comp is None else comp / ours}
            if dev == "cpu":
                vn = v.numpy()
                row["numpy_s"] = benchutil.median_time(lambda: numpy_flux(vn), max(3, reps // 3), dev)
                row["speedup_vs_numpy"] = row["numpy_s"] / ours
                np.testing.assert_allclose(ops.weno5_flux(v).numpy(), numpy_flux(vn),
                                           rtol=1e-4 if dtype == torch.float32 else 1e-10, atol=1e-5)
            rows.append(row)
            print(f"{str(dtype):>14} {batch:>5} x {n:<5}  {1e6 * ours:9.1f} us  copy fraction "
                  f"{row['fraction_of_copy']:.2f}  vs NumPy {row.get('speedup_vs_numpy', float('nan')):6.1f}x  "
                  f"vs eager {row['speedup_vs_torch_eager']:6.1f}x  vs compile "
                  f"{row['speedup_vs_torch_compile'] or float('nan'):5.1f}x")
    path = benchutil.write_results("finite_volume", dev, {"weno5_godunov_flux": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
