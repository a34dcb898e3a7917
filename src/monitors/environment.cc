#include "deepedge/environment.h"

#include <sys/utsname.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <algorithm>
#include <cstdio>
#include <map>
#include <system_error>
#include <utility>

#include "monitors/pseudo_fs.h"

namespace deepedge {

namespace fs = std::filesystem;
using monitors_internal::IndexedEntries;
using monitors_internal::ParseDouble;
using monitors_internal::ParseUint;
using monitors_internal::ReadInt;
using monitors_internal::ReadPseudoFile;
using monitors_internal::ReadTrimmed;
using monitors_internal::SplitLines;
using monitors_internal::SplitWhitespace;
using monitors_internal::Trim;

namespace {

std::optional<double> ReadMhz(const fs::path& khz_file) {
  Expected<std::int64_t> khz = ReadInt(khz_file);
  if (!khz || *khz <= 0) return std::nullopt;
  return static_cast<double>(*khz) / 1000.0;
}

// Value of `key` in a "key : value" file such as /proc/cpuinfo.
std::string CpuinfoField(std::string_view text, std::string_view key) {
  for (const std::string_view line : SplitLines(text)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || Trim(line.substr(0, colon)) != key) continue;
    return std::string(Trim(line.substr(colon + 1)));
  }
  return "";
}

std::string CpuModel(const MonitorPaths& paths) {
  if (Expected<std::string> cpuinfo = ReadPseudoFile(paths.proc / "cpuinfo")) {
    for (const char* key : {"model name", "Model", "Hardware"}) {
      std::string v = CpuinfoField(*cpuinfo, key);
      if (!v.empty()) return v;
    }
  }
  // The device tree's model string ends in a NUL.
  if (Expected<std::string> dt =
          ReadPseudoFile(paths.sys / "firmware" / "devicetree" / "base" / "model")) {
    std::string model = *dt;
    model.erase(std::find(model.begin(), model.end(), '\0'), model.end());
    return std::string(Trim(model));
  }
  return "";
}

// Counts a CPU list such as "0-3,6,8-9"; nullopt when malformed.
std::optional<int> CountCpuList(std::string_view list) {
  list = Trim(list);
  if (list.empty()) return std::nullopt;
  int count = 0;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view range = list.substr(0, comma);
    const std::size_t dash = range.find('-');
    const std::optional<std::uint64_t> lo = ParseUint(range.substr(0, dash));
    const std::optional<std::uint64_t> hi =
        dash == std::string_view::npos ? lo : ParseUint(range.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    count += static_cast<int>(*hi - *lo + 1);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return count;
}

int LogicalCores(const MonitorPaths& paths) {
  if (Expected<std::string> online =
          ReadPseudoFile(paths.sys / "devices" / "system" / "cpu" / "online")) {
    if (std::optional<int> n = CountCpuList(*online)) return *n;
  }
  if (Expected<std::string> stat = ReadPseudoFile(paths.proc / "stat")) {
    if (Expected<std::vector<monitors_internal::CpuLine>> lines =
            monitors_internal::ParseProcStat(*stat)) {
      return static_cast<int>(
          std::count_if(lines->begin(), lines->end(), [](const auto& l) { return l.cpu >= 0; }));
    }
  }
  return 0;
}

// PRETTY_NAME, else "NAME VERSION_ID", of an os-release file.
std::string OsName(const fs::path& os_release) {
  Expected<std::string> text = ReadPseudoFile(os_release);
  if (!text) return "";
  std::map<std::string, std::string> fields;
  for (const std::string_view raw : SplitLines(*text)) {
    const std::string_view line = Trim(raw);
    const std::size_t eq = line.find('=');
    if (line.empty() || line.front() == '#' || eq == std::string_view::npos) continue;
    std::string_view value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::string unescaped;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      unescaped += value[i];
    }
    fields[std::string(line.substr(0, eq))] = std::move(unescaped);
  }
  if (!fields["PRETTY_NAME"].empty()) return fields["PRETTY_NAME"];
  std::string name = fields["NAME"];
  if (!fields["VERSION_ID"].empty()) name += (name.empty() ? "" : " ") + fields["VERSION_ID"];
  return name;
}

std::optional<LoadAverage> ReadLoadAverage(const MonitorPaths& paths) {
  Expected<std::string> text = ReadPseudoFile(paths.proc / "loadavg");
  if (!text) return std::nullopt;
  const std::vector<std::string_view> f = SplitWhitespace(*text);
  if (f.size() < 3) return std::nullopt;
  const std::optional<double> a = ParseDouble(f[0]);
  const std::optional<double> b = ParseDouble(f[1]);
  const std::optional<double> c = ParseDouble(f[2]);
  if (!a || !b || !c) return std::nullopt;
  return LoadAverage{*a, *b, *c};
}

std::string FormatFixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "cpu0-3,6" for {0,1,2,3,6}.
std::string CpuRanges(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  std::string out = "cpu";
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (i > 0) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

// A cache size as sysfs writes it: "512K", "32768K", "8M", or bytes; 0 when malformed.
std::int64_t ParseCacheSize(std::string_view text) {
  text = Trim(text);
  std::int64_t unit = 1;
  if (!text.empty() && (text.back() == 'K' || text.back() == 'M' || text.back() == 'G')) {
    unit = text.back() == 'K' ? 1024 : text.back() == 'M' ? 1024 * 1024 : 1024 * 1024 * 1024;
    text.remove_suffix(1);
  }
  const std::optional<std::uint64_t> v = ParseUint(text);
  return v ? static_cast<std::int64_t>(*v) * unit : 0;
}

void ReadCacheSizes(const fs::path& cache_dir, EnvironmentInfo& info) {
  std::int64_t last_level = 0;
  for (const fs::path& index : IndexedEntries(cache_dir, "index")) {
    Expected<std::int64_t> level = ReadInt(index / "level");
    Expected<std::string> type = ReadTrimmed(index / "type");
    Expected<std::string> size = ReadTrimmed(index / "size");
    if (!level || !type || !size || (*type != "Data" && *type != "Unified")) continue;
    const std::int64_t bytes = ParseCacheSize(*size);
    if (bytes <= 0) continue;
    if (*level == 2) info.l2_cache_bytes = bytes;
    if (*level >= last_level) {
      last_level = *level;
      info.last_level_cache_bytes = bytes;
    }
  }
}

// Cache sizes from the CPU itself, for VMs whose kernel lists no
// <sys>/devices/system/cpu/cpu0/cache (seen: an AMD EPYC guest). Intel: leaf 4, one
// subleaf per cache; AMD: leaf 0x8000001D likewise where the hypervisor passes it on,
// else 0x80000006, whose L2 field is a core's L2. Its L3 field is left alone: it can be
// the whole package's (508 MiB on that guest, whose cores share 32 MiB each), not one
// cluster's. Leaves 4 and 0x8000001D describe one instance of each cache.
void ReadCpuidCacheSizes(EnvironmentInfo& info) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d) == 0) return;
  const unsigned max_leaf = a;
  const bool amd = b == 0x68747541;  // "Auth" of "AuthenticAMD"
  unsigned max_extended = 0;
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) != 0) max_extended = a;
  const unsigned deterministic = amd ? 0x8000001Du : 4u;
  if ((amd ? max_extended : max_leaf) >= deterministic) {
    int last_level = 0;
    for (unsigned i = 0; i < 16; ++i) {
      if (__get_cpuid_count(deterministic, i, &a, &b, &c, &d) == 0) break;
      const unsigned type = a & 0x1f;  // 0: no more caches; 1: data; 2: instruction; 3: unified
      if (type == 0) break;
      if (type == 2) continue;
      const int level = static_cast<int>((a >> 5) & 0x7);
      const std::int64_t bytes = std::int64_t{((b >> 22) & 0x3ff) + 1} * (((b >> 12) & 0x3ff) + 1) *
                                 ((b & 0xfff) + 1) * (c + 1);
      if (level == 2) info.l2_cache_bytes = bytes;
      if (level >= last_level) {
        last_level = level;
        info.last_level_cache_bytes = bytes;
      }
    }
  }
  if (info.l2_cache_bytes == 0 && amd && max_extended >= 0x80000006 &&
      __get_cpuid(0x80000006, &a, &b, &c, &d) != 0) {
    info.l2_cache_bytes = std::int64_t{c >> 16} * 1024;
  }
  if (info.l2_cache_bytes > 0) info.cache_source = "cpuid";
