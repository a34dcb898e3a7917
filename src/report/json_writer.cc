#include <nlohmann/json.hpp>

#include "deepedge/report.h"

namespace deepedge {

using nlohmann::json;

namespace {

template <typename T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json EnvironmentJson(const EnvironmentInfo& e) {
  json freqs = json::array();
  for (const CoreFrequency& f : e.frequencies) {
    freqs.push_back({{"cpu", f.cpu},
                     {"governor", f.governor},
                     {"current_mhz", OrNull(f.current_mhz)},
                     {"max_mhz", OrNull(f.max_mhz)},
                     {"limit_mhz", OrNull(f.limit_mhz)}});
  }
  json zones = json::array();
  for (const ThermalZone& z : e.thermal_zones) {
    zones.push_back({{"zone", z.zone}, {"type", z.type}, {"celsius", z.celsius}});
  }
  json throttles = json::array();
  for (const ThrottleCount& t : e.throttle_counts) {
    throttles.push_back({{"cpu", t.cpu},
                         {"core_throttle_count", t.core_throttle_count},
                         {"package_throttle_count", OrNull(t.package_throttle_count)}});
  }
  json load = nullptr;
  if (e.load_average) {
    load = {{"one_min", e.load_average->one_min},
            {"five_min", e.load_average->five_min},
            {"fifteen_min", e.load_average->fifteen_min}};
  }
  return {{"cpu_model", e.cpu_model},
          {"logical_cores", e.logical_cores},
          {"frequencies", freqs},
          {"thermal_zones", zones},
          {"throttle_counts", throttles},
          {"kernel", e.kernel},
          {"os", e.os},
          {"hostname", e.hostname},
          {"load_average", load},
          {"build_type", e.build_type}};
}

json MonitorJson(const MonitorReport& m) {
  json metrics = json::array();
  for (const Metric& x : m.metrics) {
    metrics.push_back({{"name", x.name},
                       {"value", x.value},
                       {"unit", x.unit},
                       {"provenance", std::string(ProvenanceName(x.provenance))}});
  }
  json timelines = json::array();
  for (const Timeline& t : m.timelines) {
    timelines.push_back({{"name", t.name}, {"unit", t.unit}, {"t_s", t.t_s}, {"values", t.values}});
  }
  json j = {{"monitor", m.monitor}, {"supported", m.supported}, {"source", m.source},
            {"metrics", metrics},   {"timelines", timelines},   {"notes", m.notes}};
  if (!m.supported) j["unsupported_reason"] = m.unsupported_reason;
  return j;
}

json AccuracyMetricJson(const AccuracyMetricRecord& m) {
  return {{"name", m.name},
          {"value", m.value},
          {"ci_low", m.ci_low},
          {"ci_high", m.ci_high},
          {"confidence", m.confidence}};
}

// Present only for `deepedge eval` records (an optional field of the version-1 record).
json AccuracyJson(const AccuracyRecord& a) {
  json j = AccuracyMetricJson(a.metric);
  json others = json::array();
  for (const AccuracyMetricRecord& m : a.others) others.push_back(AccuracyMetricJson(m));
  j["other_metrics"] = others;
  j["samples"] = a.samples;
  j["bad_samples"] = a.bad_samples;
  j["dataset"] = a.dataset;
  j["card"] = a.card;
  return j;
}

json RecordJson(const BenchRecord& rec) {
  const BenchResult& r = rec.result;
  const Summary& l = r.latency_ms;
  json inputs = json::array();
  for (const TensorInfo& t : r.inputs) {
    inputs.push_back(
        {{"name", t.name}, {"dtype", std::string(DTypeName(t.dtype))}, {"shape", t.shape.dims()}});
  }
  json monitors = json::array();
  for (const MonitorReport& m : r.monitors) monitors.push_back(MonitorJson(m));
  json layers = nullptr;
  if (!r.layer_profile.empty()) {
    layers = json::array();
    for (const LayerProfile& l : r.layer_profile) {
      layers.push_back({{"name", l.name}, {"type", l.type}, {"time_ms", l.time_ms}});
    }
  }
  json energy = nullptr;
  if (auto e = EnergyPerInference(r)) {
    energy = {{"value", e->value},
              {"unit", "mJ"},
              {"provenance", std::string(ProvenanceName(e->provenance))}};
  }
  json j = {
      {"tool_version", rec.tool_version},
      {"timestamp_utc", rec.timestamp_utc},
      {"environment", EnvironmentJson(rec.environment)},
      {"warnings", rec.warnings},
      {"model",
       {{"name", rec.model.name},
        {"path", rec.model.path},
        {"sha256", rec.model.sha256},
        {"format", rec.model.format},
        {"synthetic_weights", rec.model.synthetic_weights},
        {"parameters", OrNull(rec.model.parameters)},
        {"macs", OrNull(rec.model.macs)}}},
      {"backend",
       {{"name", rec.backend}, {"version", rec.backend_version}, {"options", rec.backend_options}}},
      {"config",
       {{"scenario", std::string(ScenarioName(r.scenario))},
        {"batch", r.batch},
        {"threads", rec.threads},
        {"input", rec.input},
        {"stop_rule",
         {{"min_queries", r.stop.min_queries},
          {"min_duration_s", r.stop.min_duration_s},
          {"max_duration_s", r.stop.max_duration_s},
          {"max_queries", r.stop.max_queries}}}}},
      {"inputs", inputs},
      {"phases",
       {{"load_ms", r.phases.load_ms},
        {"first_inference_ms", r.phases.first_inference_ms},
        {"warmup_ms", r.phases.warmup_ms},
        {"warmup_queries", r.phases.warmup_queries},
        {"measured_s", r.phases.measured_s}}},
      {"queries", r.queries},
      {"samples", r.samples},
      {"latency_ms",
       {{"count", l.count},
        {"min", l.min},
        {"max", l.max},
        {"mean", l.mean},
        {"stddev", l.stddev},
        {"cv", l.cv},
        {"p50", l.p50},
        {"p90", l.p90},
        {"p95", l.p95},
        {"p99", l.p99},
        {"median_ci",
         {{"confidence", l.confidence},
          {"low", l.median_ci_low},
          {"high", l.median_ci_high},
          {"valid", l.median_ci_valid}}}}},
      {"latency_sampled", r.latency_sampled},
      {"throughput",
       {{"queries_per_s", r.throughput_qps}, {"samples_per_s", r.throughput_samples_per_s}}},
      {"valid", r.valid},
      {"invalid_reasons", r.invalid_reasons},
      {"model_load_memory_mib", OrNull(r.model_load_memory_mib)},
      {"arena_mib", OrNull(r.arena_mib)},
      {"energy_per_inference", energy},
      {"monitors", monitors},
      {"layer_profile", layers},
      {"layer_profile_status", r.layer_profile_status},
  };
  if (rec.accuracy) j["accuracy"] = AccuracyJson(*rec.accuracy);
  return j;
}

}  // namespace

std::string FormatBenchJson(std::span<const BenchRecord> records) {
  json doc = {{"schema", "deepedge.bench"},
              {"schema_version", kBenchSchemaVersion},
              {"records", json::array()}};
  for (const BenchRecord& rec : records) doc["records"].push_back(RecordJson(rec));
  return doc.dump(2) + "\n";
}

}  // namespace deepedge
