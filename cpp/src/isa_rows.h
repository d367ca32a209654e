// Private: row-wise building blocks of the CPU kernels, for files compiled once per instruction
// set (see cpu_isa.h). Everything here has internal linkage in namespace COARSEGRAIN_ISA, so
// no copy compiled for one instruction set can be picked by the linker for another.
#pragma once

#include <cstring>

#include "coarsegrain/grid.h"

#ifndef COARSEGRAIN_ISA
#error "include this header only from files compiled with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

// Below this many grid points a call runs on one thread: starting a team costs more.
constexpr int64_t kParallelThreshold = 1 << 15;

inline int64_t wrap(int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;  // the common case; avoid a division
  i %= n;
  return i < 0 ? i + n : i;
}

// Row access into one batch entry of a box-shaped field, periodic in z and y.
template <typename T>
struct Rows {
  const T* base;
  const Box& box;
  const T* at(int64_t z, int64_t y) const {
    return base + (wrap(z, box.nz) * box.ny + wrap(y, box.ny)) * box.nx;
  }
};

// Copies `row` into `scratch` with a periodic halo of `halo` points on each side and returns
// p such that p[x] == row[x mod nx] for x in [-halo, nx + halo).
template <typename T>
inline const T* pad_row(const T* row, int64_t nx, int halo, T* scratch) {
  std::memcpy(scratch + halo, row, sizeof(T) * static_cast<size_t>(nx));
  for (int k = 1; k <= halo; ++k) {
    scratch[halo - k] = row[wrap(-k, nx)];
    scratch[halo + nx - 1 + k] = row[wrap(nx - 1 + k, nx)];
  }
  return scratch + halo;
}

// Calls body(b, z, y, scratch) for every row of the box, in parallel when worthwhile;
// scratch holds nx + 2 * halo values private to the calling thread.
template <typename T, typename Body>
void for_each_row(const Box& box, int halo, Body body) {
  const int64_t rows = box.batch * box.nz * box.ny;
  const bool parallel = rows > 1 && rows * box.nx >= kParallelThreshold;
#pragma omp parallel if (parallel)
  {
    // Plain new[] rather than std::vector: this file is compiled once per instruction set,
    // and inline library code shared between those copies could leak AVX2 into the baseline.
    T* scratch = new T[static_cast<size_t>(box.nx + 2 * halo)];
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t zb = r / box.ny;
      body(zb / box.nz, zb % box.nz, r % box.ny, scratch);
    }
    delete[] scratch;
  }
}

inline int64_t volume(const Box& box) { return box.nz * box.ny * box.nx; }

}  // namespace
}  // namespace coarsegrain::COARSEGRAIN_ISA
