"""The coarsegrain HDF5 dataset format: one self-describing file per dataset.

Layout (ARCHITECTURE.md)::

    /  attrs: format="coarsegrain-dataset", format_version, system, ndim, grid_shape, spacing,
              boundary, parameters (JSON), dt_save, coarsegrain_version, created, complete
    /fields   [n_traj, n_time, n_fields, *grid]   float32 (float64 on request), a chunk per frame
    /rhs      optional, same shape: the exact time derivative of the simulated (semi-discrete)
              system at each saved frame
    /time     [n_time]
    /seeds    [n_traj]
    /done     [n_traj] bool: trajectories fully written (for resumption)
    /trajectory_parameters/<name>  [n_traj]: per-trajectory parameters (e.g. initial mean)

A file is written as ``<path>.partial`` and renamed to ``<path>`` only when every trajectory is
done, so ``<path>`` is never half-written; an interrupted run leaves the ``.partial`` file, and a
rerun with the same parameters completes only the missing trajectories.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "coarsegrain-dataset"
FORMAT_VERSION = 1

__all__ = ["DatasetWriter", "DatasetInfo", "DatasetReader", "read_info", "load", "open_dataset", "partial_path",
           "DatasetError", "dataset_nbytes", "format_nbytes", "flatten_parameters", "parameter_differences"]


class DatasetError(ValueError):
    """A file that is not a complete, valid coarsegrain dataset."""


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a core dependency
        raise ImportError("coarsegrain datasets need h5py: pip install h5py") from e
    return h5py


def partial_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _version() -> str:
    from .. import __version__

    return __version__


@dataclass
class DatasetInfo:
    path: Path
    system: str
    grid_shape: tuple[int, ...]
    spacing: tuple[float, ...]
    boundary: str
    parameters: dict[str, Any]
    dt_save: float
    n_traj: int
    n_time: int
    n_fields: int
    dtype: np.dtype
    has_rhs: bool
    complete: bool


def _info_from(f, path: Path) -> DatasetInfo:
    attrs = f.attrs
    if attrs.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a coarsegrain dataset (attribute format={attrs.get('format')!r})")
    if int(attrs.get("format_version", -1)) > FORMAT_VERSION:
        raise DatasetError(f"{path} has format_version {attrs['format_version']}, newer than this "
                           f"coarsegrain reads ({FORMAT_VERSION}); upgrade coarsegrain")
    for name in ("fields", "time", "seeds", "done"):
        if name not in f:
            raise DatasetError(f"{path} is missing the /{name} dataset; the file is corrupt")
    fields = f["fields"]
    return DatasetInfo(
        path=path,
        system=str(attrs["system"]),
        grid_shape=tuple(int(n) for n in attrs["grid_shape"]),
        spacing=tuple(float(h) for h in attrs["spacing"]),
        boundary=str(attrs["boundary"]),
        parameters=json.loads(attrs["parameters"]),
        dt_save=float(attrs["dt_save"]),
        n_traj=int(fields.shape[0]),
        n_time=int(fields.shape[1]),
        n_fields=int(fields.shape[2]),
        dtype=fields.dtype,
        has_rhs="rhs" in f,
        complete=bool(attrs.get("complete", False)) and bool(np.all(f["done"][...])),
    )


def _open(path: Path, mode: str = "r"):
    h5py = _h5py()
    if not path.exists():
        hint = ""
        if partial_path(path).exists():
            hint = f" ({partial_path(path)} exists: an interrupted run; rerun it to complete)"
        raise FileNotFoundError(f"no dataset at {path}{hint}")
    try:
        return h5py.File(path, mode)
    except OSError as e:
        raise DatasetError(f"{path} cannot be read as HDF5 ({e}); the file is corrupt or not HDF5") from e


def read_info(path: str | os.PathLike) -> DatasetInfo:
    """Metadata of a dataset, validated."""
    path = Path(path)
    with _open(path) as f:
        return _info_from(f, path)


def dataset_nbytes(n_traj: int, n_time: int, grid_shape, *, n_fields: int = 1, dtype="float32",
                   with_rhs: bool = True) -> int:
    """Bytes of a dataset's /fields (and /rhs) arrays: about its size on disk and what
    :func:`load` holds in memory. A writer can say it before a large run starts."""
    frame = int(n_fields) * int(np.prod([int(n) for n in grid_shape])) * np.dtype(dtype).itemsize
    return int(n_traj) * int(n_time) * frame * (2 if with_rhs else 1)


def format_nbytes(n: int) -> str:
    """``1.07 GB``-style text (decimal units, as disk sizes are quoted)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def load(path: str | os.PathLike, *, trajectories=None) -> dict[str, Any]:
    """The whole dataset (or chosen trajectories) as NumPy arrays plus its metadata.

    This holds every chosen frame (and rhs) in memory at once; for large files read frame by
    frame with :func:`open_dataset` instead.
    """
    path = Path(path)
    with _open(path) as f:
        info = _info_from(f, path)
        if not info.complete:
            raise DatasetError(f"{path} is incomplete: some trajectories were never written")
        sel = slice(None) if trajectories is None else np.asarray(trajectories)
        out = {
            "info": info,
            "fields": f["fields"][sel],
            "time": f["time"][...],
            "seeds": f["seeds"][sel],
            "trajectory_parameters": {k: v[sel] for k, v in f.get("trajectory_parameters", {}).items()},
        }
        if info.has_rhs:
            out["rhs"] = f["rhs"][sel]
        return out


