// The latency fits against synthetic data sets with known laws, and the predictor's
// handling of fused and uncalibrated layers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "deepedge/partition.h"

namespace deepedge::partition {
namespace {

// t = 0.002 ms + 1e-8 ms/MAC + 2e-7 ms/output byte over sizes spanning 1000x, as a
// calibration sweep does (5 us to 5 ms).
std::vector<Sample> SpanningLinearLaw() {
  std::vector<Sample> s;
  for (int i = 0; i < 10; ++i) {
    const std::int64_t macs = 100000LL << i;  // 1e5 .. 5e7
    const std::int64_t out = 4096LL << ((i * 7) % 10);
    s.push_back({macs, out, out, 0,
                 0.002 + 1e-8 * static_cast<double>(macs) + 2e-7 * static_cast<double>(out)});
  }
  return s;
}

TEST(FitLatency, RecoversALawOverSizesSpanning1000x) {
  const std::vector<Sample> s = SpanningLinearLaw();
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value()) << f.status().message();
  EXPECT_LT(f->error, 0.01);
  // The smallest and the largest layer both within 1%: a fit dominated by the large
  // layers gets the small ones' intercept wrong by far more.
  for (const Sample& v : s)
    EXPECT_NEAR(f->Predict(v.macs, v.input_bytes, v.output_bytes, v.weight_bytes) / v.time_ms, 1.0,
                0.01)
        << v.macs;
}

TEST(FitLatency, SmallLayersKeepTheirRelativeErrorUnderNoise) {
  // Multiplicative noise of +-10% on a law whose large samples are 1000x the small
  // ones: every sample must stay within about the noise, the small ones included.
  std::vector<Sample> s = SpanningLinearLaw();
  for (std::size_t i = 0; i < s.size(); ++i) s[i].time_ms *= (i % 2 ? 1.1 : 0.9);
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value());
  for (const Sample& v : s) {
    const double truth =
        0.002 + 1e-8 * static_cast<double>(v.macs) + 2e-7 * static_cast<double>(v.output_bytes);
    EXPECT_NEAR(f->Predict(v.macs, v.input_bytes, v.output_bytes, v.weight_bytes) / truth, 1.0,
                0.25)
        << v.macs;
  }
}

TEST(FitLatency, ReferenceLeastSquaresOnExactData) {
  // Two features exactly determined: t = 0.5 + 3e-6 * in. The fit must recover the
  // coefficients (the weighted normal equations have the exact solution).
  std::vector<Sample> s;
  for (std::int64_t in : {1000, 5000, 20000, 80000, 300000})
    s.push_back({0, in, 0, 0, 0.5 + 3e-6 * static_cast<double>(in)});
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->form, "linear");
  EXPECT_NEAR(f->coef[0], 0.5, 1e-6);
  EXPECT_NEAR(f->coef[2], 3e-6, 1e-11);
  EXPECT_NEAR(f->Predict(0, 1000000, 0, 0), 3.5, 1e-4);
}

// Layers with the same MACs and feature maps but 16x the weights (ResNet's 3x3 layers at
// 14x14 against 56x56 differ so, by their maps as well): the weights term is found, and
// a fit from before it existed (4 coefficients) still predicts, without it.
TEST(FitLatency, WeightBytesAreAFeature) {
  std::vector<Sample> s;
  for (int i = 0; i < 8; ++i) {
    const std::int64_t macs = 20000000LL * (1 + i % 4), maps = 400000LL * (1 + (i * 3) % 5),
                       weights = 150000LL << i;
    s.push_back({macs, maps, maps, weights,
                 0.01 + 5e-9 * static_cast<double>(macs) + 1e-7 * static_cast<double>(weights)});
  }
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value()) << f.status().message();
  ASSERT_EQ(f->coef.size(), 5u);
  EXPECT_LT(f->error, 1e-3);
  EXPECT_NEAR(f->coef[4], 1e-7, 1e-9);
  EXPECT_NEAR(f->Predict(40000000, 0, 0, 10000000), 0.01 + 0.2 + 1.0, 1e-3);
  LatencyFit old{"linear", {0.01, 5e-9, 0, 0}, 0, 8};
  EXPECT_NEAR(old.Predict(40000000, 0, 0, 10000000), 0.21, 1e-9);
}

