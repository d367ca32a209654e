// The point-wise math of particle binning (which cells a particle touches and with what
// weights), written once for the CPU kernels (cpp/src/binning_kernels.cpp) and the CUDA kernels
// (cuda/kernels/binning.cu). Internal linkage: the CPU file is compiled once per instruction set.
#pragma once

#include <cmath>
#include <cstdint>

#include "coarsegrain/binning.h"
#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::binning_math {
namespace {

// One axis of the grid, in the form the per-particle math wants it.
struct BinAxis {
  double origin, upper;      // the box is [origin, upper] (upper = origin + length)
  double cells_per_length;   // bins / length
  double cells;              // bins, as a double
  int64_t n;                 // bins
};

struct BinAxes {
  BinAxis axis[3];
  int64_t stride[3];  // flat-index stride of each output axis (the last one is 1)
};

inline BinAxes make_axes(const BinGrid& g) {
  BinAxes a{};
  int64_t stride = 1;
  for (int d = g.ndim - 1; d >= 0; --d) {
    a.axis[d] = BinAxis{g.origin[d], g.origin[d] + g.length[d], double(g.bins[d]) / g.length[d],
                        double(g.bins[d]), g.bins[d]};
    a.stride[d] = stride;
    stride *= g.bins[d];
  }
  return a;
}

enum Status : int { kInside = 0, kDropped = 1, kNonFinite = 2 };

COARSEGRAIN_HOST_DEVICE bool finite(double x) { return x - x == 0.0; }  // false for NaN and +-inf

// Nearest grid point: the cell of coordinate x along one axis.
COARSEGRAIN_HOST_DEVICE Status ngp_cell(double x, const BinAxis& a, bool periodic, int64_t& cell) {
  if (!finite(x)) return kNonFinite;
  if (!periodic && !(x >= a.origin && x <= a.upper)) return kDropped;
  if (x == a.upper) {  // the upper face: the last cell, or (periodic) the first
    cell = periodic ? 0 : a.n - 1;
    return kInside;
  }
  double s = (x - a.origin) * a.cells_per_length;
  if (!(s >= 0.0 && s < a.cells)) s -= a.cells * floor(s / a.cells);  // periodic wrap (rare)
  int64_t i = static_cast<int64_t>(s);
  // Rounding can put s on [cells, cells]: the true value was just below the upper edge.
  cell = i >= a.n ? a.n - 1 : (i < 0 ? 0 : i);
  return kInside;
}

// Cloud in cell along one axis: cells lo and hi = lo + 1 (wrapped or clamped) and the weight
// w_hi of hi (lo gets 1 - w_hi); d(w_hi)/dx = cells_per_length inside the box.
COARSEGRAIN_HOST_DEVICE Status cic_cells(double x, const BinAxis& a, bool periodic, int64_t& lo,
                                         int64_t& hi, double& w_hi) {
  if (!finite(x)) return kNonFinite;
  double s = (x - a.origin) * a.cells_per_length - 0.5;
  if (periodic) {
    if (!(s >= 0.0 && s < a.cells)) {
      s -= a.cells * floor(s / a.cells);
      if (!(s < a.cells)) s = 0.0;  // rounded up to the wrap point: the same place as 0
    }
    lo = static_cast<int64_t>(s);
    if (lo >= a.n) lo = a.n - 1;
    w_hi = s - double(lo);
    hi = lo + 1 == a.n ? 0 : lo + 1;
    return kInside;
  }
  if (!(x >= a.origin && x <= a.upper)) return kDropped;
  const double f = floor(s);
  lo = static_cast<int64_t>(f);
  w_hi = s - f;
  hi = lo + 1;
  // The half cells between the walls and the outer cell centres give their weight to the outer
  // cell, so a particle inside the box keeps all of its quantity.
  if (lo < 0) lo = 0;
  if (hi > a.n - 1) hi = a.n - 1;
  return kInside;
}

// The flat nearest-grid-point cell of a particle with coordinates x[0..D).
template <int D, typename T>
COARSEGRAIN_HOST_DEVICE Status ngp_flat(const T* x, const BinAxes& g, bool periodic, int64_t& flat,
                                        int& bad_axis) {
  flat = 0;
  Status worst = kInside;
  for (int d = 0; d < D; ++d) {
    int64_t cell = 0;
    const Status s = ngp_cell(double(x[d]), g.axis[d], periodic, cell);
    if (s == kNonFinite) {
      bad_axis = d;
      return kNonFinite;
    }
    if (s == kDropped) worst = kDropped;
    flat += cell * g.stride[d];
  }
  return worst;
}

// The 2^D cloud-in-cell corners of a particle: flat cells, weights, and (when asked) the
// derivative of each weight along each axis.
template <int D>
struct CicStencil {
  static constexpr int kCorners = 1 << D;
  int64_t cell[kCorners];
  double weight[kCorners];
  double dweight[kCorners][D];
};

// The corners of a particle from its per-axis cells and weights (lo[d], hi[d], w_hi[d]).
template <int D>
COARSEGRAIN_HOST_DEVICE void cic_corners(const int64_t* lo, const int64_t* hi, const double* w_hi, const BinAxes& g,
                                         CicStencil<D>& st, bool derivative) {
  for (int c = 0; c < CicStencil<D>::kCorners; ++c) {
    int64_t flat = 0;
    double w = 1.0;
    for (int d = 0; d < D; ++d) {
      const bool up = (c >> (D - 1 - d)) & 1;
      flat += (up ? hi[d] : lo[d]) * g.stride[d];
      w *= up ? w_hi[d] : 1.0 - w_hi[d];
    }
    st.cell[c] = flat;
    st.weight[c] = w;
    if (derivative) {
      for (int a = 0; a < D; ++a) {
        double dw = 1.0;
        for (int d = 0; d < D; ++d) {
          const bool up = (c >> (D - 1 - d)) & 1;
          if (d == a)
            dw *= up ? g.axis[d].cells_per_length : -g.axis[d].cells_per_length;
          else
            dw *= up ? w_hi[d] : 1.0 - w_hi[d];
        }
        st.dweight[c][a] = dw;
      }
    }
  }
}

template <int D, typename T>
COARSEGRAIN_HOST_DEVICE Status cic_stencil(const T* x, const BinAxes& g, bool periodic, CicStencil<D>& st,
                                           bool derivative, int& bad_axis) {
  int64_t lo[D] = {}, hi[D] = {};  // zeroed: GCC cannot see that a non-finite axis returns before use
  double w_hi[D] = {};
  Status worst = kInside;
  for (int d = 0; d < D; ++d) {
    const Status s = cic_cells(double(x[d]), g.axis[d], periodic, lo[d], hi[d], w_hi[d]);
    if (s == kNonFinite) {
      bad_axis = d;
      return kNonFinite;
    }
    if (s == kDropped) worst = kDropped;
  }
  if (worst != kInside) return worst;
  cic_corners<D>(lo, hi, w_hi, g, st, derivative);
  return kInside;
}

// Branch-free forms of the common cases, for loops the CPU compiler vectorizes: true when x is
// inside the box away from its faces (and, for cloud in cell, the wrap point), where they give
// what ngp_cell / cic_cells give; false sends the particle to those. Cells fit in 32 bits.
COARSEGRAIN_HOST_DEVICE bool ngp_cell_interior(double x, const BinAxis& a, int32_t& cell) {
  const double s = (x - a.origin) * a.cells_per_length;
  const bool ok = (x >= a.origin) & (x < a.upper) & (s >= 0.0) & (s < a.cells);
  cell = static_cast<int32_t>(ok ? s : 0.0);
  return ok;
}

// Cloud in cell, split so the first half vectorizes: s = the particle's position in cells from
// the first cell centre, interior when both cells it falls between are inside the box; then the
// lower cell and the upper cell's weight (the same arithmetic as cic_cells).
COARSEGRAIN_HOST_DEVICE bool cic_position_interior(double x, const BinAxis& a, double& s) {
  s = (x - a.origin) * a.cells_per_length - 0.5;
  return (x >= a.origin) & (x <= a.upper) & (s >= 0.0) & (s < a.cells - 1.0);
}

COARSEGRAIN_HOST_DEVICE void cic_interior_cells(double s, int64_t& lo, double& w_hi) {
  lo = static_cast<int64_t>(s);
  w_hi = s - double(lo);
}

// Deposits one particle (coordinates x[0..D), quantities qp[0..nq) or null for a weight of
// one): calls add(index, value) for each touched entry of the [nq, cells] sums.
template <int D, typename T, typename Add>
COARSEGRAIN_HOST_DEVICE Status deposit(const T* x, const T* qp, int64_t nq, const BinAxes& g, bool periodic,
                                       bool cic, int64_t cells, Add&& add, int& bad_axis) {
  if (!cic) {
    int64_t flat = 0;
    const Status s = ngp_flat<D>(x, g, periodic, flat, bad_axis);
    if (s != kInside) return s;
    if (qp == nullptr) {
      add(flat, 1.0);
    } else {
      for (int64_t j = 0; j < nq; ++j) add(j * cells + flat, double(qp[j]));
    }
    return kInside;
  }
  CicStencil<D> st;
  const Status s = cic_stencil<D>(x, g, periodic, st, false, bad_axis);
  if (s != kInside) return s;
  for (int64_t j = 0; j < (qp == nullptr ? 1 : nq); ++j) {
    const double v = qp == nullptr ? 1.0 : double(qp[j]);
    for (int c = 0; c < CicStencil<D>::kCorners; ++c) add(j * cells + st.cell[c], st.weight[c] * v);
  }
  return kInside;
}

// The adjoint of deposit for one particle and an upstream gradient grad [nq, cells]:
// gq[j] = sum_c w_c grad[j, c] (when gq is not null) and, for cloud in cell, gp[a] =
// sum_c dw_c/dx_a sum_j q_j grad[j, c] (when gp is not null). Zeros for a dropped particle.
template <int D, typename T>
COARSEGRAIN_HOST_DEVICE void gather(const T* grad, const T* x, const T* qp, int64_t nq, const BinAxes& g,
                                    bool periodic, bool cic, int64_t cells, T* gq, T* gp) {
  int bad = -1;
  if (gp != nullptr)
    for (int a = 0; a < D; ++a) gp[a] = T(0);
  if (!cic) {
    int64_t flat = 0;
    const Status s = ngp_flat<D>(x, g, periodic, flat, bad);
    if (gq != nullptr)
      for (int64_t j = 0; j < nq; ++j) gq[j] = s == kInside ? grad[j * cells + flat] : T(0);
    return;
  }
  CicStencil<D> st{};  // zeroed: dweight is read only when gp is set, which the compiler cannot see
  const Status s = cic_stencil<D>(x, g, periodic, st, gp != nullptr, bad);
  if (s != kInside) {
    if (gq != nullptr)
      for (int64_t j = 0; j < nq; ++j) gq[j] = T(0);
    return;
  }
  double dpos[D];
  for (int a = 0; a < D; ++a) dpos[a] = 0.0;
  for (int64_t j = 0; j < nq; ++j) {
    const T* gj = grad + j * cells;
    const double qj = qp != nullptr ? double(qp[j]) : 1.0;
    double acc = 0.0;
    for (int c = 0; c < CicStencil<D>::kCorners; ++c) {
      const double gc = double(gj[st.cell[c]]);
      acc += st.weight[c] * gc;
      if (gp != nullptr)
        for (int a = 0; a < D; ++a) dpos[a] += st.dweight[c][a] * qj * gc;
    }
    if (gq != nullptr) gq[j] = T(acc);
  }
  if (gp != nullptr)
    for (int a = 0; a < D; ++a) gp[a] = T(dpos[a]);
}

}  // namespace
}  // namespace coarsegrain::binning_math
