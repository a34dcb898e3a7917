// The executor and the graph passes, on hand-built graphs with test kernels (the
// real kernel families have their own tests).
#include <gtest/gtest.h>
#include <pthreadpool.h>

#include <span>
#include <vector>

#include "engine/executor.h"
#include "engine/passes.h"
#include "support/kernel_harness.h"

namespace deepedge {
namespace {

using testing::F32;
using testing::MakeNode;

// y = x + 1, elementwise f32.
Status AddOne(engine::KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  if (x == nullptr) return InvalidArgument("missing input");
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, x->shape()));
  for (std::size_t i = 0; i < x->as<float>().size(); ++i) y->as<float>()[i] = x->as<float>()[i] + 1;
  return Status::Ok();
}

// y = a * b (same shapes).
Status Mul(engine::KernelContext& ctx) {
  const Tensor* a = ctx.input(0);
  const Tensor* b = ctx.input(1);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, a->shape()));
  for (std::size_t i = 0; i < a->as<float>().size(); ++i)
    y->as<float>()[i] = a->as<float>()[i] * b->as<float>()[i];
  return Status::Ok();
}

// Runs the "body" attribute graph on the input and returns its output.
Status CallBody(engine::KernelContext& ctx) {
  const ir::Attribute* body = ctx.node().Find("body");
  const Tensor* x = ctx.input(0);
  std::vector<Tensor> outs;
  const Tensor* in[] = {x};
  DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*body->graph, in, outs));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, outs[0].dtype(), outs[0].shape()));
  std::memcpy(y->data(), outs[0].data(), outs[0].byte_size());
  return Status::Ok();
}

// The pools PoolAddOne ran on, in order.
std::vector<pthreadpool_t> pools_seen;

// y = x + 1 over the context's ParallelFor; records the context's pool.
Status PoolAddOne(engine::KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, x->shape()));
  pools_seen.push_back(ctx.thread_pool());
  std::span<const float> in = x->as<float>();
  std::span<float> out = y->as<float>();
  ctx.ParallelFor(in.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) out[i] = in[i] + 1;
  });
  return Status::Ok();
}

engine::KernelRegistry TestRegistry() {
  engine::KernelRegistry r;
  r.Add("", "AddOne", AddOne);
  r.Add("", "PoolAddOne", PoolAddOne);
  r.Add("", "Mul", Mul);
  r.Add("", "CallBody", CallBody);
  return r;
}

ir::ValueInfo Info(const std::string& name, Shape shape) {
  return {name, DType::kF32, std::move(shape)};
}

// x -> AddOne -> a -> AddOne -> b -> ... a chain of n nodes.
std::shared_ptr<ir::Model> Chain(int n, std::int64_t elems) {
  auto m = std::make_shared<ir::Model>();
  m->graph.inputs = {Info("x", Shape{Shape::kDynamic, elems})};
  std::string prev = "x";
  for (int i = 0; i < n; ++i) {
    const std::string out = i + 1 == n ? "y" : "v" + std::to_string(i);
    m->graph.nodes.push_back(MakeNode("AddOne", {prev}, {out}));
    prev = out;
  }
  m->graph.outputs = {Info("y", Shape{Shape::kDynamic, elems})};
  return m;
}

TEST(ExecutorTest, RunsAChainAndResolvesTheDynamicBatch) {
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(Chain(3, 4), reg, {});
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  for (std::int64_t batch : {1, 3}) {
    Tensor x = Tensor::Allocate(DType::kF32, Shape{batch, 4}).value();
    std::vector<Tensor> out;
    ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].shape(), (Shape{batch, 4}));
    EXPECT_EQ(out[0].as<float>()[0], 3.0f);
  }
}

