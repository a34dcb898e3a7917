// QuantizeOnnx end to end: the QDQ graph it writes, the parameters it chooses, and the
// quantized model's outputs against the float model's, through the deepedge backend.
#include "deepedge/quantize.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "deepedge/onnx_model.h"
#include "deepedge/zoo.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

// A small ONNX model written by hand.
struct Builder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  explicit Builder(int opset = 13) {
    m.set_ir_version(7);
    onnx::OperatorSetIdProto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    g = m.mutable_graph();
    g->set_name("test");
  }
  void Input(const std::string& name, const std::vector<std::int64_t>& dims) {
    onnx::ValueInfoProto* v = g->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void Output(const std::string& name, const std::vector<std::int64_t>& dims,
              int type = onnx::TensorProto::FLOAT) {
    onnx::ValueInfoProto* v = g->add_output();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (std::int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void Init(const std::string& name, const std::vector<std::int64_t>& dims,
            const std::vector<float>& values) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  static void Attr(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    if (v.size() == 1 && name != "pads" && name != "kernel_shape") {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(v[0]);
    } else {
      a->set_type(onnx::AttributeProto::INTS);
      for (auto x : v) a->add_ints(x);
    }
  }
  ModelSource Source() const {
    std::string s;
    m.SerializeToString(&s);
    return ModelSource::FromBytes(ModelFormat::kOnnx,
                                  std::vector<std::uint8_t>(s.begin(), s.end()));
  }
};

std::vector<float> Pseudo(std::size_t n, std::uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  for (float& x : v) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    x = lo + (hi - lo) * static_cast<float>(static_cast<double>(seed >> 40) / 16777216.0);
  }
  return v;
}

Tensor MakeTensor(const Shape& shape, const std::vector<float>& v) {
  Tensor t = Tensor::Allocate(DType::kF32, shape).value();
  std::copy(v.begin(), v.end(), t.as<float>().begin());
  return t;
}

onnx::ModelProto Parse(const std::vector<std::uint8_t>& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  return m;
}

// Lookups in a quantized graph.
struct Graph {
  onnx::ModelProto m;
  explicit Graph(const std::vector<std::uint8_t>& bytes) : m(Parse(bytes)) {}
  const onnx::GraphProto& g() const { return m.graph(); }
  const onnx::NodeProto* Producer(const std::string& t) const {
    for (const auto& n : g().node()) {
      for (const auto& o : n.output()) {
        if (o == t) return &n;
      }
    }
    return nullptr;
  }
  std::vector<const onnx::NodeProto*> Consumers(const std::string& t) const {
    std::vector<const onnx::NodeProto*> c;
    for (const auto& n : g().node()) {
      if (std::find(n.input().begin(), n.input().end(), t) != n.input().end()) c.push_back(&n);
    }
    return c;
  }
  const onnx::NodeProto* Node(const std::string& name) const {
    for (const auto& n : g().node()) {
      if (n.name() == name) return &n;
    }
    return nullptr;
  }
  const onnx::TensorProto* Init(const std::string& name) const {
    for (const auto& t : g().initializer()) {
      if (t.name() == name) return &t;
    }
    return nullptr;
  }
  template <typename T>
  std::vector<T> Values(const std::string& name) const {
    const onnx::TensorProto* t = Init(name);
    EXPECT_NE(t, nullptr) << name;
    if (t == nullptr) return {};
    std::vector<T> v(t->raw_data().size() / sizeof(T));
    std::memcpy(v.data(), t->raw_data().data(), t->raw_data().size());
    return v;
  }
  int Count(const std::string& op) const {
    return static_cast<int>(std::count_if(g().node().begin(), g().node().end(),
                                          [&](const auto& n) { return n.op_type() == op; }));
  }
  std::int64_t Axis(const onnx::NodeProto& n) const {
    for (const auto& a : n.attribute()) {
      if (a.name() == "axis") return a.i();
    }
    return -1000;  // absent
  }
  std::string Metadata(const std::string& key) const {
    for (const auto& p : m.metadata_props()) {
      if (p.key() == key) return p.value();
    }
    return {};
  }
};

std::vector<Tensor> RunModel(const ModelSource& src, std::vector<Tensor> inputs) {
  auto backend = MakeDeepEdgeBackend();
  auto session = backend->Load(src, {});
  EXPECT_TRUE(session.has_value()) << session.status().ToString();
  std::vector<Tensor> out;
  if (!session) return out;
  Status s = (*session)->Run(inputs, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class QuantizeTest : public ::testing::Test {
 protected:
  Expected<QuantizeResult> Quantize(const ModelSource& src, QuantizeOptions o) {
    return QuantizeOnnx(src, *backend_, o);
  }
  std::unique_ptr<Backend> backend_ = MakeDeepEdgeBackend();
  testing::TempDir dir_;
};

// X [1,2,5,5] -> Conv (3 filters 3x3, pad 1, bias) -> Relu -> Y.
Builder ConvRelu() {
  Builder b;
  b.Input("X", {1, 2, 5, 5});
  b.Init("W", {3, 2, 3, 3}, Pseudo(54, 1, -0.5f, 0.5f));
  std::vector<float> w = Pseudo(54, 1, -0.5f, 0.5f);
  for (std::size_t i = 18; i < 36; ++i) w[i] *= 0.05f;  // a channel with a much smaller range
  b.g->mutable_initializer(0)->clear_float_data();
  for (float v : w) b.g->mutable_initializer(0)->add_float_data(v);
  b.Init("B", {3}, {0.1f, -0.2f, 0.3f});
  auto* conv = b.Node("Conv", {"X", "W", "B"}, {"C"}, "conv");
  Builder::Attr(conv, "pads", {1, 1, 1, 1});
  b.Node("Relu", {"C"}, {"Y"}, "relu");
  b.Output("Y", {1, 3, 5, 5});
  return b;
}

std::vector<std::vector<float>> ConvSamples() {
  std::vector<std::vector<float>> s;
  for (int i = 0; i < 3; ++i) s.push_back(Pseudo(50, 100 + i, -1.5f, 2.5f));
  s[0][0] = -2.0f;  // the calibrated range of X is exactly [-2, 3]
  s[2][7] = 3.0f;
  return s;
}

TEST_F(QuantizeTest, ConvReluGetsPerChannelWeightsInt32BiasAndQdqAfterRelu) {
  Builder b = ConvRelu();
  const auto samples = ConvSamples();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / ("s" + std::to_string(i) + ".npy"),
                                EncodeNpy(MakeTensor(Shape{1, 2, 5, 5}, samples[i])))
                    .ok());
  }
  QuantizeOptions o;
  o.calibration_dir = dir_.path();
  auto r = Quantize(b.Source(), o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(r->quantized_nodes, 1);
  EXPECT_EQ(r->quantize_linear, 2);    // X, Y
  EXPECT_EQ(r->dequantize_linear, 4);  // X, Y, W, B
  EXPECT_EQ(r->calibration_samples, 3);
  EXPECT_TRUE(r->warnings.empty());
  const ModelSource out = ModelSource::FromBytes(ModelFormat::kOnnx, r->model);
  EXPECT_TRUE(CheckOnnx(out).ok()) << CheckOnnx(out).ToString();

  Graph q(r->model);
  EXPECT_EQ(q.Metadata("deepedge.quantized").rfind("minmax; calibration: 3 .npy files", 0), 0u)
      << q.Metadata("deepedge.quantized");
  const onnx::NodeProto* conv = q.Node("conv");
  ASSERT_NE(conv, nullptr);
  // Input: DQ <- Q <- X with scale (3 - -2) / 255 and zero point round(-128 + 2 / scale).
  const onnx::NodeProto* x_dq = q.Producer(conv->input(0));
  ASSERT_NE(x_dq, nullptr);
  ASSERT_EQ(x_dq->op_type(), "DequantizeLinear");
  const onnx::NodeProto* x_q = q.Producer(x_dq->input(0));
  ASSERT_EQ(x_q->op_type(), "QuantizeLinear");
  EXPECT_EQ(x_q->input(0), "X");
  const float x_scale = q.Values<float>(x_dq->input(1)).at(0);
  EXPECT_FLOAT_EQ(x_scale, 5.0f / 255.0f);
  EXPECT_EQ(q.Values<std::int8_t>(x_dq->input(2)).at(0), -26);
  // Weights: int8 [3,2,3,3] behind a per-channel DQ on axis 0, scale max|w_c| / 127.
  const onnx::NodeProto* w_dq = q.Producer(conv->input(1));
  ASSERT_EQ(w_dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(q.Axis(*w_dq), 0);
  EXPECT_EQ(q.Init(w_dq->input(0))->data_type(), onnx::TensorProto::INT8);
  EXPECT_EQ(q.Init(w_dq->input(0))->dims_size(), 4);
  const auto w_scale = q.Values<float>(w_dq->input(1));
  const auto w = [&] {
    const onnx::TensorProto& t = b.g->initializer(0);
    return std::vector<float>(t.float_data().begin(), t.float_data().end());
  }();
  ASSERT_EQ(w_scale.size(), 3u);
  for (std::size_t c = 0; c < 3; ++c) {
    float m = 0;
    for (std::size_t i = c * 18; i < c * 18 + 18; ++i) m = std::max(m, std::fabs(w[i]));
    EXPECT_FLOAT_EQ(w_scale[c], m / 127.0f);
  }
  EXPECT_LT(w_scale[1], w_scale[0] * 0.1f);  // per channel, not per tensor
  // Bias: int32, scale = x_scale * w_scale[c], zero point 0.
  const onnx::NodeProto* b_dq = q.Producer(conv->input(2));
  ASSERT_EQ(b_dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(q.Init(b_dq->input(0))->data_type(), onnx::TensorProto::INT32);
  const auto b_scale = q.Values<float>(b_dq->input(1));
  const auto b_q = q.Values<std::int32_t>(b_dq->input(0));
  const float bias[3] = {0.1f, -0.2f, 0.3f};
  for (std::size_t c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(b_scale[c], x_scale * w_scale[c]);
    EXPECT_EQ(b_q[c], std::lrint(bias[c] / b_scale[c]));
  }
  EXPECT_EQ(q.Values<std::int32_t>(b_dq->input(2)), (std::vector<std::int32_t>{0, 0, 0}));
  // No Q/DQ between Conv and Relu; the pair follows the Relu and ends in "Y".
  auto after_conv = q.Consumers(conv->output(0));
  ASSERT_EQ(after_conv.size(), 1u);
  EXPECT_EQ(after_conv[0]->op_type(), "Relu");
  auto after_relu = q.Consumers(after_conv[0]->output(0));
  ASSERT_EQ(after_relu.size(), 1u);
  EXPECT_EQ(after_relu[0]->op_type(), "QuantizeLinear");
  const onnx::NodeProto* y_dq = q.Consumers(after_relu[0]->output(0)).at(0);
  EXPECT_EQ(y_dq->output(0), "Y");
  EXPECT_EQ(q.g().output(0).name(), "Y");

  // Outputs against the float model. Each rounding is at most half a step (every value
  // is within the calibrated ranges, the samples being the calibration set), so per
  // output channel c, with K = 18 taps:
  //   |y_q - y| <= K (max|w_c| s_x / 2 + max|x| s_w[c] / 2 + s_x s_w[c] / 4)
  //                + s_b[c] / 2 + s_y / 2
  // (Relu does not increase a difference).
  const float y_scale = q.Values<float>(y_dq->input(1)).at(0);
  double worst_ratio = 0, max_diff = 0;
  for (const auto& s : samples) {
    std::vector<Tensor> in1, in2;
    in1.push_back(MakeTensor(Shape{1, 2, 5, 5}, s));
    in2.push_back(MakeTensor(Shape{1, 2, 5, 5}, s));
    auto yf = RunModel(b.Source(), std::move(in1));
    auto yq = RunModel(out, std::move(in2));
    ASSERT_EQ(yf.size(), 1u);
    ASSERT_EQ(yq.size(), 1u);
    ASSERT_EQ(yq[0].shape(), (Shape{1, 3, 5, 5}));
    float max_x = 0;
    for (float v : s) max_x = std::max(max_x, std::fabs(v));
    for (std::size_t i = 0; i < 75; ++i) {
      const std::size_t c = i / 25;
      float max_w = 0;
      for (std::size_t k = c * 18; k < c * 18 + 18; ++k) max_w = std::max(max_w, std::fabs(w[k]));
      const double bound =
          18 * (max_w * x_scale / 2 + max_x * w_scale[c] / 2 + x_scale * w_scale[c] / 4) +
          b_scale[c] / 2 + y_scale / 2;
      const double diff = std::fabs(yq[0].as<float>()[i] - yf[0].as<float>()[i]);
      EXPECT_LE(diff, bound * 1.001) << "element " << i;
      worst_ratio = std::max(worst_ratio, diff / bound);
      max_diff = std::max(max_diff, diff);
    }
  }
  EXPECT_GT(max_diff, 0.0) << "the quantized model computed exactly the float result";
  RecordProperty("worst_error_over_bound", std::to_string(worst_ratio));
}

// Add(X, X): the calibrated range of X is its min-max, or the percentile range of a
// 2048-bin histogram (hand-computed in calibration_test: [0, 1464.84375] at 99.8 %).
TEST_F(QuantizeTest, MinMaxAndPercentileRangesOfAnActivation) {
  Builder b;
  b.Input("X", {1, 1001});
  b.Node("Add", {"X", "X"}, {"Y"}, "add");
  b.Output("Y", {1, 1001});
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(static_cast<float>(i));
  x.push_back(1e6f);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "x.npy", EncodeNpy(MakeTensor(Shape{1, 1001}, x))).ok());
  auto scale_of_x = [&](const QuantizeResult& r) {
    Graph q(r.model);
    const onnx::NodeProto* dq = q.Producer(q.Node("add")->input(0));
    return q.Values<float>(dq->input(1)).at(0);
  };
  QuantizeOptions o;
  o.calibration_dir = dir_.path();
  auto minmax = Quantize(b.Source(), o);
  ASSERT_TRUE(minmax.has_value()) << minmax.status().ToString();
  EXPECT_FLOAT_EQ(scale_of_x(*minmax), 1e6f / 255.0f);
  o.method = CalibrationMethod::kPercentile;
  o.percentile = 99.8;
  auto pct = Quantize(b.Source(), o);
  ASSERT_TRUE(pct.has_value()) << pct.status().ToString();
  EXPECT_FLOAT_EQ(scale_of_x(*pct), 1464.84375f / 255.0f);
  EXPECT_NE(Graph(pct->model).Metadata("deepedge.quantized").find("percentile 99.8"),
            std::string::npos);
  // Y = 2X: its own statistics, [0, 2e6] and [0, 2 * 1464.84375].
  Graph q(pct->model);
  const onnx::NodeProto* y_dq = q.Producer("Y");
  ASSERT_EQ(y_dq->op_type(), "DequantizeLinear");
  EXPECT_FLOAT_EQ(q.Values<float>(y_dq->input(1)).at(0), 2 * 1464.84375f / 255.0f);
}

// X [1,4] -> Gemm(transB=1) -> Gemm(transB=0) -> MatMul -> Y.
Builder GemmChain() {
  Builder b;
  b.Input("X", {1, 4});
  b.Init("W1", {3, 4}, Pseudo(12, 2, -1, 1));
  b.Init("b1", {3}, {0.5f, -0.5f, 0.25f});
  b.Init("W2", {3, 5}, Pseudo(15, 3, -1, 1));
  b.Init("b2", {5}, Pseudo(5, 4, -1, 1));
  b.Init("W3", {5, 2}, Pseudo(10, 5, -1, 1));
  Builder::Attr(b.Node("Gemm", {"X", "W1", "b1"}, {"H1"}, "g1"), "transB", {1});
  b.Node("Gemm", {"H1", "W2", "b2"}, {"H2"}, "g2");
  b.Node("MatMul", {"H2", "W3"}, {"Y"}, "mm");
  b.Output("Y", {1, 2});
  return b;
}

TEST_F(QuantizeTest, WeightAxisFollowsTheOutputChannel) {
  Builder b = GemmChain();
  QuantizeOptions o;
  o.calibration_random = 4;
  auto r = Quantize(b.Source(), o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(r->quantized_nodes, 3);
  EXPECT_EQ(r->warnings.size(), 1u);  // random calibration
  EXPECT_TRUE(CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, r->model)).ok());
  Graph q(r->model);
  struct Expect {
    const char* node;
    std::int64_t axis;
    std::size_t scales;
  };
  for (const Expect& e : {Expect{"g1", 0, 3}, Expect{"g2", 1, 5}, Expect{"mm", 1, 2}}) {
    SCOPED_TRACE(e.node);
    const onnx::NodeProto* n = q.Node(e.node);
    const onnx::NodeProto* w_dq = q.Producer(n->input(1));
    ASSERT_EQ(w_dq->op_type(), "DequantizeLinear");
    EXPECT_EQ(q.Axis(*w_dq), e.axis);
    EXPECT_EQ(q.Values<float>(w_dq->input(1)).size(), e.scales);
  }
  // g2's bias scale is H1's activation scale times W2's column scales.
  const onnx::NodeProto* g2 = q.Node("g2");
  const float h1_scale = q.Values<float>(q.Producer(g2->input(0))->input(1)).at(0);
  const auto w2_scale = q.Values<float>(q.Producer(g2->input(1))->input(1));
  const auto b2_scale = q.Values<float>(q.Producer(g2->input(2))->input(1));
  ASSERT_EQ(b2_scale.size(), 5u);
  for (std::size_t c = 0; c < 5; ++c) EXPECT_FLOAT_EQ(b2_scale[c], h1_scale * w2_scale[c]);
  // The float weights are gone: only int8 copies remain.
  EXPECT_EQ(q.Init("W1"), nullptr);
  EXPECT_EQ(q.Init("W3"), nullptr);

  o.per_channel_weights = false;
  auto t = Quantize(b.Source(), o);
  ASSERT_TRUE(t.has_value()) << t.status().ToString();
  Graph pt(t->model);
  for (const char* name : {"g1", "g2", "mm"}) {
    const onnx::NodeProto* w_dq = pt.Producer(pt.Node(name)->input(1));
    EXPECT_EQ(pt.Axis(*w_dq), -1000) << name;  // no axis: per tensor
    EXPECT_EQ(pt.Values<float>(w_dq->input(1)).size(), 1u) << name;
  }
}

