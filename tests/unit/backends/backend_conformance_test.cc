// Every backend that computes is checked against the same reference cases: tiny
// ONNX graphs whose outputs are computed here by naive reference code.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <functional>
#include <random>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

// --- building tiny ONNX models ---

void AddValueInfo(onnx::ValueInfoProto* v, const std::string& name,
                  const std::vector<std::int64_t>& dims) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

void AddInitializer(onnx::GraphProto* g, const std::string& name,
                    const std::vector<std::int64_t>& dims, const std::vector<float>& values) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         std::vector<std::string> out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + out[0]);
  for (auto& s : in) n->add_input(s);
  for (auto& s : out) n->add_output(s);
  return n;
}

void SetInts(onnx::NodeProto* n, const std::string& name, const std::vector<std::int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

struct Case {
  std::string name;
  std::vector<std::int64_t> in_dims, out_dims;
  std::function<void(onnx::GraphProto*)> build;  // input "x", output "y"
  std::function<std::vector<float>(const std::vector<float>&)> reference;
};

std::vector<std::uint8_t> Serialize(const Case& c) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  m.set_producer_name("deepedge-test");
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name(c.name);
  AddValueInfo(g->add_input(), "x", c.in_dims);
  AddValueInfo(g->add_output(), "y", c.out_dims);
  c.build(g);
  std::string s;
  m.SerializeToString(&s);
  return {s.begin(), s.end()};
}

