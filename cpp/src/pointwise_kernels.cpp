// Pointwise kernels, compiled once per instruction set (see cpu_isa.h).
#include "isa_rows.h"
#include "pointwise_kernels.h"

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

template <typename T, int TERMS>
void polynomial_impl(const T* __restrict u, T* __restrict out, int64_t n, const T* coeffs) {
  T c[TERMS];
  for (int t = 0; t < TERMS; ++t) c[t] = coeffs[t];
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const T v = u[i];
    T p = c[TERMS - 1];
    for (int t = TERMS - 2; t >= 0; --t) p = p * v + c[t];
    out[i] = p;
  }
}

template <typename T, int NTERMS>
void combine_impl(const T* const* terms, const T* const* weights, T* out, int64_t batch,
                  int64_t size) {
  // Local pointer copies keep the inner loop free of double indirection, and the spectrum is
  // cut into chunks so a single batch entry still spreads over the threads.
  const T* tp[NTERMS];
  const T* wp[NTERMS];
  for (int i = 0; i < NTERMS; ++i) {
    tp[i] = terms[i];
    wp[i] = weights[i];
  }
  constexpr int64_t kChunk = 2048;
  const int64_t chunks = (size + kChunk - 1) / kChunk;
  const bool parallel = 2 * batch * size * NTERMS >= kParallelThreshold;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t s0 = c * kChunk, s1 = s0 + kChunk < size ? s0 + kChunk : size;
      const int64_t base = b * size;
      T* __restrict o = out + 2 * base;
#pragma omp simd
      for (int64_t s = s0; s < s1; ++s) {
        T re = 0, im = 0;
        for (int i = 0; i < NTERMS; ++i) {
          const T w = wp[i][s];
          re += w * tp[i][2 * (base + s)];
          im += w * tp[i][2 * (base + s) + 1];
        }
        o[2 * s] = re;
        o[2 * s + 1] = im;
      }
    }
  }
}

}  // namespace

template <typename T>
void polynomial(const T* u, T* out, int64_t n, const T* coeffs, int terms) {
  T padded[8] = {};
  for (int t = 0; t < terms; ++t) padded[t] = coeffs[t];
  if (terms <= 4)
    polynomial_impl<T, 4>(u, out, n, padded);
  else
    polynomial_impl<T, 8>(u, out, n, padded);
}

template <typename T>
void spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out,
                      int64_t batch, int64_t size) {
  switch (nterms) {
    case 1: combine_impl<T, 1>(terms, weights, out, batch, size); break;
    case 2: combine_impl<T, 2>(terms, weights, out, batch, size); break;
    case 3: combine_impl<T, 3>(terms, weights, out, batch, size); break;
    case 4: combine_impl<T, 4>(terms, weights, out, batch, size); break;
    case 5: combine_impl<T, 5>(terms, weights, out, batch, size); break;
    case 6: combine_impl<T, 6>(terms, weights, out, batch, size); break;
    case 7: combine_impl<T, 7>(terms, weights, out, batch, size); break;
    default: combine_impl<T, 8>(terms, weights, out, batch, size); break;
  }
}

COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(float)
COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
