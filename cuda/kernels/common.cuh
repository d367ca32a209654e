// Private device helpers shared by the CUDA kernel families: launch shape, periodic shifts,
// the per-thread point loop and a read-only field view.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "coarsegrain/detail/stencil_math.h"
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

// Periodic indices: (i + k) mod n for small shifts, i mod n for any i (stencil_math.h).
using detail::periodic_index;
using detail::periodic_shift;

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

// --- z-marching launches (3D and the fused steppers) -------------------------------------------
// A block owns a kTileX x kTileY column of the (x, y) plane and walks a chunk of z, so values
// along z are reused from registers or shared memory instead of being re-read. Indices inside
// one batch entry are 32-bit (the launchers fall back to the point kernels for larger fields).
constexpr int kTileX = 32, kTileY = 8;

struct ZMarch {
  dim3 grid, block;
  int z_chunk;  // planes per block
};

// nullopt-like: ok == false when the field is too large for 32-bit indices or the grid limits.
struct ZMarchPlan {
  bool ok;
  ZMarch launch;
};

// Splits z into chunks so that the launch has about 2048 blocks (enough to fill a large GPU)
// without chunks shorter than 8 planes (each chunk re-reads a few halo planes).
inline ZMarchPlan plan_zmarch(const Box& box) {
  const int64_t vol = box.nz * box.ny * box.nx;
  if (vol >= (int64_t(1) << 31)) return {false, {}};
  const int64_t tiles = ((box.nx + kTileX - 1) / kTileX) * ((box.ny + kTileY - 1) / kTileY);
  const int64_t per_batch = std::max<int64_t>(1, tiles * box.batch);
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(box.nz / 8, (2048 + per_batch - 1) / per_batch));
  const int64_t z_chunk = (box.nz + chunks - 1) / chunks;
  chunks = (box.nz + z_chunk - 1) / z_chunk;
  const int64_t gy = (box.ny + kTileY - 1) / kTileY, gz = box.batch * chunks;
  if (gy > kMaxGridYZ || gz > kMaxGridYZ) return {false, {}};
  return {true, {dim3(static_cast<unsigned>((box.nx + kTileX - 1) / kTileX), static_cast<unsigned>(gy),
                      static_cast<unsigned>(gz)),
                 dim3(kTileX, kTileY, 1), static_cast<int>(z_chunk)}};
}

// The (batch entry, first plane, end plane) of this block under a ZMarch launch.
struct ZRange {
  int64_t batch;
  int begin, end;
};
__device__ __forceinline__ ZRange zmarch_range(const Box& box, int z_chunk) {
  const int nz = static_cast<int>(box.nz);
  const int chunks = (nz + z_chunk - 1) / z_chunk;
  const int begin = static_cast<int>(blockIdx.z % chunks) * z_chunk;
  return {static_cast<int64_t>(blockIdx.z / chunks), begin, min(begin + z_chunk, nz)};
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

// The neighbour accessor of the point-wise stencils (detail::laplacian_at) at the point
// (z, y, x) of `f`: at(_, axis, k) reads the value k points away along x (axis 0), y (1) or
// z (2), with periodic wrap.
template <typename T>
__device__ __forceinline__ auto periodic_neighbours(const Field<T>& f, const Box& box, int64_t z,
                                                    int64_t y, int64_t x) {
  return [&f, &box, z, y, x](int, int axis, int k) {
    if (axis == 0) return f(z, y, periodic_shift(x, k, box.nx));
    if (axis == 1) return f(z, periodic_shift(y, k, box.ny), x);
    return f(periodic_shift(z, k, box.nz), y, x);
  };
}

}  // namespace
}  // namespace coarsegrain::cuda
