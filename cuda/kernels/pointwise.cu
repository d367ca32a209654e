// CUDA kernels for the fused pointwise ops: grid-stride loops, one element per thread.
#include <cassert>
#include <algorithm>

#include "coarsegrain/cuda/pointwise.h"
#include "coarsegrain/detail/phase_field_math.h"
#include "coarsegrain/detail/spectral_math.h"

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
    out[i] = detail::polynomial_at(a.c, a.terms, u[i]);
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

struct RealFftShape {
  int64_t lead[kMaxRealFftLeadAxes];
  int nlead;
  int64_t rows, m;
};

// w^k = exp(-i pi k / m), in double for any T.
__device__ void twiddle(int64_t k, int64_t m, double& re, double& im) {
  double s, c;
  sincospi(static_cast<double>(k) / static_cast<double>(m), &s, &c);
  re = c;
  im = -s;
}

template <typename T>
__global__ void real_fft_pack_kernel(const T* __restrict__ u, T* __restrict__ out, int64_t batch,
                                     RealFftShape s) {
  const int64_t len = s.m + 1, total = batch * s.rows * s.m;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i % s.m, br = i / s.m, b = br / s.rows;
    const int64_t mr = b * s.rows + detail::mirror_row(br % s.rows, s.lead, s.nlead);
    const T* ur = u + 2 * br * len;
    const T* um = u + 2 * mr * len;
    T are, aim, cre, cim;
    if (k == 0) {  // Hermitian projection of the k = 0 and Nyquist columns
      are = T(0.5) * (ur[0] + um[0]);
      aim = T(0.5) * (ur[1] - um[1]);
      cre = T(0.5) * (ur[2 * s.m] + um[2 * s.m]);
      cim = T(0.5) * (ur[2 * s.m + 1] - um[2 * s.m + 1]);
    } else {
      are = ur[2 * k];
      aim = ur[2 * k + 1];
      cre = um[2 * (s.m - k)];
      cim = -um[2 * (s.m - k) + 1];
    }
    double wr, wi;
    twiddle(k, s.m, wr, wi);
    detail::pack_column(are, aim, cre, cim, T(wr), T(wi), out + 2 * i);
  }
}

RealFftShape real_fft_shape(const int64_t* lead, int nlead, int64_t m) {
  RealFftShape s{};
  s.nlead = nlead;
  s.rows = 1;
  s.m = m;
  for (int j = 0; j < nlead; ++j) {
    s.lead[j] = lead[j];
    s.rows *= lead[j];
  }
  return s;
}

// One thread per output element; an index outside [0, n) is a device-side assertion (as in
// torch.gather on CUDA): the host does not check the index, which would need a synchronization.
template <typename T>
__global__ void take_along_last_kernel(const T* __restrict__ x, const int64_t* __restrict__ index,
                                       T* __restrict__ out, int64_t rows, int64_t n, int64_t m) {
  const int64_t total = rows * m;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / m, j = e - r * m;
    const int64_t i = __ldg(index + j);
    assert(i >= 0 && i < n);
    out[e] = __ldg(x + r * n + i);
  }
}

// One thread per row of grad_x (the adjoint sums in increasing j, as on the CPU).
template <typename T>
__global__ void take_along_last_backward_kernel(const T* __restrict__ grad, const int64_t* __restrict__ index,
                                                T* __restrict__ grad_x, int64_t rows, int64_t n, int64_t m) {
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    T* o = grad_x + r * n;
    for (int64_t i = 0; i < n; ++i) o[i] = T(0);
    for (int64_t j = 0; j < m; ++j) {
      const int64_t i = __ldg(index + j);
      assert(i >= 0 && i < n);
      o[i] += __ldg(grad + r * m + j);
    }
  }
}

}  // namespace

template <typename T>
cudaError_t take_along_last(const T* x, const int64_t* index, T* out, int64_t rows, int64_t n, int64_t m,
                            cudaStream_t stream) {
  if (rows * m == 0) return cudaSuccess;
  take_along_last_kernel<T><<<blocks_for(rows * m), kThreads, 0, stream>>>(x, index, out, rows, n, m);
  return cudaGetLastError();
}

template <typename T>
cudaError_t take_along_last_backward(const T* grad, const int64_t* index, T* grad_x, int64_t rows, int64_t n,
                                     int64_t m, cudaStream_t stream) {
  if (rows * n == 0) return cudaSuccess;
  take_along_last_backward_kernel<T><<<blocks_for(rows), kThreads, 0, stream>>>(grad, index, grad_x, rows, n, m);
  return cudaGetLastError();
}

template <typename T>
cudaError_t real_fft_pack(const T* u_hat, T* out, int64_t batch, const int64_t* lead, int nlead,
                          int64_t m, cudaStream_t stream) {
  if (nlead < 0 || nlead > kMaxRealFftLeadAxes || m < 1) return cudaErrorInvalidValue;
  const RealFftShape s = real_fft_shape(lead, nlead, m);
  const int64_t total = batch * s.rows * m;
  if (total == 0) return cudaSuccess;
  real_fft_pack_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(u_hat, out, batch, s);
  return cudaGetLastError();
}

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
                                           int64_t, cudaStream_t);                            \
  template cudaError_t real_fft_pack<T>(const T*, T*, int64_t, const int64_t*, int, int64_t,     \
                                        cudaStream_t);                                           \
  template cudaError_t take_along_last<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, \
                                          cudaStream_t);                                         \
  template cudaError_t take_along_last_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, \
                                                   int64_t, cudaStream_t);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain::cuda
