"""The ``coarsegrain`` command.

Ordinary mistakes (a bad value, a missing or corrupt file, an unknown preset) end in one line on
stderr, ``coarsegrain <command>: error: ...``, and a non-zero exit status: 2 for a bad argument,
1 for a failure while running; ``--debug`` adds the traceback. Ctrl-C exits with 130 and says
whether rerunning the same command resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import traceback
from pathlib import Path


class UsageError(Exception):
    """A bad argument found after parsing: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): the message already names the
    argument, and ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_number_at_least(low: int):
    """An argparse type: a whole number >= low, with a message naming what was expected."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}")
        return value
    return parse


def _number(ok, expected: str):
    """An argparse type: a float accepted by ok(value), else a message naming what was expected."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _whole_number_at_least(1)
_nonnegative_int = _whole_number_at_least(0)
_positive_float = _number(lambda v: v > 0 and math.isfinite(v), "a positive number")
_finite_float = _number(math.isfinite, "a finite number")


def _device(text: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected cpu or cuda (or cuda:N), got {text!r}")
    if text.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available here (torch {torch.__version__}); "
                                             "use cpu")
        index = int(text.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text!r}: there are {torch.cuda.device_count()} CUDA devices")
    return text


def _new_file(text: str) -> Path:
    """An output file whose directory exists: a missing directory is a typo more often than a
    wish, so it is refused rather than created."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; expected a file path")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory {str(parent)!r} does not exist; create it first")
    return path


def _out_dir(text: str) -> Path:
    """An output directory: created if missing, but only inside a directory that exists."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file; expected a directory")
    if not path.exists() and not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the directory {str(path.parent)!r} does not exist; create it first")
    return path


def _threads(text: str) -> str | int:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 1, got {text!r}") from None


def _set_threads(choice: str | int):
    """torch's OpenMP teams (unlike coarsegrain's kernels) collapse beside other busy processes:
    auto keeps their thread count to the cores left free (coarsegrain.threads). Returns what
    restores the caller's setting (main() may run inside a Python session)."""
    import torch

    from . import threads

    before = torch.get_num_threads()
    if choice == "auto":
        threads.adapt_to_load(True)
    else:
        threads.adapt_to_load(False)
        torch.set_num_threads(choice)

    def restore() -> None:
        threads.adapt_to_load(False)
        torch.set_num_threads(before)
    return restore


def _one_line(error: BaseException) -> str:
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(str(text).split()) or type(error).__name__


def _user_error_types() -> tuple[type, ...]:
    """Exceptions that report a user's mistake or environment, not a bug in coarsegrain."""
    types: list[type] = [UsageError, ValueError, KeyError, OSError, FloatingPointError, ModuleNotFoundError]
    checkpoint = sys.modules.get(f"{__package__}.training.checkpoint")
    if checkpoint is not None:
        types.append(checkpoint.CheckpointError)
    return tuple(types)


# Python keywords in the library's messages, and the flags a user of `simulate` typed for them.
_SIMULATE_FLAGS = {"t_end": "--t-end", "save_every": "--save-every", "n_traj": "--n-traj", "dt": "--dt",
                   "rtol": "--rtol", "SemiImplicitSpectral": "--method spectral"}
# Parameter names stored in a dataset's metadata, and the flags that set them.
_PARAMETER_FLAGS = {"t_end": "--t-end", "save_every": "--save-every", "n_traj": "--n-traj", "seed": "--seed",
                    "dtype": "--dtype", "grid.shape": "--grid", "grid": "--grid", "stepper.dt": "--dt",
                    "stepper.stepper": "--method", "stepper.rtol": "--rtol", "steps": "--steps",
                    "chunk_steps": "--chunk", "correlation_length": "--correlation-length", "mean": "--mean",
                    "model_source": "model"}


# Parameters added to a dataset's metadata after files were first written without them, with
# the value older versions used implicitly: the exponential steppers split their linear part
# about 0 before ``reference`` existed (its default is now "auto": the conserved mean).
_IMPLICIT_BEFORE = {"stepper.reference": 0.0}


