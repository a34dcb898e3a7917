// The TFLite importer on tiny flatbuffers built here with the schema's generated builders:
// operator mappings checked against simple references (run through the whole deepedge
// backend), MediaPipe's custom Convolution2DTransposeBias against a double-precision
// reference, errors for other custom / unknown operators, and truncated, fuzzed and inconsistent
// files (each must give an error, never a crash: these tests also run under ASan).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "deepedge/backends.h"
#include "deepedge/tflite_model.h"
#include "tflite_schema_generated.h"
#include "unit/formats/tflite_test_models.h"

namespace deepedge {
namespace {

namespace fb = flatbuffers;
using tfl::TensorType;
using tflite_test::ModelBuilder;

std::vector<float> RandomFloats(std::size_t n, std::uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Runs a model through the deepedge backend (import, layout pass, folding, kernels).
Expected<std::vector<Tensor>> RunModel(const std::vector<std::uint8_t>& bytes,
                                       std::vector<Tensor> inputs, bool xnnpack = true) {
  auto backend = MakeDeepEdgeBackend();
  SessionOptions so;
  so.threads = 1;
  so.backend_options["xnnpack"] = xnnpack ? "on" : "off";
  DEEPEDGE_ASSIGN_OR_RETURN(auto session,
                            backend->Load(ModelSource::FromBytes(ModelFormat::kTflite, bytes), so));
  std::vector<Tensor> out;
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, out));
  return out;
}

Tensor FromFloats(const Shape& s, const std::vector<float>& v) {
  Tensor t = Tensor::Allocate(DType::kF32, s).value();
  std::copy(v.begin(), v.end(), t.as<float>().begin());
  return t;
}

// NHWC convolution reference: x [1,H,W,C], w [O,KH,KW,C/groups... ] handled by caller.
float ConvAt(const std::vector<float>& x, int H, int W, int C, const std::vector<float>& w, int O,
             int K, int oy, int ox, int o, int pad, int stride) {
  float acc = 0;
  for (int ky = 0; ky < K; ++ky) {
    for (int kx = 0; kx < K; ++kx) {
      const int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
      for (int c = 0; c < C; ++c) {
        acc += x[static_cast<std::size_t>((iy * W + ix) * C + c)] *
               w[static_cast<std::size_t>(((o * K + ky) * K + kx) * C + c)];
      }
    }
  }
  (void)O;
  return acc;
}

// Float CONV_2D, SAME padding, fused RELU6, followed by a float MAX_POOL_2D: checks the
// OHWI -> OIHW permutation, SAME pads and the NHWC <-> NCHW transposes.
TEST(TfliteImport, FloatConvSameReluPoolMatchesReference) {
  const int H = 5, W = 6, C = 2, O = 3, K = 3;
  const auto x = RandomFloats(H * W * C, 1, -2, 2);
  const auto w = RandomFloats(O * K * K * C, 2);
  const std::vector<float> bias = {0.5f, -0.25f, 0.f};
  ModelBuilder m;
  const int tx = m.Tensor({1, H, W, C}, TensorType::FLOAT32, "x");
  const int tw = m.Const({O, K, K, C}, TensorType::FLOAT32, w, "w");
  const int tb = m.Const({O}, TensorType::FLOAT32, bias, "b");
  const int ty = m.Tensor({1, H, W, O}, TensorType::FLOAT32, "conv");
  const int tp = m.Tensor({1, 2, 3, O}, TensorType::FLOAT32, "pool");
  auto& f = m.fbb();
  auto conv_opts =
      tfl::CreateConv2DOptions(f, tfl::Padding::SAME, 1, 1, tfl::ActivationFunctionType::RELU6);
  m.Op(m.Code(3), {tx, tw, tb}, {ty}, tfl::BuiltinOptions::Conv2DOptions, conv_opts.Union());
  auto pool_opts = tfl::CreatePool2DOptions(f, tfl::Padding::VALID, 2, 2, 2, 2);
  m.Op(m.Code(17), {ty}, {tp}, tfl::BuiltinOptions::Pool2DOptions, pool_opts.Union());
  const auto bytes = m.Finish({tx}, {tp});

  std::vector<float> conv(static_cast<std::size_t>(H * W * O));
  for (int oy = 0; oy < H; ++oy)
    for (int ox = 0; ox < W; ++ox)
      for (int o = 0; o < O; ++o) {
        const float v =
            ConvAt(x, H, W, C, w, O, K, oy, ox, o, 1, 1) + bias[static_cast<std::size_t>(o)];
        conv[static_cast<std::size_t>((oy * W + ox) * O + o)] = std::clamp(v, 0.f, 6.f);
      }
  for (bool xnn : {false, true}) {
    auto out = RunModel(
        bytes,
        [&] {
          std::vector<Tensor> in;
          in.push_back(FromFloats(Shape{1, H, W, C}, x));
          return in;
        }(),
        xnn);
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ((*out)[0].shape(), (Shape{1, 2, 3, O}));
    for (int py = 0; py < 2; ++py)
      for (int px = 0; px < 3; ++px)
        for (int o = 0; o < O; ++o) {
          float ref = -1e9f;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx)
              ref = std::max(
                  ref, conv[static_cast<std::size_t>(((py * 2 + dy) * W + px * 2 + dx) * O + o)]);
          EXPECT_NEAR((*out)[0].as<float>()[static_cast<std::size_t>((py * 3 + px) * O + o)], ref,
                      1e-4f)
              << "xnnpack " << xnn << " at " << py << "," << px << "," << o;
        }
  }
}

