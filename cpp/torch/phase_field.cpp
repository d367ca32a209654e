// CPU implementations of the explicit phase-field steppers (kernels in cpp/src/phase_field*.cpp).
#include <torch/library.h>

#include "coarsegrain/phase_field.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor cahn_hilliard_explicit_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing,
                                      double dt, double mobility, double kappa,
                                      c10::ArrayRef<double> dfdu, int64_t steps,
                                      c10::string_view scheme) {
  const CahnHilliardScheme s = parse_scheme(scheme);
  PhaseFieldCall call = prepare_phase_field("cahn_hilliard_explicit", u, spacing, dt, mobility,
                                            kappa, dfdu, steps, /*conserved=*/true);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "cahn_hilliard_explicit", [&] {
    cahn_hilliard_explicit(call.fields.input.const_data_ptr<scalar_t>(),
                           call.fields.output.mutable_data_ptr<scalar_t>(),
                           call.workspace.mutable_data_ptr<scalar_t>(), call.fields.grid,
                           call.params, steps, s);
  });
  return call.fields.output;
}

at::Tensor allen_cahn_explicit_cpu(const at::Tensor& u, c10::ArrayRef<double> spacing, double dt,
                                   double mobility, double kappa, c10::ArrayRef<double> dfdu,
                                   int64_t steps) {
  PhaseFieldCall call = prepare_phase_field("allen_cahn_explicit", u, spacing, dt, mobility,
                                            kappa, dfdu, steps, /*conserved=*/false);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "allen_cahn_explicit", [&] {
    allen_cahn_explicit(call.fields.input.const_data_ptr<scalar_t>(),
                        call.fields.output.mutable_data_ptr<scalar_t>(),
                        call.workspace.mutable_data_ptr<scalar_t>(), call.fields.grid,
                        call.params, steps);
  });
  return call.fields.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("cahn_hilliard_explicit", &cahn_hilliard_explicit_cpu);
  m.impl("allen_cahn_explicit", &allen_cahn_explicit_cpu);
}

}  // namespace coarsegrain::torch_ops
