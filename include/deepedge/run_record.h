// The stored result of one DeepEdge run (bench, eval, profile, partition, run): a
// plain value that the results store keeps, `results export` / `import` move between
// devices, `compare` tabulates and `report` charts. It depends on nothing but the
// standard library so that store and report do not depend on the code that measured.
//
// Every figure carries its unit and says whether it was measured or estimated.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deepedge {

// Version of the RunRecord layout as exported to JSON (`deepedge.results`) and kept
// in the store. Bump on any change that removes or renames a field.
inline constexpr int kRunRecordVersion = 1;

// The machine a run was measured on. `name` is the user's name for it (--device,
// default: the host name); the rest is read off the machine.
struct DeviceRecord {
  std::string name;
  std::string cpu_model;
  int cores = 0;                  // logical CPUs online; 0 unknown
  std::int64_t memory_bytes = 0;  // MemTotal; 0 unknown
  std::string os;                 // "Debian GNU/Linux 12 (bookworm)"
  std::string kernel;             // "6.1.0-18-amd64"
};

struct RunModel {
  std::string name;       // file stem or zoo name, "mobilenet_v1"
  std::string sha256;     // of the model file; "" unknown
  std::string format;     // "onnx", "tflite", "caffe", ...
  std::string precision;  // "fp32", "int8", "fp16", "mixed"
  bool synthetic_weights = false;
  std::optional<std::int64_t> parameters;
  std::optional<std::int64_t> macs;
};

// One figure. `name` is dotted by area: "latency.p50", "latency.p99",
// "throughput.samples_per_s", "cpu.utilisation", "memory.peak_rss",
// "energy.per_inference", "accuracy.top1", ... Confidence bounds, when known, are in
// the same unit as `value`.
struct RunMetric {
  std::string name;
  double value = 0.0;
  std::string unit;
  bool estimated = false;  // true: modelled (e.g. energy from CPU time), not measured
  std::optional<double> ci_low;
  std::optional<double> ci_high;
};

// One layer of a per-layer profile, in execution order.
struct RunLayer {
  std::string name;
  std::string type;
  double time_ms = 0.0;
  std::int64_t output_bytes = -1;  // -1 unknown
  std::int64_t macs = -1;          // -1 unknown
};

struct RunRecord {
  std::int64_t id = 0;  // assigned by the store; 0 before it is stored
  std::string kind;     // "bench", "eval", "profile", "partition", "run"
  std::string tool_version;
  std::string timestamp_utc;  // ISO 8601, "2026-11-29T10:00:00Z"
  DeviceRecord device;
  std::string backend;
  std::string backend_version;
  RunModel model;
  // Configuration as the user gave it: "threads", "scenario", "batch", "input", backend
  // options ("option.<name>"), link profile ("link") ...
  std::map<std::string, std::string> config;
  std::vector<RunMetric> metrics;
  // Raw per-query latencies in milliseconds, in query order (possibly a uniform
  // sample of them, see config "latency_sampled"): the distributions the report draws.
  std::vector<double> latency_samples_ms;
  std::vector<RunLayer> layers;
  std::vector<std::string> warnings;  // conditions that make the figures less sound
  // Anything kind-specific that has no column, as a JSON document (e.g. a partition
  // plan's breakdown per link profile); "" when none.
  std::string details_json;
};

// The metric named `name`, or nullptr.
inline const RunMetric* FindRunMetric(const RunRecord& r, const std::string& name) {
  for (const RunMetric& m : r.metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace deepedge
