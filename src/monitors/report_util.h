// Internal helpers for building MonitorReports. Not part of the public API.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "deepedge/monitor.h"

namespace deepedge::monitors_internal {

inline Metric MakeMetric(std::string name, double value, std::string unit,
                         Provenance provenance = Provenance::kMeasured) {
  Metric m;
  m.name = std::move(name);
  m.value = value;
  m.unit = std::move(unit);
  m.provenance = provenance;
  return m;
}

// A number for a note: up to 4 significant digits, no trailing zeros ("4", "1.5").
inline std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

inline Timeline MakeTimeline(std::string name, std::string unit) {
  return Timeline{std::move(name), std::move(unit), {}, {}};
}

inline double NsToSeconds(std::int64_t ns) {
  return static_cast<double>(ns) * 1e-9;
}

inline constexpr double kBytesPerMiB = 1024.0 * 1024.0;

// Where a monitor is in its life cycle; see deepedge/monitors.h.
enum class WindowState { kIdle, kRunning, kStopped };

}  // namespace deepedge::monitors_internal
