"""Reproduction of lanzoni2024 ("Extreme time extrapolation capabilities and thermodynamic
consistency of physics-inspired neural networks for the 3D microstructure evolution of materials
via Cahn-Hilliard flow").

1. Data (§2.1): 3D Cahn-Hilliard by explicit finite differences on 64^3 (dt = 1.25e-3, eps = 3,
   M = 1) from periodic Perlin fields of varied mean and correlation length; frames tau = 0.5
   (400 steps) apart; trajectories start from noise or from later states. Split 70:15:15 by
   trajectory (the paper: 70:30 train/validation plus an independent test set).
2. Model and training (§2.2): two ConvGRU layers, 10 hidden channels, 3^3 kernels, the
   conservative toFlux + staggered divergence output; frames downscaled by 1/2 (nearest); the 48
   cube symmetries and phi -> 1 - phi as augmentation; sequence MSE; teacher-forcing curriculum
   ramping to fully autoregressive; best validation loss among the last epochs.
3. Evaluation (§3): rollouts of held-out test trajectories from their first frame; a long
   rollout on a larger grid against the explicit simulator (RMSE, interface displacement
   delta-bar (Eq 4), F/V and its relative error, coarsening exponents of F(t) and L(t), mass
   drift); the float32 mass drift over 10^4 steps; cost per tau against the simulator.

The default size runs on 2 CPU cores in about half an hour; ``full=True`` is the paper's setup
(1850 sequences of 50 frames, lr 1e-5, 25-epoch ramp; days on a GPU). Everything (JSON, PNG,
checkpoints) goes to ``out_dir``; rerunning resumes data generation and training.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._atomic import write_json_atomic
from ..data import AugmentedSequences, SequenceDataset, downscale, get_preset, open_dataset, read_info, simulate
from ..grid import Grid
from ..metrics import compare_trajectories, rmse
from ..models import ConservativeCRNN, count_parameters
from ..rollout import rollout_recurrent
from ..systems import CahnHilliard, lanzoni
from ..systems import initial as initial_fields
from ..systems.steppers import make_stepper
from ..timing import time_call
from ..training import Curriculum, SequenceTrainer, TrainConfig, seed_everything

__all__ = ["LanzoniConfig", "coarse_model", "make_crnn", "run"]

EPS = 3.0           # interface width in fine grid units (§2.1)
FRAME_STEPS = 400   # explicit steps per tau = 0.5


@dataclass
class LanzoniConfig:
    """Sizes of the reproduction; ``None`` fields take the default or the ``full`` value."""

    full: bool = False
    device: str = "cpu"
    seed: int = 0
    n_traj: int | None = None          # simulated trajectories (default 24; full 1850)
    fine_grid: int = 64                # simulation grid (the paper's 64^3)
    factor: int = 2                    # downscaling factor (the paper's 1/2)
    downscale_method: str = "nearest"  # or "average" (keeps the mass exactly)
    seq_len: int | None = None         # frames per training sequence (default 6; full 50)
    stride: int | None = None          # frames between sequence starts (default 3; full 50)
    epochs: int | None = None          # default 4; full 150
    batch_size: int | None = None      # default 4; full 2
    lr: float | None = None            # default 1e-3; full 1e-5 (the paper)
    ramp_epochs: int | None = None     # curriculum ramp (default 2; full 25)
    select_last: int | None = None     # best of the last N epochs (default all; full 50)
    hidden: int = 10
    noise_std: float = 1e-3            # noise on fed-back frames during training
    long_grid: int | None = None       # fine grid of the long test run (default 96; full 128, the paper)
    long_tau: int | None = None        # its length in frames of tau (default 200; full 72000)
    long_save: int | None = None       # frames between its saved states (default 2; full 200)
    mass_steps: int = 10_000           # float32 mass-drift check length
    mass_grid: int = 16                # ... on this (model) grid
    init_from: str | None = None       # start from these weights (a shipped model name or a checkpoint)

    def resolved(self) -> dict[str, Any]:
        default = {"n_traj": 24, "seq_len": 6, "stride": 3, "epochs": 4, "batch_size": 4, "lr": 1e-3,
                   "ramp_epochs": 2, "select_last": None, "long_grid": 96, "long_tau": 200, "long_save": 2}
        full = {"n_traj": 1850, "seq_len": 50, "stride": 50, "epochs": 150, "batch_size": 2, "lr": 1e-5,
                "ramp_epochs": 25, "select_last": 50, "long_grid": 128, "long_tau": 72000, "long_save": 200}
        base = full if self.full else default
        out = asdict(self)
        for key, value in base.items():
            if out.get(key) is None:
                out[key] = value
        if out["fine_grid"] % self.factor or out["long_grid"] % self.factor:
            raise ValueError(f"grids {out['fine_grid']} and {out['long_grid']} must be divisible by factor {self.factor}")
        if out["long_tau"] % out["long_save"]:  # the long run's frames would stop short of long_tau
            raise ValueError(f"long_tau (--long-tau) = {out['long_tau']} must be a multiple of the long run's "
                             f"frame spacing {out['long_save']}")
        return out


def make_crnn(hidden: int = 10, ndim: int = 3) -> tuple[ConservativeCRNN, dict[str, Any]]:
    kwargs = {"ndim": ndim, "channels": 1, "hidden": hidden, "layers": 2, "kernel": 3, "head_width": 2 * hidden,
              "head": "flux"}
    return ConservativeCRNN(**kwargs), {"class": "ConservativeCRNN", "kwargs": kwargs}


def _load_initial_weights(model: ConservativeCRNN, spec: dict[str, Any], source: str) -> None:
    """Copies the weights of a shipped model or a checkpoint of the same architecture (fine-tuning,
    e.g. on longer sequences than the source was trained on)."""
    from ..pretrained import load_pretrained_or_checkpoint

    other = load_pretrained_or_checkpoint(source)
    mine = {k: v.shape for k, v in model.state_dict().items()}
    theirs = {k: v.shape for k, v in other.state_dict().items()}
    if mine != theirs:
        raise ValueError(f"init_from {source!r}: its architecture does not match {spec['kwargs']} "
                         f"(parameters {sorted(set(mine) ^ set(theirs)) or 'of other shapes'})")
    model.load_state_dict(other.state_dict())


def coarse_model(shape, factor: int) -> CahnHilliard:
    """The Cahn-Hilliard model on the model's (coarse) grid: spacing ``factor`` fine units, so F
    is the same functional as on the simulation grid."""
    return CahnHilliard(Grid(shape, float(factor)), lanzoni(EPS), mobility=1.0, kappa=EPS)


READ_CHUNK_BYTES = 256 << 20
"""Bytes of fine frames read at a time from the long run's file."""


