// Point-wise finite-difference math on periodic grids, shared by the CPU and CUDA kernels: the
// periodic index wrap, the per-axis differences and the Laplacian at one point from its
// neighbour values. Callers keep their own memory access (padded rows on the CPU, z-marching and
// the read-only cache on the GPU); only the arithmetic is here, so both devices evaluate the
// same expressions in the same order.
#pragma once

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::detail {
namespace {  // internal linkage: see host_device.h

// i mod n in [0, n) for any i (n > 0); no division when i is already in range.
template <typename I>
COARSEGRAIN_HOST_DEVICE I periodic_index(I i, I n) {
  if (i >= 0 && i < n) return i;
  i %= n;
  return i < 0 ? i + n : i;
}

// (i + k) mod n for i in [0, n) and a small shift k: a few compares, never a division.
template <typename I>
COARSEGRAIN_HOST_DEVICE I periodic_shift(I i, int k, I n) {
  i += k;
  while (i < 0) i += n;
  while (i >= n) i -= n;
  return i;
}

// u[i-1] - 2 u[i] + u[i+1]: the 3-point second difference along one axis, unscaled (times 1/h^2).
template <typename T>
COARSEGRAIN_HOST_DEVICE T second_difference(T m1, T c, T p1) {
  return m1 + p1 - T(2) * c;
}

// -u[i-2] + 16 u[i-1] - 30 u[i] + 16 u[i+1] - u[i+2]: the 5-point (fourth-order) second
// difference along one axis, unscaled (times 1/(12 h^2)).
template <typename T>
COARSEGRAIN_HOST_DEVICE T second_difference4(T m2, T m1, T c, T p1, T p2) {
  return T(16) * (m1 + p1) - (m2 + p2) - T(30) * c;
}

// half_inv_h (u[i+1] - u[i-1]): the central first difference, half_inv_h = 1 / (2h).
template <typename T>
COARSEGRAIN_HOST_DEVICE T central_difference(T m1, T p1, T half_inv_h) {
  return half_inv_h * (p1 - m1);
}

// inv_h (u[i+1] - u[i]): the forward first difference.
template <typename T>
COARSEGRAIN_HOST_DEVICE T forward_difference(T c, T p1, T inv_h) {
  return inv_h * (p1 - c);
}

// inv_h (u[i] - u[i-1]): the backward first difference.
template <typename T>
COARSEGRAIN_HOST_DEVICE T backward_difference(T m1, T c, T inv_h) {
  return inv_h * (c - m1);
}

// The unscaled second difference of order ORDER (2 or 4) along `axis` at a point of value c;
// at(where, axis, k) returns the value k points from `where` along that axis.
template <int ORDER, typename T, typename At, typename Where>
COARSEGRAIN_HOST_DEVICE T axis_second_difference(T c, int axis, const At& at, const Where& where) {
  static_assert(ORDER == 2 || ORDER == 4, "the Laplacian is of order 2 or 4");
  if constexpr (ORDER == 2)
    return second_difference(at(where, axis, -1), c, at(where, axis, 1));
  else
    return second_difference4(at(where, axis, -2), at(where, axis, -1), c, at(where, axis, 1),
                              at(where, axis, 2));
}

// The Laplacian of order ORDER at one point of value c on an NDIM-axis grid:
//   wx D_x + wy D_y + wz D_z   (the last NDIM terms; axis 0 = x, 1 = y, 2 = z)
// with D the unscaled second differences of axis_second_difference and w the per-axis weights
// (1/h^2 for order 2, 1/(12 h^2) for order 4). at(where, axis, k) gives the neighbour k points
// from the point `where` along `axis` (only the grid's axes are read). `where` is whatever the
// caller's accessor needs (an index along a row, a pointer, ...); it is passed through so
// that the accessor can be built once, outside a vectorized loop.
template <int NDIM, int ORDER, typename T, typename At, typename Where>
COARSEGRAIN_HOST_DEVICE T laplacian_at(T c, T wx, T wy, T wz, const At& at, const Where& where) {
  T acc = wx * axis_second_difference<ORDER>(c, 0, at, where);
  if constexpr (NDIM >= 2) acc += wy * axis_second_difference<ORDER>(c, 1, at, where);
  if constexpr (NDIM >= 3) acc += wz * axis_second_difference<ORDER>(c, 2, at, where);
  return acc;
}

}  // namespace
}  // namespace coarsegrain::detail
