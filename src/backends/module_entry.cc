// The entry point of a backend built as a loadable module (include/deepedge/
// backend_module.h). CMake compiles this file into each module with
// DEEPEDGE_MODULE_FACTORY naming the backend's factory function.
#include "deepedge/backend_module.h"
#include "deepedge/backends.h"

#ifndef DEEPEDGE_MODULE_FACTORY
#error "DEEPEDGE_MODULE_FACTORY must name the backend's factory (deepedge_add_backend_module)"
#endif

extern "C" __attribute__((visibility("default"))) deepedge::Backend* deepedge_backend_module_create(
    std::uint64_t abi_stamp) {
  if (abi_stamp != deepedge::BackendModuleAbiStamp()) return nullptr;
  return deepedge::DEEPEDGE_MODULE_FACTORY().release();
}
