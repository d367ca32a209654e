// CUDA kernels for the finite-volume ops: grid-stride loops, one face or output cell per thread.
#include <algorithm>

#include "coarsegrain/cuda/finite_volume.h"
#include "coarsegrain/detail/finite_volume_math.h"
#include "coarsegrain/detail/stencil_math.h"

namespace coarsegrain::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535 * 8;

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

using detail::periodic_index;

// The WENO5 left and right states at face j + 1/2 of a periodic row.
template <typename T>
__device__ __forceinline__ void face_states(const T* row, int64_t j, int64_t n, T& l, T& r) {
  T w[6];  // v_{j-2 .. j+3}
  for (int k = 0; k < 6; ++k) w[k] = row[periodic_index(j - 2 + k, n)];
  l = detail::weno5_left(w[0], w[1], w[2], w[3], w[4]);
  r = detail::weno5_right(w[1], w[2], w[3], w[4], w[5]);
}

template <typename T>
__global__ void weno5_flux_kernel(const T* __restrict__ v, T* __restrict__ out, int64_t rows, int64_t n,
                                  bool godunov) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n, j = i % n;
    T l, rr;
    face_states(v + r * n, j, n, l, rr);
    out[i] = godunov ? detail::godunov_flux(l, rr) : detail::lax_friedrichs_flux(l, rr);
  }
}

template <typename T>
__global__ void weno5_reconstruct_kernel(const T* __restrict__ v, T* __restrict__ left, T* __restrict__ right,
                                         int64_t rows, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n, j = i % n;
    face_states(v + r * n, j, n, left[i], right[i]);
  }
}

template <typename T>
__global__ void restrict_kernel(const T* __restrict__ in, T* __restrict__ out, Box box, int64_t fz, int64_t fy,
                                int64_t fx) {
  const int64_t oz = box.nz / fz, oy = box.ny / fy, ox = box.nx / fx;
  const int64_t total = box.batch * oz * oy * ox;
  const T scale = T(1) / T(fz * fy * fx);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = i % ox, y = (i / ox) % oy, z = (i / (ox * oy)) % oz, b = i / (ox * oy * oz);
    T s = T(0);
    for (int64_t dz = 0; dz < fz; ++dz)
      for (int64_t dy = 0; dy < fy; ++dy) {
        const T* row = in + ((b * box.nz + z * fz + dz) * box.ny + y * fy + dy) * box.nx + x * fx;
        for (int64_t dx = 0; dx < fx; ++dx) s += row[dx];
      }
    out[i] = s * scale;
  }
}

template <typename T>
__global__ void filter_kernel(const T* __restrict__ v, const T* __restrict__ c, T* __restrict__ out, int64_t rows,
                              int64_t n, int width, int offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n, j = i % n;
    const T* row = v + r * n;
    T s = T(0);
    for (int k = 0; k < width; ++k) s += c[i * width + k] * row[periodic_index(j + offset + k, n)];
    out[i] = s;
  }
}

template <typename T>
__global__ void filter_grad_coeffs_kernel(const T* __restrict__ g, const T* __restrict__ v, T* __restrict__ gc,
                                          int64_t rows, int64_t n, int width, int offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * n * width;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t face = i / width, k = i % width, r = face / n, j = face % n;
    gc[i] = g[face] * v[r * n + periodic_index(j + offset + k, n)];
  }
}

template <typename T>
__global__ void filter_grad_input_kernel(const T* __restrict__ g, const T* __restrict__ c, T* __restrict__ gv,
                                         int64_t rows, int64_t n, int width, int offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows * n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / n, cell = i % n;
    T s = T(0);
    for (int k = 0; k < width; ++k) {
      const int64_t face = r * n + periodic_index(cell - offset - k, n);
      s += g[face] * c[face * width + k];
    }
    gv[i] = s;
  }
}

}  // namespace

template <typename T>
cudaError_t weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux,
                               cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  weno5_flux_kernel<T><<<blocks_for(rows * n), kThreads, 0, stream>>>(v, out, rows, n,
                                                                      flux == NumericalFlux::kGodunov);
  return cudaGetLastError();
}

template <typename T>
cudaError_t weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n, cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  weno5_reconstruct_kernel<T><<<blocks_for(rows * n), kThreads, 0, stream>>>(v, left, right, rows, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t restrict_average(const T* in, T* out, const GridShape& grid, int factor, cudaStream_t stream) {
  const Box box = as_box(grid);
  const int64_t fz = box.inv_dz != 0 ? factor : 1, fy = box.inv_dy != 0 ? factor : 1;
  const int64_t total = box.batch * (box.nz / fz) * (box.ny / fy) * (box.nx / factor);
  if (total == 0) return cudaSuccess;
  restrict_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(in, out, box, fz, fy, factor);
  return cudaGetLastError();
}

template <typename T>
cudaError_t stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width, int offset,
                           cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  filter_kernel<T><<<blocks_for(rows * n), kThreads, 0, stream>>>(v, c, out, rows, n, width, offset);
  return cudaGetLastError();
}

template <typename T>
cudaError_t stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c, int64_t rows,
                                    int64_t n, int width, int offset, cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  if (grad_c != nullptr)
    filter_grad_coeffs_kernel<T><<<blocks_for(rows * n * width), kThreads, 0, stream>>>(grad, v, grad_c, rows, n,
                                                                                         width, offset);
  if (grad_v != nullptr)
    filter_grad_input_kernel<T><<<blocks_for(rows * n), kThreads, 0, stream>>>(grad, c, grad_v, rows, n, width,
                                                                               offset);
  return cudaGetLastError();
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                        \
  template cudaError_t weno5_burgers_flux<T>(const T*, T*, int64_t, int64_t, NumericalFlux, cudaStream_t); \
  template cudaError_t weno5_reconstruct<T>(const T*, T*, T*, int64_t, int64_t, cudaStream_t);            \
  template cudaError_t restrict_average<T>(const T*, T*, const GridShape&, int, cudaStream_t);            \
  template cudaError_t stencil_filter<T>(const T*, const T*, T*, int64_t, int64_t, int, int, cudaStream_t); \
  template cudaError_t stencil_filter_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t,  \
                                                  int, int, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
