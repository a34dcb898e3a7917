// deepedge: run, measure and compare DNN inference on edge devices.
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "app.h"
#include "deepedge/backends.h"
#include "module_backend.h"

namespace deepedge::app {

int ReportError(const Status& status) {
  std::string msg = status.message();
  for (char& c : msg) {
    if (c == '\n') c = ' ';
  }
  std::fprintf(stderr, "deepedge: error: %s\n", msg.c_str());
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kUnsupported:
    case StatusCode::kCorrupt:
      return kExitBadInput;
    default:
      return kExitFailure;
  }
}

std::string CacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/deepedge";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/deepedge";
  }
  return "/tmp/deepedge-cache";
}

namespace {

// Backends, registered explicitly (static self-registration gets stripped by
// linkers). The first one registered is the default. opencv and remote are modules
// beside the executable, loaded when first used (module_backend.h).
void RegisterBackends(BackendRegistry& registry) {
  const std::filesystem::path dir = ExecutableDir();
  (void)registry.Register(MakeDeepEdgeBackend());
#ifdef DEEPEDGE_OPENCV_MODULE
  (void)registry.Register(MakeModuleBackend("opencv", dir / DEEPEDGE_OPENCV_MODULE));
#endif
  (void)registry.Register(MakeNullBackend());
  (void)registry.Register(MakeModuleBackend("remote", dir / DEEPEDGE_REMOTE_MODULE));
}

#ifndef DEEPEDGE_NET_COMMANDS
// The commands deepedge-net carries out: main() hands them over before parsing, and
// `deepedge --help` lists them with these descriptions.
struct NetCommand {
  const char* name;
  const char* description;
};
constexpr NetCommand kNetCommands[] = {{"serve", kServeDescription}, {"run", kRunDescription}};

bool IsNetCommand(const char* arg) {
  return std::any_of(std::begin(kNetCommands), std::end(kNetCommands),
                     [arg](const NetCommand& c) { return std::strcmp(arg, c.name) == 0; });
}

void AddNetCommandNames(CLI::App& app) {
  for (const NetCommand& c : kNetCommands) app.add_subcommand(c.name, c.description);
}
#endif

}  // namespace
}  // namespace deepedge::app

int main(int argc, char** argv) {
  using namespace deepedge::app;
  // Protobuf (under libonnx and OpenCV's importers) logs parse errors to stderr on
  // its own; DeepEdge reports every failure once, as a Status, so silence it.
  google::protobuf::SetLogHandler(nullptr);
#ifndef DEEPEDGE_NET_COMMANDS
  if (argc > 1 && IsNetCommand(argv[1])) {
    return ExecInstead(ExecutableDir() / "deepedge-net", argv);
  }
#endif
  AppContext ctx;
  RegisterBackends(ctx.backends);

  CLI::App app{"DeepEdge: run, measure and compare deep-neural-network inference on edge devices"};
  app.name("deepedge");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(DEEPEDGE_VERSION));
  AddBenchCommand(app, ctx);
  AddInfoCommand(app, ctx);
  AddInferCommand(app, ctx);
  AddProfileCommand(app, ctx);
  AddQuantizeCommand(app, ctx);
  AddCalibrateCommand(app, ctx);
  AddPredictCommand(app, ctx);
  AddPartitionCommand(app, ctx);
  AddSplitCommand(app, ctx);
  AddResultsCommand(app, ctx);
  AddCompareCommand(app, ctx);
  AddReportCommand(app, ctx);
  AddEvalCommand(app, ctx);
  AddZooCommand(app, ctx);
  AddBackendsCommand(app, ctx);
#ifdef DEEPEDGE_NET_COMMANDS
  AddServeCommand(app, ctx);
  AddRunCommand(app, ctx);
#else
  AddNetCommandNames(app);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    if (what.empty()) what = "invalid command line";
    std::fprintf(stderr, "deepedge: error: %s (see --help)\n", what.c_str());
    return kExitBadInput;
  }
  return ctx.exit_code;
}
