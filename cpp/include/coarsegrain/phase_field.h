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

// Checks dt, mobility and kappa (positive, finite), steps >= 1, and that dt is below the
// explicit-Euler limit of the linear part: 2 / (M kappa lam^2) for Cahn-Hilliard and
// 2 / (M kappa lam) for Allen-Cahn, lam = sum_a 4 / h_a^2 the largest eigenvalue of -lap.
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
