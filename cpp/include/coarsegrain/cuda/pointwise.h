// CUDA launchers for the fused pointwise kernels; same contracts as coarsegrain/pointwise.h.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/pointwise.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t polynomial(const T* u, T* out, int64_t n, const Polynomial& p, cudaStream_t stream);

template <typename T>
cudaError_t spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out,
                             int64_t batch, int64_t size, cudaStream_t stream);

// lead: up to kMaxRealFftLeadAxes axis lengths, passed by value to the kernel.
template <typename T>
cudaError_t real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead,
                          int64_t m, cudaStream_t stream);

// The index is not range-checked on the host (a device-side assertion fires instead).
template <typename T>
cudaError_t take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m,
                            cudaStream_t stream);
template <typename T>
cudaError_t take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n,
                                     int64_t m, cudaStream_t stream);

}  // namespace coarsegrain::cuda
