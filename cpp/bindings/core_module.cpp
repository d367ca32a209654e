// coarsegrain._core: the CPU kernels over NumPy arrays (no torch). Inputs are float32 or
// float64 arrays of any memory layout (copied to C order when needed); outputs are new
// C-ordered arrays of the input's dtype. The GIL is released while a kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "coarsegrain/binning.h"
#include "coarsegrain/build_config.h"
#include "coarsegrain/finite_volume.h"
#include "coarsegrain/grid.h"
#include "coarsegrain/lattice.h"
#include "coarsegrain/parallel.h"
#include "coarsegrain/phase_field.h"
#include "coarsegrain/pointwise_mlp.h"
#include "coarsegrain/stencil.h"
#include "coarsegrain/tridiagonal.h"
#include "coarsegrain/validate.h"
#include "cpu_isa.h"

namespace py = pybind11;
using coarsegrain::Arity;
using coarsegrain::GridShape;

namespace {

// Validates `a`, allocates the output and calls kernel(tag, in_ptr, out_ptr, grid), where
// tag is a T* null pointer that carries the element type.
template <typename Kernel>
py::array run(const char* op, const char* arg, const py::array& a,
              const std::vector<double>& spacing, Arity arity, Kernel kernel) {
  const bool is_f32 = a.dtype().is(py::dtype::of<float>());
  const bool is_f64 = a.dtype().is(py::dtype::of<double>());
  if (!is_f32 && !is_f64)
    throw py::type_error(std::string(op) + ": " + arg +
                         " must be a float32 or float64 array, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  GridShape grid;
  const std::string error =
      coarsegrain::make_grid_shape(op, arg, shape.data(), static_cast<int64_t>(shape.size()),
                                   spacing.data(), static_cast<int64_t>(spacing.size()),
                                   arity, grid);
  if (!error.empty()) throw py::value_error(error);
  const std::vector<int64_t> out_shape = coarsegrain::result_shape(
      shape.data(), static_cast<int64_t>(shape.size()), grid.ndim, arity);

  auto launch = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
    if (!in) throw py::error_already_set();
    py::array_t<T> out(out_shape);
    const T* src = in.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      kernel(tag, src, dst, grid);
    }
    return py::array(out);
  };
  return is_f32 ? launch(static_cast<float*>(nullptr)) : launch(static_cast<double*>(nullptr));
}

// Explicit phase-field stepping on NumPy arrays (same checks as the torch operators).
py::array phase_field(const char* op, const py::array& u, const std::vector<double>& spacing,
                      double dt, double mobility, double kappa, const std::vector<double>& dfdu,
                      int64_t steps, bool conserved, coarsegrain::CahnHilliardScheme scheme) {
  coarsegrain::ExplicitPhaseField params;
  params.dt = dt;
  params.mobility = mobility;
  params.kappa = kappa;
  std::string error = coarsegrain::make_polynomial(op, "dfdu", dfdu.data(),
                                                   static_cast<int64_t>(dfdu.size()), params.dfdu);
  if (!error.empty()) throw py::value_error(error);
  return run(op, "u", u, spacing, Arity::kScalarToScalar,
             [&](auto tag, const auto* in, auto* out, const GridShape& g) {
               using T = std::remove_pointer_t<decltype(tag)>;
               const std::string bad =
                   coarsegrain::check_explicit_phase_field(op, g, params, steps, conserved);
               if (!bad.empty()) throw std::invalid_argument(bad);
               std::vector<T> workspace(static_cast<size_t>(coarsegrain::phase_field_workspace(g)));
               if (conserved)
                 coarsegrain::cahn_hilliard_explicit(in, out, workspace.data(), g, params, steps,
                                                     scheme);
               else
                 coarsegrain::allen_cahn_explicit(in, out, workspace.data(), g, params, steps);
             });
}

// Finite-volume ops over rows of the last axis (same checks as the torch operators).
template <typename T>
py::array_t<T> c_array(const py::array& a) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!arr) throw py::error_already_set();
  return arr;
}

bool is_float32(const char* op, const char* arg, const py::array& a) {
  if (a.dtype().is(py::dtype::of<float>())) return true;
  if (a.dtype().is(py::dtype::of<double>())) return false;
  throw py::type_error(std::string(op) + ": " + arg + " must be a float32 or float64 array, got dtype " +
                       py::str(a.dtype()).cast<std::string>());
}

