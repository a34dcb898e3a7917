// The model zoo: classic image classifiers, generated as ONNX on demand.
//
// Library: deepedge_zoo. Every model is rebuilt from its published architecture
// with deterministic synthetic weights (a fixed-seed generator, He-scaled), so the
// zoo needs no downloads and benchmarks get true timings on a real topology; the
// predictions are meaningless. Each model:
//  - is ONNX IR version 7, opset 13, and passes the ONNX checker;
//  - takes "input", float [N, 3, H, W] with N a dynamic dimension (dim_param "N"),
//    NCHW, and returns "output", float [N, 1000] class probabilities (Softmax);
//  - uses Conv + BatchNormalization + activation where the architecture has BN
//    (not folded, as frameworks export them); ReLU6 is Clip with min/max inputs, the
//    opset >= 11 form, which OpenCV DNN before 4.7 cannot import;
//  - carries metadata_props "deepedge.weights" = "synthetic" and "deepedge.zoo" =
//    its name, producer_name "deepedge-zoo";
//  - is byte-identical each time it is built, on every platform.
// Thread-safety: the functions keep no state and may be called concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge {

struct ZooEntry {
  std::string name;                   // "mobilenet_v1_1.0_224"
  std::string description;            // one line
  std::string input_shape;            // "?x3x224x224": Shape::Parse form, "?" the dynamic batch
  std::string reference;              // where the architecture and the figures below come from
  std::int64_t reference_params = 0;  // published parameter count
  std::int64_t reference_macs = 0;    // published multiply-accumulates, batch 1
};

// All zoo models, in a fixed order.
std::vector<ZooEntry> ZooList();

// Builds a zoo model and returns its serialized ONNX ModelProto. Building takes
// time and memory in proportion to the model (alexnet_caffenet is ~244 MB).
// Errors: NotFound for an unknown name (the message lists the known names);
// Internal if serialization fails (out of memory).
Expected<std::vector<std::uint8_t>> ZooBuild(std::string_view name);

// Builds a zoo model and writes it to `out` with WriteFileAtomic (no partial file
// on failure). Errors: those of ZooBuild, IoError naming `out`.
Status ZooExport(std::string_view name, const std::filesystem::path& out);

}  // namespace deepedge
