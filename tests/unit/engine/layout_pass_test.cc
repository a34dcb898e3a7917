// The layout pass on hand-built graphs: every rewritten graph is run against the
// original on the same inputs with the real kernels, and the Transposes are counted.
#include "engine/layout_pass.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/executor.h"
#include "engine/kernel.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using testing::F32;
using testing::MakeNode;
using testing::SetInts;

const engine::KernelRegistry& Registry() {
  static const engine::KernelRegistry* r = [] {
    auto* reg = new engine::KernelRegistry;
    engine::RegisterAllKernels(*reg);
    return reg;
  }();
  return *r;
}

Tensor Random(DType dtype, const Shape& s, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::Allocate(dtype, s).value();
  if (dtype == DType::kF32) {
    std::uniform_real_distribution<float> d(-2.f, 2.f);
    for (float& v : t.as<float>()) v = d(rng);
  } else {
    std::uniform_int_distribution<int> d(-128, 127);
    for (std::int8_t& v : t.as<std::int8_t>()) v = static_cast<std::int8_t>(d(rng));
  }
  return t;
}

std::shared_ptr<const Tensor> Shared(Tensor t) {
  return std::make_shared<const Tensor>(std::move(t));
}

ir::Node Transpose(const std::string& in, const std::string& out, std::vector<std::int64_t> perm) {
  ir::Node n = MakeNode("Transpose", {in}, {out});
  SetInts(n, "perm", std::move(perm));
  return n;
}

ir::Node Conv(const std::string& in, const std::string& w, const std::string& out) {
  ir::Node n = MakeNode("Conv", {in, w}, {out});
  SetInts(n, "kernel_shape", {3, 3});
  SetInts(n, "pads", {1, 1, 1, 1});
  return n;
}

int CountOps(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node& node : g.nodes) n += node.op_type == op;
  return n;
}

const ir::Node* Producer(const ir::Graph& g, const std::string& value) {
  for (const ir::Node& n : g.nodes) {
    for (const std::string& o : n.outputs) {
      if (o == value) return &n;
    }
  }
  return nullptr;
}

std::vector<Tensor> RunGraph(const ir::Graph& g, const std::vector<const Tensor*>& inputs) {
  auto model = std::make_shared<ir::Model>();
  model->graph = g;
  model->opsets[""] = 17;
  auto exec = engine::Executor::Create(model, Registry(), {});
  EXPECT_TRUE(exec.has_value()) << exec.status().ToString();
  std::vector<Tensor> in;
  for (const Tensor* t : inputs) in.push_back(t->Clone());
  std::vector<Tensor> out;
  Status st = (*exec)->Run(in, out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

void ExpectSameOutputs(const ir::Graph& before, const ir::Graph& after,
                       const std::vector<const Tensor*>& inputs) {
  std::vector<Tensor> a = RunGraph(before, inputs), b = RunGraph(after, inputs);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape(), b[i].shape());
    ASSERT_EQ(a[i].dtype(), b[i].dtype());
    ASSERT_EQ(a[i].byte_size(), b[i].byte_size());
    if (a[i].dtype() == DType::kF32) {
      for (std::size_t k = 0; k < a[i].as<float>().size(); ++k) {
        ASSERT_NEAR(a[i].as<float>()[k], b[i].as<float>()[k], 1e-5f)
            << "output " << i << " at " << k;
      }
    } else {
      EXPECT_EQ(0, std::memcmp(a[i].data(), b[i].data(), a[i].byte_size())) << "output " << i;
    }
  }
}

