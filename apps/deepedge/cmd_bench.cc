// deepedge bench [MODEL]: latency, throughput, CPU, memory and energy of inference.
//
// With no MODEL it runs the main job: the zoo's MobileNet v1 on every available
// backend, one comparison table.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "app.h"
#include "common.h"
#include "deepedge/environment.h"
#include "deepedge/file_util.h"
#include "deepedge/monitors.h"
#include "deepedge/report.h"
#include "deepedge/zoo.h"
#include "model_info_util.h"
#include "progress.h"
#include "store_util.h"

namespace deepedge::app {
namespace {

constexpr const char* kDefaultZooModel = "mobilenet_v1_1.0_224";

struct BenchOptions {
  std::string model;
  std::string weights;
  std::vector<std::string> backends;
  std::vector<std::string> backend_options;
  int threads = 0;
  std::string scenario = "single-stream";
  int batch = 1;
  std::optional<std::int64_t> min_queries;
  std::optional<double> min_duration_s;
  std::optional<double> max_duration_s;
  std::optional<std::int64_t> max_queries;
  std::int64_t warmup_queries = 5;
  double warmup_s = 0.5;
  InputOptions in;
  std::string json_path;
  std::string csv_path;
  bool profile_layers = false;
  StoreOptions store;
};

// Exports the default zoo model into the cache once; the zoo is deterministic.
Expected<std::string> DefaultModelPath() {
  const std::filesystem::path dir = std::filesystem::path(CacheDir()) / "zoo";
  const std::filesystem::path file = dir / (std::string(kDefaultZooModel) + ".onnx");
  std::error_code ec;
  if (std::filesystem::is_regular_file(file, ec)) return file.string();
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create cache directory " + dir.string() + ": " + ec.message());
  DEEPEDGE_RETURN_IF_ERROR(ZooExport(kDefaultZooModel, file));
  return file.string();
}

std::vector<std::string> ResultWarnings(const BenchResult& r) {
  std::vector<std::string> w;
  for (const std::string& reason : r.invalid_reasons) w.push_back("result invalid: " + reason);
  if (r.latency_ms.cv > 0.10 && r.latency_ms.mean > 0.05) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "latency varies a lot (coefficient of variation %.0f%%): the machine may be "
                  "busy or throttling",
                  r.latency_ms.cv * 100);
    w.emplace_back(buf);
  }
  return w;
}

