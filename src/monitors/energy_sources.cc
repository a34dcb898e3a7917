#include "monitors/energy_sources.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <system_error>
#include <utility>

#include "monitors/pseudo_fs.h"

namespace deepedge::monitors_internal {

namespace fs = std::filesystem;

namespace {

// Entries of `dir` sorted by name; empty when it does not exist.
std::vector<fs::path> SortedEntries(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return out;
  for (const fs::directory_entry& e : it) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// N for every file of `dir` named prefix<N>suffix ("in3_label"), ascending.
std::vector<int> FileIndices(const fs::path& dir, std::string_view prefix,
                             std::string_view suffix) {
  std::vector<int> out;
  for (const fs::path& p : SortedEntries(dir)) {
    std::string name = p.filename().string();
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    name.resize(name.size() - suffix.size());
    if (const std::optional<int> n = IndexedName(name, prefix)) out.push_back(*n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// `label`, or label_<fallback> when empty or already taken by another channel.
std::string UniqueLabel(std::string label, std::string_view fallback,
                        const std::vector<EnergyChannel>& channels) {
  const auto taken = [&](const std::string& l) {
    return l.empty() || std::any_of(channels.begin(), channels.end(),
                                    [&](const EnergyChannel& c) { return c.label == l; });
  };
  if (!taken(label)) return label;
  std::string with_id = label.empty() ? MetricLabel(fallback) : label + "_" + MetricLabel(fallback);
  for (int n = 2; taken(with_id); ++n) with_id = MetricLabel(fallback) + "_" + std::to_string(n);
  return with_id;
}

// Decides which channels the total counts (see IsAggregateLabel) and says so.
void ApplyTotalRule(EnergySource& src) {
  std::vector<std::string> whole;
  std::vector<std::string> parts;
  for (const EnergyChannel& c : src.channels) {
    (IsAggregateLabel(c.label) ? whole : parts).push_back(c.label);
  }
  if (whole.empty() || parts.empty()) return;  // all summed
  for (EnergyChannel& c : src.channels) c.in_total = IsAggregateLabel(c.label);
  src.notes.push_back("energy_j counts " + Join(whole, ", ") + " (whole input/package); " +
                      Join(parts, ", ") + " overlap it and are reported on their own, not added");
}

EnergyChannel CounterChannel(std::string label, fs::path file, double joules_per_count) {
  EnergyChannel c;
  c.label = std::move(label);
  c.kind = EnergyChannel::Kind::kCounter;
  c.joules_per_count = joules_per_count;
  c.read_counter = [file = std::move(file)]() { return ReadInt(file); };
  return c;
}

EnergyChannel PowerChannel(std::string label, std::function<Expected<double>()> read_watts) {
  EnergyChannel c;
  c.label = std::move(label);
  c.kind = EnergyChannel::Kind::kPower;
  c.read_watts = std::move(read_watts);
  return c;
}

// Whether the channel reads now; explains in `notes` when not.
bool Readable(const EnergyChannel& c, std::string_view what, std::vector<std::string>& notes) {
  const Status s =
      c.kind == EnergyChannel::Kind::kCounter ? c.read_counter().status() : c.read_watts().status();
  if (s.ok()) return true;
  notes.push_back(std::string(what) + " skipped: " + s.message());
  return false;
}

// ---- 1. RAPL ----

std::optional<EnergySource> ProbeRapl(const fs::path& sys, std::vector<std::string>& notes) {
  EnergySource src;
  std::vector<std::string> zones;
  // Only top-level zones: "intel-rapl:0:0" (a core or dram sub-zone) is inside its
  // package, and "intel-rapl-mmio:0" repeats the package through MMIO.
  for (const fs::path& zone : IndexedEntries(sys / "class" / "powercap", "intel-rapl:")) {
    const std::string id = zone.filename().string();
    Expected<std::string> name = ReadTrimmed(zone / "name");
    const std::string display = name && !name->empty() ? *name : id;
    EnergyChannel c = CounterChannel(UniqueLabel(MetricLabel(display), id, src.channels),
                                     zone / "energy_uj", 1e-6);
    const Status readable = c.read_counter().status();
    if (!readable.ok()) {
      std::string note = "RAPL zone " + id + " (" + display + ") skipped: " + readable.message();
      if (readable.code() == StatusCode::kIo) {
        note += " (energy_uj is readable only by root since Linux 5.10)";
      }
      notes.push_back(std::move(note));
      continue;
    }
    Expected<std::int64_t> range = ReadInt(zone / "max_energy_range_uj");
    if (range && *range > 0) {
      c.wrap_range = static_cast<std::uint64_t>(*range);
    } else {
      src.notes.push_back("RAPL zone " + id +
                          " has no max_energy_range_uj: a counter wrap-around would be missed");
    }
    zones.push_back(id);
    src.channels.push_back(std::move(c));
  }
  if (src.channels.empty()) return std::nullopt;
  src.source = "rapl:" + Join(zones, "+");
  ApplyTotalRule(src);
  return src;
}

// ---- 2. Batteries ----

std::optional<EnergySource> ProbeBatteries(const fs::path& sys, std::vector<std::string>& notes) {
  EnergySource src;
  std::vector<std::string> parts;
  std::vector<std::pair<std::string, fs::path>> status_files;
  for (const fs::path& supply : SortedEntries(sys / "class" / "power_supply")) {
    Expected<std::string> type = ReadTrimmed(supply / "type");
    if (!type || *type != "Battery") continue;
    // A peripheral's battery (mouse, headset) does not power this machine.
    Expected<std::string> scope = ReadTrimmed(supply / "scope");
    if (scope && *scope == "Device") continue;
    Expected<std::string> present = ReadTrimmed(supply / "present");
    if (present && *present == "0") continue;

    const std::string name = supply.filename().string();
    const std::string label = UniqueLabel(MetricLabel(name), name, src.channels);
    const std::string what = "battery " + name;
    std::string mode;
    EnergyChannel c = CounterChannel(label, supply / "energy_now", 3.6e-3);  // uWh -> J
    c.counts_down = true;
    if (c.read_counter().has_value()) {
      mode = "energy_now";
    } else if (const fs::path power = supply / "power_now"; ReadInt(power).has_value()) {
      // Some drivers report discharge as negative power or current.
      c = PowerChannel(label, [power]() -> Expected<double> {
        DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t uw, ReadInt(power));
        return std::fabs(static_cast<double>(uw)) * 1e-6;
      });
      mode = "power_now";
    } else if (const fs::path current = supply / "current_now", voltage = supply / "voltage_now";
               ReadInt(current).has_value() && ReadInt(voltage).has_value()) {
      c = PowerChannel(label, [current, voltage]() -> Expected<double> {
        DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t ua, ReadInt(current));
        DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t uv, ReadInt(voltage));
        return std::fabs(static_cast<double>(ua)) * static_cast<double>(uv) * 1e-12;
      });
      mode = "current_now*voltage_now";
    } else {
      notes.push_back(what +
                      " skipped: it has no readable energy_now, power_now or "
                      "current_now+voltage_now");
      continue;
    }
    parts.push_back(name + "(" + mode + ")");
    status_files.emplace_back(name, supply / "status");
    src.channels.push_back(std::move(c));
  }
  if (src.channels.empty()) return std::nullopt;
  src.source = "battery:" + Join(parts, "+");
  src.check = [status_files]() {
    std::vector<std::string> out;
    for (const auto& [name, file] : status_files) {
      Expected<std::string> status = ReadTrimmed(file);
      if (!status) continue;
      if (*status == "Charging") {
        out.push_back("battery " + name +
                      " is charging: its readings follow the charger, not the load, so the "
                      "discharge measurement is invalid; unplug the charger and rerun");
      } else if (*status == "Full" || *status == "Not charging") {
        out.push_back("battery " + name + " reports '" + *status +
                      "': the machine likely runs on external power, so the battery does not "
                      "see the load; unplug the charger and rerun");
      }
    }
    return out;
  };
  return src;
}

// ---- 3. hwmon ----

struct Hwmon {
  std::string id;    // "hwmon2"
  std::string name;  // its "name" attribute, "" when absent
  fs::path attrs;    // where the attributes are: hwmonN, or hwmonN/device on old drivers
};

std::vector<Hwmon> ListHwmon(const fs::path& sys) {
  std::vector<Hwmon> out;
  for (const fs::path& dir : IndexedEntries(sys / "class" / "hwmon", "hwmon")) {
    Hwmon h{dir.filename().string(), "", dir};
    if (Expected<std::string> name = ReadTrimmed(dir / "name")) {
      h.name = *name;
    } else if (Expected<std::string> dev_name = ReadTrimmed(dir / "device" / "name")) {
      h.name = *dev_name;
      h.attrs = dir / "device";
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::optional<EnergySource> ProbeIna3221(const std::vector<Hwmon>& hwmons,
                                         std::vector<std::string>& notes) {
  EnergySource src;
  std::vector<std::string> parts;
  for (const Hwmon& h : hwmons) {
    if (h.name != "ina3221") continue;
    const std::size_t before = src.channels.size();
    for (const int n : FileIndices(h.attrs, "in", "_label")) {
      const std::string index = std::to_string(n);
      Expected<std::string> label = ReadTrimmed(h.attrs / ("in" + index + "_label"));
      // "NC": the board leaves this channel unconnected.
      if (!label || label->empty() || *label == "NC") continue;
      const fs::path volts = h.attrs / ("in" + index + "_input");
      const fs::path amps = h.attrs / ("curr" + index + "_input");
      std::error_code ec;
      if (!fs::exists(amps, ec)) continue;  // a voltage-only channel (e.g. shunt sums)
      EnergyChannel c =
          PowerChannel(UniqueLabel(MetricLabel(*label), h.id + "_" + index, src.channels),
                       [volts, amps]() -> Expected<double> {
                         DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t mv, ReadInt(volts));
                         DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t ma, ReadInt(amps));
                         return static_cast<double>(mv) * static_cast<double>(ma) * 1e-6;
                       });
      if (Readable(c, "INA3221 rail " + *label + " (" + h.id + ")", notes)) {
        src.channels.push_back(std::move(c));
      }
    }
    if (src.channels.size() > before) parts.push_back(h.id + "(ina3221)");
  }
  if (src.channels.empty()) return std::nullopt;
  src.source = "hwmon:" + Join(parts, "+");
  ApplyTotalRule(src);
  return src;
}

// The first hwmon with <kind>N_input files: "energy" (uJ counters) or "power" (uW).
std::optional<EnergySource> ProbeHwmonInputs(const std::vector<Hwmon>& hwmons,
                                             const std::string& kind,
                                             std::vector<std::string>& notes) {
  for (const Hwmon& h : hwmons) {
    if (h.name == "ina3221") continue;
    EnergySource src;
    for (const int n : FileIndices(h.attrs, kind, "_input")) {
      const std::string index = std::to_string(n);
      const fs::path input = h.attrs / (kind + index + "_input");
      Expected<std::string> label = ReadTrimmed(h.attrs / (kind + index + "_label"));
      const std::string fallback = (h.name.empty() ? h.id : h.name) + "_" + kind + index;
      const std::string metric_label = UniqueLabel(
          MetricLabel(label && !label->empty() ? *label : fallback), fallback, src.channels);
      EnergyChannel c;
      if (kind == "energy") {
        c = CounterChannel(metric_label, input, 1e-6);  // uJ -> J
      } else {
        c = PowerChannel(metric_label, [input]() -> Expected<double> {
          DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t uw, ReadInt(input));
          return static_cast<double>(uw) * 1e-6;
        });
      }
      if (Readable(c, "hwmon " + h.id + " " + kind + index + "_input", notes)) {
        src.channels.push_back(std::move(c));
      }
    }
    if (src.channels.empty()) continue;
    src.source = "hwmon:" + h.id + "(" + (h.name.empty() ? kind : h.name) + ")";
    ApplyTotalRule(src);
    return src;
  }
  return std::nullopt;
}

// ---- 4. Older Jetson INA3221 driver (iio) ----

std::optional<EnergySource> ProbeIna3221x(const fs::path& sys, std::vector<std::string>& notes) {
  EnergySource src;
  std::vector<std::string> parts;
  for (const fs::path& dev : SortedEntries(sys / "bus" / "i2c" / "drivers" / "ina3221x")) {
    for (const fs::path& iio : SortedEntries(dev)) {
      if (iio.filename().string().rfind("iio:device", 0) != 0) continue;
      const std::size_t before = src.channels.size();
      for (int i = 0; i < 3; ++i) {
        const std::string index = std::to_string(i);
        Expected<std::string> rail = ReadTrimmed(iio / ("rail_name_" + index));
        const fs::path power = iio / ("in_power" + index + "_input");
        std::error_code ec;
        if (!rail || rail->empty() || !fs::exists(power, ec)) continue;
        EnergyChannel c = PowerChannel(
            UniqueLabel(MetricLabel(*rail), dev.filename().string() + "_" + index, src.channels),
            [power]() -> Expected<double> {
              DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t mw, ReadInt(power));
              return static_cast<double>(mw) * 1e-3;
            });
        if (Readable(c, "ina3221x rail " + *rail, notes)) src.channels.push_back(std::move(c));
      }
      if (src.channels.size() > before) {
        parts.push_back(dev.filename().string() + "/" + iio.filename().string());
      }
    }
  }
  if (src.channels.empty()) return std::nullopt;
  src.source = "ina3221x:" + Join(parts, "+");
  ApplyTotalRule(src);
  return src;
}

}  // namespace

bool IsAggregateLabel(std::string_view label) {
  const std::string l = MetricLabel(label);
  const auto ends_with = [&](std::string_view s) {
    return l.size() >= s.size() && l.compare(l.size() - s.size(), s.size(), s) == 0;
  };
  const auto contains = [&](std::string_view s) { return l.find(s) != std::string::npos; };
  return l == "in" || ends_with("_in") || contains("package") || contains("socket") ||
         contains("total") || contains("sum");
}

std::optional<EnergySource> ProbeEnergySource(const fs::path& sys,
                                              std::vector<std::string>& notes) {
  if (std::optional<EnergySource> s = ProbeRapl(sys, notes)) return s;
  if (std::optional<EnergySource> s = ProbeBatteries(sys, notes)) return s;
  const std::vector<Hwmon> hwmons = ListHwmon(sys);
  if (std::optional<EnergySource> s = ProbeIna3221(hwmons, notes)) return s;
  if (std::optional<EnergySource> s = ProbeHwmonInputs(hwmons, "energy", notes)) return s;
  if (std::optional<EnergySource> s = ProbeHwmonInputs(hwmons, "power", notes)) return s;
  if (std::optional<EnergySource> s = ProbeIna3221x(sys, notes)) return s;
  return std::nullopt;
}

}  // namespace deepedge::monitors_internal
