// The `deepedge.results` JSON form of RunRecords (docs/results-json.md).
#include <nlohmann/json.hpp>

#include <exception>
#include <limits>

#include "deepedge/store.h"

namespace deepedge {
namespace {

using nlohmann::json;
// Written in the documented field order (schema first), read in any order.
using ojson = nlohmann::ordered_json;

constexpr const char* kSchema = "deepedge.results";

ojson OptInt(const std::optional<std::int64_t>& v) {
  return v ? ojson(*v) : ojson(nullptr);
}
ojson OptDouble(const std::optional<double>& v) {
  return v ? ojson(*v) : ojson(nullptr);
}

ojson ToJson(const RunRecord& r) {
  ojson metrics = ojson::array();
  for (const RunMetric& m : r.metrics) {
    metrics.push_back({{"name", m.name},
                       {"value", m.value},
                       {"unit", m.unit},
                       {"estimated", m.estimated},
                       {"ci_low", OptDouble(m.ci_low)},
                       {"ci_high", OptDouble(m.ci_high)}});
  }
  ojson layers = ojson::array();
  for (const RunLayer& l : r.layers) {
    layers.push_back({{"name", l.name},
                      {"type", l.type},
                      {"time_ms", l.time_ms},
                      {"output_bytes", l.output_bytes},
                      {"macs", l.macs}});
  }
  ojson config = ojson::object();
  for (const auto& [k, v] : r.config) config[k] = v;
  return {{"id", r.id},
          {"kind", r.kind},
          {"tool_version", r.tool_version},
          {"timestamp_utc", r.timestamp_utc},
          {"device",
           {{"name", r.device.name},
            {"cpu_model", r.device.cpu_model},
            {"cores", r.device.cores},
            {"memory_bytes", r.device.memory_bytes},
            {"os", r.device.os},
            {"kernel", r.device.kernel}}},
          {"backend", r.backend},
          {"backend_version", r.backend_version},
          {"model",
           {{"name", r.model.name},
            {"sha256", r.model.sha256},
            {"format", r.model.format},
            {"precision", r.model.precision},
            {"synthetic_weights", r.model.synthetic_weights},
            {"parameters", OptInt(r.model.parameters)},
            {"macs", OptInt(r.model.macs)}}},
          {"config", config},
          {"metrics", metrics},
          {"latency_samples_ms", r.latency_samples_ms},
          {"layers", layers},
          {"warnings", r.warnings},
          {"details_json", r.details_json}};
}

// Reads fields of one JSON object, remembering the first problem with the field's
// dotted path; later reads after a failure are no-ops.
class Reader {
 public:
  explicit Reader(std::string* error) : error_(error) {}
  bool ok() const { return error_->empty(); }

  const json* Field(const json& obj, const std::string& key, const std::string& path,
                    bool nullable = false) {
    if (!ok()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end()) {
      Fail("missing field '" + path + "'");
      return nullptr;
    }
    if (it->is_null() && !nullable) {
      Fail("field '" + path + "' is null");
      return nullptr;
    }
    return &*it;
  }

