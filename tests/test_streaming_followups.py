"""Follow-ups of issue 15 in the modules around the streaming readers: the trainer's statistics,
the experiments, the CLI and the generator read a few frames at a time, and say sizes first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import coarsegrain.data as data
from coarsegrain.data import dataset as dataset_module


def test_data_package_exports_the_streaming_readers():
    for name in ("open_dataset", "DatasetReader", "dataset_nbytes", "format_nbytes"):
        assert name in data.__all__
        assert getattr(data, name) is getattr(dataset_module, name)


# --- the trainer's statistics of a streaming split -------------------------------------------

def _write(path, n_traj=3, n_time=7, grid=(12, 10), n_fields=2, offset=5.0, seed=0):
    rng = np.random.default_rng(seed)
    with dataset_module.DatasetWriter(path, system="synthetic", grid_shape=grid, spacing=(0.5, 0.5),
                                      boundary="periodic", parameters={"what": "synthetic"}, dt_save=0.1,
                                      time=np.arange(n_time) * 0.1, seeds=np.arange(n_traj),
                                      n_fields=n_fields) as w:
        for i in range(n_traj):
            # A large offset against a small spread: a one-pass E[x^2] - E[x]^2 would lose digits.
            fields = (offset + 1e-3 * rng.standard_normal((n_time, n_fields, *grid))).astype(np.float32)
            scale = np.linspace(2.0, 0.5, n_fields).reshape(-1, *[1] * len(grid))  # channels differ
            rhs = (rng.standard_normal((n_time, n_fields, *grid)) * scale).astype(np.float32)
            w.write(i, fields, rhs)
    return path


def _trainer(train, tmp_path):
    from coarsegrain.training import TrainConfig, Trainer

    return Trainer(torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), train, None,
                   TrainConfig(epochs=1, progress=False), tmp_path / "run")


def test_trainer_statistics_of_a_streaming_split_equal_the_in_memory_ones(tmp_path, monkeypatch):
    from coarsegrain.data import FieldRHSDataset
    from coarsegrain.training import trainer as trainer_module

    path = _write(tmp_path / "d.h5")
    memory = FieldRHSDataset(path, "train", in_memory=True)
    streaming = FieldRHSDataset(path, "train", in_memory=False)
    assert streaming.in_memory is False and len(streaming) > 3
    # Several chunks, the last one short: the passes must combine them exactly.
    monkeypatch.setattr(trainer_module, "STATISTICS_CHUNK_BYTES", 3 * 2 * 2 * 12 * 10 * 4)
    a = _trainer(memory, tmp_path / "a").model
    calls = []
    original = trainer_module.Trainer._stack

    def spy(data):
        calls.append(data)
        return original(data)

    monkeypatch.setattr(trainer_module.Trainer, "_stack", staticmethod(spy))
    b = _trainer(streaming, tmp_path / "b").model
    assert calls == []  # the streaming split is never stacked whole
    for name in ("in_mean", "in_std", "out_mean", "out_std"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == torch.float64
        torch.testing.assert_close(y, x, rtol=1e-12, atol=0)
    # Not trivially equal: the channels differ.
    assert not torch.allclose(a.out_std[0], a.out_std[1])


@pytest.mark.parametrize("chunk_samples", [1, 3, 4, 100])
def test_streamed_moments_read_each_sample_once_and_match_numpy(monkeypatch, chunk_samples):
    """One pass: every sample is read exactly once, whatever the chunking (the last chunk short
    or the whole split in one), and the float64 per-channel mean and (n - 1) std equal NumPy's
    on the same data, a large offset with a small spread included."""
    from coarsegrain.training import trainer as trainer_module

    rng = np.random.default_rng(3)
    xs = (1e4 + 1e-2 * rng.standard_normal((10, 2, 5, 4))).astype(np.float32)
    ys = (rng.standard_normal((10, 3, 5, 4)) * np.array([3.0, 1.0, 0.1])[:, None, None]).astype(np.float32)
    reads = []

    class Counting(torch.utils.data.Dataset):
        in_memory = False

        def __len__(self):
            return len(xs)

        def __getitem__(self, i):
            reads.append(i)
            return torch.from_numpy(xs[i]), torch.from_numpy(ys[i])

    sample_bytes = xs[0].nbytes + ys[0].nbytes
    monkeypatch.setattr(trainer_module, "STATISTICS_CHUNK_BYTES", chunk_samples * sample_bytes)
    in_mean, in_std, out_mean, out_std = trainer_module._streamed_moments(
        Counting(), torch.from_numpy(xs[0]), torch.from_numpy(ys[0]))
    assert sorted(reads) == list(range(len(xs)))
    for got, arr, stat in ((in_mean, xs, "mean"), (in_std, xs, "std"), (out_mean, ys, "mean"), (out_std, ys, "std")):
        a64 = arr.astype(np.float64)
        expected = a64.mean(axis=(0, 2, 3)) if stat == "mean" else a64.std(axis=(0, 2, 3), ddof=1)
        assert got.dtype == torch.float64
        # the std of the offset data to 1e-9: a sum-of-squares formula would be off by ~1e-4
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12 if stat == "mean" else 1e-9, atol=0)


def test_trainer_refuses_non_finite_values_of_a_streaming_split(tmp_path):
    from coarsegrain.data import FieldRHSDataset

    class Poisoned(torch.utils.data.Dataset):
        in_memory = False

        def __init__(self, inner):
            self.inner = inner

        def __len__(self):
            return len(self.inner)

        def __getitem__(self, i):
            x, y = self.inner[i]
            if i == len(self.inner) - 1:
                y = y.clone()
                y[0, 0, 0] = float("inf")
            return x, y

    path = _write(tmp_path / "d.h5")
    with pytest.raises(ValueError, match="non-finite"):
        _trainer(Poisoned(FieldRHSDataset(path, "train", in_memory=False)), tmp_path)


# --- kiyani2022 on streaming data ------------------------------------------------------------

@pytest.fixture
def reads(monkeypatch):
    """(name, bytes) of each /fields or /rhs read while the test runs."""
    import h5py

    log: list[tuple[str, int]] = []
    original = h5py.Dataset.__getitem__

    def counting(self, key, *args, **kwargs):
        out = original(self, key, *args, **kwargs)
        if self.name in ("/fields", "/rhs"):
            log.append((self.name, int(np.asarray(out).nbytes)))
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    return log


@pytest.fixture(scope="module")
def ch_path(tmp_path_factory):
    from coarsegrain.data import get_preset, simulate

    spec = get_preset("kiyani-cahn-hilliard", n_traj=3, grid=[16], t_end=6.0, save_every=20, dtype="float64")
    return spec, simulate(spec, tmp_path_factory.mktemp("kiyani") / "ch.h5", progress=False)


def test_kiyani_evaluate_on_a_streaming_test_split(ch_path):
    from coarsegrain.data import FieldRHSDataset
    from coarsegrain.experiments.kiyani2022 import evaluate

    _, path = ch_path
    model = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    memory = FieldRHSDataset(path, "test", start_frame=1, in_memory=True)
    streaming = FieldRHSDataset(path, "test", start_frame=1, in_memory=False)
    assert len(streaming) > 16  # more than one batch
    assert evaluate(model, streaming, "cpu") == evaluate(model, memory, "cpu")


def test_kiyani_dictionary_ceiling_reads_only_the_frames_it_scores(ch_path, reads):
    from coarsegrain.experiments.kiyani2022 import dictionary_ceiling

    _, path = ch_path
    info = data.read_info(path)
    frame = int(np.prod(info.grid_shape)) * info.dtype.itemsize
    scored = len(range(1, info.n_time, 5))
    ceiling = dictionary_ceiling(path, "cahn_hilliard")
    assert ceiling["pde_spectral"] > 0.99
    assert sum(n for name, n in reads if name == "/fields") == info.n_traj * scored * frame
    assert sum(n for name, n in reads if name == "/rhs") == info.n_traj * scored * frame
    assert max(n for _, n in reads) == scored * frame  # one trajectory's scored frames at a time


# rk4: ~7 s idle (many small torch FFTs; ~20x that beside busy processes: torch's OpenMP).
@pytest.mark.parametrize("method", ["LSODA", pytest.param("rk4", marks=pytest.mark.slow)])
def test_kiyani_learned_pde_rollout_progress_and_reads(ch_path, reads, capsys, monkeypatch, method):
    import coarsegrain._progress as progress_module
    from coarsegrain.experiments.kiyani2022 import KiyaniConfig, learned_pde_rollout

    spec, path = ch_path

    class ExactRHS(torch.nn.Module):
        def forward(self, u):
            return spec.model.rhs(u[:, 0], "spectral")[:, None]

    monkeypatch.setattr(progress_module, "PROGRESS_DELAY_S", 0.0)
    cfg = KiyaniConfig(rollout_method=method)
    quiet = learned_pde_rollout(ExactRHS(), path, cfg, progress=False)
    assert capsys.readouterr().err == ""
    assert not quiet["blew_up"] and max(quiet["relative_l2"]) < 0.02
    # The start frame and the two frames compared with, nothing else.
    frame = 16 * 16 * 8
    assert [n for _, n in reads] == [frame] * 3
    loud = learned_pde_rollout(ExactRHS(), path, cfg, progress=True)
    assert "100%" in capsys.readouterr().err
    assert loud["relative_l2"] == quiet["relative_l2"]


# --- lanzoni2024 -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["nearest", "average"])
def test_lanzoni_long_run_is_read_a_chunk_at_a_time(ch_path, reads, monkeypatch, method):
    from coarsegrain.experiments import lanzoni2024

    _, path = ch_path
    whole = data.load(path)
    expected = data.downscale(torch.as_tensor(whole["fields"][0, :, 0]), 2, 2, method)
    reads.clear()
    frame = 16 * 16 * 8
    monkeypatch.setattr(lanzoni2024, "READ_CHUNK_BYTES", 4 * frame)
    truth, fine, time = lanzoni2024.read_long_run(path, 2, method)
    assert torch.equal(truth, expected)
    assert fine.dtype == torch.float64 and torch.equal(fine, torch.as_tensor(whole["fields"][0, :1, 0]))
    np.testing.assert_array_equal(time, whole["time"])
    assert max(n for _, n in reads) == 4 * frame and sum(n for _, n in reads) == whole["fields"][0].nbytes


def test_lanzoni_rollouts_follow_the_progress_flag(tmp_path, monkeypatch):
    from coarsegrain.experiments import lanzoni2024

    seen = []
    original = lanzoni2024.rollout_recurrent

    def spy(*args, **kwargs):
        seen.append(kwargs.get("progress", "default"))
        return original(*args, **kwargs)

    monkeypatch.setattr(lanzoni2024, "rollout_recurrent", spy)
    monkeypatch.setattr(lanzoni2024, "READ_CHUNK_BYTES", 1)  # the long run read frame by frame
    cfg = lanzoni2024.LanzoniConfig(n_traj=6, fine_grid=16, epochs=1, seq_len=4, stride=8, long_grid=16,
                                    long_tau=6, mass_steps=30, mass_grid=8)
    r = lanzoni2024.run(tmp_path, cfg, progress=False)
    assert len(seen) == r["test"]["n_trajectories"] + 2 and set(seen) == {False}
    assert len(r["long"]["curves"]["time"]) == 4


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_rollout_says_the_mass_drift_from_the_mass_array(tmp_path, reads, capsys):
    import h5py

    from coarsegrain.cli import _rollout_mass, main

    out = tmp_path / "roll.h5"
    assert main(["rollout", "ch3d-crnn", "--grid", "8", "--steps", "6", "--save-every", "2", "--chunk", "2",
                 "--out", str(out), "--no-progress"]) == 0
    assert reads == []  # no frame read back to measure the mass
    printed = capsys.readouterr().out
    with h5py.File(out, "r") as f:
        mass = f["mass"][0, :, 0]
        first, last = f["fields"][0, 0, 0].astype(np.float64).mean(), f["fields"][0, -1, 0].astype(np.float64).mean()
    assert "4 frames; relative mass drift " + f"{abs(mass[-1] - mass[0]) / abs(mass[0]):.2e}" in printed
    n, from_array = _rollout_mass(out)
    assert n == 4 and len(from_array) == 4
    # A file without /mass (written before it existed): the first and last frames' means.
    with h5py.File(out, "r+") as f:
        del f["mass"]
    reads.clear()
    n, from_frames = _rollout_mass(out)
    assert n == 4 and np.array_equal(from_frames, [first, last])
    assert np.allclose(from_frames, from_array[[0, -1]], rtol=1e-6)
    assert len(reads) == 2  # just those two frames


@pytest.mark.parametrize("flag, expected", [([], True), (["--no-progress"], False)])
def test_cli_plot_no_progress(tmp_path, monkeypatch, flag, expected):
    import coarsegrain.viz as viz
    from coarsegrain.cli import main

    path = _write(tmp_path / "d.h5", n_fields=1)
    calls = []
    monkeypatch.setattr(viz, "plot_dataset", lambda *a, **k: calls.append(k) or [])
    assert main(["plot", str(path), *flag]) == 0
    assert calls and calls[0]["progress"] is expected


# --- simulate(): the size first, and no run that cannot fit ----------------------------------

def _small_spec():
    return data.get_preset("kiyani-cahn-hilliard", n_traj=2, grid=[16], t_end=0.2, save_every=10)


def test_simulate_is_quiet_below_the_announce_size(tmp_path, capsys):
    data.simulate(_small_spec(), tmp_path / "ch.h5", progress=False)
    assert capsys.readouterr().out == ""


def test_simulate_says_the_size_of_a_large_dataset_first(tmp_path, capsys, monkeypatch):
    from coarsegrain.data import generate

    spec = _small_spec()
    size = data.dataset_nbytes(spec.n_traj, spec.n_frames, spec.grid.shape, dtype=spec.dtype)
    monkeypatch.setattr(generate, "ANNOUNCE_BYTES", size)
    seen = []
    original = generate.DatasetWriter

    def writer(*args, **kwargs):  # what was printed when writing starts
        seen.append(capsys.readouterr().out)
        return original(*args, **kwargs)

    monkeypatch.setattr(generate, "DatasetWriter", writer)
    path = tmp_path / "ch.h5"
    data.simulate(spec, path, progress=False)
    assert seen == [f"kiyani-cahn-hilliard: {data.format_nbytes(size)} to write to {path}\n"]
    monkeypatch.setattr(generate, "ANNOUNCE_BYTES", size + 1)
    data.simulate(spec, path, progress=False, overwrite=True)
    assert seen[-1] == ""


def test_simulate_refuses_before_writing_when_the_disk_is_too_full(tmp_path, monkeypatch, capsys):
    import collections
    import shutil

    from coarsegrain.cli import main

    spec = _small_spec()
    size = data.dataset_nbytes(spec.n_traj, spec.n_frames, spec.grid.shape, dtype=spec.dtype)
    usage = collections.namedtuple("usage", "total used free")
    asked = []

    def disk_usage(p):
        asked.append(p)
        return usage(10 * size, 9 * size, size - 1)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    out = tmp_path / "sub" / "ch.h5"  # a directory the writer would create: its parent is asked
    with pytest.raises(OSError, match="--out") as e:
        data.simulate(spec, out, progress=False)
    assert data.format_nbytes(size) in str(e.value) and data.format_nbytes(size - 1) in str(e.value)
    assert asked == [tmp_path] and not (tmp_path / "sub").exists()
    # The command: one line, exit status 1, nothing written.
    out = tmp_path / "ch.h5"
    assert main(["simulate", "kiyani-cahn-hilliard", "--n-traj", "2", "--grid", "16", "--t-end", "0.2",
                 "--save-every", "10", "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "free" in err[0]
    assert not out.exists() and not data.dataset.partial_path(out).exists()
    # Exactly enough room is enough.
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 * size, 9 * size, size))
    assert data.simulate(spec, out, progress=False) == out


def test_a_resumed_run_needs_room_for_the_trajectories_left(tmp_path, monkeypatch, capsys):
    import collections
    import shutil

    from coarsegrain.data import generate

    spec = data.get_preset("kiyani-cahn-hilliard", n_traj=4, grid=[16], t_end=0.2, save_every=10)
    size = data.dataset_nbytes(spec.n_traj, spec.n_frames, spec.grid.shape, dtype=spec.dtype)
    path = tmp_path / "ch.h5"
    shape = (spec.n_frames, 1, *spec.grid.shape)
    w = data.DatasetWriter(path, system="x", grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
                           boundary="periodic", parameters={}, dt_save=1.0, time=np.arange(spec.n_frames),
                           seeds=np.arange(4))
    w.write(1, np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    w.close()  # an interrupted run: 3 of 4 trajectories left
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(generate, "ANNOUNCE_BYTES", 0)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(size, 0, size * 3 // 4))
    generate._check_space(spec, path, False, True)
    assert capsys.readouterr().out == (f"kiyani-cahn-hilliard: {data.format_nbytes(size * 3 // 4)} to write to "
                                       f"{path} ({data.format_nbytes(size)} in all, resuming)\n")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(size, 0, size * 3 // 4 - 1))
    with pytest.raises(OSError, match="--out"):
        generate._check_space(spec, path, False, True)


# --- make_stepper passes the reference state on; old exponential datasets are not resumed -----

@pytest.mark.parametrize("method", ["etd1", "etd2", "etd4", "etd4-ho", "etd4-adaptive"])
def test_make_stepper_forwards_the_reference(method):
    from coarsegrain.grid import Grid
    from coarsegrain.systems import CahnHilliard, initial
    from coarsegrain.systems.energy import quartic
    from coarsegrain.systems.steppers import make_stepper

    model = CahnHilliard(Grid((16, 16), 1.0), quartic())
    u0 = 0.4 + initial.uniform(model.grid, 1, low=-0.1, high=0.1, seed=1)  # mean far from 0
    about_zero = make_stepper(model, method, 0.05, reference=0.0)
    assert about_zero.parameters()["reference"] == 0.0
    assert make_stepper(model, method, 0.05).parameters()["reference"] == "auto"
    assert make_stepper(model, method, 0.05, reference="mean").parameters()["reference"] == "mean"
    a, b = about_zero.advance(u0, 4), make_stepper(model, method, 0.05).advance(u0, 4)
    assert not torch.equal(a, b)  # the option reached the scheme
    assert make_stepper(model, method, 0.05, stabilization=0.5).parameters()["stabilization"] == 0.5


def test_make_stepper_refuses_options_a_method_does_not_take():
    from coarsegrain.grid import Grid
    from coarsegrain.systems import CahnHilliard
    from coarsegrain.systems.energy import quartic
    from coarsegrain.systems.steppers import make_stepper

    model = CahnHilliard(Grid((16, 16), 1.0), quartic())
    with pytest.raises(ValueError, match="'spectral' takes no option reference"):
        make_stepper(model, "spectral", 0.05, reference=0.0)
    with pytest.raises(ValueError, match="'etd4' takes no option rtol"):
        make_stepper(model, "etd4", 0.05, rtol=1e-3)


def test_resuming_an_exponential_dataset_from_before_the_reference_is_refused(tmp_path, capsys):
    """Such a file was computed about 0 (the old behaviour); the default now splits about the
    mean, other numbers: a resume would mix two discretizations in one dataset."""
    import copy

    from coarsegrain.cli import main

    spec = data.get_preset("kiyani-cahn-hilliard", n_traj=2, grid=[16], t_end=0.2, save_every=10, method="etd2")
    meta = copy.deepcopy(spec.metadata())
    del meta["stepper"]["reference"]  # what an older coarsegrain stored
    out = tmp_path / "ch.h5"
    data.DatasetWriter(out, system=spec.model.name, grid_shape=spec.grid.shape, spacing=spec.grid.spacing,
                       boundary=spec.grid.boundary, parameters=meta, dt_save=spec.save_every * spec.dt,
                       time=np.arange(spec.n_frames) * spec.save_every * spec.dt, seeds=[0, 1]).close()
    args = ["simulate", "kiyani-cahn-hilliard", "--n-traj", "2", "--grid", "16", "--t-end", "0.2",
            "--save-every", "10", "--method", "etd2", "--out", str(out), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "stepper.reference 0.0 (not stored: an older coarsegrain's) -> 'auto'" in err[0]
    assert "cannot be resumed" in err[0] and "--overwrite" in err[0]
    assert data.dataset.partial_path(out).exists()  # left for the user to decide
    assert main(args + ["--overwrite"]) == 0 and data.read_info(out).parameters["stepper"]["reference"] == "auto"
