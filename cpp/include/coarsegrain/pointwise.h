// Fused pointwise kernels for spectral steppers (CPU, OpenMP): one pass over memory where
// an eager framework would make several.
#pragma once

#include <cstdint>
#include <string>

#include "coarsegrain/phase_field.h"  // Polynomial

namespace coarsegrain {

// out[i] = p(u[i]) = sum_k p.coeff[k] u[i]^k for i < n.
template <typename T>
void polynomial(const T* u, T* out, int64_t n, const Polynomial& p);

constexpr int kMaxCombineTerms = 8;

// Linear combination of complex spectra with real, batch-broadcast weights:
//   out[b, s] = sum_i weights[i][s] * terms[i][b, s],   b < batch, s < size
// Complex arrays are interleaved (re, im) pairs of T; weights are T. 1 <= nterms <= 8.
template <typename T>
void spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out,
                      int64_t batch, int64_t size);

// The inverse real FFT of an even-length last axis 2m through a complex FFT of half the length:
// from the half spectrum U [batch, *lead, m + 1] of a real field u [batch, *lead, 2m] (the
// transform axes are *lead and the last), Z [batch, *lead, m] such that the complex inverse FFT
// of Z is z[n] = u[2n] + i u[2n+1], i.e. u read as complex numbers. Like irfftn, it uses only the
// Hermitian part of the k = 0 and Nyquist columns. Where a library's complex-to-real transform
// is slow (1.5-3x its real-to-complex one with MKL on CPU), this costs one pass over memory
// instead. lead holds 0 to 3 axis lengths; m >= 1.
constexpr int kMaxRealFftLeadAxes = 3;

template <typename T>
void real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead, int64_t m);

// A gather along the last axis with one index for every row (the reorderings of the FFT-based
// cosine and sine transforms): out[r, j] = x[r, index[j]] for rows r < rows, j < m, index values
// in [0, n). torch.gather needs an index as large as the output and runs at half the copy
// bandwidth; this reads the index once per row.
template <typename T>
void take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m);

// Its adjoint: grad_x[r, i] = sum over j with index[j] == i of grad[r, j] (0 where there is none),
// summed in increasing j (deterministic).
template <typename T>
void take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n, int64_t m);

// "" when every index value is in [0, n), else a one-line message naming the first bad one.
std::string check_take_index(const char* op, const int64_t* index, int64_t m, int64_t n);

}  // namespace coarsegrain