def _with_flags(message: str, names: dict[str, str]) -> str:
    pattern = r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w(])"
    return re.sub(pattern, lambda m: names[m.group(1)], message)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_resume(out: Path, new: dict, overwrite: bool) -> None:
    """Refuses, naming what differs, to resume an interrupted file made with other parameters
    (the writer would refuse too, without saying what differs)."""
    from .data.dataset import partial_path

    partial = partial_path(out)
    if overwrite or not partial.exists():
        return
    try:
        import h5py

        with h5py.File(partial, "r") as f:
            old = _flatten(json.loads(f.attrs["parameters"]))
    except Exception:  # unreadable: the writer's own message says so
        return
    new = _flatten(json.loads(json.dumps(new, default=str)))
    diffs, predates = [], False
    for k, v in new.items():
        if k in ("description",) or old.get(k) == v:
            continue
        if k not in old and k in _IMPLICIT_BEFORE:
            # A setting added since the file was started: it was made with the value older
            # versions used implicitly, and the writer compares parameters exactly, so (even when
            # the values agree) such a file cannot be resumed by this version.
            predates = True
            diffs.append(f"{_PARAMETER_FLAGS.get(k, k)} {_IMPLICIT_BEFORE[k]!r} (not stored: an older "
                         f"coarsegrain's) -> {v!r}")
        else:
            diffs.append(f"{_PARAMETER_FLAGS.get(k, k)} {old.get(k, '(unset)')!r} -> {v!r}")
    if diffs:
        more = f" and {len(diffs) - 6} more" if len(diffs) > 6 else ""
        advice = ("it was made by an older coarsegrain and cannot be resumed by this one; add --overwrite to "
                  "start over" if predates else "repeat its values to resume it, or add --overwrite to start over")
        raise UsageError(f"{partial} (an interrupted run) was started with other parameters: "
                         f"{', '.join(diffs[:6])}{more} (file -> now); {advice}")


def _remove_if_fresh(partial: Path, existed: bool) -> None:
    """After a failure (not Ctrl-C): a .partial this run created resumes nothing useful (the same
    parameters fail again), so it is removed rather than left half-written."""
    if not existed and partial.exists():
        partial.unlink()


def _cmd_info(args: argparse.Namespace) -> int:
    from . import build_info

    from . import threads

    info = build_info()
    info["threads_policy"] = (f"auto: up to {threads.max_threads()}, fewer while other processes are busy"
                              if threads.adapt_to_load_enabled() else "fixed (--threads N)")
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

    args.interrupt_hint = "the demo starts over when rerun"
    if args.ops:
        if args.out is not None and args.out.is_dir():
            raise UsageError(f"argument --out: with --ops it is a JSON file, but {str(args.out)!r} is a directory")
        return run_stencil_demo(size=args.size, device=args.device, out=args.out)
    return run_end_to_end(args.out or "coarsegrain-demo", grid=args.grid, epochs=args.epochs,
                          progress=not args.no_progress, seed=args.seed)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .data import PRESETS, get_preset, read_info, simulate
    from .data.dataset import partial_path

    if args.list:
        for name, make in PRESETS.items():
            spec = make()
            print(f"{name:<22} {spec.description}")
        return 0
    if args.preset is None:
        raise UsageError(f"give a preset: one of {', '.join(PRESETS)} (--list describes them)")
    try:
        spec = get_preset(args.preset, n_traj=args.n_traj, grid=args.grid, t_end=args.t_end,
                          save_every=args.save_every, dtype=args.dtype, device=args.device, seed=args.seed,
                          method=args.method, dt=args.dt, rtol=args.rtol)
    except ValueError as e:  # the preset's values with the user's: name the flags they typed
        raise UsageError(_with_flags(_one_line(e), _SIMULATE_FLAGS)) from e
    out = args.out or Path(f"{args.preset}.h5")
    if out.exists() and not args.overwrite:
        raise UsageError(f"{out} exists; add --overwrite to replace it")
    _check_resume(out, spec.metadata(), args.overwrite)
    partial = partial_path(out)
    existed = partial.exists() and not args.overwrite
    print(f"{spec.name}: {spec.n_traj} trajectories x {spec.n_frames} frames on {spec.grid.shape}, "
          f"{spec.method} dt = {spec.dt:g}, {spec.n_steps} steps to t = {spec.t_end:g} -> {out}")
    args.interrupt_hint = (f"finished trajectories are kept in {partial}; run the same command again to "
                           "resume")
    try:
        path = simulate(spec, out, overwrite=args.overwrite, progress=not args.no_progress)
    except KeyboardInterrupt:
        raise
    except BaseException:
        _remove_if_fresh(partial, existed)
        raise
    info = read_info(path)
    print(f"wrote {path}: fields {info.n_traj} x {info.n_time} x {info.n_fields} x {info.grid_shape} "
          f"{info.dtype}, rhs {'yes' if info.has_rhs else 'no'}")
    return 0


