"""The compiled CPU ops on a busy machine: idle, and beside 1 and 2 other busy processes,
with the default threads (torch.get_num_threads()) against one thread.

A user's machine is rarely idle, and several workers may share one machine. Until this
benchmark the kernels ran on OpenMP, whose teams spin at every barrier and wait for every
member: beside one other torch job, 4000 explicit Cahn-Hilliard steps at 200^2 took 47 s
instead of 0.1 s. The kernels now run on coarsegrain's own pool (cpp/src/parallel.cpp).

Workloads, each timed in this process while the neighbours run:

* ``laplacian``: 64^3 float32 Laplacian into a preallocated tensor, 200 calls;
* ``ch_step``: the fused explicit Cahn-Hilliard step, 200^2 float64, 2000 steps in one call;
* ``demo_rhs``: the demo's learned right-hand side (the dictionary MLP on 32^2, as the LSODA
  rollout calls it, one field at a time), 200 evaluations: compiled derivative ops + torch;
* ``binning_ngp`` / ``binning_cic``: ``ops.bin_particles`` of 10^6 float32 particles, 1D 256
  bins nearest grid point / 2D 64^2 cloud in cell, 20 calls each;
* peers in the same run: ``torch_eager_laplacian`` (torch.roll, torch's own OpenMP threads)
  and ``copy`` (64^3 float32 copy_, the memory-bandwidth limit), 200 calls each.

Neighbours: ``torch`` -- a torch process with default threads multiplying matrices (another
training job; it spins in its own OpenMP team); ``python`` -- a single-threaded Python loop.

Configurations, timed interleaved: ``default`` (torch.get_num_threads() at start), ``one``
(torch.set_num_threads(1)) and ``auto`` (the governor of coarsegrain.threads that the
``coarsegrain`` command turns on, ticked once per loop iteration as the library's loops do).

Target: beside busy neighbours, default threads are never slower than one thread (ratio
default / one thread <= 1.1, within noise) for the compiled ops, and idle speed stays as it
is; torch's own ops (demo_rhs, torch_eager_laplacian) collapse on default threads whatever
coarsegrain does, and ``auto`` keeps them at one thread's speed.

    python bench/python/bench_contention.py [--loads idle torch1 torch2 python1]
        [--workloads laplacian ch_step demo_rhs torch_eager_laplacian copy binning_ngp binning_cic]
        [--reps 5] [--name contention]

Writes bench/results/<name>_cpu.json (default contention_cpu.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import benchutil
import torch

from coarsegrain import Grid, ops, threads
from coarsegrain.models import DictionaryMLP
from coarsegrain.systems import CahnHilliard, ExplicitEuler, lanzoni

NEIGHBOURS = {
    "torch": "import torch\na = torch.randn(256, 256)\nwhile True:\n    a = torch.tanh(a @ a * 0.01)\n",
    "python": "while True:\n    pass\n",
}
LOADS = {"idle": [], "torch1": ["torch"], "torch2": ["torch", "torch"], "python1": ["python"],
         "python2": ["python", "python"]}


def make_workloads() -> dict:
    gen = torch.Generator().manual_seed(0)
    u3 = torch.randn(64, 64, 64, generator=gen)
    out3 = torch.empty_like(u3)
    h3 = [1.0, 1.0, 1.0]

    def laplacian():
        for _ in range(200):
            threads.tick()
            ops.laplacian(u3, h3, out=out3)

    def torch_eager_laplacian():
        for _ in range(200):
            threads.tick()
            torch.add(u3.roll(1, 0) + u3.roll(-1, 0) + u3.roll(1, 1) + u3.roll(-1, 1) + u3.roll(1, 2)
                      + u3.roll(-1, 2), u3, alpha=-6, out=out3)

    def copy():
        for _ in range(200):
            out3.copy_(u3)

    model = CahnHilliard(Grid((200, 200), 1.0), lanzoni(3.0), mobility=1.0, kappa=3.0)
    c0 = 0.5 + 0.05 * torch.randn(200, 200, dtype=torch.float64, generator=gen)
    stepper = ExplicitEuler(model, 4e-3)

    def ch_step():
        threads.tick()
        stepper.advance(c0, 2000)

    torch.manual_seed(0)
    grid = Grid((32, 32), 1.0)
    mlp = DictionaryMLP(grid, max_order=4, hidden=(64, 64, 32), mixed=[(1, 1), (2, 2)]).eval()
    field = torch.randn(1, 1, 32, 32, generator=gen)

    def demo_rhs():
        with torch.no_grad():
            for _ in range(200):
                threads.tick()  # as the rollout's rhs wrapper does
                mlp(field)

    x1 = torch.rand(1_000_000, 1, generator=gen)
    x2 = torch.rand(1_000_000, 2, generator=gen)

    def binning_ngp():
        for _ in range(20):
            threads.tick()
            ops.bin_particles(x1, bins=256, box=1.0)

    def binning_cic():
        for _ in range(20):
            threads.tick()
            ops.bin_particles(x2, bins=64, box=1.0, assignment="cic")

    return {"laplacian": laplacian, "ch_step": ch_step, "demo_rhs": demo_rhs,
            "torch_eager_laplacian": torch_eager_laplacian, "copy": copy, "binning_ngp": binning_ngp,
            "binning_cic": binning_cic}


def start_neighbours(kinds: list[str]) -> list[subprocess.Popen]:
    # Someone else's job: OpenMP settings of this process (if any) are not theirs.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    procs = [subprocess.Popen([sys.executable, "-c", NEIGHBOURS[k]], env=env) for k in kinds]
    time.sleep(1.5 if procs else 0.0)  # let them import torch and start spinning
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", nargs="+", default=["idle", "torch1", "torch2", "python1"], choices=LOADS)
    parser.add_argument("--workloads", nargs="+",
                        default=["laplacian", "ch_step", "demo_rhs", "torch_eager_laplacian", "copy"])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--name", default="contention", help="results file bench/results/<name>_cpu.json")
    args = parser.parse_args()

    workloads = make_workloads()
    unknown = set(args.workloads) - set(workloads)
    if unknown:
        parser.error(f"argument --workloads: unknown {sorted(unknown)}; expected some of {sorted(workloads)}")
    default_threads = torch.get_num_threads()
    for name in args.workloads:  # warm up: caches, weights, the pool's threads
        workloads[name]()

    results = []
    for load in args.loads:
        procs = start_neighbours(LOADS[load])
        try:
            for name in args.workloads:
                times = {"default": [], "one": [], "auto": []}
                for _ in range(args.reps):  # interleaved, so drift hits all alike
                    for config in times:
                        torch.set_num_threads(1 if config == "one" else default_threads)
                        if config == "auto":  # the governor the coarsegrain command turns on
                            threads.adapt_to_load(True, max_threads=default_threads)
                        t0 = time.perf_counter()
                        workloads[name]()
                        times[config].append(time.perf_counter() - t0)
                        threads.adapt_to_load(False)
                torch.set_num_threads(default_threads)
                med = {k: statistics.median(v) for k, v in times.items()}
                row = {"load": load, "workload": name, "threads_default": default_threads,
                       "median_s_default": med["default"], "median_s_one_thread": med["one"],
                       "median_s_auto": med["auto"],
                       "min_s_default": min(times["default"]), "min_s_one_thread": min(times["one"]),
                       "min_s_auto": min(times["auto"]),
                       "ratio_default_to_one_thread": med["default"] / med["one"],
                       "ratio_auto_to_one_thread": med["auto"] / med["one"]}
                results.append(row)
                print(f"{load:8s} {name:22s} default {med['default'] * 1e3:8.1f} ms  one thread "
                      f"{med['one'] * 1e3:8.1f} ms  auto {med['auto'] * 1e3:8.1f} ms  ratios default "
                      f"{row['ratio_default_to_one_thread']:.2f} auto {row['ratio_auto_to_one_thread']:.2f}",
                      flush=True)
        finally:
            stop(procs)

    idle = {r["workload"]: r for r in results if r["load"] == "idle"}
    summary = {}
    for r in results:
        if r["load"] == "idle":
            continue
        entry = summary.setdefault(r["workload"], {})
        entry[r["load"]] = {"ratio_default_to_one_thread": r["ratio_default_to_one_thread"],
                            "ratio_auto_to_one_thread": r["ratio_auto_to_one_thread"]}
        if r["workload"] in idle:
            entry[r["load"]]["slowdown_vs_idle_default"] = r["median_s_default"] / idle[r["workload"]]["median_s_default"]
    if "laplacian" in idle and "copy" in idle:
        # Both move 2 x 64^3 x 4 bytes per call: how close the idle Laplacian is to the copy.
        summary["laplacian_idle_fraction_of_copy"] = idle["copy"]["median_s_default"] / idle["laplacian"]["median_s_default"]
    path = benchutil.write_results(args.name, "cpu", {
        "loads": {k: LOADS[k] for k in args.loads}, "neighbours": NEIGHBOURS, "reps": args.reps,
        "target": "under load, ratio_default_to_one_thread <= 1.1 for the compiled ops (laplacian, ch_step); "
                  "ratio_auto_to_one_thread <= 1.1 for the demo's rhs (torch ops, governed by coarsegrain.threads)",
        "configs": {"default": "torch.get_num_threads() at start", "one": "torch.set_num_threads(1)",
                    "auto": "coarsegrain.threads.adapt_to_load(True), ticked once per loop iteration"},
        "results": results, "summary": summary})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
