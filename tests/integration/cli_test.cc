// Integration tests: the real `deepedge` binary, run as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Result = testing::CliResult;

class CliTest : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  std::string Zoo(const std::string& name) {
    return testing::ZooModelViaCli(DEEPEDGE_BINARY, dir_.path(), name);
  }
  // Bad input: exit status 2, one line naming the problem, no crash, no output file.
  void ExpectBadInput(const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    const auto json = dir_ / "must-not-exist.json";
    const bool bench = args.rfind("bench", 0) == 0;
    Result r = Run(bench ? args + " --json " + json.string() : args);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepedge: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(json));
  }
  testing::TempDir dir_;
  const std::string quick_ =
      " --min-queries 5 --min-duration 0.2 --warmup-queries 1 --warmup-duration 0";
};

TEST_F(CliTest, HelpAndBackends) {
  Result help = Run("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("bench"), std::string::npos);
  Result bench_help = Run("bench --help");
  EXPECT_EQ(bench_help.exit_code, 0);
  EXPECT_NE(bench_help.out.find("--scenario"), std::string::npos);
  Result b = Run("backends");
  EXPECT_EQ(b.exit_code, 0);
  EXPECT_NE(b.out.find("opencv 4.6"), std::string::npos);
  EXPECT_NE(b.out.find("null 1: available"), std::string::npos);
}

TEST_F(CliTest, ZooListExportAndInfo) {
  Result list = Run("zoo list");
  EXPECT_EQ(list.exit_code, 0);
  for (const char* name : {"mobilenet_v1_1.0_224", "mobilenet_v1_0.25_224", "mobilenet_v2_1.0_224",
                           "squeezenet1.1", "resnet18", "alexnet_caffenet"}) {
    EXPECT_NE(list.out.find(name), std::string::npos) << name;
  }
  EXPECT_NE(list.out.find("synthetic"), std::string::npos);
  Result info = Run("info " + Zoo("mobilenet_v1_0.25_224"));
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("SYNTHETIC"), std::string::npos);
  EXPECT_NE(info.out.find("MACs:       41"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("input"), std::string::npos);
  EXPECT_NE(info.out.find("Conv"), std::string::npos);
}

TEST_F(CliTest, BenchWritesSchemaValidJsonAndCsv) {
  const auto json = dir_ / "r.json", csv = dir_ / "r.csv";
  Result r = Run("bench " + Zoo("mobilenet_v1_0.25_224") + " --backend opencv --profile-layers" +
                 quick_ + " --json " + json.string() + " --csv " + csv.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"p50", "p99", "queries/s", "peak RSS", "MiB", "ESTIMATED", "mJ",
                        "SYNTHETIC", "VALID", "the slowest", "Convolution"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  const std::string cmd = "/usr/bin/python3 '" DEEPEDGE_SOURCE_DIR
                          "/tests/integration/validate_json.py' '" DEEPEDGE_SOURCE_DIR
                          "/docs/schema/bench.schema.json' '" +
                          json.string() + "'";
  const int status = std::system(cmd.c_str());
  if (WEXITSTATUS(status) == 77)
    GTEST_SKIP() << "python3-jsonschema is not installed (scripts/setup.sh installs it)";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "JSON does not validate against docs/schema/bench.schema.json";
  const std::string text = ReadFileText(json).value();
  EXPECT_NE(text.find("\"synthetic_weights\": true"), std::string::npos);
  EXPECT_NE(text.find("\"provenance\": \"estimated\""), std::string::npos);
  EXPECT_NE(text.find("\"layer_profile\": ["), std::string::npos);
  std::ifstream in(csv);
  std::string header, row, extra;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_NE(header.find("latency_p99_ms"), std::string::npos);
  EXPECT_FALSE(row.empty());
  EXPECT_FALSE(std::getline(in, extra));
}

TEST_F(CliTest, MainJobComparesEveryBackend) {
  Result r = Run("bench" + quick_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("comparison (mobilenet_v1_1.0_224)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("opencv"), std::string::npos);
  EXPECT_NE(r.out.find("null"), std::string::npos);
  EXPECT_NE(r.err.find("SYNTHETIC"), std::string::npos);
}

TEST_F(CliTest, OfflineScenarioAndInputFiles) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  Result offline = Run("bench " + model + " --scenario offline --batch 4" + quick_);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_NE(offline.out.find("scenario offline, batch 4"), std::string::npos);

  Tensor t = Tensor::Allocate(DType::kF32, Shape{1, 3, 224, 224}).value();
  const auto npy = dir_ / "image.npy";
  ASSERT_TRUE(WriteFileAtomic(npy, EncodeNpy(t)).ok());
  Result from_file = Run("bench " + model + " --input input=" + npy.string() + quick_);
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_NE(from_file.out.find("image.npy"), std::string::npos);
}

TEST_F(CliTest, ResultFlaggedInvalidWhenStoppedEarly) {
  Result r = Run("bench " + Zoo("mobilenet_v1_0.25_224") +
                 " --min-queries 1000 --max-duration 0.3 --min-duration 0.2 --warmup-queries 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("INVALID"), std::string::npos);
  EXPECT_NE(r.out.find("too few queries"), std::string::npos);
}

TEST_F(CliTest, BadInputsGiveOneLineAndExitTwo) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  ExpectBadInput("bench " + (dir_ / "missing.onnx").string(), "missing.onnx: no such file");

  std::vector<std::uint8_t> bytes = ReadFileBytes(model).value();
  bytes.resize(bytes.size() / 3);
  const auto truncated = dir_ / "truncated.onnx";
  ASSERT_TRUE(WriteFileAtomic(truncated, bytes).ok());
  ExpectBadInput("bench " + truncated.string(), "truncated.onnx");

  const auto garbage = dir_ / "garbage.onnx";
  ASSERT_TRUE(
      WriteFileAtomic(garbage, std::string_view("this is not a protobuf at all\xff\xff")).ok());
  ExpectBadInput("bench " + garbage.string(), "garbage.onnx");

  const auto empty = dir_ / "empty.onnx";
  ASSERT_TRUE(WriteFileAtomic(empty, std::string_view("")).ok());
  ExpectBadInput("bench " + empty.string(), "empty.onnx: file is empty");

  const auto text = dir_ / "model.txt";
  ASSERT_TRUE(WriteFileAtomic(text, std::string_view("hello")).ok());
  ExpectBadInput("bench " + text.string(), "unknown model format");

  ExpectBadInput("bench " + model + " --backend tensorrt", "unknown backend 'tensorrt'");
  ExpectBadInput("bench " + model + " --backend opencv -O colour=red", "no option 'colour'");
  ExpectBadInput("bench " + model + " --backend opencv -O target=tpu", "does not take 'tpu'");
  ExpectBadInput("bench " + model + " --frobnicate", "frobnicate");
  ExpectBadInput("bench " + model + " --scenario server", "server");

  const auto wrong_size = dir_ / "wrong.bin";
  ASSERT_TRUE(WriteFileAtomic(wrong_size, std::string_view("0123456789")).ok());
  ExpectBadInput("bench " + model + " --input " + wrong_size.string() + quick_,
                 "wrong.bin: is 10 bytes but input 'input' (f32 1x3x224x224) needs 602112");
  ExpectBadInput("bench " + model + " --input " + (dir_ / "nope.npy").string(),
                 "nope.npy: no such file");
  ExpectBadInput("info " + garbage.string(), "garbage.onnx");

  // A Caffe prototxt cut off mid-layer: protobuf's own parse log must not add a line.
  const auto prototxt = dir_ / "cut.prototxt";
  ASSERT_TRUE(
      WriteFileAtomic(prototxt, std::string_view("name: \"x\"\ninput: \"data\"\ninput_dim: 1\n"
                                                 "layer { name: \"c\" type: \"Convolution\"\n"))
          .ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "cut.caffemodel", std::string_view("xx")).ok());
  ExpectBadInput("bench " + prototxt.string(), "cut.prototxt");
  ExpectBadInput("bench " + (dir_ / "lonely.cfg").string(), "lonely.cfg");
  ExpectBadInput("zoo export lenet -o " + (dir_ / "x.onnx").string(), "lenet");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.onnx"));
}

TEST_F(CliTest, FailedRunLeavesPreviousOutputUntouched) {
  const auto json = dir_ / "keep.json";
  ASSERT_TRUE(WriteFileAtomic(json, std::string_view("previous")).ok());
  Result r = Run("bench " + (dir_ / "missing.onnx").string() + " --json " + json.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(ReadFileText(json).value(), "previous");
}

// The engine against OpenCV DNN on every zoo model: the same inputs, outputs within
// 1e-4 relative (or 1e-6 absolute: softmax outputs are small).
TEST_F(CliTest, EngineAgreesWithOpenCvOnTheZoo) {
  for (const char* name : {"mobilenet_v1_0.25_224", "mobilenet_v1_1.0_224", "mobilenet_v2_1.0_224",
                           "squeezenet1.1", "resnet18", "alexnet_caffenet"}) {
    SCOPED_TRACE(name);
    const std::string model = Zoo(name);
    const auto a = dir_ / (std::string(name) + "-deepedge"),
               b = dir_ / (std::string(name) + "-opencv");
    Result ra = Run("infer " + model + " -b deepedge -o " + a.string());
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    Result rb = Run("infer " + model + " -b opencv -o " + b.string());
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    Tensor x = ReadNpy(a / "output.npy").value();
    Tensor y = ReadNpy(b / "output.npy").value();
    ASSERT_EQ(x.shape(), y.shape());
    double worst = 0;
    for (std::size_t i = 0; i < x.as<float>().size(); ++i) {
      const double d = std::fabs(x.as<float>()[i] - y.as<float>()[i]);
      worst = std::max(worst, d - 1e-4 * std::fabs(y.as<float>()[i]));
    }
    EXPECT_LE(worst, 1e-6);
    std::remove(model.c_str());  // AlexNet alone is 244 MB
  }
}

TEST_F(CliTest, InferWritesEveryOutputAndProfileListsLayers) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  const auto out = dir_ / "out";
  Result infer = Run("infer " + model + " -b deepedge -i zeros -o " + out.string());
  ASSERT_EQ(infer.exit_code, 0) << infer.err;
  Tensor y = ReadNpy(out / "output.npy").value();
  EXPECT_EQ(y.shape(), (Shape{1, 1000}));
  double sum = 0;
  for (float v : y.as<float>()) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-4);  // a softmax

  const auto json = dir_ / "profile.json";
  Result prof = Run("profile " + model + " -b deepedge --runs 3 --json " + json.string());
  ASSERT_EQ(prof.exit_code, 0) << prof.err;
  EXPECT_NE(prof.out.find("total:"), std::string::npos);
  EXPECT_NE(prof.out.find("MACs"), std::string::npos);
  const std::string text = ReadFileText(json).value();
  EXPECT_NE(text.find("\"schema\": \"deepedge.profile\""), std::string::npos);
  EXPECT_NE(text.find("\"macs\""), std::string::npos);
}

TEST_F(CliTest, EngineBadInputs) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  ExpectBadInput(
      "infer " + model + " -b deepedge --input-shape input=1x3x200x200 -o " + (dir_ / "o").string(),
      "input 'input' must have shape ?x3x224x224, got 1x3x200x200");
  std::vector<std::uint8_t> bytes = ReadFileBytes(model).value();
  bytes.resize(bytes.size() / 2);
  const auto truncated = dir_ / "half.onnx";
  ASSERT_TRUE(WriteFileAtomic(truncated, bytes).ok());
  ExpectBadInput("infer " + truncated.string() + " -b deepedge -o " + (dir_ / "o").string(),
                 "half.onnx");
  // An operator the engine does not implement, from ONNX's own test suite.
  const std::string tfidf =
      "/usr/include/onnx/backend/test/data/node/test_tfidfvectorizer_tf_only_bigrams_skip0/"
      "model.onnx";
  if (std::filesystem::exists(tfidf)) {
    ExpectBadInput("infer " + tfidf + " -b deepedge -o " + (dir_ / "o").string(),
                   "unsupported operator TfIdfVectorizer (domain ai.onnx, opset 9) at node");
  }
}

}  // namespace
}  // namespace deepedge
