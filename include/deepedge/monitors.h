// The concrete monitors: process CPU time and utilisation, process memory, and
// energy (from a real sensor when one exists, otherwise an estimate labelled as such).
//
// Every factory returns a Monitor (see deepedge/monitor.h) that follows its life cycle
// and thread-safety contract. In addition, for all monitors here:
//  - Start() and Stop() return OK when the monitor's source is merely absent (no
//    /proc/<pid>/stat, no energy sensor and nothing to estimate from): the absence is
//    reported by Report() with supported == false and a reason, so callers may start
//    every monitor unconditionally. They return an error when called out of order
//    (Stop() without Start(), Start() while running), or when a source readable at
//    Start() cannot be read at Stop(); the report then says why it is unsupported.
//  - Start() may be called again after Stop() to measure a new window. Report() holds
//    metrics only after Stop(); before, it has the source, notes and support state.
//  - Sample() is optional and never fails: a failed read is skipped (and counted in a
//    note). It does nothing outside a window.
//  - An empty Clock means the steady clock. Times are taken from the clock only, so a
//    manual clock makes every figure reproducible.
//  - Figures that need a non-zero window (utilisation, average power) are omitted, with
//    a note, when the clock did not advance between Start() and Stop().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "deepedge/monitor.h"
#include "deepedge/status.h"

