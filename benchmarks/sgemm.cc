// The engine's own SGEMM (used by Conv/Gemm/MatMul outside XNNPACK regions) against
// XNNPACK's f32 fully-connected operator on the same shapes, in the same run.
//
// Target (issue 3): the best micro-kernel this CPU runs within 2x of XNNPACK on
// 256x256x256. Read the printed "ratio_to_xnnpack" counters; every micro-kernel the
// CPU supports is measured, so a slow fallback is visible too. Single thread.
#include <benchmark/benchmark.h>
#include <xnnpack.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/nn_sgemm.h"

namespace {

std::vector<float> Random(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void SetFlops(benchmark::State& state, std::int64_t n) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * n * n),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void BM_XnnpackFullyConnected(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  if (xnn_initialize(nullptr) != xnn_status_success) {
    state.SkipWithError("xnn_initialize failed");
    return;
  }
  // XNNPACK computes out[m, n] = in[m, k] * W[n, k]^T, i.e. Sgemm with trans_b.
  std::vector<float> a = Random(n * n, 1), w = Random(n * n, 2), c(n * n);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(n, n, n, n, w.data(), nullptr, -INFINITY, INFINITY, 0,
                                        &op) != xnn_status_success ||
      xnn_setup_fully_connected_nc_f32(op, n, a.data(), c.data(), nullptr) != xnn_status_success) {
    state.SkipWithError("XNNPACK fully-connected set-up failed");
    return;
  }
  for (auto _ : state) {
    xnn_run_operator(op, nullptr);
    benchmark::DoNotOptimize(c.data());
  }
  xnn_delete_operator(op);
  SetFlops(state, n);
}

void BM_DeepEdgeSgemm(benchmark::State& state, const std::string& kernel) {
  const std::int64_t n = state.range(0);
  if (!deepedge::engine::nn::SetSgemmKernel(kernel)) {
    state.SkipWithError(("unknown micro-kernel " + kernel).c_str());
    return;
  }
  std::vector<float> a = Random(n * n, 1), w = Random(n * n, 2), c(n * n);
  for (auto _ : state) {
    deepedge::engine::nn::Sgemm(nullptr, false, true, n, n, n, 1, a.data(), n, w.data(), n, 0,
                                c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  SetFlops(state, n);
}

// The console report, then one line per micro-kernel and size: time over XNNPACK's.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs)
      if (!run.error_occurred) seconds_[run.benchmark_name()] = run.GetAdjustedRealTime();
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& [name, time] : seconds_) {
      const auto slash = name.rfind('/');
      if (name.rfind("deepedge_sgemm/", 0) != 0 || slash == std::string::npos) continue;
      const auto peer = seconds_.find("xnnpack_fully_connected" + name.substr(slash));
      if (peer == seconds_.end() || peer->second <= 0) continue;
      std::printf("%-40s ratio_to_xnnpack %.2fx (lower is better)\n", name.c_str(),
                  time / peer->second);
    }
  }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("xnnpack_fully_connected", BM_XnnpackFullyConnected)
      ->Arg(64)
      ->Arg(256)
      ->Unit(benchmark::kMicrosecond);
  for (const std::string& kernel : deepedge::engine::nn::SgemmKernelNames())
    benchmark::RegisterBenchmark(("deepedge_sgemm/" + kernel).c_str(), BM_DeepEdgeSgemm, kernel)
        ->Arg(64)
        ->Arg(256)
        ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
