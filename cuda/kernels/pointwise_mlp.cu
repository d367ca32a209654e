// CUDA kernels for the point-wise networks: one point per thread (grid-stride), its activations
// in registers / local memory, the weights read through the cache (every thread of a warp reads
// the same one). The backward pass sums each parameter's gradient over a warp with shuffles, over
// a block in shared memory, and over blocks with one atomic add per block and parameter.
#include <algorithm>

#include "coarsegrain/cuda/pointwise_mlp.h"
#include "coarsegrain/detail/mlp_math.h"

namespace coarsegrain::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

using Layout = detail::MlpLayout;

// acts[l * kMlpMaxWidth + j]: unit j of layer l (layer 0: the input).
template <typename T>
__device__ void forward_point(const T* __restrict__ params, const MlpShape& s, const Layout& lay, T* acts) {
  for (int l = 1; l <= s.depth; ++l) {
    const int n_in = l == 1 ? s.n_in : s.width;
    const T* w = params + lay.w(l);
    const T* b = params + lay.b(l);
    for (int j = 0; j < s.width; ++j) {
      T z = __ldg(b + j);
      for (int i = 0; i < n_in; ++i) z += __ldg(w + j * n_in + i) * acts[(l - 1) * kMlpMaxWidth + i];
      acts[l * kMlpMaxWidth + j] = detail::mlp_activate(s.activation, z);
    }
  }
}

template <typename T>
__global__ void mlp_forward_kernel(const T* __restrict__ x, const T* __restrict__ params, T* __restrict__ y,
                                   int64_t points, MlpShape s) {
  const Layout lay(s);
  T acts[(kMlpMaxDepth + 1) * kMlpMaxWidth];
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < points;
       p += int64_t(gridDim.x) * blockDim.x) {
    for (int i = 0; i < s.n_in; ++i) acts[i] = x[p * s.n_in + i];
    forward_point(params, s, lay, acts);
    for (int k = 0; k < s.n_out; ++k) {
      T o = __ldg(params + lay.out_b + k);
      for (int j = 0; j < s.width; ++j) o += __ldg(params + lay.out_w + k * s.width + j) * acts[s.depth * kMlpMaxWidth + j];
      y[p * s.n_out + k] = o;
    }
  }
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// Adds v, summed over the warp, to acc (lane 0 does the add).
template <typename T>
__device__ __forceinline__ void add_warp(T* acc, T v) {
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) atomicAdd(acc, v);
}

template <typename T>
__global__ void mlp_backward_kernel(const T* __restrict__ grad_y, const T* __restrict__ x,
                                    const T* __restrict__ params, T* __restrict__ grad_x, T* __restrict__ grad_params,
                                    int64_t points, int64_t n_params, MlpShape s) {
  extern __shared__ __align__(8) unsigned char shared_bytes[];
  T* acc = reinterpret_cast<T*>(shared_bytes);
  for (int64_t k = threadIdx.x; k < n_params; k += blockDim.x) acc[k] = T(0);
  __syncthreads();
  const Layout lay(s);
  T acts[(kMlpMaxDepth + 1) * kMlpMaxWidth];
  T delta[kMlpMaxWidth], prev[kMlpMaxWidth];
  // Whole blocks step together, so every lane of a warp takes part in the shuffles; lanes past
  // the last point carry zero gradients.
  for (int64_t base = blockIdx.x * int64_t(blockDim.x); base < points; base += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = base + threadIdx.x;
    const bool live = p < points;
    for (int i = 0; i < s.n_in; ++i) acts[i] = live ? x[p * s.n_in + i] : T(0);
    forward_point(params, s, lay, acts);
    const T* a_top = acts + s.depth * kMlpMaxWidth;
    for (int j = 0; j < s.width; ++j) prev[j] = T(0);
    for (int k = 0; k < s.n_out; ++k) {
      const T d = live ? grad_y[p * s.n_out + k] : T(0);
      add_warp(acc + lay.out_b + k, d);
      for (int j = 0; j < s.width; ++j) {
        add_warp(acc + lay.out_w + k * s.width + j, d * a_top[j]);
        prev[j] += __ldg(params + lay.out_w + k * s.width + j) * d;
      }
    }
    for (int j = 0; j < s.width; ++j) delta[j] = prev[j] * detail::mlp_activation_slope(s.activation, a_top[j]);
    for (int l = s.depth; l >= 1; --l) {
      const int n_in = l == 1 ? s.n_in : s.width;
      const T* a_in = acts + (l - 1) * kMlpMaxWidth;
      const T* w = params + lay.w(l);
      for (int i = 0; i < n_in; ++i) prev[i] = T(0);
      for (int j = 0; j < s.width; ++j) {
        add_warp(acc + lay.b(l) + j, delta[j]);
        for (int i = 0; i < n_in; ++i) {
          add_warp(acc + lay.w(l) + j * n_in + i, delta[j] * a_in[i]);
          prev[i] += __ldg(w + j * n_in + i) * delta[j];
        }
      }
      if (l > 1) {
        for (int i = 0; i < n_in; ++i) delta[i] = prev[i] * detail::mlp_activation_slope(s.activation, a_in[i]);
      } else if (grad_x != nullptr && live) {
        for (int i = 0; i < n_in; ++i) grad_x[p * s.n_in + i] = prev[i];
      }
    }
  }
  __syncthreads();
  if (grad_params != nullptr)
    for (int64_t k = threadIdx.x; k < n_params; k += blockDim.x) atomicAdd(grad_params + k, acc[k]);
}

}  // namespace

template <typename T>
cudaError_t pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s, cudaStream_t stream) {
  if (points == 0) return cudaSuccess;
  mlp_forward_kernel<T><<<blocks_for(points), kThreads, 0, stream>>>(x, params, y, points, s);
  return cudaGetLastError();
}

template <typename T>
cudaError_t pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params,
                                   int64_t points, const MlpShape& s, cudaStream_t stream) {
  const int64_t n_params = mlp_parameter_count(s);
  if (grad_params != nullptr) {
    const cudaError_t err = cudaMemsetAsync(grad_params, 0, sizeof(T) * n_params, stream);
    if (err != cudaSuccess) return err;
  }
  if (points == 0) return cudaSuccess;
  const size_t shared = sizeof(T) * static_cast<size_t>(n_params);
  mlp_backward_kernel<T><<<blocks_for(points), kThreads, shared, stream>>>(grad_y, x, params, grad_x, grad_params,
                                                                           points, n_params, s);
  return cudaGetLastError();
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                                \
  template cudaError_t pointwise_mlp<T>(const T*, const T*, T*, int64_t, const MlpShape&, cudaStream_t);           \
  template cudaError_t pointwise_mlp_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, const MlpShape&, \
                                                 cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
