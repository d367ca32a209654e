// The per-system math of the tridiagonal solves, written once for the CPU kernels
// (cpp/src/tridiagonal_kernels.cpp) and the CUDA kernels (cuda/kernels/tridiagonal.cu):
// the Thomas sweep over one system whose rows come from a band functor, and the rows of the
// implicit heterogeneous-diffusion step (coarsegrain/tridiagonal.h). Internal linkage (see
// host_device.h).
#pragma once

#include <cstdint>

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::tridiagonal_math {
namespace {

// Solves one system of n rows; band(i, lo, di, up, rhs) gives row i (lo is ignored at i = 0).
// cp[i * cs] is scratch for the eliminated upper band; x[i] receives band.result(i, solution_i)
// (the solution itself, or what the band makes of it: the diffusion step adds the old state to
// its increment). Returns the row of the first zero pivot (the sweep stops there), or -1.
template <typename T, typename Band>
COARSEGRAIN_HOST_DEVICE int64_t thomas(int64_t n, const Band& bands, T* cp, int64_t cs, T* x) {
  const Band band = bands;  // a local copy: stores to cp and x cannot alias its members
  if (n <= 0) return -1;
  T c_prev = T(0), d_prev = T(0);
  for (int64_t i = 0; i < n; ++i) {
    T lo, di, up, r;
    band(i, lo, di, up, r);
    if (i == 0) lo = T(0);
    const T pivot = di - lo * c_prev;
    if (pivot == T(0)) return i;
    const T inv = T(1) / pivot;
    c_prev = up * inv;
    d_prev = (r - lo * d_prev) * inv;
    cp[i * cs] = c_prev;
    x[i] = d_prev;
  }
  // back substitution with the solution carried in a register, so that x may take the result
  T next = d_prev;
  x[n - 1] = band.result(n - 1, next);
  for (int64_t i = n - 2; i >= 0; --i) {
    next = x[i] - cp[i * cs] * next;
    x[i] = band.result(i, next);
  }
  return -1;
}

// The rows of a stored system.
template <typename T>
struct StoredBands {
  const T *lower, *diag, *upper, *rhs;
  COARSEGRAIN_HOST_DEVICE void operator()(int64_t i, T& lo, T& di, T& up, T& r) const {
    lo = lower[i];
    di = diag[i];
    up = upper[i];
    r = rhs[i];
  }
  COARSEGRAIN_HOST_DEVICE T result(int64_t, T x) const { return x; }
};

// Row i of the theta-scheme step of u_t = (a u_x)_x with Dirichlet walls (tridiagonal.h), for the
// increment delta = u' - u: (I - theta dt M) delta = dt (M u + s). The face weights w_lo = a_i,
// w_hi = a_{i+1}, doubled at a wall (its value sits half a cell away), r = dt / spacing^2. The
// right-hand side is the flux-form rate r [w_lo (u_{i-1} - u_i) + w_hi (u_{i+1} - u_i)], u_{-1} and
// u_n read as the wall values: differences of u only. Solving for u' directly instead puts
// u_i next to a diagonal of 1 + O(r) (r ~ 1e8 at arbabi2020's scales), and the round-off of that
// solve, relative to |u|, accumulates in the slow modes (a drift over long runs);
// the increment's round-off is relative to |delta|, and u' = u + delta rounds once.
template <typename T>
struct DiffusionBands {
  const T* u;       // one row, n cells
  const T* a;       // its n + 1 face diffusivities
  T left, right;    // wall values
  T theta, r;
  int64_t n;
  COARSEGRAIN_HOST_DEVICE void operator()(int64_t i, T& lo, T& di, T& up, T& rhs) const {
    const bool first = i == 0, last = i == n - 1;
    const T w_lo = first ? T(2) * a[i] : a[i];
    const T w_hi = last ? T(2) * a[i + 1] : a[i + 1];
    const T ui = u[i];
    const T u_lo = first ? left : u[i - 1];
    const T u_hi = last ? right : u[i + 1];
    const T implicit = theta * r;
    lo = -implicit * w_lo;
    up = -implicit * w_hi;
    di = T(1) + implicit * (w_lo + w_hi);
    rhs = r * (w_lo * (u_lo - ui) + w_hi * (u_hi - ui));
  }
  // the new state from the solved increment
  COARSEGRAIN_HOST_DEVICE T result(int64_t i, T delta) const { return u[i] + delta; }
};

}  // namespace
}  // namespace coarsegrain::tridiagonal_math
