#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "deepedge/bench.h"

namespace deepedge {

std::string_view ScenarioName(Scenario s) {
  return s == Scenario::kOffline ? "offline" : "single-stream";
}

std::optional<Scenario> ParseScenario(std::string_view name) {
  if (name == "single-stream" || name == "singlestream") return Scenario::kSingleStream;
  if (name == "offline") return Scenario::kOffline;
  return std::nullopt;
}

StopRule DefaultStopRule(Scenario s) {
  // MLPerf Inference: SingleStream min_query_count 1024; Offline runs one huge query of
  // at least 24576 samples. Here offline queries are batches, so 64 of them.
  if (s == Scenario::kOffline) {
    return {.min_queries = 64, .min_duration_s = 10, .max_duration_s = 600, .max_queries = 0};
  }
  return {.min_queries = 1024, .min_duration_s = 10, .max_duration_s = 600, .max_queries = 0};
}

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kLoad:
      return "load";
    case Phase::kFirstInference:
      return "first inference";
    case Phase::kWarmup:
      return "warm-up";
    case Phase::kMeasured:
      return "measured";
  }
  return "?";
}

namespace {

// Calls Sample() on every monitor at a fixed period from its own thread.
class PeriodicSampler {
 public:
  PeriodicSampler(std::span<Monitor* const> monitors, double period_s)
      : monitors_(monitors.begin(), monitors.end()) {
    if (monitors_.empty() || period_s <= 0) return;
    const auto period = std::chrono::duration<double>(period_s);
    thread_ = std::thread([this, period] {
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
        for (Monitor* m : monitors_) m->Sample();
      }
    });
  }
  ~PeriodicSampler() { Stop(); }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::vector<Monitor*> monitors_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

Status ValidateConfig(const BenchConfig& c) {
  if (c.batch < 1) return InvalidArgument("batch must be at least 1");
  if (c.stop.min_queries < 0 || c.stop.max_queries < 0) {
    return InvalidArgument("query counts must not be negative");
  }
  if (c.stop.min_duration_s < 0 || c.stop.max_duration_s < 0) {
    return InvalidArgument("durations must not be negative");
  }
  if (c.stop.max_duration_s > 0 && c.stop.max_duration_s < c.stop.min_duration_s) {
    return InvalidArgument("max duration is shorter than min duration");
  }
  if (c.stop.min_queries == 0 && c.stop.min_duration_s == 0 && c.stop.max_queries == 0 &&
      c.stop.max_duration_s == 0) {
    return InvalidArgument("the stop rule never stops: set a minimum or a maximum");
  }
  return Status::Ok();
}

}  // namespace

