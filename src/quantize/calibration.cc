#include "quantize/calibration.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <system_error>

#include "deepedge/npy.h"

namespace deepedge::quantize {

namespace fs = std::filesystem;

void MinMax::Observe(std::span<const float> values) {
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    min = std::min(min, v);
    max = std::max(max, v);
    ++count;
  }
}

Histogram::Histogram(float lo, float hi, int bins)
    : lo_(lo),
      hi_(hi),
      width_((static_cast<double>(hi) - lo) / bins),
      counts_(static_cast<std::size_t>(bins), 0) {}

void Histogram::Observe(std::span<const float> values) {
  const auto last = static_cast<std::int64_t>(counts_.size()) - 1;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    std::int64_t bin = 0;
    if (width_ > 0) {
      const double pos = (static_cast<double>(v) - lo_) / width_;
      bin = pos <= 0 ? 0 : std::min(static_cast<std::int64_t>(pos), last);
    }
    ++counts_[static_cast<std::size_t>(bin)];
    ++total_;
  }
}

Histogram::Range Histogram::PercentileRange(double percentile) const {
  const double tail = static_cast<double>(total_) * (100.0 - percentile) / 200.0;
  const std::size_t n = counts_.size();
  std::size_t lo_bin = 0;
  double cut = 0;
  while (lo_bin + 1 < n && cut + static_cast<double>(counts_[lo_bin]) <= tail) {
    cut += static_cast<double>(counts_[lo_bin]);
    ++lo_bin;
  }
  std::size_t hi_bin = n - 1;
  cut = 0;
  while (hi_bin > lo_bin && cut + static_cast<double>(counts_[hi_bin]) <= tail) {
    cut += static_cast<double>(counts_[hi_bin]);
    --hi_bin;
  }
  Range r;
  r.lo = static_cast<float>(lo_ + static_cast<double>(lo_bin) * width_);
  r.hi = hi_bin + 1 == n ? hi_ : static_cast<float>(lo_ + static_cast<double>(hi_bin + 1) * width_);
  return r;
}

ActivationParams ComputeActivationParams(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  ActivationParams p;
  if (!(hi > lo)) return p;
  p.scale = static_cast<float>((static_cast<double>(hi) - lo) / 255.0);
  if (!(p.scale > 0) || !std::isfinite(p.scale)) {
    p.scale = 1.0f;
    return p;
  }
  const double zp = std::nearbyint(-128.0 - static_cast<double>(lo) / p.scale);
  p.zero_point = static_cast<std::int8_t>(std::clamp(zp, -128.0, 127.0));
  return p;
}

QuantizedWeights QuantizeWeightsSymmetric(std::span<const float> w,
                                          const std::vector<std::int64_t>& dims, int axis) {
  std::int64_t channels = 1, inner = 1;
  if (axis >= 0) {
    channels = dims[static_cast<std::size_t>(axis)];
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < dims.size(); ++d) inner *= dims[d];
  }
  auto channel_of = [&](std::size_t i) {
    return channels == 1
               ? std::size_t{0}
               : static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % channels);
  };
  QuantizedWeights q;
  std::vector<float> absmax(static_cast<std::size_t>(channels), 0.0f);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (std::isfinite(w[i]))
      absmax[channel_of(i)] = std::max(absmax[channel_of(i)], std::abs(w[i]));
  }
  q.scales.resize(absmax.size());
  for (std::size_t c = 0; c < absmax.size(); ++c) {
    q.scales[c] = absmax[c] > 0 ? absmax[c] / 127.0f : 1.0f;
  }
  q.values.resize(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double v = std::nearbyint(static_cast<double>(w[i]) / q.scales[channel_of(i)]);
    q.values[i] = static_cast<std::int8_t>(std::isnan(v) ? 0.0 : std::clamp(v, -127.0, 127.0));
  }
  return q;
}

QuantizedBias QuantizeBias(std::span<const float> b, float input_scale,
                           std::span<const float> weight_scales) {
  QuantizedBias q;
  q.values.resize(b.size());
  q.scales.resize(b.size());
  constexpr double kMax = 2147483647.0, kMin = -2147483648.0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const float ws = weight_scales.size() == b.size() ? weight_scales[i] : weight_scales[0];
    q.scales[i] = input_scale * ws;
    const double v = std::nearbyint(static_cast<double>(b[i]) / q.scales[i]);
    q.values[i] = static_cast<std::int32_t>(std::isnan(v) ? 0.0 : std::clamp(v, kMin, kMax));
  }
  return q;
}

