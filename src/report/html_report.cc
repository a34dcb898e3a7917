// The HTML report: Vega-Lite specifications built from RunRecords, inlined with the
// Vega JavaScript into one page. See include/deepedge/html_report.h for what is drawn.
#include "deepedge/html_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "deepedge/file_util.h"

namespace deepedge {

using nlohmann::json;

namespace {

// At most this many latency samples per run go into the page (uniformly spaced, in
// query order): enough for a box plot, small enough to keep the file light.
constexpr std::size_t kMaxSamplesPerRun = 5000;
// Per-layer charts beyond this many runs are left out (with a note).
constexpr std::size_t kMaxLayerCharts = 20;

// ---- Escaping -------------------------------------------------------------------

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// JSON for a <script type="application/json"> element: '<', '>' and '&' only occur inside
// JSON strings, where their \u escapes mean the same, so no "</script" or "<!--" survives.
// Invalid UTF-8 in a record is replaced (U+FFFD) instead of throwing.
std::string ScriptJson(const json& j) {
  const std::string raw = j.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(raw.size() + raw.size() / 16);
  for (char c : raw) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool StartsWithNoCase(std::string_view s, std::size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[at + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Third-party JavaScript inside <script>: "</script" would end the element and "<!--"
// would switch the HTML parser into its escaped state. Both can only occur inside string,
// template or regular-expression literals, where "<\/" and "<\!" mean the same.
std::string InlineScript(std::string_view js) {
  std::string out;
  out.reserve(js.size());
  for (std::size_t i = 0; i < js.size(); ++i) {
    if (js[i] == '<' && (StartsWithNoCase(js, i, "</script") || StartsWithNoCase(js, i, "<!--"))) {
      out += '<';
      out += '\\';
      continue;
    }
    out += js[i];
  }
  return out;
}

// Text inside <!-- ... -->: no "--" may occur.
std::string CommentSafe(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' && !out.empty() && out.back() == '-') out += ' ';
    out += c;
  }
  if (!out.empty() && out.back() == '-') out += ' ';
  return out;
}

// ---- Figures --------------------------------------------------------------------

std::string Fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

std::string OrUnknown(const std::string& s) {
  return s.empty() ? "?" : s;
}

std::string Precision(const RunRecord& r) {
  return r.model.precision.empty() ? std::string("?") : r.model.precision;
}

// "device / backend / model / precision": what one run is compared by.
std::string ComboKey(const RunRecord& r) {
  return OrUnknown(r.device.name) + " / " + OrUnknown(r.backend) + " / " + OrUnknown(r.model.name) +
         " / " + Precision(r);
}

// One label per record; a combination repeated within one kind of run (two benches of
// the same model) gets the run id (or position). Runs of different kinds never share a
// chart row, so a bench and an eval of one combination keep the plain label.
std::vector<std::string> RunLabels(std::span<const RunRecord> records) {
  std::map<std::string, int> count;
  for (const RunRecord& r : records) ++count[r.kind + "\n" + ComboKey(r)];
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string label = ComboKey(records[i]);
    if (count[records[i].kind + "\n" + label] > 1) {
      label += records[i].id != 0 ? " (run " + std::to_string(records[i].id) + ")"
                                  : " (#" + std::to_string(i + 1) + ")";
    }
    labels.push_back(std::move(label));
  }
  return labels;
}

json BaseRow(const RunRecord& r, const std::string& label) {
  return {{"run", label},
          {"device", OrUnknown(r.device.name)},
          {"backend", OrUnknown(r.backend)},
          {"model", OrUnknown(r.model.name)},
          {"precision", Precision(r)}};
}

std::optional<double> Median(std::vector<double> v) {
  std::erase_if(v, [](double x) { return !std::isfinite(x); });
  if (v.empty()) return std::nullopt;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2.0;
  }
  return m;
}

// Linear-interpolation quantile of sorted values (R-7, as Vega computes its quartiles).
double Quantile(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// Whether any value lies beyond 1.5 interquartile ranges of its quartiles: only then
// does a box plot have outlier dots (Vega-Lite warns about an empty outlier layer).
bool HasOutliers(std::vector<double> v) {
  if (v.size() < 4) return false;
  std::sort(v.begin(), v.end());
  const double q1 = Quantile(v, 0.25), q3 = Quantile(v, 0.75), iqr = q3 - q1;
  return v.front() < q1 - 1.5 * iqr || v.back() > q3 + 1.5 * iqr;
}

// The y axis every per-run chart shares: run labels in record order.
json RunAxis(const std::vector<std::string>& order) {
  return {{"field", "run"},
          {"type", "nominal"},
          {"sort", order},
          {"title", nullptr},
          {"axis", {{"labelLimit", 460}}}};
}

json Tooltip(std::initializer_list<std::pair<const char*, const char*>> fields) {
  json t = json::array();
  for (const auto& [field, type] : fields) t.push_back({{"field", field}, {"type", type}});
  return t;
}

struct Chart {
  std::string section;
  std::string title;
  std::string note;  // a sentence under the title; "" none
  json spec;
};

// ---- Charts ---------------------------------------------------------------------

void LatencyCharts(std::span<const RunRecord> records, const std::vector<std::string>& labels,
                   std::vector<Chart>& charts) {
  json rows = json::array();
  std::vector<std::string> order;
  bool thinned = false, outliers = false;
  std::size_t total = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::vector<double>& s = records[i].latency_samples_ms;
    const std::size_t n = s.size();
    if (n == 0) continue;
    const std::size_t keep = std::min(n, kMaxSamplesPerRun);
    thinned |= keep < n;
    std::size_t kept = 0;
    std::vector<double> drawn;
    for (std::size_t k = 0; k < keep; ++k) {
      const double v = s[k * n / keep];
      if (!std::isfinite(v)) continue;
      json row = BaseRow(records[i], labels[i]);
      row["latency_ms"] = v;
      rows.push_back(std::move(row));
      drawn.push_back(v);
      ++kept;
    }
    outliers |= HasOutliers(std::move(drawn));
    if (kept > 0) order.push_back(labels[i]);
    total += kept;
  }
  if (!order.empty()) {
    json spec = {{"data", {{"values", rows}}},
                 {"width", 760},
                 {"height", {{"step", 26}}},
                 {"mark",
                  {{"type", "boxplot"},
                   {"extent", outliers ? json(1.5) : json("min-max")},
                   {"median", {{"color", "black"}}}}},
                 {"encoding",
                  {{"y", RunAxis(order)},
                   {"x",
                    {{"field", "latency_ms"},
                     {"type", "quantitative"},
                     {"title", "latency per query (ms)"},
                     {"scale", {{"zero", false}}}}},
                   {"color", {{"field", "device"}, {"type", "nominal"}, {"title", "device"}}}}}};
    std::string note = std::string("Box: quartiles and median; whiskers: ") +
                       (outliers ? "1.5 IQR; dots: queries beyond. " : "minimum to maximum. ") +
                       std::to_string(total) + " queries drawn";
    note += thinned ? " (runs with more than " + std::to_string(kMaxSamplesPerRun) +
                          " samples are thinned uniformly)."
                    : ".";
    charts.push_back({"Latency", "Latency distribution per run", note, std::move(spec)});
  }

  // Runs stored without samples: their percentiles.
  static const char* kStats[] = {"min", "p50", "mean", "p90", "p95", "p99", "max"};
  json stat_rows = json::array();
  std::vector<std::string> stat_order;
  std::string unit;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!records[i].latency_samples_ms.empty()) continue;
    bool any = false;
    for (const char* stat : kStats) {
      const RunMetric* m = FindRunMetric(records[i], std::string("latency.") + stat);
      if (m == nullptr || !std::isfinite(m->value)) continue;
      if (unit.empty()) unit = m->unit;
      json row = BaseRow(records[i], labels[i]);
      row["statistic"] = stat;
      row["value"] = m->value;
      stat_rows.push_back(std::move(row));
      any = true;
    }
    if (any) stat_order.push_back(labels[i]);
  }
  if (!stat_order.empty()) {
    const std::string x_title = "latency (" + (unit.empty() ? std::string("ms") : unit) + ")";
    json stat_domain = json::array();
    for (const char* s : kStats) stat_domain.push_back(s);
    json spec = {{"data", {{"values", stat_rows}}},
                 {"width", 760},
                 {"height", {{"step", 26}}},
                 {"encoding", {{"y", RunAxis(stat_order)}}},
                 {"layer",
                  {{{"mark", {{"type", "rule"}, {"color", "#999"}}},
                    {"encoding",
                     {{"x", {{"aggregate", "min"}, {"field", "value"}, {"type", "quantitative"}}},
                      {"x2", {{"aggregate", "max"}, {"field", "value"}}}}}},
                   {{"mark", {{"type", "point"}, {"filled", true}, {"size", 70}}},
                    {"encoding",
                     {{"x",
                       {{"field", "value"},
                        {"type", "quantitative"},
                        {"title", x_title},
                        {"scale", {{"zero", false}}}}},
                      {"color",
                       {{"field", "statistic"},
                        {"type", "nominal"},
                        {"scale", {{"domain", stat_domain}}},
                        {"title", "statistic"}}},
                      {"shape", {{"field", "statistic"}, {"type", "nominal"}}},
                      {"tooltip", Tooltip({{"run", "nominal"},
                                           {"statistic", "nominal"},
                                           {"value", "quantitative"}})}}}}}}};
    charts.push_back({"Latency", "Latency percentiles (runs stored without per-query samples)", "",
                      std::move(spec)});
  }
}

