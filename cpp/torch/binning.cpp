// CPU implementations of the particle-binning ops (kernels in cpp/src/binning*.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <tuple>

#include "coarsegrain/binning.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

template <typename T>
const T* optional_ptr(const at::Tensor& t) {
  return t.defined() ? t.const_data_ptr<T>() : nullptr;
}

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
  BinningCall call =
      prepare_binning("bin_particles_backward", positions, quantities, bins, box, origin, assignment, periodic);
  const at::Tensor g = checked_binning_grad("bin_particles_backward", call, grad);
  at::Tensor grad_positions = at::zeros_like(call.positions);
  at::Tensor grad_quantities = at::empty({call.n, call.nq}, call.positions.options());
  AT_DISPATCH_FLOATING_TYPES(positions.scalar_type(), "bin_particles_backward", [&] {
    bin_particles_backward(g.const_data_ptr<scalar_t>(), call.positions.const_data_ptr<scalar_t>(),
                           optional_ptr<scalar_t>(call.quantities), call.n, call.nq, call.grid,
                           grad_quantities.mutable_data_ptr<scalar_t>(), grad_positions.mutable_data_ptr<scalar_t>());
  });
  return {grad_positions, grad_quantities};
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) {
  m.impl("bin_particles", &bin_particles_cpu);
  m.impl("bin_particles_backward", &bin_particles_backward_cpu);
}

}  // namespace coarsegrain::torch_ops
