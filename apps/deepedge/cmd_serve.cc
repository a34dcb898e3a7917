// deepedge serve --models DIR: a KServe v2 / Open Inference Protocol server (REST, and
// gRPC with --grpc where the build has gRPC).
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "app.h"
#include "common.h"
#include "deepedge/server.h"
#ifdef DEEPEDGE_HAVE_GRPC
#include "deepedge/grpc_server.h"
#endif

namespace deepedge::app {
namespace {

struct ServeOptions {
  std::string models;
  std::string http = "127.0.0.1:8000";
  std::string grpc;  // empty: no gRPC listener
  int workers = 1;
  int queue = 16;
  double max_request_mib = 64;
  double timeout_s = 30;
  int threads = 0;
  std::string backend;
  std::vector<std::string> backend_options;
};

// "ADDR:PORT" (the port after the last ':'; "[::1]:8000" for IPv6).
Status ParseListen(const std::string& flag, const std::string& s, std::string& address, int& port) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    return InvalidArgument(flag + " " + s + ": expected ADDRESS:PORT");
  }
  address = s.substr(0, colon);
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  const char* first = s.data() + colon + 1;
  const char* last = s.data() + s.size();
  auto r = std::from_chars(first, last, port);
  if (r.ec != std::errc() || r.ptr != last || port < 0 || port > 65535) {
    return InvalidArgument(flag + " " + s + ": the port is not a number in 0-65535");
  }
  return Status::Ok();
}

int RunServe(const ServeOptions& o, AppContext& ctx) {
  ServerOptions so;
  if (Status s = ParseListen("--http", o.http, so.address, so.port); !s.ok()) {
    return ReportError(s);
  }
#ifdef DEEPEDGE_HAVE_GRPC
  GrpcServerOptions go;
  if (!o.grpc.empty()) {
    if (Status s = ParseListen("--grpc", o.grpc, go.address, go.port); !s.ok()) {
      return ReportError(s);
    }
  }
#else
  if (!o.grpc.empty()) {
    return ReportError(Unsupported("--grpc: this deepedge was built without gRPC"));
  }
#endif
  if (!(o.max_request_mib > 0) || o.max_request_mib > 1 << 20) {
    return ReportError(InvalidArgument("--max-request-mib must be in (0, 1048576]"));
  }
  if (!(o.timeout_s > 0)) return ReportError(InvalidArgument("--timeout must be positive"));
  so.workers = o.workers;
  so.queue_capacity = o.queue;
  so.max_request_bytes = static_cast<std::size_t>(o.max_request_mib * 1024 * 1024);
  so.request_timeout_s = o.timeout_s;
  so.server_version = DEEPEDGE_VERSION;
  Expected<std::map<std::string, std::string>> backend_options =
      ParseBackendOptions(o.backend_options);
  if (!backend_options) return ReportError(backend_options.status());

  Expected<ModelRepository> repo = ModelRepository::Scan(o.models);
  if (!repo) return ReportError(repo.status());
  for (const std::string& line : repo->skipped()) {
    std::fprintf(stderr, "deepedge: warning: skipped %s\n", line.c_str());
  }
  SessionOptions session_options;
  session_options.threads = o.threads;
  session_options.backend_options = *backend_options;
  ModelSessionFactory factory =
      [&ctx, &o, session_options](const ModelSource& src) -> Expected<std::unique_ptr<Session>> {
    Expected<std::string> backend = ChooseBackend(ctx, o.backend, src.format);
    if (!backend) return backend.status();
    return ctx.backends.Load(*backend, src, session_options);
  };

  // SIGINT / SIGTERM are taken by sigwait below; block them before any thread starts
  // so that every server thread inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Expected<std::unique_ptr<InferenceServer>> server =
      InferenceServer::Create(std::move(*repo), factory, so);
  if (!server) return ReportError(server.status());
  if (Status s = (*server)->Start(); !s.ok()) return ReportError(s);
  std::printf("serving %s with %d worker(s), queue %d\n", o.models.c_str(), o.workers, o.queue);
  std::printf("listening on http://%s:%d\n", so.address.c_str(), (*server)->port());
#ifdef DEEPEDGE_HAVE_GRPC
  std::unique_ptr<GrpcInferenceServer> grpc_server;
  if (!o.grpc.empty()) {
    // gRPC's message limit is an int.
    go.max_message_bytes = std::min<std::size_t>(so.max_request_bytes, (1u << 31) - 1);
    go.max_threads = std::max(8, 2 * (so.workers + so.queue_capacity));
    go.shutdown_grace_s = so.request_timeout_s + 1;  // an admitted request may take that long
    go.limits = so.limits;
    Expected<std::unique_ptr<GrpcInferenceServer>> g = GrpcInferenceServer::Start(**server, go);
    if (!g) {
      (*server)->Stop();
      return ReportError(g.status());
    }
    grpc_server = std::move(*g);
    std::printf("listening on grpc://%s:%d\n", go.address.c_str(), grpc_server->port());
  }
#endif
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::printf("received %s, stopping: finishing admitted requests\n",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
  std::fflush(stdout);
  // Both front ends refuse new work from here; admitted requests still finish.
  (*server)->BeginDrain();
#ifdef DEEPEDGE_HAVE_GRPC
  if (grpc_server) grpc_server->Stop();
#endif
  (*server)->Stop();
  std::printf("stopped\n");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, AppContext& ctx) {
  static ServeOptions o;
  CLI::App* cmd = app.add_subcommand("serve", kServeDescription);
  cmd->add_option("--models", o.models, "Model repository directory")->required();
  cmd->add_option("--http", o.http,
                  "Listen address ADDR:PORT (default 127.0.0.1:8000; port 0: any free port)");
  cmd->add_option("--grpc", o.grpc,
                  "Also serve the protocol over gRPC on ADDR:PORT (e.g. 127.0.0.1:8001; "
                  "port 0: any free port; default: no gRPC)");
  cmd->add_option("--workers", o.workers, "Inference threads, each with its own sessions")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--queue", o.queue, "Requests that may wait; beyond that 503")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-request-mib", o.max_request_mib,
                  "Largest request body, MiB; beyond that 413 (default 64)");
  cmd->add_option("--timeout", o.timeout_s,
                  "Seconds a request may take, queue included; beyond that 504 (default 30)");
  AddBackendOptions(cmd, o.backend, o.backend_options, o.threads,
                    "Backend (default: the first that reads the format)",
                    "Threads per session (0: the backend's default; with several workers, "
                    "cores / workers avoids oversubscription)");
  cmd->callback([&ctx] { ctx.exit_code = RunServe(o, ctx); });
}

}  // namespace deepedge::app
