// Integration test: `deepedge eval` of the real Silero VAD v5 (the fixture cache,
// scripts/fetch_fixtures.sh) on Debian's pocketsphinx-testdata recordings, padded with
// silence and noise by deepedge-make-vad-set into a temporary data set. The issue's
// bars: every clip with speech detected; false alarms on under 1 % of padding frames.
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

const std::filesystem::path kModel =
    FixtureDir() / "@ricky0123/vad-web@0.0.31/package/dist/silero_vad_v5.onnx";
const std::filesystem::path kSpeech = "/usr/share/pocketsphinx/test/data";

class VadEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModel)) {
      GTEST_SKIP() << kModel << " absent: run scripts/fetch_fixtures.sh";
    }
    if (!std::filesystem::exists(kSpeech / "cards/001.wav") ||
        !std::filesystem::exists(kSpeech / "librivox")) {
      GTEST_SKIP() << kSpeech
                   << " absent: apt-get install pocketsphinx-testdata (scripts/setup.sh)";
    }
  }
  // Builds the data set (the tool's default recordings) into DIR/NAME.
  std::filesystem::path MakeSet(const std::string& name, const std::string& args = "") {
    const std::filesystem::path out = dir_ / name;
    const std::string cmd = std::string("'") + DEEPEDGE_MAKE_VAD_SET + "' --out '" + out.string() +
                            "' " + args + " >/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
  }
  testing::TempDir dir_;
};

TEST_F(VadEvalTest, TheDataSetIsDeterministicAndLabelsEveryClip) {
  const std::filesystem::path a = MakeSet("a"), b = MakeSet("b");
  const std::string labels = ReadFileText(a / "labels.tsv").value();
  // 10 recordings (cards 001..005, 5 LibriVox) and 3 padding-only clips.
  int clips = 0, silent = 0;
  for (std::size_t at = 0; at < labels.size();) {
    const std::size_t end = labels.find('\n', at);
    const std::string line = labels.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    ++clips;
    silent += line.ends_with("\t-");
  }
  EXPECT_EQ(clips, 13) << labels;
  EXPECT_EQ(silent, 3) << labels;
  EXPECT_EQ(ReadFileText(b / "labels.tsv").value(), labels);
  EXPECT_EQ(ReadFileText(a / "clip_004.wav").value(), ReadFileText(b / "clip_004.wav").value());
  EXPECT_EQ(ReadFileText(a / "clip_012.wav").value(), ReadFileText(b / "clip_012.wav").value());
  const std::filesystem::path c = MakeSet("c", "--seed 2");
  EXPECT_NE(ReadFileText(a / "clip_012.wav").value(), ReadFileText(c / "clip_012.wav").value());
}

TEST_F(VadEvalTest, SileroV5FindsEverySpeechClipWithFewFalseAlarms) {
  const std::filesystem::path set = MakeSet("set");
  const std::string json = (dir_ / "vad.json").string();
  const std::string predictions = (dir_ / "vad.tsv").string();
  const testing::CliResult r =
      testing::RunCli(DEEPEDGE_BINARY, dir_.path(),
                      "eval " + kModel.string() + " --backend deepedge --card " + kSource +
                          "/models/silero_vad_v5.yaml --data " + (set / "labels.tsv").string() +
                          " --json " + json + " --predictions " + predictions + " --no-store");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("samples 13 evaluated, 0 bad"), std::string::npos) << r.out;
  const nlohmann::json acc =
      nlohmann::json::parse(ReadFileText(json).value())["records"][0]["accuracy"];
  EXPECT_EQ(acc["name"], "clip_detection");
  EXPECT_EQ(acc["samples"], 13);
  ASSERT_EQ(acc["other_metrics"].size(), 3u) << acc.dump();
  EXPECT_EQ(acc["other_metrics"][0]["name"], "false_alarm");
  EXPECT_EQ(acc["other_metrics"][1]["name"], "frame_precision");
  EXPECT_EQ(acc["other_metrics"][2]["name"], "frame_recall");
  const std::string p = ReadFileText(predictions).value();
  EXPECT_EQ(std::count(p.begin(), p.end(), '\n'), 14) << p;
  const std::string cmd = "python3 '" + kSource + "/tests/integration/validate_json.py' '" +
                          kSource + "/docs/schema/bench.schema.json' '" + json + "'";
  const int status = std::system(cmd.c_str());
  if (WEXITSTATUS(status) != 77) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
  }
  // The bars.
  EXPECT_EQ(acc["value"].get<double>(), 1.0) << r.out << p;
  EXPECT_LT(acc["other_metrics"][0]["value"].get<double>(), 0.01) << r.out << p;
}

}  // namespace
}  // namespace deepedge
