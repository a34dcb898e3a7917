#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "deepedge/partition.h"

namespace deepedge::partition {
namespace {

TEST(FitLatency, RecoversALinearLaw) {
  std::vector<Sample> s;
  for (int i = 1; i <= 8; ++i) {
    const std::int64_t macs = i * 1000000LL * (i % 3 + 1), in = i * 50000LL,
                       out = (i * i % 7 + 1) * 20000LL;
    s.push_back({macs, in, out, 0,
                 0.05 + 2e-8 * static_cast<double>(macs) + 1e-6 * static_cast<double>(in) +
                     3e-7 * static_cast<double>(out)});
  }
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value()) << f.status().message();
  EXPECT_EQ(f->form, "linear");
  EXPECT_LT(f->error, 1e-4);
  EXPECT_NEAR(f->Predict(5000000, 100000, 100000, 0), 0.05 + 0.1 + 0.1 + 0.03, 1e-4);
}

TEST(FitLatency, PrefersLogLogForAPowerLaw) {
  std::vector<Sample> s;
  for (int i = 0; i < 10; ++i) {
    const std::int64_t macs = 1000LL << (2 * i);
    s.push_back({macs, 4096, 4096, 0, 1e-4 * std::pow(static_cast<double>(macs), 0.7)});
  }
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->form, "loglog");
  EXPECT_LT(f->error, 0.01);
}

// Classifier layers (one row) have MACs = in x out, so that ln MACs = ln in + ln out:
// an unconstrained log-log fit traded one for the others (exponents -9.5, +10.5, +10.4
// on this project's VM) and predicted a 40-row MatMul at 1e16 ms.
TEST(FitLatency, NoFeatureLowersTheLatency) {
  const std::int64_t shapes[][2] = {{512, 1000},  {1024, 1000}, {256, 100},  {2048, 1000},
                                    {4096, 4096}, {9216, 4096}, {1280, 1000}};
  std::vector<Sample> s;
  int i = 0;
  for (const auto& io : shapes) {
    const std::int64_t macs = io[0] * io[1];
    const double noise = 1.0 + 0.08 * ((i++ % 3) - 1);  // +-8 %, as measured runs vary
    s.push_back({macs, io[0] * 4, io[1] * 4, macs * 4, 4e-7 * static_cast<double>(macs) * noise});
  }
  const Expected<LatencyFit> f = FitLatency(s);
  ASSERT_TRUE(f.has_value()) << f.status().message();
  for (std::size_t j = 1; j < f->coef.size(); ++j) EXPECT_GE(f->coef[j], 0) << j;
  const double forty_rows = f->Predict(40 * 120 * 360, 40 * 120 * 4, 40 * 360 * 4, 120 * 360 * 4);
  EXPECT_GT(forty_rows, 0);
  // ms: 25 here against 0.7 at the weights-bound rate, still an extrapolation (such
  // layers have the "matmul" class and fit), but not 1e16.
  EXPECT_LT(forty_rows, 100);
}

TEST(FitLatency, NeedsTwoSamples) {
  EXPECT_FALSE(FitLatency({{1, 1, 1, 1, 1.0}}).has_value());
  EXPECT_FALSE(FitLatency({{1, 1, 1, 1, 0.0}, {2, 2, 2, 2, 0.0}}).has_value());
}

DeviceProfile SampleProfile() {
  DeviceProfile p;
  p.device = "test-host";
  p.backend = "deepedge";
  p.threads = 2;
  p.model_name = "m";
  p.model_sha256 = std::string(64, 'a');
  p.model_total_ms = 3.5;
  p.layers.push_back({"conv1", "Conv", 2.0, 4096, 1000});
  p.layers.push_back({"relu1", "Relu", 0.5, 4096, 0});
  p.fits["conv"] = {"loglog", {1, 0.5, 0.1, 0.2}, 0.07, 9};
  p.fits["activation"] = {"linear", {0.01, 0, 1e-6, 1e-6}, 0.1, 5};
  return p;
}