TEST(ExecutorTest, SharedThreadsUseOnePoolThatOutlivesEachExecutor) {
  auto reg = TestRegistry();
  auto model = std::make_shared<ir::Model>();
  model->graph.inputs = {Info("x", Shape{4096})};
  model->graph.nodes.push_back(MakeNode("PoolAddOne", {"x"}, {"y"}));
  model->graph.outputs = {Info("y", Shape{4096})};
  const engine::ExecutorOptions shared{.threads = 2, .share_threads = true};
  const engine::ExecutorOptions own{.threads = 2};
  auto a = engine::Executor::Create(model, reg, shared);
  auto b = engine::Executor::Create(model, reg, shared);
  auto c = engine::Executor::Create(model, reg, own);
  ASSERT_TRUE(a.has_value() && b.has_value() && c.has_value());
  Tensor x = Tensor::Allocate(DType::kF32, Shape{4096}).value();
  std::vector<Tensor> out;
  pools_seen.clear();
  for (auto* e : {&*a, &*b, &*c}) ASSERT_TRUE((*e)->Run(std::span<const Tensor>(&x, 1), out).ok());
  ASSERT_EQ(pools_seen.size(), 3u);
  EXPECT_NE(pools_seen[0], nullptr);
  EXPECT_EQ(pools_seen[0], pools_seen[1]);
  EXPECT_NE(pools_seen[0], pools_seen[2]);
  // The pool lives as long as any executor sharing it.
  a->reset();
  ASSERT_TRUE((*b)->Run(std::span<const Tensor>(&x, 1), out).ok());
  EXPECT_EQ(pools_seen.back(), pools_seen[1]);
  EXPECT_EQ(out[0].as<float>()[4095], 1.0f);
}

TEST(ExecutorTest, ReusesBuffersByLiveness) {
  // Ten 4 KiB intermediates in a chain: at most two are alive at once.
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(Chain(10, 1024), reg, {});
  ASSERT_TRUE(exec.has_value());
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 1024}).value();
  std::vector<Tensor> out;
  ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
  EXPECT_LE((*exec)->ArenaBytes(), 2u * 4096u);
  EXPECT_GE((*exec)->ArenaBytes(), 4096u);
  EXPECT_EQ(out[0].as<float>()[1023], 10.0f);
  // A second run allocates nothing new: the same peak.
  const std::size_t first = (*exec)->ArenaBytes();
  ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
  EXPECT_EQ((*exec)->ArenaBytes(), first);
}

TEST(ExecutorTest, ChecksInputCountDtypeAndShape) {
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(Chain(1, 4), reg, {});
  ASSERT_TRUE(exec.has_value());
  std::vector<Tensor> out;
  Tensor wrong_shape = Tensor::Allocate(DType::kF32, Shape{1, 5}).value();
  Status s = (*exec)->Run(std::span<const Tensor>(&wrong_shape, 1), out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "input 'x' must have shape ?x4, got 1x5");
  Tensor wrong_type = Tensor::Allocate(DType::kI32, Shape{1, 4}).value();
  EXPECT_EQ((*exec)->Run(std::span<const Tensor>(&wrong_type, 1), out).message(),
            "input 'x' must be f32, got i32");
  EXPECT_EQ((*exec)->Run({}, out).message(), "the model takes 1 inputs, got 0");
}

