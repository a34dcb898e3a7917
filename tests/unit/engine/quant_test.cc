// Quantization kernels against naive references (double / int64 arithmetic).
#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using testing::F32;
using testing::MakeNode;
using testing::MakeTensor;
using testing::RunNode;
using testing::SetInt;
using testing::SetInts;
using testing::SetString;

std::uint32_t Next(std::uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}

std::vector<float> RandomFloats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::vector<float> v(n);
  for (float& x : v) x = lo + (hi - lo) * static_cast<float>(Next(seed)) / float(1u << 24);
  return v;
}

std::vector<std::int32_t> RandomInts(std::size_t n, std::int32_t lo, std::int32_t hi,
                                     std::uint32_t seed) {
  std::vector<std::int32_t> v(n);
  for (auto& x : v)
    x = lo + static_cast<std::int32_t>(Next(seed) % static_cast<std::uint32_t>(hi - lo + 1));
  return v;
}

// A u8 or i8 tensor from int values.
Tensor Q(DType t, const Shape& s, const std::vector<std::int32_t>& v) {
  if (t == DType::kU8) {
    return MakeTensor(t, s, std::vector<std::uint8_t>(v.begin(), v.end()));
  }
  if (t == DType::kI16) {
    return MakeTensor(t, s, std::vector<std::int16_t>(v.begin(), v.end()));
  }
  return MakeTensor(t, s, std::vector<std::int8_t>(v.begin(), v.end()));
}

std::vector<std::int32_t> Ints(const Tensor& t) {
  std::vector<std::int32_t> v;
  if (t.dtype() == DType::kU8) {
    for (auto x : t.as<std::uint8_t>()) v.push_back(x);
  } else if (t.dtype() == DType::kI8) {
    for (auto x : t.as<std::int8_t>()) v.push_back(x);
  } else if (t.dtype() == DType::kI16) {
    for (auto x : t.as<std::int16_t>()) v.push_back(x);
  } else {
    for (auto x : t.as<std::int32_t>()) v.push_back(x);
  }
  return v;
}

std::int32_t Lo(DType t) {
  return t == DType::kU8 ? 0 : -128;
}
std::int32_t Hi(DType t) {
  return t == DType::kU8 ? 255 : 127;
}

// Round half to even, written out.
double RoundHalfEven(double v) {
  const double f = std::floor(v);
  const double diff = v - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

std::int32_t RefQuant(double v, std::int32_t zp, DType t) {
  const double r = RoundHalfEven(v) + zp;
  return static_cast<std::int32_t>(std::clamp(r, double(Lo(t)), double(Hi(t))));
}

void ExpectErrorNaming(const Expected<std::vector<Tensor>>& r, const std::string& node) {
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find(node), std::string::npos) << r.status().message();
}

// ---------------------------------------------------------------------------

TEST(QuantizeLinearTest, RoundsHalfToEvenAndSaturates) {
  struct Case {
    float x;
    float scale;
    std::int32_t zp;
    DType type;
    std::int32_t want;
  };
  const Case cases[] = {
      {2.5f, 1, 0, DType::kU8, 2},
      {3.5f, 1, 0, DType::kU8, 4},
      {-2.5f, 1, 0, DType::kI8, -2},
      {-3.5f, 1, 0, DType::kI8, -4},
      {0.5f, 1, 0, DType::kI8, 0},
      {1.5f, 1, 0, DType::kI8, 2},
      {5.0f, 2, 10, DType::kU8, 12},
      {7.0f, 2, 10, DType::kU8, 14},  // 3.5 -> 4
      {300.0f, 1, 0, DType::kU8, 255},
      {-1.0f, 1, 0, DType::kU8, 0},
      {200.0f, 1, 0, DType::kI8, 127},
      {-200.0f, 1, 0, DType::kI8, -128},
      {-10.0f, 1, 5, DType::kU8, 0},
      {1000.0f, 0.5f, -100, DType::kI8, 127},
      {0.3f, 0.1f, 3, DType::kU8, 6},
      {-129.4f, 1, 0, DType::kI8, -128},
      // Outside the fast path's rounding range, infinities and NaN (-> the zero point).
      {1e30f, 1, 0, DType::kI8, 127},
      {-1e30f, 1, 3, DType::kU8, 0},
      {std::numeric_limits<float>::infinity(), 1, 0, DType::kI8, 127},
      {-std::numeric_limits<float>::infinity(), 1, 7, DType::kU8, 0},
      {std::numeric_limits<float>::quiet_NaN(), 1, 5, DType::kU8, 5},
      {std::numeric_limits<float>::quiet_NaN(), 1, -9, DType::kI8, -9},
      // int16 (TFLite's 16x8 activations; ONNX opset 21).
      {2.5f, 1, 0, DType::kI16, 2},
      {-3.5f, 1, 0, DType::kI16, -4},
      {1000.0f, 0.01f, 0, DType::kI16, 32767},
      {-400.0f, 0.01f, 0, DType::kI16, -32768},
      {12.34f, 0.001f, -7, DType::kI16, 12333},
      {-1e30f, 1, 3, DType::kI16, -32768},
      {std::numeric_limits<float>::quiet_NaN(), 1, 300, DType::kI16, 300},
  };
  for (const Case& c : cases) {
    for (int opset : {10, 13}) {
      Tensor x = F32({1}, {c.x});
      Tensor scale = F32({}, {c.scale});
      Tensor zp = Q(c.type, {}, {c.zp});
      ir::Node n = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, opset);
      auto out = RunNode(n, {&x, &scale, &zp});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      EXPECT_EQ((*out)[0].dtype(), c.type);
      EXPECT_EQ(Ints((*out)[0])[0], c.want) << c.x << " / " << c.scale << " + " << c.zp;
    }
  }
}