// int8 DEPTHWISE_CONV_2D with depth multiplier 2 and per-channel weights, VALID padding,
// stride 2: the QDQ form must give the float reference requantized, within one step.
TEST(TfliteImport, Int8DepthwisePerChannelMatchesReference) {
  const int H = 5, W = 5, C = 2, M = 2, K = 3, OH = 2, OW = 2;
  const float sx = 0.05f, sy = 0.1f;
  const int zx = 3, zy = -5;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> d8(-100, 100);
  std::vector<std::int8_t> x(H * W * C), w(K * K * C * M);
  for (auto& v : x) v = static_cast<std::int8_t>(d8(rng));
  for (auto& v : w) v = static_cast<std::int8_t>(d8(rng));
  const std::vector<float> sw = {0.01f, 0.02f, 0.015f, 0.005f};
  const std::vector<std::int32_t> bias = {100, -200, 0, 50};
  ModelBuilder m;
  const int tx = m.Tensor({1, H, W, C}, TensorType::INT8, "x", nullptr, 0, m.Quant({sx}, {zx}));
  const int tw = m.Const({1, K, K, C * M}, TensorType::INT8, w, "w", m.Quant(sw, {0, 0, 0, 0}, 3));
  std::vector<float> sb;
  for (float s : sw) sb.push_back(s * sx);
  const int tb = m.Const({C * M}, TensorType::INT32, bias, "b", m.Quant(sb, {0, 0, 0, 0}, 0));
  const int ty =
      m.Tensor({1, OH, OW, C * M}, TensorType::INT8, "y", nullptr, 0, m.Quant({sy}, {zy}));
  auto opts = tfl::CreateDepthwiseConv2DOptions(m.fbb(), tfl::Padding::VALID, 2, 2, M,
                                                tfl::ActivationFunctionType::RELU);
  m.Op(m.Code(4), {tx, tw, tb}, {ty}, tfl::BuiltinOptions::DepthwiseConv2DOptions, opts.Union());
  const auto bytes = m.Finish({tx}, {ty});

  Tensor in = Tensor::Allocate(DType::kI8, Shape{1, H, W, C}).value();
  std::copy(x.begin(), x.end(), in.as<std::int8_t>().begin());
  std::vector<Tensor> ins;
  ins.push_back(std::move(in));
  auto out = RunModel(bytes, std::move(ins));
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  ASSERT_EQ((*out)[0].dtype(), DType::kI8);
  ASSERT_EQ((*out)[0].shape(), (Shape{1, OH, OW, C * M}));
  for (int oy = 0; oy < OH; ++oy)
    for (int ox = 0; ox < OW; ++ox)
      for (int oc = 0; oc < C * M; ++oc) {
        const int c = oc / M;
        double acc = bias[static_cast<std::size_t>(oc)] * sb[static_cast<std::size_t>(oc)];
        for (int ky = 0; ky < K; ++ky)
          for (int kx = 0; kx < K; ++kx) {
            const double xv =
                (x[static_cast<std::size_t>(((oy * 2 + ky) * W + ox * 2 + kx) * C + c)] - zx) * sx;
            const double wv = w[static_cast<std::size_t>((ky * K + kx) * C * M + oc)] *
                              sw[static_cast<std::size_t>(oc)];
            acc += xv * wv;
          }
        acc = std::max(acc, 0.0);
        const double q = std::clamp(std::nearbyint(acc / sy) + zy, -128.0, 127.0);
        const int got =
            (*out)[0].as<std::int8_t>()[static_cast<std::size_t>((oy * OW + ox) * C * M + oc)];
        EXPECT_NEAR(got, q, 1.0) << oy << "," << ox << "," << oc;
      }
}

// FULLY_CONNECTED with float16 weights behind DEQUANTIZE and a CSR-sparse constant behind
// DENSIFY as the bias path's second operand of ADD.
TEST(TfliteImport, Float16DequantizeAndDensify) {
  const int K = 4, N = 3;
  const auto wf = RandomFloats(N * K, 4);
  std::vector<std::uint16_t> wh;
  std::vector<float> wr;  // the weights as float16 rounds them
  for (float v : wf) {
    wh.push_back(F32ToF16(v));
    wr.push_back(F16ToF32(wh.back()));
  }
  ModelBuilder m;
  auto& f = m.fbb();
  const int tx = m.Tensor({1, K}, TensorType::FLOAT32, "x");
  const int th = m.Const({N, K}, TensorType::FLOAT16, wh, "w16");
  const int tw = m.Tensor({N, K}, TensorType::FLOAT32, "w");
  const int ty = m.Tensor({1, N}, TensorType::FLOAT32, "fc");
  // Sparse [1, 3] = {0, 2.5, 0}: dim 0 dense (1), dim 1 CSR with one entry at column 1.
  std::vector<fb::Offset<tfl::DimensionMetadata>> dims;
  dims.push_back(tfl::CreateDimensionMetadata(f, tfl::DimensionType::DENSE, 1));
  auto seg = tfl::CreateInt32Vector(f, f.CreateVector(std::vector<int>{0, 1}));
  auto idx = tfl::CreateInt32Vector(f, f.CreateVector(std::vector<int>{1}));
  dims.push_back(tfl::CreateDimensionMetadata(f, tfl::DimensionType::SPARSE_CSR, 0,
                                              tfl::SparseIndexVector::Int32Vector, seg.Union(),
                                              tfl::SparseIndexVector::Int32Vector, idx.Union()));
  auto sparsity = tfl::CreateSparsityParameters(f, f.CreateVector(std::vector<int>{0, 1}), 0,
                                                f.CreateVector(dims));
  const std::vector<float> stored = {2.5f};
  const int ts = m.Tensor({1, N}, TensorType::FLOAT32, "sparse", stored.data(), 4, 0, sparsity);
  const int td = m.Tensor({1, N}, TensorType::FLOAT32, "dense");
  const int tz = m.Tensor({1, N}, TensorType::FLOAT32, "y");
  m.Op(m.Code(6), {th}, {tw});
  m.Op(m.Code(9), {tx, tw, -1}, {ty});
  m.Op(m.Code(124), {ts}, {td});
  m.Op(m.Code(0), {ty, td}, {tz});
  const auto bytes = m.Finish({tx}, {tz});
  const auto x = RandomFloats(K, 5);
  std::vector<Tensor> ins;
  ins.push_back(FromFloats(Shape{1, K}, x));
  auto out = RunModel(bytes, std::move(ins));
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  for (int n = 0; n < N; ++n) {
    float ref = n == 1 ? 2.5f : 0.f;
    for (int k = 0; k < K; ++k)
      ref += x[static_cast<std::size_t>(k)] * wr[static_cast<std::size_t>(n * K + k)];
    EXPECT_NEAR((*out)[0].as<float>()[static_cast<std::size_t>(n)], ref, 1e-5f) << n;
  }
}

std::vector<std::uint8_t> TinyReluModel() {
  ModelBuilder m;
  const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
  const int ty = m.Tensor({1, 4}, TensorType::FLOAT32, "y");
  m.Op(m.Code(19), {tx}, {ty});
  return m.Finish({tx}, {ty});
}

TEST(TfliteImport, CustomOperatorsAreNamed) {
  ModelBuilder m;
  const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
  const int ta = m.Tensor({1, 4}, TensorType::FLOAT32, "a");
  const int ty = m.Tensor({1, 4}, TensorType::FLOAT32, "y");
  m.Op(m.Code(19), {tx}, {ta});
  m.Op(m.Code(32, "SignalStacker"), {ta}, {ty});
  const auto bytes = m.Finish({tx}, {ty});
  auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(model.status().message().find("SignalStacker"), std::string::npos)
      << model.status().message();
  EXPECT_NE(model.status().message().find("operator 1"), std::string::npos)
      << model.status().message();
  // Inspection still works and counts it.
  auto info = InspectTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->operator_counts["CUSTOM:SignalStacker"], 1);
  EXPECT_EQ(info->operator_counts["RELU"], 1);
}

