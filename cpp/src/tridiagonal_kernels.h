// Private: the tridiagonal kernels of one instruction-set copy (namespace generic or avx2), on a
// range [begin, end) of systems, and the 2D lattice diffusion rate (the other arbabi2020
// micro-solver) on a range [begin, end) of grid rows (plane * ny + j). The public APIs are
// coarsegrain/tridiagonal.h and coarsegrain/lattice.h.
#pragma once

#include <cstdint>

#include "coarsegrain/lattice.h"
#include "coarsegrain/tridiagonal.h"

#define COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(isa)                                                 \
  namespace coarsegrain::isa {                                                                       \
  template <typename T>                                                                              \
  PivotFailure tridiagonal_rows(const T* lower, const T* diag, const T* upper, const T* rhs, T* x,   \
                                int64_t begin, int64_t end, int64_t n);                              \
  template <typename T>                                                                              \
  PivotFailure diffusion_rows(const T* u, const T* a_faces, const T* left, const T* right, T* out,   \
                              int64_t begin, int64_t end, int64_t n, const DiffusionStep& p);        \
  template <typename T>                                                                              \
  void lattice_rows(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end,        \
                    const LatticeRate& p);                                                           \
  template <typename T>                                                                              \
  void lattice_rows_across_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin,       \
                                  int64_t end, const LatticeRate& p);                                \
  template <typename T>                                                                              \
  void lattice_patch_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end, \
                            const LatticeRate& p);                                                   \
  }

#define COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(T)                                                  \
  template PivotFailure tridiagonal_rows<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t, \
                                            int64_t);                                                   \
  template PivotFailure diffusion_rows<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t,   \
                                          int64_t, const DiffusionStep&);                                 \
  template void lattice_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t, const LatticeRate&);       \
  template void lattice_rows_across_planes<T>(const T*, const T*, const T*, T*, int64_t, int64_t,              \
                                              const LatticeRate&);                                             \
  template void lattice_patch_planes<T>(const T*, const T*, const T*, T*, int64_t, int64_t, const LatticeRate&);

COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(generic)
COARSEGRAIN_DECLARE_TRIDIAGONAL_KERNELS(avx2)
