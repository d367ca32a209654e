// CUDA kernel of the 2D lattice diffusion rate: one thread per point, the point-wise math of
// coarsegrain/detail/lattice_math.h (shared with the CPU kernels).
#include <algorithm>

#include "coarsegrain/cuda/lattice.h"
#include "coarsegrain/detail/lattice_math.h"

namespace coarsegrain::cuda {
namespace {

// Grid-stride loop over the points of [planes, ny, nx]; neighbouring threads read neighbouring x.
template <typename T>
__global__ void lattice_rate_kernel(const T* __restrict__ u, const T* __restrict__ kx, const T* __restrict__ ky,
                                    T* __restrict__ out, int64_t total, int64_t ny, int64_t nx, int64_t kx_planes,
                                    int64_t ky_planes, bool periodic, T inv_spacing_sq) {
  const int64_t plane = ny * nx;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < total; q += stride) {
    const int64_t b = q / plane, at = q - b * plane, j = at / nx, i = at - j * nx;
    const T* kxp = kx + (kx_planes == 1 ? 0 : b % kx_planes) * plane;
    const T* kyp = ky + (ky_planes == 1 ? 0 : b % ky_planes) * plane;
    out[q] = lattice_math::rate_at(u + b * plane, kxp, kyp, ny, nx, j, i, periodic, inv_spacing_sq);
  }
}

}  // namespace

template <typename T>
cudaError_t lattice_diffusion_rate(const T* u, const T* kx, const T* ky, T* out, const LatticeRate& p,
                                   cudaStream_t stream) {
  const int64_t total = p.planes * p.ny * p.nx;
  if (total == 0) return cudaSuccess;
  constexpr int kRateThreads = 256;
  const int64_t blocks = std::min<int64_t>((total + kRateThreads - 1) / kRateThreads, int64_t(1) << 20);
  lattice_rate_kernel<T><<<static_cast<unsigned>(blocks), kRateThreads, 0, stream>>>(
      u, kx, ky, out, total, p.ny, p.nx, p.kx_planes, p.ky_planes, p.boundary == LatticeBoundary::kPeriodic,
      T(1.0 / (p.spacing * p.spacing)));
  return cudaGetLastError();
}

template cudaError_t lattice_diffusion_rate<float>(const float*, const float*, const float*, float*,
                                                   const LatticeRate&, cudaStream_t);
template cudaError_t lattice_diffusion_rate<double>(const double*, const double*, const double*, double*,
                                                    const LatticeRate&, cudaStream_t);

}  // namespace coarsegrain::cuda
