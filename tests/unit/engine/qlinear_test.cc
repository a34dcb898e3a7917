// The int8 kernels (engine/kernels/qlinear.h) on tables of cases, each against two
// references written here: TFLite's integer rules in plain int64 loops (must match
// exactly) and the float computation on dequantized values (within one step).
// Every case runs with the SIMD paths on and off.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/kernels/fixed_point.h"
#include "engine/kernels/qlinear.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

namespace fp = engine::fixed_point;
using i64 = std::int64_t;
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
std::vector<std::int32_t> RandomInts(std::size_t n, std::int32_t lo, std::int32_t hi,
                                     std::uint32_t seed) {
  std::vector<std::int32_t> v(n);
  for (auto& x : v)
    x = lo + static_cast<std::int32_t>(Next(seed) % static_cast<std::uint32_t>(hi - lo + 1));
  return v;
}
std::int32_t TMin(DType t) {
  return t == DType::kI8 ? -128 : 0;
}
std::int32_t TMax(DType t) {
  return t == DType::kI8 ? 127 : 255;
}
Tensor Q(DType t, const Shape& s, const std::vector<std::int32_t>& v) {
  if (t == DType::kU8) return MakeTensor(t, s, std::vector<std::uint8_t>(v.begin(), v.end()));
  return MakeTensor(t, s, std::vector<std::int8_t>(v.begin(), v.end()));
}
std::vector<std::int32_t> Ints(const Tensor& t) {
  std::vector<std::int32_t> v;
  if (t.dtype() == DType::kU8) {
    for (auto x : t.as<std::uint8_t>()) v.push_back(x);
  } else {
    for (auto x : t.as<std::int8_t>()) v.push_back(x);
  }
  return v;
}
void SetF(ir::Node& n, const std::string& k, float v) {
  testing::SetFloat(n, k, v);
}
void SetFs(ir::Node& n, const std::string& k, std::vector<float> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloats;
  a.floats = std::move(v);
  n.attributes[k] = a;
}
const char* TypeStr(DType t) {
  return t == DType::kI8 ? "i8" : "u8";
}
std::int32_t QuantizeRef(double real, float scale, std::int32_t zp, std::int32_t lo,
                         std::int32_t hi) {
  const double v = std::nearbyint(real / static_cast<double>(scale)) + zp;
  return static_cast<std::int32_t>(std::clamp<double>(v, lo, hi));
}

// The exact output for accumulator acc under the fixed-point (TFLite) or float (ONNX
// QLinearConv, in ONNX Runtime's order: the scale in float, acc converted to float) rule.
std::int32_t RequantRef(i64 acc, float sx, float sw, float sy, std::int32_t zy, std::int32_t lo,
                        std::int32_t hi, bool float_requant) {
  if (float_requant) {
    const float v = std::nearbyint(static_cast<float>(acc) * (sx * sw / sy));
    return static_cast<std::int32_t>(std::clamp<float>(
        v + static_cast<float>(zy), static_cast<float>(lo), static_cast<float>(hi)));
  }
  const auto mult = fp::QuantizeMultiplier(static_cast<double>(sx) * sw / sy);
  return std::clamp(fp::MultiplyByQuantizedMultiplier(static_cast<std::int32_t>(acc), mult) + zy,
                    lo, hi);
}

// Runs `node` with SIMD on and off; both must succeed and agree. Returns the output.
std::vector<std::int32_t> RunBoth(const ir::Node& node, std::vector<const Tensor*> in,
                                  Shape* shape = nullptr) {
  // Every instruction set this CPU runs, on 1 and 3 threads (with 3 the kernels split
  // planes into bands of rows): all must give the plain path's integers.
  using engine::QLinearIsa;
  std::vector<QLinearIsa> isas = {QLinearIsa::kPlain};
  if (engine::QLinearBestIsa() != QLinearIsa::kPlain) isas.push_back(QLinearIsa::kAvx2);
  if (engine::QLinearBestIsa() == QLinearIsa::kAvx512Vnni) isas.push_back(QLinearIsa::kAvx512Vnni);
  std::vector<std::int32_t> plain;
  for (QLinearIsa isa : isas) {
    for (int threads : {1, 3}) {
      engine::SetQLinearIsa(isa);
      auto out = RunNode(node, in, threads);
      engine::SetQLinearIsa(engine::QLinearBestIsa());
      EXPECT_TRUE(out.has_value()) << out.status().ToString();
      if (!out) return {};
      if (shape != nullptr) *shape = (*out)[0].shape();
      if (plain.empty() && isa == QLinearIsa::kPlain && threads == 1) {
        plain = Ints((*out)[0]);
        continue;
      }
      EXPECT_EQ(Ints((*out)[0]), plain)
          << engine::QLinearIsaName(isa) << " on " << threads << " threads differs from plain";
    }
  }
  return plain;
}

