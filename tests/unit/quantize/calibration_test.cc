// Calibration statistics and quantization arithmetic against hand-computed values
// and a straightforward reference.
#include "quantize/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "support/temp_dir.h"

namespace deepedge::quantize {
namespace {

TEST(MinMaxTest, SkipsNonFiniteValues) {
  MinMax m;
  EXPECT_TRUE(m.empty());
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> a = {-1.0f, 3.0f, std::nanf(""), inf};
  const std::vector<float> b = {2.0f, -inf, -0.5f};
  m.Observe(a);
  m.Observe(b);
  EXPECT_EQ(m.min, -1.0f);
  EXPECT_EQ(m.max, 3.0f);
  EXPECT_EQ(m.count, 4);
}

// 0, 1, ..., 999 and one outlier at 1e6, in 2048 bins of width 1e6 / 2048 = 488.28125:
// bin 0 holds 0..488 (489 values), bin 1 489..976, bin 2 977..999 (23), bin 2047 the
// outlier. 99.8 % of 1001 values leaves 1.001 values per tail: the outlier's bin (and
// the empty bins below it) go, bin 2 stays, so the range ends at 3 * 488.28125.
TEST(HistogramTest, PercentileDropsOutlierBinsHandComputed) {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<float>(i));
  v.push_back(1e6f);
  Histogram h(0.0f, 1e6f);
  h.Observe(v);
  EXPECT_EQ(h.counts()[0], 489);
  EXPECT_EQ(h.counts()[1], 488);
  EXPECT_EQ(h.counts()[2], 23);
  EXPECT_EQ(h.counts()[2047], 1);
  Histogram::Range r = h.PercentileRange(99.8);
  EXPECT_FLOAT_EQ(r.lo, 0.0f);
  EXPECT_FLOAT_EQ(r.hi, 1464.84375f);
  // 99.9 % leaves 0.5005 per tail: a bin of one value is kept, the range is [min, max].
  r = h.PercentileRange(99.9);
  EXPECT_FLOAT_EQ(r.lo, 0.0f);
  EXPECT_FLOAT_EQ(r.hi, 1e6f);
  r = h.PercentileRange(100.0);
  EXPECT_FLOAT_EQ(r.hi, 1e6f);
}

TEST(HistogramTest, PercentileCutsBothTails) {
  // -100 (once), 0..99 (once each), 200 (once); range [-100, 200], 4 bins of 75:
  // [-100,-25): 1, [-25,50): 50, [50,125): 50, [125,200]: 1. 98 % of 102 values
  // leaves 1.02 per tail: both end bins go.
  std::vector<float> v = {-100.0f, 200.0f};
  for (int i = 0; i < 100; ++i) v.push_back(static_cast<float>(i));
  Histogram h(-100.0f, 200.0f, 4);
  h.Observe(v);
  EXPECT_EQ(h.counts(), (std::vector<std::int64_t>{1, 50, 50, 1}));
  Histogram::Range r = h.PercentileRange(98.0);
  EXPECT_FLOAT_EQ(r.lo, -25.0f);
  EXPECT_FLOAT_EQ(r.hi, 125.0f);
  r = h.PercentileRange(99.5);  // 0.255 per tail: nothing goes
  EXPECT_FLOAT_EQ(r.lo, -100.0f);
  EXPECT_FLOAT_EQ(r.hi, 200.0f);
}

TEST(HistogramTest, ConstantTensorKeepsItsValue) {
  Histogram h(2.0f, 2.0f);
  const std::vector<float> v(10, 2.0f);
  h.Observe(v);
  Histogram::Range r = h.PercentileRange(99.0);
  EXPECT_EQ(r.lo, 2.0f);
  EXPECT_EQ(r.hi, 2.0f);
}

TEST(ActivationParamsTest, HandComputed) {
  ActivationParams p = ComputeActivationParams(0.0f, 6.0f);  // ReLU6
  EXPECT_FLOAT_EQ(p.scale, 6.0f / 255.0f);
  EXPECT_EQ(p.zero_point, -128);
  p = ComputeActivationParams(-2.0f, 3.0f);
  EXPECT_FLOAT_EQ(p.scale, 5.0f / 255.0f);
  EXPECT_EQ(p.zero_point, -26);             // round(-128 + 2 / (5/255)) = round(-26)
  p = ComputeActivationParams(2.0f, 5.0f);  // widened to include 0
  EXPECT_FLOAT_EQ(p.scale, 5.0f / 255.0f);
  EXPECT_EQ(p.zero_point, -128);
  p = ComputeActivationParams(-3.0f, -1.0f);
  EXPECT_FLOAT_EQ(p.scale, 3.0f / 255.0f);
  EXPECT_EQ(p.zero_point, 127);
  p = ComputeActivationParams(0.0f, 0.0f);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
  // Zero is exactly representable: dequantize(zero_point) == 0.
  p = ComputeActivationParams(-0.7f, 5.3f);
  const float lo = (-128 - p.zero_point) * p.scale, hi = (127 - p.zero_point) * p.scale;
  EXPECT_NEAR(lo, -0.7f, p.scale);
  EXPECT_NEAR(hi, 5.3f, p.scale);
}

TEST(WeightQuantizationTest, PerChannelHandComputed) {
  // [2, 3], axis 0: scales 2/127 and 0.4/127; 1.1 / (2/127) = 69.85 -> 70.
  const std::vector<float> w = {1.1f, -2.0f, 0.5f, 0.1f, 0.25f, -0.4f};
  QuantizedWeights q = QuantizeWeightsSymmetric(w, {2, 3}, 0);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 2.0f / 127.0f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.4f / 127.0f);
  EXPECT_EQ(q.values, (std::vector<std::int8_t>{70, -127, 32, 32, 79, -127}));
  // Axis 1: columns {1.1, .1}, {-2, .25}, {.5, -.4}.
  q = QuantizeWeightsSymmetric(w, {2, 3}, 1);
  EXPECT_EQ(q.scales.size(), 3u);
  EXPECT_FLOAT_EQ(q.scales[2], 0.5f / 127.0f);
  EXPECT_EQ(q.values[2], 127);
  EXPECT_EQ(q.values[5], -102);  // -0.4 / (0.5/127) = -101.6
  // Per tensor: one scale, 2/127.
  q = QuantizeWeightsSymmetric(w, {2, 3}, -1);
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(q.values[3], 6);  // 0.1 * 63.5 = 6.35
  // An all-zero channel gets scale 1 and zeros, not a division by zero.
  q = QuantizeWeightsSymmetric(std::vector<float>{0, 0, 3, -3}, {2, 2}, 0);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.values, (std::vector<std::int8_t>{0, 0, 127, -127}));
}

