// Test helpers: a fake /proc + /sys tree in a temporary directory, written with the
// kernel's real file layouts, and a manual clock.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "deepedge/monitor.h"

namespace deepedge::testing {

// A temporary directory holding proc/ and sys/; removed with everything in it on
// destruction.
class FakeTree {
 public:
  FakeTree() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "deepedge_monitors_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    root_ = tmpl;
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path proc() const { return root_ / "proc"; }
  std::filesystem::path sys() const { return root_ / "sys"; }

  // Writes root/<rel>, creating its directories.
  void Write(const std::filesystem::path& rel, std::string_view content) const {
    const std::filesystem::path path = root_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << path;
  }
  void Remove(const std::filesystem::path& rel) const {
    std::error_code ec;
    std::filesystem::remove_all(root_ / rel, ec);
  }
  void MakeDir(const std::filesystem::path& rel) const {
    std::filesystem::create_directories(root_ / rel);
  }

  MonitorPaths Paths(std::string pid = "4242") const {
    MonitorPaths p;
    p.proc = proc();
    p.sys = sys();
    p.pid = std::move(pid);
    return p;
  }

 private:
  std::filesystem::path root_;
};

// A clock the test moves by hand.
class ManualClock {
 public:
  Clock AsClock() const {
    return [now = now_] { return *now; };
  }
  void AdvanceSeconds(double s) { *now_ += static_cast<std::int64_t>(s * 1e9); }
  void AdvanceMs(std::int64_t ms) { *now_ += ms * 1'000'000; }

 private:
  std::shared_ptr<std::int64_t> now_ = std::make_shared<std::int64_t>(1'000'000'000'000);
};

inline std::uint64_t Hz() {
  return static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
}

// A complete /proc/<pid>/stat line (52 fields) as Linux 6.x writes it, with utime
// (field 14) and stime (field 15) as given.
inline std::string PidStatLine(int pid, std::string_view comm, std::uint64_t utime,
                               std::uint64_t stime) {
  return std::to_string(pid) + " (" + std::string(comm) + ") S 1 " + std::to_string(pid) + " " +
         std::to_string(pid) + " 34816 " + std::to_string(pid) + " 4194304 25131 0 12 0 " +
         std::to_string(utime) + " " + std::to_string(stime) +
         " 7 3 20 0 9 0 313371 1318510592 45678 18446744073709551615 94539224338432 "
         "94539224532193 140726410386320 0 0 0 0 4096 134234626 0 0 0 17 1 0 0 0 0 0 "
         "94539224566160 94539224578216 94539244130304 140726410393461 140726410393503 "
         "140726410393503 140726410395621 0\n";
}

// One /proc/stat cpu line: user nice system idle iowait irq softirq steal guest guest_nice.
using CpuTicks = std::array<std::uint64_t, 10>;

inline std::string CpuStatLine(std::string_view name, const CpuTicks& t) {
  std::string line(name);
  if (name == "cpu") line += ' ';  // the kernel pads the aggregate line with two spaces
  for (const std::uint64_t v : t) line += " " + std::to_string(v);
  return line + "\n";
}

// /proc/stat with the aggregate line (the sum of `cores`) and one line per core, followed
// by the non-cpu lines the kernel writes.
inline std::string ProcStat(const std::vector<CpuTicks>& cores) {
  CpuTicks sum{};
  for (const CpuTicks& c : cores) {
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += c[i];
  }
  std::string text = CpuStatLine("cpu", sum);
  for (std::size_t i = 0; i < cores.size(); ++i) {
    text += CpuStatLine("cpu" + std::to_string(i), cores[i]);
  }
  text +=
      "intr 3170744 0 9 0 0 0 0 0 0 0 0 0 0 156 0 0 0\n"
      "ctxt 6014305\n"
      "btime 1764400000\n"
      "processes 5821\n"
      "procs_running 2\n"
      "procs_blocked 0\n"
      "softirq 1392185 1 250213 2 35263 47 0 1024 570105 0 535530\n";
  return text;
}

// /proc/<pid>/status as Linux 6.x writes it, with VmHWM and VmRSS in kB.
inline std::string PidStatus(std::uint64_t hwm_kb, std::uint64_t rss_kb) {
  const auto kb = [](std::uint64_t v) {
    std::string s = std::to_string(v);
    return std::string(s.size() < 8 ? 8 - s.size() : 0, ' ') + s + " kB";
  };
  return "Name:\tmonitors_test\n"
         "Umask:\t0022\n"
         "State:\tR (running)\n"
         "Tgid:\t4242\n"
         "Ngid:\t0\n"
         "Pid:\t4242\n"
         "PPid:\t1\n"
         "TracerPid:\t0\n"
         "Uid:\t0\t0\t0\t0\n"
         "Gid:\t0\t0\t0\t0\n"
         "FDSize:\t64\n"
         "Groups:\t0 \n"
         "VmPeak:\t" +
         kb(hwm_kb + 90000) +
         "\n"
         "VmSize:\t" +
         kb(hwm_kb + 80000) +
         "\n"
         "VmLck:\t" +
         kb(0) +
         "\n"
         "VmPin:\t" +
         kb(0) +
         "\n"
         "VmHWM:\t" +
         kb(hwm_kb) +
         "\n"
         "VmRSS:\t" +
         kb(rss_kb) +
         "\n"
         "RssAnon:\t" +
         kb(rss_kb / 2) +
         "\n"
         "RssFile:\t" +
         kb(rss_kb - rss_kb / 2) +
         "\n"
         "RssShmem:\t" +
         kb(0) +
         "\n"
         "VmData:\t" +
         kb(rss_kb) +
         "\n"
         "VmStk:\t" +
         kb(132) +
         "\n"
         "VmExe:\t" +
         kb(2048) +
         "\n"
         "VmLib:\t" +
         kb(9000) +
         "\n"
         "VmPTE:\t" +
         kb(200) +
         "\n"
         "VmSwap:\t" +
         kb(0) +
         "\n"
         "HugetlbPages:\t" +
         kb(0) +
         "\n"
         "CoreDumping:\t0\n"
         "THP_enabled:\t1\n"
         "Threads:\t9\n"
         "SigQ:\t0/63382\n"
         "voluntary_ctxt_switches:\t12\n"
         "nonvoluntary_ctxt_switches:\t3\n";
}

// The metric called `name`, or a failed expectation and nullptr.
inline const Metric* FindMetric(const MonitorReport& r, std::string_view name) {
  for (const Metric& m : r.metrics) {
    if (m.name == name) return &m;
  }
  ADD_FAILURE() << "no metric '" << name << "' in report of " << r.monitor;
  return nullptr;
}

inline bool HasMetric(const MonitorReport& r, std::string_view name) {
  for (const Metric& m : r.metrics) {
    if (m.name == name) return true;
  }
  return false;
}

inline double MetricValue(const MonitorReport& r, std::string_view name) {
  const Metric* m = FindMetric(r, name);
  return m ? m->value : -1e300;
}

inline bool HasNoteContaining(const MonitorReport& r, std::string_view text) {
  for (const std::string& n : r.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace deepedge::testing
