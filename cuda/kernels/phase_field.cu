// CUDA kernels for the explicit phase-field steppers. Cahn-Hilliard "fused": one kernel per step
// that marches z through a tile, keeping mu = f'(u) - kappa lap u of three planes (tile plus a
// one-point halo) in shared memory, so u is read from DRAM about once and u' written once.
// "two_pass": mu in one kernel, u + dt M lap(mu) in a second (mu goes through DRAM).
// Allen-Cahn in one kernel. Steps are launched back to back on one stream.
#include "coarsegrain/cuda/phase_field.h"
#include "common.cuh"
#include "coarsegrain/detail/phase_field_math.h"

namespace coarsegrain::cuda {
namespace {

template <typename T>
using Coeffs = StepCoeffs<T>;

// mu (or, for Allen-Cahn, u - dt M mu) at one point.
template <typename T, int NDIM>
__device__ __forceinline__ T mu_at(const Field<T>& f, const Box& box, int64_t z,
                                                int64_t y, int64_t x, const Coeffs<T>& k) {
  const auto at = periodic_neighbours(f, box, z, y, x);
  const T v = f(z, y, x);
  return detail::chemical_potential(detail::polynomial_at(k.poly, k.terms, v), k.kappa,
                                    detail::laplacian_at<NDIM, 2>(v, k.cx, k.cy, k.cz, at, 0));
}

template <typename T, int NDIM, bool ALLEN_CAHN>
__global__ void mu_kernel(const T* __restrict__ u, T* __restrict__ out, Box box, Coeffs<T> k) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> f{u + b * vol, box.ny, box.nx};
    const T mu = mu_at<T, NDIM>(f, box, z, y, x, k);
    const int64_t i = b * vol + (z * box.ny + y) * box.nx + x;
    out[i] = ALLEN_CAHN ? detail::allen_cahn_update(u[i], k.dt_m, mu) : mu;
  });
}

template <typename T, int NDIM>
__global__ void cahn_hilliard_update_kernel(const T* __restrict__ u, const T* __restrict__ mu,
                                            T* __restrict__ dst, Box box, Coeffs<T> k) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> m{mu + b * vol, box.ny, box.nx};
    const auto at = periodic_neighbours(m, box, z, y, x);
    const int64_t i = b * vol + (z * box.ny + y) * box.nx + x;
    dst[i] = detail::cahn_hilliard_update(u[i], k.dt_m,
                                          detail::laplacian_at<NDIM, 2>(m(z, y, x), k.cx, k.cy, k.cz, at, 0));
  });
}

constexpr int kHaloX = kTileX + 2, kHaloY = kTileY + 2, kHaloPoints = kHaloX * kHaloY;
constexpr int kTileThreads = kTileX * kTileY;
constexpr int kHaloPerThread = (kHaloPoints + kTileThreads - 1) / kTileThreads;

template <typename T>
__global__ void __launch_bounds__(kTileThreads)
    cahn_hilliard_fused_kernel(const T* __restrict__ u, T* __restrict__ dst, Box box, Coeffs<T> k,
                               int z_chunk) {
  __shared__ T mu_ring[3][kHaloPoints];
  const ZRange zr = zmarch_range(box, z_chunk);
  const int nx = static_cast<int>(box.nx), ny = static_cast<int>(box.ny), nz = static_cast<int>(box.nz);
  const int plane = nx * ny;
  const T* ub = u + zr.batch * plane * static_cast<int64_t>(nz);
  T* db = dst + zr.batch * plane * static_cast<int64_t>(nz);
  const int x0 = blockIdx.x * kTileX - 1, y0 = blockIdx.y * kTileY - 1;  // halo origin
  const int tid = threadIdx.y * kTileX + threadIdx.x;
  // In-plane offsets of the halo points whose mu this thread evaluates, and of their neighbours.
  int c_off[kHaloPerThread], xm_off[kHaloPerThread], xp_off[kHaloPerThread],
      ym_off[kHaloPerThread], yp_off[kHaloPerThread];
#pragma unroll
  for (int p = 0; p < kHaloPerThread; ++p) {
    const int s = min(tid + p * kTileThreads, kHaloPoints - 1);
    const int x = periodic_index(x0 + s % kHaloX, nx), y = periodic_index(y0 + s / kHaloX, ny);
    const int row = y * nx;
    c_off[p] = row + x;
    xm_off[p] = row + (x == 0 ? nx - 1 : x - 1);
    xp_off[p] = row + (x == nx - 1 ? 0 : x + 1);
    ym_off[p] = (y == 0 ? ny - 1 : y - 1) * nx + x;
    yp_off[p] = (y == ny - 1 ? 0 : y + 1) * nx + x;
  }
  auto fill_mu = [&](int z, T* mu) {
    const T* pc = ub + z * plane;
    const T* pm = ub + (z == 0 ? nz - 1 : z - 1) * plane;
    const T* pp = ub + (z == nz - 1 ? 0 : z + 1) * plane;
#pragma unroll
    for (int p = 0; p < kHaloPerThread; ++p) {
      const int s = tid + p * kTileThreads;
      if (s < kHaloPoints) {
        const auto at = [&](int, int axis, int j) {
          if (axis == 0) return __ldg(pc + (j < 0 ? xm_off[p] : xp_off[p]));
          if (axis == 1) return __ldg(pc + (j < 0 ? ym_off[p] : yp_off[p]));
          return __ldg((j < 0 ? pm : pp) + c_off[p]);
        };
        const T v = __ldg(pc + c_off[p]);
        mu[s] = detail::chemical_potential(detail::polynomial_at(k.poly, k.terms, v), k.kappa,
                                           detail::laplacian_at<3, 2>(v, k.cx, k.cy, k.cz, at, 0));
      }
    }
  };
  const int ox = x0 + 1 + static_cast<int>(threadIdx.x), oy = y0 + 1 + static_cast<int>(threadIdx.y);
  const bool writes = ox < nx && oy < ny;
  const int sc = (threadIdx.y + 1) * kHaloX + threadIdx.x + 1;
  auto update = [&](int z, const T* below, const T* mu, const T* above) {
    if (!writes) return;
    const auto at = [&](int, int axis, int j) {
      if (axis == 0) return mu[sc + j];
      if (axis == 1) return mu[sc + j * kHaloX];
      return j < 0 ? below[sc] : above[sc];
    };
    const int i = z * plane + oy * nx + ox;
    db[i] = detail::cahn_hilliard_update(__ldg(ub + i), k.dt_m,
                                         detail::laplacian_at<3, 2>(mu[sc], k.cx, k.cy, k.cz, at, 0));
  };
  if (nz == 1) {  // 1D and 2D fields: one plane, no z neighbours (cz = 0)
    fill_mu(0, mu_ring[0]);
    __syncthreads();
    update(0, mu_ring[0], mu_ring[0], mu_ring[0]);
    return;
  }
  int below = 0, here = 1, above = 2;
  fill_mu(zr.begin == 0 ? nz - 1 : zr.begin - 1, mu_ring[below]);
  fill_mu(zr.begin, mu_ring[here]);
  for (int z = zr.begin; z < zr.end; ++z) {
    fill_mu(z == nz - 1 ? 0 : z + 1, mu_ring[above]);
    __syncthreads();
    update(z, mu_ring[below], mu_ring[here], mu_ring[above]);
    __syncthreads();  // every thread is done with `below` before it is refilled
    const int old_below = below;
    below = here;
    here = above;
    above = old_below;
  }
}

}  // namespace

