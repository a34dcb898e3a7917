// Shared pieces of the `deepedge` command: the registered backends, error exits,
// and the function each subcommand file exposes to main.cc.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "deepedge/backend.h"
#include "deepedge/status.h"

namespace deepedge::app {

// Exit statuses: 0 success; 1 a run failed on valid input; 2 bad input (missing or
// corrupt file, unknown format, backend or option, wrong input size).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

struct AppContext {
  BackendRegistry backends;
  int exit_code = 0;
};

// Prints "deepedge: error: <message>" on one line and returns the exit status the
// error deserves.
int ReportError(const Status& status);

// Where DeepEdge keeps generated files: $XDG_CACHE_HOME/deepedge or ~/.cache/deepedge.
std::string CacheDir();

void AddBenchCommand(CLI::App& app, AppContext& ctx);
void AddInfoCommand(CLI::App& app, AppContext& ctx);
void AddZooCommand(CLI::App& app, AppContext& ctx);
void AddBackendsCommand(CLI::App& app, AppContext& ctx);
void AddInferCommand(CLI::App& app, AppContext& ctx);
void AddProfileCommand(CLI::App& app, AppContext& ctx);
void AddQuantizeCommand(CLI::App& app, AppContext& ctx);
void AddCalibrateCommand(CLI::App& app, AppContext& ctx);
void AddPredictCommand(CLI::App& app, AppContext& ctx);
void AddPartitionCommand(CLI::App& app, AppContext& ctx);
void AddSplitCommand(CLI::App& app, AppContext& ctx);
void AddResultsCommand(CLI::App& app, AppContext& ctx);
void AddCompareCommand(CLI::App& app, AppContext& ctx);
void AddReportCommand(CLI::App& app, AppContext& ctx);
void AddEvalCommand(CLI::App& app, AppContext& ctx);
// `serve` and `run` are built into deepedge-net only (module_backend.h says why);
// deepedge lists them with these descriptions and executes deepedge-net for them.
inline constexpr const char* kServeDescription =
    "Serve a Triton-layout model repository (DIR/NAME/VERSION/model.onnx) over the KServe "
    "v2 / Open Inference Protocol (HTTP/REST, JSON and binary tensors; gRPC with --grpc)";
inline constexpr const char* kRunDescription =
    "Split inference: run the model's head here and its tail on a KServe v2 server";
void AddServeCommand(CLI::App& app, AppContext& ctx);
void AddRunCommand(CLI::App& app, AppContext& ctx);

}  // namespace deepedge::app