// --- MediaPipe's Convolution2DTransposeBias ------------------------------------------

// The custom_options struct MediaPipe writes: int32 padding (TfLitePadding: 1 SAME,
// 2 VALID), stride_width, stride_height, little-endian.
std::vector<std::uint8_t> TransposeConvBiasOptions(std::int32_t padding, std::int32_t stride_w,
                                                   std::int32_t stride_h) {
  std::vector<std::uint8_t> bytes;
  for (std::int32_t v : {padding, stride_w, stride_h}) {
    const auto u = static_cast<std::uint32_t>(v);
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<std::uint8_t>(u >> (8 * b)));
  }
  return bytes;
}

struct TransposeConvBiasCase {
  int H, W, C, O, KH, KW, SH, SW;
  bool same;
  bool fp16_weights;  // float16 weights behind DEQUANTIZE, as in MediaPipe's models
};

// Transposed convolution in double precision, scatter form: input pixel (iy, ix) adds
// x * w[o, ky, kx, c] to output (iy * SH - top + ky, ix * SW - left + kx). SAME: output
// H * SH, top = max(KH - SH, 0) / 2 (TFLite's TRANSPOSE_CONV padding for that output
// size); VALID: output (H - 1) * SH + KH, no padding.
std::vector<double> TransposeConvReference(const TransposeConvBiasCase& c,
                                           const std::vector<float>& x, const std::vector<float>& w,
                                           const std::vector<float>& bias, int OH, int OW) {
  const int top = c.same ? std::max(c.KH - c.SH, 0) / 2 : 0;
  const int left = c.same ? std::max(c.KW - c.SW, 0) / 2 : 0;
  std::vector<double> y(static_cast<std::size_t>(OH * OW * c.O));
  for (int oy = 0; oy < OH; ++oy)
    for (int ox = 0; ox < OW; ++ox)
      for (int o = 0; o < c.O; ++o)
        y[static_cast<std::size_t>((oy * OW + ox) * c.O + o)] = bias[static_cast<std::size_t>(o)];
  for (int iy = 0; iy < c.H; ++iy)
    for (int ix = 0; ix < c.W; ++ix)
      for (int ky = 0; ky < c.KH; ++ky)
        for (int kx = 0; kx < c.KW; ++kx) {
          const int oy = iy * c.SH - top + ky, ox = ix * c.SW - left + kx;
          if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
          for (int o = 0; o < c.O; ++o)
            for (int ch = 0; ch < c.C; ++ch) {
              y[static_cast<std::size_t>((oy * OW + ox) * c.O + o)] +=
                  static_cast<double>(x[static_cast<std::size_t>((iy * c.W + ix) * c.C + ch)]) *
                  w[static_cast<std::size_t>(((o * c.KH + ky) * c.KW + kx) * c.C + ch)];
            }
        }
  return y;
}

class TransposeConvBias : public ::testing::TestWithParam<TransposeConvBiasCase> {};

