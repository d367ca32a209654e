#include "common.h"

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>

namespace coarsegrain::torch_ops {

Prepared prepare(const char* op, const char* arg, const at::Tensor& t,
                 c10::ArrayRef<double> spacing, Arity arity, const at::Tensor* out) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ",
                   arg, " must be a float32 or float64 tensor, got ", t.scalar_type());
  Prepared p;
  const std::string error =
      make_grid_shape(op, arg, t.sizes().data(), t.dim(), spacing.data(),
                      static_cast<int64_t>(spacing.size()), arity, p.grid);
  TORCH_CHECK_VALUE(error.empty(), error);
  p.input = t.contiguous();
  const std::vector<int64_t> shape = result_shape(t.sizes().data(), t.dim(), p.grid.ndim, arity);
  if (out == nullptr) {
    p.output = at::empty(shape, p.input.options());
    return p;
  }
  TORCH_CHECK_VALUE(out->sizes() == c10::IntArrayRef(shape), op, ": out must have shape ",
                    c10::IntArrayRef(shape), ", got ", out->sizes());
  TORCH_CHECK_TYPE(out->scalar_type() == t.scalar_type(), op, ": out must have the dtype of ",
                   arg, " (", t.scalar_type(), "), got ", out->scalar_type());
  TORCH_CHECK_VALUE(out->device() == t.device(), op, ": out must be on the device of ", arg,
                    " (", t.device(), "), got ", out->device());
  TORCH_CHECK_VALUE(out->is_contiguous(), op, ": out must be contiguous");
  TORCH_CHECK_VALUE(at::get_overlap_status(*out, t) == at::MemOverlapStatus::No, op,
                    ": out must not share memory with ", arg);
  p.output = *out;
  return p;
}

void check_laplacian_order(int64_t order) {
  TORCH_CHECK_VALUE(order == 2 || order == 4, "laplacian: order must be 2 or 4, got ", order);
}

PhaseFieldCall prepare_phase_field(const char* op, const at::Tensor& u,
                                   c10::ArrayRef<double> spacing, double dt, double mobility,
                                   double kappa, c10::ArrayRef<double> dfdu, int64_t steps,
                                   bool conserved) {
  PhaseFieldCall call;
  call.fields = prepare(op, "u", u, spacing, Arity::kScalarToScalar);
  call.params.dt = dt;
  call.params.mobility = mobility;
  call.params.kappa = kappa;
  std::string error = make_polynomial(op, "dfdu", dfdu.data(), static_cast<int64_t>(dfdu.size()),
                                      call.params.dfdu);
  TORCH_CHECK_VALUE(error.empty(), error);
  error = check_explicit_phase_field(op, call.fields.grid, call.params, steps, conserved);
  TORCH_CHECK_VALUE(error.empty(), error);
  call.workspace = at::empty({phase_field_workspace(call.fields.grid)}, call.fields.input.options());
  return call;
}

CahnHilliardScheme parse_scheme(c10::string_view scheme) {
  if (scheme == "fused") return CahnHilliardScheme::kFused;
  if (scheme == "two_pass") return CahnHilliardScheme::kTwoPass;
  TORCH_CHECK_VALUE(false, "cahn_hilliard_explicit: scheme must be 'fused' or 'two_pass', got '",
                    std::string(scheme), "'");
}

}  // namespace coarsegrain::torch_ops
