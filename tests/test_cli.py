"""The command line answers mistakes in one line: a table of bad invocations, each checked for
the one-line message naming the argument, the exit status, no traceback and nothing
half-written left behind; --debug, Ctrl-C (and that rerunning resumes), and refused resumes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from coarsegrain import cli
from coarsegrain.systems import lanzoni

TINY = ["--grid", "16", "--n-traj", "1", "--no-progress"]


def run(argv, capsys):
    """(exit status, stdout, stderr) of `coarsegrain argv`, in process."""
    try:
        rc = cli.main(argv)
    except SystemExit as e:  # argparse's errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "corrupt.h5").write_bytes(b"not hdf5")
    return tmp_path


BAD = [
    # (argv, exit status, what the line must contain)
    (["simulate", "kiyani-cahn-hilliard", "--dt", "-0.01", *TINY], 2, "--dt"),
    (["simulate", "lanzoni-ch3d", "--dt", "0.1", *TINY], 2, "--dt = 0.1 is beyond the stability limit"),
    (["simulate", "kiyani-cahn-hilliard", "--method", "explicit", "--dt", "0.1", *TINY], 2, "stability limit 0.03125"),
    (["simulate", "kiyani-cahn-hilliard", "--t-end", "1.05", *TINY], 2, "--t-end: 1 or 1.2"),
    (["simulate", "kiyani-cahn-hilliard", "--t-end", "0", *TINY], 2, "--t-end"),
    (["simulate", "kiyani-cahn-hilliard", "--n-traj", "0", "--grid", "16"], 2, "--n-traj"),
    (["simulate", "kiyani-cahn-hilliard", "--save-every", "0", *TINY], 2, "--save-every"),
    (["simulate", "kiyani-cahn-hilliard", "--grid", "16", "16", "16", "--n-traj", "1"], 2, "--grid"),
    (["simulate", "kiyani-cahn-hilliard", "--rtol", "1e-3", *TINY], 2, "--rtol"),
    (["simulate", "kiyani-cahn-hilliard", "--device", "gpu", *TINY], 2, "argument --device: expected cpu or cuda"),
    (["simulate", "kiyani-cahn-hilliard", "--out", "missing/x.h5", *TINY], 2, "argument --out"),
    (["simulate", "kiyani-cahn-hilliard", "--out", "/no-such-dir-coarsegrain/x.h5", *TINY], 2, "argument --out"),
    (["simulate", "kiyani-cahn-hilliard", "--out", ".", *TINY], 2, "argument --out"),
    (["simulate", "no-such-preset"], 2, "argument preset"),
    (["simulate"], 2, "give a preset"),
    (["simulate", "kiyani-cahn-hilliard", "--n-particles", "100", *TINY], 2,
     "argument --n-particles: applies to patel-brownian-1d, patel-levy-2d only, not kiyani-cahn-hilliard"),
    (["simulate", "kiyani-cahn-hilliard", "--anisotropy", "0.5", *TINY], 2,
     "argument --anisotropy: applies to patel-levy-2d only, not kiyani-cahn-hilliard"),
    (["simulate", "patel-brownian-1d", "--anisotropy", "0.5", *TINY], 2,
     "argument --anisotropy: applies to patel-levy-2d only, not patel-brownian-1d"),
    (["simulate", "patel-levy-2d", "--anisotropy", "1.5", *TINY], 2, "argument --anisotropy: expected a number in [0, 1]"),
    (["simulate", "patel-levy-2d", "--anisotropy", "nan", *TINY], 2, "argument --anisotropy: expected a number in [0, 1]"),
    (["simulate", "patel-brownian-1d", "--n-particles", "0", *TINY], 2, "argument --n-particles: expected a whole number >= 1"),
    (["rollout", "ch3d-crnn", "--save-every", "0", "--grid", "8"], 2, "argument --save-every"),
    (["rollout", "ch3d-crnn", "--chunk", "0", "--grid", "8"], 2, "argument --chunk"),
    (["rollout", "ch3d-crnn", "--steps", "-5", "--grid", "8"], 2, "argument --steps"),
    (["rollout", "ch3d-crnn", "--grid", "8", "8"], 2, "--grid"),
    (["rollout", "ch3d-crnn", "--grid", "8", "--out", "missing/r.h5"], 2, "argument --out"),
    (["rollout", "ch3d-crnn", "--device", "gpu"], 2, "argument --device"),
    (["rollout", "missing.pt"], 2, "argument model"),
    (["rollout"], 2, "give a model"),
    (["rollout", "corrupt.pt", "--grid", "8"], 1, "corrupt.pt cannot be read as a checkpoint"),
    (["plot", "missing.h5"], 1, "missing.h5"),
    (["plot", "corrupt.h5"], 1, "corrupt.h5"),
    (["reproduce", "no-such-paper"], 2, "argument paper"),
    (["reproduce", "kiyani2022", "--systems", "foo"], 2, "--systems"),
    (["reproduce", "kiyani2022", "--out", "missing/run"], 2, "argument --out"),
    (["reproduce", "lanzoni2024", "--long-tau", "201"], 2, "--long-tau"),
    (["reproduce", "lanzoni2024", "--lr", "0"], 2, "argument --lr"),
    (["demo", "--grid", "0"], 2, "argument --grid"),
    (["demo", "--epochs", "x"], 2, "argument --epochs"),
    (["demo", "--out", "missing/demo"], 2, "argument --out"),
]


@pytest.mark.parametrize("argv, status, expected", BAD, ids=[" ".join(b[0][:4]) for b in BAD])
def test_a_mistake_gets_one_line(workdir, capsys, argv, status, expected):
    before = sorted(p.name for p in workdir.iterdir())
    rc, out, err = run(argv, capsys)
    assert rc == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"coarsegrain {argv[0]}: error: "), err
    assert expected in lines[0]
    assert "Traceback" not in err + out
    assert sorted(p.name for p in workdir.iterdir()) == before  # nothing created, half or whole


def test_cuda_without_cuda_is_one_line(workdir, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    rc, _, err = run(["simulate", "kiyani-cahn-hilliard", "--device", "cuda", *TINY], capsys)
    assert rc == 2 and err.count("\n") == 1 and "argument --device: 'cuda': CUDA is not available" in err


def test_debug_shows_the_traceback(workdir, capsys):
    argv = ["simulate", "kiyani-cahn-hilliard", "--t-end", "1.05", *TINY]
    for debug in (["--debug", *argv], [*argv, "--debug"]):
        rc, _, err = run(debug, capsys)
        assert rc == 2 and "Traceback" in err
        assert err.strip().splitlines()[-1].startswith("coarsegrain simulate: error: ")


def test_existing_output_and_refused_resume_name_the_flag(workdir, capsys):
    argv = ["simulate", "kiyani-cahn-hilliard", "--t-end", "0.4", *TINY, "--out", "ch.h5"]
    assert run(argv, capsys)[0] == 0
    rc, _, err = run(argv, capsys)
    assert rc == 2 and err.count("\n") == 1 and "add --overwrite" in err
    # An interrupted run with other parameters: the message lists what differs, as flags.
    shutil.copy(workdir / "ch.h5", workdir / "other.h5.partial")
    rc, _, err = run(["simulate", "kiyani-cahn-hilliard", "--t-end", "0.6", "--grid", "24", "--n-traj", "1",
                      "--no-progress", "--out", "other.h5"], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert "--grid [16, 16] -> [24, 24]" in err and "--t-end 0.4 -> 0.6" in err and "--overwrite" in err
    assert "overwrite=True" not in err
    assert (workdir / "other.h5.partial").exists() and not (workdir / "other.h5").exists()


def test_a_blow_up_says_so_and_leaves_nothing(workdir, capsys):
    rc, _, err = run(["simulate", "kiyani-cahn-hilliard", "--method", "etd1", "--dt", "20", "--save-every", "1",
                      "--t-end", "100", *TINY, "--out", "blow.h5"], capsys)
    assert rc == 1 and err.count("\n") == 1 and "reduce dt" in err
    assert sorted(p.name for p in workdir.iterdir()) == ["corrupt.h5", "corrupt.pt"]


def test_ctrl_c_says_how_to_resume_and_rerunning_resumes(workdir, capsys, monkeypatch):
    from coarsegrain.data import generate, load

    real = generate._run_batch
    calls = []

    def interrupted_on_the_second_batch(spec, batch, *args, **kwargs):
        calls.append(list(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(spec, batch, *args, **kwargs)

    monkeypatch.setattr(generate, "_batch_size", lambda spec: 1)  # one trajectory per batch
    monkeypatch.setattr(generate, "_run_batch", interrupted_on_the_second_batch)
    argv = ["simulate", "kiyani-cahn-hilliard", "--grid", "16", "--n-traj", "3", "--t-end", "0.4",
            "--no-progress", "--out", "ch.h5"]
    rc, _, err = run(argv, capsys)
    assert rc == 130
    assert "interrupted; finished trajectories are kept in ch.h5.partial; run the same command again" in err
    assert "Traceback" not in err and (workdir / "ch.h5.partial").exists()
    rc, _, err = run(argv, capsys)
    assert rc == 0, err
    assert calls == [[0], [1], [1], [2]]  # the rerun did only what was missing
    monkeypatch.setattr(generate, "_run_batch", real)
    whole = workdir / "whole.h5"
    assert run([*argv[:-1], str(whole)], capsys)[0] == 0
    assert (load(workdir / "ch.h5")["fields"] == load(whole)["fields"]).all()


@pytest.mark.slow  # a subprocess simulating until the signal lands (~10 s)
def test_a_real_sigint_exits_130_with_the_resume_hint(tmp_path):
    # SIGINT may be ignored by whatever started the tests; the child restores Python's handler.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from coarsegrain.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, "simulate", "lanzoni-ch3d", "--grid", "48", "--n-traj", "2",
                             "--t-end", "25", "--no-progress", "--out", "long.h5"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "long.h5.partial").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("coarsegrain simulate: interrupted; finished trajectories are kept in "
                                            "long.h5.partial; run the same command again to resume")
    assert "Traceback" not in err and (tmp_path / "long.h5.partial").exists()


@pytest.mark.parametrize("epsilon", [0, 0.0, -3, float("nan"), float("inf"), "3"])
def test_lanzoni_energy_refuses_a_bad_width(epsilon):
    with pytest.raises(ValueError, match="epsilon .* must be a positive finite number"):
        lanzoni(epsilon)
    assert lanzoni(3).coeffs == (0.0, 0.0, 6.0, -12.0, 6.0)


def test_reproduce_has_a_subcommand_per_paper_with_only_its_flags(workdir, capsys):
    rc, out, err = run(["reproduce", "lanzoni2024", "--help"], capsys)
    assert rc == 0 and not err
    assert "--seq-len" in out and "--long-tau" in out and "--out" in out and "--debug" in out
    assert "--rollout-method" not in out and "--n-test" not in out
    assert "24 trajectories on 64^3" in out  # what it runs, at what default size
    rc, out, _ = run(["reproduce", "--help"], capsys)
    assert rc == 0 and all(p in out for p in ("kiyani2022", "lanzoni2024", "barsinai2019"))
    for argv, expected in [(["reproduce", "kiyani2022", "--seq-len", "3"], "unrecognized arguments: --seq-len 3"),
                           (["reproduce", "barsinai2019", "--rollout-method", "BDF"], "--rollout-method"),
                           (["reproduce", "barsinai2019", "--device", "cuda"], "argument --device"),
                           (["reproduce", "no-such-paper", "--full"], "argument paper: invalid choice"),
                           (["reproduce"], "paper")]:
        rc, out, err = run(argv, capsys)
        assert rc == 2, err
        assert err.count("\n") == 1 and err.startswith("coarsegrain reproduce: error: "), err
        assert expected in err and "Traceback" not in err + out
    # --debug and --threads after the paper's name as before it
    for argv in (["reproduce", "kiyani2022", "--debug", "--threads", "1"],
                 ["--debug", "--threads", "1", "reproduce", "kiyani2022"]):
        args = cli.build_parser().parse_args(argv)
        assert (args.paper, args.debug, args.threads) == ("kiyani2022", True, 1)


def test_simulate_particle_options(workdir, capsys):
    """--n-particles and --anisotropy reach the particle presets (patel2021 §5.2.3): the dataset's
    metadata holds them, the density has mean 1 whatever N, and beta = 1 makes the initial
    mixtures uniform in x (kappa 0 on the last axis, a flat x-profile within counting noise)."""
    import math

    import numpy as np

    from coarsegrain.data import load, read_info

    n = 4096
    rc, out, err = run(["simulate", "patel-levy-2d", "--grid", "16", "--n-traj", "2", "--t-end", "0.002",
                        "--n-particles", str(n), "--anisotropy", "1", "--no-progress", "--threads", "1",
                        "--out", "levy.h5"], capsys)
    assert rc == 0, err
    info = read_info(workdir / "levy.h5")
    assert info.parameters["n_particles"] == n and info.parameters["initial"]["anisotropy"] == 1.0
    data = load(workdir / "levy.h5")
    np.testing.assert_allclose(data["fields"].astype(np.float64).mean(axis=(-2, -1)), 1.0, rtol=1e-6)
    kappa = data["trajectory_parameters"]["kappa"]  # [traj, axis, component]
    assert np.all(kappa[:, 1] == 0) and np.all(kappa[:, 0] >= 1)
    u0 = data["fields"][:, 0, 0].astype(np.float64)  # [traj, y, x]
    z = (u0.mean(axis=1) - 1) * math.sqrt(n / 16)  # x-profile: Poisson counts per column
    assert np.all(np.abs(z) < 4.5) and u0.mean(axis=2).std() > 0.2
    # the 1D preset takes --n-particles
    rc, _, err = run(["simulate", "patel-brownian-1d", "--grid", "32", "--n-traj", "1", "--t-end", "0.002",
                      "--n-particles", "1000", "--no-progress", "--out", "b.h5"], capsys)
    assert rc == 0, err
    assert read_info(workdir / "b.h5").parameters["n_particles"] == 1000
    # with --full the flag still wins over the paper's 51,200 (and --n-traj, --t-end over 100 x 1000 steps)
    rc, out, err = run(["simulate", "patel-brownian-1d", "--full", "--n-particles", "1000", "--grid", "32",
                        "--n-traj", "1", "--t-end", "0.002", "--no-progress", "--out", "full.h5"], capsys)
    assert rc == 0, err
    assert "1 trajectories x 3 frames" in out
    assert read_info(workdir / "full.h5").parameters["n_particles"] == 1000


def test_simulate_help_names_the_presets_of_the_particle_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping (argparse breaks lines at hyphens)
    with pytest.raises(SystemExit):
        cli.main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # the options' own lines, after the usage block that names them too
    n_part = text[text.rindex("--n-particles N"):text.rindex("--anisotropy BETA")]
    aniso = text[text.rindex("--anisotropy BETA"):text.rindex("--overwrite replace")]
    assert "patel-brownian-1d, patel-levy-2d" in n_part
    assert "patel-levy-2d" in aniso and "patel-brownian-1d" not in aniso and "kiyani" not in aniso + n_part
