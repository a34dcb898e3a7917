#include "module_backend.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "app.h"
#include "deepedge/backend_module.h"

namespace deepedge::app {
namespace {

class ModuleBackend final : public Backend {
 public:
  ModuleBackend(std::string name, std::filesystem::path file)
      : name_(std::move(name)), file_(std::move(file)) {}

  std::string_view Name() const override { return name_; }
  std::string Version() const override {
    const Backend* b = Get();
    return b ? b->Version() : std::string("unknown (module not loaded)");
  }
  Capabilities GetCapabilities() const override {
    const Backend* b = Get();
    return b ? b->GetCapabilities() : Capabilities{};
  }
  std::vector<OptionSpec> Options() const override {
    const Backend* b = Get();
    return b ? b->Options() : std::vector<OptionSpec>{};
  }
  Status Available() const override {
    const Backend* b = Get();
    return b ? b->Available() : error_;
  }
  Expected<std::unique_ptr<Session>> Load(const ModelSource& source,
                                          const SessionOptions& options) const override {
    const Backend* b = Get();
    if (b == nullptr) return error_;
    return b->Load(source, options);
  }

 private:
  const Backend* Get() const {
    std::call_once(once_, [this] { Open(); });
    return inner_.get();
  }

  // The module stays loaded until the process ends: sessions and the backend run
  // its code, and no dlclose can know when the last of them is gone.
  void Open() const {
    const std::string where = "backend '" + name_ + "': module " + file_.string();
    void* handle = dlopen(file_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      error_ = Unavailable(where + " cannot be loaded: " + (why ? why : "unknown error"));
      return;
    }
    auto entry = reinterpret_cast<BackendModuleEntry>(dlsym(handle, kBackendModuleEntry));
    if (entry == nullptr) {
      error_ = Unavailable(where + " has no entry point " + kBackendModuleEntry);
      return;
    }
    inner_.reset(entry(BackendModuleAbiStamp()));
    if (inner_ == nullptr) {
      error_ = Unavailable(where + " was built by another build of deepedge (rebuild it)");
    } else if (inner_->Name() != name_) {
      error_ = Unavailable(where + " holds backend '" + std::string(inner_->Name()) + "'");
      inner_.reset();
    }
  }

  std::string name_;
  std::filesystem::path file_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<Backend> inner_;
  mutable Status error_ = Status::Ok();
};

}  // namespace

std::filesystem::path ExecutableDir() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

std::unique_ptr<Backend> MakeModuleBackend(std::string name, std::filesystem::path module_file) {
  return std::make_unique<ModuleBackend>(std::move(name), std::move(module_file));
}

int ExecInstead(const std::filesystem::path& executable, char** argv) {
  std::fflush(nullptr);
  execv(executable.c_str(), argv);
  const int err = errno;
  std::fprintf(stderr, "deepedge: error: cannot run %s: %s\n", executable.c_str(),
               std::strerror(err));
  return kExitFailure;
}

}  // namespace deepedge::app
