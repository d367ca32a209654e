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

// Runs solve(s, scratch) -> failed row or -1 for systems [begin, end), with an n-element
// scratch row, stopping at the first failure (the lowest system of the range).
template <typename T, typename Solve>
PivotFailure for_each_system(int64_t begin, int64_t end, int64_t n, Solve&& solve) {
  PivotFailure failure;
  // Plain new[]: inline library code shared between the instruction-set copies could leak AVX2
  // into the baseline (see isa_rows.h).
  T* scratch = new T[static_cast<size_t>(n > 0 ? n : 1)];
  for (int64_t s = begin; s < end; ++s) {
    const int64_t row = solve(s, scratch);
    if (row >= 0) {
      failure.system = s;
      failure.row = row;
      break;
    }
  }
  delete[] scratch;
  return failure;
}

}  // namespace

template <typename T>
PivotFailure tridiagonal_rows(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t begin,
                              int64_t end, int64_t n) {
  return for_each_system<T>(begin, end, n, [&](int64_t s, T* cp) {
    const int64_t o = s * n;
    const StoredBands<T> band{lower + o, diag + o, upper + o, rhs + o};
    return thomas(n, band, cp, 1, x + o);
  });
}

template <typename T>
PivotFailure diffusion_rows(const T* u, const T* a_faces, const T* left, const T* right, T* out, int64_t begin,
                            int64_t end, int64_t n, const DiffusionStep& p) {
  const T theta = T(p.theta());
  const T r = T(p.dt / (p.dx * p.dx));
  return for_each_system<T>(begin, end, n, [&](int64_t s, T* cp) {
    const DiffusionBands<T> band{u + s * n, a_faces + s * p.a_stride, left[s * p.bc_stride],
                                 right[s * p.bc_stride], theta, r, n};
    return thomas(n, band, cp, 1, out + s * n);
  });
}

COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(float)
COARSEGRAIN_INSTANTIATE_TRIDIAGONAL_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
