// CPU kernels of particle binning, compiled once per instruction set (see cpu_isa.h). A call
// handles one contiguous range of particles, in order, so that the caller's slots give the
// same bits for any thread count. The per-particle math is coarsegrain/detail/binning_math.h,
// shared with the CUDA kernels.
#include "binning_kernels.h"

#include <algorithm>
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

// Particles go in blocks: a vectorized pass finds the cells of the particles in the interior of
// the box (binning_math's *_interior), then a scalar pass adds them and sends the rest (wrapped,
// on a face, dropped, non-finite) through the general per-particle functions.
constexpr int kBlock = 256;

template <typename T, int D>
void ngp_block_cells(const T* pos, int64_t first, int m, const BinAxes& axes, int32_t* idx) {
  int32_t stride[D];
  for (int d = 0; d < D; ++d) stride[d] = static_cast<int32_t>(axes.stride[d]);
#pragma omp simd
  for (int k = 0; k < m; ++k) {
    int32_t flat = 0;
    bool ok = true;
    for (int d = 0; d < D; ++d) {
      int32_t c;
      ok &= ngp_cell_interior(double(pos[(first + k) * D + d]), axes.axis[d], c);
      flat += c * stride[d];
    }
    idx[k] = ok ? flat : -1;
  }
}

// Nearest grid point without quantities: integer counts (exact, and no floating-point add
// chain when neighbouring particles share a cell).
template <typename T, int D>
void count_range(const T* pos, int64_t begin, int64_t end, const BinAxes& axes, bool periodic, uint32_t* counts,
                 BinStats& stats) {
  int32_t idx[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int m = static_cast<int>(std::min<int64_t>(kBlock, end - b));
    ngp_block_cells<T, D>(pos, b, m, axes, idx);
    for (int k = 0; k < m; ++k) {
      if (idx[k] >= 0) {
        ++counts[idx[k]];
        continue;
      }
      int64_t flat = 0;
      int bad = -1;
      const Status s = ngp_flat<D>(pos + (b + k) * D, axes, periodic, flat, bad);
      if (s == kInside)
        ++counts[flat];
      else
        note(s, b + k, bad, stats);
    }
  }
}

template <typename T, int D>
void deposit_range(const T* pos, const T* q, int64_t begin, int64_t end, int64_t nq, const BinAxes& axes,
                   bool periodic, bool cic, int64_t cells, double* sums, BinStats& stats) {
  auto add = [sums](int64_t i, double v) { sums[i] += v; };
  auto general = [&](int64_t p) {
    int bad = -1;
    const Status s =
        deposit<D>(pos + p * D, q != nullptr ? q + p * nq : nullptr, nq, axes, periodic, cic, cells, add, bad);
    if (s != kInside) note(s, p, bad, stats);
  };
  if (!cic) {
    int32_t idx[kBlock];
    for (int64_t b = begin; b < end; b += kBlock) {
      const int m = static_cast<int>(std::min<int64_t>(kBlock, end - b));
      ngp_block_cells<T, D>(pos, b, m, axes, idx);
      for (int k = 0; k < m; ++k) {
        if (idx[k] < 0) {
          general(b + k);
        } else if (q == nullptr) {
          sums[idx[k]] += 1.0;
        } else {
          const T* qp = q + (b + k) * nq;
          for (int64_t j = 0; j < nq; ++j) sums[j * cells + idx[k]] += double(qp[j]);
        }
      }
    }
    return;
  }
  double cells_from_centre[D][kBlock];
  int32_t ok[kBlock];
  CicStencil<D> st;
  for (int64_t b = begin; b < end; b += kBlock) {
    const int m = static_cast<int>(std::min<int64_t>(kBlock, end - b));
    for (int k = 0; k < m; ++k) ok[k] = 1;
    for (int d = 0; d < D; ++d) {
      const BinAxis axis = axes.axis[d];
      double* s_d = cells_from_centre[d];
#pragma omp simd
      for (int k = 0; k < m; ++k) {
        double s;
        const bool inside = cic_position_interior(double(pos[(b + k) * D + d]), axis, s);
        s_d[k] = s;
        ok[k] &= int32_t(inside);
      }
    }
    for (int k = 0; k < m; ++k) {
      if (!ok[k]) {
        general(b + k);
        continue;
      }
      int64_t l[D], h[D];
      double w[D];
      for (int d = 0; d < D; ++d) {
        cic_interior_cells(cells_from_centre[d][k], l[d], w[d]);
        h[d] = l[d] + 1;
      }
      cic_corners<D>(l, h, w, axes, st, false);
      for (int64_t j = 0; j < (q == nullptr ? 1 : nq); ++j) {
        const double v = q == nullptr ? 1.0 : double(q[(b + k) * nq + j]);
        double* row = sums + j * cells;
        for (int c = 0; c < CicStencil<D>::kCorners; ++c) row[st.cell[c]] += st.weight[c] * v;
      }
    }
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