class DatasetReader:
    """A complete dataset opened for reading a few frames at a time (memory bounded by what is
    asked for, whatever the file size). Use as a context manager, or call :meth:`close`.

    ``info``, ``time`` and ``seeds`` are read on open; :meth:`frames` reads frames on demand.
    This is the one lazy reader of the package: the torch datasets stream through it too.

    The HDF5 handle (:attr:`file`) and the handles of its arrays (:meth:`array`) are opened
    once per process and reused: an h5py handle must not cross a fork, so a reader copied into
    a DataLoader worker (forked, or pickled: the handles are left out) opens its own on its
    first read. After :meth:`close` the next read opens the file again.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file, self._pid, self._arrays = None, None, {}
        try:
            self.info = _info_from(self.file, self.path)
            if not self.info.complete:
                raise DatasetError(f"{self.path} is incomplete: some trajectories were never written")
            self.time = self.file["time"][...]
            self.seeds = self.file["seeds"][...]
        except BaseException:
            self.close()
            raise

    @property
    def file(self):
        """This process's open h5py file (opened here on first use in a process)."""
        if self._file is None or self._pid != os.getpid():
            self._file, self._pid, self._arrays = _open(self.path), os.getpid(), {}
        return self._file

    def array(self, name: str):
        """This process's handle of ``/<name>`` (an h5py Dataset), looked up once and kept."""
        f = self.file  # first: a new process drops the handles of its parent
        handle = self._arrays.get(name)
        if handle is None:
            handle = self._arrays[name] = f[name]
        return handle

    def frames(self, trajectory: int, frames=slice(None), *, name: str = "fields", field=slice(None)) -> np.ndarray:
        """``/<name>[trajectory, frames, field]`` in the file's dtype (``frames`` an int, a slice
        or increasing indices)."""
        if name not in ("fields", "rhs"):
            raise ValueError(f"name must be 'fields' or 'rhs', got {name!r}")
        if name == "rhs" and not self.info.has_rhs:
            raise DatasetError(f"{self.path} has no /rhs")
        if not 0 <= trajectory < self.info.n_traj:
            raise IndexError(f"trajectory must be in [0, {self.info.n_traj}), got {trajectory}")
        if not isinstance(frames, (int, np.integer, slice)):
            frames = [int(k) for k in frames]  # h5py wants a list for point selections
        return self.array(name)[trajectory, frames, field]

    def close(self) -> None:
        """Closes this process's handle (one inherited from another process is only dropped)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid, self._arrays = None, None, {}

    def __getstate__(self):
        return {**self.__dict__, "_file": None, "_pid": None, "_arrays": {}}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def open_dataset(path: str | os.PathLike) -> DatasetReader:
    """A :class:`DatasetReader` over a complete dataset (validated like :func:`load`)."""
    return DatasetReader(path)


def flatten_parameters(parameters: dict, prefix: str = "") -> dict[str, Any]:
    """A nested parameter dict as ``{"dotted.key": leaf value}``."""
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        if isinstance(value, dict):
            out.update(flatten_parameters(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


UNSET = "(unset)"
"""What :func:`parameter_differences` reports for a key that one side does not have."""


def parameter_differences(old: dict, new: dict) -> list[tuple[str, Any, Any]]:
    """``(dotted key, old value, new value)`` of every leaf of two nested parameter dicts that
    differs, in the order of ``new`` and then of the keys only ``old`` has (their new value
    :data:`UNSET`, as is the old value of a key only ``new`` has)."""
    a, b = flatten_parameters(old), flatten_parameters(new)
    out = [(k, a.get(k, UNSET), v) for k, v in b.items() if k not in a or a[k] != v]
    return out + [(k, v, UNSET) for k, v in a.items() if k not in b]


def _short(values: np.ndarray) -> str:
    values = [int(v) for v in np.asarray(values).ravel()]
    return str(values) if len(values) <= 4 else f"[{values[0]}, {values[1]}, ..., {values[-1]}] ({len(values)})"


def _resume_differences(f, params_json: str, shape: tuple, dtype: np.dtype, seeds: np.ndarray,
                        with_rhs: bool) -> list[str]:
    """What differs between an interrupted file and a writer's arguments, as "name old -> new"."""
    diffs = []
    if f.attrs.get("parameters") != params_json:
        try:
            old = json.loads(f.attrs.get("parameters", "{}"))
        except (TypeError, ValueError):
            old = None
        if isinstance(old, dict):
            diffs += [f"{k} {o!r} -> {n!r}" for k, o, n in parameter_differences(old, json.loads(params_json))]
        else:
            diffs.append("parameters (unreadable in the file)")
    if f["fields"].shape != shape:
        diffs.append(f"fields shape {tuple(f['fields'].shape)} -> {shape}")
    if f["fields"].dtype != dtype:
        diffs.append(f"dtype {f['fields'].dtype} -> {dtype}")
    old_seeds = f["seeds"][...]
    if not np.array_equal(old_seeds, seeds):
        diffs.append(f"seeds {_short(old_seeds)} -> {_short(seeds)}")
    if ("rhs" in f) != bool(with_rhs):
        diffs.append(f"with_rhs {'rhs' in f} -> {bool(with_rhs)}")
    return diffs


