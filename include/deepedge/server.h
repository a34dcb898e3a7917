// InferenceServer: the KServe v2 / Open Inference Protocol over HTTP/REST
// (`deepedge serve`). Library: deepedge_serve.
//
// Endpoints (all JSON; errors are {"error": "..."}):
//   GET  /v2/health/live, /v2/health/ready            200 when live / every model loaded
//   GET  /v2                                          server metadata
//   GET  /v2/models/NAME[/versions/V]                 model metadata (404 unknown)
//   GET  /v2/models/NAME[/versions/V]/ready           200 ready (404 unknown)
//   POST /v2/models/NAME[/versions/V]/infer           inference, JSON or binary tensors
//   GET  /metrics                                     Prometheus text format
//
// Statuses: 400 malformed request (bad JSON, unknown datatype, wrong input names,
// dtypes or shapes, size mismatches); 404 unknown model, version or path; 413 body
// over max_request_bytes (chunked bodies too; the connection is then closed); 503 queue
// full or server stopping; 504 the request did not finish within request_timeout_s
// (queue wait included); 500 the backend failed.
//
// Execution model: HTTP connection threads (http_threads of them) parse and check a
// request, then put it on one bounded queue (queue_capacity) and wait. `workers`
// threads take requests from the queue; worker i runs them on its own Session of the
// model (one session per worker per model, so a Session is only ever used by one
// thread, as backend.h requires). A full queue is refused at once with 503 (back-
// pressure) instead of letting latency grow without bound. A request that times out
// while queued is dropped without running; one that times out while running finishes
// on its worker and its result is discarded (a backend cannot be interrupted).
//
// Each infer response carries, in its "parameters", the server-side split of its
// latency: "queue_time_us" (admission to start of compute) and "compute_time_us"
// (Session::Run plus copying inputs), so a client can subtract them from what it saw.
//
// The same request path serves the gRPC front end (include/deepedge/grpc_server.h,
// `deepedge serve --grpc`) through Infer() below: one queue, one set of workers, one
// /metrics for both protocols.
//
// Slow or stalled clients hold one HTTP thread each until read_timeout_s expires;
// the other threads keep serving. Every listener binds to 127.0.0.1 unless told
// otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "deepedge/kserve.h"
#include "deepedge/model_repository.h"
#include "deepedge/status.h"

namespace deepedge {

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 8000;  // 0: any free port (see InferenceServer::port())
  int workers = 1;  // inference threads, each with its own sessions
  int queue_capacity = 16;
  std::size_t max_request_bytes = 64u << 20;  // whole HTTP body
  double request_timeout_s = 30.0;            // from admission to response
  int http_threads = 0;                       // 0: max(8, 2 * (workers + queue_capacity))
  double read_timeout_s = 5.0;                // a client silent this long mid-request is dropped
  double keep_alive_timeout_s = 5.0;          // an idle keep-alive connection is closed after this
  std::string server_name = "deepedge";
  std::string server_version = "";
  kserve::Limits limits;  // codec limits for every request
  // Run each session once on zeros at load (dynamic dimensions taken as 1), so the
  // first client does not pay the backend's first-run set-up; a failing warm-up run
  // is ignored (the model may need real data or other dimensions).
  bool warm_up = true;
};

// Thread-safety: Start/Stop from one controlling thread; the other members from any.
// Lifetime: the destructor stops the server (gracefully) if it is running.
class InferenceServer {
 public:
  // Loads the latest version of every model in `repository`, `workers` sessions each,
  // through `factory`. Fails on the first model that does not load (naming its file)
  // or on invalid options.
  static Expected<std::unique_ptr<InferenceServer>> Create(ModelRepository repository,
                                                           ModelSessionFactory factory,
                                                           ServerOptions options);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  // Binds the listener and starts the HTTP and worker threads; returns once the
  // socket accepts connections. Fails (Unavailable) when the address cannot be bound.
  Status Start();
  // The bound port (after Start()).
  int port() const;

  // Graceful stop: new inference requests get 503, the listener closes, requests
  // already admitted finish and get their responses, then every thread is joined.
  // Blocks until done (at most about max(request_timeout_s, read_timeout_s,
  // keep_alive_timeout_s)). Idempotent. A GrpcInferenceServer on this server must be
  // stopped first (its handlers call Infer()).
  void Stop();

  // The Prometheus text exposition served at /metrics.
  std::string MetricsText() const;

  // --- The protocol-independent request path, shared with other front ends (the
  // gRPC listener, include/deepedge/grpc_server.h). Thread-safe between Start() and
  // Stop(); the same queue, back-pressure, timeout and metrics as HTTP requests.

  // Why a request failed; each front end maps it to its own status (HTTP, gRPC).
  enum class Outcome {
    kOk,
    kInvalid,       // malformed request, wrong inputs, datatypes or shapes (HTTP 400)
    kNotFound,      // unknown model or version (404)
    kQueueFull,     // back-pressure: the queue is full (503)
    kStopping,      // the server is shutting down (503)
    kTimeout,       // not finished within request_timeout_s (504)
    kUnavailable,   // the backend reported a resource unavailable (503)
    kBackendError,  // the backend failed (500)
  };
  struct InferResult {
    Outcome outcome = Outcome::kOk;
    std::string message;             // why, when outcome != kOk
    kserve::InferResponse response;  // when kOk
  };
  // Runs one decoded request on `model` (`version` empty: the loaded one). The
  // request's output tensors are moved out of it. Never throws.
  InferResult Infer(const std::string& model, const std::string& version,
                    kserve::InferRequest request);
  // False once Stop() or BeginDrain() has been called.
  bool Ready() const;
  // NotFound for an unknown model or version.
  Expected<kserve::ModelMetadata> ModelMetadataFor(const std::string& model,
                                                   const std::string& version) const;
  kserve::ServerMetadata ServerMetadataInfo() const;
  // New inference requests are refused (kStopping) from now on, on every front end;
  // requests already admitted still finish. Lets another front end drain before Stop().
  void BeginDrain();
  // Counts one request of another front end in /metrics, as
  // deepedge_grpc_requests_total{model, code} (code: that protocol's status name).
  void CountGrpcRequest(const std::string& model, const std::string& code);

  struct Impl;

 private:
  explicit InferenceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepedge
