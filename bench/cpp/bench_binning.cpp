// Times particle binning (CPU, and CUDA where built and a GPU is present) for 1D 256 bins, 2D 64^2
// and 3D 64^3, nearest grid point and cloud in cell, float32 and float64, next to a copy of the
// positions measured in the same run (the bandwidth limit: binning reads each position once).
//
//   bench_binning [--particles 10000000] [--reps 9] [--json path]
//
// Prints median time, particles per second, and the fraction of the copy bandwidth reached
// (bytes of positions read / time, over the copy's read + write bytes / time).
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "coarsegrain/binning.h"
#include "coarsegrain/build_config.h"
#ifdef COARSEGRAIN_BENCH_CUDA
#include "coarsegrain/cuda/binning.h"
#endif

namespace cg = coarsegrain;

namespace {

struct Result {
  std::string device, assignment, dtype;
  int ndim;
  int64_t bins, particles;
  double median_s, particles_per_s, gb_per_s, copy_gb_per_s;
};

cg::BinGrid grid_for(int ndim, const std::string& assignment) {
  const int64_t bins[3] = {ndim == 1 ? 256 : 64, 64, 64};
  const double length[3] = {6.283185307179586, 6.283185307179586, 6.283185307179586};
  cg::BinGrid g;
  const std::string err = cg::make_bin_grid("bench", ndim, bins, ndim, length, ndim, nullptr, 0, assignment, true, g);
  if (!err.empty()) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  return g;
}

template <typename T>
std::vector<T> uniform_positions(int64_t count, uint64_t seed) {
  std::vector<T> x(count);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 6.283185307179586);
  for (auto& v : x) v = T(u(rng));
  return x;
}

template <typename T>
void bench_cpu(int64_t n, int reps, const char* dtype, std::vector<Result>& results) {
  for (int ndim = 1; ndim <= 3; ++ndim) {
    const std::vector<T> x = uniform_positions<T>(n * ndim, 7 + ndim);
    std::vector<T> copy(x.size());
    const double t_copy = bench::time_median(reps, [&] { bench::parallel_copy(x.data(), copy.data(), n * ndim); });
    const double bytes = double(n) * ndim * sizeof(T);
    for (const char* a : {"ngp", "cic"}) {
      const cg::BinGrid g = grid_for(ndim, a);
      std::vector<T> out(g.cells());
      const double t = bench::time_median(reps, [&] { cg::bin_particles<T>(x.data(), nullptr, n, 1, g, out.data()); });
      results.push_back({"cpu", a, dtype, ndim, g.bins[0], n, t, n / t, bytes / t / 1e9, 2 * bytes / t_copy / 1e9});
    }
  }
}

