// Energy monitor: a real sensor when one exists (see energy_sources.h), otherwise an
// estimate from process CPU time and a power model, labelled as such.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/monitors.h"
#include "monitors/energy_sources.h"
#include "monitors/pseudo_fs.h"
#include "monitors/report_util.h"

namespace deepedge {

PowerModel DefaultPowerModel() {
  PowerModel m;
#if defined(__aarch64__) || defined(__arm__)
  m.name = "generic-arm-core";
  m.active_w_per_core = 1.0;
#else
  m.name = "generic-x86-core";
  m.active_w_per_core = 4.0;
#endif
  m.idle_w = 0.0;
  m.include_idle = false;
  return m;
}

namespace {

using monitors_internal::EnergyChannel;
using monitors_internal::EnergySource;
using monitors_internal::FormatNumber;
using monitors_internal::MakeMetric;
using monitors_internal::NsToSeconds;
using monitors_internal::ProcessCpuTicks;
using monitors_internal::WindowState;

// A channel plus what has been read from it in the current window.
struct ChannelState {
  EnergyChannel channel;
  std::int64_t last_count = 0;  // kCounter
  std::int64_t counts = 0;      // kCounter: accumulated delta, in counter units
  double last_w = 0.0;          // kPower
  std::int64_t last_ns = 0;     // kPower: when last_w was read
  double joules = 0.0;          // kPower: trapezoid integral
  bool reset_seen = false;      // kCounter: went backwards without a known wrap range
  int failed_reads = 0;
};

class EnergyMonitor final : public Monitor {
 public:
  EnergyMonitor(MonitorPaths paths, Clock clock, PowerModel model)
      : paths_(std::move(paths)), clock_(std::move(clock)), model_(std::move(model)) {
    ResetReport();
  }

  std::string_view Name() const override { return "energy"; }

  Status Start() override {
    if (state_ == WindowState::kRunning) {
      return InvalidArgument("energy monitor: Start() called while a window is open");
    }
    ResetReport();
    state_ = WindowState::kRunning;
    channels_.clear();
    samples_ = 0;
    estimated_ = false;
    supported_ = false;
    start_ns_ = monitors_internal::NowNs(clock_);

    std::vector<std::string> probe_notes;
    std::optional<EnergySource> source =
        monitors_internal::ProbeEnergySource(paths_.sys, probe_notes);
    for (std::string& n : probe_notes) report_.notes.push_back(std::move(n));
    if (source) {
      report_.source = source->source;
      for (std::string& n : source->notes) report_.notes.push_back(std::move(n));
      check_ = std::move(source->check);
      for (EnergyChannel& c : source->channels) {
        ChannelState s;
        s.channel = std::move(c);
        if (!ReadFirst(s)) {
          report_.notes.push_back("channel " + s.channel.label +
                                  " stopped reading between probe and Start(); left out");
          continue;
        }
        channels_.push_back(std::move(s));
      }
      if (std::none_of(channels_.begin(), channels_.end(),
                       [](const ChannelState& s) { return s.channel.in_total; })) {
        report_.supported = false;
        report_.unsupported_reason = "energy sensor " + report_.source + " stopped reading";
        report_.timelines.clear();
        return Status::Ok();
      }
      supported_ = true;
      RunCheck();
      if (HasPowerChannels()) AppendPowerPoint(start_ns_);
      return Status::Ok();
    }
    return StartEstimate();
  }

  void Sample() override {
    if (state_ != WindowState::kRunning || !supported_ || estimated_) return;
    ++samples_;
    const std::int64_t now = monitors_internal::NowNs(clock_);
    for (ChannelState& s : channels_) {
      if (!ReadNext(s, now).ok()) ++s.failed_reads;
    }
    if (HasPowerChannels()) AppendPowerPoint(now);
  }