py::array weno5_flux(const py::array& v, const std::string& flux) {
  const auto kind = coarsegrain::validate::parse_flux(flux);
  const std::vector<int64_t> shape(v.shape(), v.shape() + v.ndim());
  const auto rows = coarsegrain::validate::weno5_rows("weno5_flux", shape.data(), v.ndim());
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = c_array<T>(v);
    py::array_t<T> out(std::vector<py::ssize_t>(v.shape(), v.shape() + v.ndim()));
    const T* src = in.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      coarsegrain::weno5_burgers_flux(src, dst, rows.rows, rows.n, kind);
    }
    return py::array(out);
  };
  return is_float32("weno5_flux", "v", v) ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
}

py::array stencil_filter(const py::array& v, const py::array& coeffs, int64_t offset) {
  const bool f32 = is_float32("stencil_filter", "v", v);
  if (is_float32("stencil_filter", "coeffs", coeffs) != f32)
    throw py::type_error("stencil_filter: coeffs must have the dtype of v");
  const std::vector<int64_t> v_shape(v.shape(), v.shape() + v.ndim());
  const std::vector<int64_t> c_shape(coeffs.shape(), coeffs.shape() + coeffs.ndim());
  const auto f = coarsegrain::validate::stencil_filter_shape("stencil_filter", v_shape.data(), v.ndim(),
                                                             c_shape.data(), coeffs.ndim(), offset);
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = c_array<T>(v);
    auto c = c_array<T>(coeffs);
    py::array_t<T> out(std::vector<py::ssize_t>(v.shape(), v.shape() + v.ndim()));
    const T* src = in.data();
    const T* cp = c.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      coarsegrain::stencil_filter(src, cp, dst, f.rows, f.n, f.width, f.offset);
    }
    return py::array(out);
  };
  return f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
}

py::array pointwise_mlp(const py::array& x, const py::array& params, int width, int depth, int n_out,
                        const std::string& activation) {
  const char* op = "pointwise_mlp";
  const bool f32 = is_float32(op, "x", x);
  if (is_float32(op, "params", params) != f32) throw py::type_error("pointwise_mlp: params must have the dtype of x");
  if (x.ndim() < 1) throw py::value_error("pointwise_mlp: x must have at least one axis (the inputs of a point last)");
  const coarsegrain::MlpShape shape{static_cast<int>(x.shape(x.ndim() - 1)), width, depth, n_out,
                                    coarsegrain::parse_mlp_activation(op, activation)};
  const std::string bad = coarsegrain::check_mlp_shape(op, shape);
  if (!bad.empty()) throw py::value_error(bad);
  const int64_t count = coarsegrain::mlp_parameter_count(shape);
  if (params.ndim() != 1 || params.shape(0) != count)
    throw py::value_error("pointwise_mlp: params must be a flat array of " + std::to_string(count) + " parameters");
  std::vector<py::ssize_t> out_shape(x.shape(), x.shape() + x.ndim());
  out_shape.back() = n_out;
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = c_array<T>(x);
    auto p = c_array<T>(params);
    py::array_t<T> out(out_shape);
    const T* src = in.data();
    const T* pp = p.data();
    T* dst = out.mutable_data();
    const int64_t points = static_cast<int64_t>(in.size()) / shape.n_in;
    {
      py::gil_scoped_release release;
      coarsegrain::pointwise_mlp(src, pp, dst, points, shape);
    }
    return py::array(out);
  };
  return f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
}

py::array restrict_average(const py::array& u, int64_t ndim, int64_t factor) {
  const std::vector<int64_t> in_shape(u.shape(), u.shape() + u.ndim());
  const auto r = coarsegrain::validate::restrict_average_shape(in_shape.data(), u.ndim(), ndim, factor);
  const GridShape grid = r.grid;
  const std::vector<py::ssize_t> shape(r.out_shape.begin(), r.out_shape.end());
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto in = c_array<T>(u);
    py::array_t<T> out(shape);
    const T* src = in.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      coarsegrain::restrict_average(src, dst, grid, r.factor);
    }
    return py::array(out);
  };
  return is_float32("restrict_average", "u", u) ? go(static_cast<float*>(nullptr))
                                                : go(static_cast<double*>(nullptr));
}

