#include "formats/onnx/onnx_common.h"

#include <climits>
#include <vector>

#include "deepedge/file_util.h"

namespace deepedge::onnx_internal {

// Parses `source` into `model` and checks the minimum that makes it an ONNX model
// at all; garbage bytes can parse as a ModelProto made of unknown fields.
Status ParseModel(const ModelSource& source, onnx::ModelProto* model) {
  const std::string name = source.display_name();
  if (source.format != ModelFormat::kOnnx) {
    return InvalidArgument(name + ": not an ONNX model source (format " +
                           std::string(ModelFormatName(source.format)) + ")");
  }
  std::vector<std::uint8_t> file_bytes;
  const std::vector<std::uint8_t>* bytes = &source.bytes;
  if (!source.in_memory()) {
    DEEPEDGE_ASSIGN_OR_RETURN(file_bytes, ReadFileBytes(source.path));
    bytes = &file_bytes;
  }
  if (bytes->empty()) return Corrupt(name + ": not a valid ONNX model (empty)");
  if (bytes->size() > static_cast<std::size_t>(INT_MAX)) {
    return Unsupported(name + ": larger than 2 GiB; protobuf cannot parse it (use external data)");
  }
  if (!model->ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) {
    return Corrupt(name + ": not a valid ONNX model (protobuf parse failed)");
  }
  if (model->ir_version() <= 0) {
    return Corrupt(name + ": not a valid ONNX model (no ir_version)");
  }
  if (!model->has_graph()) return Corrupt(name + ": not a valid ONNX model (no graph)");
  if (model->opset_import_size() == 0) {
    return Corrupt(name + ": not a valid ONNX model (no opset_import)");
  }
  if (model->graph().node_size() == 0) return Corrupt(name + ": the ONNX graph is empty");
  return Status::Ok();
}

std::optional<DType> MapElementType(std::int32_t t) {
  switch (t) {
    case onnx::TensorProto::FLOAT:
      return DType::kF32;
    case onnx::TensorProto::FLOAT16:
      return DType::kF16;
    case onnx::TensorProto::BFLOAT16:
      return DType::kBF16;
    case onnx::TensorProto::INT8:
      return DType::kI8;
    case onnx::TensorProto::UINT8:
      return DType::kU8;
    case onnx::TensorProto::INT16:
      return DType::kI16;
    case onnx::TensorProto::INT32:
      return DType::kI32;
    case onnx::TensorProto::INT64:
      return DType::kI64;
    case onnx::TensorProto::BOOL:
      return DType::kBool;
    default:
      return std::nullopt;
  }
}

}  // namespace deepedge::onnx_internal
