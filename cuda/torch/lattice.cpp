// CUDA implementation of the 2D lattice diffusion rate (kernel in cuda/kernels/lattice.cu). No
// synchronization: it cannot fail on the device.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <ATen/ATen.h>
#include <torch/library.h>

#include "coarsegrain/cuda/lattice.h"
#include "common.h"

namespace coarsegrain::torch_ops {
namespace {

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

at::Tensor lattice_diffusion_rate_cuda(const at::Tensor& u, const at::Tensor& kx, const at::Tensor& ky, double spacing,
                                       c10::string_view boundary) {
  const c10::cuda::CUDAGuard guard(u.device());
  LatticeCall call = prepare_lattice(u, kx, ky, spacing, boundary);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "lattice_diffusion_rate", [&] {
    C10_CUDA_CHECK(coarsegrain::cuda::lattice_diffusion_rate(
        call.u.const_data_ptr<scalar_t>(), call.kx.const_data_ptr<scalar_t>(), call.ky.const_data_ptr<scalar_t>(),
        call.output.mutable_data_ptr<scalar_t>(), call.rate, stream()));
  });
  return call.output;
}

}  // namespace

TORCH_LIBRARY_IMPL(coarsegrain, CUDA, m) { m.impl("lattice_diffusion_rate", &lattice_diffusion_rate_cuda); }

}  // namespace coarsegrain::torch_ops