// Particle binning on NumPy arrays (same checks and results as torch.ops.coarsegrain.bin_particles).
// quantities None -> counts [*bins]; [n] -> sums [*bins]; [n, q] -> sums [q, *bins].
py::tuple bin_particles(const py::array& positions, const py::object& quantities, const std::vector<int64_t>& bins,
                        const std::vector<double>& box, const std::vector<double>& origin,
                        const std::string& assignment, bool periodic) {
  const char* op = "bin_particles";
  const bool f32 = is_float32(op, "positions", positions);
  if (positions.ndim() != 2)
    throw py::value_error("bin_particles: positions must be [n, d] (one row per particle), got " +
                          std::to_string(positions.ndim()) + " axes");
  coarsegrain::BinGrid grid;
  const std::string error = coarsegrain::make_bin_grid(
      op, positions.shape(1), bins.data(), static_cast<int64_t>(bins.size()), box.data(),
      static_cast<int64_t>(box.size()), origin.data(), static_cast<int64_t>(origin.size()), assignment, periodic, grid);
  if (!error.empty()) throw py::value_error(error);
  const int64_t n = positions.shape(0);
  py::array q;
  int64_t nq = 1;
  bool squeeze = true;
  const bool has_q = !quantities.is_none();
  if (has_q) {
    q = py::array::ensure(quantities);
    if (!q) throw py::type_error("bin_particles: quantities must be an array or None");
    if (!q.dtype().is(positions.dtype()))
      throw py::type_error("bin_particles: quantities must have the dtype of positions (" +
                           py::str(positions.dtype()).cast<std::string>() + "), got " +
                           py::str(q.dtype()).cast<std::string>());
    if (!((q.ndim() == 1 || q.ndim() == 2) && q.shape(0) == n && (q.ndim() == 1 || q.shape(1) >= 1)))
      throw py::value_error("bin_particles: quantities must be [n] or [n, q] with n = " + std::to_string(n) +
                            " (one row per particle)");
    squeeze = q.ndim() == 1;
    nq = q.ndim() == 1 ? 1 : q.shape(1);
  }
  std::vector<py::ssize_t> shape;
  if (!squeeze) shape.push_back(nq);
  for (int a = 0; a < grid.ndim; ++a) shape.push_back(grid.bins[a]);
  coarsegrain::BinStats stats;
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto pos = c_array<T>(positions);
    py::array_t<T> qc;
    if (has_q) qc = c_array<T>(q);
    py::array_t<T> out(shape);
    const T* pp = pos.data();
    const T* qp = has_q ? qc.data() : nullptr;
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      stats = coarsegrain::bin_particles(pp, qp, n, nq, grid, dst);
    }
    return py::array(out);
  };
  py::array out = f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
  const std::string bad = coarsegrain::nonfinite_message(op, stats);
  if (!bad.empty()) throw py::value_error(bad);
  return py::make_tuple(out, stats.dropped);
}

py::dict build_config() {
  py::dict d;
  d["version"] = COARSEGRAIN_VERSION;
  d["build_type"] = COARSEGRAIN_BUILD_TYPE;
  d["cxx_compiler"] = COARSEGRAIN_CXX_COMPILER;
  d["cxx_flags"] = COARSEGRAIN_CXX_FLAGS;
  d["cpu_isas"] = COARSEGRAIN_CPU_ISAS;
  d["threading"] = COARSEGRAIN_THREADING;
  d["torch_built_against"] = COARSEGRAIN_TORCH_VERSION;
  d["nvcc"] = COARSEGRAIN_CUDA_COMPILER;
  d["cuda_kernels_compiled"] = static_cast<bool>(COARSEGRAIN_CUDA_KERNELS);
  d["cuda_ops_compiled"] = static_cast<bool>(COARSEGRAIN_CUDA_OPS);
  d["cuda_architectures"] = COARSEGRAIN_CUDA_ARCHITECTURES;
  d["cuda_gate"] = COARSEGRAIN_CUDA_GATE;
  return d;
}

std::string active_cpu_isa() { return coarsegrain::cpu_isa::active(); }

