"""Phase-field steppers against their peers, in one run.

A. Explicit 3D Cahn-Hilliard step (lanzoni2024 parameters: f = (18/eps) phi^2 (1-phi)^2,
   kappa = eps = 3, M = 1, dt = 1.25e-3): coarsegrain's fused op (and its two-pass variant)
   against NumPy (np.roll) and PyTorch-eager (torch.roll) implementations of the same update,
   torch.compile of the eager step, and a copy of the field (the bandwidth limit: a step must
   read u and write the new u at least once).
B. Semi-implicit Fourier spectral step (2D Cahn-Hilliard, quartic f): time per step against
   the two FFTs it needs (torch.fft's irfftn + rfftn, and the faster pair the steppers run on
   CPU, whose inverse is ops.real_fft_pack and a half-length complex FFT), and against a NumPy + scipy.fft implementation and
   a PyTorch-eager implementation of the same scheme; the ETDRK4 step against its four pairs.

    python bench/python/bench_phase_field.py [--device cpu|cuda] [--quick]

Writes bench/results/phase_field_<device>.json. Times are medians of interleaved repeats.
"""

from __future__ import annotations

import argparse
import math

import benchutil
import numpy as np
import torch

from coarsegrain import Grid, ops
from coarsegrain.systems import CahnHilliard, ExponentialSpectral, SemiImplicitSpectral, lanzoni, quartic

EPS = 3.0
DT = 1.25e-3
DFDU = list(lanzoni(EPS).derivative_coeffs)


def numpy_ch_step(u, dt=DT, kappa=EPS):
    def lap(v):
        out = -6.0 * v
        for ax in range(3):
            out += np.roll(v, 1, ax) + np.roll(v, -1, ax)
        return out

    mu = sum(c * u**k for k, c in enumerate(DFDU)) - kappa * lap(u)
    return u + dt * lap(mu)


def torch_ch_step(u, dt: float = DT, kappa: float = EPS):
    def lap(v):
        out = -6.0 * v
        for ax in range(-3, 0):
            out = out + torch.roll(v, 1, ax) + torch.roll(v, -1, ax)
        return out

    mu = DFDU[1] * u + DFDU[2] * u**2 + DFDU[3] * u**3 - kappa * lap(u)
    return u + dt * lap(mu)


