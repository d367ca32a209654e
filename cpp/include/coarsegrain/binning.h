// Particles to fields: per-bin sums of particle quantities on a uniform grid (torch-free).
//
// positions [n, ndim] (row-major, ndim = 1..3) are binned on the box
// [origin_a, origin_a + length_a) cut into bins[a] equal cells along axis a; output axis a belongs
// to position column a (the convention of numpy.histogramdd). quantities [n, nq] (or null: a
// weight of one per particle, i.e. counts) are summed into out [nq, bins[0], ..., bins[ndim-1]].
//
// Assignment:
//   nearest grid point  the whole quantity goes to the cell that holds the particle;
//   cloud in cell       cell-centred linear weights: along each axis the particle at
//                       s = (x - origin) / h - 1/2 cells gives 1 - frac(s) to cell floor(s)
//                       and frac(s) to the next one (products of these in 2D / 3D).
// Boundaries:
//   periodic            positions are wrapped into the box (any finite x, e.g. 10 L or -3 L);
//   non-periodic        particles outside [origin, origin + length] are dropped and counted; the
//                       upper face belongs to the last cell (as in numpy.histogramdd); a
//                       cloud-in-cell weight that would fall beyond an outer cell centre goes to
//                       that outer cell, so a particle inside the box keeps all of its quantity.
// Determinism: the CPU result has the same bits for any thread count. Particles are cut into
// slots that depend only on the problem (n, bins, nq), each slot is summed in particle order
// into its own partial histogram (integer counts or double sums), and the partials are added
// in slot order. Sums are accumulated in double for float inputs too.
#pragma once

#include <cstdint>
#include <string>

namespace coarsegrain {

enum class Assignment { kNearestGridPoint, kCloudInCell };

struct BinGrid {
  int ndim = 1;
  int64_t bins[3] = {1, 1, 1};
  double origin[3] = {0, 0, 0};
  double length[3] = {1, 1, 1};
  bool periodic = true;
  Assignment assignment = Assignment::kNearestGridPoint;

  int64_t cells() const {
    int64_t c = 1;
    for (int a = 0; a < ndim; ++a) c *= bins[a];
    return c;
  }
};

// The largest number of cells a grid may have (indices stay 32-bit on the GPU).
constexpr int64_t kMaxBinCells = (int64_t(1) << 31) - 1;

// Validates the binning parameters and fills `grid`; returns "" or a one-line message naming
// the parameter at fault. `origin` may be empty (zeros). `assignment` is "ngp" or "cic".
std::string make_bin_grid(const char* op, int64_t ndim, const int64_t* bins, int64_t nbins,
                          const double* length, int64_t nlength, const double* origin,
                          int64_t norigin, const std::string& assignment, bool periodic,
                          BinGrid& grid);

// What a binning pass saw besides the sums.
struct BinStats {
  int64_t dropped = 0;     // particles outside a non-periodic box
  int64_t nonfinite = 0;   // particles with a NaN or infinite coordinate (not binned)
  int64_t first_nonfinite = -1;  // the lowest such particle index, -1 when none
  int first_nonfinite_axis = -1;
};

// The one-line error for a pass with non-finite positions (empty when there were none).
std::string nonfinite_message(const char* op, const BinStats& stats);

// out [nq, *bins] = per-cell sums (overwritten). quantities may be null (nq must then be 1).
template <typename T>
BinStats bin_particles(const T* positions, const T* quantities, int64_t n, int64_t nq,
                       const BinGrid& grid, T* out);

// The adjoint (backward) of bin_particles for an upstream gradient grad [nq, *bins]:
//   grad_quantities [n, nq] (may be null): the gather sum_c w_c grad[j, c];
//   grad_positions [n, ndim] (may be null; cloud in cell only): sum_c dw_c/dx_a sum_j q_j grad[j, c].
// Dropped and non-finite particles get zeros.
template <typename T>
void bin_particles_backward(const T* grad, const T* positions, const T* quantities, int64_t n,
                            int64_t nq, const BinGrid& grid, T* grad_quantities, T* grad_positions);

}  // namespace coarsegrain
