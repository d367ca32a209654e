"""Cosine transform (DCT-II) and its inverse: coarsegrain.transforms against peers, in one run.

coarsegrain's ``dct2`` / ``idct2`` (Makhoul: one real FFT of length n per axis, a gather before
and a twiddle + gather after) against ``scipy.fft.dctn`` / ``idctn`` (pocketfft's native DCT, on
``torch.get_num_threads()`` workers), a torch implementation through the FFT of the mirrored
(even) extension of length 2n per axis, the real FFTs alone that our transform performs (so
that ``1 - fft_s / coarsegrain_s`` is the share of the pre/post-twiddle work) and a copy of the
input (the bandwidth reference). With ``--compile``, also ``torch.compile`` of ``dct2`` / ``idct2``
(fuses the gathers and twiddles; compile time is not counted).

    python bench/python/bench_transforms.py [--device cpu|cuda] [--quick] [--compile]

Writes bench/results/transforms_<device>.json.
"""

from __future__ import annotations

import argparse
import math

import benchutil
import numpy as np
import scipy.fft
import torch

from coarsegrain import transforms


def _along(t: torch.Tensor, d: int) -> torch.Tensor:
    return t.reshape((-1,) + (1,) * (-d - 1))


def mirrored_dct2(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """DCT-II (scipy's norm=None) via the rfft of the even extension [x, reversed x] per axis."""
    for d in range(-ndim, 0):
        n = x.shape[d]
        ext = torch.cat([x, x.flip(d)], d)
        spec = torch.fft.rfft(ext, dim=d).narrow(d, 0, n)
        k = torch.arange(n, dtype=x.dtype, device=x.device)
        x = (spec * _along(torch.polar(torch.ones_like(k), -math.pi * k / (2 * n)), d)).real
    return x


def mirrored_idct2(y: torch.Tensor, ndim: int) -> torch.Tensor:
    """Inverse of mirrored_dct2: irfft of length 2n of the even extension's spectrum per axis."""
    for d in range(-ndim, 0):
        n = y.shape[d]
        k = torch.arange(n, dtype=y.dtype, device=y.device)
        spec = y * _along(torch.polar(torch.ones_like(k), math.pi * k / (2 * n)), d)
        y = torch.fft.irfft(spec, n=2 * n, dim=d).narrow(d, 0, n)
    return y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    dev, reps = args.device, (5 if args.quick else 11)
    cases = [(1, 64, 256), (1, 64, 1024), (1, 64, 4096), (2, 8, 64), (2, 8, 128), (2, 8, 256), (2, 8, 512)]
    if args.quick:
        cases = [c for c in cases if c[2] <= 1024 and not (c[0] == 2 and c[2] > 256)]
    workers = torch.get_num_threads()
    rows = []
    for dtype in (torch.float32, torch.float64):
        tol = 2e-4 if dtype == torch.float32 else 1e-10
        for ndim, batch, n in cases:
            shape = (batch,) + (n,) * ndim
            axes = tuple(range(-ndim, 0))
            x = torch.randn(shape, dtype=dtype, device=dev)
            for direction in ("forward", "inverse"):
                ours_fn = transforms.dct2 if direction == "forward" else transforms.idct2
                mirror_fn = mirrored_dct2 if direction == "forward" else mirrored_idct2
                ours = benchutil.median_time(lambda: ours_fn(x, ndim), reps, dev)
                mirror = benchutil.median_time(lambda: mirror_fn(x, ndim), reps, dev)
                buf = torch.empty_like(x)
                copy = benchutil.median_time(lambda: buf.copy_(x), reps, dev)
                if direction == "forward":
                    fft = sum(benchutil.median_time(lambda d=d: torch.fft.rfft(x, dim=d), reps, dev) for d in axes)
                else:
                    fft = 0.0
                    for d in axes:
                        half = torch.fft.rfft(x, dim=d)
                        fft += benchutil.median_time(lambda d=d, half=half: torch.fft.irfft(half, n=n, dim=d),
                                                     reps, dev)
                row = {"dtype": str(dtype), "ndim": ndim, "batch": batch, "n": n, "direction": direction,
                       "coarsegrain_s": ours, "mirrored_fft_s": mirror, "fft_only_s": fft, "copy_s": copy,
                       "twiddle_share": max(0.0, 1 - fft / ours), "fraction_of_copy": copy / ours,
                       "speedup_vs_mirrored_fft": mirror / ours}
                if args.compile:
                    compiled = torch.compile(ours_fn)
                    try:
                        row["torch_compile_s"] = benchutil.median_time(lambda: compiled(x, ndim), reps, dev, warmup=3)
                        row["speedup_of_compile"] = ours / row["torch_compile_s"]
                    except Exception as e:  # needs a C++ toolchain at run time
                        print(f"torch.compile failed: {type(e).__name__}: {e}")
                if dev == "cpu":
                    xn = x.numpy()
                    sp = scipy.fft.dctn if direction == "forward" else scipy.fft.idctn
                    row["scipy_s"] = benchutil.median_time(lambda: sp(xn, type=2, axes=axes, workers=workers), reps)
                    row["speedup_vs_scipy"] = row["scipy_s"] / ours
                    ref = sp(xn, type=2, axes=axes)
                    np.testing.assert_allclose(ours_fn(x, ndim).numpy(), ref, rtol=tol,
                                               atol=tol * float(np.abs(ref).max()))
                    np.testing.assert_allclose(mirror_fn(x, ndim).numpy(), ref, rtol=tol,
                                               atol=tol * float(np.abs(ref).max()))
                rows.append(row)
                print(f"{str(dtype):>14} {ndim}D {batch:>3} x {n:<5} {direction:<8} {1e6 * ours:9.1f} us  "
                      f"twiddle share {row['twiddle_share']:.2f}  copy fraction {row['fraction_of_copy']:.2f}  "
                      f"vs scipy {row.get('speedup_vs_scipy', float('nan')):5.2f}x  "
                      f"vs mirrored {row['speedup_vs_mirrored_fft']:5.2f}x"
                      + (f"  compile {row['speedup_of_compile']:4.2f}x" if "speedup_of_compile" in row else ""))
    path = benchutil.write_results("transforms", dev, {"scipy_workers": workers, "dct2": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
