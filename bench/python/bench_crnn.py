"""The lanzoni2024 CRNN surrogate against the classical steppers it replaces, in one run.

A. Cost per voxel against grid size: one CRNN step (float32, batch 1) on n^3 model grids, in
   eager mode and under torch.compile (the peer), with the copy of the hidden state as the
   bandwidth yardstick (a step must at least read and write its hidden state once).
B. Cost per tau = 0.5 at matched accuracy on a (2n)^3 simulation grid: the CRNN (one step on
   n^3) against the explicit FD stepper that made the data (400 steps of dt = 1.25e-3, and the
   largest dt that stays within the CRNN's error), the semi-implicit spectral stepper (SBDF2),
   ETDRK4 (float32) at the largest dt within the CRNN's error, and the adaptive ETDRK4. Error: RMSE after ``--horizon`` tau against the
   dt = 1.25e-3 FD run, on the model grid (the FD runs are downscaled like the training data).

    python bench/python/bench_crnn.py [--model ch3d-crnn|checkpoint.pt] [--device cpu|cuda] [--quick]

Writes bench/results/crnn_<device>.json.
"""

from __future__ import annotations

import argparse

import benchutil
import torch

from coarsegrain import Grid
from coarsegrain.data import downscale
from coarsegrain.metrics import rmse
from coarsegrain.rollout import rollout_recurrent
from coarsegrain.systems import (
    AdaptiveExponentialSpectral,
    CahnHilliard,
    ExponentialSpectral,
    SemiImplicitSpectral,
    lanzoni,
)
from coarsegrain.systems import initial as initial_fields
from coarsegrain.systems.steppers import ExplicitEuler

EPS, DT, FRAME_STEPS, TAU = 3.0, 1.25e-3, 400, 0.5


def load(model_name: str, device: str):
    from coarsegrain.pretrained import load_pretrained_or_checkpoint

    return load_pretrained_or_checkpoint(model_name).to(device).float().eval()


def cost_per_voxel(model, grids, reps, device):
    rows = []
    for n in grids:
        x = torch.rand(1, 1, n, n, n, device=device)
        with torch.no_grad():
            state = model.initial_state(x)
            eager = benchutil.median_time(lambda: model.step(x, state), reps, device)
            compiled_step = torch.compile(model.step)
            try:
                compiled = benchutil.median_time(lambda: compiled_step(x, state), reps, device, warmup=3)
            except Exception as e:  # torch.compile needs a C++ toolchain; report instead of failing
                compiled = None
                print(f"torch.compile failed at {n}^3: {type(e).__name__}: {e}")
        h = torch.cat(state, 1)
        buf = torch.empty_like(h)
        copy = benchutil.median_time(lambda: buf.copy_(h), reps, device)
        rows.append({"grid": n, "voxels": n ** 3, "eager_s": eager, "compiled_s": compiled,
                     "eager_ns_per_voxel": 1e9 * eager / n ** 3,
                     "compiled_over_eager": None if compiled is None else compiled / eager,
                     "hidden_copy_s": copy, "copy_over_eager": copy / eager})
        print(f"{n:>4}^3  CRNN step {1e3 * eager:8.2f} ms  ({1e9 * eager / n ** 3:6.1f} ns/voxel)  "
              f"compiled/eager {rows[-1]['compiled_over_eager'] or float('nan'):.2f}  "
              f"hidden-state copy / step {copy / eager:.3f}")
    return rows


