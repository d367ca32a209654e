// CUDA launchers for the periodic stencil family; same contracts and layouts as
// coarsegrain/stencil.h, with device pointers. Each call enqueues on `stream` and returns
// the launch status (cudaSuccess, or the error from cudaGetLastError).
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/grid.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t laplacian(const T* u, T* out, const GridShape& g, int order, cudaStream_t stream);

template <typename T>
cudaError_t gradient(const T* u, T* grad, const GridShape& g, cudaStream_t stream);

template <typename T>
cudaError_t gradient_adjoint(const T* v, T* out, const GridShape& g, cudaStream_t stream);

template <typename T>
cudaError_t divergence(const T* flux, T* out, const GridShape& g, cudaStream_t stream);

template <typename T>
cudaError_t divergence_adjoint(const T* w, T* out, const GridShape& g, cudaStream_t stream);

}  // namespace coarsegrain::cuda
