// Calibration statistics and the arithmetic of quantization parameters (private to
// deepedge_quantize; unit-tested directly).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::quantize {

// Minimum and maximum of the finite values seen (NaN and infinities are skipped:
// they say nothing about a useful range).
struct MinMax {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  std::int64_t count = 0;  // finite values seen
  void Observe(std::span<const float> values);
  bool empty() const { return count == 0; }
};

// A fixed-range histogram over [lo, hi] (from a first min-max pass), `bins` equal bins;
// values outside the range land in the end bins.
class Histogram {
 public:
  static constexpr int kDefaultBins = 2048;
  Histogram(float lo, float hi, int bins = kDefaultBins);
  void Observe(std::span<const float> values);
  // The narrowest [lo, hi] of whole bins that keeps `percentile` % of the values:
  // whole bins are dropped from each end while the count dropped on that end stays
  // <= total * (100 - percentile) / 200. With nothing dropped it is [lo, hi].
  struct Range {
    float lo, hi;
  };
  Range PercentileRange(double percentile) const;
  const std::vector<std::int64_t>& counts() const { return counts_; }

 private:
  float lo_, hi_;
  double width_;
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
};

// Per-tensor asymmetric int8 parameters for a real range: the range is widened to
// include 0 (so that 0 is exact, as padding needs), scale = (hi - lo) / 255 and
// zero_point = round(-128 - lo / scale) in [-128, 127]. A range of only 0 gives
// scale 1, zero point 0.
struct ActivationParams {
  float scale = 1.0f;
  std::int8_t zero_point = 0;
};
ActivationParams ComputeActivationParams(float lo, float hi);

// Symmetric int8 weights: per channel along `axis` (or one scale when axis < 0),
// scale_c = max|w_c| / 127 (1 for an all-zero channel), q = round-half-even(w / scale_c)
// clamped to [-127, 127].
struct QuantizedWeights {
  std::vector<std::int8_t> values;
  std::vector<float> scales;  // one per channel, or one
};
QuantizedWeights QuantizeWeightsSymmetric(std::span<const float> w,
                                          const std::vector<std::int64_t>& dims, int axis);

// int32 bias with scale_c = input_scale * weight_scale_c (per channel when
// weight_scales has one per bias element, else the single weight scale), zero point 0.
struct QuantizedBias {
  std::vector<std::int32_t> values;
  std::vector<float> scales;
};
QuantizedBias QuantizeBias(std::span<const float> b, float input_scale,
                           std::span<const float> weight_scales);

// One calibration sample: a tensor per model input, in the session's input order.
using Sample = std::vector<Tensor>;

// Where calibration samples come from; each sample is produced on demand (the
// percentile method reads them twice).
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int size() const = 0;
  virtual Expected<Sample> Get(int index) const = 0;
  // "8 .npy files from DIR", "16 random samples (uniform [-1, 1), seed 42)".
  virtual std::string Describe() const = 0;
};

// The two sources described in deepedge/quantize.h; the checks happen at creation
// (directory layout, counts, input types) and, per file, in Get (type and shape).
Expected<std::unique_ptr<SampleSource>> DirectorySamples(const std::filesystem::path& dir,
                                                         const std::vector<TensorInfo>& inputs);
Expected<std::unique_ptr<SampleSource>> RandomSamples(int count, std::uint64_t seed,
                                                      const std::vector<TensorInfo>& inputs);

}  // namespace deepedge::quantize
