// Summary statistics of a sample (latencies, usually), computed one way everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace deepedge {

struct Summary {
  std::int64_t count = 0;
  double min = 0, max = 0, mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1 in the denominator); 0 when n < 2
  double cv = 0;      // coefficient of variation: stddev / mean; 0 when mean == 0
  // Percentiles by the nearest-rank method: the smallest sample with at least p% of the
  // sample at or below it (as MLPerf LoadGen reports them). Always an observed value.
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
  // Distribution-free confidence interval for the median from order statistics (ranks
  // n/2 -/+ z*sqrt(n)/2, normal approximation to the binomial). With fewer than 6
  // samples no such interval exists at 95%: median_ci_valid is false and the bounds
  // are the sample's min and max.
  double confidence = 0.95;
  double median_ci_low = 0, median_ci_high = 0;
  bool median_ci_valid = false;
};

// Collects a stream of values in bounded memory. Count, min, max, mean and standard
// deviation are exact (Welford's online algorithm). The first `capacity` values are
// all kept; after that a uniform random sample of `capacity` values is kept
// (reservoir sampling, Vitter's algorithm R), and percentiles and the median's
// interval come from that sample: `sampled()` says so. A harness whose queries take
// 100 ns would otherwise need gigabytes to keep every latency of a 10 s run.
// Thread-safety: none; one writer.
class SampleRecorder {
 public:
  static constexpr std::size_t kDefaultCapacity = std::size_t{1} << 20;

  explicit SampleRecorder(std::size_t capacity = kDefaultCapacity, std::uint64_t seed = 1);
  void Add(double v);
  std::int64_t count() const { return count_; }
  bool sampled() const { return count_ > static_cast<std::int64_t>(capacity_); }
  std::span<const double> kept() const { return kept_; }
  Summary Summarize(double confidence = 0.95) const;

 private:
  std::size_t capacity_;
  std::uint64_t rng_;
  std::vector<double> kept_;
  std::int64_t count_ = 0;
  double mean_ = 0, m2_ = 0, min_ = 0, max_ = 0;
};

// Nearest-rank percentile of an ascending-sorted, non-empty sample; p in [0, 100].
double NearestRankPercentile(std::span<const double> sorted, double p);

// Summarises `values` (any order; not modified). An empty sample gives count 0.
// `confidence` is one of 0.90, 0.95, 0.99 (the z quantiles are tabulated).
Summary Summarize(std::span<const double> values, double confidence = 0.95);

}  // namespace deepedge
