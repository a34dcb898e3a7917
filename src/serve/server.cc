#include "deepedge/server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "serve/bounded_queue.h"

namespace deepedge {
namespace {

using Clock = std::chrono::steady_clock;

struct LoadedModel {
  std::string name;
  std::string version;
  ModelFormat format = ModelFormat::kOnnx;
  std::vector<TensorInfo> inputs, outputs;
  std::vector<std::unique_ptr<Session>> sessions;  // sessions[i] belongs to worker i
};

// One admitted inference. Shared by the HTTP thread that waits for it and the worker
// that runs it; whichever leaves last frees it.
struct Job {
  enum class State { kQueued, kRunning, kDone, kAbandoned };
  const LoadedModel* model = nullptr;
  std::vector<Tensor> inputs;  // in the model's input order
  Clock::time_point admitted;

  std::mutex mu;
  std::condition_variable cv;
  State state = State::kQueued;
  Status status;
  std::vector<Tensor> outputs;
  double queue_s = 0.0, compute_s = 0.0;
};

// Splits seconds into the (sec, usec) pair httplib's setters take.
std::pair<time_t, time_t> SecUsec(double s) {
  const double whole = std::floor(s);
  return {static_cast<time_t>(whole), static_cast<time_t>((s - whole) * 1e6)};
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<kserve::TensorMetadata> ToMetadata(const std::vector<TensorInfo>& infos) {
  std::vector<kserve::TensorMetadata> out;
  for (const TensorInfo& t : infos) {
    out.push_back({t.name, std::string(kserve::DatatypeName(t.dtype)), t.shape.dims()});
  }
  return out;
}

void SetError(httplib::Response& res, int code, const std::string& message) {
  res.status = code;
  res.set_content(kserve::EncodeError(message), "application/json");
}

int HttpCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorrupt:
    case StatusCode::kUnsupported:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void WarmUp(Session& session) {
  std::vector<Tensor> inputs, outputs;
  for (const TensorInfo& info : session.Inputs()) {
    Shape shape = info.shape;
    for (std::size_t d = 0; d < shape.rank(); ++d) {
      if (shape[d] == Shape::kDynamic) shape[d] = 1;
    }
    Expected<Tensor> t = Tensor::Allocate(info.dtype, std::move(shape));
    if (!t) return;
    inputs.push_back(std::move(*t));
  }
  try {
    (void)session.Run(inputs, outputs);
  } catch (const std::exception&) {  // a backend must not throw; warm-up is optional
  }
}

}  // namespace

struct InferenceServer::Impl {
  ServerOptions options;
  ModelRepository repository;
  std::vector<std::unique_ptr<LoadedModel>> models;

  httplib::Server http;
  std::thread listen_thread;
  std::vector<std::thread> workers;
  serve::BoundedQueue<std::shared_ptr<Job>> queue;
  std::atomic<bool> draining{false};
  bool started = false, stopped = false;
  int bound_port = 0;

  // Metrics.
  mutable std::mutex metrics_mu;
  std::map<std::pair<std::string, int>, std::uint64_t> request_counts;
  std::map<std::pair<std::string, std::string>, std::uint64_t> grpc_counts;  // model, code
  struct Times {
    double queue_sum = 0.0, compute_sum = 0.0;
    std::uint64_t count = 0;
  };
  std::map<std::string, Times> times;
  std::atomic<std::int64_t> in_flight{0};

  Impl(ServerOptions o, ModelRepository r)
      : options(std::move(o)),
        repository(std::move(r)),
        queue(static_cast<std::size_t>(options.queue_capacity)) {}

  const LoadedModel* FindModel(const std::string& name) const {
    for (const auto& m : models) {
      if (m->name == name) return m.get();
    }
    return nullptr;
  }

  // The model a path names, or null with a 404 already set in `res`.
  const LoadedModel* Resolve(const httplib::Request& req, httplib::Response& res) const {
    const std::string name = req.matches[1].str();
    const std::string version = req.matches.size() > 2 ? req.matches[2].str() : "";
    const LoadedModel* m = FindModel(name);
    if (!m) {
      SetError(res, 404, "unknown model \"" + name + "\"");
      return nullptr;
    }
    if (!version.empty() && version != m->version) {
      SetError(res, 404,
               "model \"" + name + "\" has no loaded version \"" + version + "\" (serving " +
                   m->version + ")");
      return nullptr;
    }
    return m;
  }

