// CPU implementation of the 2D lattice diffusion rate (kernels in cpp/src/lattice*.cpp).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "coarsegrain/lattice.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

at::Tensor lattice_diffusion_rate_cpu(const at::Tensor& u, const at::Tensor& kx, const at::Tensor& ky, double spacing,
                                      c10::string_view boundary) {
  LatticeCall call = prepare_lattice(u, kx, ky, spacing, boundary);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "lattice_diffusion_rate", [&] {
    lattice_diffusion_rate(call.u.const_data_ptr<scalar_t>(), call.kx.const_data_ptr<scalar_t>(),
                           call.ky.const_data_ptr<scalar_t>(), call.output.mutable_data_ptr<scalar_t>(), call.rate);
  });
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CPU, m) { m.impl("lattice_diffusion_rate", &lattice_diffusion_rate_cpu); }

}  // namespace coarsegrain::torch_ops
