#include "deepedge/report.h"
#include "table.h"

#include <algorithm>

namespace deepedge {

using report::Format;
using report::TextTable;

namespace {

// A duration given in milliseconds, in the unit that keeps it readable.
std::string Duration(double ms) {
  if (ms >= 1000) return Format("%.2f s", ms / 1000);
  if (ms >= 100) return Format("%.1f ms", ms);
  if (ms >= 1) return Format("%.2f ms", ms);
  if (ms >= 1e-3) return Format("%.2f us", ms * 1e3);
  return Format("%.0f ns", ms * 1e6);
}

// An energy given in millijoules, likewise.
std::string Energy(double mj) {
  if (mj >= 1000) return Format("%.2f J", mj / 1000);
  if (mj >= 0.1) return Format("%.2f mJ", mj);
  return Format("%.2f uJ", mj * 1e3);
}

std::string Estimated(const std::optional<Metric>& m, std::string s) {
  if (m && m->provenance == Provenance::kEstimated) s += " (est.)";
  return s;
}

std::string MetricText(const std::optional<Metric>& m, const char* fmt) {
  if (!m) return "n/a";
  std::string s = Format(fmt, m->value);
  if (m->provenance == Provenance::kEstimated) s += " (est.)";
  return s;
}

// A count with an SI prefix: 950, 12.3 k, 4.25 M, 1.81 G.
std::string Count(std::int64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return Format("%.2f G", v / 1e9);
  if (v >= 1e6) return Format("%.2f M", v / 1e6);
  if (v >= 1e3) return Format("%.1f k", v / 1e3);
  return Format("%lld", static_cast<long long>(n));
}

std::string ModelLine(const ModelRecord& m) {
  std::string s = m.name + " (" + m.format;
  if (m.parameters) s += ", " + Count(*m.parameters) + " params";
  if (m.macs) s += ", " + Count(*m.macs) + " MACs";
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
      out += "  memory     peak RSS " +
             MetricText(FindMetric(r, "memory", "peak_rss_mib"), "%.1f MiB");
      if (r.model_load_memory_mib)
        out += Format("; added by model load %.1f MiB", *r.model_load_memory_mib);
      out += r.arena_mib ? Format("; engine arena %.2f MiB", *r.arena_mib)
                         : std::string("; engine arena not reported");
      out += "\n";
    } else if (m.monitor == "energy") {
      auto e = FindMetric(r, "energy", "energy_j");
      auto p = FindMetric(r, "energy", "average_power_w");
      auto per = EnergyPerInference(r);
      const bool est = e && e->provenance == Provenance::kEstimated;
      // The leading ESTIMATED covers every figure on the line.
      auto plain = [](const std::optional<Metric>& m, const char* fmt) {
        return m ? Format(fmt, m->value) : std::string("n/a");
      };
      out += std::string("  energy     ") + (est ? "ESTIMATED " : "") +
             (per ? Energy(per->value) : "n/a") + " per inference; " + plain(e, "%.2f J") +
             " in the measured loop, average " + plain(p, "%.2f W") + "\n";
      out += "             source: " + m.source + "\n";
    } else {
      for (const Metric& x : m.metrics) {
        out += Format("  %-10s %s %.3f %s\n", m.monitor.c_str(), x.name.c_str(), x.value,
                      x.unit.c_str());
      }
    }
    for (const std::string& note : m.notes) out += "             note: " + note + "\n";
  }
  return out;
}

// The slowest layers of the profiled query, with their share of the layer total.
std::string LayerLines(const BenchResult& r) {
  if (!r.layer_profile_status.empty())
    return "  layers     unavailable: " + r.layer_profile_status + "\n";
  if (r.layer_profile.empty()) return "";
  std::vector<LayerProfile> layers = r.layer_profile;
  double total = 0;
  for (const LayerProfile& l : layers) total += l.time_ms;
  std::stable_sort(layers.begin(), layers.end(), [](const LayerProfile& a, const LayerProfile& b) {
    return a.time_ms > b.time_ms;
  });
  constexpr std::size_t kShown = 10;
  std::string out = Format("  layers     %zu, %s in total (last query); the slowest:\n",
                           layers.size(), Duration(total).c_str());
  TextTable t({"layer", "type", "time", "share"});
  for (std::size_t i = 0; i < layers.size() && i < kShown; ++i) {
    t.AddRow({layers[i].name, layers[i].type, Duration(layers[i].time_ms),
              total > 0 ? Format("%.1f%%", layers[i].time_ms / total * 100) : "n/a"});
  }
  return out + t.ToString("             ");
}

