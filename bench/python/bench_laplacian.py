"""torch.ops.coarsegrain.laplacian against its peers, in one run, on 3D periodic grids.

Peers: a NumPy np.roll implementation (CPU), a PyTorch eager torch.roll implementation,
torch.compile of that eager function, and CuPy's roll on CUDA when CuPy is installed. The
memory-bandwidth limit is a copy into a preallocated tensor of the same size, measured in the
same run; the Laplacian moves at least the same bytes (read u, write the result), so
``fraction_of_copy`` (measured with ``out=``, i.e. without allocation, like the copy) is how
close it gets to the limit. ``coarsegrain`` is the allocating call, ``coarsegrain_into``
writes into a preallocated tensor.

    python bench/python/bench_laplacian.py [--device cpu|cuda] [--sizes 64 128 256]
        [--dtypes float32 float64] [--reps 10] [--no-compile]

Writes bench/results/laplacian_<device>.json.
"""

from __future__ import annotations

import argparse

import benchutil
import numpy as np
import torch

from coarsegrain import ops


def numpy_roll_laplacian(u: np.ndarray, h: list[float]) -> np.ndarray:
    out = np.zeros_like(u)
    for a, ha in enumerate(h):
        out += (np.roll(u, 1, axis=a) + np.roll(u, -1, axis=a) - 2 * u) / ha**2
    return out


def torch_eager_laplacian(u: torch.Tensor, h: list[float]) -> torch.Tensor:
    out = torch.zeros_like(u)
    for a, ha in enumerate(h):
        out += (torch.roll(u, 1, a) + torch.roll(u, -1, a) - 2 * u) / ha**2
    return out


def bench_case(n: int, dtype: torch.dtype, device: str, reps: int, use_compile: bool) -> dict:
    h = [1.0 / n, 1.5 / n, 2.0 / n]
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(n, n, n, generator=gen, dtype=dtype).to(device)
    bytes_moved = 2 * u.numel() * u.element_size()  # read u once, write the result once

    def time_of(fn, reps_=reps):
        return benchutil.median_time(fn, reps_, device)

    ours = ops.laplacian(u, h)
    check = torch_eager_laplacian(u, h)
    torch.testing.assert_close(ours, check, rtol=1e-4, atol=1e-4 * check.abs().max().item())

    buf = torch.empty_like(u)
    times = {
        "copy": time_of(lambda: buf.copy_(u)),
        "coarsegrain_into": time_of(lambda: ops.laplacian(u, h, out=buf)),
        "coarsegrain": time_of(lambda: torch.ops.coarsegrain.laplacian(u, h, 2)),
        "torch_eager_roll": time_of(lambda: torch_eager_laplacian(u, h), max(3, reps // 3)),
    }
    if use_compile:
        compiled = torch.compile(torch_eager_laplacian, dynamic=False)
        compiled(u, h)  # compile outside the timing
        times["torch_compile"] = time_of(lambda: compiled(u, h))
    if device == "cpu":
        un = u.numpy()
        times["numpy_roll"] = time_of(lambda: numpy_roll_laplacian(un, h), max(3, reps // 3))
    else:
        try:
            import cupy as cp

            uc = cp.asarray(u)
            times["cupy_roll"] = time_of(lambda: numpy_roll_laplacian_cupy(cp, uc, h))
        except ImportError:
            pass
    ours = ("coarsegrain", "coarsegrain_into")
    peers = {k: v for k, v in times.items() if k not in ("copy", *ours)}
    return {
        "n": n,
        "dtype": str(dtype).replace("torch.", ""),
        "points": u.numel(),
        "median_s": times,
        "into_gb_per_s": bytes_moved / times["coarsegrain_into"] / 1e9,
        "copy_gb_per_s": bytes_moved / times["copy"] / 1e9,
        "fraction_of_copy": times["copy"] / times["coarsegrain_into"],
        "speedup_vs": {o: {k: v / times[o] for k, v in peers.items()} for o in ours},
    }


def numpy_roll_laplacian_cupy(cp, u, h):
    out = cp.zeros_like(u)
    for a, ha in enumerate(h):
        out += (cp.roll(u, 1, axis=a) + cp.roll(u, -1, axis=a) - 2 * u) / ha**2
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile peer")
    args = p.parse_args()

    cases = []
    for n in args.sizes:
        for name in args.dtypes:
            case = bench_case(n, getattr(torch, name), args.device, args.reps, not args.no_compile)
            cases.append(case)
            speedups = "; ".join(
                f"{o}: " + ", ".join(f"{k} x{v:.1f}" for k, v in s.items())
                for o, s in case["speedup_vs"].items()
            )
            print(
                f"{args.device} {name} {n}^3: out= at {case['fraction_of_copy']:.0%} of copy "
                f"bandwidth ({case['copy_gb_per_s']:.1f} GB/s); speed-ups {speedups}",
                flush=True,
            )
    path = benchutil.write_results("laplacian", args.device, {"cases": cases})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