std::vector<float> Weights(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> w(n);
  for (float& v : w) v = d(rng);
  return w;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  {  // Conv 3x3, 2 -> 3 channels, pad 1, stride 1, with bias.
    const auto w = Weights(3 * 2 * 3 * 3, 1);
    const auto b = Weights(3, 2);
    cases.push_back({"conv3x3_pad1",
                     {1, 2, 5, 5},
                     {1, 3, 5, 5},
                     [=](onnx::GraphProto* g) {
                       AddInitializer(g, "w", {3, 2, 3, 3}, w);
                       AddInitializer(g, "b", {3}, b);
                       auto* n = AddNode(g, "Conv", {"x", "w", "b"}, {"y"});
                       SetInts(n, "pads", {1, 1, 1, 1});
                       SetInts(n, "kernel_shape", {3, 3});
                     },
                     [=](const std::vector<float>& x) {
                       std::vector<float> y(3 * 25);
                       for (int co = 0; co < 3; ++co)
                         for (int oy = 0; oy < 5; ++oy)
                           for (int ox = 0; ox < 5; ++ox) {
                             double acc = b[co];
                             for (int ci = 0; ci < 2; ++ci)
                               for (int ky = 0; ky < 3; ++ky)
                                 for (int kx = 0; kx < 3; ++kx) {
                                   const int iy = oy + ky - 1, ix = ox + kx - 1;
                                   if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5) continue;
                                   acc += w[((co * 2 + ci) * 3 + ky) * 3 + kx] *
                                          x[(ci * 5 + iy) * 5 + ix];
                                 }
                             y[(co * 5 + oy) * 5 + ox] = static_cast<float>(acc);
                           }
                       return y;
                     }});
  }
  {  // Gemm (transB) + Relu: y = relu(x W^T + c).
    const auto w = Weights(4 * 6, 3);
    const auto c = Weights(4, 4);
    cases.push_back({"gemm_relu",
                     {1, 6},
                     {1, 4},
                     [=](onnx::GraphProto* g) {
                       AddInitializer(g, "w", {4, 6}, w);
                       AddInitializer(g, "c", {4}, c);
                       auto* n = AddNode(g, "Gemm", {"x", "w", "c"}, {"h"});
                       auto* a = n->add_attribute();
                       a->set_name("transB");
                       a->set_type(onnx::AttributeProto::INT);
                       a->set_i(1);
                       AddNode(g, "Relu", {"h"}, {"y"});
                     },
                     [=](const std::vector<float>& x) {
                       std::vector<float> y(4);
                       for (int o = 0; o < 4; ++o) {
                         double acc = c[o];
                         for (int i = 0; i < 6; ++i) acc += x[i] * w[o * 6 + i];
                         y[o] = static_cast<float>(std::max(acc, 0.0));
                       }
                       return y;
                     }});
  }
  {  // MaxPool 2x2 stride 2.
    cases.push_back({"maxpool2x2",
                     {1, 1, 4, 4},
                     {1, 1, 2, 2},
                     [](onnx::GraphProto* g) {
                       auto* n = AddNode(g, "MaxPool", {"x"}, {"y"});
                       SetInts(n, "kernel_shape", {2, 2});
                       SetInts(n, "strides", {2, 2});
                     },
                     [](const std::vector<float>& x) {
                       std::vector<float> y(4);
                       for (int oy = 0; oy < 2; ++oy)
                         for (int ox = 0; ox < 2; ++ox)
                           y[oy * 2 + ox] = std::max(
                               {x[(2 * oy) * 4 + 2 * ox], x[(2 * oy) * 4 + 2 * ox + 1],
                                x[(2 * oy + 1) * 4 + 2 * ox], x[(2 * oy + 1) * 4 + 2 * ox + 1]});
                       return y;
                     }});
  }
  {  // ReLU6 written as exporters do at opset 13: Clip with constant bound inputs.
    cases.push_back({"clip_relu6",
                     {1, 8},
                     {1, 8},
                     [](onnx::GraphProto* g) {
                       AddInitializer(g, "lo", {}, {0.0f});
                       AddInitializer(g, "hi", {}, {0.5f});
                       AddNode(g, "Clip", {"x", "lo", "hi"}, {"y"});
                     },
                     [](const std::vector<float>& x) {
                       std::vector<float> y(x.size());
                       for (std::size_t i = 0; i < x.size(); ++i)
                         y[i] = std::clamp(x[i], 0.0f, 0.5f);
                       return y;
                     }});
  }
  {  // Softmax over the last axis.
    cases.push_back({"softmax",
                     {1, 5},
                     {1, 5},
                     [](onnx::GraphProto* g) { AddNode(g, "Softmax", {"x"}, {"y"}); },
                     [](const std::vector<float>& x) {
                       double mx = *std::max_element(x.begin(), x.end()), sum = 0;
                       std::vector<float> y(x.size());
                       for (float v : x) sum += std::exp(v - mx);
                       for (std::size_t i = 0; i < x.size(); ++i)
                         y[i] = static_cast<float>(std::exp(x[i] - mx) / sum);
                       return y;
                     }});
  }
  return cases;
}

class BackendConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (auto b = MakeOpenCvBackend()) {
      ASSERT_TRUE(registry_.Register(std::move(b)).ok());
    }
    if (registry_.Find(GetParam()) == nullptr) GTEST_SKIP() << GetParam() << " is not built in";
  }
  BackendRegistry registry_;
};

TEST_P(BackendConformanceTest, MatchesReference) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto session =
        registry_.Load(GetParam(), ModelSource::FromBytes(ModelFormat::kOnnx, Serialize(c)), {});
    ASSERT_TRUE(session.has_value()) << session.status().ToString();
    std::int64_t n = 1;
    for (auto d : c.in_dims) n *= d;
    std::vector<float> x = Weights(static_cast<std::size_t>(n), 99);
    std::vector<Tensor> inputs;
    inputs.push_back(*Tensor::Borrow(DType::kF32, Shape(c.in_dims), x.data(), x.size() * 4));
    std::vector<Tensor> outputs;
    ASSERT_TRUE((*session)->Run(inputs, outputs).ok());
    ASSERT_EQ(outputs.size(), 1u);
    EXPECT_EQ(outputs[0].shape(), Shape(c.out_dims));
    const std::vector<float> want = c.reference(x);
    auto got = outputs[0].as<float>();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-4) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformanceTest, ::testing::Values("opencv"));

