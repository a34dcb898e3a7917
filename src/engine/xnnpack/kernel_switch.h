// The environment switches of the engine's own kernels inside XNNPACK regions (private to
// the engine): each is on unless its variable is set to "off", to compare against
// XNNPACK's operator in the same build. Also the CPU test their rules depend on.
#pragma once

#include <cstdlib>
#include <string_view>

namespace deepedge::engine::xnn {

// Reads `variable` on every call; callers keep the answer in a function-local static.
inline bool KernelSwitchOn(const char* variable) {
  const char* e = std::getenv(variable);
  return e == nullptr || std::string_view(e) != "off";
}

// Whether the CPU has AVX-512F: the kernels' "where it pays" rules were measured
// separately with and without it (an AVX-512 machine and an AVX2-only EPYC).
inline bool CpuHasAvx512() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  static const bool avx512 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return avx512;
#else
  return false;
#endif
}

}  // namespace deepedge::engine::xnn
