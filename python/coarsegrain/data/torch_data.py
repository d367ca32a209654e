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

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..ops import stencil_neighbours
from .augment import downscale as downscale_fields
from .dataset import DatasetError, DatasetReader

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


IN_MEMORY_BYTES = 1 << 30
"""A split whose tensors (in the requested dtype, after downscaling) take at most this many
bytes is read into memory once (fast epochs); a larger one is read frame by frame from the
file on every item, so memory stays at a few frames whatever the file size. Override per
dataset with ``in_memory=True/False``."""


def _reader(path, need_rhs: bool) -> DatasetReader:
    """A :class:`DatasetReader` over a complete dataset (with /rhs when ``need_rhs``), its file
    closed again: a split held in memory needs it only while loading, and a streaming split
    reopens it on its first item, in whichever process reads it."""
    reader = DatasetReader(path)
    reader.close()
    if need_rhs and not reader.info.has_rhs:
        raise DatasetError(f"{reader.path} has no /rhs: this dataset holds no time derivatives to learn")
    return reader


def _check_finite(arr, path: Path, name: str, fixed: tuple[int, ...], first: int = 0) -> None:
    """``arr`` is ``/<name>[*fixed, first:...]``: the file index of a bad value is reported."""
    finite = torch.isfinite(arr).all() if isinstance(arr, Tensor) else np.all(np.isfinite(arr))
    if not bool(finite):
        where = [int(i) for i in np.argwhere(~np.isfinite(np.asarray(arr)))[0]]
        bad = tuple(fixed) + (where[0] + first, *where[1:]) if where else tuple(fixed)
        raise DatasetError(f"{path}: /{name} holds non-finite values (first at index {bad}); "
                           "regenerate the data with a smaller time step")


def _decide_in_memory(in_memory: bool | None, nbytes: int) -> bool:
    return nbytes <= IN_MEMORY_BYTES if in_memory is None else bool(in_memory)


