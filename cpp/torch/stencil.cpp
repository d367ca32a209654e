// CPU implementations of the stencil ops (kernels in cpp/src/stencil.cpp).
#include <torch/library.h>

#include "coarsegrain/stencil.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

// Defines name_cpu (allocating) and name_into_cpu (writes into out) for a first-order operator of the family.
#define COARSEGRAIN_CPU_OP(name, arg, arity)                                                  \
  at::Tensor name##_cpu(const at::Tensor& x, c10::ArrayRef<double> spacing) {               \
    Prepared p = prepare(#name, arg, x, spacing, arity);                                     \
    run_kernel(p, [](const auto* in, auto* out, const GridShape& g) { name(in, out, g); });  \
    return p.output;                                                                         \
  }                                                                                          \
  void name##_into_cpu(const at::Tensor& x, c10::ArrayRef<double> spacing,            \
                             const at::Tensor& out) {                                              \
    Prepared p = prepare(#name, arg, x, spacing, arity, &out);                               \
    run_kernel(p, [](const auto* in, auto* o, const GridShape& g) { name(in, o, g); });      \
  }

COARSEGRAIN_CPU_OP(gradient, "u", Arity::kScalarToVector)
COARSEGRAIN_CPU_OP(gradient_adjoint, "v", Arity::kVectorToScalar)
COARSEGRAIN_CPU_OP(divergence, "flux", Arity::kVectorToScalar)
COARSEGRAIN_CPU_OP(divergence_adjoint, "w", Arity::kScalarToVector)
#undef COARSEGRAIN_CPU_OP

void run_laplacian(const Prepared& p, int64_t order) {
  const int ord = static_cast<int>(order);
  run_kernel(p, [ord](const auto* in, auto* out, const GridShape& g) { laplacian(in, out, g, ord); });
}

at::Tensor laplacian_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing, int64_t order) {
  check_laplacian_order(order);
  Prepared p = prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar);
  run_laplacian(p, order);
  return p.output;
}

void laplacian_into_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing, int64_t order,
                              const at::Tensor& out) {
  check_laplacian_order(order);
  run_laplacian(prepare("laplacian", "u", u, spacing, Arity::kScalarToScalar, &out), order);
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("laplacian", &laplacian_cpu);
  m.impl("laplacian_into", &laplacian_into_cpu);
  m.impl("gradient", &gradient_cpu);
  m.impl("gradient_into", &gradient_into_cpu);
  m.impl("gradient_adjoint", &gradient_adjoint_cpu);
  m.impl("gradient_adjoint_into", &gradient_adjoint_into_cpu);
  m.impl("divergence", &divergence_cpu);
  m.impl("divergence_into", &divergence_into_cpu);
  m.impl("divergence_adjoint", &divergence_adjoint_cpu);
  m.impl("divergence_adjoint_into", &divergence_adjoint_into_cpu);
}

}  // namespace coarsegrain::torch_ops
