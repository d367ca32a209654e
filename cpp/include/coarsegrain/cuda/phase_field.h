// CUDA launchers for the explicit phase-field steppers; same contracts as
// coarsegrain/phase_field.h with device pointers. Cahn-Hilliard: kFused is one z-marching kernel per step (3D fields
// below 2^31 points per batch entry; larger ones fall back), kTwoPass goes through mu in memory.
#pragma once

#include <cuda_runtime_api.h>

#include "coarsegrain/phase_field.h"

namespace coarsegrain::cuda {

template <typename T>
cudaError_t cahn_hilliard_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                                   const ExplicitPhaseField& p, int64_t steps,
                                   CahnHilliardScheme scheme, cudaStream_t stream);

template <typename T>
cudaError_t allen_cahn_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                                const ExplicitPhaseField& p, int64_t steps, cudaStream_t stream);

}  // namespace coarsegrain::cuda