std::string RecordBlock(const BenchRecord& rec) {
  const BenchResult& r = rec.result;
  std::string out;
  out += "model      " + ModelLine(rec.model) + "\n";
  const EnvironmentInfo& e = rec.environment;
  out += Format("device     %s: %s, %d cores, %s, kernel %s, %s build\n", e.hostname.c_str(),
                e.cpu_model.empty() ? "unknown CPU" : e.cpu_model.c_str(), e.logical_cores,
                e.os.empty() ? "unknown OS" : e.os.c_str(), e.kernel.c_str(), e.build_type.c_str());
  std::string opts;
  for (const auto& [k, v] : rec.backend_options) opts += " " + k + "=" + v;
  out += Format("backend    %s %s%s, threads %s, scenario %s, batch %d, input %s\n",
                rec.backend.c_str(), rec.backend_version.c_str(), opts.c_str(),
                rec.threads > 0 ? std::to_string(rec.threads).c_str() : "default",
                std::string(ScenarioName(r.scenario)).c_str(), r.batch, rec.input.c_str());
  out += Format(
      "phases     load %s | first inference %s | warm-up %lld queries in %s | "
      "measured %lld queries in %.2f s\n",
      Duration(r.phases.load_ms).c_str(), Duration(r.phases.first_inference_ms).c_str(),
      static_cast<long long>(r.phases.warmup_queries), Duration(r.phases.warmup_ms).c_str(),
      static_cast<long long>(r.queries), r.phases.measured_s);
  out += std::string("result     ") + (r.valid ? "VALID" : "INVALID") +
         Format(" (stop rule: >= %lld queries and >= %.1f s)\n",
                static_cast<long long>(r.stop.min_queries), r.stop.min_duration_s);
  const Summary& l = r.latency_ms;
  TextTable t({"latency", "min", "p50", "p90", "p95", "p99", "max", "mean", "stddev", "cv"});
  t.AddRow({"per query", Duration(l.min), Duration(l.p50), Duration(l.p90), Duration(l.p95),
            Duration(l.p99), Duration(l.max), Duration(l.mean), Duration(l.stddev),
            Format("%.1f%%", l.cv * 100)});
  out += t.ToString("  ");
  out += Format("  median %.0f%% confidence interval: [%s, %s]%s\n", l.confidence * 100,
                Duration(l.median_ci_low).c_str(), Duration(l.median_ci_high).c_str(),
                l.median_ci_valid ? "" : " (too few queries for a real interval)");
  if (r.latency_sampled) {
    out += Format(
        "  percentiles from a uniform sample of %zu of the %lld queries; count, min, max, "
        "mean and stddev are exact\n",
        SampleRecorder::kDefaultCapacity, static_cast<long long>(r.queries));
  }
  out += Format("  throughput %.2f queries/s, %.2f samples/s\n", r.throughput_qps,
                r.throughput_samples_per_s);
  out += MonitorLines(rec);
  out += LayerLines(r);
  return out;
}

}  // namespace

std::string FormatBenchText(std::span<const BenchRecord> records) {
  std::string out;
  for (const BenchRecord& rec : records) out += RecordBlock(rec) + "\n";
  if (records.size() > 1) {
    TextTable t({"backend", "p50", "p90", "p99", "throughput", "CPU (machine)", "peak RSS",
                 "energy/inference", "valid", "p50 vs " + records[0].backend});
    const double base = records[0].result.latency_ms.p50;
    for (const BenchRecord& rec : records) {
      const BenchResult& r = rec.result;
      const auto energy = EnergyPerInference(r);
      t.AddRow({rec.backend, Duration(r.latency_ms.p50), Duration(r.latency_ms.p90),
                Duration(r.latency_ms.p99), Format("%.1f q/s", r.throughput_qps),
                MetricText(FindMetric(r, "cpu", "utilisation_machine"), "%.0f %%"),
                MetricText(FindMetric(r, "memory", "peak_rss_mib"), "%.1f MiB"),
                energy ? Estimated(energy, Energy(energy->value)) : "n/a", r.valid ? "yes" : "NO",
                base > 0 ? Format("%.3gx", r.latency_ms.p50 / base) : "n/a"});
    }
    out += "comparison (" + records[0].model.name + ")\n" + t.ToString("  ");
    const bool any_estimate = std::any_of(records.begin(), records.end(), [](const BenchRecord& r) {
      auto e = EnergyPerInference(r.result);
      return e && e->provenance == Provenance::kEstimated;
    });
    if (any_estimate) {
      out += "  (est.) = estimated from CPU time with a power model: no energy sensor was read.\n";
    }
    out += "\n";
  }
  // Warnings are shared by the runs of one invocation; print each once.
  std::vector<std::string> warnings;
  for (const BenchRecord& rec : records) {
    for (const std::string& w : rec.warnings) {
      std::string line =
          records.size() > 1 && w.rfind("result invalid", 0) == 0 ? rec.backend + ": " + w : w;
      if (std::find(warnings.begin(), warnings.end(), line) == warnings.end())
        warnings.push_back(line);
    }
  }
  if (!records.empty()) {
    const std::vector<std::string> notes = EnvironmentNotes(records[0].environment);
    if (!notes.empty()) {
      out += "notes\n";
      for (const std::string& n : notes) out += "  - " + n + "\n";
    }
  }
  if (!warnings.empty()) {
    out += "warnings\n";
    for (const std::string& w : warnings) out += "  - " + w + "\n";
  }
  return out;
}

}  // namespace deepedge
