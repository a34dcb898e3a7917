// deepedge quantize MODEL.onnx -o OUT.onnx: post-training int8 quantization (QDQ).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "app.h"
#include "common.h"
#include "deepedge/file_util.h"
#include "deepedge/quantize.h"

namespace deepedge::app {
namespace {

struct QuantizeCmdOptions {
  std::string model;
  std::string output;
  std::string calibration_dir;
  int calibration_random = 0;
  std::string method = "minmax";
  double percentile = 99.99;
  bool per_tensor_weights = false;
  std::vector<std::string> exclude;
  std::uint64_t seed = 42;
  int threads = 0;
};

int RunQuantize(const QuantizeCmdOptions& o, AppContext& ctx) {
  Expected<ModelSource> src = ModelSource::FromFile(o.model);
  if (!src) return ReportError(src.status());
  if (src->format != ModelFormat::kOnnx) {
    return ReportError(Unsupported("quantize reads ONNX models only; " + src->display_name() +
                                   " is " + std::string(ModelFormatName(src->format))));
  }
  if (Status s = CheckOutputPath(o.output, "-o"); !s.ok()) return ReportError(s);
  if (o.calibration_dir.empty() && o.calibration_random <= 0) {
    return ReportError(InvalidArgument(
        "quantize needs calibration data: --calibration DIR or --calibration-random N"));
  }
  // Calibration runs the float model on DeepEdge's own engine.
  const Backend* backend = ctx.backends.Find("deepedge");
  if (backend == nullptr) return ReportError(Unavailable("the deepedge backend is not built in"));
  if (Status s = backend->Available(); !s.ok()) return ReportError(s);

  QuantizeOptions qo;
  qo.method =
      o.method == "percentile" ? CalibrationMethod::kPercentile : CalibrationMethod::kMinMax;
  qo.percentile = o.percentile;
  qo.per_channel_weights = !o.per_tensor_weights;
  qo.exclude = o.exclude;
  qo.calibration_dir = o.calibration_dir;
  qo.calibration_random = o.calibration_random;
  qo.seed = o.seed;
  qo.session.threads = o.threads;
  Expected<QuantizeResult> r = QuantizeOnnx(*src, *backend, qo);
  if (!r) return ReportError(r.status());
  if (Status s = WriteFileAtomic(o.output, r->model); !s.ok()) return ReportError(s);

  for (const std::string& w : r->warnings)
    std::fprintf(stderr, "deepedge: warning: %s\n", w.c_str());
  std::error_code ec;
  const auto in_size = std::filesystem::file_size(src->path, ec);
  std::printf("quantized %s -> %s\n", src->display_name().c_str(), o.output.c_str());
  std::printf("  %s\n", r->description.c_str());
  std::printf(
      "  %d nodes int8 (between DequantizeLinear and QuantizeLinear), %d left float, "
      "%d BatchNormalization folded\n",
      r->quantized_nodes, r->float_nodes, r->folded_batch_norms);
  std::printf("  added %d QuantizeLinear, %d DequantizeLinear\n", r->quantize_linear,
              r->dequantize_linear);
  if (!ec) {
    std::printf("  size %.2f MiB -> %.2f MiB\n", static_cast<double>(in_size) / 1048576.0,
                static_cast<double>(r->model.size()) / 1048576.0);
  }
  return 0;
}

}  // namespace

void AddQuantizeCommand(CLI::App& app, AppContext& ctx) {
  static QuantizeCmdOptions o;
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Post-training int8 quantization of an ONNX model into QDQ form (per-channel weights, "
      "per-tensor activations calibrated on the deepedge backend)");
  cmd->add_option("model", o.model, "ONNX model (float)")->required();
  cmd->add_option("-o,--output", o.output, "Quantized ONNX model to write")->required();
  CLI::Option* dir = cmd->add_option(
      "--calibration", o.calibration_dir,
      "Directory of .npy samples, one per file (single-input model), or DIR/<input name>/*.npy "
      "per input, paired by file name; each file one sample of the input's type and shape");
  CLI::Option* rnd = cmd->add_option(
      "--calibration-random", o.calibration_random,
      "N random samples, uniform in [-1, 1) (seeded); gives poor accuracy: for speed "
      "measurements only");
  dir->excludes(rnd);
  rnd->check(CLI::PositiveNumber);
  cmd->add_option("--method", o.method, "Calibration: minmax or percentile (2048-bin histogram)")
      ->check(CLI::IsMember({"minmax", "percentile"}))
      ->capture_default_str();
  cmd->add_option("--percentile", o.percentile,
                  "Percentile of each activation kept by --method percentile, in (0, 100]")
      ->capture_default_str();
  cmd->add_flag("--per-tensor-weights", o.per_tensor_weights,
                "One weight scale per tensor instead of one per output channel");
  cmd->add_option("--exclude", o.exclude, "Nodes to keep in float, by name: NODE,NODE,...")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--seed", o.seed, "Seed of --calibration-random")->capture_default_str();
  cmd->add_option("-t,--threads", o.threads, "Calibration threads (0: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([&ctx] { ctx.exit_code = RunQuantize(o, ctx); });
}

}  // namespace deepedge::app