TEST(ExecutorTest, UnsupportedOperatorIsNamedAtCreate) {
  auto m = Chain(1, 4);
  m->graph.nodes[0].op_type = "Mystery";
  m->graph.nodes[0].name = "m1";
  m->graph.nodes[0].opset = 13;
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(m, reg, {});
  ASSERT_FALSE(exec.has_value());
  EXPECT_EQ(exec.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(exec.status().message(),
            "unsupported operator Mystery (domain ai.onnx, opset 13) at node 'm1'");
}

TEST(ExecutorTest, NestedGraphsReadOuterValues) {
  // body(z) = z * w, where w is a value of the outer graph, not a body input.
  auto body = std::make_shared<ir::Graph>();
  body->inputs = {Info("z", Shape{2})};
  body->nodes.push_back(MakeNode("Mul", {"z", "w"}, {"r"}));
  body->outputs = {Info("r", Shape{2})};
  auto m = std::make_shared<ir::Model>();
  m->graph.inputs = {Info("x", Shape{2})};
  m->graph.nodes.push_back(MakeNode("AddOne", {"x"}, {"w"}));
  ir::Node call = MakeNode("CallBody", {"x"}, {"y"});
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kGraph;
  a.graph = body;
  call.attributes["body"] = a;
  m->graph.nodes.push_back(call);
  m->graph.outputs = {Info("y", Shape{2})};
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(m, reg, {});
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  Tensor x = F32({2}, {2, 3});
  std::vector<Tensor> out;
  ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
  EXPECT_EQ(out[0].as<float>()[0], 2.0f * 3.0f);
  EXPECT_EQ(out[0].as<float>()[1], 3.0f * 4.0f);
}

TEST(ExecutorTest, NestedGraphOutputsMayBeOuterValues) {
  // body(z) = w: the body passes an outer value straight through as its output (an If
  // branch that returns an enclosing value does this), so w must outlive its last
  // reader in the outer graph.
  auto body = std::make_shared<ir::Graph>();
  body->inputs = {Info("z", Shape{2})};
  body->outputs = {Info("w", Shape{2})};
  auto m = std::make_shared<ir::Model>();
  m->graph.inputs = {Info("x", Shape{2})};
  m->graph.nodes.push_back(MakeNode("AddOne", {"x"}, {"w"}));
  ir::Node call = MakeNode("CallBody", {"x"}, {"y"});
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kGraph;
  a.graph = body;
  call.attributes["body"] = a;
  m->graph.nodes.push_back(call);
  m->graph.outputs = {Info("y", Shape{2})};
  auto reg = TestRegistry();
  auto exec = engine::Executor::Create(m, reg, {});
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  Tensor x = F32({2}, {2, 3});
  std::vector<Tensor> out;
  const Status st = (*exec)->Run(std::span<const Tensor>(&x, 1), out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out[0].as<float>()[0], 3.0f);
  EXPECT_EQ(out[0].as<float>()[1], 4.0f);
}

TEST(ExecutorTest, ProfilesEveryNodeWithOutputBytes) {
  auto reg = TestRegistry();
  engine::ExecutorOptions opts;
  opts.profile = true;
  auto exec = engine::Executor::Create(Chain(3, 8), reg, opts);
  ASSERT_TRUE(exec.has_value());
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 8}).value();
  std::vector<Tensor> out;
  ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
  const auto& p = (*exec)->LastProfile();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].op_type, "AddOne");
  EXPECT_EQ(p[0].output_bytes, 32);
  EXPECT_GE(p[0].time_ms, 0.0);
}

TEST(PassesTest, FoldsConstantsAndRemovesDeadNodes) {
  // c = AddOne(k) is constant; y = Mul(x, c); d = AddOne(x) is dead.
  ir::Graph g;
  g.inputs = {Info("x", Shape{2})};
  g.initializers["k"] = std::make_shared<const Tensor>(F32({2}, {1, 2}));
  g.nodes.push_back(MakeNode("AddOne", {"k"}, {"c"}));
  g.nodes.push_back(MakeNode("Mul", {"x", "c"}, {"y"}));
  g.nodes.push_back(MakeNode("AddOne", {"x"}, {"d"}));
  g.outputs = {Info("y", Shape{2})};
  auto reg = TestRegistry();
  Expected<int> folded = engine::FoldConstants(g, reg);
  ASSERT_TRUE(folded.has_value());
  EXPECT_EQ(*folded, 1);
  ASSERT_TRUE(g.initializers.count("c"));
  EXPECT_EQ(g.initializers["c"]->as<float>()[1], 3.0f);
  EXPECT_EQ(engine::RemoveDeadNodes(g), 1);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "Mul");
  EXPECT_FALSE(g.initializers.count("k"));  // read by nothing any more
}

TEST(PassesTest, FoldsConstantsInsideNestedGraphs) {
  // branch: c = AddOne(k), k the branch's own constant; y = Mul(x, c), x the outer input.
  auto branch = std::make_shared<ir::Graph>();
  branch->initializers["k"] = std::make_shared<const Tensor>(F32({2}, {1, 2}));
  branch->nodes.push_back(MakeNode("AddOne", {"k"}, {"c"}));
  branch->nodes.push_back(MakeNode("Mul", {"x", "c"}, {"y"}));
  branch->outputs = {Info("y", Shape{2})};
  ir::Graph g;
  g.inputs = {Info("x", Shape{2})};
  ir::Node call = MakeNode("CallBody", {"x"}, {"out"});
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kGraph;
  a.graph = branch;
  call.attributes["body"] = a;
  g.nodes.push_back(call);
  g.outputs = {Info("out", Shape{2})};
  auto reg = TestRegistry();
  Expected<int> folded = engine::FoldConstants(g, reg);
  ASSERT_TRUE(folded.has_value());
  EXPECT_EQ(*folded, 1);
  const ir::Graph& body = *g.nodes[0].attributes.at("body").graph;
  ASSERT_EQ(body.nodes.size(), 1u);
  EXPECT_EQ(body.nodes[0].op_type, "Mul");
  ASSERT_TRUE(body.initializers.count("c"));
  EXPECT_EQ(body.initializers.at("c")->as<float>()[1], 3.0f);
  EXPECT_EQ(branch->nodes.size(), 2u);  // the shared original is left as it was
}

