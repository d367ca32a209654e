// Private: one explicit phase-field step, per instruction-set copy (namespaces generic, avx2).
// The public API, which validates and loops over steps, is coarsegrain/phase_field.h.
#pragma once

#include "coarsegrain/grid.h"
#include "coarsegrain/phase_field.h"

#define COARSEGRAIN_DECLARE_PHASE_FIELD_KERNELS(isa)                                        \
  namespace coarsegrain::isa {                                                            \
  template <typename T>                                                                   \
  void cahn_hilliard_two_pass_step(const T* u, T* dst, T* mu, const Box& box, int ndim,    \
                                   const StepCoeffs<T>& k);                               \
  template <typename T>                                                                   \
  void cahn_hilliard_fused_step(const T* u, T* dst, const Box& box, int ndim,             \
                                const StepCoeffs<T>& k);                                  \
  template <typename T>                                                                   \
  void allen_cahn_step(const T* u, T* dst, const Box& box, int ndim, const StepCoeffs<T>& k); \
  }

#define COARSEGRAIN_INSTANTIATE_PHASE_FIELD_KERNELS(T)                                             \
  template void cahn_hilliard_two_pass_step<T>(const T*, T*, T*, const Box&, int,                   \
                                               const StepCoeffs<T>&);                               \
  template void cahn_hilliard_fused_step<T>(const T*, T*, const Box&, int, const StepCoeffs<T>&);   \
  template void allen_cahn_step<T>(const T*, T*, const Box&, int, const StepCoeffs<T>&);

COARSEGRAIN_DECLARE_PHASE_FIELD_KERNELS(generic)
COARSEGRAIN_DECLARE_PHASE_FIELD_KERNELS(avx2)
