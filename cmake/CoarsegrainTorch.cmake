# Finds the torch of the running Python without TorchConfig.cmake (which drags in CUDA
# toolkit discovery even for CPU-only extensions). Defines the imported target
# coarsegrain::torch and these variables:
#   COARSEGRAIN_TORCH_VERSION      torch.__version__
#   COARSEGRAIN_TORCH_CUDA         torch.version.cuda, empty for a CPU build
#   COARSEGRAIN_TORCH_INCLUDE      torch's header directory
#   COARSEGRAIN_TORCH_LIB_DIR      the directory holding libtorch*.so
#   COARSEGRAIN_TORCH_CXX11_ABI    0 or 1, which libstdc++ ABI torch was built with
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c [=[
import os, torch
root = os.path.dirname(torch.__file__)
print(torch.__version__)
print(torch.version.cuda or "")
print(os.path.join(root, "include"))
print(os.path.join(root, "lib"))
print(int(torch._C._GLIBCXX_USE_CXX11_ABI))
]=]
  OUTPUT_VARIABLE _torch_info
  RESULT_VARIABLE _torch_rc
  ERROR_VARIABLE _torch_err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR
    "coarsegrain needs PyTorch importable by ${Python_EXECUTABLE} at build time "
    "(install torch first, then build with --no-build-isolation):\n${_torch_err}")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 COARSEGRAIN_TORCH_VERSION)
list(GET _torch_info 1 COARSEGRAIN_TORCH_CUDA)
list(GET _torch_info 2 COARSEGRAIN_TORCH_INCLUDE)
list(GET _torch_info 3 COARSEGRAIN_TORCH_LIB_DIR)
list(GET _torch_info 4 COARSEGRAIN_TORCH_CXX11_ABI)
message(STATUS "coarsegrain: torch ${COARSEGRAIN_TORCH_VERSION} "
               "(CUDA: ${COARSEGRAIN_TORCH_CUDA}) at ${COARSEGRAIN_TORCH_LIB_DIR}")

add_library(coarsegrain::torch INTERFACE IMPORTED)
target_include_directories(coarsegrain::torch SYSTEM INTERFACE
  "${COARSEGRAIN_TORCH_INCLUDE}" "${COARSEGRAIN_TORCH_INCLUDE}/torch/csrc/api/include")
foreach(_lib c10 torch torch_cpu)
  find_library(_torch_lib_${_lib} NAMES ${_lib} PATHS "${COARSEGRAIN_TORCH_LIB_DIR}" NO_DEFAULT_PATH REQUIRED)
  target_link_libraries(coarsegrain::torch INTERFACE "${_torch_lib_${_lib}}")
endforeach()

# The CUDA side of torch, for the CUDA implementations (only looked up when asked for).
function(coarsegrain_torch_cuda_target)
  add_library(coarsegrain::torch_cuda INTERFACE IMPORTED GLOBAL)
  foreach(_lib c10_cuda torch_cuda)
    find_library(_torch_lib_${_lib} NAMES ${_lib} PATHS "${COARSEGRAIN_TORCH_LIB_DIR}" NO_DEFAULT_PATH REQUIRED)
    target_link_libraries(coarsegrain::torch_cuda INTERFACE "${_torch_lib_${_lib}}")
  endforeach()
  target_compile_definitions(coarsegrain::torch_cuda INTERFACE USE_CUDA)
endfunction()
