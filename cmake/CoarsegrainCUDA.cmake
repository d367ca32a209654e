# The CUDA gate. COARSEGRAIN_CUDA = AUTO | ON | OFF.
#   - Whenever nvcc is found (and the gate is not OFF), the torch-free kernels under cuda/kernels
#     are compiled into an object library, so CUDA compile errors fail every build, GPU or not.
#   - The CUDA implementations of torch.ops.coarsegrain are built only when, in addition, the
#     installed torch is a CUDA build whose major CUDA version matches nvcc's. ON stops the
#     build with the reason when that is not so; AUTO reports it and builds CPU only.
# Sets COARSEGRAIN_CUDA_KERNELS, COARSEGRAIN_CUDA_OPS (booleans), COARSEGRAIN_CUDA_REASON and
# COARSEGRAIN_CUDA_COMPILER_DESC / COARSEGRAIN_CUDA_ARCHS_DESC for build_info().
set(COARSEGRAIN_CUDA_KERNELS OFF)
set(COARSEGRAIN_CUDA_OPS OFF)
set(COARSEGRAIN_CUDA_COMPILER_DESC "")
set(COARSEGRAIN_CUDA_ARCHS_DESC "")

string(TOUPPER "${COARSEGRAIN_CUDA}" COARSEGRAIN_CUDA)
if(NOT COARSEGRAIN_CUDA MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "COARSEGRAIN_CUDA must be AUTO, ON or OFF, got '${COARSEGRAIN_CUDA}'")
endif()

macro(_coarsegrain_cuda_unavailable reason)
  set(COARSEGRAIN_CUDA_REASON "${reason}")
  if(COARSEGRAIN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "COARSEGRAIN_CUDA=ON but CUDA operators cannot be built: ${reason}")
  endif()
  message(STATUS "coarsegrain: CUDA operators not built: ${reason}")
endmacro()

if(COARSEGRAIN_CUDA STREQUAL "OFF")
  set(COARSEGRAIN_CUDA_REASON "disabled by COARSEGRAIN_CUDA=OFF")
  message(STATUS "coarsegrain: ${COARSEGRAIN_CUDA_REASON}")
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  _coarsegrain_cuda_unavailable("no CUDA compiler (nvcc) found")
  return()
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  # A100 and H100/H200 by default; override with -DCMAKE_CUDA_ARCHITECTURES=...
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # share the runtime torch loads
set(COARSEGRAIN_CUDA_KERNELS ON)
set(COARSEGRAIN_CUDA_COMPILER_DESC "nvcc ${CMAKE_CUDA_COMPILER_VERSION}")
string(REPLACE ";" "," COARSEGRAIN_CUDA_ARCHS_DESC "${CMAKE_CUDA_ARCHITECTURES}")

string(REGEX MATCH "^[0-9]+" _nvcc_major "${CMAKE_CUDA_COMPILER_VERSION}")
string(REGEX MATCH "^[0-9]+" _torch_cuda_major "${COARSEGRAIN_TORCH_CUDA}")
if(NOT COARSEGRAIN_TORCH_CUDA)
  _coarsegrain_cuda_unavailable(
    "torch ${COARSEGRAIN_TORCH_VERSION} is a CPU build (kernels still compile-checked by nvcc)")
elseif(NOT _nvcc_major STREQUAL _torch_cuda_major)
  _coarsegrain_cuda_unavailable(
    "nvcc ${CMAKE_CUDA_COMPILER_VERSION} does not match torch's CUDA ${COARSEGRAIN_TORCH_CUDA}")
else()
  find_package(CUDAToolkit REQUIRED)
  coarsegrain_torch_cuda_target()
  set(COARSEGRAIN_CUDA_OPS ON)
  set(COARSEGRAIN_CUDA_REASON
      "built: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, torch CUDA ${COARSEGRAIN_TORCH_CUDA}")
  message(STATUS "coarsegrain: CUDA operators ${COARSEGRAIN_CUDA_REASON}")
endif()
