#include "deepedge/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace deepedge {
namespace {

// Published Wilson score intervals (Newcombe 1998, Statistics in Medicine 17:857-872,
// Table II, method 3), given there to 4 decimals.
TEST(WilsonInterval, MatchesNewcombesPublishedValues) {
  struct Case {
    std::int64_t x, n;
    double low, high;
  } cases[] = {{81, 263, 0.2553, 0.3662},
               {15, 148, 0.0624, 0.1605},
               {0, 20, 0.0, 0.1611},
               {1, 29, 0.0061, 0.1718}};
  for (const Case& c : cases) {
    const ProportionInterval ci = WilsonInterval(c.x, c.n);
    EXPECT_NEAR(ci.low, c.low, 5e-5) << c.x << "/" << c.n;
    EXPECT_NEAR(ci.high, c.high, 5e-5) << c.x << "/" << c.n;
  }
}

// By hand, z = 1.96 (rounded, so the tolerance is 1e-4): 5 / 10 gives p = 0.5,
// z^2/n = 0.38416, centre (0.5 + 0.19208) / 1.38416 = 0.5, half width
// 1.96 / 1.38416 * sqrt(0.025 + 0.009604) = 0.26341: [0.23659, 0.76341].
TEST(WilsonInterval, FiveOfTenByHand) {
  const ProportionInterval ci = WilsonInterval(5, 10);
  EXPECT_NEAR(ci.low, 0.23659, 1e-4);
  EXPECT_NEAR(ci.high, 0.76341, 1e-4);
  const ProportionInterval ci196 = WilsonInterval(5, 10, 1.96);
  EXPECT_NEAR(ci196.low, 0.236589, 2e-6);
  EXPECT_NEAR(ci196.high, 0.763411, 2e-6);
}

TEST(WilsonInterval, EdgesAndNoData) {
  const ProportionInterval all = WilsonInterval(10, 10);
  EXPECT_NEAR(all.low, 0.722467, 1e-6);
  EXPECT_DOUBLE_EQ(all.high, 1.0);
  const ProportionInterval none = WilsonInterval(0, 10);
  EXPECT_DOUBLE_EQ(none.low, 0.0);
  EXPECT_NEAR(none.high, 0.277533, 1e-6);
  const ProportionInterval empty = WilsonInterval(0, 0);
  EXPECT_DOUBLE_EQ(empty.low, 0.0);
  EXPECT_DOUBLE_EQ(empty.high, 1.0);
}

TEST(WilsonInterval, NarrowsWithMoreTrialsAndContainsTheEstimate) {
  double width = 1.0;
  for (std::int64_t n : {10, 100, 1000, 10000}) {
    const ProportionInterval ci = WilsonInterval(n * 9 / 10, n);
    EXPECT_LE(ci.low, 0.9);
    EXPECT_GE(ci.high, 0.9);
    EXPECT_LT(ci.high - ci.low, width);
    width = ci.high - ci.low;
  }
}

TEST(ProportionMetric, ValueAndInterval) {
  const ProportionMetric m = MakeProportionMetric("top1", 9085, 10000);
  EXPECT_EQ(m.name, "top1");
  EXPECT_DOUBLE_EQ(m.value, 0.9085);
  EXPECT_NEAR(m.ci_low, 0.902691, 1e-6);
  EXPECT_NEAR(m.ci_high, 0.913995, 1e-6);
  EXPECT_DOUBLE_EQ(m.confidence, 0.95);
  EXPECT_DOUBLE_EQ(MakeProportionMetric("x", 0, 0).value, 0.0);
}

TEST(TopK, OrdersByScoreWithLowerIndexOnTies) {
  const float s[] = {0.1f, 0.5f, 0.2f, 0.5f, -1.0f};
  EXPECT_EQ(TopK(s, 3), (std::vector<int>{1, 3, 2}));
  EXPECT_EQ(TopK(s, 1), (std::vector<int>{1}));
  EXPECT_EQ(TopK(s, 99), (std::vector<int>{1, 3, 2, 0, 4}));
  EXPECT_TRUE(TopK(s, 0).empty());
}

TEST(TopK, NanRanksLast) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float s[] = {nan, -5.0f, nan, 2.0f};
  EXPECT_EQ(TopK(s, 4), (std::vector<int>{3, 1, 0, 2}));
  EXPECT_FALSE(InTopK(s, 0, 2));
  EXPECT_TRUE(InTopK(s, 0, 3));
}

// InTopK against the simple reference "label is in TopK(k)" on random scores with
// many ties (values drawn from a small set).
TEST(TopK, InTopKAgreesWithTheSortedReference) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> v(0, 4);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<float> s(10);
    for (float& x : s) x = static_cast<float>(v(rng));
    for (int k = 1; k <= 10; ++k) {
      const std::vector<int> top = TopK(s, k);
      for (int label = 0; label < 10; ++label) {
        const bool in_ref = std::find(top.begin(), top.end(), label) != top.end();
        ASSERT_EQ(InTopK(s, label, k), in_ref) << "trial " << trial << " k " << k;
      }
    }
  }
  const float s[] = {1, 2, 3};
  EXPECT_FALSE(InTopK(s, -1, 3));
  EXPECT_FALSE(InTopK(s, 3, 3));
  EXPECT_FALSE(InTopK(s, 2, 0));
}

TEST(Softmax, SumsToOneAndSurvivesLargeLogits) {
  float v[] = {1000.0f, 1001.0f, 999.0f};
  Softmax(v);
  EXPECT_NEAR(v[0] + v[1] + v[2], 1.0f, 1e-6f);
  // exp(0) : exp(1) : exp(-1) normalised.
  const double e = std::exp(1.0), sum = 1.0 + e + 1.0 / e;
  EXPECT_NEAR(v[0], 1.0 / sum, 1e-6);
  EXPECT_NEAR(v[1], e / sum, 1e-6);
  EXPECT_NEAR(v[2], 1.0 / e / sum, 1e-6);
}

TEST(ConfusionMatrix, CountsTotalsRecallPrecision) {
  ConfusionMatrix m(3);
  // truth 0: predicted 0, 0, 1; truth 1: 1; truth 2: 0, 2.
  for (auto [t, p] : {std::pair{0, 0}, {0, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 2}}) {
    EXPECT_TRUE(m.Add(t, p));
  }
  EXPECT_FALSE(m.Add(3, 0));
  EXPECT_FALSE(m.Add(0, -1));
  EXPECT_EQ(m.total(), 6);
  EXPECT_EQ(m.correct(), 4);
  EXPECT_EQ(m.count(0, 0), 2);
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(2, 0), 1);
  EXPECT_EQ(m.count(1, 0), 0);
  EXPECT_EQ(m.count(5, 5), 0);
  EXPECT_EQ(m.truth_total(0), 3);
  EXPECT_EQ(m.predicted_total(0), 3);
  EXPECT_DOUBLE_EQ(m.recall(0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.precision(0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 1.0);
  EXPECT_DOUBLE_EQ(m.precision(1), 0.5);
  EXPECT_DOUBLE_EQ(m.recall(2), 0.5);
  EXPECT_DOUBLE_EQ(ConfusionMatrix(2).recall(0), 0.0);

  const std::string labels[] = {"cat", "dog", "bird"};
  const std::string text = m.Format(labels);
  EXPECT_NE(text.find("0 cat"), std::string::npos) << text;
  EXPECT_NE(text.find("2 bird"), std::string::npos) << text;
  EXPECT_NE(text.find("66.67 %"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << text;
}

}  // namespace
}  // namespace deepedge
