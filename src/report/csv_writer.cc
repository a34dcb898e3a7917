#include "deepedge/report.h"
#include "table.h"

namespace deepedge {

using report::Format;

namespace {

// RFC 4180: quote fields holding a comma, quote or line break; double inner quotes.
std::string Field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

std::string Num(double v) {
  return Format("%.6g", v);
}
std::string Opt(const std::optional<Metric>& m) {
  return m ? Num(m->value) : "";
}

}  // namespace

std::string FormatBenchCsv(std::span<const BenchRecord> records) {
  std::string out =
      "schema_version,timestamp_utc,model,model_sha256,synthetic_weights,backend,backend_version,"
      "scenario,batch,threads,queries,samples,valid,invalid_reasons,load_ms,first_inference_ms,"
      "latency_min_ms,latency_p50_ms,latency_p90_ms,latency_p95_ms,latency_p99_ms,latency_max_ms,"
      "latency_mean_ms,latency_stddev_ms,latency_cv,median_ci_low_ms,median_ci_high_ms,"
      "throughput_qps,throughput_samples_per_s,cpu_time_s,cpu_utilisation_machine_pct,"
      "peak_rss_mib,model_load_memory_mib,energy_j,energy_per_inference_mj,energy_provenance\n";
  for (const BenchRecord& rec : records) {
    const BenchResult& r = rec.result;
    const Summary& l = r.latency_ms;
    std::string reasons;
    for (const std::string& s : r.invalid_reasons) reasons += (reasons.empty() ? "" : "; ") + s;
    const auto energy = FindMetric(r, "energy", "energy_j");
    std::vector<std::string> row = {std::to_string(kBenchSchemaVersion),
                                    rec.timestamp_utc,
                                    rec.model.name,
                                    rec.model.sha256,
                                    rec.model.synthetic_weights ? "true" : "false",
                                    rec.backend,
                                    rec.backend_version,
                                    std::string(ScenarioName(r.scenario)),
                                    std::to_string(r.batch),
                                    std::to_string(rec.threads),
                                    std::to_string(r.queries),
                                    std::to_string(r.samples),
                                    r.valid ? "true" : "false",
                                    reasons,
                                    Num(r.phases.load_ms),
                                    Num(r.phases.first_inference_ms),
                                    Num(l.min),
                                    Num(l.p50),
                                    Num(l.p90),
                                    Num(l.p95),
                                    Num(l.p99),
                                    Num(l.max),
                                    Num(l.mean),
                                    Num(l.stddev),
                                    Num(l.cv),
                                    Num(l.median_ci_low),
                                    Num(l.median_ci_high),
                                    Num(r.throughput_qps),
                                    Num(r.throughput_samples_per_s),
                                    Opt(FindMetric(r, "cpu", "cpu_time_s")),
                                    Opt(FindMetric(r, "cpu", "utilisation_machine")),
                                    Opt(FindMetric(r, "memory", "peak_rss_mib")),
                                    r.model_load_memory_mib ? Num(*r.model_load_memory_mib) : "",
                                    Opt(energy),
                                    Opt(EnergyPerInference(r)),
                                    energy ? std::string(ProvenanceName(energy->provenance)) : ""};
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + Field(row[i]);
    out += "\n";
  }
  return out;
}

}  // namespace deepedge