namespace {

Status CheckSampleTensor(const Tensor& t, const TensorInfo& input, const fs::path& file) {
  if (t.dtype() != input.dtype) {
    return InvalidArgument("calibration sample " + file.string() + ": element type " +
                           std::string(DTypeName(t.dtype())) + ", but input '" + input.name +
                           "' takes " + std::string(DTypeName(input.dtype)));
  }
  bool ok = t.shape().rank() == input.shape.rank();
  for (std::size_t d = 0; ok && d < input.shape.rank(); ++d) {
    ok = input.shape[d] == Shape::kDynamic || input.shape[d] == t.shape()[d];
  }
  if (!ok) {
    return InvalidArgument("calibration sample " + file.string() + ": shape " +
                           t.shape().ToString() + " does not fit input '" + input.name + "' (" +
                           input.shape.ToString() + ")");
  }
  return Status::Ok();
}

class DirectorySource : public SampleSource {
 public:
  DirectorySource(std::vector<TensorInfo> inputs, std::vector<fs::path> dirs,
                  std::vector<std::string> files, std::string description)
      : inputs_(std::move(inputs)),
        dirs_(std::move(dirs)),
        files_(std::move(files)),
        description_(std::move(description)) {}
  int size() const override { return static_cast<int>(files_.size()); }
  Expected<Sample> Get(int index) const override {
    Sample s;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      const fs::path file = dirs_[i] / files_[static_cast<std::size_t>(index)];
      Expected<Tensor> t = ReadNpy(file);
      if (!t) return t.status().WithContext("calibration sample " + file.string());
      DEEPEDGE_RETURN_IF_ERROR(CheckSampleTensor(*t, inputs_[i], file));
      s.push_back(std::move(t).value());
    }
    return s;
  }
  std::string Describe() const override { return description_; }

 private:
  std::vector<TensorInfo> inputs_;
  std::vector<fs::path> dirs_;  // one per input
  std::vector<std::string> files_;
  std::string description_;
};

// The .npy file names of a directory, sorted.
Expected<std::vector<std::string>> NpyFiles(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".npy" && it->is_regular_file(ec)) {
      names.push_back(it->path().filename().string());
    }
  }
  if (ec) return IoError("calibration directory " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::uint64_t SplitMix64Next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class RandomSource : public SampleSource {
 public:
  RandomSource(std::vector<TensorInfo> inputs, int count, std::uint64_t seed)
      : inputs_(std::move(inputs)), count_(count), seed_(seed) {}
  int size() const override { return count_; }
  Expected<Sample> Get(int index) const override {
    // Each sample has its own stream, so sample i is the same in both passes.
    std::uint64_t state = seed_ ^ (0xD1B54A32D192ED03ULL * static_cast<std::uint64_t>(index + 1));
    Sample s;
    for (const TensorInfo& in : inputs_) {
      std::vector<std::int64_t> dims = in.shape.dims();
      for (std::int64_t& d : dims) d = d == Shape::kDynamic ? 1 : d;
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DType::kF32, Shape(dims)));
      for (float& v : t.as<float>()) {
        v = static_cast<float>(SplitMix64Next(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
      }
      s.push_back(std::move(t));
    }
    return s;
  }
  std::string Describe() const override {
    return std::to_string(count_) + " random samples (uniform [-1, 1), seed " +
           std::to_string(seed_) + ")";
  }

 private:
  std::vector<TensorInfo> inputs_;
  int count_;
  std::uint64_t seed_;
};

}  // namespace

Expected<std::unique_ptr<SampleSource>> DirectorySamples(const fs::path& dir,
                                                         const std::vector<TensorInfo>& inputs) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    return NotFound("calibration directory " + dir.string() + ": no such directory");
  }
  if (!fs::is_directory(dir, ec)) {
    return InvalidArgument("calibration directory " + dir.string() + ": not a directory");
  }
  if (inputs.empty()) return InvalidArgument("the model has no inputs to calibrate");
  std::vector<fs::path> dirs;
  if (inputs.size() == 1 && !fs::is_directory(dir / inputs[0].name, ec)) {
    dirs.push_back(dir);
  } else {
    for (const TensorInfo& in : inputs) {
      if (!fs::is_directory(dir / in.name, ec)) {
        return NotFound("calibration directory " + dir.string() + " has no subdirectory '" +
                        in.name + "' (a model with several inputs needs DIR/<input name>/*.npy)");
      }
      dirs.push_back(dir / in.name);
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::string> files, NpyFiles(dirs[0]));
  if (files.empty()) {
    return InvalidArgument("calibration directory " + dirs[0].string() + " has no .npy files");
  }
  for (std::size_t i = 1; i < dirs.size(); ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::string> other, NpyFiles(dirs[i]));
    std::vector<std::string> diff;
    std::set_symmetric_difference(files.begin(), files.end(), other.begin(), other.end(),
                                  std::back_inserter(diff));
    if (!diff.empty()) {
      return InvalidArgument("calibration directories " + dirs[0].string() + " and " +
                             dirs[i].string() + " do not hold the same file names (" + diff[0] +
                             " is in one only)");
    }
  }
  const std::string description = std::to_string(files.size()) + " .npy file" +
                                  (files.size() == 1 ? "" : "s") + " from " + dir.string();
  return std::unique_ptr<SampleSource>(
      new DirectorySource(inputs, std::move(dirs), std::move(files), description));
}

Expected<std::unique_ptr<SampleSource>> RandomSamples(int count, std::uint64_t seed,
                                                      const std::vector<TensorInfo>& inputs) {
  if (count <= 0) return InvalidArgument("--calibration-random needs a positive sample count");
  for (const TensorInfo& in : inputs) {
    if (in.dtype != DType::kF32) {
      return Unsupported("input '" + in.name + "' is " + std::string(DTypeName(in.dtype)) +
                         ": random calibration makes float32 inputs only (use --calibration DIR)");
    }
  }
  return std::unique_ptr<SampleSource>(new RandomSource(inputs, count, seed));
}

}  // namespace deepedge::quantize
