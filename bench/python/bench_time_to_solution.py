"""Time to solution at matched accuracy: 2D Cahn-Hilliard on 256^2 against exponax.

The problem, shared by every solver: u_t = lap(u^3 - u - kappa lap u), kappa = 1, on a
periodic square of side L = 128 with N = 256 points, from a smooth Gaussian random field
(correlation length 4, std 0.1, mean 0) to time T = 8. The reference is coarsegrain's
second-order semi-implicit spectral stepper in float64 with dt = 1e-3. For each solver, a
sweep over dt finds the largest dt whose relative L2 error at T is below the tolerance,
and the time of that run (float32, compilation and warm-up excluded) is reported.

Solvers: coarsegrain SemiImplicitSpectral order 1 and 2 and ExponentialSpectral (ETD1,
ETDRK2) (torch.fft), a NumPy + scipy.fft
implementation of the first-order scheme, and exponax's CahnHilliard (ETDRK, orders 1 and 2,
JAX; install with pip install exponax) when it is installed.

    python bench/python/bench_time_to_solution.py [--tol 1e-3]

Writes bench/results/time_to_solution_cpu.json.
"""

from __future__ import annotations

import argparse
import time

import benchutil
import numpy as np
import torch

from coarsegrain import Grid
from coarsegrain.systems import CahnHilliard, ExponentialSpectral, SemiImplicitSpectral, quartic
from coarsegrain.systems.initial import gaussian_random_field

N, L, T, KAPPA = 256, 128.0, 8.0, 1.0
DTS = [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625]


def rel_error(u, ref):
    return float(np.linalg.norm(u - ref) / np.linalg.norm(ref))


def coarsegrain_solver(stepper_cls, order):
    model = CahnHilliard(Grid((N, N), L / N), quartic(), kappa=KAPPA)

    def run(u0, dt, n):
        stepper = stepper_cls(model, dt, order=order)
        return stepper.advance(torch.from_numpy(u0)[None], n)[0].numpy()

    return run


def numpy_solver():
    import scipy.fft

    grid = Grid((N, N), L / N)
    k2 = grid.k_squared().numpy()

    def run(u0, dt, n):
        a = (1.0 / (1.0 + dt * KAPPA * k2**2)).astype(u0.dtype)
        b = (-dt * k2 * a).astype(u0.dtype)
        u_hat = scipy.fft.rfftn(u0, workers=-1)
        u = u0
        for _ in range(n):
            u_hat = a * u_hat + b * scipy.fft.rfftn(u**3 - u, workers=-1)
            u = scipy.fft.irfftn(u_hat, s=u0.shape, workers=-1)
        return u

    return run


def exponax_solver(order):
    import exponax as ex
    import jax
    import jax.numpy as jnp

    cache = {}

    def run(u0, dt, n):
        key = (dt, n)
        if key not in cache:
            stepper = ex.stepper.reaction.CahnHilliard(
                2, L, N, dt, diffusivity=1.0, gamma=KAPPA, first_order_coefficient=-1.0,
                third_order_coefficient=1.0, order=order)
            cache[key] = jax.jit(ex.repeat(stepper, n))
        out = cache[key](jnp.asarray(u0)[None])
        return np.asarray(out.block_until_ready())[0]

    return run


def sweep(name, run, u0, reference, tol, reps):
    rows, best = [], None
    for dt in DTS:
        n = round(T / dt)
        try:
            u = run(u0, dt, n)  # warm-up and JIT compile
        except Exception as e:  # a solver may refuse a dt
            rows.append({"dt": dt, "error": None, "note": str(e)[:200]})
            continue
        err = rel_error(u, reference) if np.all(np.isfinite(u)) else float("inf")
        seconds = None
        if err <= tol:
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                run(u0, dt, n)
                times.append(time.perf_counter() - t0)
            seconds = float(np.median(times))
            if best is None:
                best = {"dt": dt, "steps": n, "error": err, "seconds": seconds}
        rows.append({"dt": dt, "steps": n, "error": err, "seconds": seconds})
        print(f"  {name:<26} dt={dt:<8g} error {err:.2e}" + (f"  {seconds:.3f} s" if seconds else ""), flush=True)
        if best is not None:
            break  # the largest dt within tolerance is found
    return {"solver": name, "sweep": rows, "best": best}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tol", type=float, default=1e-3, help="relative L2 error at T")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    grid = Grid((N, N), L / N)
    u0_64 = gaussian_random_field(grid, 1, correlation_length=4.0, std=0.1, seed=0)[0].numpy()
    model = CahnHilliard(grid, quartic(), kappa=KAPPA)
    ref_dt = 1e-3
    reference = SemiImplicitSpectral(model, ref_dt, order=2).advance(
        torch.from_numpy(u0_64)[None], round(T / ref_dt))[0].numpy()
    half = SemiImplicitSpectral(model, 2 * ref_dt, order=2).advance(
        torch.from_numpy(u0_64)[None], round(T / (2 * ref_dt)))[0].numpy()
    print(f"reference: dt {ref_dt}, its own error estimate {rel_error(half, reference) / 3:.1e}")
    u0 = u0_64.astype(np.float32)
    solvers = {"coarsegrain_spectral1": coarsegrain_solver(SemiImplicitSpectral, 1),
               "coarsegrain_spectral2": coarsegrain_solver(SemiImplicitSpectral, 2),
               "coarsegrain_etd1": coarsegrain_solver(ExponentialSpectral, 1),
               "coarsegrain_etd2": coarsegrain_solver(ExponentialSpectral, 2),
               "numpy_scipy_spectral1": numpy_solver()}
    try:
        import exponax  # noqa: F401

        solvers["exponax_etdrk1"] = exponax_solver(1)
        solvers["exponax_etdrk2"] = exponax_solver(2)
    except ImportError:
        print("exponax not installed: pip install exponax to include it")
    results = [sweep(name, run, u0, reference, args.tol, args.reps) for name, run in solvers.items()]
    best = {r["solver"]: r["best"]["seconds"] for r in results if r["best"]}
    ours = min(v for k, v in best.items() if k.startswith("coarsegrain"))
    speedups = {k: v / ours for k, v in best.items() if not k.startswith("coarsegrain")}
    print("time to solution: " + ", ".join(f"{k} {v:.3f} s" for k, v in best.items()))
    print("coarsegrain's best is faster than: " + ", ".join(f"{k} x{v:.1f}" for k, v in speedups.items()))
    path = benchutil.write_results("time_to_solution", "cpu", {
        "problem": {"N": N, "L": L, "T": T, "kappa": KAPPA, "tol": args.tol, "dtype": "float32",
                    "reference": {"stepper": "semi_implicit_spectral order 2 float64", "dt": ref_dt}},
        "solvers": results, "best_seconds": best, "speedup_vs": speedups})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
