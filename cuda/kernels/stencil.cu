// CUDA kernels for the periodic stencil family: one thread per output point, threads of a
// warp along x so loads and stores coalesce; neighbour loads go through the read-only cache.
#include "coarsegrain/cuda/stencil.h"
#include "common.cuh"

namespace coarsegrain::cuda {
namespace {

template <typename T, int NDIM, int ORDER>
__global__ void laplacian_kernel(const T* __restrict__ u, T* __restrict__ out, Box box, T cx,
                                 T cy, T cz) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> f{u + b * vol, box.ny, box.nx};
    const auto at = periodic_neighbours(f, box, z, y, x);
    const T acc = detail::laplacian_at<NDIM, ORDER>(f(z, y, x), cx, cy, cz, at, 0);
    out[b * vol + (z * box.ny + y) * box.nx + x] = acc;
  });
}

// 3D Laplacian by z-marching: a thread owns one (x, y) column of a chunk and keeps the 2R + 1
// values along z in registers; x and y neighbours come through the read-only cache.
template <typename T, int ORDER>
__global__ void __launch_bounds__(kTileX * kTileY)
    laplacian3d_zmarch_kernel(const T* __restrict__ u, T* __restrict__ out, Box box, T cx, T cy,
                              T cz, int z_chunk) {
  constexpr int R = ORDER == 2 ? 1 : 2;
  const ZRange zr = zmarch_range(box, z_chunk);
  const int nx = static_cast<int>(box.nx), ny = static_cast<int>(box.ny), nz = static_cast<int>(box.nz);
  const int x = blockIdx.x * kTileX + threadIdx.x, y = blockIdx.y * kTileY + threadIdx.y;
  if (x >= nx || y >= ny) return;
  const int plane = nx * ny;
  const T* ub = u + zr.batch * plane * static_cast<int64_t>(nz);
  T* ob = out + zr.batch * plane * static_cast<int64_t>(nz);
  const int row = y * nx;
  int xo[2 * R + 1], yo[2 * R + 1];  // in-plane offsets of the x and y neighbours
#pragma unroll
  for (int j = -R; j <= R; ++j) {
    xo[j + R] = row + periodic_index(x + j, nx);
    yo[j + R] = periodic_index(y + j, ny) * nx + x;
  }
  T win[2 * R + 1];  // u(z - R .. z + R) at this column
#pragma unroll
  for (int j = 0; j < 2 * R; ++j) win[j] = __ldg(ub + periodic_index(zr.begin - R + j, nz) * plane + row + x);
  int z_ahead = periodic_index(zr.begin + R, nz);
  for (int z = zr.begin; z < zr.end; ++z) {
    win[2 * R] = __ldg(ub + z_ahead * plane + row + x);
    z_ahead = z_ahead + 1 == nz ? 0 : z_ahead + 1;
    const T* p = ub + z * plane;
    // Neighbours along x and y through the read-only cache, along z from the register window.
    const auto at = [&](int, int axis, int k) {
      if (axis == 0) return __ldg(p + xo[k + R]);
      if (axis == 1) return __ldg(p + yo[k + R]);
      return win[k + R];
    };
    const T acc = detail::laplacian_at<3, ORDER>(win[R], cx, cy, cz, at, 0);
    ob[z * plane + row + x] = acc;
#pragma unroll
    for (int j = 0; j < 2 * R; ++j) win[j] = win[j + 1];
  }
}

template <typename T, int NDIM>
__global__ void gradient_kernel(const T* __restrict__ u, T* __restrict__ grad, Box box, T hx,
                                T hy, T hz) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> f{u + b * vol, box.ny, box.nx};
    T* g = grad + b * NDIM * vol + (z * box.ny + y) * box.nx + x;
    g[(NDIM - 1) * vol] = detail::central_difference(f(z, y, periodic_shift(x, -1, box.nx)),
                                                     f(z, y, periodic_shift(x, 1, box.nx)), hx);
    if constexpr (NDIM >= 2)
      g[(NDIM - 2) * vol] = detail::central_difference(f(z, periodic_shift(y, -1, box.ny), x),
                                                       f(z, periodic_shift(y, 1, box.ny), x), hy);
    if constexpr (NDIM >= 3)
      g[0] = detail::central_difference(f(periodic_shift(z, -1, box.nz), y, x),
                                        f(periodic_shift(z, 1, box.nz), y, x), hz);
  });
}

template <typename T, int NDIM>
__global__ void gradient_adjoint_kernel(const T* __restrict__ v, T* __restrict__ out, Box box,
                                        T hx, T hy, T hz) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const T* comp = v + b * NDIM * vol;
    const Field<T> vx{comp + (NDIM - 1) * vol, box.ny, box.nx};
    // Minus the central difference: the neighbours swapped.
    T acc = detail::central_difference(vx(z, y, periodic_shift(x, 1, box.nx)),
                                       vx(z, y, periodic_shift(x, -1, box.nx)), hx);
    if constexpr (NDIM >= 2) {
      const Field<T> vy{comp + (NDIM - 2) * vol, box.ny, box.nx};
      acc += detail::central_difference(vy(z, periodic_shift(y, 1, box.ny), x),
                                        vy(z, periodic_shift(y, -1, box.ny), x), hy);
    }
    if constexpr (NDIM >= 3) {
      const Field<T> vz{comp, box.ny, box.nx};
      acc += detail::central_difference(vz(periodic_shift(z, 1, box.nz), y, x),
                                        vz(periodic_shift(z, -1, box.nz), y, x), hz);
    }
    out[b * vol + (z * box.ny + y) * box.nx + x] = acc;
  });
}