// Reference: visit every channel by explicit multi-index, as a reader of the spec would.
void ReferenceCheck(const std::vector<float>& w, const std::vector<std::int64_t>& dims, int axis) {
  SCOPED_TRACE("axis " + std::to_string(axis));
  const QuantizedWeights q = QuantizeWeightsSymmetric(w, dims, axis);
  const std::size_t rank = dims.size();
  std::vector<std::int64_t> strides(rank, 1);
  for (std::size_t d = rank - 1; d > 0; --d) strides[d - 1] = strides[d] * dims[d];
  const std::int64_t channels = dims[static_cast<std::size_t>(axis)];
  ASSERT_EQ(q.scales.size(), static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const auto idx = (static_cast<std::int64_t>(i) / strides[static_cast<std::size_t>(axis)]) %
                       dims[static_cast<std::size_t>(axis)];
      if (idx == c) members.push_back(i);
    }
    float absmax = 0;
    for (std::size_t i : members) absmax = std::max(absmax, std::fabs(w[i]));
    const float scale = absmax / 127.0f;
    EXPECT_FLOAT_EQ(q.scales[static_cast<std::size_t>(c)], scale) << "channel " << c;
    for (std::size_t i : members) {
      const int expect = static_cast<int>(std::lrint(static_cast<double>(w[i]) / scale));
      EXPECT_EQ(q.values[i], expect) << "element " << i;
      EXPECT_LE(std::fabs(q.values[i] * scale - w[i]), scale / 2 * 1.0001f);
    }
  }
}

TEST(WeightQuantizationTest, PerChannelMatchesReference) {
  std::uint64_t s = 7;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>(static_cast<double>(s >> 40) / 16777216.0 - 0.5);
  };
  // Conv [O, I, kh, kw], channel scale varies by channel.
  std::vector<float> conv(8 * 3 * 3 * 3);
  for (std::size_t i = 0; i < conv.size(); ++i) conv[i] = next() * static_cast<float>(1 + i / 27);
  ReferenceCheck(conv, {8, 3, 3, 3}, 0);
  // MatMul B [K, N] / Gemm transB=0: axis 1.
  std::vector<float> mm(5 * 7);
  for (float& v : mm) v = next();
  ReferenceCheck(mm, {5, 7}, 1);
  ReferenceCheck(mm, {5, 7}, 0);
}

TEST(BiasQuantizationTest, ScaleIsInputTimesWeightScale) {
  const std::vector<float> b = {0.5f, -1.0f};
  const std::vector<float> ws = {0.01f, 0.02f};
  QuantizedBias q = QuantizeBias(b, 0.1f, ws);
  EXPECT_FLOAT_EQ(q.scales[0], 0.001f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.002f);
  EXPECT_EQ(q.values, (std::vector<std::int32_t>{500, -500}));
  q = QuantizeBias(b, 0.5f, std::vector<float>{0.1f});  // per-tensor weight scale
  EXPECT_EQ(q.values, (std::vector<std::int32_t>{10, -20}));
}

TensorInfo Input(const std::string& name, Shape shape, DType t = DType::kF32) {
  TensorInfo info;
  info.name = name;
  info.dtype = t;
  info.shape = std::move(shape);
  return info;
}

