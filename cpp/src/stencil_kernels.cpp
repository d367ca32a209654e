// CPU kernels for the periodic stencil family, compiled once per instruction set (see
// cpu_isa.h): COARSEGRAIN_ISA names the namespace of this copy. One OpenMP task per grid row
// (fixed batch, z, y); the x-row is copied into a padded scratch line so that every inner loop
// is a plain contiguous loop the compiler vectorizes, with periodic wrap handled once per row.
//
// Keep this file free of inline code shared with other translation units (std::vector,
// inline helpers from headers): the linker keeps one copy of such code, possibly the AVX2 one.
// The point-wise math comes from coarsegrain/detail/stencil_math.h, whose functions have
// internal linkage for that reason.
#include "isa_rows.h"
#include "stencil_kernels.h"

#include "coarsegrain/detail/stencil_math.h"

#ifndef COARSEGRAIN_ISA
#error "compile this file with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {


template <typename T, int NDIM, int ORDER>
void laplacian_impl(const T* u, T* out, const Box& box) {
  constexpr int R = ORDER / 2;
  // Per-axis weights; the fourth-order stencil carries its 1/12 here.
  const T s = ORDER == 2 ? T(1) : T(1) / T(12);
  const T cx = s * T(box.inv_dx * box.inv_dx);
  const T cy = s * T(box.inv_dy * box.inv_dy);
  const T cz = s * T(box.inv_dz * box.inv_dz);
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, R, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const Rows<T> in{u + b * vol, box};
    const T* __restrict c = pad_row(in.at(z, y), nx, R, scratch);
    T* __restrict o = out + b * vol + (z * box.ny + y) * nx;
    // The rows one and two points away along y and z (the latter only read at order 4).
    const T* __restrict ym1 = in.at(z, y - 1);
    const T* __restrict yp1 = in.at(z, y + 1);
    const T* __restrict zm1 = in.at(z - 1, y);
    const T* __restrict zp1 = in.at(z + 1, y);
    const T* __restrict ym2 = in.at(z, y - R);
    const T* __restrict yp2 = in.at(z, y + R);
    const T* __restrict zm2 = in.at(z - R, y);
    const T* __restrict zp2 = in.at(z + R, y);
    const auto at = [=](int64_t x, int axis, int k) {
      if (axis == 0) return c[x + k];
      if (axis == 1) return k == -1 ? ym1[x] : k == 1 ? yp1[x] : k < 0 ? ym2[x] : yp2[x];
      return k == -1 ? zm1[x] : k == 1 ? zp1[x] : k < 0 ? zm2[x] : zp2[x];
    };
    #pragma omp simd
    for (int64_t x = 0; x < nx; ++x) o[x] = detail::laplacian_at<NDIM, ORDER>(c[x], cx, cy, cz, at, x);
  });
}

template <typename T, int NDIM>
void gradient_impl(const T* u, T* grad, const Box& box) {
  const T hx = T(0.5 * box.inv_dx), hy = T(0.5 * box.inv_dy), hz = T(0.5 * box.inv_dz);
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const Rows<T> in{u + b * vol, box};
    const int64_t row = (z * box.ny + y) * nx;
    T* comp = grad + b * NDIM * vol + row;  // component a starts at comp + a * vol
    const T* __restrict c = pad_row(in.at(z, y), nx, 1, scratch);
    T* __restrict gx = comp + (NDIM - 1) * vol;
    #pragma omp simd
    for (int64_t x = 0; x < nx; ++x) gx[x] = detail::central_difference(c[x - 1], c[x + 1], hx);
    if constexpr (NDIM >= 2) {
      const T* __restrict m = in.at(z, y - 1);
      const T* __restrict p = in.at(z, y + 1);
      T* __restrict gy = comp + (NDIM - 2) * vol;
      #pragma omp simd
      for (int64_t x = 0; x < nx; ++x) gy[x] = detail::central_difference(m[x], p[x], hy);
    }
    if constexpr (NDIM >= 3) {
      const T* __restrict m = in.at(z - 1, y);
      const T* __restrict p = in.at(z + 1, y);
      T* __restrict gz = comp;
      #pragma omp simd
      for (int64_t x = 0; x < nx; ++x) gz[x] = detail::central_difference(m[x], p[x], hz);
    }
  });
}

template <typename T, int NDIM>
void gradient_adjoint_impl(const T* v, T* out, const Box& box) {
  const T hx = T(0.5 * box.inv_dx), hy = T(0.5 * box.inv_dy), hz = T(0.5 * box.inv_dz);
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const T* comp = v + b * NDIM * vol;
    const Rows<T> vx{comp + (NDIM - 1) * vol, box};
    const Rows<T> vy{comp + (NDIM >= 2 ? NDIM - 2 : 0) * vol, box};
    const Rows<T> vz{comp, box};
    const T* __restrict c = pad_row(vx.at(z, y), nx, 1, scratch);
    const T* __restrict ym = vy.at(z, y - 1);
    const T* __restrict yp = vy.at(z, y + 1);
    const T* __restrict zm = vz.at(z - 1, y);
    const T* __restrict zp = vz.at(z + 1, y);
    T* __restrict o = out + b * vol + (z * box.ny + y) * nx;
    #pragma omp simd
    for (int64_t x = 0; x < nx; ++x) {
      // Minus the central difference: the neighbours swapped.
      T acc = detail::central_difference(c[x + 1], c[x - 1], hx);
      if constexpr (NDIM >= 2) acc += detail::central_difference(yp[x], ym[x], hy);
      if constexpr (NDIM >= 3) acc += detail::central_difference(zp[x], zm[x], hz);
      o[x] = acc;
    }
  });
}