template <typename T, int NDIM>
__global__ void divergence_kernel(const T* __restrict__ flux, T* __restrict__ out, Box box, T ix,
                                  T iy, T iz) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const T* comp = flux + b * NDIM * vol;
    const Field<T> fx{comp + (NDIM - 1) * vol, box.ny, box.nx};
    T acc = detail::backward_difference(fx(z, y, periodic_shift(x, -1, box.nx)), fx(z, y, x), ix);
    if constexpr (NDIM >= 2) {
      const Field<T> fy{comp + (NDIM - 2) * vol, box.ny, box.nx};
      acc += detail::backward_difference(fy(z, periodic_shift(y, -1, box.ny), x), fy(z, y, x), iy);
    }
    if constexpr (NDIM >= 3) {
      const Field<T> fz{comp, box.ny, box.nx};
      acc += detail::backward_difference(fz(periodic_shift(z, -1, box.nz), y, x), fz(z, y, x), iz);
    }
    out[b * vol + (z * box.ny + y) * box.nx + x] = acc;
  });
}

template <typename T, int NDIM>
__global__ void divergence_adjoint_kernel(const T* __restrict__ w, T* __restrict__ out, Box box,
                                          T ix, T iy, T iz) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> f{w + b * vol, box.ny, box.nx};
    const T c = f(z, y, x);
    T* o = out + b * NDIM * vol + (z * box.ny + y) * box.nx + x;
    // Minus the forward difference: the backward difference with the neighbours swapped.
    o[(NDIM - 1) * vol] = detail::backward_difference(f(z, y, periodic_shift(x, 1, box.nx)), c, ix);
    if constexpr (NDIM >= 2)
      o[(NDIM - 2) * vol] = detail::backward_difference(f(z, periodic_shift(y, 1, box.ny), x), c, iy);
    if constexpr (NDIM >= 3)
      o[0] = detail::backward_difference(f(periodic_shift(z, 1, box.nz), y, x), c, iz);
  });
}

}  // namespace

template <typename T>
cudaError_t laplacian(const T* u, T* out, const GridShape& g, int order, cudaStream_t stream) {
  if (order != 2 && order != 4) return cudaErrorInvalidValue;
  const Box box = as_box(g);
  if (box.batch == 0) return cudaSuccess;
  const Launch l = launch_for(box);
  const double s = order == 2 ? 1.0 : 1.0 / 12.0;
  const T cx = T(s * box.inv_dx * box.inv_dx), cy = T(s * box.inv_dy * box.inv_dy),
          cz = T(s * box.inv_dz * box.inv_dz);
  if (g.ndim == 3) {
    const ZMarchPlan plan = plan_zmarch(box);
    if (plan.ok) {
      const ZMarch& z = plan.launch;
      if (order == 2)
        laplacian3d_zmarch_kernel<T, 2><<<z.grid, z.block, 0, stream>>>(u, out, box, cx, cy, cz, z.z_chunk);
      else
        laplacian3d_zmarch_kernel<T, 4><<<z.grid, z.block, 0, stream>>>(u, out, box, cx, cy, cz, z.z_chunk);
      return cudaGetLastError();
    }
  }
  dispatch_ndim(g.ndim, [&](auto nd) {
    constexpr int N = decltype(nd)::value;
    if (order == 2)
      laplacian_kernel<T, N, 2><<<l.grid, l.block, 0, stream>>>(u, out, box, cx, cy, cz);
    else
      laplacian_kernel<T, N, 4><<<l.grid, l.block, 0, stream>>>(u, out, box, cx, cy, cz);
  });
  return cudaGetLastError();
}

// The four first-order operators share one launch shape: a kernel over the box and three
// per-axis coefficients `scale * inv_d{x,y,z}`.
#define COARSEGRAIN_FIRST_ORDER_LAUNCHER(name, kernel, scale)                                \
  template <typename T>                                                                    \
  cudaError_t name(const T* in, T* out, const GridShape& g, cudaStream_t stream) {          \
    const Box box = as_box(g);                                                             \
    if (box.batch == 0) return cudaSuccess;                                                \
    const Launch l = launch_for(box);                                                      \
    const T cx = T((scale) * box.inv_dx), cy = T((scale) * box.inv_dy),                    \
            cz = T((scale) * box.inv_dz);                                                  \
    dispatch_ndim(g.ndim, [&](auto nd) {                                                   \
      kernel<T, decltype(nd)::value><<<l.grid, l.block, 0, stream>>>(in, out, box, cx, cy, cz); \
    });                                                                                    \
    return cudaGetLastError();                                                             \
  }

COARSEGRAIN_FIRST_ORDER_LAUNCHER(gradient, gradient_kernel, 0.5)
COARSEGRAIN_FIRST_ORDER_LAUNCHER(gradient_adjoint, gradient_adjoint_kernel, 0.5)
COARSEGRAIN_FIRST_ORDER_LAUNCHER(divergence, divergence_kernel, 1.0)
COARSEGRAIN_FIRST_ORDER_LAUNCHER(divergence_adjoint, divergence_adjoint_kernel, 1.0)
#undef COARSEGRAIN_FIRST_ORDER_LAUNCHER

#define COARSEGRAIN_INSTANTIATE(T)                                                        \
  template cudaError_t laplacian<T>(const T*, T*, const GridShape&, int, cudaStream_t);   \
  template cudaError_t gradient<T>(const T*, T*, const GridShape&, cudaStream_t);         \
  template cudaError_t gradient_adjoint<T>(const T*, T*, const GridShape&, cudaStream_t); \
  template cudaError_t divergence<T>(const T*, T*, const GridShape&, cudaStream_t);       \
  template cudaError_t divergence_adjoint<T>(const T*, T*, const GridShape&, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