// conv -> bn -> relu -> add(relu, x2) -> clip, plus a Resize nobody calibrates.
LayerGraph Block() {
  LayerGraph g;
  g.tensors = {{"x", 4000, -1, {0}, false},  {"c", 4000, 0, {1}, false},
               {"b", 4000, 1, {2}, false},   {"r", 4000, 2, {3}, false},
               {"x2", 4000, -1, {3}, false}, {"a", 4000, 3, {4}, false},
               {"y", 4000, 4, {5}, false},   {"z", 16000, 5, {}, true}};
  g.layers = {{"conv", "Conv", {0}, {1}, 100000, 4000, 4000, 1},
              {"bn", "BatchNormalization", {1}, {2}, 0, 4000, 4000, 1},
              {"relu", "Relu", {2}, {3}, 0, 4000, 4000, 1},
              {"add", "Add", {3, 4}, {5}, 0, 8000, 4000, 1},
              {"clip", "Clip", {5}, {6}, 0, 4000, 4000, 1},
              {"resize", "Resize", {6}, {7}, 0, 4000, 16000, 1}};
  return g;
}

DeviceProfile Fits() {
  DeviceProfile p;
  p.fits["conv"] = {"linear", {0.01, 1e-6, 0, 0}, 0.1, 5};
  p.fits["activation"] = {"linear", {0.001, 0, 1e-6, 0}, 0.1, 5};
  p.fits["batchnorm"] = {"linear", {0.001, 0, 2e-6, 0}, 0.1, 5};
  p.fits["eltwise"] = {"linear", {0.002, 0, 1e-6, 1e-6}, 0.1, 5};
  return p;
}

TEST(LayerCosts, MirrorsTheEngineFusions) {
  const Expected<std::vector<LayerCost>> c = LayerCosts(Block(), Fits());
  ASSERT_TRUE(c.has_value()) << c.status().message();
  EXPECT_NEAR((*c)[0].time_ms, 0.01 + 0.1, 1e-12);
  for (int i : {1, 2, 4}) {  // bn and relu into the conv, clip into the add
    EXPECT_TRUE((*c)[static_cast<std::size_t>(i)].fused) << i;
    EXPECT_EQ((*c)[static_cast<std::size_t>(i)].time_ms, 0) << i;
  }
  EXPECT_FALSE((*c)[3].fused);
  EXPECT_NEAR((*c)[3].time_ms, 0.002 + 8000e-6 + 4000e-6, 1e-12);
}

// PP-LCNet's block: conv -> Mul(s) -> Add(t) (a learnable affine block) -> HardSwish
// written out as Add(x, 3) -> Clip -> Mul(x, clip) -> Div(6) -> Mul(s) -> Add(t).
TEST(LayerCosts, MirrorsAffineFoldingAndHardSwishFusion) {
  LayerGraph g;
  g.tensors = {{"x", 4000, -1, {0}, false}, {"c", 4000, 0, {1}, false},
               {"m1", 4000, 1, {2}, false}, {"a1", 4000, 2, {3, 5}, false},
               {"a3", 4000, 3, {4}, false}, {"cl", 4000, 4, {5}, false},
               {"mm", 4000, 5, {6}, false}, {"d", 4000, 6, {7}, false},
               {"m2", 4000, 7, {8}, false}, {"y", 4000, 8, {}, true}};
  g.layers = {{"conv", "Conv", {0}, {1}, 100000, 4000, 4000, 1},
              {"mul1", "Mul", {1}, {2}, 0, 4000, 4000, 1},
              {"add1", "Add", {2}, {3}, 0, 4000, 4000, 1},
              {"add3", "Add", {3}, {4}, 0, 4000, 4000, 1},
              {"clip", "Clip", {4}, {5}, 0, 4000, 4000, 1},
              {"mm", "Mul", {3, 5}, {6}, 0, 8000, 4000, 1},
              {"div", "Div", {6}, {7}, 0, 4000, 4000, 1},
              {"mul2", "Mul", {7}, {8}, 0, 4000, 4000, 1},
              {"add2", "Add", {8}, {9}, 0, 4000, 4000, 1}};
  const Expected<std::vector<LayerCost>> c = LayerCosts(g, Fits());
  ASSERT_TRUE(c.has_value()) << c.status().message();
  // The affine block into the conv; Add, Clip and Mul into the HardSwish on the Div.
  for (int i : {1, 2, 3, 4, 5}) EXPECT_TRUE((*c)[static_cast<std::size_t>(i)].fused) << i;
  EXPECT_FALSE((*c)[6].fused);
  EXPECT_NEAR((*c)[6].time_ms, 0.001 + 4000e-6, 1e-12);  // the activation fit
  // After the activation the affine block has no linear layer to fold into.
  for (int i : {7, 8}) {
    EXPECT_FALSE((*c)[static_cast<std::size_t>(i)].fused) << i;
    EXPECT_NEAR((*c)[static_cast<std::size_t>(i)].time_ms, 0.002 + 8000e-6, 1e-12) << i;
  }
}

