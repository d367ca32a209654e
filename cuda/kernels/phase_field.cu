// CUDA kernels for the explicit phase-field steppers: mu = f'(u) - kappa lap u in one kernel,
// the Cahn-Hilliard update u + dt M lap(mu) in a second (mu stays in L2 for moderate grids);
// Allen-Cahn in one kernel. Steps are launched back to back on one stream.
#include "coarsegrain/cuda/phase_field.h"
#include "common.cuh"

namespace coarsegrain::cuda {
namespace {

template <typename T>
using Coeffs = StepCoeffs<T>;

// mu (or, for Allen-Cahn, u - dt M mu) at one point.
template <typename T, int NDIM>
__device__ __forceinline__ T chemical_potential(const Field<T>& f, const Box& box, int64_t z,
                                                int64_t y, int64_t x, const Coeffs<T>& k) {
  const T v = f(z, y, x);
  T p = k.poly[k.terms - 1];
  for (int t = k.terms - 2; t >= 0; --t) p = p * v + k.poly[t];
  const T two_v = T(2) * v;
  T lap = k.cx * (f(z, y, shifted(x, -1, box.nx)) + f(z, y, shifted(x, 1, box.nx)) - two_v);
  if constexpr (NDIM >= 2)
    lap += k.cy * (f(z, shifted(y, -1, box.ny), x) + f(z, shifted(y, 1, box.ny), x) - two_v);
  if constexpr (NDIM >= 3)
    lap += k.cz * (f(shifted(z, -1, box.nz), y, x) + f(shifted(z, 1, box.nz), y, x) - two_v);
  return p - k.kappa * lap;
}

template <typename T, int NDIM, bool ALLEN_CAHN>
__global__ void mu_kernel(const T* __restrict__ u, T* __restrict__ out, Box box, Coeffs<T> k) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> f{u + b * vol, box.ny, box.nx};
    const T mu = chemical_potential<T, NDIM>(f, box, z, y, x, k);
    const int64_t i = b * vol + (z * box.ny + y) * box.nx + x;
    out[i] = ALLEN_CAHN ? u[i] - k.dt_m * mu : mu;
  });
}

template <typename T, int NDIM>
__global__ void cahn_hilliard_update_kernel(const T* __restrict__ u, const T* __restrict__ mu,
                                            T* __restrict__ dst, Box box, Coeffs<T> k) {
  const int64_t vol = box.nz * box.ny * box.nx;
  for_each_point(box, [&](int64_t b, int64_t z, int64_t y, int64_t x) {
    const Field<T> m{mu + b * vol, box.ny, box.nx};
    const T c = m(z, y, x);
    const T two_c = T(2) * c;
    T lap = k.cx * (m(z, y, shifted(x, -1, box.nx)) + m(z, y, shifted(x, 1, box.nx)) - two_c);
    if constexpr (NDIM >= 2)
      lap += k.cy * (m(z, shifted(y, -1, box.ny), x) + m(z, shifted(y, 1, box.ny), x) - two_c);
    if constexpr (NDIM >= 3)
      lap += k.cz * (m(shifted(z, -1, box.nz), y, x) + m(shifted(z, 1, box.nz), y, x) - two_c);
    const int64_t i = b * vol + (z * box.ny + y) * box.nx + x;
    dst[i] = u[i] + k.dt_m * lap;
  });
}

}  // namespace

template <typename T>
cudaError_t cahn_hilliard_explicit(const T* u, T* out, T* workspace, const GridShape& g,
                                   const ExplicitPhaseField& p, int64_t steps,
                                   cudaStream_t stream) {
  const Box box = as_box(g);
  if (box.batch == 0 || steps < 1) return cudaSuccess;
  const Launch l = launch_for(box);
  const Coeffs<T> k = make_step_coeffs<T>(box, p);
  T* spare = workspace;
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
                                                 cudaStream_t);                              \
  template cudaError_t allen_cahn_explicit<T>(const T*, T*, T*, const GridShape&,            \
                                              const ExplicitPhaseField&, int64_t, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
