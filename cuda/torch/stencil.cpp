// CUDA implementations of the stencil ops: torch glue around the torch-free launchers in
// cuda/kernels/stencil.cu, on the current stream of the input's device. Compiled by the host
// compiler; only the kernels need nvcc.
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "stencil_common.h"
#include "coarsegrain/cuda/stencil.h"

namespace coarsegrain::torch_ops {
namespace {

#define COARSEGRAIN_RUN_CUDA(p, name, ...)                                                 \
  AT_DISPATCH_FLOATING_TYPES(p.input.scalar_type(), name, [&] {                           \
    C10_CUDA_CHECK(coarsegrain::cuda::__VA_ARGS__(                                         \
        p.input.const_data_ptr<scalar_t>(), p.output.mutable_data_ptr<scalar_t>(), p.grid, \
        c10::cuda::getCurrentCUDAStream().stream()));                                      \
  })

at::Tensor laplacian_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing, int64_t order) {
  check_laplacian_order(order);
  const c10::cuda::CUDAGuard guard(u.device());
  Prepared p = prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar);
  const int ord = static_cast<int>(order);
  AT_DISPATCH_FLOATING_TYPES(p.input.scalar_type(), "laplacian", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::laplacian<scalar_t>(
        p.input.const_data_ptr<scalar_t>(), p.output.mutable_data_ptr<scalar_t>(), p.grid, ord,
        c10::cuda::getCurrentCUDAStream().stream()));
  });
  return p.output;
}

at::Tensor gradient_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing) {
  const c10::cuda::CUDAGuard guard(u.device());
  Prepared p = prepare("gradient", "u", u, spacing, Arity::kScalarToVector);
  COARSEGRAIN_RUN_CUDA(p, "gradient", gradient<scalar_t>);
  return p.output;
}

at::Tensor gradient_adjoint_cuda(const at::Tensor& v, c10::ArrayRef<double> spacing) {
  const c10::cuda::CUDAGuard guard(v.device());
  Prepared p = prepare("gradient_adjoint", "v", v, spacing, Arity::kVectorToScalar);
  COARSEGRAIN_RUN_CUDA(p, "gradient_adjoint", gradient_adjoint<scalar_t>);
  return p.output;
}

at::Tensor divergence_cuda(const at::Tensor& flux, c10::ArrayRef<double> spacing) {
  const c10::cuda::CUDAGuard guard(flux.device());
  Prepared p = prepare("divergence", "flux", flux, spacing, Arity::kVectorToScalar);
  COARSEGRAIN_RUN_CUDA(p, "divergence", divergence<scalar_t>);
  return p.output;
}

at::Tensor divergence_adjoint_cuda(const at::Tensor& w, c10::ArrayRef<double> spacing) {
  const c10::cuda::CUDAGuard guard(w.device());
  Prepared p = prepare("divergence_adjoint", "w", w, spacing, Arity::kScalarToVector);
  COARSEGRAIN_RUN_CUDA(p, "divergence_adjoint", divergence_adjoint<scalar_t>);
  return p.output;
}

#undef COARSEGRAIN_RUN_CUDA

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("laplacian", &laplacian_cuda);
  m.impl("gradient", &gradient_cuda);
  m.impl("gradient_adjoint", &gradient_adjoint_cuda);
  m.impl("divergence", &divergence_cuda);
  m.impl("divergence_adjoint", &divergence_adjoint_cuda);
}

}  // namespace coarsegrain::torch_ops