TEST(QuantizeLinearTest, MissingZeroPointMeansU8AndZero) {
  Tensor x = F32({4}, {-1, 0, 1.5f, 511});
  Tensor scale = F32({}, {2});
  ir::Node n = MakeNode("QuantizeLinear", {"x", "s"}, {"y"}, 13);
  auto out = RunNode(n, {&x, &scale});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].dtype(), DType::kU8);
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{0, 0, 1, 255}));
}

// int16 through QuantizeLinear (per tensor and per axis) and back through
// DequantizeLinear, against double arithmetic.
TEST(QuantizeLinearTest, Int16RoundTripsPerTensorAndPerAxis) {
  const std::vector<float> xs = RandomFloats(24, -3.0f, 3.0f, 7);
  for (bool per_axis : {false, true}) {
    Tensor x = F32({2, 12}, xs);
    const std::vector<float> scales =
        per_axis ? std::vector<float>{1e-4f, 2e-4f} : std::vector<float>{1e-4f};
    const std::vector<std::int32_t> zps =
        per_axis ? std::vector<std::int32_t>{5, -9} : std::vector<std::int32_t>{5};
    const Shape ps = per_axis ? Shape{2} : Shape{};
    Tensor scale = F32(ps, scales);
    Tensor zp = Q(DType::kI16, ps, zps);
    ir::Node q = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 13);
    SetInt(q, "axis", 0);
    auto y = RunNode(q, {&x, &scale, &zp});
    ASSERT_TRUE(y.has_value()) << y.status().message();
    ASSERT_EQ((*y)[0].dtype(), DType::kI16);
    const std::vector<std::int32_t> got = Ints((*y)[0]);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::size_t c = per_axis ? i / 12 : 0;
      const double want = std::clamp(
          std::nearbyint(static_cast<double>(xs[i] / scales[c])) + zps[c], -32768.0, 32767.0);
      ASSERT_EQ(got[i], static_cast<std::int32_t>(want)) << i;
    }
    ir::Node dq = MakeNode("DequantizeLinear", {"y", "s", "z"}, {"r"}, 13);
    SetInt(dq, "axis", 0);
    auto r = RunNode(dq, {&(*y)[0], &scale, &zp});
    ASSERT_TRUE(r.has_value()) << r.status().message();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::size_t c = per_axis ? i / 12 : 0;
      ASSERT_NEAR((*r)[0].as<float>()[i], xs[i], scales[c] / 2 * 1.001) << i;
    }
  }
}

TEST(QuantizeLinearTest, Int32Input) {
  Tensor x = testing::I32({3}, {5, -7, 1000});
  Tensor scale = F32({}, {2});
  Tensor zp = Q(DType::kI8, {}, {1});
  ir::Node n = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 13);
  auto out = RunNode(n, {&x, &scale, &zp});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{3, -3, 127}));  // 2.5->2, -3.5->-4
}

struct AxisCase {
  Shape shape;
  std::int64_t axis;
  DType type;
};

TEST(QuantizeLinearTest, PerAxisMatchesReference) {
  const AxisCase cases[] = {{{2, 3, 2}, 1, DType::kU8},
                            {{2, 3, 2}, -1, DType::kI8},
                            {{4, 3}, 0, DType::kI8},
                            {{3, 2, 2, 2}, 1, DType::kU8},
                            {{2, 5}, 1, DType::kU8}};
  std::uint32_t seed = 7;
  for (const AxisCase& c : cases) {
    const auto rank = static_cast<std::int64_t>(c.shape.rank());
    const auto a = static_cast<std::size_t>(c.axis < 0 ? c.axis + rank : c.axis);
    const std::int64_t len = c.shape[a];
    std::int64_t inner = 1;
    for (std::size_t d = a + 1; d < c.shape.rank(); ++d) inner *= c.shape[d];
    const auto n = static_cast<std::size_t>(c.shape.element_count());
    const std::vector<float> xv = RandomFloats(n, -20, 20, seed++);
    const std::vector<float> sv = RandomFloats(static_cast<std::size_t>(len), 0.05f, 0.3f, seed++);
    const std::vector<std::int32_t> zv =
        RandomInts(static_cast<std::size_t>(len), Lo(c.type) / 2, Hi(c.type) / 2, seed++);
    Tensor x = F32(c.shape, xv);
    Tensor s = F32({len}, sv);
    Tensor z = Q(c.type, {len}, zv);
    ir::Node node = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 13);
    SetInt(node, "axis", c.axis);
    auto out = RunNode(node, {&x, &s, &z});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    const auto got = Ints((*out)[0]);
    for (std::size_t i = 0; i < n; ++i) {
      const auto ch = static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % len);
      const double q = static_cast<double>(xv[i] / sv[ch]);  // the division is in f32
      EXPECT_EQ(got[i], RefQuant(q, zv[ch], c.type)) << c.shape.ToString() << " at " << i;
    }

    // Dequantize it back, per axis.
    ir::Node dq = MakeNode("DequantizeLinear", {"q", "s", "z"}, {"y"}, 13);
    SetInt(dq, "axis", c.axis);
    Tensor qt = Q(c.type, c.shape, got);
    auto back = RunNode(dq, {&qt, &s, &z});
    ASSERT_TRUE(back.has_value()) << back.status().message();
    for (std::size_t i = 0; i < n; ++i) {
      const auto ch = static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % len);
      const double want = static_cast<double>(got[i] - zv[ch]) * sv[ch];
      EXPECT_NEAR((*back)[0].as<float>()[i], want, 1e-6 * std::max(1.0, std::fabs(want)));
    }
  }
}

