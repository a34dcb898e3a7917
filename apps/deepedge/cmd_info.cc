// deepedge info MODEL: inputs, outputs, operators, parameters, MACs.
#include <algorithm>
#include <cstdio>

#include "app.h"
#include "deepedge/file_util.h"
#include "deepedge/onnx_model.h"
#include "deepedge/tflite_model.h"
#include "model_info_util.h"

namespace deepedge::app {

Expected<ModelSource> ResolveModel(const std::string& path, const std::string& weights) {
  return ModelSource::FromFile(path, weights);
}

Expected<ModelInfo> DescribeModel(const ModelSource& source) {
  if (source.format == ModelFormat::kOnnx) return InspectOnnx(source);
  if (source.format == ModelFormat::kTflite) return InspectTflite(source);
  ModelInfo info;
  info.name = source.path.stem().string();
  info.format = source.format;
  return info;
}

Expected<ModelRecord> MakeModelRecord(const ModelSource& source, const ModelInfo& info) {
  ModelRecord r;
  r.name = info.name;
  r.path = source.display_name();
  r.format = std::string(ModelFormatName(source.format));
  r.synthetic_weights = info.synthetic_weights;
  r.parameters = info.parameter_count;
  r.macs = info.macs;
  if (!source.in_memory()) {
    DEEPEDGE_ASSIGN_OR_RETURN(r.sha256, Sha256File(source.path));
  }
  return r;
}

namespace {

// "scale 0.0078 zero point -1", or per channel "per-channel axis 0 (8 scales, 0.0012..0.031)".
std::string DescribeQuantization(const QuantizationInfo& q) {
  char buf[160];
  if (!q.axis && q.scale.size() == 1) {
    std::snprintf(buf, sizeof buf, "scale %.6g zero point %lld", static_cast<double>(q.scale[0]),
                  static_cast<long long>(q.zero_point.empty() ? 0 : q.zero_point[0]));
    return buf;
  }
  const auto [lo, hi] = std::minmax_element(q.scale.begin(), q.scale.end());
  bool zero_zp =
      std::all_of(q.zero_point.begin(), q.zero_point.end(), [](std::int64_t z) { return z == 0; });
  std::snprintf(buf, sizeof buf, "per-channel axis %d (%zu scales %.6g..%.6g, zero points %s)",
                q.axis.value_or(0), q.scale.size(), static_cast<double>(*lo),
                static_cast<double>(*hi), zero_zp ? "0" : "vary");
  return buf;
}

void PrintTensors(const char* title, const std::vector<TensorInfo>& tensors) {
  std::printf("%s:\n", title);
  if (tensors.empty()) std::printf("  (none declared)\n");
  for (const TensorInfo& t : tensors) {
    std::printf("  %-24s %-5s %s", t.name.c_str(), std::string(DTypeName(t.dtype)).c_str(),
                t.shape.rank() ? t.shape.ToString().c_str() : "(unknown shape)");
    if (t.quantization && !t.quantization->scale.empty()) {
      std::printf("  quantized: %s", DescribeQuantization(*t.quantization).c_str());
    }
    std::printf("\n");
  }
}

struct InfoOptions {
  std::string model;
  std::string weights;
  std::string backend = "opencv";
};

int RunInfo(const InfoOptions& o, AppContext& ctx) {
  Expected<ModelSource> src = ResolveModel(o.model, o.weights);
  if (!src) return ReportError(src.status());
  Expected<ModelInfo> info = DescribeModel(*src);
  if (!info) return ReportError(info.status());
  if (src->format != ModelFormat::kOnnx && src->format != ModelFormat::kTflite) {
    // Only a framework can read these formats' interfaces: ask the backend.
    Expected<std::unique_ptr<Session>> session = ctx.backends.Load(o.backend, *src, {});
    if (!session) return ReportError(session.status());
    info->inputs = (*session)->Inputs();
    info->outputs = (*session)->Outputs();
  }
  std::printf("model:      %s\n", src->display_name().c_str());
  std::printf("format:     %s\n", std::string(ModelFormatName(src->format)).c_str());
  if (!info->producer.empty()) std::printf("producer:   %s\n", info->producer.c_str());
  std::printf("weights:    %s\n",
              info->synthetic_weights
                  ? "SYNTHETIC (generated: true timings, meaningless predictions)"
                  : "as stored in the file");
  if (info->parameter_count) {
    std::printf("parameters: %lld (%.2f M)\n", static_cast<long long>(*info->parameter_count),
                static_cast<double>(*info->parameter_count) / 1e6);
  } else {
    std::printf("parameters: unknown for this format\n");
  }
  if (info->macs) {
    std::printf("MACs:       %lld (%.1f M per inference, batch 1)\n",
                static_cast<long long>(*info->macs), static_cast<double>(*info->macs) / 1e6);
  } else {
    std::printf("MACs:       unknown\n");
  }
  PrintTensors("inputs", info->inputs);
  PrintTensors("outputs", info->outputs);
  if (!info->operator_counts.empty()) {
    std::int64_t total = 0;
    for (const auto& [op, n] : info->operator_counts) total += n;
    std::printf("operators (%lld nodes):\n", static_cast<long long>(total));
    for (const auto& [op, n] : info->operator_counts) {
      std::printf("  %-24s %lld\n", op.c_str(), static_cast<long long>(n));
    }
  }
  if (!info->tensor_type_counts.empty()) {
    std::int64_t total = 0;
    for (const auto& [type, n] : info->tensor_type_counts) total += n;
    std::printf("tensor types (%lld tensors):\n", static_cast<long long>(total));
    for (const auto& [type, n] : info->tensor_type_counts) {
      std::printf("  %-24s %lld\n", type.c_str(), static_cast<long long>(n));
    }
  }
  return 0;
}

}  // namespace

void AddInfoCommand(CLI::App& app, AppContext& ctx) {
  static InfoOptions opts;
  CLI::App* cmd =
      app.add_subcommand("info", "Describe a model: inputs, outputs, operators, parameters, MACs");
  cmd->add_option("model", opts.model, "Model file (.onnx, .tflite, .prototxt, .pb, .cfg)")
      ->required();
  cmd->add_option("--weights", opts.weights,
                  "Weights file for two-file formats (default: beside the model)");
  cmd->add_option("--backend", opts.backend, "Backend that reads non-ONNX formats")
      ->capture_default_str();
  cmd->callback([&ctx] { ctx.exit_code = RunInfo(opts, ctx); });
}

}  // namespace deepedge::app
