#include "deepedge/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace deepedge {

double NearestRankPercentile(std::span<const double> sorted, double p) {
  const double n = static_cast<double>(sorted.size());
  // Rank r = ceil(p/100 * n), at least 1. The small epsilon keeps p=90, n=10 at rank 9
  // despite 0.9 * 10 evaluating to 9.000000000000002.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * n - 1e-9));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

namespace {

double ZQuantile(double confidence) {
  if (confidence <= 0.90 + 1e-9) return 1.6448536269514722;
  if (confidence <= 0.95 + 1e-9) return 1.959963984540054;
  return 2.5758293035489004;
}

}  // namespace

Summary Summarize(std::span<const double> values, double confidence) {
  Summary s;
  s.confidence = confidence;
  s.count = static_cast<std::int64_t>(values.size());
  if (values.empty()) return s;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const double n = static_cast<double>(sorted.size());
  s.min = sorted.front();
  s.max = sorted.back();
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n;
  if (sorted.size() > 1) {
    double ss = 0;
    for (double v : sorted) ss += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(ss / (n - 1));
  }
  s.cv = s.mean != 0 ? s.stddev / s.mean : 0;
  s.p50 = NearestRankPercentile(sorted, 50);
  s.p90 = NearestRankPercentile(sorted, 90);
  s.p95 = NearestRankPercentile(sorted, 95);
  s.p99 = NearestRankPercentile(sorted, 99);

  const double half_width = ZQuantile(confidence) * std::sqrt(n) / 2;
  const double lo_rank = std::round(n / 2 - half_width);      // 1-based
  const double hi_rank = std::round(1 + n / 2 + half_width);  // 1-based
  s.median_ci_valid = lo_rank >= 1 && hi_rank <= n;
  const auto lo = static_cast<std::size_t>(std::clamp(lo_rank, 1.0, n));
  const auto hi = static_cast<std::size_t>(std::clamp(hi_rank, 1.0, n));
  s.median_ci_low = sorted[lo - 1];
  s.median_ci_high = sorted[hi - 1];
  return s;
}

SampleRecorder::SampleRecorder(std::size_t capacity, std::uint64_t seed)
    : capacity_(std::max<std::size_t>(capacity, 1)), rng_(seed | 1) {
  kept_.reserve(std::min<std::size_t>(capacity_, 4096));
}

void SampleRecorder::Add(double v) {
  ++count_;
  if (count_ == 1) {
    min_ = max_ = v;
  } else {
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  const double delta = v - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (v - mean_);
  if (kept_.size() < capacity_) {
    kept_.push_back(v);
    return;
  }
  // Algorithm R: keep the new value with probability capacity / count.
  rng_ ^= rng_ << 13;  // xorshift64: cheap, and quality is ample for sampling
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const std::uint64_t slot = rng_ % static_cast<std::uint64_t>(count_);
  if (slot < capacity_) kept_[slot] = v;
}

Summary SampleRecorder::Summarize(double confidence) const {
  Summary s = deepedge::Summarize(kept_, confidence);
  if (!sampled()) return s;
  // Exact moments of the whole stream; order statistics stay those of the sample.
  s.count = count_;
  s.min = min_;
  s.max = max_;
  s.mean = mean_;
  s.stddev = count_ > 1 ? std::sqrt(m2_ / static_cast<double>(count_ - 1)) : 0;
  s.cv = s.mean != 0 ? s.stddev / s.mean : 0;
  return s;
}

}  // namespace deepedge
