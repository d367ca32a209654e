// CPU implementations of the point-wise network ops (kernels in cpp/src/pointwise_mlp*.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/pointwise_mlp.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor pointwise_mlp_cpu(const at::Tensor& x, const at::Tensor& params, int64_t width, int64_t depth,
                             int64_t n_out, c10::string_view activation) {
  MlpCall call = prepare_mlp("pointwise_mlp", x, params, width, depth, n_out, activation);
  at::Tensor y = at::empty(call.out_shape, call.x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pointwise_mlp", [&] {
    pointwise_mlp(call.x.const_data_ptr<scalar_t>(), call.params.const_data_ptr<scalar_t>(),
                  y.mutable_data_ptr<scalar_t>(), call.points, call.shape);
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor> pointwise_mlp_backward_cpu(const at::Tensor& grad, const at::Tensor& x,
                                                              const at::Tensor& params, int64_t width,
                                                              int64_t depth, c10::string_view activation) {
  TORCH_CHECK_VALUE(grad.dim() >= 1, "pointwise_mlp_backward: grad must have at least one axis");
  MlpCall call = prepare_mlp("pointwise_mlp_backward", x, params, width, depth, grad.size(-1), activation);
  const at::Tensor g = check_mlp_grad(call, grad);
  at::Tensor grad_x = at::empty(call.x.sizes(), call.x.options());
  at::Tensor grad_params = at::empty(call.params.sizes(), call.params.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pointwise_mlp_backward", [&] {
    pointwise_mlp_backward(g.const_data_ptr<scalar_t>(), call.x.const_data_ptr<scalar_t>(),
                           call.params.const_data_ptr<scalar_t>(), grad_x.mutable_data_ptr<scalar_t>(),
                           grad_params.mutable_data_ptr<scalar_t>(), call.points, call.shape);
  });
  return {grad_x, grad_params};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("pointwise_mlp", &pointwise_mlp_cpu);
  m.impl("pointwise_mlp_backward", &pointwise_mlp_backward_cpu);
}

}  // namespace coarsegrain::torch_ops
