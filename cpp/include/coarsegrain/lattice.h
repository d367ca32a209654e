// The rate of 2D lattice heterogeneous diffusion (arbabi2020 sec. 5.2, Eq 25): the micro-solver
// of the 2D gap-tooth / patch scheme.
//
// Layout: a field is [*batch, ny, nx], x the last axis. Point (i, j) of the paper (i along x, j
// along y) is u[..., j, i]. kx[..., j, i] is the bond diffusivity between (i, j) and (i + 1, j),
// ky[..., j, i] the one between (i, j) and (i, j + 1); both have the shape of u or a trailing part
// of it with at least the two grid axes, broadcast over u's leading axes (one [ny, nx] pattern for
// every patch, or one per patch for every trajectory). Eq 25, in flux form:
//
//   du_{j,i}/dt = [kx_{j,i} (u_{j,i+1} - u_{j,i}) + kx_{j,i-1} (u_{j,i-1} - u_{j,i})
//                + ky_{j,i} (u_{j+1,i} - u_{j,i}) + ky_{j-1,i} (u_{j-1,i} - u_{j,i})] / spacing^2.
//
// Boundaries:
//   periodic  every index wraps on the whole [ny, nx] grid (any ny, nx >= 0);
//   patch     each [ny, nx] plane is one patch whose outer ring (j = 0, ny - 1 or i = 0, nx - 1)
//             holds edge values set by a coupling: the rate is computed at the interior points
//             and is exactly 0 on the ring; bonds from the interior to the ring are used, bonds
//             between two ring points are not. Needs ny, nx >= 3.
// Each bond's flux enters its two end points with opposite signs, so the periodic rates sum to
// zero and, on a patch, the interior rates sum to the net flux through the ring-interior bonds
// (round-off apart). The CPU result has the same bits for any thread count.
#pragma once

#include <cstdint>

namespace coarsegrain {

enum class LatticeBoundary { kPeriodic, kPatch };

struct LatticeRate {
  int64_t planes = 0;  // [ny, nx] planes of u: the product of its leading axes
  int64_t ny = 0, nx = 0;
  int64_t kx_planes = 1, ky_planes = 1;  // distinct planes of kx / ky; plane b of u uses b % k*_planes
  double spacing = 1;  // the lattice spacing
  LatticeBoundary boundary = LatticeBoundary::kPeriodic;
};

// out [planes, ny, nx] = the rate of u [planes, ny, nx]; kx [kx_planes, ny, nx], ky [ky_planes,
// ny, nx]. Checked by validate::lattice_rate. out may not alias an input.
template <typename T>
void lattice_diffusion_rate(const T* u, const T* kx, const T* ky, T* out, const LatticeRate& p);

}  // namespace coarsegrain
