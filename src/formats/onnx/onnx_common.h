// Pieces of ONNX reading shared by inspection and import (onnx headers stay private).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>

#include "deepedge/dtype.h"
#include "deepedge/model.h"
#include "deepedge/status.h"

namespace deepedge::onnx_internal {

// Parses `source` into `model` and checks the minimum that makes it an ONNX model
// at all (ir_version, graph, opset_import, nodes); errors name the file.
Status ParseModel(const ModelSource& source, onnx::ModelProto* model);

// The DeepEdge dtype of an ONNX TensorProto element type; nullopt when none.
std::optional<DType> MapElementType(std::int32_t t);

}  // namespace deepedge::onnx_internal
