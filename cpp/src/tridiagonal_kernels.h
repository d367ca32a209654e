// Private: the tridiagonal kernels of one instruction-set copy (namespace generic or avx2), on a
// range [begin, end) of systems. The public API is coarsegrain/tridiagonal.h.
#pragma once

#include <cstdint>

#include "coarsegrain/tridiagonal.h"

#define COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(isa)                                                 \
  namespace coarsegrain::isa {                                                                       \
  template <typename T>                                                                              \
  PivotFailure tridiagonal_rows(const T* lower, const T* diag, const T* upper, const T* rhs, T* x,   \
                                int64_t begin, int64_t end, int64_t n);                              \
  template <typename T>                                                                              \
  PivotFailure diffusion_rows(const T* u, const T* a_faces, const T* left, const T* right, T* out,   \
                              int64_t begin, int64_t end, int64_t n, const DiffusionStep& p);        \
  }

#define COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(T)                                                  \
  template PivotFailure tridiagonal_rows<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t, \
                                            int64_t);                                                   \
  template PivotFailure diffusion_rows<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t,   \
                                          int64_t, const DiffusionStep&);

COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(generic)
COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(avx2)
