// Per-node profile of a whole model: every Conv of the zoo's MobileNet v1 must have
// its own entry, with the MACs its shapes give, both inside XNNPACK regions (where
// the region kernel times each node in a runtime of its own) and on the reference
// kernels.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "deepedge/onnx_model.h"
#include "deepedge/zoo.h"
#include "engine/executor.h"
#include "engine/kernel.h"
#include "engine/passes.h"
#include "engine/xnnpack/xnn_pass.h"

namespace deepedge {
namespace {

const engine::KernelRegistry& Registry() {
  static const engine::KernelRegistry* registry = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterAllKernels(*r);
    engine::RegisterXnnpackKernels(*r);
    return r;
  }();
  return *registry;
}

struct ConvMacs {
  std::string name;
  std::int64_t macs = 0;
};

// MACs of every Conv of a chain-shaped CNN, computed from its attributes and weight
// shapes: C_out * H_out * W_out * (C_in / group) * KH * KW with
// H_out = (H + pad_top + pad_bottom - KH) / stride + 1.
std::vector<ConvMacs> HandConvMacs(const ir::Graph& g, std::int64_t h, std::int64_t w) {
  std::vector<ConvMacs> out;
  for (const ir::Node& n : g.nodes) {
    if (n.op_type != "Conv") continue;
    const Tensor& weights = *g.initializers.at(n.inputs[1]);
    const std::int64_t cout = weights.shape()[0], cin_g = weights.shape()[1];
    const std::int64_t kh = weights.shape()[2], kw = weights.shape()[3];
    const std::vector<std::int64_t> pads = n.GetInts("pads");
    const std::vector<std::int64_t> strides = n.GetInts("strides");
    const std::int64_t sh = strides.empty() ? 1 : strides[0], sw = strides.empty() ? 1 : strides[1];
    const std::int64_t pt = pads.empty() ? 0 : pads[0], pl = pads.empty() ? 0 : pads[1];
    const std::int64_t pb = pads.empty() ? 0 : pads[2], pr = pads.empty() ? 0 : pads[3];
    h = (h + pt + pb - kh) / sh + 1;
    w = (w + pl + pr - kw) / sw + 1;
    out.push_back({n.name, cout * h * w * cin_g * kh * kw});
  }
  return out;
}

struct Profiled {
  std::vector<engine::NodeProfile> nodes;
  double run_ms = 0;  // wall time of the profiled Run
};

Profiled ProfileModel(const ir::Model& imported, bool xnnpack) {
  auto model = std::make_shared<ir::Model>(imported);
  EXPECT_TRUE(engine::FoldConstants(model->graph, Registry()).has_value());
  engine::RemoveDeadNodes(model->graph);
  if (xnnpack) {
    Expected<ir::Graph> g = engine::PartitionForXnnpack(model->graph);
    EXPECT_TRUE(g.has_value());
    if (g) model->graph = std::move(g).value();
  }
  engine::ExecutorOptions options;
  options.threads = 1;
  options.profile = true;
  auto exec = engine::Executor::Create(model, Registry(), options);
  EXPECT_TRUE(exec.has_value()) << exec.status().ToString();
  if (!exec) return {};
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x.as<float>()) v = dist(rng);
  std::vector<Tensor> out;
  EXPECT_TRUE((*exec)->Run(std::span<const Tensor>(&x, 1), out).ok());  // builds runtimes
  const auto t0 = std::chrono::steady_clock::now();
  Status s = (*exec)->Run(std::span<const Tensor>(&x, 1), out);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return {(*exec)->LastProfile(), std::chrono::duration<double, std::milli>(t1 - t0).count()};
}

// The entry whose name is `name` or a fused group that starts with it ("a+b+c").
const engine::NodeProfile* Find(const std::vector<engine::NodeProfile>& p,
                                const std::string& name) {
  for (const engine::NodeProfile& n : p) {
    if (n.name == name || n.name.rfind(name + "+", 0) == 0) return &n;
  }
  return nullptr;
}

class MobileNetProfileTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    Expected<std::vector<std::uint8_t>> bytes = ZooBuild("mobilenet_v1_1.0_224");
    ASSERT_TRUE(bytes.has_value()) << bytes.status().ToString();
    Expected<ir::Model> m = ImportOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, *bytes));
    ASSERT_TRUE(m.has_value()) << m.status().ToString();
    model_ = new ir::Model(std::move(m).value());
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static ir::Model* model_;
};
ir::Model* MobileNetProfileTest::model_ = nullptr;

