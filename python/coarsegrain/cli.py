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

from ._atomic import remove_if_new_on_failure


class UsageError(Exception):
    """A bad argument found after parsing: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (no usage block): the message already names the
    argument, and ``--help`` shows the usage.

    ``error_name`` is the command the line names (``coarsegrain reproduce`` for a paper's parser,
    as for its errors while running), ``prog`` the one whose ``--help`` it points to; a ``strict``
    parser refuses arguments it does not know itself, naming its own ``--help`` (argparse would
    leave them to the top-level parser, which knows only ``coarsegrain --help``)."""

    def __init__(self, *args, error_name: str | None = None, strict: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self._error_name, self._strict = error_name, strict

    def error(self, message: str):
        self.exit(2, f"{self._error_name or self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and self._strict:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


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
                   "rtol": "--rtol", "SemiImplicitSpectral": "--method spectral", "n_particles": "--n-particles",
                   "anisotropy": "--anisotropy"}
# Parameter names stored in a dataset's metadata, and the flags that set them.
_PARAMETER_FLAGS = {"t_end": "--t-end", "save_every": "--save-every", "n_traj": "--n-traj", "seed": "--seed",
                    "dtype": "--dtype", "grid.shape": "--grid", "grid": "--grid", "stepper.dt": "--dt",
                    "stepper.stepper": "--method", "stepper.rtol": "--rtol", "steps": "--steps",
                    "chunk_steps": "--chunk", "correlation_length": "--correlation-length", "mean": "--mean",
                    "model_source": "model", "n_particles": "--n-particles", "initial.anisotropy": "--anisotropy"}


# Parameters added to a dataset's metadata after files were first written without them, with
# the value older versions used implicitly: the exponential steppers split their linear part
# about 0 before ``reference`` existed (its default is now "auto": the conserved mean).
_IMPLICIT_BEFORE = {"stepper.reference": 0.0}


def _with_flags(message: str, names: dict[str, str]) -> str:
    pattern = r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w(])"
    return re.sub(pattern, lambda m: names[m.group(1)], message)


def _check_resume(out: Path, new: dict, overwrite: bool) -> None:
    """Refuses, naming what differs, to resume an interrupted file made with other parameters
    (the writer would refuse too, without saying what differs)."""
    from .data.dataset import flatten_parameters, partial_path

    partial = partial_path(out)
    if overwrite or not partial.exists():
        return
    try:
        import h5py

        with h5py.File(partial, "r") as f:
            old = flatten_parameters(json.loads(f.attrs["parameters"]))
    except Exception:  # unreadable: the writer's own message says so
        return
    new = flatten_parameters(json.loads(json.dumps(new, default=str)))
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


def _cmd_info(args: argparse.Namespace) -> int:
    from . import build_info, threads

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


# The `simulate` options that only some presets take: option -> its flag.
_PRESET_OPTIONS = {"n_particles": "--n-particles", "anisotropy": "--anisotropy"}


