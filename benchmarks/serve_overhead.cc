// Offloading a whole model through `deepedge serve`'s protocol against running it in
// process, measured side by side in one run (issue 7):
//   - in-process Session::Run vs the same model behind InferenceServer on loopback,
//     the client encoding the request and decoding the response each query
//     (binary tensors and JSON tensors, 1x3x224x224 FP32 input);
//   - the same over gRPC (raw tensor contents, KServeGrpcClient) where the build has
//     gRPC;
//   - server throughput at concurrency 1, 4 and 16 (binary tensors, keep-alive
//     connections), with p50 / p99 latency.
// Usage: serve_overhead [--model mobilenet_v1_1.0_224] [--threads 1] [--workers 2] [--queries 60]
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "deepedge/backends.h"
#ifdef DEEPEDGE_HAVE_GRPC
#include "deepedge/grpc_server.h"
#include "deepedge/kserve_grpc_client.h"
#endif
#include "deepedge/kserve.h"
#include "deepedge/server.h"
#include "deepedge/zoo.h"
#include "support/raw_http.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
};

Stats Summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double p) {
    const std::size_t i = static_cast<std::size_t>(std::ceil(p / 100.0 * ms.size()));
    return ms[std::min(ms.size() - 1, i == 0 ? 0 : i - 1)];
  };
  s.p50_ms = rank(50);
  s.p99_ms = rank(99);
  for (double v : ms) s.mean_ms += v;
  s.mean_ms /= static_cast<double>(ms.size());
  return s;
}

// One keep-alive client connection.
class Client {
 public:
  explicit Client(int port) : fd_(testing::ConnectLoopback(port)) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // One query: encode, send, receive, decode. False on any failure.
  bool Infer(const std::string& input_name, const Tensor& input, bool binary) {
    kserve::InferRequest req;
    Expected<Tensor> copy = Tensor::Borrow(input.dtype(), input.shape(),
                                           const_cast<void*>(input.data()), input.byte_size());
    if (!copy) return false;
    req.inputs.push_back({input_name, std::move(*copy)});
    if (binary) req.parameters["binary_data_output"] = true;
    Expected<kserve::EncodedBody> body = kserve::EncodeInferRequest(req, binary);
    if (!body) return false;
    std::string http = "POST /v2/models/m/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                       std::to_string(body->body.size()) + "\r\n";
    if (binary) {
      http += "Inference-Header-Content-Length: " + std::to_string(body->json_size) +
              "\r\nContent-Type: application/octet-stream\r\n";
    } else {
      http += "Content-Type: application/json\r\n";
    }
    http += "\r\n";
    // Head and body in one call, without first copying the body behind the head (an
    // HTTP client library writes them from separate buffers too).
    if (!WriteAll(http, body->body)) return false;
    testing::HttpReply r = testing::ReadReply(fd_);
    if (r.status != 200) {
      std::fprintf(stderr, "status %d: %s\n", r.status, r.body.substr(0, 200).c_str());
      return false;
    }
    const std::string hl = r.header("inference-header-content-length");
    std::optional<std::size_t> len;
    if (!hl.empty()) len = std::stoul(hl);
    Expected<kserve::InferResponse> res = kserve::DecodeInferResponse(r.body, len);
    if (!res || res->outputs.empty()) return false;
    last_server_ms = 0;
    for (const char* key : {"queue_time_us", "compute_time_us"}) {
      auto it = res->parameters.find(key);
      if (it == res->parameters.end() || !std::holds_alternative<std::int64_t>(it->second)) {
        return false;
      }
      last_server_ms += static_cast<double>(std::get<std::int64_t>(it->second)) / 1000.0;
    }
    return true;
  }
  // Server queue + compute time of the last query, as the server reported it.
  double last_server_ms = 0;

 private:
  bool WriteAll(const std::string& head, const std::string& body) {
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    iovec* next = iov;
    int count = 2;
    while (count > 0) {
      msghdr msg{};
      msg.msg_iov = next;
      msg.msg_iovlen = static_cast<std::size_t>(count);
      const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      auto left = static_cast<std::size_t>(n);
      while (count > 0 && left >= next->iov_len) {
        left -= next->iov_len;
        ++next;
        --count;
      }
      if (count > 0) {
        next->iov_base = static_cast<char*>(next->iov_base) + left;
        next->iov_len -= left;
      }
    }
    return true;
  }

  int fd_;
};

