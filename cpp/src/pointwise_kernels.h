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
  }

#define COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(T)                                         \
  template void polynomial<T>(const T*, T*, int64_t, const T*, int);                         \
  template void spectral_combine<T>(const T* const*, const T* const*, int, T*, int64_t, int64_t); \
  template void real_fft_pack<T>(const T*, T*, int64_t, const int64_t*, int, int64_t, const T*);

COARSEGRAIN_DECLARE_POINTWISE_KERNELS(generic)
COARSEGRAIN_DECLARE_POINTWISE_KERNELS(avx2)
