"""Bounded memory on large files and progress on long steps (issue 15, item 4).

The readers and the plots are checked by what they read from HDF5: every read goes through
``h5py.Dataset.__getitem__``, which a fixture wraps to record the bytes of each result, so a
reader that loads the whole file shows up however it is written.
"""

from __future__ import annotations

import pickle
import tracemalloc

import h5py
import numpy as np
import pytest
import torch

import coarsegrain._progress as progress_module
from coarsegrain.data import DatasetError, FieldRHSDataset, SequenceDataset, get_preset, torch_data
from coarsegrain.data.dataset import DatasetWriter, dataset_nbytes, format_nbytes, open_dataset
from coarsegrain.rollout import rollout, rollout_recurrent, solve_ivp_rollout

N_TRAJ, N_TIME, GRID = 4, 24, (32, 32)
FRAME_BYTES = 32 * 32 * 4  # one float32 frame of one field


@pytest.fixture(scope="module")
def big_path(tmp_path_factory):
    """A synthetic 2D Cahn-Hilliard dataset: many frames, each small against the file."""
    spec = get_preset("kiyani-cahn-hilliard", n_traj=N_TRAJ, grid=[GRID[0]])
    path = tmp_path_factory.mktemp("stream") / "big.h5"
    rng = np.random.default_rng(0)
    time = np.arange(N_TIME) * 0.25
    with DatasetWriter(path, system=spec.model.name, grid_shape=GRID, spacing=spec.grid.spacing,
                       boundary=spec.grid.boundary, parameters=spec.metadata(), dt_save=0.25, time=time,
                       seeds=np.arange(N_TRAJ)) as w:
        for i in range(N_TRAJ):
            fields = np.tanh(rng.standard_normal((N_TIME, 1, *GRID))).astype(np.float32)
            w.write(i, fields, (0.1 * fields).astype(np.float32))
    return path


@pytest.fixture
def reads(monkeypatch):
    """Bytes returned by each h5py dataset read while the test runs."""
    log: list[int] = []
    original = h5py.Dataset.__getitem__

    def counting(self, key, *args, **kwargs):
        out = original(self, key, *args, **kwargs)
        if self.name in ("/fields", "/rhs"):
            log.append(int(np.asarray(out).nbytes))
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    return log


def test_dataset_nbytes_is_the_size_of_the_arrays(big_path):
    n = dataset_nbytes(N_TRAJ, N_TIME, GRID, dtype="float32", with_rhs=True)
    assert n == 2 * N_TRAJ * N_TIME * FRAME_BYTES
    with h5py.File(big_path) as f:
        assert n == f["fields"].nbytes + f["rhs"].nbytes
    assert format_nbytes(1_070_000_000) == "1.07 GB" and format_nbytes(512) == "512 B"


def test_reader_returns_frames_without_reading_the_file(big_path, reads):
    with open_dataset(big_path) as r:
        frames = r.frames(2, [0, 5, 9], field=0)
        assert frames.shape == (3, *GRID)
        with h5py.File(big_path) as f:  # an independent read (counted too, then dropped)
            expected = f["fields"][2, [0, 5, 9], 0]
    np.testing.assert_array_equal(frames, expected)
    assert reads[0] == 3 * FRAME_BYTES