// ---------------------------------------------------------------------------
// QConv

struct ConvCase {
  i64 N, C, H, W, M, kh, kw, stride, pad, dil, group;
  DType xt;
  bool per_channel;
  int act;  // 0 none, 1 Relu, 2 Clip(0, 6 * something)
  bool bias;
  i64 stride_w;  // 0: the same as stride
};

// Runs case c with the fixed-point (TFLite) or float (ONNX) requantization and checks
// it against that rule's reference exactly, and against real arithmetic within a step.
void CheckConv(const ConvCase& c, bool float_requant) {
  const i64 sw_ = c.stride_w == 0 ? c.stride : c.stride_w;
  const i64 cg = c.C / c.group;
  const i64 OH = (c.H + 2 * c.pad - (c.kh - 1) * c.dil - 1) / c.stride + 1;
  const i64 OW = (c.W + 2 * c.pad - (c.kw - 1) * c.dil - 1) / sw_ + 1;
  const float sx = 0.05f;
  const std::int32_t zx = c.xt == DType::kI8 ? -7 : 121;
  const auto xv = RandomInts(static_cast<std::size_t>(c.N * c.C * c.H * c.W), TMin(c.xt),
                             TMax(c.xt), 1 + static_cast<std::uint32_t>(c.C * c.M));
  const auto wv = RandomInts(static_cast<std::size_t>(c.M * cg * c.kh * c.kw), -127, 127, 99);
  const auto bv = RandomInts(static_cast<std::size_t>(c.M), -3000, 3000, 5);
  std::vector<float> sw;
  for (i64 m = 0; m < (c.per_channel ? c.M : 1); ++m)
    sw.push_back(0.004f * (1.0f + 0.37f * (m % 5)));
  auto wsc = [&](i64 m) { return sw[c.per_channel ? static_cast<std::size_t>(m) : 0]; };
  // Integer accumulators (bias included) and real outputs.
  std::vector<i64> acc(static_cast<std::size_t>(c.N * c.M * OH * OW));
  double maxabs = 0;
  for (i64 n = 0; n < c.N; ++n)
    for (i64 m = 0; m < c.M; ++m) {
      const i64 g = m / (c.M / c.group);
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          i64 a = c.bias ? bv[static_cast<std::size_t>(m)] : 0;
          for (i64 ci = 0; ci < cg; ++ci)
            for (i64 ky = 0; ky < c.kh; ++ky)
              for (i64 kx = 0; kx < c.kw; ++kx) {
                const i64 ih = oh * c.stride - c.pad + ky * c.dil;
                const i64 iw = ow * sw_ - c.pad + kx * c.dil;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const i64 xi = ((n * c.C + g * cg + ci) * c.H + ih) * c.W + iw;
                const i64 wi = ((m * cg + ci) * c.kh + ky) * c.kw + kx;
                a += (xv[static_cast<std::size_t>(xi)] - zx) * wv[static_cast<std::size_t>(wi)];
              }
          acc[static_cast<std::size_t>(((n * c.M + m) * OH + oh) * OW + ow)] = a;
          maxabs = std::max(maxabs, std::fabs(static_cast<double>(a) * sx * wsc(m)));
        }
    }
  const DType yt = c.xt;
  const float sy = static_cast<float>(maxabs / 100.0);
  const std::int32_t zy = yt == DType::kI8 ? 3 : 130;
  std::int32_t lo = TMin(yt), hi = TMax(yt);
  double rlo = -1e30, rhi = 1e30;
  if (c.act >= 1) {
    lo = std::max(lo, zy);
    rlo = 0;
  }
  if (c.act == 2) {
    hi = std::min(hi, zy + static_cast<std::int32_t>(std::round(40 * sy / sy)));
    rhi = 40 * static_cast<double>(sy);
  }
  ir::Node node = MakeNode("QConv", {"x", "w", c.bias ? "b" : ""}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetInts(node, "strides", {c.stride, sw_});
  SetInts(node, "pads", {c.pad, c.pad, c.pad, c.pad});
  SetInts(node, "dilations", {c.dil, c.dil});
  SetInt(node, "group", c.group);
  SetF(node, "x_scale", sx);
  SetInt(node, "x_zero_point", zx);
  SetFs(node, "w_scale", sw);
  SetF(node, "y_scale", sy);
  SetInt(node, "y_zero_point", zy);
  SetString(node, "y_type", TypeStr(yt));
  if (c.act >= 1) SetInt(node, "act_min", lo);
  if (c.act == 2) SetInt(node, "act_max", hi);
  if (float_requant) SetString(node, "requant", "float");
  Tensor x = Q(c.xt, Shape{c.N, c.C, c.H, c.W}, xv);
  Tensor w = Q(DType::kI8, Shape{c.M, cg, c.kh, c.kw}, wv);
  Tensor b = testing::I32(Shape{c.M}, bv);
  Shape ys;
  const auto got = RunBoth(node, {&x, &w, c.bias ? &b : nullptr}, &ys);
  ASSERT_EQ(ys, (Shape{c.N, c.M, OH, OW}));
  ASSERT_EQ(got.size(), acc.size());
  int off_by_one = 0;
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const i64 m = (static_cast<i64>(i) / (OH * OW)) % c.M;
    const std::int32_t exact = RequantRef(acc[i], sx, wsc(m), sy, zy, lo, hi, float_requant);
    ASSERT_EQ(got[i], exact) << "element " << i;
    const double real =
        std::clamp(static_cast<double>(acc[i]) * sx * static_cast<double>(wsc(m)), rlo, rhi);
    const std::int32_t fq = QuantizeRef(real, sy, zy, TMin(yt), TMax(yt));
    ASSERT_LE(std::abs(got[i] - fq), 1) << "element " << i;
    off_by_one += got[i] != fq;
  }
  // The rounding rules differ only on rare near-ties.
  EXPECT_LT(off_by_one, static_cast<int>(acc.size() / 20 + 2));
}

class QConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(QConvTest, MatchesTfliteRulesExactlyAndFloatWithinOneStep) {
  CheckConv(GetParam(), false);
}

TEST_P(QConvTest, FloatRequantMatchesOnnxRuleExactlyAndFloatWithinOneStep) {
  CheckConv(GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, QConvTest,
    ::testing::Values(
        // N, C, H, W, M, kh, kw, stride, pad, dil, group, x type, per-channel, act, bias
        ConvCase{1, 3, 9, 11, 16, 3, 3, 2, 1, 1, 1, DType::kI8, true, 2, true, 0},     // stem
        ConvCase{1, 16, 7, 7, 24, 1, 1, 1, 0, 1, 1, DType::kI8, true, 0, true, 0},     // pointwise
        ConvCase{2, 13, 6, 5, 9, 1, 1, 1, 0, 1, 1, DType::kU8, false, 1, true, 0},     // odd sizes
        ConvCase{1, 16, 10, 10, 16, 3, 3, 1, 1, 1, 16, DType::kI8, true, 2, true, 0},  // depthwise
        ConvCase{1, 8, 9, 9, 8, 3, 3, 2, 1, 1, 8, DType::kU8, true, 1, true, 0},      // dw stride 2
        ConvCase{1, 4, 8, 8, 8, 3, 3, 1, 2, 2, 4, DType::kI8, false, 0, false, 0},    // dw x2, dil
        ConvCase{1, 8, 10, 10, 8, 3, 3, 2, 1, 1, 8, DType::kI8, true, 2, true, 0},    // dw s2, even
        ConvCase{2, 4, 7, 9, 8, 3, 3, 1, 1, 1, 4, DType::kI8, true, 1, true, 0},      // dw x2, N 2
        ConvCase{1, 3, 12, 5, 3, 3, 3, 1, 0, 1, 3, DType::kU8, false, 0, true, 0},    // dw, no pad
        ConvCase{1, 8, 6, 6, 12, 3, 3, 1, 1, 1, 2, DType::kI8, true, 0, true, 0},     // grouped
        ConvCase{1, 5, 12, 12, 40, 5, 5, 3, 2, 1, 1, DType::kU8, true, 0, false, 0},  // 5x5, M > 32
        ConvCase{1, 64, 14, 14, 70, 1, 1, 1, 0, 1, 1, DType::kI8, true, 1, true, 0},
        // rows of more than one 32- (stride 1) or 16-pixel (stride 2) register block in
        // the 3x3 depthwise kernel; a pointwise layer with a partial channel tile
        ConvCase{1, 5, 23, 37, 5, 3, 3, 1, 1, 1, 5, DType::kI8, true, 2, true, 0},
        ConvCase{1, 4, 20, 41, 4, 3, 3, 2, 1, 1, 4, DType::kU8, true, 1, true, 0},
        ConvCase{1, 24, 11, 13, 20, 1, 1, 1, 0, 1, 1, DType::kI8, true, 1, true, 0},
        // 3x3 depthwise planes 32 and 64 wide: row by row rather than flattened
        ConvCase{1, 3, 5, 32, 3, 3, 3, 1, 1, 1, 3, DType::kI8, true, 2, true, 0},
        ConvCase{1, 2, 4, 64, 2, 3, 3, 1, 1, 1, 2, DType::kU8, false, 1, true, 0},
        // ... 16 and 48 wide (AVX2 blocks are 16 outputs); stride 2 with a partial block
        ConvCase{1, 3, 5, 16, 3, 3, 3, 1, 1, 1, 3, DType::kU8, true, 2, true, 0},
        ConvCase{1, 2, 3, 48, 2, 3, 3, 1, 1, 1, 2, DType::kI8, false, 1, true, 0},
        ConvCase{1, 3, 6, 45, 3, 3, 3, 2, 1, 1, 3, DType::kI8, true, 0, true, 0},
        // unequal strides: depthwise row path and the general packing
        ConvCase{1, 6, 9, 10, 6, 3, 3, 1, 1, 1, 6, DType::kI8, true, 0, true, 2},
        ConvCase{1, 5, 9, 10, 7, 3, 2, 2, 1, 1, 1, DType::kU8, false, 0, true, 1}));

TEST(QConvTest, U8WeightsWithZeroPointUseTheWidePath) {
  // u8 weights with zero point 128: (w - 128) does not fit in s8 for w = 0.
  const auto xv = RandomInts(2 * 5 * 5, -128, 127, 4);
  const auto wv = RandomInts(3 * 2 * 3 * 3, 0, 255, 8);
  ir::Node node = MakeNode("QConv", {"x", "w"}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetInts(node, "pads", {1, 1, 1, 1});
  SetF(node, "x_scale", 0.1f);
  SetFs(node, "w_scale", {0.02f});
  SetInts(node, "w_zero_point", {128});
  SetF(node, "y_scale", 2.0f);
  SetString(node, "y_type", "i8");
  Tensor x = Q(DType::kI8, Shape{1, 2, 5, 5}, xv);
  Tensor w = Q(DType::kU8, Shape{3, 2, 3, 3}, wv);
  const auto got = RunBoth(node, {&x, &w});
  ASSERT_EQ(got.size(), 75u);
  for (i64 m = 0; m < 3; ++m)
    for (i64 oh = 0; oh < 5; ++oh)
      for (i64 ow = 0; ow < 5; ++ow) {
        i64 a = 0;
        for (i64 ci = 0; ci < 2; ++ci)
          for (i64 ky = 0; ky < 3; ++ky)
            for (i64 kx = 0; kx < 3; ++kx) {
              const i64 ih = oh - 1 + ky, iw = ow - 1 + kx;
              if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
              a += xv[static_cast<std::size_t>((ci * 5 + ih) * 5 + iw)] *
                   (wv[static_cast<std::size_t>(((m * 2 + ci) * 3 + ky) * 3 + kx)] - 128);
            }
        const auto mult = fp::QuantizeMultiplier(0.1 * static_cast<double>(0.02f) / 2.0);
        const std::int32_t e = std::clamp(
            fp::MultiplyByQuantizedMultiplier(static_cast<std::int32_t>(a), mult), -128, 127);
        EXPECT_EQ(got[static_cast<std::size_t>((m * 5 + oh) * 5 + ow)], e);
      }
}

TEST(QConvTest, BadInputsGiveClearErrors) {
  ir::Node node = MakeNode("QConv", {"x", "w"}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetF(node, "x_scale", 0.1f);
  SetFs(node, "w_scale", {0.02f});
  SetF(node, "y_scale", 2.0f);
  SetString(node, "y_type", "i16");
  Tensor x = Q(DType::kI8, Shape{1, 2, 5, 5}, std::vector<std::int32_t>(50, 0));
  Tensor w = Q(DType::kI8, Shape{3, 2, 3, 3}, std::vector<std::int32_t>(54, 0));
  auto r = RunNode(node, {&x, &w});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("y_type"), std::string::npos) << r.status().ToString();
  SetString(node, "y_type", "i8");
  Tensor wbad = Q(DType::kI8, Shape{3, 4, 3, 3}, std::vector<std::int32_t>(108, 0));
  r = RunNode(node, {&x, &wbad});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("channels"), std::string::npos) << r.status().ToString();
  Tensor xf = testing::F32(Shape{1, 2, 5, 5}, std::vector<float>(50, 0));
  r = RunNode(node, {&xf, &w});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("expected i8 or u8"), std::string::npos);
  SetString(node, "requant", "banker");
  r = RunNode(node, {&x, &w});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("requant"), std::string::npos) << r.status().ToString();
}

