#include "cpu_isa.h"

#include <cstdlib>
#include <cstring>

namespace coarsegrain::cpu_isa {
namespace {

bool detect_avx2() {
#if defined(COARSEGRAIN_HAVE_AVX2_KERNELS) && (defined(__x86_64__) || defined(__i386__))
  const char* forced = std::getenv("COARSEGRAIN_CPU_ISA");
  if (forced != nullptr && std::strcmp(forced, "generic") == 0) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace

bool use_avx2() {
  static const bool value = detect_avx2();
  return value;
}

const char* active() { return use_avx2() ? "avx2" : "generic"; }

}  // namespace coarsegrain::cpu_isa
