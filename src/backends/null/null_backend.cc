#include <cstring>

#include "deepedge/backends.h"

namespace deepedge {
namespace {

class NullSession final : public Session {
 public:
  const std::vector<TensorInfo>& Inputs() const override { return none_; }
  const std::vector<TensorInfo>& Outputs() const override { return none_; }
  Status Run(std::span<const Tensor>, std::vector<Tensor>& outputs) override {
    outputs.clear();
    return Status::Ok();
  }
  Expected<std::vector<LayerProfile>> LastProfile() const override {
    return std::vector<LayerProfile>{};
  }

 private:
  std::vector<TensorInfo> none_;
};

class NullBackend final : public Backend {
 public:
  std::string_view Name() const override { return "null"; }
  std::string Version() const override { return "1"; }
  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.formats = {ModelFormat::kOnnx, ModelFormat::kTflite, ModelFormat::kCaffe,
                    ModelFormat::kTensorFlow, ModelFormat::kDarknet};
    caps.input_dtypes.assign(std::begin(kAllDTypes), std::end(kAllDTypes));
    caps.per_layer_profile = true;
    caps.load_from_bytes = true;
    return caps;
  }
  Expected<std::unique_ptr<Session>> Load(const ModelSource&,
                                          const SessionOptions&) const override {
    return std::unique_ptr<Session>(std::make_unique<NullSession>());
  }
};

}  // namespace

std::unique_ptr<Backend> MakeNullBackend() {
  return std::make_unique<NullBackend>();
}

}  // namespace deepedge
