// Helpers shared by the C++ benchmark binaries: median timing (CPU and CUDA), first-touch arrays
// and a parallel copy (the bandwidth reference measured in the same run), machine description
// and an atomic JSON write.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef COARSEGRAIN_BENCH_CUDA
#include <cuda_runtime.h>
#endif

namespace bench {

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double time_median(int reps, const std::function<void()>& f) {
  f();  // warm-up: first touch, caches, thread pool
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

// Arrays touched first by the threads that will use them, as the kernels do.
template <typename T>
std::unique_ptr<T[]> parallel_array(int64_t count, T value) {
  std::unique_ptr<T[]> a(new T[count]);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) a[i] = value + T(i % 97) * T(1e-3);
  return a;
}

template <typename T>
void parallel_copy(const T* src, T* dst, int64_t count) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) dst[i] = src[i];
}

inline int openmp_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

inline std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// Writes `text` to path.tmp, then renames it over `path`: never a half-written file.
inline void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

#ifdef COARSEGRAIN_BENCH_CUDA
#define CUDA_OK(expr)                                                                    \
  do {                                                                                   \
    const cudaError_t err_ = (expr);                                                     \
    if (err_ != cudaSuccess) {                                                           \
      std::fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(err_), __FILE__, \
                   __LINE__);                                                            \
      std::exit(1);                                                                      \
    }                                                                                    \
  } while (0)

inline double time_cuda(int reps, const std::function<void()>& f) {
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  f();
  CUDA_OK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    CUDA_OK(cudaEventRecord(a));
    f();
    CUDA_OK(cudaEventRecord(b));
    CUDA_OK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms * 1e-3);
  }
  CUDA_OK(cudaEventDestroy(a));
  CUDA_OK(cudaEventDestroy(b));
  return median(t);
}

// The name of GPU 0, or "none" when there is none.
inline std::string gpu_name() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) return "none";
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  return prop.name;
}
#else
inline std::string gpu_name() { return "none"; }
#endif

}  // namespace bench
