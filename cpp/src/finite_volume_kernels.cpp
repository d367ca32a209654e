// Finite-volume kernels, compiled once per instruction set (see cpu_isa.h).
#include "finite_volume_kernels.h"

#include "isa_rows.h"
#include "coarsegrain/detail/finite_volume_math.h"

namespace coarsegrain::COARSEGRAIN_ISA {
namespace {

// Calls body(row_index, padded_row) with padded_row[x] == v[row, x mod n] for x in [-3, n + 3).
template <typename T, typename Body>
void for_each_padded_row(const T* v, int64_t rows, int64_t n, int halo, Body body) {
  const bool parallel = rows > 1 && rows * n >= kParallelThreshold;
  parallel_chunks(rows, grain_for(n), parallel, [&](int64_t r0, int64_t r1) {
    T* scratch = new T[static_cast<size_t>(n + 2 * halo)];
    for (int64_t r = r0; r < r1; ++r) body(r, pad_row(v + r * n, n, halo, scratch));
    delete[] scratch;
  });
}

}  // namespace

template <typename T>
void weno5_burgers_flux(const T* v, T* out, int64_t rows, int64_t n, NumericalFlux flux) {
  for_each_padded_row(v, rows, n, 3, [&](int64_t r, const T* p) {
    T* o = out + r * n;
    if (flux == NumericalFlux::kGodunov) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j)
        o[j] = detail::godunov_flux(detail::weno5_left(p[j - 2], p[j - 1], p[j], p[j + 1], p[j + 2]),
                                    detail::weno5_right(p[j - 1], p[j], p[j + 1], p[j + 2], p[j + 3]));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j)
        o[j] = detail::lax_friedrichs_flux(detail::weno5_left(p[j - 2], p[j - 1], p[j], p[j + 1], p[j + 2]),
                                           detail::weno5_right(p[j - 1], p[j], p[j + 1], p[j + 2], p[j + 3]));
    }
  });
}

template <typename T>
void weno5_reconstruct(const T* v, T* left, T* right, int64_t rows, int64_t n) {
  for_each_padded_row(v, rows, n, 3, [&](int64_t r, const T* p) {
    T* lo = left + r * n;
    T* ro = right + r * n;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) {
      lo[j] = detail::weno5_left(p[j - 2], p[j - 1], p[j], p[j + 1], p[j + 2]);
      ro[j] = detail::weno5_right(p[j - 1], p[j], p[j + 1], p[j + 2], p[j + 3]);
    }
  });
}

template <typename T>
void restrict_average(const T* in, T* out, const Box& box, int factor) {
  // Box axes of extent 1 (absent grid axes) are not coarsened.
  const int64_t fz = box.inv_dz != 0 ? factor : 1;
  const int64_t fy = box.inv_dy != 0 ? factor : 1;
  const int64_t fx = factor;
  const int64_t oz = box.nz / fz, oy = box.ny / fy, ox = box.nx / fx;
  const T scale = T(1) / T(fz * fy * fx);
  const int64_t out_rows = box.batch * oz * oy;
  const bool parallel = out_rows > 1 && box.batch * box.nz * box.ny * box.nx >= kParallelThreshold;
  parallel_chunks(out_rows, grain_for(fz * fy * box.nx), parallel, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (oz * oy), z = (r / oy) % oz, y = r % oy;
      T* o = out + r * ox;
      for (int64_t x = 0; x < ox; ++x) o[x] = T(0);
      for (int64_t dz = 0; dz < fz; ++dz)
        for (int64_t dy = 0; dy < fy; ++dy) {
          const T* row = in + ((b * box.nz + z * fz + dz) * box.ny + y * fy + dy) * box.nx;
          for (int64_t x = 0; x < ox; ++x) {
            T s = T(0);
            for (int64_t dx = 0; dx < fx; ++dx) s += row[x * fx + dx];
            o[x] += s;
          }
        }
      for (int64_t x = 0; x < ox; ++x) o[x] *= scale;
    }
  });
}

template <typename T>
void stencil_filter(const T* v, const T* c, T* out, int64_t rows, int64_t n, int width, int offset) {
  const int halo = (offset < 0 ? -offset : offset) + width;
  for_each_padded_row(v, rows, n, halo, [&](int64_t r, const T* p) {
    const T* cr = c + r * n * width;
    T* o = out + r * n;
    for (int64_t j = 0; j < n; ++j) {
      const T* cj = cr + j * width;
      const T* pj = p + j + offset;
      T s = T(0);
      for (int k = 0; k < width; ++k) s += cj[k] * pj[k];
      o[j] = s;
    }
  });
}

template <typename T>
void stencil_filter_backward(const T* grad, const T* v, const T* c, T* grad_v, T* grad_c,
                             int64_t rows, int64_t n, int width, int offset) {
  const int halo = (offset < 0 ? -offset : offset) + width;
  if (grad_c != nullptr) {
    for_each_padded_row(v, rows, n, halo, [&](int64_t r, const T* p) {
      const T* g = grad + r * n;
      T* gc = grad_c + r * n * width;
      for (int64_t j = 0; j < n; ++j)
        for (int k = 0; k < width; ++k) gc[j * width + k] = g[j] * p[j + offset + k];
    });
  }
  if (grad_v != nullptr) {
    // Gather form (no write conflicts): cell i receives from faces j = i - offset - k.
    const bool parallel = rows > 1 && rows * n >= kParallelThreshold;
    parallel_chunks(rows, grain_for(n * width), parallel, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* g = grad + r * n;
        const T* cr = c + r * n * width;
        T* gv = grad_v + r * n;
        for (int64_t i = 0; i < n; ++i) {
          T s = T(0);
          for (int k = 0; k < width; ++k) {
            const int64_t j = periodic_index(i - offset - k, n);
            s += g[j] * cr[j * width + k];
          }
          gv[i] = s;
        }
      }
    });
  }
}

COARSEGRAIN_INSTANTIATE_FV_KERNELS(float)
COARSEGRAIN_INSTANTIATE_FV_KERNELS(double)

}  // namespace coarsegrain::COARSEGRAIN_ISA