TEST_P(TransposeConvBias, MatchesReference) {
  const TransposeConvBiasCase c = GetParam();
  const int OH = c.same ? c.H * c.SH : (c.H - 1) * c.SH + c.KH;
  const int OW = c.same ? c.W * c.SW : (c.W - 1) * c.SW + c.KW;
  const auto x = RandomFloats(static_cast<std::size_t>(c.H * c.W * c.C), 11, -2, 2);
  auto w = RandomFloats(static_cast<std::size_t>(c.O * c.KH * c.KW * c.C), 12);
  const auto bias = RandomFloats(static_cast<std::size_t>(c.O), 13);
  std::vector<std::uint16_t> wh;
  if (c.fp16_weights) {
    for (float& v : w) {
      wh.push_back(F32ToF16(v));
      v = F16ToF32(wh.back());  // the reference uses the weights as float16 rounds them
    }
  }
  ModelBuilder m;
  const int tx = m.Tensor({1, c.H, c.W, c.C}, TensorType::FLOAT32, "x");
  int tw;
  if (c.fp16_weights) {
    const int th = m.Const({c.O, c.KH, c.KW, c.C}, TensorType::FLOAT16, wh, "w16");
    tw = m.Tensor({c.O, c.KH, c.KW, c.C}, TensorType::FLOAT32, "w");
    m.Op(m.Code(6), {th}, {tw});
  } else {
    tw = m.Const({c.O, c.KH, c.KW, c.C}, TensorType::FLOAT32, w, "w");
  }
  const int tb = m.Const({c.O}, TensorType::FLOAT32, bias, "b");
  const int ty = m.Tensor({1, OH, OW, c.O}, TensorType::FLOAT32, "y");
  m.CustomOp(m.Code(32, "Convolution2DTransposeBias"), {tx, tw, tb}, {ty},
             TransposeConvBiasOptions(c.same ? 1 : 2, c.SW, c.SH));
  const auto bytes = m.Finish({tx}, {ty});
  // `deepedge info` counts its MACs as TRANSPOSE_CONV's: input elements * O * KH * KW
  // (plus the DEQUANTIZE's zero).
  auto info = InspectTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->macs, std::int64_t{c.H} * c.W * c.C * c.O * c.KH * c.KW);
  const auto ref = TransposeConvReference(c, x, w, bias, OH, OW);
  for (bool xnn : {false, true}) {
    std::vector<Tensor> in;
    in.push_back(FromFloats(Shape{1, c.H, c.W, c.C}, x));
    auto out = RunModel(bytes, std::move(in), xnn);
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ((*out)[0].shape(), (Shape{1, OH, OW, c.O}));
    const auto got = (*out)[0].as<float>();
    for (std::size_t i = 0; i < ref.size(); ++i) {
      // float32 sums of at most C * ceil(K / S)^2 products of values below 2.
      ASSERT_NEAR(got[i], ref[i], 1e-5 * (1 + std::fabs(ref[i])))
          << "xnnpack " << xnn << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    TfliteImport, TransposeConvBias,
    ::testing::Values(  // H, W, C, O, KH, KW, SH, SW, same, fp16
        TransposeConvBiasCase{3, 4, 3, 4, 2, 2, 2, 2, true, false},   // MediaPipe's shape
        TransposeConvBiasCase{3, 4, 3, 4, 3, 3, 2, 2, true, false},   // odd pad total
        TransposeConvBiasCase{4, 3, 5, 2, 3, 2, 2, 3, true, false},   // stride_h != stride_w
        TransposeConvBiasCase{3, 3, 2, 3, 1, 1, 2, 2, true, false},   // kernel < stride
        TransposeConvBiasCase{3, 4, 3, 2, 3, 3, 2, 2, false, false},  // VALID
        TransposeConvBiasCase{5, 5, 16, 1, 2, 2, 2, 2, true, true}),  // fp16, 16 -> 1
    [](const ::testing::TestParamInfo<TransposeConvBiasCase>& info) {
      const auto& c = info.param;
      return "K" + std::to_string(c.KH) + "x" + std::to_string(c.KW) + "S" + std::to_string(c.SH) +
             "x" + std::to_string(c.SW) + (c.same ? "Same" : "Valid") +
             (c.fp16_weights ? "Fp16" : "") + "C" + std::to_string(c.C) + "O" + std::to_string(c.O);
    });

// Malformed operators give InvalidArgument naming the operator and the problem.
TEST(TfliteImport, TransposeConvBiasRejectsMalformedOperators) {
  struct Bad {
    const char* what;
    std::vector<std::uint8_t> options;
    std::vector<int> x, w, b, y;
    int inputs;  // 2 drops the bias, 4 adds a second bias
    const char* expect;
  };
  const std::vector<int> x{1, 3, 3, 2}, w{4, 2, 2, 2}, b{4}, y{1, 6, 6, 4};
  auto opts = TransposeConvBiasOptions;
  std::vector<std::uint8_t> thirteen = opts(1, 2, 2);
  thirteen.push_back(0);
  const std::vector<Bad> cases = {
      {"no custom_options", {}, x, w, b, y, 3, "got 0"},
      {"8 bytes", {1, 0, 0, 0, 2, 0, 0, 0}, x, w, b, y, 3, "got 8"},
      {"13 bytes", thirteen, x, w, b, y, 3, "got 13"},
      {"stride_width 0", opts(1, 0, 2), x, w, b, y, 3, "stride_width 0"},
      {"stride_height -1", opts(1, 2, -1), x, w, b, y, 3, "stride_height -1"},
      {"padding 0", opts(0, 2, 2), x, w, b, y, 3, "padding must be"},
      {"padding 7", opts(7, 2, 2), x, w, b, y, 3, "got 7"},
      {"two inputs", opts(1, 2, 2), x, w, b, y, 2, "expects 3 inputs"},
      {"four inputs", opts(1, 2, 2), x, w, b, y, 4, "got 4"},
      {"3-D input", opts(1, 2, 2), {3, 3, 2}, w, b, y, 3, "input must be 4-D"},
      {"3-D filter", opts(1, 2, 2), x, {4, 2, 2}, b, y, 3, "filter must be 4-D"},
      {"2-D bias", opts(1, 2, 2), x, w, {1, 4}, y, 3, "bias must be 1-D"},
      {"channels", opts(1, 2, 2), x, {4, 2, 2, 3}, b, y, 3, "input channels 2"},
      {"bias size", opts(1, 2, 2), x, w, {3}, y, 3, "output channels 4"},
      {"output size", opts(1, 2, 2), x, w, b, {1, 5, 6, 4}, 3, "does not match"},
  };
  for (const Bad& c : cases) {
    ModelBuilder m;
    auto count = [](const std::vector<int>& s) {
      std::size_t n = 1;
      for (int d : s) n *= static_cast<std::size_t>(d);
      return n;
    };
    const int tx = m.Tensor(c.x, TensorType::FLOAT32, "x");
    const int tw = m.Const(c.w, TensorType::FLOAT32, std::vector<float>(count(c.w), 0.5f), "w");
    const int tb = m.Const(c.b, TensorType::FLOAT32, std::vector<float>(count(c.b), 1.f), "b");
    const int ty = m.Tensor(c.y, TensorType::FLOAT32, "y");
    std::vector<int> ins{tx, tw, tb};
    if (c.inputs == 2) ins.pop_back();
    if (c.inputs == 4) ins.push_back(tb);
    m.CustomOp(m.Code(32, "Convolution2DTransposeBias"), ins, {ty}, c.options);
    const auto bytes = m.Finish({tx}, {ty});
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
    ASSERT_FALSE(r.has_value()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument)
        << c.what << ": " << r.status().ToString();
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find("operator 0 (CUSTOM:Convolution2DTransposeBias)"), std::string::npos)
        << c.what << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
}

// Random custom_options (any size, any bytes): each imports or gives InvalidArgument.
TEST(TfliteImport, TransposeConvBiasRandomOptionsNeverCrash) {
  std::mt19937 rng(7);
  int imported = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    // Fields from {-1, 0, 1, 2, 2, any}, 0, 1, 4 or 12 bytes more, then sometimes a byte
    // flipped or the tail cut.
    auto pick = [&] {
      const std::int32_t k = static_cast<std::int32_t>(rng() % 6);
      return k == 5 ? static_cast<std::int32_t>(rng()) : std::min(k - 1, 2);
    };
    std::vector<std::uint8_t> opts = TransposeConvBiasOptions(pick(), pick(), pick());
    opts.resize(opts.size() + std::vector<std::size_t>{0, 1, 4, 12}[rng() % 4], 0);
    if (rng() % 4 == 0) opts[rng() % opts.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) opts.resize(rng() % opts.size());
    ModelBuilder m;
    const std::vector<float> w(4 * 2 * 2 * 2, 0.5f), b(4, 1.f);
    const int tx = m.Tensor({1, 3, 3, 2}, TensorType::FLOAT32, "x");
    const int tw = m.Const({4, 2, 2, 2}, TensorType::FLOAT32, w, "w");
    const int tb = m.Const({4}, TensorType::FLOAT32, b, "b");
    const int ty = m.Tensor({1, 6, 6, 4}, TensorType::FLOAT32, "y");
    m.CustomOp(m.Code(32, "Convolution2DTransposeBias"), {tx, tw, tb}, {ty}, opts);
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, m.Finish({tx}, {ty})));
    if (r.has_value()) {
      ++imported;
      continue;
    }
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  }
  EXPECT_GT(imported, 0);  // the draws with SAME and strides 2, 2
}