class FieldRHSDataset(Dataset):
    """(field, rhs) frame pairs of one split; tensors ``[n_fields, *grid]`` in ``dtype``.

    ``index`` holds (trajectory, frame - start_frame) pairs of the split. A split of at most
    :data:`IN_MEMORY_BYTES` (fields and rhs in ``dtype``) is read into memory, and ``fields`` /
    ``rhs`` are then its stacked tensors; a larger one streams each item from the file
    (``in_memory`` forces either) and its stacked tensors exist only through
    :meth:`materialize`. Non-finite data are refused on load, or on reading the item when
    streaming.
    """

    def __init__(self, path, split: str = "train", *, fractions=(0.6, 0.2, 0.2), by: str = "sample",
                 seed: int = 0, start_frame: int = 0, dtype=torch.float32, in_memory: bool | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.path = Path(path)
        self._reader = _reader(self.path, need_rhs=True)
        self.info = self._reader.info
        if not 0 <= start_frame < self.info.n_time:
            raise ValueError(f"start_frame must be in 0..{self.info.n_time - 1}, got {start_frame}")
        # Frames before start_frame (e.g. white-noise initial fields) are left out of every split.
        self.start_frame, self.dtype = start_frame, dtype
        self.index = split_indices(self.info.n_traj, self.info.n_time - start_frame, fractions, by, seed)[split]
        frame_bytes = self.info.n_fields * math.prod(self.info.grid_shape) * torch.empty((), dtype=dtype).element_size()
        self.in_memory = _decide_in_memory(in_memory, 2 * len(self.index) * frame_bytes)
        self._fields = self._rhs = None
        if self.in_memory:
            self._fields, self._rhs = self._read_split()

    def _read_split(self) -> tuple[Tensor, Tensor]:
        """The split's frames, one trajectory read at a time (peak: the result plus one trajectory)."""
        n, shape = len(self.index), (self.info.n_fields, *self.info.grid_shape)
        out = {name: torch.empty((n, *shape), dtype=self.dtype) for name in ("fields", "rhs")}
        with self._reader as reader:  # closed after: the split is in memory, or read on purpose
            for t in np.unique(self.index[:, 0]):
                rows = np.flatnonzero(self.index[:, 0] == t)
                for name in out:
                    block = reader.array(name)[t, self.start_frame:]
                    _check_finite(block, self.path, name, (int(t),), self.start_frame)
                    out[name][rows] = torch.as_tensor(block[self.index[rows, 1]], dtype=self.dtype)
        return out["fields"], out["rhs"]

    @property
    def fields(self) -> Tensor:
        """All inputs of the split ``[n, n_fields, *grid]`` (in-memory datasets only)."""
        return self._whole("fields")

    @property
    def rhs(self) -> Tensor:
        """All targets of the split ``[n, n_fields, *grid]`` (in-memory datasets only)."""
        return self._whole("rhs")

    def _whole(self, name: str) -> Tensor:
        if not self.in_memory:
            raise RuntimeError(f"FieldRHSDataset.{name}: this split streams from {self.path} (larger than "
                               f"IN_MEMORY_BYTES = {IN_MEMORY_BYTES} bytes); iterate over it, use get_batch(), "
                               "or materialize() to load it all on purpose")
        return self._fields if name == "fields" else self._rhs

    def materialize(self) -> tuple[Tensor, Tensor]:
        """(fields, rhs) of the whole split as tensors, read now if the dataset streams."""
        return (self._fields, self._rhs) if self.in_memory else self._read_split()

    def get_batch(self, start: int, stop: int) -> tuple[Tensor, Tensor]:
        """Items ``start:stop`` stacked: ``([m, n_fields, *grid], [m, n_fields, *grid])``."""
        if self.in_memory:
            return self._fields[start:stop], self._rhs[start:stop]
        items = [self[i] for i in range(*slice(start, stop).indices(len(self)))]
        if not items:
            empty = torch.empty((0, self.info.n_fields, *self.info.grid_shape), dtype=self.dtype)
            return empty, empty.clone()
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if self.in_memory:
            return self._fields[i], self._rhs[i]
        t, k = (int(v) for v in self.index[i])
        out = []
        for name in ("fields", "rhs"):
            x = torch.as_tensor(self._reader.array(name)[t, self.start_frame + k], dtype=self.dtype)
            _check_finite(x, self.path, name, (t, self.start_frame + k))
            out.append(x)
        return out[0], out[1]


class LocalStencilDataset(Dataset):
    """Per-point samples (kiyani Eq 8): the (2 ndim + 1)-point periodic stencil of U around a
    grid point and U_t there, from the frames of one split (split by frame or trajectory, so
    no frame contributes points to two splits). ``points_per_frame`` subsamples points
    (seeded); ``None`` takes them all. Items: ``(stencil [2 ndim + 1], rhs [1])``.

    The samples are held in memory (the chosen points only); frames are read one at a time.
    """

    def __init__(self, path, split: str = "train", *, points_per_frame: int | None = None,
                 fractions=(0.6, 0.2, 0.2), by: str = "sample", seed: int = 0, start_frame: int = 0,
                 dtype=torch.float32, in_memory: bool | None = None):
        frames = FieldRHSDataset(path, split, fractions=fractions, by=by, seed=seed,
                                 start_frame=start_frame, dtype=dtype, in_memory=in_memory)
        if frames.info.n_fields != 1:
            raise ValueError(f"LocalStencilDataset: one field per frame expected, got {frames.info.n_fields}")
        ndim = len(frames.info.grid_shape)
        n = math.prod(frames.info.grid_shape)
        if points_per_frame is not None and not 1 <= points_per_frame <= n:
            raise ValueError(f"points_per_frame must be in 1..{n}, got {points_per_frame}")
        g = torch.Generator().manual_seed(seed)
        stencils, targets = [], []
        for i in range(len(frames)):  # per frame: the stencils of one frame at a time, not of the split
            field, rhs = frames[i]
            s = stencil_neighbours(field[None], ndim).reshape(n, 2 * ndim + 1)
            r = rhs.reshape(n, 1)
            if points_per_frame is not None:
                pick = torch.randperm(n, generator=g)[:points_per_frame]
                s, r = s[pick], r[pick]
            stencils.append(s)
            targets.append(r)
        self.info = frames.info
        self.stencils = torch.cat(stencils) if stencils else torch.empty((0, 2 * ndim + 1), dtype=dtype)
        self.rhs = torch.cat(targets) if targets else torch.empty((0, 1), dtype=dtype)

    def __len__(self) -> int:
        return len(self.rhs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.stencils[i], self.rhs[i]


class SequenceDataset(Dataset):
    """Windows of ``length`` consecutive frames (every ``stride`` frames), split by trajectory.

    ``downscale = f`` restricts every frame to a grid ``f`` times coarser on load
    (``downscale_method`` ``"nearest"`` or ``"average"``, see :func:`coarsegrain.data.downscale`).
    Items are ``[length, n_fields, *grid]``. The split's trajectories (downscaled, in ``dtype``)
    are held in memory up to :data:`IN_MEMORY_BYTES`; beyond that (or with ``in_memory=False``)
    each item reads its window from the file.
    """

    def __init__(self, path, length: int, split: str = "train", *, stride: int = 1,
                 fractions=(0.7, 0.3, 0.0), seed: int = 0, dtype=torch.float32, downscale: int = 1,
                 downscale_method: str = "nearest", in_memory: bool | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.path = Path(path)
        self._reader = _reader(self.path, need_rhs=False)
        self.info = self._reader.info
        if not 2 <= length <= self.info.n_time:
            raise ValueError(f"length must be in 2..{self.info.n_time} (frames per trajectory), got {length}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        fractions = _check_fractions(fractions)
        ndim = len(self.info.grid_shape)
        # Checks the factor and method now (on a zero-size tensor), not on the first item.
        downscale_fields(torch.empty((0, *self.info.grid_shape)), downscale, ndim, downscale_method)
        order = np.random.default_rng(seed).permutation(self.info.n_traj)
        self.trajectories = np.sort(order[_cut(self.info.n_traj, fractions)[SPLITS.index(split)]])
        starts = np.arange(0, self.info.n_time - length + 1, stride)
        self.windows = [(int(t), int(s)) for t in self.trajectories for s in starts]
        self.length, self.dtype = length, dtype
        self._downscale = (downscale, ndim, downscale_method)
        self._row = {int(t): r for r, t in enumerate(self.trajectories)}
        coarse = math.prod(n // downscale for n in self.info.grid_shape)
        nbytes = (len(self.trajectories) * self.info.n_time * self.info.n_fields * coarse
                  * torch.empty((), dtype=dtype).element_size())
        self.in_memory = _decide_in_memory(in_memory, nbytes)
        self.fields = None  # [n_split_traj, n_time, n_fields, *coarse grid] when in memory
        if self.in_memory:
            # Filled one trajectory at a time: the peak is the result plus one fine trajectory.
            self.fields = torch.empty((len(self.trajectories), self.info.n_time, self.info.n_fields,
                                       *(n // downscale for n in self.info.grid_shape)), dtype=dtype)
            with self._reader as reader:
                for r, t in enumerate(self.trajectories):
                    self.fields[r] = self._restrict(reader.array("fields")[int(t)], int(t), 0)

    def _restrict(self, block: np.ndarray, trajectory: int, first: int) -> Tensor:
        _check_finite(block, self.path, "fields", (trajectory,), first)
        return downscale_fields(torch.as_tensor(block, dtype=self.dtype), *self._downscale)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> Tensor:
        t, s = self.windows[i]
        if self.in_memory:
            return self.fields[self._row[t], s:s + self.length]
        return self._restrict(self._reader.array("fields")[t, s:s + self.length], t, s)


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
