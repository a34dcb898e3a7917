// deepedge compare [--by device|backend|model|precision] [--metric NAME] [filters]
// [--baseline VALUE]: one metric across one axis, with ratios to a baseline and the
// differences within the measurement noise marked.
#include <cstdio>
#include <string>

#include "app.h"
#include "deepedge/compare.h"
#include "deepedge/store.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

struct CompareOptions {
  std::string store;
  std::string by = "device";
  std::string metric = "latency.p50";
  std::string baseline;
  RunFilter filter;
};

int RunCompare(const CompareOptions& o) {
  const std::optional<CompareAxis> axis = ParseCompareAxis(o.by);
  if (!axis) {
    return ReportError(InvalidArgument("--by " + o.by +
                                       ": expected device, backend, model or "
                                       "precision"));
  }
  const std::filesystem::path path = StorePath(o.store);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return ReportError(NotFound("no results store at " + path.string() +
                                " (runs of `deepedge bench` are stored there; or pass --store)"));
  }
  Expected<ResultsStore> store = ResultsStore::Open(path);
  if (!store) return ReportError(store.status());
  Expected<std::vector<RunRecord>> runs = store->List(o.filter, ListDetail::kSummary);
  if (!runs) return ReportError(runs.status());
  if (runs->empty()) {
    return ReportError(NotFound("no stored runs match the filters in " + path.string()));
  }
  Expected<CompareTable> table = CompareRuns(*runs, *axis, o.metric, o.baseline);
  if (!table) return ReportError(table.status());

  std::printf("%s by %s: the newest run of each %s, ratios to %s (baseline)\n", o.metric.c_str(),
              o.by.c_str(), o.by.c_str(), table->baseline.c_str());
  std::size_t width = o.by.size();
  for (const CompareRow& row : table->rows) width = std::max(width, row.group.size());
  const int w = static_cast<int>(width);
  std::printf("%-*s %6s %16s %28s %8s  %s\n", w, o.by.c_str(), "run", "value", "95% CI", "ratio",
              "");
  for (const CompareRow& row : table->rows) {
    if (!row.metric) {
      std::printf("%-*s %6s %16s %28s %8s  %s\n", w, row.group.c_str(), "-", "-", "-", "-",
                  "no run reports this metric");
      continue;
    }
    const RunMetric& m = *row.metric;
    const std::string value = FormatFigure(m.value) + (m.unit.empty() ? "" : " " + m.unit);
    const std::string ci = m.ci_low && m.ci_high ? "[" + FormatFigure(*m.ci_low) + ", " +
                                                       FormatFigure(*m.ci_high) + "]"
                                                 : "unknown";
    char ratio[32] = "-";
    if (row.ratio) std::snprintf(ratio, sizeof ratio, "%.3fx", *row.ratio);
    std::string note;
    if (row.baseline) {
      note = "baseline";
    } else if (row.significant == false) {
      note = "not significant (CIs overlap)";
    } else if (!row.significant) {
      note = "significance unknown (no CI)";
    }
    if (m.estimated) note += note.empty() ? "ESTIMATED" : ", ESTIMATED";
    std::printf("%-*s %6lld %16s %28s %8s  %s\n", w, row.group.c_str(),
                static_cast<long long>(row.run_id), value.c_str(), ci.c_str(), ratio, note.c_str());
  }
  for (const std::string& n : table->notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

}  // namespace

void AddCompareCommand(CLI::App& app, AppContext& ctx) {
  static CompareOptions o;
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Compare one metric of stored runs across devices, backends, models or precisions.\n"
      "Each group shows its newest run; differences within the confidence intervals are marked "
      "not significant.");
  cmd->add_option("--by", o.by, "Axis: device, backend, model or precision")
      ->check(CLI::IsMember({"device", "backend", "model", "precision"}))
      ->capture_default_str();
  cmd->add_option("--metric", o.metric, "Metric to compare (see `deepedge results show ID`)")
      ->capture_default_str();
  cmd->add_option("--baseline", o.baseline, "Group the ratios are to (default: the first)");
  cmd->add_option("--store", o.store,
                  "Results store (default " + DefaultStorePath().string() + ")");
  AddRunFilterOptions(cmd, o.filter);
  cmd->callback([&ctx] { ctx.exit_code = RunCompare(o); });
}

}  // namespace deepedge::app
