// The HTML report in a real browser: headless Chromium (Debian's `chromium`) opens a
// report of hand-made runs from two devices and must find every chart rendered with
// marks, no error on the page's status marker and no console error; a screenshot is kept
// at <build>/report-screenshot.png. A second test goes through the CLI: runs of one
// device stored with `ResultsStore`, the other device's imported with `deepedge results
// import`, then `deepedge report`. Skips (with the reason) when chromium or the Vega
// assets (scripts/fetch_fixtures.sh) are absent.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "deepedge/file_util.h"
#include "deepedge/html_report.h"
#include "deepedge/store.h"

namespace deepedge {
namespace {

namespace fs = std::filesystem;

const fs::path kArtifactDir = DEEPEDGE_ARTIFACT_DIR;

// A file's text, "" when it cannot be read.
std::string Slurp(const fs::path& p) {
  auto text = ReadFileText(p);
  return text.has_value() ? *text : std::string();
}

bool HaveChromium() {
  return std::system("command -v chromium >/dev/null 2>&1") == 0;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Deterministic latencies around `center` (a skewed spread like real runs).
std::vector<double> Samples(double center, unsigned seed, int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const double u = static_cast<double>(seed >> 8) / static_cast<double>(1u << 24);
    v.push_back(center * (0.92 + 0.2 * u * u + (i % 97 == 0 ? 0.4 : 0.0)));
  }
  return v;
}

RunMetric M(const std::string& name, double value, const std::string& unit, bool est = false) {
  RunMetric m;
  m.name = name;
  m.value = value;
  m.unit = unit;
  m.estimated = est;
  return m;
}

RunRecord Base(const std::string& device, const std::string& cpu, const std::string& backend,
               const std::string& model, const std::string& precision, const std::string& kind) {
  RunRecord r;
  r.kind = kind;
  r.tool_version = "0.1.0";
  r.timestamp_utc = "2026-11-29T10:00:00Z";
  r.device = {device, cpu, 4, std::int64_t{4} << 30, "Debian GNU/Linux 12 (bookworm)", "6.1.0"};
  r.backend = backend;
  r.backend_version = backend == "opencv" ? "4.6.0" : "0.1.0";
  r.model = {model, std::string(64, 'c'), "onnx", precision, true, 4'200'000, 569'000'000};
  r.config = {{"threads", "4"}, {"scenario", "single-stream"}};
  return r;
}

// Runs of one device: bench (two backends, fp32 and int8), eval, profile, partition.
std::vector<RunRecord> DeviceRuns(const std::string& device, const std::string& cpu, double speed,
                                  bool energy_estimated, unsigned seed) {
  std::vector<RunRecord> out;
  struct B {
    const char* backend;
    const char* precision;
    double p50;
    double top1;
  };
  const B benches[] = {{"deepedge", "fp32", 8.5, 70.6},
                       {"deepedge", "int8", 6.6, 69.9},
                       {"opencv", "fp32", 16.9, 70.6}};
  for (const B& b : benches) {
    RunRecord r = Base(device, cpu, b.backend, "mobilenet_v1", b.precision, "bench");
    r.latency_samples_ms = Samples(b.p50 * speed, seed++, 600);
    const double p50 = b.p50 * speed;
    RunMetric lat = M("latency.p50", p50, "ms");
    lat.ci_low = p50 * 0.98;
    lat.ci_high = p50 * 1.02;
    r.metrics = {lat,
                 M("latency.p99", p50 * 1.3, "ms"),
                 M("throughput.samples_per_s", 1000.0 / p50, "samples/s"),
                 M("cpu.utilisation", 97.0 - speed, "%"),
                 M("memory.peak_rss", b.precision[0] == 'i' ? 36.6 : 77.3, "MiB"),
                 M("energy.per_inference", 16.0 * p50, "mJ", energy_estimated)};
    if (energy_estimated)
      r.warnings.push_back("no energy sensor: energy is estimated from CPU time");
    out.push_back(r);
    RunRecord e = Base(device, cpu, b.backend, "mobilenet_v1", b.precision, "eval");
    RunMetric top1 = M("accuracy.top1", b.top1, "%");
    top1.ci_low = b.top1 - 0.9;
    top1.ci_high = b.top1 + 0.9;
    e.metrics = {top1};
    out.push_back(e);
  }
  // A run stored without per-query samples (percentiles only), with a name that would
  // break an unescaped page.
  RunRecord odd =
      Base(device, cpu, "null", "tiny</script><script>alert(1)</script>", "fp32", "bench");
  odd.metrics = {M("latency.min", 0.01, "ms"), M("latency.p50", 0.02, "ms"),
                 M("latency.p99", 0.05, "ms"), M("latency.max", 0.09, "ms")};
  out.push_back(odd);

  RunRecord prof = Base(device, cpu, "deepedge", "alexnet", "fp32", "profile");
  const char* names[] = {"conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3",
                         "conv4", "conv5", "pool5", "fc6",   "fc7",   "fc8"};
  const double times[] = {4.1, 0.3, 0.4, 6.0, 0.2, 0.3, 3.1, 4.5, 3.0, 0.1, 9.0, 4.0, 1.0};
  const std::int64_t bytes[] = {1161600, 1161600, 279936, 746496, 746496, 173056, 259584,
                                259584,  173056,  36864,  16384,  16384,  4000};
  for (int i = 0; i < 13; ++i) {
    prof.layers.push_back(
        {names[i], names[i][0] == 'c' ? "Conv" : "Other", times[i] * speed, bytes[i], -1});
  }
  out.push_back(prof);

  RunRecord part = Base(device, cpu, "deepedge", "alexnet", "fp32", "partition");
  part.metrics = {
      M("split.wifi-20mbps.edge", 10.0 * speed, "ms"), M("split.wifi-20mbps.uplink", 7.0, "ms"),
      M("split.wifi-20mbps.server", 2.0, "ms"),        M("split.wifi-20mbps.downlink", 0.2, "ms"),
      M("split.lte-5mbps.edge", 14.0 * speed, "ms"),   M("split.lte-5mbps.uplink", 6.5, "ms"),
      M("split.lte-5mbps.server", 1.0, "ms"),          M("split.lte-5mbps.downlink", 0.8, "ms")};
  out.push_back(part);
  return out;
}

std::vector<RunRecord> TwoDevices(std::vector<RunRecord>* second = nullptr) {
  std::vector<RunRecord> a = DeviceRuns("rpi4-test", "Cortex-A72", 3.0, false, 11);
  std::vector<RunRecord> b = DeviceRuns("laptop-test", "AMD EPYC", 1.0, true, 97);
  if (second) *second = b;
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Browser {
  int rc = -1;
  std::string dom;
  std::string log;
};

// Opens `page` in headless Chromium, dumping the DOM after virtual time has run out.
Browser OpenInChromium(const fs::path& page, const std::string& tag) {
  const fs::path dom = kArtifactDir / ("report-" + tag + ".dom.html");
  const fs::path log = kArtifactDir / ("report-" + tag + ".chromium.log");
  const fs::path profile = kArtifactDir / ("report-" + tag + ".chromium-profile");
  fs::remove_all(profile);
  const std::string cmd =
      "timeout 180 chromium --headless=new --no-sandbox --disable-gpu --no-first-run "
      "--disable-dev-shm-usage --user-data-dir=" +
      Quote(profile.string()) +
      " --enable-logging=stderr --v=0 --virtual-time-budget=15000 --dump-dom " +
      Quote("file://" + fs::absolute(page).string()) + " >" + Quote(dom.string()) + " 2>" +
      Quote(log.string());
  Browser b;
  b.rc = std::system(cmd.c_str());
  b.dom = Slurp(dom);
  b.log = Slurp(log);
  fs::remove_all(profile);
  return b;
}

std::string StatusAttr(const std::string& dom, const std::string& attr) {
  const std::size_t at = dom.find("id=\"deepedge-status\"");
  if (at == std::string::npos) return "";
  const std::size_t start = dom.rfind('<', at);
  const std::size_t end = dom.find('>', at);
  const std::string tag = dom.substr(start, end - start);
  const std::regex re(attr + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(tag, m, re) ? m[1].str() : "";
}

// Console lines that report an error: "CONSOLE" with "error" or "Uncaught" in them.
std::vector<std::string> ConsoleErrors(const std::string& log) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < log.size()) {
    std::size_t nl = log.find('\n', pos);
    if (nl == std::string::npos) nl = log.size();
    const std::string line = log.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find("CONSOLE") == std::string::npos) continue;
    std::string lower = line;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("error") != std::string::npos || line.find("Uncaught") != std::string::npos) {
      out.push_back(line);
    }
  }
  return out;
}