def _presets_taking() -> dict[str, list[str]]:
    """The presets that take each of :data:`_PRESET_OPTIONS`, from the presets themselves: the
    particle presets take n_particles; those in 2D or 3D also the anisotropy beta (patel2021
    §5.2.3), which scales the x axis' concentration."""
    from .data.presets import PRESETS
    from .particles import ParticleSpec

    specs = {name: make() for name, make in PRESETS.items()}
    particles = [name for name, spec in specs.items() if isinstance(spec, ParticleSpec)]
    return {"n_particles": particles, "anisotropy": [name for name in particles if specs[name].process.ndim >= 2]}


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
    taking = _presets_taking()
    for key, flag in _PRESET_OPTIONS.items():
        if getattr(args, key) is not None and args.preset not in taking[key]:
            raise UsageError(f"argument {flag}: applies to {', '.join(taking[key])} only, not {args.preset}")
    try:
        spec = get_preset(args.preset, n_traj=args.n_traj, grid=args.grid, t_end=args.t_end,
                          save_every=args.save_every, dtype=args.dtype, device=args.device, seed=args.seed,
                          method=args.method, dt=args.dt, rtol=args.rtol, full=args.full,
                          n_particles=args.n_particles, anisotropy=args.anisotropy)
    except ValueError as e:  # the preset's values with the user's: name the flags they typed
        raise UsageError(_with_flags(_one_line(e), _SIMULATE_FLAGS)) from e
    out = args.out or Path(f"{args.preset}.h5")
    if out.exists() and not args.overwrite:
        raise UsageError(f"{out} exists; add --overwrite to replace it")
    _check_resume(out, spec.metadata(), args.overwrite)
    partial = partial_path(out)
    print(f"{spec.name}: {spec.n_traj} trajectories x {spec.n_frames} frames on {spec.grid.shape}, "
          f"{spec.method} dt = {spec.dt:g}, {spec.n_steps} steps to t = {spec.t_end:g} -> {out}")
    args.interrupt_hint = (f"finished trajectories are kept in {partial}; run the same command again to "
                           "resume")
    # After a failure (not Ctrl-C) a .partial this run created is removed: it resumes nothing.
    with remove_if_new_on_failure(partial, replacing=args.overwrite):
        path = simulate(spec, out, overwrite=args.overwrite, progress=not args.no_progress)
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
    return _REPRODUCE[args.paper](out, args)


def _reproduce_kiyani2022(out: Path, args: argparse.Namespace) -> int:
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


def _reproduce_lanzoni2024(out: Path, args: argparse.Namespace) -> int:
    from .experiments import lanzoni2024

    cfg = lanzoni2024.LanzoniConfig(full=args.full, device=args.device, seed=args.seed, n_traj=args.n_traj,
                                    epochs=args.epochs, long_grid=args.long_grid, long_tau=args.long_tau,
                                    seq_len=args.seq_len, stride=args.stride, lr=args.lr,
                                    ramp_epochs=args.ramp_epochs,
                                    init_from=args.init_from)
    return _check_and_run(lanzoni2024, out, cfg, args)


def _reproduce_barsinai2019(out: Path, args: argparse.Namespace) -> int:
    from .experiments import barsinai2019

    given = {"equations": tuple(args.systems or ()) or None, "models": tuple(args.models or ()) or None,
             "steps": args.steps, "n_test": args.n_test, "t_max": args.t_max, "unroll": args.unroll,
             "loss": args.loss}
    cfg = barsinai2019.BarsinaiConfig(full=args.full, seed=args.seed,
                                      **{k: v for k, v in given.items() if v is not None})
    return _check_and_run(barsinai2019, out, cfg, args)


def _reproduce_patel2021(out: Path, args: argparse.Namespace) -> int:
    from .experiments import patel2021

    given = {"sections": tuple(args.sections) if args.sections else None, "sizes": tuple(args.sizes or ()) or None,
             "b_seeds": args.brownian_seeds, "l_seeds": args.levy_seeds, "optimizer": args.optimizer,
             "assignment": args.assignment, "b_traj": args.brownian_sets, "b_steps": args.brownian_steps,
             "lbfgs_iterations": args.lbfgs_iterations, "stable_refits": args.stable_refits,
             "b_variants": tuple(args.brownian_variants) if args.brownian_variants else None,
             "init": args.init, "betas": tuple(args.betas) if args.betas else None,
             "l_sizes": tuple(sorted(set(args.levy_sets))) if args.levy_sets else None}
    cfg = patel2021.PatelConfig(full=args.full, seed=args.seed, **{k: v for k, v in given.items() if v is not None})
    return _check_and_run(patel2021, out, cfg, args)


