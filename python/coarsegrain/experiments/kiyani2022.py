"""Reproduction of kiyani2022 ("Machine learning based data-driven discovery of nonlinear
phase-field dynamics"), §3-4 and Figs 3-10.

For Allen-Cahn, Cahn-Hilliard and the phase-field crystal: simulate the data (Table 1, with the
phase-field engine), train the dictionary MLP (§3.1), the CNN-LSTM (§3.2) and the U-Net CNN
(§4.1) to predict U_t, report R^2, rMSE and MAE on held-out test frames (Table 2), then
integrate the U-Net's learned PDE from t = 2 to t = 6 with scipy's Adams/BDF switching
integrator (LSODA, §4.3) and compare with the simulator (Fig 10: fields at t = 2.2 and 6 and
the centerline y = n_y / 2).

The default size runs on 2 CPU cores within the time budget; ``full=True`` uses the paper's
grids and epochs (hours on a GPU). Splits: 60:20:20 by frame for the MLP and CNN-LSTM,
80:10:10 for the CNN, as in the paper; the white-noise initial frames are left out.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._atomic import write_json_atomic
from ..data import FieldRHSDataset, get_preset, open_dataset, read_info, simulate
from ..grid import Grid
from ..metrics import mae, r2, rmse
from ..models import CNNLSTM, DerivativeDictionary, DictionaryMLP, UNetCNN
from ..rollout import BlowUpError, rollout, solve_ivp_rollout
from ..systems.phase_field import model_from_parameters
from ..training import TrainConfig, Trainer, seed_everything

__all__ = ["KiyaniConfig", "run", "SYSTEMS", "MODELS"]

SYSTEMS = {"allen_cahn": "kiyani-allen-cahn", "cahn_hilliard": "kiyani-cahn-hilliard", "pfc": "kiyani-pfc"}
MODELS = ("mlp", "cnnlstm", "unet")
DERIVATIVE_ORDER = {"allen_cahn": 2, "cahn_hilliard": 4, "pfc": 6}  # kiyani §3.1


def mixed_derivatives(system: str) -> list[tuple[int, int]]:
    """The mixed derivatives of the MLP's dictionary: every U_{x^a y^b} (a, b >= 1) up to the
    system's order for Cahn-Hilliard and PFC, none for Allen-Cahn.

    kiyani §3.1 lists Allen-Cahn's inputs (U, U_x, U_xx, U_y, U_yy; Fig 2a) and says "spatial
    derivatives up to fourth and sixth order" for the others. Their right-hand sides need the
    mixed ones: lap^2 U = U_xxxx + 2 U_xxyy + U_yyyy, lap^3 U adds 3 U_xxxxyy + 3 U_xxyyyy; without
    them no MLP can represent U_t (test R^2 0.79 / 0.72 at the default size).
    """
    if system == "allen_cahn":
        return []
    order = DERIVATIVE_ORDER[system]
    return [(a, total - a) for total in range(2, order + 1) for a in range(1, total)]


@dataclass
class KiyaniConfig:
    full: bool = False
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))
    models: list[str] = field(default_factory=lambda: list(MODELS))
    device: str = "cpu"
    seed: int = 0
    rollout_method: str = "LSODA"
    n_traj: int = 5
    epochs_override: int | None = None  # one epoch count for every model (e.g. --full within a GPU budget)

    @property
    def grids(self) -> dict[str, int]:
        return {"allen_cahn": 256, "cahn_hilliard": 128, "pfc": 128} if self.full else \
               {"allen_cahn": 48, "cahn_hilliard": 48, "pfc": 48}

    @property
    def epochs(self) -> dict[str, int]:
        if self.epochs_override is not None:
            return dict.fromkeys(MODELS, self.epochs_override)
        # The paper: 2,000 epochs for the MLP and CNN-LSTM (§3.3), 20,000 for the CNN (§4.2).
        return {"mlp": 2000, "cnnlstm": 2000, "unet": 20000} if self.full else \
               {"mlp": 40, "cnnlstm": 12, "unet": 40}

    @property
    def batch_sizes(self) -> dict[str, int]:
        # Frames per optimizer step. The pointwise models see every point of a frame as a
        # sample (2,304 on 48^2), so one frame per step already averages thousands; at 8 frames
        # the CNN-LSTM's default epochs were 150 optimizer steps, far from converged (test R^2
        # 0.18 on Allen-Cahn; 0.87 at one frame per step and 12 epochs, same data).
        # At --full too (16,384 points per frame on 128^2): 8 frames per step give 37 optimizer
        # steps per epoch (PFC's MLP: test R^2 0.02 after one epoch); one frame per step gives 296
        # at about the same cost per epoch (R^2 0.70 after 10 epochs).
        return {"mlp": 1, "cnnlstm": 1, "unet": 8}

    def check(self) -> None:
        bad = [s for s in self.systems if s not in SYSTEMS]
        if bad:
            raise ValueError(f"unknown systems {bad}; choose from {list(SYSTEMS)}")
        bad = [m for m in self.models if m not in MODELS]
        if bad:
            raise ValueError(f"unknown models {bad}; choose from {list(MODELS)}")
        if self.epochs_override is not None and self.epochs_override < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs_override}")


def make_model(name: str, system: str, grid: Grid):
    """The paper's architecture and a spec that rebuilds it from a checkpoint."""
    if name == "mlp":
        mixed = mixed_derivatives(system)
        kwargs = {"grid": grid.to_dict(), "max_order": DERIVATIVE_ORDER[system], "hidden": [128, 64, 16, 8],
                  "mixed": [list(m) for m in mixed]}
        return (DictionaryMLP(grid, DERIVATIVE_ORDER[system], (128, 64, 16, 8), mixed=mixed),
                {"class": "DictionaryMLP", "kwargs": kwargs})
    if name == "cnnlstm":
        return CNNLSTM(2), {"class": "CNNLSTM", "kwargs": {"ndim": 2}}
    return UNetCNN(2), {"class": "UNetCNN", "kwargs": {"ndim": 2}}


