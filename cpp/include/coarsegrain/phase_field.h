// Explicit-Euler phase-field steppers on periodic grids (CPU, OpenMP), fused so that a step
// reads the field once and writes it once, and a call advances many steps.
//
// Equations (mu = f'(U) - kappa lap U, lap the 3-point-per-axis Laplacian):
//   Cahn-Hilliard: U <- U + dt M lap(mu)
//   Allen-Cahn:    U <- U - dt M mu
// f'(U) is a polynomial sum_k c_k U^k given by its coefficients. Layout as in grid.h.
#pragma once

#include <cstdint>
#include <string>

#include "coarsegrain/grid.h"

namespace coarsegrain {

constexpr int kMaxPolynomialTerms = 8;  // f'(U) of degree <= 7

struct Polynomial {
  int terms = 0;                                // number of coefficients used
  double coeff[kMaxPolynomialTerms] = {};       // p(U) = sum_k coeff[k] U^k
};

// Validates coefficients (1..8 finite values) and fills `p`; returns "" or an error message.
std::string make_polynomial(const char* op, const char* arg, const double* c, int64_t n,
                            Polynomial& p);

struct ExplicitPhaseField {
  double dt = 0, mobility = 1, kappa = 1;
  Polynomial dfdu;  // f'(U)
};

// How a Cahn-Hilliard step goes through mu.
enum class CahnHilliardScheme {
  kTwoPass,  // mu to memory, then the update: simple, 5 field-sized memory streams
  kFused,    // mu kept in a per-thread ring of planes: 2 streams (2D and 3D)
};

// The explicit-Euler stability limit, in one place for the ops, _core and the Python layer
// (coarsegrain.ops.explicit_stability_limit calls it through _core). Linearized about a state
// where f'' = c, a Fourier mode with -lap eigenvalue mu is multiplied by
// 1 - dt M mu (kappa mu + c) (Cahn-Hilliard) or 1 - dt M (kappa mu + c) (Allen-Cahn) per step;
// |factor| <= 1 on 0 <= mu <= lam gives 2 / (M lam (kappa lam + c)) and 2 / (M (kappa lam + c)).
// Only the positive part of `curvature` (an upper bound of f'' over the field) tightens it.
// lam = sum_a 4 / h_a^2 (order 2) or sum_a (16/3) / h_a^2 (order 4): the largest eigenvalue of
// the periodic -lap, reached by the checkerboard mode.
double laplacian_max_eigenvalue(const double* spacing, int ndim, int order);
double explicit_stability_limit(const double* spacing, int ndim, double mobility, double kappa,
                                bool conserved, double curvature, int laplacian_order);
// "" when dt is below the limit, else the message that names it (without an op prefix).
std::string explicit_stability_error(double dt, const double* spacing, int ndim, double mobility,
                                     double kappa, bool conserved, double curvature,
                                     int laplacian_order);

// Checks dt, mobility and kappa (positive, finite), steps >= 1, and that dt is below
// explicit_stability_limit of the linear part (c = 0, the second-order Laplacian the kernels use).
// Returns "" or a message that states the limit.
std::string check_explicit_phase_field(const char* op, const GridShape& g,
                                       const ExplicitPhaseField& p, int64_t steps, bool conserved);

// Per-step constants of the kernels in the field's precision (CPU and CUDA share them).
template <typename T>
struct StepCoeffs {
  T cx, cy, cz;                 // 1 / h^2 per box axis (0 for absent axes)
  T kappa;                      // gradient-energy coefficient
  T dt_m;                       // dt * mobility
  T poly[kMaxPolynomialTerms];  // f'(U), zero-padded
  int terms;                    // coefficients in use
};

template <typename T>
StepCoeffs<T> make_step_coeffs(const Box& box, const ExplicitPhaseField& p) {
  StepCoeffs<T> k{};
  k.cx = T(box.inv_dx * box.inv_dx);
  k.cy = T(box.inv_dy * box.inv_dy);
  k.cz = T(box.inv_dz * box.inv_dz);
  k.kappa = T(p.kappa);
  k.dt_m = T(p.dt * p.mobility);
  k.terms = p.dfdu.terms;
  for (int t = 0; t < kMaxPolynomialTerms; ++t) k.poly[t] = T(p.dfdu.coeff[t]);
  return k;
}

// Runs step(src, dst) `steps` times starting from u, alternating the target between out and
// spare so that the last step writes out (u is never written).
template <typename T, typename Step>
void run_steps(const T* u, T* out, T* spare, int64_t steps, Step&& step) {
  const T* src = u;
  for (int64_t s = 0; s < steps; ++s) {
    T* dst = ((steps - 1 - s) % 2 == 0) ? out : spare;  // an even number left ends in out
    step(src, dst);
    src = dst;
  }
}

// Elements of workspace the steppers below need: two fields.
inline int64_t phase_field_workspace(const GridShape& g) { return 2 * g.batch * g.points(); }

// Advances `steps` >= 1 Cahn-Hilliard steps from u into out (u and out may not alias;
// workspace holds phase_field_workspace(g) elements).
template <typename T>
void cahn_hilliard_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                            const ExplicitPhaseField& p, int64_t steps, CahnHilliardScheme scheme);

// Advances `steps` >= 1 Allen-Cahn steps from u into out.
template <typename T>
void allen_cahn_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                         const ExplicitPhaseField& p, int64_t steps);

}  // namespace coarsegrain
