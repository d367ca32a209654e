"""build_info(), the `coarsegrain` command, and the demo's physics checks."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import coarsegrain
from coarsegrain import cli, demo

STENCIL_OPS = {"laplacian", "gradient", "gradient_adjoint", "divergence", "divergence_adjoint"}


def test_build_info_is_consistent_with_this_process():
    info = coarsegrain.build_info()
    # The version compiled into the extension (which coarsegrain.__version__ also reads) is the one
    # pyproject.toml declares and the installed distribution reports.
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', pyproject, re.M)[1]
    assert info["coarsegrain"] == declared == importlib.metadata.version("coarsegrain") == coarsegrain.__version__
    assert info["torch"] == torch.__version__
    assert info["torch_built_against"] == torch.__version__  # the extension's ABI is this torch's
    assert info["torch_cuda"] == torch.version.cuda
    assert info["float_types"] == ["float32", "float64"]
    assert info["kernel_threads"] == torch.get_num_threads() >= 1
    # Every op (and each stencil op's _into twin) is registered with the dispatcher.
    assert set(info["ops"]) == (STENCIL_OPS | {f"{op}_into" for op in STENCIL_OPS}
                                | {"cahn_hilliard_explicit", "allen_cahn_explicit", "polynomial",
                                   "spectral_combine", "real_fft_pack", "weno5_flux", "weno5_reconstruct",
                                   "restrict_average",
                                   "stencil_filter", "stencil_filter_backward", "bin_particles",
                                   "bin_particles_backward", "take_along_last", "take_along_last_backward",
                                   "tridiagonal_solve", "heterogeneous_diffusion_step", "lattice_diffusion_rate",
                                   "pointwise_mlp", "pointwise_mlp_backward"})
    assert info["cpu_kernels_active"] in info["cpu_kernels_compiled"]
    # CUDA operators need compiled kernels, a CUDA torch and at least one architecture.
    if info["cuda_ops_compiled"]:
        assert info["cuda_kernels_compiled"] and info["torch_cuda"] and info["cuda_architectures"]
    else:
        assert not info["cuda_available"] and info["cuda_devices"] == []
    if info["cuda_kernels_compiled"]:
        assert info["nvcc"].startswith("nvcc ")


def test_info_command_prints_build_info(capsys):
    assert cli.main(["info", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads(json.dumps(coarsegrain.build_info()))
    # The command governs torch's threads while it runs (--threads auto): fewer on a busy machine.
    assert 1 <= printed.pop("kernel_threads") <= expected.pop("kernel_threads")
    assert printed.pop("threads_policy").startswith("auto: up to")
    assert printed == expected
    assert cli.main(["info"]) == 0
    table = capsys.readouterr().out
    assert "torch" in table and torch.__version__ in table


def test_demo_cahn_hilliard_conserves_mass_and_dissipates_energy():
    result = demo.cahn_hilliard_conservation(n=24, steps=200)
    assert result["mean_field_drift"] < 1e-14
    assert result["free_energy_non_increasing"]
    assert result["free_energy_end"] < result["free_energy_start"]


def test_demo_cahn_hilliard_matches_an_independent_numpy_explicit_euler():
    """The demo runs the library's stepper and free energy; here the same run in NumPy (np.roll
    Laplacian, f = (u^2 - 1)^2 / 4, forward-difference gradient energy)."""
    import numpy as np

    n, steps, dt = 16, 200, 0.01
    result = demo.cahn_hilliard_conservation(n=n, steps=steps)
    u = (0.1 * torch.randn(n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)).numpy()

    def lap(v):
        return sum(np.roll(v, s, a) for a in (0, 1) for s in (1, -1)) - 4 * v

    def energy(v):
        grad = sum((np.roll(v, -1, a) - v) ** 2 for a in (0, 1))
        return float((0.25 * (v**2 - 1) ** 2 + 0.5 * grad).sum())

    start = energy(u)
    for _ in range(steps):
        u = u + dt * lap(u**3 - u - lap(u))
    assert result["dt"] == dt
    assert result["free_energy_start"] == pytest.approx(start, rel=1e-13)
    assert result["free_energy_end"] == pytest.approx(energy(u), rel=1e-10)
    assert result["free_energy_end"] < 0.95 * start


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("readelf") is None, reason="needs Linux and readelf")
@pytest.mark.parametrize("module", ["_core", "_C"])
def test_extensions_share_the_libstdcxx_runtime(module):
    """A statically linked libstdc++ (GCC's fallback when libstdc++.so is missing) keeps its
    own locale state inside the extension and crashed formatting error messages."""
    path = importlib.util.find_spec(f"coarsegrain.{module}").origin
    dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    assert "libstdc++.so" in dynamic, f"{path} does not load libstdc++.so dynamically"
