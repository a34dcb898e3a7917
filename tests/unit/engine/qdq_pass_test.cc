// The QDQ fusion pass on hand-built QDQ graphs: each graph runs through the executor
// as written (float kernels between QuantizeLinear / DequantizeLinear) and after the
// pass (int8 kernels); outputs must agree within one quantization step, and the pass
// must have fused what it claims.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/qdq_pass.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using i64 = std::int64_t;
using testing::MakeNode;
using testing::MakeTensor;

std::uint32_t Next(std::uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}
std::vector<float> RandomFloats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::vector<float> v(n);
  for (float& x : v) x = lo + (hi - lo) * static_cast<float>(Next(seed)) / float(1u << 24);
  return v;
}

const engine::KernelRegistry& Registry() {
  static const engine::KernelRegistry* r = [] {
    auto* reg = new engine::KernelRegistry;
    engine::RegisterAllKernels(*reg);
    return reg;
  }();
  return *r;
}

// Builds QDQ graphs: values are float unless made by Quant.
class Builder {
 public:
  Builder() { model_ = std::make_shared<ir::Model>(); }

  std::string Input(const std::string& name, Shape s) {
    model_->graph.inputs.push_back({name, DType::kF32, std::move(s)});
    return name;
  }
  void Output(const std::string& name) {
    model_->graph.outputs.push_back({name, DType::kF32, std::nullopt});
  }
  std::string Init(const std::string& name, Tensor t) {
    model_->graph.initializers[name] = std::make_shared<const Tensor>(std::move(t));
    return name;
  }
  std::string Scalar(float v) { return Init(Fresh("s"), testing::F32(Shape{}, {v})); }
  std::string Zp(DType t, std::int32_t v) {
    if (t == DType::kI8) {
      return Init(Fresh("z"),
                  MakeTensor(t, Shape{}, std::vector<std::int8_t>{static_cast<std::int8_t>(v)}));
    }
    return Init(Fresh("z"),
                MakeTensor(t, Shape{}, std::vector<std::uint8_t>{static_cast<std::uint8_t>(v)}));
  }
  std::string Node(const std::string& op, std::vector<std::string> in,
                   std::vector<ir::Attribute> attrs = {}, std::vector<std::string> names = {}) {
    ir::Node n = MakeNode(op, std::move(in), {Fresh(op)}, 17);
    n.name = n.outputs[0];
    for (std::size_t i = 0; i < attrs.size(); ++i) n.attributes[names[i]] = attrs[i];
    model_->graph.nodes.push_back(n);
    return n.outputs[0];
  }
  ir::Node& Last() { return model_->graph.nodes.back(); }
  // x -> QuantizeLinear -> DequantizeLinear: a quantized activation as QDQ graphs have.
  std::string QDQ(const std::string& x, float scale, std::int32_t zp, DType t) {
    const std::string s = Scalar(scale), z = Zp(t, zp);
    const std::string q = Node("QuantizeLinear", {x, s, z});
    return Node("DequantizeLinear", {q, s, z});
  }
  // Per-channel int8 weights (axis 0) behind a DequantizeLinear.
  std::string Weights(Shape s, std::vector<float> scales, std::uint32_t seed, i64 axis = 0) {
    const auto n = static_cast<std::size_t>(s.element_count());
    std::vector<std::int8_t> q(n);
    for (auto& v : q) v = static_cast<std::int8_t>(static_cast<int>(Next(seed) % 255) - 127);
    const std::string w = Init(Fresh("w"), MakeTensor(DType::kI8, s, q));
    const auto c = static_cast<i64>(scales.size());
    const std::string sc = Init(Fresh("ws"), testing::F32(Shape{c}, scales));
    const std::string z = Init(
        Fresh("wz"), MakeTensor(DType::kI8, Shape{c}, std::vector<std::int8_t>(scales.size(), 0)));
    const std::string d = Node("DequantizeLinear", {w, sc, z});
    Last().attributes["axis"] = ir::Attribute::Int(axis);
    return d;
  }
  // int32 bias at scale x_scale * w_scale[m] behind a DequantizeLinear.
  std::string Bias(const std::vector<std::int32_t>& b, float x_scale,
                   const std::vector<float>& w_scale) {
    const auto m = static_cast<i64>(b.size());
    std::vector<float> s;
    for (float ws : w_scale) s.push_back(x_scale * ws);
    const std::string bt = Init(Fresh("b"), testing::I32(Shape{m}, b));
    const std::string st = Init(Fresh("bs"), testing::F32(Shape{m}, s));
    const std::string zt =
        Init(Fresh("bz"), testing::I32(Shape{m}, std::vector<std::int32_t>(b.size(), 0)));
    const std::string d = Node("DequantizeLinear", {bt, st, zt});
    Last().attributes["axis"] = ir::Attribute::Int(0);
    return d;
  }
  std::shared_ptr<ir::Model> model() const { return model_; }