template <typename T, int NDIM>
void divergence_impl(const T* flux, T* out, const Box& box) {
  const T ix = T(box.inv_dx), iy = T(box.inv_dy), iz = T(box.inv_dz);
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const T* comp = flux + b * NDIM * vol;
    const Rows<T> fx{comp + (NDIM - 1) * vol, box};
    const Rows<T> fy{comp + (NDIM >= 2 ? NDIM - 2 : 0) * vol, box};
    const Rows<T> fz{comp, box};
    const T* __restrict c = pad_row(fx.at(z, y), nx, 1, scratch);
    const T* __restrict y0 = fy.at(z, y);
    const T* __restrict ym = fy.at(z, y - 1);
    const T* __restrict z0 = fz.at(z, y);
    const T* __restrict zm = fz.at(z - 1, y);
    T* __restrict o = out + b * vol + (z * box.ny + y) * nx;
    #pragma omp simd
    for (int64_t x = 0; x < nx; ++x) {
      T acc = detail::backward_difference(c[x - 1], c[x], ix);
      if constexpr (NDIM >= 2) acc += detail::backward_difference(ym[x], y0[x], iy);
      if constexpr (NDIM >= 3) acc += detail::backward_difference(zm[x], z0[x], iz);
      o[x] = acc;
    }
  });
}

// Minus the forward difference of w per axis, written as the backward difference with the
// neighbours swapped: (w[i] - w[i + e_a]) / h_a.
template <typename T, int NDIM>
void divergence_adjoint_impl(const T* w, T* out, const Box& box) {
  const T ix = T(box.inv_dx), iy = T(box.inv_dy), iz = T(box.inv_dz);
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const Rows<T> in{w + b * vol, box};
    const int64_t row = (z * box.ny + y) * nx;
    T* comp = out + b * NDIM * vol + row;
    const T* __restrict c = pad_row(in.at(z, y), nx, 1, scratch);
    T* __restrict ox = comp + (NDIM - 1) * vol;
    #pragma omp simd
    for (int64_t x = 0; x < nx; ++x) ox[x] = detail::backward_difference(c[x + 1], c[x], ix);
    if constexpr (NDIM >= 2) {
      const T* __restrict p = in.at(z, y + 1);
      T* __restrict oy = comp + (NDIM - 2) * vol;
      #pragma omp simd
      for (int64_t x = 0; x < nx; ++x) oy[x] = detail::backward_difference(p[x], c[x], iy);
    }
    if constexpr (NDIM >= 3) {
      const T* __restrict p = in.at(z + 1, y);
      T* __restrict oz = comp;
      #pragma omp simd
      for (int64_t x = 0; x < nx; ++x) oz[x] = detail::backward_difference(p[x], c[x], iz);
    }
  });
}

}  // namespace

template <typename T>
void laplacian(const T* u, T* out, const Box& box, int ndim, int order) {
  switch (ndim * 10 + order) {
    case 12: laplacian_impl<T, 1, 2>(u, out, box); break;
    case 14: laplacian_impl<T, 1, 4>(u, out, box); break;
    case 22: laplacian_impl<T, 2, 2>(u, out, box); break;
    case 24: laplacian_impl<T, 2, 4>(u, out, box); break;
    case 32: laplacian_impl<T, 3, 2>(u, out, box); break;
    case 34: laplacian_impl<T, 3, 4>(u, out, box); break;
    default: break;  // validated by the caller
  }
}

// First-order operators: templated on the number of grid axes.
#define COARSEGRAIN_BY_NDIM(name)                                   \
  template <typename T>                                             \
  void name(const T* in, T* out, const Box& box, int ndim) {        \
    switch (ndim) {                                                 \
      case 1: name##_impl<T, 1>(in, out, box); break;               \
      case 2: name##_impl<T, 2>(in, out, box); break;               \
      case 3: name##_impl<T, 3>(in, out, box); break;               \
      default: break;                                               \
    }                                                               \
  }
COARSEGRAIN_BY_NDIM(gradient)
COARSEGRAIN_BY_NDIM(gradient_adjoint)
COARSEGRAIN_BY_NDIM(divergence)
COARSEGRAIN_BY_NDIM(divergence_adjoint)
#undef COARSEGRAIN_BY_NDIM

COARSEGRAIN_INSTANTIATE_STENCIL_KERNELS(float)
COARSEGRAIN_INSTANTIATE_STENCIL_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