// ---------------------------------------------------------------------------
// QGemm

struct GemmCase {
  i64 rows, K, N;
  DType xt;
  bool per_channel, bias;
};
void CheckGemm(const GemmCase& c, bool float_requant) {
  const float sx = 0.02f;
  const std::int32_t zx = c.xt == DType::kI8 ? 10 : 100;
  const auto xv = RandomInts(static_cast<std::size_t>(c.rows * c.K), TMin(c.xt), TMax(c.xt), 17);
  const auto wv = RandomInts(static_cast<std::size_t>(c.N * c.K), -127, 127, 23);
  const auto bv = RandomInts(static_cast<std::size_t>(c.N), -5000, 5000, 29);
  std::vector<float> sw;
  for (i64 n = 0; n < (c.per_channel ? c.N : 1); ++n) sw.push_back(0.003f + 0.0005f * (n % 7));
  auto wsc = [&](i64 n) { return sw[c.per_channel ? static_cast<std::size_t>(n) : 0]; };
  std::vector<i64> acc(static_cast<std::size_t>(c.rows * c.N));
  double maxabs = 0;
  for (i64 r = 0; r < c.rows; ++r)
    for (i64 n = 0; n < c.N; ++n) {
      i64 a = c.bias ? bv[static_cast<std::size_t>(n)] : 0;
      for (i64 k = 0; k < c.K; ++k)
        a += (xv[static_cast<std::size_t>(r * c.K + k)] - zx) *
             wv[static_cast<std::size_t>(n * c.K + k)];
      acc[static_cast<std::size_t>(r * c.N + n)] = a;
      maxabs = std::max(maxabs, std::fabs(static_cast<double>(a) * sx * wsc(n)));
    }
  const float sy = static_cast<float>(maxabs / 120.0);
  const std::int32_t zy = c.xt == DType::kI8 ? -1 : 127;
  ir::Node node = MakeNode("QGemm", {"x", "w", c.bias ? "b" : ""}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetF(node, "x_scale", sx);
  SetInt(node, "x_zero_point", zx);
  SetFs(node, "w_scale", sw);
  SetF(node, "y_scale", sy);
  SetInt(node, "y_zero_point", zy);
  SetString(node, "y_type", TypeStr(c.xt));
  if (float_requant) SetString(node, "requant", "float");
  Tensor x = Q(c.xt, Shape{c.rows, c.K}, xv);
  Tensor w = Q(DType::kI8, Shape{c.N, c.K}, wv);
  Tensor b = testing::I32(Shape{c.N}, bv);
  Shape ys;
  const auto got = RunBoth(node, {&x, &w, c.bias ? &b : nullptr}, &ys);
  ASSERT_EQ(ys, (Shape{c.rows, c.N}));
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const i64 n = static_cast<i64>(i) % c.N;
    const std::int32_t exact =
        RequantRef(acc[i], sx, wsc(n), sy, zy, TMin(c.xt), TMax(c.xt), float_requant);
    ASSERT_EQ(got[i], exact) << "element " << i;
    const std::int32_t fq =
        QuantizeRef(static_cast<double>(acc[i]) * sx * wsc(n), sy, zy, TMin(c.xt), TMax(c.xt));
    ASSERT_LE(std::abs(got[i] - fq), 1) << "element " << i;
  }
}

class QGemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(QGemmTest, MatchesTfliteRulesExactlyAndFloatWithinOneStep) {
  CheckGemm(GetParam(), false);
}

TEST_P(QGemmTest, FloatRequantMatchesOnnxRuleExactlyAndFloatWithinOneStep) {
  CheckGemm(GetParam(), true);
}

INSTANTIATE_TEST_SUITE_P(Cases, QGemmTest,
                         ::testing::Values(GemmCase{1, 64, 10, DType::kI8, true, true},
                                           GemmCase{3, 37, 19, DType::kU8, false, true},
                                           GemmCase{40, 130, 33, DType::kI8, true, false},
                                           GemmCase{2, 1024, 100, DType::kI8, true, true},
                                           GemmCase{1, 18, 9, DType::kU8, true, true},
                                           GemmCase{4, 130, 17, DType::kI8, false, true}));

// ---------------------------------------------------------------------------
// QAdd / QMul

struct BinCase {
  Shape a, b;
  DType t;
  bool mul;
  float sa, sb, sy;
};
class QBinaryTest : public ::testing::TestWithParam<BinCase> {};

// Case c run on every ISA (RunBoth) with random operands from `seed` and `seed + 1`:
// per output element the operands minus their zero points, and the kernel's integers.
struct BinaryRun {
  std::int32_t zy = 0;
  std::vector<std::int32_t> x, y;  // a - za and b - zb, b broadcast to the output
  std::vector<std::int32_t> got;
};
BinaryRun RunBinary(const BinCase& c, unsigned seed, const std::string& requant,
                    std::int32_t act_min) {
  const std::int32_t za = c.t == DType::kI8 ? -5 : 128, zb = c.t == DType::kI8 ? 9 : 120;
  BinaryRun r;
  r.zy = c.t == DType::kI8 ? 2 : 125;
  const auto av =
      RandomInts(static_cast<std::size_t>(c.a.element_count()), TMin(c.t), TMax(c.t), seed);
  const auto bv =
      RandomInts(static_cast<std::size_t>(c.b.element_count()), TMin(c.t), TMax(c.t), seed + 1);
  ir::Node node = MakeNode(c.mul ? "QMul" : "QAdd", {"a", "b"}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetF(node, "a_scale", c.sa);
  SetInt(node, "a_zero_point", za);
  SetF(node, "b_scale", c.sb);
  SetInt(node, "b_zero_point", zb);
  SetF(node, "y_scale", c.sy);
  SetInt(node, "y_zero_point", r.zy);
  SetString(node, "y_type", TypeStr(c.t));
  if (!requant.empty()) SetString(node, "requant", requant);
  if (act_min > TMin(c.t)) SetInt(node, "act_min", act_min);
  Tensor a = Q(c.t, c.a, av), b = Q(c.t, c.b, bv);
  Shape ys;
  r.got = RunBoth(node, {&a, &b}, &ys);
  EXPECT_EQ(ys, c.a);
  // Broadcast indices by hand (rank 4, b broadcast over a's shape in these cases).
  const auto& ad = c.a.dims();
  const auto& bd = c.b.dims();
  for (i64 i = 0; i < c.a.element_count(); ++i) {
    i64 rem = i, bi = 0, bstride = 1;
    std::vector<i64> idx(4);
    for (int d = 3; d >= 0; --d) {
      idx[static_cast<std::size_t>(d)] = rem % ad[static_cast<std::size_t>(d)];
      rem /= ad[static_cast<std::size_t>(d)];
    }
    for (int d = 3; d >= 0; --d) {
      const i64 dim = bd[static_cast<std::size_t>(d)];
      bi += (dim == 1 ? 0 : idx[static_cast<std::size_t>(d)]) * bstride;
      bstride *= dim;
    }
    r.x.push_back(av[static_cast<std::size_t>(i)] - za);
    r.y.push_back(bv[static_cast<std::size_t>(bi)] - zb);
  }
  return r;
}

TEST_P(QBinaryTest, MatchesTfliteRulesExactlyAndFloatWithinOneStep) {
  const BinCase c = GetParam();
  const BinaryRun r = RunBinary(c, 3, "", TMin(c.t));
  ASSERT_EQ(r.got.size(), r.x.size());
  for (std::size_t i = 0; i < r.x.size(); ++i) {
    const std::int32_t x = r.x[i], y = r.y[i];
    std::int32_t raw;
    if (c.mul) {
      raw = fp::MultiplyByQuantizedMultiplier(
          x * y, fp::QuantizeMultiplier(static_cast<double>(c.sa) * c.sb / c.sy));
    } else {
      const double tm = 2.0 * std::max(c.sa, c.sb);
      const std::int32_t s1 =
          fp::MultiplyByQuantizedMultiplier(x * (1 << 20), fp::QuantizeMultiplier(c.sa / tm));
      const std::int32_t s2 =
          fp::MultiplyByQuantizedMultiplier(y * (1 << 20), fp::QuantizeMultiplier(c.sb / tm));
      raw = fp::MultiplyByQuantizedMultiplier(
          s1 + s2, fp::QuantizeMultiplier(tm / ((1 << 20) * static_cast<double>(c.sy))));
    }
    const std::int32_t exact = std::clamp(raw + r.zy, TMin(c.t), TMax(c.t));
    ASSERT_EQ(r.got[i], exact) << "element " << i;
    const double real = c.mul ? static_cast<double>(x) * c.sa * y * c.sb
                              : static_cast<double>(x) * c.sa + static_cast<double>(y) * c.sb;
    ASSERT_LE(std::abs(r.got[i] - QuantizeRef(real, c.sy, r.zy, TMin(c.t), TMax(c.t))), 1)
        << "element " << i;
  }
}

// requant "float" (what the QDQ pass sets for ONNX models): the double formula of
// qlinear.h exactly, and within one step of the real result.
TEST_P(QBinaryTest, FloatRequantMatchesOnnxRuleExactlyAndFloatWithinOneStep) {
  const BinCase c = GetParam();
  const std::int32_t lo = TMin(c.t) + 3;  // a fused clamp inside the type's range
  const BinaryRun r = RunBinary(c, 5, "float", lo);
  ASSERT_EQ(r.got.size(), r.x.size());
  const double fa = static_cast<double>(c.sa / c.sy), fb = static_cast<double>(c.sb / c.sy);
  const double fm = static_cast<double>(c.sa) * c.sb / c.sy;
  for (std::size_t i = 0; i < r.x.size(); ++i) {
    const std::int32_t x = r.x[i], y = r.y[i];
    const double v = c.mul ? static_cast<double>(x * y) * fm
                           : static_cast<double>(x) * fa + static_cast<double>(y) * fb;
    const std::int32_t exact =
        std::clamp(static_cast<std::int32_t>(std::nearbyint(v)) + r.zy, lo, TMax(c.t));
    ASSERT_EQ(r.got[i], exact) << "element " << i;
    const double real = c.mul ? static_cast<double>(x) * c.sa * y * c.sb
                              : static_cast<double>(x) * c.sa + static_cast<double>(y) * c.sb;
    ASSERT_LE(
        std::abs(r.got[i] - std::max(QuantizeRef(real, c.sy, r.zy, TMin(c.t), TMax(c.t)), lo)), 1)
        << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, QBinaryTest,
    ::testing::Values(
        BinCase{Shape{1, 4, 5, 6}, Shape{1, 4, 5, 6}, DType::kI8, false, 0.05f, 0.08f, 0.1f},
        BinCase{Shape{2, 3, 4, 4}, Shape{1, 3, 1, 1}, DType::kU8, false, 0.2f, 0.01f, 0.15f},
        BinCase{Shape{1, 4, 5, 6}, Shape{1, 4, 5, 6}, DType::kI8, true, 0.05f, 0.08f, 0.3f},
        BinCase{Shape{2, 3, 4, 4}, Shape{1, 1, 1, 4}, DType::kU8, true, 0.02f, 0.03f, 0.01f},
        // planes of 221 pixels: bands of 64-pixel multiples, the last one partial
        BinCase{Shape{2, 5, 13, 17}, Shape{2, 5, 13, 17}, DType::kI8, false, 0.05f, 0.03f, 0.07f},
        BinCase{Shape{1, 3, 13, 17}, Shape{1, 3, 13, 17}, DType::kU8, true, 0.02f, 0.05f, 0.02f}));

// ---------------------------------------------------------------------------
// Pools

struct PoolCase {
  i64 C, H, W, k, stride, pad;
  bool same_params, include_pad, ceil;
  DType t;
};
class QPoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(QPoolTest, AverageAndMaxMatchTheirReferences) {
  const PoolCase c = GetParam();
  const float sx = 0.1f, sy = c.same_params ? 0.1f : 0.07f;
  const std::int32_t zx = c.t == DType::kI8 ? -4 : 131, zy = c.same_params ? zx : zx + 3;
  const auto xv = RandomInts(static_cast<std::size_t>(c.C * c.H * c.W), TMin(c.t), TMax(c.t), 77);
  auto out_dim = [&](i64 in) {
    const i64 span = in + 2 * c.pad - c.k;
    i64 o = c.ceil ? (span + c.stride - 1) / c.stride + 1 : span / c.stride + 1;
    if (c.ceil && (o - 1) * c.stride >= in + c.pad) --o;
    return o;
  };
  const i64 OH = out_dim(c.H), OW = out_dim(c.W);
  for (const char* op : {"QAveragePool", "QMaxPool"}) {
    const bool avg = std::string(op) == "QAveragePool";
    ir::Node node = MakeNode(op, {"x"}, {"y"}, 1);
    node.domain = engine::kQLinearDomain;
    SetInts(node, "kernel_shape", {c.k, c.k});
    SetInts(node, "strides", {c.stride, c.stride});
    SetInts(node, "pads", {c.pad, c.pad, c.pad, c.pad});
    SetInt(node, "ceil_mode", c.ceil ? 1 : 0);
    SetInt(node, "count_include_pad", c.include_pad ? 1 : 0);
    SetF(node, "x_scale", sx);
    SetInt(node, "x_zero_point", zx);
    SetF(node, "y_scale", sy);
    SetInt(node, "y_zero_point", zy);
    SetString(node, "y_type", TypeStr(c.t));
    Tensor x = Q(c.t, Shape{1, c.C, c.H, c.W}, xv);
    Shape ys;
    const auto got = RunBoth(node, {&x}, &ys);
    ASSERT_EQ(ys, (Shape{1, c.C, OH, OW})) << op;
    for (i64 ch = 0; ch < c.C; ++ch)
      for (i64 oh = 0; oh < OH; ++oh)
        for (i64 ow = 0; ow < OW; ++ow) {
          i64 sum = 0, valid = 0, padded = 0, best = -1000;
          for (i64 ky = 0; ky < c.k; ++ky)
            for (i64 kx = 0; kx < c.k; ++kx) {
              const i64 ih = oh * c.stride - c.pad + ky, iw = ow * c.stride - c.pad + kx;
              if (ih >= c.H + c.pad || iw >= c.W + c.pad) continue;  // past the end padding
              ++padded;
              if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
              const std::int32_t v = xv[static_cast<std::size_t>((ch * c.H + ih) * c.W + iw)];
              sum += v;
              best = std::max<i64>(best, v);
              ++valid;
            }
          const std::int32_t g = got[static_cast<std::size_t>((ch * OH + oh) * OW + ow)];
          double real;
          if (avg) {
            const i64 count = c.include_pad ? padded : valid;
            real = static_cast<double>(sum - valid * zx) * sx / static_cast<double>(count);
            if (c.same_params) {  // TFLite's rule, exactly
              const i64 s = sum + (count - valid) * zx;
              const i64 e = s >= 0 ? (s + count / 2) / count : (s - count / 2) / count;
              ASSERT_EQ(g, e) << op << " at " << ch << "," << oh << "," << ow;
            }
          } else {
            real = static_cast<double>(best - zx) * sx;
            if (c.same_params) {
              ASSERT_EQ(g, best) << op;
            }
          }
          ASSERT_LE(std::abs(g - QuantizeRef(real, sy, zy, TMin(c.t), TMax(c.t))), 1)
              << op << " at " << ch << "," << oh << "," << ow;
        }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, QPoolTest,
    ::testing::Values(PoolCase{3, 7, 7, 7, 1, 0, true, false, false, DType::kI8},
                      PoolCase{4, 9, 8, 3, 2, 1, true, false, false, DType::kU8},
                      PoolCase{4, 9, 8, 3, 2, 1, false, true, false, DType::kI8},
                      PoolCase{2, 10, 10, 3, 2, 0, false, false, true, DType::kU8},
                      PoolCase{2, 6, 6, 2, 2, 0, true, false, false, DType::kI8}));

TEST(QGlobalAveragePoolTest, MatchesTfliteMeanAndFloatWithinOneStep) {
  for (DType t : {DType::kI8, DType::kU8}) {
    for (bool keep : {true, false}) {
      const i64 C = 5, H = 7, W = 7;
      const float sx = 0.04f, sy = 0.03f;
      const std::int32_t zx = t == DType::kI8 ? -20 : 100, zy = t == DType::kI8 ? 4 : 90;
      const auto xv = RandomInts(static_cast<std::size_t>(2 * C * H * W), TMin(t), TMax(t), 8);
      ir::Node node = MakeNode("QGlobalAveragePool", {"x"}, {"y"}, 1);
      node.domain = engine::kQLinearDomain;
      SetInt(node, "keepdims", keep ? 1 : 0);
      SetF(node, "x_scale", sx);
      SetInt(node, "x_zero_point", zx);
      SetF(node, "y_scale", sy);
      SetInt(node, "y_zero_point", zy);
      SetString(node, "y_type", TypeStr(t));
      Tensor x = Q(t, Shape{2, C, H, W}, xv);
      Shape ys;
      const auto got = RunBoth(node, {&x}, &ys);
      ASSERT_EQ(ys, keep ? Shape({2, C, 1, 1}) : Shape({2, C}));
      for (i64 p = 0; p < 2 * C; ++p) {
        std::int32_t sum = 0;
        for (i64 i = 0; i < H * W; ++i) sum += xv[static_cast<std::size_t>(p * H * W + i)];
        const float rs = sx / (static_cast<float>(H * W) * sy);
        const std::int32_t bias = zy - static_cast<std::int32_t>(static_cast<float>(zx) * sx / sy);
        const std::int32_t e =
            std::clamp(fp::MultiplyByQuantizedMultiplier(sum, fp::QuantizeMultiplier(rs)) + bias,
                       TMin(t), TMax(t));
        ASSERT_EQ(got[static_cast<std::size_t>(p)], e);
        const double real = static_cast<double>(sum - H * W * zx) * sx / static_cast<double>(H * W);
        ASSERT_LE(std::abs(got[static_cast<std::size_t>(p)] -
                           QuantizeRef(real, sy, zy, TMin(t), TMax(t))),
                  1);
      }
    }
  }
}

TEST(QLookupTest, IndexesTheTableByQuantizedValue) {
  std::vector<std::int64_t> table(256);
  for (int i = 0; i < 256; ++i) table[static_cast<std::size_t>(i)] = (i * 7) % 256 - 128;
  ir::Node node = MakeNode("QLookup", {"x"}, {"y"}, 1);
  node.domain = engine::kQLinearDomain;
  SetInts(node, "table", table);
  SetF(node, "y_scale", 1.0f);
  SetString(node, "y_type", "i8");
  Tensor x = Q(DType::kI8, Shape{4}, {-128, -1, 0, 127});
  const auto got = RunBoth(node, {&x});
  EXPECT_EQ(got,
            (std::vector<std::int32_t>{
                static_cast<std::int32_t>(table[0]), static_cast<std::int32_t>(table[127]),
                static_cast<std::int32_t>(table[128]), static_cast<std::int32_t>(table[255])}));
  SetInts(node, "table", {1, 2, 3});
  EXPECT_FALSE(RunNode(node, {&x}).has_value());
}

}  // namespace
}  // namespace deepedge
