"""The ``coarsegrain`` command."""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    from . import build_info

    info = build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "-"
        print(f"{key:<{width}}  {value}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_end_to_end, run_stencil_demo

    if args.ops:
        return run_stencil_demo(size=args.size, device=args.device, out=args.out)
    return run_end_to_end(args.out or "coarsegrain-demo", grid=args.grid, epochs=args.epochs,
                          progress=not args.no_progress)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .data import PRESETS, get_preset, read_info, simulate

    if args.list or args.preset is None:
        for name, make in PRESETS.items():
            spec = make()
            print(f"{name:<22} {spec.description}")
        return 0 if args.list else 2
    spec = get_preset(args.preset, n_traj=args.n_traj, grid=args.grid, t_end=args.t_end,
                      save_every=args.save_every, dtype=args.dtype, device=args.device, seed=args.seed,
                      method=args.method, dt=args.dt, rtol=args.rtol)
    out = args.out or f"{args.preset}.h5"
    print(f"{spec.name}: {spec.n_traj} trajectories x {spec.n_frames} frames on {spec.grid.shape}, "
          f"{spec.method} dt = {spec.dt:g}, {spec.n_steps} steps to t = {spec.t_end:g} -> {out}")
    path = simulate(spec, out, overwrite=args.overwrite, progress=not args.no_progress)
    info = read_info(path)
    print(f"wrote {path}: fields {info.n_traj} x {info.n_time} x {info.n_fields} x {info.grid_shape} "
          f"{info.dtype}, rhs {'yes' if info.has_rhs else 'no'}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .viz import plot_dataset

    for p in plot_dataset(args.file, args.out, trajectory=args.trajectory):
        print(f"wrote {p}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    out = args.out or f"results/{args.paper}"
    if args.paper == "kiyani2022":
        from .experiments import kiyani2022

        cfg = kiyani2022.KiyaniConfig(full=args.full, device=args.device, seed=args.seed,
                                      rollout_method=args.rollout_method, epochs_override=args.epochs)
        if args.systems:
            cfg.systems = args.systems
        if args.models:
            cfg.models = args.models
        kiyani2022.run(out, cfg, progress=not args.no_progress)
        return 0
    if args.paper == "lanzoni2024":
        from .experiments import lanzoni2024

        cfg = lanzoni2024.LanzoniConfig(full=args.full, device=args.device, seed=args.seed, n_traj=args.n_traj,
                                        epochs=args.epochs, long_grid=args.long_grid, long_tau=args.long_tau,
                                        seq_len=args.seq_len, stride=args.stride, lr=args.lr,
                                        ramp_epochs=args.ramp_epochs,
                                        init_from=args.init_from)
        lanzoni2024.run(out, cfg, progress=not args.no_progress)
        return 0
    if args.paper == "barsinai2019":
        from .experiments import barsinai2019

        given = {"equations": tuple(args.systems or ()) or None, "models": tuple(args.models or ()) or None,
                 "steps": args.steps, "n_test": args.n_test, "t_max": args.t_max, "unroll": args.unroll,
                 "loss": args.loss}
        cfg = barsinai2019.BarsinaiConfig(full=args.full, seed=args.seed,
                                          **{k: v for k, v in given.items() if v is not None})
        barsinai2019.run(out, cfg, progress=not args.no_progress)
        return 0
    raise SystemExit(f"reproduce: unknown paper {args.paper!r}; available: kiyani2022, lanzoni2024, barsinai2019")


def _cmd_rollout(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from .pretrained import PRETRAINED, load_pretrained_or_checkpoint

    if args.list or args.model is None:
        for name, entry in PRETRAINED.items():
            print(f"{name:<12} {entry['description']}")
        return 0 if args.list else 2
    if args.model not in PRETRAINED and not Path(args.model).exists():
        raise SystemExit(f"rollout: {args.model!r} is neither a shipped model ({', '.join(PRETRAINED)}) "
                         "nor a checkpoint file")
    model = load_pretrained_or_checkpoint(args.model, map_location=args.device)
    entry = PRETRAINED.get(args.model, {})
    if not hasattr(model, "step"):
        raise SystemExit(f"rollout: {args.model} is not a recurrent model")
    from .grid import Grid
    from .rollout import rollout_to_file
    from .systems import initial

    ndim = model.ndim
    grid = Grid(args.grid * ndim if len(args.grid) == 1 else args.grid, entry.get("spacing", 1.0))
    if grid.ndim != ndim:
        raise SystemExit(f"rollout: --grid needs 1 or {ndim} sizes for this {ndim}D model")
    dtype = getattr(torch, args.dtype)
    model = model.to(dtype)
    # correlation length in model cells; the default matches the training data's 8-24 fine units
    ell = args.correlation_length or 8.0
    phi0 = initial.perlin(Grid(grid.shape, 1.0), 1, correlation_length=ell,
                          mean=args.mean if args.mean is not None else entry.get("initial_mean", 0.5),
                          amplitude=entry.get("initial_amplitude", 0.3), seed=args.seed, dtype=dtype,
                          device=args.device)[:, None]
    out = Path(args.out or f"{Path(args.model).stem}_{'x'.join(map(str, grid.shape))}_{args.steps}.h5")
    physics = {}
    if "epsilon" in entry:  # a Cahn-Hilliard surrogate: store the model that defines F for plots
        from .systems import CahnHilliard, lanzoni

        eps = entry["epsilon"]
        physics = {**CahnHilliard(grid, lanzoni(eps), mobility=1.0, kappa=eps).parameters(),
                   "stepper": {"stepper": "explicit_euler"}}
    tau = entry.get("tau", 1.0)
    print(f"rolling {args.model} out for {args.steps} steps (t = {args.steps * tau:g}) on {grid.shape}, "
          f"saving every {args.save_every} -> {out}")
    path = rollout_to_file(model, phi0, out, args.steps, save_every=args.save_every,
                           chunk_steps=args.save_every * max(1, args.chunk // args.save_every), tau=tau,
                           spacing=grid.spacing, bounds=(-0.5, 1.5), overwrite=args.overwrite,
                           parameters={"model_source": args.model, "seed": args.seed, "correlation_length": ell,
                                       **physics},
                           progress=not args.no_progress)
    from .data import load

    data = load(path)
    mass = data["fields"][0, :, 0].astype("float64").mean(axis=tuple(range(1, ndim + 1)))
    print(f"wrote {path}: {data['fields'].shape[1]} frames; relative mass drift {abs(mass[-1] - mass[0]) / abs(mass[0]):.2e}")
    if args.plot:
        from .viz import plot_dataset

        for p in plot_dataset(path, None):
            print(f"wrote {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .systems.steppers import STEPPERS

    parser = argparse.ArgumentParser(
        prog="coarsegrain",
        description="Learn coarse-grained PDE dynamics from fine-scale simulation data.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="versions, compilers, CUDA and threads of this build")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_cmd_info)

    demo = sub.add_parser(
        "demo", help="end to end: simulate 2D Cahn-Hilliard, learn U_t, roll the learned PDE out (~2 min)"
    )
    demo.add_argument("--out", default=None, help="output directory (default coarsegrain-demo; with --ops: a JSON path)")
    demo.add_argument("--grid", type=int, default=32, help="grid size (default 32)")
    demo.add_argument("--epochs", type=int, default=150, help="training epochs (default 150)")
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument("--ops", action="store_true",
                      help="instead: the stencil operators' convergence, conservation and speed")
    demo.add_argument("--size", type=int, default=256, help="with --ops: 3D grid size for the timing")
    demo.add_argument("--device", default="cpu", help="with --ops: cpu or cuda")
    demo.set_defaults(func=_cmd_demo)

    sim = sub.add_parser("simulate", help="generate a phase-field ensemble into an HDF5 dataset")
    sim.add_argument("preset", nargs="?", help="preset name (see --list)")
    sim.add_argument("--list", action="store_true", help="list the presets")
    sim.add_argument("--out", help="output file (default <preset>.h5)")
    sim.add_argument("--n-traj", type=int, help="number of trajectories")
    sim.add_argument("--grid", type=int, nargs="+", help="grid size: one value or one per axis")
    sim.add_argument("--t-end", type=float, help="final time")
    sim.add_argument("--save-every", type=int, help="steps between saved frames")
    sim.add_argument("--dtype", choices=["float32", "float64"], help="stored precision")
    sim.add_argument("--device", help="cpu or cuda")
    sim.add_argument("--seed", type=int, help="seed of trajectory 0 (trajectory i uses seed + i)")
    sim.add_argument("--method", choices=list(STEPPERS),
                     help="stepper instead of the preset's: explicit, spectral(2) (semi-implicit), etd1/2/4 "
                          "(exponential; etd4-ho: the stiffly accurate ETDRK4), etd4-adaptive (ETDRK4 with step-size control)")
    sim.add_argument("--dt", type=float, help="time step (frames stay --save-every steps apart, so they move with it)")
    sim.add_argument("--rtol", type=float, help="tolerance of --method etd4-adaptive (default 1e-4)")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing file")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    sim.set_defaults(func=_cmd_simulate)

    plot = sub.add_parser("plot", help="PNG snapshots and free-energy curves of a dataset")
    plot.add_argument("file", help="a coarsegrain HDF5 dataset")
    plot.add_argument("--out", help="output directory (default: next to the file)")
    plot.add_argument("--trajectory", type=int, default=0, help="trajectory to show")
    plot.set_defaults(func=_cmd_plot)

    rep = sub.add_parser("reproduce", help="reproduce a paper's results (data, training, rollout)")
    rep.add_argument("paper", help="kiyani2022, lanzoni2024 or barsinai2019")
    rep.add_argument("--full", action="store_true", help="the paper's sizes and epochs (GPU, hours)")
    rep.add_argument("--out", help="output directory (default results/<paper>)")
    rep.add_argument("--device", default="cpu")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--systems", nargs="+",
                     help="subset: allen_cahn cahn_hilliard pfc (kiyani2022); burgers kdv ks (barsinai2019)")
    rep.add_argument("--models", nargs="+", help="subset: mlp cnnlstm unet (kiyani2022); network constant (barsinai2019)")
    rep.add_argument("--rollout-method", default="LSODA",
                     help="LSODA (the paper's Adams/BDF switching), BDF, RK45, rk4 or euler")
    rep.add_argument("--n-traj", type=int, help="lanzoni2024: simulated trajectories")
    rep.add_argument("--epochs", type=int, help="lanzoni2024: training epochs; kiyani2022: epochs of every model")
    rep.add_argument("--seq-len", type=int, help="lanzoni2024: frames per training sequence (default 6)")
    rep.add_argument("--stride", type=int, help="lanzoni2024: frames between training-sequence starts (default 3)")
    rep.add_argument("--lr", type=float, help="lanzoni2024: learning rate (default 1e-3)")
    rep.add_argument("--ramp-epochs", type=int, help="lanzoni2024: epochs of the teacher-forcing ramp (default 2)")
    rep.add_argument("--init-from", help="lanzoni2024: start from a shipped model (ch3d-crnn) or a checkpoint")
    rep.add_argument("--long-grid", type=int, help="lanzoni2024: fine grid of the long test run")
    rep.add_argument("--long-tau", type=int, help="lanzoni2024: length of the long test run in frames (tau)")
    rep.add_argument("--steps", type=int, help="barsinai2019: optimizer steps per model")
    rep.add_argument("--n-test", type=int, help="barsinai2019: test realizations per equation")
    rep.add_argument("--t-max", type=float, help="barsinai2019: horizon of the valid-time runs")
    rep.add_argument("--unroll", type=int, help="barsinai2019: frames of time-integrated loss (KdV, KS)")
    rep.add_argument("--loss", choices=["mae", "mse"], help="barsinai2019: derivative loss (default mae; mse: the paper)")
    rep.add_argument("--no-progress", action="store_true")
    rep.set_defaults(func=_cmd_reproduce)
    roll = sub.add_parser("rollout", help="long rollout of a recurrent model (shipped or a checkpoint) into HDF5")
    roll.add_argument("model", nargs="?", help="a shipped model (see --list) or a checkpoint path")
    roll.add_argument("--list", action="store_true", help="list the shipped models")
    roll.add_argument("--grid", type=int, nargs="+", default=[64], help="model grid: one size or one per axis (default 64)")
    roll.add_argument("--steps", type=int, default=200, help="steps (default 200)")
    roll.add_argument("--save-every", type=int, default=10, help="steps between saved frames (default 10)")
    roll.add_argument("--chunk", type=int, default=100, help="steps per committed chunk (resume granularity)")
    roll.add_argument("--mean", type=float, help="mean of the Perlin initial field (default: the model's)")
    roll.add_argument("--correlation-length", type=float, help="of the initial field, in model cells (default 8)")
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    roll.add_argument("--device", default="cpu")
    roll.add_argument("--out", help="output HDF5 file")
    roll.add_argument("--overwrite", action="store_true")
    roll.add_argument("--plot", action="store_true", help="also write PNG snapshots and free-energy curves")
    roll.add_argument("--no-progress", action="store_true")
    roll.set_defaults(func=_cmd_rollout)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