TEST_F(QuantizeTest, ExcludedNodesStayFloat) {
  Builder b = GemmChain();
  QuantizeOptions o;
  o.calibration_random = 2;
  o.exclude = {"g2"};
  auto r = Quantize(b.Source(), o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(r->quantized_nodes, 2);
  Graph q(r->model);
  const onnx::NodeProto* g2 = q.Node("g2");
  EXPECT_EQ(g2->input(1), "W2");
  EXPECT_EQ(g2->input(2), "b2");
  EXPECT_NE(q.Init("W2"), nullptr);
  o.exclude = {"nonexistent"};
  auto bad = Quantize(b.Source(), o);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("nonexistent"), std::string::npos);
}

TEST_F(QuantizeTest, BatchNormIsFoldedSoReluFollowsConv) {
  Builder b;
  b.Input("X", {1, 2, 4, 4});
  b.Init("W", {2, 2, 1, 1}, {1, 0.5f, -0.5f, 1});
  b.Init("gamma", {2}, {2, 0.5f});
  b.Init("beta", {2}, {0.1f, -0.1f});
  b.Init("mean", {2}, {0.2f, -0.3f});
  b.Init("var", {2}, {4, 0.25f});
  b.Node("Conv", {"X", "W"}, {"C"}, "conv");
  b.Node("BatchNormalization", {"C", "gamma", "beta", "mean", "var"}, {"N"}, "bn");
  b.Node("Relu", {"N"}, {"Y"}, "relu");
  b.Output("Y", {1, 2, 4, 4});
  QuantizeOptions o;
  o.calibration_random = 3;
  auto r = Quantize(b.Source(), o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(r->folded_batch_norms, 1);
  Graph q(r->model);
  EXPECT_EQ(q.Count("BatchNormalization"), 0);
  EXPECT_EQ(q.Consumers(q.Node("conv")->output(0)).at(0)->op_type(), "Relu");
  // Folded weights, channel 0: w * 2 / sqrt(4 + 1e-5); bias (0 - 0.2) * 1 + 0.1 = -0.1.
  const onnx::NodeProto* w_dq = q.Producer(q.Node("conv")->input(1));
  const auto ws = q.Values<float>(w_dq->input(1));
  EXPECT_NEAR(ws[0], 1.0f / 127.0f, 1e-6);
  const onnx::NodeProto* b_dq = q.Producer(q.Node("conv")->input(2));
  const auto bq = q.Values<std::int32_t>(b_dq->input(0));
  const auto bs = q.Values<float>(b_dq->input(1));
  EXPECT_NEAR(bq[0] * bs[0], -0.1f, bs[0]);
  // (0 + 0.3) * 0.5 / sqrt(0.25 + 1e-5) - 0.1 = 0.2
  EXPECT_NEAR(bq[1] * bs[1], 0.2f, bs[1]);
  // Same function as the float model, within a few quantization steps of the output.
  std::vector<float> x = Pseudo(32, 9, -1, 1);
  std::vector<Tensor> a, c;
  a.push_back(MakeTensor(Shape{1, 2, 4, 4}, x));
  c.push_back(MakeTensor(Shape{1, 2, 4, 4}, x));
  auto yf = RunModel(b.Source(), std::move(a));
  auto yq = RunModel(ModelSource::FromBytes(ModelFormat::kOnnx, r->model), std::move(c));
  ASSERT_EQ(yq.size(), 1u);
  const float y_scale = q.Values<float>(q.Producer("Y")->input(1)).at(0);
  for (std::size_t i = 0; i < 32; ++i) {
    EXPECT_NEAR(yq[0].as<float>()[i], yf[0].as<float>()[i], 4 * y_scale) << i;
  }
}

TEST_F(QuantizeTest, NonFloatActivationsStayFloat) {
  // Shape -> Add(s, s) is int64 arithmetic: calibration sees it and leaves it alone.
  Builder b;
  b.Input("X", {1, 3});
  b.Node("Shape", {"X"}, {"S"}, "shape");
  b.Node("Add", {"S", "S"}, {"S2"}, "add_i64");
  b.Node("Add", {"X", "X"}, {"Y"}, "add_f32");
  b.Output("S2", {2}, onnx::TensorProto::INT64);
  b.Output("Y", {1, 3});
  QuantizeOptions o;
  o.calibration_random = 2;
  auto r = Quantize(b.Source(), o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  EXPECT_EQ(r->quantized_nodes, 1);
  Graph q(r->model);
  EXPECT_EQ(q.Node("add_i64")->input(0), "S");
  EXPECT_EQ(q.Producer(q.Node("add_f32")->input(0))->op_type(), "DequantizeLinear");
  EXPECT_TRUE(CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, r->model)).ok());
}