TEST(QuantizeLinearTest, PerAxisErrors) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor s3 = F32({3}, {1, 1, 1});
  Tensor z3 = Q(DType::kU8, {3}, {0, 0, 0});
  // Opset 10 has no per-axis quantization.
  ir::Node old = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 10);
  ExpectErrorNaming(RunNode(old, {&x, &s3, &z3}), "QuantizeLinear_test");
  // Axis 0 has 2 elements, not 3.
  ir::Node wrong = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 13);
  SetInt(wrong, "axis", 0);
  ExpectErrorNaming(RunNode(wrong, {&x, &s3, &z3}), "QuantizeLinear_test");
  // Zero point of another length.
  Tensor z2 = Q(DType::kU8, {2}, {0, 0});
  ir::Node mism = MakeNode("QuantizeLinear", {"x", "s", "z"}, {"y"}, 13);
  ExpectErrorNaming(RunNode(mism, {&x, &s3, &z2}), "QuantizeLinear_test");
  // An unsupported zero point type.
  Tensor zi = testing::I32({}, {0});
  Tensor s1 = F32({}, {1});
  auto r = RunNode(mism, {&x, &s1, &zi});
  ExpectErrorNaming(r, "QuantizeLinear_test");
  // Dequantize: zero point type differs from the input type.
  Tensor q = Q(DType::kU8, {2}, {1, 2});
  Tensor zi8 = Q(DType::kI8, {}, {0});
  ir::Node dq = MakeNode("DequantizeLinear", {"x", "s", "z"}, {"y"}, 13);
  ExpectErrorNaming(RunNode(dq, {&q, &s1, &zi8}), "DequantizeLinear_test");
}

TEST(DequantizeLinearTest, PerTensorAndInt32) {
  Tensor x = Q(DType::kU8, {4}, {0, 3, 128, 255});
  Tensor s = F32({}, {2});
  Tensor z = Q(DType::kU8, {}, {128});
  ir::Node n = MakeNode("DequantizeLinear", {"x", "s", "z"}, {"y"}, 10);
  auto out = RunNode(n, {&x, &s, &z});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto y = (*out)[0].as<float>();
  EXPECT_EQ(std::vector<float>(y.begin(), y.end()), (std::vector<float>{-256, -250, 0, 254}));

  Tensor xi = testing::I32({3}, {-5, 0, 100000});
  Tensor s2 = F32({}, {0.5f});
  ir::Node ni = MakeNode("DequantizeLinear", {"x", "s"}, {"y"}, 13);
  out = RunNode(ni, {&xi, &s2});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  const auto yi = (*out)[0].as<float>();
  EXPECT_EQ(std::vector<float>(yi.begin(), yi.end()), (std::vector<float>{-2.5f, 0, 50000}));

  Tensor x8 = Q(DType::kI8, {2}, {-128, 127});
  Tensor z8 = Q(DType::kI8, {}, {-1});
  out = RunNode(n, {&x8, &s, &z8});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].as<float>()[0], -254.0f);
  EXPECT_EQ((*out)[0].as<float>()[1], 256.0f);
}

// ---------------------------------------------------------------------------

struct DynCase {
  std::vector<float> x;
  float scale;
  std::int32_t zp;
  std::vector<std::int32_t> y;
};

TEST(DynamicQuantizeLinearTest, MatchesTheSpecExamples) {
  const DynCase cases[] = {
      {{0, 2, -3, -2.5f, 1.34f, 0.5f}, 5.0f / 255, 153, {153, 255, 0, 26, 221, 179}},
      {{1, 2.1f, 1.3f, 2.5f, 3.34f, 4.0f, 1.5f, 2.6f, 3.9f, 4.0f, 3.0f, 2.345f},
       4.0f / 255,
       0,
       {64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149}},
      {{-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f, -1.5f, -2.6f, -3.9f, -4.0f, -3.0f, -2.345f},
       4.0f / 255,
       255,
       {191, 121, 172, 96, 42, 0, 159, 89, 6, 0, 64, 106}},
  };
  for (const DynCase& c : cases) {
    Tensor x = F32({static_cast<std::int64_t>(c.x.size())}, c.x);
    ir::Node n = MakeNode("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"}, 11);
    auto out = RunNode(n, {&x});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_FLOAT_EQ((*out)[1].as<float>()[0], c.scale);
    EXPECT_EQ((*out)[1].shape(), Shape{});
    EXPECT_EQ((*out)[2].as<std::uint8_t>()[0], c.zp);
    // Reference: float division, round half to even, saturate.
    const auto got = Ints((*out)[0]);
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      const float s = (*out)[1].as<float>()[0];
      EXPECT_EQ(got[i], RefQuant(static_cast<double>(c.x[i] / s), c.zp, DType::kU8)) << i;
      EXPECT_NEAR(got[i], c.y[i], 1) << i;  // the spec's printed values
    }
  }
}

TEST(DynamicQuantizeLinearTest, AllZeros) {
  Tensor x = F32({3}, {0, 0, 0});
  ir::Node n = MakeNode("DynamicQuantizeLinear", {"x"}, {"y", "s", "z"}, 11);
  auto out = RunNode(n, {&x});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{0, 0, 0}));
  EXPECT_EQ((*out)[2].as<std::uint8_t>()[0], 0);
}