void WriteNpy(const std::filesystem::path& p, Shape shape, float fill, DType t = DType::kF32) {
  std::filesystem::create_directories(p.parent_path());
  Tensor x = Tensor::Allocate(t, std::move(shape)).value();
  if (t == DType::kF32) {
    for (float& v : x.as<float>()) v = fill;
  }
  ASSERT_TRUE(WriteFileAtomic(p, EncodeNpy(x)).ok());
}

TEST(SamplesTest, DirectoryOfNpyFilesInNameOrder) {
  testing::TempDir dir;
  WriteNpy(dir / "b.npy", Shape{1, 2}, 2.0f);
  WriteNpy(dir / "a.npy", Shape{1, 2}, 1.0f);
  dir.Write("notes.txt", "ignored");
  auto src = DirectorySamples(dir.path(), {Input("x", Shape{Shape::kDynamic, 2})});
  ASSERT_TRUE(src.has_value()) << src.status().ToString();
  ASSERT_EQ((*src)->size(), 2);
  EXPECT_NE((*src)->Describe().find("2 .npy files"), std::string::npos);
  auto s0 = (*src)->Get(0);
  ASSERT_TRUE(s0.has_value());
  EXPECT_EQ((*s0)[0].as<float>()[0], 1.0f);
}

TEST(SamplesTest, SeveralInputsPairedByFileName) {
  testing::TempDir dir;
  WriteNpy(dir / "x" / "0.npy", Shape{1, 2}, 1.0f);
  WriteNpy(dir / "y" / "0.npy", Shape{3}, 5.0f);
  const std::vector<TensorInfo> inputs = {Input("x", Shape{1, 2}), Input("y", Shape{3})};
  auto src = DirectorySamples(dir.path(), inputs);
  ASSERT_TRUE(src.has_value()) << src.status().ToString();
  auto s = (*src)->Get(0);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ((*s)[1].as<float>()[2], 5.0f);
  WriteNpy(dir / "y" / "1.npy", Shape{3}, 5.0f);
  auto mismatch = DirectorySamples(dir.path(), inputs);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.status().message().find("1.npy"), std::string::npos);
  auto missing = DirectorySamples(dir.path(), {Input("x", Shape{1, 2}), Input("z", Shape{3})});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'z'"), std::string::npos);
}

TEST(SamplesTest, BadDirectoriesAndFiles) {
  testing::TempDir dir;
  auto none = DirectorySamples(dir / "nope", {Input("x", Shape{2})});
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  auto empty = DirectorySamples(dir.path(), {Input("x", Shape{2})});
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("no .npy files"), std::string::npos);
  WriteNpy(dir / "s.npy", Shape{1, 3}, 0.0f);
  auto src = DirectorySamples(dir.path(), {Input("x", Shape{1, 2})});
  ASSERT_TRUE(src.has_value());
  auto bad_shape = (*src)->Get(0);
  ASSERT_FALSE(bad_shape.has_value());
  EXPECT_NE(bad_shape.status().message().find("1x3"), std::string::npos);
  auto bad_type =
      DirectorySamples(dir.path(), {Input("x", Shape{1, 3}, DType::kI64)}).value()->Get(0);
  ASSERT_FALSE(bad_type.has_value());
  EXPECT_NE(bad_type.status().message().find("i64"), std::string::npos);
  dir.Write("t.npy", "not numpy");
  auto corrupt = DirectorySamples(dir.path(), {Input("x", Shape{1, 3})}).value()->Get(1);
  ASSERT_FALSE(corrupt.has_value());
  EXPECT_NE(corrupt.status().message().find("t.npy"), std::string::npos);
}

TEST(SamplesTest, RandomIsSeededUniformAndFloatOnly) {
  const std::vector<TensorInfo> in = {Input("x", Shape{Shape::kDynamic, 3, 8, 8})};
  auto a = RandomSamples(3, 42, in), b = RandomSamples(3, 42, in), c = RandomSamples(3, 43, in);
  ASSERT_TRUE(a.has_value());
  auto a1 = (*a)->Get(1).value(), b1 = (*b)->Get(1).value(), c1 = (*c)->Get(1).value();
  auto a0 = (*a)->Get(0).value();
  EXPECT_EQ(a1[0].shape(), (Shape{1, 3, 8, 8}));
  double mean = 0;
  for (std::size_t i = 0; i < a1[0].as<float>().size(); ++i) {
    const float v = a1[0].as<float>()[i];
    EXPECT_EQ(v, b1[0].as<float>()[i]);
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
    mean += v;
  }
  EXPECT_NEAR(mean / 192, 0.0, 0.15);
  EXPECT_NE(a1[0].as<float>()[0], c1[0].as<float>()[0]);
  EXPECT_NE(a1[0].as<float>()[0], a0[0].as<float>()[0]);
  EXPECT_EQ(RandomSamples(1, 1, {Input("ids", Shape{4}, DType::kI64)}).status().code(),
            StatusCode::kUnsupported);
  EXPECT_EQ(RandomSamples(0, 1, in).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deepedge::quantize
