#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "deepedge/bench.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

constexpr std::int64_t kMs = 1'000'000;  // nanoseconds

// A session whose queries take scripted times on a manual clock.
class ScriptedSession final : public Session {
 public:
  ScriptedSession(std::int64_t* now, std::int64_t latency_ns, std::vector<TensorInfo> inputs)
      : now_(now), latency_ns_(latency_ns), inputs_(std::move(inputs)) {}
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return inputs_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>&) override {
    ++runs;
    if (total_runs) ++*total_runs;
    last_input_count = inputs.size();
    *now_ += latency_ns_;
    if (fail_at >= 0 && runs > fail_at) return Internal("device lost");
    return Status::Ok();
  }
  int runs = 0;
  int fail_at = -1;
  int* total_runs = nullptr;  // outlives the session, which the runner destroys
  std::size_t last_input_count = 0;

 private:
  std::int64_t* now_;
  std::int64_t latency_ns_;
  std::vector<TensorInfo> inputs_;
};

class RecordingListener final : public BenchListener {
 public:
  void OnPhaseBegin(Phase p) override { events.push_back("begin " + std::string(PhaseName(p))); }
  void OnPhaseEnd(Phase p, double) override {
    events.push_back("end " + std::string(PhaseName(p)));
  }
  void OnQuery(std::int64_t, double, double progress) override {
    last_progress = progress;
    ++queries;
  }
  std::vector<std::string> events;
  double last_progress = 0;
  int queries = 0;
};

class CountingMonitor final : public Monitor {
 public:
  explicit CountingMonitor(bool start_fails = false) : start_fails_(start_fails) {}
  std::string_view Name() const override { return "counting"; }
  Status Start() override {
    ++starts;
    return start_fails_ ? Unavailable("no sensor here") : Status::Ok();
  }
  Status Stop() override {
    ++stops;
    return Status::Ok();
  }
  MonitorReport Report() const override {
    MonitorReport r;
    r.monitor = "counting";
    r.metrics.push_back({"starts", static_cast<double>(starts), "count"});
    return r;
  }
  int starts = 0, stops = 0;

 private:
  bool start_fails_;
};

struct Harness {
  std::int64_t now = 0;
  int runs = 0;
  std::int64_t latency_ns = 10 * kMs;
  std::int64_t load_ns = 50 * kMs;
  int fail_at = -1;
  std::vector<TensorInfo> inputs = {{"x", DType::kF32, Shape{Shape::kDynamic, 4}}};

  SessionFactory Factory() {
    return [this]() -> Expected<std::unique_ptr<Session>> {
      now += load_ns;
      auto s = std::make_unique<ScriptedSession>(&now, latency_ns, inputs);
      s->fail_at = fail_at;
      s->total_runs = &runs;
      return std::unique_ptr<Session>(std::move(s));
    };
  }
  BenchHooks Hooks() {
    BenchHooks h;
    h.clock = [this] { return now; };
    return h;
  }
};

BenchConfig SmallConfig() {
  BenchConfig c;
  c.stop = {.min_queries = 5, .min_duration_s = 0.1, .max_duration_s = 10, .max_queries = 0};
  c.warmup_queries = 3;
  c.warmup_s = 0;
  c.sample_period_s = 0;  // no sampler thread: the manual clock would never move it
  return c;
}

TEST(RunnerTest, PhasesInOrderAndStopWhenBothMinimumsMet) {
  Harness h;
  RecordingListener listener;
  BenchListener* const listeners[] = {&listener};
  auto r = RunBenchmark(h.Factory(), SmallConfig(), {}, listeners, h.Hooks());
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  // 10 ms queries: 5 queries take 50 ms < 100 ms, so the duration decides: 10 queries.
  EXPECT_EQ(r->queries, 10);
  EXPECT_TRUE(r->valid);
  EXPECT_DOUBLE_EQ(r->phases.load_ms, 50);
  EXPECT_DOUBLE_EQ(r->phases.first_inference_ms, 10);
  EXPECT_EQ(r->phases.warmup_queries, 3);
  EXPECT_DOUBLE_EQ(r->phases.measured_s, 0.1);
  EXPECT_DOUBLE_EQ(r->latency_ms.p50, 10);
  EXPECT_DOUBLE_EQ(r->throughput_qps, 100);
  EXPECT_EQ(h.runs, 1 + 3 + 10);
  EXPECT_EQ(listener.events,
            (std::vector<std::string>{"begin load", "end load", "begin first inference",
                                      "end first inference", "begin warm-up", "end warm-up",
                                      "begin measured", "end measured"}));
  EXPECT_EQ(listener.queries, 10);
  EXPECT_DOUBLE_EQ(listener.last_progress, 1.0);
}