#else
  (void)info;
#endif
}

}  // namespace

EnvironmentInfo CaptureEnvironment(const EnvironmentPaths& paths, std::string build_type) {
  const MonitorPaths& mp = paths.monitor;
  EnvironmentInfo info;
  info.build_type = std::move(build_type);
  info.cpu_model = CpuModel(mp);
  info.logical_cores = LogicalCores(mp);
  ReadCacheSizes(mp.sys / "devices" / "system" / "cpu" / "cpu0" / "cache", info);
  if (info.l2_cache_bytes > 0) {
    info.cache_source = "sysfs";
  } else if (mp.sys == MonitorPaths{}.sys) {
    // CPUID describes the CPU this runs on: asked only when <sys> is this machine's,
    // never for a test's tree that describes another.
    ReadCpuidCacheSizes(info);
  }

  for (const fs::path& cpu_dir : IndexedEntries(mp.sys / "devices" / "system" / "cpu", "cpu")) {
    const int cpu = *monitors_internal::IndexedName(cpu_dir.filename().string(), "cpu");
    const fs::path freq = cpu_dir / "cpufreq";
    CoreFrequency f;
    f.cpu = cpu;
    if (Expected<std::string> gov = ReadTrimmed(freq / "scaling_governor")) f.governor = *gov;
    f.current_mhz = ReadMhz(freq / "scaling_cur_freq");
    f.max_mhz = ReadMhz(freq / "cpuinfo_max_freq");
    f.limit_mhz = ReadMhz(freq / "scaling_max_freq");
    if (!f.governor.empty() || f.current_mhz || f.max_mhz || f.limit_mhz) {
      info.frequencies.push_back(std::move(f));
    }
    const fs::path throttle = cpu_dir / "thermal_throttle";
    if (Expected<std::int64_t> core = ReadInt(throttle / "core_throttle_count");
        core && *core >= 0) {
      ThrottleCount t;
      t.cpu = cpu;
      t.core_throttle_count = static_cast<std::uint64_t>(*core);
      if (Expected<std::int64_t> pkg = ReadInt(throttle / "package_throttle_count");
          pkg && *pkg >= 0) {
        t.package_throttle_count = static_cast<std::uint64_t>(*pkg);
      }
      info.throttle_counts.push_back(t);
    }
  }

  for (const fs::path& zone : IndexedEntries(mp.sys / "class" / "thermal", "thermal_zone")) {
    // Some zones fail to read (a sensor that is powered down): skip them.
    Expected<std::int64_t> milli = ReadInt(zone / "temp");
    if (!milli) continue;
    ThermalZone z;
    z.zone = zone.filename().string();
    if (Expected<std::string> type = ReadTrimmed(zone / "type")) z.type = *type;
    z.celsius = static_cast<double>(*milli) / 1000.0;
    info.thermal_zones.push_back(std::move(z));
  }

  utsname uts{};
  const bool have_uts = ::uname(&uts) == 0;
  if (Expected<std::string> r = ReadTrimmed(mp.proc / "sys" / "kernel" / "osrelease")) {
    info.kernel = *r;
  } else if (have_uts) {
    info.kernel = uts.release;
  }
  if (Expected<std::string> h = ReadTrimmed(mp.proc / "sys" / "kernel" / "hostname")) {
    info.hostname = *h;
  } else if (have_uts) {
    info.hostname = uts.nodename;
  }
  info.os = OsName(paths.os_release);
  info.load_average = ReadLoadAverage(mp);
  return info;
}