int RunBench(BenchOptions o, AppContext& ctx) {
  const bool default_job = o.model.empty();
  if (Status s = CheckOutputPath(o.json_path, "--json"); !s.ok()) return ReportError(s);
  if (Status s = CheckOutputPath(o.csv_path, "--csv"); !s.ok()) return ReportError(s);

  BenchConfig config;
  const std::optional<Scenario> scenario = ParseScenario(o.scenario);
  if (!scenario) {
    return ReportError(
        InvalidArgument("unknown scenario '" + o.scenario + "' (single-stream or offline)"));
  }
  config.scenario = *scenario;
  config.batch = o.batch;
  config.stop = DefaultStopRule(*scenario);
  if (o.min_queries) config.stop.min_queries = *o.min_queries;
  if (o.min_duration_s) config.stop.min_duration_s = *o.min_duration_s;
  if (o.max_duration_s) config.stop.max_duration_s = *o.max_duration_s;
  if (o.max_queries) config.stop.max_queries = *o.max_queries;
  if (config.stop.max_duration_s > 0 && config.stop.max_duration_s < config.stop.min_duration_s) {
    config.stop.max_duration_s = config.stop.min_duration_s;  // a smaller --min-duration wins
  }
  config.warmup_queries = o.warmup_queries;
  config.collect_layer_profile = o.profile_layers;
  config.warmup_s = o.warmup_s;
  std::string input_description;
  if (Status s = ParseInputs(o.in, config.input, input_description); !s.ok()) return ReportError(s);
  if (config.batch < 1) return ReportError(InvalidArgument("--batch must be at least 1"));

  if (default_job) {
    Expected<std::string> path = DefaultModelPath();
    if (!path) return ReportError(path.status());
    o.model = *path;
  }
  Expected<ModelSource> src = ResolveModel(o.model, o.weights);
  if (!src) return ReportError(src.status());
  Expected<ModelInfo> info = DescribeModel(*src);
  if (!info) return ReportError(info.status());
  Expected<ModelRecord> model_record = MakeModelRecord(*src, *info);
  if (!model_record) return ReportError(model_record.status());

  // Which backends: the named ones; else, for the main job every available one, and
  // for a given model the first available backend that reads its format.
  std::vector<std::string> backends = o.backends;
  if (backends.empty() && default_job) {
    for (const Backend* b : ctx.backends.All()) {
      const auto formats = b->GetCapabilities().formats;
      // `remote` needs a server (-O server=URL): only when named.
      if (b->Available().ok() && b->Name() != "remote" &&
          std::find(formats.begin(), formats.end(), src->format) != formats.end()) {
        backends.emplace_back(b->Name());
      }
    }
  }
  if (backends.empty()) {
    Expected<std::string> chosen = ChooseBackend(ctx, "", src->format);
    if (!chosen) return ReportError(chosen.status());
    backends.push_back(*chosen);
  }
  Expected<std::map<std::string, std::string>> parsed_options =
      ParseBackendOptions(o.backend_options);
  if (!parsed_options) return ReportError(parsed_options.status());
  const std::map<std::string, std::string> backend_options = *parsed_options;
  if (!backend_options.empty() && backends.size() != 1) {
    return ReportError(InvalidArgument("--backend-option needs exactly one --backend"));
  }
  for (const std::string& name : backends) {
    const Backend* b = ctx.backends.Find(name);
    if (b == nullptr) return ReportError(ctx.backends.Load(name, *src, {}).status());
    const auto specs = b->Options();
    if (Status s = ValidateBackendOptions(name, specs, backend_options); !s.ok()) {
      return ReportError(s);
    }
  }

  if (default_job) {
    std::string list;
    for (const std::string& b : backends) list += (list.empty() ? "" : ", ") + b;
    std::fprintf(stderr,
                 "deepedge bench: zoo model %s (SYNTHETIC weights: true timings, meaningless "
                 "predictions) on %s\n",
                 kDefaultZooModel, list.c_str());
  }

  const MonitorPaths paths;
  const EnvironmentInfo environment = CaptureEnvironment(paths, DEEPEDGE_BUILD_TYPE);
  const std::vector<std::string> env_warnings = EnvironmentWarnings(environment);

  std::vector<BenchRecord> records;
  std::vector<std::string> failures;
  for (const std::string& name : backends) {
    const Backend* backend = ctx.backends.Find(name);
    SessionOptions so;
    so.threads = o.threads;
    so.profile_layers = o.profile_layers;
    so.backend_options = backend_options;
    const ModelSource& source = *src;
    SessionFactory factory = [&]() { return ctx.backends.Load(name, source, so); };

    const Clock clock = SteadyNowNs;
    std::unique_ptr<Monitor> cpu = MakeCpuMonitor(paths, clock);
    std::unique_ptr<Monitor> mem = MakeMemoryMonitor(paths, clock);
    std::unique_ptr<Monitor> energy = MakeEnergyMonitor(paths, clock);
    Monitor* const monitors[] = {cpu.get(), mem.get(), energy.get()};
    ProgressBar progress(name);
    BenchListener* const listeners[] = {&progress};
    BenchHooks hooks;
    hooks.clock = clock;
    hooks.resident_bytes = [paths]() -> std::optional<std::int64_t> {
      Expected<ProcessMemory> m = ReadProcessMemory(paths);
      if (!m) return std::nullopt;
      return static_cast<std::int64_t>(m->rss_bytes);
    };

    Expected<BenchResult> result = RunBenchmark(factory, config, monitors, listeners, hooks);
    if (!result) {
      const Status failed = result.status().WithContext("backend " + name);
      // Comparing several backends: one that cannot run this model is a finding,
      // reported beside the others, not the end of the comparison.
      if (backends.size() == 1) return ReportError(failed);
      std::string msg = failed.message();
      std::replace(msg.begin(), msg.end(), '\n', ' ');
      failures.push_back(msg);
      continue;
    }
    BenchRecord rec;
    rec.tool_version = DEEPEDGE_VERSION;
    rec.timestamp_utc = UtcNowIso();
    rec.environment = environment;
    rec.warnings = env_warnings;
    for (std::string& w : ResultWarnings(*result)) rec.warnings.push_back(std::move(w));
    rec.model = *model_record;
    rec.backend = name;
    rec.backend_version = backend->Version();
    rec.backend_options = backend_options;
    rec.threads = o.threads;
    rec.input = input_description;
    rec.result = std::move(result).value();
    records.push_back(std::move(rec));
  }

  if (records.empty()) {
    return ReportError(
        Unsupported("no backend could run " + src->display_name() + ": " + failures.front()));
  }
  for (const std::string& f : failures) records.front().warnings.push_back("not measured: " + f);
  std::fputs(FormatBenchText(records).c_str(), stdout);
  if (!o.json_path.empty()) {
    if (Status s = WriteFileAtomic(o.json_path, FormatBenchJson(records)); !s.ok()) {
      return ReportError(s);
    }
  }
  if (!o.csv_path.empty()) {
    if (Status s = WriteFileAtomic(o.csv_path, FormatBenchCsv(records)); !s.ok()) {
      return ReportError(s);
    }
  }
  return StoreBenchRecords(o.store, records, environment, *info);
}

}  // namespace