// ---------------------------------------------------------------------------
// MatMulInteger / QLinearMatMul

// Broadcast batched matmul reference over int64, with per-(matrix,row) and
// per-(matrix,column) zero points given as functions.
struct MM {
  Shape a, b, out;
  std::int64_t M, K, N;
};

MM MatMulShapes(const Shape& a, const Shape& b) {
  std::vector<std::int64_t> ad = a.dims(), bd = b.dims();
  if (ad.size() == 1) ad.insert(ad.begin(), 1);
  if (bd.size() == 1) bd.push_back(1);
  while (ad.size() < bd.size()) ad.insert(ad.begin(), 1);
  while (bd.size() < ad.size()) bd.insert(bd.begin(), 1);
  MM m{Shape(ad), Shape(bd), {}, ad[ad.size() - 2], ad.back(), bd.back()};
  std::vector<std::int64_t> od;
  for (std::size_t i = 0; i + 2 < ad.size(); ++i) od.push_back(std::max(ad[i], bd[i]));
  if (a.rank() > 1) od.push_back(m.M);
  if (b.rank() > 1) od.push_back(m.N);
  m.out = Shape(od);
  return m;
}

// acc[batch][m][n] as int64; aq(ai, m, k) and bq(bi, k, n) read the zero-point-adjusted operands.
template <typename A, typename B>
std::vector<std::int64_t> RefMatMul(const MM& mm, A aq, B bq, std::vector<std::int64_t>* arow_mat,
                                    std::vector<std::int64_t>* bcol_mat) {
  const std::size_t nb = mm.a.rank() - 2;
  std::vector<std::int64_t> batch;
  std::int64_t count = 1;
  for (std::size_t i = 0; i < nb; ++i) {
    batch.push_back(std::max(mm.a[i], mm.b[i]));
    count *= batch.back();
  }
  std::vector<std::int64_t> out;
  for (std::int64_t bi = 0; bi < count; ++bi) {
    // Batch coordinates -> matrix indices in a and b.
    std::int64_t rem = bi, ai = 0, bj = 0, astride = 1, bstride = 1;
    for (std::size_t i = nb; i-- > 0;) {
      const std::int64_t c = rem % batch[i];
      rem /= batch[i];
      ai += (mm.a[i] == 1 ? 0 : c) * astride;
      bj += (mm.b[i] == 1 ? 0 : c) * bstride;
      astride *= mm.a[i];
      bstride *= mm.b[i];
    }
    for (std::int64_t m = 0; m < mm.M; ++m) {
      for (std::int64_t n = 0; n < mm.N; ++n) {
        std::int64_t acc = 0;
        for (std::int64_t k = 0; k < mm.K; ++k) acc += aq(ai, m, k) * bq(bj, k, n);
        out.push_back(acc);
        if (arow_mat) arow_mat->push_back(ai);
        if (bcol_mat) bcol_mat->push_back(bj);
      }
    }
  }
  return out;
}

struct MatMulCase {
  Shape a, b;
  DType ta, tb;
  int a_zp_mode;  // 0 none, 1 scalar, 2 per row (1-D)
  int b_zp_mode;  // 0 none, 1 scalar, 2 per column (1-D)
};

const MatMulCase kMatMulCases[] = {
    {{3, 4}, {4, 5}, DType::kU8, DType::kU8, 1, 1},
    {{3, 4}, {4, 5}, DType::kU8, DType::kI8, 2, 2},
    {{2, 3, 4}, {4, 5}, DType::kI8, DType::kU8, 0, 2},
    {{2, 1, 3, 4}, {3, 4, 2}, DType::kU8, DType::kU8, 2, 1},
    {{4}, {4, 3}, DType::kI8, DType::kI8, 1, 2},
    {{2, 3, 4}, {4}, DType::kU8, DType::kI8, 2, 1},
    {{1, 7}, {7, 1}, DType::kU8, DType::kU8, 0, 0},
    {{5, 33}, {33, 17}, DType::kI8, DType::kU8, 2, 2},
};