def _reproduce_arbabi2020(out: Path, args: argparse.Namespace) -> int:
    from .experiments import arbabi2020

    given = {"sections": tuple(args.sections) if args.sections else None, "epochs_1d": args.epochs_1d,
             "epochs_2d": args.epochs_2d, "train_1d": args.train_1d, "test_1d": args.test_1d,
             "train_2d": args.train_2d, "test_2d": args.test_2d, "schedule": args.lr_schedule}
    cfg = arbabi2020.ArbabiConfig(full=args.full, seed=args.seed, **{k: v for k, v in given.items() if v is not None})
    return _check_and_run(arbabi2020, out, cfg, args)


def _arbabi_section(text: str) -> str:
    """arbabi2020's --sections values."""
    from .experiments.arbabi2020 import SECTIONS

    if text not in SECTIONS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(SECTIONS)}, got {text!r}")
    return text


def _patel_section(text: str) -> str:
    """patel2021's --sections values."""
    from .experiments.patel2021 import SECTIONS

    if text not in SECTIONS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(SECTIONS)}, got {text!r}")
    return text


_REPRODUCE = {"kiyani2022": _reproduce_kiyani2022, "lanzoni2024": _reproduce_lanzoni2024,
              "barsinai2019": _reproduce_barsinai2019, "patel2021": _reproduce_patel2021,
              "arbabi2020": _reproduce_arbabi2020}

# Each paper's `coarsegrain reproduce PAPER --help`: what it runs, its default size and time (the
# figures of README.md's "Results", on the 2-core VM) and what --full runs.
_PAPER_HELP = {
    "kiyani2022": (
        "Kiyani et al. 2022: learned PDEs of Allen-Cahn, Cahn-Hilliard and phase-field crystal (MLP, "
        "CNN-LSTM, U-Net)",
        "Simulates the three systems, trains an MLP, a CNN-LSTM and a U-Net on each, rolls the learned "
        "PDEs out and reports R^2 and rollout errors. Default size: 48^2 grids, 5 runs per system, "
        "40/12/40 epochs for MLP/CNN-LSTM/U-Net; about 14 minutes on 2 CPU cores. --full: the "
        "paper's 256^2/128^2 grids and 2,000/20,000 epochs (GPU, hours)."),
    "lanzoni2024": (
        "Lanzoni et al. 2024: a convolutional recurrent network (CRNN) for 3D Cahn-Hilliard",
        "Simulates 3D Cahn-Hilliard, trains the CRNN on frame sequences, rolls it out on the test "
        "trajectories and on a long run, and draws the figures. Default size: 24 trajectories on 64^3 "
        "downscaled to 32^3, 255 training sequences of 6 frames, 4 epochs; about 30 minutes on 2 CPU "
        "cores. --full: the paper's 1850 sequences of 50 frames (about 50 GPU hours)."),
    "barsinai2019": (
        "Bar-Sinai et al. 2019: learned finite-volume coefficients for Burgers, KdV and "
        "Kuramoto-Sivashinsky",
        "Makes WENO5 (Burgers) and ETDRK4 (KdV, KS) reference data, trains the network and constant-"
        "coefficient models per resample factor, integrates them and the polynomial/WENO baselines, "
        "and reports errors and valid times. Default size: Burgers on 512 cells, KdV and KS on 256; "
        "16 training realizations to t = 20; 3000 optimizer steps per model; 8 test realizations to "
        "t = 20 (4 on the 10x domain); about 9 minutes on 2 CPU cores. --full: 20,000 steps, 100 "
        "test realizations to t = 100."),
    "patel2021": (
        "Patel et al. 2021: modal operator regression with conservation, reflection and isotropy biases",
        "Sec. 4: learns d/dx(u^2) (256 points) and the Laplacian (128^2) from random Fourier fields against the "
        "training-set size, with and without isotropy. Sec. 5: simulates 1D Brownian particles and 2D Levy "
        "flights (alpha 1.5, anisotropy beta 0, 0.1, 1), learns the one-step update with the Eq 21 curriculum, "
        "and checks the square-wave and delta validations, mass, and the learned symbols. Default size: "
        "N = 800/3200/12800, 3 weight seeds each; 32 Brownian sets of 51,200 particles x 200 steps, 2 seeds; 8 Levy sets of "
        "262,144 particles x 100 steps per beta; about 10 minutes on 2 CPU cores. --full: the paper's sizes (100 sets "
        "of 1000 steps, 819,200 Levy particles, 5/10 seeds; hours)."),
    "arbabi2020": (
        "Arbabi et al. 2020: homogenized PDEs learned from equation-free (patch dynamics, gap-tooth) data",
        "Sec. 5.1: patch-dynamics data of 1D heterogeneous diffusion (9 teeth, Dirichlet ends), a* fitted from "
        "the data against sqrt(1.1^2 - 1), the functional MLP F on (u, u_x, u_xx) and the conv net G trained on "
        "dU/dt, their right-hand sides and BDF rollouts against the homogenized PDE. Sec. 5.2: gap-tooth data of "
        "the Eq 25-26 lattice (16^2 patches), the effective tensor fitted from the data against the cell "
        "problem's D* and the paper's Eq 27, F on spectral derivatives and G, rollouts against the exact "
        "homogenized solution, Figs 4-8. Default size: 4 + 1 one-dimensional trajectories over t in [0, 1], "
        "100 epochs; 34 + 6 two-dimensional trajectories, 60 epochs; about 4 minutes on 2 CPU cores (15 when "
        "other processes keep them busy). --full: the paper's 8 + 2 and 85 + 15 trajectories, 300 / 200 epochs "
        "(about 13 minutes)."),
}


