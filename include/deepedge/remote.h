// A client for KServe v2 / Open Inference Protocol servers over HTTP/REST (`deepedge
// serve`, NVIDIA Triton, KServe, Seldon MLServer, OpenVINO Model Server): health,
// model metadata and inference with binary tensors, with timeouts, and the time of
// each inference split into its parts.
//
// Library: deepedge_remote (depends on deepedge_core and the codec in deepedge_serve).
// Errors: Unavailable when the server cannot be reached, times out or answers 503/504;
// NotFound for an unknown model (404); InvalidArgument for a refused request (400);
// Internal for a server failure (500) or a response that does not decode. Messages
// name the URL and carry the server's error text.
// Thread-safety: a Client is used by one thread at a time (it keeps one connection).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/kserve.h"
#include "deepedge/status.h"

namespace deepedge::remote {

struct Url {
  std::string host;
  int port = 80;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
};
// "http://HOST[:PORT][/PREFIX]"; https is Unsupported; anything else InvalidArgument.
Expected<Url> ParseUrl(std::string_view url);

struct ClientOptions {
  std::string url;  // "http://127.0.0.1:8000"
  double connect_timeout_s = 2.0;
  double timeout_s = 10.0;  // each read or write of a request
};

// Where the time of one remote inference went, in milliseconds.
struct InferTiming {
  double serialize_ms = 0;        // encoding the request body
  double upload_ms = 0;           // request sent -> response headers, less the server's time:
                                  // the request's transfer and the link's round trip
  double server_queue_ms = -1;    // from the response's queue_time_us; -1: not reported
  double server_compute_ms = -1;  // from compute_time_us; -1: not reported
  double download_ms = 0;         // response headers -> last byte
  double deserialize_ms = 0;      // decoding the response
  double round_trip_ms = 0;       // request sent -> last byte
  std::uint64_t request_bytes = 0, response_bytes = 0;
};

class Client {
 public:
  static Expected<std::unique_ptr<Client>> Create(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& url() const;
  // GET /v2/health/live.
  Status Live();
  // GET /v2/models/NAME/ready: OK, NotFound (unknown model) or Unavailable.
  Status ModelReady(std::string_view model);
  Expected<kserve::ModelMetadata> ModelMetadata(std::string_view model);
  // POST /v2/models/NAME/infer with every input in binary form, outputs asked binary.
  // The input tensors are only read. Outputs come in the server's order.
  Expected<std::vector<kserve::NamedTensor>> Infer(std::string_view model,
                                                   std::span<const kserve::NamedTensor> inputs,
                                                   InferTiming* timing = nullptr);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace deepedge::remote