  void Count(const std::string& model, int code) {
    std::lock_guard<std::mutex> lock(metrics_mu);
    ++request_counts[{model, code}];
  }

  void WorkerLoop(std::size_t index) {
    while (std::optional<std::shared_ptr<Job>> next = queue.Pop()) {
      Job& job = **next;
      const Clock::time_point start = Clock::now();
      {
        std::lock_guard<std::mutex> lock(job.mu);
        if (job.state == Job::State::kAbandoned) continue;  // timed out while queued
        job.state = Job::State::kRunning;
      }
      Status status;
      std::vector<Tensor> outputs;
      try {
        status = job.model->sessions[index]->Run(job.inputs, outputs);
      } catch (const std::exception& e) {
        status = Internal(std::string("backend threw: ") + e.what());
      }
      const Clock::time_point end = Clock::now();
      const double queue_s = std::chrono::duration<double>(start - job.admitted).count();
      const double compute_s = std::chrono::duration<double>(end - start).count();
      {
        std::lock_guard<std::mutex> lock(metrics_mu);
        Times& t = times[job.model->name];
        t.queue_sum += queue_s;
        t.compute_sum += compute_s;
        ++t.count;
      }
      {
        std::lock_guard<std::mutex> lock(job.mu);
        job.status = std::move(status);
        job.outputs = std::move(outputs);
        job.queue_s = queue_s;
        job.compute_s = compute_s;
        if (job.state == Job::State::kRunning) job.state = Job::State::kDone;
      }
      job.cv.notify_all();
    }
  }

  // Checks a decoded request against the model and orders its inputs.
  Status MatchInputs(const LoadedModel& m, kserve::InferRequest& r, std::vector<Tensor>& out) {
    if (r.inputs.size() != m.inputs.size()) {
      return InvalidArgument("model \"" + m.name + "\" takes " + std::to_string(m.inputs.size()) +
                             " inputs, the request has " + std::to_string(r.inputs.size()));
    }
    out.resize(m.inputs.size());
    for (std::size_t i = 0; i < m.inputs.size(); ++i) {
      const TensorInfo& info = m.inputs[i];
      auto it = std::find_if(r.inputs.begin(), r.inputs.end(),
                             [&](const kserve::NamedTensor& t) { return t.name == info.name; });
      if (it == r.inputs.end()) {
        return InvalidArgument("model \"" + m.name +
                               "\" has no input named in the request; it "
                               "needs \"" +
                               info.name + "\"");
      }
      const Tensor& t = it->tensor;
      if (t.dtype() != info.dtype) {
        return InvalidArgument("input \"" + info.name + "\": datatype " +
                               std::string(kserve::DatatypeName(t.dtype())) + ", model expects " +
                               std::string(kserve::DatatypeName(info.dtype)));
      }
      bool shape_ok = t.shape().rank() == info.shape.rank();
      for (std::size_t d = 0; shape_ok && d < info.shape.rank(); ++d) {
        shape_ok = info.shape[d] == Shape::kDynamic || info.shape[d] == t.shape()[d];
      }
      if (!shape_ok) {
        return InvalidArgument("input \"" + info.name + "\": shape " + t.shape().ToString() +
                               ", model expects " + info.shape.ToString());
      }
      out[i] = std::move(it->tensor);
    }
    return Status::Ok();
  }

