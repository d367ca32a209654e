// The single schema registry of torch.ops.coarsegrain. Implementations register per device
// in cpp/torch/<family>.cpp (CPU) and cuda/torch/<family>.cpp (CUDA); fake kernels and
// autograd formulas live in python/coarsegrain/ops/.
#include <ATen/core/grad_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

TORCH_LIBRARY(coarsegrain, m) {
  const std::vector<at::Tag> tags{at::Tag::pt2_compliant_tag};
  // Periodic finite-difference operators (coarsegrain/stencil.h). Each has an <op>_into twin
  // that writes into a preallocated tensor, for time-stepping loops; it returns nothing, since
  // torch.compile can only functionalize custom mutating ops whose outputs alias no input.
  m.def("laplacian(Tensor u, float[] spacing, int order=2) -> Tensor", tags);
  m.def("laplacian_into(Tensor u, float[] spacing, int order, Tensor(a!) out) -> ()", tags);
  m.def("gradient(Tensor u, float[] spacing) -> Tensor", tags);
  m.def("gradient_into(Tensor u, float[] spacing, Tensor(a!) out) -> ()", tags);
  m.def("gradient_adjoint(Tensor v, float[] spacing) -> Tensor", tags);
  m.def("gradient_adjoint_into(Tensor v, float[] spacing, Tensor(a!) out) -> ()", tags);
  m.def("divergence(Tensor flux, float[] spacing) -> Tensor", tags);
  m.def("divergence_into(Tensor flux, float[] spacing, Tensor(a!) out) -> ()", tags);
  m.def("divergence_adjoint(Tensor w, float[] spacing) -> Tensor", tags);
  m.def("divergence_adjoint_into(Tensor w, float[] spacing, Tensor(a!) out) -> ()", tags);
  // Explicit phase-field steppers (coarsegrain/phase_field.h): advance `steps` steps in one
  // call. dfdu holds the coefficients of f'(U), constant term first. Not differentiable.
  m.def("cahn_hilliard_explicit(Tensor u, float[] spacing, float dt, float mobility, float kappa, "
        "float[] dfdu, int steps=1, str scheme=\"fused\") -> Tensor", tags);
  m.def("allen_cahn_explicit(Tensor u, float[] spacing, float dt, float mobility, float kappa, "
        "float[] dfdu, int steps=1) -> Tensor", tags);
  // Fused pointwise work of the spectral steppers (coarsegrain/pointwise.h).
  m.def("polynomial(Tensor u, float[] coeffs) -> Tensor", tags);
  m.def("spectral_combine(Tensor[] terms, Tensor[] weights) -> Tensor", tags);
  // The input of a half-length complex inverse FFT that computes irfftn over the last ndim axes.
  m.def("real_fft_pack(Tensor u_hat, int ndim) -> Tensor", tags);
  // A gather along the last axis with one index for all rows (the cosine / sine transforms'
  // reorderings), and its adjoint (a scatter-add into a last axis of length n).
  m.def("take_along_last(Tensor x, Tensor index) -> Tensor", tags);
  m.def("take_along_last_backward(Tensor grad, Tensor index, int n) -> Tensor", tags);
  // A small MLP applied at every point (coarsegrain/pointwise_mlp.h): x [..., n_in] -> [..., n_out],
  // params flat (W_1, b_1, ..., W_out, b_out); the backward gives (grad_x, grad_params).
  m.def("pointwise_mlp(Tensor x, Tensor params, int width, int depth, int n_out, str activation=\"elu\") -> Tensor",
        tags);
  m.def("pointwise_mlp_backward(Tensor grad, Tensor x, Tensor params, int width, int depth, "
        "str activation=\"elu\") -> (Tensor, Tensor)", tags);
  // Finite volumes on 1D periodic rows (coarsegrain/finite_volume.h): WENO5 face fluxes of
  // Burgers' v^2/2, the WENO5 face states, block-mean restriction of the last ndim axes, and the
  // pseudo-linear filter of per-face stencil coefficients with its adjoint.
  m.def("weno5_flux(Tensor v, str flux=\"godunov\") -> Tensor", tags);
  m.def("weno5_reconstruct(Tensor v) -> (Tensor, Tensor)", tags);
  m.def("restrict_average(Tensor u, int ndim, int factor) -> Tensor", tags);
  m.def("stencil_filter(Tensor v, Tensor coeffs, int offset) -> Tensor", tags);
  m.def("stencil_filter_backward(Tensor grad, Tensor v, Tensor coeffs, int offset) -> (Tensor, Tensor)", tags);
  // Particles to fields (coarsegrain/binning.h): per-cell sums [q, *bins] of quantities [n, q]
  // (counts when None) of particles at positions [n, d], and the number of particles dropped
  // outside a non-periodic box; the backward gives (grad_positions [n, d], grad_quantities [n, q]).
  m.def("bin_particles(Tensor positions, Tensor? quantities, int[] bins, float[] box, float[] origin, "
        "str assignment=\"ngp\", bool periodic=True) -> (Tensor, Tensor)", tags);
  m.def("bin_particles_backward(Tensor grad, Tensor positions, Tensor? quantities, int[] bins, float[] box, "
        "float[] origin, str assignment, bool periodic) -> (Tensor, Tensor)", tags);
  // Batched tridiagonal solves (coarsegrain/tridiagonal.h): [*batch, n] bands and right-hand
  // sides (lower[..., 0] and upper[..., n-1] ignored), Thomas algorithm; and one implicit step of
  // u_t = (a u_x)_x on n cells with the diffusivity at the n + 1 faces and Dirichlet walls.
  m.def("tridiagonal_solve(Tensor lower, Tensor diag, Tensor upper, Tensor rhs) -> Tensor", tags);
  m.def("heterogeneous_diffusion_step(Tensor u, Tensor a_faces, Tensor left, Tensor right, float spacing, float dt, "
        "str scheme=\"backward_euler\") -> Tensor", tags);
  // The rate of 2D lattice heterogeneous diffusion (coarsegrain/lattice.h, arbabi2020 Eq 25): u
  // [*batch, ny, nx] (x last), bond diffusivities kx, ky of u's shape or a trailing part of it,
  // lattice spacing, boundary "periodic" or "patch" (0 on the ring of edge values).
  m.def("lattice_diffusion_rate(Tensor u, Tensor kx, Tensor ky, float spacing, str boundary=\"periodic\") -> Tensor",
        tags);
}