TEST(RunnerTest, QueryCountDecidesWhenQueriesAreSlow) {
  Harness h;
  h.latency_ns = 100 * kMs;
  auto r = RunBenchmark(h.Factory(), SmallConfig(), {}, {}, h.Hooks());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->queries, 5);
  EXPECT_TRUE(r->valid);
}

TEST(RunnerTest, MaxDurationMakesResultInvalidTooFewQueries) {
  Harness h;
  h.latency_ns = 400 * kMs;
  BenchConfig c = SmallConfig();
  c.stop.max_duration_s = 1.0;
  c.stop.min_duration_s = 0.5;
  auto r = RunBenchmark(h.Factory(), c, {}, {}, h.Hooks());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->queries, 3);  // 1.2 s >= 1.0 s max
  EXPECT_FALSE(r->valid);
  ASSERT_EQ(r->invalid_reasons.size(), 1u);
  EXPECT_EQ(r->invalid_reasons[0], "too few queries: 3 < minimum 5");
}

TEST(RunnerTest, MaxQueriesMakesResultInvalidTooShort) {
  Harness h;
  BenchConfig c = SmallConfig();
  c.stop.max_queries = 6;
  auto r = RunBenchmark(h.Factory(), c, {}, {}, h.Hooks());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->queries, 6);
  EXPECT_FALSE(r->valid);
  ASSERT_EQ(r->invalid_reasons.size(), 1u);
  EXPECT_EQ(r->invalid_reasons[0], "too short: 0.060 s < minimum 0.100 s");
}

TEST(RunnerTest, OfflineCountsSamplesAndFeedsTheBatch) {
  Harness h;
  BenchConfig c = SmallConfig();
  c.scenario = Scenario::kOffline;
  c.batch = 8;
  auto r = RunBenchmark(h.Factory(), c, {}, {}, h.Hooks());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->samples, r->queries * 8);
  EXPECT_DOUBLE_EQ(r->throughput_samples_per_s, 800);
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].shape, (Shape{8, 4}));
}

TEST(RunnerTest, MonitorsWrapTheMeasuredLoopAndUnsupportedIsReported) {
  Harness h;
  CountingMonitor ok;
  CountingMonitor broken(true);
  Monitor* const monitors[] = {&ok, &broken};
  auto r = RunBenchmark(h.Factory(), SmallConfig(), monitors, {}, h.Hooks());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ok.starts, 1);
  EXPECT_EQ(ok.stops, 1);
  EXPECT_EQ(broken.stops, 0);
  ASSERT_EQ(r->monitors.size(), 2u);
  EXPECT_FALSE(r->monitors[0].supported);
  EXPECT_EQ(r->monitors[0].unsupported_reason, "no sensor here");
  EXPECT_TRUE(r->monitors[1].supported);
}

TEST(RunnerTest, ErrorsCarryThePhase) {
  Harness h;
  h.fail_at = 2;  // first inference and one warm-up query succeed
  auto r = RunBenchmark(h.Factory(), SmallConfig(), {}, {}, h.Hooks());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().message(), "warm-up: device lost");

  auto failing_load = []() -> Expected<std::unique_ptr<Session>> { return Corrupt("m.onnx: bad"); };
  EXPECT_EQ(RunBenchmark(failing_load, SmallConfig(), {}, {}, {}).status().code(),
            StatusCode::kCorrupt);
}

