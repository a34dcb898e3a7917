// ONNX -> ir::Model.
#include <onnx/onnx_pb.h>

#include <climits>
#include <cstring>
#include <fstream>

#include "deepedge/file_util.h"
#include "deepedge/onnx_model.h"
#include "formats/onnx/onnx_common.h"

namespace deepedge {

namespace {

namespace fs = std::filesystem;
using onnx_internal::MapElementType;

std::string TypeName(std::int32_t t) {
  if (onnx::TensorProto_DataType_IsValid(t)) {
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  }
  return "type " + std::to_string(t);
}

// Reads `length` bytes at `offset` of an external data file beside the model.
Status ReadExternal(const onnx::TensorProto& t, const fs::path& base_dir, Tensor& out) {
  std::string location;
  std::int64_t offset = 0, length = -1;
  for (const onnx::StringStringEntryProto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    if (kv.key() == "offset") offset = std::stoll(kv.value());
    if (kv.key() == "length") length = std::stoll(kv.value());
  }
  if (location.empty()) return Corrupt("tensor '" + t.name() + "': external data has no location");
  if (base_dir.empty()) {
    return Unsupported("tensor '" + t.name() + "': external data needs a model file, not bytes");
  }
  const fs::path file = base_dir / location;
  if (fs::path(location).is_absolute() || location.find("..") != std::string::npos) {
    return Corrupt("tensor '" + t.name() + "': external data location '" + location +
                   "' leaves the model's directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return NotFound(file.string() + ": external data of tensor '" + t.name() + "' not found");
  if (length >= 0 && static_cast<std::size_t>(length) != out.byte_size()) {
    return Corrupt("tensor '" + t.name() + "': external data length " + std::to_string(length) +
                   " does not match its shape (" + std::to_string(out.byte_size()) + " bytes)");
  }
  in.seekg(offset);
  in.read(static_cast<char*>(out.data()), static_cast<std::streamsize>(out.byte_size()));
  if (static_cast<std::size_t>(in.gcount()) != out.byte_size()) {
    return Corrupt(file.string() + ": external data of tensor '" + t.name() + "' is truncated");
  }
  return Status::Ok();
}

template <typename Dst, typename Field>
Status CopyField(const Field& field, Tensor& out, const std::string& name) {
  if (static_cast<std::size_t>(field.size()) * sizeof(Dst) != out.byte_size()) {
    return Corrupt("tensor '" + name + "': holds " + std::to_string(field.size()) +
                   " values, its shape needs " + std::to_string(out.element_count()));
  }
  auto dst = out.as<Dst>();
  for (int i = 0; i < field.size(); ++i)
    dst[static_cast<std::size_t>(i)] = static_cast<Dst>(field.Get(i));
  return Status::Ok();
}

Expected<Tensor> TensorFromProto(const onnx::TensorProto& t, const fs::path& base_dir) {
  const std::optional<DType> dtype = MapElementType(t.data_type());
  if (!dtype) {
    return Unsupported("tensor '" + t.name() + "' has element type " + TypeName(t.data_type()) +
                       ", which DeepEdge does not support");
  }
  std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
  for (std::int64_t d : dims) {
    if (d < 0) return Corrupt("tensor '" + t.name() + "' has a negative dimension");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(*dtype, Shape(std::move(dims))));
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    DEEPEDGE_RETURN_IF_ERROR(ReadExternal(t, base_dir, out));
    return out;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != out.byte_size()) {
      return Corrupt("tensor '" + t.name() + "': raw data is " +
                     std::to_string(t.raw_data().size()) + " bytes, its shape needs " +
                     std::to_string(out.byte_size()));
    }
    if (out.byte_size()) std::memcpy(out.data(), t.raw_data().data(), out.byte_size());
    return out;
  }
  const std::string& n = t.name();
  switch (*dtype) {
    case DType::kF32:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<float>(t.float_data(), out, n));
      break;
    case DType::kI64:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::int64_t>(t.int64_data(), out, n));
      break;
    case DType::kI32:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::int32_t>(t.int32_data(), out, n));
      break;
    case DType::kI16:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::int16_t>(t.int32_data(), out, n));
      break;
    case DType::kI8:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::int8_t>(t.int32_data(), out, n));
      break;
    case DType::kU8:
    case DType::kBool:
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::uint8_t>(t.int32_data(), out, n));
      break;
    case DType::kF16:
    case DType::kBF16:  // int32_data holds the 16-bit patterns
      DEEPEDGE_RETURN_IF_ERROR(CopyField<std::uint16_t>(t.int32_data(), out, n));
      break;
  }
  return out;
}

ir::ValueInfo ToValueInfo(const onnx::ValueInfoProto& vi) {
  ir::ValueInfo v;
  v.name = vi.name();
  if (!vi.type().has_tensor_type()) return v;
  const onnx::TypeProto_Tensor& t = vi.type().tensor_type();
  v.dtype = MapElementType(t.elem_type());
  if (t.has_shape()) {
    std::vector<std::int64_t> dims;
    for (const auto& d : t.shape().dim())
      dims.push_back(d.has_dim_value() ? d.dim_value() : Shape::kDynamic);
    v.shape = Shape(std::move(dims));
  }
  return v;
}

std::string NormalDomain(const std::string& d) {
  return d == "ai.onnx" ? std::string() : d;
}

class Importer {
 public:
  Importer(std::map<std::string, int> opsets, fs::path base_dir)
      : opsets_(std::move(opsets)), base_dir_(std::move(base_dir)) {}

