// CUDA kernels of particle binning: one thread per particle (grid-stride), the per-particle
// math of coarsegrain/detail/binning_math.h (shared with the CPU kernels). When the sums of one
// call fit in shared memory, each block accumulates privately there and adds its partial to
// global memory once, so atomics on hot cells stay on-chip.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "coarsegrain/cuda/binning.h"
#include "coarsegrain/detail/binning_math.h"

namespace coarsegrain::cuda {
namespace {

using namespace binning_math;

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
constexpr size_t kSharedBytes = 48 * 1024;

__device__ __forceinline__ void note(Status s, int64_t p, int axis, unsigned long long* counters) {
  if (s == kDropped) {
    atomicAdd(counters, 1ull);
  } else {
    atomicAdd(counters + 1, 1ull);
    atomicMin(counters + 2, static_cast<unsigned long long>(p) * 4ull + static_cast<unsigned long long>(axis));
  }
}

template <typename T, int D, bool SHARED>
__global__ void __launch_bounds__(kThreads)
    bin_kernel(const T* __restrict__ pos, const T* __restrict__ q, int64_t n, int64_t nq, BinAxes axes,
               bool periodic, bool cic, int64_t cells, T* __restrict__ out, unsigned long long* counters) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  T* local = reinterpret_cast<T*>(shared_raw);
  const int64_t width = cells * nq;
  if (SHARED) {
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) local[i] = T(0);
    __syncthreads();
  }
  T* dst = SHARED ? local : out;
  auto add = [dst](int64_t i, double v) { atomicAdd(dst + i, T(v)); };
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < n; p += stride) {
    int bad = -1;
    const Status s = deposit<D>(pos + p * D, q != nullptr ? q + p * nq : nullptr, nq, axes, periodic, cic, cells,
                                add, bad);
    if (s != kInside) note(s, p, bad, counters);
  }
  if (SHARED) {
    __syncthreads();
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x)
      if (local[i] != T(0)) atomicAdd(out + i, local[i]);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(const T* __restrict__ grad, const T* __restrict__ pos, const T* __restrict__ q, int64_t n,
                  int64_t nq, BinAxes axes, bool periodic, bool cic, int64_t cells, T* __restrict__ gq,
                  T* __restrict__ gp) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < n; p += stride)
    gather<D>(grad, pos + p * D, q != nullptr ? q + p * nq : nullptr, nq, axes, periodic, cic, cells,
              gq != nullptr ? gq + p * nq : nullptr, cic && gp != nullptr ? gp + p * D : nullptr);
}

__global__ void init_counters(unsigned long long* counters) {
  counters[0] = 0;
  counters[1] = 0;
  counters[2] = ~0ull;
}

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)));
}

template <typename F>
void by_ndim(int ndim, F&& f) {
  switch (ndim) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    default: f(std::integral_constant<int, 3>{}); break;
  }
}

}  // namespace

template <typename T>
cudaError_t bin_particles(const T* positions, const T* quantities, int64_t n, int64_t nq, const BinGrid& grid,
                          T* out, unsigned long long* counters, cudaStream_t stream) {
  const int64_t cells = grid.cells();
  const size_t bytes = static_cast<size_t>(cells * nq) * sizeof(T);
  cudaError_t err = cudaMemsetAsync(out, 0, bytes, stream);
  if (err != cudaSuccess) return err;
  init_counters<<<1, 1, 0, stream>>>(counters);
  if (n == 0) return cudaGetLastError();
  const BinAxes axes = make_axes(grid);
  const bool cic = grid.assignment == Assignment::kCloudInCell;
  const bool shared = bytes <= kSharedBytes;
  const unsigned blocks = blocks_for(n);
  by_ndim(grid.ndim, [&](auto nd) {
    constexpr int D = decltype(nd)::value;
    if (shared)
      bin_kernel<T, D, true><<<blocks, kThreads, bytes, stream>>>(positions, quantities, n, nq, axes, grid.periodic,
                                                                   cic, cells, out, counters);
    else
      bin_kernel<T, D, false><<<blocks, kThreads, 0, stream>>>(positions, quantities, n, nq, axes, grid.periodic,
                                                                cic, cells, out, counters);
  });
  return cudaGetLastError();
}

template <typename T>
cudaError_t bin_particles_backward(const T* grad, const T* positions, const T* quantities, int64_t n, int64_t nq,
                                   const BinGrid& grid, T* grad_quantities, T* grad_positions,
                                   cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  const BinAxes axes = make_axes(grid);
  const bool cic = grid.assignment == Assignment::kCloudInCell;
  by_ndim(grid.ndim, [&](auto nd) {
    constexpr int D = decltype(nd)::value;
    gather_kernel<T, D><<<blocks_for(n), kThreads, 0, stream>>>(grad, positions, quantities, n, nq, axes,
                                                                grid.periodic, cic, grid.cells(), grad_quantities,
                                                                grad_positions);
  });
  return cudaGetLastError();
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                            \
  template cudaError_t bin_particles<T>(const T*, const T*, int64_t, int64_t, const BinGrid&, T*,            \
                                        unsigned long long*, cudaStream_t);                                  \
  template cudaError_t bin_particles_backward<T>(const T*, const T*, const T*, int64_t, int64_t, const BinGrid&, \
                                                 T*, T*, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
