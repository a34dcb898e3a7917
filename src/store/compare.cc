// Grouping, ratios and significance for `deepedge compare`.
#include "deepedge/compare.h"

#include <algorithm>
#include <set>

namespace deepedge {
namespace {

std::string JoinSet(const std::set<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : ", ") + (v.empty() ? "\"\"" : v);
  return out;
}

// Whether run `a` is newer than run `b`.
bool Newer(const RunRecord& a, const RunRecord& b) {
  if (a.timestamp_utc != b.timestamp_utc) return a.timestamp_utc > b.timestamp_utc;
  return a.id > b.id;
}

}  // namespace

std::optional<CompareAxis> ParseCompareAxis(std::string_view name) {
  if (name == "device") return CompareAxis::kDevice;
  if (name == "backend") return CompareAxis::kBackend;
  if (name == "model") return CompareAxis::kModel;
  if (name == "precision") return CompareAxis::kPrecision;
  return std::nullopt;
}

std::string_view CompareAxisName(CompareAxis axis) {
  switch (axis) {
    case CompareAxis::kDevice:
      return "device";
    case CompareAxis::kBackend:
      return "backend";
    case CompareAxis::kModel:
      return "model";
    case CompareAxis::kPrecision:
      return "precision";
  }
  return "?";
}

std::string AxisValue(const RunRecord& run, CompareAxis axis) {
  switch (axis) {
    case CompareAxis::kDevice:
      return run.device.name;
    case CompareAxis::kBackend:
      return run.backend;
    case CompareAxis::kModel:
      return run.model.name;
    case CompareAxis::kPrecision:
      return run.model.precision;
  }
  return {};
}

bool IntervalsOverlap(double low_a, double high_a, double low_b, double high_b) {
  return low_a <= high_b && low_b <= high_a;
}

Expected<CompareTable> CompareRuns(std::span<const RunRecord> runs, CompareAxis axis,
                                   std::string_view metric, std::string_view baseline) {
  if (runs.empty()) return NotFound("no stored runs match");
  CompareTable table;
  table.axis = axis;
  table.metric = std::string(metric);

  // Groups in order of their first run's id.
  std::vector<const RunRecord*> ordered;
  for (const RunRecord& r : runs) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const RunRecord* a, const RunRecord* b) { return a->id < b->id; });
  std::vector<std::string> names;
  std::vector<const RunRecord*> chosen;
  for (const RunRecord* r : ordered) {
    const std::string g = AxisValue(*r, axis);
    auto it = std::find(names.begin(), names.end(), g);
    std::size_t i = static_cast<std::size_t>(it - names.begin());
    if (it == names.end()) {
      names.push_back(g);
      chosen.push_back(nullptr);
      table.rows.emplace_back();
      table.rows.back().group = g;
    }
    CompareRow& row = table.rows[i];
    ++row.runs;
    if (FindRunMetric(*r, table.metric) == nullptr) continue;
    if (chosen[i] == nullptr || Newer(*r, *chosen[i])) chosen[i] = r;
  }

  std::set<std::string> have;
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    if (chosen[i] == nullptr) continue;
    table.rows[i].run_id = chosen[i]->id;
    table.rows[i].timestamp_utc = chosen[i]->timestamp_utc;
    table.rows[i].metric = *FindRunMetric(*chosen[i], table.metric);
    have.insert(table.rows[i].group);
  }
  if (have.empty()) {
    std::set<std::string> metrics;
    for (const RunRecord& r : runs) {
      for (const RunMetric& m : r.metrics) metrics.insert(m.name);
    }
    return NotFound("no matching run reports metric '" + table.metric + "' (metrics stored: " +
                    (metrics.empty() ? std::string("none") : JoinSet(metrics)) + ")");
  }

  // The baseline.
  std::size_t base = table.rows.size();
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    if (baseline.empty() ? table.rows[i].metric.has_value() : table.rows[i].group == baseline) {
      base = i;
      break;
    }
  }
  if (base == table.rows.size()) {
    return InvalidArgument("baseline '" + std::string(baseline) + "' is not a " +
                           std::string(CompareAxisName(axis)) + " among the runs (" +
                           JoinSet(std::set<std::string>(names.begin(), names.end())) + ")");
  }
  if (!table.rows[base].metric) {
    return InvalidArgument("baseline '" + std::string(baseline) + "' has no run reporting '" +
                           table.metric + "'");
  }
  table.baseline = table.rows[base].group;
  table.rows[base].baseline = true;
  const RunMetric& b = *table.rows[base].metric;
  std::set<std::string> units;
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    CompareRow& row = table.rows[i];
    if (!row.metric) {
      table.notes.push_back(std::string(CompareAxisName(axis)) + " " + row.group +
                            ": none of its " + std::to_string(row.runs) + " run(s) reports " +
                            table.metric);
      continue;
    }
    units.insert(row.metric->unit);
    if (b.value != 0) row.ratio = row.metric->value / b.value;
    if (i == base) continue;
    const RunMetric& m = *row.metric;
    if (m.ci_low && m.ci_high && b.ci_low && b.ci_high) {
      row.significant = !IntervalsOverlap(*m.ci_low, *m.ci_high, *b.ci_low, *b.ci_high);
    }
  }
  if (units.size() > 1) {
    table.notes.push_back("units differ between groups (" + JoinSet(units) +
                          "): ratios compare unlike figures");
  }

  // Say when the runs compared differ in something other than the axis.
  struct Other {
    const char* what;
    std::string (*get)(const RunRecord&);
  };
  const Other others[] = {
      {"kind", [](const RunRecord& r) { return r.kind; }},
      {"device", [](const RunRecord& r) { return r.device.name; }},
      {"backend", [](const RunRecord& r) { return r.backend; }},
      {"model", [](const RunRecord& r) { return r.model.name; }},
      {"precision", [](const RunRecord& r) { return r.model.precision; }},
      {"threads",
       [](const RunRecord& r) {
         auto it = r.config.find("threads");
         return it == r.config.end() ? std::string() : it->second;
       }},
      {"batch",
       [](const RunRecord& r) {
         auto it = r.config.find("batch");
         return it == r.config.end() ? std::string() : it->second;
       }},
  };
  for (const Other& o : others) {
    if (std::string_view(o.what) == CompareAxisName(axis)) continue;
    std::set<std::string> values;
    for (const RunRecord* r : chosen) {
      if (r != nullptr) values.insert(o.get(*r));
    }
    if (values.size() > 1) {
      table.notes.push_back(std::string("the runs compared also differ in ") + o.what + " (" +
                            JoinSet(values) + "); filter to compare like with like");
    }
  }
  return table;
}

}  // namespace deepedge
