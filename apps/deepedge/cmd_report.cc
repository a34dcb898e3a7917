// deepedge report -o report.html [--store PATH] [--assets DIR] [filters]: the stored runs
// as one self-contained HTML page of charts (include/deepedge/html_report.h).
#include <cstdio>
#include <filesystem>
#include <string>

#include "app.h"
#include "deepedge/file_util.h"
#include "deepedge/html_report.h"
#include "deepedge/store.h"
#include "store_util.h"

namespace deepedge::app {

namespace {

struct ReportOptions {
  std::string output;
  std::string store;
  std::string assets;
  std::string title = "DeepEdge report";
  RunFilter filter;
};

std::string FilterDescription(const RunFilter& f) {
  std::string d;
  auto add = [&d](const char* key, const std::string& v) {
    if (v.empty()) return;
    d += (d.empty() ? "" : ", ") + std::string(key) + "=" + v;
  };
  add("kind", f.kind);
  add("device", f.device);
  add("backend", f.backend);
  add("model", f.model);
  add("precision", f.precision);
  return d.empty() ? "all runs" : d;
}

Status RunReport(const ReportOptions& o, int& runs) {
  // The assets first: without them there is no page to write.
  const std::filesystem::path cache =
      o.assets.empty() ? DefaultFixtureCacheDir() : std::filesystem::path(o.assets);
  DEEPEDGE_ASSIGN_OR_RETURN(HtmlReportOptions options, LoadReportAssets(cache));

  // Opening a store creates it; a report must not, so a missing one is an error.
  const std::filesystem::path store_path = StorePath(o.store);
  std::error_code ec;
  if (!std::filesystem::exists(store_path, ec)) {
    return NotFound("no results store at " + store_path.string() +
                    " (runs are stored by bench, profile, eval ...; --store names another)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(ResultsStore store, ResultsStore::Open(store_path));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<RunRecord> records, store.List(o.filter));
  runs = static_cast<int>(records.size());

  options.title = o.title;
  options.subtitle = std::to_string(records.size()) + " run" + (records.size() == 1 ? "" : "s") +
                     " from " + store_path.string() + " (" + FilterDescription(o.filter) +
                     "), generated " + UtcNowIso() + ".";
  return WriteFileAtomic(o.output, FormatHtmlReport(records, options))
      .WithContext("cannot write the report");
}

}  // namespace

void AddReportCommand(CLI::App& app, AppContext& ctx) {
  // CLI11 keeps pointers to these until parsing ends; a static outlives it.
  static ReportOptions storage;
  ReportOptions* o = &storage;
  CLI::App* cmd = app.add_subcommand(
      "report", "Write the stored runs as one self-contained HTML page of charts (works offline)");
  cmd->add_option("-o,--output", o->output, "Output .html file")->required();
  cmd->add_option("--store", o->store,
                  "Results store to read (default " + DefaultStorePath().string() + ")");
  cmd->add_option("--assets", o->assets,
                  "Fixture cache holding vega, vega-lite and vega-embed (default "
                  "$DEEPEDGE_FIXTURES or ~/.cache/deepedge/fixtures; scripts/fetch_fixtures.sh "
                  "fills it)");
  cmd->add_option("--title", o->title, "Title of the page");
  AddRunFilterOptions(cmd, o->filter);
  cmd->callback([&ctx, o] {
    int runs = 0;
    if (Status s = RunReport(*o, runs); !s.ok()) {
      ctx.exit_code = ReportError(s);
      return;
    }
    if (runs == 0) {
      std::fprintf(stderr, "deepedge: no stored runs match (%s); the page says so\n",
                   FilterDescription(o->filter).c_str());
    }
    std::error_code ec;
    const std::filesystem::path shown = std::filesystem::absolute(o->output, ec);
    std::printf("%s\n", (ec ? std::filesystem::path(o->output) : shown).string().c_str());
    ctx.exit_code = 0;
  });
}

}  // namespace deepedge::app