def _rollout_mass(path: Path):
    """(number of frames, masses of trajectory 0 / field 0) of a rollout file: every frame's from
    its small /mass array (float64, written by rollout_to_file), or for a file without one the
    first and the last frame's means, reading just those two frames."""
    import numpy as np

    from .data import open_dataset

    with open_dataset(path) as reader:
        n_frames = reader.info.n_time
        if "mass" in reader.file:
            return n_frames, np.asarray(reader.file["mass"][0, :, 0], dtype=np.float64)
        return n_frames, np.array([reader.frames(0, k, field=0).astype(np.float64).mean() for k in (0, n_frames - 1)])


def _cmd_plot(args: argparse.Namespace) -> int:
    from .viz import plot_dataset

    if not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such file")
    for p in plot_dataset(args.file, args.out, trajectory=args.trajectory, progress=not args.no_progress):
        print(f"wrote {p}")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    out = args.out or Path(f"results/{args.paper}")
    # Each pipeline keeps its finished data, models and training checkpoints under out.
    args.interrupt_hint = f"finished steps are kept in {out}; run the same command again to resume"
    if args.paper == "kiyani2022":
        from .experiments import kiyani2022

        cfg = kiyani2022.KiyaniConfig(full=args.full, device=args.device, seed=args.seed,
                                      rollout_method=args.rollout_method, epochs_override=args.epochs)
        if args.systems:
            cfg.systems = args.systems
        if args.models:
            cfg.models = args.models
        try:
            cfg.check()
        except ValueError as e:
            raise UsageError(_with_flags(_one_line(e), {"systems": "--systems", "models": "--models",
                                                        "epochs": "--epochs"})) from e
        kiyani2022.run(out, cfg, progress=not args.no_progress)
        return 0
    if args.paper == "lanzoni2024":
        from .experiments import lanzoni2024

        cfg = lanzoni2024.LanzoniConfig(full=args.full, device=args.device, seed=args.seed, n_traj=args.n_traj,
                                        epochs=args.epochs, long_grid=args.long_grid, long_tau=args.long_tau,
                                        seq_len=args.seq_len, stride=args.stride, lr=args.lr,
                                        ramp_epochs=args.ramp_epochs,
                                        init_from=args.init_from)
        return _check_and_run(lanzoni2024, out, cfg, args)
    from .experiments import barsinai2019

    given = {"equations": tuple(args.systems or ()) or None, "models": tuple(args.models or ()) or None,
             "steps": args.steps, "n_test": args.n_test, "t_max": args.t_max, "unroll": args.unroll,
             "loss": args.loss}
    cfg = barsinai2019.BarsinaiConfig(full=args.full, seed=args.seed,
                                      **{k: v for k, v in given.items() if v is not None})
    return _check_and_run(barsinai2019, out, cfg, args)


