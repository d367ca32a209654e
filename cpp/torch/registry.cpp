// The single schema registry of torch.ops.coarsegrain. Implementations register per device
// in cpp/torch/<family>.cpp (CPU) and cuda/torch/<family>.cpp (CUDA); fake kernels and
// autograd formulas live in python/coarsegrain/ops/.
#include <torch/library.h>

TORCH_LIBRARY(coarsegrain, m) {
  const std::vector<at::Tag> tags{at::Tag::pt2_compliant_tag};
  // Periodic finite-difference operators (coarsegrain/stencil.h).
  m.def("laplacian(Tensor u, float[] spacing, int order=2) -> Tensor", tags);
  m.def("gradient(Tensor u, float[] spacing) -> Tensor", tags);
  m.def("gradient_adjoint(Tensor v, float[] spacing) -> Tensor", tags);
  m.def("divergence(Tensor flux, float[] spacing) -> Tensor", tags);
  m.def("divergence_adjoint(Tensor w, float[] spacing) -> Tensor", tags);
}