TEST(DeviceProfileJson, RoundTrip) {
  const DeviceProfile p = SampleProfile();
  const Expected<DeviceProfile> q = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(q.has_value()) << q.status().message();
  EXPECT_EQ(q->device, "test-host");
  EXPECT_EQ(q->model_sha256, p.model_sha256);
  EXPECT_DOUBLE_EQ(q->model_total_ms, 3.5);
  ASSERT_EQ(q->layers.size(), 2u);
  EXPECT_EQ(q->layers[1].name, "relu1");
  EXPECT_DOUBLE_EQ(q->layers[0].time_ms, 2.0);
  EXPECT_EQ(q->layers[0].macs, 1000);
  ASSERT_EQ(q->fits.size(), 2u);
  EXPECT_EQ(q->fits.at("conv").form, "loglog");
  EXPECT_DOUBLE_EQ(q->fits.at("conv").coef[1], 0.5);
  EXPECT_TRUE(q->power.estimated);
  EXPECT_TRUE(q->warm_ratios.empty());
  EXPECT_EQ(q->l2_cache_bytes, 0);
}

// Whether a profile with one fc fit and `case_json` as the one case of `key` parses.
bool ParsesWithCase(const char* key, const std::string& case_json) {
  return ParseDeviceProfile(R"({"schema":"deepedge.device_profile","fits":{"fc":)"
                            R"({"form":"linear","coef":[1,2,3,4,5]}},")" +
                                std::string(key) + R"(":{"fc":[)" + case_json + "]}}",
                            "a.json")
      .has_value();
}

TEST(DeviceProfileJson, WarmRatiosAndCachesRoundTrip) {
  DeviceProfile p = SampleProfile();
  p.warm_ratios["activation"] = 0.4;
  p.l2_cache_bytes = 512 * 1024;
  p.last_level_cache_bytes = 32 << 20;
  const Expected<DeviceProfile> q = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(q.has_value()) << q.status().message();
  ASSERT_EQ(q->warm_ratios.size(), 1u);
  EXPECT_DOUBLE_EQ(q->warm_ratios.at("activation"), 0.4);
  EXPECT_EQ(q->l2_cache_bytes, 512 * 1024);
  EXPECT_EQ(q->last_level_cache_bytes, 32 << 20);
  EXPECT_TRUE(q->warm_cases.empty());
  p.warm_cases["fc"] = {{196608, 6144, 512, 786432, 0.45}, {128, 512, 4, 512, 0.3}};
  const Expected<DeviceProfile> r = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(r.has_value()) << r.status().message();
  ASSERT_EQ(r->warm_cases.at("fc").size(), 2u);
  const Sample& c = r->warm_cases.at("fc")[0];
  EXPECT_EQ(c.macs, 196608);
  EXPECT_EQ(c.input_bytes, 6144);
  EXPECT_EQ(c.output_bytes, 512);
  EXPECT_EQ(c.weight_bytes, 786432);
  EXPECT_DOUBLE_EQ(c.time_ms, 0.45);
  for (const char* bad :
       {R"({"macs":1,"input_bytes":1,"output_bytes":1,"weight_bytes":1,"ratio":1.5})",
        R"({"macs":1,"input_bytes":1,"output_bytes":1,"ratio":0.5})",
        R"({"macs":1,"input_bytes":-4,"output_bytes":1,"weight_bytes":1,"ratio":0.5})"}) {
    EXPECT_FALSE(ParsesWithCase("warm_cases", bad)) << bad;
  }
  const std::string fit = R"("fits":{"conv":{"form":"linear","coef":[1,2,3,4]}})";
  EXPECT_FALSE(ParseDeviceProfile(R"({"schema":"deepedge.device_profile","device":)"
                                  R"({"l2_cache_bytes":-1},)" +
                                      fit + "}",
                                  "a.json")
                   .has_value());
  for (const char* bad : {"0", "1.5", "\"x\""}) {
    EXPECT_FALSE(ParseDeviceProfile(R"({"schema":"deepedge.device_profile",)" + fit +
                                        R"(,"warm_ratios":{"conv":)" + bad + "}}",
                                    "a.json")
                     .has_value())
        << bad;
  }
}

