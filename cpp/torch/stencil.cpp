// CPU implementations of the stencil ops (kernels in cpp/src/stencil.cpp).
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "coarsegrain/stencil.h"
#include "stencil_common.h"

namespace coarsegrain::torch_ops {
namespace {

// Runs kernel<scalar_t>(in, out, grid) on a prepared op.
#define COARSEGRAIN_RUN_CPU(p, name, ...)                                           \
  AT_DISPATCH_FLOATING_TYPES(p.input.scalar_type(), name, [&] {                    \
    coarsegrain::__VA_ARGS__(p.input.const_data_ptr<scalar_t>(),                    \
                             p.output.mutable_data_ptr<scalar_t>(), p.grid);         \
  })

at::Tensor laplacian_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing, int64_t order) {
  check_laplacian_order(order);
  Prepared p = prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar);
  const int ord = static_cast<int>(order);
  AT_DISPATCH_FLOATING_TYPES(p.input.scalar_type(), "laplacian", [&] {
    coarsegrain::laplacian<scalar_t>(p.input.const_data_ptr<scalar_t>(),
                                     p.output.mutable_data_ptr<scalar_t>(), p.grid, ord);
  });
  return p.output;
}

at::Tensor gradient_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing) {
  Prepared p = prepare("gradient", "u", u, spacing, Arity::kScalarToVector);
  COARSEGRAIN_RUN_CPU(p, "gradient", gradient<scalar_t>);
  return p.output;
}

at::Tensor gradient_adjoint_cpu(const at::Tensor& v, c10::ArrayRef<double> spacing) {
  Prepared p = prepare("gradient_adjoint", "v", v, spacing, Arity::kVectorToScalar);
  COARSEGRAIN_RUN_CPU(p, "gradient_adjoint", gradient_adjoint<scalar_t>);
  return p.output;
}

at::Tensor divergence_cpu(const at::Tensor& flux, c10::ArrayRef<double> spacing) {
  Prepared p = prepare("divergence", "flux", flux, spacing, Arity::kVectorToScalar);
  COARSEGRAIN_RUN_CPU(p, "divergence", divergence<scalar_t>);
  return p.output;
}

at::Tensor divergence_adjoint_cpu(const at::Tensor& w, c10::ArrayRef<double> spacing) {
  Prepared p = prepare("divergence_adjoint", "w", w, spacing, Arity::kScalarToVector);
  COARSEGRAIN_RUN_CPU(p, "divergence_adjoint", divergence_adjoint<scalar_t>);
  return p.output;
}

#undef COARSEGRAIN_RUN_CPU

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("laplacian", &laplacian_cpu);
  m.impl("gradient", &gradient_cpu);
  m.impl("gradient_adjoint", &gradient_adjoint_cpu);
  m.impl("divergence", &divergence_cpu);
  m.impl("divergence_adjoint", &divergence_adjoint_cpu);
}

}  // namespace coarsegrain::torch_ops