void CheckConvs(const std::vector<engine::NodeProfile>& profile, const ir::Graph& g) {
  const std::vector<ConvMacs> expected = HandConvMacs(g, 224, 224);
  ASSERT_EQ(expected.size(), 27u);  // 1 full conv + 13 depthwise / pointwise pairs
  std::int64_t total = 0;
  for (const ConvMacs& c : expected) {
    const engine::NodeProfile* p = Find(profile, c.name);
    ASSERT_NE(p, nullptr) << c.name << " has no profile entry";
    EXPECT_EQ(p->macs, c.macs) << c.name;
    EXPECT_GT(p->time_ms, 0.0) << c.name;
    EXPECT_GT(p->output_bytes, 0) << c.name;
    total += c.macs;
  }
  // The published figure: about 569 M multiply-adds, 1 M of them in the classifier.
  EXPECT_GT(total, 560'000'000);
  EXPECT_LT(total, 570'000'000);
}

TEST_F(MobileNetProfileTest, EveryConvInsideXnnpackRegionsHasItsOwnEntry) {
  const Profiled p = ProfileModel(*model_, true);
  CheckConvs(p.nodes, model_->graph);
  // The first conv's entry: 32 x 112 x 112 f32 outputs, BatchNormalization and the
  // activation fused in (named after all three).
  const engine::NodeProfile* first = Find(p.nodes, model_->graph.nodes[0].name);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->output_bytes, 32 * 112 * 112 * 4);
  EXPECT_NE(first->name.find('+'), std::string::npos) << first->name;
  double sum = 0, fused = 0;
  std::string group;
  for (const engine::NodeProfile& n : p.nodes) {
    sum += n.time_ms;
    if (!n.group.empty() && n.group != group) {
      group = n.group;
      ASSERT_GE(n.group_time_ms, 0.0) << n.name;
      fused += n.group_time_ms;
    }
  }
  ASSERT_FALSE(group.empty()) << "no node ran inside an XNNPACK region";
  // Node times are parts of the run; run one at a time, they cost about what the
  // fused region costs (a loose factor: this only catches gross mistakes).
  EXPECT_LE(sum, p.run_ms);
  EXPECT_GT(sum, 0.25 * fused);
  EXPECT_LT(sum, 4.0 * fused);
  // The classifier (Gemm, or MatMul) has 1024 x 1000 MACs.
  bool classifier = false;
  for (const engine::NodeProfile& n : p.nodes) classifier |= n.macs == 1024 * 1000;
  EXPECT_TRUE(classifier);
}

TEST_F(MobileNetProfileTest, ReferenceKernelsReportTheSameMacs) {
  const Profiled p = ProfileModel(*model_, false);
  CheckConvs(p.nodes, model_->graph);
  for (const engine::NodeProfile& n : p.nodes) {
    EXPECT_TRUE(n.group.empty()) << n.name;
    EXPECT_EQ(n.group_time_ms, -1.0) << n.name;
  }
}

TEST_F(MobileNetProfileTest, ProfiledRunComputesTheSameOutputs) {
  // Profiling runs every node in a runtime of its own; the answers must not change.
  auto make = [&](bool profile) {
    auto model = std::make_shared<ir::Model>(*model_);
    EXPECT_TRUE(engine::FoldConstants(model->graph, Registry()).has_value());
    engine::RemoveDeadNodes(model->graph);
    model->graph = engine::PartitionForXnnpack(model->graph).value();
    engine::ExecutorOptions options;
    options.threads = 1;
    options.profile = profile;
    return engine::Executor::Create(model, Registry(), options).value();
  };
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : x.as<float>()) v = dist(rng);
  std::vector<Tensor> plain, profiled;
  ASSERT_TRUE(make(false)->Run(std::span<const Tensor>(&x, 1), plain).ok());
  ASSERT_TRUE(make(true)->Run(std::span<const Tensor>(&x, 1), profiled).ok());
  ASSERT_EQ(plain.size(), profiled.size());
  const auto a = plain[0].as<float>();
  const auto b = profiled[0].as<float>();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i], b[i], 1e-4f + 1e-4f * std::abs(a[i])) << i;
  }
}

}  // namespace
}  // namespace deepedge