TEST(DeviceProfileJson, ReferenceCasesRoundTrip) {
  DeviceProfile p = SampleProfile();
  p.reference_cases = {{"conv 32->64 3x3 s1 56x56", 0.25}, {"fc 1024->1000", 0.07}};
  const Expected<DeviceProfile> q = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(q.has_value()) << q.status().message();
  EXPECT_EQ(q->reference_cases, p.reference_cases);
  EXPECT_DOUBLE_EQ(ScaleProfile(p, 5).reference_cases.at("fc 1024->1000"), 0.07 / 5);
  const std::string fit = R"("fits":{"conv":{"form":"linear","coef":[1,2,3,4]}})";
  for (const char* bad : {"0", "-1", "\"x\"", "null"}) {
    const Expected<DeviceProfile> r =
        ParseDeviceProfile(R"({"schema":"deepedge.device_profile",)" + fit +
                               R"(,"reference_cases":{"add 64x112x112":)" + bad + "}}",
                           "a.json");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.status().message().find("reference case 'add 64x112x112'"), std::string::npos)
        << r.status().message();
  }
}

TEST(DeviceProfileJson, Errors) {
  EXPECT_EQ(ParseDeviceProfile("{", "a.json").status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(ParseDeviceProfile(R"({"schema":"other"})", "a.json").has_value());
  EXPECT_FALSE(ParseDeviceProfile(R"({"schema":"deepedge.device_profile"})", "a.json").has_value());
  EXPECT_FALSE(
      ParseDeviceProfile(
          R"({"schema":"deepedge.device_profile","fits":{"conv":{"form":"cubic","coef":[1,2,3,4]}}})",
          "a.json")
          .has_value());
  EXPECT_FALSE(
      ParseDeviceProfile(
          R"({"schema":"deepedge.device_profile","layers":[{"name":"a","time_ms":-1}]})", "a.json")
          .has_value());
}

// Profiles written before weights were a feature have 4 coefficients: read with a zero
// weights coefficient. Other counts are malformed.
TEST(DeviceProfileJson, FitsWithoutTheWeightsTerm) {
  const auto with = [](const std::string& coef) {
    return ParseDeviceProfile(
        R"({"schema":"deepedge.device_profile","fits":{"conv":{"form":"linear","coef":)" + coef +
            "}}}",
        "a.json");
  };
  const Expected<DeviceProfile> old = with("[1,2,3,4]");
  ASSERT_TRUE(old.has_value()) << old.status().message();
  EXPECT_EQ(old->fits.at("conv").coef, (std::vector<double>{1, 2, 3, 4, 0}));
  EXPECT_TRUE(with("[1,2,3,4,5]").has_value());
  EXPECT_FALSE(with("[1,2,3]").has_value());
  EXPECT_FALSE(with("[1,2,3,4,5,6]").has_value());
}

TEST(ScaleProfile, DividesEveryTime) {
  DeviceProfile p = SampleProfile();
  p.cold_cases["conv"] = {{1000, 100, 4096, 1000, 0.2}};
  const DeviceProfile s = ScaleProfile(p, 8);
  EXPECT_DOUBLE_EQ(s.layers[0].time_ms, 0.25);
  EXPECT_DOUBLE_EQ(s.model_total_ms, 3.5 / 8);
  EXPECT_DOUBLE_EQ(s.cold_cases.at("conv")[0].time_ms, 0.2 / 8);
  for (const char* cls : {"conv", "activation"}) {
    EXPECT_NEAR(s.fits.at(cls).Predict(1000, 2000, 3000, 4000),
                p.fits.at(cls).Predict(1000, 2000, 3000, 4000) / 8, 1e-12);
  }
}

LayerGraph TwoLayers() {
  LayerGraph g;
  g.sha256 = std::string(64, 'a');
  g.tensors = {{"x", 100, -1, {0}, false}, {"c", 4096, 0, {1}, false}, {"r", 4096, 1, {}, true}};
  Layer conv{"conv1", "Conv", {0}, {1}, 1000, 100, 4096};
  Layer relu{"relu1", "Relu", {1}, {2}, 0, 4096, 4096};
  g.layers = {conv, relu};
  return g;
}

TEST(LayerCosts, MeasuredPredictedAndMismatches) {
  LayerGraph g = TwoLayers();
  DeviceProfile p = SampleProfile();
  Expected<std::vector<LayerCost>> m = LayerCosts(g, p);
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ((*m)[0].time_ms, 2.0);
  EXPECT_TRUE((*m)[1].measured);
  g.sha256 = std::string(64, 'b');
  const Expected<std::vector<LayerCost>> bad = LayerCosts(g, p);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("another model"), std::string::npos);
  p.layers.clear();
  const Expected<std::vector<LayerCost>> pred = LayerCosts(g, p);
  ASSERT_TRUE(pred.has_value());
  EXPECT_NEAR((*pred)[0].time_ms, p.fits.at("conv").Predict(1000, 100, 4096, 0), 1e-12);
  EXPECT_FALSE((*pred)[0].measured);
  g.layers[1].type = "Einsum";
  const Expected<std::vector<LayerCost>> unk = LayerCosts(g, p);
  ASSERT_FALSE(unk.has_value());
  EXPECT_NE(unk.status().message().find("unknown layer type Einsum"), std::string::npos);
}

