// Accuracy metrics of `deepedge eval`: proportions with their confidence intervals,
// top-k ranking, and the confusion matrix of a classifier.
//
// All functions are pure and thread-safe; ConfusionMatrix is a plain value (one writer).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace deepedge {

// z for a two-sided 95% interval: the 97.5th percentile of the standard normal.
inline constexpr double kZ95 = 1.959963984540054;

struct ProportionInterval {
  double low = 0.0;
  double high = 1.0;
};

// The Wilson score interval (Wilson 1927) for `successes` out of `trials` at the
// normal quantile `z`: unlike the plain normal approximation it stays inside [0, 1]
// and is sound near 0 and 1, where accuracies live. trials == 0 gives [0, 1]
// (nothing is known). Requires 0 <= successes <= trials and z > 0.
ProportionInterval WilsonInterval(std::int64_t successes, std::int64_t trials, double z = kZ95);

// A proportion metric as reported: "top1" = 9085 / 10000 = 0.9085 [0.9027, 0.9140].
struct ProportionMetric {
  std::string name;
  std::int64_t successes = 0;
  std::int64_t trials = 0;
  double value = 0.0;  // successes / trials; 0 when trials == 0
  double ci_low = 0.0, ci_high = 1.0;
  double confidence = 0.95;
};
ProportionMetric MakeProportionMetric(std::string name, std::int64_t successes,
                                      std::int64_t trials);  // 95% Wilson

// Indices of the k largest scores, largest first; ties go to the lower index, NaN
// ranks below every number. k is clamped to scores.size().
std::vector<int> TopK(std::span<const float> scores, int k);

// True when `label` is among the k largest scores (with TopK's tie rule).
bool InTopK(std::span<const float> scores, int label, int k);

// In place, numerically stable (the maximum is subtracted first).
void Softmax(std::span<float> values);

// UTF-8 to code points; each byte of an invalid or truncated sequence (and an
// overlong or surrogate encoding) becomes U+FFFD, so that any input gives a result.
std::u32string Utf8ToCodePoints(std::string_view utf8);

// Levenshtein distance (insertions, deletions, substitutions, each 1) between two
// code-point strings; O(|a| * |b|) time, O(|b|) memory.
std::int64_t EditDistance(std::u32string_view a, std::u32string_view b);

// Character error rate over a set of lines: the sum of edit distances over the sum of
// reference lengths, in code points. May exceed 1 (insertions); 0 with no reference
// characters.
struct CharErrorRate {
  std::int64_t edits = 0;
  std::int64_t reference_chars = 0;
  void Add(std::string_view reference, std::string_view hypothesis);  // both UTF-8
  double value() const;
};

// counts[truth][predicted] over `classes` classes.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes = 0);

  int classes() const { return classes_; }
  // Both in [0, classes); out-of-range pairs are ignored and return false.
  bool Add(int truth, int predicted);
  std::int64_t count(int truth, int predicted) const;
  std::int64_t total() const { return total_; }
  std::int64_t correct() const;               // the diagonal
  std::int64_t truth_total(int c) const;      // row sum: samples of class c
  std::int64_t predicted_total(int c) const;  // column sum
  // Per class; 0 when the denominator is 0.
  double recall(int c) const;
  double precision(int c) const;

  // A text table: one row per true class (label), one column per predicted class
  // (by index), then the row's recall.
  std::string Format(std::span<const std::string> labels) const;

 private:
  int classes_ = 0;
  std::vector<std::int64_t> counts_;  // row-major [truth][predicted]
  std::int64_t total_ = 0;
};

}  // namespace deepedge
