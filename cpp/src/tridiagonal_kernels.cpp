// CPU kernels of the tridiagonal solves, compiled once per instruction set (see cpu_isa.h). A
// call solves a contiguous range of systems, each by one thread in one fixed order, so the
// result does not depend on how the caller splits the range. The per-system math is
// coarsegrain/detail/tridiagonal_math.h, shared with the CUDA kernels.
#include "tridiagonal_kernels.h"

#include "coarsegrain/detail/tridiagonal_math.h"

#ifndef COARSEGRAIN_ISA
#error "compile this file with -DCOARSEGRAIN_ISA=<namespace>"
#endif

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

using namespace tridiagonal_math;

// Systems per interleaved group: a single Thomas sweep is a chain of dependent divisions (latency
// bound); K independent sweeps in one loop keep the divider busy.
constexpr int kGroup = 4;

// Thomas sweeps of K systems at once, with the exact operations of tridiagonal_math::thomas for
// each (same bits as one at a time). cp[k], x[k]: scratch and solution rows of system k. Returns
// false when a pivot was zero (the caller then redoes the group one system at a time, to find it).
template <int K, typename T, typename Band>
bool thomas_group(int64_t n, const Band* bands, T* const* cp, T* const* x) {
  // Local copies: the stores to cp and x could alias the bands' T members (wall values, theta)
  // through the caller's pointer; these cannot be, so they stay in registers.
  Band band[K];
  for (int k = 0; k < K; ++k) band[k] = bands[k];
  T c[K], d[K];
  for (int k = 0; k < K; ++k) c[k] = d[k] = T(0);
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < K; ++k) {
      T lo, di, up, r;
      band[k](i, lo, di, up, r);
      if (i == 0) lo = T(0);
      const T pivot = di - lo * c[k];
      ok &= pivot != T(0);
      const T inv = T(1) / pivot;
      c[k] = up * inv;
      d[k] = (r - lo * d[k]) * inv;
      cp[k][i] = c[k];
      x[k][i] = d[k];
    }
  }
  for (int k = 0; k < K; ++k) x[k][n - 1] = band[k].result(n - 1, d[k]);
  for (int64_t i = n - 2; i >= 0; --i)
    for (int k = 0; k < K; ++k) {
      d[k] = x[k][i] - cp[k][i] * d[k];
      x[k][i] = band[k].result(i, d[k]);
    }
  return ok;
}

// Solves systems [begin, end): band_of(s) gives the band functor of system s and x_of(s) its
// solution row; groups of kGroup, then one at a time. Stops at the first failure (the lowest
// system of the range).
template <typename T, typename BandOf, typename XOf>
PivotFailure for_each_system(int64_t begin, int64_t end, int64_t n, BandOf&& band_of, XOf&& x_of) {
  using Band = decltype(band_of(int64_t(0)));
  PivotFailure failure;
  // Plain new[]: inline library code shared between the instruction-set copies could leak AVX2
  // into the baseline (see isa_rows.h).
  T* scratch = new T[static_cast<size_t>(kGroup * (n > 0 ? n : 1))];
  auto single = [&](int64_t s) {
    const int64_t row = thomas(n, band_of(s), scratch, 1, x_of(s));
    if (row >= 0) {
      failure.system = s;
      failure.row = row;
    }
    return row < 0;
  };
  int64_t s = begin;
  for (; s + kGroup <= end; s += kGroup) {
    Band band[kGroup] = {band_of(s), band_of(s + 1), band_of(s + 2), band_of(s + 3)};
    T* cp[kGroup];
    T* x[kGroup];
    for (int k = 0; k < kGroup; ++k) {
      cp[k] = scratch + k * n;
      x[k] = x_of(s + k);
    }
    if (!thomas_group<kGroup>(n, band, cp, x)) {
      for (int k = 0; k < kGroup; ++k)
        if (!single(s + k)) break;
      break;
    }
  }
  if (!failure.failed())
    for (; s < end; ++s)
      if (!single(s)) break;
  delete[] scratch;
  return failure;
}

}  // namespace

template <typename T>
PivotFailure tridiagonal_rows(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t begin,
                              int64_t end, int64_t n) {
  return for_each_system<T>(
      begin, end, n,
      [&](int64_t s) {
        const int64_t o = s * n;
        return StoredBands<T>{lower + o, diag + o, upper + o, rhs + o};
      },
      [&](int64_t s) { return x + s * n; });
}

template <typename T>
PivotFailure diffusion_rows(const T* u, const T* a_faces, const T* left, const T* right, T* out, int64_t begin,
                            int64_t end, int64_t n, const DiffusionStep& p) {
  const T theta = T(p.theta());
  const T r = T(p.dt / (p.spacing * p.spacing));
  return for_each_system<T>(
      begin, end, n,
      [&](int64_t s) {
        return DiffusionBands<T>{u + s * n, a_faces + s * p.a_stride, left[s * p.bc_stride], right[s * p.bc_stride],
                                 theta, r, n};
      },
      [&](int64_t s) { return out + s * n; });
}

COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(float)
COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