@pytest.mark.parametrize("split", ["train", "test"])
def test_streaming_frame_pairs_read_one_frame_per_item(big_path, reads, split):
    stream = FieldRHSDataset(big_path, split, start_frame=1, in_memory=False)
    assert not reads, "construction must not read frames"
    x, y = stream[3]
    assert reads == [FRAME_BYTES, FRAME_BYTES]
    memory = FieldRHSDataset(big_path, split, start_frame=1, in_memory=True)
    assert memory.in_memory and len(memory) == len(stream)
    for i in (0, 3, len(stream) - 1):
        for a, b in zip(stream[i], memory[i]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # The stacked tensors of a streaming split exist only on request.
    with pytest.raises(RuntimeError, match=r"streams from .*materialize\(\)"):
        stream.fields
    fields, rhs = stream.materialize()
    torch.testing.assert_close(fields, memory.fields, rtol=0, atol=0)
    torch.testing.assert_close(stream.get_batch(2, 5)[1], memory.rhs[2:5], rtol=0, atol=0)


def test_in_memory_load_reads_a_trajectory_at_a_time(big_path, reads):
    ds = FieldRHSDataset(big_path, "train", in_memory=True)
    assert ds.in_memory and max(reads) <= N_TIME * FRAME_BYTES  # never the whole array at once


def test_size_threshold_picks_streaming(big_path, monkeypatch):
    assert FieldRHSDataset(big_path, "train").in_memory  # small: held in memory, fast epochs
    monkeypatch.setattr(torch_data, "IN_MEMORY_BYTES", 10 * FRAME_BYTES)
    assert not FieldRHSDataset(big_path, "train").in_memory
    assert not SequenceDataset(big_path, 4, "train").in_memory


def test_streaming_sequences_read_one_window_per_item(big_path, reads):
    stream = SequenceDataset(big_path, 5, "train", stride=3, downscale=2, downscale_method="average",
                             in_memory=False)
    assert not reads
    window = stream[len(stream) - 1]
    assert reads == [5 * FRAME_BYTES] and window.shape == (5, 1, 16, 16)
    memory = SequenceDataset(big_path, 5, "train", stride=3, downscale=2, downscale_method="average",
                             in_memory=True)
    for i in (0, len(stream) - 1):
        torch.testing.assert_close(stream[i], memory[i], rtol=0, atol=0)


def test_streaming_items_work_in_dataloader_workers(big_path):
    stream = FieldRHSDataset(big_path, "val", in_memory=False)
    stream[0]  # a handle opened in this process must not be used by the workers
    copy = pickle.loads(pickle.dumps(stream))  # as spawned workers receive it: no handle inside
    torch.testing.assert_close(copy[1][0], stream[1][0], rtol=0, atol=0)
    loader = torch.utils.data.DataLoader(stream, batch_size=4, num_workers=2)
    got = torch.cat([x for x, _ in loader])
    torch.testing.assert_close(got, FieldRHSDataset(big_path, "val", in_memory=True).fields, rtol=0, atol=0)


@pytest.mark.parametrize("make", [lambda p: FieldRHSDataset(p, "train", in_memory=False),
                                  lambda p: SequenceDataset(p, 3, "train", in_memory=False)])
def test_streaming_items_look_their_arrays_up_once_per_process(big_path, monkeypatch, make):
    """A streaming dataset keeps its file and its /fields, /rhs handles: many items open the
    file once and look each array up once; a copy in another process (a fork: another pid)
    opens its own file and looks up again, once."""
    from coarsegrain.data import dataset as dataset_module

    opens, lookups = [], []
    original_open, original_get = dataset_module._open, h5py.Group.__getitem__

    def counting_open(path, mode="r"):
        opens.append(path)
        return original_open(path, mode)

    def counting_get(self, name):
        if name in ("fields", "rhs"):
            lookups.append(name)
        return original_get(self, name)

    ds = make(big_path)
    expected = [ds[i] for i in range(6)]
    monkeypatch.setattr(dataset_module, "_open", counting_open)
    monkeypatch.setattr(h5py.Group, "__getitem__", counting_get)
    ds._reader.close()
    items = [ds[i] for i in range(6)] + [ds[i] for i in range(6)]
    names = ["fields", "rhs"] if isinstance(ds, FieldRHSDataset) else ["fields"]
    assert len(opens) == 1 and sorted(lookups) == names
    for got, want in zip(items, expected + expected):
        for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    pid = dataset_module.os.getpid()
    monkeypatch.setattr(dataset_module.os, "getpid", lambda: pid + 1)  # as in a forked worker
    for i in range(4):
        ds[i]
    assert len(opens) == 2 and sorted(lookups) == sorted(names * 2)
    monkeypatch.undo()
    ds._reader.close()


def test_non_finite_item_is_refused_when_streaming(big_path, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(big_path.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["rhs"][1, 2, 0, 3, 4] = np.nan
    ds = FieldRHSDataset(bad, "train", fractions=(1.0, 0.0, 0.0), in_memory=False)
    row = int(np.flatnonzero((ds.index[:, 0] == 1) & (ds.index[:, 1] == 2))[0])
    ds[row - 1 if row else row + 1]  # other items still read
    with pytest.raises(DatasetError, match=r"/rhs holds non-finite values \(first at index \(1, 2, 0, 3, 4\)\)"):
        ds[row]


def test_plot_reads_the_file_once_a_few_frames_at_a_time(big_path, tmp_path, reads):
    pytest.importorskip("matplotlib")
    from coarsegrain.viz import plot_dataset

    written = plot_dataset(big_path, tmp_path, n_snapshots=4, progress=False)
    assert [p.name for p in written] == ["big_snapshots.png", "big_free_energy.png"]
    # The snapshots read their 4 frames; the energy pass reads each frame once, in chunks of at
    # most one trajectory.
    assert reads[0] == 4 * FRAME_BYTES
    assert max(reads[1:]) <= N_TIME * FRAME_BYTES and sum(reads[1:]) == N_TRAJ * N_TIME * FRAME_BYTES


def test_free_energy_pass_holds_a_chunk_not_the_file(big_path, monkeypatch):
    from coarsegrain.systems.phase_field import model_from_parameters
    from coarsegrain.viz import datasets as viz

    monkeypatch.setattr(viz, "ENERGY_CHUNK_BYTES", 2 * 8 * GRID[0] * GRID[1])  # two float64 frames
    file_bytes = N_TRAJ * N_TIME * FRAME_BYTES
    with open_dataset(big_path) as r:
        model = model_from_parameters(r.info.parameters)
        tracemalloc.start()
        energies = viz._free_energies(r, model, "spectral", progress=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        u = torch.from_numpy(r.frames(3, slice(None), field=0).astype(np.float64))
    np.testing.assert_allclose(energies[3], model.free_energy(u, "spectral").numpy() / (GRID[0] * GRID[1]))
    # NumPy's share of the peak (torch's allocator is not traced): a few frames, not the file.
    assert peak < file_bytes / 4, f"free-energy pass peak {peak} bytes for fields of {file_bytes}"


def _tick_label_boxes(ax):
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.xaxis.get_ticklabels(which="both")
            if t.get_visible() and t.get_text() and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]


@pytest.mark.parametrize("span", [(0.2, 8.0), (0.5, 5.0), (1.0, 3.0), (0.01, 1e4)])
def test_log_time_ticks_do_not_overlap(span):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from coarsegrain.viz.datasets import _log_time_axis

    t = np.geomspace(*span, 30)
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    ax.plot(t, np.log(t))
    ax.set_xscale("log")
    _log_time_axis(ax, t)
    boxes = sorted(_tick_label_boxes(ax), key=lambda b: b.x0)
    plt.close(fig)
    assert len(boxes) >= 2
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [(b.x0, b.x1) for b in boxes]


def _decay(u):
    return -u


@pytest.mark.parametrize("method", ["LSODA", "BDF"])
def test_solve_ivp_progress_only_when_enabled(method, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 0.0)
    u0 = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    solve_ivp_rollout(_decay, u0, [0.0, 1.0, 2.0], method=method, ndim=2, progress=False)
    assert capsys.readouterr().err == ""
    solve_ivp_rollout(_decay, u0, [0.0, 1.0, 2.0], method=method, ndim=2, progress=True)
    err = capsys.readouterr().err
    assert f"solve_ivp {method}, t 0 -> 2" in err and "100%" in err and "F evaluations" in err


def test_quick_rollouts_print_nothing_by_default(capsys):
    u0 = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    solve_ivp_rollout(_decay, u0, [0.0, 1.0], method="BDF", ndim=2)
    rollout(_decay, u0, 0.01, 10)
    assert capsys.readouterr().err == ""


def test_fixed_step_and_recurrent_progress(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 0.0)
    u0 = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    rollout(_decay, u0, 0.01, 10, progress=False)
    assert capsys.readouterr().err == ""
    rollout(_decay, u0, 0.01, 10)
    assert "10/10" in capsys.readouterr().err

    class Damp(torch.nn.Module):
        def initial_state(self, frame):
            return []

        def step(self, frame, state):
            return 0.5 * frame, state

    rollout_recurrent(Damp(), u0.float(), 7, progress=False)
    assert capsys.readouterr().err == ""
    rollout_recurrent(Damp(), u0.float(), 7)
    assert "7/7" in capsys.readouterr().err