// Beside a mapped Convolution2DTransposeBias, any other custom operator is still refused,
// named alone.
TEST(TfliteImport, OtherCustomOperatorsBesideTransposeConvBiasAreNamed) {
  ModelBuilder m;
  const std::vector<float> w(2 * 2 * 2 * 2, 0.5f), b(2, 0.f);
  const int tx = m.Tensor({1, 2, 2, 2}, TensorType::FLOAT32, "x");
  const int tw = m.Const({2, 2, 2, 2}, TensorType::FLOAT32, w, "w");
  const int tb = m.Const({2}, TensorType::FLOAT32, b, "b");
  const int ty = m.Tensor({1, 4, 4, 2}, TensorType::FLOAT32, "y");
  const int tz = m.Tensor({1, 4, 4, 2}, TensorType::FLOAT32, "z");
  m.CustomOp(m.Code(32, "Convolution2DTransposeBias"), {tx, tw, tb}, {ty},
             TransposeConvBiasOptions(1, 2, 2));
  m.CustomOp(m.Code(32, "MaxUnpooling2D"), {ty}, {tz}, {});
  const auto bytes = m.Finish({tx}, {tz});
  auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("custom operator MaxUnpooling2D (first at operator 1)"), std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("uses custom operators"), std::string::npos) << msg;
}

TEST(TfliteImport, UnknownBuiltinIsNamedWithItsNumberAndIndex) {
  ModelBuilder m;
  const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
  const int ty = m.Tensor({1, 4}, TensorType::FLOAT32, "y");
  m.Op(m.Code(27), {tx}, {ty});  // SVDF
  const auto bytes = m.Finish({tx}, {ty});
  auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
  const std::string msg = model.status().message();
  EXPECT_NE(msg.find("SVDF (27)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("operator 0"), std::string::npos) << msg;
}

TEST(TfliteImport, InspectReportsQuantizationAndMacs) {
  ModelBuilder m;
  const std::vector<std::int8_t> w(6 * 4, 1);
  const int tx = m.Tensor({2, 4}, TensorType::INT8, "x", nullptr, 0, m.Quant({0.5f}, {-1}));
  const int tw =
      m.Const({6, 4}, TensorType::INT8, w, "w", m.Quant({1, 2, 3, 4, 5, 6}, {0, 0, 0, 0, 0, 0}, 0));
  const int ty = m.Tensor({2, 6}, TensorType::INT8, "y", nullptr, 0, m.Quant({0.25f}, {7}));
  m.Op(m.Code(9), {tx, tw, -1}, {ty});
  const auto bytes = m.Finish({tx}, {ty});
  auto info = InspectTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].dtype, DType::kI8);
  ASSERT_TRUE(info->inputs[0].quantization.has_value());
  EXPECT_FLOAT_EQ(info->inputs[0].quantization->scale[0], 0.5f);
  EXPECT_EQ(info->inputs[0].quantization->zero_point[0], -1);
  EXPECT_FALSE(info->inputs[0].quantization->axis.has_value());
  EXPECT_EQ(info->parameter_count, 24);
  EXPECT_EQ(info->macs, 2 * 6 * 4);
  EXPECT_EQ(info->operator_counts["FULLY_CONNECTED"], 1);
  EXPECT_EQ(info->tensor_type_counts["int8"], 3);
  EXPECT_EQ(info->producer, "built by a test");
}

// Every prefix of a valid file is an error (Corrupt), never a crash.
TEST(TfliteCorrupt, EveryTruncationIsCorrupt) {
  const auto bytes = TinyReluModel();
  ASSERT_TRUE(ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes)).has_value());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, cut));
    ASSERT_FALSE(model.has_value()) << "prefix of " << n << " bytes imported";
    EXPECT_EQ(model.status().code(), StatusCode::kCorrupt) << model.status().ToString();
  }
}

// Random byte flips: each either imports or gives a clear error; none crashes.
TEST(TfliteCorrupt, FuzzedFilesNeverCrash) {
  ModelBuilder m;
  const std::vector<float> w(3 * 4, 0.5f);
  const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
  const int tw = m.Const({3, 4}, TensorType::FLOAT32, w, "w");
  const int ty = m.Tensor({1, 3}, TensorType::FLOAT32, "y");
  const int tz = m.Tensor({1, 3}, TensorType::FLOAT32, "z");
  m.Op(m.Code(9), {tx, tw, -1}, {ty});
  m.Op(m.Code(14), {ty}, {tz});
  const auto bytes = m.Finish({tx}, {tz});
  std::mt19937 rng(42);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    auto fuzzed = bytes;
    const int flips = 1 + iter % 4;
    for (int k = 0; k < flips; ++k) {
      fuzzed[rng() % fuzzed.size()] = static_cast<std::uint8_t>(rng());
    }
    auto source = ModelSource::FromBytes(ModelFormat::kTflite, fuzzed);
    auto model = ImportTflite(source);
    auto info = InspectTflite(source);
    if (!model.has_value()) {
      ++errors;
      EXPECT_FALSE(model.status().message().empty());
    }
    (void)info;
  }
  EXPECT_GT(errors, 0);
}

TEST(TfliteCorrupt, OutOfRangeIndicesAndSizesAreNamed) {
  {  // operator input beyond the tensor list
    ModelBuilder m;
    const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
    const int ty = m.Tensor({1, 4}, TensorType::FLOAT32, "y");
    m.Op(m.Code(19), {tx + 10}, {ty});
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, m.Finish({tx}, {ty})));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("refers to tensor 10"), std::string::npos)
        << r.status().message();
  }
  {  // opcode index beyond the operator codes
    ModelBuilder m;
    const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
    const int ty = m.Tensor({1, 4}, TensorType::FLOAT32, "y");
    m.Op(7, {tx}, {ty});
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, m.Finish({tx}, {ty})));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("opcode index 7"), std::string::npos)
        << r.status().message();
  }
  {  // constant whose buffer does not match its shape
    ModelBuilder m;
    const std::vector<float> w(5, 1.f);
    const int tx = m.Tensor({1, 4}, TensorType::FLOAT32, "x");
    const int tw = m.Const({3, 4}, TensorType::FLOAT32, w, "w");
    const int ty = m.Tensor({1, 3}, TensorType::FLOAT32, "y");
    m.Op(m.Code(9), {tx, tw, -1}, {ty});
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, m.Finish({tx}, {ty})));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("'w'"), std::string::npos) << r.status().message();
  }
  {  // per-channel scales that do not match the quantized dimension
    ModelBuilder m;
    const std::vector<std::int8_t> w(12, 1);
    const int tx = m.Tensor({1, 4}, TensorType::INT8, "x", nullptr, 0, m.Quant({1.f}, {0}));
    const int tw = m.Const({3, 4}, TensorType::INT8, w, "w", m.Quant({1, 2}, {0, 0}, 0));
    const int ty = m.Tensor({1, 3}, TensorType::INT8, "y", nullptr, 0, m.Quant({1.f}, {0}));
    m.Op(m.Code(9), {tx, tw, -1}, {ty});
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, m.Finish({tx}, {ty})));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  }
  {  // not a TFLite file at all
    const std::vector<std::uint8_t> junk(64, 0x41);
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, junk));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
    EXPECT_NE(r.status().message().find("TFL3"), std::string::npos);
  }
  {  // wrong format in the source
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kOnnx, TinyReluModel()));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