def generate(system: str, cfg: KiyaniConfig, data_dir: Path, progress: bool) -> Path:
    spec = get_preset(SYSTEMS[system], n_traj=cfg.n_traj, grid=[cfg.grids[system]], device=cfg.device, seed=cfg.seed)
    path = data_dir / f"{spec.name}_{cfg.grids[system]}.h5"
    if path.exists() and read_info(path).complete:
        return path
    return simulate(spec, path, progress=progress)


def evaluate(model, test: FieldRHSDataset, device: str) -> dict[str, float]:
    """Test metrics of ``model`` on the split, read 16 frames at a time (the split may stream)."""
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for i in range(0, len(test), 16):
            fields, rhs = test.get_batch(i, i + 16)
            preds.append(model(fields.to(device)).cpu())
            targets.append(rhs)
    pred, target = torch.cat(preds), torch.cat(targets)
    return {"r2": r2(pred, target).item(), "rmse": rmse(pred, target).item(), "mae": mae(pred, target).item(),
            "r2_per_snapshot_mean": r2(pred, target, ndim=2).mean().item(), "n_test_frames": len(test)}


def dictionary_ceiling(data_path: str | Path, system: str, *, frame_every: int = 5, max_rows: int = 200_000,
                       seed: int = 0) -> dict[str, float]:
    """How much of the data's U_t a pointwise derivative dictionary can explain (R^2 over the
    frames after the initial noise, every ``frame_every``-th):

    * ``pde_fd`` / ``pde_spectral``: the simulated PDE itself, its derivatives taken by the
      dictionary's second-order finite differences / spectrally (the data are spectral);
    * ``polynomial_fd`` / ``polynomial_spectral``: the least-squares best polynomial of the MLP's
      pointwise features that the product rule asks for (the features, U and U^2 times them,
      |grad U|^2 and U |grad U|^2; ``max_rows`` points sampled), which an MLP must approximate.
    """
    frames = slice(1, None, frame_every)
    with open_dataset(data_path) as reader:  # only the frames scored, a trajectory at a time
        model = model_from_parameters(reader.info.parameters)
        grid = model.grid
        n_traj = reader.info.n_traj
        u = torch.cat([torch.as_tensor(reader.frames(t, frames, field=0)).double() for t in range(n_traj)])
        target = torch.cat([torch.as_tensor(reader.frames(t, frames, name="rhs", field=0)).double()
                            for t in range(n_traj)])
    u, target = u.reshape(-1, *grid.shape), target.reshape(-1, *grid.shape)

    def score(pred: Tensor) -> float:
        return r2(pred.reshape(-1), target.reshape(-1)).item()

    out = {f"pde_{d}": score(model.rhs(u, d)) for d in ("fd", "spectral")}
    rows = torch.randperm(target.numel(), generator=torch.Generator().manual_seed(seed))[:max_rows]
    for method in ("fd", "spectral"):
        dictionary = DerivativeDictionary(grid, DERIVATIVE_ORDER[system], mixed=mixed_derivatives(system), method=method)
        feats = dictionary(u).movedim(1, -1).reshape(-1, dictionary.n_features)[rows]
        field = feats[:, :1]
        grad2 = sum(feats[:, [dictionary.names.index(n)]] ** 2 for n in ("u_x", "u_y"))
        library = torch.cat([torch.ones_like(field), feats, field * feats, field**2 * feats, grad2, field * grad2], 1)
        y = target.reshape(-1)[rows, None]
        coef = torch.linalg.lstsq(library, y).solution
        out[f"polynomial_{method}"] = r2((library @ coef)[:, 0], y[:, 0]).item()
    return out


