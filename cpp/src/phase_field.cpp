// The public explicit phase-field API: validates, then loops over steps, alternating between
// `out` and a workspace buffer so that the last step lands in `out`.
#include "coarsegrain/phase_field.h"

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
  double lam = 0.0;
  for (int a = 0; a < g.ndim; ++a) lam += 4.0 / (g.spacing[a] * g.spacing[a]);
  const double limit = conserved ? 2.0 / (p.mobility * p.kappa * lam * lam)
                                 : 2.0 / (p.mobility * p.kappa * lam);
  if (p.dt >= limit) {
    msg << "dt = " << p.dt << " is beyond the explicit-Euler stability limit of this grid, "
        << (conserved ? "2 / (M kappa lam^2)" : "2 / (M kappa lam)") << " = " << limit
        << " (lam = sum 4/h^2 = " << lam << "); take dt well below it (the nonlinear term "
        << "tightens it further) or use the semi-implicit spectral stepper";
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