class DatasetWriter:
    """Writes an ensemble trajectory by trajectory, resumably and atomically.

    Opening with the same ``parameters`` as an existing ``<path>.partial`` resumes it:
    :attr:`pending` lists the trajectories still to write. A ``.partial`` file with other
    parameters (or shape, dtype, seeds, with_rhs) is an error that names each difference
    (file -> now), unless ``overwrite=True``. An existing complete ``<path>`` is an
    error unless ``overwrite=True``.
    """

    def __init__(self, path: str | os.PathLike, *, system: str, grid_shape, spacing, boundary: str,
                 parameters: dict[str, Any], dt_save: float, time, seeds, n_fields: int = 1,
                 dtype="float32", with_rhs: bool = True, trajectory_parameters: dict | None = None,
                 overwrite: bool = False):
        h5py = _h5py()
        self.path = Path(path)
        self.partial = partial_path(self.path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists; pass overwrite=True (--overwrite) to replace it")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        time = np.asarray(time, dtype=np.float64)
        seeds = np.asarray(seeds, dtype=np.int64)
        grid_shape = tuple(int(n) for n in grid_shape)
        shape = (len(seeds), len(time), int(n_fields), *grid_shape)
        params_json = json.dumps(parameters, sort_keys=True)
        if overwrite and self.partial.exists():
            self.partial.unlink()
        if self.partial.exists():
            try:
                f = h5py.File(self.partial, "r+")
            except OSError as e:
                raise DatasetError(
                    f"{self.partial} (an interrupted run) is not readable HDF5 ({e}); delete it or "
                    "pass overwrite=True"
                ) from e
            try:
                diffs = _resume_differences(f, params_json, shape, dtype, seeds, with_rhs)
            except BaseException:
                f.close()
                raise
            if diffs:
                f.close()
                more = f" and {len(diffs) - 8} more" if len(diffs) > 8 else ""
                raise DatasetError(
                    f"{self.partial} was started with other parameters: {', '.join(diffs[:8])}{more} "
                    "(file -> now); delete it or pass overwrite=True"
                )
            self.file = f
        else:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            f = h5py.File(self.partial, "w")
            f.attrs.update({
                "format": FORMAT, "format_version": FORMAT_VERSION, "system": system,
                "ndim": len(grid_shape), "grid_shape": list(grid_shape),
                "spacing": [float(h) for h in spacing], "boundary": boundary,
                "parameters": params_json, "dt_save": float(dt_save),
                "coarsegrain_version": _version(),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "complete": False,
            })
            chunk = (1, 1, *shape[2:])  # one frame per chunk
            f.create_dataset("fields", shape=shape, dtype=dtype, chunks=chunk)
            if with_rhs:
                f.create_dataset("rhs", shape=shape, dtype=dtype, chunks=chunk)
            f.create_dataset("time", data=time)
            f.create_dataset("seeds", data=seeds)
            f.create_dataset("done", data=np.zeros(len(seeds), dtype=bool))
            group = f.create_group("trajectory_parameters")
            for name, values in (trajectory_parameters or {}).items():
                group.create_dataset(name, data=np.asarray(values))
            f.flush()
            self.file = f

    @property
    def pending(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(~self.file["done"][...])]

    def write(self, index: int, fields: np.ndarray, rhs: np.ndarray | None = None) -> None:
        """Stores trajectory ``index`` ([n_time, n_fields, *grid]) and marks it done."""
        expected = self.file["fields"].shape[1:]
        if tuple(fields.shape) != expected:
            raise ValueError(f"trajectory {index}: fields must be {expected}, got {tuple(fields.shape)}")
        if not np.all(np.isfinite(fields)):
            raise ValueError(f"trajectory {index}: fields contain non-finite values")
        self.file["fields"][index] = fields
        if "rhs" in self.file:
            if rhs is None or tuple(rhs.shape) != expected:
                raise ValueError(f"trajectory {index}: rhs must be given with shape {expected}")
            self.file["rhs"][index] = rhs
        self.file.flush()
        self.file["done"][index] = True
        self.file.flush()

    def close(self) -> Path | None:
        """Closes the file; renames it to its final path when every trajectory is done."""
        if self.file is None:
            return None
        complete = bool(np.all(self.file["done"][...]))
        if complete:
            self.file.attrs["complete"] = True
        self.file.close()
        self.file = None
        if complete:
            os.replace(self.partial, self.path)
            return self.path
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
