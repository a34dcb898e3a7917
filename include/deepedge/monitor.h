// Monitors: CPU, memory, energy and power, measured around a benchmark window.
//
// Every monitor has one life cycle: Start() opens a measurement window, Sample()
// may be called periodically in between (by a sampler thread the caller owns),
// Stop() closes it, Report() returns what was measured. A monitor whose sensor is
// absent says so (MonitorReport::supported == false with a reason) instead of
// reporting 0. Estimated figures carry Provenance::kEstimated.
//
// Time and the file system are injected (Clock, MonitorPaths) so that tests can
// drive monitors against fake /proc and /sys trees with a manual clock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge {

// Monotonic time in nanoseconds.
using Clock = std::function<std::int64_t()>;
std::int64_t SteadyNowNs();

// Roots of the kernel's pseudo file systems; tests point them at fake trees.
struct MonitorPaths {
  std::filesystem::path proc = "/proc";
  std::filesystem::path sys = "/sys";
  // The process whose CPU time and memory are measured: "self" or a pid.
  std::string pid = "self";
};

enum class Provenance { kMeasured, kEstimated };
std::string_view ProvenanceName(Provenance p);  // "measured" / "estimated"

// One figure with its unit, e.g. {"peak_rss", 52.1, "MiB"}.
struct Metric {
  std::string name;
  double value = 0.0;
  std::string unit;
  Provenance provenance = Provenance::kMeasured;
};

// A sampled series, e.g. resident set size over time.
struct Timeline {
  std::string name;
  std::string unit;
  std::vector<double> t_s;  // seconds since Start()
  std::vector<double> values;
};

struct MonitorReport {
  std::string monitor;  // "cpu", "memory", "energy"
  bool supported = true;
  std::string unsupported_reason;  // set when !supported
  std::string source;              // what was read, e.g. "rapl:intel-rapl:0" or "estimated: ..."
  std::vector<Metric> metrics;
  std::vector<Timeline> timelines;
  std::vector<std::string> notes;  // caveats worth printing next to the figures
};

// Thread-safety: Sample() may run on a sampler thread while the owner waits;
// Start/Stop/Report are called by the owner only, never concurrently with Sample.
class Monitor {
 public:
  virtual ~Monitor() = default;
  virtual std::string_view Name() const = 0;
  virtual Status Start() = 0;
  virtual void Sample() {}
  virtual Status Stop() = 0;
  virtual MonitorReport Report() const = 0;
};

}  // namespace deepedge
