// Times the stencil kernels (CPU, and CUDA where built and a GPU is present) on 3D periodic
// grids next to a copy of the same arrays measured in the same run, and prints median time,
// grid-point updates per second, effective GB/s and the fraction of the copy bandwidth.
//
//   bench_stencil [--sizes 64,128,256] [--reps 15] [--json path]
//
// Effective bytes count each array read or written once (the minimum traffic); the copy moves
// one read and one write of the input, so "of copy" is the fraction of the achievable
// bandwidth an op reaches.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_common.h"
#include "coarsegrain/build_config.h"
#include "coarsegrain/stencil.h"
#ifdef COARSEGRAIN_BENCH_CUDA
#include <cuda_runtime.h>

#include "coarsegrain/cuda/stencil.h"
#endif

namespace cg = coarsegrain;
using bench::cpu_model;
using bench::json_escape;
using bench::parallel_array;
using bench::parallel_copy;
using bench::time_median;
#ifdef COARSEGRAIN_BENCH_CUDA
using bench::time_cuda;
#endif

namespace {

struct Result {
  std::string device, op, dtype;
  int64_t n;
  double median_s, points_per_s, gb_per_s, copy_gb_per_s;
};

// An n^3 periodic grid on the unit cube.
cg::GridShape unit_cube(int64_t n) {
  cg::GridShape g;
  g.ndim = 3;
  for (int a = 0; a < 3; ++a) {
    g.extent[a] = n;
    g.spacing[a] = 1.0 / double(n);
  }
  return g;
}

struct OpSpec {
  const char* name;
  int in_components, out_components;
};
const OpSpec kOps[] = {{"laplacian2", 1, 1}, {"laplacian4", 1, 1},      {"gradient", 1, 3},
                       {"gradient_adjoint", 3, 1}, {"divergence", 3, 1}, {"divergence_adjoint", 1, 3}};

template <typename T>
void run_op_cpu(const std::string& op, const T* in, T* out, const cg::GridShape& g) {
  if (op == "laplacian2") cg::laplacian(in, out, g, 2);
  else if (op == "laplacian4") cg::laplacian(in, out, g, 4);
  else if (op == "gradient") cg::gradient(in, out, g);
  else if (op == "gradient_adjoint") cg::gradient_adjoint(in, out, g);
  else if (op == "divergence") cg::divergence(in, out, g);
  else cg::divergence_adjoint(in, out, g);
}

template <typename T>
void bench_cpu(int64_t n, int reps, const char* dtype, std::vector<Result>& results) {
  const cg::GridShape g = unit_cube(n);
  const int64_t pts = g.points();
  auto in = parallel_array<T>(3 * pts, T(1));
  auto out = parallel_array<T>(3 * pts, T(0));
  const double t_copy = time_median(reps, [&] { parallel_copy(in.get(), out.get(), pts); });
  const double copy_gbs = 2.0 * pts * sizeof(T) / t_copy / 1e9;
  for (const OpSpec& op : kOps) {
    const double t = time_median(reps, [&] { run_op_cpu<T>(op.name, in.get(), out.get(), g); });
    const double bytes = double(op.in_components + op.out_components) * pts * sizeof(T);
    results.push_back({"cpu", op.name, dtype, n, t, pts / t, bytes / t / 1e9, copy_gbs});
  }
}

#ifdef COARSEGRAIN_BENCH_CUDA
template <typename T>
void run_op_cuda(const std::string& op, const T* in, T* out, const cg::GridShape& g) {
  cudaError_t e;
  if (op == "laplacian2") e = cg::cuda::laplacian(in, out, g, 2, nullptr);
  else if (op == "laplacian4") e = cg::cuda::laplacian(in, out, g, 4, nullptr);
  else if (op == "gradient") e = cg::cuda::gradient(in, out, g, nullptr);
  else if (op == "gradient_adjoint") e = cg::cuda::gradient_adjoint(in, out, g, nullptr);
  else if (op == "divergence") e = cg::cuda::divergence(in, out, g, nullptr);
  else e = cg::cuda::divergence_adjoint(in, out, g, nullptr);
  CUDA_OK(e);
}

template <typename T>
void bench_cuda(int64_t n, int reps, const char* dtype, std::vector<Result>& results) {
  const cg::GridShape g = unit_cube(n);
  const int64_t pts = g.points();
  T *in = nullptr, *out = nullptr;
  CUDA_OK(cudaMalloc(&in, 3 * pts * sizeof(T)));
  CUDA_OK(cudaMalloc(&out, 3 * pts * sizeof(T)));
  CUDA_OK(cudaMemset(in, 0, 3 * pts * sizeof(T)));
  const double t_copy = time_cuda(reps, [&] {
    CUDA_OK(cudaMemcpyAsync(out, in, pts * sizeof(T), cudaMemcpyDeviceToDevice));
  });
  const double copy_gbs = 2.0 * pts * sizeof(T) / t_copy / 1e9;
  for (const OpSpec& op : kOps) {
    const double t = time_cuda(reps, [&] { run_op_cuda<T>(op.name, in, out, g); });
    const double bytes = double(op.in_components + op.out_components) * pts * sizeof(T);
    results.push_back({"cuda", op.name, dtype, n, t, pts / t, bytes / t / 1e9, copy_gbs});
  }
  CUDA_OK(cudaFree(in));
  CUDA_OK(cudaFree(out));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes{64, 128, 256};
  int reps = 15;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream ss(argv[++i]);
      std::string tok;
      while (std::getline(ss, tok, ',')) sizes.push_back(std::stoll(tok));
    } else {
      std::fprintf(stderr, "usage: %s [--sizes 64,128,256] [--reps 15] [--json path]\n", argv[0]);
      return 2;
    }
  }
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  std::vector<Result> results;
  for (int64_t n : sizes) {
    bench_cpu<float>(n, reps, "float32", results);
    bench_cpu<double>(n, reps, "float64", results);
  }
  std::string gpu = "none";
