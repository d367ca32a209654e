"""torch Datasets over coarsegrain HDF5 files, with leak-free splits and normalization.

* :func:`split_indices` -- train / validation / test splits of (trajectory, frame) samples,
  either by sample (kiyani2022: 60:20:20 or 80:10:10 of snapshots) or by trajectory (no
  trajectory contributes to two splits).
* :class:`FieldRHSDataset` -- (field, rhs) pairs of whole frames, ``[n_fields, *grid]`` each.
* :class:`LocalStencilDataset` -- (5-point stencil, U_t) samples at grid points (kiyani Eq 8).
* :class:`SequenceDataset` -- windows of consecutive frames ``[length, n_fields, *grid]``;
  always split by trajectory, so no window of a validation trajectory is seen in training.
* :class:`Normalizer` -- per-channel mean and std computed on the training split, stored
  with a model as a plain dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..ops import stencil_neighbours
from .augment import downscale as downscale_fields
from .dataset import DatasetError, DatasetInfo, _info_from, _open

__all__ = ["split_indices", "FieldRHSDataset", "LocalStencilDataset", "SequenceDataset", "Normalizer", "SPLITS"]

SPLITS = ("train", "val", "test")


def _check_fractions(fractions) -> tuple[float, float, float]:
    f = tuple(float(x) for x in fractions)
    if len(f) != 3 or min(f) < 0 or abs(sum(f) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    return f


def _cut(n: int, fractions) -> list[slice]:
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return [slice(0, a), slice(a, min(b, n)), slice(min(b, n), n)]


def split_indices(n_traj: int, n_time: int, fractions=(0.6, 0.2, 0.2), by: str = "sample",
                  seed: int = 0) -> dict[str, np.ndarray]:
    """``{"train": [[traj, frame], ...], "val": ..., "test": ...}`` from a seeded permutation."""
    fractions = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    if by == "sample":
        pairs = np.stack(np.meshgrid(np.arange(n_traj), np.arange(n_time), indexing="ij"), -1).reshape(-1, 2)
        pairs = pairs[rng.permutation(len(pairs))]
        return {name: pairs[s] for name, s in zip(SPLITS, _cut(len(pairs), fractions))}
    if by == "trajectory":
        if n_traj < 3 and min(fractions) > 0:
            raise ValueError(f"a split by trajectory into three non-empty parts needs >= 3 trajectories, got {n_traj}")
        order = rng.permutation(n_traj)
        out = {}
        for name, s in zip(SPLITS, _cut(n_traj, fractions)):
            trajs = np.sort(order[s])
            out[name] = np.stack(np.meshgrid(trajs, np.arange(n_time), indexing="ij"), -1).reshape(-1, 2)
        return out
    raise ValueError(f"by must be 'sample' or 'trajectory', got {by!r}")


def _load(path, need_rhs: bool) -> tuple[DatasetInfo, np.ndarray, np.ndarray | None]:
    path = Path(path)
    with _open(path) as f:
        info = _info_from(f, path)
        if not info.complete:
            raise DatasetError(f"{path} is incomplete: some trajectories were never written")
        if need_rhs and not info.has_rhs:
            raise DatasetError(f"{path} has no /rhs: this dataset holds no time derivatives to learn")
        fields = f["fields"][...]
        rhs = f["rhs"][...] if need_rhs else None
    for name, arr in (("fields", fields), ("rhs", rhs)):
        if arr is not None and not np.all(np.isfinite(arr)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise DatasetError(f"{path}: /{name} holds non-finite values (first at index {bad}); "
                               "regenerate the data with a smaller time step")
    return info, fields, rhs


class FieldRHSDataset(Dataset):
    """(field, rhs) frame pairs of one split; tensors ``[n_fields, *grid]`` in ``dtype``.

    ``index`` holds (trajectory, frame - start_frame) pairs of the split.
    """

    def __init__(self, path, split: str = "train", *, fractions=(0.6, 0.2, 0.2), by: str = "sample",
                 seed: int = 0, start_frame: int = 0, dtype=torch.float32):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.info, fields, rhs = _load(path, need_rhs=True)
        if not 0 <= start_frame < self.info.n_time:
            raise ValueError(f"start_frame must be in 0..{self.info.n_time - 1}, got {start_frame}")
        # Frames before start_frame (e.g. white-noise initial fields) are left out of every split.
        fields, rhs = fields[:, start_frame:], rhs[:, start_frame:]
        self.index = split_indices(self.info.n_traj, fields.shape[1], fractions, by, seed)[split]
        t, k = self.index[:, 0], self.index[:, 1]
        self.fields = torch.as_tensor(fields[t, k], dtype=dtype)
        self.rhs = torch.as_tensor(rhs[t, k], dtype=dtype)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.fields[i], self.rhs[i]


class LocalStencilDataset(Dataset):
    """Per-point samples (kiyani Eq 8): the (2 ndim + 1)-point periodic stencil of U around a
    grid point and U_t there, from the frames of one split (split by frame or trajectory, so
    no frame contributes points to two splits). ``points_per_frame`` subsamples points
    (seeded); ``None`` takes them all. Items: ``(stencil [2 ndim + 1], rhs [1])``.
    """

    def __init__(self, path, split: str = "train", *, points_per_frame: int | None = None,
                 fractions=(0.6, 0.2, 0.2), by: str = "sample", seed: int = 0, start_frame: int = 0,
                 dtype=torch.float32):
        frames = FieldRHSDataset(path, split, fractions=fractions, by=by, seed=seed,
                                 start_frame=start_frame, dtype=dtype)
        if frames.info.n_fields != 1:
            raise ValueError(f"LocalStencilDataset: one field per frame expected, got {frames.info.n_fields}")
        ndim = len(frames.info.grid_shape)
        stencils = stencil_neighbours(frames.fields, ndim).reshape(len(frames), -1, 2 * ndim + 1)
        targets = frames.rhs.reshape(len(frames), -1, 1)
        if points_per_frame is not None:
            n = stencils.shape[1]
            if not 1 <= points_per_frame <= n:
                raise ValueError(f"points_per_frame must be in 1..{n}, got {points_per_frame}")
            g = torch.Generator().manual_seed(seed)
            pick = torch.stack([torch.randperm(n, generator=g)[:points_per_frame] for _ in range(len(frames))])
            stencils = torch.gather(stencils, 1, pick[..., None].expand(-1, -1, stencils.shape[2]))
            targets = torch.gather(targets, 1, pick[..., None])
        self.info = frames.info
        self.stencils = stencils.reshape(-1, 2 * ndim + 1)
        self.rhs = targets.reshape(-1, 1)

    def __len__(self) -> int:
        return len(self.rhs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.stencils[i], self.rhs[i]


class SequenceDataset(Dataset):
    """Windows of ``length`` consecutive frames (every ``stride`` frames), split by trajectory.

    ``downscale = f`` restricts every frame to a grid ``f`` times coarser on load
    (``downscale_method`` ``"nearest"`` or ``"average"``, see :func:`coarsegrain.data.downscale`).
    Items are ``[length, n_fields, *grid]``.
    """

    def __init__(self, path, length: int, split: str = "train", *, stride: int = 1,
                 fractions=(0.7, 0.3, 0.0), seed: int = 0, dtype=torch.float32, downscale: int = 1,
                 downscale_method: str = "nearest"):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.info, fields, _ = _load(path, need_rhs=False)
        if not 2 <= length <= self.info.n_time:
            raise ValueError(f"length must be in 2..{self.info.n_time} (frames per trajectory), got {length}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        fractions = _check_fractions(fractions)
        order = np.random.default_rng(seed).permutation(self.info.n_traj)
        self.trajectories = np.sort(order[_cut(self.info.n_traj, fractions)[SPLITS.index(split)]])
        starts = np.arange(0, self.info.n_time - length + 1, stride)
        self.windows = [(int(t), int(s)) for t in self.trajectories for s in starts]
        self.length = length
        self.fields = downscale_fields(torch.as_tensor(fields[self.trajectories], dtype=dtype), downscale,
                                 len(self.info.grid_shape), downscale_method)
        self._row = {int(t): r for r, t in enumerate(self.trajectories)}

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> Tensor:
        t, s = self.windows[i]
        return self.fields[self._row[t], s:s + self.length]


@dataclass
class Normalizer:
    """x -> (x - mean) / std per channel (the axis before the grid); fit on training data only."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, x: Tensor, ndim: int, eps: float = 1e-12) -> "Normalizer":
        """Statistics of ``x [n, channels, *grid]`` per channel."""
        if x.dim() < ndim + 2:
            raise ValueError(f"Normalizer.fit needs [n, channels, *grid] with {ndim} grid axes, got {tuple(x.shape)}")
        dims = (0, *range(-ndim, 0))
        x64 = x.double()
        return cls(mean=x64.mean(dims), std=x64.std(dims).clamp_min(eps))

    def _view(self, t: Tensor, like: Tensor, ndim: int) -> Tensor:
        return t.to(like).reshape(-1, *([1] * ndim))

    def normalize(self, x: Tensor, ndim: int) -> Tensor:
        return (x - self._view(self.mean, x, ndim)) / self._view(self.std, x, ndim)

    def denormalize(self, x: Tensor, ndim: int) -> Tensor:
        return x * self._view(self.std, x, ndim) + self._view(self.mean, x, ndim)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        return cls(mean=torch.tensor(d["mean"], dtype=torch.float64), std=torch.tensor(d["std"], dtype=torch.float64))