TEST_F(QuantizeTest, BadInputsAreClearErrors) {
  Builder b = GemmChain();
  QuantizeOptions none;
  EXPECT_EQ(Quantize(b.Source(), none).status().code(), StatusCode::kInvalidArgument);
  QuantizeOptions both;
  both.calibration_random = 2;
  both.calibration_dir = dir_.path();
  EXPECT_EQ(Quantize(b.Source(), both).status().code(), StatusCode::kInvalidArgument);
  QuantizeOptions pct;
  pct.calibration_random = 2;
  pct.method = CalibrationMethod::kPercentile;
  for (double p : {0.0, -1.0, 100.5}) {
    pct.percentile = p;
    EXPECT_EQ(Quantize(b.Source(), pct).status().code(), StatusCode::kInvalidArgument) << p;
  }
  QuantizeOptions empty_dir;
  empty_dir.calibration_dir = dir_.path();
  auto e = Quantize(b.Source(), empty_dir);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("no .npy files"), std::string::npos) << e.status().message();

  QuantizeOptions ok;
  ok.calibration_random = 2;
  auto garbage = Quantize(
      ModelSource::FromBytes(ModelFormat::kOnnx, std::vector<std::uint8_t>{1, 2, 3, 4}), ok);
  EXPECT_EQ(garbage.status().code(), StatusCode::kCorrupt);
  // Quantizing twice is refused.
  auto once = Quantize(b.Source(), ok);
  ASSERT_TRUE(once.has_value());
  auto twice = Quantize(ModelSource::FromBytes(ModelFormat::kOnnx, once->model), ok);
  EXPECT_EQ(twice.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(twice.status().message().find("already quantized"), std::string::npos);
  // Opset 11 has no per-channel DQ: refused unless weights are per tensor.
  Builder old = GemmChain();
  old.m.mutable_opset_import(0)->set_version(11);
  auto refused = Quantize(old.Source(), ok);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(refused.status().message().find("--per-tensor-weights"), std::string::npos);
  ok.per_channel_weights = false;
  auto per_tensor = Quantize(old.Source(), ok);
  ASSERT_TRUE(per_tensor.has_value()) << per_tensor.status().ToString();
  EXPECT_TRUE(CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, per_tensor->model)).ok());
}

