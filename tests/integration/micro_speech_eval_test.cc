// Integration test: `deepedge eval` of TFLite Micro's micro_speech keyword model
// (../shared/models/tflite-micro/micro_speech, or $DEEPEDGE_TFLITE_MODELS) through its
// int8 audio front end, as models/micro_speech.yaml says, on a set built by
// deepedge-make-kws-set --micro-speech (yes, no, up, down, left, right in 4 espeak-ng
// voices x 2 rates, and 8 noise-only clips) plus the four clips shipped with the model.
// The shipped clips must come out right (yes, no, silence, and noise as silence); the
// whole set above a bar below what was measured (44 / 60 = 73.3 %: yes, no and silence
// all right, half of the other words taken for yes or no).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "deepedge/file_util.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

const std::string kSource = DEEPEDGE_SOURCE_DIR;

std::filesystem::path ModelsDir() {
  if (const char* env = std::getenv("DEEPEDGE_TFLITE_MODELS")) return env;
  return std::filesystem::path(kSource) / ".." / "shared" / "models" / "tflite-micro";
}

TEST(MicroSpeechEval, ClassifiesTheShippedClipsAndMostSynthesisedWords) {
  const std::filesystem::path dir = ModelsDir() / "micro_speech";
  for (const char* f :
       {"micro_speech_quantized.tflite", "audio_preprocessor_int8.tflite", "yes_1000ms.wav",
        "no_1000ms.wav", "silence_1000ms.wav", "noise_1000ms.wav"}) {
    if (!std::filesystem::exists(dir / f)) GTEST_SKIP() << "fixture absent: " << dir / f;
  }
  if (std::system("espeak-ng --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "espeak-ng absent: apt-get install espeak-ng (scripts/setup.sh)";
  }
  testing::TempDir tmp;
  const std::filesystem::path set = tmp.path() / "set";
  const std::string make = std::string("'") + DEEPEDGE_MAKE_KWS_SET + "' --micro-speech --out '" +
                           set.string() + "' >/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  std::string labels = ReadFileText(set / "labels.tsv").value();
  // The shipped clips last, so that their predictions lines are the last four.
  for (const char* c : {"yes", "no", "silence", "noise"}) {
    labels += (dir / (std::string(c) + "_1000ms.wav")).string() + "\t" +
              (std::string(c) == "noise" ? "silence" : c) + "\n";
  }
  ASSERT_TRUE(WriteFileAtomic(set / "labels.tsv", labels).ok());

  const std::string json = (tmp.path() / "ms.json").string();
  const std::string predictions = (tmp.path() / "ms.tsv").string();
  const testing::CliResult r = testing::RunCli(
      DEEPEDGE_BINARY, tmp.path(),
      "eval " + (dir / "micro_speech_quantized.tflite").string() + " --backend deepedge --card " +
          kSource + "/models/micro_speech.yaml --data " + (set / "labels.tsv").string() +
          " --json " + json + " --predictions " + predictions + " --no-store");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("samples 60 evaluated, 0 bad"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("confusion matrix"), std::string::npos) << r.out;
  const nlohmann::json acc =
      nlohmann::json::parse(ReadFileText(json).value())["records"][0]["accuracy"];
  EXPECT_EQ(acc["name"], "top1");
  EXPECT_EQ(acc["samples"], 60);

  // The last four lines: index, label, predicted, correct, ...
  std::istringstream in(ReadFileText(predictions).value());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 61u);
  for (std::size_t k = lines.size() - 4; k < lines.size(); ++k) {
    std::istringstream f(lines[k]);
    std::string index, label, predicted;
    f >> index >> label >> predicted;
    EXPECT_EQ(predicted, label) << lines[k];
  }
  const std::string cmd = "python3 '" + kSource + "/tests/integration/validate_json.py' '" +
                          kSource + "/docs/schema/bench.schema.json' '" + json + "'";
  const int status = std::system(cmd.c_str());
  if (WEXITSTATUS(status) != 77) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
  }
  // Chance is 25 %; measured 73.3 %.
  EXPECT_GE(acc["value"].get<double>(), 0.6) << r.out;
}

}  // namespace
}  // namespace deepedge
