// Private: finite-volume kernels per instruction-set copy (see cpu_isa.h).
#pragma once

#include <cstdint>

#include "coarsegrain/finite_volume.h"

#define COARSEGRAIN_DECLARE_FV_KERNELS(isa)                                                    \
  namespace coarsegrain::isa {                                                               \
  template <typename T>                                                                      \
  void weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux);  \
  template <typename T>                                                                      \
  void weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n);            \
  template <typename T>                                                                      \
  void restrict_average(const T* in, T* out, const Box& in_box, int factor);                 \
  template <typename T>                                                                      \
  void stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width,    \
                      int offset);                                                           \
  template <typename T>                                                                      \
  void stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c,  \
                               int64_t rows, int64_t n, int width, int offset);              \
  }

#define COARSEGRAIN_INSTANTIATE_FV_KERNELS(T)                                                   \
  template void weno5_burgers_flux<T>(const T*, T*, int64_t, int64_t, NumericalFlux);          \
  template void weno5_reconstruct<T>(const T*, T*, T*, int64_t, int64_t);                      \
  template void restrict_average<T>(const T*, T*, const Box&, int);                            \
  template void stencil_filter<T>(const T*, const T*, T*, int64_t, int64_t, int, int);         \
  template void stencil_filter_backward<T>(const T*, const T*, const T*, T*, T*, int64_t,      \
                                           int64_t, int, int);

COARSEGRAIN_DECLARE_FV_KERNELS(generic)
COARSEGRAIN_DECLARE_FV_KERNELS(avx2)
