#include "coarsegrain/grid.h"

#include <cmath>
#include <sstream>

namespace coarsegrain {

std::string make_grid_shape(const char* op, const char* arg, const int64_t* shape, int64_t rank,
                            const double* spacing, int64_t nsp, Arity arity, GridShape& grid) {
  const bool component_axis = arity == Arity::kVectorToScalar;
  std::ostringstream msg;
  msg << op << ": ";
  if (nsp < 1 || nsp > kMaxGridDims) {
    msg << "spacing must hold one value per grid axis (1 to " << kMaxGridDims
        << " values), got " << nsp;
    return msg.str();
  }
  for (int64_t a = 0; a < nsp; ++a) {
    if (!std::isfinite(spacing[a]) || spacing[a] <= 0.0) {
      msg << "spacing[" << a << "] must be a positive finite number, got " << spacing[a];
      return msg.str();
    }
  }
  const int64_t needed = nsp + (component_axis ? 1 : 0);
  if (rank < needed) {
    msg << arg << " must have at least " << needed << " dimensions ("
        << (component_axis ? "a component axis of size ndim, then " : "") << nsp
        << " grid axes, since spacing has " << nsp << " values), got " << rank;
    return msg.str();
  }
  if (component_axis && shape[rank - nsp - 1] != nsp) {
    msg << arg << " must have " << nsp << " components (one per grid axis) in dimension "
        << rank - nsp - 1 << ", got " << shape[rank - nsp - 1];
    return msg.str();
  }
  grid.ndim = static_cast<int>(nsp);
  for (int64_t a = 0; a < nsp; ++a) {
    grid.extent[a] = shape[rank - nsp + a];
    grid.spacing[a] = spacing[a];
    if (grid.extent[a] < 1) {
      msg << arg << " grid axis " << a << " (dimension " << rank - nsp + a
          << ") must not be empty";
      return msg.str();
    }
  }
  grid.batch = 1;
  for (int64_t d = 0; d < rank - needed; ++d) grid.batch *= shape[d];
  return std::string();
}

std::vector<int64_t> result_shape(const int64_t* shape, int64_t rank, int ndim, Arity arity) {
  std::vector<int64_t> out(shape, shape + rank);
  const auto grid_begin = out.end() - ndim;
  if (arity == Arity::kScalarToVector) out.insert(grid_begin, ndim);
  if (arity == Arity::kVectorToScalar) out.erase(grid_begin - 1);
  return out;
}

}  // namespace coarsegrain