// ---------------------------------------------------------------------------------
// Control flow: IF -> ONNX If, WHILE -> ONNX Loop (models in tflite_test_models.h).
// Expected values are worked out by hand in the comments.
// ---------------------------------------------------------------------------------

Tensor BoolScalar(bool v) {
  Tensor t = Tensor::Allocate(DType::kBool, Shape{}).value();
  t.as<std::uint8_t>()[0] = v ? 1 : 0;
  return t;
}

Tensor I32Scalar(std::int32_t v) {
  Tensor t = Tensor::Allocate(DType::kI32, Shape{}).value();
  t.as<std::int32_t>()[0] = v;
  return t;
}

std::vector<float> Floats(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kF32);
  if (t.dtype() != DType::kF32) return {};
  return {t.as<float>().begin(), t.as<float>().end()};
}

TEST(TfliteControlFlow, IfChoosesTheBranch) {
  const auto bytes = tflite_test::IfAddMulModel();
  auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(model.has_value()) << model.status().ToString();
  ASSERT_EQ(model->graph.nodes.size(), 1u);
  EXPECT_EQ(model->graph.nodes[0].op_type, "If");
  // The branch subgraphs are bodies of the If, not extra graphs: inputs and outputs are
  // the main subgraph's.
  ASSERT_EQ(model->graph.inputs.size(), 3u);
  ASSERT_EQ(model->graph.outputs.size(), 1u);
  EXPECT_EQ(model->graph.outputs[0].name, "y");
  for (bool cond : {true, false}) {
    for (bool xnn : {false, true}) {
      std::vector<Tensor> in;
      in.push_back(BoolScalar(cond));
      in.push_back(FromFloats(Shape{3}, {1.f, 2.f, -3.f}));
      in.push_back(FromFloats(Shape{3}, {4.f, 0.5f, 6.f}));
      auto out = RunModel(bytes, std::move(in), xnn);
      ASSERT_TRUE(out.has_value()) << out.status().ToString();
      ASSERT_EQ(out->size(), 1u);
      // then: a + b = {5, 2.5, 3}; else: a * b = {4, 1, -18}.
      const std::vector<float> want =
          cond ? std::vector<float>{5.f, 2.5f, 3.f} : std::vector<float>{4.f, 1.f, -18.f};
      EXPECT_EQ(Floats((*out)[0]), want) << "cond " << cond << " xnnpack " << xnn;
    }
  }
}

TEST(TfliteControlFlow, WhileTripCountDependsOnTheData) {
  const auto bytes = tflite_test::WhileDoubleModel();
  auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(model.has_value()) << model.status().ToString();
  ASSERT_EQ(model->graph.inputs.size(), 1u);
  EXPECT_EQ(model->graph.nodes.back().op_type, "Loop");
  // Doubled while x <= 100: 3 -> 6 ... 96 -> 192 (6 trips); 0.75 -> 192 (8 trips);
  // 100 -> 200 (1 trip); 150 stays (no trip, the initial condition is false).
  const std::vector<std::pair<float, float>> cases = {
      {3.f, 192.f}, {0.75f, 192.f}, {100.f, 200.f}, {150.f, 150.f}};
  for (const auto& [x, want] : cases) {
    std::vector<Tensor> in;
    in.push_back(FromFloats(Shape{1}, {x}));
    auto out = RunModel(bytes, std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].shape(), Shape{1});
    EXPECT_EQ(Floats((*out)[0]), std::vector<float>{want}) << "x = " << x;
  }
}

// int16 activations (16x8 quantization): QUANTIZE to int16, an int16 ADD, DEQUANTIZE.
// The int16 output is the sum of the rounded inputs, saturated; against double arithmetic.
TEST(TfliteImport, Int16ActivationsQuantizeAddDequantize) {
  const std::vector<float> x = {0.1f, -0.7f, 1.33f, -1.9f, 5.0f, 0.5f, -0.25f, -6.0f};
  const std::vector<float> y = {0.3f, 0.71f, -1.1f, -1.95f, 4.0f, 1.2f, -0.6f, -3.0f};
  std::vector<Tensor> in;
  in.push_back(FromFloats(Shape{1, 8}, x));
  in.push_back(FromFloats(Shape{1, 8}, y));
  auto out = RunModel(tflite_test::Int16AddModel(), std::move(in));
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  ASSERT_EQ((*out)[0].dtype(), DType::kI16);
  for (std::size_t i = 0; i < x.size(); ++i) {
    auto q = [](double v) { return std::clamp(std::nearbyint(v * 4096), -32768.0, 32767.0); };
    const double want = std::clamp(q(x[i]) + q(y[i]), -32768.0, 32767.0);
    EXPECT_EQ((*out)[0].as<std::int16_t>()[i], static_cast<std::int16_t>(want)) << i;
    EXPECT_FLOAT_EQ((*out)[1].as<float>()[i], static_cast<float>(want / 4096)) << i;
  }
}

TEST(TfliteControlFlow, WhileCounterLoop) {
  const auto bytes = tflite_test::WhileCounterModel();
  struct Case {
    std::int32_t i, n;
    std::int32_t want_i;
    std::vector<float> want_acc;
  };
  // acc = {1, -2} times 3 per trip: 4 trips give {81, -162}; i >= n: no trip.
  const Case cases[] = {{0, 4, 4, {81.f, -162.f}}, {2, 3, 3, {3.f, -6.f}}, {5, 3, 5, {1.f, -2.f}}};
  for (const Case& c : cases) {
    std::vector<Tensor> in;
    in.push_back(I32Scalar(c.i));
    in.push_back(I32Scalar(c.n));
    in.push_back(FromFloats(Shape{2}, {1.f, -2.f}));
    auto out = RunModel(bytes, std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ(out->size(), 3u);
    ASSERT_EQ((*out)[0].dtype(), DType::kI32);
    EXPECT_EQ((*out)[0].as<std::int32_t>()[0], c.want_i) << "from i = " << c.i;
    EXPECT_EQ((*out)[1].as<std::int32_t>()[0], c.n);
    EXPECT_EQ(Floats((*out)[2]), c.want_acc) << "from i = " << c.i;
  }
}

TEST(TfliteControlFlow, WhileCarriesAValueThatChangesShape) {
  const auto bytes = tflite_test::WhileGrowingModel();
  // From i = 0: three trips, v doubles in length each time: {1, 2} repeated 8 times.
  // From i = 2: one trip; from i = 3: none.
  for (std::int32_t i0 : {0, 2, 3}) {
    std::vector<Tensor> in;
    in.push_back(I32Scalar(i0));
    in.push_back(FromFloats(Shape{2}, {1.f, 2.f}));
    auto out = RunModel(bytes, std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].as<std::int32_t>()[0], 3);
    const std::int64_t copies = std::int64_t{1} << (3 - i0);
    ASSERT_EQ((*out)[1].shape(), Shape{2 * copies}) << "from i = " << i0;
    const auto v = Floats((*out)[1]);
    for (std::size_t k = 0; k < v.size(); ++k) EXPECT_EQ(v[k], k % 2 == 0 ? 1.f : 2.f) << k;
  }
}

