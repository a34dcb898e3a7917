#include "onnx_compat.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "deepedge/file_util.h"

namespace deepedge::opencv_backend {
namespace {

// The scalar value of a float tensor, whichever field holds it.
std::optional<float> ScalarFloat(const onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return std::nullopt;
  if (t.float_data_size() == 1) return t.float_data(0);
  if (t.raw_data().size() == sizeof(float)) {
    float v;
    std::memcpy(&v, t.raw_data().data(), sizeof v);
    return v;
  }
  return std::nullopt;
}

}  // namespace

Expected<std::vector<std::uint8_t>> RewriteClipBoundsForOpenCv(const ModelSource& source) {
  std::vector<std::uint8_t> bytes = source.bytes;
  if (!source.in_memory()) {
    DEEPEDGE_ASSIGN_OR_RETURN(bytes, ReadFileBytes(source.path));
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupt(source.display_name() + ": not a valid ONNX model (protobuf parse failed)");
  }
  onnx::GraphProto* graph = model.mutable_graph();
  std::map<std::string, float> constants;
  for (const onnx::TensorProto& t : graph->initializer()) {
    if (auto v = ScalarFloat(t)) constants[t.name()] = *v;
  }
  for (const onnx::NodeProto& n : graph->node()) {
    if (n.op_type() != "Constant" || n.output_size() != 1) continue;
    for (const onnx::AttributeProto& a : n.attribute()) {
      if (a.name() == "value" && a.has_t()) {
        if (auto v = ScalarFloat(a.t())) constants[n.output(0)] = *v;
      }
    }
  }
  bool changed = false;
  for (onnx::NodeProto& n : *graph->mutable_node()) {
    if (n.op_type() != "Clip" || n.input_size() < 2) continue;
    std::optional<float> lo, hi;
    bool constant = true;
    for (int i = 1; i < n.input_size() && i < 3; ++i) {
      if (n.input(i).empty()) continue;  // an omitted optional bound
      auto it = constants.find(n.input(i));
      if (it == constants.end()) {
        constant = false;
        break;
      }
      (i == 1 ? lo : hi) = it->second;
    }
    if (!constant) continue;
    const std::string input = n.input(0);
    n.clear_input();
    n.add_input(input);
    for (auto [name, value] : {std::pair{"min", lo}, std::pair{"max", hi}}) {
      if (!value) continue;
      onnx::AttributeProto* a = n.add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(*value);
    }
    changed = true;
  }
  if (!changed) return std::vector<std::uint8_t>{};
  std::string out;
  if (!model.SerializeToString(&out)) return Internal("cannot re-serialise the ONNX model");
  return std::vector<std::uint8_t>(out.begin(), out.end());
}

}  // namespace deepedge::opencv_backend