int Main(int argc, char** argv) {
  std::string model = "mobilenet_v1_1.0_224";
  int threads = 1, workers = 2, queries = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--model") model = argv[i + 1];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--workers") workers = std::atoi(argv[i + 1]);
    if (a == "--queries") queries = std::atoi(argv[i + 1]);
  }
  testing::TempDir dir;
  const auto path = dir / "repo/m/1/model.onnx";
  std::filesystem::create_directories(path.parent_path());
  if (Status s = ZooExport(model, path); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<Backend> backend = MakeDeepEdgeBackend();
  SessionOptions so;
  so.threads = threads;
  Expected<std::unique_ptr<Session>> session =
      backend->Load(ModelSource::FromFile(path).value(), so);
  if (!session) {
    std::fprintf(stderr, "%s\n", session.status().ToString().c_str());
    return 1;
  }
  const TensorInfo& in_info = (*session)->Inputs()[0];
  Shape in_shape = in_info.shape;
  for (std::size_t d = 0; d < in_shape.rank(); ++d) {
    if (in_shape[d] == Shape::kDynamic) in_shape[d] = 1;  // batch 1
  }
  Tensor input = Tensor::Allocate(in_info.dtype, in_shape).value();
  auto v = input.as<float>();
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 255) / 255.0f;

  ServerOptions opts;
  opts.port = 0;
  opts.workers = workers;
  opts.queue_capacity = 64;
  Expected<std::unique_ptr<InferenceServer>> server = InferenceServer::Create(
      ModelRepository::Scan(dir / "repo").value(),
      [&](const ModelSource& src) { return backend->Load(src, so); }, opts);
  if (!server || !(*server)->Start().ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const int port = (*server)->port();
  std::printf("model %s, input %s, %d thread(s) per session, %d server workers, %u cores\n",
              model.c_str(), in_shape.ToString().c_str(), threads, workers,
              std::thread::hardware_concurrency());

#ifdef DEEPEDGE_HAVE_GRPC
  GrpcServerOptions gopts;
  gopts.port = 0;
  Expected<std::unique_ptr<GrpcInferenceServer>> grpc_server =
      GrpcInferenceServer::Start(**server, gopts);
  if (!grpc_server) {
    std::fprintf(stderr, "gRPC server: %s\n", grpc_server.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<KServeGrpcClient> grpc_client =
      KServeGrpcClient::Connect("127.0.0.1:" + std::to_string((*grpc_server)->port())).value();
  kserve::InferRequest grpc_request;
  grpc_request.inputs.push_back(
      {in_info.name,
       Tensor::Borrow(input.dtype(), input.shape(), input.data(), input.byte_size()).value()});
  for (int warm = 0; warm < 3; ++warm) (void)grpc_client->Infer("m", grpc_request);
#endif
  std::vector<double> grpc_ms, grpc_overhead_ms;

  // Interleave the ways so that machine load drifts hit them alike.
  std::vector<double> local_ms, bin_ms, json_ms;
  std::vector<double> bin_overhead_ms, json_overhead_ms;  // client latency - server time
  Client client(port);
  if (!client.ok()) return 1;
  std::vector<Tensor> outputs;
  for (int warm = 0; warm < 3; ++warm) {
    (void)(*session)->Run({&input, 1}, outputs);
    client.Infer(in_info.name, input, true);
  }
  // Blocks of kBlock queries of each kind in turn: the in-process session and the
  // server's hold separate copies of the weights, so alternating query by query would
  // measure cache misses, not the protocol. The first query of each block is a warm-up.
  constexpr int kBlock = 10;
  std::vector<double> server_ms;  // server-reported queue + compute, binary queries
  for (int done = 0; done < queries; done += kBlock) {
    for (int q = 0; q <= kBlock; ++q) {
      auto t0 = Clock::now();
      if (!(*session)->Run({&input, 1}, outputs).ok()) return 1;
      if (q)
        local_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    for (int q = 0; q <= kBlock; ++q) {
      auto t0 = Clock::now();
      if (!client.Infer(in_info.name, input, true)) return 1;
      if (!q) continue;
      bin_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      bin_overhead_ms.push_back(bin_ms.back() - client.last_server_ms);
      server_ms.push_back(client.last_server_ms);
    }
#ifdef DEEPEDGE_HAVE_GRPC
    for (int q = 0; q <= kBlock; ++q) {
      auto t0 = Clock::now();
      Expected<kserve::InferResponse> r = grpc_client->Infer("m", grpc_request);
      if (!r) {
        std::fprintf(stderr, "gRPC: %s\n", r.status().ToString().c_str());
        return 1;
      }
      if (!q) continue;
      grpc_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      double server = 0;
      for (const char* key : {"queue_time_us", "compute_time_us"}) {
        auto it = r->parameters.find(key);
        if (it != r->parameters.end() && std::holds_alternative<std::int64_t>(it->second)) {
          server += static_cast<double>(std::get<std::int64_t>(it->second)) / 1000.0;
        }
      }
      grpc_overhead_ms.push_back(grpc_ms.back() - server);
    }
#endif
    for (int q = 0; q <= kBlock / 3; ++q) {  // JSON queries are slow: fewer of them
      auto t0 = Clock::now();
      if (!client.Infer(in_info.name, input, false)) return 1;
      if (!q) continue;
      json_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      json_overhead_ms.push_back(json_ms.back() - client.last_server_ms);
    }
  }
  const Stats local = Summarize(local_ms), bin = Summarize(bin_ms), js = Summarize(json_ms);
  std::printf("\n%-34s %8s %8s %8s %6s\n", "single query (blocks of 10)", "p50 ms", "p99 ms",
              "mean ms", "n");
  std::printf("%-34s %8.2f %8.2f %8.2f %6zu\n", "in-process Session::Run", local.p50_ms,
              local.p99_ms, local.mean_ms, local_ms.size());
  std::printf("%-34s %8.2f %8.2f %8.2f %6zu\n", "offloaded, binary tensors", bin.p50_ms, bin.p99_ms,
              bin.mean_ms, bin_ms.size());
  std::printf("%-34s %8.2f %8.2f %8.2f %6zu\n", "offloaded, JSON tensors", js.p50_ms, js.p99_ms,
              js.mean_ms, json_ms.size());
  const Stats grpc = Summarize(grpc_ms);
  if (!grpc_ms.empty()) {
    std::printf("%-34s %8.2f %8.2f %8.2f %6zu\n", "offloaded, gRPC raw contents", grpc.p50_ms,
                grpc.p99_ms, grpc.mean_ms, grpc_ms.size());
  }
  const Stats bin_over = Summarize(bin_overhead_ms), js_over = Summarize(json_overhead_ms);
  std::printf("%-34s %8.2f %8.2f %8.2f %6zu\n", "  of which server queue+compute",
              Summarize(server_ms).p50_ms, Summarize(server_ms).p99_ms,
              Summarize(server_ms).mean_ms, server_ms.size());
  std::printf("protocol cost per query (client latency - server queue+compute), p50:\n");
  std::printf("  binary %.2f ms, JSON %.2f ms\n", bin_over.p50_ms, js_over.p50_ms);
  std::printf("offload (binary) / in-process, p50: %.3fx  (target <= 1.10x)\n",
              bin.p50_ms / local.p50_ms);
  if (!grpc_ms.empty()) {
    std::printf("protocol cost per query, gRPC raw, p50: %.2f ms\n",
                Summarize(grpc_overhead_ms).p50_ms);
    std::printf("offload (gRPC) / in-process, p50: %.3fx  (target <= 1.10x)\n",
                grpc.p50_ms / local.p50_ms);
  }
  std::printf(
      "JSON / binary tensors, end-to-end p50: %.2fx; protocol cost p50: %.1fx  (target "
      ">= 5x)\n",
      js.p50_ms / bin.p50_ms, js_over.p50_ms / bin_over.p50_ms);

  std::printf("\n%-12s %10s %8s %8s %6s\n", "concurrency", "queries/s", "p50 ms", "p99 ms", "n");
  for (int conc : {1, 4, 16}) {
    const int per_client = std::max(4, queries * 2 / conc);
    std::vector<std::future<std::vector<double>>> clients;
    const auto start = Clock::now();
    for (int c = 0; c < conc; ++c) {
      clients.push_back(std::async(std::launch::async, [&] {
        std::vector<double> ms;
        Client cl(port);
        for (int q = 0; q < per_client && cl.ok(); ++q) {
          auto t0 = Clock::now();
          if (!cl.Infer(in_info.name, input, true)) break;
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        return ms;
      }));
    }
    std::vector<double> all;
    for (auto& f : clients) {
      std::vector<double> ms = f.get();
      all.insert(all.end(), ms.begin(), ms.end());
    }
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    const Stats s = Summarize(all);
    std::printf("%-12d %10.1f %8.2f %8.2f %6zu\n", conc, static_cast<double>(all.size()) / wall,
                s.p50_ms, s.p99_ms, all.size());
  }
#ifdef DEEPEDGE_HAVE_GRPC
  (*server)->BeginDrain();
  (*grpc_server)->Stop();
#endif
  (*server)->Stop();
  return 0;
}

}  // namespace
}  // namespace deepedge

int main(int argc, char** argv) {
  return deepedge::Main(argc, argv);
}