  Expected<std::shared_ptr<ir::Graph>> Graph(const onnx::GraphProto& g) {
    auto graph = std::make_shared<ir::Graph>();
    graph->name = g.name();
    for (const onnx::TensorProto& t : g.initializer()) {
      Expected<Tensor> tensor = TensorFromProto(t, base_dir_);
      if (!tensor) return tensor.status();
      graph->initializers[t.name()] = std::make_shared<const Tensor>(std::move(tensor).value());
    }
    if (g.sparse_initializer_size() > 0) {
      return Unsupported("sparse initializers ('" + g.sparse_initializer(0).values().name() +
                         "') are not supported");
    }
    for (const onnx::ValueInfoProto& vi : g.input()) {
      // Before IR 4 every initializer was also listed as an input: it stays a constant.
      if (!graph->initializers.count(vi.name())) graph->inputs.push_back(ToValueInfo(vi));
    }
    for (const onnx::ValueInfoProto& vi : g.output()) graph->outputs.push_back(ToValueInfo(vi));
    for (const onnx::ValueInfoProto& vi : g.value_info())
      graph->value_info.push_back(ToValueInfo(vi));
    for (const onnx::NodeProto& n : g.node()) {
      Expected<ir::Node> node = Node(n);
      if (!node) return node.status();
      graph->nodes.push_back(std::move(node).value());
    }
    return graph;
  }

 private:
  Expected<ir::Node> Node(const onnx::NodeProto& n) {
    ir::Node node;
    node.name = n.name();
    node.op_type = n.op_type();
    node.domain = NormalDomain(n.domain());
    auto it = opsets_.find(node.domain);
    node.opset = it == opsets_.end() ? 0 : it->second;
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    if (node.name.empty() && !node.outputs.empty()) node.name = node.outputs[0];
    for (const onnx::AttributeProto& a : n.attribute()) {
      Expected<ir::Attribute> attr = Attribute(a, node);
      if (!attr) return attr.status();
      node.attributes[a.name()] = std::move(attr).value();
    }
    return node;
  }

  Expected<ir::Attribute> Attribute(const onnx::AttributeProto& a, const ir::Node& node) {
    using K = ir::Attribute::Kind;
    ir::Attribute out;
    switch (a.type()) {
      case onnx::AttributeProto::FLOAT:
        out.kind = K::kFloat;
        out.f = a.f();
        break;
      case onnx::AttributeProto::INT:
        out.kind = K::kInt;
        out.i = a.i();
        break;
      case onnx::AttributeProto::STRING:
        out.kind = K::kString;
        out.s = a.s();
        break;
      case onnx::AttributeProto::FLOATS:
        out.kind = K::kFloats;
        out.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case onnx::AttributeProto::INTS:
        out.kind = K::kInts;
        out.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case onnx::AttributeProto::STRINGS:
        out.kind = K::kStrings;
        out.strings.assign(a.strings().begin(), a.strings().end());
        break;
      case onnx::AttributeProto::TENSOR: {
        Expected<Tensor> t = TensorFromProto(a.t(), base_dir_);
        if (!t) return t.status().WithContext(node.Describe() + " attribute '" + a.name() + "'");
        out.kind = K::kTensor;
        out.tensor = std::make_shared<const Tensor>(std::move(t).value());
        break;
      }
      case onnx::AttributeProto::GRAPH: {
        auto g = Graph(a.g());
        if (!g) return g.status();
        out.kind = K::kGraph;
        out.graph = std::move(g).value();
        break;
      }
      case onnx::AttributeProto::GRAPHS:
        out.kind = K::kGraphs;
        for (const onnx::GraphProto& gp : a.graphs()) {
          auto g = Graph(gp);
          if (!g) return g.status();
          out.graphs.push_back(std::move(g).value());
        }
        break;
      default:
        return Unsupported(node.Describe() + ": attribute '" + a.name() + "' has a type (" +
                           std::to_string(a.type()) + ") DeepEdge does not support");
    }
    return out;
  }

  std::map<std::string, int> opsets_;
  fs::path base_dir_;
};

}  // namespace

Expected<ir::Model> ImportOnnx(const ModelSource& source) {
  onnx::ModelProto proto;
  DEEPEDGE_RETURN_IF_ERROR(onnx_internal::ParseModel(source, &proto));
  ir::Model model;
  model.ir_version = proto.ir_version();
  model.producer = proto.producer_name() +
                   (proto.producer_version().empty() ? "" : " " + proto.producer_version());
  for (const onnx::OperatorSetIdProto& o : proto.opset_import()) {
    model.opsets[NormalDomain(o.domain())] = static_cast<int>(o.version());
  }
  for (const onnx::StringStringEntryProto& kv : proto.metadata_props())
    model.metadata[kv.key()] = kv.value();
  const fs::path base_dir = source.in_memory() ? fs::path() : source.path.parent_path();
  Importer importer(model.opsets,
                    base_dir.empty() && !source.in_memory() ? fs::path(".") : base_dir);
  Expected<std::shared_ptr<ir::Graph>> graph = importer.Graph(proto.graph());
  if (!graph) return graph.status().WithContext(source.display_name());
  model.graph = std::move(**graph);
  return model;
}

Expected<Tensor> ReadOnnxTensorFile(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  onnx::TensorProto proto;
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
      !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corrupt(path.string() + ": not a serialized onnx.TensorProto");
  }
  Expected<Tensor> t = TensorFromProto(proto, path.parent_path());
  if (!t) return t.status().WithContext(path.string());
  return t;
}

}  // namespace deepedge