// Runs `chunks` chunks of `micros` microseconds of sleep on the kernels' thread pool and returns
// how many distinct threads ran them: a check that the pool honours the thread count.
int threads_used_by_pool(int64_t chunks, int64_t micros) {
  struct Probe {
    std::mutex lock;
    std::set<std::thread::id> ids;
    int64_t micros;
  } probe;
  probe.micros = micros;
  py::gil_scoped_release release;
  coarsegrain::parallel::run(chunks, 1, [](void* ctx, int64_t begin, int64_t end) {
    auto* p = static_cast<Probe*>(ctx);
    std::this_thread::sleep_for(std::chrono::microseconds(p->micros * (end - begin)));
    std::lock_guard<std::mutex> guard(p->lock);
    p->ids.insert(std::this_thread::get_id());
  }, &probe);
  return static_cast<int>(probe.ids.size());
}


// Runs `jobs` back-to-back parallel calls, job j over 1 + j % n items (so that the chunk count
// changes from call to call) of `work` busy steps each (so that workers take part), each chunk
// counting its items in its own job's counters. Returns how many items were not counted exactly
// once, by the time their call returned (a call that ended before its chunks did, or ran one
// twice) or by the end (a late thread that ran a chunk with an earlier call's context): 0 for a
// correct pool; and in how many calls a worker ran a chunk (a test that saw none tested nothing).
std::pair<int64_t, int64_t> pool_miscounts(int64_t jobs, int64_t n, int64_t work) {
  if (jobs < 1 || n < 1 || work < 0) throw py::value_error("pool_miscounts: jobs and n must be >= 1, work >= 0");
  std::vector<std::atomic<int>> hits(static_cast<size_t>(jobs * n));  // zero-initialized
  struct Job {
    std::atomic<int>* counts;
    int64_t work;
    std::thread::id caller;
    std::atomic<bool> on_worker{false};
  };
  auto items = [n](int64_t j) { return 1 + j % n; };
  int64_t wrong = 0, with_workers = 0;
  py::gil_scoped_release release;
  for (int64_t j = 0; j < jobs; ++j) {
    Job job{hits.data() + j * n, work, std::this_thread::get_id()};
    coarsegrain::parallel::run(items(j), 1, [](void* ctx, int64_t begin, int64_t end) {
      auto* job = static_cast<Job*>(ctx);
      for (int64_t i = begin; i < end; ++i) {
        volatile int64_t sink = 0;
        for (int64_t k = 0; k < job->work; ++k) sink = sink + k;
        job->counts[i].fetch_add(1, std::memory_order_relaxed);
      }
      if (std::this_thread::get_id() != job->caller) job->on_worker.store(true, std::memory_order_relaxed);
    }, &job);
    for (int64_t i = 0; i < n; ++i) wrong += job.counts[i].load(std::memory_order_relaxed) != (i < items(j));
    with_workers += job.on_worker.load(std::memory_order_relaxed);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let a late thread land
  for (int64_t j = 0; j < jobs; ++j)
    for (int64_t i = 0; i < n; ++i) wrong += hits[j * n + i].load(std::memory_order_relaxed) != (i < items(j));
  return {wrong, with_workers};
}

// Tridiagonal solves (same checks and messages as the torch operators).
std::vector<int64_t> shape_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

void raise_pivot(const char* op, const coarsegrain::PivotFailure& f, const std::vector<int64_t>& batch) {
  const std::string bad = coarsegrain::zero_pivot_message(op, f, batch.data(), static_cast<int64_t>(batch.size()));
  if (!bad.empty()) throw py::value_error(bad);
}

py::array tridiagonal_solve(const py::array& lower, const py::array& diag, const py::array& upper,
                            const py::array& rhs) {
  const char* op = "tridiagonal_solve";
  const bool f32 = is_float32(op, "diag", diag);
  if (diag.ndim() < 1)
    throw py::value_error("tridiagonal_solve: diag must be [*batch, n] (at least one axis), got shape []");
  const std::vector<int64_t> shape = shape_of(diag);
  for (const auto& [arg, a] : {std::pair<const char*, const py::array*>{"lower", &lower}, {"upper", &upper},
                               {"rhs", &rhs}}) {
    if (is_float32(op, arg, *a) != f32)
      throw py::type_error(std::string(op) + ": " + arg + " must have the dtype of diag");
    if (shape_of(*a) != shape)
      throw py::value_error(std::string(op) + ": " + arg + " must have the shape of diag " + shape_text(shape) +
                            ", got " + shape_text(shape_of(*a)));
  }
  const std::vector<int64_t> batch(shape.begin(), shape.end() - 1);
  int64_t rows = 1;
  for (int64_t b : batch) rows *= b;
  const int64_t n = shape.back();
  coarsegrain::PivotFailure failure;
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto lo = c_array<T>(lower);
    auto di = c_array<T>(diag);
    auto up = c_array<T>(upper);
    auto r = c_array<T>(rhs);
    py::array_t<T> out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
    const T *a = lo.data(), *b = di.data(), *c = up.data(), *d = r.data();
    T* x = out.mutable_data();
    {
      py::gil_scoped_release release;
      failure = coarsegrain::tridiagonal_solve(a, b, c, d, x, rows, n);
    }
    return py::array(out);
  };
  py::array out = f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
  raise_pivot(op, failure, batch);
  return out;
}