def matched_accuracy(model, n, horizon, device, reps):
    fine = Grid((2 * n,) * 3, 1.0)
    physics = CahnHilliard(fine, lanzoni(EPS), mobility=1.0, kappa=EPS)
    u0 = initial_fields.perlin(fine, 1, correlation_length=16.0, mean=0.5, amplitude=0.3, seed=123,
                               dtype=torch.float64, device=device)
    reference = ExplicitEuler(physics, DT)
    u0 = reference.advance(u0, 10 * FRAME_STEPS)  # start from a developed microstructure
    truth = reference.advance(u0, horizon * FRAME_STEPS)

    def coarse(u):
        return downscale(u, 2, 3, "nearest").float()

    target = coarse(truth)
    roll = rollout_recurrent(model, coarse(u0)[:, None], horizon)
    crnn_err = rmse(roll.final_frame[:, 0].cpu(), target.cpu()).item()
    x = coarse(u0)[:, None]
    with torch.no_grad():
        state = model.initial_state(x)
        crnn_tau = benchutil.median_time(lambda: model.step(x, state), reps, device)
    out = {"model_grid": n, "fine_grid": 2 * n, "horizon_tau": horizon, "crnn_rmse": crnn_err,
           "crnn_s_per_tau": crnn_tau, "candidates": []}

    def try_stepper(name, stepper, dt, dtype):
        steps = round(horizon * TAU / dt)
        try:
            got = stepper.advance(u0.to(dtype), steps)
        except (ValueError, FloatingPointError) as e:
            out["candidates"].append({"stepper": name, "dt": dt, "dtype": str(dtype), "error": str(e)[:200]})
            return
        err = rmse(coarse(got).cpu(), target.cpu()).item() if torch.isfinite(got).all() else float("inf")
        per_tau = round(TAU / dt)
        seconds = benchutil.median_time(lambda: stepper.advance(u0.to(dtype), per_tau), max(1, reps // 3), device, warmup=1)
        out["candidates"].append({"stepper": name, "dt": dt, "dtype": str(dtype), "rmse": err,
                                  "s_per_tau": seconds, "within_crnn_error": err <= crnn_err})
        print(f"  {name:<22} dt {dt:<8g} {str(dtype):<14} RMSE {err:.4f}  {1e3 * seconds:9.2f} ms/tau")

    print(f"matched accuracy on {2 * n}^3 over {horizon} tau: CRNN RMSE {crnn_err:.4f}, {1e3 * crnn_tau:.2f} ms/tau")
    for dt in (DT, 2 * DT, 3 * DT):
        for dtype in (torch.float64, torch.float32):
            try:
                stepper = ExplicitEuler(physics, dt)
            except ValueError as e:
                out["candidates"].append({"stepper": "explicit_fd", "dt": dt, "error": str(e)[:200]})
                break
            try_stepper("explicit_fd", stepper, dt, dtype)
    for dt in (0.01, 0.02, 0.05, 0.1, 0.25, 0.5):
        try_stepper("semi_implicit_sbdf2", SemiImplicitSpectral(physics, dt, order=2), dt, torch.float64)
    for dt in (0.05, 0.1, 0.25, 0.5):
        try_stepper("etdrk4", ExponentialSpectral(physics, dt, order=4), dt, torch.float32)
    for rtol in (1e-2, 1e-3, 1e-4):
        try_stepper(f"adaptive_etdrk4_rtol{rtol:g}", AdaptiveExponentialSpectral(physics, TAU, rtol=rtol),
                    TAU, torch.float32)
    good = [c for c in out["candidates"] if c.get("within_crnn_error")]
    if good:
        best = min(good, key=lambda c: c["s_per_tau"])
        out["best_classical_within_crnn_error"] = best
        out["crnn_speedup_vs_best_classical"] = best["s_per_tau"] / crnn_tau
        print(f"best classical stepper within the CRNN's error: {best['stepper']} dt {best['dt']:g} "
              f"{best['dtype']}: CRNN speed-up {out['crnn_speedup_vs_best_classical']:.2f}x")
    fd = [c for c in out["candidates"] if c.get("stepper") == "explicit_fd" and c.get("dt") == DT and "s_per_tau" in c]
    out["crnn_speedup_vs_data_stepper"] = {c["dtype"]: c["s_per_tau"] / crnn_tau for c in fd}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ch3d-crnn")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    grids = [16, 32] if args.quick else [16, 32, 48, 64, 96]
    model = load(args.model, args.device)
    print(f"model {args.model}: A. cost per voxel")
    scaling = cost_per_voxel(model, grids, reps, args.device)
    print("B. cost per tau at matched accuracy")
    matched = matched_accuracy(model, 16 if args.quick else 32, 10 if args.quick else 20, args.device, reps)
    path = benchutil.write_results("crnn", args.device, {"model": args.model, "scaling": scaling, "matched": matched})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
