// CPU kernels are compiled twice: for the baseline of the target (namespace generic) and, on
// x86-64, with AVX2 + FMA (namespace avx2). The public entry points ask use_avx2() which copy
// to run, so one build is both portable and fast on current CPUs.
#pragma once

namespace coarsegrain::cpu_isa {

// True when the AVX2 copy was compiled and this CPU runs it (AVX2 and FMA); checked once.
// COARSEGRAIN_CPU_ISA=generic in the environment forces the baseline copy.
bool use_avx2();

// "avx2" or "generic": the copy use_avx2() selects.
const char* active();

}  // namespace coarsegrain::cpu_isa

// Calls isa::name(args...) with isa the best compiled copy for this CPU.
#ifdef COARSEGRAIN_HAVE_AVX2_KERNELS
#define COARSEGRAIN_ISA_CALL(name, ...)                  \
  do {                                                   \
    if (cpu_isa::use_avx2())                             \
      avx2::name(__VA_ARGS__);                           \
    else                                                 \
      generic::name(__VA_ARGS__);                        \
  } while (0)
#else
#define COARSEGRAIN_ISA_CALL(name, ...) generic::name(__VA_ARGS__)
#endif
