#include "deepedge/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace deepedge {
namespace {

TEST(StatsTest, EmptySample) {
  Summary s = Summarize(std::vector<double>{});
  EXPECT_EQ(s.count, 0);
  EXPECT_FALSE(s.median_ci_valid);
}

TEST(StatsTest, HandComputedTenValues) {
  // 1..10 shuffled. mean 5.5; sample variance = sum((x-5.5)^2)/9 = 82.5/9.
  const std::vector<double> v = {7, 3, 10, 1, 5, 9, 2, 8, 4, 6};
  Summary s = Summarize(v);
  EXPECT_EQ(s.count, 10);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_NEAR(s.stddev, std::sqrt(82.5 / 9), 1e-12);
  EXPECT_NEAR(s.cv, std::sqrt(82.5 / 9) / 5.5, 1e-12);
  // Nearest rank: p50 -> rank ceil(5) = 5; p90 -> 9; p95 -> ceil(9.5) = 10; p99 -> 10.
  EXPECT_DOUBLE_EQ(s.p50, 5);
  EXPECT_DOUBLE_EQ(s.p90, 9);
  EXPECT_DOUBLE_EQ(s.p95, 10);
  EXPECT_DOUBLE_EQ(s.p99, 10);
  // Median CI ranks: 5 - 1.96*sqrt(10)/2 = 1.90 -> 2; 1 + 5 + 3.10 = 9.10 -> 9.
  EXPECT_TRUE(s.median_ci_valid);
  EXPECT_DOUBLE_EQ(s.median_ci_low, 2);
  EXPECT_DOUBLE_EQ(s.median_ci_high, 9);
}

TEST(StatsTest, MedianIntervalForHundredMatchesTables) {
  // Published order-statistic tables give ranks 40 and 61 for n = 100 at 95%.
  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 1.0);
  Summary s = Summarize(v);
  EXPECT_DOUBLE_EQ(s.median_ci_low, 40);
  EXPECT_DOUBLE_EQ(s.median_ci_high, 61);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.p99, 99);
}

TEST(StatsTest, TooFewForAMedianInterval) {
  Summary s = Summarize(std::vector<double>{4, 1, 3, 2, 5});
  EXPECT_FALSE(s.median_ci_valid);
  EXPECT_DOUBLE_EQ(s.median_ci_low, 1);
  EXPECT_DOUBLE_EQ(s.median_ci_high, 5);
  EXPECT_DOUBLE_EQ(s.p50, 3);
}

TEST(StatsTest, SingleValueHasZeroSpread) {
  Summary s = Summarize(std::vector<double>{2.5});
  EXPECT_DOUBLE_EQ(s.stddev, 0);
  EXPECT_DOUBLE_EQ(s.p99, 2.5);
}

TEST(SampleRecorderTest, ExactBelowCapacity) {
  SampleRecorder r(16);
  for (double v : {7, 3, 10, 1, 5, 9, 2, 8, 4, 6}) r.Add(v);
  EXPECT_FALSE(r.sampled());
  Summary s = r.Summarize();
  EXPECT_DOUBLE_EQ(s.p90, 9);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
}

TEST(SampleRecorderTest, BoundedMemoryWithExactMoments) {
  SampleRecorder r(1000, 7);
  const int n = 100000;
  for (int i = 1; i <= n; ++i) r.Add(i);
  EXPECT_TRUE(r.sampled());
  EXPECT_EQ(r.kept().size(), 1000u);
  Summary s = r.Summarize();
  EXPECT_EQ(s.count, n);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, n);
  EXPECT_NEAR(s.mean, (n + 1) / 2.0, 1e-6);
  // Population of 1..n: stddev = sqrt(n(n+1)/12) for the sample formula, near n/sqrt(12).
  EXPECT_NEAR(s.stddev, std::sqrt(static_cast<double>(n) * (n + 1) / 12.0), 1.0);
  // A uniform sample of 1000 puts the median within a few percent of n/2.
  EXPECT_NEAR(s.p50, n / 2.0, n * 0.05);
  EXPECT_NEAR(s.p90, n * 0.9, n * 0.05);
}

}  // namespace
}  // namespace deepedge
