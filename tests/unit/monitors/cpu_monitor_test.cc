#include <gtest/gtest.h>

#include "deepedge/monitors.h"
#include "monitors/pseudo_fs.h"
#include "unit/monitors/fake_tree.h"

namespace deepedge {
namespace {

using testing::CpuTicks;
using testing::FakeTree;
using testing::HasMetric;
using testing::HasNoteContaining;
using testing::Hz;
using testing::ManualClock;
using testing::MetricValue;
using testing::PidStatLine;
using testing::ProcStat;

// The comm field may hold spaces, parentheses and digits; only the last ')' ends it.
constexpr const char* kEvilComm = "my) 1 2 3 (weird proc";

TEST(ParsePidStat, CountsFieldsFromTheLastParenthesis) {
  const auto ticks = monitors_internal::ParsePidStat(PidStatLine(77, kEvilComm, 1234, 567));
  ASSERT_TRUE(ticks.has_value()) << ticks.status().ToString();
  EXPECT_EQ(ticks->utime, 1234u);
  EXPECT_EQ(ticks->stime, 567u);
}

TEST(ParsePidStat, RejectsTruncatedLines) {
  EXPECT_EQ(monitors_internal::ParsePidStat("77 (x) S 1 2 3").status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(monitors_internal::ParsePidStat("no parenthesis").status().code(),
            StatusCode::kCorrupt);
}

TEST(ParseProcStat, SumsBusyAndIdleFieldsWithoutGuest) {
  const auto lines =
      monitors_internal::ParseProcStat(ProcStat({CpuTicks{10, 1, 5, 100, 7, 2, 3, 4, 50, 60}}));
  ASSERT_TRUE(lines.has_value());
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].cpu, -1);
  EXPECT_EQ((*lines)[1].cpu, 0);
  EXPECT_EQ((*lines)[1].busy, 10u + 1 + 5 + 2 + 3 + 4);  // guest is already in user
  EXPECT_EQ((*lines)[1].idle, 100u + 7);
}

TEST(ParseProcStat, AcceptsOldKernelsWithFourFields) {
  const auto lines = monitors_internal::ParseProcStat("cpu  1 2 3 4\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(lines.has_value());
  EXPECT_EQ((*lines)[1].busy, 6u);
  EXPECT_EQ((*lines)[1].idle, 4u);
}

class CpuMonitorTest : public ::testing::Test {
 protected:
  void WritePid(std::uint64_t utime, std::uint64_t stime) {
    tree_.Write("proc/4242/stat", PidStatLine(4242, kEvilComm, utime, stime));
  }
  void WriteStat(const std::vector<CpuTicks>& cores) { tree_.Write("proc/stat", ProcStat(cores)); }

  FakeTree tree_;
  ManualClock clock_;
  const std::uint64_t hz_ = Hz();
};

TEST_F(CpuMonitorTest, MeasuresProcessTimeUtilisationAndPerCoreBusy) {
  WritePid(10 * hz_, 5 * hz_);
  // user nice system idle iowait irq softirq steal guest guest_nice
  WriteStat({CpuTicks{1000, 0, 500, 8000, 100, 10, 20, 0, 0, 0},
             CpuTicks{2000, 10, 600, 9000, 0, 0, 0, 0, 0, 0}});
  auto m = MakeCpuMonitor(tree_.Paths(), clock_.AsClock());
  EXPECT_EQ(m->Name(), "cpu");
  ASSERT_TRUE(m->Start().ok());

  clock_.AdvanceSeconds(2);
  WritePid(11 * hz_, 5 * hz_);  // 1 s of CPU in 2 s
  m->Sample();

  clock_.AdvanceSeconds(2);
  WritePid(10 * hz_ + hz_ * 5 / 2, 5 * hz_ + hz_ / 2);  // +2.5 s user, +0.5 s system
  // cpu0: busy +300 (user 200, system 50, irq 20, softirq 30; guest 50 is inside user),
  // idle +100 (idle 90, iowait 10). cpu1: idle +400 only.
  WriteStat({CpuTicks{1200, 0, 550, 8090, 110, 30, 50, 0, 50, 0},
             CpuTicks{2000, 10, 600, 9400, 0, 0, 0, 0, 0, 0}});
  ASSERT_TRUE(m->Stop().ok());

  const MonitorReport r = m->Report();
  EXPECT_TRUE(r.supported);
  EXPECT_EQ(r.monitor, "cpu");
  EXPECT_DOUBLE_EQ(MetricValue(r, "cpu_time_s"), 3.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "user_time_s"), 2.5);
  EXPECT_DOUBLE_EQ(MetricValue(r, "system_time_s"), 0.5);
  EXPECT_DOUBLE_EQ(MetricValue(r, "wall_time_s"), 4.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "utilisation_one_core"), 75.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "utilisation_machine"), 37.5);
  EXPECT_DOUBLE_EQ(MetricValue(r, "logical_cores"), 2.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "core0_busy"), 75.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "core1_busy"), 0.0);
  EXPECT_DOUBLE_EQ(MetricValue(r, "system_busy"), 300.0 / 800.0 * 100.0);
  for (const Metric& metric : r.metrics) {
    EXPECT_EQ(metric.provenance, Provenance::kMeasured) << metric.name;
  }
  const Metric* unit_check = testing::FindMetric(r, "cpu_time_s");
  ASSERT_NE(unit_check, nullptr);
  EXPECT_EQ(unit_check->unit, "s");
  EXPECT_EQ(testing::FindMetric(r, "core0_busy")->unit, "%");

  ASSERT_EQ(r.timelines.size(), 1u);
  EXPECT_EQ(r.timelines[0].name, "utilisation_one_core");
  EXPECT_EQ(r.timelines[0].t_s, (std::vector<double>{2.0, 4.0}));
  EXPECT_EQ(r.timelines[0].values, (std::vector<double>{50.0, 100.0}));
}