def bench_explicit(n, dtype, device, steps, reps, use_compile):
    h = [1.0, 1.0, 1.0]
    u = (0.5 + 0.1 * torch.randn(n, n, n, generator=torch.Generator().manual_seed(0), dtype=dtype)).to(device)
    expected = torch_ch_step(u)
    got = ops.cahn_hilliard_explicit(u, h, DT, mobility=1.0, kappa=EPS, dfdu=DFDU)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    buf = torch.empty_like(u)

    def fused():
        ops.cahn_hilliard_explicit(u, h, DT, mobility=1.0, kappa=EPS, dfdu=DFDU, steps=steps)

    def two_pass():
        ops.cahn_hilliard_explicit(u, h, DT, mobility=1.0, kappa=EPS, dfdu=DFDU, steps=steps,
                                   scheme="two_pass")

    per_step = {
        "copy": benchutil.median_time(lambda: buf.copy_(u), reps, device),
        "coarsegrain_fused": benchutil.median_time(fused, reps, device, warmup=1) / steps,
        "coarsegrain_two_pass": benchutil.median_time(two_pass, reps, device, warmup=1) / steps,
        "torch_eager": benchutil.median_time(lambda: torch_ch_step(u), max(3, reps // 2), device),
    }
    if use_compile:
        compiled = torch.compile(torch_ch_step, dynamic=False)
        compiled(u)
        per_step["torch_compile"] = benchutil.median_time(lambda: compiled(u), reps, device)
    if device == "cpu":
        un = u.numpy()
        per_step["numpy"] = benchutil.median_time(lambda: numpy_ch_step(un), 3, device, warmup=1)
    ours = per_step["coarsegrain_fused"]
    return {
        "n": n, "dtype": str(dtype).replace("torch.", ""), "steps_per_call": steps,
        "median_s_per_step": per_step,
        "fraction_of_copy": per_step["copy"] / ours,
        "fused_over_two_pass": per_step["coarsegrain_two_pass"] / ours,
        "speedup_vs": {k: v / ours for k, v in per_step.items()
                       if k not in ("copy", "coarsegrain_fused", "coarsegrain_two_pass")},
    }


def numpy_spectral_step_factory(model, dt, shape, dtype):
    import scipy.fft

    k2 = model.grid.k_squared().numpy()
    mk = dt * model.mobility * k2
    a = (1.0 / (1.0 + mk * model.linear_symbol(torch.from_numpy(k2)).numpy())).astype(dtype)
    b = (-mk * a).astype(dtype)
    dfdu = model.energy.derivative_coeffs

    def step(u):
        uh = scipy.fft.rfftn(u, workers=-1)
        n_hat = scipy.fft.rfftn(sum(c * u**k for k, c in enumerate(dfdu)), workers=-1)
        return scipy.fft.irfftn(a * uh + b * n_hat, s=shape, workers=-1)

    return step


def bench_spectral(shape, dtype, device, steps, reps):
    grid = Grid(shape, 1.0)
    model = CahnHilliard(grid, quartic())
    dims = tuple(range(-len(shape), 0))
    u = (0.2 * torch.randn(1, *shape, generator=torch.Generator().manual_seed(1), dtype=dtype)).to(device)
    out = {}
    for order in (1, 2):
        stepper = SemiImplicitSpectral(model, 0.01, order=order)
        v = stepper.advance(u, 2)
        out[f"coarsegrain_order{order}"] = lambda s=stepper, v=v: s.advance(v, steps)
    etd4 = ExponentialSpectral(model, 0.01, order=4)
    etd4.advance(u, 2)
    out["coarsegrain_etd4"] = lambda: etd4.advance(u, steps)
    u_hat = torch.fft.rfftn(u, dim=dims)
    u_buf = torch.empty_like(u)
    h_buf = torch.empty_like(u_hat)

    def fft_pair():
        for _ in range(steps):
            torch.fft.irfftn(u_hat, s=shape, dim=dims, out=u_buf)
            torch.fft.rfftn(u_buf, dim=dims, out=h_buf)

    k2 = grid.k_squared(device=device, dtype=dtype)
    mk = 0.01 * k2
    a = 1.0 / (1.0 + mk * k2)
    b = -mk * a

    def torch_eager():
        w = u
        wh = torch.fft.rfftn(w, dim=dims)
        for _ in range(steps):
            nh = torch.fft.rfftn(w**3 - w, dim=dims)
            wh = a * wh + b * nh
            w = torch.fft.irfftn(wh, s=shape, dim=dims)

    def own_fft_pair():  # the transforms the steppers run (the inverse packed on CPU)
        for _ in range(steps):
            torch.fft.rfftn(ops.irfftn(u_hat, shape), dim=dims, out=h_buf)

    out["fft_pair"] = fft_pair
    out["own_fft_pair"] = own_fft_pair
    out["torch_eager"] = torch_eager
    if device == "cpu":
        np_step = numpy_spectral_step_factory(model, 0.01, shape, np.float32 if dtype == torch.float32 else np.float64)
        un = u[0].numpy()

        def numpy_scipy():
            w = un
            for _ in range(steps):
                w = np_step(w)

        out["numpy_scipy"] = numpy_scipy
    # Interleave the candidates so that machine noise hits them alike.
    samples = {k: [] for k in out}
    for fn in out.values():
        fn()
    for _ in range(reps):
        for k, fn in out.items():
            samples[k].append(benchutil.median_time(fn, 1, device, warmup=0) / steps)
    per_step = {k: float(np.median(v)) for k, v in samples.items()}
    return {
        "shape": list(shape), "dtype": str(dtype).replace("torch.", ""), "median_s_per_step": per_step,
        # against torch.fft's rfftn + irfftn, and against the transform pair the steppers run
        # (on CPU the inverse is real_fft_pack and a half-length complex FFT)
        **{key: {**{f"order{o}": per_step[f"coarsegrain_order{o}"] / per_step[pair] for o in (1, 2)},
                 # ETDRK4 needs four pairs per step
                 "etd4_over_4": per_step["coarsegrain_etd4"] / (4 * per_step[pair])}
           for key, pair in (("step_over_fft_pair", "fft_pair"), ("step_over_own_fft_pair", "own_fft_pair"))},
        "own_fft_pair_speedup": per_step["fft_pair"] / per_step["own_fft_pair"],
        "speedup_vs": {k: v / per_step["coarsegrain_order1"] for k, v in per_step.items()
                       if k in ("torch_eager", "numpy_scipy")},
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="small sizes only")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--only", choices=["explicit", "spectral"], help="run one part, keep the other's stored results")
    args = p.parse_args()
    explicit_sizes = [64, 128] if args.quick else [64, 128, 256]
    if args.device == "cuda" and not args.quick:
        explicit_sizes.append(512)  # a GPU step at 256^3 is short enough for launch overhead to matter
    spectral_shapes = [(256, 256)] if args.quick else [(256, 256), (512, 512), (64, 64, 64), (128, 128, 128)]
    explicit, spectral = [], []
    previous = benchutil.RESULTS_DIR / f"phase_field_{args.device}.json"
    if args.only and previous.exists():
        import json

        stored = json.loads(previous.read_text())  # the part not rerun keeps its last results
        explicit = stored.get("explicit", []) if args.only == "spectral" else []
        spectral = stored.get("spectral", []) if args.only == "explicit" else []
    if args.only == "spectral":
        explicit_sizes = []
    if args.only == "explicit":
        spectral_shapes = []
    for n in explicit_sizes:
        for dtype in (torch.float32, torch.float64):
            r = bench_explicit(n, dtype, args.device, steps=20 if n <= 128 else 10, reps=5,
                               use_compile=not args.no_compile)
            explicit.append(r)
            print(f"explicit CH {n}^3 {r['dtype']}: {r['fraction_of_copy']:.0%} of copy bandwidth, "
                  f"fused {r['fused_over_two_pass']:.2f}x two-pass; speed-ups "
                  + ", ".join(f"{k} x{v:.1f}" for k, v in r["speedup_vs"].items()), flush=True)
    for shape in spectral_shapes:
        for dtype in (torch.float32, torch.float64):
            steps = 20 if math.prod(shape) <= 512 * 512 else 5
            r = bench_spectral(shape, dtype, args.device, steps=steps, reps=9)
            spectral.append(r)
            print(f"spectral CH {'x'.join(map(str, shape))} {r['dtype']}: step / torch.fft pair = "
                  + ", ".join(f"{k} {v:.2f}" for k, v in r["step_over_fft_pair"].items())
                  + "; step / own pair = "
                  + ", ".join(f"{k} {v:.2f}" for k, v in r["step_over_own_fft_pair"].items())
                  + f"; own pair x{r['own_fft_pair_speedup']:.2f} faster than torch.fft's"
                  + "; speed-ups " + ", ".join(f"{k} x{v:.1f}" for k, v in r["speedup_vs"].items()),
                  flush=True)
    path = benchutil.write_results("phase_field", args.device, {"explicit": explicit, "spectral": spectral})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