// Every chart rendered marks, nothing failed, no console error.
void ExpectRendered(const fs::path& page, const std::string& tag, int expected_charts) {
  const Browser b = OpenInChromium(page, tag);
  ASSERT_EQ(b.rc, 0) << "chromium failed; its log: " << b.log.substr(0, 4000);
  ASSERT_NE(b.dom.find("id=\"deepedge-status\""), std::string::npos)
      << "no status marker in the DOM (page did not load?)";
  const std::string charts = StatusAttr(b.dom, "data-charts");
  EXPECT_EQ(StatusAttr(b.dom, "data-done"), "true") << "rendering did not finish";
  EXPECT_EQ(charts, std::to_string(expected_charts));
  EXPECT_EQ(StatusAttr(b.dom, "data-rendered"), charts);
  EXPECT_EQ(StatusAttr(b.dom, "data-errors"), "0");
  EXPECT_EQ(b.dom.find("class=\"chart failed\""), std::string::npos) << "a chart shows an error";
  const std::vector<std::string> errors = ConsoleErrors(b.log);
  EXPECT_TRUE(errors.empty()) << errors.size() << " console errors, first: " << errors.front();
  // The escaped model name shows as text, it did not run.
  EXPECT_NE(b.dom.find("tiny&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
            std::string::npos);
}

class ReportChromium : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveChromium())
      GTEST_SKIP() << "chromium is not installed (Debian: apt-get install chromium)";
    auto assets = LoadReportAssets(DefaultFixtureCacheDir());
    if (!assets.has_value()) GTEST_SKIP() << assets.status().message();
    assets_ = std::move(assets).value();
    fs::create_directories(kArtifactDir);
  }
  HtmlReportOptions assets_;
};

