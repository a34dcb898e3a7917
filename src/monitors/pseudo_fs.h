// Internal helpers shared by the monitors: reading and parsing the kernel's pseudo
// files (/proc, /sys). Not part of the public API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/monitor.h"
#include "deepedge/status.h"

namespace deepedge::monitors_internal {

// Reads a whole pseudo file. Unlike ReadFileText it reads until EOF instead of
// trusting the size, which /proc and /sys report as 0 or 4096. Errors name the file:
// kNotFound when it does not exist, kIo (with strerror) when it cannot be read.
Expected<std::string> ReadPseudoFile(const std::filesystem::path& path);

// The file's content without surrounding white space (sysfs values end in '\n').
Expected<std::string> ReadTrimmed(const std::filesystem::path& path);

// A sysfs file holding one integer (e.g. energy_uj); kCorrupt when it holds anything else.
Expected<std::int64_t> ReadInt(const std::filesystem::path& path);

std::string_view Trim(std::string_view s);
std::optional<std::int64_t> ParseInt(std::string_view s);
std::optional<std::uint64_t> ParseUint(std::string_view s);
std::optional<double> ParseDouble(std::string_view s);
std::vector<std::string_view> SplitWhitespace(std::string_view s);
std::vector<std::string_view> SplitLines(std::string_view s);

// Trailing decimal number of a name such as "hwmon12" or "cpu3"; nullopt when the
// name is not exactly `prefix` followed by digits.
std::optional<int> IndexedName(std::string_view name, std::string_view prefix);

// Entries of `dir` named prefix<N>, sorted by N (so hwmon2 precedes hwmon10). Empty
// when the directory does not exist.
std::vector<std::filesystem::path> IndexedEntries(const std::filesystem::path& dir,
                                                  std::string_view prefix);

// Lower-case, every run of characters other than [a-z0-9] replaced by one '_', no
// leading or trailing '_': "VDD_CPU GPU-CV" -> "vdd_cpu_gpu_cv". Used in metric names.
std::string MetricLabel(std::string_view label);

// CPU time of one process from /proc/<pid>/stat, in clock ticks.
struct ProcessCpuTicks {
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
};

// Parses a /proc/<pid>/stat line. The comm field (2) is in parentheses and may itself
// contain spaces and ')', so fields are counted from the last ')'.
Expected<ProcessCpuTicks> ParsePidStat(std::string_view text);

// Reads <proc>/<pid>/stat.
Expected<ProcessCpuTicks> ReadProcessCpuTicks(const MonitorPaths& paths);

// One "cpu" or "cpuN" line of /proc/stat, in clock ticks.
struct CpuLine {
  int cpu = -1;            // -1 for the aggregate "cpu" line
  std::uint64_t busy = 0;  // user + nice + system + irq + softirq + steal
  std::uint64_t idle = 0;  // idle + iowait
};

// Parses /proc/stat. guest and guest_nice are not added: the kernel already counts
// them in user and nice.
Expected<std::vector<CpuLine>> ParseProcStat(std::string_view text);

// Value in kB of a "Key:\t  123 kB" line of /proc/<pid>/status; nullopt when absent.
std::optional<std::uint64_t> StatusKb(std::string_view status_text, std::string_view key);

// sysconf(_SC_CLK_TCK), 100 when unavailable.
long ClockTicksPerSecond();

// The injected clock, or the steady clock when `clock` is empty.
std::int64_t NowNs(const Clock& clock);

}  // namespace deepedge::monitors_internal
