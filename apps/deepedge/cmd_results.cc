// deepedge results list | show ID | export | import FILE.json: the results store.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "app.h"
#include "deepedge/file_util.h"
#include "deepedge/store.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

struct ResultsOptions {
  std::string store;
  RunFilter filter;
  std::int64_t id = 0;
  std::string output;
  std::string input;
};

// Reading commands do not create a store: an absent one is an error naming the path.
Expected<ResultsStore> OpenExisting(const std::string& path_option) {
  const std::filesystem::path path = StorePath(path_option);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound("no results store at " + path.string() +
                    " (runs of `deepedge bench` are stored there; or pass --store)");
  }
  return ResultsStore::Open(path);
}

std::string FormatMetric(const RunMetric& m) {
  std::string s = FormatFigure(m.value) + (m.unit.empty() ? "" : " " + m.unit);
  if (m.ci_low && m.ci_high) {
    s += " [" + FormatFigure(*m.ci_low) + ", " + FormatFigure(*m.ci_high) + "]";
  }
  if (m.estimated) s += " (ESTIMATED)";
  return s;
}

// The figure `results list` shows for a run: the median latency for runs that have one,
// else the first metric.
std::string KeyMetric(const RunRecord& r) {
  for (const char* name : {"latency.p50", "profile.as_run"}) {
    if (const RunMetric* m = FindRunMetric(r, name)) return m->name + " " + FormatMetric(*m);
  }
  if (!r.metrics.empty()) return r.metrics.front().name + " " + FormatMetric(r.metrics.front());
  return "-";
}

int RunList(const ResultsOptions& o) {
  Expected<ResultsStore> store = OpenExisting(o.store);
  if (!store) return ReportError(store.status());
  Expected<std::vector<RunRecord>> runs = store->List(o.filter, ListDetail::kSummary);
  if (!runs) return ReportError(runs.status());
  if (runs->empty()) {
    std::printf("no runs match in %s\n", store->path().string().c_str());
    return 0;
  }
  std::printf("%-6s %-20s %-16s %-8s %-10s %-28s %-9s %s\n", "id", "time (UTC)", "device", "kind",
              "backend", "model", "precision", "key metric");
  for (const RunRecord& r : *runs) {
    std::printf("%-6lld %-20s %-16s %-8s %-10s %-28s %-9s %s\n", static_cast<long long>(r.id),
                r.timestamp_utc.c_str(), r.device.name.c_str(), r.kind.c_str(), r.backend.c_str(),
                r.model.name.c_str(), r.model.precision.c_str(), KeyMetric(r).c_str());
  }
  return 0;
}

int RunShow(const ResultsOptions& o) {
  Expected<ResultsStore> store = OpenExisting(o.store);
  if (!store) return ReportError(store.status());
  Expected<RunRecord> run = store->Get(o.id);
  if (!run) return ReportError(run.status());
  const RunRecord& r = *run;
  std::printf("run %lld (%s) from %s, deepedge %s\n", static_cast<long long>(r.id), r.kind.c_str(),
              r.timestamp_utc.c_str(), r.tool_version.c_str());
  std::printf("device   %s: %s, %d cores, %.1f GiB, %s, kernel %s\n", r.device.name.c_str(),
              r.device.cpu_model.empty() ? "CPU unknown" : r.device.cpu_model.c_str(),
              r.device.cores, static_cast<double>(r.device.memory_bytes) / (1 << 30),
              r.device.os.c_str(), r.device.kernel.c_str());
  std::printf("backend  %s %s\n", r.backend.c_str(), r.backend_version.c_str());
  std::printf("model    %s (%s, %s%s), sha256 %s\n", r.model.name.c_str(), r.model.format.c_str(),
              r.model.precision.c_str(), r.model.synthetic_weights ? ", SYNTHETIC weights" : "",
              r.model.sha256.empty() ? "unknown" : r.model.sha256.c_str());
  if (r.model.parameters || r.model.macs) {
    std::printf("         %s parameters, %s MACs\n",
                r.model.parameters ? std::to_string(*r.model.parameters).c_str() : "?",
                r.model.macs ? std::to_string(*r.model.macs).c_str() : "?");
  }
  if (!r.config.empty()) {
    std::printf("config\n");
    for (const auto& [k, v] : r.config) std::printf("  %-22s %s\n", k.c_str(), v.c_str());
  }
  std::printf("metrics\n");
  for (const RunMetric& m : r.metrics) {
    std::printf("  %-34s %s\n", m.name.c_str(), FormatMetric(m).c_str());
  }
  if (!r.latency_samples_ms.empty()) {
    std::printf("latency samples: %zu kept\n", r.latency_samples_ms.size());
  }
  if (!r.layers.empty()) {
    std::printf("layers (%zu)\n", r.layers.size());
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
      const RunLayer& l = r.layers[i];
      std::printf("  %-4zu %-36.36s %-20.20s %10.3f ms\n", i, l.name.c_str(), l.type.c_str(),
                  l.time_ms);
    }
  }
  std::printf("warnings%s\n", r.warnings.empty() ? ": none" : "");
  for (const std::string& w : r.warnings) std::printf("  %s\n", w.c_str());
  if (!r.details_json.empty()) std::printf("details  %s\n", r.details_json.c_str());
  return 0;
}

