#include <gtest/gtest.h>

#include "deepedge/monitors.h"
#include "unit/monitors/fake_tree.h"

namespace deepedge {
namespace {

using testing::FakeTree;
using testing::HasNoteContaining;
using testing::ManualClock;
using testing::MetricValue;
using testing::PidStatus;

constexpr std::uint64_t kMiB = 1024;  // in kB

TEST(ReadProcessMemory, ReturnsBytes) {
  FakeTree tree;
  tree.Write("proc/4242/status", PidStatus(150 * kMiB, 100 * kMiB + 512));
  const Expected<ProcessMemory> mem = ReadProcessMemory(tree.Paths());
  ASSERT_TRUE(mem.has_value()) << mem.status().ToString();
  EXPECT_EQ(mem->hwm_bytes, 150ull * 1024 * 1024);
  EXPECT_EQ(mem->rss_bytes, 100ull * 1024 * 1024 + 512 * 1024);
}

TEST(ReadProcessMemory, ExplainsMissingFileAndMissingFields) {
  FakeTree tree;
  EXPECT_EQ(ReadProcessMemory(tree.Paths()).status().code(), StatusCode::kNotFound);
  // A kernel thread's status has no Vm* lines.
  tree.Write("proc/4242/status", "Name:\tkworker/0:1\nState:\tI (idle)\nThreads:\t1\n");
  const Status s = ReadProcessMemory(tree.Paths()).status();
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("VmRSS"), std::string::npos);
}

TEST(MemoryMonitor, RecordsPeakStartStopAndTimeline) {
  FakeTree tree;
  ManualClock clock;
  tree.Write("proc/4242/status", PidStatus(150 * kMiB, 100 * kMiB));
  auto m = MakeMemoryMonitor(tree.Paths(), clock.AsClock());
  EXPECT_EQ(m->Name(), "memory");
  ASSERT_TRUE(m->Start().ok());

  clock.AdvanceSeconds(1);
  tree.Write("proc/4242/status", PidStatus(200 * kMiB, 200 * kMiB));
  m->Sample();
  clock.AdvanceMs(500);
  tree.Write("proc/4242/status", PidStatus(205 * kMiB, 180 * kMiB));
  m->Sample();
  clock.AdvanceMs(1500);
  tree.Write("proc/4242/status", PidStatus(210 * kMiB, 120 * kMiB));
  ASSERT_TRUE(m->Stop().ok());

  const MonitorReport r = m->Report();
  EXPECT_TRUE(r.supported);
  EXPECT_EQ(r.monitor, "memory");
  // VmHWM reached 210 MiB between samples: the kernel saw it, the samples did not.
  EXPECT_DOUBLE_EQ(MetricValue(r, "peak_rss_mib"), 210.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "sampled_peak_rss_mib"), 200.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "rss_start_mib"), 100.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "rss_stop_mib"), 120.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "rss_delta_mib"), 20.0);
  EXPECT_EQ(testing::FindMetric(r, "peak_rss_mib")->unit, "MiB");
  EXPECT_FALSE(HasNoteContaining(r, "before this window"));

  ASSERT_EQ(r.timelines.size(), 1u);
  EXPECT_EQ(r.timelines[0].name, "rss");
  EXPECT_EQ(r.timelines[0].unit, "MiB");
  EXPECT_EQ(r.timelines[0].t_s, (std::vector<double>{0.0, 1.0, 1.5, 3.0}));
  EXPECT_EQ(r.timelines[0].values, (std::vector<double>{100.0, 200.0, 180.0, 120.0}));
}

TEST(MemoryMonitor, SaysWhenTheLifetimePeakPredatesTheWindow) {
  FakeTree tree;
  ManualClock clock;
  tree.Write("proc/4242/status", PidStatus(500 * kMiB, 100 * kMiB));
  auto m = MakeMemoryMonitor(tree.Paths(), clock.AsClock());
  ASSERT_TRUE(m->Start().ok());
  clock.AdvanceSeconds(1);
  tree.Write("proc/4242/status", PidStatus(500 * kMiB, 110 * kMiB));
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_DOUBLE_EQ(MetricValue(r, "peak_rss_mib"), 500.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "sampled_peak_rss_mib"), 110.0);
  EXPECT_TRUE(HasNoteContaining(r, "before this window"));
}

TEST(MemoryMonitor, MissingStatusIsUnsupportedNotZero) {
  FakeTree tree;
  ManualClock clock;
  auto m = MakeMemoryMonitor(tree.Paths(), clock.AsClock());
  ASSERT_TRUE(m->Start().ok());
  m->Sample();
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_FALSE(r.supported);
  EXPECT_NE(r.unsupported_reason.find("4242/status"), std::string::npos) << r.unsupported_reason;
  EXPECT_TRUE(r.metrics.empty());
  EXPECT_TRUE(r.timelines.empty());
}

TEST(MemoryMonitor, FailedSamplesAreSkippedAndCounted) {
  FakeTree tree;
  ManualClock clock;
  tree.Write("proc/4242/status", PidStatus(10 * kMiB, 10 * kMiB));
  auto m = MakeMemoryMonitor(tree.Paths(), clock.AsClock());
  ASSERT_TRUE(m->Start().ok());
  tree.Write("proc/4242/status", "truncated");
  m->Sample();
  tree.Write("proc/4242/status", PidStatus(10 * kMiB, 12 * kMiB));
  clock.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_TRUE(r.supported);
  EXPECT_EQ(r.timelines[0].values, (std::vector<double>{10.0, 12.0}));
  EXPECT_TRUE(HasNoteContaining(r, "1 sample(s)"));
}

}  // namespace
}  // namespace deepedge