// x (NHWC) -> T -> Conv -> Relu -> T^-1 -> T -> Conv -> T^-1 -> y: one chain, two transposes.
TEST(LayoutPass, ChainOfSpatialOpsKeepsTransposesAtTheEnds) {
  ir::Graph g;
  g.inputs = {{"x", DType::kF32, Shape{1, 6, 6, 2}}};
  g.outputs = {{"y", DType::kF32, Shape{1, 6, 6, 2}}};
  g.initializers["w1"] = Shared(Random(DType::kF32, Shape{2, 2, 3, 3}, 1));
  g.initializers["w2"] = Shared(Random(DType::kF32, Shape{2, 2, 3, 3}, 2));
  g.nodes.push_back(Transpose("x", "a", {0, 3, 1, 2}));
  g.nodes.push_back(Conv("a", "w1", "b"));
  g.nodes.push_back(MakeNode("Relu", {"b"}, {"c"}));
  g.nodes.push_back(Transpose("c", "d", {0, 2, 3, 1}));
  g.nodes.push_back(Transpose("d", "e", {0, 3, 1, 2}));
  g.nodes.push_back(Conv("e", "w2", "f"));
  g.nodes.push_back(Transpose("f", "y", {0, 2, 3, 1}));
  const ir::Graph before = g;
  auto removed = engine::OptimizeLayout(g);
  ASSERT_TRUE(removed.has_value()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(CountOps(g, "Transpose"), 2);
  Tensor x = Random(DType::kF32, Shape{1, 6, 6, 2}, 3);
  ExpectSameOutputs(before, g, {&x});
}

// The QDQ form the TFLite importer writes: afterwards DequantizeLinear feeds each Conv
// directly and QuantizeLinear follows it, transposes only at the ends.
TEST(LayoutPass, QdqChainLeavesDequantizeNextToConv) {
  ir::Graph g;
  g.inputs = {{"x", DType::kI8, Shape{1, 5, 5, 2}}};
  g.outputs = {{"y", DType::kI8, Shape{1, 5, 5, 2}}};
  g.initializers["w1"] = Shared(Random(DType::kF32, Shape{2, 2, 3, 3}, 4));
  g.initializers["w2"] = Shared(Random(DType::kF32, Shape{2, 2, 3, 3}, 5));
  g.initializers["s"] = Shared(F32(Shape{}, {0.05f}));
  g.initializers["zp"] = Shared(testing::MakeTensor<std::int8_t>(DType::kI8, Shape{}, {3}));
  g.nodes.push_back(MakeNode("DequantizeLinear", {"x", "s", "zp"}, {"xf"}));
  g.nodes.push_back(Transpose("xf", "a", {0, 3, 1, 2}));
  g.nodes.push_back(Conv("a", "w1", "b"));
  g.nodes.push_back(Transpose("b", "c", {0, 2, 3, 1}));
  g.nodes.push_back(MakeNode("QuantizeLinear", {"c", "s", "zp"}, {"q1"}));
  g.nodes.push_back(MakeNode("DequantizeLinear", {"q1", "s", "zp"}, {"d1"}));
  g.nodes.push_back(Transpose("d1", "e", {0, 3, 1, 2}));
  g.nodes.push_back(Conv("e", "w2", "f"));
  g.nodes.push_back(Transpose("f", "h", {0, 2, 3, 1}));
  g.nodes.push_back(MakeNode("QuantizeLinear", {"h", "s", "zp"}, {"y"}));
  const ir::Graph before = g;
  ASSERT_TRUE(engine::OptimizeLayout(g).has_value());
  EXPECT_EQ(CountOps(g, "Transpose"), 2);
  for (const ir::Node& n : g.nodes) {
    if (n.op_type != "Conv") continue;
    const ir::Node* p = Producer(g, n.inputs[0]);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->op_type, "DequantizeLinear") << n.name;
  }
  const ir::Node* last = Producer(g, "y");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->op_type, "Transpose");  // Q moved above the closing transpose
  Tensor x = Random(DType::kI8, Shape{1, 5, 5, 2}, 6);
  ExpectSameOutputs(before, g, {&x});
}

// A per-channel constant operand (NHWC broadcast [C]) is permuted for the NCHW side.
TEST(LayoutPass, BinaryWithConstantOperandIsPermuted) {
  ir::Graph g;
  g.inputs = {{"x", DType::kF32, Shape{1, 3, 4, 5}}};
  g.outputs = {{"y", DType::kF32, Shape{1, 3, 4, 5}}};
  g.initializers["c"] = Shared(F32(Shape{3}, {1.f, -2.f, 0.5f}));
  g.initializers["k"] = Shared(F32(Shape{}, {4.f}));
  g.nodes.push_back(Transpose("x", "a", {0, 2, 3, 1}));
  g.nodes.push_back(MakeNode("Add", {"a", "c"}, {"b"}));
  g.nodes.push_back(MakeNode("Mul", {"k", "b"}, {"m"}));
  g.nodes.push_back(Transpose("m", "y", {0, 3, 1, 2}));
  const ir::Graph before = g;
  auto removed = engine::OptimizeLayout(g);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(CountOps(g, "Transpose"), 0);
  Tensor x = Random(DType::kF32, Shape{1, 3, 4, 5}, 7);
  ExpectSameOutputs(before, g, {&x});
}

