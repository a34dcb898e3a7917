// Integration tests: the results store through the real binary. Runs from two device
// names meet in one store (the second imported from JSON) and `compare` tabulates them;
// bad stores and bad imports are refused with one error line and left untouched.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "deepedge/file_util.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Result = testing::CliResult;

class ResultsCliTest : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  std::string Zoo(const std::string& name) {
    return testing::ZooModelViaCli(DEEPEDGE_BINARY, dir_.path(), name);
  }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  // A short single-backend bench of the smallest zoo model into `store`.
  Result Bench(const std::string& store, const std::string& device, const std::string& extra = "") {
    return Run("bench " + Zoo("mobilenet_v1_0.25_224") + " -b deepedge -t 1" + quick_ +
               " --store " + store + " --device " + device + extra);
  }

  testing::TempDir dir_;
  const std::string quick_ =
      " --min-queries 20 --min-duration 0 --warmup-queries 1 --warmup-duration 0";
};

TEST_F(ResultsCliTest, TwoDevicesMeetInOneStoreThroughExportAndImport) {
  const std::string board = Path("board/results.db"), laptop = Path("laptop.db");
  Result r = Bench(board, "board-a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stored as run 1 in " + board + "\n"), std::string::npos) << r.err;
  r = Bench(laptop, "laptop-b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stored as run 1 in " + laptop), std::string::npos) << r.err;

  // The board's run travels as JSON.
  const std::string json_path = Path("board-runs.json");
  r = Run("results export --store " + board + " -o " + json_path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exported 1 runs to " + json_path), std::string::npos) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(ReadFileText(json_path).value());
  EXPECT_EQ(doc["schema"], "deepedge.results");
  ASSERT_EQ(doc["records"].size(), 1u);
  const nlohmann::json& rec = doc["records"][0];
  EXPECT_EQ(rec["kind"], "bench");
  EXPECT_EQ(rec["device"]["name"], "board-a");
  EXPECT_EQ(rec["backend"], "deepedge");
  EXPECT_EQ(rec["model"]["precision"], "fp32");
  EXPECT_EQ(rec["model"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(rec["config"]["threads"], "1");
  EXPECT_EQ(rec["latency_samples_ms"].size(), 20u);
  bool p50_with_ci = false;
  for (const nlohmann::json& m : rec["metrics"]) {
    if (m["name"] == "latency.p50") {
      p50_with_ci = m["unit"] == "ms" && m["ci_low"].is_number() && m["ci_high"].is_number() &&
                    m["ci_low"] <= m["value"] && m["value"] <= m["ci_high"];
    }
  }
  EXPECT_TRUE(p50_with_ci) << rec["metrics"].dump();

  r = Run("results import " + json_path + " --store " + laptop);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported 1 runs into " + laptop + " (ids 2-2)"), std::string::npos)
      << r.out;

  // The same file again adds nothing.
  r = Run("results import " + json_path + " --store " + laptop);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported 0 runs into " + laptop + "; skipped 1 already stored"),
            std::string::npos)
      << r.out;

  r = Run("results list --store " + laptop);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("laptop-b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("board-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("latency.p50"), std::string::npos) << r.out;
  r = Run("results list --store " + laptop + " --device board-a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("laptop-b"), std::string::npos) << r.out;

  r = Run("results show 2 --store " + laptop);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("run 2 (bench)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("board-a"), std::string::npos);
  EXPECT_NE(r.out.find("latency.p99"), std::string::npos);
  EXPECT_NE(r.out.find("latency samples: 20 kept"), std::string::npos) << r.out;

  r = Run("compare --by device --store " + laptop);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("latency.p50 by device"), std::string::npos) << r.out;
  const std::size_t a = r.out.find("\nlaptop-b "), b = r.out.find("\nboard-a ");
  ASSERT_NE(a, std::string::npos) << r.out;
  ASSERT_NE(b, std::string::npos) << r.out;
  EXPECT_LT(a, b);  // groups in the order first measured: laptop-b's run is id 1
  EXPECT_NE(r.out.find("1.000x  baseline"), std::string::npos) << r.out;

  r = Run("compare --by device --store " + laptop + " --baseline board-a --metric latency.p99");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ratios to board-a"), std::string::npos) << r.out;

  r = Run("compare --by device --store " + laptop + " --baseline toaster");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("'toaster'"), std::string::npos) << r.err;
}

TEST_F(ResultsCliTest, NoStoreWritesNothingAndProfileIsStored) {
  const std::string store = Path("s.db");
  Result r = Bench(store, "x", " --no-store");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("stored as run"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(store));

  r = Run("profile " + Zoo("mobilenet_v1_0.25_224") + " --runs 2 --store " + store +
          " --device pi");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stored as run 1 in " + store), std::string::npos) << r.err;
  r = Run("results show 1 --store " + store);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("run 1 (profile)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("profile.total"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers ("), std::string::npos) << r.out;
}

