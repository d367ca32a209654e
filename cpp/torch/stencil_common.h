// Shape and dtype logic shared by the CPU and CUDA implementations of the stencil ops, so
// both devices accept the same inputs and raise the same errors.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include "coarsegrain/grid.h"

namespace coarsegrain::torch_ops {

using coarsegrain::Arity;

struct Prepared {
  at::Tensor input;   // contiguous view or copy of the argument
  at::Tensor output;  // freshly allocated, contiguous
  GridShape grid;
};

// Checks `t` (float32/float64, shape consistent with `spacing`) and allocates the output.
// Errors name `op` and `arg` and say what was expected.
Prepared prepare(const char* op, const char* arg, const at::Tensor& t,
                 c10::ArrayRef<double> spacing, Arity arity);

void check_laplacian_order(int64_t order);

}  // namespace coarsegrain::torch_ops
