"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

The text goes to a temporary file in the target's directory (so the rename stays on one file
system), which is then renamed over the target; on any failure the temporary file is removed
and the target is left as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_text_atomic", "write_json_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str, *, newline: str | None = None) -> Path:
    """Writes ``text`` to ``path`` atomically (creating the parent directory); returns the path.

    ``newline`` is passed to :func:`open` (``""`` for CSV text that already holds its line ends).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Per process, so that two processes writing the same file do not share a temporary file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline=newline) as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2, default=None) -> Path:
    """``json.dumps(obj, indent=indent, default=default)`` plus a final newline, written to
    ``path`` atomically. The JSON is encoded before the file is touched, so an object that does
    not serialize raises without creating anything."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=default) + "\n")