namespace deepedge {

// ---- CPU ----------------------------------------------------------------------------
//
// Monitor name and report.monitor: "cpu". Source: "<proc>/<pid>/stat + <proc>/stat".
// Reads utime and stime of <proc>/<pid>/stat (all threads of the process; children
// are not counted) converted with sysconf(_SC_CLK_TCK), and the cpu lines of
// <proc>/stat (busy = user+nice+system+irq+softirq+steal, idle = idle+iowait).
// Metrics, all Provenance::kMeasured:
//   cpu_time_s            s      user + system time of the process over the window
//   user_time_s           s      user time of the process over the window
//   system_time_s         s      system (kernel) time of the process over the window
//   wall_time_s           s      clock time between Start() and Stop()
//   utilisation_one_core  %      cpu_time_s / wall_time_s * 100 (200 = two cores busy)
//   utilisation_machine   %      cpu_time_s / (wall_time_s * logical_cores) * 100
//   logical_cores         cores  cpuN lines of <proc>/stat at Start() (online CPUs)
//   system_busy           %      busy share of all CPUs, every process included
//   core<N>_busy          %      busy share of CPU N (N is the kernel's CPU number)
// The process figures need only <proc>/<pid>/stat; when <proc>/stat is unreadable the
// machine-wide figures are left out with a note. Resolution is one clock tick
// (usually 10 ms), so short windows are coarse; per-core figures are omitted for a CPU
// whose counters did not advance. Timeline (one point per Sample() and at Stop()):
//   utilisation_one_core  %      process CPU use since the previous point
std::unique_ptr<Monitor> MakeCpuMonitor(const MonitorPaths& paths, Clock clock);

// ---- Memory -------------------------------------------------------------------------
//
// Monitor name and report.monitor: "memory". Source: "<proc>/<pid>/status".
// Metrics, all Provenance::kMeasured, MiB = 1024 * 1024 bytes:
//   peak_rss_mib          MiB    VmHWM at Stop(): the process's lifetime high-water
//                                mark, which may predate the window (a note says so)
//   sampled_peak_rss_mib  MiB    largest VmRSS read at Start(), Sample() and Stop()
//   rss_start_mib         MiB    VmRSS at Start()
//   rss_stop_mib          MiB    VmRSS at Stop()
//   rss_delta_mib         MiB    rss_stop_mib - rss_start_mib (may be negative)
// Timeline "rss" (MiB): VmRSS at Start() (t = 0), at every Sample() and at Stop(), t in
// seconds since Start().
std::unique_ptr<Monitor> MakeMemoryMonitor(const MonitorPaths& paths, Clock clock);

// Resident set of a process now (VmRSS) and its lifetime peak (VmHWM), in bytes.
struct ProcessMemory {
  std::uint64_t rss_bytes = 0;
  std::uint64_t hwm_bytes = 0;
};

// Reads <proc>/<pid>/status. kNotFound when the file does not exist, kCorrupt when
// VmRSS or VmHWM is missing (kernel threads have neither). Thread-safe.
Expected<ProcessMemory> ReadProcessMemory(const MonitorPaths& paths);

// ---- Energy -------------------------------------------------------------------------

// Used only when no energy sensor exists: energy = active_w_per_core * process CPU
// seconds (+ idle_w * wall seconds when include_idle).
struct PowerModel {
  std::string name;
  // Extra power drawn by one core while it runs the process, in watts.
  double active_w_per_core = 0.0;
  // Power the platform draws when idle, in watts. Not added by default: idle power is
  // paid whether or not the model runs, so the default estimate is the energy
  // attributable to the inference (dynamic energy), comparable across machines.
  double idle_w = 0.0;
  bool include_idle = false;
};

// A rough, documented guess for the build's architecture, never a measurement:
//  - x86-64: "generic-x86-core", 4 W per busy core. A 15 W, 4-core laptop part runs
//    near 3-4 W per busy core and a 65 W, 8-core desktop part near 6-8 W, so 4 W sits
//    at the low end of common parts; expect errors of 2x either way.
//  - ARM: "generic-arm-core", 1 W per busy core (Cortex-A57/A72/A78-class cores at
//    their usual clocks draw roughly 0.5-2 W each).
// idle_w is 0 and include_idle false: a generic machine's idle draw is unknown.
PowerModel DefaultPowerModel();

// Monitor name and report.monitor: "energy". Probes, at each Start(), the sensors
// under paths.sys in this order and measures with the first one found:
//  1. RAPL: <sys>/class/powercap/intel-rapl:N top-level zones (sub-zones such as
//     intel-rapl:0:0 are inside their package and are not read). energy_uj deltas with
//     wrap-around at max_energy_range_uj. Package zones are summed; a "psys" (platform)
//     zone is reported on its own but not added, since it contains the packages.
//     A zone whose energy_uj is unreadable (root-only since Linux 5.10) is skipped
//     with a note. Source "rapl:intel-rapl:0+intel-rapl:1".
//  2. Batteries: <sys>/class/power_supply/* with type "Battery" (scope "Device", e.g.
//     a mouse, is skipped): energy_now (uWh) deltas, else power_now (uW), else
//     current_now (uA) * voltage_now (uV), sampled and integrated. A battery that is
//     charging, full or not charging at Start() or Stop() cannot see the load: a note
//     says so. Source "battery:BAT0(energy_now)".
//  3. hwmon: <sys>/class/hwmon/hwmonN. First every "ina3221" hwmon (Jetson): per rail
//     (inN_label) power = inN_input (mV) * currN_input (mA), sampled and integrated;
//     else the first hwmon with energyN_input (uJ) deltas; else the first with
//     powerN_input (uW), sampled and integrated. Source "hwmon:hwmon2(ina3221)".
//  4. The older Jetson driver: <sys>/bus/i2c/drivers/ina3221x/*/iio:device*/
//     in_power{0,1,2}_input (mW) named by rail_name_{0,1,2}, sampled and integrated.
//     Source "ina3221x:<device>".
//  5. No sensor: the estimate of `model` (see PowerModel) from <proc>/<pid>/stat, with
//     every metric Provenance::kEstimated, source "estimated: cpu-time x power model
//     (<name>)" and a note that no sensor was found. Unsupported when the process CPU
//     time cannot be read either. Start() returns kInvalidArgument when the estimate
//     is needed and the model's wattage is negative or not finite.
// Power readings are integrated with the trapezoid rule over the points read at
// Start(), each Sample() and Stop(): call Sample() periodically (e.g. every 10-100 ms)
// or the integral assumes power varied linearly between Start() and Stop().
// Counters are also read at each Sample(), so a RAPL counter that wraps more than once
// in a window is still counted right as long as samples come often enough.
// Several channels (rails, packages, batteries): the total counts the channels that
// represent everything. A rail or channel whose label denotes a whole input or
// package (ends in "_in", like VDD_IN or POM_5V_IN, or contains "package", "socket",
// "total" or "sum") is total on its own and the others are parts of it; when there is
// none, the total is the sum of all channels.
// Metrics (Provenance::kMeasured from a sensor, kEstimated from the model):
//   energy_j                     J   energy over the window (the total, see above)
//   average_power_w              W   energy_j / window length (clock time Start() to Stop())
//   <channel>_energy_j           J   one per channel (sensor only), e.g. package_0_energy_j,
//                                    vdd_in_energy_j, bat0_energy_j
//   <channel>_average_power_w    W   one per channel (sensor only)
// <channel> is the zone name, rail label, battery or channel label, lower-case with
// '_' for other characters. Power-sampled sources also give a timeline "power" (W):
// the total power at each point read.
std::unique_ptr<Monitor> MakeEnergyMonitor(const MonitorPaths& paths, Clock clock,
                                           const PowerModel& model = DefaultPowerModel());

}  // namespace deepedge
