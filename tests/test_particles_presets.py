"""The patel-* particle presets: paper sizes, overrides, the HDF5 datasets they write (metadata,
normalization, determinism) and `coarsegrain simulate` on them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coarsegrain import cli
from coarsegrain.data import get_preset, load, read_info, simulate
from coarsegrain.particles import DENSITY_NORMALIZATION, ParticleSpec
from test_particles import binning, one_thread  # noqa: F401  -- fixtures


def test_paper_sizes_with_full():
    b = get_preset("patel-brownian-1d", full=True)
    assert isinstance(b, ParticleSpec)
    assert (b.bins, b.n_particles, b.dt, b.n_steps, b.n_traj, b.save_every) == ((256,), 51_200, 1e-3, 1000, 100, 1)
    assert b.process.alpha == 2.0 and b.process.ndim == 1 and b.process.box == 2 * math.pi
    assert b.initial["kappa_range"] == [5.0, 10.0] and b.initial["n_components"] == 5
    lv = get_preset("patel-levy-2d", full=True)
    assert (lv.bins, lv.n_particles, lv.dt, lv.n_steps, lv.n_traj) == ((64, 64), 819_200, 1e-3, 1000, 100)
    assert lv.process.alpha == 1.5 and lv.process.isotropic and lv.initial["kappa_range"] == [1.0, 10.0]
    small = get_preset("patel-levy-2d")
    assert small.n_traj * small.n_particles * small.n_steps < 1e7  # seconds, not hours
    assert get_preset("patel-levy-2d", anisotropy=0.5).initial["anisotropy"] == 0.5


@pytest.mark.parametrize("kwargs,match", [
    (dict(dt=-1.0), "patel-brownian-1d: dt must be a positive finite number"),
    (dict(dt=float("nan")), "dt must be a positive finite number"),
    (dict(t_end=0.0105), "t_end"),
    (dict(method="etd1"), "method"),
    (dict(grid=[16, 16]), "--grid needs 1 or 1 sizes"),
    (dict(anisotropy=0.5), "anisotropy"),  # 1D: no x-axis to scale
    (dict(n_particles=0), "n_particles"),
])
def test_bad_overrides(kwargs, match):
    with pytest.raises(ValueError, match=match):
        get_preset("patel-brownian-1d", **kwargs)


def test_phase_field_presets_check_dt_with_the_steppers_function():
    with pytest.raises(ValueError, match="kiyani-cahn-hilliard: dt must be a positive finite number, got -0.01"):
        get_preset("kiyani-cahn-hilliard", dt=-0.01)
    with pytest.raises(ValueError, match="n_particles applies to the particle presets"):
        get_preset("kiyani-cahn-hilliard", n_particles=10)


def test_dataset_layout_metadata_and_normalization(tmp_path, binning):  # noqa: F811
    spec = get_preset("patel-brownian-1d", n_traj=2, n_particles=3000, t_end=0.01, save_every=2, dtype="float64")
    path = simulate(spec, tmp_path / "b.h5", progress=False)
    info = read_info(path)
    assert info.system == "levy-flight" and info.grid_shape == (256,) and not info.has_rhs
    assert info.spacing[0] == pytest.approx(2 * math.pi / 256) and info.dt_save == pytest.approx(2e-3)
    p = info.parameters
    assert p["n_particles"] == 3000 and p["density_normalization"] == DENSITY_NORMALIZATION
    assert p["process"]["alpha"] == 2.0 and p["process"]["equation"] == "u_t = Laplacian(u)"
    assert p["dt"] == 1e-3 and p["initial"]["n_components"] == 5
    data = load(path)
    assert data["fields"].shape == (2, 6, 1, 256)
    np.testing.assert_allclose(data["fields"].mean(axis=(2, 3)), 1.0, rtol=1e-13)
    np.testing.assert_allclose(data["time"], np.arange(6) * 2e-3)
    kappa = data["trajectory_parameters"]["kappa"]
    assert kappa.shape == (2, 1, 5) and (kappa >= 5).all() and (kappa <= 10).all()
    # The initial frame follows the trajectory's own mixture (crude: mass where the density is).
    assert not np.array_equal(data["fields"][0, 0], data["fields"][1, 0])
    # Deterministic: the same spec gives the same bits.
    again = load(simulate(spec, tmp_path / "b2.h5", progress=False))
    np.testing.assert_array_equal(again["fields"], data["fields"])
    # chunk_size is not part of the result, so not of the metadata (a run can resume with another).
    other = simulate(spec.replace(chunk_size=1024, rng_block=1024), tmp_path / "b3.h5", progress=False)
    assert read_info(other).parameters["rng_block"] == 1024


def test_2d_dataset_with_anisotropy(tmp_path, binning):  # noqa: F811
    spec = get_preset("patel-levy-2d", n_traj=1, n_particles=4096, t_end=0.002, grid=[16], anisotropy=1.0)
    data = load(simulate(spec, tmp_path / "l.h5", progress=False))
    assert data["fields"].shape == (1, 3, 1, 16, 16) and data["fields"].dtype == np.float32
    assert np.all(data["trajectory_parameters"]["kappa"][0, 1] == 0)  # beta = 1: x (last axis) uniform
    u0 = data["fields"][0, 0, 0].astype(np.float64)
    # Uniform in x: the x-profile (mean over y) is flat within counting noise; the y-profile is not.
    x_profile, y_profile = u0.mean(axis=0), u0.mean(axis=1)
    counts_per_column = 4096 / 16
    z = (x_profile - 1) * math.sqrt(counts_per_column)
    assert np.all(np.abs(z) < 4.5) and y_profile.std() > 0.2


def test_cli_simulate_particle_preset(tmp_path, monkeypatch, capsys, binning):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["simulate", "patel-levy-2d", "--grid", "8", "--n-traj", "1", "--t-end", "0.002", "--no-progress",
                   "--threads", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "euler-maruyama dt = 0.001" in out and (tmp_path / "patel-levy-2d.h5").exists()
    assert read_info(tmp_path / "patel-levy-2d.h5").grid_shape == (8, 8)
    rc = cli.main(["simulate", "--list"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "patel-brownian-1d" in out and "patel-levy-2d" in out
    try:
        rc = cli.main(["simulate", "patel-brownian-1d", "--method", "etd1", "--no-progress"])
    except SystemExit as e:
        rc = e.code
    _, err = capsys.readouterr()
    assert rc == 2 and "method applies to the phase-field presets only" in err and len(err.strip().splitlines()) == 1
