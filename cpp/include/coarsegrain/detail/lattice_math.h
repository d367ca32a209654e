// The point-wise math of the 2D lattice diffusion rate (coarsegrain/lattice.h), written once for
// the CPU kernels (cpp/src/lattice_kernels.cpp) and the CUDA kernel (cuda/kernels/lattice.cu).
// Internal linkage (see host_device.h).
#pragma once

#include <cstdint>

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::lattice_math {
namespace {

// Eq 25 at one point: c the centre value, x_plus / x_minus / y_plus / y_minus its neighbours at
// i + 1, i - 1, j + 1, j - 1, k_* the diffusivities of the bonds to them, inv_spacing_sq = 1 / spacing^2. One
// fixed order of operations, so every caller gets the same bits for the same operands.
template <typename T>
COARSEGRAIN_HOST_DEVICE T rate(T c, T x_plus, T x_minus, T y_plus, T y_minus, T k_x_plus, T k_x_minus, T k_y_plus,
                               T k_y_minus, T inv_spacing_sq) {
  const T x_part = k_x_plus * (x_plus - c) + k_x_minus * (x_minus - c);
  const T y_part = k_y_plus * (y_plus - c) + k_y_minus * (y_minus - c);
  return (x_part + y_part) * inv_spacing_sq;
}

COARSEGRAIN_HOST_DEVICE int64_t previous(int64_t i, int64_t n) { return i == 0 ? n - 1 : i - 1; }
COARSEGRAIN_HOST_DEVICE int64_t next(int64_t i, int64_t n) { return i == n - 1 ? 0 : i + 1; }

// The rate at point (j, i) of one [ny, nx] plane (u, kx, ky point at that plane): periodic wraps
// every index; otherwise (a patch) the ring is 0 and an interior point never wraps. For an interior
// point the operands are those of the CPU's flat loop (u[p +- 1], u[p +- nx], kx[p], kx[p - 1],
// ky[p], ky[p - nx]), in the same order.
template <typename T>
COARSEGRAIN_HOST_DEVICE T rate_at(const T* u, const T* kx, const T* ky, int64_t ny, int64_t nx, int64_t j, int64_t i,
                                  bool periodic, T inv_spacing_sq) {
  if (!periodic && (j == 0 || i == 0 || j == ny - 1 || i == nx - 1)) return T(0);
  const int64_t row = j * nx, below = previous(j, ny) * nx, above = next(j, ny) * nx;
  const int64_t left = previous(i, nx), right = next(i, nx);
  return rate(u[row + i], u[row + right], u[row + left], u[above + i], u[below + i], kx[row + i], kx[row + left],
              ky[row + i], ky[below + i], inv_spacing_sq);
}

}  // namespace
}  // namespace coarsegrain::lattice_math
