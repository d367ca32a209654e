// CPU kernels of the 2D lattice diffusion rate (coarsegrain/lattice.h), compiled once per
// instruction set (see cpu_isa.h). The point-wise math is coarsegrain/detail/lattice_math.h,
// shared with the CUDA kernel. Built with -ffp-contract=off (CMakeLists.txt): the vector loops,
// their scalar remainders and the wrapped edges round alike, so the bits do not depend on how the
// work is split among threads.
#include "lattice_kernels.h"

#include <cstddef>

#include "coarsegrain/detail/lattice_math.h"

#ifndef COARSEGRAIN_ISA
#error "compile this file with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {

// Rows [begin, end) of the grid rows (plane * ny + j), taken a plane at a time. The interior rows
// of a run (1 <= j <= ny - 2) are one flat loop over p = j * nx + i with the neighbours at p +- 1
// and p +- nx: long enough to vectorize even on 5 x 5 patches. It also visits the first and last
// column of those rows, where p +- 1 is the wrong point (the row before or after, still inside
// the plane); those two columns are rewritten afterwards by rate_at, as are the first and last
// rows (wrapped, or 0 on a patch).
template <typename T>
void lattice_rows(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end, const LatticeRate& p) {
  using lattice_math::rate;
  using lattice_math::rate_at;
  const int64_t ny = p.ny, nx = p.nx, plane = ny * nx;
  const T inv_spacing_sq = T(1.0 / (p.spacing * p.spacing));
  const bool periodic = p.boundary == LatticeBoundary::kPeriodic;
  for (int64_t r = begin; r < end;) {
    const int64_t b = r / ny, first = r % ny, last = first + (end - r) < ny ? first + (end - r) : ny;  // rows [first, last)
    r += last - first;
    const T* __restrict uu = u + b * plane;
    const T* __restrict kxx = kx + (b % p.kx_planes) * plane;
    const T* __restrict kyy = ky + (b % p.ky_planes) * plane;
    T* __restrict o = out + b * plane;
    const int64_t j0 = first > 1 ? first : 1, j1 = last < ny - 1 ? last : ny - 1;  // interior rows of the run
    if (j0 < j1) {
      const int64_t p1 = j1 * nx - 1;
#pragma omp simd
      for (int64_t q = j0 * nx + 1; q < p1; ++q)
        o[q] = rate(uu[q], uu[q + 1], uu[q - 1], uu[q + nx], uu[q - nx], kxx[q], kxx[q - 1], kyy[q], kyy[q - nx],
                    inv_spacing_sq);
      for (int64_t j = j0; j < j1; ++j) {
        o[j * nx] = rate_at(uu, kxx, kyy, ny, nx, j, int64_t(0), periodic, inv_spacing_sq);
        o[j * nx + nx - 1] = rate_at(uu, kxx, kyy, ny, nx, j, nx - 1, periodic, inv_spacing_sq);
      }
    }
    for (int64_t j = first; j < last; ++j) {
      if (j != 0 && j != ny - 1) continue;
      for (int64_t i = 0; i < nx; ++i) o[j * nx + i] = rate_at(uu, kxx, kyy, ny, nx, j, i, periodic, inv_spacing_sq);
    }
  }
}

// Rows [begin, end) in row-major order across planes (item = j * planes + b), for diffusivities
// shared by every plane: the rows of kx and ky stay in the L1 cache while the row is computed for
// every plane, instead of being read again from memory for each plane. The same operations per
// point as lattice_rows.
template <typename T>
void lattice_rows_across_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end,
                                const LatticeRate& p) {
  using lattice_math::rate;
  using lattice_math::rate_at;
  const int64_t ny = p.ny, nx = p.nx, plane = ny * nx;
  const T inv_spacing_sq = T(1.0 / (p.spacing * p.spacing));
  const bool periodic = p.boundary == LatticeBoundary::kPeriodic;
  const T* __restrict kxx = kx;
  const T* __restrict kyy = ky;
  for (int64_t r = begin; r < end; ++r) {
    const int64_t j = r / p.planes, b = r % p.planes;
    const T* __restrict uu = u + b * plane;
    T* __restrict o = out + b * plane;
    if (j == 0 || j == ny - 1) {
      for (int64_t i = 0; i < nx; ++i) o[j * nx + i] = rate_at(uu, kxx, kyy, ny, nx, j, i, periodic, inv_spacing_sq);
      continue;
    }
    const int64_t q1 = j * nx + nx - 1;
#pragma omp simd
    for (int64_t q = j * nx + 1; q < q1; ++q)
      o[q] = rate(uu[q], uu[q + 1], uu[q - 1], uu[q + nx], uu[q - nx], kxx[q], kxx[q - 1], kyy[q], kyy[q - nx],
                  inv_spacing_sq);
    o[j * nx] = rate_at(uu, kxx, kyy, ny, nx, j, int64_t(0), periodic, inv_spacing_sq);
    o[j * nx + nx - 1] = rate_at(uu, kxx, kyy, ny, nx, j, nx - 1, periodic, inv_spacing_sq);
  }
}