TEST_F(CpuMonitorTest, WithoutProcStatKeepsProcessFiguresAndSaysWhy) {
  WritePid(0, 0);
  auto m = MakeCpuMonitor(tree_.Paths(), clock_.AsClock());
  ASSERT_TRUE(m->Start().ok());
  clock_.AdvanceSeconds(1);
  WritePid(hz_ / 2, 0);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_TRUE(r.supported);
  EXPECT_DOUBLE_EQ(MetricValue(r, "utilisation_one_core"), 50.0);
  EXPECT_FALSE(HasMetric(r, "utilisation_machine"));
  EXPECT_FALSE(HasMetric(r, "core0_busy"));
  EXPECT_TRUE(HasNoteContaining(r, "machine-wide CPU figures left out"));
}

TEST_F(CpuMonitorTest, MissingPidStatIsUnsupportedNotZero) {
  WriteStat({CpuTicks{}});
  auto m = MakeCpuMonitor(tree_.Paths("999"), clock_.AsClock());
  ASSERT_TRUE(m->Start().ok());
  m->Sample();
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_FALSE(r.supported);
  EXPECT_NE(r.unsupported_reason.find("999/stat"), std::string::npos) << r.unsupported_reason;
  EXPECT_TRUE(r.metrics.empty());
  EXPECT_TRUE(r.timelines.empty());
}

TEST_F(CpuMonitorTest, ProcessVanishingDuringTheWindowIsAnError) {
  WritePid(0, 0);
  auto m = MakeCpuMonitor(tree_.Paths(), clock_.AsClock());
  ASSERT_TRUE(m->Start().ok());
  tree_.Remove("proc/4242");
  clock_.AdvanceSeconds(1);
  m->Sample();  // skipped, not fatal
  const Status s = m->Stop();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_FALSE(m->Report().supported);
  EXPECT_TRUE(m->Report().metrics.empty());
}

TEST_F(CpuMonitorTest, ZeroLengthWindowOmitsUtilisation) {
  WritePid(0, 0);
  WriteStat({CpuTicks{}});
  auto m = MakeCpuMonitor(tree_.Paths(), clock_.AsClock());
  ASSERT_TRUE(m->Start().ok());
  ASSERT_TRUE(m->Stop().ok());
  const MonitorReport r = m->Report();
  EXPECT_DOUBLE_EQ(MetricValue(r, "cpu_time_s"), 0.0);
  EXPECT_FALSE(HasMetric(r, "utilisation_one_core"));
  EXPECT_FALSE(HasMetric(r, "core0_busy"));
  EXPECT_TRUE(HasNoteContaining(r, "did not advance"));
}

TEST_F(CpuMonitorTest, EnforcesTheLifeCycleAndCanBeRestarted) {
  WritePid(0, 0);
  auto m = MakeCpuMonitor(tree_.Paths(), clock_.AsClock());
  EXPECT_EQ(m->Stop().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(m->Start().ok());
  EXPECT_EQ(m->Start().code(), StatusCode::kInvalidArgument);
  clock_.AdvanceSeconds(1);
  WritePid(hz_, 0);
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_EQ(m->Stop().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(m->Start().ok());  // a second window starts from the new counters
  clock_.AdvanceSeconds(1);
  WritePid(hz_ + hz_ / 4, 0);
  ASSERT_TRUE(m->Stop().ok());
  EXPECT_DOUBLE_EQ(MetricValue(m->Report(), "cpu_time_s"), 0.25);
}

}  // namespace
}  // namespace deepedge
