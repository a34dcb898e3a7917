// The ONNX side of partitioning: the layer graph (with shape inference) and the cutter.
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <exception>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/file_util.h"
#include "deepedge/partition.h"
#include "formats/onnx/onnx_common.h"

namespace deepedge::partition {
namespace {

struct ShapeType {
  std::vector<std::int64_t> dims;
  std::int64_t elem_bytes = 0;
  bool known = false;
};

ShapeType FromValueInfo(const onnx::ValueInfoProto& vi) {
  ShapeType st;
  if (!vi.type().has_tensor_type()) return st;
  const auto& tt = vi.type().tensor_type();
  const std::optional<DType> dt = onnx_internal::MapElementType(tt.elem_type());
  if (!dt || !tt.has_shape()) return st;
  st.elem_bytes = static_cast<std::int64_t>(DTypeSize(*dt));
  for (const auto& d : tt.shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return st;
    st.dims.push_back(d.dim_value());
  }
  st.known = true;
  return st;
}

std::int64_t Elements(const std::vector<std::int64_t>& d, std::size_t from = 0) {
  std::int64_t n = 1;
  for (std::size_t i = from; i < d.size(); ++i) n *= d[i];
  return n;
}

std::int64_t IntAttr(const onnx::NodeProto& node, const std::string& name, std::int64_t fb) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.i();
  return fb;
}

// Fixes every free dimension of the graph inputs to 1 and infers all shapes.
Status InferFixed(onnx::ModelProto* model, const std::string& name,
                  const std::map<std::string, Shape>& overrides) {
  onnx::GraphProto* graph = model->mutable_graph();
  std::set<std::string> inits;
  for (const auto& t : graph->initializer()) inits.insert(t.name());
  for (auto& vi : *graph->mutable_input()) {
    if (inits.count(vi.name()) || !vi.type().has_tensor_type()) continue;
    auto* t = vi.mutable_type()->mutable_tensor_type();
    if (!t->has_shape()) continue;
    auto o = overrides.find(vi.name());
    if (o == overrides.end()) o = overrides.find("");
    if (o != overrides.end()) {
      if (static_cast<int>(o->second.rank()) != t->shape().dim_size())
        return InvalidArgument(name + ": input '" + vi.name() + "' has rank " +
                               std::to_string(t->shape().dim_size()) + ", the given shape " +
                               std::to_string(o->second.rank()));
      for (int i = 0; i < t->shape().dim_size(); ++i) {
        const std::int64_t v = o->second[static_cast<std::size_t>(i)];
        if (v > 0) t->mutable_shape()->mutable_dim(i)->set_dim_value(v);
      }
    }
    for (auto& d : *t->mutable_shape()->mutable_dim())
      if (!d.has_dim_value()) d.set_dim_value(1);
  }
  graph->clear_value_info();
  try {
    onnx::shape_inference::InferShapes(*model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception& e) {
    return Unsupported(name + ": shape inference failed: " + e.what());
  }
  return Status::Ok();
}

std::string NodeName(const onnx::NodeProto& n, int index) {
  return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
}

}  // namespace

Expected<LayerGraph> BuildLayerGraph(const ModelSource& source,
                                     const std::map<std::string, Shape>& input_shapes) {
  onnx::ModelProto model;
  DEEPEDGE_RETURN_IF_ERROR(onnx_internal::ParseModel(source, &model));
  const std::string mname = source.display_name();
  DEEPEDGE_RETURN_IF_ERROR(InferFixed(&model, mname, input_shapes));
  const onnx::GraphProto& g = model.graph();

  std::unordered_map<std::string, ShapeType> shapes;
  for (const auto& vi : g.input()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.value_info()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.output()) shapes[vi.name()] = FromValueInfo(vi);
  std::set<std::string> constants;
  std::unordered_map<std::string, std::vector<std::int64_t>> const_dims;
  for (const auto& t : g.initializer()) {
    constants.insert(t.name());
    const_dims[t.name()] = {t.dims().begin(), t.dims().end()};
  }

  LayerGraph lg;
  lg.model_name = source.in_memory() ? mname : source.path.stem().string();
  if (!source.in_memory()) {
    DEEPEDGE_ASSIGN_OR_RETURN(lg.sha256, Sha256File(source.path));
  }
  std::unordered_map<std::string, int> tensor_index;
  auto tensor = [&](const std::string& n, int producer) -> Expected<int> {
    auto it = tensor_index.find(n);
    if (it != tensor_index.end()) return it->second;
    const ShapeType& st = shapes[n];
    if (!st.known)
      return Unsupported(mname + ": the size of tensor '" + n +
                         "' is unknown after shape inference");
    DataTensor t;
    t.name = n;
    t.bytes = Elements(st.dims) * st.elem_bytes;
    t.producer = producer;
    lg.tensors.push_back(std::move(t));
    tensor_index[n] = static_cast<int>(lg.tensors.size()) - 1;
    return static_cast<int>(lg.tensors.size()) - 1;
  };
  for (const auto& vi : g.input()) {
    if (constants.count(vi.name())) continue;
    DEEPEDGE_ASSIGN_OR_RETURN(int ti, tensor(vi.name(), -1));
    (void)ti;
  }
  std::set<std::string> names;
  for (int ni = 0; ni < g.node_size(); ++ni) {
    const onnx::NodeProto& node = g.node(ni);
    if (node.op_type() == "Constant" && (node.domain().empty() || node.domain() == "ai.onnx")) {
      for (const auto& o : node.output()) constants.insert(o);
      continue;
    }
    Layer layer;
    layer.name = NodeName(node, ni);
    if (!names.insert(layer.name).second)
      return Unsupported(mname + ": two nodes are named '" + layer.name + "'");
    layer.type = node.op_type();
    layer.group = IntAttr(node, "group", 1);
    const int li = static_cast<int>(lg.layers.size());
    for (const auto& in : node.input()) {
      if (in.empty() || constants.count(in)) continue;
      auto it = tensor_index.find(in);
      if (it == tensor_index.end())
        return Unsupported(mname + ": node '" + layer.name + "' reads '" + in +
                           "', which no earlier node produces (not topologically sorted)");
      DataTensor& t = lg.tensors[static_cast<std::size_t>(it->second)];
      if (t.consumers.empty() || t.consumers.back() != li) t.consumers.push_back(li);
      if (std::find(layer.inputs.begin(), layer.inputs.end(), it->second) == layer.inputs.end()) {
        layer.inputs.push_back(it->second);
        layer.input_bytes += t.bytes;
      }
    }
    for (const auto& out : node.output()) {
      if (out.empty()) continue;
      DEEPEDGE_ASSIGN_OR_RETURN(int ti, tensor(out, li));
      layer.outputs.push_back(ti);
      layer.output_bytes += lg.tensors[static_cast<std::size_t>(ti)].bytes;
    }
    // MACs as src/formats/onnx counts them.
    auto dims = [&](int i) -> const std::vector<std::int64_t>* {
      if (i >= node.input_size() || node.input(i).empty()) return nullptr;
      const std::string& n = node.input(i);
      if (auto c = const_dims.find(n); c != const_dims.end()) return &c->second;
      auto s = shapes.find(n);
      return s != shapes.end() && s->second.known ? &s->second.dims : nullptr;
    };
    const auto* y =
        node.output_size() > 0 && shapes.count(node.output(0)) && shapes[node.output(0)].known
            ? &shapes[node.output(0)].dims
            : nullptr;
    const std::string& op = node.op_type();
    if (op == "Conv" && dims(1) && dims(1)->size() >= 2) layer.channels_per_group = (*dims(1))[1];
    if (op == "Conv" && y && dims(1) && dims(1)->size() >= 2) {
      layer.macs = Elements(*y) * Elements(*dims(1), 1);
    } else if (op == "ConvTranspose" && dims(0) && dims(1) && dims(1)->size() >= 2) {
      layer.macs = Elements(*dims(0)) * Elements(*dims(1), 1);
    } else if (op == "Gemm" && y && dims(0) && dims(0)->size() == 2) {
      layer.macs = Elements(*y) * (IntAttr(node, "transA", 0) ? (*dims(0))[0] : (*dims(0))[1]);
    } else if (op == "MatMul" && y && dims(0) && !dims(0)->empty()) {
      layer.macs = Elements(*y) * dims(0)->back();
    }
    lg.layers.push_back(std::move(layer));
  }
  for (const auto& vi : g.output()) {
    auto it = tensor_index.find(vi.name());
    if (it != tensor_index.end())
      lg.tensors[static_cast<std::size_t>(it->second)].graph_output = true;
  }
  return lg;
}

Expected<SplitResult> SplitModel(const ModelSource& source, const LayerGraph& graph,
                                 const std::vector<bool>& on_edge) {
  const std::string mname = source.display_name();
  if (on_edge.size() != graph.layers.size())
    return InvalidArgument(mname + ": the plan has " + std::to_string(on_edge.size()) +
                           " layers, the model " + std::to_string(graph.layers.size()));
  if (!IsValidPlan(graph, on_edge))
    return InvalidArgument(mname + ": the plan sends data from the server back to the edge");
  onnx::ModelProto model;
  DEEPEDGE_RETURN_IF_ERROR(onnx_internal::ParseModel(source, &model));
  // Types of the crossing tensors with the model's own (symbolic) dimensions.
  onnx::ModelProto typed = model;
  typed.mutable_graph()->clear_value_info();
  try {
    onnx::shape_inference::InferShapes(typed, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception& e) {
    return Unsupported(mname + ": shape inference failed: " + e.what());
  }
  std::map<std::string, const onnx::ValueInfoProto*> vinfo;
  for (const auto& vi : typed.graph().input()) vinfo[vi.name()] = &vi;
  for (const auto& vi : typed.graph().value_info()) vinfo[vi.name()] = &vi;
  for (const auto& vi : typed.graph().output()) vinfo[vi.name()] = &vi;

  const onnx::GraphProto& g = model.graph();
  // Which side each non-Constant node is on, by the same naming as BuildLayerGraph.
  std::vector<int> side(static_cast<std::size_t>(g.node_size()), -1);  // 1 edge, 0 server
  for (int ni = 0; ni < g.node_size(); ++ni) {
    const auto& n = g.node(ni);
    if (n.op_type() == "Constant" && (n.domain().empty() || n.domain() == "ai.onnx")) continue;
    const std::string name = n.name().empty() ? n.op_type() + "_" + std::to_string(ni) : n.name();
    const int li = graph.Find(name);
    if (li < 0)
      return InvalidArgument(mname + ": the plan does not match the model (no layer '" + name +
                             "')");
    side[static_cast<std::size_t>(ni)] = on_edge[static_cast<std::size_t>(li)] ? 1 : 0;
  }
  SplitResult result;
  std::set<std::string> graph_inputs, graph_outputs;
  for (const auto& vi : g.input()) graph_inputs.insert(vi.name());
  for (const auto& vi : g.output()) graph_outputs.insert(vi.name());
  for (const DataTensor& t : graph.tensors) {
    const bool from_edge = t.producer < 0 || on_edge[static_cast<std::size_t>(t.producer)];
    bool to_server = false;
    for (int c : t.consumers) to_server |= !on_edge[static_cast<std::size_t>(c)];
    if (from_edge && to_server && t.producer >= 0) result.cut_tensors.push_back(t.name);
  }

  auto build = [&](int want, std::vector<std::string>* ins,
                   std::vector<std::string>* outs) -> Expected<std::vector<std::uint8_t>> {
    onnx::ModelProto part;
    part.set_ir_version(model.ir_version());
    *part.mutable_opset_import() = model.opset_import();
    part.set_producer_name("deepedge-split");
    *part.mutable_metadata_props() = model.metadata_props();
    onnx::GraphProto* pg = part.mutable_graph();
    pg->set_name(g.name() + (want == 1 ? "_head" : "_tail"));
    std::set<std::string> used, produced;
    std::vector<int> keep;
    for (int ni = 0; ni < g.node_size(); ++ni)
      if (side[static_cast<std::size_t>(ni)] == want) keep.push_back(ni);
    if (keep.empty()) return std::vector<std::uint8_t>{};
    for (int ni : keep) {
      for (const auto& in : g.node(ni).input()) used.insert(in);
      for (const auto& out : g.node(ni).output()) produced.insert(out);
    }
    // Constant nodes (and the constants they read, transitively none) go where used.
    std::vector<int> order;
    for (int ni = 0; ni < g.node_size(); ++ni) {
      if (side[static_cast<std::size_t>(ni)] == want) {
        order.push_back(ni);
      } else if (side[static_cast<std::size_t>(ni)] == -1) {
        bool needed = false;
        for (const auto& o : g.node(ni).output()) needed |= used.count(o) > 0;
        if (needed) {
          order.push_back(ni);
          for (const auto& o : g.node(ni).output()) produced.insert(o);
        }
      }
    }
    for (int ni : order) *pg->add_node() = g.node(ni);
    std::set<std::string> inits;
    for (const auto& t : g.initializer()) {
      if (used.count(t.name())) {
        *pg->add_initializer() = t;
        inits.insert(t.name());
      }
    }
    // Inputs: graph inputs read here, then cut tensors (tail).
    for (const auto& vi : g.input()) {
      if (used.count(vi.name()) && !inits.count(vi.name())) {
        *pg->add_input() = vi;
        ins->push_back(vi.name());
      }
    }
    std::set<std::string> cut(result.cut_tensors.begin(), result.cut_tensors.end());
    auto add_vi = [&](onnx::ValueInfoProto* dst, const std::string& n) -> Status {
      auto it = vinfo.find(n);
      if (it == vinfo.end() || !it->second->type().has_tensor_type())
        return Unsupported(mname + ": the type of cut tensor '" + n + "' is unknown");
      *dst = *it->second;
      return Status::Ok();
    };
    if (want == 0) {
      for (const std::string& n : result.cut_tensors) {
        if (!used.count(n)) continue;
        DEEPEDGE_RETURN_IF_ERROR(add_vi(pg->add_input(), n));
        ins->push_back(n);
      }
    }
    // Outputs: graph outputs produced here, then (head) the cut tensors.
    for (const auto& vi : g.output()) {
      if (produced.count(vi.name())) {
        *pg->add_output() = vi;
        outs->push_back(vi.name());
      }
    }
    if (want == 1) {
      for (const std::string& n : result.cut_tensors) {
        if (graph_outputs.count(n)) continue;  // already an output
        DEEPEDGE_RETURN_IF_ERROR(add_vi(pg->add_output(), n));
        outs->push_back(n);
      }
    }
    std::string bytes;
    if (!part.SerializeToString(&bytes)) return Internal(mname + ": serializing a part failed");
    return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
  };
  DEEPEDGE_ASSIGN_OR_RETURN(result.head, build(1, &result.head_inputs, &result.head_outputs));
  DEEPEDGE_ASSIGN_OR_RETURN(result.tail, build(0, &result.tail_inputs, &result.tail_outputs));
  return result;
}

}  // namespace deepedge::partition