  void String(const json& obj, const std::string& key, const std::string& path, std::string& out) {
    const json* v = Field(obj, key, path);
    if (!v) return;
    if (!v->is_string()) return Fail("field '" + path + "' must be a string");
    out = v->get<std::string>();
  }
  void Bool(const json& obj, const std::string& key, const std::string& path, bool& out) {
    const json* v = Field(obj, key, path);
    if (!v) return;
    if (!v->is_boolean()) return Fail("field '" + path + "' must be true or false");
    out = v->get<bool>();
  }
  bool Int(const json& v, const std::string& path, std::int64_t& out) {
    if (v.is_number_integer()) {
      if (v.is_number_unsigned() &&
          v.get<std::uint64_t>() >
              static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        Fail("field '" + path + "' is out of range");
        return false;
      }
      out = v.get<std::int64_t>();
      return true;
    }
    Fail("field '" + path + "' must be an integer");
    return false;
  }
  void Int(const json& obj, const std::string& key, const std::string& path, std::int64_t& out) {
    if (const json* v = Field(obj, key, path)) Int(*v, path, out);
  }
  void OptInt(const json& obj, const std::string& key, const std::string& path,
              std::optional<std::int64_t>& out) {
    const json* v = Field(obj, key, path, /*nullable=*/true);
    if (!v) return;
    out.reset();
    std::int64_t x = 0;
    if (!v->is_null() && Int(*v, path, x)) out = x;
  }
  bool Double(const json& v, const std::string& path, double& out) {
    if (!v.is_number()) {
      Fail("field '" + path + "' must be a number");
      return false;
    }
    out = v.get<double>();
    return true;
  }
  void Double(const json& obj, const std::string& key, const std::string& path, double& out) {
    if (const json* v = Field(obj, key, path)) Double(*v, path, out);
  }
  void OptDouble(const json& obj, const std::string& key, const std::string& path,
                 std::optional<double>& out) {
    const json* v = Field(obj, key, path, /*nullable=*/true);
    if (!v) return;
    out.reset();
    double x = 0;
    if (!v->is_null() && Double(*v, path, x)) out = x;
  }
  const json* Object(const json& obj, const std::string& key, const std::string& path) {
    const json* v = Field(obj, key, path);
    if (v && !v->is_object()) {
      Fail("field '" + path + "' must be an object");
      return nullptr;
    }
    return v;
  }
  const json* Array(const json& obj, const std::string& key, const std::string& path) {
    const json* v = Field(obj, key, path);
    if (v && !v->is_array()) {
      Fail("field '" + path + "' must be an array");
      return nullptr;
    }
    return v;
  }
  void Fail(std::string message) {
    if (ok()) *error_ = std::move(message);
  }

