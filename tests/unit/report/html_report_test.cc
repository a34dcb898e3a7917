// The HTML report: the Vega-Lite specifications it embeds carry the records' data, the
// Pareto front, escaping of everything that comes from a record, the empty-report page,
// and locating the Vega assets. (Rendering in a browser: tests/integration/
// report_chromium_test.cc.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "deepedge/html_report.h"

namespace deepedge {
namespace {

using nlohmann::json;

RunRecord Record(const std::string& device, const std::string& backend, const std::string& model,
                 const std::string& precision) {
  RunRecord r;
  r.kind = "bench";
  r.tool_version = "0.1.0";
  r.timestamp_utc = "2026-11-29T10:00:00Z";
  r.device = {device, "Test CPU", 4, std::int64_t{8} << 30, "Debian 12", "6.1.0"};
  r.backend = backend;
  r.backend_version = "1.0";
  r.model.name = model;
  r.model.format = "onnx";
  r.model.precision = precision;
  r.config = {{"threads", "2"}};
  return r;
}

RunMetric Metric(const std::string& name, double value, const std::string& unit,
                 bool estimated = false) {
  RunMetric m;
  m.name = name;
  m.value = value;
  m.unit = unit;
  m.estimated = estimated;
  return m;
}

// The chart list the page embeds: [{"id", "title", "spec"}, ...].
json Specs(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"deepedge-specs\">";
  const std::size_t a = html.find(open);
  EXPECT_NE(a, std::string::npos);
  if (a == std::string::npos) return json::array();
  const std::size_t b = html.find("</script>", a);
  return json::parse(html.substr(a + open.size(), b - a - open.size()));
}

// The chart whose title contains `part`; null when none.
json Chart(const json& specs, const std::string& part) {
  for (const json& c : specs) {
    if (c["title"].get<std::string>().find(part) != std::string::npos) return c;
  }
  return nullptr;
}

std::size_t Count(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Attr(const std::string& html, const std::string& name) {
  const std::string key = name + "=\"";
  const std::size_t a = html.find(key, html.find("id=\"deepedge-status\""));
  const std::size_t b = html.find('"', a + key.size());
  return html.substr(a + key.size(), b - a - key.size());
}

TEST(HtmlReport, EmptyRecordsSayNoResultsMatch) {
  const std::string html = FormatHtmlReport({}, HtmlReportOptions{});
  EXPECT_NE(html.find("No results match"), std::string::npos);
  EXPECT_EQ(Attr(html, "data-charts"), "0");
  EXPECT_EQ(html.find("class=\"chart\""), std::string::npos);
  EXPECT_TRUE(Specs(html).empty());
  EXPECT_NE(html.find("id=\"deepedge-status\""), std::string::npos);
}

TEST(HtmlReport, LatencyDistributionCarriesEverySample) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "mobilenet_v1", "fp32"),
                                 Record("laptop", "opencv", "mobilenet_v1", "fp32")};
  recs[0].latency_samples_ms = {3.0, 1.0, 2.0};
  recs[1].metrics = {Metric("latency.p50", 7.5, "ms"), Metric("latency.p99", 9.0, "ms")};
  const std::string html = FormatHtmlReport(recs, {});
  const json specs = Specs(html);

  const json box = Chart(specs, "Latency distribution");
  ASSERT_FALSE(box.is_null());
  EXPECT_EQ(box["spec"]["mark"]["type"], "boxplot");
  const json& rows = box["spec"]["data"]["values"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["latency_ms"], 3.0);
  EXPECT_EQ(rows[1]["latency_ms"], 1.0);
  EXPECT_EQ(rows[2]["latency_ms"], 2.0);
  EXPECT_EQ(rows[0]["run"], "pi4 / deepedge / mobilenet_v1 / fp32");
  EXPECT_EQ(rows[0]["device"], "pi4");

  // The run without samples is drawn from its percentiles instead.
  const json pct = Chart(specs, "Latency percentiles");
  ASSERT_FALSE(pct.is_null());
  const json& prow = pct["spec"]["data"]["values"];
  ASSERT_EQ(prow.size(), 2u);
  EXPECT_EQ(prow[0]["statistic"], "p50");
  EXPECT_EQ(prow[0]["value"], 7.5);
  EXPECT_EQ(prow[1]["statistic"], "p99");
  EXPECT_EQ(prow[0]["run"], "laptop / opencv / mobilenet_v1 / fp32");

  EXPECT_EQ(Attr(html, "data-charts"), std::to_string(specs.size()));
  EXPECT_EQ(Count(html, "class=\"chart\""), specs.size());
}

TEST(HtmlReport, LongSampleSeriesAreThinnedUniformly) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "m", "fp32")};
  for (int i = 0; i < 12000; ++i) recs[0].latency_samples_ms.push_back(i);
  const json box = Chart(Specs(FormatHtmlReport(recs, {})), "Latency distribution");
  ASSERT_FALSE(box.is_null());
  const json& rows = box["spec"]["data"]["values"];
  ASSERT_EQ(rows.size(), 5000u);
  EXPECT_EQ(rows[0]["latency_ms"], 0.0);
  EXPECT_EQ(rows[2500]["latency_ms"], 6000.0);  // 2500 * 12000 / 5000
  EXPECT_EQ(rows[4999]["latency_ms"], 11997.0);
}

TEST(HtmlReport, MetricChartsOnlyWhenDataExistAndMarkEstimates) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "m", "fp32"),
                                 Record("jetson", "deepedge", "m", "fp32")};
  recs[0].metrics = {Metric("throughput.samples_per_s", 50.0, "samples/s"),
                     Metric("memory.peak_rss", 90.5, "MiB"),
                     Metric("energy.per_inference", 137.0, "mJ", /*estimated=*/true)};
  recs[1].metrics = {Metric("throughput.samples_per_s", 120.0, "samples/s"),
                     Metric("energy.per_inference", 40.0, "mJ")};
  const std::string html = FormatHtmlReport(recs, {});
  const json specs = Specs(html);

  const json tp = Chart(specs, "throughput.samples_per_s (samples/s)");
  ASSERT_FALSE(tp.is_null());
  const json& rows = tp["spec"]["data"]["values"];
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["value"], 50.0);
  EXPECT_EQ(rows[1]["value"], 120.0);
  EXPECT_EQ(rows[1]["device"], "jetson");

  const json energy = Chart(specs, "energy.per_inference (mJ)");
  ASSERT_FALSE(energy.is_null());
  EXPECT_EQ(energy["spec"]["data"]["values"][0]["figure"], "estimated");
  EXPECT_NE(energy["spec"]["data"]["values"][0]["label"].get<std::string>().find("estimated"),
            std::string::npos);
  EXPECT_EQ(energy["spec"]["data"]["values"][1]["figure"], "measured");
  EXPECT_NE(html.find("Lighter bars are estimated"), std::string::npos);

  const json mem = Chart(specs, "memory.peak_rss (MiB)");
  ASSERT_FALSE(mem.is_null());
  EXPECT_EQ(mem["spec"]["data"]["values"].size(), 1u);

  // No cpu.* metric, no accuracy, no layers, no split: none of those charts.
  EXPECT_EQ(html.find("<h2>CPU</h2>"), std::string::npos);
  EXPECT_TRUE(Chart(specs, "Accuracy").is_null());
  EXPECT_TRUE(Chart(specs, "Per-layer").is_null());
  EXPECT_TRUE(Chart(specs, "Partition").is_null());
  EXPECT_TRUE(Chart(specs, "Latency").is_null());
}

TEST(HtmlReport, ChartsTheComparableFiguresOnly) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "m", "fp32")};
  recs[0].metrics = {Metric("throughput.queries_per_s", 10.0, "queries/s"),
                     Metric("throughput.samples_per_s", 40.0, "samples/s"),
                     Metric("cpu.utilisation_machine", 97.0, "%"),
                     Metric("cpu.core0_busy", 99.0, "%"), Metric("energy.energy_j", 12.0, "J")};
  json specs = Specs(FormatHtmlReport(recs, {}));
  EXPECT_FALSE(Chart(specs, "throughput.samples_per_s").is_null());
  EXPECT_TRUE(Chart(specs, "throughput.queries_per_s").is_null());
  EXPECT_FALSE(Chart(specs, "cpu.utilisation_machine").is_null());
  EXPECT_TRUE(Chart(specs, "cpu.core0_busy").is_null());
  EXPECT_TRUE(Chart(specs, "energy.energy_j").is_null());
  // Without samples/s, the other throughput figures are drawn.
  recs[0].metrics = {Metric("throughput.queries_per_s", 10.0, "queries/s")};
  specs = Specs(FormatHtmlReport(recs, {}));
  EXPECT_FALSE(Chart(specs, "throughput.queries_per_s").is_null());
}

