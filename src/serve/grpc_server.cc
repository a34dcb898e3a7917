#include "deepedge/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "grpc_inference.grpc.pb.h"
#include "serve/grpc_codec.h"

namespace deepedge {
namespace {

// The canonical upper-case name of a gRPC status code (the metrics label).
const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "UNKNOWN";
  }
}

grpc::StatusCode CodeFor(InferenceServer::Outcome o) {
  using O = InferenceServer::Outcome;
  switch (o) {
    case O::kOk:
      return grpc::StatusCode::OK;
    case O::kInvalid:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case O::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case O::kQueueFull:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case O::kStopping:
    case O::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case O::kTimeout:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case O::kBackendError:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

void FillTensorMetadata(
    const std::vector<kserve::TensorMetadata>& in,
    google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out) {
  for (const kserve::TensorMetadata& t : in) {
    auto* m = out->Add();
    m->set_name(t.name);
    m->set_datatype(t.datatype);
    for (std::int64_t d : t.shape) m->add_shape(d);
  }
}

class Service final : public inference::GRPCInferenceService::Service {
 public:
  Service(InferenceServer& core, const GrpcServerOptions& options)
      : core_(core), options_(options) {}

  void Refuse() { stopping_ = true; }
  // Handlers running now.
  int active() const { return active_.load(); }

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* res) override {
    res->set_live(true);
    return grpc::Status::OK;
  }

  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* res) override {
    res->set_ready(!stopping_.load() && core_.Ready());
    return grpc::Status::OK;
  }

  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* req,
                          inference::ModelReadyResponse* res) override {
    return Guard([&] {
      Expected<kserve::ModelMetadata> m = core_.ModelMetadataFor(req->name(), req->version());
      if (!m) return grpc::Status(grpc::StatusCode::NOT_FOUND, m.status().message());
      res->set_ready(!stopping_.load() && core_.Ready());
      return grpc::Status::OK;
    });
  }

  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* res) override {
    return Guard([&] {
      const kserve::ServerMetadata m = core_.ServerMetadataInfo();
      res->set_name(m.name);
      res->set_version(m.version);
      for (const std::string& e : m.extensions) res->add_extensions(e);
      return grpc::Status::OK;
    });
  }

  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* req,
                             inference::ModelMetadataResponse* res) override {
    return Guard([&] {
      Expected<kserve::ModelMetadata> m = core_.ModelMetadataFor(req->name(), req->version());
      if (!m) return grpc::Status(grpc::StatusCode::NOT_FOUND, m.status().message());
      res->set_name(m->name);
      for (const std::string& v : m->versions) res->add_versions(v);
      res->set_platform(m->platform);
      FillTensorMetadata(m->inputs, res->mutable_inputs());
      FillTensorMetadata(m->outputs, res->mutable_outputs());
      return grpc::Status::OK;
    });
  }

  grpc::Status ModelInfer(grpc::ServerContext*, const inference::ModelInferRequest* req,
                          inference::ModelInferResponse* res) override {
    std::string label = "_unknown";
    grpc::Status status = Guard([&] { return Infer(*req, *res, label); });
    core_.CountGrpcRequest(label, CodeName(status.error_code()));
    return status;
  }

 private:
  // Counts the handler as active, and lets no exception leave it (gRPC would turn it
  // into an opaque UNKNOWN).
  template <typename F>
  grpc::Status Guard(F&& f) {
    struct Active {
      std::atomic<int>& n;
      explicit Active(std::atomic<int>& a) : n(a) { ++n; }
      ~Active() { --n; }
    } active(active_);
    try {
      return f();
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
  }

  grpc::Status Infer(const inference::ModelInferRequest& req, inference::ModelInferResponse& res,
                     std::string& label) {
    if (stopping_.load() || !core_.Ready()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
    }
    Expected<kserve::InferRequest> request = kserve::RequestFromProto(req, options_.limits);
    if (!request) {
      // An unknown model is NOT_FOUND whatever else is wrong with the request.
      Expected<kserve::ModelMetadata> m =
          core_.ModelMetadataFor(req.model_name(), req.model_version());
      if (!m) return grpc::Status(grpc::StatusCode::NOT_FOUND, m.status().message());
      label = req.model_name();
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, request.status().message());
    }
    InferenceServer::InferResult result =
        core_.Infer(req.model_name(), req.model_version(), std::move(*request));
    if (result.outcome != InferenceServer::Outcome::kNotFound) label = req.model_name();
    if (result.outcome != InferenceServer::Outcome::kOk) {
      return grpc::Status(CodeFor(result.outcome), result.message);
    }
    if (Status s = kserve::ResponseToProto(result.response, res); !s.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, s.message());
    }
    return grpc::Status::OK;
  }

  InferenceServer& core_;
  const GrpcServerOptions& options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
};

}  // namespace

