"""The CPU kernels' thread pool: every op gives the same bits on one thread as on several
(chunk boundaries must not change a single value), the pool honours the requested thread count,
and it survives a fork and concurrent callers."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from coarsegrain import _core, ops


@pytest.fixture
def torch_threads():
    """Restores torch's thread count after a test changes it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _field(shape, dtype=torch.float64, seed=0):
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


# Sizes above the parallel threshold (2^15 points) with odd extents, so chunks end mid-grid.
CASES = {
    "laplacian 3d": lambda: ops.laplacian(_field((2, 37, 41, 43)), [1.0, 0.7, 0.9]),
    "laplacian order 4 2d": lambda: ops.laplacian(_field((3, 181, 199)), [1.0, 0.5], order=4),
    "gradient 3d": lambda: ops.gradient(_field((37, 41, 43)), [1.0, 1.0, 1.0]),
    "divergence 2d": lambda: ops.divergence(_field((2, 181, 199)), [1.0, 0.5]),
    "ch fused 2d": lambda: ops.cahn_hilliard_explicit(
        0.1 * _field((181, 199)), [1.0, 1.0], 0.01, mobility=1.0, kappa=1.0, dfdu=[0, -1, 0, 1], steps=3),
    "ch fused 3d batch": lambda: ops.cahn_hilliard_explicit(
        0.1 * _field((3, 33, 35, 37), torch.float32), [1.0, 1.0, 1.0], 0.005, mobility=1.0, kappa=1.0,
        dfdu=[0, -1, 0, 1], steps=2),
    "ch two-pass 3d": lambda: ops.cahn_hilliard_explicit(
        0.1 * _field((33, 35, 37)), [1.0, 1.0, 1.0], 0.005, mobility=1.0, kappa=1.0,
        dfdu=[0, -1, 0, 1], steps=2, scheme="two_pass"),
    "allen-cahn 2d": lambda: ops.allen_cahn_explicit(
        0.1 * _field((181, 199)), [1.0, 1.0], 0.05, mobility=1.0, kappa=1.0, dfdu=[0, -1, 0, 1], steps=3),
    "polynomial": lambda: ops.polynomial(_field((70001,)), [0.5, -1.0, 0.25, 1.0, -0.1]),
    "spectral_combine": lambda: ops.spectral_combine(
        [torch.fft.rfft2(_field((3, 128, 254), seed=i)) for i in range(3)],
        [_field((128, 128), seed=10 + i) for i in range(3)]),
    "irfftn 3d": lambda: ops.irfftn(torch.fft.rfftn(_field((2, 40, 42, 44)), dim=(-3, -2, -1)), (40, 42, 44)),
    "weno5 godunov": lambda: ops.weno5_flux(_field((37, 1031))),
    "restrict_average": lambda: ops.restrict_average(_field((3, 120, 126)), factor=3, ndim=2),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_op_gives_the_same_bits_on_one_and_on_many_threads(case, torch_threads):
    torch.set_num_threads(1)
    serial = CASES[case]()
    torch.set_num_threads(4)  # more threads than this machine has cores: chunks interleave
    parallel = CASES[case]()
    serial = serial if isinstance(serial, tuple) else (serial,)
    parallel = parallel if isinstance(parallel, tuple) else (parallel,)
    for s, p in zip(serial, parallel):
        assert torch.equal(s, p), f"{case}: parallel result differs from serial by {(s - p).abs().max()}"


def test_pool_honours_the_requested_thread_count():
    before = _core.get_num_threads()
    try:
        _core.set_num_threads(1)
        assert _core.get_num_threads() == 1
        assert _core.threads_used_by_pool(8, 2000) == 1
        _core.set_num_threads(3)
        assert _core.get_num_threads() == 3
        # Workers join when they get a core in time; never more threads than asked for.
        assert 1 <= _core.threads_used_by_pool(12, 3000) <= 3
        _core.set_num_threads(0)  # back to the default: the CPUs this process may run on
        assert _core.get_num_threads() >= 1
    finally:
        _core.set_num_threads(before)


def test_more_threads_actually_run_when_the_machine_has_cores():
    # 24 chunks of 5 ms: 120 ms on one thread. Any second core lets a worker take a share; on a
    # one-core machine (or a fully busy one) the caller does all of it, which is also correct.
    before = _core.get_num_threads()
    try:
        _core.set_num_threads(2)
        used = max(_core.threads_used_by_pool(24, 5000) for _ in range(3))
    finally:
        _core.set_num_threads(before)
    if len(os.sched_getaffinity(0)) >= 2:
        assert used == 2



_MISCOUNT_PROBE = """
import sys
from coarsegrain import _core
threads, jobs, claim, publish = map(int, sys.argv[1:])
_core.set_num_threads(threads)
_core.set_pool_testing_delays(claim, publish)
print(*_core.pool_miscounts(jobs, 16, 0))
"""


@pytest.mark.parametrize(("threads", "jobs", "claim", "publish"),
                         [(2, 300, 50, 200), (4, 1000, 20, 100), (3, 20000, 0, 0)])
def test_back_to_back_calls_run_every_chunk_once_and_end_after_them(threads, jobs, claim, publish):
    # Calls whose chunk counts change from one to the next, with a worker's read of the job state
    # and the caller's publication of the next job held apart (the delays), so that a worker holding
    # a finished job's state meets the next job's fields: the pool used to let it claim a chunk
    # there, which ran the chunk twice, hung the caller or ended its call early (a segfault in a
    # long run). In a subprocess: a hang must fail the test, not stop the suite.
    proc = subprocess.run([sys.executable, "-c", _MISCOUNT_PROBE, str(threads), str(jobs), str(claim), str(publish)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    miscounts, calls_with_workers = map(int, proc.stdout.split())
    assert miscounts == 0, f"{miscounts} items not counted exactly once"
    if len(os.sched_getaffinity(0)) >= 2:  # else the caller may rightly do every chunk itself
        assert calls_with_workers > 0, "no call ran a chunk on a worker: the race was not exercised"


def _reference_laplacian(u):
    lap = -6 * u
    for axis in (-3, -2, -1):
        lap = lap + u.roll(1, axis) + u.roll(-1, axis)
    return lap


def _child_laplacian(u, expected, queue):
    # Only coarsegrain's kernels run in the child, compared with NumPy: torch's own OpenMP
    # parallel regions can hang in a forked child once the parent has used them (a known
    # libgomp limitation, the reason DataLoader workers run torch on one thread).
    queue.put(float(np.abs(ops.laplacian(u, [1.0, 1.0, 1.0]).numpy() - expected).max()))


def test_a_forked_child_runs_the_ops(torch_threads):
    torch.set_num_threads(2)
    u = _field((2, 64, 64, 64))
    expected = _reference_laplacian(u).numpy()
    ops.laplacian(u, [1.0, 1.0, 1.0])  # the parent's workers exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_laplacian, args=(u, expected, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0, "the forked child hung or died running an op"
    assert queue.get(timeout=5) < 1e-12


def test_concurrent_callers_get_correct_results(torch_threads):
    torch.set_num_threads(2)
    fields = [_field((2, 48, 50, 52), seed=s) for s in range(4)]
    expected = [_reference_laplacian(u) for u in fields]
    errors = [None] * len(fields)

    def work(i):
        for _ in range(20):
            errors[i] = float((ops.laplacian(fields[i], [1.0, 1.0, 1.0]) - expected[i]).abs().max())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(fields))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(e is not None and e < 1e-12 for e in errors), errors


# --- the governor for torch's own threads (coarsegrain.threads) -----------------------------

def test_busy_threads_elsewhere_counts_other_processes():
    import subprocess
    import sys
    import time

    from coarsegrain.threads import busy_threads_elsewhere

    if busy_threads_elsewhere() is None:
        pytest.skip("no /proc/loadavg here")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.5)
        # Both spinners are runnable (on a core or queued for one) at every look.
        assert busy_threads_elsewhere() >= 2
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def test_governor_sets_torch_threads_to_the_free_cores(monkeypatch, torch_threads):
    from coarsegrain import threads

    cores = len(os.sched_getaffinity(0))
    looks = []

    def busy():
        looks.append(1)
        return busy_now

    monkeypatch.setattr(threads, "busy_threads_elsewhere", busy)
    torch.set_num_threads(3)
    busy_now = 0
    threads.adapt_to_load(True, max_threads=3, interval=3600)
    assert torch.get_num_threads() == min(3, cores)
    busy_now = cores  # every core taken by others: one thread
    threads.tick()
    assert len(looks) == 1, "looked again before the interval passed"
    threads._state["next"] = 0.0  # as if the interval had passed
    threads.tick()
    assert torch.get_num_threads() == 1 and len(looks) == 2
    threads.adapt_to_load(False)  # restores the count it started from
    assert torch.get_num_threads() == 3
    threads.tick()  # off: no look, no change
    assert len(looks) == 2 and torch.get_num_threads() == 3
    with pytest.raises(ValueError, match="max_threads"):
        threads.adapt_to_load(True, max_threads=0)


def test_cli_threads_flag(torch_threads, capsys, monkeypatch):
    from coarsegrain import cli, threads

    seen = []
    monkeypatch.setattr(cli, "_cmd_info", lambda args: seen.append(
        (torch.get_num_threads(), threads._state["enabled"])) or 0)
    torch.set_num_threads(2)
    assert cli.main(["--threads", "1", "info"]) == 0
    assert cli.main(["info"]) == 0  # auto by default
    assert seen[0] == (1, False) and seen[1][1] is True
    # Run inside a Python session, main() leaves the caller's setting as it found it.
    assert torch.get_num_threads() == 2 and not threads._state["enabled"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--threads", "0", "info"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--threads" in err[0]


def test_serial_runs_one_thread_and_restores_the_count(torch_threads):
    from coarsegrain import threads

    torch.set_num_threads(2)
    with threads.serial():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with threads.serial():
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2  # restored after an error too
