// deepedge predict MODEL --device DEVICE.json [--measure]: per-layer latency prediction.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.h"
#include "case_timer.h"
#include "common.h"
#include "deepedge/bench.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "partition_util.h"

namespace deepedge::app {
namespace {

struct PredictOptions {
  std::string model;
  std::string device;
  bool measure = false;
  std::string save_profile;
  std::string json_path;
  MeasureOptions m;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// What --measure measured: per profile entry and for the whole model, the fastest and
// the median of the runs.
struct Measured {
  partition::DeviceProfile median;              // layers and total: medians (--save-profile)
  std::map<std::string, double> layer_fastest;  // profile entry -> fastest
  double total_fastest = 0;
};

// Like MeasureProfile, but keeping the fastest run too. The fastest is what the
// prediction is checked against: calibration keeps each layer's fastest run, because on
// a shared machine runs are only ever slowed (preemption, a parallel kernel waiting a
// scheduler tick for a descheduled worker), by amounts that have nothing to do with
// the model. The medians are printed beside it.
Expected<Measured> MeasureBoth(AppContext& ctx, const ModelSource& source,
                               const partition::LayerGraph& graph, const MeasureOptions& o) {
  Measured m;
  m.median.device = HostName();
  m.median.threads = o.threads;
  m.median.model_name = graph.model_name;
  m.median.model_sha256 = graph.sha256;
  DEEPEDGE_ASSIGN_OR_RETURN(m.median.backend, ChooseBackend(ctx, o.backend, source.format));
  DEEPEDGE_ASSIGN_OR_RETURN(auto options, ParseBackendOptions(o.backend_options));
  SessionOptions so;
  so.threads = o.threads;
  so.backend_options = options;
  DEEPEDGE_ASSIGN_OR_RETURN(InputSpec spec, MeasureInputSpec(o));
  std::vector<Tensor> inputs, outputs;
  {
    so.profile_layers = true;
    DEEPEDGE_ASSIGN_OR_RETURN(auto session, ctx.backends.Load(m.median.backend, source, so));
    DEEPEDGE_ASSIGN_OR_RETURN(inputs, MakeInputs(session->Inputs(), spec, 1));
    DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, outputs));
    DEEPEDGE_ASSIGN_OR_RETURN(LayerTimes lt, CollectLayerTimes(*session, inputs, o.runs));
    for (const std::string& n : lt.order) {
      LayerProfile l = lt.info[n];
      l.time_ms = Median(lt.times[n]);
      m.median.layers.push_back(l);
      m.layer_fastest[n] = *std::min_element(lt.times[n].begin(), lt.times[n].end());
    }
  }
  // The whole model as it normally runs (no per-layer timing overhead).
  so.profile_layers = false;
  DEEPEDGE_ASSIGN_OR_RETURN(auto plain, ctx.backends.Load(m.median.backend, source, so));
  DEEPEDGE_RETURN_IF_ERROR(plain->Run(inputs, outputs));
  std::vector<double> wall;
  for (int r = 0; r < o.runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    DEEPEDGE_RETURN_IF_ERROR(plain->Run(inputs, outputs));
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  m.median.model_total_ms = Median(wall);
  m.total_fastest = *std::min_element(wall.begin(), wall.end());
  return m;
}

// How fast this host runs the device profile's reference layers now against when it
// was calibrated (now / then), each timed as calibrate times its warm runs.
struct HostDrift {
  double ratio = -1;  // geometric mean over the cases; -1: not measured
  double lowest = 0, highest = 0;
  std::map<std::string, std::pair<double, double>> cases;  // -> {calibrated, now} ms
  std::string why_not;                                     // when not measured
};

// A drift beyond this share is named in a warning.
constexpr double kDriftWarning = 0.1;
// Seconds of reference rounds before the model's runs and again after them.
constexpr double kDriftSeconds = 0.75;

// Why the host's drift cannot be measured against `dev` (shown as "not compared"), or ""
// when it can.
Expected<std::string> WhyNoDrift(AppContext& ctx, const partition::DeviceProfile& dev,
                                 const MeasureOptions& o) {
  if (dev.reference_cases.empty())
    return std::string("the device profile has no reference layers; calibrate anew to get them");
  if (ResolvedThreads(o.threads) != ResolvedThreads(dev.threads))
    return std::string("the profile was calibrated with another thread count");
  DEEPEDGE_ASSIGN_OR_RETURN(const std::string backend,
                            ChooseBackend(ctx, o.backend, ModelFormat::kOnnx));
  if (!dev.backend.empty() && backend != dev.backend)
    return "the profile was calibrated on backend " + dev.backend;
  return std::string();
}

// The drift from the reference layers' times before and after the model's runs: each
// case's time now is the mean of the two.
HostDrift Drift(const std::map<std::string, double>& calibrated,
                const std::map<std::string, double>& before,
                const std::map<std::string, double>& after) {
  HostDrift d;
  double log_sum = 0;
  for (const auto& [name, b] : before) {
    auto a = after.find(name);
    auto c = calibrated.find(name);
    if (a == after.end() || c == calibrated.end() || !(b > 0) || !(a->second > 0)) continue;
    const double now = (b + a->second) / 2;
    d.cases[name] = {c->second, now};
    const double r = now / c->second;
    d.lowest = d.cases.size() == 1 ? r : std::min(d.lowest, r);
    d.highest = std::max(d.highest, r);
    log_sum += std::log(r);
  }
  if (d.cases.empty())
    d.why_not = "none of the profile's reference layers is in this sweep";
  else
    d.ratio = std::exp(log_sum / static_cast<double>(d.cases.size()));
  return d;
}

struct ClassSum {
  double predicted = 0, measured = 0;
  int layers = 0;
};

int RunPredict(const PredictOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.json_path, "--json"); !s.ok()) return ReportError(s);
  if (Status s = CheckOutputPath(o.save_profile, "--save-profile"); !s.ok()) return ReportError(s);
  if (!o.save_profile.empty() && !o.measure)
    return ReportError(InvalidArgument("--save-profile needs --measure"));
  Expected<ModelSource> src = ModelSource::FromFile(o.model);
  if (!src) return ReportError(src.status());
  Expected<GraphInputs> gin = ParseGraphInputs(o.m);
  if (!gin) return ReportError(gin.status());
  Expected<partition::LayerGraph> g = partition::BuildLayerGraph(*src, gin->shapes, gin->values);
  if (!g) return ReportError(g.status());
  Expected<partition::DeviceProfile> dev = partition::ReadDeviceProfile(o.device);
  if (!dev) return ReportError(dev.status());
  // Predictions use the fits only, never measured layers the file may also hold.
  partition::DeviceProfile fits_only = *dev;
  fits_only.layers.clear();
  fits_only.model_sha256.clear();
  if (fits_only.fits.empty())
    return ReportError(InvalidArgument(
        o.device + ": the device profile has no latency fits (run deepedge calibrate)"));
  Expected<std::vector<partition::LayerCost>> pred = partition::LayerCosts(*g, fits_only);
  if (!pred) return ReportError(pred.status().WithContext(o.device));
  std::vector<double> measured(g->layers.size(), -1);
  double measured_total = -1, measured_total_median = -1, unmatched_ms = 0;
  HostDrift drift;
  if (o.measure) {
    if (ResolvedThreads(o.m.threads) != ResolvedThreads(dev->threads))
      std::fprintf(stderr,
                   "warning: the device profile was calibrated with -t %d, this measures with "
                   "-t %d\n",
                   dev->threads, o.m.threads);
    // The reference layers are loaded once and timed before and after the model's runs.
    Expected<std::string> why_not = WhyNoDrift(ctx, *dev, o.m);
    if (!why_not) return ReportError(why_not.status().WithContext("the reference layers"));
    drift.why_not = *why_not;
    std::vector<LoadedCase> refs;
    std::map<std::string, double> before;
    if (why_not->empty()) {
      Expected<std::vector<LoadedCase>> loaded = LoadNamedCases(ctx, dev->reference_cases, o.m);
      if (!loaded) return ReportError(loaded.status().WithContext("the reference layers"));
      refs = std::move(*loaded);
      Expected<std::map<std::string, double>> t = TimeWarmRuns(refs, kDriftSeconds);
      if (!t) return ReportError(t.status().WithContext("the reference layers"));
      before = std::move(*t);
    }
    Expected<Measured> m = MeasureBoth(ctx, *src, *g, o.m);
    if (!m) return ReportError(m.status());
    if (why_not->empty()) {
      Expected<std::map<std::string, double>> after = TimeWarmRuns(refs, kDriftSeconds);
      if (!after) return ReportError(after.status().WithContext("the reference layers"));
      drift = Drift(dev->reference_cases, before, *after);
    }
    measured_total = m->total_fastest;
    measured_total_median = m->median.model_total_ms;
    for (std::size_t i = 0; i < measured.size(); ++i) measured[i] = 0;  // absent: folded
    for (const auto& [name, ms] : m->layer_fastest) {
      const int i = CarrierLayer(*g, *pred, name);
      if (i >= 0)
        measured[static_cast<std::size_t>(i)] += ms;
      else
        unmatched_ms += ms;  // region-border layout transposes, an If's own time (its
                             // branch's nodes are matched): no layer of the graph
    }
    if (!o.save_profile.empty()) {
      partition::DeviceProfile save = m->median;
      save.fits = dev->fits;
      save.power = dev->power;
      if (Status s = WriteFileAtomic(o.save_profile, partition::DeviceProfileToJson(save)); !s.ok())
        return ReportError(s);
    }
  }
  std::printf("model %s (%zu layers), device profile %s (%s)\n", g->model_name.c_str(),
              g->layers.size(), o.device.c_str(), dev->device.c_str());
  std::printf("%-4s %-34s %-18s %-10s %11s", "#", "layer", "type", "class", "predicted");
  if (o.measure) std::printf(" %11s %8s", "measured", "error");
  std::printf("\n");
  std::map<std::string, ClassSum> by_class;
  std::map<std::string, int> uncalibrated;  // op type -> layers predicted by a fallback
  double total_pred = 0, total_meas = 0;
  int warm_layers = 0;      // scaled by a warm ratio (data in the caches)
  int in_model_layers = 0;  // scaled by an in-model ratio
  nlohmann::json jl = nlohmann::json::array();
  for (std::size_t i = 0; i < g->layers.size(); ++i) {
    const partition::Layer& l = g->layers[i];
    const partition::LayerCost& c = (*pred)[i];
    const std::string cls = partition::LayerClass(l);
    // Per-type rows: uncalibrated types apart from the class whose fit stood in.
    const std::string key = c.fallback_class.empty() ? cls : l.type + " (uncalibrated)";
    if (!c.fallback_class.empty()) ++uncalibrated[l.type];
    const double p = c.time_ms;
    total_pred += p;
    ClassSum& cs = by_class[key];
    cs.predicted += p;
    ++cs.layers;
    const std::string how = c.fused                     ? " fused"
                            : c.costlier_branch         ? " costlier branch"
                            : c.shape_computation       ? " shape computation"
                            : !c.fallback_class.empty() ? " ~" + c.fallback_class + " fit"
                                                        : "";
    std::printf("%-4zu %-34.34s %-18.18s %-10s %8.4f ms", i, l.name.c_str(), l.type.c_str(),
                cls.empty() ? "-" : cls.c_str(), p);
    nlohmann::json row = {{"name", l.name},
                          {"type", l.type},
                          {"class", cls},
                          {"macs", l.macs},
                          {"input_bytes", l.input_bytes},
                          {"output_bytes", l.output_bytes},
                          {"weight_bytes", l.weight_bytes},
                          {"predicted_ms", p}};
    if (c.fused) row["fused"] = true;
    if (c.shape_computation) row["shape_computation"] = true;
    if (!c.fallback_class.empty()) row["predicted_from"] = c.fallback_class;
    if (c.warm) {
      row["fit"] = "warm";
      ++warm_layers;
    }
    if (c.in_model) {
      row["in_model_ratio"] = dev->in_model_ratios.at(c.fit_class);
      ++in_model_layers;
    }
    if (o.measure) {
      cs.measured += measured[i];
      total_meas += measured[i];
      row["measured_ms"] = measured[i];
      if (measured[i] > 0)
        std::printf(" %8.4f ms %+7.1f%%", measured[i], (p - measured[i]) / measured[i] * 100);
      else
        std::printf(" %8.4f ms %8s", measured[i], "");
    }
    std::printf("%s\n", how.c_str());
    jl.push_back(row);
  }
  if (!uncalibrated.empty()) {
    std::printf("\nnot calibrated, predicted from the eltwise fit (by bytes; rough):");
    for (const auto& [type, n] : uncalibrated) std::printf(" %s x%d", type.c_str(), n);
    std::printf("\n");
  }
  if (warm_layers > 0) {
    std::printf(
        "\n%d layers predicted from warm ratios (input and output within the %lld KiB L2, "
        "weights within twice that), the others cold\n",
        warm_layers, static_cast<long long>(dev->l2_cache_bytes / 1024));
  }
  if (in_model_layers > 0) {
    std::printf("%d layers scaled by the profile's in-model ratios (-t %d):", in_model_layers,
                dev->threads);
    for (const auto& [cls, r] : dev->in_model_ratios) std::printf(" %s %.2f", cls.c_str(), r);
    std::printf("\n");
  }
  nlohmann::json jc = nlohmann::json::object();
  auto rel = [](double p, double m) { return m > 0 ? (p - m) / m : NAN; };
  if (o.measure) {
    std::printf(
        "\nper layer type (sums; measured: each layer's fastest of %d runs):\n"
        "%-28s %7s %12s %12s %8s\n",
        o.m.runs, "class", "layers", "predicted", "measured", "error");
    for (const auto& [cls, cs] : by_class) {
      const double err = rel(cs.predicted, cs.measured);
      std::printf("%-28s %7d %9.3f ms %9.3f ms %+7.1f%%\n", cls.empty() ? "-" : cls.c_str(),
                  cs.layers, cs.predicted, cs.measured, err * 100);
      jc[cls] = {{"layers", cs.layers},
                 {"predicted_ms", cs.predicted},
                 {"measured_ms", cs.measured},
                 {"rel_error", cs.measured > 0 ? nlohmann::json(err) : nlohmann::json()}};
    }
    if (unmatched_ms > 0)
      std::printf("%-28s %7s %12s %9.3f ms\n", "(no layer: transposes, If)", "", "-", unmatched_ms);
  }
  std::printf("\nwhole model: predicted %.3f ms", total_pred);
  if (o.measure) {
    std::printf(
        "\n  measured as run, fastest of %d: %.3f ms (error %+.1f%%); median %.3f ms (error "
        "%+.1f%%)\n  sum of profiled layers (fastest each): %.3f ms (error %+.1f%%)",
        o.m.runs, measured_total, rel(total_pred, measured_total) * 100, measured_total_median,
        rel(total_pred, measured_total_median) * 100, total_meas,
        rel(total_pred, total_meas) * 100);
  }
  std::printf("\n");
  if (drift.ratio > 0) {
    std::printf(
        "  host speed: the profile's %zu reference layers took %.2fx their calibration time "
        "(geometric mean, %.2f-%.2f);\n  predicted x %.2f = %.3f ms (error %+.1f%% against the "
        "fastest as-run)\n",
        drift.cases.size(), drift.ratio, drift.lowest, drift.highest, drift.ratio,
        total_pred * drift.ratio, rel(total_pred * drift.ratio, measured_total) * 100);
    if (drift.ratio > 1 + kDriftWarning || drift.ratio < 1 - kDriftWarning)
      std::fprintf(stderr,
                   "warning: this host ran the reference layers %.2fx as long as when %s was "
                   "calibrated: the errors above mix the predictor's with the host's drift\n",
                   drift.ratio, o.device.c_str());
  } else if (o.measure && !drift.why_not.empty()) {
    std::printf("  host speed: not compared (%s)\n", drift.why_not.c_str());
  }
  if (!o.json_path.empty()) {
    nlohmann::json doc = {{"schema", "deepedge.prediction"},
                          {"schema_version", 1},
                          {"model", {{"name", g->model_name}, {"sha256", g->sha256}}},
                          {"device", dev->device},
                          {"predicted_total_ms", total_pred},
                          {"layers", jl}};
    if (o.measure) {
      // measured_total_ms: the fastest as-run time (what rel_error compares with).
      doc["measured_total_ms"] = measured_total;
      doc["measured_total_median_ms"] = measured_total_median;
      doc["measured_layers_sum_ms"] = total_meas;
      doc["unmatched_entries_ms"] = unmatched_ms;
      doc["runs"] = o.m.runs;
      doc["rel_error"] = (total_pred - measured_total) / measured_total;
      doc["classes"] = jc;
      if (drift.ratio > 0) {
        nlohmann::json cases = nlohmann::json::object();
        for (const auto& [name, c] : drift.cases)
          cases[name] = {{"calibrated_ms", c.first}, {"now_ms", c.second}};
        doc["host_drift"] = {{"ratio", drift.ratio},
                             {"cases", cases},
                             {"predicted_total_scaled_ms", total_pred * drift.ratio},
                             {"rel_error_scaled", rel(total_pred * drift.ratio, measured_total)}};
      }
    }
    if (Status s = WriteFileAtomic(o.json_path, doc.dump(2) + "\n"); !s.ok()) return ReportError(s);
  }
  return 0;
}

}  // namespace

void AddPredictCommand(CLI::App& app, AppContext& ctx) {
  static PredictOptions o;
  CLI::App* cmd = app.add_subcommand(
      "predict", "Predict each layer's latency from a device profile's fits (no run needed)");
  cmd->add_option("model", o.model, "ONNX model")->required();
  cmd->add_option("--device", o.device, "Device profile with fits (deepedge calibrate)")
      ->required();
  cmd->add_flag("--measure", o.measure, "Also measure here and report the errors");
  cmd->add_option("--save-profile", o.save_profile,
                  "With --measure: write the measured layers as a device profile of this model");
  cmd->add_option("--json", o.json_path, "Write predictions (and errors) as JSON");
  AddMeasureOptions(cmd, o.m);
  AddGraphInputOptions(cmd, o.m);
  cmd->callback([&ctx] { ctx.exit_code = RunPredict(o, ctx); });
}

}  // namespace deepedge::app
