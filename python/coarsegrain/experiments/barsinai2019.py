"""Reproduction of barsinai2019 (data-driven discretization), Figs 3C and 4.

For each equation (forced Burgers, KdV, Kuramoto-Sivashinsky):

1. Reference data on a mesh-converged fine grid (Burgers: WENO5-Godunov finite volumes, the
   paper's ground truth; KdV and KS: pseudo-spectral ETDRK4 with exact cell averages).
2. Training sets per resample factor f: coarse cell averages and the exact time derivative of
   their flux part (forcing excluded; it is added outside the model), augmented with all f
   sub-grid alignments. Models: the neural network, optimized constant coefficients (6-point
   stencils, polynomial accuracy 1) and, for Burgers, constant coefficients with the Godunov
   flux between learned left and right states ("Opt. God." of Fig 3), trained on the
   time-derivative loss scaled so that predicting zeros gives 1 (Adam, beta2 = 0.99, learning
   rate 1e-3 for the network and 1e-2 for constants, cosine decay; the paper steps 1e-3 -> 1e-4).
   The loss is the mean absolute error by default: the paper's mean square error is dominated by
   the few cells at shocks, and a network trained on it integrates 7x worse on Burgers at 8x
   (MAE 8.2e-4 against 1.2e-4, t <= 15); ``loss="mse"`` restores it.
3. Held-out realizations integrated on every coarse grid by the learned models and the
   baselines (standard polynomial finite volumes of first and third order; WENO5 for Burgers)
   with SSP-RK3; valid simulation time exactly as Fig 4's caption defines it, and the mean
   absolute error against the cell-averaged reference for t <= 15 (Fig 3C), for Burgers also on
   a 10x larger domain with the models trained on [0, 2 pi].

``coarsegrain reproduce barsinai2019`` runs a small default (about 15 minutes on 2 CPU cores);
``--full`` uses the paper's factors, 100 test realizations and t_max = 100. Results go to
``results.json``, ``results.md`` and ``fig3c_mae.png`` / ``fig4_valid_time.png``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import ops
from .._atomic import write_json_atomic
from ..grid import Grid
from ..models.learned_fv import LearnedFiniteVolume, baseline_width
from ..rollout.learned import normalize_bounds, outside_bounds
from ..systems.conservation1d import (
    ETDRK4,
    Burgers,
    KdV,
    KuramotoSivashinsky,
    SinusoidForcing,
    WenoBurgers,
    random_sinusoids,
    spectral_cell_averages,
    ssprk3_step,
)
from ..training.seeding import seed_everything
from ..training.trainer import TrainConfig, Trainer

__all__ = ["BarsinaiConfig", "EquationSetup", "run", "render", "valid_time", "integrate_ssprk3", "coarse_view"]

# Fine grids, reference time steps (None: WENO's CFL rule) and the largest |v| expected (CFL).
@dataclass(frozen=True)
class EquationSetup:
    name: str
    length: float
    fine: int
    dt: float | None
    max_speed: float


SETUPS = {
    "burgers": EquationSetup("burgers", 2 * math.pi, 512, None, 3.0),
    "kdv": EquationSetup("kdv", 32.0, 256, 1e-3, 3.0),
    "ks": EquationSetup("ks", 64.0, 256, 5e-3, 3.0),
}


@dataclass
class BarsinaiConfig:
    """Sizes of the reproduction; ``full=True`` switches the ``None`` fields to the paper's."""

    full: bool = False
    equations: tuple[str, ...] = ("burgers", "kdv", "ks")
    factors: dict[str, list[int]] | None = None        # evaluated resample factors
    train_factors: dict[str, list[int]] | None = None  # factors with learned models
    n_train: int = 16                # training realizations per equation
    t_train: float = 20.0            # their length
    n_test: int | None = None        # test realizations (default 8; full 100)
    t_max: float | None = None       # horizon of the valid-time runs (default 20; full 100)
    t_mae: float = 15.0              # Fig 3C averages the error over t <= 15
    n_large: int | None = None       # realizations on the 10x domain (default 4; full 10)
    large_multiple: int = 10
    save_dt: float = 0.25            # spacing of saved frames
    steps: int | None = None         # optimizer steps per model (default 3000; full 20000)
    batch_size: int = 32
    models: tuple[str, ...] = ("network", "constant", "constant-godunov")  # the last: Burgers only
    unroll: int = 0                  # frames of time-integrated loss (KdV and KS; 0: derivative loss only)
    loss: str = "mae"                # "mse" (the paper's) or "mae": see the module docstring
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def resolved(self) -> dict:
        full = self.full
        factors = self.factors or ({"burgers": [2, 4, 8, 16, 32, 64], "kdv": [2, 4, 8, 16, 32], "ks": [2, 4, 8, 16, 32]}
                                   if full else {"burgers": [2, 4, 8, 16, 32, 64], "kdv": [2, 4, 8, 16], "ks": [2, 4, 8, 16]})
        train = self.train_factors or ({"burgers": [2, 4, 8, 16, 32, 64], "kdv": [2, 4, 8, 16, 32],
                                        "ks": [2, 4, 8, 16, 32]} if full else
                                       {"burgers": [4, 8, 16, 32, 64], "kdv": [4, 8], "ks": [4, 8]})
        out = asdict(self)
        out.update(factors=factors, train_factors=train,
                   n_test=self.n_test or (100 if full else 8), t_max=self.t_max or (100.0 if full else 20.0),
                   n_large=self.n_large if self.n_large is not None else (10 if full else 4),
                   steps=self.steps or (20000 if full else 3000))
        for eq in self.equations:
            if eq not in SETUPS:
                raise ValueError(f"unknown equation {eq!r}; known: {', '.join(SETUPS)}")
            for f in factors[eq] + train[eq]:
                if SETUPS[eq].fine % f:
                    raise ValueError(f"{eq}: the fine grid of {SETUPS[eq].fine} cells is not divisible by factor {f}")
        return out


