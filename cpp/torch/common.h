// Argument checking shared by the CPU and CUDA implementations of the operators, so both
// devices accept the same inputs and raise the same errors.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/complex.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "coarsegrain/binning.h"
#include "coarsegrain/finite_volume.h"
#include "coarsegrain/grid.h"
#include "coarsegrain/lattice.h"
#include "coarsegrain/phase_field.h"
#include "coarsegrain/pointwise.h"
#include "coarsegrain/pointwise_mlp.h"
#include "coarsegrain/tridiagonal.h"

namespace coarsegrain::torch_ops {

using coarsegrain::Arity;

// Runs a shared check of coarsegrain/validate.h and turns its std::invalid_argument into the
// ValueError of torch (c10::ValueError) with the same message.
template <typename Check>
auto checked(Check&& check) -> decltype(check()) {
  try {
    return check();
  } catch (const std::invalid_argument& e) {
    TORCH_CHECK_VALUE(false, e.what());
  }
}

struct Prepared {
  at::Tensor input;   // contiguous view or copy of the argument
  at::Tensor output;  // contiguous: freshly allocated, or the caller's `out`
  GridShape grid;
};

// Checks `t` (float32/float64, shape consistent with `spacing`) and allocates the output, or,
// when `out` is given, checks that it has the result's shape, dtype and device, is contiguous
// and does not overlap `t`. Errors name `op` and the argument and say what was expected.
Prepared prepare(const char* op, const char* arg, const at::Tensor& t,
                 c10::ArrayRef<double> spacing, Arity arity, const at::Tensor* out = nullptr);

void check_laplacian_order(int64_t order);

// Calls kernel(const T* in, T* out, const GridShape&) with T the input's dtype.
template <typename Kernel>
void run_kernel(const Prepared& p, Kernel&& kernel) {
  AT_DISPATCH_FLOATING_TYPES(p.input.scalar_type(), "coarsegrain_stencil", [&] {
    kernel(p.input.const_data_ptr<scalar_t>(), p.output.mutable_data_ptr<scalar_t>(), p.grid);
  });
}

// An explicit phase-field call: checked input, output and workspace, and parameters.
struct PhaseFieldCall {
  Prepared fields;
  at::Tensor workspace;
  ExplicitPhaseField params;
};

PhaseFieldCall prepare_phase_field(const char* op, const at::Tensor& u,
                                   c10::ArrayRef<double> spacing, double dt, double mobility,
                                   double kappa, c10::ArrayRef<double> dfdu, int64_t steps,
                                   bool conserved);

CahnHilliardScheme parse_scheme(c10::string_view scheme);

// polynomial(u, coeffs): checked input, output and polynomial.
struct PolynomialCall {
  at::Tensor input, output;
  Polynomial poly;
};
PolynomialCall prepare_polynomial(const at::Tensor& u, c10::ArrayRef<double> coeffs);

// spectral_combine(terms, weights): contiguous complex terms, real weights, the output, and the
// batch (leading elements) and size (weight elements) of the combination.
struct CombineCall {
  std::vector<at::Tensor> terms, weights;
  at::Tensor output;
  int64_t batch = 0, size = 0;
};
CombineCall prepare_combine(at::TensorList terms, at::TensorList weights);

// Raw (re, im)-interleaved term pointers and weight pointers of a prepared combination.
template <typename T>
void combine_pointers(const CombineCall& call, const T** terms, const T** weights) {
  for (size_t i = 0; i < call.terms.size(); ++i) {
    terms[i] = reinterpret_cast<const T*>(call.terms[i].const_data_ptr<c10::complex<T>>());
    weights[i] = call.weights[i].const_data_ptr<T>();
  }
}

// real_fft_pack(u_hat, ndim): the contiguous complex input, the output, and the
// batch, leading transform axes and half length m of the call.
struct RealFftCall {
  at::Tensor input, output;
  int64_t batch = 1, m = 0;
  int64_t lead[kMaxRealFftLeadAxes] = {};
  int nlead = 0;
};
RealFftCall prepare_real_fft(const at::Tensor& u_hat, int64_t ndim);

// Finite-volume ops on rows of 1D periodic cells (the last axis): checked, contiguous input(s)
// and the output, with the row count and length.
struct RowsCall {
  at::Tensor input, output;
  int64_t rows = 0, n = 0;
};
RowsCall prepare_weno5(const char* op, const at::Tensor& v);
NumericalFlux parse_flux(c10::string_view flux);

struct FilterCall {
  at::Tensor v, coeffs;
  int64_t rows = 0, n = 0;
  int width = 0, offset = 0;
};
// v [*batch, n], coeffs [*batch, n, width]; the stencil of face j starts at cell j + offset.
FilterCall prepare_filter(const char* op, const at::Tensor& v, const at::Tensor& coeffs, int64_t offset);
void check_filter_grad(const FilterCall& call, const at::Tensor& grad);

struct RestrictCall {
  at::Tensor input, output;
  GridShape grid;
  int factor = 1;
};
RestrictCall prepare_restrict(const at::Tensor& u, int64_t ndim, int64_t factor);

}  // namespace coarsegrain::torch_ops

