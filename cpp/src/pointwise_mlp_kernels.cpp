// Point-wise network kernels, compiled once per instruction set (see cpu_isa.h). Points are
// taken kBlock at a time with each layer's activations stored unit by unit ([unit][point]), so
// every inner loop runs over points and vectorizes; a block's activations stay in L1/L2.
#include <algorithm>
#include <vector>

#include "isa_rows.h"
#include "pointwise_mlp_kernels.h"

#include "coarsegrain/detail/mlp_math.h"

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

constexpr int kBlock = 64;

using Layout = detail::MlpLayout;

// out[j][:] = b[j] + sum_i W[j, i] in[i][:], then the activation unless `linear`.
template <typename T, MlpActivation A>
inline void dense(const T* __restrict w, const T* __restrict b, int n_out, int n_in, const T* __restrict in,
                  T* __restrict out, bool linear) {
  for (int j = 0; j < n_out; ++j) {
    T* __restrict o = out + j * kBlock;
    const T bj = b[j];
#pragma omp simd
    for (int p = 0; p < kBlock; ++p) o[p] = bj;
    for (int i = 0; i < n_in; ++i) {
      const T wji = w[j * n_in + i];
      const T* __restrict a = in + i * kBlock;
#pragma omp simd
      for (int p = 0; p < kBlock; ++p) o[p] += wji * a[p];
    }
    if (!linear) {
#pragma omp simd
      for (int p = 0; p < kBlock; ++p) o[p] = detail::mlp_activate(A, o[p]);
    }
  }
}

// Reads points [p0, p0 + count) of x into in[i][p] (zeros past count).
template <typename T>
inline void load_block(const T* x, int64_t p0, int count, int n_in, T* in) {
  for (int i = 0; i < n_in; ++i) {
    T* row = in + i * kBlock;
    for (int p = 0; p < count; ++p) row[p] = x[(p0 + p) * n_in + i];
    for (int p = count; p < kBlock; ++p) row[p] = T(0);
  }
}

// The activations of every layer of one block: acts + l * width * kBlock holds layer l (layer 0:
// the input, n_in rows).
template <typename T, MlpActivation A>
inline void forward_block(const T* params, const MlpShape& s, const Layout& lay, T* acts) {
  const int64_t stride = int64_t(std::max(s.width, s.n_in)) * kBlock;
  for (int l = 1; l <= s.depth; ++l) {
    dense<T, A>(params + lay.w(l), params + lay.b(l), s.width, l == 1 ? s.n_in : s.width,
                acts + (l - 1) * stride, acts + l * stride, false);
  }
}

template <typename T, MlpActivation A>
void forward_impl(const T* x, const T* params, T* y, int64_t points, const MlpShape& s) {
  const Layout lay(s);
  const int64_t blocks = (points + kBlock - 1) / kBlock;
  const int64_t work = int64_t(s.width) * (s.width * (s.depth - 1) + s.n_in + s.n_out);
  parallel_chunks(blocks, grain_for(kBlock * std::max<int64_t>(work / 8, 1)), points * work >= kParallelThreshold,
                  [&](int64_t b0, int64_t b1) {
    const int64_t stride = int64_t(std::max(s.width, s.n_in)) * kBlock;
    std::vector<T> acts((s.depth + 1) * stride);
    std::vector<T> out(int64_t(s.n_out) * kBlock);
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t p0 = blk * kBlock;
      const int count = static_cast<int>(std::min<int64_t>(kBlock, points - p0));
      load_block(x, p0, count, s.n_in, acts.data());
      forward_block<T, A>(params, s, lay, acts.data());
      dense<T, A>(params + lay.out_w, params + lay.out_b, s.n_out, s.width, acts.data() + s.depth * stride,
                  out.data(), true);
      for (int k = 0; k < s.n_out; ++k)
        for (int p = 0; p < count; ++p) y[(p0 + p) * s.n_out + k] = out[k * kBlock + p];
    }
  });
}

// grad_w[j, i] += sum_p delta[j][p] a[i][p]; grad_b[j] += sum_p delta[j][p].
template <typename T>
inline void accumulate_weights(const T* delta, const T* a, int n_out, int n_in, T* grad_w, T* grad_b) {
  for (int j = 0; j < n_out; ++j) {
    const T* __restrict d = delta + j * kBlock;
    T sb = T(0);
#pragma omp simd reduction(+ : sb)
    for (int p = 0; p < kBlock; ++p) sb += d[p];
    grad_b[j] += sb;
    for (int i = 0; i < n_in; ++i) {
      const T* __restrict ai = a + i * kBlock;
      T sw = T(0);
#pragma omp simd reduction(+ : sw)
      for (int p = 0; p < kBlock; ++p) sw += d[p] * ai[p];
      grad_w[j * n_in + i] += sw;
    }
  }
}

