#include <grpcpp/grpcpp.h>

#include <chrono>
#include <exception>
#include <limits>
#include <utility>

#include "deepedge/kserve_grpc_client.h"
#include "grpc_inference.grpc.pb.h"
#include "serve/grpc_codec.h"

namespace deepedge {
namespace {

std::string CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "CODE_" + std::to_string(static_cast<int>(c));
  }
}

Status FromGrpc(const grpc::Status& s) {
  StatusCode code = StatusCode::kInternal;
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      code = StatusCode::kNotFound;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      code = StatusCode::kInvalidArgument;
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      code = StatusCode::kUnsupported;
      break;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    // This client never cancels its own calls: a cancelled call is one the server
    // dropped while stopping (it had not reached a handler yet), so try elsewhere.
    case grpc::StatusCode::CANCELLED:
      code = StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  return Status(code, CodeName(s.error_code()) + ": " + s.error_message());
}

std::vector<kserve::TensorMetadata> FromProto(
    const google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>&
        in) {
  std::vector<kserve::TensorMetadata> out;
  for (const auto& t : in) {
    out.push_back(
        {t.name(), t.datatype(), std::vector<std::int64_t>(t.shape().begin(), t.shape().end())});
  }
  return out;
}

}  // namespace

struct KServeGrpcClient::Impl {
  GrpcClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub;

  void Prepare(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         std::chrono::duration<double>(options.timeout_s)));
  }

  // Runs one unary call through `method`, turning exceptions into a Status.
  template <typename Req, typename Res, typename Method>
  Status Call(Method method, const Req& req, Res& res) {
    try {
      grpc::ClientContext ctx;
      Prepare(ctx);
      grpc::Status s = (stub.get()->*method)(&ctx, req, &res);
      return s.ok() ? Status::Ok() : FromGrpc(s);
    } catch (const std::exception& e) {
      return Internal(std::string("gRPC call failed: ") + e.what());
    }
  }
};

KServeGrpcClient::KServeGrpcClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KServeGrpcClient::~KServeGrpcClient() = default;

Expected<std::unique_ptr<KServeGrpcClient>> KServeGrpcClient::Connect(const std::string& target,
                                                                      GrpcClientOptions options) {
  std::string t = target;
  if (t.starts_with("grpc://")) t = t.substr(7);
  while (!t.empty() && t.back() == '/') t.pop_back();
  if (t.empty() || t.find(':') == std::string::npos) {
    return InvalidArgument("gRPC target \"" + target + "\": expected HOST:PORT");
  }
  if (!(options.timeout_s > 0)) return InvalidArgument("gRPC timeout must be positive");
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(
        std::min<std::size_t>(impl->options.max_message_bytes, std::numeric_limits<int>::max())));
    args.SetMaxSendMessageSize(-1);
    impl->channel = grpc::CreateCustomChannel(t, grpc::InsecureChannelCredentials(), args);
    if (!impl->channel) return InvalidArgument("gRPC target \"" + target + "\" is not valid");
    impl->stub = inference::GRPCInferenceService::NewStub(impl->channel);
    return std::unique_ptr<KServeGrpcClient>(new KServeGrpcClient(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("gRPC channel: ") + e.what());
  }
}

Expected<bool> KServeGrpcClient::ServerLive() {
  inference::ServerLiveRequest req;
  inference::ServerLiveResponse res;
  if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ServerLive, req, res);
      !s.ok()) {
    return s;
  }
  return res.live();
}

Expected<bool> KServeGrpcClient::ServerReady() {
  inference::ServerReadyRequest req;
  inference::ServerReadyResponse res;
  if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ServerReady, req, res);
      !s.ok()) {
    return s;
  }
  return res.ready();
}

Expected<bool> KServeGrpcClient::ModelReady(const std::string& model, const std::string& version) {
  inference::ModelReadyRequest req;
  req.set_name(model);
  req.set_version(version);
  inference::ModelReadyResponse res;
  if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ModelReady, req, res);
      !s.ok()) {
    return s;
  }
  return res.ready();
}

Expected<kserve::ServerMetadata> KServeGrpcClient::ServerMetadata() {
  inference::ServerMetadataRequest req;
  inference::ServerMetadataResponse res;
  if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ServerMetadata, req, res);
      !s.ok()) {
    return s;
  }
  return kserve::ServerMetadata{
      res.name(), res.version(),
      std::vector<std::string>(res.extensions().begin(), res.extensions().end())};
}

Expected<kserve::ModelMetadata> KServeGrpcClient::ModelMetadata(const std::string& model,
                                                                const std::string& version) {
  inference::ModelMetadataRequest req;
  req.set_name(model);
  req.set_version(version);
  inference::ModelMetadataResponse res;
  if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ModelMetadata, req, res);
      !s.ok()) {
    return s;
  }
  return kserve::ModelMetadata{
      res.name(), std::vector<std::string>(res.versions().begin(), res.versions().end()),
      res.platform(), FromProto(res.inputs()), FromProto(res.outputs())};
}

Expected<kserve::InferResponse> KServeGrpcClient::Infer(const std::string& model,
                                                        const kserve::InferRequest& request,
                                                        const std::string& version, bool raw) {
  try {
    inference::ModelInferRequest req;
    if (Status s = kserve::RequestToProto(request, model, version, raw, req); !s.ok()) return s;
    inference::ModelInferResponse res;
    if (Status s = impl_->Call(&inference::GRPCInferenceService::Stub::ModelInfer, req, res);
        !s.ok()) {
      return s;
    }
    Expected<kserve::InferResponse> out = kserve::ResponseFromProto(res, impl_->options.limits);
    if (!out) return Status(StatusCode::kCorrupt, "gRPC response: " + out.status().message());
    return out;
  } catch (const std::exception& e) {  // bad_alloc building a large message
    return Internal(std::string("gRPC inference: ") + e.what());
  }
}

}  // namespace deepedge
