"""PNG overviews of a dataset: field snapshots and free-energy curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .._progress import PROGRESS_DELAY_S, progress_bar  # noqa: F401  (PROGRESS_DELAY_S: named in the docs)
from ..data.dataset import open_dataset
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


ENERGY_CHUNK_BYTES = 16 << 20
"""Free energies are computed over chunks of frames of at most this many float64 bytes (at
least one frame), so plotting any dataset holds a few frames, not the file."""

def _log_time_axis(ax, t: np.ndarray) -> None:
    """Plain-number labels on a log time axis, few enough not to overlap.

    matplotlib labels minor ticks (2x10^0, 3x10^0, ...) on spans under a decade or two, and
    they run into each other; here the labelled ticks are 1-2-5 per decade (every integer
    1..9 on a span under a factor 5, every decade over three decades), minor ticks unlabelled.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    span = float(np.log10(t.max() / t.min())) if len(t) and t.min() > 0 else 0.0
    subs = tuple(range(1, 10)) if span < np.log10(5) else (1.0, 2.0, 5.0) if span < 3 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _free_energies(reader, model, discretization: str, progress: bool) -> np.ndarray:
    """F/N of every frame ``[n_traj, n_time]``, read and computed a chunk of frames at a time."""
    info = reader.info
    n_points = int(np.prod(info.grid_shape))
    chunk = max(1, ENERGY_CHUNK_BYTES // (8 * n_points))
    out = np.empty((info.n_traj, info.n_time))
    with progress_bar(progress, total=info.n_traj * info.n_time, desc="free energy", unit="frame") as bar:
        for i in range(info.n_traj):
            for k0 in range(0, info.n_time, chunk):
                k1 = min(k0 + chunk, info.n_time)
                u = torch.from_numpy(reader.frames(i, slice(k0, k1), field=0).astype(np.float64))
                out[i, k0:k1] = model.free_energy(u, discretization).numpy() / n_points
                bar.update(k1 - k0)
    return out


def plot_dataset(path: str | Path, out_dir: str | Path | None = None, *, trajectory: int = 0,
                 n_snapshots: int = 5, progress: bool = True) -> list[Path]:
    """Writes ``<name>_snapshots.png`` and ``<name>_free_energy.png``; returns their paths.

    Frames are read from the file a few at a time (the snapshots, then chunks of
    :data:`ENERGY_CHUNK_BYTES` for the free energy), so memory stays small whatever the file
    size. ``progress`` shows a bar over the free-energy pass when it runs longer than
    :data:`PROGRESS_DELAY_S` seconds.
    """
    plt = _pyplot()
    path = Path(path)
    out_dir = Path(out_dir) if out_dir else path.parent
    with open_dataset(path) as reader:
        info = reader.info
        if not 0 <= trajectory < info.n_traj:
            raise ValueError(f"trajectory must be in [0, {info.n_traj}), got {trajectory}")
        out_dir.mkdir(parents=True, exist_ok=True)
        time = reader.time
        frames = np.unique(np.linspace(0, info.n_time - 1, min(n_snapshots, info.n_time)).round().astype(int))
        ndim = len(info.grid_shape)
        written = []
        if ndim >= 2:
            shown = reader.frames(trajectory, frames, field=0)  # only the frames drawn
            written.append(_plot_snapshots(plt, shown, frames, time, info, trajectory,
                                           out_dir / f"{path.stem}_snapshots.png"))
        if "model" not in info.parameters or "stepper" not in info.parameters:
            return written  # no phase-field model in the metadata: no free energy to draw
        model = model_from_parameters(info.parameters)
        discretization = "fd" if info.parameters["stepper"]["stepper"] == "explicit_euler" else "spectral"
        energies = _free_energies(reader, model, discretization, progress)
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    positive_time = time > 0
    for i, e in enumerate(energies):
        ax.plot(time[positive_time], e[positive_time], lw=1, label=f"trajectory {i}" if i < 8 else None)
    ax.set_xscale("log")
    _log_time_axis(ax, time[positive_time])
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


def _plot_snapshots(plt, shown: np.ndarray, frames: np.ndarray, time: np.ndarray, info, trajectory: int,
                    p: Path) -> Path:
    panels = _snapshot_panels(shown, len(info.grid_shape))
    fig, axes = plt.subplots(len(panels), len(frames), figsize=(2.6 * len(frames), 2.6 * len(panels)),
                             squeeze=False, constrained_layout=True)
    # The colour range of the frames shown (reading the whole trajectory for it would cost a pass).
    vmin, vmax = float(shown.min()), float(shown.max())
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
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
