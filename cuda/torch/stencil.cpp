// CUDA implementations of the stencil ops: torch glue around the torch-free launchers in
// cuda/kernels/stencil.cu, on the current stream of the input's device. Compiled by the host
// compiler; only the kernels need nvcc.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "coarsegrain/cuda/stencil.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// Defines name_cuda (allocating) and name_into_cuda (writes into out) for a first-order operator of the family.
#define COARSEGRAIN_CUDA_OP(name, arg, arity)                                                  \
  at::Tensor name##_cuda(const at::Tensor& x, c10::ArrayRef<double> spacing) {               \
    const c10::cuda::CUDAGuard guard(x.device());                                             \
    Prepared p = prepare(#name, arg, x, spacing, arity);                                      \
    run_kernel(p, [](const auto* in, auto* out, const GridShape& g) {                         \
      C10_CUDA_CHECK(coarsegrain::cuda::name(in, out, g, current_stream()));                  \
    });                                                                                       \
    return p.output;                                                                          \
  }                                                                                           \
  void name##_into_cuda(const at::Tensor& x, c10::ArrayRef<double> spacing,            \
                              const at::Tensor& out) {                                              \
    const c10::cuda::CUDAGuard guard(x.device());                                             \
    Prepared p = prepare(#name, arg, x, spacing, arity, &out);                                \
    run_kernel(p, [](const auto* in, auto* o, const GridShape& g) {                           \
      C10_CUDA_CHECK(coarsegrain::cuda::name(in, o, g, current_stream()));                    \
    });                                                                                       \
  }

COARSEGRAIN_CUDA_OP(gradient, "u", Arity::kScalarToVector)
COARSEGRAIN_CUDA_OP(gradient_adjoint, "v", Arity::kVectorToScalar)
COARSEGRAIN_CUDA_OP(divergence, "flux", Arity::kVectorToScalar)
COARSEGRAIN_CUDA_OP(divergence_adjoint, "w", Arity::kScalarToVector)
#undef COARSEGRAIN_CUDA_OP

void run_laplacian(const Prepared& p, int64_t order) {
  const int ord = static_cast<int>(order);
  run_kernel(p, [ord](const auto* in, auto* out, const GridShape& g) {
    C10_CUDA_CHECK(coarsegrain::cuda::laplacian(in, out, g, ord, current_stream()));
  });
}

at::Tensor laplacian_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing, int64_t order) {
  check_laplacian_order(order);
  const c10::cuda::CUDAGuard guard(u.device());
  Prepared p = prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar);
  run_laplacian(p, order);
  return p.output;
}

void laplacian_into_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing,
                               int64_t order, const at::Tensor& out) {
  check_laplacian_order(order);
  const c10::cuda::CUDAGuard guard(u.device());
  run_laplacian(prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar, &out), order);
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("laplacian", &laplacian_cuda);
  m.impl("laplacian_into", &laplacian_into_cuda);
  m.impl("gradient", &gradient_cuda);
  m.impl("gradient_into", &gradient_into_cuda);
  m.impl("gradient_adjoint", &gradient_adjoint_cuda);
  m.impl("gradient_adjoint_into", &gradient_adjoint_into_cuda);
  m.impl("divergence", &divergence_cuda);
  m.impl("divergence_into", &divergence_into_cuda);
  m.impl("divergence_adjoint", &divergence_adjoint_cuda);
  m.impl("divergence_adjoint_into", &divergence_adjoint_into_cuda);
}

}  // namespace coarsegrain::torch_ops
