// Writes the trained classifier as ONNX with the zoo's GraphBuilder (the project's
// own ONNX writer), taking every weight from a name -> tensor map instead of the
// zoo's synthetic generator. Does not depend on libtorch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/status.h"

namespace deepedge::train {

struct FloatTensor {
  std::vector<std::int64_t> dims;
  std::vector<float> values;  // row-major, the product of dims
};

// Names follow GraphBuilder's scheme ("conv0.conv.weight", "block1.dw.bn.running_mean",
// "fc.weight" [10, C], ...), which is also how the libtorch model names its parameters
// and buffers.
using WeightMap = std::map<std::string, FloatTensor>;

// Builds the ONNX model (IR 7, opset 13): input "input" float [N, 1, 28, 28], output
// "output" float [N, 10] class probabilities (Softmax over the logits). Conv +
// BatchNormalization + Relu as trained (BN is not folded; the engine folds it).
// `metadata` lands in metadata_props after "deepedge.weights" = "trained".
// Errors: InvalidArgument when a weight the graph needs is missing or has other dims,
// or when `weights` holds a tensor the graph does not use; Internal when the ONNX
// checker rejects the result or serialization fails.
Expected<std::vector<std::uint8_t>> ExportOnnx(
    const WeightMap& weights, const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace deepedge::train
