// `compare` logic: grouping (newest run per group), ratios and significance.
#include "deepedge/compare.h"

#include <gtest/gtest.h>

namespace deepedge {
namespace {

RunRecord MakeRun(std::int64_t id, const std::string& device, double p50,
                  std::optional<std::pair<double, double>> ci, const std::string& time = "") {
  RunRecord r;
  r.id = id;
  r.kind = "bench";
  r.timestamp_utc = time.empty() ? "2026-11-29T10:00:0" + std::to_string(id % 10) + "Z" : time;
  r.device.name = device;
  r.backend = "deepedge";
  r.model.name = "m";
  r.model.precision = "fp32";
  RunMetric m{"latency.p50", p50, "ms", false, {}, {}};
  if (ci) {
    m.ci_low = ci->first;
    m.ci_high = ci->second;
  }
  r.metrics.push_back(m);
  return r;
}

TEST(Compare, AxisNamesRoundTrip) {
  for (CompareAxis a : {CompareAxis::kDevice, CompareAxis::kBackend, CompareAxis::kModel,
                        CompareAxis::kPrecision}) {
    EXPECT_EQ(ParseCompareAxis(CompareAxisName(a)), a);
  }
  EXPECT_FALSE(ParseCompareAxis("colour"));
}

TEST(Compare, IntervalsOverlapIncludingTouching) {
  EXPECT_TRUE(IntervalsOverlap(1, 2, 1.5, 3));
  EXPECT_TRUE(IntervalsOverlap(1.5, 3, 1, 2));
  EXPECT_TRUE(IntervalsOverlap(1, 2, 2, 3));
  EXPECT_TRUE(IntervalsOverlap(1, 4, 2, 3));
  EXPECT_FALSE(IntervalsOverlap(1, 2, 2.01, 3));
  EXPECT_FALSE(IntervalsOverlap(5, 6, 1, 2));
}

TEST(Compare, NewestRunPerGroupRatiosAndSignificance) {
  const std::vector<RunRecord> runs = {
      MakeRun(1, "pi", 40.0, {{39.0, 41.0}}),     MakeRun(2, "laptop", 10.0, {{9.5, 10.5}}),
      MakeRun(3, "pi", 20.0, {{19.0, 21.0}}),      // newer: replaces run 1
      MakeRun(4, "jetson", 20.5, {{20.5, 22.0}}),  // overlaps pi's [19, 21]
      MakeRun(5, "vm", 30.0, std::nullopt),        // no CI: significance unknown
  };
  Expected<CompareTable> t = CompareRuns(runs, CompareAxis::kDevice, "latency.p50");
  ASSERT_TRUE(t) << t.status().message();
  EXPECT_EQ(t->baseline, "pi");  // the first group
  ASSERT_EQ(t->rows.size(), 4u);
  EXPECT_EQ(t->rows[0].group, "pi");
  EXPECT_EQ(t->rows[0].run_id, 3);
  EXPECT_EQ(t->rows[0].runs, 2);
  EXPECT_TRUE(t->rows[0].baseline);
  EXPECT_DOUBLE_EQ(*t->rows[0].ratio, 1.0);
  EXPECT_FALSE(t->rows[0].significant.has_value());

  EXPECT_EQ(t->rows[1].group, "laptop");
  EXPECT_DOUBLE_EQ(*t->rows[1].ratio, 0.5);
  EXPECT_EQ(t->rows[1].significant, true);
  EXPECT_EQ(t->rows[2].group, "jetson");
  EXPECT_DOUBLE_EQ(*t->rows[2].ratio, 20.5 / 20.0);
  EXPECT_EQ(t->rows[2].significant, false);
  EXPECT_EQ(t->rows[3].group, "vm");
  EXPECT_DOUBLE_EQ(*t->rows[3].ratio, 1.5);
  EXPECT_FALSE(t->rows[3].significant.has_value());
  EXPECT_TRUE(t->notes.empty());
}

TEST(Compare, NewestIsByTimestampThenId) {
  const std::vector<RunRecord> runs = {
      MakeRun(1, "pi", 1.0, std::nullopt, "2026-11-29T12:00:00Z"),
      MakeRun(2, "pi", 2.0, std::nullopt,
              "2026-11-29T11:00:00Z"),  // imported later, measured earlier
  };
  Expected<CompareTable> t = CompareRuns(runs, CompareAxis::kDevice, "latency.p50");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->rows[0].run_id, 1);
}

TEST(Compare, ChosenBaselineAndErrors) {
  std::vector<RunRecord> runs = {MakeRun(1, "pi", 40.0, std::nullopt),
                                 MakeRun(2, "laptop", 10.0, std::nullopt)};
  Expected<CompareTable> t = CompareRuns(runs, CompareAxis::kDevice, "latency.p50", "laptop");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->baseline, "laptop");
  EXPECT_DOUBLE_EQ(*t->rows[0].ratio, 4.0);
  EXPECT_TRUE(t->rows[1].baseline);

  t = CompareRuns(runs, CompareAxis::kDevice, "latency.p50", "toaster");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("'toaster'"), std::string::npos);
  EXPECT_NE(t.status().message().find("laptop, pi"), std::string::npos) << t.status().message();

  t = CompareRuns(runs, CompareAxis::kDevice, "accuracy.top1");
  ASSERT_FALSE(t);
  EXPECT_NE(t.status().message().find("metrics stored: latency.p50"), std::string::npos);

  t = CompareRuns({}, CompareAxis::kDevice, "latency.p50");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
}

TEST(Compare, NotesWhenRunsDifferInAnotherAxisOrLackTheMetric) {
  std::vector<RunRecord> runs = {MakeRun(1, "pi", 40.0, std::nullopt),
                                 MakeRun(2, "laptop", 10.0, std::nullopt),
                                 MakeRun(3, "vm", 10.0, std::nullopt)};
  runs[1].model.name = "other";
  runs[2].metrics.clear();
  Expected<CompareTable> t = CompareRuns(runs, CompareAxis::kDevice, "latency.p50");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->rows.size(), 3u);
  EXPECT_FALSE(t->rows[2].metric);
  EXPECT_FALSE(t->rows[2].ratio);
  ASSERT_EQ(t->notes.size(), 2u);
  EXPECT_NE(t->notes[0].find("vm"), std::string::npos);
  EXPECT_NE(t->notes[1].find("differ in model (m, other)"), std::string::npos) << t->notes[1];
}

TEST(Compare, GroupsByBackendModelPrecision) {
  std::vector<RunRecord> runs = {MakeRun(1, "pi", 4.0, std::nullopt),
                                 MakeRun(2, "pi", 2.0, std::nullopt)};
  runs[1].model.precision = "int8";
  Expected<CompareTable> t = CompareRuns(runs, CompareAxis::kPrecision, "latency.p50");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->rows[1].group, "int8");
  EXPECT_DOUBLE_EQ(*t->rows[1].ratio, 0.5);
  EXPECT_EQ(AxisValue(runs[0], CompareAxis::kBackend), "deepedge");
  EXPECT_EQ(AxisValue(runs[0], CompareAxis::kModel), "m");
}

}  // namespace
}  // namespace deepedge
