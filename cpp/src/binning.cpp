// The public binning API: validation, the deterministic split of particles into slots, the
// parallel loop over slots on the kernels' pool, and the ordered sum of the slots' partials.
#include "coarsegrain/binning.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "binning_kernels.h"
#include "coarsegrain/parallel.h"
#include "cpu_isa.h"

namespace coarsegrain {
namespace {

std::string join(const char* op, const std::string& what) { return std::string(op) + ": " + what; }

// A double as the default std::ostream prints it (6 significant digits; Python's f"{x:g}").
std::string num(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// Slots depend only on the problem, never on the thread count: that is what makes the sums
// bit-for-bit reproducible. Enough particles per slot to amortize zeroing and adding its
// partial histogram, at most 32 slots (the parallelism), partials within 256 MiB, and for
// integer counts fewer than 2^31 particles per slot.
int64_t slot_count(int64_t n, int64_t width, bool integer_counts) {
  const int64_t min_per_slot = std::max<int64_t>(int64_t(1) << 16, 4 * width);
  int64_t slots = std::min<int64_t>(32, n / min_per_slot);
  const int64_t bytes = width * (integer_counts ? 4 : 8);
  slots = std::min<int64_t>(slots, std::max<int64_t>(1, (int64_t(256) << 20) / std::max<int64_t>(1, bytes)));
  slots = std::max<int64_t>(slots, 1);
  if (integer_counts) slots = std::max<int64_t>(slots, (n >> 31) + 1);
  return slots;
}

template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
  if (n <= grain) {
    if (n > 0) body(int64_t(0), n);
    return;
  }
  using B = std::remove_reference_t<Body>;
  parallel::run(
      n, grain, [](void* ctx, int64_t begin, int64_t end) { (*static_cast<B*>(ctx))(begin, end); }, &body);
}

}  // namespace

std::string make_bin_grid(const char* op, int64_t ndim, const int64_t* bins, int64_t nbins, const double* length,
                          int64_t nlength, const double* origin, int64_t norigin, const std::string& assignment,
                          bool periodic, BinGrid& grid) {
  if (ndim < 1 || ndim > 3)
    return join(op, "positions must be [n, d] with d = 1, 2 or 3 coordinates, got d = " + std::to_string(ndim));
  if (nbins != ndim)
    return join(op, "bins must have one entry per coordinate (" + std::to_string(ndim) + "), got " +
                        std::to_string(nbins));
  if (nlength != ndim)
    return join(op, "box must have one length per coordinate (" + std::to_string(ndim) + "), got " +
                        std::to_string(nlength));
  if (norigin != 0 && norigin != ndim)
    return join(op, "origin must be empty or have one entry per coordinate (" + std::to_string(ndim) +
                        "), got " + std::to_string(norigin));
  if (assignment == "ngp")
    grid.assignment = Assignment::kNearestGridPoint;
  else if (assignment == "cic")
    grid.assignment = Assignment::kCloudInCell;
  else
    return join(op, "assignment must be 'ngp' (nearest grid point) or 'cic' (cloud in cell), got '" +
                        assignment + "'");
  grid.ndim = static_cast<int>(ndim);
  grid.periodic = periodic;
  int64_t cells = 1;
  for (int a = 0; a < grid.ndim; ++a) {
    if (bins[a] < 1)
      return join(op, "bins[" + std::to_string(a) + "] must be >= 1, got " + std::to_string(bins[a]));
    if (!(std::isfinite(length[a]) && length[a] > 0))
      return join(op, "box[" + std::to_string(a) + "] must be a positive finite length, got " +
                          num(length[a]));
    const double o = norigin == 0 ? 0.0 : origin[a];
    if (!std::isfinite(o) || !std::isfinite(o + length[a]))
      return join(op, "origin[" + std::to_string(a) + "] must be finite, got " + num(o));
    if (bins[a] > kMaxBinCells / cells)
      return join(op, "bins has more than 2^31 - 1 cells in all");
    cells *= bins[a];
    grid.bins[a] = bins[a];
    grid.length[a] = length[a];
    grid.origin[a] = o;
  }
  return "";
}

std::string nonfinite_message(const char* op, const BinStats& stats) {
  if (stats.nonfinite == 0) return "";
  return join(op, "positions has " + std::to_string(stats.nonfinite) +
                      " particle(s) with a NaN or infinite coordinate (the first: particle " +
                      std::to_string(stats.first_nonfinite) + ", coordinate " +
                      std::to_string(stats.first_nonfinite_axis) + ")");
}

template <typename T>
BinStats bin_particles(const T* positions, const T* quantities, int64_t n, int64_t nq, const BinGrid& grid,
                       T* out) {
  if (n < 0 || nq < 1 || (quantities == nullptr && nq != 1 && n > 0))
    throw std::invalid_argument("bin_particles: need n >= 0 and nq >= 1 (nq == 1 without quantities)");
  const int64_t cells = grid.cells();
  const int64_t width = cells * nq;
  const bool integer_counts = quantities == nullptr && grid.assignment == Assignment::kNearestGridPoint;
  const int64_t slots = slot_count(n, width, integer_counts);
  std::unique_ptr<double[]> sums(integer_counts ? nullptr : new double[static_cast<size_t>(slots * width)]);
  std::unique_ptr<uint32_t[]> counts(integer_counts ? new uint32_t[static_cast<size_t>(slots * width)] : nullptr);
  std::unique_ptr<BinStats[]> stats(new BinStats[static_cast<size_t>(slots)]);

  parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t begin = n * s / slots, end = n * (s + 1) / slots;
      double* slot_sums = integer_counts ? nullptr : sums.get() + s * width;
      uint32_t* slot_counts = integer_counts ? counts.get() + s * width : nullptr;
      if (integer_counts)
        std::fill(slot_counts, slot_counts + width, 0u);
      else
        std::fill(slot_sums, slot_sums + width, 0.0);
      COARSEGRAIN_ISA_CALL(bin_range, positions, quantities, begin, end, nq, grid, slot_sums, slot_counts,
                           stats[s]);
    }
  });
  // The slots' partials, added in slot order.
  const int64_t grain = std::max<int64_t>(int64_t(1) << 14, width / 64 + 1);
  parallel_for(width, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (integer_counts) {
        uint64_t c = 0;
        for (int64_t s = 0; s < slots; ++s) c += counts[s * width + i];
        out[i] = T(c);
      } else {
        double v = 0.0;
        for (int64_t s = 0; s < slots; ++s) v += sums[s * width + i];
        out[i] = T(v);
      }
    }
  });
  BinStats total;
  for (int64_t s = 0; s < slots; ++s) {
    total.dropped += stats[s].dropped;
    if (stats[s].nonfinite > 0 && total.nonfinite == 0) {
      total.first_nonfinite = stats[s].first_nonfinite;
      total.first_nonfinite_axis = stats[s].first_nonfinite_axis;
    }
    total.nonfinite += stats[s].nonfinite;
  }
  return total;
}

template <typename T>
void bin_particles_backward(const T* grad, const T* positions, const T* quantities, int64_t n, int64_t nq,
                            const BinGrid& grid, T* grad_quantities, T* grad_positions) {
  if (n < 0 || nq < 1 || (quantities == nullptr && nq != 1 && n > 0))
    throw std::invalid_argument("bin_particles_backward: need n >= 0 and nq >= 1 (nq == 1 without quantities)");
  parallel_for(n, std::max<int64_t>(int64_t(1) << 14, 1), [&](int64_t p0, int64_t p1) {
    COARSEGRAIN_ISA_CALL(bin_backward_range, grad, positions, quantities, p0, p1, nq, grid, grad_quantities,
                         grad_positions);
  });
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                   \
  template BinStats bin_particles<T>(const T*, const T*, int64_t, int64_t, const BinGrid&, T*);      \
  template void bin_particles_backward<T>(const T*, const T*, const T*, int64_t, int64_t, const BinGrid&, \
                                          T*, T*);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
