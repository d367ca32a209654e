// Point-wise math of the compiled networks (coarsegrain/pointwise_mlp.h), shared by the CPU and
// CUDA kernels: the activations, their derivatives from their own values, and the expm1 both
// are built from. Branch-free, so a CPU loop over points vectorizes: C library exp/expm1 calls
// do not, and would cost more than the rest of a 4-wide network.
#pragma once

#include <cstdint>
#include <cstring>

#include "coarsegrain/detail/host_device.h"
#include "coarsegrain/pointwise_mlp.h"

namespace coarsegrain::detail {
namespace {  // internal linkage: see host_device.h

// Offsets of a network's parameters in the flat array (coarsegrain/pointwise_mlp.h).
struct MlpLayout {
  int64_t width, first_b, out_w, out_b;
  COARSEGRAIN_HOST_DEVICE explicit MlpLayout(const MlpShape& s)
      : width(s.width),
        first_b(width * s.n_in),
        out_w(first_b + width + int64_t(s.depth - 1) * (width * width + width)),
        out_b(out_w + int64_t(s.n_out) * width) {}
  // Weights and bias of hidden layer l = 1..depth.
  COARSEGRAIN_HOST_DEVICE int64_t w(int l) const {
    return l == 1 ? 0 : first_b + width + int64_t(l - 2) * (width * width + width);
  }
  COARSEGRAIN_HOST_DEVICE int64_t b(int l) const { return l == 1 ? first_b : w(l) + width * width; }
};

template <typename T>
struct ExpConstants;

template <>
struct ExpConstants<double> {
  using Bits = int64_t;
  static constexpr double kLow = -40.0;  // e^-40 < 2^-56: expm1 rounds to -1 below
  static constexpr double kLog2e = 1.4426950408889634;
  static constexpr double kLn2Hi = 0.693145751953125;  // ln 2 = hi + lo, hi with 14 zero low bits
  static constexpr double kLn2Lo = 1.4286068203094172e-06;
  static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  static constexpr int kMantissa = 52;
  // taylor_expm1 to degree 13: for |r| <= ln2/2 the remainder is 4e-18 r
};

template <>
struct ExpConstants<float> {
  using Bits = int32_t;
  static constexpr float kLow = -20.0f;
  static constexpr float kLog2e = 1.44269504f;
  static constexpr float kLn2Hi = 0.693145751953125f;
  static constexpr float kLn2Lo = 1.42860677e-06f;
  static constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  static constexpr int kMantissa = 23;
  // taylor_expm1 to degree 7: remainder 5e-9 r
};

// expm1(r) for |r| <= ln2 / 2: its Taylor series to the degree of ExpConstants, Horner form
// with literal coefficients 1/k! (r (1 + r/2 (1 + r/3 (...)))).
COARSEGRAIN_HOST_DEVICE double taylor_expm1(double r) {
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  return p * r;
}

COARSEGRAIN_HOST_DEVICE float taylor_expm1(float r) {
  float p = 1.0f / 5040.0f;  // 1/7!
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}

// e^z - 1 for z <= 0 (both activations need only that half), accurate to a few ulp also where
// z is near 0: z = n ln2 + r with |r| <= ln2 / 2, expm1(r) by its Taylor series, then
// e^z - 1 = 2^n expm1(r) + (2^n - 1), 2^n assembled from the exponent bits.
template <typename T>
COARSEGRAIN_HOST_DEVICE T expm1_nonpositive(T z) {
  using C = ExpConstants<T>;
  using Bits = typename C::Bits;
  z = z < C::kLow ? C::kLow : z;
  const T shifted = z * C::kLog2e + C::kRound;
  const T n = shifted - C::kRound;
  const T r = (z - n * C::kLn2Hi) - n * C::kLn2Lo;
  const T em = taylor_expm1(r);
  Bits shifted_bits, one_bits;
  const T one = T(1);
  std::memcpy(&shifted_bits, &shifted, sizeof(T));
  std::memcpy(&one_bits, &one, sizeof(T));
  Bits round_bits;
  const T round = C::kRound;
  std::memcpy(&round_bits, &round, sizeof(T));
  const Bits scale_bits = one_bits + static_cast<Bits>((shifted_bits - round_bits) * (Bits(1) << C::kMantissa));
  T scale;
  std::memcpy(&scale, &scale_bits, sizeof(T));
  return scale * em + (scale - T(1));
}

// The activation at z.
template <typename T>
COARSEGRAIN_HOST_DEVICE T mlp_activate(MlpActivation act, T z) {
  if (act == MlpActivation::kElu) {
    const T e = expm1_nonpositive(z < T(0) ? z : T(0));
    return z > T(0) ? z : e;
  }
  // tanh z = sign(z) (1 - e^{-2|z|}) / (1 + e^{-2|z|}) = -sign(z) m / (m + 2), m = expm1(-2|z|)
  const T m = expm1_nonpositive(T(-2) * (z < T(0) ? -z : z));
  const T t = -m / (m + T(2));
  return z < T(0) ? -t : t;
}

// The derivative of the activation, from its value a = act(z): ELU e^z = a + 1 for z < 0 (and 1
// above; a > 0 there), tanh 1 - a^2.
template <typename T>
COARSEGRAIN_HOST_DEVICE T mlp_activation_slope(MlpActivation act, T a) {
  if (act == MlpActivation::kElu) return a > T(0) ? T(1) : a + T(1);
  return T(1) - a * a;
}

}  // namespace
}  // namespace coarsegrain::detail
