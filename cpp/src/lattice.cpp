// The public 2D lattice diffusion-rate API (coarsegrain/lattice.h): the choice of loop order and
// the parallel loop over its work items on the kernels' pool.
#include "coarsegrain/lattice.h"

#include <algorithm>
#include <stdexcept>

#include "coarsegrain/parallel.h"
#include "cpu_isa.h"
#include "lattice_kernels.h"

namespace coarsegrain {

template <typename T>
void lattice_diffusion_rate(const T* u, const T* kx, const T* ky, T* out, const LatticeRate& p) {
  if (p.planes < 0 || p.ny < 0 || p.nx < 0 || p.kx_planes < 1 || p.ky_planes < 1 || !(p.spacing > 0) ||
      (p.boundary == LatticeBoundary::kPatch && (p.ny < 3 || p.nx < 3)))
    throw std::invalid_argument("lattice_diffusion_rate: bad sizes or spacing (check with validate::lattice_rate)");
  const int64_t plane = p.ny * p.nx, points = p.planes * plane;
  if (points == 0) return;
  // Small patches go a group of whole planes at a time (long flat loops); long rows with one
  // diffusivity plane for all go row-major across the planes (the diffusivity rows are read once
  // per row, not once per plane); anything else a run of grid rows of one plane at a time. Chunks
  // of at least 2^13 points; one thread below 2^15 points (waking workers costs more).
  enum class Order { kPatchGroups, kAcrossPlanes, kPlaneRows };
  const Order order = p.boundary == LatticeBoundary::kPatch && plane < 4096 ? Order::kPatchGroups
                      : p.kx_planes == 1 && p.ky_planes == 1 && p.planes > 1 && p.nx >= 64
                          ? Order::kAcrossPlanes
                          : Order::kPlaneRows;
  const int64_t items = order == Order::kPatchGroups ? p.planes : p.planes * p.ny;
  const int64_t item_points = order == Order::kPatchGroups ? plane : p.nx;
  auto chunk = [&](int64_t begin, int64_t end) {
    if (order == Order::kPatchGroups)
      COARSEGRAIN_ISA_CALL(lattice_patch_planes, u, kx, ky, out, begin, end, p);
    else if (order == Order::kAcrossPlanes)
      COARSEGRAIN_ISA_CALL(lattice_rows_across_planes, u, kx, ky, out, begin, end, p);
    else
      COARSEGRAIN_ISA_CALL(lattice_rows, u, kx, ky, out, begin, end, p);
  };
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 13) / item_points);
  if (points < (int64_t(1) << 15) || items <= grain) {
    chunk(0, items);
    return;
  }
  using Chunk = decltype(chunk);
  parallel::run(
      items, grain, [](void* ctx, int64_t begin, int64_t end) { (*static_cast<Chunk*>(ctx))(begin, end); }, &chunk);
}

template void lattice_diffusion_rate<float>(const float*, const float*, const float*, float*, const LatticeRate&);
template void lattice_diffusion_rate<double>(const double*, const double*, const double*, double*,
                                             const LatticeRate&);

}  // namespace coarsegrain