// Both operands transposed alike: the binary node runs on the untransposed values.
TEST(LayoutPass, BinaryOfTwoLikeTransposedOperands) {
  ir::Graph g;
  g.inputs = {{"x", DType::kF32, Shape{1, 2, 3, 4}}, {"z", DType::kF32, Shape{1, 2, 3, 4}}};
  g.outputs = {{"y", DType::kF32, Shape{1, 2, 3, 4}}};
  g.nodes.push_back(Transpose("x", "a", {0, 2, 3, 1}));
  g.nodes.push_back(Transpose("z", "b", {0, 2, 3, 1}));
  g.nodes.push_back(MakeNode("Sub", {"a", "b"}, {"c"}));
  g.nodes.push_back(MakeNode("Sigmoid", {"c"}, {"d"}));
  g.nodes.push_back(Transpose("d", "y", {0, 3, 1, 2}));
  const ir::Graph before = g;
  ASSERT_TRUE(engine::OptimizeLayout(g).has_value());
  EXPECT_EQ(CountOps(g, "Transpose"), 0);
  Tensor x = Random(DType::kF32, Shape{1, 2, 3, 4}, 8),
         z = Random(DType::kF32, Shape{1, 2, 3, 4}, 9);
  ExpectSameOutputs(before, g, {&x, &z});
}

// Nothing to cancel: fanning a Transpose out below two readers would add one, so the
// graph stays as it was; a graph output keeps its producer.
TEST(LayoutPass, NeverAddsTransposesAndKeepsGraphOutputs) {
  ir::Graph g;
  g.inputs = {{"x", DType::kF32, Shape{1, 2, 3, 4}}};
  g.outputs = {
      {"y1", DType::kF32, Shape{}}, {"y2", DType::kF32, Shape{}}, {"t", DType::kF32, Shape{}}};
  g.nodes.push_back(Transpose("x", "t", {0, 2, 3, 1}));
  g.nodes.push_back(MakeNode("Relu", {"t"}, {"y1"}));
  g.nodes.push_back(MakeNode("Tanh", {"t"}, {"y2"}));
  const ir::Graph before = g;
  auto removed = engine::OptimizeLayout(g);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 0);
  EXPECT_EQ(g.nodes.size(), before.nodes.size());
  EXPECT_EQ(CountOps(g, "Transpose"), 1);
}

// A per-channel DequantizeLinear depends on the axis: no transpose crosses it.
TEST(LayoutPass, PerAxisDequantizeBlocksTheTranspose) {
  ir::Graph g;
  g.inputs = {{"x", DType::kI8, Shape{1, 2, 3, 4}}};
  g.outputs = {{"y", DType::kF32, Shape{1, 2, 3, 4}}};
  g.initializers["s"] = Shared(F32(Shape{2}, {0.1f, 0.2f}));  // per channel of [1,3,4,2]
  g.nodes.push_back(Transpose("x", "a", {0, 2, 3, 1}));
  ir::Node dq = MakeNode("DequantizeLinear", {"a", "s"}, {"b"});
  testing::SetInt(dq, "axis", 3);
  g.nodes.push_back(dq);
  g.nodes.push_back(Transpose("b", "y", {0, 3, 1, 2}));
  const ir::Graph before = g;
  ASSERT_TRUE(engine::OptimizeLayout(g).has_value());
  EXPECT_EQ(CountOps(g, "Transpose"), 2);
  Tensor x = Random(DType::kI8, Shape{1, 2, 3, 4}, 10);
  ExpectSameOutputs(before, g, {&x});
}

}  // namespace
}  // namespace deepedge