// prev[i][p] = sum_j W[j, i] delta[j][p], times the activation slope at a[i][p] unless `input`.
template <typename T, MlpActivation A>
inline void back_through(const T* w, const T* delta, int n_out, int n_in, const T* a, T* prev, bool input) {
  for (int i = 0; i < n_in; ++i) {
    T* __restrict q = prev + i * kBlock;
#pragma omp simd
    for (int p = 0; p < kBlock; ++p) q[p] = T(0);
    for (int j = 0; j < n_out; ++j) {
      const T wji = w[j * n_in + i];
      const T* __restrict d = delta + j * kBlock;
#pragma omp simd
      for (int p = 0; p < kBlock; ++p) q[p] += wji * d[p];
    }
    if (!input) {
      const T* __restrict ai = a + i * kBlock;
#pragma omp simd
      for (int p = 0; p < kBlock; ++p) q[p] *= detail::mlp_activation_slope(A, ai[p]);
    }
  }
}

template <typename T, MlpActivation A>
void backward_impl(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params, int64_t points,
                   const MlpShape& s) {
  const Layout lay(s);
  const int64_t n_params = mlp_parameter_count(s);
  const int64_t blocks = (points + kBlock - 1) / kBlock;
  // Partial gradients per group of blocks, a size fixed by the problem (never by the thread
  // count), summed in group order below.
  const int64_t group_blocks = std::max<int64_t>(32, n_params / 8);
  const int64_t groups = (blocks + group_blocks - 1) / group_blocks;
  std::vector<T> partial(grad_params != nullptr ? groups * n_params : 0);
  const int64_t work = int64_t(s.width) * (s.width * (s.depth - 1) + s.n_in + s.n_out);
  parallel_chunks(groups, 1, points * work >= kParallelThreshold, [&](int64_t g0, int64_t g1) {
    const int64_t stride = int64_t(std::max(s.width, s.n_in)) * kBlock;
    std::vector<T> acts((s.depth + 1) * stride);
    std::vector<T> delta(std::max(s.width, s.n_out) * int64_t(kBlock));
    std::vector<T> prev(stride);
    std::vector<T> local(n_params);
    for (int64_t g = g0; g < g1; ++g) {
      std::fill(local.begin(), local.end(), T(0));
      const int64_t blk_end = std::min(blocks, (g + 1) * group_blocks);
      for (int64_t blk = g * group_blocks; blk < blk_end; ++blk) {
        const int64_t p0 = blk * kBlock;
        const int count = static_cast<int>(std::min<int64_t>(kBlock, points - p0));
        load_block(x, p0, count, s.n_in, acts.data());
        forward_block<T, A>(params, s, lay, acts.data());
        load_block(grad_y, p0, count, s.n_out, delta.data());  // zeros past count: no gradient
        // Output layer, then down through the hidden layers to the input.
        accumulate_weights(delta.data(), acts.data() + s.depth * stride, s.n_out, s.width,
                           local.data() + lay.out_w, local.data() + lay.out_b);
        back_through<T, A>(params + lay.out_w, delta.data(), s.n_out, s.width, acts.data() + s.depth * stride,
                           prev.data(), false);
        std::swap_ranges(prev.begin(), prev.begin() + int64_t(s.width) * kBlock, delta.begin());
        for (int l = s.depth; l >= 1; --l) {
          const int n_in = l == 1 ? s.n_in : s.width;
          const T* a_in = acts.data() + (l - 1) * stride;
          accumulate_weights(delta.data(), a_in, s.width, n_in, local.data() + lay.w(l),
                             local.data() + lay.b(l));
          if (l > 1 || grad_x != nullptr) {
            back_through<T, A>(params + lay.w(l), delta.data(), s.width, n_in, a_in, prev.data(), l == 1);
            if (l > 1) std::swap_ranges(prev.begin(), prev.begin() + int64_t(n_in) * kBlock, delta.begin());
          }
        }
        if (grad_x != nullptr)
          for (int i = 0; i < s.n_in; ++i)
            for (int p = 0; p < count; ++p) grad_x[(p0 + p) * s.n_in + i] = prev[i * kBlock + p];
      }
      if (grad_params != nullptr) std::copy(local.begin(), local.end(), partial.begin() + g * n_params);
    }
  });
  if (grad_params != nullptr) {
    std::fill(grad_params, grad_params + n_params, T(0));
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t k = 0; k < n_params; ++k) grad_params[k] += partial[g * n_params + k];
  }
}

}  // namespace

template <typename T>
void pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s) {
  if (s.activation == MlpActivation::kElu)
    forward_impl<T, MlpActivation::kElu>(x, params, y, points, s);
  else
    forward_impl<T, MlpActivation::kTanh>(x, params, y, points, s);
}

template <typename T>
void pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params,
                            int64_t points, const MlpShape& s) {
  if (s.activation == MlpActivation::kElu)
    backward_impl<T, MlpActivation::kElu>(grad_y, x, params, grad_x, grad_params, points, s);
  else
    backward_impl<T, MlpActivation::kTanh>(grad_y, x, params, grad_x, grad_params, points, s);
}

COARSEGRAIN_INSTANTIATE_MLP_KERNELS(float)
COARSEGRAIN_INSTANTIATE_MLP_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
