// Private: row-wise building blocks of the CPU kernels, for files compiled once per instruction
// set (see cpu_isa.h). Everything here has internal linkage in namespace COARSEGRAIN_ISA, so
// no copy compiled for one instruction set can be picked by the linker for another.
#pragma once

#include <cstring>
#include <type_traits>

#include "coarsegrain/detail/stencil_math.h"
#include "coarsegrain/grid.h"
#include "coarsegrain/parallel.h"

#ifndef COARSEGRAIN_ISA
#error "include this header only from files compiled with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

// Below this many grid points a call runs on one thread: waking workers costs more.
constexpr int64_t kParallelThreshold = 1 << 15;
// The least work worth handing to a thread as one chunk, in grid points.
constexpr int64_t kChunkPoints = 1 << 13;

// Items per chunk so that a chunk holds at least kChunkPoints points of `points_per_item`.
inline int64_t grain_for(int64_t points_per_item) {
  return points_per_item >= kChunkPoints ? 1 : (kChunkPoints + points_per_item - 1) / points_per_item;
}

// Calls body(begin, end) over chunks of [0, n) of at least `grain` items each, on the kernels'
// thread pool (parallel.h) when `parallel`, else once over the whole range on this thread.
template <typename Body>
void parallel_chunks(int64_t n, int64_t grain, bool parallel, Body&& body) {
  if (!parallel) {
    if (n > 0) body(int64_t(0), n);
    return;
  }
  using B = std::remove_reference_t<Body>;
  parallel::run(
      n, grain, [](void* ctx, int64_t begin, int64_t end) { (*static_cast<B*>(ctx))(begin, end); },
      &body);
}

using detail::periodic_index;

// Row access into one batch entry of a box-shaped field, periodic in z and y.
template <typename T>
struct Rows {
  const T* base;
  const Box& box;
  const T* at(int64_t z, int64_t y) const {
    return base + (periodic_index(z, box.nz) * box.ny + periodic_index(y, box.ny)) * box.nx;
  }
};

// Copies `row` into `scratch` with a periodic halo of `halo` points on each side and returns
// p such that p[x] == row[x mod nx] for x in [-halo, nx + halo).
template <typename T>
inline const T* pad_row(const T* row, int64_t nx, int halo, T* scratch) {
  std::memcpy(scratch + halo, row, sizeof(T) * static_cast<size_t>(nx));
  for (int k = 1; k <= halo; ++k) {
    scratch[halo - k] = row[periodic_index<int64_t>(-k, nx)];
    scratch[halo + nx - 1 + k] = row[periodic_index(nx - 1 + k, nx)];
  }
  return scratch + halo;
}

// Calls body(b, z, y, scratch) for every row of the box, in parallel when worthwhile;
// scratch holds nx + 2 * halo values private to the calling thread.
template <typename T, typename Body>
void for_each_row(const Box& box, int halo, Body body) {
  const int64_t rows = box.batch * box.nz * box.ny;
  const bool parallel = rows > 1 && rows * box.nx >= kParallelThreshold;
  parallel_chunks(rows, grain_for(box.nx), parallel, [&](int64_t r0, int64_t r1) {
    // Plain new[] rather than std::vector: this file is compiled once per instruction set,
    // and inline library code shared between those copies could leak AVX2 into the baseline.
    T* scratch = new T[static_cast<size_t>(box.nx + 2 * halo)];
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t zb = r / box.ny;
      body(zb / box.nz, zb % box.nz, r % box.ny, scratch);
    }
    delete[] scratch;
  });
}

// The neighbour accessor of the point-wise stencils (detail::laplacian_at) on one output row:
// at(x, axis, k) is c[x + k] along x (axis 0; c a padded row), the row ym (k < 0) or yp (k > 0)
// along y (axis 1), and zm or zp along z (axis 2). Built once per row, outside the simd loop.
template <typename T>
inline auto row_neighbours(const T* c, const T* ym, const T* yp, const T* zm, const T* zp) {
  return [=](int64_t x, int axis, int k) {
    if (axis == 0) return c[x + k];
    if (axis == 1) return k < 0 ? ym[x] : yp[x];
    return k < 0 ? zm[x] : zp[x];
  };
}

inline int64_t volume(const Box& box) { return box.nz * box.ny * box.nx; }

}  // namespace
}  // namespace coarsegrain::COARSEGRAIN_ISA
