// The public point-wise network API: validates, then runs the best compiled copy (cpu_isa.h).
#include "coarsegrain/pointwise_mlp.h"

#include <stdexcept>

#include "cpu_isa.h"
#include "pointwise_mlp_kernels.h"

namespace coarsegrain {

int64_t mlp_parameter_count(const MlpShape& s) {
  const int64_t w = s.width;
  return w * s.n_in + w + int64_t(s.depth - 1) * (w * w + w) + int64_t(s.n_out) * w + s.n_out;
}

std::string check_mlp_shape(const char* op, const MlpShape& s) {
  const auto range = [&](const char* name, int value, int top) {
    return std::string(op) + ": " + name + " must be 1 to " + std::to_string(top) + ", got " + std::to_string(value);
  };
  if (s.n_in < 1 || s.n_in > kMlpMaxIn) return range("the number of inputs per point (x.shape[-1])", s.n_in, kMlpMaxIn);
  if (s.width < 1 || s.width > kMlpMaxWidth) return range("width", s.width, kMlpMaxWidth);
  if (s.depth < 1 || s.depth > kMlpMaxDepth) return range("depth", s.depth, kMlpMaxDepth);
  if (s.n_out < 1 || s.n_out > kMlpMaxOut) return range("n_out", s.n_out, kMlpMaxOut);
  return "";
}

MlpActivation parse_mlp_activation(const char* op, const std::string& name) {
  if (name == "elu") return MlpActivation::kElu;
  if (name == "tanh") return MlpActivation::kTanh;
  throw std::invalid_argument(std::string(op) + ": activation must be 'elu' or 'tanh', got '" + name + "'");
}

namespace {

void check(const char* op, const MlpShape& s, int64_t points) {
  const std::string bad = check_mlp_shape(op, s);
  if (!bad.empty()) throw std::invalid_argument(bad);
  if (points < 0) throw std::invalid_argument(std::string(op) + ": negative number of points");
}

}  // namespace

template <typename T>
void pointwise_mlp(const T* x, const T* params, T* y, int64_t points, const MlpShape& s) {
  check("pointwise_mlp", s, points);
  COARSEGRAIN_ISA_CALL(pointwise_mlp, x, params, y, points, s);
}

template <typename T>
void pointwise_mlp_backward(const T* grad_y, const T* x, const T* params, T* grad_x, T* grad_params,
                            int64_t points, const MlpShape& s) {
  check("pointwise_mlp_backward", s, points);
  COARSEGRAIN_ISA_CALL(pointwise_mlp_backward, grad_y, x, params, grad_x, grad_params, points, s);
}

#define COARSEGRAIN_INSTANTIATE(T)                                                                  \
  template void pointwise_mlp<T>(const T*, const T*, T*, int64_t, const MlpShape&);                 \
  template void pointwise_mlp_backward<T>(const T*, const T*, const T*, T*, T*, int64_t, const MlpShape&);
COARSEGRAIN_INSTANTIATE(float)
COARSEGRAIN_INSTANTIATE(double)
#undef COARSEGRAIN_INSTANTIATE

}  // namespace coarsegrain
