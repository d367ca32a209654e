#include "common.h"

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>

#include "coarsegrain/parallel.h"
#include "coarsegrain/pointwise.h"
#include "coarsegrain/validate.h"

namespace coarsegrain::torch_ops {
namespace {

// The CPU kernels use the threads torch is told to use (torch.set_num_threads), asked per call.
const bool kThreadsFollowTorch = [] {
  parallel::set_num_threads_source([] { return at::get_num_threads(); });
  return true;
}();

}  // namespace

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
  // The kernel reads p.input: t itself when contiguous, else a fresh copy (then out may share
  // t's storage, and a non-dense t, whose overlap status is TooHard, is no obstacle).
  TORCH_CHECK_VALUE(at::get_overlap_status(*out, p.input) == at::MemOverlapStatus::No, op,
                    ": out must not share memory with ", arg);
  p.output = *out;
  return p;
}

void check_laplacian_order(int64_t order) {
  checked([&] { return validate::laplacian_order(order); });
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
  return checked([&] { return validate::parse_scheme(std::string_view(scheme.data(), scheme.size())); });
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

RealFftCall prepare_real_fft(const at::Tensor& u_hat, int64_t ndim) {
  const char* op = "real_fft_pack";
  TORCH_CHECK_TYPE(u_hat.scalar_type() == at::kComplexFloat || u_hat.scalar_type() == at::kComplexDouble,
                   op, ": u_hat must be a complex64 or complex128 tensor, got ", u_hat.scalar_type());
  TORCH_CHECK_VALUE(ndim >= 1 && ndim <= kMaxRealFftLeadAxes + 1, op, ": ndim must be 1 to ",
                    kMaxRealFftLeadAxes + 1, ", got ", ndim);
  TORCH_CHECK_VALUE(u_hat.dim() >= ndim, op, ": ndim = ", ndim,
                    " transform axes, but u_hat has shape ", u_hat.sizes());
  TORCH_CHECK_VALUE(u_hat.size(-1) >= 2, op,
                    ": the last axis of u_hat must hold m + 1 >= 2 half-spectrum columns, got shape ",
                    u_hat.sizes());
  RealFftCall call;
  call.m = u_hat.size(-1) - 1;
  call.nlead = static_cast<int>(ndim - 1);
  for (int j = 0; j < call.nlead; ++j) call.lead[j] = u_hat.size(u_hat.dim() - ndim + j);
  for (int64_t j = 0; j < u_hat.dim() - ndim; ++j) call.batch *= u_hat.size(j);
  call.input = u_hat.contiguous();
  std::vector<int64_t> shape(u_hat.sizes().begin(), u_hat.sizes().end());
  shape.back() = call.m;
  call.output = at::empty(shape, call.input.options());
  return call;
}

namespace {

void check_float(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", arg,
                   " must be a float32 or float64 tensor, got ", t.scalar_type());
}

}  // namespace

RowsCall prepare_weno5(const char* op, const at::Tensor& v) {
  check_float(op, "v", v);
  const validate::RowShape rows = checked([&] { return validate::weno5_rows(op, v.sizes().data(), v.dim()); });
  RowsCall call;
  call.input = v.contiguous();
  call.output = at::empty(v.sizes(), call.input.options());
  call.n = rows.n;
  call.rows = rows.rows;
  return call;
}

NumericalFlux parse_flux(c10::string_view flux) {
  return checked([&] { return validate::parse_flux(std::string_view(flux.data(), flux.size())); });
}