// A fit corrected by the residual of the nearest calibration case of its class: fully at
// the case itself, by half with every feature a factor 2 away, hardly from far away.
TEST(LayerCosts, FitsAreCorrectedByTheNearestCalibrationCase) {
  LayerGraph g = TwoLayers();
  g.layers[0].weight_bytes = 1000;  // the conv: 1000 MACs, 100 + 4096 bytes, 1000 of weights
  DeviceProfile p = SampleProfile();
  p.layers.clear();
  p.fits["conv"] = {"linear", {0.1, 0, 0, 0}, 0, 5};
  auto conv_ms = [&] {
    Expected<std::vector<LayerCost>> c = LayerCosts(g, p);
    EXPECT_TRUE(c.has_value()) << c.status().message();
    return c ? (*c)[0].time_ms : -1.0;
  };
  EXPECT_DOUBLE_EQ(conv_ms(), 0.1);  // no cases
  p.cold_cases["conv"] = {{1000, 100, 4096, 1000, 0.2}, {10, 10, 10, 10, 0.05}};
  EXPECT_NEAR(conv_ms(), 0.2, 1e-12);  // the layer is a case
  p.cold_cases["conv"] = {{2000, 200, 8192, 2000, 0.2}};
  EXPECT_NEAR(conv_ms(), 0.1 * std::sqrt(2.0), 0.002);
  p.cold_cases["conv"] = {{1000000, 100000, 4096000, 1000000, 0.2}};
  EXPECT_NEAR(conv_ms(), 0.1, 1e-6);
  // Another class's cases do not apply.
  p.cold_cases.clear();
  p.cold_cases["fc"] = {{1000, 100, 4096, 1000, 0.2}};
  EXPECT_DOUBLE_EQ(conv_ms(), 0.1);
  const Expected<DeviceProfile> q = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(q.has_value()) << q.status().message();
  ASSERT_EQ(q->cold_cases.at("fc").size(), 1u);
  EXPECT_EQ(q->cold_cases.at("fc")[0].output_bytes, 4096);
  EXPECT_DOUBLE_EQ(q->cold_cases.at("fc")[0].time_ms, 0.2);
  for (const char* bad :
       {R"({"macs":1,"input_bytes":1,"output_bytes":1,"weight_bytes":1,"time_ms":0})",
        R"({"macs":1,"input_bytes":1,"output_bytes":1,"weight_bytes":1})",
        R"({"macs":-1,"input_bytes":1,"output_bytes":1,"weight_bytes":1,"time_ms":1})"}) {
    EXPECT_FALSE(ParsesWithCase("cold_cases", bad)) << bad;
  }
}