// A constant Mul and Add feeding only a 1x1 convolution fold into it; before a 3x3 one
// they stay.
TEST(LayerCosts, MirrorsAffineFoldingIntoTheNextPointwiseConvolution) {
  for (std::int64_t kernel : {1, 9}) {
    LayerGraph g;
    g.tensors = {{"x", 4000, -1, {0}, false},
                 {"m", 4000, 0, {1}, false},
                 {"a", 4000, 1, {2}, false},
                 {"y", 4000, 2, {}, true}};
    g.layers = {{"mul", "Mul", {0}, {1}, 0, 4000, 4000, 1},
                {"add", "Add", {1}, {2}, 0, 4000, 4000, 1},
                {"conv", "Conv", {2}, {3}, 100000, 4000, 4000, 1}};
    g.layers[2].kernel_size = kernel;
    const Expected<std::vector<LayerCost>> c = LayerCosts(g, Fits());
    ASSERT_TRUE(c.has_value()) << c.status().message();
    for (int i : {0, 1}) EXPECT_EQ((*c)[static_cast<std::size_t>(i)].fused, kernel == 1) << i;
    EXPECT_FALSE((*c)[2].fused);
  }
}

TEST(LayerCosts, NoFusionWhenTheProducerHasAnotherConsumer) {
  LayerGraph g = Block();
  g.tensors[1].consumers = {1, 3};  // the conv's output is read by the add too
  const Expected<std::vector<LayerCost>> c = LayerCosts(g, Fits());
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE((*c)[1].fused);
  EXPECT_NEAR((*c)[1].time_ms, 0.001 + 4000 * 2e-6, 1e-12);
  EXPECT_FALSE((*c)[2].fused);  // its producer, the bn, now runs on its own
  EXPECT_NEAR((*c)[2].time_ms, 0.001 + 4000e-6, 1e-12);
}

TEST(LayerCosts, UncalibratedTypesAreLabelledEstimates) {
  const Expected<std::vector<LayerCost>> c = LayerCosts(Block(), Fits());
  ASSERT_TRUE(c.has_value());
  const LayerCost& r = (*c)[5];
  EXPECT_EQ(r.fallback_class, "eltwise");
  EXPECT_NEAR(r.time_ms, 0.002 + 4000e-6 + 16000e-6, 1e-12);
  EXPECT_GT(r.time_ms, 0);
  EXPECT_TRUE((*c)[0].fallback_class.empty());
  // Without the eltwise fit there is nothing to estimate from: a clear error.
  DeviceProfile p = Fits();
  p.fits.erase("eltwise");
  const Expected<std::vector<LayerCost>> bad = LayerCosts(Block(), p);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("unknown layer type"), std::string::npos);
}

}  // namespace
}  // namespace deepedge::partition
