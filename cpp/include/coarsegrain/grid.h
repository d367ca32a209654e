// Grid shapes shared by every kernel family: a batch of periodic grids stored row-major.
//
// A field tensor is [*batch, *grid]: the last `ndim` axes are the grid (z, y, x order in
// 3D; y, x in 2D), everything before is flattened into `batch`. Fields with components
// (gradients, face fluxes) are [*batch, ndim, *grid]: component a belongs to grid axis a.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace coarsegrain {

constexpr int kMaxGridDims = 3;

struct GridShape {
  int64_t batch = 1;                         // product of all leading (non-grid) axes
  int ndim = 1;                              // number of grid axes, 1..3
  int64_t extent[kMaxGridDims] = {1, 1, 1};  // grid extents in grid-axis order
  double spacing[kMaxGridDims] = {1, 1, 1};  // grid spacing per grid axis

  int64_t points() const {
    int64_t p = 1;
    for (int a = 0; a < ndim; ++a) p *= extent[a];
    return p;
  }
};

// The same grid seen as a (nz, ny, nx) box; absent leading axes have extent 1 and an
// inverse spacing of 0, so kernels can treat 1D/2D/3D with one loop nest.
struct Box {
  int64_t batch, nz, ny, nx;
  double inv_dz, inv_dy, inv_dx;
};

inline Box as_box(const GridShape& g) {
  Box b{g.batch, 1, 1, 1, 0.0, 0.0, 0.0};
  const int off = kMaxGridDims - g.ndim;  // grid axis a maps to box axis a + off
  int64_t* n[kMaxGridDims] = {&b.nz, &b.ny, &b.nx};
  double* inv[kMaxGridDims] = {&b.inv_dz, &b.inv_dy, &b.inv_dx};
  for (int a = 0; a < g.ndim; ++a) {
    *n[a + off] = g.extent[a];
    *inv[a + off] = 1.0 / g.spacing[a];
  }
  return b;
}

// What an operator reads and writes.
enum class Arity {
  kScalarToScalar,  // [*batch, *grid] -> [*batch, *grid]
  kScalarToVector,  // [*batch, *grid] -> [*batch, ndim, *grid]
  kVectorToScalar,  // [*batch, ndim, *grid] -> [*batch, *grid]
};

// Validates an input's shape against a spacing list and fills `grid`.
//   op, arg       names used in the error message ("laplacian", "u")
//   shape, rank   the input shape
//   spacing, nsp  one positive finite spacing per grid axis (1..3 of them)
// Returns an empty string on success, else a message that names the argument at fault.
std::string make_grid_shape(const char* op, const char* arg, const int64_t* shape, int64_t rank,
                            const double* spacing, int64_t nsp, Arity arity, GridShape& grid);

// The shape of an operator's result for an input of `shape` on a grid of `ndim` axes.
std::vector<int64_t> result_shape(const int64_t* shape, int64_t rank, int ndim, Arity arity);

// Calls f(std::integral_constant<int, N>{}) for N = ndim, so kernels can be templated on the
// number of grid axes.
template <typename F>
void dispatch_ndim(int ndim, F&& f) {
  switch (ndim) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: throw std::invalid_argument("coarsegrain: a grid has 1 to 3 axes");
  }
}

}  // namespace coarsegrain