// One bar chart per (metric name, unit) whose name starts with one of `prefixes`; returns
// how many charts it added.
std::size_t MetricCharts(std::span<const RunRecord> records, const std::vector<std::string>& labels,
                         const std::string& section, const std::vector<std::string>& prefixes,
                         std::vector<Chart>& charts) {
  auto wanted = [&prefixes](const std::string& name) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&name](const std::string& p) { return StartsWith(name, p); });
  };
  std::vector<std::pair<std::string, std::string>> keys;  // first-seen order
  for (const RunRecord& r : records) {
    for (const RunMetric& m : r.metrics) {
      if (!wanted(m.name) || !std::isfinite(m.value)) continue;
      std::pair<std::string, std::string> key{m.name, m.unit};
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  for (const auto& [name, unit] : keys) {
    json rows = json::array();
    std::vector<std::string> order;
    bool any_ci = false, any_estimated = false;
    double lo = 0.0, hi = 0.0;  // the x domain, with room for the value labels
    for (std::size_t i = 0; i < records.size(); ++i) {
      for (const RunMetric& m : records[i].metrics) {
        if (m.name != name || m.unit != unit || !std::isfinite(m.value)) continue;
        lo = std::min(lo, m.value);
        hi = std::max(hi, m.value);
        json row = BaseRow(records[i], labels[i]);
        row["value"] = m.value;
        row["figure"] = m.estimated ? "estimated" : "measured";
        row["label"] =
            Fmt(m.value) + (unit.empty() ? "" : " " + unit) + (m.estimated ? " (estimated)" : "");
        if (m.ci_low && m.ci_high && std::isfinite(*m.ci_low) && std::isfinite(*m.ci_high)) {
          row["ci_low"] = *m.ci_low;
          row["ci_high"] = *m.ci_high;
          any_ci = true;
          lo = std::min(lo, *m.ci_low);
          hi = std::max(hi, *m.ci_high);
        }
        any_estimated |= m.estimated;
        rows.push_back(std::move(row));
        if (std::find(order.begin(), order.end(), labels[i]) == order.end()) {
          order.push_back(labels[i]);
        }
        break;  // one value per run and metric
      }
    }
    const std::string axis_title = name + (unit.empty() ? "" : " (" + unit + ")");
    json layers = json::array();
    layers.push_back(
        {{"mark", {{"type", "bar"}}},
         {"encoding",
          {{"x",
            {{"field", "value"},
             {"type", "quantitative"},
             {"title", axis_title},
             {"scale", {{"domain", {lo, hi > lo ? hi + 0.3 * (hi - lo) : lo + 1.0}}}}}},
           {"color", {{"field", "device"}, {"type", "nominal"}, {"title", "device"}}},
           {"opacity",
            {{"field", "figure"},
             {"type", "ordinal"},
             {"title", "figure"},
             {"scale", {{"domain", {"measured", "estimated"}}, {"range", {1.0, 0.35}}}}}},
           {"tooltip", Tooltip({{"run", "nominal"},
                                {"label", "nominal"},
                                {"backend", "nominal"},
                                {"model", "nominal"},
                                {"precision", "nominal"}})}}}});
    if (any_ci) {
      layers.push_back({{"transform", {{{"filter", "isValid(datum.ci_low)"}}}},
                        {"mark", {{"type", "errorbar"}, {"ticks", true}}},
                        {"encoding",
                         {{"x", {{"field", "ci_low"}, {"type", "quantitative"}}},
                          {"x2", {{"field", "ci_high"}}}}}});
    }
    layers.push_back({{"mark", {{"type", "text"}, {"align", "left"}, {"dx", 4}, {"color", "#333"}}},
                      {"encoding",
                       {{"x", {{"field", "value"}, {"type", "quantitative"}}},
                        {"text", {{"field", "label"}, {"type", "nominal"}}}}}});
    json spec = {{"data", {{"values", rows}}},
                 {"width", 620},
                 {"height", {{"step", 24}}},
                 {"encoding", {{"y", RunAxis(order)}}},
                 {"layer", layers}};
    std::string note;
    if (any_estimated) note = "Lighter bars are estimated (modelled), not measured.";
    if (any_ci) note += std::string(note.empty() ? "" : " ") + "Whiskers: confidence interval.";
    charts.push_back({section, axis_title, note, std::move(spec)});
  }
  return keys.size();
}

void AccuracyCharts(std::span<const RunRecord> records, const std::vector<std::string>& labels,
                    std::vector<Chart>& charts) {
  std::vector<std::string> units;
  for (const RunRecord& r : records) {
    for (const RunMetric& m : r.metrics) {
      if (StartsWith(m.name, "accuracy.") && std::isfinite(m.value) &&
          std::find(units.begin(), units.end(), m.unit) == units.end()) {
        units.push_back(m.unit);
      }
    }
  }
  for (const std::string& unit : units) {
    json rows = json::array();
    std::vector<std::string> order;
    bool any_ci = false;
    for (std::size_t i = 0; i < records.size(); ++i) {
      for (const RunMetric& m : records[i].metrics) {
        if (!StartsWith(m.name, "accuracy.") || m.unit != unit || !std::isfinite(m.value)) {
          continue;
        }
        json row = BaseRow(records[i], labels[i]);
        row["metric"] = m.name;
        row["value"] = m.value;
        row["figure"] = m.estimated ? "estimated" : "measured";
        if (m.ci_low && m.ci_high && std::isfinite(*m.ci_low) && std::isfinite(*m.ci_high)) {
          row["ci_low"] = *m.ci_low;
          row["ci_high"] = *m.ci_high;
          any_ci = true;
        }
        rows.push_back(std::move(row));
        if (std::find(order.begin(), order.end(), labels[i]) == order.end()) {
          order.push_back(labels[i]);
        }
      }
    }
    json layers = json::array();
    if (any_ci) {
      layers.push_back({{"transform", {{{"filter", "isValid(datum.ci_low)"}}}},
                        {"mark", {{"type", "rule"}, {"strokeWidth", 2}}},
                        {"encoding",
                         {{"x", {{"field", "ci_low"}, {"type", "quantitative"}}},
                          {"x2", {{"field", "ci_high"}}},
                          {"color", {{"field", "metric"}, {"type", "nominal"}}}}}});
    }
    layers.push_back(
        {{"mark", {{"type", "point"}, {"filled", true}, {"size", 80}}},
         {"encoding",
          {{"x",
            {{"field", "value"},
             {"type", "quantitative"},
             {"title", "accuracy" + (unit.empty() ? std::string() : " (" + unit + ")")},
             {"scale", {{"zero", false}}}}},
           {"color", {{"field", "metric"}, {"type", "nominal"}, {"title", "metric"}}},
           {"tooltip", Tooltip({{"run", "nominal"},
                                {"metric", "nominal"},
                                {"value", "quantitative"},
                                {"ci_low", "quantitative"},
                                {"ci_high", "quantitative"},
                                {"figure", "nominal"}})}}}});
    json spec = {{"data", {{"values", rows}}},
                 {"width", 620},
                 {"height", {{"step", 26}}},
                 {"encoding", {{"y", RunAxis(order)}, {"yOffset", {{"field", "metric"}}}}},
                 {"layer", layers}};
    charts.push_back({"Accuracy", "Accuracy" + (unit.empty() ? "" : " (" + unit + ")"),
                      any_ci ? "Bars: confidence interval." : "", std::move(spec)});
  }
}

// Accuracy against latency per device/backend/model/precision, joining runs of the same
// combination (newest record with each figure wins; records come oldest first).
void ParetoCharts(std::span<const RunRecord> records, std::vector<Chart>& charts) {
  struct Combo {
    const RunRecord* first = nullptr;
    std::optional<double> latency_ms;
    std::map<std::string, std::pair<double, std::string>> accuracy;  // name -> value, unit
  };
  std::vector<std::string> combo_order;
  std::map<std::string, Combo> combos;
  std::vector<std::string> accuracy_names;
  for (const RunRecord& r : records) {
    const std::string key = ComboKey(r);
    auto [it, inserted] = combos.try_emplace(key);
    if (inserted) {
      combo_order.push_back(key);
      it->second.first = &r;
    }
    std::optional<double> lat;
    if (const RunMetric* p50 = FindRunMetric(r, "latency.p50"); p50 && std::isfinite(p50->value)) {
      lat = p50->value;
    } else {
      lat = Median(r.latency_samples_ms);
    }
    if (lat) it->second.latency_ms = lat;
    for (const RunMetric& m : r.metrics) {
      if (!StartsWith(m.name, "accuracy.") || !std::isfinite(m.value)) continue;
      it->second.accuracy[m.name] = {m.value, m.unit};
      if (std::find(accuracy_names.begin(), accuracy_names.end(), m.name) == accuracy_names.end()) {
        accuracy_names.push_back(m.name);
      }
    }
  }
  for (const std::string& acc : accuracy_names) {
    std::vector<ParetoPoint> points;
    std::vector<const std::string*> keys;
    std::string unit;
    for (const std::string& key : combo_order) {
      const Combo& c = combos[key];
      auto a = c.accuracy.find(acc);
      if (!c.latency_ms || a == c.accuracy.end()) continue;
      points.push_back({*c.latency_ms, a->second.first});
      keys.push_back(&key);
      if (unit.empty()) unit = a->second.second;
    }
    if (points.empty()) continue;
    const std::vector<std::size_t> front = ParetoFront(points);
    const std::set<std::size_t> on_front(front.begin(), front.end());
    json rows = json::array();
    for (std::size_t i = 0; i < points.size(); ++i) {
      const RunRecord& r = *combos[*keys[i]].first;
      json row = BaseRow(r, *keys[i]);
      row["latency_ms"] = points[i].latency_ms;
      row["accuracy"] = points[i].accuracy;
      row["pareto"] = on_front.count(i) ? "on the front" : "dominated";
      row["front_rank"] = -1;
      rows.push_back(std::move(row));
    }
    for (std::size_t k = 0; k < front.size(); ++k) rows[front[k]]["front_rank"] = k;
    const std::string y_title = acc + (unit.empty() ? "" : " (" + unit + ")");
    json spec = {
        {"data", {{"values", rows}}},
        {"width", 620},
        {"height", 360},
        {"layer",
         {{{"transform", {{{"filter", "datum.front_rank >= 0"}}}},
           {"mark", {{"type", "line"}, {"color", "#888"}, {"strokeDash", {4, 3}}}},
           {"encoding",
            {{"x", {{"field", "latency_ms"}, {"type", "quantitative"}}},
             {"y", {{"field", "accuracy"}, {"type", "quantitative"}}},
             {"order", {{"field", "front_rank"}, {"type", "quantitative"}}}}}},
          {{"mark", {{"type", "point"}, {"filled", true}, {"size", 110}}},
           {"encoding",
            {{"x",
              {{"field", "latency_ms"},
               {"type", "quantitative"},
               {"title", "latency p50 (ms)"},
               {"scale", {{"zero", false}}}}},
             {"y",
              {{"field", "accuracy"},
               {"type", "quantitative"},
               {"title", y_title},
               {"scale", {{"zero", false}}}}},
             {"color", {{"field", "device"}, {"type", "nominal"}, {"title", "device"}}},
             {"shape",
              {{"field", "pareto"},
               {"type", "nominal"},
               {"title", "Pareto"},
               {"scale",
                {{"domain", {"on the front", "dominated"}}, {"range", {"diamond", "circle"}}}}}},
             {"tooltip", Tooltip({{"run", "nominal"},
                                  {"latency_ms", "quantitative"},
                                  {"accuracy", "quantitative"},
                                  {"pareto", "nominal"}})}}}}}}};
    charts.push_back({"Accuracy against latency", y_title + " against latency",
                      "One point per device / backend / model / precision (its newest accuracy "
                      "and latency figures); the dashed line joins the Pareto front: no other "
                      "point is both faster and more accurate.",
                      std::move(spec)});
  }
}

void LayerCharts(std::span<const RunRecord> records, const std::vector<std::string>& labels,
                 std::vector<Chart>& charts, std::size_t& left_out) {
  std::size_t drawn = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const RunRecord& r = records[i];
    if (r.layers.empty()) continue;
    if (drawn == kMaxLayerCharts) {
      ++left_out;
      continue;
    }
    json rows = json::array();
    bool any_size = false;
    double total_ms = 0.0;
    for (std::size_t k = 0; k < r.layers.size(); ++k) {
      const RunLayer& l = r.layers[k];
      json row = {{"layer", std::to_string(k + 1) + " " + l.name},
                  {"type", l.type},
                  {"time_ms", std::isfinite(l.time_ms) ? json(l.time_ms) : json(nullptr)}};
      if (std::isfinite(l.time_ms)) total_ms += l.time_ms;
      if (l.output_bytes >= 0) {
        row["output_kib"] = static_cast<double>(l.output_bytes) / 1024.0;
        any_size = true;
      }
      if (l.macs >= 0) row["macs"] = l.macs;
      rows.push_back(std::move(row));
    }
    json layers = json::array();
    layers.push_back({{"mark", {{"type", "bar"}, {"color", "#4c78a8"}}},
                      {"encoding",
                       {{"y",
                         {{"field", "time_ms"},
                          {"type", "quantitative"},
                          {"title", "layer time (ms)"},
                          {"axis", {{"titleColor", "#4c78a8"}}}}},
                        {"tooltip", Tooltip({{"layer", "nominal"},
                                             {"type", "nominal"},
                                             {"time_ms", "quantitative"},
                                             {"output_kib", "quantitative"},
                                             {"macs", "quantitative"}})}}}});
    if (any_size) {
      layers.push_back({{"transform", {{{"filter", "isValid(datum.output_kib)"}}}},
                        {"mark", {{"type", "line"}, {"color", "#e45756"}, {"point", true}}},
                        {"encoding",
                         {{"y",
                           {{"field", "output_kib"},
                            {"type", "quantitative"},
                            {"title", "output size (KiB)"},
                            {"axis", {{"titleColor", "#e45756"}, {"orient", "right"}}}}}}}});
    }
    json spec = {
        {"data", {{"values", rows}}},
        {"width", 1000},
        {"height", 260},
        {"encoding",
         {{"x",
           {{"field", "layer"},
            {"type", "ordinal"},
            {"sort", nullptr},
            {"title", "layer, in execution order"},
            {"axis", {{"labelAngle", -60}, {"labelOverlap", true}, {"labelLimit", 140}}}}}}},
        {"layer", layers}};
    if (any_size) spec["resolve"] = {{"scale", {{"y", "independent"}}}};
    charts.push_back({"Per-layer profile", "Per-layer time and output size: " + labels[i],
                      std::to_string(r.layers.size()) + " layers, " + Fmt(total_ms) +
                          " ms in all. Bars: time (left axis); line: output size (right "
                          "axis), the data a split after that layer would send.",
                      std::move(spec)});
    ++drawn;
  }
}

