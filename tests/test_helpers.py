"""The shared helpers: atomic JSON/text writes and the progress bar."""

from __future__ import annotations

import json

import pytest

import coarsegrain._progress as progress_module
from coarsegrain._atomic import remove_if_new_on_failure, write_atomic, write_json_atomic, write_text_atomic
from coarsegrain._progress import progress_bar


def test_write_json_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "sub" / "results.json"
    assert write_json_atomic(path, {"a": 1}) == path
    assert json.loads(path.read_text()) == {"a": 1} and path.read_text().endswith("\n")
    write_json_atomic(path, {"b": [1.5]}, indent=1)
    assert path.read_text() == json.dumps({"b": [1.5]}, indent=1) + "\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


def test_write_json_atomic_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomic(path, {"ok": True})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    assert json.loads(write_json_atomic(path, {"x": object()}, default=str).read_text())["x"].startswith("<object")


def test_write_text_atomic_cleans_the_temporary_file_when_the_rename_fails(tmp_path, monkeypatch):
    import os

    path = tmp_path / "log.csv"
    path.write_text("old\n")

    def fail(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        write_text_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]


def test_write_atomic_takes_any_writer_and_cleans_up(tmp_path):
    path = tmp_path / "sub" / "blob.bin"
    assert write_atomic(path, lambda tmp: tmp.write_bytes(b"\x00\x01")) == path
    assert path.read_bytes() == b"\x00\x01"

    def half(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        write_atomic(path, half)
    assert path.read_bytes() == b"\x00\x01" and [p.name for p in path.parent.iterdir()] == ["blob.bin"]


def test_save_atomic_is_torch_save_through_write_atomic(tmp_path, monkeypatch):
    """Checkpoints: the same bytes torch.save writes, loadable with weights_only; a failed save
    leaves the previous checkpoint and no temporary file."""
    import torch

    from coarsegrain.training import checkpoint

    obj = {"model_state": {"w": torch.arange(4.0)}, "epoch": 3}
    path = checkpoint.save_atomic(obj, tmp_path / "c.pt")
    back = torch.load(path, weights_only=True)
    assert back["epoch"] == 3 and torch.equal(back["model_state"]["w"], torch.arange(4.0))
    assert checkpoint.load_checkpoint(path)["epoch"] == 3

    def broken_save(o, f):
        open(f, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_atomic({"model_state": {}, "epoch": 4}, path)
    assert checkpoint.load_checkpoint(path)["epoch"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.parametrize("existed,replacing,error,kept", [
    (False, False, RuntimeError, False),      # created here, then failed: removed
    (True, False, RuntimeError, True),        # resumed, then failed: kept for the next try
    (True, True, RuntimeError, False),        # replaced (overwrite), then failed: removed
    (False, False, KeyboardInterrupt, True),  # Ctrl-C: kept, a rerun resumes it
])
def test_remove_if_new_on_failure(tmp_path, existed, replacing, error, kept):
    partial = tmp_path / "d.h5.partial"
    if existed:
        partial.write_text("old")
    with pytest.raises(error):
        with remove_if_new_on_failure(partial, replacing=replacing) as p:
            assert p == partial
            partial.write_text("new")
            raise error("stop")
    assert partial.exists() == kept
    # success keeps it, and a block that never created the file leaves nothing to remove
    with remove_if_new_on_failure(tmp_path / "ok.partial") as p:
        p.write_text("done")
    assert (tmp_path / "ok.partial").exists()
    with pytest.raises(ValueError):
        with remove_if_new_on_failure(tmp_path / "never.partial"):
            raise ValueError("before writing")
    assert not (tmp_path / "never.partial").exists()


def test_write_text_atomic_newline(tmp_path):
    path = write_text_atomic(tmp_path / "a.csv", "x,y\r\n1,2\r\n", newline="")
    assert path.read_bytes() == b"x,y\r\n1,2\r\n"


def test_no_copies_of_the_helpers_left():
    """One atomic write and one progress bar: no module writes ``*.tmp`` + rename or imports
    tqdm by itself (pretrained/ is another owner's; training/checkpoint.py's torch.save goes
    through _atomic.write_atomic)."""
    from pathlib import Path

    root = Path(progress_module.__file__).parent
    allowed = {"_atomic.py", "_progress.py", "pretrained/__init__.py"}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel in allowed or path.name in allowed:
            continue
        text = path.read_text()
        assert "tqdm" not in text, rel
        assert ".tmp" not in text, rel


def test_progress_bar_disabled_is_silent_and_complete(capsys):
    with progress_bar(False, total=3, desc="x") as bar:
        bar.update(1)
        bar.set_postfix_str("loss 1")
    bar.close()
    assert capsys.readouterr().err == ""


def test_progress_bar_delay(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 0.0)
    with progress_bar(True, total=4, desc="steps") as bar:
        bar.update(4)
    assert "4/4" in capsys.readouterr().err
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 60.0)
    with progress_bar(True, total=4, desc="steps") as bar:  # quick: never shown
        bar.update(4)
    assert capsys.readouterr().err == ""
    with progress_bar(True, delayed=False, total=4, desc="steps") as bar:  # shown at once
        bar.update(4)
    assert "4/4" in capsys.readouterr().err