  Status Stop() override {
    if (state_ != WindowState::kRunning) {
      return InvalidArgument("energy monitor: Stop() called without Start()");
    }
    state_ = WindowState::kStopped;
    if (!supported_) return Status::Ok();
    const std::int64_t stop_ns = monitors_internal::NowNs(clock_);
    const double wall_s = NsToSeconds(stop_ns - start_ns_);
    if (estimated_) return StopEstimate(wall_s);

    std::vector<ChannelState> read;
    for (ChannelState& s : channels_) {
      const Status status = ReadNext(s, stop_ns);
      if (status.ok()) {
        read.push_back(std::move(s));
      } else if (s.channel.in_total) {
        report_.supported = false;
        report_.unsupported_reason =
            "energy sensor became unreadable during the window: " + status.message();
        report_.timelines.clear();
        return status;
      } else {
        report_.notes.push_back(
            "channel " + s.channel.label +
            " became unreadable during the window and is left out: " + status.message());
      }
    }
    channels_ = std::move(read);
    if (HasPowerChannels()) AppendPowerPoint(stop_ns);
    RunCheck();

    double total_j = 0.0;
    std::vector<Metric> per_channel;
    for (const ChannelState& s : channels_) {
      const double j = Joules(s);
      if (s.channel.in_total) total_j += j;
      per_channel.push_back(MakeMetric(s.channel.label + "_energy_j", j, "J"));
      if (wall_s > 0) {
        per_channel.push_back(MakeMetric(s.channel.label + "_average_power_w", j / wall_s, "W"));
      }
      AddChannelNotes(s, wall_s);
    }
    report_.metrics.push_back(MakeMetric("energy_j", total_j, "J"));
    if (wall_s > 0) {
      report_.metrics.push_back(MakeMetric("average_power_w", total_j / wall_s, "W"));
    } else {
      report_.notes.push_back(
          "the clock did not advance between Start() and Stop(): average power is not defined");
    }
    for (Metric& m : per_channel) report_.metrics.push_back(std::move(m));
    if (HasPowerChannels() && samples_ == 0) {
      report_.notes.push_back(
          "power was read only at Start() and Stop(): the energy assumes it changed linearly "
          "in between; call Sample() periodically for a real integral");
    }
    if (!HasPowerChannels()) report_.timelines.clear();
    return Status::Ok();
  }

  MonitorReport Report() const override { return report_; }

 private:
  void ResetReport() {
    report_ = MonitorReport{};
    report_.monitor = "energy";
    report_.timelines.push_back(monitors_internal::MakeTimeline("power", "W"));
    check_ = nullptr;
  }

  bool HasPowerChannels() const {
    return std::any_of(channels_.begin(), channels_.end(), [](const ChannelState& s) {
      return s.channel.kind == EnergyChannel::Kind::kPower;
    });
  }

  bool ReadFirst(ChannelState& s) {
    if (s.channel.kind == EnergyChannel::Kind::kCounter) {
      Expected<std::int64_t> v = s.channel.read_counter();
      if (!v) return false;
      s.last_count = *v;
    } else {
      Expected<double> w = s.channel.read_watts();
      if (!w) return false;
      s.last_w = *w;
      s.last_ns = start_ns_;
    }
    return true;
  }

  // Reads the channel at `now_ns` and adds the energy since its previous reading.
  Status ReadNext(ChannelState& s, std::int64_t now_ns) {
    if (s.channel.kind == EnergyChannel::Kind::kCounter) {
      DEEPEDGE_ASSIGN_OR_RETURN(const std::int64_t v, s.channel.read_counter());
      s.counts += CounterDelta(s, v);
      s.last_count = v;
    } else {
      DEEPEDGE_ASSIGN_OR_RETURN(const double w, s.channel.read_watts());
      // Trapezoid rule between the previous reading and this one.
      s.joules += 0.5 * (s.last_w + w) * NsToSeconds(now_ns - s.last_ns);
      s.last_w = w;
      s.last_ns = now_ns;
    }
    return Status::Ok();
  }

  static std::int64_t CounterDelta(ChannelState& s, std::int64_t now) {
    const std::int64_t prev = s.last_count;
    if (s.channel.counts_down) return prev - now;  // negative while charging: kept, noted
    if (now >= prev) return now - prev;
    const std::uint64_t range = s.channel.wrap_range;
    if (range > 0 && static_cast<std::uint64_t>(prev) <= range) {
      // The counter passed max_energy_range_uj and restarted from 0.
      return static_cast<std::int64_t>(range - static_cast<std::uint64_t>(prev)) + now;
    }
    s.reset_seen = true;  // unknown range: the step cannot be recovered
    return 0;
  }

  static double Joules(const ChannelState& s) {
    return s.channel.kind == EnergyChannel::Kind::kCounter
               ? static_cast<double>(s.counts) * s.channel.joules_per_count
               : s.joules;
  }

  void AppendPowerPoint(std::int64_t now_ns) {
    double total_w = 0.0;
    for (const ChannelState& s : channels_) {
      if (s.channel.in_total && s.channel.kind == EnergyChannel::Kind::kPower) {
        if (s.last_ns != now_ns) return;  // this channel failed to read now: no point
        total_w += s.last_w;
      }
    }
    Timeline& tl = report_.timelines[0];
    tl.t_s.push_back(NsToSeconds(now_ns - start_ns_));
    tl.values.push_back(total_w);
  }

