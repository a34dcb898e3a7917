#include "deepedge/report.h"
#include "table.h"

#include <algorithm>

namespace deepedge {

using report::Format;
using report::TextTable;

namespace {

std::string Ms(double v) { return v >= 100 ? Format("%.1f", v) : v >= 1 ? Format("%.2f", v) : Format("%.4f", v); }

std::string MetricText(const std::optional<Metric>& m, const char* fmt) {
  if (!m) return "n/a";
  std::string s = Format(fmt, m->value);
  if (m->provenance == Provenance::kEstimated) s += " (est.)";
  return s;
}

std::string ModelLine(const ModelRecord& m) {
  std::string s = m.name + " (" + m.format;
  if (m.parameters) s += Format(", %.2f M params", static_cast<double>(*m.parameters) / 1e6);
  if (m.macs) s += Format(", %.1f M MACs", static_cast<double>(*m.macs) / 1e6);
  s += m.synthetic_weights ? ", SYNTHETIC weights: timings only, predictions meaningless)"
                           : ", trained weights as stored)";
  return s;
}

std::string MonitorLines(const BenchRecord& rec) {
  const BenchResult& r = rec.result;
  std::string out;
  for (const MonitorReport& m : r.monitors) {
    if (!m.supported) {
      out += Format("  %-10s unsupported: %s\n", m.monitor.c_str(), m.unsupported_reason.c_str());
      continue;
    }
    if (m.monitor == "cpu") {
      auto cpu = FindMetric(r, "cpu", "cpu_time_s");
      auto user = FindMetric(r, "cpu", "user_time_s");
      auto sys = FindMetric(r, "cpu", "system_time_s");
      auto one = FindMetric(r, "cpu", "utilisation_one_core");
      auto all = FindMetric(r, "cpu", "utilisation_machine");
      out += "  cpu        process time " + MetricText(cpu, "%.2f s") + " (user " +
             MetricText(user, "%.2f s") + ", system " + MetricText(sys, "%.2f s") + "); " +
             MetricText(one, "%.0f%%") + " of one core, " + MetricText(all, "%.0f%%") +
             " of the machine\n";
      std::string cores;
      for (const Metric& x : m.metrics) {
        if (x.name.rfind("core", 0) == 0 && x.unit == "%") {
          cores += (cores.empty() ? "" : ", ") + x.name.substr(0, x.name.find('_')) +
                   Format(" %.0f%%", x.value);
        }
      }
      if (!cores.empty()) out += "             system-wide busy: " + cores + "\n";
    } else if (m.monitor == "memory") {
      out += "  memory     peak RSS " + MetricText(FindMetric(r, "memory", "peak_rss_mib"), "%.1f MiB");
      if (r.model_load_memory_mib) out += Format("; added by model load %.1f MiB", *r.model_load_memory_mib);
      out += "\n";
    } else if (m.monitor == "energy") {
      auto e = FindMetric(r, "energy", "energy_j");
      auto p = FindMetric(r, "energy", "average_power_w");
      auto per = EnergyPerInference(r);
      const bool est = e && e->provenance == Provenance::kEstimated;
      out += std::string("  energy     ") + (est ? "ESTIMATED " : "") +
             MetricText(per, "%.2f mJ") + " per inference; " + MetricText(e, "%.2f J") +
             " in the measured loop, average " + MetricText(p, "%.2f W") + "\n";
      out += "             source: " + m.source + "\n";
    } else {
      for (const Metric& x : m.metrics) {
        out += Format("  %-10s %s %.3f %s\n", m.monitor.c_str(), x.name.c_str(), x.value, x.unit.c_str());
      }
    }
    for (const std::string& note : m.notes) out += "             note: " + note + "\n";
  }
  return out;
}

std::string RecordBlock(const BenchRecord& rec) {
  const BenchResult& r = rec.result;
  std::string out;
  out += "model      " + ModelLine(rec.model) + "\n";
  std::string opts;
  for (const auto& [k, v] : rec.backend_options) opts += " " + k + "=" + v;
  out += Format("backend    %s %s%s, threads %s, scenario %s, batch %d, input %s\n", rec.backend.c_str(),
                rec.backend_version.c_str(), opts.c_str(),
                rec.threads > 0 ? std::to_string(rec.threads).c_str() : "default",
                std::string(ScenarioName(r.scenario)).c_str(), r.batch, rec.input.c_str());
  out += Format("phases     load %s ms | first inference %s ms | warm-up %lld queries in %s ms | "
                "measured %lld queries in %.2f s\n",
                Ms(r.phases.load_ms).c_str(), Ms(r.phases.first_inference_ms).c_str(),
                static_cast<long long>(r.phases.warmup_queries), Ms(r.phases.warmup_ms).c_str(),
                static_cast<long long>(r.queries), r.phases.measured_s);
  out += std::string("result     ") +
         (r.valid ? "VALID" : "INVALID") + Format(" (stop rule: >= %lld queries and >= %.1f s)\n",
                                                  static_cast<long long>(r.stop.min_queries),
                                                  r.stop.min_duration_s);
  const Summary& l = r.latency_ms;
  TextTable t({"latency", "min", "p50", "p90", "p95", "p99", "max", "mean", "stddev", "cv"});
  t.AddRow({"ms/query", Ms(l.min), Ms(l.p50), Ms(l.p90), Ms(l.p95), Ms(l.p99), Ms(l.max), Ms(l.mean),
            Ms(l.stddev), Format("%.1f%%", l.cv * 100)});
  out += t.ToString("  ");
  out += Format("  median %.0f%% confidence interval: [%s, %s] ms%s\n", l.confidence * 100,
                Ms(l.median_ci_low).c_str(), Ms(l.median_ci_high).c_str(),
                l.median_ci_valid ? "" : " (too few queries for a real interval)");
  out += Format("  throughput %.2f queries/s, %.2f samples/s\n", r.throughput_qps,
                r.throughput_samples_per_s);
  out += MonitorLines(rec);
  return out;
}

}  // namespace

std::string FormatBenchText(std::span<const BenchRecord> records) {
  std::string out;
  for (const BenchRecord& rec : records) out += RecordBlock(rec) + "\n";
  if (records.size() > 1) {
    TextTable t({"backend", "p50 ms", "p90 ms", "p99 ms", "throughput q/s", "CPU % machine",
                 "peak RSS MiB", "energy mJ/inf", "valid", "p50 vs " + records[0].backend});
    const double base = records[0].result.latency_ms.p50;
    for (const BenchRecord& rec : records) {
      const BenchResult& r = rec.result;
      t.AddRow({rec.backend, Ms(r.latency_ms.p50), Ms(r.latency_ms.p90), Ms(r.latency_ms.p99),
                Format("%.1f", r.throughput_qps),
                MetricText(FindMetric(r, "cpu", "utilisation_machine"), "%.0f"),
                MetricText(FindMetric(r, "memory", "peak_rss_mib"), "%.1f"),
                MetricText(EnergyPerInference(r), "%.3f"), r.valid ? "yes" : "NO",
                base > 0 ? Format("%.3gx", r.latency_ms.p50 / base) : "n/a"});
    }
    out += "comparison (" + records[0].model.name + ")\n" + t.ToString("  ");
    out += "  (est.) = estimated from CPU time with a power model: no energy sensor was read.\n\n";
  }
  // Warnings are shared by the runs of one invocation; print each once.
  std::vector<std::string> warnings;
  for (const BenchRecord& rec : records) {
    for (const std::string& w : rec.warnings) {
      std::string line = records.size() > 1 && w.rfind("result invalid", 0) == 0 ? rec.backend + ": " + w : w;
      if (std::find(warnings.begin(), warnings.end(), line) == warnings.end()) warnings.push_back(line);
    }
  }
  if (!warnings.empty()) {
    out += "warnings\n";
    for (const std::string& w : warnings) out += "  - " + w + "\n";
  }
  return out;
}

}  // namespace deepedge