  // The shared request path: checks `request` against `m`, queues it, waits for it.
  InferenceServer::InferResult RunInfer(const LoadedModel& m, kserve::InferRequest& request) {
    using Outcome = InferenceServer::Outcome;
    InferenceServer::InferResult result;
    auto fail = [&](Outcome o, std::string message) {
      result.outcome = o;
      result.message = std::move(message);
      return std::move(result);
    };
    if (draining.load()) return fail(Outcome::kStopping, "server is shutting down");
    // Which outputs to return, and how.
    std::vector<std::pair<std::size_t, bool>> wanted;  // output index, binary
    const bool all_binary = request.binary_data_output();
    if (request.outputs.empty()) {
      for (std::size_t i = 0; i < m.outputs.size(); ++i) wanted.emplace_back(i, all_binary);
    } else {
      for (const kserve::RequestedOutput& o : request.outputs) {
        auto it = std::find_if(m.outputs.begin(), m.outputs.end(),
                               [&](const TensorInfo& t) { return t.name == o.name; });
        if (it == m.outputs.end()) {
          return fail(Outcome::kInvalid,
                      "model \"" + m.name + "\" has no output \"" + o.name + "\"");
        }
        const auto index = static_cast<std::size_t>(it - m.outputs.begin());
        for (const auto& w : wanted) {
          if (w.first == index) {
            return fail(Outcome::kInvalid, "output \"" + o.name + "\" is requested twice");
          }
        }
        wanted.emplace_back(index, o.binary || all_binary);
      }
    }

    auto job = std::make_shared<Job>();
    job->model = &m;
    if (Status s = MatchInputs(m, request, job->inputs); !s.ok()) {
      return fail(Outcome::kInvalid, s.message());
    }
    job->admitted = Clock::now();
    switch (queue.TryPush(job)) {
      case serve::BoundedQueue<std::shared_ptr<Job>>::PushResult::kOk:
        break;
      case serve::BoundedQueue<std::shared_ptr<Job>>::PushResult::kFull:
        return fail(Outcome::kQueueFull, "queue full (" + std::to_string(options.queue_capacity) +
                                             " requests waiting); retry later");
      case serve::BoundedQueue<std::shared_ptr<Job>>::PushResult::kClosed:
        return fail(Outcome::kStopping, "server is shutting down");
    }
    ++in_flight;
    std::unique_lock<std::mutex> lock(job->mu);
    const bool done =
        job->cv.wait_for(lock, std::chrono::duration<double>(options.request_timeout_s),
                         [&] { return job->state == Job::State::kDone; });
    --in_flight;
    if (!done) {
      job->state = Job::State::kAbandoned;
      return fail(Outcome::kTimeout, "inference did not finish within " +
                                         std::to_string(options.request_timeout_s) + " s");
    }
    lock.unlock();
    if (!job->status.ok()) {
      return fail(HttpCodeFor(job->status) == 503 ? Outcome::kUnavailable : Outcome::kBackendError,
                  "model \"" + m.name + "\": " + job->status.message());
    }

    kserve::InferResponse& response = result.response;
    response.model_name = m.name;
    response.model_version = m.version;
    response.id = request.id;
    response.parameters["queue_time_us"] = static_cast<std::int64_t>(job->queue_s * 1e6);
    response.parameters["compute_time_us"] = static_cast<std::int64_t>(job->compute_s * 1e6);
    for (const auto& [index, binary] : wanted) {
      if (index >= job->outputs.size()) {
        return fail(Outcome::kBackendError,
                    "model \"" + m.name + "\": the backend returned fewer outputs");
      }
      // `wanted` names each output once, so each output tensor is moved out once.
      response.outputs.push_back({m.outputs[index].name, std::move(job->outputs[index]), binary});
    }
    return result;
  }

  static int HttpCodeForOutcome(InferenceServer::Outcome o) {
    switch (o) {
      case InferenceServer::Outcome::kOk:
        return 200;
      case InferenceServer::Outcome::kInvalid:
        return 400;
      case InferenceServer::Outcome::kNotFound:
        return 404;
      case InferenceServer::Outcome::kQueueFull:
      case InferenceServer::Outcome::kStopping:
      case InferenceServer::Outcome::kUnavailable:
        return 503;
      case InferenceServer::Outcome::kTimeout:
        return 504;
      case InferenceServer::Outcome::kBackendError:
        return 500;
    }
    return 500;
  }

