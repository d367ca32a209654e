// Private: the binning kernels of one instruction-set copy (namespace generic or avx2), on a
// validated BinGrid and one range of particles. The public API is coarsegrain/binning.h.
#pragma once

#include <cstdint>

#include "coarsegrain/binning.h"

#define COARSEGRAIN_DECLARE_BINNING_KERNELS(isa)                                                   \
  namespace coarsegrain::isa {                                                                   \
  template <typename T>                                                                          \
  void bin_range(const T* positions, const T* quantities, int64_t begin, int64_t end, int64_t nq, \
                 const BinGrid& grid, double* sums, uint32_t* counts, BinStats& stats);          \
  template <typename T>                                                                          \
  void bin_backward_range(const T* grad, const T* positions, const T* quantities, int64_t begin, \
                          int64_t end, int64_t nq, const BinGrid& grid, T* grad_quantities,      \
                          T* grad_positions);                                                    \
  }

#define COARSEGRAIN_INSTANTIATE_BINNING_KERNELS(T)                                                    \
  template void bin_range<T>(const T*, const T*, int64_t, int64_t, int64_t, const BinGrid&, double*,  \
                             uint32_t*, BinStats&);                                                  \
  template void bin_backward_range<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t,        \
                                      const BinGrid&, T*, T*);

COARSEGRAIN_DECLARE_BINNING_KERNELS(generic)
COARSEGRAIN_DECLARE_BINNING_KERNELS(avx2)
