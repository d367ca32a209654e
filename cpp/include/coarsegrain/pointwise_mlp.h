// A small multilayer perceptron applied at every point of a field (torch-free): the point-wise
// networks h(u) of modal operator regression (patel2021 Eq 11), where the same 4-wide network
// runs over millions of grid values per training step. Evaluated one point at a time, with every
// activation in registers or a cache-resident block, instead of one pass over memory per layer
// and activation as an eager framework makes.
//
// Network: `depth` hidden layers of `width` units, the activation after each, a linear output:
//   a_0 = x[p, :n_in];  a_l = act(W_l a_{l-1} + b_l), l = 1..depth;  y[p, :n_out] = W_o a_depth + b_o
// Parameters, one flat array in this order (row-major weights, as torch.nn.Linear stores them):
//   W_1 [width, n_in], b_1 [width], then per hidden layer l = 2..depth: W_l [width, width], b_l [width],
//   then W_o [n_out, width], b_o [n_out].
#pragma once

#include <cstdint>
#include <string>

namespace coarsegrain {

enum class MlpActivation { kElu, kTanh };

// Limits of the compiled networks (the CUDA kernel keeps a point's activations in registers and
// local memory, and a block's parameter gradients in shared memory).
constexpr int kMlpMaxIn = 8;
constexpr int kMlpMaxOut = 8;
constexpr int kMlpMaxWidth = 16;
constexpr int kMlpMaxDepth = 8;

struct MlpShape {
  int n_in, width, depth, n_out;
  MlpActivation activation;
};

// Number of parameters of a network of this shape (the length of the flat array).
int64_t mlp_parameter_count(const MlpShape& s);

// "" when the shape is within the limits above, else a one-line message naming the bad size.
std::string check_mlp_shape(const char* op, const MlpShape& s);

// "elu" or "tanh" -> the activation; throws std::invalid_argument naming `op` otherwise.
MlpActivation parse_mlp_activation(const char* op, const std::string& name);

// y [points, n_out] from x [points, n_in].
template <typename T>
void pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s);

// The reverse pass for grad_y [points, n_out]: grad_x [points, n_in] (skipped when null) and
// grad_params [parameter count] (overwritten; skipped when null). The activations are computed
// again point by point, so nothing from the forward pass is stored. Partial sums over fixed
// blocks of points are added in a fixed order: the same bits at every thread count.
template <typename T>
void pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params,
                            int64_t points, const MlpShape& s);

}  // namespace coarsegrain