#ifdef COARSEGRAIN_BENCH_CUDA
  int devices = 0;
  if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0) {
    cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    gpu = prop.name;
    for (int64_t n : sizes) {
      bench_cuda<float>(n, reps, "float32", results);
      bench_cuda<double>(n, reps, "float64", results);
    }
  }
#endif
  std::printf("cpu: %s, %d OpenMP threads; gpu: %s; %s, %s\n", cpu_model().c_str(), threads,
              gpu.c_str(), COARSEGRAIN_CXX_COMPILER, COARSEGRAIN_CXX_FLAGS);
  std::printf("%-6s %-19s %-8s %5s %11s %12s %9s %9s %8s\n", "device", "op", "dtype", "n",
              "median_ms", "Gpoints/s", "GB/s", "copyGB/s", "of_copy");
  for (const Result& r : results)
    std::printf("%-6s %-19s %-8s %5lld %11.3f %12.3f %9.2f %9.2f %7.0f%%\n", r.device.c_str(),
                r.op.c_str(), r.dtype.c_str(), static_cast<long long>(r.n), r.median_s * 1e3,
                r.points_per_s / 1e9, r.gb_per_s, r.copy_gb_per_s,
                100.0 * r.gb_per_s / r.copy_gb_per_s);
  if (!json_path.empty()) {
    const std::string tmp = json_path + ".tmp";
    {
      std::ofstream j(tmp);
      j << "{\n  \"benchmark\": \"bench_stencil\",\n  \"machine\": {\"cpu\": \""
        << json_escape(cpu_model()) << "\", \"openmp_threads\": " << threads << ", \"gpu\": \""
        << json_escape(gpu) << "\"},\n  \"build\": {\"version\": \"" << COARSEGRAIN_VERSION
        << "\", \"cxx_compiler\": \"" << COARSEGRAIN_CXX_COMPILER << "\", \"cxx_flags\": \""
        << COARSEGRAIN_CXX_FLAGS << "\", \"nvcc\": \"" << COARSEGRAIN_CUDA_COMPILER
        << "\"},\n  \"reps\": " << reps << ",\n  \"results\": [\n";
      for (size_t i = 0; i < results.size(); ++i) {
        const Result& r = results[i];
        j << "    {\"device\": \"" << r.device << "\", \"op\": \"" << r.op << "\", \"dtype\": \""
          << r.dtype << "\", \"n\": " << r.n << ", \"median_s\": " << r.median_s
          << ", \"points_per_s\": " << r.points_per_s << ", \"gb_per_s\": " << r.gb_per_s
          << ", \"copy_gb_per_s\": " << r.copy_gb_per_s
          << ", \"fraction_of_copy\": " << r.gb_per_s / r.copy_gb_per_s << "}"
          << (i + 1 < results.size() ? "," : "") << "\n";
      }
      j << "  ]\n}\n";
    }
    std::rename(tmp.c_str(), json_path.c_str());
  }
  return 0;
}