TEST(HtmlReport, AccuracyKeepsItsInterval) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "m", "int8")};
  RunMetric top1 = Metric("accuracy.top1", 90.85, "%");
  top1.ci_low = 90.28;
  top1.ci_high = 91.40;
  recs[0].metrics = {top1};
  const json acc = Chart(Specs(FormatHtmlReport(recs, {})), "Accuracy (%)");
  ASSERT_FALSE(acc.is_null());
  const json& row = acc["spec"]["data"]["values"][0];
  EXPECT_EQ(row["metric"], "accuracy.top1");
  EXPECT_EQ(row["value"], 90.85);
  EXPECT_EQ(row["ci_low"], 90.28);
  EXPECT_EQ(row["ci_high"], 91.40);
}

TEST(ParetoFront, HandMadePoints) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<ParetoPoint> pts = {
      {10.0, 0.70},  // 0 front
      {20.0, 0.80},  // 1 front
      {15.0, 0.60},  // 2 dominated by 0
      {30.0, 0.80},  // 3 dominated by 1 (slower, same accuracy)
      {5.0, 0.50},   // 4 front
      {20.0, 0.80},  // 5 identical to 1: both stay
      {10.0, 0.65},  // 6 dominated by 0 (same latency, less accurate)
      {nan, 0.99},   // 7 never on the front
      {1.0, nan},    // 8 never on the front
  };
  EXPECT_EQ(ParetoFront(pts), (std::vector<std::size_t>{4, 0, 1, 5}));
  EXPECT_TRUE(ParetoFront({}).empty());
  const std::vector<ParetoPoint> one = {{3.0, 0.1}};
  EXPECT_EQ(ParetoFront(one), (std::vector<std::size_t>{0}));
}

// Brute force on a grid of points: the front is exactly the set of undominated points.
TEST(ParetoFront, AgreesWithBruteForceOnAGrid) {
  std::vector<ParetoPoint> pts;
  unsigned seed = 7;
  for (int i = 0; i < 60; ++i) {
    seed = seed * 1103515245u + 12345u;
    const double lat = static_cast<double>((seed >> 8) % 12);
    seed = seed * 1103515245u + 12345u;
    const double acc = static_cast<double>((seed >> 8) % 9);
    pts.push_back({lat, acc});
  }
  const std::vector<std::size_t> front = ParetoFront(pts);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    bool dominated = false;
    for (const ParetoPoint& q : pts) {
      if ((q.latency_ms < pts[i].latency_ms && q.accuracy >= pts[i].accuracy) ||
          (q.latency_ms <= pts[i].latency_ms && q.accuracy > pts[i].accuracy)) {
        dominated = true;
      }
    }
    const bool listed = std::find(front.begin(), front.end(), i) != front.end();
    EXPECT_EQ(listed, !dominated) << "point " << i;
  }
  for (std::size_t k = 1; k < front.size(); ++k) {
    EXPECT_LE(pts[front[k - 1]].latency_ms, pts[front[k]].latency_ms);
    EXPECT_LE(pts[front[k - 1]].accuracy, pts[front[k]].accuracy) << "the front rises";
  }
}

TEST(HtmlReport, AccuracyAgainstLatencyJoinsEvalAndBenchRuns) {
  // Accuracy from eval runs, latency from bench runs of the same combination.
  std::vector<RunRecord> recs;
  auto add = [&](const std::string& backend, const std::string& precision, double p50,
                 double top1) {
    RunRecord bench = Record("pi4", backend, "mobilenet", precision);
    bench.metrics = {Metric("latency.p50", p50, "ms")};
    RunRecord eval = Record("pi4", backend, "mobilenet", precision);
    eval.kind = "eval";
    eval.metrics = {Metric("accuracy.top1", top1, "%")};
    recs.push_back(bench);
    recs.push_back(eval);
  };
  add("deepedge", "fp32", 8.0, 71.0);  // front
  add("deepedge", "int8", 5.0, 70.0);  // front
  add("opencv", "fp32", 17.0, 71.0);   // dominated by deepedge fp32
  const json chart = Chart(Specs(FormatHtmlReport(recs, {})), "against latency");
  ASSERT_FALSE(chart.is_null());
  const json& rows = chart["spec"]["data"]["values"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["run"], "pi4 / deepedge / mobilenet / fp32");
  EXPECT_EQ(rows[0]["latency_ms"], 8.0);
  EXPECT_EQ(rows[0]["accuracy"], 71.0);
  EXPECT_EQ(rows[0]["pareto"], "on the front");
  EXPECT_EQ(rows[0]["front_rank"], 1);
  EXPECT_EQ(rows[1]["pareto"], "on the front");
  EXPECT_EQ(rows[1]["front_rank"], 0);
  EXPECT_EQ(rows[2]["pareto"], "dominated");
  EXPECT_EQ(rows[2]["front_rank"], -1);
}

