#!/usr/bin/env bash
# The checks of a session on a CUDA machine, in one command (GPU time is scarce: batch it).
#
#   bench/gpu_session.sh [build] [test] [bench] [crnn] ...   (run in the order build, bench, test, crnn)
#
#   build   builds a wheel for the local GPU's architecture (or reuses .gpuwheel/*.whl when there is
#           one: the compiled modules only; the Python package always comes from this checkout)
#   test    the whole test suite with COARSEGRAIN_REQUIRE_CUDA=1 (a CUDA test that cannot run fails)
#   bench   the GPU benchmarks of the compiled ops (phase-field steps, Laplacian, WENO5 fluxes,
#           particle binning) and
#           the time to solution at matched accuracy (cuFFT steppers against exponax on JAX)
#   crnn    the CRNN rollout benchmark on the GPU
#   kiyani  coarsegrain reproduce kiyani2022 --full (the paper's grids and data) with
#           KIYANI_EPOCHS epochs per model (default 300; the paper's 2,000 / 20,000 do not fit a
#           session), at most KIYANI_TIMEOUT seconds (default 900); results in $OUT/kiyani2022
#
# Results: bench/results/*_cuda.json, and when $OUT is set (the device tool) a tarball of them,
# the logs and the wheel in $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/coarsegrain_gpu_out}
mkdir -p "$OUT"
stages=${*:-build test bench}
export PYTHONUNBUFFERED=1 CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-16}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

site=/tmp/coarsegrain_site
if [[ " $stages " == *" build "* ]]; then
  wheel=$(ls .gpuwheel/coarsegrain-*.whl 2>/dev/null | head -1)
  if [[ -z "$wheel" ]]; then
    arch=$(python3 -c "import torch; a, b = torch.cuda.get_device_capability(); print(f'{a}{b}')")
    start=$(date +%s)
    python3 -m pip wheel -q --no-build-isolation --no-deps -w /tmp/coarsegrain_wheel \
      -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$arch" -Ccmake.define.COARSEGRAIN_CUDA=ON . \
      2>&1 | tail -20 || exit 1
    echo "build: $(( $(date +%s) - start )) s for sm_$arch"
    wheel=$(ls /tmp/coarsegrain_wheel/coarsegrain-*.whl | head -1)
    cp "$wheel" "$OUT/"
  fi
  python3 -m pip install -q --no-deps --no-index --target "$site" --upgrade "$wheel" || exit 1
  cp "$site"/coarsegrain/*.so python/coarsegrain/
  readelf -d python/coarsegrain/_C*.so | grep -q "libstdc++" || echo "WARNING: _C does not load libstdc++.so"
fi
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
python3 -c "import coarsegrain, json; print(json.dumps(coarsegrain.build_info()))" || exit 1

status=0
if [[ " $stages " == *" bench "* ]]; then
  (cd bench/python && timeout 300 python3 bench_phase_field.py --device cuda ${PHASE_FIELD_ARGS:-} \
     && timeout 120 python3 bench_laplacian.py --device cuda --sizes 128 256 512 \
     && timeout 120 python3 bench_finite_volume.py --device cuda \
     && timeout 180 python3 bench_binning.py --device cuda \
     && timeout 180 python3 bench_pointwise_mlp.py --device cuda \
     && timeout 300 python3 bench_time_to_solution.py --device cuda --reps 5) 2>&1 | tee "$OUT/bench.log"
  tar czf "$OUT/results.tgz" bench/results/*_cuda.json 2>/dev/null
fi
if [[ " $stages " == *" test "* ]]; then
  # 8 workers x all cores of OpenMP threads oversubscribe the CPU until CPU tests crawl.
  OMP_NUM_THREADS=2 COARSEGRAIN_REQUIRE_CUDA=1 timeout ${TEST_TIMEOUT:-420} python3 -m pytest -q -n 8 -p no:cacheprovider tests \
    -p no:benchmark --timeout 100 -rfE --tb=short --durations=5 --junitxml="$OUT/tests.xml" 2>&1 | tee "$OUT/tests.log" | tail -60
  status=${PIPESTATUS[0]}
fi
if [[ " $stages " == *" crnn "* ]]; then
  (cd bench/python && timeout 300 python3 bench_crnn.py --device cuda) 2>&1 | tee "$OUT/crnn.log"
fi
if [[ " $stages " == *" kiyani "* ]]; then
  timeout ${KIYANI_TIMEOUT:-900} python3 -m coarsegrain.cli reproduce kiyani2022 --full --device cuda \
    --epochs ${KIYANI_EPOCHS:-300} --out "$OUT/kiyani2022" --no-progress 2>&1 | tee "$OUT/kiyani.log"
  rm -rf "$OUT/kiyani2022/data" "$OUT/kiyani2022/runs"/*/*/checkpoint.pt
fi
tar czf "$OUT/results.tgz" bench/results/*_cuda.json 2>/dev/null
exit $status