py::array heterogeneous_diffusion_step(const py::array& u, const py::array& a_faces, const py::object& left,
                                       const py::object& right, double spacing, double dt, const std::string& scheme) {
  const char* op = "heterogeneous_diffusion_step";
  const bool f32 = is_float32(op, "u", u);
  const std::vector<int64_t> shape = shape_of(u);
  if (shape.empty() || shape.back() < 1)
    throw py::value_error(std::string(op) + ": u must be [*batch, n] with n >= 1 cells, got shape " +
                          shape_text(shape));
  if (is_float32(op, "a_faces", a_faces) != f32)
    throw py::type_error(std::string(op) + ": a_faces must have the dtype of u");
  const int64_t n = shape.back();
  const std::vector<int64_t> batch(shape.begin(), shape.end() - 1);
  int64_t rows = 1;
  for (int64_t b : batch) rows *= b;
  std::vector<int64_t> faces(batch);
  faces.push_back(n + 1);
  const bool shared = a_faces.ndim() == 1 && a_faces.shape(0) == n + 1;
  if (!shared && shape_of(a_faces) != faces)
    throw py::value_error(std::string(op) + ": a_faces must be [n + 1] = [" + std::to_string(n + 1) +
                          "] or [*batch, n + 1] = " + shape_text(faces) + " (the diffusivity at the faces), got " +
                          shape_text(shape_of(a_faces)));
  coarsegrain::DiffusionStep step;
  const std::string error = coarsegrain::make_diffusion_step(op, spacing, dt, scheme, step);
  if (!error.empty()) throw py::value_error(error);
  coarsegrain::PivotFailure failure;
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto walls = [&](const char* arg, const py::object& v) {
      auto w = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(v);
      if (!w) throw py::type_error(std::string(op) + ": " + arg + " must be a number or an array");
      if (w.ndim() != 0 && shape_of(w) != batch)
        throw py::value_error(std::string(op) + ": " + arg + " must be 0-d or [*batch] = " + shape_text(batch) +
                              ", got " + shape_text(shape_of(w)));
      return w;
    };
    auto lw = walls("left", left);
    auto rw = walls("right", right);
    if (lw.ndim() != rw.ndim())
      throw py::value_error(std::string(op) + ": left and right must both be 0-d or both [*batch]");
    step.bc_stride = lw.ndim() == 0 ? 0 : 1;
    step.a_stride = shared ? 0 : n + 1;
    auto uc = c_array<T>(u);
    auto ac = c_array<T>(a_faces);
    py::array_t<T> out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
    const T *up = uc.data(), *ap = ac.data(), *lp = lw.data(), *rp = rw.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      failure = coarsegrain::heterogeneous_diffusion_step(up, ap, lp, rp, dst, rows, n, step);
    }
    return py::array(out);
  };
  py::array out = f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
  raise_pivot(op, failure, batch);
  return out;
}