void PartitionCharts(std::span<const RunRecord> records, const std::vector<std::string>& labels,
                     std::vector<Chart>& charts) {
  json rows = json::array();
  std::vector<std::string> bars, components;
  for (std::size_t i = 0; i < records.size(); ++i) {
    for (const RunMetric& m : records[i].metrics) {
      if (!StartsWith(m.name, "split.") || !std::isfinite(m.value)) continue;
      const std::string rest = m.name.substr(6);
      const std::size_t dot = rest.rfind('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) continue;
      const std::string link = rest.substr(0, dot), component = rest.substr(dot + 1);
      const std::string bar = labels[i] + " | " + link;
      if (std::find(bars.begin(), bars.end(), bar) == bars.end()) bars.push_back(bar);
      auto c = std::find(components.begin(), components.end(), component);
      if (c == components.end()) c = components.insert(components.end(), component);
      json row = BaseRow(records[i], labels[i]);
      row["bar"] = bar;
      row["link"] = link;
      row["component"] = component;
      row["component_order"] = c - components.begin();
      row["ms"] = m.value;
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) return;
  json spec = {{"data", {{"values", rows}}},
               {"width", 620},
               {"height", {{"step", 26}}},
               {"mark", {{"type", "bar"}}},
               {"encoding",
                {{"y",
                  {{"field", "bar"},
                   {"type", "nominal"},
                   {"sort", bars},
                   {"title", nullptr},
                   {"axis", {{"labelLimit", 520}}}}},
                 {"x",
                  {{"field", "ms"},
                   {"type", "quantitative"},
                   {"stack", "zero"},
                   {"title", "time per inference (ms)"}}},
                 {"color",
                  {{"field", "component"},
                   {"type", "nominal"},
                   {"scale", {{"domain", components}}},
                   {"title", "component"}}},
                 {"order", {{"field", "component_order"}, {"type", "quantitative"}}},
                 {"tooltip", Tooltip({{"run", "nominal"},
                                      {"link", "nominal"},
                                      {"component", "nominal"},
                                      {"ms", "quantitative"}})}}}};
  charts.push_back({"Partition", "Partition breakdown per link profile",
                    "From metrics split.<link>.<component> (ms): run | link profile, stacked by "
                    "where the time goes.",
                    std::move(spec)});
}

// ---- Page -----------------------------------------------------------------------

std::string FormatBytes(std::int64_t b) {
  if (b <= 0) return "?";
  return Fmt(static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0)) + " GiB";
}

std::string EnvironmentTable(std::span<const RunRecord> records,
                             const std::vector<std::string>& labels) {
  std::string h =
      "<table class=\"env\"><thead><tr><th>run</th><th>kind</th><th>time (UTC)</th>"
      "<th>device</th><th>CPU</th><th>cores</th><th>memory</th><th>OS / kernel</th>"
      "<th>backend</th><th>model</th><th>configuration</th><th>warnings</th></tr></thead>"
      "<tbody>\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const RunRecord& r = records[i];
    std::string config;
    for (const auto& [k, v] : r.config) {
      if (!config.empty()) config += "<br>";
      config += HtmlEscape(k) + "=" + HtmlEscape(v);
    }
    std::string warnings;
    for (const std::string& w : r.warnings) warnings += "<li>" + HtmlEscape(w) + "</li>";
    std::string model = HtmlEscape(OrUnknown(r.model.name)) + " (" +
                        HtmlEscape(OrUnknown(r.model.format)) + ", " + HtmlEscape(Precision(r));
    if (r.model.synthetic_weights) model += ", synthetic weights";
    model += ")";
    if (!r.model.sha256.empty()) {
      model += "<br><code title=\"" + HtmlEscape(r.model.sha256) + "\">" +
               HtmlEscape(r.model.sha256.substr(0, 12)) + "</code>";
    }
    h += std::string("<tr") + (r.warnings.empty() ? "" : " class=\"warned\"") + ">";
    h += "<td>" + (r.id != 0 ? std::to_string(r.id) : std::string("&ndash;")) + "<br><small>" +
         HtmlEscape(labels[i]) + "</small></td>";
    h += "<td>" + HtmlEscape(r.kind) + "</td>";
    h += "<td>" + HtmlEscape(r.timestamp_utc) + "</td>";
    h += "<td>" + HtmlEscape(OrUnknown(r.device.name)) + "</td>";
    h += "<td>" + HtmlEscape(OrUnknown(r.device.cpu_model)) + "</td>";
    h += "<td>" + (r.device.cores > 0 ? std::to_string(r.device.cores) : "?") + "</td>";
    h += "<td>" + FormatBytes(r.device.memory_bytes) + "</td>";
    h += "<td>" + HtmlEscape(OrUnknown(r.device.os)) + "<br>" +
         HtmlEscape(OrUnknown(r.device.kernel)) + "</td>";
    h += "<td>" + HtmlEscape(OrUnknown(r.backend)) +
         (r.backend_version.empty() ? "" : " " + HtmlEscape(r.backend_version)) + "</td>";
    h += "<td>" + model + "</td>";
    h += "<td>" + config + "</td>";
    h += "<td>" + (warnings.empty() ? std::string("none") : "<ul>" + warnings + "</ul>") +
         "</td></tr>\n";
  }
  h += "</tbody></table>\n";
  return h;
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px 32px;color:#222}
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{margin:20px 0 2px;font-size:1.02em}.note{color:#555;margin:2px 0 8px;font-size:.92em}
.summary{color:#444}.empty{font-size:1.2em;padding:24px;background:#f6f6f6;border:1px solid #ddd}
.chart{margin:4px 0 18px}.chart.failed{color:#b00020;border:1px solid #b00020;padding:8px}
#deepedge-status{font-size:.85em;color:#666}
table.env{border-collapse:collapse;font-size:.82em}table.env td,table.env th{border:1px solid #ddd;
padding:4px 6px;vertical-align:top;text-align:left}table.env tr.warned td:last-child{background:#fff4e0}
table.env ul{margin:0;padding-left:16px}
)";

// Renders every chart, then marks #deepedge-status done. Written here, not fetched.
constexpr const char* kLoader = R"(
(function () {
  'use strict';
  var status = document.getElementById('deepedge-status');
  var charts = JSON.parse(document.getElementById('deepedge-specs').textContent);
  var rendered = 0, errors = 0, pending = charts.length;
  function update() {
    status.setAttribute('data-rendered', String(rendered));
    status.setAttribute('data-errors', String(errors));
    if (pending === 0) {
      status.setAttribute('data-done', 'true');
      status.textContent = rendered + ' of ' + charts.length + ' charts rendered' +
          (errors ? ', ' + errors + ' errors (see the browser console)' : '') + '.';
    }
  }
  function fail(el, id, message) {
    errors++;
    console.error('deepedge report: error: chart ' + id + ': ' + message);
    if (el) {
      el.className += ' failed';
      el.textContent = 'This chart could not be drawn: ' + message;
    }
  }
  window.addEventListener('error', function (e) {
    errors++;
    console.error('deepedge report: error: page: ' + (e && e.message));
    update();
  });
  if (typeof vegaEmbed !== 'function') {
    charts.forEach(function (c) {
      fail(document.getElementById(c.id), c.id, 'vega-embed is not loaded');
    });
    pending = 0;
    update();
    return;
  }
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    vegaEmbed(el, c.spec, {mode: 'vega-lite', renderer: 'svg', actions: false})
        .then(function () {
          var marks = el.querySelectorAll('svg .role-mark > *').length;
          el.setAttribute('data-marks', String(marks));
          if (marks > 0) rendered++; else fail(el, c.id, 'the chart drew no marks');
        })
        .catch(function (err) { fail(el, c.id, String((err && err.message) || err)); })
        .then(function () { pending--; update(); });
  });
  update();
})();
)";

std::string Summary(std::span<const RunRecord> records) {
  std::set<std::string> devices, backends, models;
  std::size_t warned = 0;
  for (const RunRecord& r : records) {
    devices.insert(OrUnknown(r.device.name));
    backends.insert(OrUnknown(r.backend));
    models.insert(OrUnknown(r.model.name));
    if (!r.warnings.empty()) ++warned;
  }
  auto list = [](const std::set<std::string>& s) {
    std::string out;
    for (const std::string& x : s) out += (out.empty() ? "" : ", ") + HtmlEscape(x);
    return out;
  };
  std::string h = "<p class=\"summary\">" + std::to_string(records.size()) + " run" +
                  (records.size() == 1 ? "" : "s") + " on " + std::to_string(devices.size()) +
                  " device" + (devices.size() == 1 ? "" : "s") + " (" + list(devices) + "), " +
                  std::to_string(backends.size()) + " backend" + (backends.size() == 1 ? "" : "s") +
                  " (" + list(backends) + "), " + std::to_string(models.size()) + " model" +
                  (models.size() == 1 ? "" : "s") + " (" + list(models) + ").";
  if (warned > 0) {
    h += " <strong>" + std::to_string(warned) + " run" + (warned == 1 ? " has" : "s have") +
         " environment warnings</strong> (see the table at the end).";
  }
  return h + "</p>\n";
}

}  // namespace

