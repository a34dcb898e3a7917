// deepedge predict MODEL --device DEVICE.json [--measure]: per-layer latency prediction.
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "app.h"
#include "common.h"
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
  Expected<std::map<std::string, Shape>> shapes = ParseInputShapes(o.m);
  if (!shapes) return ReportError(shapes.status());
  Expected<partition::LayerGraph> g = partition::BuildLayerGraph(*src, *shapes);
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
  double measured_total = -1;
  if (o.measure) {
    Expected<partition::DeviceProfile> m = MeasureProfile(ctx, *src, *g, o.m);
    if (!m) return ReportError(m.status());
    measured_total = m->model_total_ms;
    for (std::size_t i = 0; i < measured.size(); ++i) measured[i] = 0;  // absent: folded
    for (const LayerProfile& l : m->layers) {
      const int i = partition::MatchProfileEntry(*g, l.name);
      if (i >= 0) measured[static_cast<std::size_t>(i)] += l.time_ms;
    }
    if (!o.save_profile.empty()) {
      partition::DeviceProfile save = *m;
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
  double total_pred = 0, total_meas = 0;
  nlohmann::json jl = nlohmann::json::array();
  for (std::size_t i = 0; i < g->layers.size(); ++i) {
    const partition::Layer& l = g->layers[i];
    const std::string cls = partition::LayerClass(l);
    const double p = (*pred)[i].time_ms;
    total_pred += p;
    ClassSum& cs = by_class[cls];
    cs.predicted += p;
    ++cs.layers;
    std::printf("%-4zu %-34.34s %-18.18s %-10s %8.4f ms", i, l.name.c_str(), l.type.c_str(),
                cls.c_str(), p);
    nlohmann::json row = {{"name", l.name}, {"type", l.type}, {"class", cls}, {"predicted_ms", p}};
    if (o.measure) {
      cs.measured += measured[i];
      total_meas += measured[i];
      row["measured_ms"] = measured[i];
      if (measured[i] > 0)
        std::printf(" %8.4f ms %+7.1f%%", measured[i], (p - measured[i]) / measured[i] * 100);
      else
        std::printf(" %8.4f ms %8s", measured[i], "");
    }
    std::printf("\n");
    jl.push_back(row);
  }
  nlohmann::json jc = nlohmann::json::object();
  if (o.measure) {
    std::printf("\nper layer type (sums):\n%-10s %7s %12s %12s %8s\n", "class", "layers",
                "predicted", "measured", "error");
    for (const auto& [cls, cs] : by_class) {
      const double err = cs.measured > 0 ? (cs.predicted - cs.measured) / cs.measured : NAN;
      std::printf("%-10s %7d %9.3f ms %9.3f ms %+7.1f%%\n", cls.c_str(), cs.layers, cs.predicted,
                  cs.measured, err * 100);
      jc[cls] = {{"layers", cs.layers},
                 {"predicted_ms", cs.predicted},
                 {"measured_ms", cs.measured},
                 {"rel_error", cs.measured > 0 ? nlohmann::json(err) : nlohmann::json()}};
    }
  }
  std::printf("\nwhole model: predicted %.3f ms", total_pred);
  if (o.measure) {
    std::printf(
        ", measured %.3f ms as run (error %+.1f%%), sum of profiled layers %.3f ms (error %+.1f%%)",
        measured_total, (total_pred - measured_total) / measured_total * 100, total_meas,
        (total_pred - total_meas) / total_meas * 100);
  }
  std::printf("\n");
  if (!o.json_path.empty()) {
    nlohmann::json doc = {{"schema", "deepedge.prediction"},
                          {"schema_version", 1},
                          {"model", {{"name", g->model_name}, {"sha256", g->sha256}}},
                          {"device", dev->device},
                          {"predicted_total_ms", total_pred},
                          {"layers", jl}};
    if (o.measure) {
      doc["measured_total_ms"] = measured_total;
      doc["measured_layers_sum_ms"] = total_meas;
      doc["rel_error"] = (total_pred - measured_total) / measured_total;
      doc["classes"] = jc;
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
  cmd->callback([&ctx] { ctx.exit_code = RunPredict(o, ctx); });
}

}  // namespace deepedge::app