TEST(MatMulIntegerTest, MatchesReference) {
  std::uint32_t seed = 11;
  for (const MatMulCase& c : kMatMulCases) {
    const MM mm = MatMulShapes(c.a, c.b);
    const auto av =
        RandomInts(static_cast<std::size_t>(c.a.element_count()), Lo(c.ta), Hi(c.ta), seed++);
    const auto bv =
        RandomInts(static_cast<std::size_t>(c.b.element_count()), Lo(c.tb), Hi(c.tb), seed++);
    const auto azv = RandomInts(static_cast<std::size_t>(mm.M), Lo(c.ta), Hi(c.ta), seed++);
    const auto bzv = RandomInts(static_cast<std::size_t>(mm.N), Lo(c.tb), Hi(c.tb), seed++);
    Tensor a = Q(c.ta, c.a, av), b = Q(c.tb, c.b, bv);
    Tensor az = c.a_zp_mode == 2 ? Q(c.ta, {mm.M}, azv) : Q(c.ta, {}, {azv[0]});
    Tensor bz = c.b_zp_mode == 2 ? Q(c.tb, {mm.N}, bzv) : Q(c.tb, {}, {bzv[0]});
    ir::Node n = MakeNode("MatMulInteger",
                          {"a", "b", c.a_zp_mode ? "az" : "", c.b_zp_mode ? "bz" : ""}, {"y"}, 10);
    auto out = RunNode(n, {&a, &b, c.a_zp_mode ? &az : nullptr, c.b_zp_mode ? &bz : nullptr});
    const std::string what = c.a.ToString() + " x " + c.b.ToString();
    ASSERT_TRUE(out.has_value()) << what << ": " << out.status().message();
    EXPECT_EQ((*out)[0].dtype(), DType::kI32);
    EXPECT_EQ((*out)[0].shape(), mm.out) << what;
    auto azp = [&](std::int64_t m) -> std::int64_t {
      return c.a_zp_mode == 0 ? 0 : c.a_zp_mode == 1 ? azv[0] : azv[static_cast<std::size_t>(m)];
    };
    auto bzp = [&](std::int64_t nn) -> std::int64_t {
      return c.b_zp_mode == 0 ? 0 : c.b_zp_mode == 1 ? bzv[0] : bzv[static_cast<std::size_t>(nn)];
    };
    const auto want = RefMatMul(
        mm,
        [&](std::int64_t ai, std::int64_t m, std::int64_t k) {
          return av[static_cast<std::size_t>((ai * mm.M + m) * mm.K + k)] - azp(m);
        },
        [&](std::int64_t bi, std::int64_t k, std::int64_t nn) {
          return bv[static_cast<std::size_t>((bi * mm.K + k) * mm.N + nn)] - bzp(nn);
        },
        nullptr, nullptr);
    const auto got = Ints((*out)[0]);
    ASSERT_EQ(got.size(), want.size()) << what;
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << what << " at " << i;
  }
}

TEST(MatMulIntegerTest, NdZeroPointPerBatchRow) {
  // a of shape [2, 2, 3] with zero points [2, 2, 1]: one per (batch, row).
  const std::vector<std::int32_t> av = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  Tensor a = Q(DType::kU8, {2, 2, 3}, av);
  Tensor b = Q(DType::kU8, {3, 1}, {1, 1, 1});
  Tensor az = Q(DType::kU8, {2, 2, 1}, {1, 2, 3, 4});
  ir::Node n = MakeNode("MatMulInteger", {"a", "b", "az"}, {"y"}, 10);
  auto out = RunNode(n, {&a, &b, &az});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{6 - 3, 15 - 6, 24 - 9, 33 - 12}));
}

