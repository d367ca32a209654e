// Fused pointwise kernels for spectral steppers (CPU, OpenMP): one pass over memory where
// an eager framework would make several.
#pragma once

#include <cstdint>

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

}  // namespace coarsegrain