namespace {

// The <op>_into twins write into `out` and have no derivative (the functional ops carry the
// autograd formulas, registered in python/coarsegrain/ops/). Without an Autograd kernel PyTorch
// would run them and leave `out` detached (a later backward sees no graph, or warns and gives
// zeros): refuse at the call instead, naming the op, when grad mode is on and an input needs grad.
void refuse_grad_into(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  const size_t n = op.schema().arguments().size();
  if (at::GradMode::is_enabled()) {
    for (size_t i = 0; i < n; ++i) {
      const c10::IValue& arg = (*stack)[stack->size() - n + i];
      if (arg.isTensor() && arg.toTensor().requires_grad()) {
        const std::string& name = op.schema().name();
        const std::string functional = name.substr(name.find("::") + 2, name.size() - name.find("::") - 7);
        TORCH_CHECK(false, name.substr(name.find("::") + 2), ": writing into out= has no derivative and ",
                    op.schema().arguments()[i].name(), " requires grad; call coarsegrain.ops.", functional,
                    " without out= (differentiable) or run under torch.no_grad()");
      }
    }
  }
  op.redispatchBoxed(keys & c10::after_autograd_keyset, stack);
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, Autograd, m) {
  for (const char* op : {"laplacian_into", "gradient_into", "gradient_adjoint_into", "divergence_into",
                         "divergence_adjoint_into"})
    m.impl(op, torch::CppFunction::makeFromBoxedFunction<&refuse_grad_into>());
}