# --- reference solutions ---------------------------------------------------------------------

class Reference:
    """Fine-grid solutions of one equation: frames every ``save_dt`` and the exact coarse views."""

    def __init__(self, equation: str, batch: int, seed: int, multiple: int = 1):
        self.setup = s = SETUPS[equation]
        self.length, self.n = s.length * multiple, s.fine * multiple
        self.grid = Grid(self.n, self.length / self.n)
        if equation == "burgers":
            self.forcing = SinusoidForcing.random(batch, seed, length=self.length, domain_multiple=multiple)
            self.pde = Burgers(forcing=self.forcing, length=self.length)
            self.u0 = torch.zeros(batch, self.n, dtype=torch.float64)
            self.finite_volume = True
        else:
            self.forcing = None
            self.pde = KdV(length=self.length) if equation == "kdv" else KuramotoSivashinsky(length=self.length)
            self.u0 = random_sinusoids(self.grid, batch, seed, max_wavenumber=3 * multiple)
            self.finite_volume = False

    def solve(self, t_end: float, save_dt: float) -> tuple[Tensor, Tensor, Tensor]:
        """(times [T], frames [T, B, n], flux-part time derivatives [T, B, n]) from t = 0; frames
        are cell averages (Burgers) or point values (spectral)."""
        saves = int(round(t_end / save_dt))
        if self.finite_volume:
            solver = WenoBurgers(self.pde, self.grid, max_speed=self.setup.max_speed)
            per_save = math.ceil(save_dt / solver.dt)
            solver.dt = save_dt / per_save
        else:
            per_save = max(1, int(round(save_dt / self.setup.dt)))
            solver = ETDRK4(self.pde, self.grid, save_dt / per_save)
        u, t = self.u0, 0.0
        frames, rates = [u], [self.flux_rate(u, solver)]
        for i in range(saves):
            u = solver.advance(u, per_save, t)
            t = (i + 1) * save_dt
            frames.append(u)
            rates.append(self.flux_rate(u, solver))
        return torch.arange(saves + 1, dtype=torch.float64) * save_dt, torch.stack(frames), torch.stack(rates)

    def flux_rate(self, u: Tensor, solver) -> Tensor:
        return solver.flux_rhs(u) if self.finite_volume else self.pde.flux_rhs(u)

    def coarse_view(self, fields: Tensor, factor: int, shift: int = 0) -> Tensor:
        return coarse_view(fields, factor, shift, self.finite_volume)

    def coarse_forcing(self, grid: Grid):
        """The forcing's cell averages on the coarse ``grid`` as a function of t (None: unforced)."""
        if self.forcing is None:
            return None
        return lambda t: self.forcing.cell_averages(grid, t)


