// The TFLite importer on tiny flatbuffers built here with the schema's generated builders:
// operator mappings checked against simple references (run through the whole deepedge
// backend), errors for custom / unknown operators, and truncated, fuzzed and inconsistent
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
