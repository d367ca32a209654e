// CUDA implementations of the explicit phase-field steppers (kernels in
// cuda/kernels/phase_field.cu), on the current stream of the input's device.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "coarsegrain/cuda/phase_field.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor cahn_hilliard_explicit_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing,
                                       double dt, double mobility, double kappa,
                                       c10::ArrayRef<double> dfdu, int64_t steps,
                                       c10::string_view scheme) {
  const CahnHilliardScheme parsed = parse_scheme(scheme);
  const c10::cuda::CUDAGuard guard(u.device());
  PhaseFieldCall call = prepare_phase_field("cahn_hilliard_explicit", u, spacing, dt, mobility,
                                            kappa, dfdu, steps, /*conserved=*/true);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "cahn_hilliard_explicit", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::cahn_hilliard_explicit(
        call.fields.input.const_data_ptr<scalar_t>(), call.fields.output.mutable_data_ptr<scalar_t>(),
        call.workspace.mutable_data_ptr<scalar_t>(), call.fields.grid, call.params, steps, parsed,
        c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.fields.output;
}

at::Tensor allen_cahn_explicit_cuda(const at::Tensor& u, c10::ArrayRef<double> spacing,
                                    double dt, double mobility, double kappa,
                                    c10::ArrayRef<double> dfdu, int64_t steps) {
  const c10::cuda::CUDAGuard guard(u.device());
  PhaseFieldCall call = prepare_phase_field("allen_cahn_explicit", u, spacing, dt, mobility,
                                            kappa, dfdu, steps, /*conserved=*/false);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "allen_cahn_explicit", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::allen_cahn_explicit(
        call.fields.input.const_data_ptr<scalar_t>(), call.fields.output.mutable_data_ptr<scalar_t>(),
        call.workspace.mutable_data_ptr<scalar_t>(), call.fields.grid, call.params, steps,
        c10::cuda::getCurrentCUDAStream().stream()));
  });
  return call.fields.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("cahn_hilliard_explicit", &cahn_hilliard_explicit_cuda);
  m.impl("allen_cahn_explicit", &allen_cahn_explicit_cuda);
}

}  // namespace coarsegrain::torch_ops