// Runs `model` on its one input x with every kernel of the engine; its outputs.
std::vector<Tensor> RunWithAllKernels(std::shared_ptr<ir::Model> model, const Tensor& x) {
  static const engine::KernelRegistry* reg = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterAllKernels(*r);
    return r;
  }();
  std::vector<Tensor> out;
  auto exec = engine::Executor::Create(std::move(model), *reg, {});
  EXPECT_TRUE(exec.has_value()) << exec.status().ToString();
  if (exec) {
    const Status st = (*exec)->Run(std::span<const Tensor>(&x, 1), out);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  return out;
}

// x -> Mul(s) -> Add(t) -> Conv (1x1 unless `kernel` says otherwise, `pad` on each side),
// with s per channel ([3, 1, 1]) and t one value, or `t_shape` for t.
ir::Graph AffineThenConv(std::int64_t kernel = 1, std::int64_t pad = 0,
                         std::vector<std::int64_t> t_shape = {}, bool add_read_twice = false) {
  ir::Graph g;
  g.inputs = {Info("x", Shape{1, 3, 4, 4})};
  auto init = [&](const std::string& name, Shape shape, float base) {
    std::vector<float> v(static_cast<std::size_t>(shape.element_count()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = base + 0.1f * static_cast<float>(i % 7);
    g.initializers[name] = std::make_shared<const Tensor>(F32(shape, v));
  };
  init("s", Shape{3, 1, 1}, 0.5f);
  init("t", Shape(t_shape), -0.2f);
  init("w", Shape{5, 3, kernel, kernel}, -0.3f);
  init("b", Shape{5}, 0.05f);
  g.nodes.push_back(MakeNode("Mul", {"x", "s"}, {"m"}, 13));
  g.nodes.push_back(MakeNode("Add", {"t", "m"}, {"a"}, 13));
  ir::Node conv = MakeNode("Conv", {"a", "w", "b"}, {"y"}, 13);
  testing::SetInts(conv, "pads", {pad, pad, pad, pad});
  g.nodes.push_back(conv);
  g.outputs = {ir::ValueInfo{"y", DType::kF32, std::nullopt}};
  if (add_read_twice) {
    g.nodes.push_back(MakeNode("Relu", {"a"}, {"r"}, 13));
    g.outputs.push_back(ir::ValueInfo{"r", DType::kF32, std::nullopt});
  }
  for (std::size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  return g;
}

TEST(PassesTest, FoldsAConstantAffineMapIntoTheUnpaddedPointwiseConvAfterIt) {
  auto m = std::make_shared<ir::Model>();
  m->graph = AffineThenConv();
  auto original = std::make_shared<ir::Model>(*m);
  EXPECT_EQ(engine::FoldAffineIntoPointwiseConv(m->graph), 1);
  ASSERT_EQ(m->graph.nodes.size(), 1u);
  EXPECT_EQ(m->graph.nodes[0].op_type, "Conv");
  EXPECT_EQ(m->graph.nodes[0].name, "n0+n1+n2");
  EXPECT_EQ(m->graph.nodes[0].inputs[0], "x");
  std::vector<float> xv(48);
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<float>(i % 11) - 5.0f;
  const Tensor x = F32({1, 3, 4, 4}, xv);
  const std::vector<Tensor> want = RunWithAllKernels(original, x), got = RunWithAllKernels(m, x);
  ASSERT_EQ(want.size(), 1u);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].element_count(), want[0].element_count());
  for (std::int64_t i = 0; i < want[0].element_count(); ++i) {
    const float w = want[0].as<float>()[static_cast<std::size_t>(i)];
    EXPECT_NEAR(got[0].as<float>()[static_cast<std::size_t>(i)], w, 1e-5f * (1 + std::abs(w)))
        << "element " << i;
  }
}

TEST(PassesTest, LeavesAffineMapsThatDoNotFoldExactlyAlone) {
  ir::Graph g = AffineThenConv(/*kernel=*/1, /*pad=*/1);  // padding zeros are not offset
  EXPECT_EQ(engine::FoldAffineIntoPointwiseConv(g), 0);
  g = AffineThenConv(/*kernel=*/3);
  EXPECT_EQ(engine::FoldAffineIntoPointwiseConv(g), 0);
  g = AffineThenConv(1, 0, /*t_shape=*/{4});  // along W, not the channels
  EXPECT_EQ(engine::FoldAffineIntoPointwiseConv(g), 0);
  g = AffineThenConv(1, 0, {}, /*add_read_twice=*/true);
  EXPECT_EQ(engine::FoldAffineIntoPointwiseConv(g), 0);
  EXPECT_EQ(g.nodes.size(), 4u);
}

// x * Clip(x + 3, 0, 6) / 6 as four nodes, in the given operand orders and with the
// given constants; "extra" (when not empty) is an intermediate value also made a graph
// output.
ir::Graph DecomposedHardSwish(bool swap, bool times_sixth, float three, float six,
                              const std::string& extra = "") {
  ir::Graph g;
  g.inputs = {Info("x", Shape{7})};
  auto scalar = [&](const std::string& name, float v) {
    g.initializers[name] = std::make_shared<const Tensor>(F32({}, {v}));
  };
  scalar("three", three);
  scalar("zero", 0.0f);
  scalar("six", six);
  scalar("k", times_sixth ? 1.0f / 6.0f : 6.0f);
  g.nodes.push_back(MakeNode(
      "Add", swap ? std::vector<std::string>{"three", "x"} : std::vector<std::string>{"x", "three"},
      {"a"}, 13));
  g.nodes.push_back(MakeNode("Clip", {"a", "zero", "six"}, {"c"}, 13));
  g.nodes.push_back(MakeNode(
      "Mul", swap ? std::vector<std::string>{"c", "x"} : std::vector<std::string>{"x", "c"}, {"m"},
      13));
  g.nodes.push_back(MakeNode(times_sixth ? "Mul" : "Div", {"m", "k"}, {"y"}, 13));
  for (std::size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = "n" + std::to_string(i);
  g.outputs = {Info("y", Shape{7})};
  if (!extra.empty()) g.outputs.push_back(Info(extra, Shape{7}));
  return g;
}

TEST(PassesTest, FusesDecomposedHardSwishIntoOneNodeWithTheSameResults) {
  for (bool swap : {false, true}) {
    for (bool times_sixth : {false, true}) {
      SCOPED_TRACE(std::string(swap ? "swapped" : "in order") +
                   (times_sixth ? ", * 1/6" : ", / 6"));
      auto m = std::make_shared<ir::Model>();
      m->graph = DecomposedHardSwish(swap, times_sixth, 3.0f, 6.0f);
      auto original = std::make_shared<ir::Model>(*m);
      EXPECT_EQ(engine::FuseHardSwish(m->graph), 1);
      ASSERT_EQ(m->graph.nodes.size(), 1u);
      EXPECT_EQ(m->graph.nodes[0].op_type, "HardSwish");
      EXPECT_EQ(m->graph.nodes[0].name, "n0+n1+n2+n3");
      EXPECT_EQ(m->graph.nodes[0].inputs, std::vector<std::string>{"x"});
      EXPECT_EQ(m->graph.nodes[0].outputs, std::vector<std::string>{"y"});
      const Tensor x = F32({7}, {-4.0f, -3.0f, -1.5f, 0.0f, 0.7f, 3.0f, 5.0f});
      const std::vector<Tensor> want = RunWithAllKernels(original, x),
                                got = RunWithAllKernels(m, x);
      ASSERT_EQ(want.size(), 1u);
      ASSERT_EQ(got.size(), 1u);
      for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_NEAR(got[0].as<float>()[i], want[0].as<float>()[i], 1e-6f) << "element " << i;
      }
    }
  }
}

TEST(PassesTest, LeavesOtherFormsOfHardSwishAlone) {
  ir::Graph g = DecomposedHardSwish(false, false, 2.0f, 6.0f);  // x + 2
  EXPECT_EQ(engine::FuseHardSwish(g), 0);
  EXPECT_EQ(g.nodes.size(), 4u);
  g = DecomposedHardSwish(false, false, 3.0f, 5.0f);  // Clip to 5 (and / 6)
  EXPECT_EQ(engine::FuseHardSwish(g), 0);
  g = DecomposedHardSwish(false, false, 3.0f, 6.0f, "c");  // the Clip's output is read
  EXPECT_EQ(engine::FuseHardSwish(g), 0);
  EXPECT_EQ(g.nodes.size(), 4u);
}

// Runs the "body" graph twice (a two-trip loop): body(body(x)).
Status CallBodyTwice(engine::KernelContext& ctx) {
  const ir::Attribute* body = ctx.node().Find("body");
  std::vector<Tensor> first, second;
  const Tensor* in1[] = {ctx.input(0)};
  DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*body->graph, in1, first));
  const Tensor* in2[] = {&first[0]};
  DEEPEDGE_RETURN_IF_ERROR(ctx.RunSubgraph(*body->graph, in2, second));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, second[0].dtype(), second[0].shape()));
  std::memcpy(y->data(), second[0].data(), second[0].byte_size());
  return Status::Ok();
}

