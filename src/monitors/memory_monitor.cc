// Memory monitor: VmRSS and VmHWM from /proc/<pid>/status.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "deepedge/monitors.h"
#include "monitors/pseudo_fs.h"
#include "monitors/report_util.h"

namespace deepedge {

Expected<ProcessMemory> ReadProcessMemory(const MonitorPaths& paths) {
  const std::filesystem::path path = paths.proc / paths.pid / "status";
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, monitors_internal::ReadPseudoFile(path));
  const std::optional<std::uint64_t> rss_kb = monitors_internal::StatusKb(text, "VmRSS");
  const std::optional<std::uint64_t> hwm_kb = monitors_internal::StatusKb(text, "VmHWM");
  if (!rss_kb || !hwm_kb) {
    return Corrupt(path.string() + ": no VmRSS/VmHWM lines (a kernel thread, or not Linux?)");
  }
  return ProcessMemory{*rss_kb * 1024, *hwm_kb * 1024};
}

namespace {

using monitors_internal::kBytesPerMiB;
using monitors_internal::MakeMetric;
using monitors_internal::NsToSeconds;
using monitors_internal::WindowState;

double Mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / kBytesPerMiB;
}

class MemoryMonitor final : public Monitor {
 public:
  MemoryMonitor(MonitorPaths paths, Clock clock)
      : paths_(std::move(paths)), clock_(std::move(clock)) {
    ResetReport();
  }

  std::string_view Name() const override { return "memory"; }

  Status Start() override {
    if (state_ == WindowState::kRunning) {
      return InvalidArgument("memory monitor: Start() called while a window is open");
    }
    ResetReport();
    state_ = WindowState::kRunning;
    failed_samples_ = 0;
    start_ns_ = monitors_internal::NowNs(clock_);
    Expected<ProcessMemory> mem = ReadProcessMemory(paths_);
    readable_ = mem.has_value();
    if (!readable_) {
      report_.supported = false;
      report_.unsupported_reason = "process memory is not readable: " + mem.status().message();
      report_.timelines.clear();
      return Status::Ok();
    }
    start_ = *mem;
    sampled_peak_rss_ = mem->rss_bytes;
    AppendPoint(start_ns_, mem->rss_bytes);
    return Status::Ok();
  }

  void Sample() override {
    if (state_ != WindowState::kRunning || !readable_) return;
    Expected<ProcessMemory> mem = ReadProcessMemory(paths_);
    if (!mem) {
      ++failed_samples_;
      return;
    }
    sampled_peak_rss_ = std::max(sampled_peak_rss_, mem->rss_bytes);
    AppendPoint(monitors_internal::NowNs(clock_), mem->rss_bytes);
  }

  Status Stop() override {
    if (state_ != WindowState::kRunning) {
      return InvalidArgument("memory monitor: Stop() called without Start()");
    }
    state_ = WindowState::kStopped;
    if (!readable_) return Status::Ok();
    const std::int64_t stop_ns = monitors_internal::NowNs(clock_);
    Expected<ProcessMemory> mem = ReadProcessMemory(paths_);
    if (!mem) {
      report_.supported = false;
      report_.unsupported_reason =
          "process memory became unreadable during the window: " + mem.status().message();
      report_.timelines.clear();
      return mem.status();
    }
    sampled_peak_rss_ = std::max(sampled_peak_rss_, mem->rss_bytes);
    AppendPoint(stop_ns, mem->rss_bytes);

    std::vector<Metric>& m = report_.metrics;
    m.push_back(MakeMetric("peak_rss_mib", Mib(mem->hwm_bytes), "MiB"));
    m.push_back(MakeMetric("sampled_peak_rss_mib", Mib(sampled_peak_rss_), "MiB"));
    m.push_back(MakeMetric("rss_start_mib", Mib(start_.rss_bytes), "MiB"));
    m.push_back(MakeMetric("rss_stop_mib", Mib(mem->rss_bytes), "MiB"));
    m.push_back(MakeMetric("rss_delta_mib", Mib(mem->rss_bytes) - Mib(start_.rss_bytes), "MiB"));
    if (mem->hwm_bytes == start_.hwm_bytes && mem->hwm_bytes > sampled_peak_rss_) {
      // VmHWM did not move, so the lifetime peak was reached before Start().
      report_.notes.push_back(
          "peak_rss_mib is the process's lifetime peak, reached before this window; the "
          "window's own peak is at most sampled_peak_rss_mib plus what sampling missed");
    }
    if (failed_samples_ > 0) {
      report_.notes.push_back(std::to_string(failed_samples_) +
                              " sample(s) could not read the process memory and were skipped");
    }
    return Status::Ok();
  }

  MonitorReport Report() const override { return report_; }

 private:
  void ResetReport() {
    report_ = MonitorReport{};
    report_.monitor = "memory";
    report_.source = (paths_.proc / paths_.pid / "status").string();
    report_.timelines.push_back(monitors_internal::MakeTimeline("rss", "MiB"));
  }

  void AppendPoint(std::int64_t now_ns, std::uint64_t rss_bytes) {
    Timeline& tl = report_.timelines[0];
    tl.t_s.push_back(NsToSeconds(now_ns - start_ns_));
    tl.values.push_back(Mib(rss_bytes));
  }

  const MonitorPaths paths_;
  const Clock clock_;
  WindowState state_ = WindowState::kIdle;
  MonitorReport report_;
  bool readable_ = false;
  int failed_samples_ = 0;
  std::int64_t start_ns_ = 0;
  ProcessMemory start_;
  std::uint64_t sampled_peak_rss_ = 0;
};

}  // namespace

std::unique_ptr<Monitor> MakeMemoryMonitor(const MonitorPaths& paths, Clock clock) {
  return std::make_unique<MemoryMonitor>(paths, std::move(clock));
}

}  // namespace deepedge
