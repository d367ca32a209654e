// Argument checks shared by every front end of the kernels: coarsegrain._core (pybind11, NumPy)
// and the torch operators (cpp/torch, used by the CPU and the CUDA implementations). One
// torch-free function per check; each throws std::invalid_argument with a one-line message
// "<op>: <parameter> must ..., got ..." (pybind11 raises it as ValueError; the torch glue
// rethrows it as c10::ValueError). Type checks (float32/float64, devices) stay with each front
// end, since they speak of arrays or tensors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "coarsegrain/finite_volume.h"
#include "coarsegrain/grid.h"
#include "coarsegrain/lattice.h"
#include "coarsegrain/phase_field.h"

namespace coarsegrain::validate {

// "[2, 8]": a shape as the error messages print it.
std::string format_shape(const int64_t* shape, int64_t rank);

// laplacian: order 2 or 4.
int laplacian_order(int64_t order);

// cahn_hilliard_explicit: scheme "fused" or "two_pass".
CahnHilliardScheme parse_scheme(std::string_view scheme);

// weno5_flux: flux "godunov" or "lax_friedrichs".
NumericalFlux parse_flux(std::string_view flux);

// Rows of periodic cells along the last axis of a [*batch, n] field.
struct RowShape {
  int64_t rows = 0, n = 0;
};

// weno5_flux / weno5_reconstruct: v is [*batch, n] with n >= 5 (the WENO5 stencil).
RowShape weno5_rows(const char* op, const int64_t* shape, int64_t rank);

// stencil_filter(v, coeffs, offset): v [*batch, n] (n >= 1), coeffs [*batch, n, width]
// (width >= 1), |offset| < 2^20.
struct FilterShape {
  int64_t rows = 0, n = 0;
  int width = 0, offset = 0;
};
FilterShape stencil_filter_shape(const char* op, const int64_t* v_shape, int64_t v_rank,
                                 const int64_t* c_shape, int64_t c_rank, int64_t offset);

// restrict_average: factor >= 1 and every grid axis of `grid` divisible by it (the message names
// the axis).
void restrict_factor(const GridShape& grid, int64_t factor);

// restrict_average(u, ndim, factor) for u of `shape`: ndim in 1..3 and at most the rank of u,
// then restrict_factor. Returns the grid of u (batch = product of the leading axes) and the
// shape of the result.
struct RestrictShape {
  GridShape grid;
  int factor = 1;
  std::vector<int64_t> out_shape;
};
RestrictShape restrict_average_shape(const int64_t* shape, int64_t rank, int64_t ndim,
                                     int64_t factor);

// lattice_diffusion_rate(u, kx, ky, spacing, boundary): u [*batch, ny, nx]; kx and ky of u's shape or a
// trailing part of it with at least [ny, nx]; spacing positive and finite; boundary "periodic" or
// "patch" (then ny, nx >= 3). Checked in this order; returns the kernel's parameters.
LatticeRate lattice_rate(const char* op, const int64_t* u_shape, int64_t u_rank, const int64_t* kx_shape,
                         int64_t kx_rank, const int64_t* ky_shape, int64_t ky_rank, double spacing,
                         std::string_view boundary);

}  // namespace coarsegrain::validate