TEST_F(ReportChromium, EveryChartRendersWithoutConsoleErrors) {
  const std::vector<RunRecord> records = TwoDevices();
  HtmlReportOptions opt = assets_;
  opt.title = "DeepEdge report (test runs from two devices)";
  const fs::path page = kArtifactDir / "report-chromium-test.html";
  ASSERT_TRUE(WriteFileAtomic(page, FormatHtmlReport(records, opt)).ok());
  // Latency box plot and percentiles, throughput, CPU, memory, energy, accuracy,
  // accuracy vs latency, 2 per-layer, partition.
  ExpectRendered(page, "lib", 11);

  // The screenshot kept as the test's artifact.
  const fs::path shot = kArtifactDir / "report-screenshot.png";
  fs::remove(shot);
  const fs::path profile = kArtifactDir / "report-shot.chromium-profile";
  const std::string cmd =
      "timeout 180 chromium --headless=new --no-sandbox --disable-gpu --no-first-run "
      "--disable-dev-shm-usage --hide-scrollbars --user-data-dir=" +
      Quote(profile.string()) +
      " --virtual-time-budget=15000 --window-size=1280,4000 --screenshot=" + Quote(shot.string()) +
      " " + Quote("file://" + fs::absolute(page).string()) + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  fs::remove_all(profile);
  ASSERT_TRUE(fs::exists(shot)) << "no screenshot at " << shot;
  EXPECT_GT(fs::file_size(shot), 20000u) << "the screenshot looks blank";
  std::printf("screenshot: %s\n", shot.c_str());
}

