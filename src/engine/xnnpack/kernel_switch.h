// The environment switches of the engine's own kernels inside XNNPACK regions (private to
// the engine): each is on unless its variable is set to "off", to compare against
// XNNPACK's operator in the same build.
#pragma once

#include <cstdlib>
#include <string_view>

namespace deepedge::engine::xnn {

// Reads `variable` on every call; callers keep the answer in a function-local static.
inline bool KernelSwitchOn(const char* variable) {
  const char* e = std::getenv(variable);
  return e == nullptr || std::string_view(e) != "off";
}

}  // namespace deepedge::engine::xnn
