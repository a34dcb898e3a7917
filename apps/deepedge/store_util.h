// The results store as the commands that measure use it: --store / --no-store /
// --device, and turning what a command measured into RunRecords.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "deepedge/environment.h"
#include "deepedge/model.h"
#include "deepedge/record.h"
#include "deepedge/run_record.h"
#include "deepedge/store.h"

namespace deepedge::app {

struct StoreOptions {
  std::string path;  // "" -> DefaultStorePath()
  bool disabled = false;
  std::string device;  // "" -> the host name
};
// --store PATH, --no-store, --device NAME.
void AddStoreOptions(CLI::App* cmd, StoreOptions& o);
std::filesystem::path StorePath(const std::string& path);  // "" -> DefaultStorePath()

// --kind, --device, --backend, --model, --precision (for results list/export, compare).
void AddRunFilterOptions(CLI::App* cmd, RunFilter& f);

// A figure with four significant digits, fixed-point where that reads well ("16.90").
std::string FormatFigure(double v);

// The current time as ISO 8601 UTC, "2026-11-29T10:00:00Z".
std::string UtcNowIso();

// The device block: `name` (or the host name when empty), CPU, cores, OS and kernel
// from `env`, MemTotal from <proc>/meminfo (0 when unreadable).
DeviceRecord MakeDeviceRecord(const EnvironmentInfo& env, const std::string& name,
                              const std::filesystem::path& proc = "/proc");

// "int8" when the model quantizes: ONNX QuantizeLinear / DequantizeLinear / QLinear* /
// *Integer nodes, TFLite QUANTIZE / DEQUANTIZE ops or int8 / uint8 tensors; "fp16" for a
// TFLite model with float16 tensors and nothing quantized; else "fp32". A simple rule:
// a float model with one quantized layer counts as int8.
std::string ModelPrecision(const ModelInfo& info);

// A bench record as a RunRecord of kind "bench": latency.{min,mean,p50,p90,p95,p99,max,
// stddev} in ms (the median's confidence interval on latency.p50), latency.count,
// throughput.{queries,samples}_per_s, every supported monitor metric as
// "<monitor>.<metric>" with its unit and provenance, energy.per_inference (mJ),
// memory.model_load / memory.arena (MiB), phase.{load,first_inference} (ms).
RunRecord BenchRunRecord(const BenchRecord& rec, const DeviceRecord& device,
                         const std::string& precision);

// Inserts `runs` (one transaction each) and prints "stored as run N in PATH" on stderr
// for each. Returns 0, or 1 after printing the error line (a store problem is a failure
// of the run's bookkeeping, not bad input: the measured output is already written).
int StoreRuns(const StoreOptions& o, std::span<const RunRecord> runs);

// What `bench` stores: its records, converted.
int StoreBenchRecords(const StoreOptions& o, const std::vector<BenchRecord>& records,
                      const EnvironmentInfo& env, const ModelInfo& info);

// What `profile` measured, for its RunRecord (kind "profile").
struct ProfileSummary {
  std::string backend, backend_version;
  int threads = 0;
  int runs = 0;
  std::string input;
  std::map<std::string, std::string> backend_options;
  std::vector<RunLayer> layers;  // median time per layer
  double total_ms = 0;           // sum of layer medians
  double as_run_ms = 0;          // fused groups at their fused time
  std::optional<std::int64_t> arena_bytes;
};
int StoreProfileRun(const StoreOptions& o, const ModelSource& source, const ProfileSummary& p);

// A record of `kind` for a run of `source` on this machine, ready for its metrics: tool
// version, time, device (o.device or the host name), backend, model with its precision,
// the environment's warnings and details_json {"model_path"}. Fails when the model
// cannot be described.
Expected<RunRecord> NewModelRun(const StoreOptions& o, const ModelSource& source,
                                const std::string& kind, const std::string& backend,
                                const std::string& backend_version);

}  // namespace deepedge::app
