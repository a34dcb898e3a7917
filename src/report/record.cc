#include "deepedge/record.h"

namespace deepedge {

std::optional<Metric> FindMetric(const BenchResult& r, std::string_view monitor,
                                 std::string_view metric) {
  for (const MonitorReport& m : r.monitors) {
    if (m.monitor != monitor || !m.supported) continue;
    for (const Metric& x : m.metrics) {
      if (x.name == metric) return x;
    }
  }
  return std::nullopt;
}

std::optional<Metric> EnergyPerInference(const BenchResult& r) {
  std::optional<Metric> total = FindMetric(r, "energy", "energy_j");
  if (!total || r.samples <= 0) return std::nullopt;
  return Metric{"energy_per_inference_mj", total->value * 1e3 / static_cast<double>(r.samples),
                "mJ", total->provenance};
}

}  // namespace deepedge