std::vector<std::size_t> ParetoFront(std::span<const ParetoPoint> points) {
  std::vector<std::size_t> front;
  auto finite = [](const ParetoPoint& p) {
    return std::isfinite(p.latency_ms) && std::isfinite(p.accuracy);
  };
  for (std::size_t i = 0; i < points.size(); ++i) {
    const ParetoPoint& p = points[i];
    if (!finite(p)) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      const ParetoPoint& q = points[j];
      if (j == i || !finite(q)) continue;
      dominated = q.latency_ms <= p.latency_ms && q.accuracy >= p.accuracy &&
                  (q.latency_ms < p.latency_ms || q.accuracy > p.accuracy);
    }
    if (!dominated) front.push_back(i);
  }
  std::sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
    if (points[a].latency_ms != points[b].latency_ms) {
      return points[a].latency_ms < points[b].latency_ms;
    }
    if (points[a].accuracy != points[b].accuracy) return points[a].accuracy > points[b].accuracy;
    return a < b;
  });
  return front;
}

std::string FormatHtmlReport(std::span<const RunRecord> records, const HtmlReportOptions& options) {
  const std::vector<std::string> labels = RunLabels(records);
  std::vector<Chart> charts;
  std::size_t layers_left_out = 0;
  // Accuracy runs time each sample once without warm-up (their records say so): they
  // feed the accuracy charts only, never the timing and resource ones.
  std::vector<RunRecord> timed;
  for (const RunRecord& r : records) {
    if (r.kind != "eval") timed.push_back(r);
  }
  const std::vector<std::string> timed_labels = RunLabels(timed);
  LatencyCharts(timed, timed_labels, charts);
  // samples/s compares across batch sizes; other throughput figures only when it is absent.
  if (MetricCharts(timed, timed_labels, "Throughput", {"throughput.samples_per_s"}, charts) == 0) {
    MetricCharts(timed, timed_labels, "Throughput", {"throughput."}, charts);
  }
  MetricCharts(timed, timed_labels, "CPU", {"cpu.utilisation"}, charts);
  MetricCharts(timed, timed_labels, "Memory", {"memory.peak"}, charts);
  MetricCharts(timed, timed_labels, "Energy", {"energy.per_inference", "energy.average_power"},
               charts);
  AccuracyCharts(records, labels, charts);
  ParetoCharts(records, charts);
  LayerCharts(records, labels, charts, layers_left_out);
  PartitionCharts(records, labels, charts);

  std::string h;
  h.reserve(options.vega_js.size() + options.vega_lite_js.size() + options.vega_embed_js.size() +
            (1 << 16));
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"generator\" content=\"DeepEdge\">\n";
  h += "<title>" + HtmlEscape(options.title) + "</title>\n<style>" + kStyle + "</style>\n";
  h += std::string("<!-- Inlined: vega ") + kVegaVersion + ", vega-lite " + kVegaLiteVersion +
       ", vega-embed " + kVegaEmbedVersion + " (npm, BSD-3-Clause).\n" +
       CommentSafe(options.notices) + "\n-->\n";
  h += "<script>" + InlineScript(options.vega_js) + "\n</script>\n";
  h += "<script>" + InlineScript(options.vega_lite_js) + "\n</script>\n";
  h += "<script>" + InlineScript(options.vega_embed_js) + "\n</script>\n";
  h += "</head>\n<body>\n<h1>" + HtmlEscape(options.title) + "</h1>\n";
  if (!options.subtitle.empty()) {
    h += "<p class=\"summary\">" + HtmlEscape(options.subtitle) + "</p>\n";
  }
  h += "<div id=\"deepedge-status\" data-charts=\"" + std::to_string(charts.size()) +
       "\" data-rendered=\"0\" data-errors=\"0\" data-done=\"false\">Rendering " +
       std::to_string(charts.size()) + " charts&hellip;</div>\n";

  json specs = json::array();
  if (records.empty()) {
    h += "<p class=\"empty\" id=\"deepedge-empty\">No results match: the store holds no runs "
         "for the selection, so there is nothing to chart.</p>\n";
  } else {
    h += Summary(records);
    std::string section;
    for (std::size_t i = 0; i < charts.size(); ++i) {
      const Chart& c = charts[i];
      if (c.section != section) {
        section = c.section;
        h += "<h2>" + HtmlEscape(section) + "</h2>\n";
      }
      const std::string id = "chart-" + std::to_string(i);
      h += "<h3>" + HtmlEscape(c.title) + "</h3>\n";
      if (!c.note.empty()) h += "<p class=\"note\">" + HtmlEscape(c.note) + "</p>\n";
      h += "<div class=\"chart\" id=\"" + id + "\"></div>\n";
      specs.push_back({{"id", id}, {"title", c.title}, {"spec", c.spec}});
    }
    if (layers_left_out > 0) {
      h += "<p class=\"note\">" + std::to_string(layers_left_out) +
           " more runs have per-layer profiles; filter the report to draw them.</p>\n";
    }
    if (charts.empty()) {
      h += "<p class=\"note\">These runs hold no figures that can be charted.</p>\n";
    }
    h += "<h2>Runs and environment</h2>\n" + EnvironmentTable(records, labels);
  }
  h += "<script type=\"application/json\" id=\"deepedge-specs\">" + ScriptJson(specs) +
       "</script>\n";
  h += std::string("<script>") + kLoader + "</script>\n</body>\n</html>\n";
  return h;
}

