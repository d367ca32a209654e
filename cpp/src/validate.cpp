#include "coarsegrain/validate.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace coarsegrain::validate {
namespace {

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream msg;
  (msg << ... << parts);
  throw std::invalid_argument(msg.str());
}

}  // namespace

std::string format_shape(const int64_t* shape, int64_t rank) {
  std::ostringstream s;
  s << "[";
  for (int64_t i = 0; i < rank; ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

int laplacian_order(int64_t order) {
  if (order != 2 && order != 4) fail("laplacian: order must be 2 or 4, got ", order);
  return static_cast<int>(order);
}

CahnHilliardScheme parse_scheme(std::string_view scheme) {
  if (scheme == "fused") return CahnHilliardScheme::kFused;
  if (scheme == "two_pass") return CahnHilliardScheme::kTwoPass;
  fail("cahn_hilliard_explicit: scheme must be 'fused' or 'two_pass', got '", scheme, "'");
}

NumericalFlux parse_flux(std::string_view flux) {
  if (flux == "godunov") return NumericalFlux::kGodunov;
  if (flux == "lax_friedrichs") return NumericalFlux::kLaxFriedrichs;
  fail("weno5_flux: flux must be 'godunov' or 'lax_friedrichs', got '", flux, "'");
}

RowShape weno5_rows(const char* op, const int64_t* shape, int64_t rank) {
  if (rank < 1 || shape[rank - 1] < 5)
    fail(op, ": v must be [*batch, n] with n >= 5 cells (the WENO5 stencil), got shape ",
         format_shape(shape, rank));
  RowShape r;
  r.n = shape[rank - 1];
  int64_t total = 1;
  for (int64_t i = 0; i < rank; ++i) total *= shape[i];
  r.rows = total / r.n;
  return r;
}

FilterShape stencil_filter_shape(const char* op, const int64_t* v_shape, int64_t v_rank,
                                 const int64_t* c_shape, int64_t c_rank, int64_t offset) {
  if (v_rank < 1 || v_shape[v_rank - 1] < 1)
    fail(op, ": v must be [*batch, n], got shape ", format_shape(v_shape, v_rank));
  bool ok = c_rank == v_rank + 1 && c_shape[c_rank - 1] >= 1;
  for (int64_t a = 0; ok && a < v_rank; ++a) ok = c_shape[a] == v_shape[a];
  if (!ok)
    fail(op, ": coeffs must be [*batch, n, width] for v of shape ", format_shape(v_shape, v_rank),
         ", got ", format_shape(c_shape, c_rank));
  if (offset <= -(int64_t(1) << 20) || offset >= (int64_t(1) << 20))
    fail(op, ": offset out of range: ", offset);
  FilterShape f;
  f.n = v_shape[v_rank - 1];
  int64_t total = 1;
  for (int64_t i = 0; i < v_rank; ++i) total *= v_shape[i];
  f.rows = total / f.n;
  f.width = static_cast<int>(c_shape[c_rank - 1]);
  f.offset = static_cast<int>(offset);
  return f;
}

void restrict_factor(const GridShape& grid, int64_t factor) {
  if (factor < 1) fail("restrict_average: factor must be >= 1, got ", factor);
  for (int a = 0; a < grid.ndim; ++a)
    if (grid.extent[a] % factor != 0)
      fail("restrict_average: grid axis ", a, " has ", grid.extent[a],
           " cells, not divisible by factor ", factor);
}

RestrictShape restrict_average_shape(const int64_t* shape, int64_t rank, int64_t ndim,
                                     int64_t factor) {
  if (ndim < 1 || ndim > kMaxGridDims)
    fail("restrict_average: ndim must be 1, 2 or 3, got ", ndim);
  if (rank < ndim)
    fail("restrict_average: u must have at least ndim = ", ndim, " axes, got shape ",
         format_shape(shape, rank));
  RestrictShape r;
  r.grid.ndim = static_cast<int>(ndim);
  int64_t points = 1, total = 1;
  for (int64_t i = 0; i < rank; ++i) total *= shape[i];
  for (int64_t a = 0; a < ndim; ++a) {
    r.grid.extent[a] = shape[rank - ndim + a];
    points *= r.grid.extent[a];
  }
  restrict_factor(r.grid, factor);
  r.factor = static_cast<int>(factor);
  r.grid.batch = points == 0 ? 0 : total / points;
  r.out_shape.assign(shape, shape + rank);
  for (int64_t a = 0; a < ndim; ++a) r.out_shape[rank - ndim + a] = r.grid.extent[a] / factor;
  return r;
}

LatticeRate lattice_rate(const char* op, const int64_t* u_shape, int64_t u_rank, const int64_t* kx_shape,
                         int64_t kx_rank, const int64_t* ky_shape, int64_t ky_rank, double spacing,
                         std::string_view boundary) {
  if (u_rank < 2)
    fail(op, ": u must be [*batch, ny, nx] (at least the two grid axes), got shape ", format_shape(u_shape, u_rank));
  LatticeRate p;
  p.ny = u_shape[u_rank - 2];
  p.nx = u_shape[u_rank - 1];
  p.planes = 1;
  for (int64_t a = 0; a + 2 < u_rank; ++a) p.planes *= u_shape[a];
  // kappa's shape: a trailing part of u's with both grid axes; its planes are those of its own
  // leading axes, repeated over u's remaining leading axes.
  auto planes_of = [&](const char* arg, const int64_t* shape, int64_t rank) {
    bool ok = rank >= 2 && rank <= u_rank;
    for (int64_t a = 0; ok && a < rank; ++a) ok = shape[rank - 1 - a] == u_shape[u_rank - 1 - a];
    if (!ok)
      fail(op, ": ", arg, " must have the shape of u ", format_shape(u_shape, u_rank),
           " or a trailing part of it with at least [ny, nx] = ", format_shape(u_shape + u_rank - 2, 2),
           " (the bond diffusivities, repeated over u's leading axes), got ", format_shape(shape, rank));
    int64_t n = 1;
    for (int64_t a = 0; a + 2 < rank; ++a) n *= shape[a];
    return n;
  };
  p.kx_planes = planes_of("kx", kx_shape, kx_rank);
  p.ky_planes = planes_of("ky", ky_shape, ky_rank);
  if (!(std::isfinite(spacing) && spacing > 0))
    fail(op, ": spacing must be a positive finite number, got ", spacing);
  p.spacing = spacing;
  if (boundary == "periodic")
    p.boundary = LatticeBoundary::kPeriodic;
  else if (boundary == "patch")
    p.boundary = LatticeBoundary::kPatch;
  else
    fail(op, ": boundary must be 'periodic' or 'patch', got '", boundary, "'");
  if (p.boundary == LatticeBoundary::kPatch && (p.ny < 3 || p.nx < 3))
    fail(op, ": boundary 'patch' needs ny >= 3 and nx >= 3 (a ring of edge values around the interior), got u of "
         "shape ", format_shape(u_shape, u_rank));
  return p;
}

}  // namespace coarsegrain::validate
