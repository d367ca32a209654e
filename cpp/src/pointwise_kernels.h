// Private: pointwise kernels per instruction-set copy (see cpu_isa.h).
#pragma once

#include <cstdint>

#define COARSEGRAIN_DECLARE_POINTWISE_KERNELS(isa)                                         \
  namespace coarsegrain::isa {                                                           \
  template <typename T>                                                                  \
  void polynomial(const T* u, T* out, int64_t n, const T* coeffs, int terms);            \
  template <typename T>                                                                  \
  void spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out, \
                        int64_t batch, int64_t size);                                    \
  template <typename T>                                                                  \
  void real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead, \
                     int64_t m, const T* twiddle);                                       \
  template <typename T>                                                                  \
  void take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m); \
  template <typename T>                                                                  \
  void take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n, \
                                int64_t m);                                              \
  }

#define COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(T)                                         \
  template void polynomial<T>(const T*, T*, int64_t, const T*, int);                         \
  template void spectral_combine<T>(const T* const*, const T* const*, int, T*, int64_t, int64_t); \
  template void real_fft_pack<T>(const T*, T*, int64_t, const int64_t*, int, int64_t, const T*); \
  template void take_along_last<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);  \
  template void take_along_last_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);

COARSEGRAIN_DECLARE_POINTWISE_KERNELS(generic)
COARSEGRAIN_DECLARE_POINTWISE_KERNELS(avx2)
