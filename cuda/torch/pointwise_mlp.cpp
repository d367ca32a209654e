// CUDA implementations of the point-wise network ops (kernels in cuda/kernels/pointwise_mlp.cu).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/cuda/pointwise_mlp.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

at::Tensor pointwise_mlp_cuda(const at::Tensor& x, const at::Tensor& params, int64_t width, int64_t depth,
                              int64_t n_out, c10::string_view activation) {
  const c10::cuda::CUDAGuard guard(x.device());
  MlpCall call = prepare_mlp("pointwise_mlp", x, params, width, depth, n_out, activation);
  at::Tensor y = at::empty(call.out_shape, call.x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pointwise_mlp", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::pointwise_mlp(call.x.const_data_ptr<scalar_t>(),
                                                    call.params.const_data_ptr<scalar_t>(),
                                                    y.mutable_data_ptr<scalar_t>(), call.points, call.shape, stream()));
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor> pointwise_mlp_backward_cuda(const at::Tensor& grad, const at::Tensor& x,
                                                               const at::Tensor& params, int64_t width,
                                                               int64_t depth, c10::string_view activation) {
  const c10::cuda::CUDAGuard guard(x.device());
  TORCH_CHECK_VALUE(grad.dim() >= 1, "pointwise_mlp_backward: grad must have at least one axis");
  MlpCall call = prepare_mlp("pointwise_mlp_backward", x, params, width, depth, grad.size(-1), activation);
  const at::Tensor g = check_mlp_grad(call, grad);
  at::Tensor grad_x = at::empty(call.x.sizes(), call.x.options());
  at::Tensor grad_params = at::empty(call.params.sizes(), call.params.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "pointwise_mlp_backward", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::pointwise_mlp_backward(
        g.const_data_ptr<scalar_t>(), call.x.const_data_ptr<scalar_t>(), call.params.const_data_ptr<scalar_t>(),
        grad_x.mutable_data_ptr<scalar_t>(), grad_params.mutable_data_ptr<scalar_t>(), call.points, call.shape,
        stream()));
  });
  return {grad_x, grad_params};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("pointwise_mlp", &pointwise_mlp_cuda);
  m.impl("pointwise_mlp_backward", &pointwise_mlp_backward_cuda);
}

}  // namespace coarsegrain::torch_ops
