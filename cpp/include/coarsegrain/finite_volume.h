// Finite-volume building blocks for 1D conservation laws (barsinai2019): WENO5 reconstruction
// with exact Godunov or Lax-Friedrichs fluxes for Burgers' v^2/2, cell-average restriction, and
// the pseudo-linear filter of learned stencil coefficients. Periodic boundaries throughout.
//
// 1D fields are `rows` rows of `n` cells, row-major; face j is the right face of cell j (x_{j+1/2}).
#pragma once

#include <cstdint>

#include "coarsegrain/grid.h"

namespace coarsegrain {

enum class NumericalFlux {
  kGodunov,        // exact Riemann solution of v_t + (v^2/2)_x = 0 (zero at a sonic point)
  kLaxFriedrichs,  // local (Rusanov): (f(L) + f(R))/2 - max(|L|, |R|) (R - L)/2
};

// out[r, j] = numerical flux of v^2/2 at face j from WENO5 (Jiang-Shu, eps = 1e-6) left and right
// states. Needs n >= 5.
template <typename T>
void weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux);

// The WENO5 states themselves: left[r, j] = v^-_{j+1/2}, right[r, j] = v^+_{j+1/2}.
template <typename T>
void weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n);

// Block means over `factor` cells along each grid axis of `in` (grid `in_grid`, extents divisible
// by factor); `out` has extents / factor.
template <typename T>
void restrict_average(const T* in, T* out, const GridShape& in_grid, int factor);

// Pseudo-linear filter: out[r, j] = sum_{k < width} c[r, j, k] * v[r, (j + offset + k) mod n].
template <typename T>
void stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width, int offset);

// Its adjoints: grad_v[r, i] = sum_k grad[r, i - offset - k] c[r, i - offset - k, k] and
// grad_c[r, j, k] = grad[r, j] v[r, j + offset + k] (indices mod n). Either output may be null.
template <typename T>
void stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c,
                             int64_t rows, int64_t n, int width, int offset);

}  // namespace coarsegrain
