#include "deepedge/model_repository.h"

#include <algorithm>
#include <charconv>

namespace deepedge {
namespace {

// A VERSION directory name: 1-18 decimal digits, value > 0.
std::optional<std::int64_t> ParseVersion(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

Expected<ModelRepository> ModelRepository::Scan(const std::filesystem::path& dir) {
  // Directory iteration throws on errors met while advancing; no exception leaves here.
  try {
    return ScanImpl(dir);
  } catch (const std::exception& e) {
    return IoError("model repository " + dir.string() + ": " + e.what());
  }
}

Expected<ModelRepository> ModelRepository::ScanImpl(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFound("model repository " + dir.string() + " is not a directory");
  }
  ModelRepository repo;
  repo.dir_ = dir;
  fs::directory_iterator it(dir, ec);
  if (ec) return IoError("model repository " + dir.string() + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory(ec)) continue;
    RepositoryModel model;
    model.name = name;
    fs::directory_iterator vit(entry.path(), ec);
    if (ec) {
      repo.skipped_.push_back(name + ": " + ec.message());
      continue;
    }
    for (const fs::directory_entry& ventry : vit) {
      std::optional<std::int64_t> version = ParseVersion(ventry.path().filename().string());
      if (!version || !ventry.is_directory(ec)) continue;
      const fs::path onnx = ventry.path() / "model.onnx";
      const fs::path tflite = ventry.path() / "model.tflite";
      const bool has_onnx = fs::is_regular_file(onnx, ec);
      const bool has_tflite = fs::is_regular_file(tflite, ec);
      if (has_onnx && has_tflite) {
        return InvalidArgument("model repository: " + ventry.path().string() +
                               " holds both model.onnx and model.tflite");
      }
      if (!has_onnx && !has_tflite) continue;
      model.versions.push_back({*version, has_onnx ? onnx : tflite,
                                has_onnx ? ModelFormat::kOnnx : ModelFormat::kTflite});
    }
    if (model.versions.empty()) {
      repo.skipped_.push_back(name + ": no VERSION/model.onnx or VERSION/model.tflite");
      continue;
    }
    std::sort(model.versions.begin(), model.versions.end(),
              [](const auto& a, const auto& b) { return a.version < b.version; });
    repo.models_.push_back(std::move(model));
  }
  if (repo.models_.empty()) {
    return NotFound("model repository " + dir.string() +
                    " holds no model (expected NAME/VERSION/model.onnx or model.tflite)");
  }
  std::sort(repo.models_.begin(), repo.models_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return repo;
}

const RepositoryModel* ModelRepository::Find(std::string_view name) const {
  for (const RepositoryModel& m : models_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

}  // namespace deepedge