// The 2D lattice diffusion rate (same checks and messages as the torch operator).
py::array lattice_diffusion_rate(const py::array& u, const py::array& kx, const py::array& ky, double spacing,
                                 const std::string& boundary) {
  const char* op = "lattice_diffusion_rate";
  const bool f32 = is_float32(op, "u", u);
  for (const auto& [arg, a] : {std::pair<const char*, const py::array*>{"kx", &kx}, {"ky", &ky}})
    if (is_float32(op, arg, *a) != f32)
      throw py::type_error(std::string(op) + ": " + arg + " must have the dtype of u (" + (f32 ? "float32" : "float64") +
                           "), got " + py::str(a->dtype()).cast<std::string>());
  const std::vector<int64_t> shape = shape_of(u), kx_shape = shape_of(kx), ky_shape = shape_of(ky);
  const coarsegrain::LatticeRate rate = coarsegrain::validate::lattice_rate(
      op, shape.data(), static_cast<int64_t>(shape.size()), kx_shape.data(), static_cast<int64_t>(kx_shape.size()),
      ky_shape.data(), static_cast<int64_t>(ky_shape.size()), spacing, boundary);
  auto go = [&](auto tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    auto uc = c_array<T>(u);
    auto kxc = c_array<T>(kx);
    auto kyc = c_array<T>(ky);
    py::array_t<T> out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
    const T *up = uc.data(), *kxp = kxc.data(), *kyp = kyc.data();
    T* dst = out.mutable_data();
    {
      py::gil_scoped_release release;
      coarsegrain::lattice_diffusion_rate(up, kxp, kyp, dst, rate);
    }
    return py::array(out);
  };
  return f32 ? go(static_cast<float*>(nullptr)) : go(static_cast<double*>(nullptr));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "coarsegrain CPU kernels over NumPy arrays. Fields are [*batch, *grid] with one spacing "
      "per grid axis; vector fields are [*batch, ndim, *grid]. Periodic boundaries. Arguments "
      "are checked by the same code as torch.ops.coarsegrain (coarsegrain/validate.h), with the "
      "same messages.\n\n"
      "Op families of torch.ops.coarsegrain covered here: stencil (laplacian, gradient, "
      "gradient_adjoint, divergence, divergence_adjoint), explicit phase field "
      "(cahn_hilliard_explicit, allen_cahn_explicit), finite volume (weno5_flux, "
      "stencil_filter, restrict_average), particle binning (bin_particles), tridiagonal "
      "(tridiagonal_solve, heterogeneous_diffusion_step), the 2D lattice diffusion rate "
      "(lattice_diffusion_rate) and the point-wise network (pointwise_mlp).\n"
      "Left out, on purpose: the pointwise family (polynomial, spectral_combine, real_fft_pack), "
      "which serves the torch spectral steppers between torch.fft calls on complex tensors and "
      "has no NumPy caller; the *_into variants, which exist for torch.compile "
      "functionalization; and weno5_reconstruct, stencil_filter_backward and "
      "pointwise_mlp_backward, which are the "
      "pieces of the torch autograd formulas and data-driven-discretization training, both "
      "torch-only.";

  m.def(
      "laplacian",
      [](const py::array& u, const std::vector<double>& spacing, int order) {
        coarsegrain::validate::laplacian_order(order);
        return run("laplacian", "u", u, spacing, Arity::kScalarToScalar,
                   [order](auto, const auto* in, auto* out, const GridShape& g) {
                     coarsegrain::laplacian(in, out, g, order);
                   });
      },
      py::arg("u"), py::arg("spacing"), py::arg("order") = 2,
      "Periodic Laplacian, 3-point (order=2) or 5-point (order=4) per axis.");
  m.def(
      "gradient",
      [](const py::array& u, const std::vector<double>& spacing) {
        return run("gradient", "u", u, spacing, Arity::kScalarToVector,
                   [](auto, const auto* in, auto* out, const GridShape& g) {
                     coarsegrain::gradient(in, out, g);
                   });
      },
      py::arg("u"), py::arg("spacing"),
      "Central-difference gradient, components stacked before the grid axes.");
  m.def(
      "gradient_adjoint",
      [](const py::array& v, const std::vector<double>& spacing) {
        return run("gradient_adjoint", "v", v, spacing, Arity::kVectorToScalar,
                   [](auto, const auto* in, auto* out, const GridShape& g) {
                     coarsegrain::gradient_adjoint(in, out, g);
                   });
      },
      py::arg("v"), py::arg("spacing"), "Transpose of gradient (minus a central divergence).");
  m.def(
      "divergence",
      [](const py::array& flux, const std::vector<double>& spacing) {
        return run("divergence", "flux", flux, spacing, Arity::kVectorToScalar,
                   [](auto, const auto* in, auto* out, const GridShape& g) {
                     coarsegrain::divergence(in, out, g);
                   });
      },
      py::arg("flux"), py::arg("spacing"),
      "Divergence of a face-centred flux: sum_a (F_a[i] - F_a[i - e_a]) / h_a.");
  m.def(
      "divergence_adjoint",
      [](const py::array& w, const std::vector<double>& spacing) {
        return run("divergence_adjoint", "w", w, spacing, Arity::kScalarToVector,
                   [](auto, const auto* in, auto* out, const GridShape& g) {
                     coarsegrain::divergence_adjoint(in, out, g);
                   });
      },
      py::arg("w"), py::arg("spacing"),
      "Transpose of divergence: (w[i] - w[i + e_a]) / h_a per component.");
  m.def(
      "cahn_hilliard_explicit",
      [](const py::array& u, const std::vector<double>& spacing, double dt, double mobility,
         double kappa, const std::vector<double>& dfdu, int64_t steps, const std::string& scheme) {
        return phase_field("cahn_hilliard_explicit", u, spacing, dt, mobility, kappa, dfdu, steps,
                           true, coarsegrain::validate::parse_scheme(scheme));
      },
      py::arg("u"), py::arg("spacing"), py::arg("dt"), py::arg("mobility"), py::arg("kappa"),
      py::arg("dfdu"), py::arg("steps") = 1, py::arg("scheme") = "fused",
      "Explicit Euler Cahn-Hilliard steps u <- u + dt M lap(f'(u) - kappa lap u).");
  m.def(
      "allen_cahn_explicit",
      [](const py::array& u, const std::vector<double>& spacing, double dt, double mobility,
         double kappa, const std::vector<double>& dfdu, int64_t steps) {
        return phase_field("allen_cahn_explicit", u, spacing, dt, mobility, kappa, dfdu, steps,
                           false, coarsegrain::CahnHilliardScheme::kTwoPass);
      },
      py::arg("u"), py::arg("spacing"), py::arg("dt"), py::arg("mobility"), py::arg("kappa"),
      py::arg("dfdu"), py::arg("steps") = 1,
      "Explicit Euler Allen-Cahn steps u <- u - dt M (f'(u) - kappa lap u).");
  m.def("weno5_flux", &weno5_flux, py::arg("v"), py::arg("flux") = "godunov",
        "WENO5 face fluxes of Burgers' v^2/2 on periodic rows (face j = right face of cell j).");
  m.def("stencil_filter", &stencil_filter, py::arg("v"), py::arg("coeffs"), py::arg("offset"),
        "out[..., j] = sum_k coeffs[..., j, k] v[..., (j + offset + k) mod n].");
  m.def("pointwise_mlp", &pointwise_mlp, py::arg("x"), py::arg("params"), py::arg("width"), py::arg("depth"),
        py::arg("n_out"), py::arg("activation") = "elu",
        "A small MLP at every point: x [..., n_in] -> [..., n_out]; params flat (W_1, b_1, ..., W_out, b_out), "
        "depth hidden layers of width units ('elu' or 'tanh'), a linear output.");
  m.def("restrict_average", &restrict_average, py::arg("u"), py::kw_only(), py::arg("ndim"),
        py::arg("factor"),
        "Block means over `factor` cells along each of the last ndim axes (ndim and factor by "
        "keyword only).");
  m.def("build_config", &build_config, "How this build was configured.");
  m.def("active_cpu_isa", &active_cpu_isa,
        "Instruction set of the CPU kernel copy in use: 'avx2' or 'generic'.");
  m.def("get_num_threads", &coarsegrain::parallel::num_threads,
        "Threads a parallel kernel of this module (_core) may use. The torch operators "
        "(coarsegrain._C) follow torch.get_num_threads() instead.");
  m.def("set_num_threads", &coarsegrain::parallel::set_default_num_threads, py::arg("n"),
        "Sets the threads of _core's kernels; n < 1 restores the default (the CPUs this process "
        "may run on).");
  m.def("pool_miscounts", &pool_miscounts, py::arg("jobs"), py::arg("n"), py::arg("work") = 0,
        "Runs `jobs` back-to-back calls over 1 + j % n items (`work` busy steps each) on the kernel thread pool; "
        "returns the items not counted exactly once (0 for a correct pool) and the calls a worker took part in.");
  m.def("set_pool_testing_delays", &coarsegrain::parallel::set_testing_delays, py::arg("claim_micros"),
        py::arg("publish_micros"),
        "Tests only: sleeps (microseconds) that widen the kernel thread pool's races, a worker's between "
        "reading the job state and claiming a chunk, the caller's between writing a job and publishing it; "
        "0, 0 turns them off.");
  m.def("threads_used_by_pool", &threads_used_by_pool, py::arg("chunks"), py::arg("micros"),
        "Runs `chunks` sleeping chunks on the kernel thread pool; returns the distinct threads "
        "that ran them (a diagnostic).");
  m.def(
      "laplacian_max_eigenvalue",
      [](const std::vector<double>& spacing, int order) {
        return coarsegrain::laplacian_max_eigenvalue(spacing.data(), static_cast<int>(spacing.size()), order);
      },
      py::arg("spacing"), py::arg("order") = 2,
      "Largest eigenvalue of the periodic -lap: sum 4/h^2 (order 2) or sum (16/3)/h^2 (order 4).");
  m.def(
      "explicit_stability_limit",
      [](const std::vector<double>& spacing, double mobility, double kappa, bool conserved, double curvature,
         int laplacian_order) {
        return coarsegrain::explicit_stability_limit(spacing.data(), static_cast<int>(spacing.size()), mobility,
                                                     kappa, conserved, curvature, laplacian_order);
      },
      py::arg("spacing"), py::arg("mobility"), py::arg("kappa"), py::arg("conserved"), py::arg("curvature") = 0.0,
      py::arg("laplacian_order") = 2, "Largest stable explicit-Euler dt (coarsegrain/phase_field.h).");
  m.def(
      "explicit_stability_error",
      [](double dt, const std::vector<double>& spacing, double mobility, double kappa, bool conserved,
         double curvature, int laplacian_order) -> py::object {
        const std::string e = coarsegrain::explicit_stability_error(
            dt, spacing.data(), static_cast<int>(spacing.size()), mobility, kappa, conserved, curvature,
            laplacian_order);
        if (e.empty()) return py::none();
        return py::str(e);
      },
      py::arg("dt"), py::arg("spacing"), py::arg("mobility"), py::arg("kappa"), py::arg("conserved"),
      py::arg("curvature") = 0.0, py::arg("laplacian_order") = 2,
      "None when dt is below explicit_stability_limit, else the message that names the limit.");
  m.def("bin_particles", &bin_particles, py::arg("positions"), py::arg("quantities") = py::none(), py::kw_only(),
        py::arg("bins"), py::arg("box"), py::arg("origin") = std::vector<double>{}, py::arg("assignment") = "ngp",
        py::arg("periodic") = true,
        "Per-cell sums of particle quantities (counts without them) on a uniform grid over a box; "
        "returns (sums, dropped). Output axis a belongs to positions[:, a] (as numpy.histogramdd). "
        "See coarsegrain.ops.bin_particles.");
  m.def("tridiagonal_solve", &tridiagonal_solve, py::arg("lower"), py::arg("diag"), py::arg("upper"), py::arg("rhs"),
        "Solves the [*batch, n] tridiagonal systems lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i] "
        "(lower[..., 0], upper[..., n-1] ignored) by the Thomas algorithm. See coarsegrain.ops.tridiagonal_solve.");
  m.def("heterogeneous_diffusion_step", &heterogeneous_diffusion_step, py::arg("u"), py::arg("a_faces"),
        py::arg("left"), py::arg("right"), py::kw_only(), py::arg("spacing"), py::arg("dt"),
        py::arg("scheme") = "backward_euler",
        "One implicit step of u_t = (a u_x)_x on [*batch, n] cells, a_faces [n + 1] or [*batch, n + 1], "
        "Dirichlet walls left / right (numbers or [*batch]). See coarsegrain.ops.heterogeneous_diffusion_step.");
  m.def("lattice_diffusion_rate", &lattice_diffusion_rate, py::arg("u"), py::arg("kx"), py::arg("ky"), py::kw_only(),
        py::arg("spacing"), py::arg("boundary") = "periodic",
        "The rate du/dt of 2D lattice heterogeneous diffusion (arbabi2020 Eq 25) of u [*batch, ny, nx] (x last) with "
        "bond diffusivities kx, ky (u's shape or a trailing part of it), the lattice spacing, boundary 'periodic' or "
        "'patch'. See coarsegrain.ops.lattice_diffusion_rate.");
}