EnvironmentInfo CaptureEnvironment(const MonitorPaths& paths, std::string build_type) {
  EnvironmentPaths env;
  env.monitor = paths;
  return CaptureEnvironment(env, std::move(build_type));
}

std::vector<std::string> EnvironmentWarnings(const EnvironmentInfo& info) {
  std::vector<std::string> out;

  std::map<std::string, std::vector<int>> by_governor;
  std::vector<int> capped;
  double cap_mhz = 0.0;
  double cap_max_mhz = 0.0;
  std::vector<int> slow;
  double slow_min_mhz = 0.0;
  double slow_max_mhz = 0.0;
  for (const CoreFrequency& f : info.frequencies) {
    if (!f.governor.empty() && f.governor != "performance")
      by_governor[f.governor].push_back(f.cpu);
    double effective_max = f.max_mhz.value_or(0.0);
    if (f.max_mhz && f.limit_mhz && *f.limit_mhz < *f.max_mhz) {
      if (capped.empty() || *f.limit_mhz < cap_mhz) {
        cap_mhz = *f.limit_mhz;
        cap_max_mhz = *f.max_mhz;
      }
      capped.push_back(f.cpu);
      effective_max = *f.limit_mhz;  // the cap is reported on its own, not as throttling
    }
    if (f.governor == "performance" && f.current_mhz && effective_max > 0 &&
        *f.current_mhz < kThrottledFrequencyShare * effective_max) {
      if (slow.empty() || *f.current_mhz < slow_min_mhz) slow_min_mhz = *f.current_mhz;
      slow_max_mhz = std::max(slow_max_mhz, effective_max);
      slow.push_back(f.cpu);
    }
  }
  for (const auto& [governor, cpus] : by_governor) {
    out.push_back("CPU frequency governor is '" + governor + "' on " + CpuRanges(cpus) +
                  ", not 'performance': frequency ramps add noise to timings; set it with "
                  "'sudo cpupower frequency-set -g performance'");
  }
  if (!capped.empty()) {
    out.push_back(CpuRanges(capped) + " capped at " + FormatFixed(cap_mhz, 0) + " MHz of " +
                  FormatFixed(cap_max_mhz, 0) +
                  " MHz by scaling_max_freq (or a power mode): timings are not comparable "
                  "with an uncapped machine; raise the cap if that is not intended");
  }
  if (!slow.empty()) {
    out.push_back(CpuRanges(slow) + " run(s) as low as " + FormatFixed(slow_min_mhz, 0) +
                  " MHz under the performance governor, below " +
                  FormatFixed(kThrottledFrequencyShare * 100, 0) + "% of the " +
                  FormatFixed(slow_max_mhz, 0) +
                  " MHz maximum: likely throttled by temperature or a power limit; check "
                  "cooling and the power supply");
  }

  std::vector<int> throttled;
  std::uint64_t most = 0;
  for (const ThrottleCount& t : info.throttle_counts) {
    const std::uint64_t n = std::max(t.core_throttle_count, t.package_throttle_count.value_or(0));
    if (n == 0) continue;
    throttled.push_back(t.cpu);
    most = std::max(most, n);
  }
  if (!throttled.empty()) {
    out.push_back("thermal throttling has occurred since boot on " + CpuRanges(throttled) +
                  " (up to " + std::to_string(most) +
                  " events in thermal_throttle/*_throttle_count): check cooling and let the "
                  "machine cool down before benchmarking");
  }

  if (info.load_average && info.load_average->one_min > kBusyLoadAverage) {
    out.push_back("1-minute load average is " + FormatFixed(info.load_average->one_min, 2) +
                  " (above " + FormatFixed(kBusyLoadAverage, 2) +
                  "): other processes are using the CPU; stop them or wait until the machine "
                  "is idle");
  }

  if (info.build_type.empty()) {
    out.push_back(
        "build type is not set, so DeepEdge may be built without optimisation; "
        "rebuild with -DCMAKE_BUILD_TYPE=Release");
  } else if (info.build_type != "Release") {
    out.push_back("build type is '" + info.build_type +
                  "', not 'Release': DeepEdge's own code (pre/post-processing, timing) is not "
                  "built for speed; rebuild with -DCMAKE_BUILD_TYPE=Release");
  }

  for (const ThermalZone& z : info.thermal_zones) {
    if (z.celsius <= kHotCelsius) continue;
    out.push_back("thermal zone " + z.zone + (z.type.empty() ? "" : " (" + z.type + ")") +
                  " is at " + FormatFixed(z.celsius, 1) + " °C (above " +
                  FormatFixed(kHotCelsius, 0) +
                  " °C): the device may throttle during the run; let it cool down first");
  }
  return out;
}

std::vector<std::string> EnvironmentNotes(const EnvironmentInfo& info) {
  std::vector<std::string> out;
  if (info.frequencies.empty()) {
    out.push_back(
        "CPU frequency scaling is not visible (no cpufreq in sysfs, as in most VMs "
        "and containers): the governor and frequency throttling cannot be checked");
  }
  if (info.thermal_zones.empty()) {
    out.push_back("no thermal zones are visible: temperatures cannot be checked");
  }
  if (!info.load_average) {
    out.push_back(
        "the load average is not readable: other load on the machine cannot be "
        "checked");
  }
  if (info.cpu_model.empty()) out.push_back("the CPU model is unknown");
  if (info.logical_cores == 0) out.push_back("the number of logical CPUs is unknown");
  return out;
}

}  // namespace deepedge