TEST_F(QuantizeTest, ZooMobileNetV1) {
  auto bytes = ZooBuild("mobilenet_v1_1.0_224");
  ASSERT_TRUE(bytes.has_value());
  const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, *bytes);
  QuantizeOptions o;
  o.calibration_random = 4;
  auto r = Quantize(src, o);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  const ModelSource out = ModelSource::FromBytes(ModelFormat::kOnnx, r->model);
  EXPECT_TRUE(CheckOnnx(out).ok()) << CheckOnnx(out).ToString();
  // 27 Conv (BN folded, each followed by its ReLU6 Clip), GlobalAveragePool, Gemm.
  EXPECT_EQ(r->folded_batch_norms, 27);
  EXPECT_EQ(r->quantized_nodes, 29);
  // Activation pairs: the input, 27 Clip outputs, the pool output, the Flatten output
  // (Gemm's input) and the Gemm output (Softmax's input): 31. DequantizeLinear: those
  // 31 plus 28 weights and 28 int32 biases.
  Graph q(r->model);
  EXPECT_EQ(q.Count("QuantizeLinear"), 31);
  EXPECT_EQ(q.Count("DequantizeLinear"), 87);
  EXPECT_EQ(r->quantize_linear, 31);
  EXPECT_EQ(r->dequantize_linear, 87);
  EXPECT_EQ(q.Count("BatchNormalization"), 0);
  // The shape int8 kernels fuse: DQ -> Conv -> Clip -> Q, every time.
  for (const auto& n : q.g().node()) {
    if (n.op_type() != "Conv") continue;
    for (int s = 0; s < 3; ++s) EXPECT_EQ(q.Producer(n.input(s))->op_type(), "DequantizeLinear");
    auto c = q.Consumers(n.output(0));
    ASSERT_EQ(c.size(), 1u);
    ASSERT_EQ(c[0]->op_type(), "Clip") << n.name();
    auto d = q.Consumers(c[0]->output(0));
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]->op_type(), "QuantizeLinear") << n.name();
  }
  EXPECT_EQ(q.Metadata("deepedge.weights"), "synthetic");  // other metadata is kept

  // Outputs on fresh inputs from the calibration distribution (another seed). The
  // tolerance: int8 gives 255 steps per activation range, and rounding noise of
  // up to half a step per layer over 28 layers moves the logits by a few % of their
  // spread. The synthetic network's softmax is nearly flat (top p ~0.002), so the
  // probabilities move by ~0.3 % of their sum in L1 distance
  // (of 2 possible, 0.00275-0.00304 here). The bound, 0.02, leaves room for other
  // CPUs' float rounding and other calibration draws; the top class must agree.
  double worst_l1 = 0;
  int agree = 0;
  const int trials = 3;
  for (int t = 0; t < trials; ++t) {
    std::vector<float> x = Pseudo(3 * 224 * 224, 1000 + t, -1, 1);
    std::vector<Tensor> a, c;
    a.push_back(MakeTensor(Shape{1, 3, 224, 224}, x));
    c.push_back(MakeTensor(Shape{1, 3, 224, 224}, x));
    auto yf = RunModel(src, std::move(a));
    auto yq = RunModel(out, std::move(c));
    ASSERT_EQ(yq.size(), 1u);
    ASSERT_EQ(yq[0].shape(), (Shape{1, 1000}));
    auto f = yf[0].as<float>(), g = yq[0].as<float>();
    double l1 = 0;
    for (std::size_t i = 0; i < 1000; ++i) l1 += std::fabs(f[i] - g[i]);
    worst_l1 = std::max(worst_l1, l1);
    agree += std::max_element(f.begin(), f.end()) - f.begin() ==
             std::max_element(g.begin(), g.end()) - g.begin();
    std::printf("trial %d: L1 %.5f, top-1 float %td quantized %td (p %.4f vs %.4f)\n", t, l1,
                std::max_element(f.begin(), f.end()) - f.begin(),
                std::max_element(g.begin(), g.end()) - g.begin(),
                *std::max_element(f.begin(), f.end()), *std::max_element(g.begin(), g.end()));
  }
  EXPECT_EQ(agree, trials);
  EXPECT_LT(worst_l1, 0.02);
}

}  // namespace
}  // namespace deepedge