std::filesystem::path DefaultFixtureCacheDir() {
  if (const char* d = std::getenv("DEEPEDGE_FIXTURES"); d != nullptr && *d != '\0') return d;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "deepedge" / "fixtures";
  }
  return {};
}

Expected<HtmlReportOptions> LoadReportAssets(const std::filesystem::path& cache_dir) {
  struct Asset {
    const char* package;
    const char* version;
    const char* file;
    std::string HtmlReportOptions::*target;
  };
  const Asset assets[] = {
      {"vega", kVegaVersion, "vega.min.js", &HtmlReportOptions::vega_js},
      {"vega-lite", kVegaLiteVersion, "vega-lite.min.js", &HtmlReportOptions::vega_lite_js},
      {"vega-embed", kVegaEmbedVersion, "vega-embed.min.js", &HtmlReportOptions::vega_embed_js},
  };
  HtmlReportOptions options;
  for (const Asset& a : assets) {
    const std::filesystem::path dir =
        cache_dir / (std::string(a.package) + "@" + a.version) / "package";
    const std::filesystem::path file = dir / "build" / a.file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return NotFound("report asset " + file.string() + " is missing (" + a.package + " " +
                      a.version +
                      "): run scripts/fetch_fixtures.sh (DEEPEDGE_FIXTURES names the cache)");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(file));
    if (text.empty()) {
      return Corrupt("report asset " + file.string() +
                     " is empty: remove its folder and run scripts/fetch_fixtures.sh");
    }
    options.*(a.target) = std::move(text);
    if (auto licence = ReadFileText(dir / "LICENSE"); licence.has_value()) {
      options.notices += std::string(a.package) + " " + a.version + ":\n" + *licence + "\n";
    }
  }
  return options;
}

}  // namespace deepedge
