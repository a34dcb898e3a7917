#include "deepedge/backend.h"

#include <algorithm>

namespace deepedge {

Status BackendRegistry::Register(std::unique_ptr<Backend> backend) {
  if (Find(backend->Name()) != nullptr) {
    return InvalidArgument("backend '" + std::string(backend->Name()) + "' registered twice");
  }
  backends_.push_back(std::move(backend));
  return Status::Ok();
}

const Backend* BackendRegistry::Find(std::string_view name) const {
  for (const auto& b : backends_) {
    if (b->Name() == name) return b.get();
  }
  return nullptr;
}

std::vector<const Backend*> BackendRegistry::All() const {
  std::vector<const Backend*> all;
  for (const auto& b : backends_) all.push_back(b.get());
  return all;
}

std::vector<std::string> BackendRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& b : backends_) names.emplace_back(b->Name());
  return names;
}

Status ValidateBackendOptions(std::string_view backend_name, std::span<const OptionSpec> specs,
                              const std::map<std::string, std::string>& options) {
  for (const auto& [key, value] : options) {
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OptionSpec& s) { return s.name == key; });
    if (spec == specs.end()) {
      std::string known;
      for (const OptionSpec& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      return InvalidArgument("backend '" + std::string(backend_name) + "' has no option '" + key +
                             "' (options: " + (known.empty() ? "none" : known) + ")");
    }
    if (!spec->choices.empty() &&
        std::find(spec->choices.begin(), spec->choices.end(), value) == spec->choices.end()) {
      std::string allowed;
      for (const std::string& c : spec->choices) allowed += (allowed.empty() ? "" : "|") + c;
      return InvalidArgument("backend '" + std::string(backend_name) + "' option '" + key +
                             "' does not take '" + value + "' (" + allowed + ")");
    }
  }
  return Status::Ok();
}

Expected<std::unique_ptr<Session>> BackendRegistry::Load(std::string_view backend_name,
                                                         const ModelSource& source,
                                                         const SessionOptions& options) const {
  const Backend* backend = Find(backend_name);
  if (backend == nullptr) {
    std::string known;
    for (const std::string& n : Names()) known += (known.empty() ? "" : ", ") + n;
    return NotFound("unknown backend '" + std::string(backend_name) + "' (available: " + known +
                    ")");
  }
  if (Status s = backend->Available(); !s.ok()) {
    return s.WithContext("backend '" + std::string(backend_name) + "' is unavailable");
  }
  const Capabilities caps = backend->GetCapabilities();
  if (std::find(caps.formats.begin(), caps.formats.end(), source.format) == caps.formats.end()) {
    return Unsupported("backend '" + std::string(backend_name) + "' cannot load " +
                       std::string(ModelFormatName(source.format)) + " models (" +
                       source.display_name() + ")");
  }
  if (source.in_memory() && !caps.load_from_bytes) {
    return Unsupported("backend '" + std::string(backend_name) + "' cannot load from memory");
  }
  const std::vector<OptionSpec> specs = backend->Options();
  DEEPEDGE_RETURN_IF_ERROR(ValidateBackendOptions(backend_name, specs, options.backend_options));
  if (options.threads < 0) return InvalidArgument("thread count must be >= 0");
  return backend->Load(source, options);
}

}  // namespace deepedge
