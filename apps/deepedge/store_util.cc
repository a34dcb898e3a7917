#include "store_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app.h"
#include "model_info_util.h"

namespace deepedge::app {
namespace {

void AddMetric(RunRecord& r, std::string name, double value, std::string unit,
               bool estimated = false) {
  r.metrics.push_back({std::move(name), value, std::move(unit), estimated, {}, {}});
}

std::string Bool(bool b) {
  return b ? "true" : "false";
}

// The record's common head: kind, versions, time, device, backend, model.
RunRecord Head(const std::string& kind, const std::string& timestamp, const DeviceRecord& device,
               const std::string& backend, const std::string& backend_version,
               const ModelRecord& model, const std::string& precision) {
  RunRecord r;
  r.kind = kind;
  r.tool_version = DEEPEDGE_VERSION;
  r.timestamp_utc = timestamp;
  r.device = device;
  r.backend = backend;
  r.backend_version = backend_version;
  r.model.name = model.name;
  r.model.sha256 = model.sha256;
  r.model.format = model.format;
  r.model.precision = precision;
  r.model.synthetic_weights = model.synthetic_weights;
  r.model.parameters = model.parameters;
  r.model.macs = model.macs;
  return r;
}

}  // namespace

void AddStoreOptions(CLI::App* cmd, StoreOptions& o) {
  cmd->add_option("--store", o.path,
                  "Results store to add the run to (default " + DefaultStorePath().string() + ")");
  cmd->add_flag("--no-store", o.disabled, "Do not keep the run in the results store");
  cmd->add_option("--device", o.device, "Name of this device in the store (default: host name)");
}

std::filesystem::path StorePath(const std::string& path) {
  return path.empty() ? DefaultStorePath() : std::filesystem::path(path);
}

void AddRunFilterOptions(CLI::App* cmd, RunFilter& f) {
  cmd->add_option("--kind", f.kind, "Only runs of this kind (bench, profile, ...)");
  cmd->add_option("--device", f.device, "Only runs on this device name");
  cmd->add_option("--backend", f.backend, "Only runs of this backend");
  cmd->add_option("--model", f.model, "Only runs of this model name");
  cmd->add_option("--precision", f.precision, "Only runs of this precision (fp32, int8, ...)");
}

std::string FormatFigure(double v) {
  char buf[48];
  const double a = std::fabs(v);
  if (a < 1e15 && v == std::floor(v)) {  // counts: "30", not "30.00"
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  if (a != 0 && (a >= 1e7 || a < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  } else {
    const int decimals = a == 0 ? 0 : std::max(0, 3 - static_cast<int>(std::floor(std::log10(a))));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

std::string UtcNowIso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

DeviceRecord MakeDeviceRecord(const EnvironmentInfo& env, const std::string& name,
                              const std::filesystem::path& proc) {
  DeviceRecord d;
  d.name = name.empty() ? env.hostname : name;
  d.cpu_model = env.cpu_model;
  d.cores = env.logical_cores;
  d.os = env.os;
  d.kernel = env.kernel;
  std::ifstream meminfo(proc / "meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream in(line.substr(9));
    long long kib = 0;
    if (in >> kib) d.memory_bytes = kib * 1024;
    break;
  }
  return d;
}

std::string ModelPrecision(const ModelInfo& info) {
  for (const auto& [op, count] : info.operator_counts) {
    if (count <= 0) continue;
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" ||
        op.rfind("QLinear", 0) == 0 || op == "ConvInteger" || op == "MatMulInteger" ||
        op == "QUANTIZE") {
      return "int8";
    }
  }
  auto count = [&](const char* type) {
    auto it = info.tensor_type_counts.find(type);
    return it == info.tensor_type_counts.end() ? 0 : it->second;
  };
  for (const TensorInfo& t : info.inputs) {
    if ((t.dtype == DType::kI8 || t.dtype == DType::kU8) && t.quantization) return "int8";
  }
  if (count("int8") > 0 || count("uint8") > 0) return "int8";
  if (count("float16") > 0) return "fp16";  // float16 weights dequantized to float
  return "fp32";
}

RunRecord BenchRunRecord(const BenchRecord& rec, const DeviceRecord& device,
                         const std::string& precision) {
  const BenchResult& res = rec.result;
  RunRecord r = Head("bench", rec.timestamp_utc, device, rec.backend, rec.backend_version,
                     rec.model, precision);
  r.tool_version = rec.tool_version;
  r.config["threads"] = std::to_string(rec.threads);
  r.config["scenario"] = std::string(ScenarioName(res.scenario));
  r.config["batch"] = std::to_string(res.batch);
  r.config["input"] = rec.input;
  r.config["min_queries"] = std::to_string(res.stop.min_queries);
  char duration[32];
  std::snprintf(duration, sizeof duration, "%g", res.stop.min_duration_s);
  r.config["min_duration_s"] = duration;
  for (const auto& [k, v] : rec.backend_options) r.config["option." + k] = v;
  r.config["valid"] = Bool(res.valid);
  r.config["latency_sampled"] =
      Bool(static_cast<std::int64_t>(res.latency_samples_ms.size()) < res.queries);

  const Summary& l = res.latency_ms;
  AddMetric(r, "latency.min", l.min, "ms");
  AddMetric(r, "latency.mean", l.mean, "ms");
  AddMetric(r, "latency.p50", l.p50, "ms");
  if (l.median_ci_valid) {
    r.metrics.back().ci_low = l.median_ci_low;
    r.metrics.back().ci_high = l.median_ci_high;
  }
  AddMetric(r, "latency.p90", l.p90, "ms");
  AddMetric(r, "latency.p95", l.p95, "ms");
  AddMetric(r, "latency.p99", l.p99, "ms");
  AddMetric(r, "latency.max", l.max, "ms");
  AddMetric(r, "latency.stddev", l.stddev, "ms");
  AddMetric(r, "latency.count", static_cast<double>(res.queries), "queries");
  AddMetric(r, "throughput.queries_per_s", res.throughput_qps, "queries/s");
  AddMetric(r, "throughput.samples_per_s", res.throughput_samples_per_s, "samples/s");
  for (const MonitorReport& m : res.monitors) {
    if (!m.supported) continue;
    for (const Metric& x : m.metrics) {
      AddMetric(r, m.monitor + "." + x.name, x.value, x.unit,
                x.provenance == Provenance::kEstimated);
    }
  }
  if (const std::optional<Metric> e = EnergyPerInference(res)) {
    AddMetric(r, "energy.per_inference", e->value, e->unit,
              e->provenance == Provenance::kEstimated);
  }
  if (res.model_load_memory_mib)
    AddMetric(r, "memory.model_load", *res.model_load_memory_mib, "MiB");
  if (res.arena_mib) AddMetric(r, "memory.arena", *res.arena_mib, "MiB");
  AddMetric(r, "phase.load", res.phases.load_ms, "ms");
  AddMetric(r, "phase.first_inference", res.phases.first_inference_ms, "ms");

  r.latency_samples_ms = res.latency_samples_ms;
  if (rec.accuracy) {
    // An accuracy run (`deepedge eval`): proportions in percent with their Wilson bounds.
    r.kind = "eval";
    r.config["dataset"] = rec.accuracy->dataset;
    r.config["card"] = rec.accuracy->card;
    r.config["samples"] = std::to_string(rec.accuracy->samples);
    r.config["bad_samples"] = std::to_string(rec.accuracy->bad_samples);
    std::vector<AccuracyMetricRecord> all{rec.accuracy->metric};
    all.insert(all.end(), rec.accuracy->others.begin(), rec.accuracy->others.end());
    for (const AccuracyMetricRecord& a : all) {
      r.metrics.push_back(
          {"accuracy." + a.name, a.value * 100.0, "%", false, a.ci_low * 100.0, a.ci_high * 100.0});
    }
  }
  for (const LayerProfile& p : res.layer_profile) {
    r.layers.push_back({p.name, p.type, p.time_ms, p.output_bytes, p.macs});
  }
  r.warnings = rec.warnings;
  nlohmann::json details = {{"model_path", rec.model.path},
                            {"queries", res.queries},
                            {"samples", res.samples},
                            {"measured_s", res.phases.measured_s},
                            {"warmup_queries", res.phases.warmup_queries},
                            {"invalid_reasons", res.invalid_reasons},
                            {"monitors", nlohmann::json::array()}};
  for (const MonitorReport& m : res.monitors) {
    details["monitors"].push_back({{"monitor", m.monitor},
                                   {"supported", m.supported},
                                   {"source", m.source},
                                   {"unsupported_reason", m.unsupported_reason},
                                   {"notes", m.notes}});
  }
  r.details_json = details.dump();
  return r;
}

int StoreRuns(const StoreOptions& o, std::span<const RunRecord> runs) {
  if (o.disabled || runs.empty()) return 0;
  const std::filesystem::path path = StorePath(o.path);
  Expected<ResultsStore> store = ResultsStore::Open(path);
  if (!store) {
    (void)ReportError(store.status().WithContext("run not stored"));
    return kExitFailure;
  }
  for (const RunRecord& r : runs) {
    Expected<std::int64_t> id = store->Insert(r);
    if (!id) {
      (void)ReportError(id.status().WithContext("run not stored"));
      return kExitFailure;
    }
    std::fprintf(stderr, "stored as run %lld in %s\n", static_cast<long long>(*id),
                 path.string().c_str());
  }
  return 0;
}

int StoreBenchRecords(const StoreOptions& o, const std::vector<BenchRecord>& records,
                      const EnvironmentInfo& env, const ModelInfo& info) {
  if (o.disabled) return 0;
  const DeviceRecord device = MakeDeviceRecord(env, o.device);
  const std::string precision = ModelPrecision(info);
  std::vector<RunRecord> runs;
  for (const BenchRecord& rec : records) runs.push_back(BenchRunRecord(rec, device, precision));
  return StoreRuns(o, runs);
}

Expected<RunRecord> NewModelRun(const StoreOptions& o, const ModelSource& source,
                                const std::string& kind, const std::string& backend,
                                const std::string& backend_version) {
  Expected<ModelInfo> info = DescribeModel(source);
  if (!info) return info.status();
  Expected<ModelRecord> model = MakeModelRecord(source, *info);
  if (!model) return model.status();
  const EnvironmentInfo env = CaptureEnvironment(MonitorPaths{}, DEEPEDGE_BUILD_TYPE);
  RunRecord r = Head(kind, UtcNowIso(), MakeDeviceRecord(env, o.device), backend, backend_version,
                     *model, ModelPrecision(*info));
  r.warnings = EnvironmentWarnings(env);
  r.details_json = nlohmann::json({{"model_path", model->path}}).dump();
  return r;
}

int StoreProfileRun(const StoreOptions& o, const ModelSource& source, const ProfileSummary& p) {
  if (o.disabled) return 0;
  Expected<RunRecord> head = NewModelRun(o, source, "profile", p.backend, p.backend_version);
  if (!head) {
    (void)ReportError(head.status().WithContext("run not stored"));
    return kExitFailure;
  }
  RunRecord& r = *head;
  r.config["threads"] = std::to_string(p.threads);
  r.config["runs"] = std::to_string(p.runs);
  r.config["input"] = p.input;
  r.config["batch"] = "1";
  for (const auto& [k, v] : p.backend_options) r.config["option." + k] = v;
  AddMetric(r, "profile.total", p.total_ms, "ms");
  AddMetric(r, "profile.as_run", p.as_run_ms, "ms");
  if (p.arena_bytes) {
    AddMetric(r, "memory.arena", static_cast<double>(*p.arena_bytes) / (1 << 20), "MiB");
  }
  r.layers = p.layers;
  return StoreRuns(o, std::span<const RunRecord>(&r, 1));
}

}  // namespace deepedge::app
