// coarsegrain._C holds only TORCH_LIBRARY registrations (no pybind11: torch bundles its own).
// This empty module definition lets `import coarsegrain._C` load it, which runs them.
#include <Python.h>

extern "C" PyMODINIT_FUNC PyInit__C(void) {
  static PyModuleDef module_def = {
      PyModuleDef_HEAD_INIT,
      "_C",
      "Registers the torch.ops.coarsegrain operators.",
      -1,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
  };
  return PyModule_Create(&module_def);
}