def _check_and_run(experiment, out, cfg, args: argparse.Namespace) -> int:
    """Checks a paper's config before anything runs (one line naming the problem), then runs it."""
    try:
        cfg.resolved()
    except ValueError as e:
        raise UsageError(_one_line(e)) from e
    experiment.run(out, cfg, progress=not args.no_progress)
    return 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    import torch

    from .data.dataset import partial_path
    from .pretrained import PRETRAINED, load_pretrained_or_checkpoint

    if args.list:
        for name, entry in PRETRAINED.items():
            print(f"{name:<12} {entry['description']}")
        return 0
    if args.model is None:
        raise UsageError(f"give a model: a shipped one ({', '.join(PRETRAINED)}; --list describes them) "
                         "or a checkpoint file")
    if args.model not in PRETRAINED and not Path(args.model).is_file():
        raise UsageError(f"argument model: {args.model!r} is neither a shipped model ({', '.join(PRETRAINED)}) "
                         "nor a checkpoint file")
    model = load_pretrained_or_checkpoint(args.model, map_location=args.device)
    entry = PRETRAINED.get(args.model, {})
    if not hasattr(model, "step"):
        raise UsageError(f"argument model: {args.model} is not a recurrent model (no step())")
    from .grid import Grid
    from .rollout import rollout_to_file
    from .systems import initial

    ndim = model.ndim
    if len(args.grid) not in (1, ndim):
        raise UsageError(f"argument --grid: needs 1 or {ndim} sizes for this {ndim}D model, got {len(args.grid)}")
    grid = Grid(args.grid * ndim if len(args.grid) == 1 else args.grid, entry.get("spacing", 1.0))
    dtype = getattr(torch, args.dtype)
    model = model.to(dtype)
    # correlation length in model cells; the default matches the training data's 8-24 fine units
    ell = args.correlation_length or 8.0
    mean = args.mean if args.mean is not None else entry.get("initial_mean", 0.5)
    phi0 = initial.perlin(Grid(grid.shape, 1.0), 1, correlation_length=ell, mean=mean,
                          amplitude=entry.get("initial_amplitude", 0.3), seed=args.seed, dtype=dtype,
                          device=args.device)[:, None]
    out = args.out or Path(f"{Path(args.model).stem}_{'x'.join(map(str, grid.shape))}_{args.steps}.h5")
    if out.exists() and not args.overwrite:
        raise UsageError(f"{out} exists; add --overwrite to replace it")
    physics = {}
    if "epsilon" in entry:  # a Cahn-Hilliard surrogate: store the model that defines F for plots
        from .systems import CahnHilliard, lanzoni

        eps = entry["epsilon"]
        physics = {**CahnHilliard(grid, lanzoni(eps), mobility=1.0, kappa=eps).parameters(),
                   "stepper": {"stepper": "explicit_euler"}}
    tau = entry.get("tau", 1.0)
    chunk = args.save_every * max(1, args.chunk // args.save_every)  # whole frames per chunk
    # grid, dtype and mean are stored too, so that a refused resume can say which of them differs
    parameters = {"model_source": args.model, "seed": args.seed, "correlation_length": ell, "mean": mean,
                  "dtype": args.dtype, **physics}
    _check_resume(out, {"steps": args.steps, "save_every": args.save_every, "chunk_steps": chunk, "tau": tau,
                        **parameters}, args.overwrite)
    partial = partial_path(out)
    existed = partial.exists() and not args.overwrite
    print(f"rolling {args.model} out for {args.steps} steps (t = {args.steps * tau:g}) on {grid.shape}, "
          f"saving every {args.save_every} -> {out}")
    args.interrupt_hint = (f"the finished chunks are kept in {partial}; run the same command again to "
                           "resume")
    try:
        path = rollout_to_file(model, phi0, out, args.steps, save_every=args.save_every, chunk_steps=chunk,
                               tau=tau, spacing=grid.spacing, bounds=(-0.5, 1.5), overwrite=args.overwrite,
                               parameters=parameters, progress=not args.no_progress)
    except KeyboardInterrupt:
        raise
    except BaseException:
        _remove_if_fresh(partial, existed)
        raise
    n_frames, mass = _rollout_mass(path)
    print(f"wrote {path}: {n_frames} frames; relative mass drift {abs(mass[-1] - mass[0]) / abs(mass[0]):.2e}")
    if args.plot:
        from .viz import plot_dataset

        for p in plot_dataset(path, None, progress=not args.no_progress):
            print(f"wrote {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .data.presets import PRESETS
    from .systems.steppers import STEPPERS

    # --debug is accepted before or after the command; SUPPRESS keeps a subcommand's default from
    # hiding a --debug given before it.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an error")
    debug.add_argument("--threads", type=_threads, default=argparse.SUPPRESS, metavar="N|auto",
                       help="CPU threads: auto (default) uses the cores other processes leave free, "
                            "looked at once a second; N fixes the count")
    parser = _Parser(
        prog="coarsegrain",
        description="Learn coarse-grained PDE dynamics from fine-scale simulation data.",
        epilog="Errors end in one line and exit status 2 (a bad argument) or 1 (a failure while running); "
               "--debug shows the traceback. Ctrl-C exits with 130.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--threads", type=_threads, default="auto", metavar="N|auto",
                        help="CPU threads: auto (default) uses the cores other processes leave free, "
                             "looked at once a second (coarsegrain.threads); N fixes the count")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[debug], **kwargs)

    info = command("info", help="versions, compilers, CUDA and threads of this build")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_cmd_info)

    demo = command(
        "demo", help="end to end: simulate 2D Cahn-Hilliard, learn U_t, roll the learned PDE out (45 s on 2 idle cores)"
    )
    demo.add_argument("--out", type=_out_dir, default=None,
                      help="output directory (default coarsegrain-demo; with --ops: a JSON path)")
    demo.add_argument("--grid", type=_positive_int, default=32, help="grid size (default 32)")
    demo.add_argument("--epochs", type=_positive_int, default=150, help="training epochs (default 150)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument("--ops", action="store_true",
                      help="instead: the stencil operators' convergence, conservation and speed")
    demo.add_argument("--size", type=_positive_int, default=256, help="with --ops: 3D grid size for the timing")
    demo.add_argument("--device", type=_device, default="cpu", help="with --ops: cpu or cuda")
    demo.set_defaults(func=_cmd_demo)

    sim = command("simulate", help="generate a phase-field ensemble into an HDF5 dataset")
    sim.add_argument("preset", nargs="?", choices=list(PRESETS), metavar="preset",
                     help=f"preset name: {', '.join(PRESETS)} (see --list)")
    sim.add_argument("--list", action="store_true", help="list the presets")
    sim.add_argument("--out", type=_new_file, help="output file (default <preset>.h5); its directory must exist")
    sim.add_argument("--n-traj", type=_positive_int, help="number of trajectories")
    sim.add_argument("--grid", type=_positive_int, nargs="+", help="grid size: one value or one per axis")
    sim.add_argument("--t-end", type=_positive_float,
                     help="final time: a whole number of frame intervals (--save-every x --dt)")
    sim.add_argument("--save-every", type=_positive_int, help="steps between saved frames")
    sim.add_argument("--dtype", choices=["float32", "float64"], help="stored precision")
    sim.add_argument("--device", type=_device, help="cpu or cuda")
    sim.add_argument("--seed", type=int, help="seed of trajectory 0 (trajectory i uses seed + i)")
    sim.add_argument("--method", choices=list(STEPPERS),
                     help="stepper instead of the preset's: explicit, spectral(2) (semi-implicit), etd1/2/4 "
                          "(exponential; etd4-ho: the stiffly accurate ETDRK4), etd4-adaptive (ETDRK4 with step-size control)")
    sim.add_argument("--dt", type=_positive_float,
                     help="time step (frames stay --save-every steps apart, so they move with it)")
    sim.add_argument("--rtol", type=_positive_float, help="tolerance of --method etd4-adaptive (default 1e-4)")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing file (or an interrupted one)")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    sim.set_defaults(func=_cmd_simulate)

    plot = command("plot", help="PNG snapshots and free-energy curves of a dataset")
    plot.add_argument("file", type=Path, help="a coarsegrain HDF5 dataset")
    plot.add_argument("--out", type=_out_dir, help="output directory (default: next to the file)")
    plot.add_argument("--trajectory", type=_nonnegative_int, default=0, help="trajectory to show")
    plot.add_argument("--no-progress", action="store_true", help="no progress bar")
    plot.set_defaults(func=_cmd_plot)

    rep = command("reproduce", help="reproduce a paper's results (data, training, rollout)")
    rep.add_argument("paper", choices=["kiyani2022", "lanzoni2024", "barsinai2019"], metavar="paper",
                     help="kiyani2022, lanzoni2024 or barsinai2019")
    rep.add_argument("--full", action="store_true", help="the paper's sizes and epochs (GPU, hours)")
    rep.add_argument("--out", type=_out_dir, help="output directory (default results/<paper>)")
    rep.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--systems", nargs="+",
                     help="subset: allen_cahn cahn_hilliard pfc (kiyani2022); burgers kdv ks (barsinai2019)")
    rep.add_argument("--models", nargs="+", help="subset: mlp cnnlstm unet (kiyani2022); network constant (barsinai2019)")
    rep.add_argument("--rollout-method", default="LSODA", choices=["LSODA", "BDF", "RK45", "rk4", "euler"],
                     help="LSODA (the paper's Adams/BDF switching), BDF, RK45, rk4 or euler")
    rep.add_argument("--n-traj", type=_positive_int, help="lanzoni2024: simulated trajectories")
    rep.add_argument("--epochs", type=_positive_int, help="lanzoni2024: training epochs; kiyani2022: epochs of every model")
    rep.add_argument("--seq-len", type=_positive_int, help="lanzoni2024: frames per training sequence (default 6)")
    rep.add_argument("--stride", type=_positive_int, help="lanzoni2024: frames between training-sequence starts (default 3)")
    rep.add_argument("--lr", type=_positive_float, help="lanzoni2024: learning rate (default 1e-3)")
    rep.add_argument("--ramp-epochs", type=_nonnegative_int, help="lanzoni2024: epochs of the teacher-forcing ramp (default 2)")
    rep.add_argument("--init-from", help="lanzoni2024: start from a shipped model (ch3d-crnn) or a checkpoint")
    rep.add_argument("--long-grid", type=_positive_int, help="lanzoni2024: fine grid of the long test run")
    rep.add_argument("--long-tau", type=_positive_int, help="lanzoni2024: length of the long test run in frames (tau)")
    rep.add_argument("--steps", type=_positive_int, help="barsinai2019: optimizer steps per model")
    rep.add_argument("--n-test", type=_positive_int, help="barsinai2019: test realizations per equation")
    rep.add_argument("--t-max", type=_positive_float, help="barsinai2019: horizon of the valid-time runs")
    rep.add_argument("--unroll", type=_nonnegative_int, help="barsinai2019: frames of time-integrated loss (KdV, KS)")
    rep.add_argument("--loss", choices=["mae", "mse"], help="barsinai2019: derivative loss (default mae; mse: the paper)")
    rep.add_argument("--no-progress", action="store_true")
    rep.set_defaults(func=_cmd_reproduce)

    roll = command("rollout", help="long rollout of a recurrent model (shipped or a checkpoint) into HDF5")
    roll.add_argument("model", nargs="?", help="a shipped model (see --list) or a checkpoint path")
    roll.add_argument("--list", action="store_true", help="list the shipped models")
    roll.add_argument("--grid", type=_positive_int, nargs="+", default=[64],
                      help="model grid: one size or one per axis (default 64)")
    roll.add_argument("--steps", type=_positive_int, default=200, help="steps (default 200)")
    roll.add_argument("--save-every", type=_positive_int, default=10, help="steps between saved frames (default 10)")
    roll.add_argument("--chunk", type=_positive_int, default=100,
                      help="steps per committed chunk (resume granularity; rounded to whole --save-every)")
    roll.add_argument("--mean", type=_finite_float, help="mean of the Perlin initial field (default: the model's)")
    roll.add_argument("--correlation-length", type=_positive_float,
                      help="of the initial field, in model cells (default 8)")
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    roll.add_argument("--device", type=_device, default="cpu", help="cpu or cuda")
    roll.add_argument("--out", type=_new_file, help="output HDF5 file; its directory must exist")
    roll.add_argument("--overwrite", action="store_true", help="replace an existing file (or an interrupted one)")
    roll.add_argument("--plot", action="store_true", help="also write PNG snapshots and free-energy curves")
    roll.add_argument("--no-progress", action="store_true")
    roll.set_defaults(func=_cmd_rollout)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = f"coarsegrain {args.command}"
    debug = getattr(args, "debug", False)
    restore = _set_threads(args.threads)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        hint = getattr(args, "interrupt_hint", None)
        print(f"\n{name}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    except Exception as e:
        if not isinstance(e, _user_error_types()):
            raise  # a bug: the whole traceback helps more than one line
        if debug:
            traceback.print_exc()
        print(f"{name}: error: {_one_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())
