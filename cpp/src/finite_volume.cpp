// The public finite-volume API: validates, then runs the best compiled copy (cpu_isa.h).
#include "coarsegrain/finite_volume.h"

#include <stdexcept>
#include <string>

#include "coarsegrain/validate.h"
#include "cpu_isa.h"
#include "finite_volume_kernels.h"

namespace coarsegrain {
namespace {

void check_rows(const char* op, int64_t rows, int64_t n, int64_t min_n) {
  if (rows < 0 || n < min_n)
    throw std::invalid_argument(std::string(op) + ": need at least " + std::to_string(min_n) +
                                " cells per row, got " + std::to_string(n));
}

}  // namespace

template <typename T>
void weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux) {
  check_rows("weno5_flux", rows, n, 5);
  COARSEGRAIN_ISA_CALL(weno5_burgers_flux, v, out, rows, n, flux);
}

template <typename T>
void weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n) {
  check_rows("weno5_reconstruct", rows, n, 5);
  COARSEGRAIN_ISA_CALL(weno5_reconstruct, v, left, right, rows, n);
}

template <typename T>
void restrict_average(const T* in, T* out, const GridShape& grid, int factor) {
  validate::restrict_factor(grid, factor);
  COARSEGRAIN_ISA_CALL(restrict_average, in, out, as_box(grid), factor);
}

template <typename T>
void stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width, int offset) {
  check_rows("stencil_filter", rows, n, 1);
  if (width < 1) throw std::invalid_argument("stencil_filter: the stencil needs at least one point");
  COARSEGRAIN_ISA_CALL(stencil_filter, v, c, out, rows, n, width, offset);
}

template <typename T>
void stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c,
                             int64_t rows, int64_t n, int width, int offset) {
  check_rows("stencil_filter_backward", rows, n, 1);
  if (width < 1) throw std::invalid_argument("stencil_filter: the stencil needs at least one point");
  COARSEGRAIN_ISA_CALL(stencil_filter_backward, grad, v, c, grad_v, grad_c, rows, n, width, offset);
}

#define COARSEGRAIN_INSTANTIATE(T)                                                            \
  template void weno5_burgers_flux<T>(const T*, T*, int64_t, int64_t, NumericalFlux);        \
  template void weno5_reconstruct<T>(const T*, T*, T*, int64_t, int64_t);                    \
  template void restrict_average<T>(const T*, T*, const GridShape&, int);                    \
  template void stencil_filter<T>(const T*, const T*, T*, int64_t, int64_t, int, int);       \
  template void stencil_filter_backward<T>(const T*, const T*, const T*, T*, T*, int64_t,    \
                                           int64_t, int, int);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