void AddBenchCommand(CLI::App& app, AppContext& ctx) {
  static BenchOptions o;
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Benchmark a model: latency distribution, throughput, CPU, memory, energy.\n"
      "Without MODEL: the zoo's MobileNet v1 (synthetic weights) on every available backend.");
  cmd->add_option("model", o.model, "Model file (.onnx, .prototxt, .pb, .cfg)");
  cmd->add_option("--weights", o.weights,
                  "Weights file for two-file formats (default: beside the model)");
  cmd->add_option("-b,--backend", o.backends,
                  "Backend(s) to run (see `deepedge backends`); repeatable")
      ->allow_extra_args(false);
  cmd->add_option("-O,--backend-option", o.backend_options,
                  "KEY=VALUE option of the backend; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("-t,--threads", o.threads, "Inference threads (0: the backend's default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--scenario", o.scenario, "single-stream (latency) or offline (throughput)")
      ->check(CLI::IsMember({"single-stream", "offline"}))
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "Samples per query (the inputs' leading dimension)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--min-queries", o.min_queries,
                  "Measure at least this many queries (default 1024; offline 64)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-duration", o.min_duration_s,
                  "Measure for at least this many seconds (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-duration", o.max_duration_s,
                  "Stop after this many seconds even if the minimums are not met; the result is "
                  "then invalid (default 600)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-queries", o.max_queries,
                  "Stop after this many queries; the result is invalid if the minimums are not met")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--warmup-queries", o.warmup_queries, "Warm-up queries before measuring")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--warmup-duration", o.warmup_s, "Minimum warm-up seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  AddInputOptions(cmd, o.in);
  cmd->add_flag("--profile-layers", o.profile_layers,
                "Record per-layer times of the last query (top 10 printed; all in --json)");
  cmd->add_option("--json", o.json_path, "Write the records as JSON (docs/bench-json.md)");
  cmd->add_option("--csv", o.csv_path, "Write the records as CSV");
  AddStoreOptions(cmd, o.store);
  cmd->callback([&ctx] { ctx.exit_code = RunBench(o, ctx); });
}

}  // namespace deepedge::app