def coarse_view(fields: Tensor, factor: int, shift: int, finite_volume: bool) -> Tensor:
    """Averages over coarse cells that start ``shift`` fine cells after the first fine cell:
    exact restriction of cell averages, or exact cell averages of a trigonometric interpolant."""
    rolled = torch.roll(fields, -shift, -1) if shift else fields
    if finite_volume:
        return ops.restrict_average(rolled.contiguous(), factor=factor)
    return spectral_cell_averages(rolled, factor)


# --- training ------------------------------------------------------------------------------

class DerivativeTrainer(Trainer):
    """The shared trainer on (cell averages, flux-part time derivative) pairs, in physical units
    (the flux formula needs them): the loss (``TrainConfig.loss``: MSE as in barsinai2019, or
    MAE) is divided by that of predicting zeros, so zeros score 1 (barsinai2019 SI).

    With ``unroll = k > 0`` the samples also carry the next k frames (``save_dt`` apart) and the
    loss adds their MSE after integrating the model there with SSP-RK3 at step ``dt``
    (differentiably), scaled the same way: the paper's time-integrated loss (unforced equations).
    """

    def __init__(self, *args, unroll: int = 0, interval: float = 0.0, dt: float = 0.0, **kwargs):
        self.unroll, self.interval, self.dt = unroll, interval, dt
        super().__init__(*args, **kwargs)

    def _prepare_model(self, model):
        x0, y0 = self.train_data[0][:2]
        self.ndim = 1
        model = model.to(self.device)
        self._check_fit(model, x0, y0)
        stacked = self._stack(self.train_data)
        if not all(torch.isfinite(t).all() for t in stacked):
            raise ValueError("the training data holds non-finite values")
        self.target_scale = self._scale(stacked[1])
        if self.unroll:
            self.frame_scale = self._scale(stacked[2])
        return model

    def _scale(self, t: Tensor) -> float:
        """The loss of predicting zeros: mean square (MSE) or mean absolute value (MAE)."""
        t = t.double()
        return float((t.square() if self.config.loss == "mse" else t.abs()).mean().clamp_min(1e-30))

    def _batch_loss(self, batch, training):
        x, y = batch[0].to(self.device), batch[1].to(self.device)
        loss = self._loss(self.model(x), y) / self.target_scale
        if self.unroll:
            future = batch[2].to(self.device)  # [B, k, n]
            steps = max(1, math.ceil(self.interval / self.dt - 1e-9))
            dt, v, traj = self.interval / steps, x, []
            for _ in range(self.unroll):
                for _ in range(steps):
                    v = ssprk3_step(lambda w, _t: self.model(w), v, 0.0, dt)
                traj.append(v[:, 0])
            loss = loss + self._loss(torch.stack(traj, 1), future) / self.frame_scale
        return loss, len(x)

    def _model_meta(self):
        return {"wrapper": None, "ndim": 1}

    def _run_identity(self):
        return {**self.config.run_identity(), "unroll": self.unroll}


