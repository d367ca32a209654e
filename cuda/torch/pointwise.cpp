// CUDA implementations of the fused pointwise ops (kernels in cuda/kernels/pointwise.cu).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/complex.h>
#include <torch/library.h>

#include "coarsegrain/cuda/pointwise.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor polynomial_cuda(const at::Tensor& u, c10::ArrayRef<double> coeffs) {
  const c10::cuda::CUDAGuard guard(u.device());
  PolynomialCall call = prepare_polynomial(u, coeffs);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "polynomial", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::polynomial(
        call.input.const_data_ptr<scalar_t>(), call.output.mutable_data_ptr<scalar_t>(),
        call.input.numel(), call.poly, c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.output;
}

at::Tensor spectral_combine_cuda(at::TensorList terms, at::TensorList weights) {
  TORCH_CHECK_VALUE(!terms.empty(), "spectral_combine: terms must not be empty");
  const c10::cuda::CUDAGuard guard(terms[0].device());
  CombineCall call = prepare_combine(terms, weights);
  AT_DISPATCH_FLOATING_TYPES(call.weights[0].scalar_type(), "spectral_combine", [&] {
    const scalar_t* t[kMaxCombineTerms];
    const scalar_t* w[kMaxCombineTerms];
    const int n = static_cast<int>(call.terms.size());
    combine_pointers(call, t, w);
    C10_CUDA_CHECK(coarsegrain::cuda::spectral_combine(
        t, w, n, reinterpret_cast<scalar_t*>(call.output.mutable_data_ptr<c10::complex<scalar_t>>()),
        call.batch, call.size, c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.output;
}

at::Tensor real_fft_pack_cuda(const at::Tensor& u_hat, int64_t ndim) {
  const c10::cuda::CUDAGuard guard(u_hat.device());
  RealFftCall call = prepare_real_fft(u_hat, ndim);
  AT_DISPATCH_FLOATING_TYPES(c10::toRealValueType(u_hat.scalar_type()), "real_fft_pack", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::real_fft_pack(
        reinterpret_cast<const scalar_t*>(call.input.const_data_ptr<c10::complex<scalar_t>>()),
        reinterpret_cast<scalar_t*>(call.output.mutable_data_ptr<c10::complex<scalar_t>>()), call.batch,
        call.lead, call.nlead, call.m, c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.output;
}

at::Tensor take_along_last_cuda(const at::Tensor& x, const at::Tensor& index) {
  const c10::cuda::CUDAGuard guard(x.device());
  TakeCall call = prepare_take("take_along_last", x, index);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "take_along_last", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::take_along_last(call.input.const_data_ptr<scalar_t>(),
                                                      call.index.const_data_ptr<int64_t>(),
                                                      call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n,
                                                      call.m, c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.output;
}

at::Tensor take_along_last_backward_cuda(const at::Tensor& grad, const at::Tensor& index, int64_t n) {
  const c10::cuda::CUDAGuard guard(grad.device());
  TakeCall call = prepare_take_backward(grad, index, n);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "take_along_last_backward", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::take_along_last_backward(call.input.const_data_ptr<scalar_t>(),
                                                               call.index.const_data_ptr<int64_t>(),
                                                               call.output.mutable_data_ptr<scalar_t>(), call.rows,
                                                               call.n, call.m, c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("take_along_last", &take_along_last_cuda);
  m.impl("take_along_last_backward", &take_along_last_backward_cuda);
  m.impl("real_fft_pack", &real_fft_pack_cuda);
  m.impl("polynomial", &polynomial_cuda);
  m.impl("spectral_combine", &spectral_combine_cuda);
}

}  // namespace coarsegrain::torch_ops