namespace coarsegrain::torch_ops {

// bin_particles(positions, quantities, bins, box, origin, assignment, periodic): checked,
// contiguous positions [n, d] and quantities [n, q] (undefined when absent: counts), the grid.
struct BinningCall {
  at::Tensor positions, quantities;
  BinGrid grid;
  int64_t n = 0, nq = 1;
  std::vector<int64_t> out_shape;  // [q, *bins]
};
BinningCall prepare_binning(const char* op, const at::Tensor& positions,
                            const std::optional<at::Tensor>& quantities, c10::IntArrayRef bins,
                            c10::ArrayRef<double> box, c10::ArrayRef<double> origin,
                            c10::string_view assignment, bool periodic);
// bin_particles_backward: the checked call, the contiguous upstream gradient [q, *bins] and the
// outputs (grad_positions zeroed: nearest grid point leaves it so).
struct BinningBackwardCall {
  BinningCall call;
  at::Tensor grad, grad_positions, grad_quantities;
};
BinningBackwardCall prepare_binning_backward(const at::Tensor& grad, const at::Tensor& positions,
                                            const std::optional<at::Tensor>& quantities, c10::IntArrayRef bins,
                                            c10::ArrayRef<double> box, c10::ArrayRef<double> origin,
                                            c10::string_view assignment, bool periodic);

// take_along_last(x, index) / its backward: contiguous x (or grad) viewed as rows, the
// contiguous int64 index on x's device, the output, and rows, n (x's last axis) and m (index
// length). The CPU glue checks the index range; the CUDA kernels assert it on the device.
struct TakeCall {
  at::Tensor input, index, output;
  int64_t rows = 0, n = 0, m = 0;
};
TakeCall prepare_take(const char* op, const at::Tensor& x, const at::Tensor& index);
// For the backward: grad [..., m], index [m], n the length of the gathered axis of x.
TakeCall prepare_take_backward(const at::Tensor& grad, const at::Tensor& index, int64_t n);

// The data pointer of an optional input, null when it is undefined.
template <typename T>
const T* optional_ptr(const at::Tensor& t) {
  return t.defined() ? t.const_data_ptr<T>() : nullptr;
}

// tridiagonal_solve(lower, diag, upper, rhs): four checked, contiguous [*batch, n] tensors of one
// dtype and device, the output, the number of systems and their length, and the batch shape.
struct TridiagonalCall {
  at::Tensor lower, diag, upper, rhs, output;
  int64_t rows = 0, n = 0;
  std::vector<int64_t> batch;
};
TridiagonalCall prepare_tridiagonal(const at::Tensor& lower, const at::Tensor& diag, const at::Tensor& upper,
                                    const at::Tensor& rhs);

// heterogeneous_diffusion_step(u, a_faces, left, right, spacing, dt, scheme): contiguous u [*batch, n],
// a_faces [n + 1] or [*batch, n + 1], left and right 0-d or [*batch], the output, and the step.
struct DiffusionCall {
  at::Tensor u, a_faces, left, right, output;
  int64_t rows = 0, n = 0;
  std::vector<int64_t> batch;
  DiffusionStep step;
};
DiffusionCall prepare_diffusion(const at::Tensor& u, const at::Tensor& a_faces, const at::Tensor& left,
                                const at::Tensor& right, double spacing, double dt, c10::string_view scheme);

// lattice_diffusion_rate(u, kx, ky, spacing, boundary): contiguous u [*batch, ny, nx], kx and ky (u's
// shape or a trailing part of it), the output, and the kernel's parameters.
struct LatticeCall {
  at::Tensor u, kx, ky, output;
  LatticeRate rate;
};
LatticeCall prepare_lattice(const at::Tensor& u, const at::Tensor& kx, const at::Tensor& ky, double spacing,
                            c10::string_view boundary);

// pointwise_mlp(x, params, width, depth, n_out, activation) and its backward: x [*lead, n_in]
// (contiguous, float32/float64) as [points, n_in], params [parameter count] of x's dtype and
// device, the network's shape; output shape [*lead, n_out].
struct MlpCall {
  at::Tensor x, params;
  int64_t points = 0;
  MlpShape shape{};
  std::vector<int64_t> out_shape;
};
MlpCall prepare_mlp(const char* op, const at::Tensor& x, const at::Tensor& params, int64_t width, int64_t depth,
                    int64_t n_out, c10::string_view activation);
// grad has the output's shape, x's dtype and device; returns it contiguous.
at::Tensor check_mlp_grad(const MlpCall& call, const at::Tensor& grad);

// Raises the ValueError of a zero pivot (when `failure` failed), naming the system by its batch index.
void check_pivots(const char* op, const PivotFailure& failure, const std::vector<int64_t>& batch);

}  // namespace coarsegrain::torch_ops