FilterCall prepare_filter(const char* op, const at::Tensor& v, const at::Tensor& coeffs, int64_t offset) {
  check_float(op, "v", v);
  check_float(op, "coeffs", coeffs);
  TORCH_CHECK_TYPE(v.scalar_type() == coeffs.scalar_type(), op, ": coeffs must have the dtype of v (",
                   v.scalar_type(), "), got ", coeffs.scalar_type());
  TORCH_CHECK_VALUE(v.device() == coeffs.device(), op, ": coeffs must be on the device of v (", v.device(),
                    "), got ", coeffs.device());
  const validate::FilterShape shape = checked([&] {
    return validate::stencil_filter_shape(op, v.sizes().data(), v.dim(), coeffs.sizes().data(),
                                          coeffs.dim(), offset);
  });
  FilterCall call;
  call.v = v.contiguous();
  call.coeffs = coeffs.contiguous();
  call.n = shape.n;
  call.rows = shape.rows;
  call.width = shape.width;
  call.offset = shape.offset;
  return call;
}

void check_filter_grad(const FilterCall& call, const at::Tensor& grad) {
  TORCH_CHECK_VALUE(grad.sizes() == call.v.sizes() && grad.scalar_type() == call.v.scalar_type() &&
                        grad.device() == call.v.device(),
                    "stencil_filter_backward: grad must match v (", call.v.sizes(), ", ",
                    call.v.scalar_type(), "), got ", grad.sizes(), ", ", grad.scalar_type());
}

RestrictCall prepare_restrict(const at::Tensor& u, int64_t ndim, int64_t factor) {
  check_float("restrict_average", "u", u);
  validate::RestrictShape shape =
      checked([&] { return validate::restrict_average_shape(u.sizes().data(), u.dim(), ndim, factor); });
  RestrictCall call;
  call.grid = shape.grid;
  call.factor = shape.factor;
  call.input = u.contiguous();
  call.output = at::empty(shape.out_shape, call.input.options());
  return call;
}

}  // namespace coarsegrain::torch_ops

namespace coarsegrain::torch_ops {

BinningCall prepare_binning(const char* op, const at::Tensor& positions,
                            const std::optional<at::Tensor>& quantities, c10::IntArrayRef bins,
                            c10::ArrayRef<double> box, c10::ArrayRef<double> origin,
                            c10::string_view assignment, bool periodic) {
  TORCH_CHECK_TYPE(positions.scalar_type() == at::kFloat || positions.scalar_type() == at::kDouble, op,
                   ": positions must be a float32 or float64 tensor, got ", positions.scalar_type());
  TORCH_CHECK_VALUE(positions.dim() == 2, op, ": positions must be [n, d] (one row per particle), got shape ",
                    positions.sizes());
  BinningCall call;
  const std::string error =
      make_bin_grid(op, positions.size(1), bins.data(), static_cast<int64_t>(bins.size()), box.data(),
                    static_cast<int64_t>(box.size()), origin.data(), static_cast<int64_t>(origin.size()),
                    std::string(assignment), periodic, call.grid);
  TORCH_CHECK_VALUE(error.empty(), error);
  call.n = positions.size(0);
  call.positions = positions.contiguous();
  if (quantities.has_value() && quantities->defined()) {
    const at::Tensor& q = *quantities;
    TORCH_CHECK_TYPE(q.scalar_type() == positions.scalar_type(), op,
                     ": quantities must have the dtype of positions (", positions.scalar_type(), "), got ",
                     q.scalar_type());
    TORCH_CHECK_VALUE(q.device() == positions.device(), op, ": quantities must be on the device of positions (",
                      positions.device(), "), got ", q.device());
    TORCH_CHECK_VALUE(q.dim() == 2 && q.size(0) == call.n && q.size(1) >= 1, op,
                      ": quantities must be [n, q] with n = ", call.n, " (one row per particle) and q >= 1, got shape ",
                      q.sizes());
    call.quantities = q.contiguous();
    call.nq = q.size(1);
  }
  call.out_shape.push_back(call.nq);
  for (int a = 0; a < call.grid.ndim; ++a) call.out_shape.push_back(call.grid.bins[a]);
  return call;
}

BinningBackwardCall prepare_binning_backward(const at::Tensor& grad, const at::Tensor& positions,
                                            const std::optional<at::Tensor>& quantities, c10::IntArrayRef bins,
                                            c10::ArrayRef<double> box, c10::ArrayRef<double> origin,
                                            c10::string_view assignment, bool periodic) {
  const char* op = "bin_particles_backward";
  BinningBackwardCall b;
  b.call = prepare_binning(op, positions, quantities, bins, box, origin, assignment, periodic);
  const BinningCall& call = b.call;
  TORCH_CHECK_VALUE(grad.sizes() == c10::IntArrayRef(call.out_shape) &&
                        grad.scalar_type() == call.positions.scalar_type() &&
                        grad.device() == call.positions.device(),
                    op, ": grad must be ", c10::IntArrayRef(call.out_shape), " ", call.positions.scalar_type(),
                    " on ", call.positions.device(), ", got ", grad.sizes(), " ", grad.scalar_type(), " on ",
                    grad.device());
  b.grad = grad.contiguous();
  b.grad_positions = at::zeros_like(call.positions);
  b.grad_quantities = at::empty({call.n, call.nq}, call.positions.options());
  return b;
}

namespace {

void check_take_index_tensor(const char* op, const at::Tensor& values, const at::Tensor& index) {
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, op, ": index must be an int64 tensor, got ",
                   index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1, op, ": index must be 1-D, got shape ", index.sizes());
  TORCH_CHECK_VALUE(index.device() == values.device(), op, ": index must be on the device of the values (",
                    values.device(), "), got ", index.device());
}

}  // namespace