// The warm ratio only for a layer whose input and output fit L2 together and whose
// weights fit twice L2; the cold time otherwise, without cache sizes or without a ratio.
TEST(LayerCosts, WarmRatioForLayersWhoseDataFitTheCaches) {
  LayerGraph g = TwoLayers();
  g.layers[0].weight_bytes = 1000;
  DeviceProfile p = SampleProfile();
  p.layers.clear();
  p.fits["conv"] = {"linear", {0.1, 0, 0, 0}, 0, 5};
  p.warm_ratios["conv"] = 0.4;
  auto conv = [&](const DeviceProfile& d) {
    Expected<std::vector<LayerCost>> c = LayerCosts(g, d);
    EXPECT_TRUE(c.has_value()) << c.status().message();
    return c ? (*c)[0] : LayerCost{};
  };
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.1);  // cache sizes unknown
  p.l2_cache_bytes = 8192;
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.04);  // 100 + 4096 bytes in, 1000 of weights
  EXPECT_TRUE(conv(p).warm);
  p.l2_cache_bytes = 4096;
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.1);  // input and output over L2
  EXPECT_FALSE(conv(p).warm);
  p.l2_cache_bytes = 8192;
  g.layers[0].weight_bytes = 2 * 8192 + 1;
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.1);  // weights over twice L2
  g.layers[0].weight_bytes = 1000;
  p.warm_ratios.clear();
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.1);  // no ratio for the class
  // Warm cases: the ratio of the one nearest the layer (MACs 1000, 100 + 4096 bytes,
  // 1000 of weights), not the class median.
  p.warm_ratios["conv"] = 0.4;
  p.warm_cases["conv"] = {
      {1000000, 100000, 100000, 100000, 0.9}, {900, 150, 5000, 800, 0.25}, {10, 10, 10, 10, 0.5}};
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.025);
  EXPECT_TRUE(conv(p).warm);
  p.warm_cases["conv"].clear();
  EXPECT_DOUBLE_EQ(conv(p).time_ms, 0.04);  // no cases: the median
  EXPECT_TRUE(RunsFromCaches(8192, 2 * 8192, 8192));
  EXPECT_FALSE(RunsFromCaches(8193, 0, 8192));
  EXPECT_FALSE(RunsFromCaches(0, 0, 0));
}

// In-model ratios scale predicted layers by their fit's class; fused and measured layers
// keep their times.
TEST(LayerCosts, InModelRatioScalesPredictedLayers) {
  const LayerGraph g = TwoLayers();
  DeviceProfile p = SampleProfile();
  p.layers.clear();
  p.fits["conv"] = {"linear", {0.1, 0, 0, 0}, 0, 5};
  p.in_model_ratios = {{"conv", 1.3}, {"activation", 5.0}};
  Expected<std::vector<LayerCost>> c = LayerCosts(g, p);
  ASSERT_TRUE(c.has_value()) << c.status().message();
  EXPECT_DOUBLE_EQ((*c)[0].time_ms, 0.13);
  EXPECT_TRUE((*c)[0].in_model);
  EXPECT_EQ((*c)[0].fit_class, "conv");
  EXPECT_TRUE((*c)[1].fused);  // the Relu, folded into the convolution
  EXPECT_DOUBLE_EQ((*c)[1].time_ms, 0);
  EXPECT_FALSE((*c)[1].in_model);
  EXPECT_EQ((*c)[1].fit_class, "");
  p.in_model_ratios.clear();
  c = LayerCosts(g, p);
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ((*c)[0].time_ms, 0.1);
  EXPECT_FALSE((*c)[0].in_model);
  DeviceProfile measured = SampleProfile();
  measured.in_model_ratios["conv"] = 1.3;
  c = LayerCosts(g, measured);
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ((*c)[0].time_ms, 2.0);
  EXPECT_FALSE((*c)[0].in_model);
}

