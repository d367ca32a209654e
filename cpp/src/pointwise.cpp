// The public pointwise API: validates, then runs the best compiled copy (cpu_isa.h).
#include "coarsegrain/pointwise.h"

#include <stdexcept>

#include "cpu_isa.h"
#include "pointwise_kernels.h"

namespace coarsegrain {

template <typename T>
void polynomial(const T* u, T* out, int64_t n, const Polynomial& p) {
  if (p.terms < 1 || p.terms > kMaxPolynomialTerms)
    throw std::invalid_argument("polynomial: 1 to 8 coefficients");
  T coeffs[kMaxPolynomialTerms] = {};
  for (int t = 0; t < p.terms; ++t) coeffs[t] = T(p.coeff[t]);
  COARSEGRAIN_ISA_CALL(polynomial, u, out, n, coeffs, p.terms);
}

template <typename T>
void spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out,
                      int64_t batch, int64_t size) {
  if (nterms < 1 || nterms > kMaxCombineTerms)
    throw std::invalid_argument("spectral_combine: 1 to 8 terms");
  COARSEGRAIN_ISA_CALL(spectral_combine, terms, weights, nterms, out, batch, size);
}

#define COARSEGRAIN_INSTANTIATE(T)                                                        \
  template void polynomial<T>(const T*, T*, int64_t, const Polynomial&);                  \
  template void spectral_combine<T>(const T* const*, const T* const*, int, T*, int64_t,   \
                                    int64_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
