"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

The content goes to a temporary file in the target's directory (so the rename stays on one file
system), which is then renamed over the target; on any failure the temporary file is removed
and the target is left as it was. Files written in place over a long run (an HDF5
``<path>.partial`` that a rerun resumes) have :func:`remove_if_new_on_failure`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["write_atomic", "write_text_atomic", "write_json_atomic", "remove_if_new_on_failure"]


def write_atomic(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Calls ``write(tmp)`` to write the whole file at a temporary path ``tmp`` beside ``path``
    (creating the parent directory), then renames it to ``path``; returns the path. On any
    failure the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process, so that two processes writing the same file do not share a temporary file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str, *, newline: str | None = None) -> Path:
    """Writes ``text`` to ``path`` atomically (:func:`write_atomic`); returns the path.

    ``newline`` is passed to :func:`open` (``""`` for CSV text that already holds its line ends).
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline=newline) as f:
            f.write(text)

    return write_atomic(path, write)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2, default=None) -> Path:
    """``json.dumps(obj, indent=indent, default=default)`` plus a final newline, written to
    ``path`` atomically. The JSON is encoded before the file is touched, so an object that does
    not serialize raises without creating anything."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=default) + "\n")


@contextlib.contextmanager
def remove_if_new_on_failure(path: str | os.PathLike, *, replacing: bool = False) -> Iterator[Path]:
    """Removes ``path`` (an in-progress file such as a dataset's ``.partial``) when the block fails
    with an error, if the block created it: the same arguments would fail again, so the file
    resumes nothing useful. A file that existed before (and that the block resumes rather than
    ``replacing``) is kept, and so is any file after Ctrl-C (KeyboardInterrupt), which a rerun
    resumes."""
    path = Path(path)
    existed = path.exists() and not replacing
    try:
        yield path
    except KeyboardInterrupt:
        raise
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise
