// The HTML report of stored runs (`deepedge report`): one self-contained file with
// Vega-Lite charts, rendered by the vega, vega-lite and vega-embed packages whose
// minified builds are inlined, so the file opens offline in any browser.
//
// What is charted (each chart only when the records hold its data):
//   - latency distribution per run (box plot of `latency_samples_ms`; runs without
//     samples are drawn from their "latency.*" percentiles instead);
//   - one bar chart per metric name starting with "throughput.samples_per_s" (else
//     every "throughput." one), "cpu.utilisation", "memory.peak",
//     "energy.per_inference" or "energy.average_power", with confidence intervals;
//     estimated figures are drawn lighter and labelled "estimated";
//   - accuracy ("accuracy.*" metrics, with their intervals);
//   - accuracy against latency with the Pareto front (ParetoFront below). A point is
//     one device/backend/model/precision: its accuracy and its latency ("latency.p50",
//     else the median of its samples) may come from different runs (an `eval` and a
//     `bench`); the newest record of that combination that has the figure is used;
//   - per-layer time and output size along the model (from `layers`, one chart per
//     run, the two-axis figure of Neurosurgeon);
//   - partition breakdowns: metrics named "split.<link>.<component>" in milliseconds
//     (e.g. "split.wifi-20mbps.edge", ".uplink", ".server", ".downlink"), stacked per
//     link profile; <link> may contain dots, <component> may not;
//   - a table of every run's device, environment, configuration and warnings.
//
// Thread-safety: the functions are pure (LoadReportAssets reads files); call them from
// any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "deepedge/run_record.h"
#include "deepedge/status.h"

namespace deepedge {

// The npm versions LoadReportAssets looks for; they must equal fixtures.lock's pins (a
// unit test checks).
inline constexpr const char* kVegaVersion = "6.4.0";
inline constexpr const char* kVegaLiteVersion = "6.5.0";
inline constexpr const char* kVegaEmbedVersion = "7.3.0";

struct HtmlReportOptions {
  std::string title = "DeepEdge report";
  // A line under the title saying which records were selected ("device=pi4"); "" none.
  std::string subtitle;
  // Text of build/vega.min.js, build/vega-lite.min.js, build/vega-embed.min.js. When any
  // is empty the page still has its tables, and every chart reports an error.
  std::string vega_js;
  std::string vega_lite_js;
  std::string vega_embed_js;
  // Licence notices of the three packages, kept in an HTML comment beside their code.
  std::string notices;
};

// The whole HTML document. Every string from the records is escaped for where it lands
// (HTML text, attribute or inline JSON), so no record can break out of the page; the
// inlined JavaScript is neutralised the same way ("</script" cannot end its element).
//
// Progress marker for tests and tools: the element
//   <div id="deepedge-status" data-charts="N" data-rendered="R" data-errors="E"
//        data-done="false|true">
// is updated as each chart's vegaEmbed promise settles. A chart counts as rendered when
// its SVG holds at least one mark; a rejected embed, a chart without marks or an
// uncaught page error counts as an error and is logged with console.error. With no
// records the page says "No results match" and N is 0.
std::string FormatHtmlReport(std::span<const RunRecord> records, const HtmlReportOptions& options);

// Reads the three minified builds (and their LICENSE files) from the fixture cache that
// scripts/fetch_fixtures.sh fills: DIR/vega@<kVegaVersion>/package/build/vega.min.js, ...
// The error names the missing file and says to run scripts/fetch_fixtures.sh.
Expected<HtmlReportOptions> LoadReportAssets(const std::filesystem::path& cache_dir);

// The fixture cache: $DEEPEDGE_FIXTURES, else $HOME/.cache/deepedge/fixtures (as
// scripts/fetch_fixtures.sh); empty when neither variable is set.
std::filesystem::path DefaultFixtureCacheDir();

struct ParetoPoint {
  double latency_ms = 0.0;  // lower is better
  double accuracy = 0.0;    // higher is better
};

// Indices of the points that no other point dominates, sorted by increasing latency
// (ties: decreasing accuracy, then index). A point is dominated by one with latency <=
// and accuracy >= where at least one is strict; identical points both stay on the front.
// Points with a non-finite coordinate are never on the front.
std::vector<std::size_t> ParetoFront(std::span<const ParetoPoint> points);

}  // namespace deepedge
