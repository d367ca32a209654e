// Private: the 2D lattice diffusion-rate kernels of one instruction-set copy (namespace generic or
// avx2), each on a range [begin, end) of its own work items (grid rows of one plane, grid rows
// across planes, or whole patches). The public API is coarsegrain/lattice.h.
#pragma once

#include <cstdint>

#include "coarsegrain/lattice.h"

#define COARSEGRAIN_DECLARE_LATTICE_KERNELS(isa)                                                      \
  namespace coarsegrain::isa {                                                                        \
  template <typename T>                                                                               \
  void lattice_rows(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end,         \
                    const LatticeRate& p);                                                            \
  template <typename T>                                                                               \
  void lattice_rows_across_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin,        \
                                  int64_t end, const LatticeRate& p);                                 \
  template <typename T>                                                                               \
  void lattice_patch_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end, \
                            const LatticeRate& p);                                                    \
  }

#define COARSEGRAIN_INSTANTIATE_LATTICE_KERNELS(T)                                                   \
  template void lattice_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t, const LatticeRate&); \
  template void lattice_rows_across_planes<T>(const T*, const T*, const T*, T*, int64_t, int64_t,        \
                                              const LatticeRate&);                                       \
  template void lattice_patch_planes<T>(const T*, const T*, const T*, T*, int64_t, int64_t, const LatticeRate&);

COARSEGRAIN_DECLARE_LATTICE_KERNELS(generic)
COARSEGRAIN_DECLARE_LATTICE_KERNELS(avx2)
