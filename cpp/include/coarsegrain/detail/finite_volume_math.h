// Point-wise finite-volume math for Burgers' equation v_t + (v^2/2)_x = 0, shared by the CPU and
// CUDA kernels: WENO5 reconstruction of a face state from five cell values and the numerical
// fluxes at one face from its left and right states.
#pragma once

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::detail {
namespace {  // internal linkage: see host_device.h

// WENO5 (Jiang & Shu 1996, as in Shu 1997; eps = 1e-6): the state at the right face of the
// middle cell of (a, b, c, d, e) = v_{j-2..j+2}. The right-biased state of the same face is
// weno5(v_{j+3}, v_{j+2}, v_{j+1}, v_j, v_{j-1}).
template <typename T>
COARSEGRAIN_HOST_DEVICE T weno5(T a, T b, T c, T d, T e) {
  const T eps = T(1e-6);
  const T q0 = (T(2) * a - T(7) * b + T(11) * c) / T(6);
  const T q1 = (-b + T(5) * c + T(2) * d) / T(6);
  const T q2 = (T(2) * c + T(5) * d - e) / T(6);
  const T s0 = a - T(2) * b + c, t0 = a - T(4) * b + T(3) * c;
  const T s1 = b - T(2) * c + d, t1 = b - d;
  const T s2 = c - T(2) * d + e, t2 = T(3) * c - T(4) * d + e;
  const T b0 = T(13) / T(12) * s0 * s0 + T(0.25) * t0 * t0;
  const T b1 = T(13) / T(12) * s1 * s1 + T(0.25) * t1 * t1;
  const T b2 = T(13) / T(12) * s2 * s2 + T(0.25) * t2 * t2;
  const T a0 = T(0.1) / ((eps + b0) * (eps + b0));
  const T a1 = T(0.6) / ((eps + b1) * (eps + b1));
  const T a2 = T(0.3) / ((eps + b2) * (eps + b2));
  return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2);
}

// The left (v^-) state at face j + 1/2 from v_{j-2..j+2}.
template <typename T>
COARSEGRAIN_HOST_DEVICE T weno5_left(T m2, T m1, T c, T p1, T p2) {
  return weno5(m2, m1, c, p1, p2);
}

// The right (v^+) state at face j + 1/2 from v_{j-1..j+3}.
template <typename T>
COARSEGRAIN_HOST_DEVICE T weno5_right(T m1, T c, T p1, T p2, T p3) {
  return weno5(p3, p2, p1, c, m1);
}

// The physical flux f(v) = v^2 / 2.
template <typename T>
COARSEGRAIN_HOST_DEVICE T burgers_flux(T v) {
  return T(0.5) * v * v;
}

// The exact Godunov flux of the convex f = v^2/2: the minimum of f over [l, r] when l <= r (zero
// when 0 lies between them: the sonic rarefaction), the larger of f(l), f(r) when l > r (a shock).
template <typename T>
COARSEGRAIN_HOST_DEVICE T godunov_flux(T l, T r) {
  const T fl = burgers_flux(l), fr = burgers_flux(r);
  if (l <= r) return l > T(0) ? fl : (r < T(0) ? fr : T(0));
  return fl > fr ? fl : fr;
}

// The local Lax-Friedrichs (Rusanov) flux: (f(l) + f(r)) / 2 - max(|l|, |r|) (r - l) / 2.
template <typename T>
COARSEGRAIN_HOST_DEVICE T lax_friedrichs_flux(T l, T r) {
  const T al = l < T(0) ? -l : l, ar = r < T(0) ? -r : r;
  const T a = al > ar ? al : ar;
  return T(0.5) * (burgers_flux(l) + burgers_flux(r)) - T(0.5) * a * (r - l);
}

}  // namespace
}  // namespace coarsegrain::detail