TEST_F(ReportChromium, EmptyReportSaysSoAndHasNoErrors) {
  const fs::path page = kArtifactDir / "report-chromium-empty.html";
  ASSERT_TRUE(WriteFileAtomic(page, FormatHtmlReport({}, assets_)).ok());
  const Browser b = OpenInChromium(page, "empty");
  ASSERT_EQ(b.rc, 0) << b.log.substr(0, 4000);
  EXPECT_NE(b.dom.find("No results match"), std::string::npos);
  EXPECT_EQ(StatusAttr(b.dom, "data-done"), "true");
  EXPECT_EQ(StatusAttr(b.dom, "data-charts"), "0");
  EXPECT_EQ(StatusAttr(b.dom, "data-errors"), "0");
  EXPECT_TRUE(ConsoleErrors(b.log).empty());
}

// The "done when": a store with runs from two devices, the second imported from
// JSON, gives a report whose charts render.
TEST_F(ReportChromium, StoreWithAnImportedDeviceThroughTheCli) {
  const std::string bin = DEEPEDGE_BINARY;
  const fs::path dir = kArtifactDir / ("report-cli-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path store_path = dir / "results.db";
  std::vector<RunRecord> second;
  std::vector<RunRecord> all = TwoDevices(&second);
  {
    auto store = ResultsStore::Open(store_path);
    ASSERT_TRUE(store.has_value()) << store.status().message();
    const std::size_t first_count = all.size() - second.size();
    auto ids = store->InsertAll(std::span<const RunRecord>(all.data(), first_count));
    ASSERT_TRUE(ids.has_value()) << ids.status().message();
  }
  const fs::path json = dir / "laptop.json";
  ASSERT_TRUE(WriteFileAtomic(json, FormatResultsJson(second)).ok());
  const std::string import = Quote(bin) + " results import " + Quote(json.string()) + " --store " +
                             Quote(store_path.string()) + " >" +
                             Quote((dir / "import.log").string()) + " 2>&1";
  ASSERT_EQ(std::system(import.c_str()), 0) << Slurp(dir / "import.log");

  const fs::path page = dir / "report.html";
  const std::string report = "DEEPEDGE_FIXTURES=" + Quote(DefaultFixtureCacheDir().string()) + " " +
                             Quote(bin) + " report -o " + Quote(page.string()) + " --store " +
                             Quote(store_path.string()) + " >" +
                             Quote((dir / "report.log").string()) + " 2>&1";
  ASSERT_EQ(std::system(report.c_str()), 0) << Slurp(dir / "report.log");
  const std::string printed = Slurp(dir / "report.log");
  EXPECT_NE(printed.find(page.string()), std::string::npos) << "the path is printed: " << printed;
  const std::string html = Slurp(page);
  EXPECT_NE(html.find("rpi4-test"), std::string::npos);
  EXPECT_NE(html.find("laptop-test"), std::string::npos);
  ExpectRendered(page, "cli", 11);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace deepedge

namespace deepedge {
namespace {

// Bad input to `deepedge report`: one error line naming the problem, exit status 2, no file.
TEST(ReportCli, MissingStoreOrAssetsGiveOneErrorAndNoFile) {
  const std::string bin = DEEPEDGE_BINARY;
  const fs::path dir = kArtifactDir / ("report-bad-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "empty-cache");
  const fs::path page = dir / "report.html";
  const fs::path err = dir / "err.txt";
  auto run = [&](const std::string& args) {
    const std::string cmd = Quote(bin) + " report -o " + Quote(page.string()) + " " + args +
                            " >/dev/null 2>" + Quote(err.string());
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  // Missing assets are reported before the store is opened.
  EXPECT_EQ(run("--assets " + Quote((dir / "empty-cache").string()) + " --store " +
                Quote((dir / "none.db").string())),
            2);
  std::string msg = Slurp(err);
  EXPECT_NE(msg.find("vega.min.js"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/fetch_fixtures.sh"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(page));

  if (LoadReportAssets(DefaultFixtureCacheDir()).has_value()) {
    EXPECT_EQ(run("--store " + Quote((dir / "none.db").string())), 2);
    msg = Slurp(err);
    EXPECT_NE(msg.find("no results store at"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(dir / "none.db")) << "a report must not create a store";
    EXPECT_FALSE(fs::exists(page));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace deepedge
