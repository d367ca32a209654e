// Periodic finite-difference operators on batches of 1D/2D/3D grids (CPU, OpenMP).
//
// Layout (see grid.h): scalar fields are [batch, *grid]; vector fields (gradients, fluxes)
// are [batch, ndim, *grid] with component a along grid axis a. All arrays are contiguous,
// row-major, and must not alias. Periodic boundaries on every grid axis.
//
// Staggered convention: flux component F_a[i] lives on the face between cell i and cell
// i + e_a, so the divergence below is the exact discrete counterpart of the
// forward-difference gradient and conserves the sum of the field to round-off.
#pragma once

#include "coarsegrain/grid.h"

namespace coarsegrain {

// out = sum_a d^2 u / dx_a^2.
//   order 2: (u[i-1] - 2 u[i] + u[i+1]) / h^2 per axis
//   order 4: (-u[i-2] + 16 u[i-1] - 30 u[i] + 16 u[i+1] - u[i+2]) / (12 h^2) per axis
// Self-adjoint: it is its own backward.
template <typename T>
void laplacian(const T* u, T* out, const GridShape& g, int order);

// grad[a] = (u[i + e_a] - u[i - e_a]) / (2 h_a); grad has the [batch, ndim, *grid] layout.
template <typename T>
void gradient(const T* u, T* grad, const GridShape& g);

// The adjoint (transpose) of `gradient`: out = -sum_a (v_a[i + e_a] - v_a[i - e_a]) / (2 h_a).
template <typename T>
void gradient_adjoint(const T* v, T* out, const GridShape& g);

// out = sum_a (F_a[i] - F_a[i - e_a]) / h_a for a face-centred flux F [batch, ndim, *grid].
template <typename T>
void divergence(const T* flux, T* out, const GridShape& g);

// The adjoint of `divergence`: out_a[i] = (w[i] - w[i + e_a]) / h_a, i.e. minus the
// forward-difference gradient of w, written to [batch, ndim, *grid].
template <typename T>
void divergence_adjoint(const T* w, T* out, const GridShape& g);

}  // namespace coarsegrain