TEST(HtmlReport, PerLayerTimeAndOutputSizeOnTwoAxes) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "alexnet", "fp32")};
  recs[0].kind = "profile";
  recs[0].layers = {{"conv1", "Conv", 4.0, 1024 * 290, 105'000'000},
                    {"relu1", "Relu", 0.5, -1, -1},
                    {"fc8", "Gemm", 1.0, 4000, 4'096'000}};
  const json chart = Chart(Specs(FormatHtmlReport(recs, {})), "Per-layer");
  ASSERT_FALSE(chart.is_null());
  const json& spec = chart["spec"];
  const json& rows = spec["data"]["values"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["layer"], "1 conv1");
  EXPECT_EQ(rows[0]["time_ms"], 4.0);
  EXPECT_EQ(rows[0]["output_kib"], 290.0);
  EXPECT_FALSE(rows[1].contains("output_kib"));  // unknown stays unknown, not 0
  EXPECT_EQ(rows[2]["layer"], "3 fc8");
  EXPECT_EQ(spec["layer"].size(), 2u);
  EXPECT_EQ(spec["resolve"]["scale"]["y"], "independent");
  EXPECT_TRUE(spec["encoding"]["x"]["sort"].is_null());  // execution order
}

TEST(HtmlReport, PartitionBreakdownFromSplitMetrics) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "alexnet", "fp32")};
  recs[0].kind = "partition";
  recs[0].metrics = {Metric("split.wifi.edge", 3.0, "ms"), Metric("split.wifi.uplink", 2.0, "ms"),
                     Metric("split.lte.10mbps.edge", 1.0, "ms"),
                     Metric("split.lte.10mbps.uplink", 9.0, "ms"),
                     Metric("split.malformed", 1.0, "ms")};
  const json chart = Chart(Specs(FormatHtmlReport(recs, {})), "Partition");
  ASSERT_FALSE(chart.is_null());
  const json& rows = chart["spec"]["data"]["values"];
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["link"], "wifi");
  EXPECT_EQ(rows[0]["component"], "edge");
  EXPECT_EQ(rows[1]["component"], "uplink");
  EXPECT_EQ(rows[2]["link"], "lte.10mbps");
  EXPECT_EQ(rows[3]["ms"], 9.0);
  EXPECT_EQ(chart["spec"]["encoding"]["y"]["sort"].size(), 2u);  // one bar per run and link
}