  // Returns the HTTP status it set.
  int Infer(const httplib::Request& req, httplib::Response& res, std::string& model_label) {
    if (draining.load()) {
      SetError(res, 503, "server is shutting down");
      return 503;
    }
    const LoadedModel* m = Resolve(req, res);
    if (!m) return 404;
    model_label = m->name;

    Expected<std::optional<std::size_t>> header_length = kserve::ParseHeaderLength(
        req.get_header_value(std::string(kserve::kHeaderLengthHeader).c_str()), req.body.size());
    if (!header_length) {
      SetError(res, 400, header_length.status().message());
      return 400;
    }
    Expected<kserve::InferRequest> request =
        kserve::DecodeInferRequest(req.body, *header_length, options.limits);
    if (!request) {
      SetError(res, 400, request.status().message());
      return 400;
    }
    InferenceServer::InferResult result = RunInfer(*m, *request);
    if (result.outcome != InferenceServer::Outcome::kOk) {
      const int code = HttpCodeForOutcome(result.outcome);
      SetError(res, code, result.message);
      return code;
    }
    Expected<kserve::EncodedBody> body = kserve::EncodeInferResponse(result.response);
    if (!body) {
      SetError(res, 500, body.status().message());
      return 500;
    }
    res.status = 200;
    if (body->has_binary()) {
      res.set_header(std::string(kserve::kHeaderLengthHeader).c_str(),
                     std::to_string(body->json_size).c_str());
      res.set_content(std::move(body->body), "application/octet-stream");
    } else {
      res.set_content(std::move(body->body), "application/json");
    }
    return 200;
  }

  void Routes() {
    http.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"live\":true}", "application/json");
    });
    http.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
      if (draining.load()) {
        SetError(res, 503, "server is shutting down");
      } else {
        res.set_content("{\"ready\":true}", "application/json");
      }
    });
    http.Get("/v2", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(kserve::EncodeServerMetadata(
                          {options.server_name, options.server_version, {"binary_tensor_data"}}),
                      "application/json");
    });
    http.Get(R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)",
             [this](const httplib::Request& req, httplib::Response& res) {
               const LoadedModel* m = Resolve(req, res);
               if (!m) return;
               res.set_content(kserve::EncodeModelMetadata({m->name,
                                                            {m->version},
                                                            std::string(ModelFormatName(m->format)),
                                                            ToMetadata(m->inputs),
                                                            ToMetadata(m->outputs)}),
                               "application/json");
             });
    http.Get(R"(/v2/models/([^/]+)(?:/versions/([^/]+))?/ready)",
             [this](const httplib::Request& req, httplib::Response& res) {
               const LoadedModel* m = Resolve(req, res);
               if (!m) return;
               const nlohmann::json body = {{"name", m->name}, {"ready", true}};
               res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                               "application/json");
             });
    http.Post(R"(/v2/models/([^/]+)(?:/versions/([^/]+))?/infer)",
              [this](const httplib::Request& req, httplib::Response& res) {
                std::string model = "_unknown";
                const int code = Infer(req, res, model);
                Count(model, code);
              });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(Metrics(), "text/plain; version=0.0.4");
    });
    // Errors produced before a handler runs (unknown path 404, oversized body 413,
    // unparsable HTTP 400) get a JSON body too.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message;
      switch (res.status) {
        case 404:
          message = "no such endpoint: " + req.method + " " + req.path;
          break;
        case 413:
          message = "request body exceeds the limit of " +
                    std::to_string(options.max_request_bytes) + " bytes";
          if (req.path.ends_with("/infer")) Count("_unknown", 413);
          break;
        default:
          message = "HTTP status " + std::to_string(res.status);
      }
      res.set_content(kserve::EncodeError(message), "application/json");
    });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "internal error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = std::string("internal error: ") + e.what();
          } catch (...) {
          }
          SetError(res, 500, what);
        });
  }

  std::string Metrics() const {
    std::string out;
    std::lock_guard<std::mutex> lock(metrics_mu);
    out +=
        "# HELP deepedge_inference_requests_total Inference requests by model and HTTP "
        "status.\n# TYPE deepedge_inference_requests_total counter\n";
    for (const auto& [key, n] : request_counts) {
      out += "deepedge_inference_requests_total{model=\"" + EscapeLabel(key.first) + "\",code=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    }
    if (!grpc_counts.empty()) {
      out +=
          "# HELP deepedge_grpc_requests_total gRPC inference requests by model and gRPC "
          "status.\n# TYPE deepedge_grpc_requests_total counter\n";
      for (const auto& [key, n] : grpc_counts) {
        out += "deepedge_grpc_requests_total{model=\"" + EscapeLabel(key.first) + "\",code=\"" +
               EscapeLabel(key.second) + "\"} " + std::to_string(n) + "\n";
      }
    }
    auto summary = [&](const char* name, const char* help, bool queue_time) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " summary\n";
      for (const auto& [model, t] : times) {
        const std::string label = "{model=\"" + EscapeLabel(model) + "\"}";
        char sum[64];
        std::snprintf(sum, sizeof sum, "%.9g", queue_time ? t.queue_sum : t.compute_sum);
        out += std::string(name) + "_sum" + label + " " + sum + "\n";
        out += std::string(name) + "_count" + label + " " + std::to_string(t.count) + "\n";
      }
    };
    summary("deepedge_inference_queue_seconds",
            "Time from admission to the start of compute, seconds.", true);
    summary("deepedge_inference_compute_seconds", "Time in Session::Run, seconds.", false);
    out +=
        "# HELP deepedge_queue_depth Requests waiting in the queue.\n"
        "# TYPE deepedge_queue_depth gauge\ndeepedge_queue_depth " +
        std::to_string(queue.size()) + "\n";
    out +=
        "# HELP deepedge_inflight_requests Admitted requests not yet answered.\n"
        "# TYPE deepedge_inflight_requests gauge\ndeepedge_inflight_requests " +
        std::to_string(in_flight.load()) + "\n";
    return out;
  }
};