TEST(ExecutorTest, ProfilesNestedGraphNodesUnderTheirNode) {
  // body(z) = AddOne(AddOne(z)); the node running it is followed by the body's nodes,
  // named "<node>/<nested node>", each timed over both trips; its own entry keeps only
  // the time outside them.
  auto body = std::make_shared<ir::Graph>();
  body->inputs = {Info("z", Shape{2})};
  body->outputs = {Info("v", Shape{2})};
  body->nodes.push_back(MakeNode("AddOne", {"z"}, {"u"}));
  body->nodes.push_back(MakeNode("AddOne", {"u"}, {"v"}));
  body->nodes[0].name = "first";
  body->nodes[1].name = "second";
  auto m = std::make_shared<ir::Model>();
  m->graph.inputs = {Info("x", Shape{2})};
  ir::Node call = MakeNode("CallBodyTwice", {"x"}, {"y"});
  call.name = "loop";
  call.attributes["body"].kind = ir::Attribute::Kind::kGraph;
  call.attributes["body"].graph = body;
  m->graph.nodes.push_back(call);
  m->graph.outputs = {Info("y", Shape{2})};
  auto reg = TestRegistry();
  reg.Add("", "CallBodyTwice", CallBodyTwice);
  engine::ExecutorOptions opts;
  opts.profile = true;
  auto exec = engine::Executor::Create(m, reg, opts);
  ASSERT_TRUE(exec.has_value()) << exec.status().ToString();
  Tensor x = F32({2}, {2, 3});
  std::vector<Tensor> out;
  for (int run = 0; run < 2; ++run) {  // the second run: the nested runner is reused
    ASSERT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());
    EXPECT_EQ(out[0].as<float>()[0], 6.0f);
    const auto& p = (*exec)->LastProfile();
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0].name, "loop");
    EXPECT_EQ(p[1].name, "loop/first");
    EXPECT_EQ(p[2].name, "loop/second");
    EXPECT_EQ(p[1].op_type, "AddOne");
    EXPECT_EQ(p[1].output_bytes, 8);
    for (const auto& e : p) EXPECT_GE(e.time_ms, 0.0);
  }
  // Without profiling nothing is recorded, nested or not.
  auto plain = engine::Executor::Create(m, reg, {});
  ASSERT_TRUE(plain.has_value());
  ASSERT_TRUE((*plain)->Run(std::span<const Tensor>(&x, 1), out).ok());
  EXPECT_TRUE((*plain)->LastProfile().empty());
}

}  // namespace
}  // namespace deepedge