 private:
  std::string Fresh(const std::string& p) { return p + std::to_string(counter_++); }
  std::shared_ptr<ir::Model> model_;
  int counter_ = 0;
};

std::vector<Tensor> Run(std::shared_ptr<const ir::Model> m, const std::vector<Tensor>& inputs,
                        int threads) {
  engine::ExecutorOptions o;
  o.threads = threads;
  auto exec = engine::Executor::Create(std::move(m), Registry(), o);
  EXPECT_TRUE(exec.has_value()) << exec.status().ToString();
  if (!exec) return {};
  std::vector<Tensor> out;
  Status s = (*exec)->Run(inputs, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Runs the graph as built and fused; outputs (dequantized) must agree within
// `steps` * `out_scale`. Returns the fusion statistics.
engine::QdqFusionStats Compare(const Builder& b, const std::vector<Tensor>& inputs, float out_scale,
                               double steps = 1.0) {
  auto plain = b.model();
  auto fused = std::make_shared<ir::Model>(*plain);
  auto stats = engine::FuseQdq(fused->graph);
  EXPECT_TRUE(stats.has_value()) << stats.status().ToString();
  for (const ir::Node& n : fused->graph.nodes) {
    EXPECT_NE(n.op_type, "") << "empty node";
  }
  const auto ref = Run(plain, inputs, 1);
  for (int threads : {1, 2}) {
    const auto got = Run(fused, inputs, threads);
    EXPECT_EQ(ref.size(), got.size());
    for (std::size_t o = 0; o < std::min(ref.size(), got.size()); ++o) {
      EXPECT_EQ(ref[o].shape(), got[o].shape());
      const auto r = ref[o].as<float>();
      const auto g = got[o].as<float>();
      EXPECT_EQ(r.size(), g.size());
      if (r.size() != g.size()) continue;
      double worst = 0;
      for (std::size_t i = 0; i < r.size(); ++i)
        worst = std::max(worst, std::fabs(double(r[i]) - g[i]));
      EXPECT_LE(worst, steps * out_scale * 1.0001)
          << "output " << o << ", " << threads << " threads";
    }
  }
  return stats ? *stats : engine::QdqFusionStats{};
}

template <typename... T>
std::vector<Tensor> Ins(T&&... t) {
  std::vector<Tensor> v;
  (v.push_back(std::move(t)), ...);
  return v;
}

int Count(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op_type == op;
  return n;
}

Tensor Input(Shape s, float lo, float hi, std::uint32_t seed) {
  return testing::F32(s, RandomFloats(static_cast<std::size_t>(s.element_count()), lo, hi, seed));
}

struct ConvGraphCase {
  i64 C, M, k, group, stride;
  DType t;
  int act;  // 0 none, 1 Relu, 2 Clip(0, 6)
};
class QdqConvTest : public ::testing::TestWithParam<ConvGraphCase> {};

TEST_P(QdqConvTest, FusesConvChainsAndAgreesWithTheFloatGraph) {
  const ConvGraphCase c = GetParam();
  Builder b;
  const float sx = 0.02f, sy = 0.05f;
  const std::int32_t zx = c.t == DType::kI8 ? -3 : 128, zy = c.t == DType::kI8 ? -20 : 100;
  const std::string x = b.QDQ(b.Input("x", Shape{1, c.C, 12, 12}), sx, zx, c.t);
  std::vector<float> ws;
  for (i64 m = 0; m < c.M; ++m) ws.push_back(0.002f + 0.0003f * static_cast<float>(m % 4));
  const std::string w = b.Weights(Shape{c.M, c.C / c.group, c.k, c.k}, ws, 42);
  std::vector<std::int32_t> bias;
  for (i64 m = 0; m < c.M; ++m) bias.push_back(static_cast<std::int32_t>(m * 37 % 200) - 100);
  const std::string bq = b.Bias(bias, sx, ws);
  const i64 p = c.k / 2;
  std::string y =
      b.Node("Conv", {x, w, bq},
             {ir::Attribute::Ints({c.k, c.k}), ir::Attribute::Ints({c.stride, c.stride}),
              ir::Attribute::Ints({p, p, p, p}), ir::Attribute::Int(c.group)},
             {"kernel_shape", "strides", "pads", "group"});
  if (c.act == 1) y = b.Node("Relu", {y});
  if (c.act == 2) y = b.Node("Clip", {y, b.Scalar(0.0f), b.Scalar(6.0f)});
  const std::string out = b.QDQ(y, sy, zy, c.t);
  b.Output(out);
  std::vector<Tensor> in;
  in.push_back(Input(Shape{1, c.C, 12, 12}, -1.5f, 2.5f, 9));
  const auto stats = Compare(b, in, sy);
  EXPECT_EQ(stats.conv, 1);
  // Quantize(x), QConv, Dequantize(y) are all that is left.
  auto fused = std::make_shared<ir::Model>(*b.model());
  ASSERT_TRUE(engine::FuseQdq(fused->graph).has_value());
  EXPECT_EQ(fused->graph.nodes.size(), 3u);
  EXPECT_EQ(Count(fused->graph, "QConv"), 1);
  EXPECT_EQ(Count(fused->graph, "DequantizeLinear"), 1);

  // The profile counts the fused convolution's multiply-accumulates as the float one's.
  engine::ExecutorOptions o;
  o.profile = true;
  auto exec = engine::Executor::Create(fused, Registry(), o);
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  std::vector<Tensor> out_tensors;
  ASSERT_TRUE((*exec)->Run(in, out_tensors).ok());
  const i64 side = (12 + 2 * p - c.k) / c.stride + 1;
  bool seen = false;
  for (const engine::NodeProfile& np : (*exec)->LastProfile()) {
    if (np.op_type != "QConv") continue;
    seen = true;
    EXPECT_EQ(np.macs, c.M * side * side * (c.C / c.group) * c.k * c.k);
  }
  EXPECT_TRUE(seen);
}

INSTANTIATE_TEST_SUITE_P(Cases, QdqConvTest,
                         ::testing::Values(ConvGraphCase{3, 16, 3, 1, 2, DType::kI8, 2},
                                           ConvGraphCase{16, 24, 1, 1, 1, DType::kI8, 0},
                                           ConvGraphCase{16, 16, 3, 16, 1, DType::kI8, 1},
                                           ConvGraphCase{8, 8, 3, 8, 2, DType::kU8, 2},
                                           ConvGraphCase{8, 12, 3, 2, 1, DType::kU8, 1}));

TEST(QdqPassTest, FusesGemmAndMatMul) {
  for (bool matmul : {false, true}) {
    Builder b;
    const float sx = 0.03f, sy = 0.04f;
    const std::string x = b.QDQ(b.Input("x", Shape{3, 50}), sx, 5, DType::kI8);
    std::vector<float> ws(20, 0.004f);
    for (std::size_t i = 0; i < ws.size(); ++i) ws[i] += 0.0002f * static_cast<float>(i);
    std::string y;
    if (matmul) {
      y = b.Node("MatMul", {x, b.Weights(Shape{50, 20}, ws, 7, 1)});
    } else {
      std::vector<std::int32_t> bias(20);
      for (int i = 0; i < 20; ++i) bias[static_cast<std::size_t>(i)] = i * 50 - 500;
      y = b.Node("Gemm", {x, b.Weights(Shape{20, 50}, ws, 7, 0), b.Bias(bias, sx, ws)},
                 {ir::Attribute::Int(1)}, {"transB"});
    }
    y = b.Node("Relu", {y});
    b.Output(b.QDQ(y, sy, -128, DType::kI8));
    const auto stats = Compare(b, Ins(Input(Shape{3, 50}, -2, 2, 3)), sy);
    EXPECT_EQ(stats.gemm, 1) << (matmul ? "MatMul" : "Gemm");
  }
}

TEST(QdqPassTest, FusesAddMulAndActivationsWithTfliteRescaling) {
  for (const char* op : {"Add", "Mul"}) {
    Builder b;
    const std::string a = b.QDQ(b.Input("a", Shape{1, 4, 6, 6}), 0.03f, 2, DType::kI8);
    const std::string c = b.QDQ(b.Input("c", Shape{1, 4, 1, 1}), 0.05f, -7, DType::kI8);
    std::string y = b.Node(op, {a, c});
    y = b.Node("Relu", {y});
    const float sy = std::string(op) == "Add" ? 0.04f : 0.01f;
    b.Output(b.QDQ(y, sy, -100, DType::kI8));
    const auto stats =
        Compare(b, Ins(Input(Shape{1, 4, 6, 6}, -3, 3, 1), Input(Shape{1, 4, 1, 1}, -2, 4, 2)), sy);
    EXPECT_EQ(stats.add + stats.mul, 1) << op;
  }
}

TEST(QdqPassTest, FusesPoolsMeansAndLookups) {
  struct P {
    const char* op;
    std::vector<ir::Attribute> attrs;
    std::vector<std::string> names;
    float sy;
  };
  const std::vector<P> cases = {
      {"AveragePool",
       {ir::Attribute::Ints({3, 3}), ir::Attribute::Ints({2, 2}),
        ir::Attribute::Ints({1, 1, 1, 1})},
       {"kernel_shape", "strides", "pads"},
       0.05f},
      {"AveragePool", {ir::Attribute::Ints({7, 7})}, {"kernel_shape"}, 0.05f},
      {"MaxPool",
       {ir::Attribute::Ints({3, 3}), ir::Attribute::Ints({2, 2}),
        ir::Attribute::Ints({1, 1, 1, 1})},
       {"kernel_shape", "strides", "pads"},
       0.05f},
      {"GlobalAveragePool", {}, {}, 0.02f},
      {"ReduceMean",
       {ir::Attribute::Ints({2, 3}), ir::Attribute::Int(0)},
       {"axes", "keepdims"},
       0.02f},
      {"Sigmoid", {}, {}, 1.0f / 256},
      {"Tanh", {}, {}, 1.0f / 128},
      {"HardSwish", {}, {}, 0.05f},
  };
  for (const P& p : cases) {
    Builder b;
    const std::string x = b.QDQ(b.Input("x", Shape{1, 3, 7, 7}), 0.05f, 10, DType::kI8);
    const std::string y = b.Node(p.op, {x}, p.attrs, p.names);
    b.Output(b.QDQ(y, p.sy, std::string(p.op) == "Sigmoid" ? -128 : 0, DType::kI8));
    const auto stats = Compare(b, Ins(Input(Shape{1, 3, 7, 7}, -4, 5, 4)), p.sy);
    EXPECT_EQ(stats.pool + stats.lookup, 1) << p.op;
  }
}

TEST(QdqPassTest, RunsDataMovementOnQuantizedValues) {
  Builder b;
  const std::string x = b.QDQ(b.Input("x", Shape{1, 2, 3, 4}), 0.1f, 3, DType::kI8);
  const std::string c = b.QDQ(b.Input("c", Shape{1, 1, 3, 4}), 0.1f, 3, DType::kI8);
  const std::string cat = b.Node("Concat", {x, c}, {ir::Attribute::Int(1)}, {"axis"});
  const std::string catq = b.QDQ(cat, 0.1f, 3, DType::kI8);
  const std::string shape = b.Init("shape", testing::I64(Shape{2}, {1, 36}));
  const std::string r = b.QDQ(b.Node("Reshape", {catq, shape}), 0.1f, 3, DType::kI8);
  // Different output parameters: not a pure data movement, left alone.
  const std::string t = b.Node("Transpose", {r}, {ir::Attribute::Ints({1, 0})}, {"perm"});
  b.Output(b.QDQ(t, 0.2f, 3, DType::kI8));
  const auto stats =
      Compare(b, Ins(Input(Shape{1, 2, 3, 4}, -5, 5, 1), Input(Shape{1, 1, 3, 4}, -5, 5, 2)), 0.2f);
  EXPECT_EQ(stats.moved, 2);
  auto fused = std::make_shared<ir::Model>(*b.model());
  ASSERT_TRUE(engine::FuseQdq(fused->graph).has_value());
  EXPECT_EQ(Count(fused->graph, "Transpose"), 1);
  EXPECT_EQ(Count(fused->graph, "DequantizeLinear"), 2);  // before the Transpose, and the output
}

TEST(QdqPassTest, RemovesDqQPairsWithIdenticalParameters) {
  Builder b;
  const std::string x = b.QDQ(b.Input("x", Shape{2, 5}), 0.1f, 3, DType::kU8);
  // Requantizing with the same parameters is the identity.
  const std::string again = b.QDQ(x, 0.1f, 3, DType::kU8);
  // ... but with other parameters it is not.
  const std::string other = b.QDQ(again, 0.2f, 3, DType::kU8);
  b.Output(other);
  const auto stats = Compare(b, Ins(Input(Shape{2, 5}, -1, 20, 5)), 0.2f);
  EXPECT_EQ(stats.qdq_removed, 1);
  auto fused = std::make_shared<ir::Model>(*b.model());
  ASSERT_TRUE(engine::FuseQdq(fused->graph).has_value());
  EXPECT_EQ(Count(fused->graph, "QuantizeLinear"), 2);
  EXPECT_EQ(Count(fused->graph, "DequantizeLinear"), 2);
}

TEST(QdqPassTest, SharedWeightDqStaysForItsOtherReaders) {
  Builder b;
  const float sx = 0.02f;
  const std::string x = b.QDQ(b.Input("x", Shape{1, 4, 6, 6}), sx, 0, DType::kI8);
  const std::vector<float> ws(8, 0.003f);
  const std::string w = b.Weights(Shape{8, 4, 1, 1}, ws, 5);
  // One Conv is quantized at its output, the other stays float.
  const std::string y1 = b.Node("Conv", {x, w});
  const std::string y2 = b.Node("Conv", {x, w});
  b.Output(b.QDQ(y1, 0.01f, 0, DType::kI8));
  b.Output(y2);
  Compare(b, Ins(Input(Shape{1, 4, 6, 6}, -2, 2, 6)), 0.01f);
  auto fused = std::make_shared<ir::Model>(*b.model());
  auto stats = engine::FuseQdq(fused->graph);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->conv, 1);
  EXPECT_EQ(Count(fused->graph, "Conv"), 1);
  EXPECT_EQ(Count(fused->graph, "DequantizeLinear"), 3);  // x, w (shared), y1
}

TEST(QdqPassTest, LeavesUnrecognisedGraphsAlone) {
  Builder b;
  // Float weights (no DequantizeLinear), and a Conv output read twice.
  const std::string x = b.QDQ(b.Input("x", Shape{1, 2, 5, 5}), 0.02f, 0, DType::kI8);
  const std::string w = b.Init("wf", Input(Shape{3, 2, 1, 1}, -1, 1, 8));
  const std::string y = b.Node("Conv", {x, w});
  b.Output(b.QDQ(y, 0.01f, 0, DType::kI8));
  const std::string w2 = b.Weights(Shape{3, 2, 1, 1}, {0.01f, 0.01f, 0.01f}, 1);
  const std::string z = b.Node("Conv", {x, w2});
  b.Output(b.QDQ(z, 0.01f, 0, DType::kI8));
  b.Output(z);  // z is also a graph output: its chain must stay
  auto fused = std::make_shared<ir::Model>(*b.model());
  const std::size_t before = fused->graph.nodes.size();
  auto stats = engine::FuseQdq(fused->graph);
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->fused(), 0);
  EXPECT_EQ(fused->graph.nodes.size(), before);
  Compare(b, Ins(Input(Shape{1, 2, 5, 5}, -2, 2, 6)), 0.01f, 0.0);
}

