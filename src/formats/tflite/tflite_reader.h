// Loading and validating a TFLite flatbuffer (private to deepedge_tflite).
//
// LoadTflite reads the bytes, verifies the flatbuffer and checks every index and
// constant size, so that the importer and the inspector can then follow indices
// without further bounds checks on them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/model.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"
#include "tflite_schema_generated.h"

namespace deepedge::tflite_internal {

struct LoadedModel {
  std::vector<std::uint8_t> bytes;  // the whole file; `model` points into it
  const tfl::Model* model = nullptr;
  std::string display_name;

  // The bytes of buffer `index` (empty for an empty buffer). Valid: checked at load.
  std::span<const std::uint8_t> BufferData(std::uint32_t index) const;
  std::size_t subgraph_count() const { return model->subgraphs()->size(); }
  const tfl::SubGraph* subgraph(std::size_t i) const { return model->subgraphs()->Get(i); }
};

// Reads, verifies and checks a model. Errors name the file (see tflite_model.h).
Expected<std::unique_ptr<LoadedModel>> LoadTflite(const ModelSource& source);

// The operator's builtin code (the larger of the deprecated byte and the int field).
int BuiltinCode(const tfl::OperatorCode* code);
// "CONV_2D"; "BUILTIN_<n>" for codes this file does not know by name.
std::string BuiltinName(int code);
// What an operator is called in messages and counts: "CONV_2D" or "CUSTOM:<code>".
std::string OperatorName(const tfl::OperatorCode* code);

// DeepEdge's dtype for a TFLite tensor type; nullopt for types DeepEdge lacks.
std::optional<DType> ToDType(tfl::TensorType t);
// "float32", "int8", ... (lower case, TFLite's names).
std::string TensorTypeName(tfl::TensorType t);
// Bytes per element, 0 for types without a fixed size (string, int4, resource, variant).
std::size_t TensorTypeSize(tfl::TensorType t);

// A tensor's name for messages: "tensor 12 'conv1/weights'".
std::string DescribeTensor(const tfl::SubGraph* sg, int index);

// The shape with shape_signature's -1 as Shape::kDynamic.
Shape TensorShape(const tfl::Tensor* t);

// Quantization of a tensor: present when it has at least one scale.
std::optional<QuantizationInfo> TensorQuantization(const tfl::Tensor* t);

// Product of the dims, or nullopt when a dim is negative or the product overflows 2^48.
std::optional<std::int64_t> ElementCount(const flatbuffers::Vector<std::int32_t>* dims);

// Densifies a sparse constant tensor (TACO-style sparsity parameters) into a dense
// row-major tensor of `dtype` and shape `dense_shape`. Every index is checked; errors
// are Corrupt naming the tensor.
Expected<Tensor> Densify(const tfl::Tensor* t, const std::string& what, DType dtype,
                         const Shape& dense_shape, std::span<const std::uint8_t> values);

}  // namespace deepedge::tflite_internal
