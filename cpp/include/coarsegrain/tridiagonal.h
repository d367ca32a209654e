// Batched tridiagonal solves and the implicit heterogeneous-diffusion micro-step built on them
// (arbabi2020 sec. 3 and 5.1: the fine-scale problem u_t = d/dx (a(x/eps) du/dx) with
// dx = 1e-7, dt = 1e-6 is far beyond the explicit limit dx^2 / (2 max a) ~ 1e-14).
//
// Systems are `rows` independent rows of `n` unknowns, row-major ([*batch, n] flattened).
// Row i of a system reads lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i];
// lower[0] and upper[n-1] are ignored (never read into the result).
//
// Thomas algorithm (Gaussian elimination without pivoting, O(n) per system). It is stable for
// diagonally dominant matrices (|diag| >= |lower| + |upper| per row, strictly in one row) and for
// symmetric positive definite ones; for others it may lose accuracy or meet a zero pivot. Only
// an exactly zero pivot is detected: the solve stops there and reports the system and row.
// The CPU result has the same bits for any thread count (each system is solved by one thread,
// in one fixed order of operations).
#pragma once

#include <cstdint>
#include <string>

namespace coarsegrain {

// Where a batch of solves broke down: the first system (lowest row index) with a zero pivot and
// the row of that pivot; row = -1 when every solve went through.
struct PivotFailure {
  int64_t system = -1;
  int64_t row = -1;
  bool failed() const { return system >= 0; }
};

// The one-line error for a zero pivot in system `failure.system` of a batch of shape
// batch_shape[0..nbatch) (the system is named by its multi-index); "" when none.
std::string zero_pivot_message(const char* op, const PivotFailure& failure, const int64_t* batch_shape,
                               int64_t nbatch);

// x [rows, n] = the solutions (overwritten). x may not alias an input.
template <typename T>
PivotFailure tridiagonal_solve(const T* lower, const T* diag, const T* upper, const T* rhs, T* x, int64_t rows,
                               int64_t n);

// --- one implicit step of 1D heterogeneous diffusion ------------------------------------------
//
// u_t = d/dx (a du/dx) on n cells of width h = spacing (cell i centred at (i + 1/2) h), a given at
// the n + 1 faces (face i at i h, faces 0 and n are the walls), Dirichlet values `left` / `right`
// at the walls. Conservative flux form: the flux through interior face i is
//   F_i = -a_i (u_i - u_{i-1}) / h,
// and through the walls, with the boundary value at the face half a cell from the first centre,
//   F_0 = -2 a_0 (u_0 - left) / h,   F_n = -2 a_n (right - u_{n-1}) / h
// (the same as a ghost cell u_{-1} = 2 left - u_0, linear through the wall value; second order
// globally, first order truncation in the wall cells only). Then du_i/dt = (F_i - F_{i+1}) / h
// = (M u + s)_i, M the tridiagonal flux-difference matrix and s the walls' part.
// Theta scheme with theta = 1 (backward Euler, first order in dt) or 1/2 (Crank-Nicolson, second
// order), the wall values held over the step:
//   (I - theta dt M) u' = (I + (1 - theta) dt M) u + dt s,
// solved for the increment: (I - theta dt M) delta = dt (M u + s), the rate in flux form
// (differences of u), then u' = u + delta. The same step; but at dt a / h^2 ~ 1e8 (arbabi2020)
// the direct form's round-off, relative to |u|, drifts the slow modes over long runs, and the
// increment's is relative to |delta| (tridiagonal_math::DiffusionBands). With a >= 0 the system
// is strictly diagonally dominant (diag = 1 + theta dt/h^2 (w_lo + w_hi) with |lower| + |upper| =
// theta dt/h^2 (w_lo + w_hi)), so the Thomas solve is stable for any dt; negative a is not
// checked (a zero pivot is). The total sum(u) h changes exactly by dt times the theta-weighted
// wall fluxes F_0 - F_n (interior fluxes cancel in pairs), up to round-off.

enum class DiffusionScheme { kBackwardEuler, kCrankNicolson };

struct DiffusionStep {
  double spacing = 1, dt = 1;
  DiffusionScheme scheme = DiffusionScheme::kBackwardEuler;
  int64_t a_stride = 0;   // elements between rows of a_faces: n + 1, or 0 (one a for all rows)
  int64_t bc_stride = 0;  // elements between rows of left / right: 1, or 0 (one value for all)
  double theta() const { return scheme == DiffusionScheme::kCrankNicolson ? 0.5 : 1.0; }
};

// Parses "backward_euler" / "crank_nicolson" and checks spacing, dt (positive, finite): "" or the
// one-line message naming the parameter at fault.
std::string make_diffusion_step(const char* op, double spacing, double dt, const std::string& scheme,
                                DiffusionStep& p);

// out [rows, n] = u after one step. u, out [rows, n]; a_faces [rows or 1, n + 1]; left, right
// [rows or 1]. n >= 1.
template <typename T>
PivotFailure heterogeneous_diffusion_step(const T* u, const T* a_faces, const T* left, const T* right, T* out,
                                          int64_t rows, int64_t n, const DiffusionStep& p);

}  // namespace coarsegrain
