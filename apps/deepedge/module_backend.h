// Backends that live in loadable modules beside the deepedge executable, and the
// executables that carry the commands with network front ends.
//
// Why: OpenCV, cpp-httplib (with OpenSSL) and gRPC map about 16 MiB of resident
// pages into a process that merely links them. `deepedge bench` measures its own
// peak memory, so those libraries are loaded only by the runs that use them: the
// opencv and remote backends are modules opened on first use, and `serve` / `run`
// are carried out by deepedge-net, which the command executes in its place.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "deepedge/backend.h"

namespace deepedge::app {

// The directory of the running executable (modules and deepedge-net live there).
std::filesystem::path ExecutableDir();

// A backend named `name` whose implementation is the module `module_file`. Name()
// answers without loading; any other call loads the module once (thread-safe). A
// module that is missing, fails to load or was built by another build makes
// Available() and Load() fail with the reason, and GetCapabilities() empty.
std::unique_ptr<Backend> MakeModuleBackend(std::string name, std::filesystem::path module_file);

// Replaces this process by `executable` with the same arguments; returns only on
// failure, with the exit code after printing why.
int ExecInstead(const std::filesystem::path& executable, char** argv);

}  // namespace deepedge::app