InferenceServer::InferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InferenceServer::~InferenceServer() {
  Stop();
}

Expected<std::unique_ptr<InferenceServer>> InferenceServer::Create(ModelRepository repository,
                                                                   ModelSessionFactory factory,
                                                                   ServerOptions options) {
  if (options.workers < 1) return InvalidArgument("workers must be at least 1");
  if (options.queue_capacity < 1) return InvalidArgument("queue capacity must be at least 1");
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument("port " + std::to_string(options.port) + " is out of range");
  }
  if (!(options.request_timeout_s > 0) || !(options.read_timeout_s > 0) ||
      !(options.keep_alive_timeout_s > 0)) {
    return InvalidArgument("timeouts must be positive");
  }
  if (options.max_request_bytes == 0) return InvalidArgument("max request bytes must be > 0");
  if (!factory) return InvalidArgument("no session factory");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(repository));
  for (const RepositoryModel& rm : impl->repository.models()) {
    const RepositoryModelVersion& v = rm.latest();
    Expected<ModelSource> source = ModelSource::FromFile(v.path);
    if (!source) return source.status().WithContext("model \"" + rm.name + "\"");
    auto lm = std::make_unique<LoadedModel>();
    lm->name = rm.name;
    lm->version = std::to_string(v.version);
    lm->format = v.format;
    for (int w = 0; w < impl->options.workers; ++w) {
      Expected<std::unique_ptr<Session>> s = factory(*source);
      if (!s) return s.status().WithContext("model \"" + rm.name + "\" (" + v.path.string() + ")");
      if (w == 0) {
        lm->inputs = (*s)->Inputs();
        lm->outputs = (*s)->Outputs();
        for (const TensorInfo& t : lm->inputs) {
          if (kserve::DatatypeName(t.dtype).empty()) {
            return Unsupported("model \"" + rm.name + "\": input \"" + t.name +
                               "\" has a datatype the protocol cannot carry");
          }
        }
      }
      if (impl->options.warm_up) WarmUp(**s);
      lm->sessions.push_back(std::move(*s));
    }
    impl->models.push_back(std::move(lm));
  }
  return std::unique_ptr<InferenceServer>(new InferenceServer(std::move(impl)));
}