  void AddChannelNotes(const ChannelState& s, double wall_s) {
    const std::string& l = s.channel.label;
    if (s.failed_reads > 0) {
      report_.notes.push_back(l + ": " + std::to_string(s.failed_reads) +
                              " sample read(s) failed and were bridged");
    }
    if (s.reset_seen) {
      report_.notes.push_back(l +
                              ": the energy counter went backwards without a known range; "
                              "that step is not counted");
    }
    if (s.channel.kind == EnergyChannel::Kind::kCounter && s.counts == 0 && wall_s > 0) {
      report_.notes.push_back(l +
                              ": the energy counter did not change during the window; it may "
                              "update only every few seconds (batteries): use a longer run");
    }
  }

  // Adds the sensor's moment-dependent caveats, once each.
  void RunCheck() {
    if (!check_) return;
    for (std::string& n : check_()) {
      if (std::find(report_.notes.begin(), report_.notes.end(), n) == report_.notes.end()) {
        report_.notes.push_back(std::move(n));
      }
    }
  }

  Status StartEstimate() {
    report_.timelines.clear();
    report_.source = "estimated: cpu-time x power model (" + model_.name + ")";
    const std::string none_found = "no readable energy sensor under " + paths_.sys.string() +
                                   " (looked for RAPL, batteries, hwmon, INA3221)";
    const bool model_ok = std::isfinite(model_.active_w_per_core) &&
                          model_.active_w_per_core >= 0 && std::isfinite(model_.idle_w) &&
                          model_.idle_w >= 0;
    if (!model_ok) {
      report_.supported = false;
      report_.unsupported_reason = none_found + ", and power model '" + model_.name +
                                   "' has a negative or non-finite wattage";
      return InvalidArgument("energy monitor: " + report_.unsupported_reason);
    }
    Expected<ProcessCpuTicks> ticks = monitors_internal::ReadProcessCpuTicks(paths_);
    if (!ticks) {
      report_.supported = false;
      report_.unsupported_reason = none_found +
                                   ", and the process CPU time to estimate from is not readable: " +
                                   ticks.status().message();
      return Status::Ok();
    }
    start_ticks_ = *ticks;
    estimated_ = true;
    supported_ = true;
    report_.notes.push_back(none_found + ": energy is an estimate, not a measurement");
    return Status::Ok();
  }

  Status StopEstimate(double wall_s) {
    Expected<ProcessCpuTicks> ticks = monitors_internal::ReadProcessCpuTicks(paths_);
    if (!ticks) {
      report_.supported = false;
      report_.unsupported_reason =
          "process CPU time became unreadable during the window: " + ticks.status().message();
      return ticks.status();
    }
    const std::uint64_t before = start_ticks_.utime + start_ticks_.stime;
    const std::uint64_t after = ticks->utime + ticks->stime;
    const double cpu_s = after >= before
                             ? static_cast<double>(after - before) /
                                   static_cast<double>(monitors_internal::ClockTicksPerSecond())
                             : 0.0;
    double joules = model_.active_w_per_core * cpu_s;
    std::string how = FormatNumber(model_.active_w_per_core) + " W per busy core x " +
                      FormatNumber(cpu_s) + " s of process CPU time";
    if (model_.include_idle) {
      joules += model_.idle_w * wall_s;
      how += " + " + FormatNumber(model_.idle_w) + " W idle x " + FormatNumber(wall_s) +
             " s wall time";
    } else {
      how += "; idle power not included (energy attributable to the process only)";
    }
    report_.metrics.push_back(MakeMetric("energy_j", joules, "J", Provenance::kEstimated));
    if (wall_s > 0) {
      report_.metrics.push_back(
          MakeMetric("average_power_w", joules / wall_s, "W", Provenance::kEstimated));
    } else {
      report_.notes.push_back(
          "the clock did not advance between Start() and Stop(): average power is not defined");
    }
    report_.notes.push_back("estimate = " + how + "; a rough figure (2x either way)");
    return Status::Ok();
  }

  const MonitorPaths paths_;
  const Clock clock_;
  const PowerModel model_;
  WindowState state_ = WindowState::kIdle;
  MonitorReport report_;
  bool supported_ = false;
  bool estimated_ = false;
  int samples_ = 0;
  std::int64_t start_ns_ = 0;
  std::vector<ChannelState> channels_;
  std::function<std::vector<std::string>()> check_;
  ProcessCpuTicks start_ticks_;
};

}  // namespace

std::unique_ptr<Monitor> MakeEnergyMonitor(const MonitorPaths& paths, Clock clock,
                                           const PowerModel& model) {
  return std::make_unique<EnergyMonitor>(paths, std::move(clock), model);
}

}  // namespace deepedge
