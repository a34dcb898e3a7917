// Integration tests: `deepedge eval`, the real binary, on the real Fashion-MNIST test
// set (Debian's dataset-fashion-mnist) and the classifier trained here.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "deepedge/file_util.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Result = testing::CliResult;

const std::string kData = "/usr/share/datasets/fashion-mnist";
const std::string kModel = std::string(DEEPEDGE_SOURCE_DIR) + "/models/fashion_mnist_cnn.onnx";
const std::string kCard = std::string(DEEPEDGE_SOURCE_DIR) + "/models/fashion_mnist_cnn.yaml";

bool HaveFashionMnist() {
  return std::filesystem::exists(kData + "/t10k-images-idx3-ubyte.gz") &&
         std::filesystem::exists(kData + "/train-images-idx3-ubyte.gz");
}

#define SKIP_WITHOUT_FASHION_MNIST()                                               \
  do {                                                                             \
    if (!HaveFashionMnist()) {                                                     \
      GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed (" << kData \
                   << "): apt-get install dataset-fashion-mnist";                  \
    }                                                                              \
  } while (0)

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

class EvalCliTest : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  // Bad input: exit status 2 and one line "deepedge: error: ..." naming the problem.
  void ExpectBadInput(const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    const Result r = Run(args);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepedge: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  // Top-1 of a run's --json record, after checking the record.
  double Top1(const std::filesystem::path& json_file, std::int64_t samples) {
    const nlohmann::json doc = nlohmann::json::parse(ReadFileText(json_file).value());
    EXPECT_EQ(doc["schema"], "deepedge.bench");
    const nlohmann::json& acc = doc["records"][0]["accuracy"];
    EXPECT_EQ(acc["name"], "top1");
    EXPECT_EQ(acc["samples"], samples);
    EXPECT_EQ(acc["bad_samples"], 0);
    EXPECT_LE(acc["ci_low"].get<double>(), acc["value"].get<double>());
    EXPECT_GE(acc["ci_high"].get<double>(), acc["value"].get<double>());
    EXPECT_EQ(acc["other_metrics"][0]["name"], "top5");
    // The record validates against the published schema (skipped without jsonschema).
    const std::string cmd = "python3 '" + std::string(DEEPEDGE_SOURCE_DIR) +
                            "/tests/integration/validate_json.py' '" + DEEPEDGE_SOURCE_DIR +
                            "/docs/schema/bench.schema.json' '" + json_file.string() + "'";
    const int status = std::system(cmd.c_str());
    if (WEXITSTATUS(status) != 77) {
      EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
    }
    return acc["value"].get<double>();
  }
  testing::TempDir dir_;
};

// The bar: the float classifier at least 90 % top-1 on the 10,000 test images.
TEST_F(EvalCliTest, FloatClassifierOnTheFullTestSet) {
  SKIP_WITHOUT_FASHION_MNIST();
  const auto json = dir_ / "float.json", pred = dir_ / "float.tsv";
  const Result r = Run("eval " + kModel + " -t 1 --data " + kData + " --json " + json.string() +
                       " --predictions " + pred.string() + " --end-to-end");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("samples 10000 evaluated, 0 bad"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("95% Wilson interval"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("preprocessing"), std::string::npos) << r.out;
  const double top1 = Top1(json, 10000);
  EXPECT_GE(top1, 0.90);
  std::printf("float top-1 %.4f\n", top1);
  EXPECT_EQ(Lines(ReadFileText(pred).value()), 10001);  // header + one per sample
}

// int8 from `deepedge quantize`, calibrated on 100 real training images prepared by
// the card (eval --save-inputs), within 1 point of float on the same 10,000 images.
TEST_F(EvalCliTest, Int8WithinOnePointOfFloat) {
  SKIP_WITHOUT_FASHION_MNIST();
  const auto calib = dir_ / "calib", q = dir_ / "fmnist_int8.onnx";
  Result r = Run("eval " + kModel + " -t 1 --data " + kData +
                 " --split train --limit 100 --save-inputs " + calib.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(calib)) files += e.is_regular_file();
  EXPECT_EQ(files, 100);
  r = Run("quantize " + kModel + " -t 1 -o " + q.string() + " --calibration " + calib.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto fj = dir_ / "float.json", qj = dir_ / "int8.json";
  r = Run("eval " + kModel + " -t 1 --data " + kData + " --json " + fj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("eval " + q.string() + " -t 1 --card " + kCard + " --data " + kData + " --json " +
          qj.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double f = Top1(fj, 10000), i8 = Top1(qj, 10000);
  std::printf("float top-1 %.4f, int8 top-1 %.4f\n", f, i8);
  EXPECT_GE(i8, f - 0.01);
}

TEST_F(EvalCliTest, CardContradictingTheModel) {
  SKIP_WITHOUT_FASHION_MNIST();
  // A card with only the first 5 labels: samples of classes 5-9 are bad.
  std::string card = ReadFileText(kCard).value();
  const auto at = card.find("  - Sandal");
  ASSERT_NE(at, std::string::npos);
  card.erase(at, card.find("postprocessing:") - at);
  const auto card_file = dir_.Write("five.yaml", card);
  // The model has 10 classes: the card is wrong, not the data.
  ExpectBadInput("eval " + kModel + " --card " + card_file.string() + " --data " + kData,
                 "five.yaml: field 'labels'");
}

TEST_F(EvalCliTest, BadSamplesCountedWithKeepGoing) {
  SKIP_WITHOUT_FASHION_MNIST();
  // IDX files whose labels file holds one label fewer than the images: the last image
  // is a bad sample ("image without label"), and label 10 is outside the card's set.
  std::filesystem::copy_file(kData + "/t10k-images-idx3-ubyte.gz",
                             dir_ / "few-images-idx3-ubyte.gz");
  std::string labels =
      std::string("\0\0\x08\x01", 4) + std::string("\0\0\0\x03", 4) + "\x09\x0a\x02";
  dir_.Write("few-labels-idx1-ubyte", labels);
  const auto pred = dir_ / "p.tsv";
  const std::string args = "eval " + kModel + " --data " +
                           (dir_ / "few-images-idx3-ubyte.gz").string() +
                           " --limit 4 --predictions " + pred.string();
  ExpectBadInput(args, "sample 1: label 10 is outside the card's label set");
  const Result r = Run(args + " --keep-going");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("samples 2 evaluated, 2 bad, of 4 considered"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("deepedge: bad sample: sample 1: label 10"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("deepedge: bad sample: sample 3: image without label"), std::string::npos)
      << r.err;
  const std::string p = ReadFileText(pred).value();
  EXPECT_EQ(Lines(p), 5) << p;
  EXPECT_NE(p.find("1\t10\t-\t-\tbad: sample 1: label 10"), std::string::npos) << p;
}

// A zoo model through its shipped card: grey 28x28 images resized to 224x224 and
// replicated to RGB. Synthetic weights: the run works, the accuracy means nothing.
TEST_F(EvalCliTest, ZooModelWithItsCard) {
  SKIP_WITHOUT_FASHION_MNIST();
  const std::string model =
      testing::ZooModelViaCli(DEEPEDGE_BINARY, dir_.path(), "mobilenet_v1_0.25_224");
  const auto json = dir_ / "zoo.json";
  const Result r = Run("eval " + model + " --card " + DEEPEDGE_SOURCE_DIR +
                       "/models/zoo/mobilenet_v1_0.25_224.yaml --data " + kData +
                       " --limit 5 --json " + json.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("SYNTHETIC"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("samples 5 evaluated, 0 bad"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("confusion matrix"), std::string::npos);  // 1000 classes: not printed
  Top1(json, 5);
  const nlohmann::json doc = nlohmann::json::parse(ReadFileText(json).value());
  EXPECT_TRUE(doc["records"][0]["model"]["synthetic_weights"].get<bool>());
}

TEST_F(EvalCliTest, BadInputExitsTwoWithOneLine) {
  ExpectBadInput("eval " + kModel + " --data " + (dir_ / "absent").string(), "absent");
  ExpectBadInput("eval " + kModel + " --data " + dir_.path().string(), "t10k-images-idx3-ubyte");
  const auto bad_card = dir_.Write("bad.yaml", "card_version: 1\ntask: classification\n");
  ExpectBadInput("eval " + kModel + " --card " + bad_card.string() + " --data " + kData,
                 "bad.yaml: field 'weights': missing");
  const auto syntax = dir_.Write("syntax.yaml", "labels: [a, b\n");
  ExpectBadInput("eval " + kModel + " --card " + syntax.string() + " --data " + kData,
                 "syntax.yaml: not valid YAML");
  ExpectBadInput("eval " + kModel + " --card " + (dir_ / "none.yaml").string() + " --data " + kData,
                 "none.yaml");
  // A model without a card beside it.
  std::filesystem::copy_file(kModel, dir_ / "m.onnx");
  ExpectBadInput("eval " + (dir_ / "m.onnx").string() + " --data " + kData, "no model card");
  ExpectBadInput("eval " + (dir_ / "missing.onnx").string() + " --data " + kData, "missing.onnx");
}

}  // namespace
}  // namespace deepedge
