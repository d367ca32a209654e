#include "common.h"

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>

#include "coarsegrain/pointwise.h"

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

PolynomialCall prepare_polynomial(const at::Tensor& u, c10::ArrayRef<double> coeffs) {
  TORCH_CHECK_TYPE(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble,
                   "polynomial: u must be a float32 or float64 tensor, got ", u.scalar_type());
  PolynomialCall call;
  const std::string error = make_polynomial("polynomial", "coeffs", coeffs.data(),
                                            static_cast<int64_t>(coeffs.size()), call.poly);
  TORCH_CHECK_VALUE(error.empty(), error);
  call.input = u.contiguous();
  call.output = at::empty(u.sizes(), call.input.options());
  return call;
}

CombineCall prepare_combine(at::TensorList terms, at::TensorList weights) {
  const char* op = "spectral_combine";
  TORCH_CHECK_VALUE(!terms.empty() && terms.size() <= kMaxCombineTerms, op,
                    ": terms must hold 1 to ", kMaxCombineTerms, " tensors, got ", terms.size());
  TORCH_CHECK_VALUE(weights.size() == terms.size(), op, ": weights must hold one tensor per term (",
                    terms.size(), "), got ", weights.size());
  const at::Tensor& t0 = terms[0];
  TORCH_CHECK_TYPE(t0.scalar_type() == at::kComplexFloat || t0.scalar_type() == at::kComplexDouble,
                   op, ": terms must be complex64 or complex128 tensors, got ", t0.scalar_type());
  const at::ScalarType real = t0.scalar_type() == at::kComplexFloat ? at::kFloat : at::kDouble;
  const at::Tensor& w0 = weights[0];
  TORCH_CHECK_VALUE(w0.dim() <= t0.dim() && t0.sizes().slice(t0.dim() - w0.dim()) == w0.sizes(), op,
                    ": weights[0] of shape ", w0.sizes(), " must match the trailing dimensions of terms[0] ",
                    t0.sizes());
  CombineCall call;
  for (size_t i = 0; i < terms.size(); ++i) {
    TORCH_CHECK_VALUE(terms[i].sizes() == t0.sizes(), op, ": terms[", i, "] has shape ",
                      terms[i].sizes(), " but terms[0] has ", t0.sizes());
    TORCH_CHECK_TYPE(terms[i].scalar_type() == t0.scalar_type(), op, ": terms[", i, "] is ",
                     terms[i].scalar_type(), " but terms[0] is ", t0.scalar_type());
    TORCH_CHECK_VALUE(weights[i].sizes() == w0.sizes(), op, ": weights[", i, "] has shape ",
                      weights[i].sizes(), " but weights[0] has ", w0.sizes());
    TORCH_CHECK_TYPE(weights[i].scalar_type() == real, op, ": weights[", i, "] must be ", real,
                     " to match ", t0.scalar_type(), " terms, got ", weights[i].scalar_type());
    TORCH_CHECK_VALUE(terms[i].device() == t0.device() && weights[i].device() == t0.device(), op,
                      ": all tensors must be on ", t0.device(), "; terms[", i, "] is on ",
                      terms[i].device(), " and weights[", i, "] on ", weights[i].device());
    call.terms.push_back(terms[i].contiguous());
    call.weights.push_back(weights[i].contiguous());
  }
  call.size = w0.numel();
  call.batch = call.size == 0 ? 0 : t0.numel() / call.size;
  call.output = at::empty(t0.sizes(), t0.options().memory_format(at::MemoryFormat::Contiguous));
  return call;
}

}  // namespace coarsegrain::torch_ops
