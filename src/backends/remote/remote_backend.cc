// `remote`: runs a model on a KServe v2 server (deepedge serve, Triton, ...) through
// the binary REST protocol (server=http://...) or gRPC (server=grpc://..., where the
// build has gRPC), so bench and eval measure a server the way they measure a local
// backend (the network and the server's queue included).
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>

#include "deepedge/backends.h"
#include "deepedge/remote.h"
#ifdef DEEPEDGE_HAVE_GRPC
#include "deepedge/kserve_grpc_client.h"
#endif

namespace deepedge {
namespace {

Expected<std::vector<TensorInfo>> ToInfos(const std::vector<kserve::TensorMetadata>& meta,
                                          const std::string& what) {
  std::vector<TensorInfo> out;
  for (const kserve::TensorMetadata& m : meta) {
    std::optional<DType> t = kserve::ParseDatatype(m.datatype);
    if (!t)
      return Unsupported(what + " '" + m.name + "' has datatype " + m.datatype +
                         ", which DeepEdge has no type for");
    std::vector<std::int64_t> dims = m.shape;
    for (auto& d : dims)
      if (d < 0) d = Shape::kDynamic;
    out.push_back({m.name, *t, Shape(std::move(dims))});
  }
  return out;
}

// One remote inference with borrowed inputs: the protocol's client call.
using InferFn = std::function<Expected<std::vector<kserve::NamedTensor>>(
    std::vector<kserve::NamedTensor>& inputs)>;

class RemoteSession final : public Session {
 public:
  RemoteSession(InferFn infer, std::string model, std::vector<TensorInfo> inputs,
                std::vector<TensorInfo> outputs)
      : infer_(std::move(infer)),
        model_(std::move(model)),
        inputs_(std::move(inputs)),
        outputs_(std::move(outputs)) {}

  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (inputs.size() != inputs_.size())
      return InvalidArgument("remote model '" + model_ + "' takes " +
                             std::to_string(inputs_.size()) + " inputs, got " +
                             std::to_string(inputs.size()));
    std::vector<kserve::NamedTensor> named;
    named.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      // Borrowed: the client only reads them.
      Expected<Tensor> view =
          Tensor::Borrow(inputs[i].dtype(), inputs[i].shape(), const_cast<void*>(inputs[i].data()),
                         inputs[i].byte_size());
      if (!view) return view.status();
      named.push_back({inputs_[i].name, std::move(*view), true});
    }
    Expected<std::vector<kserve::NamedTensor>> got = infer_(named);
    if (!got) return got.status();
    outputs.resize(outputs_.size());
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
      auto it = std::find_if(got->begin(), got->end(), [&](const kserve::NamedTensor& t) {
        return t.name == outputs_[i].name;
      });
      if (it == got->end())
        return Internal("remote model '" + model_ + "': the response lacks output '" +
                        outputs_[i].name + "'");
      outputs[i] = std::move(it->tensor);
    }
    return Status::Ok();
  }

 private:
  InferFn infer_;
  std::string model_;
  std::vector<TensorInfo> inputs_, outputs_;
};

class RemoteBackend final : public Backend {
 public:
  std::string_view Name() const override { return "remote"; }
  std::string Version() const override {
#ifdef DEEPEDGE_HAVE_GRPC
    return "KServe v2 REST and gRPC";
#else
    return "KServe v2 REST";
#endif
  }
  Capabilities GetCapabilities() const override {
    Capabilities caps;
    // The server loads the model; the local file only names it.
    caps.formats = {ModelFormat::kOnnx, ModelFormat::kTflite};
    caps.input_dtypes.assign(std::begin(kAllDTypes), std::end(kAllDTypes));
    caps.load_from_bytes = true;
    return caps;
  }
  std::vector<OptionSpec> Options() const override {
    return {
        {"server", "KServe v2 server URL, http://HOST:PORT or grpc://HOST:PORT (required)", "", {}},
        {"model", "Model name on the server (default: the model file's stem)", "", {}},
        {"timeout_s", "Seconds to wait for each request's reads and writes", "10", {}}};
  }
  Expected<std::unique_ptr<Session>> Load(const ModelSource& source,
                                          const SessionOptions& options) const override {
    const auto& o = options.backend_options;
    auto get = [&](const char* k) {
      auto it = o.find(k);
      return it == o.end() ? std::string() : it->second;
    };
    const std::string url = get("server");
    if (url.empty())
      return InvalidArgument("backend 'remote' needs the option server=http://HOST:PORT");
    std::string model = get("model");
    if (model.empty()) {
      if (source.in_memory())
        return InvalidArgument("backend 'remote': give model=NAME for an in-memory model");
      model = source.path.stem().string();
    }
    remote::ClientOptions co;
    co.url = url;
    if (const std::string t = get("timeout_s"); !t.empty()) {
      char* end = nullptr;
      co.timeout_s = std::strtod(t.c_str(), &end);
      if (end == t.c_str() || *end != '\0' || !(co.timeout_s > 0))
        return InvalidArgument("backend 'remote': timeout_s='" + t + "' is not a positive number");
    }
    kserve::ModelMetadata meta;
    InferFn infer;
    if (url.starts_with("grpc://")) {
#ifdef DEEPEDGE_HAVE_GRPC
      GrpcClientOptions go;
      go.timeout_s = co.timeout_s;
      DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<KServeGrpcClient> g,
                                KServeGrpcClient::Connect(url, go));
      DEEPEDGE_ASSIGN_OR_RETURN(meta, g->ModelMetadata(model));
      std::shared_ptr<KServeGrpcClient> client = std::move(g);
      infer = [client, model](std::vector<kserve::NamedTensor>& inputs)
          -> Expected<std::vector<kserve::NamedTensor>> {
        kserve::InferRequest request;
        request.inputs = std::move(inputs);
        DEEPEDGE_ASSIGN_OR_RETURN(kserve::InferResponse response, client->Infer(model, request));
        return std::move(response.outputs);
      };
#else
      return Unsupported("backend 'remote': " + url + ": this build has no gRPC");
#endif
    } else {
      DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<remote::Client> c, remote::Client::Create(co));
      DEEPEDGE_ASSIGN_OR_RETURN(meta, c->ModelMetadata(model));
      // A Session is used by one thread at a time, as remote::Client must be.
      std::shared_ptr<remote::Client> client = std::move(c);
      infer = [client, model](std::vector<kserve::NamedTensor>& inputs) {
        return client->Infer(model, inputs);
      };
    }
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<TensorInfo> ins, ToInfos(meta.inputs, "input"));
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<TensorInfo> outs, ToInfos(meta.outputs, "output"));
    return std::unique_ptr<Session>(
        std::make_unique<RemoteSession>(std::move(infer), model, std::move(ins), std::move(outs)));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeRemoteBackend() {
  return std::make_unique<RemoteBackend>();
}

}  // namespace deepedge
