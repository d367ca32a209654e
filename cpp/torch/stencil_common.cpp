#include "stencil_common.h"

#include <ATen/ATen.h>

namespace coarsegrain::torch_ops {

Prepared prepare(const char* op, const char* arg, const at::Tensor& t,
                 c10::ArrayRef<double> spacing, Arity arity) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op, ": ",
                   arg, " must be a float32 or float64 tensor, got ", t.scalar_type());
  Prepared p;
  const std::string error =
      make_grid_shape(op, arg, t.sizes().data(), t.dim(), spacing.data(),
                      static_cast<int64_t>(spacing.size()), arity, p.grid);
  TORCH_CHECK_VALUE(error.empty(), error);
  p.input = t.contiguous();

  p.output = at::empty(result_shape(t.sizes().data(), t.dim(), p.grid.ndim, arity),
                       p.input.options());
  return p;
}

void check_laplacian_order(int64_t order) {
  TORCH_CHECK_VALUE(order == 2 || order == 4, "laplacian: order must be 2 or 4, got ", order);
}

}  // namespace coarsegrain::torch_ops
