"""`coarsegrain demo`: the pipeline end to end (:func:`run_end_to_end`), and with ``--ops``
what the compiled stencil operators do, measured on this machine (:func:`run_stencil_demo`).

The operator demo makes three checks a user can read at a glance:

1. convergence -- each operator against the exact derivative of a smooth periodic 3D field,
   with the observed order between grid sizes;
2. conservation -- the library's explicit Cahn-Hilliard stepper (:class:`ExplicitEuler`, whose
   update is u <- u + dt div(face_grad(mu))), whose mass must stay constant to round-off while
   the model's free energy (:meth:`CahnHilliard.free_energy`) falls;
3. speed -- the 3D Laplacian against a NumPy np.roll implementation and a copy of the same
   array (the memory-bandwidth limit).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from . import build_info, ops
from ._atomic import write_json_atomic
from .timing import time_call


def _smooth_field(n: int, lengths=(2 * math.pi, 3.0, 5.0), device="cpu"):
    """u = sin(k0 z) sin(k1 y + 1) sin(k2 x + 2) on a periodic box, with exact derivatives."""
    h = [L / n for L in lengths]
    k = [2 * math.pi / L for L in lengths]
    axes = [torch.arange(n, dtype=torch.float64, device=device) * hh for hh in h]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    args = [k[0] * z, k[1] * y + 1, k[2] * x + 2]
    s = [torch.sin(a) for a in args]
    c = [torch.cos(a) for a in args]
    u = s[0] * s[1] * s[2]
    grad = torch.stack([k[0] * c[0] * s[1] * s[2], k[1] * s[0] * c[1] * s[2], k[2] * s[0] * s[1] * c[2]])
    lap = -sum(kk**2 for kk in k) * u
    return u, grad, lap, h


def convergence_table(device: str = "cpu") -> list[dict]:
    rows = []
    sizes = (16, 32, 64)
    cases = {
        "laplacian order 2": (lambda u, h: ops.laplacian(u, h, order=2), 2),
        "laplacian order 4": (lambda u, h: ops.laplacian(u, h, order=4), 4),
        "gradient (central)": (ops.gradient, 2),
        "div(face_gradient)": (lambda u, h: ops.divergence(ops.face_gradient(u, h), h), 2),
    }
    for name, (fn, expected) in cases.items():
        errors = []
        for n in sizes:
            u, grad, lap, h = _smooth_field(n, device=device)
            exact = grad if name.startswith("gradient") else lap
            errors.append((fn(u, h) - exact).abs().max().item())
        orders = [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]
        rows.append({"operator": name, "sizes": list(sizes), "max_errors": errors,
                     "observed_orders": orders, "expected_order": expected})
    return rows


def cahn_hilliard_conservation(n: int = 64, steps: int = 2000, device: str = "cpu", seed: int = 0) -> dict:
    """Explicit Euler (the library's :class:`ExplicitEuler`) on u_t = lap(u^3 - u - kappa lap u),
    f = (u^2 - 1)^2 / 4, kappa = 1, dx = 1; the free energy is the model's, in the same
    finite-difference discretization."""
    from .grid import Grid
    from .systems import CahnHilliard, ExplicitEuler, double_well

    gen = torch.Generator().manual_seed(seed)
    u = (0.1 * torch.randn(n, n, generator=gen, dtype=torch.float64)).to(device)
    model = CahnHilliard(Grid((n, n), 1.0), double_well(0.25, -1.0, 1.0), mobility=1.0, kappa=1.0)
    # below the stability limit 2 / (M kappa (4 d / dx^2)^2) = 1/32 (ExplicitEuler checks it)
    stepper = ExplicitEuler(model, 0.01)
    chunk = max(1, steps // 20)

    def free_energy(v):
        return model.free_energy(v, "fd").item()

    mass0, energies = u.sum().item(), [free_energy(u)]
    done = 0
    while done < steps:
        u = stepper.advance(u, min(chunk, steps - done))
        done += min(chunk, steps - done)
        energies.append(free_energy(u))
    mass_drift = abs(u.sum().item() - mass0) / u.numel()
    dt = stepper.dt
    return {
        "grid": [n, n], "steps": steps, "dt": dt,
        "mean_field_drift": mass_drift,
        "free_energy_start": energies[0], "free_energy_end": energies[-1],
        "free_energy_non_increasing": all(b <= a + 1e-9 * abs(a) for a, b in zip(energies, energies[1:])),
    }


def laplacian_speed(n: int, device: str = "cpu", reps: int = 5) -> dict:
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(n, n, n, generator=gen).to(device)
    h = [1.0, 1.0, 1.0]
    buf = torch.empty_like(u)
    def best(fn):
        return time_call(fn, reps, device, warmup=1, reduce="min")

    def numpy_roll(a):
        out = -6 * a
        for axis in range(3):
            out += np.roll(a, 1, axis) + np.roll(a, -1, axis)
        return out

    t_copy = best(lambda: buf.copy_(u))
    t_into = best(lambda: ops.laplacian(u, h, out=buf))
    t_alloc = best(lambda: ops.laplacian(u, h))
    result = {"grid": [n, n, n], "dtype": "float32", "device": device,
              "fraction_of_copy_bandwidth": t_copy / t_into,
              "laplacian_ms": t_alloc * 1e3, "laplacian_out_ms": t_into * 1e3}
    if device == "cpu":
        un = u.numpy()
        t_numpy = best(lambda: numpy_roll(un))
        result["speedup_vs_numpy_roll"] = t_numpy / t_alloc
        result["speedup_vs_numpy_roll_out"] = t_numpy / t_into
    return result


def run_stencil_demo(size: int = 256, device: str = "cpu", out: str | None = None) -> int:
    if device == "cuda" and not build_info()["cuda_available"]:
        raise SystemExit("demo: --device cuda needs CUDA operators and a GPU; see `coarsegrain info`")
    print(f"coarsegrain stencil demo on {device}\n")
    print("1. Convergence on a smooth periodic 3D field (max error, observed order):")
    table = convergence_table(device)
    for row in table:
        errs = "  ".join(f"{e:9.2e}" for e in row["max_errors"])
        ords = "  ".join(f"{o:4.2f}" for o in row["observed_orders"])
        print(f"   {row['operator']:<20} N={row['sizes']}: {errs}   order {ords} (expected {row['expected_order']})")
    print("\n2. Explicit Cahn-Hilliard with the staggered divergence (64^2, 2000 steps, float64):")
    ch = cahn_hilliard_conservation(device=device)
    print(f"   mean-field drift {ch['mean_field_drift']:.1e} (round-off), free energy "
          f"{ch['free_energy_start']:.2f} -> {ch['free_energy_end']:.2f}, "
          f"non-increasing: {ch['free_energy_non_increasing']}")
    print(f"\n3. Speed of the {size}^3 float32 Laplacian:")
    speed = laplacian_speed(size, device)
    line = (f"   {speed['laplacian_ms']:.2f} ms (out=: {speed['laplacian_out_ms']:.2f} ms, "
            f"{speed['fraction_of_copy_bandwidth']:.0%} of copy bandwidth)")
    if "speedup_vs_numpy_roll" in speed:
        line += (f"; {speed['speedup_vs_numpy_roll']:.1f}x faster than NumPy np.roll "
                 f"({speed['speedup_vs_numpy_roll_out']:.1f}x with out=)")
    print(line)
    if out:
        path = write_json_atomic(out, {"convergence": table, "cahn_hilliard": ch, "speed": speed,
                                       "build": build_info()})
        print(f"\nwrote {path}")
    ok = ch["mean_field_drift"] < 1e-12 and ch["free_energy_non_increasing"] and all(
        abs(row["observed_orders"][-1] - row["expected_order"]) < 0.2 for row in table
    )
    return 0 if ok else 1


def run_end_to_end(out: str | Path = "coarsegrain-demo", *, grid: int = 32, epochs: int = 150,
                   progress: bool = True, seed: int = 0) -> int:
    """Simulate 2D Cahn-Hilliard, learn U_t with the dictionary MLP, roll the learned PDE out
    from t = 2 to t = 6 and compare with the simulator; metrics, JSON and a figure in ``out``."""
    import time as _time

    from .data import FieldRHSDataset, get_preset, simulate
    from .experiments.kiyani2022 import KiyaniConfig, evaluate, learned_pde_rollout, model_label, plot_rollout
    from .grid import Grid as _Grid
    from .models import DictionaryMLP
    from .training import TrainConfig, Trainer, seed_everything

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = _time.perf_counter()
    print(f"1. simulate: kiyani-cahn-hilliard on {grid}^2, 5 trajectories to t = 8 (semi-implicit spectral)")
    spec = get_preset("kiyani-cahn-hilliard", n_traj=5, grid=[grid], t_end=8.0, seed=seed)
    data = simulate(spec, out / "cahn_hilliard.h5", overwrite=True, progress=progress)
    print(f"2. train: dictionary MLP on U and its derivatives up to 4th order (with U_xy, U_xxyy), "
          f"{epochs} epochs")
    splits = {s: FieldRHSDataset(data, s, fractions=(0.6, 0.2, 0.2), seed=seed, start_frame=1)
              for s in ("train", "val", "test")}
    g = _Grid((grid, grid), 1.0)
    # lap(u^3 - u - lap u) needs the mixed U_xxyy of the biharmonic besides the pure derivatives.
    mixed = [(1, 1), (2, 2)]
    seed_everything(seed)  # before the weights are drawn: same seed, same numbers on CPU
    model = DictionaryMLP(g, max_order=4, hidden=(64, 64, 32), mixed=mixed)
    spec_dict = {"class": "DictionaryMLP", "kwargs": {"grid": g.to_dict(), "max_order": 4,
                                                      "hidden": [64, 64, 32], "mixed": mixed}}
    trainer = Trainer(model, splits["train"], splits["val"],
                      TrainConfig(epochs=epochs, batch_size=8, lr=2e-3, scheduler="cosine", seed=seed,
                                  progress=progress),
                      out / "run", model_spec=spec_dict)
    trainer.fit(resume=False)
    metrics = evaluate(trainer.model, splits["test"], "cpu")
    print(f"   test R^2 {metrics['r2']:.4f}, rMSE {metrics['rmse']:.3e}, MAE {metrics['mae']:.3e} "
          f"on {metrics['n_test_frames']} held-out frames")
    print("3. roll out the learned PDE from t = 2 to t = 6 (scipy LSODA) and compare with the simulator")
    roll = learned_pde_rollout(trainer.model, data, KiyaniConfig(rollout_method="LSODA"), progress=progress)
    figure = None
    if roll["blew_up"]:
        print(f"   {roll['report']}")
    else:
        print("   relative L2 error " + ", ".join(f"{e:.3f} at t = {t:g}" for e, t in zip(roll["relative_l2"], roll["t"])))
        try:
            plot_rollout("cahn_hilliard", roll, out / "rollout.png", model_label(trainer.model))
            figure = out / "rollout.png"
        except ImportError:
            print("   (no figure: pip install 'coarsegrain[plot]' for matplotlib)")
    result = {"metrics": metrics, "rollout": {k: v for k, v in roll.items() if k not in ("learned", "truth")},
              "seconds": _time.perf_counter() - start, "build": build_info()}
    path = write_json_atomic(out / "demo.json", result)
    print(f"wrote {path}" + (f" and {figure}" if figure else "") + f" in {result['seconds']:.0f} s")
    return 1 if roll["blew_up"] else 0
