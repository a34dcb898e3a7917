#include "common.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace deepedge::app {

void AddBackendOptions(CLI::App* cmd, std::string& backend,
                       std::vector<std::string>& backend_options, int& threads,
                       const std::string& backend_help, const std::string& threads_help) {
  cmd->add_option("-b,--backend", backend, backend_help);
  cmd->add_option("-O,--backend-option", backend_options,
                  "KEY=VALUE option of the backend; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("-t,--threads", threads, threads_help)->check(CLI::NonNegativeNumber);
}

void AddInputOptions(CLI::App* cmd, InputOptions& o) {
  cmd->add_option("-i,--input", o.inputs,
                  "random (default), zeros, FILE or NAME=FILE (.npy, or raw bytes of the exact "
                  "size); repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--input-shape", o.input_shapes,
                  "NAME=DIMS or DIMS (e.g. 1x3x224x224) for dynamic inputs; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--seed", o.seed, "Seed of the random inputs")->capture_default_str();
}

std::pair<std::string, std::string> SplitAssignment(const std::string& s) {
  const std::size_t eq = s.find('=');
  if (eq == std::string::npos) return {"", s};
  return {s.substr(0, eq), s.substr(eq + 1)};
}

Status ParseInputs(const InputOptions& o, InputSpec& spec, std::string& description) {
  spec.seed = o.seed;
  description = "random (seed " + std::to_string(o.seed) + ")";
  for (const std::string& in : o.inputs) {
    if (in == "random") continue;
    if (in == "zeros") {
      spec.kind = InputKind::kZeros;
      description = "zeros";
      continue;
    }
    auto [name, file] = SplitAssignment(in);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return NotFound("input file " + file + ": no such file");
    }
    spec.kind = InputKind::kFile;
    spec.files[name] = file;
  }
  if (spec.kind == InputKind::kFile) {
    description = "file:";
    for (const auto& [name, file] : spec.files) {
      description += " " + (name.empty() ? "" : name + "=") + file.string();
    }
  }
  for (const std::string& s : o.input_shapes) {
    auto [name, dims] = SplitAssignment(s);
    Expected<Shape> shape = Shape::Parse(dims);
    if (!shape) return shape.status().WithContext("--input-shape");
    spec.shapes[name] = *shape;
  }
  return Status::Ok();
}

Expected<std::map<std::string, std::string>> ParseBackendOptions(
    const std::vector<std::string>& kv) {
  std::map<std::string, std::string> out;
  for (const std::string& s : kv) {
    auto [key, value] = SplitAssignment(s);
    if (key.empty()) return InvalidArgument("--backend-option '" + s + "' is not KEY=VALUE");
    out[key] = value;
  }
  return out;
}

Status CheckOutputPath(const std::string& path, const char* flag) {
  if (path.empty()) return Status::Ok();
  std::filesystem::path p(path);
  std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return NotFound(std::string(flag) + " " + path + ": directory " + dir.string() +
                    " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return InvalidArgument(std::string(flag) + " " + path + ": directory is not writable");
  }
  if (std::filesystem::is_directory(p, ec)) {
    return InvalidArgument(std::string(flag) + " " + path + ": is a directory");
  }
  return Status::Ok();
}

Expected<std::string> ChooseBackend(const AppContext& ctx, const std::string& requested,
                                    ModelFormat format) {
  if (!requested.empty()) {
    if (ctx.backends.Find(requested) == nullptr) {
      std::string known;
      for (const std::string& n : ctx.backends.Names()) known += (known.empty() ? "" : ", ") + n;
      return NotFound("unknown backend '" + requested + "' (available: " + known + ")");
    }
    return requested;
  }
  for (const Backend* b : ctx.backends.All()) {
    const auto formats = b->GetCapabilities().formats;
    if (b->Available().ok() && b->Name() != "null" &&
        std::find(formats.begin(), formats.end(), format) != formats.end()) {
      return std::string(b->Name());
    }
  }
  return Unsupported("no available backend reads " + std::string(ModelFormatName(format)) +
                     " models");
}

}  // namespace deepedge::app
