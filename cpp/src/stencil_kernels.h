// Private: the stencil kernels of one instruction-set copy (namespace generic or avx2), on a
// validated Box. The public, dispatching API is coarsegrain/stencil.h.
#pragma once

#include "coarsegrain/grid.h"

#define COARSEGRAIN_DECLARE_STENCIL_KERNELS(isa)                                   \
  namespace coarsegrain::isa {                                                   \
  template <typename T>                                                          \
  void laplacian(const T* u, T* out, const Box& box, int ndim, int order);       \
  template <typename T>                                                          \
  void gradient(const T* u, T* grad, const Box& box, int ndim);                  \
  template <typename T>                                                          \
  void gradient_adjoint(const T* v, T* out, const Box& box, int ndim);           \
  template <typename T>                                                          \
  void divergence(const T* flux, T* out, const Box& box, int ndim);              \
  template <typename T>                                                          \
  void divergence_adjoint(const T* w, T* out, const Box& box, int ndim);         \
  }

#define COARSEGRAIN_INSTANTIATE_STENCIL_KERNELS(T)                              \
  template void laplacian<T>(const T*, T*, const Box&, int, int);              \
  template void gradient<T>(const T*, T*, const Box&, int);                    \
  template void gradient_adjoint<T>(const T*, T*, const Box&, int);            \
  template void divergence<T>(const T*, T*, const Box&, int);                  \
  template void divergence_adjoint<T>(const T*, T*, const Box&, int);

COARSEGRAIN_DECLARE_STENCIL_KERNELS(generic)
COARSEGRAIN_DECLARE_STENCIL_KERNELS(avx2)
