// The `deepedge` backend: DeepEdge's own engine behind the backend interface.
#include <mutex>
#include <optional>

#include "deepedge/backends.h"
#include "deepedge/onnx_model.h"
#include "deepedge/tflite_model.h"
#include "engine/executor.h"
#include "engine/kernel.h"
#include "engine/layout_pass.h"
#include "engine/passes.h"
#include "engine/qdq_pass.h"
#include "engine/xnnpack/xnn_pass.h"

namespace deepedge {
namespace {

const engine::KernelRegistry& Registry() {
  static const engine::KernelRegistry* registry = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterAllKernels(*r);
    engine::RegisterXnnpackKernels(*r);
    return r;
  }();
  return *registry;
}

TensorInfo ToTensorInfo(const ir::ValueInfo& v) {
  // A value without a declared type is taken as f32 of unknown rank.
  return {v.name, v.dtype.value_or(DType::kF32), v.shape.value_or(Shape{})};
}

// Gives each of `infos` the quantization of the `described` tensor of the same name and
// element type (TFLite records it per tensor; the imported graph's value types do not
// carry it). A name that is not exactly once in `described` is left alone.
void AddQuantization(std::vector<TensorInfo>& infos, const std::vector<TensorInfo>& described) {
  for (TensorInfo& t : infos) {
    const TensorInfo* match = nullptr;
    int count = 0;
    for (const TensorInfo& d : described) {
      if (d.name == t.name) {
        match = &d;
        ++count;
      }
    }
    if (count == 1 && match->dtype == t.dtype) t.quantization = match->quantization;
  }
}

class DeepEdgeSession final : public Session {
 public:
  // `described`: the model file's own description of its inputs and outputs (TFLite:
  // InspectTflite), for what the graph does not keep; null when there is none.
  DeepEdgeSession(std::unique_ptr<engine::Executor> exec, const ModelInfo* described)
      : exec_(std::move(exec)) {
    for (const ir::ValueInfo& v : exec_->Inputs()) inputs_.push_back(ToTensorInfo(v));
    for (const ir::ValueInfo& v : exec_->Outputs()) outputs_.push_back(ToTensorInfo(v));
    if (described) {
      AddQuantization(inputs_, described->inputs);
      AddQuantization(outputs_, described->outputs);
    }
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    return exec_->Run(inputs, outputs);
  }
  Expected<std::vector<LayerProfile>> LastProfile() const override {
    const auto& nodes = exec_->LastProfile();
    if (nodes.empty())
      return Unsupported("no profile: the session was not created with profiling on");
    std::vector<LayerProfile> layers;
    layers.reserve(nodes.size());
    for (const engine::NodeProfile& n : nodes) {
      layers.push_back(
          {n.name, n.op_type, n.time_ms, n.output_bytes, n.macs, n.group, n.group_time_ms});
    }
    return layers;
  }
  std::optional<std::int64_t> ArenaBytes() const override {
    return static_cast<std::int64_t>(exec_->ArenaBytes());
  }
  Status ResetState() override {
    exec_->ResetState();
    return Status::Ok();
  }

 private:
  std::unique_ptr<engine::Executor> exec_;
  std::vector<TensorInfo> inputs_, outputs_;
};

class DeepEdgeBackend final : public Backend {
 public:
  std::string_view Name() const override { return "deepedge"; }
  std::string Version() const override { return "0.1.0"; }
  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.formats = {ModelFormat::kOnnx, ModelFormat::kTflite};
    caps.input_dtypes.assign(std::begin(kAllDTypes), std::end(kAllDTypes));
    caps.per_layer_profile = true;
    caps.load_from_bytes = true;
    return caps;
  }
  std::vector<OptionSpec> Options() const override {
    return {{"xnnpack", "run supported regions through XNNPACK", "on", {"on", "off"}}};
  }
  Expected<std::unique_ptr<Session>> Load(const ModelSource& source,
                                          const SessionOptions& options) const override {
    Expected<ir::Model> model =
        source.format == ModelFormat::kTflite ? ImportTflite(source) : ImportOnnx(source);
    if (!model) return model.status();
    // The inputs' and outputs' quantization (scale, zero point, per-channel axis) is in
    // the TFLite file's tensor table, not in the graph: read it from there. An interface
    // tensor of a type the inspector lacks (the importer carries uint32 as int32) leaves
    // every tensor without it rather than failing a model that runs.
    std::optional<ModelInfo> described;
    if (source.format == ModelFormat::kTflite) {
      if (Expected<ModelInfo> info = InspectTflite(source)) described = std::move(info).value();
    }
    // NHWC importers wrap spatial ops in transposes: cancel them along chains first.
    Expected<int> relayout = engine::OptimizeLayout(model->graph);
    if (!relayout) return relayout.status().WithContext(source.display_name());
    // QDQ chains onto the int8 kernels before folding turns dq(weights) into floats.
    // Each format keeps its own rescaling rule: a TFLite model gives TFLite's integers,
    // an ONNX model ONNX's (float) QLinearConv arithmetic, as ONNX Runtime computes it.
    engine::QdqOptions qdq;
    qdq.requantization = source.format == ModelFormat::kTflite ? engine::Requantization::kFixedPoint
                                                               : engine::Requantization::kFloat;
    Expected<engine::QdqFusionStats> fused = engine::FuseQdq(model->graph, qdq);
    if (!fused) return fused.status().WithContext(source.display_name());
    // Constants first, so that later passes and kernels see plain weights.
    Expected<int> folded = engine::FoldConstants(model->graph, Registry());
    if (!folded) return folded.status().WithContext(source.display_name());
    engine::RemoveDeadNodes(model->graph);
    engine::FuseHardSwish(model->graph);
    engine::FoldAffineIntoPointwiseConv(model->graph);
    auto xnnpack = options.backend_options.find("xnnpack");
    if (xnnpack == options.backend_options.end() || xnnpack->second == "on") {
      Expected<ir::Graph> partitioned = engine::PartitionForXnnpack(model->graph);
      if (!partitioned) return partitioned.status().WithContext(source.display_name());
      model->graph = std::move(partitioned).value();
    }
    engine::ExecutorOptions eo;
    eo.threads = options.threads;
    eo.profile = options.profile_layers;
    eo.share_threads = options.share_threads;
    auto shared = std::make_shared<const ir::Model>(std::move(model).value());
    Expected<std::unique_ptr<engine::Executor>> exec =
        engine::Executor::Create(shared, Registry(), eo);
    if (!exec) return exec.status().WithContext(source.display_name());
    return std::unique_ptr<Session>(std::make_unique<DeepEdgeSession>(
        std::move(exec).value(), described ? &*described : nullptr));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeDeepEdgeBackend() {
  return std::make_unique<DeepEdgeBackend>();
}

}  // namespace deepedge
