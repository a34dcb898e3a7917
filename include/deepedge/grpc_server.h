// GrpcInferenceServer: the KServe v2 / Open Inference Protocol over gRPC
// (`deepedge serve --grpc ADDR:PORT`), the service inference.GRPCInferenceService of
// src/serve/grpc_inference.proto: ServerLive, ServerReady, ModelReady, ServerMetadata,
// ModelMetadata and ModelInfer (inputs as raw_input_contents or typed contents;
// outputs always as raw_output_contents). Library: deepedge_serve_grpc (built when
// gRPC is installed and DEEPEDGE_WITH_GRPC is ON; DEEPEDGE_HAVE_GRPC is then defined
// for its users).
//
// It is a second front end of an InferenceServer (include/deepedge/server.h): the
// same loaded models, bounded queue, workers, per-request timeout and /metrics. Status
// codes: INVALID_ARGUMENT malformed request, wrong input names, datatypes or shapes,
// raw contents of the wrong size; NOT_FOUND unknown model or version; RESOURCE_EXHAUSTED
// the queue is full (back-pressure) or the message exceeds max_message_bytes;
// DEADLINE_EXCEEDED the inference did not finish within the server's request timeout;
// UNAVAILABLE the server is stopping; INTERNAL the backend failed. Every ModelInfer is
// counted in /metrics as deepedge_grpc_requests_total{model, code}.
//
// Each ModelInfer holds one gRPC thread while it waits (as an HTTP request holds an
// HTTP thread); max_threads bounds them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "deepedge/kserve.h"
#include "deepedge/server.h"
#include "deepedge/status.h"

namespace deepedge {

struct GrpcServerOptions {
  std::string address = "127.0.0.1";  // loopback unless told otherwise
  int port = 8001;                    // 0: any free port (see port())
  // Largest request message; a larger one is refused by gRPC with RESOURCE_EXHAUSTED
  // before it is decoded.
  std::size_t max_message_bytes = 64u << 20;
  int max_threads = 64;  // gRPC handler threads at most
  // How long Stop() lets RPCs in progress finish before cancelling them, seconds.
  double shutdown_grace_s = 30.0;
  kserve::Limits limits;  // codec limits for every request
};

// Thread-safety: Start/Stop from one controlling thread; port() from any.
// Lifetime: `core` must outlive this object and stay started until Stop() returns;
// the destructor calls Stop().
class GrpcInferenceServer {
 public:
  // Binds the listener and starts serving. Unavailable when the address cannot be
  // bound (in use, or not an address of this machine); InvalidArgument on bad options.
  static Expected<std::unique_ptr<GrpcInferenceServer>> Start(InferenceServer& core,
                                                              GrpcServerOptions options);
  ~GrpcInferenceServer();
  GrpcInferenceServer(const GrpcInferenceServer&) = delete;
  GrpcInferenceServer& operator=(const GrpcInferenceServer&) = delete;

  // The bound port.
  int port() const;

  // Graceful stop: new RPCs are refused, RPCs in progress finish (at most
  // shutdown_grace_s, then they are cancelled), the listener closes. Blocks until
  // done. Idempotent. Call InferenceServer::BeginDrain() first when the whole server
  // is stopping, so that HTTP and gRPC refuse new work at the same moment.
  void Stop();

  struct Impl;

 private:
  explicit GrpcInferenceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepedge
