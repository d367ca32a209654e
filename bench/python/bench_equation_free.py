"""Patch dynamics against the full micro simulation of arbabi2020 Eq 20, at equal macro accuracy.

The problem (arbabi2020 §5.1): u_t = (a(x / eps) u_x)_x, a = 1.1 + sin(2 pi x / eps), eps = 1e-5, on
[0, 1] with the end values of u(x, 0) held (Eq 21), u(x, 0) one Eq 23 trajectory (20 random sines,
wavenumbers up to 4, ``random_sine_series(1, seed)``).

* Full micro simulation: the whole domain at dx = 1e-7 (1e7 cells), ``heterogeneous_diffusion_step``
  (the compiled implicit step, one thread) with steps of 1e-6 (backward Euler: the patches' micro
  solver, the same discrete micro model) from the exact cell averages of u(x, 0), over t in [0, T]
  (the default T = 1e-3 is what a 2-core machine affords in a few minutes), restricted every
  ``T / 10`` to the tooth averages at the 9 macro points (teeth of h = 1e-4 at 0.1 .. 0.9).
* Patch dynamics (``PatchDynamics``): the paper's geometry (9 teeth, buffers H = 8e-3, dx = 1e-7),
  quadratic lift, projective forward Euler with dt_macro = 1e-3, from the exact tooth averages, with
  a few burst settings of the same burst length 1e-6 (so the same 0.1% time fraction).
* The homogenized reference: the exact solution of u_t = a* u_xx (a* = the harmonic mean of a, by
  quadrature) with the same end values, a sine series with closed-form coefficients, averaged exactly
  over each tooth; checked in the same run against ``solve_homogenized_1d`` (LSODA, the paper's
  dx = 5e-3 and a finer grid).

Macro errors (max over the 9 teeth at t = T, absolute; u is of order one): full vs reference,
patch dynamics vs reference, patch dynamics vs full. Patch dynamics' error against the reference
has two parts: the macro scheme (9 points 0.1 apart and a forward Euler step of 1e-3 for Eq 23
fields of up to 4 periods per unit length: the same scheme with the exact homogenized rate a* D2
of the lifted quadratic, run here as ``macro scheme``) and the burst (patch dynamics against that
macro scheme: the bias of the micro estimate of the rate). The burst settings are chosen so that
the burst error is no larger than the full simulation's own error against the reference ("equal
macro accuracy": the micro work of patch dynamics adds no more error than the full simulation
has); the macro scheme's part is reported separately and is not a property of the micro solver.

Also in the JSON: the full simulation against the homogenized solution stepped by the same
backward Euler (what is left once its time-stepping error is taken out); the ideal macro scheme on
finer macro grids (up to 124 teeth, H apart), quartic lifts and Heun, against the full
simulation's error (what equal accuracy of the whole patch-dynamics result would take); and patch
dynamics run over the paper's whole window [0, 1] for the paper's burst and the chosen one
(measured), with its error against the reference at t = 1e-3, 1e-2, 0.1, 1.

What the full simulation's error was when bench/results/equation_free_cpu.json was recorded
(measured outside this script, Eq 23 seed 0, 200 steps): its tooth averages against the homogenized
solution stepped by backward Euler drifted linearly (about 1.4e-8 per step at the tooth at 0.9,
dx = 1e-7; 0.6e-8 at dx = 2e-7): float64 round-off of the then direct implicit solve at
dt a / dx^2 ~ 1e8, not the micro model (scipy's solve_banded drifts the same; a constant offset of
the state changes it). So at T = 1e-3 that run's full-simulation error is its first-order time error
(3.5e-5 at most) partly cancelled by the drift (1.2e-5). heterogeneous_diffusion_step has since
stepped the increment, (I - theta dt M) du = dt (M u + s) with the rate in flux form, which leaves
3e-9 after 200 steps (against 1.1e-6), independent of an offset; the committed JSON was recorded after it.

Cost: wall time (one thread each, the median over repeats for patch dynamics, the loop's total for
the full run; the machine's load average is recorded: on a shared 2-core machine the per-step
times drift by up to 2x within a run), micro space-time points (cells x micro steps), and the
ratios: space fraction (9 H / 1), time fraction (burst length / dt_macro), cells x steps, wall
time. The extrapolation of the full simulation to t in [0, 1] multiplies its measured per-step
cost (constant: the same step every step; from the loop's mean and from the median of single
steps) by 1e6 steps: it is an extrapolation, not a measurement.

Micro-solver peers on the full-domain system (1e7 unknowns, float64; float32 is not usable at
dt a / dx^2 ~ 1e8): the compiled step against scipy.linalg.solve_banded on the same backward-Euler
system (banded storage built in NumPy outside the timing; its build is timed separately) and a
PyTorch eager Thomas (bench_micro's, a Python loop over rows: timed on a prefix of the rows and
scaled linearly, its per-row cost being independent of n, which two prefix lengths check), and
the copy of the step's inputs u and a (numpy.copyto into preallocated buffers, one thread)
measured in the same run. The compiled step's result is checked against scipy's solve. A cost
proxy, not the same problem: the same 1e7 cells as 125 independent systems of 80,000 (the kernel
interleaves systems per thread; one long system is a serial chain), what a partitioned solve of the
one system could approach.

    python bench/python/bench_equation_free.py [--quick] [--t-end 1e-3] [--seed 0]

Writes bench/results/equation_free_cpu.json (--quick: T = 1e-4, dt_macro = 1e-4, fewer repeats;
written to equation_free_quick_cpu.json).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import benchutil
import numpy as np
import torch
from bench_micro import banded, scipy_loop, torch_eager_thomas

from coarsegrain import ops
from coarsegrain.equation_free.homogenization import harmonic_mean_continuum, sample_at, solve_homogenized_1d
from coarsegrain.equation_free.patch_dynamics import PatchDynamics, oscillating_diffusivity, random_sine_series
from coarsegrain.equation_free.patches import PatchGeometry

DX, MICRO_DT, EPS = 1e-7, 1e-6, 1e-5
# (scheme, micro steps per burst, micro step): all bursts 1e-6 long, so the same time fraction
BURSTS = [("backward_euler", 1, 1e-6), ("crank_nicolson", 1, 1e-6), ("backward_euler", 2, 5e-7),
          ("crank_nicolson", 2, 5e-7), ("crank_nicolson", 4, 2.5e-7), ("backward_euler", 5, 2e-7),
          ("backward_euler", 10, 1e-7), ("backward_euler", 20, 5e-8)]
PAPER_BURST = ("backward_euler", 1, 1e-6)


# --- the homogenized reference --------------------------------------------------------------------


def exact_homogenized_tooth_averages(series, a_star, centres, width, times, n_modes=20000, backward_euler_dt=None):
    """Tooth averages ``[len(times), batch, N]`` of the exact solution of u_t = a* u_xx on [0, 1]
    with u(0), u(1) held: ``u = l(x) + sum_n b_n exp(-a* (n pi)^2 t) sin(n pi x)``, ``l`` the line
    through the end values, ``b_n = 2 int_0^1 (u0 - l) sin(n pi x) dx`` in closed form.
    ``backward_euler_dt``: instead the exact solution of the space-continuous PDE stepped by backward
    Euler, each mode's ``exp(-lambda t)`` replaced by ``(1 + lambda dt)^(-t / dt)``."""
    m = np.pi * np.arange(1, n_modes + 1)  # [M]
    ends = series(np.array([0.0, 1.0]))  # [B, 2]
    left, right = ends[:, :1], ends[:, 1:]
    k = 2 * np.pi * series.wavenumber[..., None]  # [B, J, 1]
    phase = series.phase[..., None]

    def cos_integral(d):  # int_0^1 cos(d x + phase) dx, stable at d = 0
        return np.cos(phase + d / 2) * np.sinc(d / (2 * np.pi))

    sine_part = (series.amplitude[..., None] * 0.5 * (cos_integral(k - m) - cos_integral(k + m))).sum(axis=1)
    line_part = left * (1 - np.cos(m)) / m + (right - left) * (-np.cos(m) / m)
    b = 2 * (sine_part - line_part)  # [B, M]
    c = np.asarray(centres, dtype=np.float64)
    mode_avg = np.sin(m[:, None] * c[None, :]) * np.sinc(m * width / (2 * np.pi))[:, None]  # [M, N]
    line_avg = left + (right - left) * c[None, :]  # [B, N]
    out = []
    for t in np.atleast_1d(times):
        rate = a_star * m ** 2
        decay = np.exp(-rate * t) if backward_euler_dt is None else (1 + rate * backward_euler_dt) ** (
            -round(t / backward_euler_dt))
        out.append(line_avg + (b * decay) @ mode_avg)
    return np.stack(out)


def lsoda_tooth_values(series, a_star, centres, width, times, dx):
    """``solve_homogenized_1d`` at the tooth centres, plus h^2 / 24 times its second difference (the
    tooth average of a smooth field to O(h^4)): ``[len(times), N]`` for trajectory 0."""
    x, u = solve_homogenized_1d(lambda z: series(z)[0], times, a_star, dx=dx)
    second = np.zeros_like(u)
    second[:, 1:-1] = (u[:, 2:] - 2 * u[:, 1:-1] + u[:, :-2]) / dx ** 2
    return sample_at(x, u + width ** 2 / 24 * second, centres)


# --- the full micro simulation ---------------------------------------------------------------------


def cell_averages(series, n, dx, chunk=500_000):
    """Exact cell averages of trajectory 0 on the n cells of [0, n dx]."""
    u = np.empty(n)
    for s in range(0, n, chunk):
        centres = (np.arange(s, min(n, s + chunk)) + 0.5) * dx
        u[s:s + centres.size] = series.average(centres, dx)[0]
    return u


def tooth_starts(geometry, dx):
    starts = np.rint((geometry.centres - geometry.tooth_width / 2) / dx).astype(np.int64)
    assert np.allclose(starts * dx, geometry.centres - geometry.tooth_width / 2, rtol=0, atol=1e-6 * dx)
    return starts


def full_simulation(series, geometry, t_end, dt, scheme, n_frames):
    """The whole domain stepped from the exact cell averages; returns (frame times, tooth averages
    [F, N], wall seconds of the stepping loop, setup seconds, cells, steps)."""
    t0 = time.perf_counter()
    n = round(1.0 / DX)
    a = torch.from_numpy(oscillating_diffusivity(EPS)(np.arange(n + 1) * DX))
    left, right = (float(v) for v in series(np.array([0.0, 1.0]))[0])
    # the operator annihilates constants: step u - shift once and for all (smaller round-off, no cost)
    shift = 0.5 * (left + right)
    u = torch.from_numpy(cell_averages(series, n, DX) - shift)
    starts, width = tooth_starts(geometry, DX), geometry.n_tooth_cells

    def restrict(v):
        return np.array([float(v[s:s + width].mean()) for s in starts]) + shift

    n_steps = round(t_end / dt)
    save_every = max(1, n_steps // n_frames)
    setup = time.perf_counter() - t0
    times, frames = [0.0], [restrict(u)]
    start = time.perf_counter()
    for k in range(1, n_steps + 1):
        u = ops.heterogeneous_diffusion_step(u, a, spacing=DX, dt=dt, left=left - shift, right=right - shift, scheme=scheme)
        if k % save_every == 0 or k == n_steps:
            times.append(k * dt)
            frames.append(restrict(u))
            print(f"  full simulation: step {k}/{n_steps}, {time.perf_counter() - start:.1f} s", flush=True)
    wall = time.perf_counter() - start
    return np.array(times), np.stack(frames), wall, setup, n, n_steps


# --- patch dynamics and the ideal macro scheme ---------------------------------------------------


def patch_run(pd, U0, bv, t_end, dt_macro):
    """Projective forward Euler from U0: frames [n_steps + 1, B, N]."""
    U, frames = U0, [U0]
    for _ in range(round(t_end / dt_macro)):
        U, _ = pd.step(U, dt_macro, bv)
        frames.append(U)
    return torch.stack(frames)


def macro_scheme_run(geometry, a_star, U0, bv, t_end, dt_macro):
    """The same macro scheme with the exact homogenized rate of the lifted quadratic, a* D2."""
    U, frames = U0, [U0]
    for _ in range(round(t_end / dt_macro)):
        U = U + dt_macro * a_star * geometry.macro_derivatives(U, 2, bv)[..., 2]
        frames.append(U)
    return torch.stack(frames)


def max_abs(x):
    return float(np.max(np.abs(x)))


def macro_rate_matrix(geometry, a_star, degree):
    """``J [N, N + 2]``, rate = J @ [left, U, right]: the exact homogenized rate of the tooth average of
    the degree-``degree`` lift, a* times the tooth average of its second derivative (D2 + D4 h^2 / 24)."""
    weights = geometry.derivative_weights(degree)
    J = weights[:, 2].copy()
    if degree >= 4:
        J += weights[:, 4] * geometry.tooth_width ** 2 / 24
    return a_star * J


def macro_requirements(series, a_star, t_end, patch_width, target):
    """The ideal macro scheme (exact rates: no burst error) on finer macro grids (up to teeth H apart),
    quadratic and quartic lifts, forward Euler and Heun, dt_macro from 1e-3 down: its error at t_end vs the
    exact reference, for the stable configurations (every eigenvalue of dt J in the method's region).
    Returns the rows and the cheapest one (teeth x rate evaluations) within ``target``, or None."""
    rows = []
    for n_teeth in (9, 19, 39, 79, round(1 / patch_width) - 1):
        g = PatchGeometry(n_teeth, patch_width=patch_width)
        U0, bv = series.macro_state(g)
        U0, left, right = U0[0].numpy(), float(bv[0, 0]), float(bv[0, 1])
        ref = exact_homogenized_tooth_averages(series, a_star, g.centres, g.tooth_width, [t_end])[0, 0]
        for degree in (2, 4):
            J = macro_rate_matrix(g, a_star, degree)
            eigenvalues = np.linalg.eigvals(J[:, 1:-1])

            def rate(U):
                return J[:, 1:-1] @ U + J[:, 0] * left + J[:, -1] * right

            for method in ("euler", "heun"):
                for dt in (1e-3, 5e-4, 2.5e-4, 1e-4, 5e-5, 2.5e-5, 1e-5):
                    z = dt * eigenvalues
                    growth = np.abs(1 + z) if method == "euler" else np.abs(1 + z + z * z / 2)
                    if growth.max() > 1 + 1e-12:
                        continue
                    U = U0.copy()
                    for _ in range(round(t_end / dt)):
                        k1 = rate(U)
                        U = U + dt * k1 if method == "euler" else U + dt / 2 * (k1 + rate(U + dt * k1))
                    evaluations = round(t_end / dt) * (1 if method == "euler" else 2)
                    rows.append({"n_teeth": n_teeth, "lift_degree": degree, "method": method, "dt_macro": dt,
                                 "error_vs_reference": max_abs(U - ref), "space_fraction": g.space_fraction,
                                 "time_fraction": (1 if method == "euler" else 2) * MICRO_DT / dt,
                                 "cost_teeth_x_bursts": n_teeth * evaluations})
    within = [r for r in rows if r["error_vs_reference"] <= target]
    return rows, (min(within, key=lambda r: r["cost_teeth_x_bursts"]) if within else None)


# --- micro-solver peers on the full-domain system -------------------------------------------------


def backward_euler_bands(a, u, left, right, dx, dt):
    """The backward-Euler system of heterogeneous_diffusion_step (its docstring), as [1, n] bands."""
    r = dt / dx ** 2
    a_left, a_right = a[:-1].copy(), a[1:].copy()
    a_left[0] *= 2  # the wall sits on the face, half a cell from the first centre
    a_right[-1] *= 2
    diag = 1 + r * (a_left + a_right)
    lower, upper = -r * a_left, -r * a_right
    rhs = u.copy()
    rhs[0] += r * a_left[0] * left
    rhs[-1] += r * a_right[-1] * right
    return lower[None], diag[None], upper[None], rhs[None]


def bench_peers(series, reps, eager_rows):
    n = round(1.0 / DX)
    a = oscillating_diffusivity(EPS)(np.arange(n + 1) * DX)
    u = cell_averages(series, n, DX)
    left, right = (float(v) for v in series(np.array([0.0, 1.0]))[0])
    ta, tu = torch.from_numpy(a), torch.from_numpy(u)
    row = {"n": n, "dtype": "torch.float64", "dx": DX, "dt": MICRO_DT, "scheme": "backward_euler"}
    bufs = [np.empty_like(u), np.empty_like(a)]

    def copy_inputs():
        np.copyto(bufs[0], u)
        np.copyto(bufs[1], a)

    row["copy_inputs_s"] = benchutil.median_time(copy_inputs, reps)
    step = lambda: ops.heterogeneous_diffusion_step(tu, ta, spacing=DX, dt=MICRO_DT, left=left, right=right)  # noqa: E731
    row["ours_step_s"] = benchutil.median_time(step, reps)
    row["ours_cells_per_s"] = n / row["ours_step_s"]
    row["ours_fraction_of_copy"] = row["copy_inputs_s"] / row["ours_step_s"]
    # the same cells as 125 independent systems of 80,000 (patch-sized): not the same problem, a cost proxy of
    # what a partitioned solve of the one long system could reach (the kernel interleaves systems per thread)
    tub, tab = tu.reshape(125, -1), torch.from_numpy(np.ascontiguousarray(
        np.broadcast_to(a[:n // 125 + 1], (125, n // 125 + 1))))
    row["same_cells_as_125_systems_step_s"] = benchutil.median_time(
        lambda: ops.heterogeneous_diffusion_step(tub, tab, spacing=DX, dt=MICRO_DT, left=left, right=right), reps)
    t0 = time.perf_counter()
    bands = backward_euler_bands(a, u, left, right, DX, MICRO_DT)
    ab = banded(*bands[:3])
    row["numpy_band_build_s"] = time.perf_counter() - t0
    row["scipy_solve_banded_s"] = benchutil.median_time(lambda: scipy_loop(ab, bands[3]), max(2, reps // 2), warmup=1)
    row["speedup_vs_scipy"] = row["scipy_solve_banded_s"] / row["ours_step_s"]
    row["speedup_vs_scipy_with_band_build"] = (row["scipy_solve_banded_s"] + row["numpy_band_build_s"]) / row[
        "ours_step_s"]
    ours = step().numpy()
    scipy_x = scipy_loop(ab, bands[3])[0]
    row["max_abs_difference_vs_scipy"] = max_abs(ours - scipy_x)
    # two backward-stable solves of a system with diagonal ~ 4 dt a / dx^2 ~ 1e8 differ by ~ eps * 1e8 * |u|;
    # a discretization mismatch (the walls' half cell, a face off by one) would be O(1e-3 .. 1)
    row["round_off_scale"] = float(np.finfo(np.float64).eps * bands[1].max() * np.abs(u).max())
    assert row["max_abs_difference_vs_scipy"] < row["round_off_scale"], row
    # PyTorch eager Thomas on prefixes of the rows (the prefix's own system: cost per row only matters)
    prefix = {}
    for rows in (eager_rows // 2, eager_rows):
        t = [torch.from_numpy(np.ascontiguousarray(b[:, :rows])) for b in bands]
        prefix[rows] = benchutil.median_time(lambda: torch_eager_thomas(*t), 1, warmup=0)
        x = torch_eager_thomas(*t).numpy()[0]
        ref = scipy_loop(banded(*(b[:, :rows] for b in bands[:3])), bands[3][:, :rows])[0]
        assert max_abs(x - ref) < row["round_off_scale"]
    row["torch_eager_thomas_prefix_rows"] = list(prefix)
    row["torch_eager_thomas_prefix_s"] = list(prefix.values())
    row["torch_eager_per_row_ratio_long_over_short"] = (prefix[eager_rows] / eager_rows) / (
        prefix[eager_rows // 2] / (eager_rows // 2))
    row["torch_eager_thomas_s_extrapolated"] = prefix[eager_rows] * n / eager_rows
    row["speedup_vs_torch_eager_extrapolated"] = row["torch_eager_thomas_s_extrapolated"] / row["ours_step_s"]
    print(f"full-domain step (n = {n:.0e}): ours {row['ours_step_s'] * 1e3:.1f} ms "
          f"({row['ours_fraction_of_copy']:.2f} of copying u and a; as 125 systems "
          f"{row['same_cells_as_125_systems_step_s'] * 1e3:.1f} ms), scipy solve_banded "
          f"{row['scipy_solve_banded_s'] * 1e3:.1f} ms ({row['speedup_vs_scipy']:.1f}x; +{row['numpy_band_build_s'] * 1e3:.0f} "
          f"ms to build the bands), torch eager Thomas ~{row['torch_eager_thomas_s_extrapolated']:.0f} s "
          f"(extrapolated from {eager_rows} rows; {row['speedup_vs_torch_eager_extrapolated']:.0f}x)", flush=True)
    return row


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="T = 1e-4 and dt_macro = 1e-4, fewer repeats")
    parser.add_argument("--t-end", type=float, default=None, help="the window [0, T] (default 1e-3; quick 1e-4)")
    parser.add_argument("--dt-macro", type=float, default=None, help="projective step (default 1e-3; quick 1e-4)")
    parser.add_argument("--seed", type=int, default=0, help="the Eq 23 trajectory (random_sine_series seed)")
    parser.add_argument("--full-scheme", default="backward_euler", choices=["backward_euler", "crank_nicolson"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every timed part (default 1)")
    args = parser.parse_args()
    t_end = args.t_end or (1e-4 if args.quick else 1e-3)
    dt_macro = args.dt_macro or (1e-4 if args.quick else 1e-3)
    if abs(t_end / dt_macro - round(t_end / dt_macro)) > 1e-9 or round(t_end / dt_macro) < 1:
        parser.error(f"--t-end {t_end} must be a whole number of --dt-macro {dt_macro}")
    reps = 3 if args.quick else 7
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    series = random_sine_series(1, args.seed)
    geometry = PatchGeometry()  # the paper's: 9 teeth, h = 1e-4, H = 8e-3, dx = 1e-7, Dirichlet on [0, 1]
    diffusivity = oscillating_diffusivity(EPS)
    a_star = harmonic_mean_continuum(diffusivity, period=EPS)
    U0, bv = series.macro_state(geometry)
    n_macro = round(t_end / dt_macro)

    # the reference, and its checks
    ref_times = np.arange(n_macro + 1) * dt_macro
    ref = exact_homogenized_tooth_averages(series, a_star, geometry.centres, geometry.tooth_width, ref_times)[:, 0]
    checks = {"a_star": a_star, "a_star_minus_sqrt_0.21": a_star - math.sqrt(0.21),
              "exact_t0_minus_tooth_averages_of_u0": max_abs(ref[0] - U0[0].numpy())}
    for dx in (5e-3, 1e-4):
        lsoda = lsoda_tooth_values(series, a_star, geometry.centres, geometry.tooth_width, ref_times, dx)
        checks[f"lsoda_dx{dx:g}_minus_exact_at_T"] = max_abs(lsoda[-1] - ref[-1])
    print(f"reference: a* = {a_star:.10f}; exact vs LSODA (dx 5e-3, 1e-4) at T: "
          f"{checks['lsoda_dx0.005_minus_exact_at_T']:.2e}, {checks['lsoda_dx0.0001_minus_exact_at_T']:.2e}", flush=True)
    assert checks["exact_t0_minus_tooth_averages_of_u0"] < 1e-6
    assert checks["lsoda_dx0.0001_minus_exact_at_T"] < 1e-5

    # patch dynamics: every burst setting, the ideal macro scheme
    macro = macro_scheme_run(geometry, a_star, U0, bv, t_end, dt_macro)[:, 0].numpy()
    patch_rows = []
    for scheme, steps, micro_dt in BURSTS:
        pd = PatchDynamics(geometry, micro_dt=micro_dt, burst_steps=steps, scheme=scheme)
        frames = patch_run(pd, U0, bv, t_end, dt_macro)[:, 0].numpy()
        step_s = benchutil.median_time(lambda: pd.step(U0, dt_macro, bv), reps, warmup=1)
        patch_rows.append({
            "scheme": scheme, "burst_steps": steps, "micro_dt": micro_dt, "burst_length": pd.burst_length,
            "macro_steps": n_macro, "macro_step_s": step_s, "wall_s": step_s * n_macro,
            "cells": geometry.n_teeth * geometry.n_patch_cells, "micro_steps": n_macro * steps,
            "space_time_points": geometry.n_teeth * geometry.n_patch_cells * n_macro * steps,
            "error_vs_reference": max_abs(frames[-1] - ref[-1]),
            "burst_error_vs_macro_scheme": max_abs(frames[-1] - macro[-1]),
            "U_T": frames[-1].tolist()})
        print(f"patch dynamics {scheme} {steps} x {micro_dt:g}: {step_s * 1e3:.1f} ms per macro step; at T error vs "
              f"reference {patch_rows[-1]['error_vs_reference']:.2e}, burst error (vs the macro scheme) "
              f"{patch_rows[-1]['burst_error_vs_macro_scheme']:.2e}", flush=True)
    macro_error = max_abs(macro[-1] - ref[-1])
    print(f"macro scheme (exact rate a* D2, 9 points, Euler {dt_macro:g}): error vs reference {macro_error:.2e}")

    # the full micro simulation
    print(f"full simulation: 1e7 cells, {round(t_end / MICRO_DT)} {args.full_scheme} steps of {MICRO_DT:g}", flush=True)
    load_full = os.getloadavg()
    times, full, full_wall, full_setup, cells, steps = full_simulation(series, geometry, t_end, MICRO_DT,
                                                                       args.full_scheme, 10)
    full_ref = exact_homogenized_tooth_averages(series, a_star, geometry.centres, geometry.tooth_width, times)[:, 0]
    full_error = max_abs(full[-1] - full_ref[-1])
    if args.full_scheme == "backward_euler":  # what is left once the time-stepping error is taken out
        stepped = exact_homogenized_tooth_averages(series, a_star, geometry.centres, geometry.tooth_width, times,
                                                   backward_euler_dt=MICRO_DT)[:, 0]
        full_minus_stepped = np.abs(full - stepped).max(1).tolist()
    else:
        full_minus_stepped = None
    full_row = {"scheme": args.full_scheme, "dt": MICRO_DT, "dx": DX, "cells": cells, "steps": steps,
                "space_time_points": cells * steps, "wall_s": full_wall, "step_s": full_wall / steps,
                "setup_s": full_setup, "load_average_at_start": load_full,
                "frame_times": times.tolist(), "error_vs_reference_per_frame": np.abs(full - full_ref).max(1).tolist(),
                "error_vs_reference": full_error, "U_T": full[-1].tolist(),
                "error_vs_homogenized_stepped_by_backward_euler_per_frame": full_minus_stepped}
    print(f"full simulation: {full_wall:.1f} s ({full_wall / steps * 1e3:.1f} ms per step); error vs reference at T "
          f"{full_error:.2e}", flush=True)

    # equal accuracy: the cheapest burst whose own error is within the full simulation's
    for row in patch_rows:
        row["error_vs_full"] = max_abs(np.array(row["U_T"]) - full[-1])
    ok = [r for r in patch_rows if r["burst_error_vs_macro_scheme"] <= full_error]
    chosen = min(ok, key=lambda r: r["macro_step_s"]) if ok else None
    paper = next(r for r in patch_rows if (r["scheme"], r["burst_steps"], r["micro_dt"]) == PAPER_BURST)

    def ratios(r, t_total):
        """Full over patch dynamics, and the extrapolation of both to [0, t_total]."""
        full_steps_total, macro_total = round(t_total / MICRO_DT), round(t_total / dt_macro)
        return {
            "space_fraction": geometry.space_fraction,
            "time_fraction": r["burst_length"] / dt_macro,
            "micro_step_fraction": r["burst_steps"] / (dt_macro / MICRO_DT),
            "space_time_points_full_over_patch": full_row["space_time_points"] / r["space_time_points"],
            "wall_full_over_patch": full_row["wall_s"] / r["wall_s"],
            f"extrapolated_to_t{t_total:g}": {
                "note": "an extrapolation: the measured per-step wall times times the step counts (the step sizes "
                        "and so the per-step costs are constant); not run",
                "full_steps": full_steps_total, "full_wall_s": full_row["step_s"] * full_steps_total,
                "full_space_time_points": cells * full_steps_total,
                "patch_macro_steps": macro_total, "patch_wall_s": r["macro_step_s"] * macro_total,
                "patch_space_time_points": r["cells"] * r["burst_steps"] * macro_total,
                "wall_full_over_patch": full_row["step_s"] * full_steps_total / (r["macro_step_s"] * macro_total)},
        }

    summary = {"paper_burst": {**{k: paper[k] for k in ("scheme", "burst_steps", "micro_dt")}, **ratios(paper, 1.0)}}
    if chosen is not None:
        summary["equal_accuracy_burst"] = {**{k: chosen[k] for k in ("scheme", "burst_steps", "micro_dt")},
                                           **ratios(chosen, 1.0)}
    for name, s in summary.items():
        e = s["extrapolated_to_t1"]
        print(f"{name}: {s['scheme']} {s['burst_steps']} x {s['micro_dt']:g}: space {s['space_fraction']:.3f}, time "
              f"{s['time_fraction']:.0e}, cells x steps 1/{s['space_time_points_full_over_patch']:.0f}, wall "
              f"{s['wall_full_over_patch']:.0f}x faster; t in [0, 1] (extrapolated): full {e['full_wall_s'] / 3600:.1f} h, "
              f"patch {e['patch_wall_s']:.1f} s", flush=True)

    # what equal accuracy of the whole patch-dynamics result (macro scheme included) would take
    requirement_rows, cheapest = macro_requirements(series, a_star, t_end, geometry.patch_width, full_error)
    best = min(requirement_rows, key=lambda r: r["error_vs_reference"])
    print(f"macro scheme needed for the full simulation's error {full_error:.1e} at T: "
          f"{cheapest if cheapest else 'none of the configurations (teeth up to H apart)'}; best {best}", flush=True)

    # patch dynamics over the paper's whole window [0, 1]: measured (the full simulation there is extrapolated)
    long_rows = []
    long_end = 1e-2 if args.quick else 1.0
    long_times = [t for t in (1e-3, 1e-2, 1e-1, 1.0) if dt_macro <= t <= long_end]
    long_ref = exact_homogenized_tooth_averages(series, a_star, geometry.centres, geometry.tooth_width,
                                                long_times)[:, 0]
    macro_long = macro_scheme_run(geometry, a_star, U0, bv, long_end, dt_macro)[:, 0].numpy()
    for name, setting in (("paper_burst", PAPER_BURST), ("equal_accuracy_burst", None if chosen is None else (
            chosen["scheme"], chosen["burst_steps"], chosen["micro_dt"]))):
        if setting is None or (name == "equal_accuracy_burst" and setting == PAPER_BURST):
            continue
        pd = PatchDynamics(geometry, micro_dt=setting[2], burst_steps=setting[1], scheme=setting[0])
        start = time.perf_counter()
        frames = patch_run(pd, U0, bv, long_end, dt_macro)[:, 0].numpy()
        wall = time.perf_counter() - start
        index = [round(t / dt_macro) for t in long_times]
        long_rows.append({"burst": name, "scheme": setting[0], "burst_steps": setting[1], "micro_dt": setting[2],
                          "t_end": long_end, "macro_steps": round(long_end / dt_macro), "wall_s_measured": wall,
                          "times": long_times,
                          "error_vs_reference": [max_abs(frames[i] - r) for i, r in zip(index, long_ref)],
                          "macro_scheme_error_vs_reference": [max_abs(macro_long[i] - r)
                                                              for i, r in zip(index, long_ref)],
                          "burst_error_vs_macro_scheme": [max_abs(frames[i] - macro_long[i]) for i in index]})
        print(f"patch dynamics over [0, {long_end:g}], {name}: {wall:.1f} s measured; error vs reference at t = {long_times}: "
              f"{['%.1e' % e for e in long_rows[-1]['error_vs_reference']]}, burst part "
              f"{['%.1e' % e for e in long_rows[-1]['burst_error_vs_macro_scheme']]}", flush=True)

    peers = bench_peers(series, reps, 4000 if args.quick else 20000)
    for row in long_rows:  # the measured patch-dynamics run against the full simulation's two extrapolations
        if row["t_end"] != 1.0:
            continue
        e = summary[row["burst"]]["extrapolated_to_t1"]
        e["patch_wall_s_measured"] = row["wall_s_measured"]
        e["full_wall_s_from_median_step"] = peers["ours_step_s"] * e["full_steps"]
        e["wall_full_over_patch_measured"] = [e["full_wall_s"] / row["wall_s_measured"],
                                              e["full_wall_s_from_median_step"] / row["wall_s_measured"]]
        print(f"{row['burst']} over [0, 1]: full (extrapolated, loop mean / median step) over patch (measured): "
              f"{e['wall_full_over_patch_measured'][0]:.0f}x / {e['wall_full_over_patch_measured'][1]:.0f}x")
    load_end = os.getloadavg()
    payload = {
        "problem": {"equation": "arbabi2020 Eq 20-21, eps 1e-5, [0, 1]", "initial_condition": f"Eq 23, seed {args.seed}",
                    "t_end": t_end, "dt_macro": dt_macro, "geometry": repr(geometry), "lift_degree": 2,
                    "projective_method": "euler", "threads": args.threads},
        "error_measure": "max over the 9 teeth of |U(T) - U_ref(T)| (tooth averages; |u| is of order one)",
        "equal_accuracy_definition": (
            "the cheapest burst (wall time per macro step) whose burst error, |patch dynamics - the same macro scheme "
            "with the exact homogenized rate a* D2|, is <= the full simulation's error vs the homogenized reference; "
            "the macro scheme's own error (9 points, forward Euler dt_macro) is reported apart"),
        "reference_checks": checks,
        "macro_scheme_error_vs_reference": macro_error,
        "reference_U_T": ref[-1].tolist(),
        "full": full_row,
        "patch_dynamics": patch_rows,
        "summary": summary,
        "macro_scheme_for_total_equal_accuracy": {
            "note": ("the ideal macro scheme (exact homogenized rates, no burst error: a lower bound on patch "
                     "dynamics' error) on finer macro grids, teeth up to H apart (space fraction up to ~1), stable "
                     "configurations only; target = the full simulation's error at T"),
            "target": full_error, "cheapest_within_target": cheapest, "most_accurate": best,
            "rows": requirement_rows},
        "patch_dynamics_over_0_1": long_rows,
        "micro_solver_peers": peers,
        "load_average_1_5_15min": {"start": load_start, "end": load_end},
    }
    path = benchutil.write_results("equation_free_quick" if args.quick else "equation_free", "cpu", payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
