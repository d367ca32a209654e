// Private device helpers shared by the CUDA kernel families: launch shape, periodic shifts,
// the per-thread point loop and a read-only field view.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "coarsegrain/grid.h"

namespace coarsegrain::cuda {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int64_t kMaxGridYZ = 65535;

struct Launch {
  dim3 grid, block;
};

// x across threads (a power of two >= 32 covering nx up to 256), y within the block and across
// blocks, (batch, z) across blocks; the kernels loop when y or (batch, z) exceed grid limits.
Launch launch_for(const Box& box) {
  int bx = 32;
  while (bx < box.nx && bx < kThreadsPerBlock) bx *= 2;
  const int by = kThreadsPerBlock / bx;
  const int64_t gx = (box.nx + bx - 1) / bx;
  const int64_t gy = std::min<int64_t>((box.ny + by - 1) / by, kMaxGridYZ);
  const int64_t gz = std::min<int64_t>(box.batch * box.nz, kMaxGridYZ);
  return Launch{dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz)),
                dim3(static_cast<unsigned>(bx), static_cast<unsigned>(by), 1)};
}

__device__ __forceinline__ int64_t shifted(int64_t i, int k, int64_t n) {
  i += k;
  while (i < 0) i += n;
  while (i >= n) i -= n;
  return i;
}

// Calls f(b, z, y, x) for every point this thread owns.
template <typename F>
__device__ __forceinline__ void for_each_point(const Box& box, F f) {
  const int64_t x = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (x >= box.nx) return;
  const int64_t zb_count = box.batch * box.nz;
  for (int64_t y = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; y < box.ny;
       y += static_cast<int64_t>(gridDim.y) * blockDim.y) {
    for (int64_t zb = blockIdx.z; zb < zb_count; zb += gridDim.z) {
      f(zb / box.nz, zb % box.nz, y, x);
    }
  }
}

// Read-only view of one batch entry (or one component) of a box-shaped field.
template <typename T>
struct Field {
  const T* __restrict__ base;
  int64_t ny, nx;
  __device__ __forceinline__ T operator()(int64_t z, int64_t y, int64_t x) const {
    return __ldg(base + (z * ny + y) * nx + x);
  }
};

}  // namespace
}  // namespace coarsegrain::cuda
