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

namespace deepedge {
namespace {

namespace fb = flatbuffers;
using tfl::TensorType;

// A one-subgraph model under construction.
class ModelBuilder {
 public:
  ModelBuilder() { buffers_.push_back(tfl::CreateBuffer(b_)); }  // buffer 0: empty sentinel

  int Tensor(std::vector<int> shape, TensorType type, const std::string& name,
             const void* data = nullptr, std::size_t bytes = 0,
             fb::Offset<tfl::QuantizationParameters> q = 0,
             fb::Offset<tfl::SparsityParameters> sparsity = 0) {
    std::uint32_t buffer = 0;
    if (data != nullptr) {
      b_.ForceVectorAlignment(bytes, 1, 16);
      auto v = b_.CreateVector(static_cast<const std::uint8_t*>(data), bytes);
      buffer = static_cast<std::uint32_t>(buffers_.size());
      buffers_.push_back(tfl::CreateBuffer(b_, v));
    }
    tensors_.push_back(tfl::CreateTensor(b_, b_.CreateVector(shape), type, buffer,
                                         b_.CreateString(name), q, false, sparsity));
    return static_cast<int>(tensors_.size()) - 1;
  }
  template <typename T>
  int Const(std::vector<int> shape, TensorType type, const std::vector<T>& v,
            const std::string& name, fb::Offset<tfl::QuantizationParameters> q = 0) {
    return Tensor(std::move(shape), type, name, v.data(), v.size() * sizeof(T), q);
  }
  fb::Offset<tfl::QuantizationParameters> Quant(std::vector<float> scale,
                                                std::vector<std::int64_t> zp, int axis = 0) {
    return tfl::CreateQuantizationParameters(b_, 0, 0, b_.CreateVector(scale), b_.CreateVector(zp),
                                             tfl::QuantizationDetails::NONE, 0, axis);
  }
  std::uint32_t Code(int builtin, const std::string& custom = "") {
    codes_.push_back(tfl::CreateOperatorCode(b_, static_cast<std::int8_t>(std::min(builtin, 127)),
                                             custom.empty() ? 0 : b_.CreateString(custom), 1,
                                             builtin));
    return static_cast<std::uint32_t>(codes_.size()) - 1;
  }
  void Op(std::uint32_t code, std::vector<int> in, std::vector<int> out,
          tfl::BuiltinOptions type = tfl::BuiltinOptions::NONE, fb::Offset<void> options = 0) {
    ops_.push_back(
        tfl::CreateOperator(b_, code, b_.CreateVector(in), b_.CreateVector(out), type, options));
  }
  // A custom operator with raw custom_options bytes (none when `custom_options` is empty).
  void CustomOp(std::uint32_t code, std::vector<int> in, std::vector<int> out,
                const std::vector<std::uint8_t>& custom_options) {
    auto opts = custom_options.empty() ? 0 : b_.CreateVector(custom_options);
    ops_.push_back(tfl::CreateOperator(b_, code, b_.CreateVector(in), b_.CreateVector(out),
                                       tfl::BuiltinOptions::NONE, 0, opts));
  }
  fb::FlatBufferBuilder& fbb() { return b_; }
  std::vector<std::uint8_t> Finish(std::vector<int> inputs, std::vector<int> outputs) {
    auto sg = tfl::CreateSubGraph(b_, b_.CreateVector(tensors_), b_.CreateVector(inputs),
                                  b_.CreateVector(outputs), b_.CreateVector(ops_),
                                  b_.CreateString("main"));
    std::vector<fb::Offset<tfl::SubGraph>> sgs{sg};
    auto model = tfl::CreateModel(b_, 3, b_.CreateVector(codes_), b_.CreateVector(sgs),
                                  b_.CreateString("built by a test"), b_.CreateVector(buffers_));
    b_.Finish(model, tfl::ModelIdentifier());
    return {b_.GetBufferPointer(), b_.GetBufferPointer() + b_.GetSize()};
  }

 private:
  fb::FlatBufferBuilder b_;
  std::vector<fb::Offset<tfl::Buffer>> buffers_;
  std::vector<fb::Offset<tfl::Tensor>> tensors_;
  std::vector<fb::Offset<tfl::OperatorCode>> codes_;
  std::vector<fb::Offset<tfl::Operator>> ops_;
};

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
  m.Op(m.Code(32, "SignalWindow"), {ta}, {ty});
  const auto bytes = m.Finish({tx}, {ty});
  auto model = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_FALSE(model.has_value());
  EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(model.status().message().find("SignalWindow"), std::string::npos)
      << model.status().message();
  EXPECT_NE(model.status().message().find("operator 1"), std::string::npos)
      << model.status().message();
  // Inspection still works and counts it.
  auto info = InspectTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->operator_counts["CUSTOM:SignalWindow"], 1);
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

}  // namespace
}  // namespace deepedge
