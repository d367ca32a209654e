// CUDA kernels of the tridiagonal solves: one thread per system, the Thomas sweep of
// coarsegrain/detail/tridiagonal_math.h (shared with the CPU kernels).
#include <algorithm>

#include "coarsegrain/cuda/tridiagonal.h"
#include "coarsegrain/detail/tridiagonal_math.h"

namespace coarsegrain::cuda {
namespace {

using namespace tridiagonal_math;

constexpr int kThreads = 128;

unsigned blocks_for(int64_t rows) { return static_cast<unsigned>((rows + kThreads - 1) / kThreads); }

__device__ __forceinline__ void note_failure(unsigned long long* failure, int64_t s, int64_t n, int64_t row) {
  if (row >= 0) atomicMin(failure, static_cast<unsigned long long>(s * n + row));
}

template <typename T>
__global__ void tridiagonal_kernel(const T* __restrict__ lower, const T* __restrict__ diag,
                                   const T* __restrict__ upper, const T* __restrict__ rhs, T* __restrict__ x,
                                   int64_t rows, int64_t n, T* __restrict__ workspace,
                                   unsigned long long* failure) {
  const int64_t s = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (s >= rows) return;
  const int64_t o = s * n;
  const StoredBands<T> band{lower + o, diag + o, upper + o, rhs + o};
  note_failure(failure, s, n, thomas(n, band, workspace + s, rows, x + o));
}

template <typename T>
__global__ void diffusion_kernel(const T* __restrict__ u, const T* __restrict__ a_faces, const T* __restrict__ left,
                                 const T* __restrict__ right, T* __restrict__ out, int64_t rows, int64_t n,
                                 int64_t a_stride, int64_t bc_stride, T theta, T r, T* __restrict__ workspace,
                                 unsigned long long* failure) {
  const int64_t s = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (s >= rows) return;
  const DiffusionBands<T> band{u + s * n, a_faces + s * a_stride, left[s * bc_stride], right[s * bc_stride],
                               theta, r, n};
  note_failure(failure, s, n, thomas(n, band, workspace + s, rows, out + s * n));
}

}  // namespace

template <typename T>
cudaError_t tridiagonal_solve(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t rows,
                              int64_t n, T* workspace, unsigned long long* failure, cudaStream_t stream) {
  cudaError_t e = cudaMemsetAsync(failure, 0xff, sizeof(unsigned long long), stream);
  if (e != cudaSuccess || rows * n == 0) return e;
  tridiagonal_kernel<T><<<blocks_for(rows), kThreads, 0, stream>>>(lower, diag, upper, rhs, x, rows, n, workspace,
                                                                  failure);
  return cudaGetLastError();
}

template <typename T>
cudaError_t heterogeneous_diffusion_step(const T* u, const T* a_faces, const T* left, const T* right, T* out,
                                         int64_t rows, int64_t n, const DiffusionStep& p, T* workspace,
                                         unsigned long long* failure, cudaStream_t stream) {
  cudaError_t e = cudaMemsetAsync(failure, 0xff, sizeof(unsigned long long), stream);
  if (e != cudaSuccess || rows * n == 0) return e;
  const T r = T(p.dt / (p.spacing * p.spacing));
  diffusion_kernel<T><<<blocks_for(rows), kThreads, 0, stream>>>(u, a_faces, left, right, out, rows, n, p.a_stride,
                                                                p.bc_stride, T(p.theta()), r, workspace, failure);
  return cudaGetLastError();
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                               \
  template cudaError_t tridiagonal_solve<T>(const T*, const T*, const T*, const T*, T*, int64_t, int64_t, T*,    \
                                            unsigned long long*, cudaStream_t);                                  \
  template cudaError_t heterogeneous_diffusion_step<T>(const T*, const T*, const T*, const T*, T*, int64_t,      \
                                                       int64_t, const DiffusionStep&, T*, unsigned long long*,   \
                                                       cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
