// Explicit phase-field steps, compiled once per instruction set (see cpu_isa.h).
//
// The fused Cahn-Hilliard step sweeps the outermost grid axis (z in 3D, y in 2D) in one chunk
// per thread and keeps mu for three consecutive slabs (planes in 3D, rows in 2D) in a ring:
// each slab of mu is computed once, from u, just before the first output slab that needs it,
// so u is read once and the result written once per step.
#include "isa_rows.h"
#include "phase_field_kernels.h"

#include "coarsegrain/detail/phase_field_math.h"
#include "coarsegrain/detail/stencil_math.h"

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// One row of mu = f'(u) - kappa lap(u), or, for Allen-Cahn, of u - dt M mu.
template <typename T, int NDIM, int TERMS, bool ALLEN_CAHN>
inline void mu_row(const Rows<T>& in, int64_t z, int64_t y, int64_t nx, const StepCoeffs<T>& k,
                   T* scratch, T* __restrict out) {
  T poly[TERMS];
  for (int t = 0; t < TERMS; ++t) poly[t] = k.poly[t];
  const T cx = k.cx, cy = k.cy, cz = k.cz, kappa = k.kappa, dt_m = k.dt_m;
  const T* __restrict c = pad_row(in.at(z, y), nx, 1, scratch);
  const T* __restrict ym = in.at(z, y - 1);
  const T* __restrict yp = in.at(z, y + 1);
  const T* __restrict zm = in.at(z - 1, y);
  const T* __restrict zp = in.at(z + 1, y);
  const auto at = row_neighbours(c, ym, yp, zm, zp);
#pragma omp simd
  for (int64_t x = 0; x < nx; ++x) {
    const T v = c[x];
    const T mu = detail::chemical_potential(detail::polynomial_at(poly, TERMS, v), kappa,
                                            detail::laplacian_at<NDIM, 2>(v, cx, cy, cz, at, x));
    if constexpr (ALLEN_CAHN)
      out[x] = detail::allen_cahn_update(v, dt_m, mu);
    else
      out[x] = mu;
  }
}

// dst = u + dt M lap(mu) on one row: c is the padded mu row, (ym, yp) and (zm, zp) its mu
// neighbours along the second and third box axes from the end.
template <typename T, int NDIM>
inline void update_row(const T* __restrict c, const T* __restrict ym, const T* __restrict yp,
                       const T* __restrict zm, const T* __restrict zp, const T* __restrict u,
                       T* __restrict dst, int64_t nx, const StepCoeffs<T>& k) {
  const T cx = k.cx, cy = k.cy, cz = k.cz, dt_m = k.dt_m;
  const auto at = row_neighbours(c, ym, yp, zm, zp);
#pragma omp simd
  for (int64_t x = 0; x < nx; ++x)
    dst[x] = detail::cahn_hilliard_update(u[x], dt_m, detail::laplacian_at<NDIM, 2>(c[x], cx, cy, cz, at, x));
}

template <typename T, int NDIM, int TERMS>
void two_pass_step(const T* u, T* dst, T* mu, const Box& box, const StepCoeffs<T>& k) {
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    mu_row<T, NDIM, TERMS, false>(Rows<T>{u + b * vol, box}, z, y, nx, k, scratch,
                                  mu + b * vol + (z * box.ny + y) * nx);
  });
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    const Rows<T> m{mu + b * vol, box};
    const int64_t row = b * vol + (z * box.ny + y) * nx;
    update_row<T, NDIM>(pad_row(m.at(z, y), nx, 1, scratch), m.at(z, y - 1), m.at(z, y + 1),
                        m.at(z - 1, y), m.at(z + 1, y), u + row, dst + row, nx, k);
  });
}

