// Backends built as loadable modules: what a module exports, and the stamp that ties
// a module to the build that loads it.
//
// A module (CMake: deepedge_add_backend_module) exports one C function named
// kBackendModuleEntry, of type BackendModuleEntry. Called with the loader's
// BackendModuleAbiStamp(), it returns a new Backend that the caller owns (delete it
// through the Backend pointer), or null when the module was built with a different
// stamp: a stale module from another build is refused rather than run against
// objects whose layout it does not share.
//
// Thread-safety: the entry may be called from any thread, once or more; each call
// returns a new backend.
#pragma once

#include <cstdint>
#include <string>

#include "deepedge/backend.h"
#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

inline constexpr char kBackendModuleEntry[] = "deepedge_backend_module_create";

using BackendModuleEntry = Backend* (*)(std::uint64_t abi_stamp);

// Changes when a type passed between the command and a module changes size, or
// when kBackendModuleAbiVersion is raised (a layout change of the same size).
inline constexpr std::uint64_t kBackendModuleAbiVersion = 1;

constexpr std::uint64_t BackendModuleAbiStamp() {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the sizes
  for (std::uint64_t v :
       {kBackendModuleAbiVersion, std::uint64_t{sizeof(Status)}, std::uint64_t{sizeof(Tensor)},
        std::uint64_t{sizeof(TensorInfo)}, std::uint64_t{sizeof(ModelSource)},
        std::uint64_t{sizeof(SessionOptions)}, std::uint64_t{sizeof(Capabilities)},
        std::uint64_t{sizeof(OptionSpec)}, std::uint64_t{sizeof(LayerProfile)},
        std::uint64_t{sizeof(std::string)}}) {
    h = (h ^ v) * 1099511628211ull;
  }
  return h;
}

}  // namespace deepedge