TEST_F(ResultsCliTest, QuantizedModelIsStoredAsInt8AndComparedByPrecision) {
  const std::string fp32 = Zoo("mobilenet_v1_0.25_224"), int8 = Path("q.onnx");
  Result r = Run("quantize " + fp32 + " -o " + int8 + " --calibration-random 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string store = Path("s.db");
  ASSERT_EQ(Bench(store, "pi").exit_code, 0);
  r = Run("bench " + int8 + " -b deepedge -t 1" + quick_ + " --store " + store + " --device pi");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("results list --store " + store + " --precision int8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" q "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("mobilenet_v1_0.25_224"), std::string::npos) << r.out;
  r = Run("compare --by precision --store " + store);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\nfp32 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nint8 "), std::string::npos) << r.out;
  // The two runs differ in model too (two files): compare says so.
  EXPECT_NE(r.out.find("also differ in model"), std::string::npos) << r.out;
}

TEST_F(ResultsCliTest, CorruptStoreIsReportedNeverOverwrittenAndOutputStillWritten) {
  const std::string content = "not a database, my notes\n";
  const std::string store = dir_.Write("corrupt.db", content).string();
  const std::string json = Path("out.json");
  Result r = Bench(store, "x", " --json " + json);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("deepedge: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(store), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(json));  // the measurement is not lost
  EXPECT_EQ(ReadFileText(store).value(), content);

  r = Run("results list --store " + store);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("not an SQLite database"), std::string::npos) << r.err;
  r = Run("results import " + Path("none.json") + " --store " + store);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(ReadFileText(store).value(), content);

  r = Run("results list --store " + Path("absent.db"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no results store at"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("absent.db")));
}

TEST_F(ResultsCliTest, ImportWithWrongVersionOrMissingFieldIsRefusedWithTheReason) {
  const std::string store = Path("s.db");
  Result r = Bench(store, "board");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string good = Path("good.json");
  ASSERT_EQ(Run("results export --store " + store + " -o " + good).exit_code, 0);
  nlohmann::json doc = nlohmann::json::parse(ReadFileText(good).value());

  nlohmann::json future = doc;
  future["schema_version"] = 99;
  const std::string future_path = dir_.Write("future.json", future.dump()).string();
  r = Run("results import " + future_path + " --store " + store);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find(future_path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("schema_version 99"), std::string::npos) << r.err;

  nlohmann::json missing = doc;
  missing["records"].push_back(doc["records"][0]);
  missing["records"][1]["model"].erase("precision");
  const std::string missing_path = dir_.Write("missing.json", missing.dump()).string();
  r = Run("results import " + missing_path + " --store " + store);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("record 1: missing field 'model.precision'"), std::string::npos) << r.err;

  // Nothing of the refused files reached the store (all or none).
  r = Run("results export --store " + store);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["records"].size(), 1u);
}

}  // namespace
}  // namespace deepedge
