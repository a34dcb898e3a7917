// Command-line pieces shared by the subcommands that run models.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "app.h"
#include "deepedge/bench.h"
#include "deepedge/model.h"

namespace deepedge::app {

// -b/--backend, -O/--backend-option (repeatable KEY=VALUE), -t/--threads (>= 0), with
// the help texts the command wants for the backend and the threads.
void AddBackendOptions(
    CLI::App* cmd, std::string& backend, std::vector<std::string>& backend_options, int& threads,
    const std::string& backend_help = "Backend (default: the first that reads the format)",
    const std::string& threads_help = "Inference threads (0: the backend's default)");

// --input, --input-shape, --seed.
struct InputOptions {
  std::vector<std::string> inputs;
  std::vector<std::string> input_shapes;
  std::uint64_t seed = 42;
};
void AddInputOptions(CLI::App* cmd, InputOptions& o);
// Fills `spec` and a one-line description ("random (seed 42)", "file: x=a.npy").
Status ParseInputs(const InputOptions& o, InputSpec& spec, std::string& description);

// "NAME=VALUE" -> {NAME, VALUE}; a bare "VALUE" -> {"", VALUE}.
std::pair<std::string, std::string> SplitAssignment(const std::string& s);

// KEY=VALUE strings -> map; the error names the malformed one.
Expected<std::map<std::string, std::string>> ParseBackendOptions(
    const std::vector<std::string>& kv);

// An output file must be writable before a long run starts, not after it.
Status CheckOutputPath(const std::string& path, const char* flag);

// The named backend, or the first available one that reads `format`.
Expected<std::string> ChooseBackend(const AppContext& ctx, const std::string& requested,
                                    ModelFormat format);

}  // namespace deepedge::app
