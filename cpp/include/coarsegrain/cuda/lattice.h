// CUDA launcher of the 2D lattice diffusion rate; same contract as coarsegrain/lattice.h with
// device pointers, one thread per point, on `stream`.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/lattice.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t lattice_diffusion_rate(const T* u, const T* kx, const T* ky, T* out, const LatticeRate& p,
                                   cudaStream_t stream);

}  // namespace coarsegrain::cuda
