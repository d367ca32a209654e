// CUDA implementations of the particle-binning ops (kernels in cuda/kernels/binning.cu).
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/cuda/binning.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

std::tuple<at::Tensor, at::Tensor> bin_particles_cuda(const at::Tensor& positions,
                                                      const std::optional<at::Tensor>& quantities,
                                                      c10::IntArrayRef bins, c10::ArrayRef<double> box,
                                                      c10::ArrayRef<double> origin, c10::string_view assignment,
                                                      bool periodic) {
  const c10::cuda::CUDAGuard guard(positions.device());
  BinningCall call = prepare_binning("bin_particles", positions, quantities, bins, box, origin, assignment, periodic);
  at::Tensor out = at::empty(call.out_shape, call.positions.options());
  at::Tensor counters = at::empty({3}, call.positions.options().dtype(at::kLong));
  auto* raw_counters = reinterpret_cast<unsigned long long*>(counters.mutable_data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(positions.scalar_type(), "bin_particles", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::bin_particles(call.positions.const_data_ptr<scalar_t>(),
                                                    optional_ptr<scalar_t>(call.quantities), call.n, call.nq,
                                                    call.grid, out.mutable_data_ptr<scalar_t>(), raw_counters,
                                                    stream()));
  });
  // One synchronizing copy per call: a NaN position must raise, as on the CPU.
  const at::Tensor host = counters.cpu();
  const int64_t* c = host.const_data_ptr<int64_t>();
  if (c[1] != 0) {
    BinStats stats;
    stats.nonfinite = c[1];
    const auto first = static_cast<unsigned long long>(c[2]);
    stats.first_nonfinite = static_cast<int64_t>(first / 4);
    stats.first_nonfinite_axis = static_cast<int>(first % 4);
    TORCH_CHECK_VALUE(false, nonfinite_message("bin_particles", stats));
  }
  return {out, counters[0]};
}

std::tuple<at::Tensor, at::Tensor> bin_particles_backward_cuda(
    const at::Tensor& grad, const at::Tensor& positions, const std::optional<at::Tensor>& quantities,
    c10::IntArrayRef bins, c10::ArrayRef<double> box, c10::ArrayRef<double> origin, c10::string_view assignment,
    bool periodic) {
  const c10::cuda::CUDAGuard guard(positions.device());
  BinningBackwardCall b =
      prepare_binning_backward(grad, positions, quantities, bins, box, origin, assignment, periodic);
  const BinningCall& call = b.call;
  AT_DISPATCH_FLOATING_TYPES(positions.scalar_type(), "bin_particles_backward", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::bin_particles_backward(
        b.grad.const_data_ptr<scalar_t>(), call.positions.const_data_ptr<scalar_t>(),
        optional_ptr<scalar_t>(call.quantities), call.n, call.nq, call.grid,
        b.grad_quantities.mutable_data_ptr<scalar_t>(), b.grad_positions.mutable_data_ptr<scalar_t>(), stream()));
  });
  return {b.grad_positions, b.grad_quantities};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) {
  m.impl("bin_particles", &bin_particles_cuda);
  m.impl("bin_particles_backward", &bin_particles_backward_cuda);
}

}  // namespace coarsegrain::torch_ops