#ifdef COARSEGRAIN_BENCH_CUDA
template <typename T>
void bench_cuda(int64_t n, int reps, const char* dtype, std::vector<Result>& results) {
  for (int ndim = 1; ndim <= 3; ++ndim) {
    const std::vector<T> host = uniform_positions<T>(n * ndim, 7 + ndim);
    T *x = nullptr, *copy = nullptr, *out = nullptr;
    unsigned long long* counters = nullptr;
    CUDA_OK(cudaMalloc(&x, host.size() * sizeof(T)));
    CUDA_OK(cudaMalloc(&copy, host.size() * sizeof(T)));
    CUDA_OK(cudaMalloc(&out, 64 * 64 * 64 * sizeof(T)));
    CUDA_OK(cudaMalloc(&counters, 3 * sizeof(unsigned long long)));
    CUDA_OK(cudaMemcpy(x, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
    const double bytes = double(n) * ndim * sizeof(T);
    const double t_copy = bench::time_cuda(reps, [&] {
      CUDA_OK(cudaMemcpyAsync(copy, x, host.size() * sizeof(T), cudaMemcpyDeviceToDevice));
    });
    for (const char* a : {"ngp", "cic"}) {
      const cg::BinGrid g = grid_for(ndim, a);
      const double t = bench::time_cuda(reps, [&] {
        CUDA_OK(cg::cuda::bin_particles<T>(x, nullptr, n, 1, g, out, counters, nullptr));
      });
      results.push_back({"cuda", a, dtype, ndim, g.bins[0], n, t, n / t, bytes / t / 1e9, 2 * bytes / t_copy / 1e9});
    }
    CUDA_OK(cudaFree(x));
    CUDA_OK(cudaFree(copy));
    CUDA_OK(cudaFree(out));
    CUDA_OK(cudaFree(counters));
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int64_t particles = 10000000;
  int reps = 9;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else if (a == "--particles" && i + 1 < argc) {
      particles = std::stoll(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--particles 10000000] [--reps 9] [--json path]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Result> results;
  bench_cpu<float>(particles, reps, "float32", results);
  bench_cpu<double>(particles, reps, "float64", results);
  const std::string gpu = bench::gpu_name();
#ifdef COARSEGRAIN_BENCH_CUDA
  if (gpu != "none") {
    bench_cuda<float>(particles, reps, "float32", results);
    bench_cuda<double>(particles, reps, "float64", results);
  }
#endif
  std::printf("cpu: %s (kernel pool: all CPUs; copy: %d OpenMP threads); gpu: %s; %s, %s\n",
              bench::cpu_model().c_str(), bench::openmp_threads(), gpu.c_str(), COARSEGRAIN_CXX_COMPILER,
              COARSEGRAIN_CXX_FLAGS);
  std::printf("%-6s %-4s %-8s %2s %5s %11s %12s %8s %9s %8s\n", "device", "asg", "dtype", "d", "bins", "median_ms",
              "Mparticles/s", "GB/s", "copyGB/s", "of_copy");
  std::ostringstream rows;
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf("%-6s %-4s %-8s %2d %5lld %11.3f %12.1f %8.2f %9.2f %7.0f%%\n", r.device.c_str(), r.assignment.c_str(),
                r.dtype.c_str(), r.ndim, static_cast<long long>(r.bins), r.median_s * 1e3, r.particles_per_s / 1e6,
                r.gb_per_s, r.copy_gb_per_s, 100.0 * r.gb_per_s / r.copy_gb_per_s);
    rows << "    {\"device\": \"" << r.device << "\", \"assignment\": \"" << r.assignment << "\", \"dtype\": \""
         << r.dtype << "\", \"ndim\": " << r.ndim << ", \"bins_per_axis\": " << r.bins
         << ", \"particles\": " << r.particles << ", \"median_s\": " << r.median_s
         << ", \"particles_per_s\": " << r.particles_per_s << ", \"gb_per_s\": " << r.gb_per_s
         << ", \"copy_gb_per_s\": " << r.copy_gb_per_s << ", \"fraction_of_copy\": " << r.gb_per_s / r.copy_gb_per_s
         << "}" << (i + 1 < results.size() ? "," : "") << "\n";
  }
  if (!json_path.empty()) {
    std::ostringstream j;
    j << "{\n  \"benchmark\": \"bench_binning\",\n  \"machine\": {\"cpu\": \"" << bench::json_escape(bench::cpu_model())
      << "\", \"openmp_threads\": " << bench::openmp_threads() << ", \"gpu\": \"" << bench::json_escape(gpu)
      << "\"},\n  \"build\": {\"version\": \"" << COARSEGRAIN_VERSION << "\", \"cxx_compiler\": \""
      << COARSEGRAIN_CXX_COMPILER << "\", \"cxx_flags\": \"" << COARSEGRAIN_CXX_FLAGS << "\", \"nvcc\": \""
      << COARSEGRAIN_CUDA_COMPILER << "\"},\n  \"reps\": " << reps << ",\n  \"results\": [\n"
      << rows.str() << "  ]\n}\n";
    bench::write_file_atomic(json_path, j.str());
  }
  return 0;
}