int RunExport(const ResultsOptions& o) {
  Expected<ResultsStore> store = OpenExisting(o.store);
  if (!store) return ReportError(store.status());
  Expected<std::vector<RunRecord>> runs = store->List(o.filter);
  if (!runs) return ReportError(runs.status());
  const std::string text = FormatResultsJson(*runs);
  if (o.output.empty() || o.output == "-") {
    std::fputs(text.c_str(), stdout);
  } else {
    if (Status s = WriteFileAtomic(o.output, text); !s.ok()) return ReportError(s);
    std::fprintf(stderr, "exported %zu runs to %s\n", runs->size(), o.output.c_str());
  }
  return 0;
}

// Whether `a` and `b` are the same measurement (one imported twice, or exported from
// this store and brought back): same kind, time, device, backend, model and figures.
bool SameRun(const RunRecord& a, const RunRecord& b) {
  if (a.kind != b.kind || a.timestamp_utc != b.timestamp_utc || a.device.name != b.device.name ||
      a.backend != b.backend || a.model.name != b.model.name || a.model.sha256 != b.model.sha256 ||
      a.metrics.size() != b.metrics.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    if (a.metrics[i].name != b.metrics[i].name || a.metrics[i].value != b.metrics[i].value) {
      return false;
    }
  }
  return true;
}

int RunImport(const ResultsOptions& o) {
  Expected<std::string> text = ReadFileText(o.input);
  if (!text) return ReportError(text.status());
  Expected<std::vector<RunRecord>> runs = ParseResultsJson(*text, o.input);
  if (!runs) return ReportError(runs.status());
  const std::filesystem::path path = StorePath(o.store);
  Expected<ResultsStore> store = ResultsStore::Open(path);
  if (!store) return ReportError(store.status());
  // Importing the same file twice must not count its runs twice.
  Expected<std::vector<RunRecord>> stored = store->List({}, ListDetail::kSummary);
  if (!stored) return ReportError(stored.status());
  std::vector<RunRecord> fresh;
  for (RunRecord& r : *runs) {
    bool known = false;
    for (const RunRecord& s : *stored) known = known || SameRun(r, s);
    if (!known) fresh.push_back(std::move(r));
  }
  const std::size_t skipped = runs->size() - fresh.size();
  Expected<std::vector<std::int64_t>> ids = store->InsertAll(fresh);
  if (!ids) return ReportError(ids.status().WithContext(o.input));
  std::string line = "imported " + std::to_string(ids->size()) + " runs into " + path.string();
  if (!ids->empty()) {
    line += " (ids " + std::to_string(ids->front()) + "-" + std::to_string(ids->back()) + ")";
  }
  if (skipped > 0) line += "; skipped " + std::to_string(skipped) + " already stored";
  std::printf("%s\n", line.c_str());
  return 0;
}

void AddStoreOption(CLI::App* cmd, std::string& store) {
  cmd->add_option("--store", store, "Results store (default " + DefaultStorePath().string() + ")");
}

}  // namespace

void AddResultsCommand(CLI::App& app, AppContext& ctx) {
  static ResultsOptions o;
  CLI::App* cmd =
      app.add_subcommand("results", "The results store: list, show, export and import stored runs");
  cmd->require_subcommand(1);

  CLI::App* list = cmd->add_subcommand("list", "One line per stored run");
  AddStoreOption(list, o.store);
  AddRunFilterOptions(list, o.filter);
  list->callback([&ctx] { ctx.exit_code = RunList(o); });

  CLI::App* show = cmd->add_subcommand("show", "Everything stored about one run");
  show->add_option("id", o.id, "Run id (see `deepedge results list`)")->required();
  AddStoreOption(show, o.store);
  show->callback([&ctx] { ctx.exit_code = RunShow(o); });

  CLI::App* exp = cmd->add_subcommand(
      "export", "Write runs as deepedge.results JSON (docs/results-json.md), to move them");
  exp->add_option("-o,--output", o.output, "Output file (default: standard output)");
  AddStoreOption(exp, o.store);
  AddRunFilterOptions(exp, o.filter);
  exp->callback([&ctx] { ctx.exit_code = RunExport(o); });

  CLI::App* imp = cmd->add_subcommand(
      "import", "Add the runs of a deepedge.results JSON file to the store (all or none)");
  imp->add_option("file", o.input, "JSON file written by `deepedge results export`")->required();
  AddStoreOption(imp, o.store);
  imp->callback([&ctx] { ctx.exit_code = RunImport(o); });
}

}  // namespace deepedge::app
