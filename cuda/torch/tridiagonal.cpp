// CUDA implementations of the tridiagonal ops (kernels in cuda/kernels/tridiagonal.cu). Each call
// synchronizes once: a zero pivot must raise, as on the CPU.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include <limits>

#include "coarsegrain/cuda/tridiagonal.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// Reads the device's failure word (min(system * n + row), all ones when none) and raises.
void check_device_pivots(const char* op, const at::Tensor& failure, int64_t n, const std::vector<int64_t>& batch) {
  const at::Tensor host = failure.cpu();
  const auto word = static_cast<unsigned long long>(host.const_data_ptr<int64_t>()[0]);
  if (word == std::numeric_limits<unsigned long long>::max()) return;
  PivotFailure f;
  f.system = static_cast<int64_t>(word / static_cast<unsigned long long>(n));
  f.row = static_cast<int64_t>(word % static_cast<unsigned long long>(n));
  check_pivots(op, f, batch);
}

at::Tensor tridiagonal_solve_cuda(const at::Tensor& lower, const at::Tensor& diag, const at::Tensor& upper,
                                  const at::Tensor& rhs) {
  const c10::cuda::CUDAGuard guard(diag.device());
  TridiagonalCall call = prepare_tridiagonal(lower, diag, upper, rhs);
  at::Tensor workspace = at::empty({call.rows * call.n}, call.diag.options());
  at::Tensor failure = at::empty({1}, call.diag.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(diag.scalar_type(), "tridiagonal_solve", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::tridiagonal_solve(
        call.lower.const_data_ptr<scalar_t>(), call.diag.const_data_ptr<scalar_t>(),
        call.upper.const_data_ptr<scalar_t>(), call.rhs.const_data_ptr<scalar_t>(),
        call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n, workspace.mutable_data_ptr<scalar_t>(),
        reinterpret_cast<unsigned long long*>(failure.mutable_data_ptr<int64_t>()), stream()));
  });
  check_device_pivots("tridiagonal_solve", failure, call.n, call.batch);
  return call.output;
}

at::Tensor heterogeneous_diffusion_step_cuda(const at::Tensor& u, const at::Tensor& a_faces, const at::Tensor& left,
                                             const at::Tensor& right, double spacing, double dt,
                                             c10::string_view scheme) {
  const c10::cuda::CUDAGuard guard(u.device());
  DiffusionCall call = prepare_diffusion(u, a_faces, left, right, spacing, dt, scheme);
  at::Tensor workspace = at::empty({call.rows * call.n}, call.u.options());
  at::Tensor failure = at::empty({1}, call.u.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "heterogeneous_diffusion_step", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::heterogeneous_diffusion_step(
        call.u.const_data_ptr<scalar_t>(), call.a_faces.const_data_ptr<scalar_t>(),
        call.left.const_data_ptr<scalar_t>(), call.right.const_data_ptr<scalar_t>(),
        call.output.mutable_data_ptr<scalar_t>(), call.rows, call.n, call.step,
        workspace.mutable_data_ptr<scalar_t>(),
        reinterpret_cast<unsigned long long*>(failure.mutable_data_ptr<int64_t>()), stream()));
  });
  check_device_pivots("heterogeneous_diffusion_step", failure, call.n, call.batch);
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("tridiagonal_solve", &tridiagonal_solve_cuda);
  m.impl("heterogeneous_diffusion_step", &heterogeneous_diffusion_step_cuda);
}

}  // namespace coarsegrain::torch_ops