def read_long_run(path: Path, factor: int, method: str) -> tuple[Tensor, Tensor, np.ndarray]:
    """The long run's trajectory 0, field 0: (every frame downscaled by ``factor`` [T, *coarse],
    the first fine frame in float64 [1, *fine], the times). The fine frames are read a chunk at
    a time, so memory holds the coarse trajectory and one chunk, not the fine trajectory."""
    with open_dataset(path) as reader:
        grid = reader.info.grid_shape
        frame_bytes = int(np.prod(grid)) * reader.info.dtype.itemsize
        step = max(1, READ_CHUNK_BYTES // frame_bytes)
        n_time = reader.info.n_time
        chunks, fine = [], None
        for k in range(0, n_time, step):
            block = torch.as_tensor(reader.frames(0, slice(k, min(k + step, n_time)), field=0))
            if fine is None:
                fine = block[:1].to(torch.float64)
            chunks.append(downscale(block, factor, len(grid), method))
        return torch.cat(chunks), fine, reader.time


def _simulate(cfg: dict, out: Path, name: str, n_traj: int, grid: int, t_end: float, save_every: int,
              warmup: bool, seed: int, progress: bool) -> Path:
    spec = get_preset("lanzoni-ch3d", n_traj=n_traj, grid=[grid], t_end=t_end, save_every=save_every,
                      device=cfg["device"], seed=seed)
    # float64 for the paper-size data; float32 (3x faster, mass still exact to round-off) by default
    spec = spec.replace(compute_dtype="float64" if cfg["full"] else "float32",
                        warmup_frames=spec.warmup_frames if warmup else 0)
    path = out / f"{name}.h5"
    if path.exists() and read_info(path).complete:
        return path
    return simulate(spec, path, progress=progress, with_rhs=False)


def _plot(results: dict, curves_long: dict, snapshots: dict, history: list, out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no figures: pip install 'coarsegrain[plot]' for matplotlib)")
        return []
    paths = []
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    ep = [h["epoch"] for h in history]
    ax.semilogy(ep, [h["train_loss"] for h in history], "o-", label="training (curriculum)")
    ax.semilogy(ep, [h["val_loss"] for h in history], "s-", label="validation (from frame 0)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("sequence MSE")
    ax.legend()
    ax.set_title("lanzoni2024 Fig 1b: loss")
    fig.savefig(out / "fig_loss.png", dpi=100)
    plt.close(fig)
    paths.append(out / "fig_loss.png")

    c = curves_long
    t = np.asarray(c["time"])
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    ax = axes[0, 0]
    ax.loglog(t[1:], c["free_energy_density_true"][1:], "-", label="explicit FD")
    ax.loglog(t[1:], c["free_energy_density_pred"][1:], "--", label="CRNN")
    ref = np.asarray(c["free_energy_density_true"])[len(t) // 2] * (t[1:] / t[len(t) // 2]) ** (-1 / 3)
    ax.loglog(t[1:], ref, "k:", label="t^(-1/3)")
    ax.set_xlabel("t")
    ax.set_ylabel("F / V")
    ax.legend()
    ax.set_title("Fig 6a: free energy per volume")
    ax = axes[0, 1]
    ax.plot(t, 100 * np.asarray(c["free_energy_relative_error"]))
    ax.set_xlabel("t")
    ax.set_ylabel("|F_CRNN - F_FD| / F_FD  [%]")
    ax.set_title("Fig 6b: relative free-energy error")
    ax = axes[1, 0]
    ax.plot(t, c["rmse"])
    ax.set_xlabel("t")
    ax.set_ylabel("RMSE")
    ax.set_title("Fig 5b: RMSE")
    ax = axes[1, 1]
    ax.plot(t[1:], c["delta_bar"][1:])
    ax.set_xlabel("t")
    ax.set_ylabel("delta-bar [fine grid units]")
    ax.set_title("Fig 5c: interface displacement (Eq 4)")
    fig.suptitle(f"long rollout on {results['long']['model_grid']}^3 (simulated on {results['long']['fine_grid']}^3)")
    fig.savefig(out / "fig_long.png", dpi=100)
    plt.close(fig)
    paths.append(out / "fig_long.png")

    times = snapshots["times"]
    fig, axes = plt.subplots(2, len(times), figsize=(2.6 * len(times), 5.4), squeeze=False, constrained_layout=True)
    for j, tt in enumerate(times):
        for i, (name, frames) in enumerate((("explicit FD", snapshots["truth"]), ("CRNN", snapshots["pred"]))):
            axes[i, j].imshow(frames[j], cmap="RdBu_r", vmin=0, vmax=1, origin="lower")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            axes[i, j].set_title(f"{name}, t = {tt:g}", fontsize=9)
    fig.suptitle("mid-plane slices (Fig 5a)")
    fig.savefig(out / "fig_snapshots.png", dpi=100)
    plt.close(fig)
    paths.append(out / "fig_snapshots.png")
    return paths


def run(out_dir: str | Path = "results/lanzoni2024", cfg: LanzoniConfig | None = None, *,
        progress: bool = True) -> dict[str, Any]:
    """Runs the pipeline; writes ``results.json``, figures and the trained model into ``out_dir``."""
    cfg = cfg or LanzoniConfig()
    c = cfg.resolved()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    seed_everything(cfg.seed)
    results: dict[str, Any] = {"command": " ".join(["coarsegrain"] + sys.argv[1:]) if sys.argv else "",
                               "config": c}
    f, g = c["factor"], c["fine_grid"]
    steps_per_traj = 49  # 50 frames per trajectory (§2.1)

    # 1. data
    t0 = time.perf_counter()
    data = _simulate(c, out / "data", f"lanzoni-ch3d_{g}", c["n_traj"], g, steps_per_traj * 0.5,
                     FRAME_STEPS, True, cfg.seed, progress)
    results["data"] = {"path": str(data), "seconds": time.perf_counter() - t0}

    # 2. training
    fractions = (0.7, 0.15, 0.15)
    common = {"stride": c["stride"], "fractions": fractions, "seed": cfg.seed, "downscale": f,
              "downscale_method": c["downscale_method"]}
    train = SequenceDataset(data, c["seq_len"], "train", **common)
    val = SequenceDataset(data, c["seq_len"], "val", **common)
    seed_everything(cfg.seed)  # the weights are drawn here, after the data steps
    model, spec = make_crnn(c["hidden"])
    if cfg.init_from:
        _load_initial_weights(model, spec, cfg.init_from)
    results["model"] = {"spec": spec, "parameters": count_parameters(model), "init_from": cfg.init_from}
    config = TrainConfig(epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"], loss="mse",
                         select_last=c["select_last"], seed=cfg.seed, device=cfg.device, progress=progress)
    curriculum = Curriculum(ramp_epochs=c["ramp_epochs"], noise_std=c["noise_std"])
    trainer = SequenceTrainer(model, AugmentedSequences(train, 3, reflect_about=0.5), val, config,
                              out / "run", curriculum=curriculum, model_spec=spec)
    print(f"training on {len(train)} sequences of {c['seq_len']} frames ({len(val)} for validation), "
          f"{results['model']['parameters']} parameters", flush=True)
    history = trainer.fit()
    model = trainer.model.cpu().eval()
    results["training"] = {"n_train_sequences": len(train), "n_val_sequences": len(val),
                           "epochs_run": trainer.epoch, "best_val_loss": trainer.best_val,
                           "train_seconds": sum(h["seconds"] for h in history), "history": history}

    # 3a. test trajectories, whole 50-frame rollouts from frame 0
    test = SequenceDataset(data, steps_per_traj + 1, "test", **{**common, "stride": 1})
    physics = coarse_model([g // f] * 3, f)
    per_traj, rm_persist = [], []
    for i in range(len(test)):
        truth = test[i]                                   # [T, 1, n, n, n]
        roll = rollout_recurrent(model, truth[:1], steps_per_traj, progress=progress)
        pred = roll.frames[0]
        per_traj.append(compare_trajectories(truth[:, 0], pred[:, 0], physics,
                                             np.arange(truth.shape[0]) * 0.5)["summary"])
        rm_persist.append(float(rmse(truth[:1].expand_as(truth), truth).item()))
    keys = ("rmse_max", "rmse_final", "delta_bar_mean", "delta_bar_max", "free_energy_relative_error_max",
            "mass_drift_max")
    results["test"] = {"n_trajectories": len(test), "per_trajectory": per_traj,
                       "mean": {k: float(np.mean([s[k] for s in per_traj])) for k in keys},
                       "persistence_rmse_mean": float(np.mean(rm_persist))}
    print(f"test ({len(test)} trajectories, 49 steps from frame 0): RMSE max "
          f"{results['test']['mean']['rmse_max']:.4f} (persistence {results['test']['persistence_rmse_mean']:.4f}), "
          f"delta-bar mean {results['test']['mean']['delta_bar_mean']:.2f}, F/V error max "
          f"{100 * results['test']['mean']['free_energy_relative_error_max']:.2f}%", flush=True)

    # 3b. long rollout on a larger grid against the simulator
    lg, lt, ls = c["long_grid"], c["long_tau"], c["long_save"]
    t0 = time.perf_counter()
    long_path = _simulate(c, out / "data", f"long_{lg}_{lt}", 1, lg, lt * 0.5, FRAME_STEPS * ls, False,
                          cfg.seed + 10_000, progress)
    sim_seconds = time.perf_counter() - t0
    truth, fine, long_time = read_long_run(long_path, f, c["downscale_method"])
    t0 = time.perf_counter()
    roll = rollout_recurrent(model, truth[:1, None].float(), lt, save_every=ls, progress=progress)
    crnn_seconds = time.perf_counter() - t0
    pred = roll.frames[0, :, 0]
    physics_long = coarse_model([lg // f] * 3, f)
    cmp = compare_trajectories(truth, pred, physics_long, long_time)
    results["long"] = {"fine_grid": lg, "model_grid": lg // f, "tau_frames": lt, "summary": cmp["summary"],
                       "simulation_seconds_incl_io": sim_seconds, "crnn_seconds": crnn_seconds,
                       "curves": cmp["curves"]}
    s = cmp["summary"]
    print(f"long run ({lt} tau on {lg // f}^3): F/V error max {100 * s['free_energy_relative_error_max']:.2f}%, "
          f"delta-bar max {s['delta_bar_max']:.2f}, exponent of F: FD {s['exponent_F_true']}, "
          f"CRNN {s['exponent_F_pred']}", flush=True)

    # 3c. float32 mass drift over many steps
    mg = c["mass_grid"]
    phi = initial_fields.perlin(Grid([mg] * 3, 1.0), 1, correlation_length=mg / 4, mean=0.45, amplitude=0.3,
                                seed=cfg.seed + 20_000, dtype=torch.float32)[:, None]
    t0 = time.perf_counter()
    mass = rollout_recurrent(model, phi, c["mass_steps"], save_every=c["mass_steps"], progress=progress)
    results["mass"] = {"grid": mg, "steps": c["mass_steps"], "relative_drift": float(mass.mass_drift.max()),
                       "final_min": float(mass.final_frame.min()), "final_max": float(mass.final_frame.max()),
                       "seconds": time.perf_counter() - t0}
    print(f"float32 mass drift after {c['mass_steps']} steps on {mg}^3: {results['mass']['relative_drift']:.2e}",
          flush=True)

    # 3d. cost of one tau: CRNN step on the model grid vs 400 explicit steps on the fine grid
    with torch.no_grad():
        x = truth[:1, None].float()
        state = model.initial_state(x)
        crnn = time_call(lambda: model.step(x, state), 3, warmup=1)
    stepper = make_stepper(CahnHilliard(Grid([lg] * 3, 1.0), lanzoni(EPS), mobility=1.0, kappa=EPS),
                           "explicit", 1.25e-3)
    fd64 = time_call(lambda: stepper.advance(fine, FRAME_STEPS), 1, warmup=1)
    fd32 = time_call(lambda: stepper.advance(fine.float(), FRAME_STEPS), 1, warmup=1)
    results["cost_per_tau"] = {"crnn_seconds": crnn, "explicit_fd_float64_seconds": fd64,
                               "explicit_fd_float32_seconds": fd32, "model_grid": lg // f, "fine_grid": lg,
                               "threads": torch.get_num_threads()}

    # figures and results
    mid = truth.shape[1] // 2
    picks = sorted({0, len(pred) // 4, len(pred) // 2, len(pred) - 1})
    snapshots = {"times": [float(long_time[k]) for k in picks], "truth": [truth[k, mid].numpy() for k in picks],
                 "pred": [pred[k, mid].numpy() for k in picks]}
    results["figures"] = [str(p) for p in _plot(results, cmp["curves"], snapshots, history, out)]
    results["seconds"] = time.perf_counter() - started
    path = write_json_atomic(out / "results.json", results, default=float)
    print(f"wrote {path} ({results['seconds']:.0f} s)")
    return results
