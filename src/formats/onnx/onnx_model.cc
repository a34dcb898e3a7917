#include "deepedge/onnx_model.h"

#include <climits>
#include <cstdint>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "deepedge/file_util.h"
#include "formats/onnx/onnx_common.h"
#include "formats/onnx/onnx_macs.h"

namespace deepedge {

using onnx_internal::MapElementType;
using onnx_internal::ParseModel;

namespace {

std::string ElementTypeName(std::int32_t t) {
  if (onnx::TensorProto_DataType_IsValid(t)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  }
  return "type " + std::to_string(t);
}

Expected<TensorInfo> ToTensorInfo(const onnx::ValueInfoProto& vi, const std::string& model_name,
                                  const char* role) {
  const std::string what = model_name + ": " + role + " '" + vi.name() + "'";
  if (!vi.type().has_tensor_type()) {
    return Unsupported(what +
                       " is not a tensor (sequence, map or optional values are not supported)");
  }
  const onnx::TypeProto_Tensor& t = vi.type().tensor_type();
  const std::optional<DType> dtype = MapElementType(t.elem_type());
  if (!dtype) {
    return Unsupported(what + " has element type " + ElementTypeName(t.elem_type()) +
                       ", which DeepEdge does not support");
  }
  TensorInfo info;
  info.name = vi.name();
  info.dtype = *dtype;
  // A tensor with no shape at all (unknown rank) keeps an empty Shape.
  std::vector<std::int64_t> dims;
  for (const onnx::TensorShapeProto_Dimension& d : t.shape().dim()) {
    dims.push_back(d.has_dim_value() ? d.dim_value() : Shape::kDynamic);
  }
  info.shape = Shape(std::move(dims));
  return info;
}

std::int64_t ElementCount(const google::protobuf::RepeatedField<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

// One line, for Status messages (the checker appends "\n\n==> Context: ...").
std::string OneLine(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

bool HasExternalData(const onnx::GraphProto& g) {
  for (const onnx::TensorProto& t : g.initializer()) {
    if (t.data_location() == onnx::TensorProto::EXTERNAL) return true;
  }
  return false;
}

Expected<ModelInfo> Inspect(const ModelSource& source) {
  onnx::ModelProto model;
  DEEPEDGE_RETURN_IF_ERROR(ParseModel(source, &model));
  const std::string display = source.display_name();
  const onnx::GraphProto& graph = model.graph();

  ModelInfo info;
  info.format = ModelFormat::kOnnx;
  if (!source.in_memory()) {
    info.name = source.path.stem().string();
  } else {
    info.name = graph.name().empty() ? std::string("<memory>") : graph.name();
  }
  info.producer = model.producer_name();
  if (!model.producer_version().empty()) {
    info.producer += (info.producer.empty() ? "" : " ") + model.producer_version();
  }
  for (const onnx::StringStringEntryProto& p : model.metadata_props()) {
    if (p.key() == "deepedge.weights" && p.value() == "synthetic") info.synthetic_weights = true;
  }

  std::set<std::string> initializer_names;
  std::int64_t params = 0;
  for (const onnx::TensorProto& t : graph.initializer()) {
    initializer_names.insert(t.name());
    params += ElementCount(t.dims());
  }
  for (const onnx::SparseTensorProto& t : graph.sparse_initializer()) {
    initializer_names.insert(t.values().name());
    params += ElementCount(t.values().dims());
  }
  // Exporters (PyTorch's among them) may store weights as Constant nodes instead.
  for (const onnx::NodeProto& n : graph.node()) {
    if (n.op_type() != "Constant" || !(n.domain().empty() || n.domain() == "ai.onnx")) continue;
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.name() == "value") {
        params += ElementCount(a.t().dims());
      } else if (a.name() == "sparse_value") {
        params += ElementCount(a.sparse_tensor().values().dims());
      } else if (a.name() == "value_floats") {
        params += a.floats_size();
      } else if (a.name() == "value_ints") {
        params += a.ints_size();
      } else if (a.name() == "value_float" || a.name() == "value_int") {
        params += 1;
      }
    }
  }
  info.parameter_count = params;

  for (const onnx::ValueInfoProto& vi : graph.input()) {
    if (initializer_names.count(vi.name()) != 0) continue;  // IR < 4 lists weights as inputs
    DEEPEDGE_ASSIGN_OR_RETURN(TensorInfo t, ToTensorInfo(vi, display, "input"));
    info.inputs.push_back(std::move(t));
  }
  for (const onnx::ValueInfoProto& vi : graph.output()) {
    DEEPEDGE_ASSIGN_OR_RETURN(TensorInfo t, ToTensorInfo(vi, display, "output"));
    info.outputs.push_back(std::move(t));
  }

  const onnx_internal::OpCensus census = onnx_internal::CountOperators(graph);
  info.operator_counts = census.counts;
  if (!census.mac_ops_in_subgraphs) info.macs = onnx_internal::ComputeMacs(&model);
  return info;
}

Status Check(const ModelSource& source) {
  onnx::ModelProto model;
  DEEPEDGE_RETURN_IF_ERROR(ParseModel(source, &model));
  const std::string display = source.display_name();
  if (model.ir_version() > onnx::Version::IR_VERSION) {
    return Unsupported(display + ": IR version " + std::to_string(model.ir_version()) +
                       " is newer than this build's ONNX checker knows (" +
                       std::to_string(onnx::Version::IR_VERSION) + ")");
  }
  // A newer opset than this libonnx knows would fail as "no schema": say why.
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    const std::string domain = opset.domain() == "ai.onnx" ? std::string() : opset.domain();
    auto it = ranges.find(domain);
    if (it != ranges.end() && opset.version() > it->second.second) {
      return Unsupported(display + ": opset " + std::to_string(opset.version()) + " of domain '" +
                         opset.domain() + "' is newer than this build's ONNX checker knows (" +
                         std::to_string(it->second.second) + ")");
    }
  }
  try {
    // External tensors are found relative to the model file, which only the
    // path form of the checker knows.
    if (!source.in_memory() && HasExternalData(model.graph())) {
      onnx::checker::check_model(source.path.string());
    } else {
      onnx::checker::check_model(model);
    }
  } catch (const onnx::checker::ValidationError& e) {
    return Corrupt(display + ": ONNX checker: " + OneLine(e.what()));
  }
  try {
    // full_check: strict inference fails on any node whose types or shapes clash.
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type_val=*/true,
                                                                   /*strict_mode_val=*/1));
  } catch (const std::runtime_error& e) {
    return Corrupt(display + ": ONNX shape inference: " + OneLine(e.what()));
  }
  return Status::Ok();
}

}  // namespace

Expected<ModelInfo> InspectOnnx(const ModelSource& source) {
  try {
    return Inspect(source);
  } catch (const std::bad_alloc&) {
    return Internal(source.display_name() + ": out of memory while reading the ONNX model");
  } catch (const std::exception& e) {
    return Internal(source.display_name() + ": " + OneLine(e.what()));
  }
}

Status CheckOnnx(const ModelSource& source) {
  try {
    return Check(source);
  } catch (const std::bad_alloc&) {
    return Internal(source.display_name() + ": out of memory while checking the ONNX model");
  } catch (const std::exception& e) {
    return Internal(source.display_name() + ": " + OneLine(e.what()));
  }
}

}  // namespace deepedge
