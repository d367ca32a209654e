// CPU implementations of the tridiagonal ops (kernels in cpp/src/tridiagonal*.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "coarsegrain/tridiagonal.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor tridiagonal_solve_cpu(const at::Tensor& lower, const at::Tensor& diag, const at::Tensor& upper,
                                 const at::Tensor& rhs) {
  TridiagonalCall call = prepare_tridiagonal(lower, diag, upper, rhs);
  PivotFailure failure;
  AT_DISPATCH_FLOATING_TYPES(diag.scalar_type(), "tridiagonal_solve", [&] {
    failure = tridiagonal_solve(call.lower.const_data_ptr<scalar_t>(), call.diag.const_data_ptr<scalar_t>(),
                                call.upper.const_data_ptr<scalar_t>(), call.rhs.const_data_ptr<scalar_t>(),
                                call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n);
  });
  check_pivots("tridiagonal_solve", failure, call.batch);
  return call.output;
}

at::Tensor heterogeneous_diffusion_step_cpu(const at::Tensor& u, const at::Tensor& a_faces, const at::Tensor& left,
                                            const at::Tensor& right, double spacing, double dt,
                                            c10::string_view scheme) {
  DiffusionCall call = prepare_diffusion(u, a_faces, left, right, spacing, dt, scheme);
  PivotFailure failure;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "heterogeneous_diffusion_step", [&] {
    failure = heterogeneous_diffusion_step(call.u.const_data_ptr<scalar_t>(), call.a_faces.const_data_ptr<scalar_t>(),
                                           call.left.const_data_ptr<scalar_t>(), call.right.const_data_ptr<scalar_t>(),
                                           call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n, call.step);
  });
  check_pivots("heterogeneous_diffusion_step", failure, call.batch);
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("tridiagonal_solve", &tridiagonal_solve_cpu);
  m.impl("heterogeneous_diffusion_step", &heterogeneous_diffusion_step_cpu);
}

}  // namespace coarsegrain::torch_ops
