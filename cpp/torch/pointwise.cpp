// CPU implementations of the fused pointwise ops (kernels in cpp/src/pointwise*.cpp).
#include <c10/util/complex.h>
#include <torch/library.h>

#include "coarsegrain/pointwise.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor polynomial_cpu(const at::Tensor& u, c10::ArrayRef<double> coeffs) {
  PolynomialCall call = prepare_polynomial(u, coeffs);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "polynomial", [&] {
    polynomial(call.input.const_data_ptr<scalar_t>(), call.output.mutable_data_ptr<scalar_t>(),
               call.input.numel(), call.poly);
  });
  return call.output;
}

at::Tensor spectral_combine_cpu(at::TensorList terms, at::TensorList weights) {
  CombineCall call = prepare_combine(terms, weights);
  AT_DISPATCH_FLOATING_TYPES(call.weights[0].scalar_type(), "spectral_combine", [&] {
    const scalar_t* t[kMaxCombineTerms];
    const scalar_t* w[kMaxCombineTerms];
    const int n = static_cast<int>(call.terms.size());
    combine_pointers(call, t, w);
    spectral_combine(t, w, n,
                     reinterpret_cast<scalar_t*>(call.output.mutable_data_ptr<c10::complex<scalar_t>>()),
                     call.batch, call.size);
  });
  return call.output;
}

at::Tensor real_fft_pack_cpu(const at::Tensor& u_hat, int64_t ndim) {
  RealFftCall call = prepare_real_fft(u_hat, ndim);
  if (call.output.numel() == 0) return call.output;
  AT_DISPATCH_FLOATING_TYPES(c10::toRealValueType(u_hat.scalar_type()), "real_fft_pack", [&] {
    real_fft_pack(reinterpret_cast<const scalar_t*>(call.input.const_data_ptr<c10::complex<scalar_t>>()),
                  reinterpret_cast<scalar_t*>(call.output.mutable_data_ptr<c10::complex<scalar_t>>()),
                  call.batch, call.lead, call.nlead, call.m);
  });
  return call.output;
}

at::Tensor take_along_last_cpu(const at::Tensor& x, const at::Tensor& index) {
  TakeCall call = prepare_take("take_along_last", x, index);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "take_along_last", [&] {
    take_along_last(call.input.const_data_ptr<scalar_t>(), call.index.const_data_ptr<int64_t>(),
                    call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n, call.m);
  });
  return call.output;
}

at::Tensor take_along_last_backward_cpu(const at::Tensor& grad, const at::Tensor& index, int64_t n) {
  TakeCall call = prepare_take_backward(grad, index, n);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "take_along_last_backward", [&] {
    take_along_last_backward(call.input.const_data_ptr<scalar_t>(), call.index.const_data_ptr<int64_t>(),
                             call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n, call.m);
  });
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("take_along_last", &take_along_last_cpu);
  m.impl("take_along_last_backward", &take_along_last_backward_cpu);
  m.impl("real_fft_pack", &real_fft_pack_cpu);
  m.impl("polynomial", &polynomial_cpu);
  m.impl("spectral_combine", &spectral_combine_cpu);
}

}  // namespace coarsegrain::torch_ops
