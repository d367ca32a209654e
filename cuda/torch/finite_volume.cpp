// CUDA implementations of the finite-volume ops (kernels in cuda/kernels/finite_volume.cu).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/cuda/finite_volume.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

at::Tensor weno5_flux_cuda(const at::Tensor& v, c10::string_view flux) {
  const c10::cuda::CUDAGuard guard(v.device());
  const NumericalFlux kind = parse_flux(flux);
  RowsCall call = prepare_weno5("weno5_flux", v);
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "weno5_flux", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::weno5_burgers_flux(call.input.const_data_ptr<scalar_t>(),
                                                         call.output.mutable_data_ptr<scalar_t>(), call.rows,
                                                         call.n, kind, stream()));
  });
  return call.output;
}

std::tuple<at::Tensor, at::Tensor> weno5_reconstruct_cuda(const at::Tensor& v) {
  const c10::cuda::CUDAGuard guard(v.device());
  RowsCall call = prepare_weno5("weno5_reconstruct", v);
  at::Tensor right = at::empty_like(call.output);
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "weno5_reconstruct", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::weno5_reconstruct(call.input.const_data_ptr<scalar_t>(),
                                                        call.output.mutable_data_ptr<scalar_t>(),
                                                        right.mutable_data_ptr<scalar_t>(), call.rows, call.n,
                                                        stream()));
  });
  return {call.output, right};
}

at::Tensor restrict_average_cuda(const at::Tensor& u, int64_t ndim, int64_t factor) {
  const c10::cuda::CUDAGuard guard(u.device());
  RestrictCall call = prepare_restrict(u, ndim, factor);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "restrict_average", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::restrict_average(call.input.const_data_ptr<scalar_t>(),
                                                       call.output.mutable_data_ptr<scalar_t>(), call.grid,
                                                       call.factor, stream()));
  });
  return call.output;
}

at::Tensor stencil_filter_cuda(const at::Tensor& v, const at::Tensor& coeffs, int64_t offset) {
  const c10::cuda::CUDAGuard guard(v.device());
  FilterCall call = prepare_filter("stencil_filter", v, coeffs, offset);
  at::Tensor out = at::empty(call.v.sizes(), call.v.options());
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "stencil_filter", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::stencil_filter(call.v.const_data_ptr<scalar_t>(),
                                                     call.coeffs.const_data_ptr<scalar_t>(),
                                                     out.mutable_data_ptr<scalar_t>(), call.rows, call.n,
                                                     call.width, call.offset, stream()));
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> stencil_filter_backward_cuda(const at::Tensor& grad, const at::Tensor& v,
                                                                const at::Tensor& coeffs, int64_t offset) {
  const c10::cuda::CUDAGuard guard(v.device());
  FilterCall call = prepare_filter("stencil_filter_backward", v, coeffs, offset);
  check_filter_grad(call, grad);
  const at::Tensor g = grad.contiguous();
  at::Tensor grad_v = at::empty(call.v.sizes(), call.v.options());
  at::Tensor grad_c = at::empty(call.coeffs.sizes(), call.coeffs.options());
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "stencil_filter_backward", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::stencil_filter_backward(
        g.const_data_ptr<scalar_t>(), call.v.const_data_ptr<scalar_t>(), call.coeffs.const_data_ptr<scalar_t>(),
        grad_v.mutable_data_ptr<scalar_t>(), grad_c.mutable_data_ptr<scalar_t>(), call.rows, call.n, call.width,
        call.offset, stream()));
  });
  return {grad_v, grad_c};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("weno5_flux", &weno5_flux_cuda);
  m.impl("weno5_reconstruct", &weno5_reconstruct_cuda);
  m.impl("restrict_average", &restrict_average_cuda);
  m.impl("stencil_filter", &stencil_filter_cuda);
  m.impl("stencil_filter_backward", &stencil_filter_backward_cuda);
}

}  // namespace coarsegrain::torch_ops
