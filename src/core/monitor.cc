#include "deepedge/monitor.h"

#include <chrono>

namespace deepedge {

std::int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view ProvenanceName(Provenance p) {
  return p == Provenance::kEstimated ? "estimated" : "measured";
}

}  // namespace deepedge
