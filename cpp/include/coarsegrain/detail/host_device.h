// COARSEGRAIN_HOST_DEVICE marks the point-wise math that the CPU kernels (cpp/src) and the CUDA
// kernels (cuda/kernels) share: __host__ __device__ __forceinline__ under nvcc, plain inline
// elsewhere.
//
// Every function marked with it lives in an unnamed namespace (internal linkage). The CPU kernel
// files are compiled once per instruction set (cpp/src/cpu_isa.h); an inline function with
// external linkage would get one definition for all copies, and the linker could pick the AVX2
// one for the baseline. With internal linkage each object file keeps its own copy.
#pragma once

#if defined(__CUDACC__)
#define COARSEGRAIN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define COARSEGRAIN_HOST_DEVICE inline
#endif