template <typename T, int NDIM, int TERMS>
void fused_step(const T* u, T* dst, const Box& box, const StepCoeffs<T>& k) {
  static_assert(NDIM >= 2, "the fused sweep needs a slab axis");
  const int64_t nx = box.nx, vol = volume(box);
  const int64_t sweep = NDIM == 3 ? box.nz : box.ny;     // slabs along the sweep axis
  const int64_t slab_rows = NDIM == 3 ? box.ny : 1;      // rows per slab
  const int64_t slab = slab_rows * nx;
  const int64_t threads = parallel::num_threads();
  // A few chunks per thread (so a thread that loses its core strands little work), each of
  // at least 8 slabs, so recomputing two slabs of mu per chunk stays cheap.
  int64_t chunks = max64(1, min64(2 * threads, sweep / 8));
  if (box.batch >= 2 * threads) chunks = 1;
  const int64_t items = box.batch * chunks;
  const bool parallel = items > 1 && box.batch * vol >= kParallelThreshold;
  parallel_chunks(items, 1, parallel, [&](int64_t i0, int64_t i1) {
    T* ring = new T[static_cast<size_t>(3 * slab)];
    T* scratch = new T[static_cast<size_t>(nx + 2)];
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t b = item / chunks, c = item % chunks;
      const int64_t s0 = c * sweep / chunks, s1 = (c + 1) * sweep / chunks;
      const Rows<T> in{u + b * vol, box};
      // Slab s of mu lives in ring slot (s - s0 + 1) mod 3, for s in [s0 - 1, s1].
      auto slot = [&](int64_t s) { return ring + ((s - s0 + 1) % 3) * slab; };
      auto compute_mu = [&](int64_t s) {
        T* m = slot(s);
        for (int64_t r = 0; r < slab_rows; ++r) {
          if constexpr (NDIM == 3)
            mu_row<T, NDIM, TERMS, false>(in, s, r, nx, k, scratch, m + r * nx);
          else
            mu_row<T, NDIM, TERMS, false>(in, 0, s, nx, k, scratch, m);
        }
      };
      compute_mu(s0 - 1);
      compute_mu(s0);
      for (int64_t s = s0; s < s1; ++s) {
        compute_mu(s + 1);
        const T* below = slot(s - 1);
        const T* here = slot(s);
        const T* above = slot(s + 1);
        for (int64_t r = 0; r < slab_rows; ++r) {
          const int64_t row = b * vol + (s * slab_rows + r) * nx;
          const T* c = pad_row(here + r * nx, nx, 1, scratch);
          if constexpr (NDIM == 3) {
            update_row<T, 3>(c, here + periodic_index(r - 1, slab_rows) * nx, here + periodic_index(r + 1, slab_rows) * nx,
                             below + r * nx, above + r * nx, u + row, dst + row, nx, k);
          } else {
            update_row<T, 2>(c, below, above, nullptr, nullptr, u + row, dst + row, nx, k);
          }
        }
      }
    }
    delete[] scratch;
    delete[] ring;
  });
}

template <typename T, int NDIM, int TERMS>
void allen_cahn_impl(const T* u, T* dst, const Box& box, const StepCoeffs<T>& k) {
  const int64_t vol = volume(box), nx = box.nx;
  for_each_row<T>(box, 1, [&](int64_t b, int64_t z, int64_t y, T* scratch) {
    mu_row<T, NDIM, TERMS, true>(Rows<T>{u + b * vol, box}, z, y, nx, k, scratch,
                                 dst + b * vol + (z * box.ny + y) * nx);
  });
}

// Calls F<T, NDIM, TERMS> with TERMS = 4 (up to cubic f', the common case) or 8.
#define COARSEGRAIN_DISPATCH_NDIM_TERMS(impl, ndim, k, ...)                    \
  do {                                                                         \
    const bool short_poly = (k).terms <= 4;                                    \
    switch (ndim) {                                                            \
      case 1:                                                                  \
        short_poly ? impl<T, 1, 4>(__VA_ARGS__) : impl<T, 1, 8>(__VA_ARGS__);  \
        break;                                                                 \
      case 2:                                                                  \
        short_poly ? impl<T, 2, 4>(__VA_ARGS__) : impl<T, 2, 8>(__VA_ARGS__);  \
        break;                                                                 \
      default:                                                                 \
        short_poly ? impl<T, 3, 4>(__VA_ARGS__) : impl<T, 3, 8>(__VA_ARGS__);  \
        break;                                                                 \
    }                                                                          \
  } while (0)

}  // namespace

template <typename T>
void cahn_hilliard_two_pass_step(const T* u, T* dst, T* mu, const Box& box, int ndim,
                                 const StepCoeffs<T>& k) {
  COARSEGRAIN_DISPATCH_NDIM_TERMS(two_pass_step, ndim, k, u, dst, mu, box, k);
}

template <typename T>
void cahn_hilliard_fused_step(const T* u, T* dst, const Box& box, int ndim,
                              const StepCoeffs<T>& k) {
  const bool short_poly = k.terms <= 4;
  if (ndim == 3)
    short_poly ? fused_step<T, 3, 4>(u, dst, box, k) : fused_step<T, 3, 8>(u, dst, box, k);
  else  // the caller sends 1D grids to the two-pass step
    short_poly ? fused_step<T, 2, 4>(u, dst, box, k) : fused_step<T, 2, 8>(u, dst, box, k);
}

template <typename T>
void allen_cahn_step(const T* u, T* dst, const Box& box, int ndim, const StepCoeffs<T>& k) {
  COARSEGRAIN_DISPATCH_NDIM_TERMS(allen_cahn_impl, ndim, k, u, dst, box, k);
}
#undef COARSEGRAIN_DISPATCH_NDIM_TERMS

COARSEGRAIN_INSTANTIATE_PHASE_FIELD_KERNELS(float)
COARSEGRAIN_INSTANTIATE_PHASE_FIELD_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