def learned_pde_rollout(model, data_path: Path, cfg: KiyaniConfig, *, progress: bool = True) -> dict[str, Any]:
    """Integrates U_t = CNN(U) from the simulator's frame at t = 2 to t = 6 (kiyani §4.3).

    Reads only the frames it starts from and compares with (trajectory 0); ``progress`` shows
    the integrator's progress bar (after a few seconds) or nothing.
    """
    with open_dataset(data_path) as reader:
        time_axis = reader.time
        k0 = int(np.argmin(np.abs(time_axis - 2.0)))
        # The saved frames nearest to t = 2.2 and t = 6, each strictly after the start (the PFC
        # data are 1.0 apart, so its first comparison is at t = 3).
        targets = [float(t) for t in (2.2, 6.0) if t <= time_axis[-1] + 1e-9]
        frames = sorted({max(k0 + 1, int(np.argmin(np.abs(time_axis - t)))) for t in targets})
        frames = [k for k in frames if k < len(time_axis)]
        if not frames:
            raise ValueError(f"{data_path}: no saved frame after t = {time_axis[k0]:g} to compare with")
        u0 = torch.from_numpy(reader.frames(0, k0).astype(np.float64))[None]  # [1, 1, ny, nx]
        truth = [reader.frames(0, k, field=0) for k in frames]
    t_eval = [float(time_axis[k0])] + [float(time_axis[k]) for k in frames]
    rhs = copy.deepcopy(model).double().eval()  # the caller's model keeps its precision

    start = time.perf_counter()
    try:
        if cfg.rollout_method in ("euler", "rk4"):
            dt = 1e-3
            n = round((t_eval[-1] - t_eval[0]) / dt)
            traj = rollout(rhs, u0, dt, n, method=cfg.rollout_method, save_every=1, bounds=1e3, progress=progress)
            picks = [round((t - t_eval[0]) / dt) for t in t_eval]
            states = traj[picks]
        else:
            states = solve_ivp_rollout(rhs, u0, t_eval, method=cfg.rollout_method, ndim=2, rtol=1e-4,
                                       atol=1e-6, bounds=1e3, progress=progress)
    except BlowUpError as e:
        return {"blew_up": True, "report": str(e), "seconds": time.perf_counter() - start}
    out = {"blew_up": False, "method": cfg.rollout_method, "t": t_eval[1:], "seconds": time.perf_counter() - start,
           "relative_l2": [], "learned": [], "truth": truth}
    for j, k in enumerate(frames):
        learned = states[j + 1, 0, 0].numpy()
        out["learned"].append(learned)
        out["relative_l2"].append(float(np.linalg.norm(learned - truth[j]) / np.linalg.norm(truth[j])))
    return out


MODEL_LABELS = {"DictionaryMLP": "dictionary MLP", "CNNLSTM": "CNN-LSTM", "UNetCNN": "U-Net CNN"}


def model_label(model) -> str:
    """A readable name of a (possibly normalization-wrapped) model, for titles."""
    inner = getattr(model, "model", model)  # NormalizedModel keeps the network in .model
    name = type(inner).__name__
    return MODEL_LABELS.get(name, name)


