"""build_info(), the `coarsegrain` command, and the demo's physics checks."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest
import torch

import coarsegrain
from coarsegrain import cli, demo

STENCIL_OPS = {"laplacian", "gradient", "gradient_adjoint", "divergence", "divergence_adjoint"}


def test_build_info_is_consistent_with_this_process():
    info = coarsegrain.build_info()
    assert info["coarsegrain"] == coarsegrain.__version__
    assert info["torch"] == torch.__version__
    assert info["torch_cuda"] == torch.version.cuda
    assert info["float_types"] == ["float32", "float64"]
    assert info["kernel_threads"] == torch.get_num_threads() >= 1
    # Every op (and each stencil op's _into twin) is registered with the dispatcher.
    assert set(info["ops"]) == (STENCIL_OPS | {f"{op}_into" for op in STENCIL_OPS}
                                | {"cahn_hilliard_explicit", "allen_cahn_explicit", "polynomial",
                                   "spectral_combine", "real_fft_pack", "weno5_flux", "weno5_reconstruct",
                                   "restrict_average",
                                   "stencil_filter", "stencil_filter_backward"})
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


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("readelf") is None, reason="needs Linux and readelf")
@pytest.mark.parametrize("module", ["_core", "_C"])
def test_extensions_share_the_libstdcxx_runtime(module):
    """A statically linked libstdc++ (GCC's fallback when libstdc++.so is missing) keeps its
    own locale state inside the extension and crashed formatting error messages."""
    path = importlib.util.find_spec(f"coarsegrain.{module}").origin
    dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    assert "libstdc++.so" in dynamic, f"{path} does not load libstdc++.so dynamically"