def _cpu_only(text: str) -> str:
    """--device of the papers whose models are small and run on the CPU (barsinai2019, patel2021)."""
    if text != "cpu":
        raise argparse.ArgumentTypeError(f"this paper runs on the CPU only, got {text!r}")
    return text


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
    print(f"rolling {args.model} out for {args.steps} steps (t = {args.steps * tau:g}) on {grid.shape}, "
          f"saving every {args.save_every} -> {out}")
    args.interrupt_hint = (f"the finished chunks are kept in {partial}; run the same command again to "
                           "resume")
    with remove_if_new_on_failure(partial, replacing=args.overwrite):
        path = rollout_to_file(model, phi0, out, args.steps, save_every=args.save_every, chunk_steps=chunk,
                               tau=tau, spacing=grid.spacing, bounds=(-0.5, 1.5), overwrite=args.overwrite,
                               parameters=parameters, progress=not args.no_progress)
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

    sim = command("simulate", help="generate a phase-field or particle ensemble into an HDF5 dataset")
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
    sim.add_argument("--full", action="store_true",
                     help="particle presets (patel-*): the paper's sizes (100 sets x 1000 steps) instead of the "
                          "small default; equation-free presets (arbabi-*): the paper's 10 / 100 trajectories; "
                          "the phase-field presets are the papers' sizes already")
    taking = _presets_taking()
    sim.add_argument("--n-particles", type=_positive_int, metavar="N",
                     help=f"particles per set; only for {', '.join(taking['n_particles'])} "
                          "(default: the preset's, larger with --full)")
    sim.add_argument("--anisotropy", type=_number(lambda v: 0 <= v <= 1, "a number in [0, 1]"), metavar="BETA",
                     help=f"anisotropy beta in [0, 1] of the initial mixtures (patel2021 sec. 5.2.3: the x axis' "
                          f"concentration times 1 - beta; 1: uniform in x); only for "
                          f"{', '.join(taking['anisotropy'])} (default 0)")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing file (or an interrupted one)")
    sim.add_argument("--no-progress", action="store_true", help="no progress bar")
    sim.set_defaults(func=_cmd_simulate)

    plot = command("plot", help="PNG snapshots and free-energy curves of a dataset")
    plot.add_argument("file", type=Path, help="a coarsegrain HDF5 dataset")
    plot.add_argument("--out", type=_out_dir, help="output directory (default: next to the file)")
    plot.add_argument("--trajectory", type=_nonnegative_int, default=0, help="trajectory to show")
    plot.add_argument("--no-progress", action="store_true", help="no progress bar")
    plot.set_defaults(func=_cmd_plot)

    rep = command("reproduce", help="reproduce a paper's results (data, training, rollout)",
                  description="Reproduces a paper's results: data, training, rollout, figures. "
                              "`coarsegrain reproduce PAPER --help` lists that paper's flags.")
    papers = rep.add_subparsers(dest="paper", required=True, metavar="paper", parser_class=_Parser,
                                title="papers")

    def paper(name: str, device=_device) -> argparse.ArgumentParser:
        summary, description = _PAPER_HELP[name]
        p = papers.add_parser(name, parents=[debug], help=summary, description=f"{summary}. {description}",
                              error_name="coarsegrain reproduce", strict=True)
        p.add_argument("--full", action="store_true",
                       help="the paper's sizes and epochs" + (" (GPU, hours)" if device is _device else ""))
        p.add_argument("--out", type=_out_dir, help=f"output directory (default results/{name})")
        if device is _cpu_only:
            p.add_argument("--device", type=_cpu_only, default="cpu", help="cpu (the only one it uses)")
        else:
            p.add_argument("--device", type=device, default="cpu", help="cpu or cuda")
        p.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
        return p

    kiyani = paper("kiyani2022")
    kiyani.add_argument("--systems", nargs="+", help="subset of allen_cahn cahn_hilliard pfc")
    kiyani.add_argument("--models", nargs="+", help="subset of mlp cnnlstm unet")
    kiyani.add_argument("--rollout-method", default="LSODA", choices=["LSODA", "BDF", "RK45", "rk4", "euler"],
                        help="LSODA (the paper's Adams/BDF switching), BDF, RK45, rk4 or euler")
    kiyani.add_argument("--epochs", type=_positive_int, help="epochs of every model")

    lanzoni = paper("lanzoni2024")
    lanzoni.add_argument("--n-traj", type=_positive_int, help="simulated trajectories (default 24)")
    lanzoni.add_argument("--epochs", type=_positive_int, help="training epochs (default 4)")
    lanzoni.add_argument("--seq-len", type=_positive_int, help="frames per training sequence (default 6)")
    lanzoni.add_argument("--stride", type=_positive_int, help="frames between training-sequence starts (default 3)")
    lanzoni.add_argument("--lr", type=_positive_float, help="learning rate (default 1e-3)")
    lanzoni.add_argument("--ramp-epochs", type=_nonnegative_int, help="epochs of the teacher-forcing ramp (default 2)")
    lanzoni.add_argument("--init-from", help="start from a shipped model (ch3d-crnn) or a checkpoint")
    lanzoni.add_argument("--long-grid", type=_positive_int, help="fine grid of the long test run")
    lanzoni.add_argument("--long-tau", type=_positive_int, help="length of the long test run in frames (tau)")

    barsinai = paper("barsinai2019", device=_cpu_only)
    barsinai.add_argument("--systems", nargs="+", help="subset of burgers kdv ks")
    barsinai.add_argument("--models", nargs="+", help="subset of network constant")
    barsinai.add_argument("--steps", type=_positive_int, help="optimizer steps per model (default 3000)")
    barsinai.add_argument("--n-test", type=_positive_int, help="test realizations per equation (default 8)")
    barsinai.add_argument("--t-max", type=_positive_float, help="horizon of the valid-time runs (default 20)")
    barsinai.add_argument("--unroll", type=_nonnegative_int, help="frames of time-integrated loss (KdV, KS)")
    barsinai.add_argument("--loss", choices=["mae", "mse"], help="derivative loss (default mae; mse: the paper)")

    patel = paper("patel2021", device=_cpu_only)
    patel.add_argument("--sections", nargs="+", type=_patel_section, metavar="SECTION",
                       help="subset of 4 5-brownian 5-levy (default: all)")
    patel.add_argument("--sizes", nargs="+", type=_positive_int, metavar="N",
                       help="sec. 4 training-set sizes (multiples of 10; default 800 3200 12800)")
    patel.add_argument("--brownian-seeds", type=_positive_int,
                       help="weight seeds per Brownian variant (default 2); the symbol and square-wave targets are "
                       "judged on the fit with the lowest training loss, the failure without reflection on every fit")
    patel.add_argument("--optimizer", choices=("adam", "lbfgs"), default=None,
                       help="sec. 5 training: adam (default; Table 2's) or lbfgs (full-batch L-BFGS: slower per "
                            "model, closer to the exact symbols)")
    patel.add_argument("--lbfgs-iterations", type=_positive_int,
                       help="sec. 5 with --optimizer lbfgs: iterations per epoch, 2 epochs per curriculum stage "
                            "(default 30; some weight seeds need about 100 to converge)")
    patel.add_argument("--stable-refits", type=_nonnegative_int,
                       help="sec. 5: fit again from the next weight seed, up to N times, when the fitted update "
                            "amplifies some mode at the data's densities (max |1 + g h'| > 1.001; the heat and "
                            "fractional heat updates damp every mode); default 0 (the paper's: keep every fit)")
    patel.add_argument("--assignment", choices=("ngp", "cic"), default=None,
                       help="sec. 5 particle binning: ngp (default; the paper's histograms) or cic (cloud in cell: "
                            "its shot noise does not bias the one-step symbol, see results.md)")
    patel.add_argument("--brownian-variants", nargs="+", choices=("none", "conservation", "conservation+reflection"),
                       metavar="VARIANT", help="sec. 5 Brownian models to train: some of none, conservation, "
                                               "conservation+reflection (default: all three)")
    patel.add_argument("--brownian-sets", type=_positive_int,
                       help="sec. 5 Brownian particle sets, the last held out (default 32; --full 100)")
    patel.add_argument("--brownian-steps", type=_positive_int,
                       help="sec. 5 Brownian time steps of 1e-3 per set (default 200; --full 1000)")
    patel.add_argument("--init", choices=("glorot", "torch"), default=None,
                       help="network weight init of every section: glorot (the paper's Keras defaults: "
                            "Glorot-uniform weights, zero biases) or torch (nn.Linear's uniform weights and biases); "
                            "default: glorot in sec. 4, torch in sec. 5")
    patel.add_argument("--levy-seeds", type=_positive_int, help="weight seeds per Levy model (default 1); the beta = 1 ratio is judged on the "
                       "fits with the lowest training loss")
    patel.add_argument("--betas", nargs="+", type=_number(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
                       metavar="BETA", help="sec. 5 Levy anisotropies beta (default 0 0.1 1)")
    patel.add_argument("--levy-sets", nargs="+", type=_positive_int, metavar="N",
                       help="sec. 5 Levy training-set sizes in particle sets (default 1 3 7; at most the sets - 1)")
    arbabi = paper("arbabi2020", device=_cpu_only)
    arbabi.add_argument("--sections", nargs="+", type=_arbabi_section, metavar="SECTION",
                        help="subset of 1d 2d (default: both)")
    arbabi.add_argument("--epochs-1d", type=_positive_int, help="training epochs of the 1D nets (default 100)")
    arbabi.add_argument("--epochs-2d", type=_positive_int, help="training epochs of the 2D nets (default 60)")
    arbabi.add_argument("--train-1d", type=_positive_int, help="1D training trajectories (default 4)")
    arbabi.add_argument("--test-1d", type=_positive_int, help="1D held-out trajectories (default 1)")
    arbabi.add_argument("--train-2d", type=_positive_int, help="2D training trajectories (default 34)")
    arbabi.add_argument("--test-2d", type=_positive_int, help="2D held-out trajectories (default 6)")
    arbabi.add_argument("--lr-schedule", choices=("cosine", "constant"), default=None,
                        help="Adam's rate 1e-3: cosine (default; decayed to 0 over the run) or constant (the paper's)")
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