TakeCall prepare_take(const char* op, const at::Tensor& x, const at::Tensor& index) {
  TORCH_CHECK_TYPE(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, op,
                   ": x must be a float32 or float64 tensor, got ", x.scalar_type());
  TORCH_CHECK_VALUE(x.dim() >= 1, op, ": x must have at least one axis");
  check_take_index_tensor(op, x, index);
  TakeCall call;
  call.n = x.size(-1);
  call.m = index.size(0);
  call.rows = 1;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) call.rows *= x.size(d);
  call.input = x.contiguous();
  call.index = index.contiguous();
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = call.m;
  call.output = at::empty(shape, call.input.options());
  if (index.device().is_cpu()) {
    const std::string bad = check_take_index(op, call.index.const_data_ptr<int64_t>(), call.m, call.n);
    TORCH_CHECK_VALUE(bad.empty(), bad);
  }
  return call;
}

TakeCall prepare_take_backward(const at::Tensor& grad, const at::Tensor& index, int64_t n) {
  const char* op = "take_along_last_backward";
  TORCH_CHECK_TYPE(grad.scalar_type() == at::kFloat || grad.scalar_type() == at::kDouble, op,
                   ": grad must be a float32 or float64 tensor, got ", grad.scalar_type());
  check_take_index_tensor(op, grad, index);
  TORCH_CHECK_VALUE(grad.dim() >= 1 && grad.size(-1) == index.size(0), op,
                    ": grad must be [..., m] with m = ", index.size(0), " (the index length), got shape ",
                    grad.sizes());
  TORCH_CHECK_VALUE(n >= 0, op, ": n must be >= 0, got ", n);
  TakeCall call;
  call.n = n;
  call.m = index.size(0);
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < grad.dim(); ++d) rows *= grad.size(d);
  call.rows = rows;
  call.input = grad.contiguous();
  call.index = index.contiguous();
  std::vector<int64_t> shape(grad.sizes().begin(), grad.sizes().end());
  shape.back() = n;
  call.output = at::empty(shape, call.input.options());
  if (index.device().is_cpu()) {
    const std::string bad = check_take_index(op, call.index.const_data_ptr<int64_t>(), call.m, call.n);
    TORCH_CHECK_VALUE(bad.empty(), bad);
  }
  return call;
}

}  // namespace coarsegrain::torch_ops