// Whole patches [begin, end) of small planes (boundary "patch"): a group of consecutive planes is
// one flat loop from row 1 of its first plane to row ny - 2 of its last, neighbours at q +- 1 and
// q +- nx, and every ring point (where the loop computed across a row or plane edge) is then set
// to 0. A 5 x 5 patch alone is a loop of 13 points; a group is thousands. The diffusivities come
// from kx / ky directly when they have a plane per patch (a group never runs past the end of
// their planes), else from a copy of the shared plane tiled over the group.
template <typename T>
void lattice_patch_planes(const T* u, const T* kx, const T* ky, T* out, int64_t begin, int64_t end,
                          const LatticeRate& p) {
  using lattice_math::rate;
  const int64_t ny = p.ny, nx = p.nx, plane = ny * nx;
  const int64_t group = plane >= 4096 ? 1 : 4096 / plane;
  const T inv_spacing_sq = T(1.0 / (p.spacing * p.spacing));
  // Plain new[]: inline library code shared between the instruction-set copies could leak AVX2
  // into the baseline (see isa_rows.h). Room for kx and ky tiled over a group.
  T* tiles = new T[static_cast<size_t>(2 * group * plane)];
  for (int64_t g = 0; g < group; ++g)
    for (int64_t q = 0; q < plane; ++q) {
      tiles[g * plane + q] = kx[q];
      tiles[(group + g) * plane + q] = ky[q];
    }
  for (int64_t b0 = begin; b0 < end;) {
    int64_t b1 = end - b0 < group ? end : b0 + group;
    if (p.kx_planes > 1 && b1 > (b0 / p.kx_planes + 1) * p.kx_planes) b1 = (b0 / p.kx_planes + 1) * p.kx_planes;
    if (p.ky_planes > 1 && b1 > (b0 / p.ky_planes + 1) * p.ky_planes) b1 = (b0 / p.ky_planes + 1) * p.ky_planes;
    const T* __restrict uu = u + b0 * plane;
    const T* __restrict kxx = p.kx_planes == 1 ? tiles : kx + (b0 % p.kx_planes) * plane;
    const T* __restrict kyy = p.ky_planes == 1 ? tiles + group * plane : ky + (b0 % p.ky_planes) * plane;
    T* __restrict o = out + b0 * plane;
    const int64_t last = (b1 - b0 - 1) * plane + (ny - 1) * nx - 1;
#pragma omp simd
    for (int64_t q = nx + 1; q < last; ++q)
      o[q] = rate(uu[q], uu[q + 1], uu[q - 1], uu[q + nx], uu[q - nx], kxx[q], kxx[q - 1], kyy[q], kyy[q - nx],
                  inv_spacing_sq);
    for (int64_t b = 0; b < b1 - b0; ++b) {
      T* ring = o + b * plane;
      for (int64_t i = 0; i < nx; ++i) ring[i] = ring[(ny - 1) * nx + i] = T(0);
      for (int64_t j = 1; j < ny - 1; ++j) ring[j * nx] = ring[j * nx + nx - 1] = T(0);
    }
    b0 = b1;
  }
  delete[] tiles;
}

COARSEGRAIN_INSTANTIATE_LATTICE_KERNELS(float)
COARSEGRAIN_INSTANTIATE_LATTICE_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