def training_pairs(ref: Reference, frames: Tensor, rates: Tensor, factor: int, unroll: int = 0) -> tuple[Tensor, ...]:
    """All sub-grid alignments of every frame after t = 0, ``[N, 1, n / factor]`` each; with
    ``unroll = k`` only frames with k successors, and those successors ``[N, k, n / factor]``."""
    count = len(frames) - 1 - unroll  # frames after t = 0 that have `unroll` successors
    xs, ys, seqs = [], [], []
    for s in range(factor):
        coarse = ref.coarse_view(frames[1:], factor, s)  # [T - 1, B, n / factor]
        xs.append(coarse[:count].flatten(0, 1))
        ys.append(ref.coarse_view(rates[1:1 + count], factor, s).flatten(0, 1))
        if unroll:
            seqs.append(torch.stack([coarse[i:i + count].flatten(0, 1) for i in range(1, unroll + 1)], 1))
    out = (torch.cat(xs)[:, None].float(), torch.cat(ys)[:, None].float())
    return out + ((torch.cat(seqs).float(),) if unroll else ())


def train_model(kind: str, equation: str, spacing: float, pairs, cfg: dict, out: Path, input_scale: float,
                unroll: int = 0, max_speed: float = 3.0):
    n_val = max(1, len(pairs[0]) // 10)
    perm = torch.randperm(len(pairs[0]), generator=torch.Generator().manual_seed(cfg["seed"]))
    val, tr = perm[:n_val], perm[n_val:]
    data = torch.utils.data.TensorDataset(*(t[tr] for t in pairs))
    vdata = torch.utils.data.TensorDataset(*(t[val] for t in pairs))
    epochs = max(2, math.ceil(cfg["steps"] * cfg["batch_size"] / len(tr)))
    coefficients, _, flux = kind.partition("-")
    kwargs = dict(spacing=spacing, coefficients=coefficients, equation=equation, input_scale=input_scale,
                  numerical_flux=flux or "exact")
    seed_everything(cfg["seed"])  # per model: its weights do not depend on the models trained before it
    model = LearnedFiniteVolume(**kwargs)
    config = TrainConfig(epochs=epochs, batch_size=cfg["batch_size"], lr=1e-3 if coefficients == "network" else 1e-2,
                         betas=(0.9, 0.99), loss=cfg["loss"], scheduler="cosine", seed=cfg["seed"], progress=False)
    trainer = DerivativeTrainer(model, data, vdata, config, out, unroll=unroll, interval=cfg["save_dt"],
                                dt=coarse_dt(equation, spacing, max_speed),
                                model_spec={"class": "LearnedFiniteVolume", "kwargs": kwargs})
    trainer.fit()
    model.load_state_dict(trainer.best_state or trainer.model.state_dict())
    return model.double().eval(), {"epochs": epochs, "samples": len(tr), "best_val_loss": trainer.best_val,
                                   "unroll": unroll}


# --- coarse integration and metrics ----------------------------------------------------------

def coarse_dt(equation: str, spacing: float, max_speed: float) -> float:
    """SSP-RK3 step for a coarse grid of ``spacing`` h: advective CFL 0.3 and the stiff terms'
    explicit limits (with room for learned stencils, whose spectra exceed the standard ones')."""
    h = spacing
    limits = [0.3 * h / max_speed]
    if equation == "burgers":
        limits.append(0.2 * h * h / 0.04)
    elif equation == "kdv":
        limits.append(0.1 * h ** 3)
    else:
        limits += [0.2 * h * h, 0.06 * h ** 4]
    return min(limits)


def integrate_ssprk3(rate, v0: Tensor, times: Tensor, dt: float, forcing=None,
                     bounds: float | tuple[float, float] | None = 1e3) -> Tensor:
    """Frames ``[T, B, n]`` of dv/dt = rate(v) (+ forcing(t)) at ``times`` (from times[0]); a
    realization that leaves ``bounds`` (a number b for [-b, b] or a (lo, hi) pair, as in
    :func:`~coarsegrain.rollout.learned.normalize_bounds`; None: no limit) or turns non-finite is NaN
    from then on."""
    bounds = normalize_bounds(bounds)
    v = v0.clone()
    t = float(times[0])
    out = [v.clone()]
    alive = torch.ones(v.shape[0], dtype=torch.bool, device=v.device)

    def f(w, s):
        r = rate(w[:, None])[:, 0]
        return r if forcing is None else r + forcing(s).to(r)

    for target in times[1:].tolist():
        steps = max(1, math.ceil((target - t) / dt - 1e-9))
        step = (target - t) / steps
        with torch.no_grad():
            for _ in range(steps):
                v = ssprk3_step(f, v, t, step)
                t += step
                bad = outside_bounds(v, bounds).any(-1)
                if bad.any():
                    alive &= ~bad
                    v = torch.where(bad[:, None], torch.zeros_like(v), v)
        t = target
        out.append(torch.where(alive[:, None], v, torch.full_like(v, math.nan)))
    return torch.stack(out)


def valid_time(pred: Tensor, truth: Tensor, times: Tensor) -> Tensor:
    """barsinai2019 Fig 4: per realization, the first time at which fewer than 80% of the grid
    points have an absolute error below the 20th percentile of the absolute error of predicting
    all zeros (|truth|); the last time if that never happens. ``pred, truth [T, B, n]``."""
    err = (pred - truth).abs()
    threshold = torch.quantile(truth.abs(), 0.2, dim=-1, keepdim=True)
    ok = (err < threshold).double().mean(-1) >= 0.8      # NaN errors count as invalid
    ok[0] = True
    bad = ~ok
    first_bad = torch.where(bad.any(0), bad.double().argmax(0),
                            torch.full((bad.shape[1],), len(times) - 1, device=bad.device))
    return times[first_bad.long().to(times.device)]


def mean_abs_error(pred: Tensor, truth: Tensor, times: Tensor, t_max: float) -> float:
    keep = times <= t_max + 1e-9
    return float((pred[keep] - truth[keep]).abs().mean())  # NaN when a realization diverged


# --- the run -------------------------------------------------------------------------------

def _methods(equation: str, factor: int, trained: dict, length: float, n: int):
    """(name, rate function) of every method at this factor (``n`` cells over ``length``)."""
    out = []
    for acc in (1, 3):
        base = LearnedFiniteVolume(length / n, coefficients="constant", equation=equation,
                                   width=baseline_width(equation, acc)).double().eval()
        out.append((f"fv{acc}", base))
    if equation == "burgers":
        weno = WenoBurgers(Burgers(length=length), Grid(n, length / n))
        out.append(("weno5", lambda v: weno.flux_rhs(v[:, 0])[:, None]))
    for kind, model in trained.get(factor, {}).items():
        out.append((kind, model))
    return out


def _evaluate(ref: Reference, frames: Tensor, times: Tensor, factors, trained, cfg, eq: str, log) -> dict:
    out = {}
    for f in factors:
        n_c = ref.n // f
        truth = ref.coarse_view(frames, f)
        dt = coarse_dt(eq, ref.length / n_c, ref.setup.max_speed)
        row = {}
        for name, rate in _methods(eq, f, trained, ref.length, n_c):
            start = time.perf_counter()
            pred = integrate_ssprk3(rate, truth[0], times, dt, ref.coarse_forcing(Grid(n_c, ref.length / n_c)))
            vt = valid_time(pred, truth, times)
            row[name] = {"median_valid_time": float(vt.median()), "valid_times": vt.tolist(),
                         "mae": mean_abs_error(pred, truth, times, cfg["t_mae"]),
                         "diverged": int(torch.isnan(pred[-1]).any(-1).sum()), "seconds": time.perf_counter() - start}
            log(f"  {eq} x{f:<3} {name:>8}: median valid time {row[name]['median_valid_time']:6.2f}, "
                f"MAE(t<={cfg['t_mae']:g}) {row[name]['mae']:.4f}")
        zeros = float(truth[times <= cfg["t_mae"] + 1e-9].abs().mean())
        row["zero_prediction_mae"] = zeros
        out[str(f)] = row
    return out


def _figures(results: dict, out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    eqs = list(results["equations"])
    fig, axes = plt.subplots(1, len(eqs), figsize=(4.2 * len(eqs), 3.6), squeeze=False)
    for ax, eq in zip(axes[0], eqs):
        table = results["equations"][eq]["valid_time"]
        factors = sorted(int(f) for f in table)
        names = sorted({k for f in table for k in table[f] if isinstance(table[f][k], dict)})
        for name in names:
            ys = [table[str(f)][name]["median_valid_time"] if name in table[str(f)] else np.nan for f in factors]
            ax.plot(factors, ys, "o-", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("resample factor")
        ax.set_ylabel("median valid time")
        ax.set_title(eq)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig4_valid_time.png", dpi=120)
    plt.close(fig)
    large = results["equations"].get("burgers", {}).get("large_domain")
    if large:
        fig, ax = plt.subplots(figsize=(4.5, 3.6))
        factors = sorted(int(f) for f in large)
        names = sorted({k for f in large for k in large[f] if isinstance(large[f][k], dict)})
        for name in names:
            ys = []
            for f in factors:
                r = large[str(f)].get(name)
                ok = r is not None and math.isfinite(r["mae"]) and r["mae"] < large[str(f)]["zero_prediction_mae"]
                ys.append(r["mae"] if ok else np.nan)  # omitted: diverged or worse than v = 0
            ax.plot(factors, ys, "o-", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("resample factor")
        ax.set_ylabel(f"MAE (t <= {results['config']['t_mae']:g})")
        ax.set_title(f"Burgers, {results['config']['large_multiple']}x larger domain")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "fig3c_mae.png", dpi=120)
        plt.close(fig)


def _markdown(results: dict) -> str:
    lines = [f"# barsinai2019 reproduction\n\ncommand: `{results['command']}`\n"]
    for eq, r in results["equations"].items():
        for key, title in (("valid_time", "median valid time / MAE (t <= 15)"),
                           ("large_domain", f"{results['config']['large_multiple']}x domain: median valid time / MAE")):
            table = r.get(key)
            if not table:
                continue
            factors = sorted(int(f) for f in table)
            names = sorted({k for f in table for k in table[f] if isinstance(table[f][k], dict)})
            lines.append(f"\n## {eq}: {title}\n")
            lines.append("| factor | " + " | ".join(names) + " | v = 0 MAE |")
            lines.append("|---" * (len(names) + 2) + "|")
            for f in factors:
                row = table[str(f)]
                cells = [f"{row[n]['median_valid_time']:.2f} / {row[n]['mae']:.3g}" if n in row else "-" for n in names]
                lines.append(f"| {f} | " + " | ".join(cells) + f" | {row['zero_prediction_mae']:.3g} |")
        if "resolution_gain" in r:
            lines.append(f"\n{r['resolution_gain']}\n")
    return "\n".join(lines) + "\n"


def _resolution_gain(table: dict, nn_factor: int = 8) -> str | None:
    """The WENO5 resample factor whose MAE equals the network's at ``nn_factor``, interpolated
    log-log between the evaluated factors (paper: about 8x coarser for the same error)."""
    nn = table.get(str(nn_factor), {}).get("network")
    weno = sorted((int(f), row["weno5"]["mae"]) for f, row in table.items()
                  if "weno5" in row and math.isfinite(row["weno5"]["mae"]))
    if not nn or not math.isfinite(nn["mae"]) or len(weno) < 2:
        return None
    target = nn["mae"]
    equivalent = None
    for (f0, e0), (f1, e1) in zip(weno, weno[1:]):
        if e0 <= target <= e1 and e1 > e0 > 0:
            equivalent = f0 * (f1 / f0) ** (math.log(target / e0) / math.log(e1 / e0))
            break
    how = "log-log interpolation"
    if equivalent is None:  # outside the evaluated range: extend the nearest segment
        (f0, e0), (f1, e1) = weno[:2] if target < weno[0][1] else weno[-2:]
        if not e1 > e0 > 0:
            return f"network at {nn_factor}x: MAE {target:.4g}, outside the evaluated WENO5 errors"
        equivalent = f0 * (f1 / f0) ** (math.log(target / e0) / math.log(e1 / e0))
        where = "below" if target < weno[0][1] else "above"
        how = f"{where} every evaluated WENO5 factor; log-log extrapolation"
    return (f"network at {nn_factor}x: MAE {target:.4g}; WENO5 reaches it at factor {equivalent:.2f} "
            f"({how}): resolution gain {nn_factor / equivalent:.1f}x")


def render(out_dir: str | Path) -> None:
    """Rewrites ``results.md`` and the figures from ``results.json`` (after a change of format)."""
    out = Path(out_dir)
    results = json.loads((out / "results.json").read_text())
    for r in results["equations"].values():
        if "large_domain" in r:
            gain = _resolution_gain(r["large_domain"])
            if gain:
                r["resolution_gain"] = gain
    write_json_atomic(out / "results.json", results, indent=1)
    (out / "results.md").write_text(_markdown(results))
    _figures(results, out)


def run(out_dir: str | Path = "results/barsinai2019", config: BarsinaiConfig | None = None,
        progress: bool = True) -> dict:
    """Runs the reproduction into ``out_dir``; an interrupted run resumes its training from the
    per-model checkpoints."""
    config = config or BarsinaiConfig()
    log = print if progress else (lambda *a, **k: None)
    cfg = config.resolved()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg["seed"])
    results = {"command": " ".join(["coarsegrain", "reproduce", "barsinai2019", *sys.argv[3:]])
               if sys.argv[1:3] == ["reproduce", "barsinai2019"] else "barsinai2019.run()",
               "config": cfg, "equations": {}}
    start = time.perf_counter()
    for eq in cfg["equations"]:
        log(f"{eq}: reference data")
        train_ref = Reference(eq, cfg["n_train"], cfg["seed"] + 1)
        _, frames, rates = train_ref.solve(cfg["t_train"], cfg["save_dt"])
        scale = float(frames.std())
        trained: dict[int, dict] = {}
        training = {}
        unroll = cfg["unroll"] if train_ref.forcing is None else 0
        for f in cfg["train_factors"][eq]:
            pairs = training_pairs(train_ref, frames, rates, f, unroll)
            trained[f] = {}
            for kind in cfg["models"]:
                if kind.endswith("-godunov") and eq != "burgers":
                    continue  # the Godunov flux is Burgers' (v^2/2)
                t0 = time.perf_counter()
                tag = f"x{f}_{kind}_{cfg['loss']}" + (f"_unroll{unroll}" if unroll else "")
                spacing = train_ref.length / (train_ref.n // f)
                model, info = train_model(kind, eq, spacing, pairs, cfg, out / "models" / eq / tag, scale, unroll,
                                          train_ref.setup.max_speed)
                info["seconds"] = time.perf_counter() - t0
                trained[f][kind] = model
                training[f"x{f}_{kind}"] = info
                log(f"  {eq} x{f} {kind}: validation loss {info['best_val_loss']:.4f} (zeros = 1), "
                    f"{info['seconds']:.0f} s")
        log(f"{eq}: test runs to t = {cfg['t_max']:g}")
        test_ref = Reference(eq, cfg["n_test"], cfg["seed"] + 1000)
        times, frames, _ = test_ref.solve(cfg["t_max"], cfg["save_dt"])
        r = {"training": training, "valid_time": _evaluate(test_ref, frames, times, cfg["factors"][eq], trained,
                                                            cfg, eq, log)}
        if eq == "burgers" and cfg["n_large"] > 0:
            log(f"{eq}: {cfg['large_multiple']}x larger domain to t = {cfg['t_mae']:g}")
            big = Reference(eq, cfg["n_large"], cfg["seed"] + 2000, multiple=cfg["large_multiple"])
            times_b, frames_b, _ = big.solve(cfg["t_mae"], cfg["save_dt"])
            r["large_domain"] = _evaluate(big, frames_b, times_b, cfg["factors"][eq], trained, cfg, eq, log)
            gain = _resolution_gain(r["large_domain"])
            if gain:
                r["resolution_gain"] = gain
                log("  " + gain)
        results["equations"][eq] = r
    results["seconds"] = time.perf_counter() - start
    write_json_atomic(out / "results.json", results, indent=1)
    (out / "results.md").write_text(_markdown(results))
    _figures(results, out)
    log(f"wrote {out / 'results.json'}, results.md and figures ({results['seconds']:.0f} s)")
    return results
