// The writers against golden files. Regenerate after an intended format change with
//   DEEPEDGE_UPDATE_GOLDEN=1 ./build/tests/unit/report/report_test
// and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>

#include "deepedge/file_util.h"
#include "deepedge/report.h"

namespace deepedge {
namespace {

BenchRecord FixedRecord(const std::string& backend, double p50_ms, Provenance energy_provenance) {
  BenchRecord rec;
  rec.tool_version = "0.1.0";
  rec.timestamp_utc = "2026-11-29T10:00:00Z";
  rec.environment.cpu_model = "Test CPU @ 2.0GHz";
  rec.environment.logical_cores = 4;
  rec.environment.kernel = "6.1.0-test";
  rec.environment.os = "Debian GNU/Linux 12 (bookworm)";
  rec.environment.hostname = "board";
  rec.environment.build_type = "Release";
  rec.environment.load_average = LoadAverage{0.1, 0.2, 0.3};
  rec.environment.frequencies.push_back({0, "performance", 1800.0, 2000.0, 2000.0});
  rec.environment.thermal_zones.push_back({"thermal_zone0", "cpu-thermal", 45.5});
  rec.warnings = {"a warning, with a comma"};
  rec.model = {"tiny", "/models/tiny.onnx", std::string(64, 'a'), "onnx", true, 1000, 250000};
  rec.backend = backend;
  rec.backend_version = "9.9";
  rec.backend_options = {{"target", "cpu"}};
  rec.threads = 2;
  rec.input = "random (seed 42)";
  BenchResult& r = rec.result;
  r.stop = {1024, 10, 600, 0};
  r.phases = {12.5, 3.25, 500, 40, 10.0};
  r.queries = 1000;
  r.samples = 1000;
  r.latency_ms.count = 1000;
  r.latency_ms.min = p50_ms * 0.9;
  r.latency_ms.max = p50_ms * 2;
  r.latency_ms.mean = p50_ms * 1.05;
  r.latency_ms.stddev = p50_ms * 0.1;
  r.latency_ms.cv = 0.1 / 1.05;
  r.latency_ms.p50 = p50_ms;
  r.latency_ms.p90 = p50_ms * 1.2;
  r.latency_ms.p95 = p50_ms * 1.3;
  r.latency_ms.p99 = p50_ms * 1.5;
  r.latency_ms.median_ci_low = p50_ms * 0.99;
  r.latency_ms.median_ci_high = p50_ms * 1.01;
  r.latency_ms.median_ci_valid = true;
  r.throughput_qps = 100;
  r.throughput_samples_per_s = 100;
  r.valid = false;
  r.invalid_reasons = {"too short: 9.000 s < minimum 10.000 s"};
  r.model_load_memory_mib = 12.25;
  r.arena_mib = 3.5;
  r.inputs = {{"input", DType::kF32, Shape{1, 3, 8, 8}}};
  MonitorReport cpu{
      "cpu", true, "", "/proc", {{"cpu_time_s", 19.5, "s"}, {"utilisation_machine", 48.75, "%"}},
      {},    {}};
  MonitorReport mem{"memory",
                    true,
                    "",
                    "/proc",
                    {{"peak_rss_mib", 80.5, "MiB"}},
                    {{"rss", "MiB", {0, 0.5}, {70, 80.5}}},
                    {}};
  MonitorReport energy{
      "energy",
      true,
      "",
      "rapl:intel-rapl:0",
      {{"energy_j", 20, "J", energy_provenance}, {"average_power_w", 2, "W", energy_provenance}},
      {},
      {"a note"}};
  MonitorReport absent{"gpu", false, "no GPU here", "", {}, {}, {}};
  r.monitors = {cpu, mem, energy, absent};
  return rec;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(DEEPEDGE_TEST_DATA_DIR) + "/golden/" + name;
  if (std::getenv("DEEPEDGE_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomic(path, actual).ok());
    return;
  }
  Expected<std::string> want = ReadFileText(path);
  ASSERT_TRUE(want.has_value()) << path << " missing: run with DEEPEDGE_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, *want) << "differs from " << path;
}

std::vector<BenchRecord> TwoRecords() {
  return {FixedRecord("fast", 2.0, Provenance::kMeasured),
          FixedRecord("slow", 0.004, Provenance::kEstimated)};
}

TEST(ReportTest, TextMatchesGolden) {
  ExpectGolden("bench.txt", FormatBenchText(TwoRecords()));
}
TEST(ReportTest, JsonMatchesGolden) {
  ExpectGolden("bench.json", FormatBenchJson(TwoRecords()));
}
TEST(ReportTest, CsvMatchesGolden) {
  ExpectGolden("bench.csv", FormatBenchCsv(TwoRecords()));
}

TEST(ReportTest, EnergyPerInferenceKeepsProvenance) {
  BenchRecord rec = FixedRecord("x", 1, Provenance::kEstimated);
  auto e = EnergyPerInference(rec.result);
  ASSERT_TRUE(e.has_value());
  EXPECT_DOUBLE_EQ(e->value, 20.0);  // 20 J over 1000 samples = 20 mJ
  EXPECT_EQ(e->unit, "mJ");
  EXPECT_EQ(e->provenance, Provenance::kEstimated);
  rec.result.monitors[2].supported = false;
  EXPECT_FALSE(EnergyPerInference(rec.result).has_value());  // never a silent 0
}

TEST(ReportTest, SyntheticWeightsAreNamedInEveryFormat) {
  const auto records = TwoRecords();
  EXPECT_NE(FormatBenchText(records).find("SYNTHETIC weights"), std::string::npos);
  EXPECT_NE(FormatBenchJson(records).find("\"synthetic_weights\": true"), std::string::npos);
  EXPECT_NE(FormatBenchCsv(records).find("synthetic_weights"), std::string::npos);
}

}  // namespace
}  // namespace deepedge
