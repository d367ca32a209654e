// CUDA launchers for the finite-volume kernels; same contracts as coarsegrain/finite_volume.h.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/finite_volume.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux,
                               cudaStream_t stream);
template <typename T>
cudaError_t weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n, cudaStream_t stream);
template <typename T>
cudaError_t restrict_average(const T* in, T* out, const GridShape& in_grid, int factor, cudaStream_t stream);
template <typename T>
cudaError_t stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width, int offset,
                           cudaStream_t stream);
template <typename T>
cudaError_t stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c, int64_t rows,
                                    int64_t n, int width, int offset, cudaStream_t stream);

}  // namespace coarsegrain::cuda
