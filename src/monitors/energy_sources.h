// Internal: discovery of the energy sensors the energy monitor can read. Not part of
// the public API; see MakeEnergyMonitor in deepedge/monitors.h for the probe order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge::monitors_internal {

// One thing that reads energy: a RAPL zone, a battery, a rail.
struct EnergyChannel {
  enum class Kind {
    kCounter,  // a cumulative energy counter, read as deltas
    kPower,    // an instantaneous power, sampled and integrated
  };

  std::string label;  // already a metric label: "package_0", "vdd_in"
  Kind kind = Kind::kCounter;
  bool in_total = true;  // false for a part of another channel (a sub-rail, psys)

  // kCounter.
  std::function<Expected<std::int64_t>()> read_counter;
  double joules_per_count = 0.0;
  std::uint64_t wrap_range = 0;  // the counter restarts at 0 after this value; 0: never
  bool counts_down = false;      // a battery's energy_now falls as energy is used

  // kPower: watts.
  std::function<Expected<double>()> read_watts;
};

struct EnergySource {
  std::string source;  // MonitorReport::source, e.g. "rapl:intel-rapl:0"
  std::vector<EnergyChannel> channels;
  std::vector<std::string> notes;  // caveats that hold for the whole window
  // Caveats that depend on the moment (a battery that starts charging); called at
  // Start() and Stop(). May be empty.
  std::function<std::vector<std::string>()> check;
};

// Probes under `sys` in the documented order and returns the first source with at
// least one readable channel, or nullopt. Sensors that exist but cannot be read are
// explained in `notes`.
std::optional<EnergySource> ProbeEnergySource(const std::filesystem::path& sys,
                                              std::vector<std::string>& notes);

// True for a label that denotes a whole input or package rather than a part of one
// (see MakeEnergyMonitor): "VDD_IN", "POM_5V_IN", "package-0", "Esocket0", "total".
bool IsAggregateLabel(std::string_view label);

}  // namespace deepedge::monitors_internal
