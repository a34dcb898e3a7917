// The backend plug-in interface: registry -> backend -> session.
//
// A Backend is one inference framework (OpenCV DNN, the DeepEdge engine, a remote
// server, ...). It says what it can do (Capabilities), declares the options it
// owns (OptionSpec), and loads models into Sessions. Backends are registered
// explicitly by the application (no static self-registration: linkers drop it).
//
// Errors are returned as Status / Expected; no exception leaves a backend.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

// Time spent in one layer (or fused group) during the last run.
struct LayerProfile {
  std::string name;
  std::string type;
  double time_ms = 0.0;
  std::int64_t output_bytes = -1;  // bytes of the layer's outputs; -1 unknown
  std::int64_t macs = -1;          // multiply-accumulates; -1 unknown
  // When the backend ran this layer fused with others (DeepEdge's XNNPACK regions):
  // the fused group's name and its time per run when run fused. The layer times were
  // then measured with each layer run on its own, so they add up to about, not
  // exactly, the group's time. "" and -1 when the layer ran on its own.
  std::string group = {};
  double group_time_ms = -1.0;
};

// An option a backend understands, with its default and the values it accepts.
struct OptionSpec {
  std::string name;
  std::string help;
  std::string default_value;
  std::vector<std::string> choices;  // empty: any value
};

struct Capabilities {
  std::vector<ModelFormat> formats;  // model formats the backend can load
  std::vector<DType> input_dtypes;   // element types accepted for inputs
  bool per_layer_profile = false;    // Session::LastProfile() returns data
  bool load_from_bytes = false;      // ModelSource with in_memory() works
};

struct SessionOptions {
  int threads = 0;  // 0: the backend's default (usually every core)
  bool profile_layers = false;
  // Sessions of one process that set this and have as many threads share one set of
  // worker threads (where the backend has its own pool: `deepedge`; others ignore it).
  // For many sessions loaded at once and run one after another, as `deepedge calibrate`
  // runs its cases: each pool's workers spin for milliseconds after every parallel
  // step, so with a pool per session the idle sessions' workers took the cores from
  // the running one. Shared, the sessions' parallel steps run one at a time.
  bool share_threads = false;
  // Backend-specific options, validated against Backend::Options() by the registry.
  std::map<std::string, std::string> backend_options;
};

// One loaded model, ready to run.
// Lifetime: a Session may outlive nothing it borrowed; it owns its model.
// Thread-safety: a Session is used by one thread at a time.
class Session {
 public:
  virtual ~Session() = default;

  // Inputs and outputs as the backend sees them (names, dtypes, shapes; dynamic
  // dimensions stay kDynamic).
  virtual const std::vector<TensorInfo>& Inputs() const = 0;
  virtual const std::vector<TensorInfo>& Outputs() const = 0;

  // Runs one inference. `inputs` follow Inputs() in order (static shapes); the
  // session resizes `outputs` and fills it in Outputs() order, reusing the tensors'
  // storage when shapes are unchanged. The input tensors are only read.
  virtual Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) = 0;

  // Per-layer times of the last Run(); Unsupported when the backend has none or
  // SessionOptions::profile_layers was false.
  virtual Expected<std::vector<LayerProfile>> LastProfile() const {
    return Unsupported("this backend has no per-layer profile");
  }

  // Bytes of the intermediate-buffer arena the session's engine holds (peak of the
  // buffers it keeps for values between layers, after at least one Run; buffers a
  // library manages inside a fused group are not included); nullopt when the backend
  // does not report it.
  virtual std::optional<std::int64_t> ArenaBytes() const { return std::nullopt; }

  // Returns the state a model carries from one Run to the next (a streaming audio front
  // end's noise estimate, say) to its initial value, as in a freshly loaded session: e.g.
  // between two clips streamed frame by frame. Not concurrently with Run. Unsupported
  // when the backend cannot; a stateless model's session succeeds without effect.
  virtual Status ResetState() { return Unsupported("this backend cannot reset a session's state"); }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view Name() const = 0;
  // Version of the underlying framework ("4.6.0" for OpenCV).
  virtual std::string Version() const = 0;
  virtual Capabilities GetCapabilities() const = 0;
  virtual std::vector<OptionSpec> Options() const { return {}; }
  // OK when the backend can be used on this machine, else why not.
  virtual Status Available() const { return Status::Ok(); }

  // Loads a model. Thread-safety: Load may be called from several threads.
  virtual Expected<std::unique_ptr<Session>> Load(const ModelSource& source,
                                                  const SessionOptions& options) const = 0;
};

// The set of backends an application offers, in registration order.
// Thread-safety: register everything first, then read from any thread.
class BackendRegistry {
 public:
  // Fails when a backend with the same name is already registered.
  Status Register(std::unique_ptr<Backend> backend);
  // Null when absent.
  const Backend* Find(std::string_view name) const;
  std::vector<const Backend*> All() const;
  std::vector<std::string> Names() const;

  // Finds the backend, checks that it is available, that it takes the model's
  // format, and that every backend option is one it declares with an accepted
  // value; then loads. Errors name the backend, option or model.
  Expected<std::unique_ptr<Session>> Load(std::string_view backend_name, const ModelSource& source,
                                          const SessionOptions& options) const;

 private:
  std::vector<std::unique_ptr<Backend>> backends_;
};

// Validates `options` against `specs`; the error names the unknown option or value.
Status ValidateBackendOptions(std::string_view backend_name, std::span<const OptionSpec> specs,
                              const std::map<std::string, std::string>& options);

}  // namespace deepedge
