// The public explicit phase-field API: validates, then loops over steps, alternating between
// `out` and a workspace buffer so that the last step lands in `out`.
#include "coarsegrain/phase_field.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "cpu_isa.h"
#include "phase_field_kernels.h"

namespace coarsegrain {

std::string make_polynomial(const char* op, const char* arg, const double* c, int64_t n,
                            Polynomial& p) {
  std::ostringstream msg;
  if (n < 1 || n > kMaxPolynomialTerms) {
    msg << op << ": " << arg << " must hold 1 to " << kMaxPolynomialTerms
        << " polynomial coefficients (constant term first), got " << n;
    return msg.str();
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(c[i])) {
      msg << op << ": " << arg << "[" << i << "] must be finite, got " << c[i];
      return msg.str();
    }
  }
  p = Polynomial{};
  p.terms = static_cast<int>(n);
  for (int64_t i = 0; i < n; ++i) p.coeff[i] = c[i];
  return std::string();
}

double laplacian_max_eigenvalue(const double* spacing, int ndim, int order) {
  if (order != 2 && order != 4)
    throw std::invalid_argument("laplacian_max_eigenvalue: order must be 2 or 4, got " + std::to_string(order));
  const double per_axis = order == 2 ? 4.0 : 16.0 / 3.0;
  double lam = 0.0;
  for (int a = 0; a < ndim; ++a) lam += per_axis / (spacing[a] * spacing[a]);
  return lam;
}

double explicit_stability_limit(const double* spacing, int ndim, double mobility, double kappa,
                                bool conserved, double curvature, int laplacian_order) {
  const double lam = laplacian_max_eigenvalue(spacing, ndim, laplacian_order);
  const double rate = mobility * (kappa * lam + std::max(curvature, 0.0));
  return conserved ? 2.0 / (rate * lam) : 2.0 / rate;
}

std::string explicit_stability_error(double dt, const double* spacing, int ndim, double mobility,
                                     double kappa, bool conserved, double curvature,
                                     int laplacian_order) {
  const double limit =
      explicit_stability_limit(spacing, ndim, mobility, kappa, conserved, curvature, laplacian_order);
  if (dt < limit) return std::string();
  const double lam = laplacian_max_eigenvalue(spacing, ndim, laplacian_order);
  const double c = std::max(curvature, 0.0);
  std::ostringstream msg;
  msg << "dt = " << dt << " is beyond the stability limit " << limit
      << " of explicit Euler on this grid: ";
  if (c > 0) {
    msg << (conserved ? "2 / (M lam (kappa lam + c))" : "2 / (M (kappa lam + c))") << " with c = max f'' = " << c;
  } else {
    msg << (conserved ? "2 / (M kappa lam^2)" : "2 / (M kappa lam)");
  }
  msg << " = " << limit << ", lam = sum " << (laplacian_order == 2 ? "4/h^2" : "(16/3)/h^2") << " = " << lam
      << " the largest eigenvalue of -lap; take a smaller dt or a semi-implicit or exponential spectral stepper";
  return msg.str();
}

std::string check_explicit_phase_field(const char* op, const GridShape& g,
                                       const ExplicitPhaseField& p, int64_t steps, bool conserved) {
  std::ostringstream msg;
  msg << op << ": ";
  const std::pair<const char*, double> positive[] = {
      {"dt", p.dt}, {"mobility", p.mobility}, {"kappa", p.kappa}};
  for (const auto& [name, value] : positive) {
    if (!std::isfinite(value) || value <= 0.0) {
      msg << name << " must be a positive finite number, got " << value;
      return msg.str();
    }
  }
  if (steps < 1) {
    msg << "steps must be >= 1, got " << steps;
    return msg.str();
  }
  const std::string unstable =
      explicit_stability_error(p.dt, g.spacing, g.ndim, p.mobility, p.kappa, conserved, 0.0, 2);
  if (!unstable.empty()) {
    msg << unstable;
    return msg.str();
  }
  return std::string();
}

namespace {

void check(const GridShape& g, const ExplicitPhaseField& p, int64_t steps) {
  if (g.ndim < 1 || g.ndim > kMaxGridDims)
    throw std::invalid_argument("phase field: a grid has 1 to 3 axes");
  if (steps < 1) throw std::invalid_argument("phase field: steps must be >= 1");
  if (p.dfdu.terms < 1) throw std::invalid_argument("phase field: f'(U) needs coefficients");
}

}  // namespace


template <typename T>
void cahn_hilliard_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                            const ExplicitPhaseField& p, int64_t steps, CahnHilliardScheme scheme) {
  check(g, p, steps);
  const Box box = as_box(g);
  const StepCoeffs<T> k = make_step_coeffs<T>(box, p);
  const int64_t n = g.batch * g.points();
  T* spare = workspace;
  T* mu = workspace + n;
  const bool fused = scheme == CahnHilliardScheme::kFused && g.ndim >= 2;
  run_steps(u, out, spare, steps, [&](const T* src, T* dst) {
    if (fused)
      COARSEGRAIN_ISA_CALL(cahn_hilliard_fused_step, src, dst, box, g.ndim, k);
    else
      COARSEGRAIN_ISA_CALL(cahn_hilliard_two_pass_step, src, dst, mu, box, g.ndim, k);
  });
}

template <typename T>
void allen_cahn_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                         const ExplicitPhaseField& p, int64_t steps) {
  check(g, p, steps);
  const Box box = as_box(g);
  const StepCoeffs<T> k = make_step_coeffs<T>(box, p);
  run_steps(u, out, workspace, steps, [&](const T* src, T* dst) {
    COARSEGRAIN_ISA_CALL(allen_cahn_step, src, dst, box, g.ndim, k);
  });
}

#define COARSEGRAIN_INSTANTIATE(T)                                                       \
  template void cahn_hilliard_explicit<T>(const T*, T*, T*, const GridShape&,            \
                                          const ExplicitPhaseField&, int64_t,            \
                                          CahnHilliardScheme);                           \
  template void allen_cahn_explicit<T>(const T*, T*, T*, const GridShape&,               \
                                       const ExplicitPhaseField&, int64_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
