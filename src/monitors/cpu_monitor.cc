// CPU monitor: process CPU time from /proc/<pid>/stat, machine load from /proc/stat.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/monitors.h"
#include "monitors/pseudo_fs.h"
#include "monitors/report_util.h"

namespace deepedge {
namespace {

using monitors_internal::CpuLine;
using monitors_internal::MakeMetric;
using monitors_internal::NsToSeconds;
using monitors_internal::ProcessCpuTicks;
using monitors_internal::WindowState;

class CpuMonitor final : public Monitor {
 public:
  CpuMonitor(MonitorPaths paths, Clock clock)
      : paths_(std::move(paths)),
        clock_(std::move(clock)),
        hz_(monitors_internal::ClockTicksPerSecond()) {
    ResetReport();
  }

  std::string_view Name() const override { return "cpu"; }

  Status Start() override {
    if (state_ == WindowState::kRunning) {
      return InvalidArgument("cpu monitor: Start() called while a window is open");
    }
    ResetReport();
    state_ = WindowState::kRunning;
    failed_samples_ = 0;
    start_ns_ = last_ns_ = monitors_internal::NowNs(clock_);
    Expected<ProcessCpuTicks> ticks = monitors_internal::ReadProcessCpuTicks(paths_);
    process_ok_ = ticks.has_value();
    if (!process_ok_) {
      report_.supported = false;
      report_.unsupported_reason = "process CPU time is not readable: " + ticks.status().message();
      report_.timelines.clear();
      return Status::Ok();
    }
    start_ticks_ = last_ticks_ = *ticks;
    start_lines_ = ReadStat();
    return Status::Ok();
  }

  void Sample() override {
    if (state_ != WindowState::kRunning || !process_ok_) return;
    Expected<ProcessCpuTicks> ticks = monitors_internal::ReadProcessCpuTicks(paths_);
    if (!ticks) {
      ++failed_samples_;
      return;
    }
    AppendPoint(monitors_internal::NowNs(clock_), *ticks);
  }

  Status Stop() override {
    if (state_ != WindowState::kRunning) {
      return InvalidArgument("cpu monitor: Stop() called without Start()");
    }
    state_ = WindowState::kStopped;
    if (!process_ok_) return Status::Ok();
    const std::int64_t stop_ns = monitors_internal::NowNs(clock_);
    Expected<ProcessCpuTicks> ticks = monitors_internal::ReadProcessCpuTicks(paths_);
    if (!ticks) {
      report_.supported = false;
      report_.unsupported_reason =
          "process CPU time became unreadable during the window: " + ticks.status().message();
      report_.timelines.clear();
      return ticks.status();
    }
    if (ticks->utime < start_ticks_.utime || ticks->stime < start_ticks_.stime) {
      // CPU time never decreases for one process: the pid now names another process.
      report_.supported = false;
      report_.unsupported_reason =
          "process CPU time went backwards during the window (did process " + paths_.pid +
          " exit and its pid get reused?)";
      report_.timelines.clear();
      return Corrupt("cpu monitor: " + report_.unsupported_reason);
    }
    AppendPoint(stop_ns, *ticks);

    const double hz = static_cast<double>(hz_);
    const double user_s = static_cast<double>(ticks->utime - start_ticks_.utime) / hz;
    const double system_s = static_cast<double>(ticks->stime - start_ticks_.stime) / hz;
    const double cpu_s = user_s + system_s;
    const double wall_s = NsToSeconds(stop_ns - start_ns_);
    std::vector<Metric>& m = report_.metrics;
    m.push_back(MakeMetric("cpu_time_s", cpu_s, "s"));
    m.push_back(MakeMetric("user_time_s", user_s, "s"));
    m.push_back(MakeMetric("system_time_s", system_s, "s"));
    m.push_back(MakeMetric("wall_time_s", wall_s, "s"));

    std::optional<std::vector<CpuLine>> stop_lines = ReadStat();
    int cores = 0;
    if (start_lines_) {
      cores = static_cast<int>(std::count_if(start_lines_->begin(), start_lines_->end(),
                                             [](const CpuLine& l) { return l.cpu >= 0; }));
    }
    if (wall_s > 0) {
      m.push_back(MakeMetric("utilisation_one_core", cpu_s / wall_s * 100.0, "%"));
      if (cores > 0) {
        m.push_back(MakeMetric("utilisation_machine", cpu_s / (wall_s * cores) * 100.0, "%"));
      }
    } else {
      report_.notes.push_back(
          "the clock did not advance between Start() and Stop(): utilisation is not defined");
    }
    if (cores > 0) m.push_back(MakeMetric("logical_cores", cores, "cores"));
    if (start_lines_ && stop_lines) AddMachineMetrics(*start_lines_, *stop_lines);

    if (!report_.timelines.empty() && report_.timelines[0].t_s.empty()) report_.timelines.clear();
    if (failed_samples_ > 0) {
      report_.notes.push_back(std::to_string(failed_samples_) +
                              " sample(s) could not read the process CPU time and were skipped");
    }
    if (cpu_s > 0 && cpu_s * hz < 10) {
      report_.notes.push_back("the process used fewer than 10 clock ticks (1/" +
                              std::to_string(hz_) +
                              " s each): CPU figures are coarse; use a longer window");
    }
    return Status::Ok();
  }

