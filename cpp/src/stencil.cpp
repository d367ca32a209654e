// The public stencil API: validates, then runs the copy of the kernels built for the best
// instruction set this CPU supports (cpu_isa.h).
#include "coarsegrain/stencil.h"

#include <stdexcept>

#include "cpu_isa.h"
#include "stencil_kernels.h"

namespace coarsegrain {
namespace {

Box checked_box(const GridShape& g) {
  if (g.ndim < 1 || g.ndim > kMaxGridDims)
    throw std::invalid_argument("coarsegrain: a grid has 1 to 3 axes");
  return as_box(g);
}

}  // namespace


template <typename T>
void laplacian(const T* u, T* out, const GridShape& g, int order) {
  if (order != 2 && order != 4) throw std::invalid_argument("laplacian: order must be 2 or 4");
  const Box box = checked_box(g);
  COARSEGRAIN_ISA_CALL(laplacian, u, out, box, g.ndim, order);
}

template <typename T>
void gradient(const T* u, T* grad, const GridShape& g) {
  const Box box = checked_box(g);
  COARSEGRAIN_ISA_CALL(gradient, u, grad, box, g.ndim);
}

template <typename T>
void gradient_adjoint(const T* v, T* out, const GridShape& g) {
  const Box box = checked_box(g);
  COARSEGRAIN_ISA_CALL(gradient_adjoint, v, out, box, g.ndim);
}

template <typename T>
void divergence(const T* flux, T* out, const GridShape& g) {
  const Box box = checked_box(g);
  COARSEGRAIN_ISA_CALL(divergence, flux, out, box, g.ndim);
}

template <typename T>
void divergence_adjoint(const T* w, T* out, const GridShape& g) {
  const Box box = checked_box(g);
  COARSEGRAIN_ISA_CALL(divergence_adjoint, w, out, box, g.ndim);
}

#define COARSEGRAIN_INSTANTIATE(T)                                             \
  template void laplacian<T>(const T*, T*, const GridShape&, int);             \
  template void gradient<T>(const T*, T*, const GridShape&);                   \
  template void gradient_adjoint<T>(const T*, T*, const GridShape&);           \
  template void divergence<T>(const T*, T*, const GridShape&);                 \
  template void divergence_adjoint<T>(const T*, T*, const GridShape&);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