Status InferenceServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Internal("InferenceServer::Start called twice");
  const ServerOptions& o = s.options;
  const int http_threads =
      o.http_threads > 0 ? o.http_threads : std::max(8, 2 * (o.workers + o.queue_capacity));
  s.http.new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  const auto [rs, ru] = SecUsec(o.read_timeout_s);
  s.http.set_read_timeout(rs, ru);
  s.http.set_write_timeout(rs, ru);
  s.http.set_keep_alive_timeout(static_cast<time_t>(std::ceil(o.keep_alive_timeout_s)));
  s.http.set_keep_alive_max_count(1000000);
  s.http.set_payload_max_length(o.max_request_bytes);
  s.http.set_tcp_nodelay(true);  // responses are written in pieces; Nagle would add 40 ms
  s.Routes();

  if (o.port == 0) {
    s.bound_port = s.http.bind_to_any_port(o.address);
    if (s.bound_port <= 0) return Unavailable("cannot bind to " + o.address + " (any port)");
  } else {
    if (!s.http.bind_to_port(o.address, o.port)) {
      return Unavailable("cannot bind to " + o.address + ":" + std::to_string(o.port) +
                         " (in use, or not an address of this machine)");
    }
    s.bound_port = o.port;
  }
  for (int w = 0; w < o.workers; ++w) {
    s.workers.emplace_back([&s, w] { s.WorkerLoop(static_cast<std::size_t>(w)); });
  }
  s.listen_thread = std::thread([&s] { s.http.listen_after_bind(); });
  // httplib's stop() does nothing until the listen loop runs: wait for it, so a Stop()
  // right after Start() cannot be lost.
  s.started = true;
  for (int i = 0; i < 5000 && !s.http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!s.http.is_running()) {
    Stop();
    return Internal("the HTTP listener did not start");
  }
  return Status::Ok();
}

int InferenceServer::port() const {
  return impl_->bound_port;
}

void InferenceServer::Stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.draining = true;
  s.http.stop();
  // Joining the listener joins httplib's connection threads: each finishes the
  // request it is serving, and admitted jobs still run on the workers meanwhile.
  s.listen_thread.join();
  s.queue.Close();
  for (std::thread& t : s.workers) t.join();
}

std::string InferenceServer::MetricsText() const {
  return impl_->Metrics();
}

namespace {

// The model `name` at `version` ("" = the loaded one), or null with why in `message`.
const LoadedModel* FindVersion(const InferenceServer::Impl& s, const std::string& name,
                               const std::string& version, std::string& message);

}  // namespace

InferenceServer::InferResult InferenceServer::Infer(const std::string& model,
                                                    const std::string& version,
                                                    kserve::InferRequest request) {
  InferResult result;
  try {
    if (!impl_->started || impl_->draining.load()) {
      result.outcome = Outcome::kStopping;
      result.message = impl_->started ? "server is shutting down" : "server is not started";
      return result;
    }
    const LoadedModel* m = FindVersion(*impl_, model, version, result.message);
    if (!m) {
      result.outcome = Outcome::kNotFound;
      return result;
    }
    return impl_->RunInfer(*m, request);
  } catch (const std::exception& e) {  // e.g. bad_alloc: reported, never propagated
    result = {};
    result.outcome = Outcome::kBackendError;
    result.message = std::string("internal error: ") + e.what();
    return result;
  }
}

bool InferenceServer::Ready() const {
  return impl_->started && !impl_->draining.load();
}

Expected<kserve::ModelMetadata> InferenceServer::ModelMetadataFor(
    const std::string& model, const std::string& version) const {
  std::string message;
  const LoadedModel* m = FindVersion(*impl_, model, version, message);
  if (!m) return NotFound(message);
  return kserve::ModelMetadata{m->name,
                               {m->version},
                               std::string(ModelFormatName(m->format)),
                               ToMetadata(m->inputs),
                               ToMetadata(m->outputs)};
}

kserve::ServerMetadata InferenceServer::ServerMetadataInfo() const {
  return {impl_->options.server_name, impl_->options.server_version, {"binary_tensor_data"}};
}

void InferenceServer::BeginDrain() {
  impl_->draining = true;
}

void InferenceServer::CountGrpcRequest(const std::string& model, const std::string& code) {
  std::lock_guard<std::mutex> lock(impl_->metrics_mu);
  ++impl_->grpc_counts[{model, code}];
}

namespace {

const LoadedModel* FindVersion(const InferenceServer::Impl& s, const std::string& name,
                               const std::string& version, std::string& message) {
  const LoadedModel* m = s.FindModel(name);
  if (!m) {
    message = "unknown model \"" + name + "\"";
    return nullptr;
  }
  if (!version.empty() && version != m->version) {
    message = "model \"" + name + "\" has no loaded version \"" + version + "\" (serving " +
              m->version + ")";
    return nullptr;
  }
  return m;
}

}  // namespace

}  // namespace deepedge