  MonitorReport Report() const override { return report_; }

 private:
  void ResetReport() {
    report_ = MonitorReport{};
    report_.monitor = "cpu";
    report_.source =
        (paths_.proc / paths_.pid / "stat").string() + " + " + (paths_.proc / "stat").string();
    report_.timelines.push_back(monitors_internal::MakeTimeline("utilisation_one_core", "%"));
  }

  // nullopt, with a note, when <proc>/stat cannot be read or parsed.
  std::optional<std::vector<CpuLine>> ReadStat() {
    const std::filesystem::path path = paths_.proc / "stat";
    Expected<std::string> text = monitors_internal::ReadPseudoFile(path);
    Expected<std::vector<CpuLine>> lines = text ? monitors_internal::ParseProcStat(*text)
                                                : Expected<std::vector<CpuLine>>(text.status());
    if (!lines) {
      const std::string note = "machine-wide CPU figures left out: " + lines.status().message();
      if (std::find(report_.notes.begin(), report_.notes.end(), note) == report_.notes.end()) {
        report_.notes.push_back(note);
      }
      return std::nullopt;
    }
    return *std::move(lines);
  }

  // One timeline point: the process's CPU use since the previous point.
  void AppendPoint(std::int64_t now_ns, const ProcessCpuTicks& ticks) {
    const std::int64_t dt_ns = now_ns - last_ns_;
    if (dt_ns > 0 && ticks.utime + ticks.stime >= last_ticks_.utime + last_ticks_.stime) {
      const double cpu_s = static_cast<double>((ticks.utime + ticks.stime) -
                                               (last_ticks_.utime + last_ticks_.stime)) /
                           static_cast<double>(hz_);
      Timeline& tl = report_.timelines[0];
      tl.t_s.push_back(NsToSeconds(now_ns - start_ns_));
      tl.values.push_back(cpu_s / NsToSeconds(dt_ns) * 100.0);
      last_ns_ = now_ns;
      last_ticks_ = ticks;
    }
  }

  void AddMachineMetrics(const std::vector<CpuLine>& start, const std::vector<CpuLine>& stop) {
    std::map<int, CpuLine> before;
    for (const CpuLine& l : start) before[l.cpu] = l;
    int skipped = 0;
    for (const CpuLine& after : stop) {
      const auto it = before.find(after.cpu);
      if (it == before.end()) continue;  // came online during the window
      // Signed: iowait is known to go backwards on some kernels.
      const double busy =
          static_cast<double>(static_cast<std::int64_t>(after.busy - it->second.busy));
      const double idle =
          static_cast<double>(static_cast<std::int64_t>(after.idle - it->second.idle));
      const double total = busy + idle;
      if (total <= 0) {
        ++skipped;
        continue;
      }
      const double pct = std::clamp(busy / total * 100.0, 0.0, 100.0);
      const std::string name =
          after.cpu < 0 ? std::string("system_busy") : "core" + std::to_string(after.cpu) + "_busy";
      report_.metrics.push_back(MakeMetric(name, pct, "%"));
    }
    if (skipped > 0) {
      report_.notes.push_back(std::to_string(skipped) +
                              " CPU line(s) of /proc/stat did not advance during the window "
                              "(shorter than a clock tick): their busy share is left out");
    }
  }

  const MonitorPaths paths_;
  const Clock clock_;
  const long hz_;
  WindowState state_ = WindowState::kIdle;
  MonitorReport report_;
  bool process_ok_ = false;
  int failed_samples_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ns_ = 0;
  ProcessCpuTicks start_ticks_;
  ProcessCpuTicks last_ticks_;
  std::optional<std::vector<CpuLine>> start_lines_;
};

}  // namespace

std::unique_ptr<Monitor> MakeCpuMonitor(const MonitorPaths& paths, Clock clock) {
  return std::make_unique<CpuMonitor>(paths, std::move(clock));
}

}  // namespace deepedge
