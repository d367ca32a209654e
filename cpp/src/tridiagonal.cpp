// The public tridiagonal API: checks, the parallel loop over systems on the kernels' pool, and
// the lowest failing system over all chunks (the same for any thread count).
#include "coarsegrain/tridiagonal.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "coarsegrain/parallel.h"
#include "cpu_isa.h"
#include "tridiagonal_kernels.h"

// COARSEGRAIN_ISA_CALL returns nothing; these kernels return their failure.
#ifdef COARSEGRAIN_HAVE_AVX2_KERNELS
#define COARSEGRAIN_TRIDIAGONAL_AVX2(name, ...) avx2::name(__VA_ARGS__)
#else
#define COARSEGRAIN_TRIDIAGONAL_AVX2(name, ...) generic::name(__VA_ARGS__)
#endif

namespace coarsegrain {
namespace {

// Solves systems [0, rows) in chunks on the pool; solve(begin, end)
// returns the first failure of its range. The result is the failure of the lowest system.
// Chunks are whole groups of kSystemsPerGroup systems (the kernels interleave that many sweeps, about
// as fast as one sweep alone): the pool splits a range evenly, so a grain alone would hand out
// chunks of 3 of 9 systems or 2 of 4, each then swept one system at a time (measured: 9 systems of
// 80,000 took 3.9 ms on 2 threads against 2.8 ms on one). And at least 2^14 unknowns per chunk.
template <typename Solve>
PivotFailure solve_systems(int64_t rows, int64_t n, Solve&& solve) {
  if (rows <= 0 || n <= 0) return {};
  constexpr int64_t kSystemsPerGroup = 4;  // the kernels' interleave (tridiagonal_kernels.cpp)
  const int64_t groups = (rows + kSystemsPerGroup - 1) / kSystemsPerGroup;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / (n * kSystemsPerGroup));
  if (groups <= grain) return solve(int64_t(0), rows);
  struct Ctx {
    Solve* solve;
    int64_t rows;
    std::mutex mutex;
    PivotFailure first;
  } ctx{&solve, rows, {}, {}};
  parallel::run(
      groups, grain,
      [](void* p, int64_t group_begin, int64_t group_end) {
        Ctx& c = *static_cast<Ctx*>(p);
        const PivotFailure f = (*c.solve)(group_begin * kSystemsPerGroup,
                                          std::min(group_end * kSystemsPerGroup, c.rows));
        if (f.failed()) {
          const std::lock_guard<std::mutex> lock(c.mutex);
          if (!c.first.failed() || f.system < c.first.system) c.first = f;
        }
      },
      &ctx);
  return ctx.first;
}

std::string num(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

}  // namespace

std::string zero_pivot_message(const char* op, const PivotFailure& failure, const int64_t* batch_shape,
                               int64_t nbatch) {
  if (!failure.failed()) return "";
  std::string index;
  int64_t rest = failure.system;
  for (int64_t a = nbatch - 1; a >= 0; --a) {
    const int64_t size = std::max<int64_t>(batch_shape[a], 1);
    index = std::to_string(rest % size) + (index.empty() ? "" : ", ") + index;
    rest /= size;
  }
  const std::string where = nbatch == 0 ? "" : " in system (" + index + ")";
  return std::string(op) + ": zero pivot" + where + " at row " + std::to_string(failure.row) +
         ": the Thomas algorithm does not pivot and needs a diagonally dominant (|diag| >= |lower| + |upper|) "
         "or symmetric positive definite matrix";
}

std::string make_diffusion_step(const char* op, double spacing, double dt, const std::string& scheme,
                                DiffusionStep& p) {
  if (!(std::isfinite(spacing) && spacing > 0))
    return std::string(op) + ": spacing must be a positive finite number, got " + num(spacing);
  if (!(std::isfinite(dt) && dt > 0)) return std::string(op) + ": dt must be a positive finite number, got " + num(dt);
  if (scheme == "backward_euler")
    p.scheme = DiffusionScheme::kBackwardEuler;
  else if (scheme == "crank_nicolson")
    p.scheme = DiffusionScheme::kCrankNicolson;
  else
    return std::string(op) + ": scheme must be 'backward_euler' or 'crank_nicolson', got '" + scheme + "'";
  p.spacing = spacing;
  p.dt = dt;
  return "";
}

template <typename T>
PivotFailure tridiagonal_solve(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t rows,
                               int64_t n) {
  if (rows < 0 || n < 0) throw std::invalid_argument("tridiagonal_solve: need rows >= 0 and n >= 0");
  return solve_systems(rows, n, [&](int64_t begin, int64_t end) {
    PivotFailure f;
    if (cpu_isa::use_avx2())
      f = COARSEGRAIN_TRIDIAGONAL_AVX2(tridiagonal_rows, lower, diag, upper, rhs, x, begin, end, n);
    else
      f = generic::tridiagonal_rows(lower, diag, upper, rhs, x, begin, end, n);
    return f;
  });
}

template <typename T>
PivotFailure heterogeneous_diffusion_step(const T* u, const T* a_faces, const T* left, const T* right, T* out,
                                          int64_t rows, int64_t n, const DiffusionStep& p) {
  if (rows < 0 || n < 1)
    throw std::invalid_argument("heterogeneous_diffusion_step: need rows >= 0 and n >= 1 cells");
  return solve_systems(rows, n, [&](int64_t begin, int64_t end) {
    PivotFailure f;
    if (cpu_isa::use_avx2())
      f = COARSEGRAIN_TRIDIAGONAL_AVX2(diffusion_rows, u, a_faces, left, right, out, begin, end, n, p);
    else
      f = generic::diffusion_rows(u, a_faces, left, right, out, begin, end, n, p);
    return f;
  });
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                           \
  template PivotFailure tridiagonal_solve<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t); \
  template PivotFailure heterogeneous_diffusion_step<T>(const T*, const T*, const T*, const T*, T*, int64_t,  \
                                                        int64_t, const DiffusionStep&);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
