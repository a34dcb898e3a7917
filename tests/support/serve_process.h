// A running `deepedge serve --http 127.0.0.1:0 [--grpc 127.0.0.1:0] ARGS...` for the
// integration tests: the ports come from its "listening on ..." lines, its stderr goes
// to DIR/serve.stderr, its model cache to DIR/cache. Killed (SIGKILL) if still running
// when destroyed. Not thread-safe; one object per server.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "deepedge/file_util.h"

namespace deepedge::testing {

class ServeProcess {
 public:
  // `binary`: the deepedge executable. With `grpc`, also --grpc 127.0.0.1:0, and the
  // constructor waits for both listening lines.
  ServeProcess(const std::string& binary, const std::filesystem::path& dir,
               const std::vector<std::string>& args, bool grpc = false) {
    int out[2];
    if (::pipe(out) != 0) return;
    err_path_ = dir / "serve.stderr";
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::string cache = (dir / "cache").string();
    std::vector<std::string> all = {binary, "serve", "--http", "127.0.0.1:0"};
    if (grpc) all.insert(all.end(), {"--grpc", "127.0.0.1:0"});
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::dup2(out[1], 1);
      if (err >= 0) ::dup2(err, 2);
      ::close(out[0]);
      ::close(out[1]);
      ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    if (err >= 0) ::close(err);
    out_ = ::fdopen(out[0], "r");
    char line[512];
    while (out_ && std::fgets(line, sizeof line, out_)) {
      stdout_ += line;
      if (int p = PortAfter(line, "listening on http://127.0.0.1:"); p > 0) http_port_ = p;
      if (int p = PortAfter(line, "listening on grpc://127.0.0.1:"); p > 0) grpc_port_ = p;
      if (http_port_ > 0 && (!grpc || grpc_port_ > 0)) break;
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_) std::fclose(out_);
  }

  // -1 when the server did not say it listens (it failed to start).
  int port() const { return http_port_; }
  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }
  std::string err() const {
    Expected<std::string> text = ReadFileText(err_path_);
    return text ? *text : "";
  }

  // Sends `sig` and waits (at most `timeout_s`) for the exit; returns the exit code,
  // or -1 for a signal death or a timeout.
  int Signal(int sig, double timeout_s = 60) {
    ::kill(pid_, sig);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        char line[512];
        while (out_ && std::fgets(line, sizeof line, out_)) stdout_ += line;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  const std::string& stdout_text() const { return stdout_; }

 private:
  static int PortAfter(const char* line, const char* prefix) {
    const char* p = std::strstr(line, prefix);
    return p ? std::atoi(p + std::strlen(prefix)) : -1;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int http_port_ = -1, grpc_port_ = -1;
  std::FILE* out_ = nullptr;
  std::string stdout_;
  std::filesystem::path err_path_;
};

}  // namespace deepedge::testing