// --- OpenCV-specific behaviour ---

TEST(OpenCvBackendTest, ProfilesLayersAndLoadsFromFile) {
  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(MakeOpenCvBackend()).ok());
  testing::TempDir dir;
  const auto path = dir / "conv.onnx";
  ASSERT_TRUE(WriteFileAtomic(path, Serialize(Cases()[0])).ok());
  SessionOptions opts;
  opts.profile_layers = true;
  auto session = reg.Load("opencv", *ModelSource::FromFile(path), opts);
  ASSERT_TRUE(session.has_value()) << session.status().ToString();
  EXPECT_EQ((*session)->Inputs()[0].name, "x");
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{1, 2, 5, 5});
  std::vector<Tensor> out;
  ASSERT_TRUE((*session)->Run(std::span<const Tensor>(&x, 1), out).ok());
  auto profile = (*session)->LastProfile();
  ASSERT_TRUE(profile.has_value());
  ASSERT_FALSE(profile->empty());
  EXPECT_EQ((*profile)[0].type, "Convolution");
}

TEST(OpenCvBackendTest, DarknetCfgAndWeights) {
  // One 1x1 convolution, linear: y = w * x + b, with w = 2 and b = 0.5. Darknet's
  // weights file: int32 major, minor, revision; size_t seen (major*10+minor >= 2);
  // then per conv layer: biases, then weights.
  testing::TempDir dir;
  dir.Write("tiny.cfg",
            "[net]\nwidth=4\nheight=4\nchannels=1\n\n"
            "[convolutional]\nfilters=1\nsize=1\nstride=1\npad=0\nactivation=linear\n");
  std::string weights;
  auto put = [&](const void* p, std::size_t n) { weights.append(static_cast<const char*>(p), n); };
  const std::int32_t header[3] = {0, 2, 0};
  const std::uint64_t seen = 0;
  const float bias = 0.5f, w = 2.0f;
  put(header, sizeof header);
  put(&seen, sizeof seen);
  put(&bias, 4);
  put(&w, 4);
  dir.Write("tiny.weights", weights);

  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(MakeOpenCvBackend()).ok());
  auto src = ModelSource::FromFile(dir / "tiny.cfg");
  ASSERT_TRUE(src.has_value()) << src.status().ToString();
  auto session = reg.Load("opencv", *src, {});
  ASSERT_TRUE(session.has_value()) << session.status().ToString();
  EXPECT_EQ((*session)->Inputs()[0].shape, (Shape{Shape::kDynamic, 1, 4, 4}));
  Tensor x = *Tensor::Allocate(DType::kF32, Shape{1, 1, 4, 4});
  for (int i = 0; i < 16; ++i) x.as<float>()[i] = static_cast<float>(i);
  std::vector<Tensor> out;
  ASSERT_TRUE((*session)->Run(std::span<const Tensor>(&x, 1), out).ok());
  ASSERT_EQ(out.size(), 1u);
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(out[0].as<float>()[i], 2.0f * i + 0.5f);
}

TEST(OpenCvBackendTest, CorruptModelsGiveOneLineErrors) {
  BackendRegistry reg;
  ASSERT_TRUE(reg.Register(MakeOpenCvBackend()).ok());
  testing::TempDir dir;
  auto bytes = Serialize(Cases()[0]);
  bytes.resize(bytes.size() / 2);
  const auto truncated = dir / "truncated.onnx";
  ASSERT_TRUE(WriteFileAtomic(truncated, bytes).ok());
  auto r = reg.Load("opencv", *ModelSource::FromFile(truncated), {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  EXPECT_NE(r.status().message().find("truncated.onnx"), std::string::npos);

  dir.Write("bad.cfg", "[net]\nwidth=4\nheight=4\n[convolutional]\nfilters=1\nsize=1\n");
  dir.Write("bad.weights", "xx");
  auto bad = reg.Load("opencv", *ModelSource::FromFile(dir / "bad.cfg"), {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.status().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace deepedge
