// KServeGrpcClient: a client of the KServe v2 / Open Inference Protocol over gRPC
// (inference.GRPCInferenceService), for `deepedge serve --grpc` or any server of the
// protocol (Triton, KServe). Library: deepedge_serve_grpc.
//
// Errors: each call returns the server's gRPC status as a Status whose message starts
// with the gRPC code name ("NOT_FOUND: unknown model \"x\""), so callers can tell
// them apart; codes map to StatusCode as NOT_FOUND -> kNotFound, INVALID_ARGUMENT /
// OUT_OF_RANGE -> kInvalidArgument, UNIMPLEMENTED -> kUnsupported, UNAVAILABLE /
// RESOURCE_EXHAUSTED / DEADLINE_EXCEEDED -> kUnavailable, anything else -> kInternal.
// A response that does not decode (wrong raw sizes, unknown datatype) is kCorrupt.
//
// Thread-safety: every method may be called from several threads at once (the channel
// is shared; each call has its own context). Nothing throws.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "deepedge/kserve.h"
#include "deepedge/status.h"

namespace deepedge {

struct GrpcClientOptions {
  double timeout_s = 30.0;                     // per call, connection set-up included
  std::size_t max_message_bytes = 1ull << 30;  // largest response accepted
  kserve::Limits limits;                       // decoder limits for responses
};

class KServeGrpcClient {
 public:
  // `target`: "HOST:PORT" or "grpc://HOST:PORT". The connection is made on the first
  // call (a server that is not there shows up as an UNAVAILABLE error then).
  static Expected<std::unique_ptr<KServeGrpcClient>> Connect(const std::string& target,
                                                             GrpcClientOptions options = {});
  ~KServeGrpcClient();
  KServeGrpcClient(const KServeGrpcClient&) = delete;
  KServeGrpcClient& operator=(const KServeGrpcClient&) = delete;

  Expected<bool> ServerLive();
  Expected<bool> ServerReady();
  // `version` "" : the version the server chooses.
  Expected<bool> ModelReady(const std::string& model, const std::string& version = "");
  Expected<kserve::ServerMetadata> ServerMetadata();
  Expected<kserve::ModelMetadata> ModelMetadata(const std::string& model,
                                                const std::string& version = "");
  // One inference. Inputs go as raw_input_contents when `raw` (the fast form), else
  // as typed contents; outputs come back as tensors. The request's "outputs" names
  // which outputs to return (empty: all).
  Expected<kserve::InferResponse> Infer(const std::string& model,
                                        const kserve::InferRequest& request,
                                        const std::string& version = "", bool raw = true);

  struct Impl;

 private:
  explicit KServeGrpcClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepedge
