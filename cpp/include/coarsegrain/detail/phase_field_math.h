// Point-wise phase-field math shared by the CPU and CUDA kernels: the polynomial f'(U) (Horner),
// the chemical potential and the explicit Allen-Cahn and Cahn-Hilliard updates at one point.
#pragma once

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::detail {
namespace {  // internal linkage: see host_device.h

// p(v) = sum_{t < terms} c[t] v^t by Horner's rule (terms >= 1; a compile-time `terms` lets the
// CPU kernels unroll it).
template <typename T>
COARSEGRAIN_HOST_DEVICE T polynomial_at(const T* c, int terms, T v) {
  T p = c[terms - 1];
  for (int t = terms - 2; t >= 0; --t) p = p * v + c[t];
  return p;
}

// mu = f'(u) - kappa lap(u) from f'(u) and lap(u) at the point.
template <typename T>
COARSEGRAIN_HOST_DEVICE T chemical_potential(T dfdu, T kappa, T lap_u) {
  return dfdu - kappa * lap_u;
}

// Explicit Allen-Cahn: u - dt M mu (dt_m = dt M).
template <typename T>
COARSEGRAIN_HOST_DEVICE T allen_cahn_update(T u, T dt_m, T mu) {
  return u - dt_m * mu;
}

// Explicit Cahn-Hilliard: u + dt M lap(mu) (dt_m = dt M).
template <typename T>
COARSEGRAIN_HOST_DEVICE T cahn_hilliard_update(T u, T dt_m, T lap_mu) {
  return u + dt_m * lap_mu;
}

}  // namespace
}  // namespace coarsegrain::detail
