// The public pointwise API: validates, then runs the best compiled copy (cpu_isa.h).
#include "coarsegrain/pointwise.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

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

namespace {
// w^k = exp(-i pi k / m) for k = 0..m, interleaved (re, im): the twiddles of real_fft_pack.
template <typename T>
std::vector<T> real_fft_twiddles(int64_t m) {
  std::vector<T> w(2 * static_cast<size_t>(m + 1));
  const double pi = std::acos(-1.0);
  for (int64_t k = 0; k <= m; ++k) {
    const double angle = pi * static_cast<double>(k) / static_cast<double>(m);
    w[2 * k] = T(std::cos(angle));
    w[2 * k + 1] = T(-std::sin(angle));
  }
  return w;
}

void check_real_fft(const char* op, int nlead, int64_t m) {
  if (nlead < 0 || nlead > kMaxRealFftLeadAxes)
    throw std::invalid_argument(std::string(op) + ": 0 to 3 leading transform axes");
  if (m < 1) throw std::invalid_argument(std::string(op) + ": m must be >= 1");
}
}  // namespace

template <typename T>
void real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead, int64_t m) {
  check_real_fft("real_fft_pack", nlead, m);
  const std::vector<T> w = real_fft_twiddles<T>(m);
  COARSEGRAIN_ISA_CALL(real_fft_pack, u_hat, out, batch, lead, nlead, m, w.data());
}

std::string check_take_index(const char* op, const int64_t* index, int64_t m, int64_t n) {
  for (int64_t j = 0; j < m; ++j)
    if (index[j] < 0 || index[j] >= n)
      return std::string(op) + ": index[" + std::to_string(j) + "] = " + std::to_string(index[j]) +
             " is outside [0, " + std::to_string(n) + ") (the length of x's last axis)";
  return "";
}

template <typename T>
void take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m) {
  const std::string bad = check_take_index("take_along_last", index, m, n);
  if (!bad.empty()) throw std::invalid_argument(bad);
  COARSEGRAIN_ISA_CALL(take_along_last, x, index, out, rows, n, m);
}

template <typename T>
void take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n, int64_t m) {
  const std::string bad = check_take_index("take_along_last_backward", index, m, n);
  if (!bad.empty()) throw std::invalid_argument(bad);
  COARSEGRAIN_ISA_CALL(take_along_last_backward, grad, index, grad_x, rows, n, m);
}

#define COARSEGRAIN_INSTANTIATE(T)                                                        \
  template void take_along_last<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t); \
  template void take_along_last_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t); \
  template void polynomial<T>(const T*, T*, int64_t, const Polynomial&);                  \
  template void spectral_combine<T>(const T* const*, const T* const*, int, T*, int64_t,   \
                                    int64_t);                                            \
  template void real_fft_pack<T>(const T*, T*, int64_t, const int64_t*, int, int64_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
