// deepedge calibrate -o DEVICE.json: per-layer-class latency regressions of this device.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app.h"
#include "case_timer.h"
#include "common.h"
#include "deepedge/bench.h"
#include "deepedge/environment.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "partition_util.h"

namespace deepedge::app {
namespace {

struct CalibrateOptions {
  std::string out;
  std::string device_name;
  bool quick = false;
  double min_duration_s = -1;  // -1: 120 s, or 0 with --quick
  MeasureOptions m;
};

// Sets `p.in_model_ratios` from the networks' layers (each entry's kFastQuantile over the
// rounds, as the cases' times) against `p`'s predictions, and prints them.
Status SetInModelRatios(std::vector<LoadedNetwork>& networks, partition::DeviceProfile& p) {
  if (networks.empty()) {
    std::printf("\nin-model ratios: none (1 thread: layers in a model ran as fast as alone)\n");
    return Status::Ok();
  }
  std::map<std::string, partition::ClassTimes> sums;
  for (LoadedNetwork& n : networks) {
    Expected<std::vector<partition::LayerCost>> pred = partition::LayerCosts(n.graph, p);
    if (!pred) return pred.status().WithContext(n.description);
    std::vector<double> measured(n.graph.layers.size(), 0);  // no entry: folded by the engine
    for (const auto& [entry, runs] : n.entry_runs) {
      const int i = CarrierLayer(n.graph, *pred, entry);
      if (i >= 0) measured[static_cast<std::size_t>(i)] += LowQuantile(runs);
    }
    partition::AddClassTimes(*pred, measured, sums);
  }
  p.in_model_ratios = partition::InModelRatios(sums);
  std::string names;
  for (const LoadedNetwork& n : networks) names += (names.empty() ? "" : "; ") + n.description;
  std::printf("\nin-model ratios (%s, each layer's %.0fth percentile over the rounds):\n",
              names.c_str(), kFastQuantile * 100);
  std::printf("%-10s %8s %12s %12s %8s\n", "class", "layers", "predicted", "in model", "ratio");
  for (const auto& [cls, t] : sums) {
    std::printf("%-10s %8d %9.3f ms %9.3f ms", cls.c_str(), t.layers, t.predicted_ms,
                t.measured_ms);
    if (const auto r = p.in_model_ratios.find(cls); r != p.in_model_ratios.end())
      std::printf(" %8.2f\n", r->second);
    else
      std::printf(" %8s\n", "- (small)");
  }
  return Status::Ok();
}

int RunCalibrate(const CalibrateOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.out, "-o"); !s.ok()) return ReportError(s);
  Expected<std::vector<partition::CalibrationCase>> cases = partition::CalibrationCases(o.quick);
  if (!cases) return ReportError(cases.status());
  std::map<std::string, std::vector<partition::Sample>> samples;
  std::vector<LoadedCase> loaded;
  std::vector<partition::Layer> layers;
  for (const partition::CalibrationCase& c : *cases) {
    const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, c.model);
    Expected<partition::LayerGraph> g = partition::BuildLayerGraph(src);
    if (!g) return ReportError(g.status().WithContext(c.description));
    const int li = g->Find(c.layer);
    if (li < 0) return ReportError(Internal("calibration model lacks layer " + c.layer));
    layers.push_back(g->layers[static_cast<std::size_t>(li)]);
    Expected<LoadedCase> lc = LoadCase(ctx, src, c, o.m);
    if (!lc) return ReportError(lc.status().WithContext(c.description));
    loaded.push_back(std::move(*lc));
  }
  // With 2+ threads a layer inside a model runs slower than alone (InModelRatios): whole
  // networks are timed in the same rounds, so that their layers and the cases see the same
  // phases of the host.
  std::vector<LoadedNetwork> networks;
  if (ResolvedThreads(o.m.threads) > 1) {
    Expected<std::vector<partition::ReferenceNetwork>> refs =
        partition::InModelReferenceNetworks(o.quick);
    if (!refs) return ReportError(refs.status());
    for (const partition::ReferenceNetwork& r : *refs) {
      Expected<LoadedNetwork> n = LoadNetwork(ctx, r, o.m);
      if (!n) return ReportError(n.status().WithContext(r.description));
      networks.push_back(std::move(*n));
    }
  }
  // Round robin (RunRounds): every case twice per round, so that each case's runs are
  // spread over the whole calibration and its fast runs are not hostage to a burst of
  // load (on a VM whose other vCPU is busy, a whole second of runs can be 1.5x slow). The
  // cold run finds the layer's data evicted by the other cases (as in a model larger than
  // the caches); the warm one, after L2 is flushed, finds its weights and input in the
  // last-level cache (as in a small model, run after run).
  const EnvironmentInfo env = CaptureEnvironment(MonitorPaths{}, "");
  // Rounds go on until --min-duration has passed too: this project's VMs drift between a
  // fast and a slow phase for a minute or more at a time (every layer 20-30 % slower), and a
  // calibration inside one slow phase shifts every fit by as much.
  const auto start = std::chrono::steady_clock::now();
  const double min_duration_s = o.min_duration_s >= 0 ? o.min_duration_s : o.quick ? 0 : 120;
  const Expected<int> rounds = RunRounds(loaded, o.m.runs, min_duration_s, &networks);
  if (!rounds) return ReportError(rounds.status());
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d rounds in %.0f s; each case's cold and warm time (%.0fth percentile):\n", *rounds,
              elapsed_s, kFastQuantile * 100);
  // Warm / cold ratios of the cases that run from the caches (RunsFromCaches), the only
  // layers LayerCosts scales by one (the nearest case's). Ratios, not fits of their own:
  // warm fits of the 5-6 such cases a class has extrapolated badly (SqueezeNet's 13x13
  // convolutions 1.6x slow, fc 47 % leave-one-out error).
  std::map<std::string, std::vector<partition::Sample>> warm_cases;
  std::map<std::string, double> reference;
  std::printf("%-10s %-36s %12s %10s %10s %10s %10s %10s\n", "class", "layer", "MACs", "in KiB",
              "out KiB", "wts KiB", "cold", "warm");
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    const partition::CalibrationCase& c = (*cases)[i];
    const double cold_ms = LowQuantile(loaded[i].cold_runs);
    const double warm_ms = LowQuantile(loaded[i].warm_runs);
    const partition::Layer& l = layers[i];
    for (const char* r : kReferenceCases)
      if (c.description == r) reference[r] = warm_ms;
    samples[c.layer_class].push_back(
        {l.macs, l.input_bytes, l.output_bytes, l.weight_bytes, cold_ms});
    if (partition::RunsFromCaches(l.input_bytes + l.output_bytes, l.weight_bytes,
                                  env.l2_cache_bytes)) {
      // A ratio over 1 is noise: a warm run is never slower in principle.
      warm_cases[c.layer_class].push_back({l.macs, l.input_bytes, l.output_bytes, l.weight_bytes,
                                           std::clamp(warm_ms / cold_ms, 0.05, 1.0)});
    }
    std::printf("%-10s %-36.36s %12lld %10.1f %10.1f %10.1f %7.4f ms %7.4f ms\n",
                c.layer_class.c_str(), c.description.c_str(), static_cast<long long>(l.macs),
                static_cast<double>(l.input_bytes) / 1024,
                static_cast<double>(l.output_bytes) / 1024,
                static_cast<double>(l.weight_bytes) / 1024, cold_ms, warm_ms);
  }
  loaded.clear();
  partition::DeviceProfile p;
  p.device = o.device_name.empty() ? HostName() : o.device_name;
  p.threads = o.m.threads;
  Expected<std::string> backend = ChooseBackend(ctx, o.m.backend, ModelFormat::kOnnx);
  if (!backend) return ReportError(backend.status());
  p.backend = *backend;
  p.warm_cases = std::move(warm_cases);
  p.cold_cases = samples;
  p.reference_cases = std::move(reference);
  p.l2_cache_bytes = env.l2_cache_bytes;
  p.last_level_cache_bytes = env.last_level_cache_bytes;
  std::printf("\n%-10s %8s %8s %22s %16s\n", "class", "samples", "form", "leave-one-out error",
              "warm / cold");
  for (const auto& [cls, s] : samples) {
    Expected<partition::LatencyFit> f = partition::FitLatency(s);
    if (!f) return ReportError(f.status().WithContext("class " + cls));
    p.fits[cls] = *f;
    std::printf("%-10s %8d %8s %21.1f%%", cls.c_str(), f->samples, f->form.c_str(), f->error * 100);
    if (auto w = p.warm_cases.find(cls); w != p.warm_cases.end() && !w->second.empty()) {
      std::vector<double> r;
      for (const partition::Sample& warm_case : w->second) r.push_back(warm_case.time_ms);
      std::nth_element(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(r.size() / 2), r.end());
      p.warm_ratios[cls] = r[r.size() / 2];
      std::printf(" %9.2f (of %zu)", p.warm_ratios[cls], r.size());
    }
    std::printf("\n");
  }
  if (Status s = SetInModelRatios(networks, p); !s.ok()) return ReportError(s);
  if (p.l2_cache_bytes > 0) {
    const std::string last_level = p.last_level_cache_bytes > 0
                                       ? std::to_string(p.last_level_cache_bytes / 1024) + " KiB"
                                       : std::string("unknown");
    std::printf("caches (from %s): L2 %lld KiB, last level %s\n", env.cache_source.c_str(),
                static_cast<long long>(p.l2_cache_bytes / 1024), last_level.c_str());
  } else {
    std::printf("caches: unknown (predictions use the cold fits only)\n");
  }
  // No power sensor is read here: the documented defaults (docs/partition.md), labelled.
  std::printf(
      "power: compute %.1f W, idle %.1f W, radio tx %.1f W, rx %.1f W (ESTIMATED: defaults)\n",
      p.power.compute_w, p.power.idle_w, p.power.radio_tx_w, p.power.radio_rx_w);
  if (Status s = WriteFileAtomic(o.out, partition::DeviceProfileToJson(p)); !s.ok())
    return ReportError(s);
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace

void AddCalibrateCommand(CLI::App& app, AppContext& ctx) {
  static CalibrateOptions o;
  CLI::App* cmd = app.add_subcommand(
      "calibrate",
      "Time single-layer models and fit per-layer-type latency models (a device profile)");
  cmd->add_option("-o,--output", o.out, "Device profile to write (JSON, docs/partition.md)")
      ->required();
  cmd->add_option("--device-name", o.device_name, "Label of this device (default: the host name)");
  cmd->add_flag("--quick", o.quick, "Three sizes per layer type (faster, coarser)");
  cmd->add_option("--min-duration", o.min_duration_s,
                  "Go on with rounds for at least this many seconds (default 120, 0 with "
                  "--quick; 0: the --runs rounds only)")
      ->check(CLI::NonNegativeNumber);
  o.m.runs = 30;  // rounds; each runs every case once (cheap: the layers are small)
  AddMeasureOptions(cmd, o.m);
  cmd->callback([&ctx] { ctx.exit_code = RunCalibrate(o, ctx); });
}

}  // namespace deepedge::app
