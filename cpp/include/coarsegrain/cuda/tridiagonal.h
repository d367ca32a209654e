// CUDA launchers for the tridiagonal solves; same contracts as coarsegrain/tridiagonal.h with
// device pointers, one thread per system. workspace holds rows * n elements (the eliminated upper
// band, interleaved across systems so that neighbouring threads touch neighbouring addresses).
// failure (device, one value) receives min(system * n + row) over the zero pivots met, or
// 2^64 - 1 when none; the launcher initializes it.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/tridiagonal.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t tridiagonal_solve(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t rows,
                              int64_t n, T* workspace, unsigned long long* failure, cudaStream_t stream);

template <typename T>
cudaError_t heterogeneous_diffusion_step(const T* u, const T* a_faces, const T* left, const T* right, T* out,
                                         int64_t rows, int64_t n, const DiffusionStep& p, T* workspace,
                                         unsigned long long* failure, cudaStream_t stream);

}  // namespace coarsegrain::cuda
