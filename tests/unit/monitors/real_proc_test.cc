// Against this machine's real /proc: the monitors must work on the running kernel, not
// only on fake trees. Values are checked for plausibility only.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "deepedge/environment.h"
#include "deepedge/monitors.h"
#include "unit/monitors/fake_tree.h"

namespace deepedge {
namespace {

// Keeps one core busy for about `ms` milliseconds.
double BurnCpu(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile double x = 1.0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 10000; ++i) x = std::sqrt(x + i);
  }
  return x;
}

TEST(RealProc, CpuAndMemoryMonitorsMeasureThisProcess) {
  const MonitorPaths paths;  // /proc, /sys, self
  auto cpu = MakeCpuMonitor(paths, SteadyNowNs);
  auto mem = MakeMemoryMonitor(paths, SteadyNowNs);
  ASSERT_TRUE(cpu->Start().ok());
  ASSERT_TRUE(mem->Start().ok());
  std::vector<char> block(8 << 20, 1);  // touch 8 MiB so that RSS is visibly non-trivial
  BurnCpu(150);
  cpu->Sample();
  mem->Sample();
  BurnCpu(150);
  ASSERT_TRUE(cpu->Stop().ok());
  ASSERT_TRUE(mem->Stop().ok());

  const MonitorReport c = cpu->Report();
  ASSERT_TRUE(c.supported) << c.unsupported_reason;
  EXPECT_GE(testing::MetricValue(c, "cpu_time_s"), 0.0);
  EXPECT_GT(testing::MetricValue(c, "wall_time_s"), 0.25);
  EXPECT_GE(testing::MetricValue(c, "logical_cores"), 1.0);
  EXPECT_GE(testing::MetricValue(c, "utilisation_one_core"), 0.0);

  const MonitorReport m = mem->Report();
  ASSERT_TRUE(m.supported) << m.unsupported_reason;
  EXPECT_GT(testing::MetricValue(m, "peak_rss_mib"), 1.0);
  EXPECT_GT(testing::MetricValue(m, "rss_stop_mib"), 1.0);
  EXPECT_EQ(m.timelines.at(0).values.size(), 3u);
  EXPECT_GT(block[block.size() - 1], 0);

  const Expected<ProcessMemory> now = ReadProcessMemory(paths);
  ASSERT_TRUE(now.has_value()) << now.status().ToString();
  EXPECT_GE(now->hwm_bytes, now->rss_bytes);
}

TEST(RealProc, EnergyMonitorMeasuresOrEstimates) {
  auto energy = MakeEnergyMonitor(MonitorPaths{}, SteadyNowNs);
  ASSERT_TRUE(energy->Start().ok());
  BurnCpu(50);
  energy->Sample();
  ASSERT_TRUE(energy->Stop().ok());
  const MonitorReport r = energy->Report();
  ASSERT_TRUE(r.supported) << r.unsupported_reason;
  EXPECT_FALSE(r.source.empty());
  EXPECT_TRUE(std::isfinite(testing::MetricValue(r, "energy_j")));
}

TEST(RealProc, EnvironmentCaptureFindsTheBasics) {
  const EnvironmentInfo info = CaptureEnvironment(MonitorPaths{}, "Release");
  EXPECT_GE(info.logical_cores, 1);
  EXPECT_FALSE(info.kernel.empty());
  EXPECT_FALSE(info.hostname.empty());
}

}  // namespace
}  // namespace deepedge
