// The benchmark runner: fixed phases, scenarios as data, stop rules, listeners.
//
// RunBenchmark() always goes through the same phases in the same order
//   load -> first inference -> warm-up -> measured loop
// and returns a plain BenchResult; it never prints. Observers (a progress bar, a
// trace writer) hook in as BenchListeners. Scenarios follow MLPerf LoadGen:
//   single-stream: one query of one sample at a time; the figure is latency.
//   offline:       back-to-back queries of `batch` samples; the figure is throughput.
// The measured loop stops once it has run at least `min_queries` queries AND for at
// least `min_duration_s`; if `max_duration_s` or `max_queries` ends it first, the
// result is marked invalid with the reason, as LoadGen does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "deepedge/backend.h"
#include "deepedge/monitor.h"
#include "deepedge/stats.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

enum class Scenario { kSingleStream, kOffline };
std::string_view ScenarioName(Scenario s);  // "single-stream", "offline"
std::optional<Scenario> ParseScenario(std::string_view name);

struct StopRule {
  std::int64_t min_queries = 0;
  double min_duration_s = 0;
  double max_duration_s = 0;     // 0: no limit
  std::int64_t max_queries = 0;  // 0: no limit
};

// Defaults modelled on MLPerf Inference's (SingleStream: 1024 queries; Offline: many
// samples), with a 10 s minimum duration instead of MLPerf's 600 s so that an
// interactive run finishes; pass --min-duration 600 for MLPerf-length runs.
StopRule DefaultStopRule(Scenario s);

enum class InputKind { kRandom, kZeros, kFile };

struct InputSpec {
  InputKind kind = InputKind::kRandom;
  std::uint64_t seed = 42;  // for kRandom: same seed, same inputs
  // For kFile: input name -> file (.npy, or raw bytes of exactly the input's size).
  // The name "" stands for the model's only input.
  std::map<std::string, std::filesystem::path> files;
  // Overrides for dynamic dimensions, by input name ("" for every input).
  std::map<std::string, Shape> shapes;
};

struct BenchConfig {
  Scenario scenario = Scenario::kSingleStream;
  int batch = 1;  // samples per query; the leading dimension of every input
  StopRule stop = DefaultStopRule(Scenario::kSingleStream);
  std::int64_t warmup_queries = 5;  // warm-up runs at least this many queries ...
  double warmup_s = 0.5;            // ... and at least this long (capped at 10 s)
  InputSpec input;
  double sample_period_s = 0.05;  // how often monitors are sampled during the loop
  // Ask the backend for per-layer times (SessionOptions::profile_layers is the
  // caller's to set) and keep the profile of the last measured query.
  bool collect_layer_profile = false;
};

enum class Phase { kLoad, kFirstInference, kWarmup, kMeasured };
std::string_view PhaseName(Phase p);

// Observes a run. Called on the runner's thread; must be cheap in OnQuery (it runs
// inside the measured loop).
class BenchListener {
 public:
  virtual ~BenchListener() = default;
  virtual void OnPhaseBegin(Phase) {}
  virtual void OnPhaseEnd(Phase, double /*seconds*/) {}
  // `progress` in [0, 1]: how far the stop rule's minimums are.
  virtual void OnQuery(std::int64_t /*index*/, double /*latency_s*/, double /*progress*/) {}
};

// Injected dependencies, so tests can run the runner on a manual clock.
struct BenchHooks {
  Clock clock;  // null: std::chrono::steady_clock
  // Resident set size of the process in bytes, for the memory added by model load.
  // Null or nullopt: not measured.
  std::function<std::optional<std::int64_t>()> resident_bytes;
};

struct PhaseTimes {
  double load_ms = 0;
  double first_inference_ms = 0;
  double warmup_ms = 0;
  std::int64_t warmup_queries = 0;
  double measured_s = 0;
};

struct BenchResult {
  Scenario scenario = Scenario::kSingleStream;
  int batch = 1;
  StopRule stop;
  PhaseTimes phases;
  std::int64_t queries = 0;  // measured queries
  std::int64_t samples = 0;  // queries x batch
  Summary latency_ms;        // per query
  // True when more queries ran than SampleRecorder keeps: percentiles then come from a
  // uniform sample of the latencies (count, min, max, mean, stddev stay exact).
  bool latency_sampled = false;
  double throughput_qps = 0;
  double throughput_samples_per_s = 0;
  bool valid = true;
  std::vector<std::string> invalid_reasons;  // why !valid: "too few queries ...", "too short ..."
  std::optional<double> model_load_memory_mib;  // RSS after load minus before
  // The backend's intermediate-buffer arena after the measured loop
  // (Session::ArenaBytes), MiB; nullopt when the backend does not report it.
  std::optional<double> arena_mib;
  std::vector<TensorInfo> inputs;  // the inputs actually fed (static shapes)
  // Per-layer times of the last measured query, when collected and supported;
  // `layer_profile_status` says why not otherwise.
  std::vector<LayerProfile> layer_profile;
  std::string layer_profile_status;
  std::vector<MonitorReport> monitors;
  // Per-query latencies in ms, for distributions: the kept sample, at most 10,000 values
  // (a uniform subsample of SampleRecorder's when it kept more). Order is query order
  // unless the recorder had to sample (latency_sampled).
  std::vector<double> latency_samples_ms;
};

// Creates the inputs for `infos` as `spec` says, with dynamic leading dimensions set
// to `batch`. Errors name the input and the file (wrong size, dtype, shape).
Expected<std::vector<Tensor>> MakeInputs(const std::vector<TensorInfo>& infos,
                                         const InputSpec& spec, int batch);

using SessionFactory = std::function<Expected<std::unique_ptr<Session>>()>;

// Runs one benchmark. Monitors are started just before the measured loop, sampled
// every `sample_period_s` from a background thread, and stopped just after it.
// Errors from loading or running are returned with the phase they happened in.
Expected<BenchResult> RunBenchmark(const SessionFactory& load, const BenchConfig& config,
                                   std::span<Monitor* const> monitors,
                                   std::span<BenchListener* const> listeners,
                                   const BenchHooks& hooks = {});

}  // namespace deepedge
