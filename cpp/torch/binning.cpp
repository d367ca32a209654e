// CPU implementations of the particle-binning ops (kernels in cpp/src/binning*.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/binning.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

std::tuple<at::Tensor, at::Tensor> bin_particles_cpu(const at::Tensor& positions,
                                                     const std::optional<at::Tensor>& quantities,
                                                     c10::IntArrayRef bins, c10::ArrayRef<double> box,
                                                     c10::ArrayRef<double> origin, c10::string_view assignment,
                                                     bool periodic) {
  BinningCall call = prepare_binning("bin_particles", positions, quantities, bins, box, origin, assignment, periodic);
  at::Tensor out = at::empty(call.out_shape, call.positions.options());
  BinStats stats;
  AT_DISPATCH_FLOATING_TYPES(positions.scalar_type(), "bin_particles", [&] {
    stats = bin_particles(call.positions.const_data_ptr<scalar_t>(), optional_ptr<scalar_t>(call.quantities),
                          call.n, call.nq, call.grid, out.mutable_data_ptr<scalar_t>());
  });
  const std::string bad = nonfinite_message("bin_particles", stats);
  TORCH_CHECK_VALUE(bad.empty(), bad);
  return {out, at::scalar_tensor(stats.dropped, call.positions.options().dtype(at::kLong))};
}

std::tuple<at::Tensor, at::Tensor> bin_particles_backward_cpu(
    const at::Tensor& grad, const at::Tensor& positions, const std::optional<at::Tensor>& quantities,
    c10::IntArrayRef bins, c10::ArrayRef<double> box, c10::ArrayRef<double> origin, c10::string_view assignment,
    bool periodic) {
  BinningBackwardCall b =
      prepare_binning_backward(grad, positions, quantities, bins, box, origin, assignment, periodic);
  const BinningCall& call = b.call;
  AT_DISPATCH_FLOATING_TYPES(positions.scalar_type(), "bin_particles_backward", [&] {
    bin_particles_backward(b.grad.const_data_ptr<scalar_t>(), call.positions.const_data_ptr<scalar_t>(),
                           optional_ptr<scalar_t>(call.quantities), call.n, call.nq, call.grid,
                           b.grad_quantities.mutable_data_ptr<scalar_t>(), b.grad_positions.mutable_data_ptr<scalar_t>());
  });
  return {b.grad_positions, b.grad_quantities};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("bin_particles", &bin_particles_cpu);
  m.impl("bin_particles_backward", &bin_particles_backward_cpu);
}

}  // namespace coarsegrain::torch_ops
