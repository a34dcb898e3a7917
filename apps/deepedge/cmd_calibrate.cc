// deepedge calibrate -o DEVICE.json: per-layer-class latency regressions of this device.
#include <cstdio>
#include <map>

#include "app.h"
#include "common.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "partition_util.h"

namespace deepedge::app {
namespace {

struct CalibrateOptions {
  std::string out;
  std::string device_name;
  bool quick = false;
  MeasureOptions m;
};

int RunCalibrate(const CalibrateOptions& o, AppContext& ctx) {
  if (Status s = CheckOutputPath(o.out, "-o"); !s.ok()) return ReportError(s);
  Expected<std::vector<partition::CalibrationCase>> cases = partition::CalibrationCases(o.quick);
  if (!cases) return ReportError(cases.status());
  std::map<std::string, std::vector<partition::Sample>> samples;
  std::printf("%-10s %-36s %12s %10s %10s %10s\n", "class", "layer", "MACs", "in KiB", "out KiB",
              "median");
  for (const partition::CalibrationCase& c : *cases) {
    const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, c.model);
    Expected<partition::LayerGraph> g = partition::BuildLayerGraph(src);
    if (!g) return ReportError(g.status().WithContext(c.description));
    const int li = g->Find(c.layer);
    if (li < 0) return ReportError(Internal("calibration model lacks layer " + c.layer));
    const partition::Layer& l = g->layers[static_cast<std::size_t>(li)];
    Expected<double> ms = TimeSingleLayer(ctx, src, c.layer, o.m);
    if (!ms) return ReportError(ms.status().WithContext(c.description));
    samples[c.layer_class].push_back({l.macs, l.input_bytes, l.output_bytes, *ms});
    std::printf("%-10s %-36.36s %12lld %10.1f %10.1f %7.4f ms\n", c.layer_class.c_str(),
                c.description.c_str(), static_cast<long long>(l.macs),
                static_cast<double>(l.input_bytes) / 1024,
                static_cast<double>(l.output_bytes) / 1024, *ms);
    std::fflush(stdout);
  }
  partition::DeviceProfile p;
  p.device = o.device_name.empty() ? HostName() : o.device_name;
  p.threads = o.m.threads;
  Expected<std::string> backend = ChooseBackend(ctx, o.m.backend, ModelFormat::kOnnx);
  if (!backend) return ReportError(backend.status());
  p.backend = *backend;
  std::printf("\n%-10s %8s %8s %22s\n", "class", "samples", "form", "leave-one-out error");
  for (const auto& [cls, s] : samples) {
    Expected<partition::LatencyFit> f = partition::FitLatency(s);
    if (!f) return ReportError(f.status().WithContext("class " + cls));
    p.fits[cls] = *f;
    std::printf("%-10s %8d %8s %21.1f%%\n", cls.c_str(), f->samples, f->form.c_str(),
                f->error * 100);
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
  AddMeasureOptions(cmd, o.m);
  cmd->callback([&ctx] { ctx.exit_code = RunCalibrate(o, ctx); });
}

}  // namespace deepedge::app