namespace coarsegrain::torch_ops {
namespace {

void check_float_tensor(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ", arg,
                   " must be a float32 or float64 tensor, got ", t.scalar_type());
}

// `t` has the dtype and device of `like` (named like_arg).
void check_like(const char* op, const char* arg, const at::Tensor& t, const char* like_arg, const at::Tensor& like) {
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type(), op, ": ", arg, " must have the dtype of ", like_arg, " (",
                   like.scalar_type(), "), got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.device() == like.device(), op, ": ", arg, " must be on the device of ", like_arg, " (",
                    like.device(), "), got ", t.device());
}

}  // namespace

TridiagonalCall prepare_tridiagonal(const at::Tensor& lower, const at::Tensor& diag, const at::Tensor& upper,
                                    const at::Tensor& rhs) {
  const char* op = "tridiagonal_solve";
  check_float_tensor(op, "lower", lower);
  check_float_tensor(op, "diag", diag);
  check_float_tensor(op, "upper", upper);
  check_float_tensor(op, "rhs", rhs);
  TORCH_CHECK_VALUE(diag.dim() >= 1, op, ": diag must be [*batch, n] (at least one axis), got shape ", diag.sizes());
  const std::pair<const char*, const at::Tensor*> others[] = {{"lower", &lower}, {"upper", &upper}, {"rhs", &rhs}};
  for (const auto& [arg, t] : others) {
    check_like(op, arg, *t, "diag", diag);
    TORCH_CHECK_VALUE(t->sizes() == diag.sizes(), op, ": ", arg, " must have the shape of diag ", diag.sizes(),
                      ", got ", t->sizes());
  }
  TridiagonalCall call;
  call.n = diag.size(-1);
  call.batch.assign(diag.sizes().begin(), diag.sizes().end() - 1);
  call.rows = 1;
  for (int64_t b : call.batch) call.rows *= b;
  call.lower = lower.contiguous();
  call.diag = diag.contiguous();
  call.upper = upper.contiguous();
  call.rhs = rhs.contiguous();
  call.output = at::empty(diag.sizes(), call.diag.options());
  return call;
}

DiffusionCall prepare_diffusion(const at::Tensor& u, const at::Tensor& a_faces, const at::Tensor& left,
                                const at::Tensor& right, double spacing, double dt, c10::string_view scheme) {
  const char* op = "heterogeneous_diffusion_step";
  check_float_tensor(op, "u", u);
  TORCH_CHECK_VALUE(u.dim() >= 1 && u.size(-1) >= 1, op, ": u must be [*batch, n] with n >= 1 cells, got shape ",
                    u.sizes());
  check_like(op, "a_faces", a_faces, "u", u);
  check_like(op, "left", left, "u", u);
  check_like(op, "right", right, "u", u);
  DiffusionCall call;
  call.n = u.size(-1);
  call.batch.assign(u.sizes().begin(), u.sizes().end() - 1);
  call.rows = 1;
  for (int64_t b : call.batch) call.rows *= b;
  std::vector<int64_t> faces(call.batch);
  faces.push_back(call.n + 1);
  const bool shared = a_faces.dim() == 1 && a_faces.size(0) == call.n + 1;
  TORCH_CHECK_VALUE(shared || a_faces.sizes() == c10::IntArrayRef(faces), op,
                    ": a_faces must be [n + 1] = [", call.n + 1, "] or [*batch, n + 1] = ", c10::IntArrayRef(faces),
                    " (the diffusivity at the faces), got ", a_faces.sizes());
  for (const auto& [arg, t] : {std::pair<const char*, const at::Tensor*>{"left", &left}, {"right", &right}}) {
    TORCH_CHECK_VALUE(t->dim() == 0 || t->sizes() == c10::IntArrayRef(call.batch), op, ": ", arg,
                      " must be 0-d or [*batch] = ", c10::IntArrayRef(call.batch), ", got ", t->sizes());
  }
  TORCH_CHECK_VALUE(left.dim() == right.dim(), op, ": left and right must both be 0-d or both [*batch], got ",
                    left.sizes(), " and ", right.sizes());
  const std::string error = make_diffusion_step(op, spacing, dt, std::string(scheme), call.step);
  TORCH_CHECK_VALUE(error.empty(), error);
  call.step.a_stride = shared ? 0 : call.n + 1;
  call.step.bc_stride = left.dim() == 0 ? 0 : 1;
  call.u = u.contiguous();
  call.a_faces = a_faces.contiguous();
  call.left = left.contiguous();
  call.right = right.contiguous();
  call.output = at::empty(u.sizes(), call.u.options());
  return call;
}

