// Pointwise kernels, compiled once per instruction set (see cpu_isa.h).
#include "isa_rows.h"
#include "pointwise_kernels.h"

#include "coarsegrain/detail/phase_field_math.h"
#include "coarsegrain/detail/spectral_math.h"

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

template <typename T, int TERMS>
void polynomial_impl(const T* __restrict u, T* __restrict out, int64_t n, const T* coeffs) {
  T c[TERMS];
  for (int t = 0; t < TERMS; ++t) c[t] = coeffs[t];
  parallel_chunks(n, kChunkPoints, n >= kParallelThreshold, [&](int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) {
      out[i] = detail::polynomial_at(c, TERMS, u[i]);
    }
  });
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
  parallel_chunks(batch * chunks, grain_for(2 * kChunk * NTERMS), parallel, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t b = item / chunks, c = item % chunks;
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
  });
}


// Calls body(in_row_offset, mirror_in_row_offset, out_row_offset) for every row of the batch
// (offsets in T, rows of in_len and out_len complex values).
template <typename Body>
void for_each_mirrored_row(int64_t batch, const int64_t* lead, int nlead, int64_t in_len,
                           int64_t out_len, Body body) {
  int64_t rows = 1;
  for (int j = 0; j < nlead; ++j) rows *= lead[j];
  const int64_t total = batch * rows;
  const bool parallel = total > 1 && total * out_len >= kParallelThreshold;
  parallel_chunks(total, grain_for(2 * out_len), parallel, [&](int64_t i0, int64_t i1) {
    for (int64_t br = i0; br < i1; ++br) {
      const int64_t b = br / rows, r = br % rows;
      const int64_t mr = b * rows + detail::mirror_row(r, lead, nlead);
      body(2 * br * in_len, 2 * mr * in_len, 2 * br * out_len);
    }
  });
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

template <typename T>
void real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead, int64_t m,
                   const T* twiddle) {
  // With E, O the transforms of the even and odd samples (Z = E + iO packs them), U[k] = E[k] +
  // w^k O[k] and U[k + m] = E[k] - w^k O[k] = conj U[-k, m - k] (Hermitian symmetry), so
  // E = (U[k] + U[k + m]) / 2, O = (U[k] - U[k + m]) conj(w^k) / 2. The k = 0 and Nyquist
  // columns are first projected onto Hermitian symmetry, as irfftn does implicitly.
  const int64_t len = m + 1;
  for_each_mirrored_row(batch, lead, nlead, len, m, [&](int64_t in, int64_t mirror, int64_t o) {
    const T* __restrict ur = u_hat + in;
    const T* __restrict um = u_hat + mirror;
    T* __restrict z = out + o;
    const T* __restrict w = twiddle;
    detail::pack_column(T(0.5) * (ur[0] + um[0]), T(0.5) * (ur[1] - um[1]), T(0.5) * (ur[2 * m] + um[2 * m]),
                T(0.5) * (ur[2 * m + 1] - um[2 * m + 1]), w[0], w[1], z);
#pragma omp simd
    for (int64_t k = 1; k < m; ++k)
      detail::pack_column(ur[2 * k], ur[2 * k + 1], um[2 * (m - k)], -um[2 * (m - k) + 1], w[2 * k],
                  w[2 * k + 1], z + 2 * k);
  });
}

template <typename T>
void take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m) {
  if (rows == 0 || m == 0) return;
  const bool parallel = rows > 1 && rows * m >= kParallelThreshold;
  parallel_chunks(rows, grain_for(m), parallel, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict row = x + r * n;
      T* __restrict o = out + r * m;
#pragma omp simd
      for (int64_t j = 0; j < m; ++j) o[j] = row[index[j]];
    }
  });
}

template <typename T>
void take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n,
                              int64_t m) {
  if (rows == 0 || n == 0) return;
  const bool parallel = rows > 1 && rows * (n + m) >= kParallelThreshold;
  parallel_chunks(rows, grain_for(n + m), parallel, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict g = grad + r * m;
      T* __restrict o = grad_x + r * n;
      for (int64_t i = 0; i < n; ++i) o[i] = T(0);
      for (int64_t j = 0; j < m; ++j) o[index[j]] += g[j];
    }
  });
}

COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(float)
COARSEGRAIN_INSTANTIATE_POINTWISE_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