TEST(InModelRatios, SumsByFitClassSkipsSmallClassesAndClamps) {
  std::vector<LayerCost> pred(6);
  const char* classes[] = {"conv1x1", "conv1x1", "", "fc", "depthwise", "pool"};
  const double predicted[] = {0.1, 0.2, 0, 0.01, 0.1, 0.4};
  for (std::size_t i = 0; i < pred.size(); ++i) {
    pred[i].fit_class = classes[i];
    pred[i].time_ms = predicted[i];
  }
  pred[2].fused = true;
  std::map<std::string, ClassTimes> sums;
  AddClassTimes(pred, {0.15, 0.25, 0.3, 0.05, 0.9, 0.1}, sums);
  ASSERT_EQ(sums.size(), 4u);  // not the fused layer
  EXPECT_EQ(sums["conv1x1"].layers, 2);
  EXPECT_DOUBLE_EQ(sums["conv1x1"].predicted_ms, 0.3);
  EXPECT_DOUBLE_EQ(sums["conv1x1"].measured_ms, 0.4);
  // A second network adds to the sums; a layer without a measurement (< 0) is left out.
  AddClassTimes(pred, {-1, 0.2, 0, 0, 0.1, 0.3}, sums);
  EXPECT_EQ(sums["conv1x1"].layers, 3);
  EXPECT_DOUBLE_EQ(sums["conv1x1"].predicted_ms, 0.5);
  EXPECT_DOUBLE_EQ(sums["conv1x1"].measured_ms, 0.6);
  const std::map<std::string, double> r = InModelRatios(sums);
  EXPECT_DOUBLE_EQ(r.at("conv1x1"), 0.6 / 0.5);
  EXPECT_FALSE(r.count("fc"));               // 0.02 ms predicted in all: too small
  EXPECT_DOUBLE_EQ(r.at("depthwise"), 2.0);  // 1.0 / 0.2, clamped
  EXPECT_DOUBLE_EQ(r.at("pool"), 0.5);       // 0.4 / 0.8, at the lower bound
}

TEST(DeviceProfileJson, InModelRatiosRoundTrip) {
  DeviceProfile p = SampleProfile();
  p.in_model_ratios = {{"depthwise", 1.4}, {"conv1x1", 1.2}};
  const Expected<DeviceProfile> q = ParseDeviceProfile(DeviceProfileToJson(p), "x.json");
  ASSERT_TRUE(q.has_value()) << q.status().message();
  EXPECT_EQ(q->in_model_ratios, p.in_model_ratios);
  EXPECT_EQ(ScaleProfile(p, 3).in_model_ratios, p.in_model_ratios);  // ratios: no unit
  const std::string fit = R"("fits":{"conv":{"form":"linear","coef":[1,2,3,4]}})";
  for (const char* bad : {"0", "-1", "\"x\"", "null"}) {
    const Expected<DeviceProfile> r =
        ParseDeviceProfile(R"({"schema":"deepedge.device_profile",)" + fit +
                               R"(,"in_model_ratios":{"stem":)" + bad + "}}",
                           "a.json");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.status().message().find("in-model ratio 'stem'"), std::string::npos)
        << r.status().message();
  }
}

TEST(ReadPlanEdgeSet, ChecksTheModel) {
  const LayerGraph g = TwoLayers();
  const std::string sha(64, 'a');
  auto ok =
      ReadPlanEdgeSet(R"({"schema":"deepedge.partition_plan","layers":2,"model":{"sha256":")" +
                          sha + R"("},"edge_layers":["conv1"]})",
                      g);
  ASSERT_TRUE(ok.has_value()) << ok.status().message();
  EXPECT_EQ(*ok, (std::vector<bool>{true, false}));
  EXPECT_FALSE(ReadPlanEdgeSet(R"({"schema":"deepedge.partition_plan","edge_layers":["nope"]})", g)
                   .has_value());
  EXPECT_FALSE(ReadPlanEdgeSet(R"({"schema":"deepedge.partition_plan","edge_layers":["relu1"]})", g)
                   .has_value());
  EXPECT_FALSE(
      ReadPlanEdgeSet(
          R"({"schema":"deepedge.partition_plan","model":{"sha256":"ff"},"edge_layers":[]})", g)
          .has_value());
  EXPECT_FALSE(
      ReadPlanEdgeSet(R"({"schema":"deepedge.partition_plan","layers":5,"edge_layers":[]})", g)
          .has_value());
  EXPECT_FALSE(ReadPlanEdgeSet("[]", g).has_value());
}

}  // namespace
}  // namespace deepedge::partition
