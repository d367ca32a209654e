"""PNG overviews of a dataset: field snapshots and free-energy curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.dataset import load
from ..systems.phase_field import model_from_parameters


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plotting needs matplotlib: pip install 'coarsegrain[plot]'") from e
    return plt


def _snapshot_panels(fields: np.ndarray, ndim: int) -> list[tuple[str, np.ndarray]]:
    """2D frames as they are; 3D frames as their three mid-plane slices."""
    if ndim == 2:
        return [("", fields)]
    if ndim == 3:
        nz, ny, nx = fields.shape[-3:]
        return [("z mid-plane", fields[..., nz // 2, :, :]), ("y mid-plane", fields[..., :, ny // 2, :]),
                ("x mid-plane", fields[..., :, :, nx // 2])]
    return [("", fields)]


def plot_dataset(path: str | Path, out_dir: str | Path | None = None, *, trajectory: int = 0,
                 n_snapshots: int = 5) -> list[Path]:
    """Writes ``<name>_snapshots.png`` and ``<name>_free_energy.png``; returns their paths."""
    plt = _pyplot()
    path = Path(path)
    data = load(path)
    info = data["info"]
    out_dir = Path(out_dir) if out_dir else path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    if not 0 <= trajectory < info.n_traj:
        raise ValueError(f"trajectory must be in [0, {info.n_traj}), got {trajectory}")
    time = data["time"]
    frames = np.linspace(0, info.n_time - 1, min(n_snapshots, info.n_time)).round().astype(int)
    traj = data["fields"][trajectory, :, 0]
    ndim = len(info.grid_shape)
    panels = _snapshot_panels(traj[frames], ndim) if ndim >= 2 else None
    written = []

    if panels is not None:
        fig, axes = plt.subplots(len(panels), len(frames), figsize=(2.6 * len(frames), 2.6 * len(panels)),
                                 squeeze=False, constrained_layout=True)
        vmin, vmax = float(traj.min()), float(traj.max())
        for r, (label, images) in enumerate(panels):
            for c, k in enumerate(frames):
                ax = axes[r, c]
                im = ax.imshow(images[c], origin="lower", cmap="RdBu_r", vmin=vmin, vmax=vmax)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"t = {time[k]:g}")
                if c == 0 and label:
                    ax.set_ylabel(label)
        fig.colorbar(im, ax=axes, shrink=0.8)
        fig.suptitle(f"{info.parameters.get('preset', info.system)}: trajectory {trajectory}")
        p = out_dir / f"{path.stem}_snapshots.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)

    if "model" not in info.parameters or "stepper" not in info.parameters:
        return written  # no phase-field model in the metadata: no free energy to draw
    model = model_from_parameters(info.parameters)
    discretization = "fd" if info.parameters["stepper"]["stepper"] == "explicit_euler" else "spectral"
    energies = model.free_energy(torch.from_numpy(data["fields"][:, :, 0].astype(np.float64)),
                                 discretization).numpy() / np.prod(info.grid_shape)
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    positive_time = time > 0
    for i, e in enumerate(energies):
        ax.plot(time[positive_time], e[positive_time], lw=1, label=f"trajectory {i}" if i < 8 else None)
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("F / N (per grid point)")
    ax.set_title(f"free energy ({discretization})")
    if len(energies) <= 8:
        ax.legend(fontsize=7)
    p = out_dir / f"{path.stem}_free_energy.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)
    return written
