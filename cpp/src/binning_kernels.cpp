// CPU kernels of particle binning, compiled once per instruction set (see cpu_isa.h). A call
// handles one contiguous range of particles, in order, so that the caller's slots give the
// same bits for any thread count. The per-particle math is coarsegrain/detail/binning_math.h,
// shared with the CUDA kernels.
#include "binning_kernels.h"

#include <type_traits>

#include "coarsegrain/detail/binning_math.h"

#ifndef COARSEGRAIN_ISA
#error "compile this file with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

using namespace binning_math;

inline void note(Status s, int64_t p, int axis, BinStats& stats) {
  if (s == kDropped) {
    ++stats.dropped;
  } else if (stats.nonfinite++ == 0) {
    stats.first_nonfinite = p;
    stats.first_nonfinite_axis = axis;
  }
}

// Nearest grid point without quantities: integer counts (exact, and no floating-point add
// chain when neighbouring particles share a cell).
template <typename T, int D>
void count_range(const T* pos, int64_t begin, int64_t end, const BinAxes& axes, bool periodic, uint32_t* counts,
                 BinStats& stats) {
  for (int64_t p = begin; p < end; ++p) {
    int64_t flat = 0;
    int bad = -1;
    const Status s = ngp_flat<D>(pos + p * D, axes, periodic, flat, bad);
    if (s == kInside)
      ++counts[flat];
    else
      note(s, p, bad, stats);
  }
}

template <typename T, int D>
void deposit_range(const T* pos, const T* q, int64_t begin, int64_t end, int64_t nq, const BinAxes& axes,
                   bool periodic, bool cic, int64_t cells, double* sums, BinStats& stats) {
  auto add = [sums](int64_t i, double v) { sums[i] += v; };
  for (int64_t p = begin; p < end; ++p) {
    int bad = -1;
    const Status s =
        deposit<D>(pos + p * D, q != nullptr ? q + p * nq : nullptr, nq, axes, periodic, cic, cells, add, bad);
    if (s != kInside) note(s, p, bad, stats);
  }
}

template <typename F>
void by_ndim(int ndim, F&& f) {
  switch (ndim) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: break;  // validated by the caller
  }
}

}  // namespace

template <typename T>
void bin_range(const T* positions, const T* quantities, int64_t begin, int64_t end, int64_t nq,
               const BinGrid& grid, double* sums, uint32_t* counts, BinStats& stats) {
  const BinAxes axes = make_axes(grid);
  const bool cic = grid.assignment == Assignment::kCloudInCell;
  by_ndim(grid.ndim, [&](auto nd) {
    constexpr int D = decltype(nd)::value;
    if (counts != nullptr)
      count_range<T, D>(positions, begin, end, axes, grid.periodic, counts, stats);
    else
      deposit_range<T, D>(positions, quantities, begin, end, nq, axes, grid.periodic, cic, grid.cells(), sums,
                          stats);
  });
}

template <typename T>
void bin_backward_range(const T* grad, const T* positions, const T* quantities, int64_t begin, int64_t end,
                        int64_t nq, const BinGrid& grid, T* grad_quantities, T* grad_positions) {
  const BinAxes axes = make_axes(grid);
  const int64_t cells = grid.cells();
  const bool cic = grid.assignment == Assignment::kCloudInCell;
  by_ndim(grid.ndim, [&](auto nd) {
    constexpr int D = decltype(nd)::value;
    for (int64_t p = begin; p < end; ++p)
      gather<D>(grad, positions + p * D, quantities != nullptr ? quantities + p * nq : nullptr, nq, axes,
                grid.periodic, cic, cells, grad_quantities != nullptr ? grad_quantities + p * nq : nullptr,
                cic && grad_positions != nullptr ? grad_positions + p * D : nullptr);
  });
}

COARSEGRAIN_INSTANTIATE_BINNING_KERNELS(float)
COARSEGRAIN_INSTANTIATE_BINNING_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
