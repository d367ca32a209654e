// Point-wise math of the spectral helpers shared by the CPU and CUDA kernels: the mirrored row
// (k -> -k) of a half spectrum and one output column of real_fft_pack.
#pragma once

#include <cstdint>

#include "coarsegrain/detail/host_device.h"

namespace coarsegrain::detail {
namespace {  // internal linkage: see host_device.h

// The row k -> -k of the leading transform axes (index i -> (n - i) mod n on each axis), for a
// row index r over those axes (last axis fastest).
COARSEGRAIN_HOST_DEVICE int64_t mirror_row(int64_t r, const int64_t* lead, int nlead) {
  int64_t mirrored = 0, stride = 1;
  for (int j = nlead - 1; j >= 0; --j) {
    const int64_t i = r % lead[j];
    r /= lead[j];
    mirrored += (i == 0 ? 0 : lead[j] - i) * stride;
    stride *= lead[j];
  }
  return mirrored;
}

// One output column of real_fft_pack, z = E + i O, from a = U[k], c = conj U[-k, m - k] and the
// twiddle w = w^k = exp(-i pi k / m): E = (a + c) / 2, O = (a - c) conj(w) / 2.
template <typename T>
COARSEGRAIN_HOST_DEVICE void pack_column(T are, T aim, T cre, T cim, T wre, T wim, T* z) {
  const T ere = T(0.5) * (are + cre), eim = T(0.5) * (aim + cim);
  const T dre = T(0.5) * (are - cre), dim = T(0.5) * (aim - cim);
  const T ore = dre * wre + dim * wim, oim = dim * wre - dre * wim;
  z[0] = ere - oim;
  z[1] = eim + ore;
}

}  // namespace
}  // namespace coarsegrain::detail