Expected<BenchResult> RunBenchmark(const SessionFactory& load, const BenchConfig& config,
                                   std::span<Monitor* const> monitors,
                                   std::span<BenchListener* const> listeners,
                                   const BenchHooks& hooks) {
  DEEPEDGE_RETURN_IF_ERROR(ValidateConfig(config));
  const Clock clock = hooks.clock ? hooks.clock : Clock([] {
    return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
  });
  auto begin = [&](Phase p) {
    for (BenchListener* l : listeners) l->OnPhaseBegin(p);
  };
  auto end = [&](Phase p, double s) {
    for (BenchListener* l : listeners) l->OnPhaseEnd(p, s);
  };
  auto rss = [&]() -> std::optional<std::int64_t> {
    return hooks.resident_bytes ? hooks.resident_bytes() : std::nullopt;
  };

  BenchResult result;
  result.scenario = config.scenario;
  result.batch = config.batch;
  result.stop = config.stop;

  // Load.
  begin(Phase::kLoad);
  const std::optional<std::int64_t> rss_before = rss();
  std::int64_t t0 = clock();
  Expected<std::unique_ptr<Session>> loaded = load();
  if (!loaded) return loaded.status();
  std::unique_ptr<Session> session = std::move(loaded).value();
  result.phases.load_ms = static_cast<double>(clock() - t0) * 1e-6;
  if (const auto rss_after = rss(); rss_before && rss_after) {
    result.model_load_memory_mib = static_cast<double>(*rss_after - *rss_before) / (1 << 20);
  }
  end(Phase::kLoad, result.phases.load_ms * 1e-3);

  Expected<std::vector<Tensor>> made = MakeInputs(session->Inputs(), config.input, config.batch);
  if (!made) return made.status();
  const std::vector<Tensor> inputs = std::move(made).value();
  for (const Tensor& t : inputs) result.inputs.push_back({"", t.dtype(), t.shape(), std::nullopt});
  for (std::size_t i = 0; i < inputs.size(); ++i) result.inputs[i].name = session->Inputs()[i].name;
  std::vector<Tensor> outputs;

  // First inference: often much slower (lazy allocation, kernel selection, page faults).
  begin(Phase::kFirstInference);
  t0 = clock();
  if (Status s = session->Run(inputs, outputs); !s.ok()) return s.WithContext("first inference");
  result.phases.first_inference_ms = static_cast<double>(clock() - t0) * 1e-6;
  end(Phase::kFirstInference, result.phases.first_inference_ms * 1e-3);

  // Warm-up.
  begin(Phase::kWarmup);
  constexpr double kMaxWarmupS = 10;
  t0 = clock();
  double elapsed = 0;
  std::int64_t n = 0;
  while ((n < config.warmup_queries || elapsed < config.warmup_s) && elapsed < kMaxWarmupS) {
    if (Status s = session->Run(inputs, outputs); !s.ok()) return s.WithContext("warm-up");
    ++n;
    elapsed = static_cast<double>(clock() - t0) * 1e-9;
  }
  result.phases.warmup_ms = elapsed * 1e3;
  result.phases.warmup_queries = n;
  end(Phase::kWarmup, elapsed);

  // Measured loop.
  begin(Phase::kMeasured);
  std::vector<Monitor*> running;
  for (Monitor* m : monitors) {
    if (Status s = m->Start(); s.ok()) {
      running.push_back(m);
    } else {
      MonitorReport failed;
      failed.monitor = std::string(m->Name());
      failed.supported = false;
      failed.unsupported_reason = s.message();
      result.monitors.push_back(std::move(failed));
    }
  }
  SampleRecorder latencies_ms;
  const StopRule& stop = config.stop;
  const double min_q = static_cast<double>(stop.min_queries);
  Status run_status;
  {
    PeriodicSampler sampler(running, config.sample_period_s);
    const std::int64_t start = clock();
    std::int64_t t_end = start;
    for (;;) {
      const std::int64_t q0 = clock();
      run_status = session->Run(inputs, outputs);
      t_end = clock();
      if (!run_status.ok()) break;
      latencies_ms.Add(static_cast<double>(t_end - q0) * 1e-6);
      const std::int64_t count = latencies_ms.count();
      elapsed = static_cast<double>(t_end - start) * 1e-9;
      if (!listeners.empty()) {
        const double pq = min_q > 0 ? static_cast<double>(count) / min_q : 1.0;
        const double pd = stop.min_duration_s > 0 ? elapsed / stop.min_duration_s : 1.0;
        const double progress = std::min({pq, pd, 1.0});
        for (BenchListener* l : listeners)
          l->OnQuery(count - 1, static_cast<double>(t_end - q0) * 1e-9, progress);
      }
      if (count >= stop.min_queries && elapsed >= stop.min_duration_s) break;
      if (stop.max_queries > 0 && count >= stop.max_queries) break;
      if (stop.max_duration_s > 0 && elapsed >= stop.max_duration_s) break;
    }
    result.phases.measured_s = static_cast<double>(t_end - start) * 1e-9;
  }
  for (Monitor* m : running) {
    Status s = m->Stop();
    MonitorReport report = m->Report();
    if (!s.ok() && report.supported) {
      report.supported = false;
      report.unsupported_reason = s.message();
    }
    result.monitors.push_back(std::move(report));
  }
  if (!run_status.ok()) {
    return run_status.WithContext("measured query " + std::to_string(latencies_ms.count()));
  }
  end(Phase::kMeasured, result.phases.measured_s);
  if (const std::optional<std::int64_t> arena = session->ArenaBytes()) {
    result.arena_mib = static_cast<double>(*arena) / (1 << 20);
  }
  if (config.collect_layer_profile) {
    Expected<std::vector<LayerProfile>> profile = session->LastProfile();
    if (profile) {
      result.layer_profile = std::move(profile).value();
    } else {
      result.layer_profile_status = profile.status().message();
    }
  }

  result.queries = latencies_ms.count();
  result.samples = result.queries * config.batch;
  result.latency_ms = latencies_ms.Summarize();
  result.latency_sampled = latencies_ms.sampled();
  {
    // Every k-th kept value (k fractional) when more were kept than a record carries.
    constexpr std::size_t kMaxSamples = 10000;
    const std::span<const double> kept = latencies_ms.kept();
    const std::size_t n = std::min(kept.size(), kMaxSamples);
    result.latency_samples_ms.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      result.latency_samples_ms.push_back(kept[i * kept.size() / n]);
  }
  if (result.phases.measured_s > 0) {
    result.throughput_qps = static_cast<double>(result.queries) / result.phases.measured_s;
    result.throughput_samples_per_s =
        static_cast<double>(result.samples) / result.phases.measured_s;
  }
  if (result.queries < stop.min_queries) {
    result.valid = false;
    result.invalid_reasons.push_back("too few queries: " + std::to_string(result.queries) +
                                     " < minimum " + std::to_string(stop.min_queries));
  }
  if (result.phases.measured_s < stop.min_duration_s) {
    result.valid = false;
    char buf[96];
    std::snprintf(buf, sizeof buf, "too short: %.3f s < minimum %.3f s", result.phases.measured_s,
                  stop.min_duration_s);
    result.invalid_reasons.emplace_back(buf);
  }
  return result;
}

}  // namespace deepedge