TEST(HtmlReport, EverythingFromARecordIsEscaped) {
  const std::string evil_model = "</script><script>alert(1)</script>";
  const std::string evil_device = "<img src=x onerror=alert(2)>";
  std::vector<RunRecord> recs = {Record(evil_device, "deepedge", evil_model, "fp32")};
  recs[0].latency_samples_ms = {1.0, 2.0};
  recs[0].warnings = {"<!-- load & \"quotes\" -->"};
  recs[0].config = {{"option.<x>", "</SCRIPT>"}};
  HtmlReportOptions opt;
  opt.title = "<b>title</b> & 'co'";
  opt.subtitle = "device=</script>";
  // Third-party code that mentions the closing tag inside a string must not end its element.
  opt.vega_js = "var a = '</script>'; var b = '<!--';";
  opt.notices = "licence -- with --> inside";
  const std::string html = FormatHtmlReport(recs, opt);

  // Exactly the page's own five <script> elements end: three libraries, specs, loader.
  EXPECT_EQ(Count(Lower(html), "</script"), 5u);
  EXPECT_EQ(Count(Lower(html), "<script"), 5u);
  EXPECT_EQ(html.find(evil_device), std::string::npos);
  EXPECT_EQ(html.find("<b>title"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;title&lt;/b&gt; &amp; &#39;co&#39;"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;!-- load &amp; &quot;quotes&quot; --&gt;"), std::string::npos);
  EXPECT_NE(html.find("var a = '<\\/script>'; var b = '<\\!--';"), std::string::npos);
  // One comment only (the notices), closed where the page closes it.
  EXPECT_EQ(Count(html, "-->"), 1u);
  // The data survive the escaping intact.
  const json box = Chart(Specs(html), "Latency distribution");
  ASSERT_FALSE(box.is_null());
  EXPECT_EQ(box["spec"]["data"]["values"][0]["model"], evil_model);
  EXPECT_EQ(box["spec"]["data"]["values"][0]["device"], evil_device);
}

TEST(HtmlReport, InvalidUtf8AndNonFiniteValuesDoNotBreakThePage) {
  std::vector<RunRecord> recs = {
      Record("pi4", "deepedge", std::string("bad\xff\xfe name"), "fp32")};
  recs[0].latency_samples_ms = {1.0, std::nan(""), 2.0};
  recs[0].metrics = {
      Metric("throughput.samples_per_s", std::numeric_limits<double>::infinity(), "samples/s")};
  const std::string html = FormatHtmlReport(recs, {});
  const json specs = Specs(html);
  const json box = Chart(specs, "Latency distribution");
  ASSERT_FALSE(box.is_null());
  EXPECT_EQ(box["spec"]["data"]["values"].size(), 2u);
  EXPECT_TRUE(Chart(specs, "throughput").is_null());
}

TEST(HtmlReport, RepeatedCombinationsGetTheirRunIds) {
  std::vector<RunRecord> recs = {Record("pi4", "deepedge", "m", "fp32"),
                                 Record("pi4", "deepedge", "m", "fp32")};
  recs[0].id = 4;
  recs[1].id = 9;
  recs[0].metrics = {Metric("cpu.utilisation", 95.0, "%")};
  recs[1].metrics = {Metric("cpu.utilisation", 97.0, "%")};
  const json chart = Chart(Specs(FormatHtmlReport(recs, {})), "cpu.utilisation");
  ASSERT_FALSE(chart.is_null());
  EXPECT_EQ(chart["spec"]["data"]["values"][0]["run"], "pi4 / deepedge / m / fp32 (run 4)");
  EXPECT_EQ(chart["spec"]["data"]["values"][1]["run"], "pi4 / deepedge / m / fp32 (run 9)");
}

class TempDir {
 public:
  TempDir() {
    path_ =
        std::filesystem::temp_directory_path() / ("html_report_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(LoadReportAssets, NamesTheMissingFileAndTheFix) {
  TempDir dir;
  auto missing = LoadReportAssets(dir.path());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("vega.min.js"), std::string::npos);
  EXPECT_NE(missing.status().message().find("scripts/fetch_fixtures.sh"), std::string::npos);

  const auto pkg = [&](const std::string& name, const char* version) {
    return dir.path() / (name + "@" + version) / "package";
  };
  WriteText(pkg("vega", kVegaVersion) / "build" / "vega.min.js", "VEGA");
  WriteText(pkg("vega", kVegaVersion) / "LICENSE", "Copyright vega");
  WriteText(pkg("vega-lite", kVegaLiteVersion) / "build" / "vega-lite.min.js", "LITE");
  auto partial = LoadReportAssets(dir.path());
  ASSERT_FALSE(partial.has_value());
  EXPECT_NE(partial.status().message().find("vega-embed.min.js"), std::string::npos);

  WriteText(pkg("vega-embed", kVegaEmbedVersion) / "build" / "vega-embed.min.js", "EMBED");
  auto ok = LoadReportAssets(dir.path());
  ASSERT_TRUE(ok.has_value()) << ok.status().message();
  EXPECT_EQ(ok->vega_js, "VEGA");
  EXPECT_EQ(ok->vega_lite_js, "LITE");
  EXPECT_EQ(ok->vega_embed_js, "EMBED");
  EXPECT_NE(ok->notices.find("Copyright vega"), std::string::npos);
}

// html_report.h's versions and fixtures.lock's pins must move together.
TEST(LoadReportAssets, VersionsMatchFixturesLock) {
  std::ifstream lock(std::string(DEEPEDGE_TEST_DATA_DIR) + "/../../fixtures.lock");
  ASSERT_TRUE(lock) << "fixtures.lock not found beside tests/";
  std::map<std::string, std::string> pinned;
  std::string line;
  while (std::getline(lock, line)) {
    std::istringstream in(line);
    std::string name, version, integrity, sha, use;
    if (in >> name >> version >> integrity >> sha >> use && use == "asset") pinned[name] = version;
  }
  EXPECT_EQ(pinned["vega"], kVegaVersion);
  EXPECT_EQ(pinned["vega-lite"], kVegaLiteVersion);
  EXPECT_EQ(pinned["vega-embed"], kVegaEmbedVersion);
}

}  // namespace
}  // namespace deepedge
