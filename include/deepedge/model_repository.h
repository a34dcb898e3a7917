// A model repository in NVIDIA Triton's layout, as `deepedge serve` reads it:
//
//   DIR/NAME/VERSION/model.onnx     (or model.tflite)
//
// NAME is any directory name (no '/' and not starting with '.'); VERSION is a
// positive decimal integer. Other files and directories are ignored (Triton keeps a
// config.pbtxt beside the versions; DeepEdge reads the interface from the model).
// By default a model is served at its highest version (Triton's "latest" policy).
//
// Library: deepedge_serve. Models are loaded through a ModelSessionFactory supplied by the
// application, so this library depends on no backend.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deepedge/backend.h"
#include "deepedge/model.h"
#include "deepedge/status.h"

namespace deepedge {

// Loads one model file into a new Session. Called once per worker per served model,
// possibly from several threads at once (Backend::Load is thread-safe).
using ModelSessionFactory =
    std::function<Expected<std::unique_ptr<Session>>(const ModelSource& source)>;

struct RepositoryModelVersion {
  std::int64_t version = 0;
  std::filesystem::path path;  // DIR/NAME/VERSION/model.onnx
  ModelFormat format = ModelFormat::kOnnx;
};

struct RepositoryModel {
  std::string name;
  std::vector<RepositoryModelVersion> versions;  // ascending; never empty
  const RepositoryModelVersion& latest() const { return versions.back(); }
};

// The result of scanning a repository directory. A value; not thread-safe to mutate.
class ModelRepository {
 public:
  // Scans `dir`. Fails when `dir` is not a readable directory or holds no model;
  // a NAME with no valid VERSION directory is skipped and listed in skipped().
  // A VERSION directory with both model.onnx and model.tflite is an error naming it.
  static Expected<ModelRepository> Scan(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  // Sorted by name.
  const std::vector<RepositoryModel>& models() const { return models_; }
  // Null when absent.
  const RepositoryModel* Find(std::string_view name) const;
  // One line per directory entry that looked like a model but was not ("NAME: why").
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  static Expected<ModelRepository> ScanImpl(const std::filesystem::path& dir);

  std::filesystem::path dir_;
  std::vector<RepositoryModel> models_;
  std::vector<std::string> skipped_;
};

}  // namespace deepedge