TEST(RunnerTest, RejectsAStopRuleThatNeverStops) {
  Harness h;
  BenchConfig c = SmallConfig();
  c.stop = {};
  EXPECT_EQ(RunBenchmark(h.Factory(), c, {}, {}, h.Hooks()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RunnerTest, MeasuresMemoryAddedByLoad) {
  Harness h;
  BenchHooks hooks = h.Hooks();
  std::deque<std::int64_t> rss = {100 << 20, 130 << 20};
  hooks.resident_bytes = [&rss]() -> std::optional<std::int64_t> {
    const std::int64_t v = rss.front();
    if (rss.size() > 1) rss.pop_front();
    return v;
  };
  auto r = RunBenchmark(h.Factory(), SmallConfig(), {}, {}, hooks);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->model_load_memory_mib.has_value());
  EXPECT_DOUBLE_EQ(*r->model_load_memory_mib, 30);
}

// --- inputs ---

TEST(InputsTest, RandomIsSeededAndZerosAreZero) {
  const std::vector<TensorInfo> infos = {{"a", DType::kF32, Shape{1, 8}},
                                         {"b", DType::kI64, Shape{3}}};
  InputSpec spec;
  auto x = MakeInputs(infos, spec, 1);
  auto y = MakeInputs(infos, spec, 1);
  ASSERT_TRUE(x.has_value() && y.has_value());
  EXPECT_EQ(std::memcmp((*x)[0].data(), (*y)[0].data(), (*x)[0].byte_size()), 0);
  for (float v : (*x)[0].as<float>()) EXPECT_TRUE(v >= -1 && v <= 1);
  spec.seed = 43;
  auto z = MakeInputs(infos, spec, 1);
  EXPECT_NE(std::memcmp((*x)[0].data(), (*z)[0].data(), (*x)[0].byte_size()), 0);
  spec.kind = InputKind::kZeros;
  auto zeros = MakeInputs(infos, spec, 1);
  for (float v : (*zeros)[0].as<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(InputsTest, DynamicDimensionsNeedAShape) {
  const std::vector<TensorInfo> infos = {
      {"img", DType::kF32, Shape{Shape::kDynamic, 3, Shape::kDynamic}}};
  InputSpec spec;
  auto bad = MakeInputs(infos, spec, 1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("--input-shape img="), std::string::npos);
  spec.shapes["img"] = Shape{2, 3, 5};
  auto good = MakeInputs(infos, spec, 1);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ((*good)[0].shape(), (Shape{2, 3, 5}));
}

TEST(InputsTest, NpyFilesFillDynamicDimensions) {
  testing::TempDir dir;
  const std::vector<TensorInfo> infos = {{"x", DType::kF32, Shape{1, Shape::kDynamic}}};
  const auto npy = dir / "x.npy";
  ASSERT_TRUE(WriteFileAtomic(npy, EncodeNpy(*Tensor::Allocate(DType::kF32, Shape{1, 7}))).ok());
  InputSpec spec;
  spec.kind = InputKind::kFile;
  spec.files[""] = npy;
  auto t = MakeInputs(infos, spec, 1);
  ASSERT_TRUE(t.has_value()) << t.status().ToString();
  EXPECT_EQ((*t)[0].shape(), (Shape{1, 7}));
  // A file whose static dimensions disagree is still an error.
  ASSERT_TRUE(WriteFileAtomic(npy, EncodeNpy(*Tensor::Allocate(DType::kF32, Shape{2, 7}))).ok());
  EXPECT_FALSE(MakeInputs(infos, spec, 1).has_value());
}

TEST(InputsTest, FilesRawAndNpyWithSizeChecks) {
  testing::TempDir dir;
  const std::vector<TensorInfo> infos = {{"x", DType::kF32, Shape{1, 2}}};
  InputSpec spec;
  spec.kind = InputKind::kFile;

  spec.files[""] = dir.Write("ok.bin", std::string(8, '\0'));
  EXPECT_TRUE(MakeInputs(infos, spec, 1).has_value());

  spec.files[""] = dir.Write("short.bin", std::string(7, '\0'));
  auto wrong = MakeInputs(infos, spec, 1);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("short.bin: is 7 bytes but input 'x' (f32 1x2) needs 8"),
            std::string::npos);

  Tensor t = *Tensor::Allocate(DType::kF32, Shape{2});
  t.as<float>()[1] = 3.5f;
  const auto npy = dir / "x.npy";
  ASSERT_TRUE(WriteFileAtomic(npy, EncodeNpy(t)).ok());
  spec.files[""] = npy;
  auto from_npy = MakeInputs(infos, spec, 1);
  ASSERT_TRUE(from_npy.has_value()) << from_npy.status().ToString();
  EXPECT_EQ((*from_npy)[0].shape(), (Shape{1, 2}));
  EXPECT_EQ((*from_npy)[0].as<float>()[1], 3.5f);

  Tensor ints = *Tensor::Allocate(DType::kI32, Shape{2});
  ASSERT_TRUE(WriteFileAtomic(npy, EncodeNpy(ints)).ok());
  EXPECT_FALSE(MakeInputs(infos, spec, 1).has_value());

  spec.files.clear();
  spec.files["nope"] = npy;
  EXPECT_NE(MakeInputs(infos, spec, 1).status().message().find("no input named 'nope'"),
            std::string::npos);
}

}  // namespace
}  // namespace deepedge