struct GrpcInferenceServer::Impl {
  GrpcServerOptions options;
  InferenceServer* core = nullptr;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool stopped = false;
};

GrpcInferenceServer::GrpcInferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcInferenceServer::~GrpcInferenceServer() {
  Stop();
}

Expected<std::unique_ptr<GrpcInferenceServer>> GrpcInferenceServer::Start(
    InferenceServer& core, GrpcServerOptions options) {
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument("gRPC port " + std::to_string(options.port) + " is out of range");
  }
  if (options.max_message_bytes == 0 ||
      options.max_message_bytes > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return InvalidArgument("gRPC max message bytes must be in 1..2^31-1");
  }
  if (options.max_threads < 1) return InvalidArgument("gRPC max threads must be at least 1");
  if (!(options.shutdown_grace_s >= 0)) return InvalidArgument("shutdown grace must be >= 0");
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->core = &core;
    impl->service = std::make_unique<Service>(core, impl->options);
    const GrpcServerOptions& o = impl->options;
    // An IPv6 address needs brackets in a gRPC target.
    const std::string host = o.address.find(':') != std::string::npos && o.address.front() != '['
                                 ? "[" + o.address + "]"
                                 : o.address;
    const std::string target = host + ":" + std::to_string(o.port);

    grpc::ServerBuilder builder;
    builder.AddListeningPort(target, grpc::InsecureServerCredentials(), &impl->port);
    builder.RegisterService(impl->service.get());
    builder.SetMaxReceiveMessageSize(static_cast<int>(o.max_message_bytes));
    builder.SetMaxSendMessageSize(-1);
    // gRPC sets SO_REUSEPORT by default, which would let a second server bind a port
    // already in use and silently share it: a port in use must be an error instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    grpc::ResourceQuota quota("deepedge-grpc");
    quota.SetMaxThreads(o.max_threads);
    builder.SetResourceQuota(quota);
    impl->server = builder.BuildAndStart();
    if (!impl->server || impl->port <= 0) {
      return Unavailable("cannot bind gRPC to " + target +
                         " (in use, or not an address of this machine)");
    }
    return std::unique_ptr<GrpcInferenceServer>(new GrpcInferenceServer(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("gRPC server: ") + e.what());
  }
}

int GrpcInferenceServer::port() const {
  return impl_->port;
}

void GrpcInferenceServer::Stop() {
  Impl& s = *impl_;
  if (s.stopped || !s.server) return;
  s.stopped = true;
  s.service->Refuse();
  // Wait for our own handlers rather than giving gRPC the grace period: gRPC also
  // counts calls that never reach a handler (one refused as too large lingers until
  // its client gives up), and would wait for those too.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(s.options.shutdown_grace_s);
  while (s.service->active() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // A handler that has returned may not have sent its response yet (the synchronous
  // API writes it after the handler): a moment, within the grace period, lets those go
  // out before the rest is cancelled. Cancelling at once lost a finished query now and
  // then under load (the in-flight request of the drain test).
  const std::chrono::duration<double> left = deadline - std::chrono::steady_clock::now();
  const std::chrono::duration<double> flush(std::clamp(left.count(), 0.0, 0.2));
  s.server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(flush));
  s.server->Wait();
}

}  // namespace deepedge
