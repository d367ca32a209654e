"""HDF5 datasets: round trip, exact right-hand sides, resumption, atomicity, errors, plots."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from coarsegrain import cli
from coarsegrain.data import DatasetError, get_preset, load, read_info, simulate
from coarsegrain.data import dataset as dataset_module
from coarsegrain.data.generate import initial_condition
from coarsegrain.systems import make_stepper


def small_spec(name="kiyani-cahn-hilliard", **kw):
    defaults = {"kiyani-cahn-hilliard": dict(n_traj=3, grid=[16], t_end=0.4, save_every=10),
                "lanzoni-ch3d": dict(n_traj=3, grid=[8], t_end=1.0, save_every=200),
                "kiyani-pfc": dict(n_traj=2, grid=[16], t_end=1.0, save_every=5),
                "kiyani-allen-cahn": dict(n_traj=2, grid=[16], t_end=1.0, save_every=2)}[name]
    return get_preset(name, **{**defaults, **kw})


@pytest.mark.parametrize("name", ["kiyani-cahn-hilliard", "kiyani-allen-cahn", "kiyani-pfc", "lanzoni-ch3d"])
def test_round_trip_matches_a_direct_simulation(tmp_path, name):
    spec = small_spec(name, dtype="float64")
    path = simulate(spec, tmp_path / "d.h5", progress=False)
    data = load(path)
    info = data["info"]
    assert info.complete and info.grid_shape == spec.grid.shape and info.n_time == spec.n_frames
    assert info.parameters["preset"] == name and info.system == spec.model.name
    np.testing.assert_allclose(data["time"], np.arange(spec.n_frames) * spec.save_every * spec.dt)
    # Trajectory 1 again, by hand.
    draws = {k: v[1] for k, v in data["trajectory_parameters"].items()}
    stepper = make_stepper(spec.model, spec.method, spec.dt)
    u = initial_condition(spec, 1, torch.float64, "cpu")
    u = stepper.advance(u, spec.save_every * int(draws["warmup_frames"])) if draws["warmup_frames"] else u
    for k in range(spec.n_frames):
        if k:
            u = stepper.advance(u, spec.save_every)
        np.testing.assert_allclose(data["fields"][1, k, 0], u[0].numpy(), rtol=1e-10, atol=1e-12)
        rhs = spec.model.rhs(u, stepper.discretization)[0].numpy()
        np.testing.assert_allclose(data["rhs"][1, k, 0], rhs, rtol=1e-8, atol=1e-10)


def test_rhs_is_the_time_derivative_of_the_frames(tmp_path):
    # Explicit Euler, one step between frames: (f[k+1] - f[k]) / dt is exactly rhs[k].
    spec = small_spec("lanzoni-ch3d", dtype="float64", save_every=1, t_end=0.02)
    data = load(simulate(spec, tmp_path / "explicit.h5", progress=False))
    f, r = data["fields"][0, :, 0], data["rhs"][0, :, 0]
    np.testing.assert_allclose((f[1:] - f[:-1]) / spec.dt, r[:-1], rtol=1e-6, atol=1e-9 * np.abs(r).max())
    # Semi-implicit spectral on a smooth (coarsened) field: a centred difference matches.
    spec = small_spec("kiyani-cahn-hilliard", dtype="float64", save_every=1, t_end=3.0)
    data = load(simulate(spec, tmp_path / "spectral.h5", progress=False))
    f, r = data["fields"][0, -5:, 0], data["rhs"][0, -5:, 0]
    centred = (f[2:] - f[:-2]) / (2 * spec.dt)
    assert np.abs(centred - r[1:-1]).max() < 0.02 * np.abs(r[1:-1]).max()


def test_interrupted_run_resumes_only_missing_trajectories(tmp_path, monkeypatch):
    spec = small_spec("kiyani-cahn-hilliard")
    path = tmp_path / "ens.h5"
    full = load(simulate(spec, tmp_path / "uninterrupted.h5", progress=False))

    real_write = dataset_module.DatasetWriter.write
    written = []

    def write_then_die(self, index, fields, rhs=None):
        real_write(self, index, fields, rhs)
        written.append(index)
        if len(written) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(dataset_module.DatasetWriter, "write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        simulate(spec, path, progress=False)
    assert not path.exists() and dataset_module.partial_path(path).exists()
    with pytest.raises(FileNotFoundError, match=r"exists: an interrupted run"):
        read_info(path)

    def counting_write(self, index, fields, rhs=None):
        written.append(index)
        real_write(self, index, fields, rhs)

    monkeypatch.setattr(dataset_module.DatasetWriter, "write", counting_write)
    simulate(spec, path, progress=False)
    assert sorted(written[1:]) == [i for i in range(spec.n_traj) if i != written[0]]
    assert path.exists() and not dataset_module.partial_path(path).exists()
    resumed = load(path)
    np.testing.assert_allclose(resumed["fields"], full["fields"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(resumed["rhs"], full["rhs"], rtol=1e-5, atol=1e-6)


def test_existing_partial_with_other_parameters_is_refused(tmp_path, monkeypatch):
    spec = small_spec("kiyani-cahn-hilliard")
    path = tmp_path / "ens.h5"

    def die(self, index, fields, rhs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_module.DatasetWriter, "write", die)
    with pytest.raises(KeyboardInterrupt):
        simulate(spec, path, progress=False)
    monkeypatch.undo()
    with pytest.raises(DatasetError, match=r"started with other parameters"):
        simulate(spec.replace(seed=99), path, progress=False)
    simulate(spec.replace(seed=99), path, progress=False, overwrite=True)
    assert read_info(path).complete


def _writer(path, **changes):
    kw = dict(system="heat", grid_shape=(4,), spacing=[0.5], boundary="periodic",
              parameters={"t_end": 1.0, "stepper": {"dt": 0.1, "stepper": "etd1"}, "seed": 0},
              dt_save=0.5, time=[0.0, 0.5], seeds=[0, 1, 2], dtype="float32", with_rhs=True)
    return dataset_module.DatasetWriter(path, **{**kw, **changes})


def test_resume_with_other_parameters_names_each_difference(tmp_path):
    path = tmp_path / "w.h5"
    w = _writer(path)
    w.write(0, np.zeros((2, 1, 4), np.float32), np.zeros((2, 1, 4), np.float32))
    w.close()  # trajectories 1 and 2 pending: the .partial stays
    assert dataset_module.partial_path(path).exists() and not path.exists()
    with _writer(path) as same:  # the same arguments resume
        assert same.pending == [1, 2]
    params = {"t_end": 2.0, "stepper": {"dt": 0.05, "stepper": "etd1"}, "seed": 0, "mean": 0.1}
    with pytest.raises(DatasetError) as e:
        _writer(path, parameters=params, time=[0.0, 0.5, 1.0], seeds=[5, 6, 7], dtype="float64",
                with_rhs=False)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{dataset_module.partial_path(path)} was started with other parameters: ")
    for part in ("t_end 1.0 -> 2.0", "stepper.dt 0.1 -> 0.05", "mean '(unset)' -> 0.1",
                 "fields shape (3, 2, 1, 4) -> (3, 3, 1, 4)", "dtype float32 -> float64",
                 "seeds [0, 1, 2] -> [5, 6, 7]", "with_rhs True -> False"):
        assert part in message, (part, message)
    assert "seed 0" not in message and "stepper.stepper" not in message  # equal values are not named
    assert message.endswith("(file -> now); delete it or pass overwrite=True")
    # a key the file has and the new parameters lack is named too
    with pytest.raises(DatasetError, match=r"started with other parameters: seed 0 -> '\(unset\)' \(file -> now\)"):
        _writer(path, parameters={"t_end": 1.0, "stepper": {"dt": 0.1, "stepper": "etd1"}})
    # only one difference: only it is named
    with pytest.raises(DatasetError, match=r"other parameters: seeds \[0, 1, 2\] -> \[0, 1, 3\] \(file -> now\)"):
        _writer(path, seeds=[0, 1, 3])


def test_parameter_differences_of_nested_dicts():
    old = {"a": 1, "b": {"c": 2, "d": [1, 2]}, "gone": True}
    new = {"a": 1, "b": {"c": 3, "d": [1, 2], "e": "x"}}
    assert dataset_module.parameter_differences(old, new) == [
        ("b.c", 2, 3), ("b.e", "(unset)", "x"), ("gone", True, "(unset)")]
    assert dataset_module.parameter_differences(new, new) == []


def test_existing_file_needs_overwrite(tmp_path):
    spec = small_spec("kiyani-cahn-hilliard", n_traj=1)
    path = simulate(spec, tmp_path / "d.h5", progress=False)
    with pytest.raises(FileExistsError, match=r"exists; pass overwrite=True"):
        simulate(spec, path, progress=False)


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DatasetError, match=r"cannot be read as HDF5"):
        read_info(junk)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(DatasetError, match=r"is not a coarsegrain dataset"):
        load(foreign)
    spec = small_spec("kiyani-cahn-hilliard", n_traj=1)
    path = simulate(spec, tmp_path / "d.h5", progress=False)
    with h5py.File(path, "r+") as f:
        del f["time"]
    with pytest.raises(DatasetError, match=r"missing the /time dataset"):
        load(path)


def test_unknown_preset_and_bad_overrides():
    with pytest.raises(ValueError, match=r"unknown preset 'nope'; choose one of: kiyani-allen-cahn"):
        get_preset("nope")
    with pytest.raises(ValueError, match=r"--grid needs 1 or 3 sizes"):
        get_preset("lanzoni-ch3d", grid=[8, 8])
    with pytest.raises(ValueError, match=r"n_traj must be >= 1"):
        get_preset("kiyani-pfc", n_traj=0)


def test_unstable_preset_override_is_refused():
    spec = small_spec("lanzoni-ch3d")
    with pytest.raises(ValueError, match=r"beyond the stability limit"):
        make_stepper(spec.model, spec.method, 0.01)
    with pytest.raises(ValueError, match=r"beyond the stability limit"):
        small_spec("lanzoni-ch3d", dt=0.01, save_every=10)
    with pytest.raises(ValueError, match=r"unknown stepper 'rk45'"):
        small_spec("kiyani-pfc", method="rk45")
    with pytest.raises(ValueError, match=r"rtol applies to method 'etd4-adaptive' only"):
        small_spec("kiyani-pfc", rtol=1e-3)


def test_preset_with_another_stepper_lands_on_the_same_frames(tmp_path):
    """The CLI's --method/--rtol/--dt: adaptive ETDRK4 lands on the preset's frames (0.1 apart)
    and matches fixed-step ETDRK4 at a tenth of the preset's dt (--dt 1e-3 --save-every 100;
    at the preset's dt 1e-2 ETDRK4 itself is off by 4e-5 on the rough initial noise), and the
    metadata says which stepper made them."""
    fixed = small_spec(method="etd4", dt=1e-3, save_every=100, dtype="float64")
    path = tmp_path / "adaptive.h5"
    assert cli.main(["simulate", "kiyani-cahn-hilliard", "--n-traj", "3", "--grid", "16", "--t-end", "0.4",
                     "--save-every", "10", "--method", "etd4-adaptive", "--rtol", "1e-7", "--dtype", "float64",
                     "--out", str(path), "--no-progress"]) == 0
    adaptive = load(path)
    reference = load(simulate(fixed, tmp_path / "fixed.h5", progress=False))
    assert adaptive["fields"].shape == reference["fields"].shape
    np.testing.assert_allclose(adaptive["time"], reference["time"])
    np.testing.assert_allclose(adaptive["fields"], reference["fields"], rtol=0, atol=1e-7)
    stepper = adaptive["info"].parameters["stepper"]
    assert stepper["stepper"] == "adaptive_exponential_spectral" and stepper["rtol"] == 1e-7


def test_simulate_and_plot_commands(tmp_path, capsys):
    out = tmp_path / "l.h5"
    assert cli.main(["simulate", "lanzoni-ch3d", "--n-traj", "2", "--grid", "8", "--t-end", "1",
                     "--save-every", "200", "--out", str(out), "--no-progress"]) == 0
    info = read_info(out)
    assert info.n_traj == 2 and info.grid_shape == (8, 8, 8) and info.n_time == 5
    assert cli.main(["plot", str(out), "--out", str(tmp_path / "png")]) == 0
    import matplotlib.image

    for name in ("l_snapshots.png", "l_free_energy.png"):
        image = matplotlib.image.imread(tmp_path / "png" / name)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0.01
    assert cli.main(["simulate", "--list"]) == 0
    assert "lanzoni-ch3d" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [-0.01, 0.0, float("nan"), float("inf"), "fast"])
def test_simulation_spec_checks_dt_with_the_steppers_function(bad):
    from coarsegrain.systems.steppers import _check_dt

    spec = small_spec()
    with pytest.raises(ValueError) as by_spec:
        spec.replace(dt=bad)
    with pytest.raises(ValueError) as by_stepper:
        _check_dt(bad)
    assert str(by_spec.value) == f"kiyani-cahn-hilliard: {by_stepper.value}"
    assert str(by_spec.value).startswith(f"kiyani-cahn-hilliard: dt must be a positive finite number, got {bad}")