 private:
  std::string* error_;
};

RunRecord FromJson(const json& j, std::string* error) {
  Reader rd(error);
  RunRecord r;
  if (!j.is_object()) {
    rd.Fail("must be an object");
    return r;
  }
  rd.Int(j, "id", "id", r.id);
  rd.String(j, "kind", "kind", r.kind);
  rd.String(j, "tool_version", "tool_version", r.tool_version);
  rd.String(j, "timestamp_utc", "timestamp_utc", r.timestamp_utc);
  if (const json* d = rd.Object(j, "device", "device")) {
    rd.String(*d, "name", "device.name", r.device.name);
    rd.String(*d, "cpu_model", "device.cpu_model", r.device.cpu_model);
    std::int64_t cores = 0;
    rd.Int(*d, "cores", "device.cores", cores);
    r.device.cores = static_cast<int>(cores);
    rd.Int(*d, "memory_bytes", "device.memory_bytes", r.device.memory_bytes);
    rd.String(*d, "os", "device.os", r.device.os);
    rd.String(*d, "kernel", "device.kernel", r.device.kernel);
  }
  rd.String(j, "backend", "backend", r.backend);
  rd.String(j, "backend_version", "backend_version", r.backend_version);
  if (const json* m = rd.Object(j, "model", "model")) {
    rd.String(*m, "name", "model.name", r.model.name);
    rd.String(*m, "sha256", "model.sha256", r.model.sha256);
    rd.String(*m, "format", "model.format", r.model.format);
    rd.String(*m, "precision", "model.precision", r.model.precision);
    rd.Bool(*m, "synthetic_weights", "model.synthetic_weights", r.model.synthetic_weights);
    rd.OptInt(*m, "parameters", "model.parameters", r.model.parameters);
    rd.OptInt(*m, "macs", "model.macs", r.model.macs);
  }
  if (const json* c = rd.Object(j, "config", "config")) {
    for (auto it = c->begin(); it != c->end() && rd.ok(); ++it) {
      if (!it->is_string())
        rd.Fail("field 'config." + it.key() + "' must be a string");
      else
        r.config[it.key()] = it->get<std::string>();
    }
  }
  if (const json* ms = rd.Array(j, "metrics", "metrics")) {
    for (std::size_t i = 0; i < ms->size() && rd.ok(); ++i) {
      const json& mj = (*ms)[i];
      const std::string p = "metrics[" + std::to_string(i) + "]";
      if (!mj.is_object()) {
        rd.Fail("field '" + p + "' must be an object");
        break;
      }
      RunMetric m;
      rd.String(mj, "name", p + ".name", m.name);
      rd.Double(mj, "value", p + ".value", m.value);
      rd.String(mj, "unit", p + ".unit", m.unit);
      rd.Bool(mj, "estimated", p + ".estimated", m.estimated);
      rd.OptDouble(mj, "ci_low", p + ".ci_low", m.ci_low);
      rd.OptDouble(mj, "ci_high", p + ".ci_high", m.ci_high);
      r.metrics.push_back(std::move(m));
    }
  }
  if (const json* s = rd.Array(j, "latency_samples_ms", "latency_samples_ms")) {
    r.latency_samples_ms.reserve(s->size());
    for (std::size_t i = 0; i < s->size() && rd.ok(); ++i) {
      double v = 0;
      if (rd.Double((*s)[i], "latency_samples_ms[" + std::to_string(i) + "]", v)) {
        r.latency_samples_ms.push_back(v);
      }
    }
  }
  if (const json* ls = rd.Array(j, "layers", "layers")) {
    for (std::size_t i = 0; i < ls->size() && rd.ok(); ++i) {
      const json& lj = (*ls)[i];
      const std::string p = "layers[" + std::to_string(i) + "]";
      if (!lj.is_object()) {
        rd.Fail("field '" + p + "' must be an object");
        break;
      }
      RunLayer l;
      rd.String(lj, "name", p + ".name", l.name);
      rd.String(lj, "type", p + ".type", l.type);
      rd.Double(lj, "time_ms", p + ".time_ms", l.time_ms);
      rd.Int(lj, "output_bytes", p + ".output_bytes", l.output_bytes);
      rd.Int(lj, "macs", p + ".macs", l.macs);
      r.layers.push_back(std::move(l));
    }
  }
  if (const json* ws = rd.Array(j, "warnings", "warnings")) {
    for (std::size_t i = 0; i < ws->size() && rd.ok(); ++i) {
      if (!(*ws)[i].is_string()) {
        rd.Fail("field 'warnings[" + std::to_string(i) + "]' must be a string");
      } else {
        r.warnings.push_back((*ws)[i].get<std::string>());
      }
    }
  }
  rd.String(j, "details_json", "details_json", r.details_json);
  return r;
}

}  // namespace

std::string FormatResultsJson(std::span<const RunRecord> records) {
  ojson doc = {{"schema", kSchema}, {"schema_version", kRunRecordVersion}};
  ojson list = ojson::array();
  for (const RunRecord& r : records) list.push_back(ToJson(r));
  doc["records"] = std::move(list);
  // nlohmann writes doubles with the shortest digits that read back to the same value.
  return doc.dump(2) + "\n";
}

Expected<std::vector<RunRecord>> ParseResultsJson(std::string_view text,
                                                  std::string_view source_name) {
  const std::string src(source_name);
  try {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Corrupt(src + ": not valid JSON");
    if (!doc.is_object()) return Corrupt(src + ": not a DeepEdge results file (not an object)");
    auto schema = doc.find("schema");
    if (schema == doc.end() || !schema->is_string()) {
      return Unsupported(src + ": not a DeepEdge results file (no 'schema'; expected '" + kSchema +
                         "')");
    }
    if (schema->get<std::string>() != kSchema) {
      return Unsupported(src + ": not a DeepEdge results file (schema '" +
                         schema->get<std::string>() + "', expected '" + kSchema + "')");
    }
    auto version = doc.find("schema_version");
    if (version == doc.end() || !version->is_number_integer()) {
      return Unsupported(src + ": missing or non-integer field 'schema_version'");
    }
    const std::int64_t v = version->get<std::int64_t>();
    if (v != kRunRecordVersion) {
      return Unsupported(src + ": unknown schema_version " + std::to_string(v) +
                         (v > kRunRecordVersion ? " (newer than" : " (older than") +
                         " the version this deepedge reads, " + std::to_string(kRunRecordVersion) +
                         ")");
    }
    auto records = doc.find("records");
    if (records == doc.end()) return Corrupt(src + ": missing field 'records'");
    if (!records->is_array()) return Corrupt(src + ": field 'records' must be an array");
    std::vector<RunRecord> out;
    out.reserve(records->size());
    for (std::size_t i = 0; i < records->size(); ++i) {
      std::string error;
      RunRecord r = FromJson((*records)[i], &error);
      if (!error.empty()) return Corrupt(src + ": record " + std::to_string(i) + ": " + error);
      out.push_back(std::move(r));
    }
    return out;
  } catch (const std::exception& e) {  // nlohmann's type errors must not cross the boundary
    return Corrupt(src + ": " + e.what());
  }
}

}  // namespace deepedge
