"""Particle binning against its peers, in one run: 10^7 particles, float32 and float64, 1D 256
bins, 2D 64^2, 3D 64^3, nearest grid point (NGP) and cloud in cell (CIC).

Peers (each where installed): numpy.histogramdd, numpy.bincount of the flat cell index,
fast-histogram, boost-histogram, torch.histogramdd, a torch index_add_ implementation (eager), and
CuPy (bincount) on a GPU; for CIC a NumPy bincount implementation and the same in torch
(index_add_). The bandwidth reference is a copy of the positions measured in the same run (binning
reads each position once). Last, the whole simulate-and-bin loop of coarsegrain.particles
(Brownian, 1D, 256 bins) in particle-steps per second.

Targets on CPU: NGP >= 2x the fastest peer and >= 25x numpy.histogramdd; CIC 2D >= 10x the NumPy
bincount implementation. On a GPU: >= 50% of the copy bandwidth for bins in shared memory.

    python bench/python/bench_binning.py [--device cpu|cuda] [--particles N] [--quick]

Writes bench/results/binning_<device>.json.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import math

import benchutil
import numpy as np
import torch

from coarsegrain import ops

L = 2 * math.pi
CASES = [(1, 256), (2, 64), (3, 64)]  # (d, bins per axis)


def numpy_flat_cells(x, bins):
    """Periodic cells: a float32 position that rounded up to L (or past it) wraps to cell 0."""
    cells = np.floor(x * (bins / L)).astype(np.int64) % bins
    flat = cells[:, 0]
    for a in range(1, x.shape[1]):
        flat = flat * bins + cells[:, a]
    return flat


def numpy_bincount_ngp(x, bins):
    return np.bincount(numpy_flat_cells(x, bins), minlength=bins ** x.shape[1])


def numpy_bincount_cic(x, bins):
    """Cloud in cell with periodic wrap: one weighted bincount per corner."""
    n, d = x.shape
    s = x * (bins / L) - 0.5
    lo = np.floor(s)
    w_hi = s - lo
    lo = lo.astype(np.int64) % bins
    hi = (lo + 1) % bins
    out = np.zeros(bins ** d)
    for corner in itertools.product((0, 1), repeat=d):
        flat = np.zeros(n, np.int64)
        w = np.ones(n)
        for a, up in enumerate(corner):
            flat = flat * bins + (hi[:, a] if up else lo[:, a])
            w = w * (w_hi[:, a] if up else 1 - w_hi[:, a])
        out += np.bincount(flat, weights=w, minlength=bins ** d)
    return out


def torch_index_add_ngp(x, bins):
    cells = torch.floor(x * (bins / L)).long() % bins
    flat = cells[:, 0]
    for a in range(1, x.shape[1]):
        flat = flat * bins + cells[:, a]
    return torch.zeros(bins ** x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, flat, torch.ones_like(x[:, 0]))


def torch_index_add_cic(x, bins):
    n, d = x.shape
    s = x * (bins / L) - 0.5
    lo = torch.floor(s)
    w_hi = s - lo
    lo = lo.long() % bins
    hi = (lo + 1) % bins
    out = torch.zeros(bins ** d, dtype=x.dtype, device=x.device)
    for corner in itertools.product((0, 1), repeat=d):
        flat = torch.zeros(n, dtype=torch.long, device=x.device)
        w = torch.ones(n, dtype=x.dtype, device=x.device)
        for a, up in enumerate(corner):
            flat = flat * bins + (hi[:, a] if up else lo[:, a])
            w = w * (w_hi[:, a] if up else 1 - w_hi[:, a])
        out.index_add_(0, flat, w)
    return out


def optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def cpu_peers(x, bins):
    """name -> callable for the NGP peers available on this machine."""
    d = x.shape[1]
    rng = [(0.0, L)] * d
    peers = {
        "numpy.histogramdd": lambda: np.histogramdd(x, bins=[bins] * d, range=rng),
        "numpy.bincount": lambda: numpy_bincount_ngp(x, bins),
    }
    fh = optional("fast_histogram")
    if fh is not None:
        if d == 1:
            peers["fast-histogram"] = lambda: fh.histogram1d(x[:, 0], bins=bins, range=rng[0])
        elif d == 2:
            peers["fast-histogram"] = lambda: fh.histogram2d(x[:, 0], x[:, 1], bins=bins, range=rng)
        else:
            peers["fast-histogram"] = lambda: fh.histogramdd(x, bins=bins, range=rng)
    bh = optional("boost_histogram")
    if bh is not None:
        def boost():
            h = bh.Histogram(*[bh.axis.Regular(bins, 0.0, L) for _ in range(d)])
            h.fill(*[x[:, a] for a in range(d)], threads=torch.get_num_threads())
            return h
        peers["boost-histogram"] = boost
    t = torch.from_numpy(x)
    peers["torch.histogramdd"] = lambda: torch.histogramdd(t, bins=[bins] * d, range=[v for r in rng for v in r])
    peers["torch index_add_ (eager)"] = lambda: torch_index_add_ngp(t, bins)
    return peers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--particles", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="10^6 particles, fewer repetitions")
    args = parser.parse_args()
    dev = args.device
    n = 1_000_000 if args.quick else args.particles
    reps = 3 if args.quick else 7
    g = np.random.default_rng(0)
    rows = []
    for dtype, (d, bins) in itertools.product((torch.float32, torch.float64), CASES):
        xn = (g.random((n, d)) * L).astype(np.float32 if dtype == torch.float32 else np.float64)
        x = torch.from_numpy(xn).to(dev)
        buf = torch.empty_like(x)
        copy = benchutil.median_time(lambda: buf.copy_(x), reps, dev)
        row = {"dtype": str(dtype), "ndim": d, "bins_per_axis": bins, "particles": n, "copy_s": copy}
        for assignment in ("ngp", "cic"):
            ours = benchutil.median_time(lambda: ops.bin_particles(x, bins=bins, box=L, assignment=assignment), reps, dev)
            row[f"{assignment}_s"] = ours
            row[f"{assignment}_particles_per_s"] = n / ours
            row[f"{assignment}_fraction_of_copy"] = copy / ours  # positions read once; the copy reads and writes
        # correctness in the same run, against the NumPy implementations
        got = ops.bin_particles(x, bins=bins, box=L).cpu().numpy().reshape(-1)
        assert np.array_equal(got, numpy_bincount_ngp(xn.astype(np.float64), bins)), "NGP mismatch"
        got = ops.bin_particles(x, bins=bins, box=L, assignment="cic").cpu().double().numpy().reshape(-1)
        np.testing.assert_allclose(got, numpy_bincount_cic(xn.astype(np.float64), bins), rtol=1e-5, atol=1e-2)
        peers = {}
        if dev == "cpu":
            for name, fn in cpu_peers(xn, bins).items():
                peers[name] = benchutil.median_time(fn, max(2, reps // 2), dev)
            peers["numpy.bincount CIC"] = benchutil.median_time(lambda: numpy_bincount_cic(xn, bins), 2, dev)
        else:
            cp = optional("cupy")
            if cp is not None:
                xc = cp.asarray(xn)
                flat = lambda: cp.bincount(cp.minimum((xc * (bins / L)).astype(cp.int64), bins - 1)[:, -1])  # noqa: E731
                peers["cupy.bincount (last axis)"] = benchutil.median_time(flat, reps, dev)
            peers["torch index_add_ (eager)"] = benchutil.median_time(lambda: torch_index_add_ngp(x, bins), reps, dev)
            peers["torch.histc (last axis)"] = benchutil.median_time(
                lambda: torch.histc(x[:, -1], bins=bins, min=0, max=L), reps, dev)
        peers["torch index_add_ CIC (eager)"] = benchutil.median_time(lambda: torch_index_add_cic(x, bins), 2, dev)
        row["peers_s"] = peers
        ngp_peers = {k: v for k, v in peers.items() if "CIC" not in k}
        fastest = min(ngp_peers, key=ngp_peers.get)
        row["ngp_fastest_peer"] = fastest
        row["ngp_speedup_vs_fastest_peer"] = ngp_peers[fastest] / row["ngp_s"]
        if "numpy.histogramdd" in peers:
            row["ngp_speedup_vs_numpy_histogramdd"] = peers["numpy.histogramdd"] / row["ngp_s"]
        if "numpy.bincount CIC" in peers:
            row["cic_speedup_vs_numpy_bincount"] = peers["numpy.bincount CIC"] / row["cic_s"]
        row["cic_speedup_vs_torch_index_add"] = peers["torch index_add_ CIC (eager)"] / row["cic_s"]
        rows.append(row)
        print(f"{str(dtype):>14} {d}D {bins:>3}^{d}: NGP {n / row['ngp_s'] / 1e6:7.1f} Mp/s "
              f"({row['ngp_speedup_vs_fastest_peer']:.2f}x {fastest}, "
              f"{row.get('ngp_speedup_vs_numpy_histogramdd', float('nan')):.0f}x histogramdd, "
              f"{row['ngp_fraction_of_copy']:.2f} of copy)  CIC {n / row['cic_s'] / 1e6:7.1f} Mp/s "
              f"({row.get('cic_speedup_vs_numpy_bincount', float('nan')):.1f}x NumPy bincount, "
              f"{row['cic_speedup_vs_torch_index_add']:.1f}x torch index_add_)")
    loop = simulate_and_bin(dev, quick=args.quick)
    print(f"simulate-and-bin (Brownian 1D, 256 bins, {loop['particles']} particles x {loop['steps']} steps): "
          f"{loop['particle_steps_per_s'] / 1e6:.1f} M particle-steps/s")
    path = benchutil.write_results("binning", dev, {"binning": rows, "simulate_and_bin": loop})
    print(f"wrote {path}")


def simulate_and_bin(dev: str, quick: bool) -> dict:
    from coarsegrain.particles import LevyFlight, VonMisesMixture, simulate_density

    particles, steps = (51_200, 20) if quick else (51_200 * 4, 50)
    mixture = VonMisesMixture.draw(np.random.default_rng(1), 1)
    process = LevyFlight(alpha=2.0, ndim=1)
    run = lambda: simulate_density(process, mixture, particles, bins=[256], dt=1e-3, n_steps=steps,  # noqa: E731
                                   dtype=torch.float32, device=dev)
    t = benchutil.median_time(run, 3, dev, warmup=1)
    return {"particles": particles, "steps": steps, "dtype": "float32", "seconds": t,
            "particle_steps_per_s": particles * steps / t}


if __name__ == "__main__":
    main()
