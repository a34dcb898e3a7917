// The benchmark record: everything one `deepedge bench` run measured, with the
// conditions it was measured under. A plain value; writers (report.h) format it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deepedge/bench.h"
#include "deepedge/environment.h"

namespace deepedge {

// Version of the JSON/CSV record layout (docs/bench-json.md). Bump on any change
// that removes or renames a field; adding fields keeps the version.
inline constexpr int kBenchSchemaVersion = 1;

struct ModelRecord {
  std::string name;
  std::string path;
  std::string sha256;  // of the model file (description file for two-file formats)
  std::string format;  // "onnx", "caffe", ...
  bool synthetic_weights = false;
  std::optional<std::int64_t> parameters;
  std::optional<std::int64_t> macs;
};

// The headline accuracy of a `deepedge eval` run (a proportion with its Wilson
// interval) and what it was measured on.
struct AccuracyMetricRecord {
  std::string name;  // "top1", "top5"
  double value = 0;  // a proportion in [0, 1]
  double ci_low = 0, ci_high = 1;
  double confidence = 0.95;
};
struct AccuracyRecord {
  AccuracyMetricRecord metric;               // the headline metric
  std::vector<AccuracyMetricRecord> others;  // further metrics of the same run
  std::int64_t samples = 0;                  // samples scored
  std::int64_t bad_samples = 0;              // samples that could not be scored
  std::string dataset;                       // what was read ("IDX test: PATH (...)")
  std::string card;                          // the model card file
};

struct BenchRecord {
  std::string tool_version;
  std::string timestamp_utc;  // ISO 8601, e.g. "2026-11-29T10:00:00Z"
  EnvironmentInfo environment;
  std::vector<std::string> warnings;  // conditions that make the figures less sound
  ModelRecord model;
  std::string backend;
  std::string backend_version;
  std::map<std::string, std::string> backend_options;
  int threads = 0;    // 0: the backend's default
  std::string input;  // "random (seed 42)", "zeros", "file: a.npy"
  BenchResult result;
  // Added for `deepedge eval` (issue 5): the accuracy measured on labelled data;
  // nullopt for a timing-only run. Written as "accuracy" in the JSON record.
  std::optional<AccuracyRecord> accuracy = std::nullopt;
};

// A monitor's metric by monitor and metric name; nullopt when the monitor was
// unsupported or did not report it.
std::optional<Metric> FindMetric(const BenchResult& r, std::string_view monitor,
                                 std::string_view metric);

// Energy per inference (one sample) in millijoules, from the energy monitor; its
// provenance says whether it was measured or estimated.
std::optional<Metric> EnergyPerInference(const BenchResult& r);

}  // namespace deepedge