TEST(MatMulIntegerTest, ShapeErrorsNameTheNode) {
  Tensor a = Q(DType::kU8, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Q(DType::kU8, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  ir::Node n = MakeNode("MatMulInteger", {"a", "b"}, {"y"}, 10);
  ExpectErrorNaming(RunNode(n, {&a, &b}), "MatMulInteger_test");
  Tensor b2 = Q(DType::kU8, {3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor bad_zp = Q(DType::kU8, {3}, {1, 2, 3});  // 2 columns, 3 zero points
  ir::Node z = MakeNode("MatMulInteger", {"a", "b", "", "bz"}, {"y"}, 10);
  ExpectErrorNaming(RunNode(z, {&a, &b2, nullptr, &bad_zp}), "MatMulInteger_test");
  Tensor f = F32({3, 2}, {1, 2, 3, 4, 5, 6});
  auto r = RunNode(n, {&a, &f});
  ExpectErrorNaming(r, "MatMulInteger_test");
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(QLinearMatMulTest, SpecExample) {
  Tensor a = Q(DType::kU8, {2, 4}, {208, 236, 0, 238, 3, 214, 255, 29});
  Tensor as = F32({}, {0.0066f});
  Tensor az = Q(DType::kU8, {}, {113});
  Tensor b = Q(DType::kU8, {4, 3}, {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247});
  Tensor bs = F32({}, {0.00705f});
  Tensor bz = Q(DType::kU8, {}, {114});
  Tensor ys = F32({}, {0.0107f});
  Tensor yz = Q(DType::kU8, {}, {118});
  ir::Node n = MakeNode("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}, 10);
  auto out = RunNode(n, {&a, &as, &az, &b, &bs, &bz, &ys, &yz});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{168, 115, 255, 1, 66, 151}));
}

TEST(QLinearMatMulTest, MatchesReferenceWithPerRowAndPerColumnParameters) {
  std::uint32_t seed = 99;
  for (const MatMulCase& c : kMatMulCases) {
    for (DType ty : {DType::kU8, DType::kI8}) {
      const MM mm = MatMulShapes(c.a, c.b);
      const auto av =
          RandomInts(static_cast<std::size_t>(c.a.element_count()), Lo(c.ta), Hi(c.ta), seed++);
      const auto bv =
          RandomInts(static_cast<std::size_t>(c.b.element_count()), Lo(c.tb), Hi(c.tb), seed++);
      const auto azv = RandomInts(static_cast<std::size_t>(mm.M), Lo(c.ta), Hi(c.ta), seed++);
      const auto bzv = RandomInts(static_cast<std::size_t>(mm.N), Lo(c.tb), Hi(c.tb), seed++);
      const auto asv = RandomFloats(static_cast<std::size_t>(mm.M), 0.01f, 0.03f, seed++);
      const auto bsv = RandomFloats(static_cast<std::size_t>(mm.N), 0.01f, 0.03f, seed++);
      const float ysv = 0.05f + 0.01f * static_cast<float>(seed % 7);
      const std::int32_t yzv = ty == DType::kU8 ? 120 : -3;
      const bool per_row = c.a_zp_mode == 2, per_col = c.b_zp_mode == 2;
      Tensor a = Q(c.ta, c.a, av), b = Q(c.tb, c.b, bv);
      Tensor az = per_row ? Q(c.ta, {mm.M}, azv) : Q(c.ta, {}, {azv[0]});
      Tensor bz = per_col ? Q(c.tb, {mm.N}, bzv) : Q(c.tb, {}, {bzv[0]});
      Tensor as = per_row ? F32({mm.M}, asv) : F32({}, {asv[0]});
      Tensor bs = per_col ? F32({mm.N}, bsv) : F32({}, {bsv[0]});
      Tensor ys = F32({}, {ysv});
      Tensor yz = Q(ty, {}, {yzv});
      ir::Node n =
          MakeNode("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}, 10);
      auto out = RunNode(n, {&a, &as, &az, &b, &bs, &bz, &ys, &yz});
      const std::string what = c.a.ToString() + " x " + c.b.ToString();
      ASSERT_TRUE(out.has_value()) << what << ": " << out.status().message();
      EXPECT_EQ((*out)[0].dtype(), ty);
      EXPECT_EQ((*out)[0].shape(), mm.out);
      auto idx_a = [&](std::int64_t m) { return static_cast<std::size_t>(per_row ? m : 0); };
      auto idx_b = [&](std::int64_t nn) { return static_cast<std::size_t>(per_col ? nn : 0); };
      const auto acc = RefMatMul(
          mm,
          [&](std::int64_t ai, std::int64_t m, std::int64_t k) {
            return av[static_cast<std::size_t>((ai * mm.M + m) * mm.K + k)] - azv[idx_a(m)];
          },
          [&](std::int64_t bi, std::int64_t k, std::int64_t nn) {
            return bv[static_cast<std::size_t>((bi * mm.K + k) * mm.N + nn)] - bzv[idx_b(nn)];
          },
          nullptr, nullptr);
      const auto got = Ints((*out)[0]);
      ASSERT_EQ(got.size(), acc.size());
      for (std::size_t i = 0; i < acc.size(); ++i) {
        const auto m = static_cast<std::int64_t>(i / static_cast<std::size_t>(mm.N)) % mm.M;
        const auto nn = static_cast<std::int64_t>(i % static_cast<std::size_t>(mm.N));
        // The multiplier in f32, as in the spec's reference; the product in double.
        const float mult = asv[idx_a(m)] * bsv[idx_b(nn)] / ysv;
        EXPECT_EQ(got[i], RefQuant(static_cast<double>(acc[i]) * mult, yzv, ty))
            << what << " at " << i;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// ConvInteger / QLinearConv

TEST(ConvIntegerTest, SpecExamples) {
  Tensor x = Q(DType::kU8, {1, 1, 3, 3}, {2, 3, 4, 5, 6, 7, 8, 9, 10});
  Tensor w = Q(DType::kU8, {1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor xz = Q(DType::kU8, {}, {1});
  ir::Node n = MakeNode("ConvInteger", {"x", "w", "xz"}, {"y"}, 10);
  auto out = RunNode(n, {&x, &w, &xz});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(Ints((*out)[0]), (std::vector<std::int32_t>{12, 16, 24, 28}));

  SetInts(n, "pads", {1, 1, 1, 1});
  out = RunNode(n, {&x, &w, &xz});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(Ints((*out)[0]),
            (std::vector<std::int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

struct ConvCase {
  Shape x, w;
  std::int64_t group;
  std::vector<std::int64_t> strides, pads, dilations;
  std::string auto_pad;
  DType tx, tw;
  bool per_channel;
};

const ConvCase kConvCases[] = {
    {{1, 2, 5, 5},
     {3, 2, 3, 3},
     1,
     {1, 1},
     {1, 1, 1, 1},
     {1, 1},
     "",
     DType::kU8,
     DType::kU8,
     false},
    {{2, 4, 6, 5}, {4, 2, 3, 2}, 2, {2, 1}, {0, 1, 1, 0}, {1, 1}, "", DType::kU8, DType::kI8, true},
    {{1, 3, 7, 7}, {6, 1, 3, 3}, 3, {2, 2}, {0, 0, 0, 0}, {2, 2}, "", DType::kI8, DType::kI8, true},
    {{1, 4, 4, 4}, {5, 4, 1, 1}, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, "", DType::kU8, DType::kU8, true},
    {{1, 2, 9}, {3, 2, 3}, 1, {2}, {2, 1}, {2}, "", DType::kU8, DType::kI8, true},
    {{1, 2, 3, 4, 4},
     {2, 2, 2, 2, 2},
     1,
     {1, 2, 1},
     {0, 1, 0, 1, 0, 1},
     {1, 1, 1},
     "",
     DType::kI8,
     DType::kU8,
     true},
    {{1, 3, 5, 6}, {2, 3, 3, 3}, 1, {2, 2}, {}, {1, 1}, "SAME_UPPER", DType::kU8, DType::kU8, true},
    {{1, 3, 5, 6},
     {2, 3, 2, 2},
     1,
     {1, 1},
     {},
     {1, 1},
     "SAME_LOWER",
     DType::kU8,
     DType::kU8,
     false},
    {{2, 2, 5, 5}, {2, 2, 3, 3}, 1, {1, 1}, {}, {1, 1}, "VALID", DType::kU8, DType::kU8, false},
};

// Naive N-d convolution (spatial rank 1..3) over zero-point-adjusted operands.
struct RefConvResult {
  Shape out;
  std::vector<std::int64_t> acc;
};

RefConvResult RefConv(const ConvCase& c, const std::vector<std::int32_t>& xv, std::int32_t xzp,
                      const std::vector<std::int32_t>& wv, const std::vector<std::int32_t>& wzp) {
  const std::size_t nd = c.x.rank() - 2;
  // Padded to 3 spatial dims at the front.
  std::int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1},
               pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
  for (std::size_t d = 0; d < nd; ++d) {
    const std::size_t e = 3 - nd + d;
    in[e] = c.x[d + 2];
    k[e] = c.w[d + 2];
    st[e] = c.strides[d];
    dl[e] = c.dilations[d];
    const std::int64_t ek = (k[e] - 1) * dl[e] + 1;
    if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      out[e] = (in[e] + st[e] - 1) / st[e];
      const std::int64_t total = std::max<std::int64_t>(0, (out[e] - 1) * st[e] + ek - in[e]);
      pb[e] = c.auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
      pe[e] = total - pb[e];
    } else if (c.auto_pad == "VALID") {
      out[e] = (in[e] - ek) / st[e] + 1;
    } else {
      pb[e] = c.pads[d];
      pe[e] = c.pads[d + nd];
      out[e] = (in[e] + pb[e] + pe[e] - ek) / st[e] + 1;
    }
  }
  const std::int64_t N = c.x[0], C = c.x[1], M = c.w[0], G = c.group, cg = C / G, mg = M / G;
  RefConvResult r;
  std::vector<std::int64_t> od = {N, M};
  for (std::size_t d = 0; d < nd; ++d) od.push_back(out[3 - nd + d]);
  r.out = Shape(od);
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t m = 0; m < M; ++m) {
      const std::int64_t g = m / mg;
      const std::int64_t wz = wzp.size() == 1 ? wzp[0] : wzp[static_cast<std::size_t>(m)];
      for (std::int64_t o0 = 0; o0 < out[0]; ++o0) {
        for (std::int64_t o1 = 0; o1 < out[1]; ++o1) {
          for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
            std::int64_t acc = 0;
            for (std::int64_t ci = 0; ci < cg; ++ci) {
              const std::int64_t ch = g * cg + ci;
              for (std::int64_t k0 = 0; k0 < k[0]; ++k0) {
                for (std::int64_t k1 = 0; k1 < k[1]; ++k1) {
                  for (std::int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const std::int64_t i0 = o0 * st[0] - pb[0] + k0 * dl[0];
                    const std::int64_t i1 = o1 * st[1] - pb[1] + k1 * dl[1];
                    const std::int64_t i2 = o2 * st[2] - pb[2] + k2 * dl[2];
                    // Padding holds the x zero point.
                    std::int64_t xval = xzp;
                    if (i0 >= 0 && i0 < in[0] && i1 >= 0 && i1 < in[1] && i2 >= 0 && i2 < in[2]) {
                      xval = xv[static_cast<std::size_t>(
                          (((n * C + ch) * in[0] + i0) * in[1] + i1) * in[2] + i2)];
                    }
                    const std::int64_t wval = wv[static_cast<std::size_t>(
                        (((m * cg + ci) * k[0] + k0) * k[1] + k1) * k[2] + k2)];
                    acc += (xval - xzp) * (wval - wz);
                  }
                }
              }
            }
            r.acc.push_back(acc);
          }
        }
      }
    }
  }
  return r;
}

void SetConvAttrs(ir::Node& n, const ConvCase& c) {
  SetInt(n, "group", c.group);
  SetInts(n, "strides", c.strides);
  SetInts(n, "dilations", c.dilations);
  if (!c.auto_pad.empty()) {
    SetString(n, "auto_pad", c.auto_pad);
  } else {
    SetInts(n, "pads", c.pads);
  }
  SetInts(n, "kernel_shape", std::vector<std::int64_t>(c.w.dims().begin() + 2, c.w.dims().end()));
}

TEST(ConvIntegerTest, MatchesReference) {
  std::uint32_t seed = 5;
  for (const ConvCase& c : kConvCases) {
    const auto xv =
        RandomInts(static_cast<std::size_t>(c.x.element_count()), Lo(c.tx), Hi(c.tx), seed++);
    const auto wv =
        RandomInts(static_cast<std::size_t>(c.w.element_count()), Lo(c.tw), Hi(c.tw), seed++);
    const std::int32_t xzp = RandomInts(1, Lo(c.tx), Hi(c.tx), seed++)[0];
    const auto wzv = RandomInts(static_cast<std::size_t>(c.per_channel ? c.w[0] : 1), Lo(c.tw),
                                Hi(c.tw), seed++);
    Tensor x = Q(c.tx, c.x, xv), w = Q(c.tw, c.w, wv), xz = Q(c.tx, {}, {xzp});
    Tensor wz = c.per_channel ? Q(c.tw, {c.w[0]}, wzv) : Q(c.tw, {}, wzv);
    ir::Node n = MakeNode("ConvInteger", {"x", "w", "xz", "wz"}, {"y"}, 10);
    SetConvAttrs(n, c);
    auto out = RunNode(n, {&x, &w, &xz, &wz});
    const std::string what = c.x.ToString() + " * " + c.w.ToString() + " " + c.auto_pad;
    ASSERT_TRUE(out.has_value()) << what << ": " << out.status().message();
    const RefConvResult ref = RefConv(c, xv, xzp, wv, wzv);
    EXPECT_EQ((*out)[0].shape(), ref.out) << what;
    const auto got = Ints((*out)[0]);
    ASSERT_EQ(got.size(), ref.acc.size()) << what;
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], ref.acc[i]) << what << " at " << i;
  }
}

TEST(QLinearConvTest, MatchesReferenceWithPerChannelScalesAndBias) {
  std::uint32_t seed = 77;
  for (const ConvCase& c : kConvCases) {
    for (DType ty : {DType::kU8, DType::kI8}) {
      const std::int64_t M = c.w[0];
      const auto xv =
          RandomInts(static_cast<std::size_t>(c.x.element_count()), Lo(c.tx), Hi(c.tx), seed++);
      const auto wv =
          RandomInts(static_cast<std::size_t>(c.w.element_count()), Lo(c.tw), Hi(c.tw), seed++);
      const std::int32_t xzp = RandomInts(1, Lo(c.tx), Hi(c.tx), seed++)[0];
      const std::size_t nch = static_cast<std::size_t>(c.per_channel ? M : 1);
      const auto wzv = RandomInts(nch, Lo(c.tw) / 4, Hi(c.tw) / 4, seed++);
      const auto wsv = RandomFloats(nch, 0.002f, 0.01f, seed++);
      const auto bias = RandomInts(static_cast<std::size_t>(M), -2000, 2000, seed++);
      const float xs = 0.02f, ys = 0.15f;
      const std::int32_t yz = ty == DType::kU8 ? 128 : 5;
      Tensor x = Q(c.tx, c.x, xv), w = Q(c.tw, c.w, wv);
      Tensor xst = F32({}, {xs}), xzt = Q(c.tx, {}, {xzp});
      Tensor wst = c.per_channel ? F32({M}, wsv) : F32({}, wsv);
      Tensor wzt = c.per_channel ? Q(c.tw, {M}, wzv) : Q(c.tw, {}, wzv);
      Tensor yst = F32({}, {ys}), yzt = Q(ty, {}, {yz});
      Tensor bt = testing::I32({M}, bias);
      ir::Node n =
          MakeNode("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}, {"y"}, 10);
      SetConvAttrs(n, c);
      auto out = RunNode(n, {&x, &xst, &xzt, &w, &wst, &wzt, &yst, &yzt, &bt});
      const std::string what = c.x.ToString() + " * " + c.w.ToString() + " " + c.auto_pad;
      ASSERT_TRUE(out.has_value()) << what << ": " << out.status().message();
      EXPECT_EQ((*out)[0].dtype(), ty);
      const RefConvResult ref = RefConv(c, xv, xzp, wv, wzv);
      EXPECT_EQ((*out)[0].shape(), ref.out) << what;
      const auto got = Ints((*out)[0]);
      ASSERT_EQ(got.size(), ref.acc.size());
      std::int64_t sp = 1;
      for (std::size_t d = 2; d < ref.out.rank(); ++d) sp *= ref.out[d];
      for (std::size_t i = 0; i < got.size(); ++i) {
        const auto m = static_cast<std::size_t>((static_cast<std::int64_t>(i) / sp) % M);
        const float mult = xs * wsv[c.per_channel ? m : 0] / ys;  // f32, as in the reference
        const double v = static_cast<double>(ref.acc[i] + bias[m]) * mult;
        EXPECT_EQ(got[i], RefQuant(v, yz, ty)) << what << " at " << i;
      }
    }
  }
}

TEST(QLinearConvTest, ErrorsNameTheNode) {
  Tensor x = Q(DType::kU8, {1, 3, 4, 4}, std::vector<std::int32_t>(48, 1));
  Tensor w = Q(DType::kU8, {2, 2, 3, 3}, std::vector<std::int32_t>(36, 1));  // 2 != 3 channels
  Tensor s = F32({}, {1}), z = Q(DType::kU8, {}, {0});
  ir::Node n = MakeNode("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}, 10);
  ExpectErrorNaming(RunNode(n, {&x, &s, &z, &w, &s, &z, &s, &z}), "QLinearConv_test");

  Tensor w3 = Q(DType::kU8, {2, 3, 3, 3}, std::vector<std::int32_t>(54, 1));
  Tensor ws3 = F32({3}, {1, 1, 1});  // 2 output channels, 3 scales
  ExpectErrorNaming(RunNode(n, {&x, &s, &z, &w3, &ws3, &z, &s, &z}), "QLinearConv_test");

  Tensor bias = testing::I32({3}, {0, 0, 0});  // 2 output channels, 3 biases
  ir::Node nb =
      MakeNode("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}, {"y"}, 10);
  ExpectErrorNaming(RunNode(nb, {&x, &s, &z, &w3, &s, &z, &s, &z, &bias}), "QLinearConv_test");

  Tensor big = Q(DType::kU8, {2, 3, 5, 5}, std::vector<std::int32_t>(150, 1));  // kernel > input
  ExpectErrorNaming(RunNode(n, {&x, &s, &z, &big, &s, &z, &s, &z}), "QLinearConv_test");

  Tensor sv = F32({2}, {1, 1});  // x scale must be a scalar
  ExpectErrorNaming(RunNode(n, {&x, &sv, &z, &w3, &s, &z, &s, &z}), "QLinearConv_test");

  ir::Node ci = MakeNode("ConvInteger", {"x", "w"}, {"y"}, 10);
  Tensor x2 = Q(DType::kU8, {3, 4}, std::vector<std::int32_t>(12, 1));  // rank 2
  ExpectErrorNaming(RunNode(ci, {&x2, &w3}), "ConvInteger_test");
}

}  // namespace
}  // namespace deepedge
