// The conditions a benchmark ran under (CPU, frequency scaling, temperatures, load,
// kernel, build), captured once and printed next to the results, and the warnings that
// say when those conditions make timings unreliable.
//
// Capture it before loading the model and starting the run: the load average then
// describes other work on the machine, not the benchmark itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "deepedge/monitor.h"

namespace deepedge {

// Frequency scaling of one logical CPU, from <sys>/devices/system/cpu/cpuN/cpufreq.
struct CoreFrequency {
  int cpu = 0;                        // the kernel's CPU number
  std::string governor;               // scaling_governor; "" when not readable
  std::optional<double> current_mhz;  // scaling_cur_freq
  std::optional<double> max_mhz;      // cpuinfo_max_freq: the hardware's maximum
  std::optional<double> limit_mhz;    // scaling_max_freq: the policy's cap
};

// One <sys>/class/thermal/thermal_zoneN.
struct ThermalZone {
  std::string zone;  // "thermal_zone0"
  std::string type;  // its "type": "x86_pkg_temp", "cpu-thermal", "CPU-therm"
  double celsius = 0.0;
};

// Thermal throttling events of one CPU since boot, from
// <sys>/devices/system/cpu/cpuN/thermal_throttle (x86 only).
struct ThrottleCount {
  int cpu = 0;
  std::uint64_t core_throttle_count = 0;
  std::optional<std::uint64_t> package_throttle_count;
};

struct LoadAverage {
  double one_min = 0.0;
  double five_min = 0.0;
  double fifteen_min = 0.0;
};

// Everything is best effort: what cannot be read is left empty (or nullopt) and
// explained by EnvironmentNotes(). A plain value, safe to copy.
struct EnvironmentInfo {
  std::string cpu_model;                   // "" when unknown
  int logical_cores = 0;                   // online CPUs; 0 when unknown
  std::vector<CoreFrequency> frequencies;  // one per CPU with cpufreq; empty: not visible
  std::vector<ThermalZone> thermal_zones;
  std::vector<ThrottleCount> throttle_counts;  // empty when the kernel does not expose them
  std::string kernel;                          // kernel release, "6.1.0-18-amd64"
  std::string os;  // PRETTY_NAME of os-release, "Debian GNU/Linux 12 (bookworm)"
  std::string hostname;
  std::optional<LoadAverage> load_average;
  std::string build_type;  // as passed by the caller, e.g. CMAKE_BUILD_TYPE
  // CPU 0's data caches, in bytes (0 when unknown): the level-2 cache and the last
  // (highest) level, each of one instance (a core's L2; an L3 shared by a cluster).
  std::int64_t l2_cache_bytes = 0;
  std::int64_t last_level_cache_bytes = 0;
  std::string cache_source;  // "sysfs", "cpuid", or "" when the caches are unknown
};

// Where CaptureEnvironment reads. `monitor` gives <proc> and <sys>; os_release is
// separate because it lives in /etc.
struct EnvironmentPaths {
  MonitorPaths monitor;
  std::filesystem::path os_release = "/etc/os-release";
};

// Reads, best effort (never fails):
//  - cpu_model: "model name" of <proc>/cpuinfo, else "Model" or "Hardware" (ARM), else
//    <sys>/firmware/devicetree/base/model;
//  - logical_cores: <sys>/devices/system/cpu/online, else the cpuN lines of <proc>/stat;
//  - frequencies and throttle counts: <sys>/devices/system/cpu/cpuN/...;
//  - thermal zones: <sys>/class/thermal/thermal_zone*/{type,temp} (temp in m°C);
//  - kernel: <proc>/sys/kernel/osrelease, else uname(); hostname likewise from
//    <proc>/sys/kernel/hostname, else uname();
//  - os: PRETTY_NAME from paths.os_release; load average from <proc>/loadavg;
//  - caches: <sys>/devices/system/cpu/cpu0/cache/indexN/{level,type,size} ("512K",
//    "32768K"; Data or Unified caches only); where <sys> is the machine's own /sys and
//    lists none (some VMs), the CPU's CPUID leaves (x86 only; the last level only from
//    a leaf that describes one instance of it).
// Thread-safe (it only reads files).
EnvironmentInfo CaptureEnvironment(const EnvironmentPaths& paths, std::string build_type);
EnvironmentInfo CaptureEnvironment(const MonitorPaths& paths, std::string build_type);

// Thresholds of EnvironmentWarnings.
// A 1-minute load average above this means other work is competing: below it, short
// daemons and the tool's own start-up are noise; above, on average half a CPU is taken
// by something else, which a benchmark using every core will feel.
inline constexpr double kBusyLoadAverage = 0.5;
// A zone above this is hot enough that most SoCs and laptop CPUs throttle soon.
inline constexpr double kHotCelsius = 80.0;
// Under the performance governor a CPU running below this share of its maximum is
// likely throttled (thermal or power limit).
inline constexpr double kThrottledFrequencyShare = 0.8;

// One line each, saying what is wrong and what to do, for:
//  - a governor other than "performance" (which CPUs, which governor);
//  - a policy cap (scaling_max_freq) below the hardware maximum;
//  - throttling: a throttle count above 0, or a CPU below kThrottledFrequencyShare of
//    its maximum under the performance governor;
//  - a 1-minute load average above kBusyLoadAverage;
//  - a build type other than "Release";
//  - a thermal zone above kHotCelsius.
// Empty when nothing is wrong. Absent information is not a warning (see below).
std::vector<std::string> EnvironmentWarnings(const EnvironmentInfo& info);

// Informational lines about what could not be seen (no cpufreq: frequency scaling is
// not visible, e.g. in a VM or container; no thermal zones; no load average), so that
// a report does not read "no warnings" as "verified fine".
std::vector<std::string> EnvironmentNotes(const EnvironmentInfo& info);

}  // namespace deepedge
