#include "deepedge/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace deepedge {

ProportionInterval WilsonInterval(std::int64_t successes, std::int64_t trials, double z) {
  if (trials <= 0) return {0.0, 1.0};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(std::clamp<std::int64_t>(successes, 0, trials)) / n;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / n;
  const double center = (p + z2 / (2.0 * n)) / denom;
  const double half = z / denom * std::sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

ProportionMetric MakeProportionMetric(std::string name, std::int64_t successes,
                                      std::int64_t trials) {
  ProportionMetric m;
  m.name = std::move(name);
  m.successes = successes;
  m.trials = trials;
  m.value = trials > 0 ? static_cast<double>(successes) / static_cast<double>(trials) : 0.0;
  const ProportionInterval ci = WilsonInterval(successes, trials, kZ95);
  m.ci_low = ci.low;
  m.ci_high = ci.high;
  m.confidence = 0.95;
  return m;
}

namespace {

// Strict "ranks before": larger score first, NaN last, lower index on ties.
bool RanksBefore(std::span<const float> s, int a, int b) {
  const float x = s[static_cast<std::size_t>(a)], y = s[static_cast<std::size_t>(b)];
  const bool xn = std::isnan(x), yn = std::isnan(y);
  if (xn != yn) return yn;
  if (!xn && x != y) return x > y;
  return a < b;
}

}  // namespace

std::vector<int> TopK(std::span<const float> scores, int k) {
  const int n = static_cast<int>(scores.size());
  k = std::clamp(k, 0, n);
  std::vector<int> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return RanksBefore(scores, a, b); });
  idx.resize(static_cast<std::size_t>(k));
  return idx;
}

bool InTopK(std::span<const float> scores, int label, int k) {
  if (label < 0 || label >= static_cast<int>(scores.size()) || k <= 0) return false;
  // Count the classes that rank before `label`; no sort needed.
  int before = 0;
  for (int i = 0; i < static_cast<int>(scores.size()); ++i) {
    if (i != label && RanksBefore(scores, i, label)) ++before;
  }
  return before < k;
}

void Softmax(std::span<float> values) {
  if (values.empty()) return;
  const float m = *std::max_element(values.begin(), values.end());
  double sum = 0.0;
  for (float& v : values) {
    v = std::exp(v - m);
    sum += v;
  }
  for (float& v : values) v = static_cast<float>(v / sum);
}

ConfusionMatrix::ConfusionMatrix(int classes)
    : classes_(std::max(0, classes)),
      counts_(static_cast<std::size_t>(classes_) * static_cast<std::size_t>(classes_), 0) {}

bool ConfusionMatrix::Add(int truth, int predicted) {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_) return false;
  ++counts_[static_cast<std::size_t>(truth) * static_cast<std::size_t>(classes_) +
            static_cast<std::size_t>(predicted)];
  ++total_;
  return true;
}

std::int64_t ConfusionMatrix::count(int truth, int predicted) const {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_) return 0;
  return counts_[static_cast<std::size_t>(truth) * static_cast<std::size_t>(classes_) +
                 static_cast<std::size_t>(predicted)];
}

std::int64_t ConfusionMatrix::correct() const {
  std::int64_t c = 0;
  for (int i = 0; i < classes_; ++i) c += count(i, i);
  return c;
}

std::int64_t ConfusionMatrix::truth_total(int c) const {
  std::int64_t s = 0;
  for (int p = 0; p < classes_; ++p) s += count(c, p);
  return s;
}

std::int64_t ConfusionMatrix::predicted_total(int c) const {
  std::int64_t s = 0;
  for (int t = 0; t < classes_; ++t) s += count(t, c);
  return s;
}

double ConfusionMatrix::recall(int c) const {
  const std::int64_t d = truth_total(c);
  return d > 0 ? static_cast<double>(count(c, c)) / static_cast<double>(d) : 0.0;
}

double ConfusionMatrix::precision(int c) const {
  const std::int64_t d = predicted_total(c);
  return d > 0 ? static_cast<double>(count(c, c)) / static_cast<double>(d) : 0.0;
}

std::string ConfusionMatrix::Format(std::span<const std::string> labels) const {
  // Right-aligns `s` in `width` columns (left-aligns with `left`).
  auto pad = [](std::string s, std::size_t width, bool left = false) {
    if (s.size() < width) {
      s.insert(left ? s.end() : s.begin(), width - s.size(), ' ');
    }
    return s;
  };
  std::size_t name_w = 18;  // "truth \\ predicted"
  for (int t = 0; t < classes_; ++t) {
    if (static_cast<std::size_t>(t) < labels.size()) {
      name_w = std::max(name_w, labels[static_cast<std::size_t>(t)].size() + 5);
    }
  }
  name_w = std::min<std::size_t>(name_w, 28);
  std::int64_t largest = 1;
  for (std::int64_t v : counts_) largest = std::max(largest, v);
  const std::size_t cell_w = std::max<std::size_t>(3, std::to_string(largest).size()) + 1;

  std::string out = pad("truth \\ predicted", name_w, true);
  for (int p = 0; p < classes_; ++p) out += pad(std::to_string(p), cell_w);
  out += "  recall\n";
  char buf[32];
  for (int t = 0; t < classes_; ++t) {
    std::string name = std::to_string(t);
    if (static_cast<std::size_t>(t) < labels.size()) {
      name += " " + labels[static_cast<std::size_t>(t)];
    }
    if (name.size() > name_w - 1) name.resize(name_w - 1);
    out += pad(name, name_w, true);
    for (int p = 0; p < classes_; ++p) out += pad(std::to_string(count(t, p)), cell_w);
    std::snprintf(buf, sizeof buf, "  %6.2f %%\n", recall(t) * 100.0);
    out += buf;
  }
  return out;
}

}  // namespace deepedge

namespace deepedge {

std::u32string Utf8ToCodePoints(std::string_view s) {
  constexpr char32_t kReplacement = 0xFFFD;
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    }
    bool ok = len > 0 && i + static_cast<std::size_t>(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) ok = false;
    if (!ok) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return out;
}

std::int64_t EditDistance(std::u32string_view a, std::u32string_view b) {
  // One row of the dynamic-programming table: row[j] = distance(a[0..i), b[0..j)).
  std::vector<std::int64_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<std::int64_t>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::int64_t diagonal = row[0];
    row[0] = static_cast<std::int64_t>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::int64_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

void CharErrorRate::Add(std::string_view reference, std::string_view hypothesis) {
  const std::u32string ref = Utf8ToCodePoints(reference);
  edits += EditDistance(ref, Utf8ToCodePoints(hypothesis));
  reference_chars += static_cast<std::int64_t>(ref.size());
}

double CharErrorRate::value() const {
  return reference_chars > 0 ? static_cast<double>(edits) / static_cast<double>(reference_chars)
                             : 0.0;
}

}  // namespace deepedge
