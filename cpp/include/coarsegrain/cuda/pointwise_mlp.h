// CUDA launchers for the point-wise networks; same contracts as coarsegrain/pointwise_mlp.h,
// except that the parameter gradient is summed with atomics (its last bits vary run to run).
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/pointwise_mlp.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s, cudaStream_t stream);

template <typename T>
cudaError_t pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params,
                                   int64_t points, const MlpShape& s, cudaStream_t stream);

}  // namespace coarsegrain::cuda
