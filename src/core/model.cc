#include "deepedge/model.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <system_error>

namespace deepedge {

namespace fs = std::filesystem;

std::string_view ModelFormatName(ModelFormat f) {
  switch (f) {
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kTflite:
      return "tflite";
    case ModelFormat::kCaffe:
      return "caffe";
    case ModelFormat::kTensorFlow:
      return "tensorflow";
    case ModelFormat::kDarknet:
      return "darknet";
  }
  return "?";
}

std::optional<ModelFormat> ParseModelFormat(std::string_view name) {
  for (ModelFormat f : {ModelFormat::kOnnx, ModelFormat::kTflite, ModelFormat::kCaffe,
                        ModelFormat::kTensorFlow, ModelFormat::kDarknet}) {
    if (ModelFormatName(f) == name) return f;
  }
  return std::nullopt;
}

std::string ModelSource::display_name() const {
  return in_memory() ? std::string("<memory>") : path.string();
}

namespace {

Status CheckReadableFile(const fs::path& p) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st)) return NotFound(p.string() + ": no such file");
  if (fs::is_directory(st))
    return InvalidArgument(p.string() + ": is a directory, not a model file");
  if (!fs::is_regular_file(st)) return InvalidArgument(p.string() + ": not a regular file");
  if (::access(p.c_str(), R_OK) != 0) return IoError(p.string() + ": permission denied");
  if (fs::file_size(p, ec) == 0) return Corrupt(p.string() + ": file is empty");
  return Status::Ok();
}

std::string LowerExtension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool HasTfliteMagic(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof head);
  return in.gcount() == 8 && std::string_view(head + 4, 4) == "TFL3";
}

}  // namespace

Expected<ModelSource> ModelSource::FromFile(const fs::path& path, const fs::path& weights) {
  DEEPEDGE_RETURN_IF_ERROR(CheckReadableFile(path));
  ModelSource src;
  src.path = path;
  const std::string ext = LowerExtension(path);
  // The description file goes in `path`, the weights in `weights_path`.
  auto companion = [&](const char* ext_wanted) {
    fs::path p = path;
    return p.replace_extension(ext_wanted);
  };
  if (ext == ".onnx") {
    src.format = ModelFormat::kOnnx;
  } else if (ext == ".tflite" || HasTfliteMagic(path)) {
    src.format = ModelFormat::kTflite;
  } else if (ext == ".prototxt" || ext == ".caffemodel") {
    src.format = ModelFormat::kCaffe;
    if (ext == ".caffemodel") {
      src.weights_path = path;
      src.path = companion(".prototxt");
    } else {
      src.weights_path = weights.empty() ? companion(".caffemodel") : weights;
    }
  } else if (ext == ".pb") {
    src.format = ModelFormat::kTensorFlow;
    // The frozen graph holds weights and graph; an optional text config may sit beside it.
    if (!weights.empty()) src.weights_path = weights;
  } else if (ext == ".cfg" || ext == ".weights") {
    src.format = ModelFormat::kDarknet;
    if (ext == ".weights") {
      src.weights_path = path;
      src.path = companion(".cfg");
    } else {
      src.weights_path = weights.empty() ? companion(".weights") : weights;
    }
  } else {
    return InvalidArgument(path.string() +
                           ": unknown model format (expected .onnx, .tflite, .prototxt + "
                           ".caffemodel, .pb, or .cfg + .weights)");
  }
  if (src.path != path) DEEPEDGE_RETURN_IF_ERROR(CheckReadableFile(src.path));
  if (!src.weights_path.empty() && src.weights_path != path) {
    DEEPEDGE_RETURN_IF_ERROR(
        CheckReadableFile(src.weights_path).WithContext("weights of " + path.string()));
  }
  return src;
}

ModelSource ModelSource::FromBytes(ModelFormat format, std::vector<std::uint8_t> bytes,
                                   std::vector<std::uint8_t> weights) {
  ModelSource src;
  src.format = format;
  src.bytes = std::move(bytes);
  src.weights_bytes = std::move(weights);
  return src;
}

}  // namespace deepedge