LatticeCall prepare_lattice(const at::Tensor& u, const at::Tensor& kx, const at::Tensor& ky, double spacing,
                            c10::string_view boundary) {
  const char* op = "lattice_diffusion_rate";
  check_float_tensor(op, "u", u);
  check_like(op, "kx", kx, "u", u);
  check_like(op, "ky", ky, "u", u);
  LatticeCall call;
  call.rate = checked([&] {
    return validate::lattice_rate(op, u.sizes().data(), u.dim(), kx.sizes().data(), kx.dim(), ky.sizes().data(),
                                  ky.dim(), spacing, std::string_view(boundary.data(), boundary.size()));
  });
  call.u = u.contiguous();
  call.kx = kx.contiguous();
  call.ky = ky.contiguous();
  call.output = at::empty(u.sizes(), call.u.options());
  return call;
}

void check_pivots(const char* op, const PivotFailure& failure, const std::vector<int64_t>& batch) {
  const std::string bad = zero_pivot_message(op, failure, batch.data(), static_cast<int64_t>(batch.size()));
  TORCH_CHECK_VALUE(bad.empty(), bad);
}

MlpCall prepare_mlp(const char* op, const at::Tensor& x, const at::Tensor& params, int64_t width, int64_t depth,
                    int64_t n_out, c10::string_view activation) {
  check_float_tensor(op, "x", x);
  check_like(op, "params", params, "x", x);
  TORCH_CHECK_VALUE(x.dim() >= 1, op, ": x must have at least one axis (the inputs of a point last), got a 0-d tensor");
  const auto narrow = [](int64_t v) { return v < 0 || v > (1 << 20) ? -1 : static_cast<int>(v); };
  MlpCall call;
  call.shape = MlpShape{narrow(x.size(-1)), narrow(width), narrow(depth), narrow(n_out),
                        checked([&] { return parse_mlp_activation(op, std::string(activation.data(), activation.size())); })};
  const std::string bad = check_mlp_shape(op, call.shape);
  TORCH_CHECK_VALUE(bad.empty(), bad);
  const int64_t count = mlp_parameter_count(call.shape);
  TORCH_CHECK_VALUE(params.dim() == 1 && params.size(0) == count, op, ": params must be a flat tensor of ", count,
                    " parameters for n_in = ", call.shape.n_in, ", width = ", width, ", depth = ", depth,
                    ", n_out = ", n_out, ", got shape ", params.sizes());
  call.x = x.contiguous();
  call.params = params.contiguous();
  call.points = x.numel() / call.shape.n_in;
  call.out_shape = x.sizes().vec();
  call.out_shape.back() = n_out;
  return call;
}

at::Tensor check_mlp_grad(const MlpCall& call, const at::Tensor& grad) {
  TORCH_CHECK_VALUE(grad.sizes() == at::IntArrayRef(call.out_shape) && grad.scalar_type() == call.x.scalar_type() &&
                        grad.device() == call.x.device(),
                    "pointwise_mlp_backward: grad must have the output's shape ", at::IntArrayRef(call.out_shape),
                    ", dtype ", call.x.scalar_type(), " and device ", call.x.device(), ", got ", grad.sizes(), ", ",
                    grad.scalar_type(), ", ", grad.device());
  return grad.contiguous();
}

}  // namespace coarsegrain::torch_ops
