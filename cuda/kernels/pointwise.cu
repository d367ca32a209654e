// CUDA kernels for the fused pointwise ops: grid-stride loops, one element per thread.
#include <algorithm>

#include "coarsegrain/cuda/pointwise.h"

namespace coarsegrain::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535 * 8;

template <typename T>
struct PolyArgs {
  T c[kMaxPolynomialTerms];
  int terms;
};

template <typename T>
struct CombineArgs {
  const T* terms[kMaxCombineTerms];
  const T* weights[kMaxCombineTerms];
  int nterms;
};

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

template <typename T>
__global__ void polynomial_kernel(const T* __restrict__ u, T* __restrict__ out, int64_t n,
                                  PolyArgs<T> a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T v = u[i];
    T p = a.c[a.terms - 1];
    for (int t = a.terms - 2; t >= 0; --t) p = p * v + a.c[t];
    out[i] = p;
  }
}

template <typename T>
__global__ void combine_kernel(CombineArgs<T> a, T* __restrict__ out, int64_t batch, int64_t size) {
  const int64_t total = batch * size;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = i % size;
    T re = 0, im = 0;
    for (int k = 0; k < a.nterms; ++k) {
      const T w = a.weights[k][s];
      re += w * a.terms[k][2 * i];
      im += w * a.terms[k][2 * i + 1];
    }
    out[2 * i] = re;
    out[2 * i + 1] = im;
  }
}

}  // namespace

template <typename T>
cudaError_t polynomial(const T* u, T* out, int64_t n, const Polynomial& p, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  PolyArgs<T> a{};
  a.terms = p.terms;
  for (int t = 0; t < kMaxPolynomialTerms; ++t) a.c[t] = T(p.coeff[t]);
  polynomial_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(u, out, n, a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t spectral_combine(const T* const* terms, const T* const* weights, int nterms, T* out,
                             int64_t batch, int64_t size, cudaStream_t stream) {
  if (batch * size == 0) return cudaSuccess;
  if (nterms < 1 || nterms > kMaxCombineTerms) return cudaErrorInvalidValue;
  CombineArgs<T> a{};
  a.nterms = nterms;
  for (int k = 0; k < nterms; ++k) {
    a.terms[k] = terms[k];
    a.weights[k] = weights[k];
  }
  combine_kernel<T><<<blocks_for(batch * size), kThreads, 0, stream>>>(a, out, batch, size);
  return cudaGetLastError();
}

#define COARSEGRAIN_INSTANTIATE(T)                                                            \
  template cudaError_t polynomial<T>(const T*, T*, int64_t, const Polynomial&, cudaStream_t); \
  template cudaError_t spectral_combine<T>(const T* const*, const T* const*, int, T*, int64_t, \
                                           int64_t, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
