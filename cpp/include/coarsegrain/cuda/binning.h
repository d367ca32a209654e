// CUDA launchers for particle binning; same contracts as coarsegrain/binning.h, except that
// the sums accumulate in T with atomic adds (in an order that varies from run to run: float32
// sums may differ in the last bits between runs; integer-valued counts are exact below 2^24 per
// cell in float32 and 2^53 in float64), into `out`, which the launcher zeroes first.
// counters (device, 3 values) receive the dropped count, the non-finite count and
// min(particle * 4 + axis) over the non-finite particles (2^64 - 1 when none); the launcher
// initializes them.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/binning.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t bin_particles(const T* positions, const T* quantities, int64_t n, int64_t nq, const BinGrid& grid,
                          T* out, unsigned long long* counters, cudaStream_t stream);
template <typename T>
cudaError_t bin_particles_backward(const T* grad, const T* positions, const T* quantities, int64_t n, int64_t nq,
                                   const BinGrid& grid, T* grad_quantities, T* grad_positions,
                                   cudaStream_t stream);

}  // namespace coarsegrain::cuda