TEST(TfliteControlFlow, IfNestedInWhile) {
  const auto bytes = tflite_test::NestedIfInWhileModel();
  struct Case {
    std::int32_t i;
    std::vector<float> want;
  };
  // x = {1, 2}; trips with i < 2 add 10, the others double, until i = 4:
  // from 0: {11, 12}, {21, 22}, {42, 44}, {84, 88}; from 1: {11, 12}, {22, 24}, {44, 48};
  // from 3: {2, 4}; from 4: unchanged.
  const Case cases[] = {{0, {84.f, 88.f}}, {1, {44.f, 48.f}}, {3, {2.f, 4.f}}, {4, {1.f, 2.f}}};
  for (const Case& c : cases) {
    std::vector<Tensor> in;
    in.push_back(I32Scalar(c.i));
    in.push_back(FromFloats(Shape{2}, {1.f, 2.f}));
    auto out = RunModel(bytes, std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    ASSERT_EQ(out->size(), 2u);
    EXPECT_EQ((*out)[0].as<std::int32_t>()[0], std::max(c.i, 4));
    EXPECT_EQ(Floats((*out)[1]), c.want) << "from i = " << c.i;
  }
}

// Imports `bytes`; expects InvalidArgument whose message holds every part of `parts`.
void ExpectInvalid(const std::vector<std::uint8_t>& bytes, const std::vector<std::string>& parts) {
  auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  for (const std::string& p : parts)
    EXPECT_NE(r.status().message().find(p), std::string::npos)
        << "'" << p << "' not in: " << r.status().message();
}

// Main subgraph: IF (cond, a) -> y with the given branch indices, then `extra` more
// subgraphs built by `add`.
template <typename AddSubgraphs>
std::vector<std::uint8_t> IfModel(int then_index, int else_index, AddSubgraphs add,
                                  int values = 1) {
  ModelBuilder m;
  const int c = m.Tensor({}, TensorType::BOOL, "cond");
  std::vector<int> ins = {c};
  for (int k = 0; k < values; ++k)
    ins.push_back(m.Tensor({2}, TensorType::FLOAT32, "a" + std::to_string(k)));
  const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
  m.If(ins, {y}, then_index, else_index);
  m.EndSubgraph(ins, {y}, "main");
  add(m);
  return m.FinishModel();
}

// (x: float32 [2]) -> relu(x).
void ReluBranch(ModelBuilder& m) {
  const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
  const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
  m.Op(m.Code(19), {x}, {y});
  m.EndSubgraph({x}, {y}, "relu");
}

TEST(TfliteControlFlow, BadSubgraphReferencesAreInvalidArguments) {
  // Branch index beyond the subgraphs, and negative.
  ExpectInvalid(
      IfModel(1, 7, [](ModelBuilder& m) { ReluBranch(m); }),
      {"operator 0 (IF)", "else branch subgraph index 7 is out of range", "has 2 subgraphs"});
  ExpectInvalid(IfModel(-1, 1, [](ModelBuilder& m) { ReluBranch(m); }),
                {"operator 0 (IF)", "then branch subgraph index -1 is out of range"});
  // A branch that is the main subgraph itself.
  ExpectInvalid(IfModel(0, 1, [](ModelBuilder& m) { ReluBranch(m); }),
                {"operator 0 (IF)", "recursively", "0 -> 0"});
  // Subgraph 1 calls itself; 1 and 2 call each other.
  auto calling = [](int target) {
    return [target](ModelBuilder& m) {
      const std::vector<std::uint8_t> v = {1};
      const int c = m.Const({}, TensorType::BOOL, v, "c");
      const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
      const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
      m.If({c, x}, {y}, target, target);
      m.EndSubgraph({x}, {y}, "caller");
    };
  };
  ExpectInvalid(IfModel(1, 1, calling(1)),
                {"operator 0 (IF)", "subgraph 1 operator 0 (IF)", "recursively", "0 -> 1 -> 1"});
  ExpectInvalid(IfModel(1, 1,
                        [&](ModelBuilder& m) {
                          calling(2)(m);
                          calling(1)(m);
                        }),
                {"recursively", "0 -> 1 -> 2 -> 1"});
  // Input and output counts that do not match the branch.
  ExpectInvalid(IfModel(
                    1, 1, [](ModelBuilder& m) { ReluBranch(m); }, 2),
                {"operator 0 (IF)", "subgraph 1 has 1 inputs, but the operator passes it 2"});
  ExpectInvalid(IfModel(1, 1,
                        [](ModelBuilder& m) {
                          const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
                          m.EndSubgraph({x}, {x, x}, "two outputs");
                        }),
                {"operator 0 (IF)", "has 2 outputs, but the operator needs 1"});
  // Type mismatch between the operator's value and the branch's input.
  ExpectInvalid(IfModel(1, 1,
                        [](ModelBuilder& m) {
                          const int x = m.Tensor({2}, TensorType::INT32, "x");
                          m.EndSubgraph({x}, {x}, "int");
                        }),
                {"operator 0 (IF)", "input 0 is int32", "float32"});
  {  // A condition that is not bool; IfOptions missing.
    ModelBuilder m;
    const int c = m.Tensor({}, TensorType::FLOAT32, "c");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
    m.If({c, x}, {y}, 1, 1);
    m.EndSubgraph({c, x}, {y}, "main");
    ReluBranch(m);
    ExpectInvalid(m.FinishModel(), {"operator 0 (IF)", "must be bool"});
  }
  {
    ModelBuilder m;
    const int c = m.Tensor({}, TensorType::BOOL, "c");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
    m.Op(m.Code(118), {c, x}, {y});
    m.EndSubgraph({c, x}, {y}, "main");
    ReluBranch(m);
    ExpectInvalid(m.FinishModel(), {"operator 0 (IF)", "IfOptions"});
  }
}

// A chain: subgraph k (x: float32 [2]) IFs into subgraph k + 1 (both branches) until the
// last, a RELU; each level doubles the imports, so a long chain is refused, not expanded.
std::vector<std::uint8_t> IfChain(int levels) {
  ModelBuilder m;
  for (int k = 0; k < levels; ++k) {
    const std::vector<std::uint8_t> v = {1};
    const int c = m.Const({}, TensorType::BOOL, v, "c");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
    m.If({c, x}, {y}, k + 1, k + 1);
    m.EndSubgraph({x}, {y}, "level" + std::to_string(k));
  }
  ReluBranch(m);
  return m.FinishModel();
}

TEST(TfliteControlFlow, DeepOrExplodingNestingIsRefused) {
  {  // 4 levels: 2 + 4 + 8 + 16 imports, fine; x -> relu(x).
    std::vector<Tensor> in;
    in.push_back(FromFloats(Shape{2}, {-1.f, 2.f}));
    auto out = RunModel(IfChain(4), std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    EXPECT_EQ(Floats((*out)[0]), (std::vector<float>{0.f, 2.f}));
  }
  ExpectInvalid(IfChain(12), {"more than 1000 subgraph imports"});
  // A chain that calls each subgraph once but 40 deep.
  ModelBuilder m;
  for (int k = 0; k < 40; ++k) {
    const std::vector<std::uint8_t> v = {1};
    const int c = m.Const({}, TensorType::BOOL, v, "c");
    const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
    const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
    m.If({c, x}, {y}, k + 1, 41);
    m.EndSubgraph({x}, {y}, "level" + std::to_string(k));
  }
  ReluBranch(m);
  ReluBranch(m);
  ExpectInvalid(m.FinishModel(), {"nests more than 32 subgraphs deep"});
}

// Main: WHILE (x: float32 [2]) -> y with the given subgraphs; `add` builds subgraphs 1...
template <typename AddSubgraphs>
std::vector<std::uint8_t> WhileModel(int cond_index, int body_index, AddSubgraphs add,
                                     int outputs = 1) {
  ModelBuilder m;
  const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
  std::vector<int> outs;
  for (int k = 0; k < outputs; ++k)
    outs.push_back(m.Tensor({2}, TensorType::FLOAT32, "y" + std::to_string(k)));
  m.While({x}, outs, cond_index, body_index);
  m.EndSubgraph({x}, outs, "main");
  add(m);
  return m.FinishModel();
}

// A condition subgraph (x: float32 [2]) -> a constant false of type `type` (bool unless a
// test wants a wrong one).
void ConstCond(ModelBuilder& m, TensorType type = TensorType::BOOL) {
  const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
  const std::vector<std::uint8_t> v = {0};
  const int c = type == TensorType::BOOL ? m.Const({}, type, v, "stop")
                                         : m.Const({}, type, std::vector<float>{0.f}, "stop");
  m.EndSubgraph({x}, {c}, "cond");
}

TEST(TfliteControlFlow, BadWhileOperatorsAreInvalidArguments) {
  auto cond_and_body = [](ModelBuilder& m) {
    ConstCond(m);
    ReluBranch(m);
  };
  // A well-formed loop that runs no trip, as a control: it imports and runs.
  {
    const auto ok = WhileModel(1, 2, cond_and_body);
    std::vector<Tensor> in;
    in.push_back(FromFloats(Shape{2}, {-1.f, 2.f}));
    auto out = RunModel(ok, std::move(in));
    ASSERT_TRUE(out.has_value()) << out.status().ToString();
    EXPECT_EQ(Floats((*out)[0]), (std::vector<float>{-1.f, 2.f}));
  }
  ExpectInvalid(WhileModel(1, 9, cond_and_body),
                {"operator 0 (WHILE)", "body subgraph index 9 is out of range"});
  ExpectInvalid(WhileModel(5, 2, cond_and_body),
                {"operator 0 (WHILE)", "condition subgraph index 5 is out of range"});
  ExpectInvalid(WhileModel(1, 0, cond_and_body), {"operator 0 (WHILE)", "recursively"});
  ExpectInvalid(WhileModel(1, 2, cond_and_body, 2),
                {"operator 0 (WHILE)", "has 1 inputs but 2 outputs"});
  // The body returns two values for one loop-carried value.
  ExpectInvalid(WhileModel(1, 2,
                           [](ModelBuilder& m) {
                             ConstCond(m);
                             const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
                             m.EndSubgraph({x}, {x, x}, "body");
                           }),
                {"operator 0 (WHILE)", "body subgraph 2 has 2 outputs, but the operator needs 1"});
  // The condition returns a float, or two values.
  ExpectInvalid(WhileModel(1, 2,
                           [](ModelBuilder& m) {
                             ConstCond(m, TensorType::FLOAT32);
                             ReluBranch(m);
                           }),
                {"operator 0 (WHILE)", "must output bool"});
  ExpectInvalid(WhileModel(1, 2,
                           [](ModelBuilder& m) {
                             const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
                             const std::vector<std::uint8_t> v = {0};
                             const int c = m.Const({}, TensorType::BOOL, v, "stop");
                             m.EndSubgraph({x}, {c, c}, "cond");
                             ReluBranch(m);
                           }),
                {"operator 0 (WHILE)", "condition subgraph 1 has 2 outputs"});
  // A body that calls the loop's condition recursively through an IF.
  ExpectInvalid(WhileModel(1, 2,
                           [](ModelBuilder& m) {
                             ConstCond(m);
                             const int x = m.Tensor({2}, TensorType::FLOAT32, "x");
                             const std::vector<std::uint8_t> v = {1};
                             const int c = m.Const({}, TensorType::BOOL, v, "c");
                             const int y = m.Tensor({2}, TensorType::FLOAT32, "y");
                             m.If({c, x}, {y}, 2, 2);
                             m.EndSubgraph({x}, {y}, "body");
                           }),
                {"operator 0 (WHILE), body: subgraph 2 operator 0 (IF)", "0 -> 2 -> 2"});
}

// Every flip of a control-flow model gives an error or a model, never a crash (ASan).
TEST(TfliteControlFlow, FuzzedControlFlowModelsNeverCrash) {
  const auto bytes = tflite_test::NestedIfInWhileModel();
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    auto fuzzed = bytes;
    for (int k = 0; k < 1 + iter % 3; ++k)
      fuzzed[rng() % fuzzed.size()] = static_cast<std::uint8_t>(rng());
    auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, fuzzed));
    if (!r.has_value()) {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace deepedge
