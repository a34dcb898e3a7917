// Runs the real `deepedge` binary as a user would, for integration tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "deepedge/file_util.h"

namespace deepedge::testing {

struct CliResult {
  int exit_code = -1;
  bool signaled = false;
  std::string out, err;
  int err_lines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

// Runs `binary args` through the shell with stdin closed, capturing stdout and stderr
// in files under `dir`. XDG_CACHE_HOME and XDG_DATA_HOME point into `dir`, so the zoo's
// cache, the results store and any other per-user file the command writes stay private to
// the test.
inline CliResult RunCli(const std::string& binary, const std::filesystem::path& dir,
                        const std::string& args) {
  const auto out = dir / "stdout", err = dir / "stderr";
  const std::string cmd = "XDG_CACHE_HOME='" + (dir / "cache").string() + "' XDG_DATA_HOME='" +
                          (dir / "data").string() + "' '" + binary + "' " + args + " >'" +
                          out.string() + "' 2>'" + err.string() + "' </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.signaled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFileText(out).value();
  r.err = ReadFileText(err).value();
  return r;
}

// The zoo model `name` as DIR/NAME.onnx, exported through the binary on first use.
// Returns the path; a failed export is a test failure carrying the command's stderr.
inline std::string ZooModelViaCli(const std::string& binary, const std::filesystem::path& dir,
                                  const std::string& name) {
  const std::string path = (dir / (name + ".onnx")).string();
  if (!std::filesystem::exists(path)) {
    const CliResult r = RunCli(binary, dir, "zoo export " + name + " -o " + path);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return path;
}

}  // namespace deepedge::testing
