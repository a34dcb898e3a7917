// Model sources (where a model's bytes come from) and model metadata.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

enum class ModelFormat {
  kOnnx,        // .onnx
  kTflite,      // .tflite
  kCaffe,       // .prototxt (+ .caffemodel weights)
  kTensorFlow,  // frozen graph .pb (+ optional .pbtxt config)
  kDarknet,     // .cfg (+ .weights)
};

std::string_view ModelFormatName(ModelFormat f);  // "onnx", "tflite", "caffe", ...
std::optional<ModelFormat> ParseModelFormat(std::string_view name);

// Where a model comes from: files on disk, or bytes in memory.
//
// Formats that split a model over two files keep the network description in
// `path` / `bytes` and the weights in `weights_path` / `weights_bytes`
// (Caffe: prototxt + caffemodel; Darknet: cfg + weights; TensorFlow: pb + pbtxt).
struct ModelSource {
  ModelFormat format = ModelFormat::kOnnx;
  std::filesystem::path path;          // empty when loading from bytes
  std::filesystem::path weights_path;  // empty when the format keeps one file
  std::vector<std::uint8_t> bytes;     // used when `path` is empty
  std::vector<std::uint8_t> weights_bytes;

  bool in_memory() const { return path.empty(); }
  // What to call the model in messages: the file name, or "<memory>".
  std::string display_name() const;

  // Resolves a model file: checks that it exists and is a regular, readable,
  // non-empty file, works out the format from the extension (and, for .pb, the
  // absence of a better guess), and finds the companion weights file next to it
  // when the format needs one and `weights` is empty (model.prototxt ->
  // model.caffemodel, yolo.cfg -> yolo.weights). Errors name the file.
  static Expected<ModelSource> FromFile(const std::filesystem::path& path,
                                        const std::filesystem::path& weights = {});
  static ModelSource FromBytes(ModelFormat format, std::vector<std::uint8_t> bytes,
                               std::vector<std::uint8_t> weights = {});
};

// Linear quantization of an integer tensor: real = scale * (q - zero_point).
// Per-tensor: one scale and one zero point, axis empty. Per-channel: one scale and
// zero point per index of dimension `axis`.
struct QuantizationInfo {
  std::vector<float> scale;
  std::vector<std::int64_t> zero_point;  // same length as scale
  std::optional<int> axis;               // set only for per-channel quantization
};

// Name, element type and shape of one model input or output.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  Shape shape;  // dimensions may be Shape::kDynamic
  // Set when the format records quantization for this tensor (TFLite); empty otherwise.
  std::optional<QuantizationInfo> quantization = {};
};

// What a model is: its interface and its size. Filled by whoever reads the model
// (a format inspector or a backend session); unknown figures stay empty, never 0.
struct ModelInfo {
  std::string name;  // usually the file stem
  ModelFormat format = ModelFormat::kOnnx;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::map<std::string, std::int64_t> operator_counts;  // op type -> number of nodes
  // Element type name -> number of tensors of that type, where the format lists its
  // tensors (TFLite: every tensor of every subgraph, with the format's own type names
  // such as "int8", "float16", "uint32"); empty otherwise.
  std::map<std::string, std::int64_t> tensor_type_counts;
  std::optional<std::int64_t> parameter_count;  // weight elements
  std::optional<std::int64_t> macs;             // multiply-accumulates per inference
  bool synthetic_weights = false;               // deterministic generated weights: timings only
  std::string producer;                         // tool that wrote the model, when recorded
};

}  // namespace deepedge