def plot_rollout(system: str, result: dict[str, Any], path: Path, model_name: str = "U-Net CNN") -> None:
    """Fig 10's panels: the simulated and the learned field at each time (one colour scale per
    row, from the simulation), and the two along the centerline. ``model_name`` is the learned
    model's, for the title (see :func:`model_label`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result["t"])
    fig, axes = plt.subplots(n, 3, figsize=(12, 3.5 * n), squeeze=False, constrained_layout=True)
    for r, t in enumerate(result["t"]):
        truth, learned = result["truth"][r], result["learned"][r]
        vmin, vmax = float(truth.min()), float(truth.max())
        for c, (img, title) in enumerate(((truth, "original PDE"), (learned, "learned PDE"))):
            ax = axes[r, c]
            im = ax.imshow(img, origin="lower", cmap="RdBu_r", vmin=vmin, vmax=vmax)
            ax.set_title(f"{title}, t = {t:g}")
            ax.set_xlabel("x (grid points)")
            ax.set_ylabel("y (grid points)")
        # One bar for the row: both images share the simulation's colour scale.
        fig.colorbar(im, ax=axes[r, :2].tolist(), label="U", shrink=0.9)
        mid = truth.shape[0] // 2
        ax = axes[r, 2]
        ax.plot(truth[mid], "-", label="original")
        ax.plot(learned[mid], "--", label="learned")
        ax.set_title(f"centerline y = {mid}, rel. L2 error {result['relative_l2'][r]:.3f}")
        ax.set_xlabel("x (grid points)")
        ax.set_ylabel("U")
        ax.legend(fontsize=8)
    fig.get_layout_engine().set(wspace=0.06)  # keeps the colour bar's label clear of the next panel
    label = {"allen_cahn": "Allen-Cahn", "cahn_hilliard": "Cahn-Hilliard", "pfc": "phase-field crystal"}
    fig.suptitle(f"{label.get(system, system)}: learned PDE of the {model_name} against the simulator "
                 "(kiyani2022 Fig 10)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(out_dir: str | Path = "results/kiyani2022", cfg: KiyaniConfig | None = None, *,
        progress: bool = True) -> dict[str, Any]:
    """Runs the pipeline; writes ``results.json`` and PNGs into ``out_dir`` and returns the results."""
    cfg = cfg or KiyaniConfig()
    cfg.check()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    results: dict[str, Any] = {"command": " ".join(["coarsegrain"] + sys.argv[1:]) if sys.argv else "",
                               "config": {**asdict(cfg), "grids": cfg.grids, "epochs": cfg.epochs,
                                          "batch_sizes": cfg.batch_sizes},
                               "systems": {}}
    started = time.perf_counter()
    for system in cfg.systems:
        data_path = generate(system, cfg, out_dir / "data", progress)
        info = read_info(data_path)
        grid = Grid(info.grid_shape, info.spacing)
        sys_result: dict[str, Any] = {"data": str(data_path), "grid": list(info.grid_shape), "models": {}}
        if "mlp" in cfg.models:
            ceiling = sys_result["dictionary_ceiling"] = dictionary_ceiling(data_path, system, seed=cfg.seed)
            print(f"{system:>13}     data: R^2 of U_t explained by the PDE with FD / spectral derivatives "
                  f"{ceiling['pde_fd']:.3f} / {ceiling['pde_spectral']:.4f}; by a product-rule polynomial of the "
                  f"MLP's FD / spectral features {ceiling['polynomial_fd']:.3f} / {ceiling['polynomial_spectral']:.3f}",
                  flush=True)
        for name in cfg.models:
            fractions = (0.8, 0.1, 0.1) if name == "unet" else (0.6, 0.2, 0.2)
            # Frame 0 is the uniform white noise of Table 1, whose U_t no local model can
            # (or should) fit; the learning starts from the first saved frame after it.
            splits = {s: FieldRHSDataset(data_path, s, fractions=fractions, seed=cfg.seed, start_frame=1)
                      for s in ("train", "val", "test")}
            # Seeded per model, so its initial weights do not depend on which systems and
            # models ran before it (a --models subset or a resumed run gives the same weights).
            seed_everything(cfg.seed)
            model, spec = make_model(name, system, grid)
            config = TrainConfig(epochs=cfg.epochs[name], batch_size=cfg.batch_sizes[name], lr=1e-3, loss="mae" if name == "unet" else "mse",
                                 seed=cfg.seed, device=cfg.device, progress=progress)
            trainer = Trainer(model, splits["train"], splits["val"], config, out_dir / "runs" / system / name,
                              model_spec=spec)
            trainer.fit()
            metrics = evaluate(trainer.model, splits["test"], cfg.device)
            metrics["train_seconds"] = sum(h["seconds"] for h in trainer.history)  # across resumes
            metrics["epochs_run"] = trainer.epoch
            sys_result["models"][name] = metrics
            print(f"{system:>13} {name:>8}: test R^2 {metrics['r2']:.4f}, rMSE {metrics['rmse']:.3e}, "
                  f"MAE {metrics['mae']:.3e} ({metrics['train_seconds']:.0f} s)", flush=True)
            if name == "unet":
                roll = learned_pde_rollout(trainer.model.cpu(), data_path, cfg, progress=progress)
                if not roll["blew_up"]:
                    try:
                        plot_rollout(system, roll, out_dir / f"fig10_{system}.png", model_label(trainer.model))
                    except ImportError:
                        print("(no Fig 10 panels: pip install 'coarsegrain[plot]' for matplotlib)")
                    print(f"{system:>13}     unet: learned PDE from t = 2, relative L2 error "
                          + ", ".join(f"{e:.3f} at t = {t:g}" for e, t in zip(roll["relative_l2"], roll["t"])), flush=True)
                else:
                    print(f"{system:>13}     unet: {roll['report']}", flush=True)
                sys_result["rollout"] = {k: v for k, v in roll.items() if k not in ("learned", "truth")}
        results["systems"][system] = sys_result
    results["seconds"] = time.perf_counter() - started
    path = write_json_atomic(out_dir / "results.json", results)
    print(f"wrote {path}")
    return results