template <typename T>
cudaError_t cahn_hilliard_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                                   const ExplicitPhaseField& p, int64_t steps,
                                   CahnHilliardScheme scheme,
                                   cudaStream_t stream) {
  const Box box = as_box(g);
  if (box.batch == 0 || steps < 1) return cudaSuccess;
  const Coeffs<T> k = make_step_coeffs<T>(box, p);
  T* spare = workspace;
  if (scheme == CahnHilliardScheme::kFused) {
    const ZMarchPlan plan = plan_zmarch(box);
    if (plan.ok) {
      const ZMarch& z = plan.launch;
      cudaError_t status = cudaSuccess;
      run_steps(u, out, spare, steps, [&](const T* src, T* dst) {
        cahn_hilliard_fused_kernel<T><<<z.grid, z.block, 0, stream>>>(src, dst, box, k, z.z_chunk);
        if (status == cudaSuccess) status = cudaGetLastError();
      });
      return status;
    }  // too large for 32-bit indices or the grid limits: two passes
  }
  const Launch l = launch_for(box);
  T* mu = workspace + g.batch * g.points();
  cudaError_t status = cudaSuccess;
  dispatch_ndim(g.ndim, [&](auto nd) {
    constexpr int N = decltype(nd)::value;
    run_steps(u, out, spare, steps, [&](const T* src, T* dst) {
      mu_kernel<T, N, false><<<l.grid, l.block, 0, stream>>>(src, mu, box, k);
      cahn_hilliard_update_kernel<T, N><<<l.grid, l.block, 0, stream>>>(src, mu, dst, box, k);
      if (status == cudaSuccess) status = cudaGetLastError();
    });
  });
  return status;
}

template <typename T>
cudaError_t allen_cahn_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                                const ExplicitPhaseField& p, int64_t steps, cudaStream_t stream) {
  const Box box = as_box(g);
  if (box.batch == 0 || steps < 1) return cudaSuccess;
  const Launch l = launch_for(box);
  const Coeffs<T> k = make_step_coeffs<T>(box, p);
  cudaError_t status = cudaSuccess;
  dispatch_ndim(g.ndim, [&](auto nd) {
    constexpr int N = decltype(nd)::value;
    run_steps(u, out, workspace, steps, [&](const T* src, T* dst) {
      mu_kernel<T, N, true><<<l.grid, l.block, 0, stream>>>(src, dst, box, k);
      if (status == cudaSuccess) status = cudaGetLastError();
    });
  });
  return status;
}

#define COARSEGRAIN_INSTANTIATE(T)                                                           \
  template cudaError_t cahn_hilliard_explicit<T>(const T*, T*, T*, const GridShape&,         \
                                                 const ExplicitPhaseField&, int64_t,         \
                                                 CahnHilliardScheme,                         \
                                                 cudaStream_t);                              \
  template cudaError_t allen_cahn_explicit<T>(const T*, T*, T*, const GridShape&,            \
                                              const ExplicitPhaseField&, int64_t, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
