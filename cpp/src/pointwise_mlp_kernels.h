// Private: point-wise network kernels per instruction-set copy (see cpu_isa.h).
#pragma once

#include <cstdint>

#include "coarsegrain/pointwise_mlp.h"

#define COARSEGRAIN_DECLARE_MLP_KERNELS(isa)                                                         \
  namespace coarsegrain::isa {                                                                     \
  template <typename T>                                                                            \
  void pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s);         \
  template <typename T>                                                                            \
  void pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params, \
                              int64_t points, const MlpShape& s);                                  \
  }

#define COARSEGRAIN_INSTANTIATE_MLP_KERNELS(T)                                                   \
  template void pointwise_mlp<T>(const T*, const T*, T*, int64_t, const MlpShape&);              \
  template void pointwise_mlp_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, const MlpShape&);

COARSEGRAIN_DECLARE_MLP_KERNELS(generic)
COARSEGRAIN_DECLARE_MLP_KERNELS(avx2)