TEST(QdqPassTest, FusesAWholeSmallNetwork) {
  // conv 3x3 s2 + relu6 -> depthwise 3x3 + relu -> pointwise -> add (residual) ->
  // global average pool -> gemm, all in QDQ form.
  Builder b;
  const DType t = DType::kI8;
  std::string x = b.QDQ(b.Input("x", Shape{1, 3, 16, 16}), 0.02f, 0, t);
  auto conv = [&](const std::string& in, i64 c, i64 m, i64 k, i64 s, i64 g, float sx, float sy,
                  int act, std::uint32_t seed) {
    std::vector<float> ws(static_cast<std::size_t>(m), 0.01f);
    for (std::size_t i = 0; i < ws.size(); ++i) ws[i] *= 1.0f + 0.1f * static_cast<float>(i % 3);
    std::vector<std::int32_t> bias(static_cast<std::size_t>(m), 100);
    const i64 p = k / 2;
    std::string y =
        b.Node("Conv", {in, b.Weights(Shape{m, c / g, k, k}, ws, seed), b.Bias(bias, sx, ws)},
               {ir::Attribute::Ints({k, k}), ir::Attribute::Ints({s, s}),
                ir::Attribute::Ints({p, p, p, p}), ir::Attribute::Int(g)},
               {"kernel_shape", "strides", "pads", "group"});
    if (act == 1) y = b.Node("Relu", {y});
    if (act == 2) y = b.Node("Clip", {y, b.Scalar(0.0f), b.Scalar(6.0f)});
    return b.QDQ(y, sy, act ? -128 : 0, t);
  };
  const std::string c1 = conv(x, 3, 8, 3, 2, 1, 0.02f, 0.03f, 2, 1);
  const std::string c2 = conv(c1, 8, 8, 3, 1, 8, 0.03f, 0.03f, 1, 2);
  const std::string c3 = conv(c2, 8, 8, 1, 1, 1, 0.03f, 0.05f, 0, 3);
  const std::string sum = b.QDQ(b.Node("Add", {c3, c1}), 0.06f, 0, t);
  const std::string pool = b.QDQ(b.Node("GlobalAveragePool", {sum}), 0.03f, 0, t);
  const std::string flat = b.Node("Flatten", {pool});
  std::vector<float> ws(5, 0.01f);
  const std::string fc =
      b.Node("Gemm", {flat, b.Weights(Shape{5, 8}, ws, 9), b.Bias({1, 2, 3, 4, 5}, 0.03f, ws)},
             {ir::Attribute::Int(1)}, {"transB"});
  b.Output(b.QDQ(fc, 0.01f, 0, t));
  // Rounding differences may compound through the layers: a few steps at most.
  const auto stats = Compare(b, Ins(Input(Shape{1, 3, 16, 16}, -1, 1, 12)), 0.01f, 4.0);
  EXPECT_EQ(stats.conv, 3);
  EXPECT_EQ(stats.add, 1);
  EXPECT_EQ(stats.pool, 1);
  EXPECT_EQ(stats.gemm, 1);  // through the Flatten, which moves onto the int8 values
  EXPECT_GT(stats.nodes_removed, 10);
}

}  // namespace
}  // namespace deepedge
