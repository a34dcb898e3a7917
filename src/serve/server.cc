#include "deepedge/server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
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

// A connection's socket as httplib sees it, with buffering on both sides.
//
// Why: Debian's cpp-httplib 0.11 is compiled with a 4 KiB receive size and polls the
// socket before every read, so a 602 KB tensor took ~150 poll()+recv() pairs (about
// 0.7 ms of system calls on this VM, half the protocol cost of an offloaded
// MobileNet query). Here httplib's small reads are served from one large buffer that
// each recv() fills as far as the kernel has data, and a response's header and body
// writes leave in one send. Pending output is flushed before any read that must wait
// on the socket (so "100 Continue" and pipelined replies are never held back) and at
// the end of every request.
//
// Timeouts: recv()/send() block under SO_RCVTIMEO / SO_SNDTIMEO (the server's read and
// write timeouts), so a stalled peer fails the call as httplib's own stream would.
class BufferedSocketStream final : public httplib::Stream {
 public:
  BufferedSocketStream(int fd, time_t read_sec, time_t read_usec, time_t write_sec,
                       time_t write_usec)
      : fd_(fd),
        read_timeout_ms_(static_cast<int>(read_sec * 1000 + read_usec / 1000)),
        write_timeout_ms_(static_cast<int>(write_sec * 1000 + write_usec / 1000)),
        in_(std::make_unique_for_overwrite<char[]>(kInCapacity)) {
    timeval rtv{};
    rtv.tv_sec = read_sec;
    rtv.tv_usec = static_cast<suseconds_t>(read_usec);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
    timeval wtv{};
    wtv.tv_sec = write_sec;
    wtv.tv_usec = static_cast<suseconds_t>(write_usec);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &wtv, sizeof wtv);
  }

  bool is_readable() const override {
    return in_off_ < in_end_ || Poll(POLLIN, read_timeout_ms_) > 0;
  }
  bool is_writable() const override { return Poll(POLLOUT, write_timeout_ms_) > 0; }

  ssize_t read(char* ptr, size_t size) override {
    if (in_off_ == in_end_) {
      if (!Flush()) return -1;  // the peer may be waiting for what we wrote
      ssize_t n;
      do {
        n = ::recv(fd_, in_.get(), kInCapacity, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n < 0 ? -1 : 0;
      in_off_ = 0;
      in_end_ = static_cast<std::size_t>(n);
    }
    const std::size_t k = std::min(size, in_end_ - in_off_);
    std::memcpy(ptr, in_.get() + in_off_, k);
    in_off_ += k;
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (out_.size() + size <= kOutCapacity) {
      out_.append(ptr, size);
      return static_cast<ssize_t>(size);
    }
    // A large body: send it with what is pending, without copying it first.
    iovec iov[2] = {{out_.data(), out_.size()}, {const_cast<char*>(ptr), size}};
    if (!SendAll(iov, 2)) return -1;
    out_.clear();
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (!peer_known_) {
      peer_known_ = true;
      Address(::getpeername, peer_ip_, peer_port_);
    }
    ip = peer_ip_;
    port = peer_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (!local_known_) {
      local_known_ = true;
      Address(::getsockname, local_ip_, local_port_);
    }
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

  // Sends everything written so far. False when the peer is gone or stalled.
  bool Flush() {
    if (out_.empty()) return true;
    iovec iov{out_.data(), out_.size()};
    const bool ok = SendAll(&iov, 1);
    out_.clear();
    return ok;
  }

  // Waits until the next request starts to arrive: true when there is data (or EOF,
  // which httplib then reads as a closed connection), false after `timeout_s` of
  // silence or once `stopped()` says the listener has closed.
  template <typename Stopped>
  bool WaitForRequest(time_t timeout_s, Stopped stopped) const {
    if (in_off_ < in_end_) return true;
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (!stopped()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      // Slices of at most 100 ms, so that a stopping server is noticed soon.
      const int r = Poll(POLLIN, static_cast<int>(std::min<std::int64_t>(left.count(), 100)));
      if (r != 0) return r > 0;
    }
    return false;
  }

 private:
  static constexpr std::size_t kInCapacity = 256u << 10;
  static constexpr std::size_t kOutCapacity = 64u << 10;

  int Poll(short events, int timeout_ms) const {
    pollfd p{fd_, events, 0};
    int r;
    do {
      r = ::poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r;
  }

  bool SendAll(iovec* iov, int count) {
    while (count > 0) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(count);
      const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;  // EAGAIN here is SO_SNDTIMEO expiring
      }
      auto left = static_cast<std::size_t>(n);
      while (count > 0 && left >= iov->iov_len) {
        left -= iov->iov_len;
        ++iov;
        --count;
      }
      if (count > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + left;
        iov->iov_len -= left;
      }
    }
    return true;
  }

  template <typename Fn>
  void Address(Fn fn, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (fn(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST) == 0) {
      ip = host;
    }
    if (addr.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
  }

  int fd_;
  int read_timeout_ms_, write_timeout_ms_;
  std::unique_ptr<char[]> in_;
  std::size_t in_off_ = 0, in_end_ = 0;
  std::string out_;
  mutable bool peer_known_ = false, local_known_ = false;
  mutable std::string peer_ip_, local_ip_;
  mutable int peer_port_ = 0, local_port_ = 0;
};

// Set by a handler on the connection's thread when the rest of the request cannot be
// read past (a body refused part way): the connection closes after the response, so
// the unread bytes are never parsed as a next request.
thread_local bool t_close_after_response = false;

// httplib's server with each connection served through a BufferedSocketStream; the
// parsing, routing and keep-alive rules (max count, idle timeout) stay httplib's.
class HttpServer final : public httplib::Server {
 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ret = false;
    {
      BufferedSocketStream strm(sock, read_timeout_sec_, read_timeout_usec_, write_timeout_sec_,
                                write_timeout_usec_);
      auto stopped = [this] { return svr_sock_ == INVALID_SOCKET; };
      for (std::size_t left = keep_alive_max_count_; left > 0 && !stopped(); --left) {
        if (!strm.WaitForRequest(keep_alive_timeout_sec_, stopped)) break;
        bool closed = false;
        t_close_after_response = false;
        ret = process_request(strm, left == 1, closed, nullptr);
        if (!strm.Flush()) ret = false;
        if (!ret || closed || t_close_after_response) break;
      }
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ret;
  }
};

}  // namespace

struct InferenceServer::Impl {
  ServerOptions options;
  ModelRepository repository;
  std::vector<std::unique_ptr<LoadedModel>> models;

  HttpServer http;
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
  // Reads an infer request's body into `body`, sized once from Content-Length (httplib's
  // own reader grows the string 4 KiB at a time: ~1 MB of reallocation copies for a
  // 600 KB tensor). False when the body could not be read; `res.status` says why (413
  // over max_request_bytes, chunked bodies included; 400 otherwise) and the error
  // handler writes the message.
  bool ReadBody(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader, std::string& body) const {
    if (req.is_multipart_form_data()) {
      (void)reader([](const httplib::MultipartFormData&) { return true; },
                   [](const char*, std::size_t) { return true; });
      SetError(res, 400,
               "multipart/form-data bodies are not accepted; send JSON or binary tensors");
      return false;
    }
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty()) {
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
      if (ec == std::errc() && end == length.data() + length.size() &&
          n <= options.max_request_bytes) {
        body.reserve(n);
      }
    }
    bool too_large = false;
    const bool ok = reader([&](const char* data, std::size_t n) {
      if (n > options.max_request_bytes - body.size()) {
        too_large = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (ok) return true;
    // Where the body stopped is unknown (or, over the limit in chunks, its rest unread):
    // nothing after it on this connection may be read as a request.
    t_close_after_response = true;
    res.set_header("Connection", "close");
    if (too_large || res.status == 413) {
      res.status = 413;
    } else if (res.status < 400) {
      res.status = 400;
    }
    return false;
  }

  int Infer(const httplib::Request& req, const std::string& req_body, httplib::Response& res,
            std::string& model_label) {
    if (draining.load()) {
      SetError(res, 503, "server is shutting down");
      return 503;
    }
    const LoadedModel* m = Resolve(req, res);
    if (!m) return 404;
    model_label = m->name;

    Expected<std::optional<std::size_t>> header_length = kserve::ParseHeaderLength(
        req.get_header_value(std::string(kserve::kHeaderLengthHeader).c_str()), req_body.size());
    if (!header_length) {
      SetError(res, 400, header_length.status().message());
      return 400;
    }
    Expected<kserve::InferRequest> request =
        kserve::DecodeInferRequest(req_body, *header_length, options.limits);
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
              [this](const httplib::Request& req, httplib::Response& res,
                     const httplib::ContentReader& reader) {
                std::string body;
                if (!ReadBody(req, res, reader, body)) {
                  // 413 is counted by the error handler, like one refused before routing.
                  if (res.status != 413) Count("_unknown", res.status);
                  return;
                }
                std::string model = "_unknown";
                const int code = Infer(req, body, res, model);
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
