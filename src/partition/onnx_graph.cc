// The ONNX side of partitioning: the layer graph (with shape inference) and the cutter.
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
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

// ---- Folding the integer shape computations --------------------------------------
//
// Exported models often compute a Reshape's target from the data's own shape (Shape ->
// Gather -> Div -> Concat -> Reshape). ONNX's data propagation covers only some of these
// operators, so such a Reshape's output stays unknown. With the input sizes fixed these
// computations are constants: they are evaluated here on a copy of the model, their
// outputs become initializers, and shape inference runs again until nothing changes.

// A small integer tensor (a shape, an index, an axis list).
struct IntValue {
  std::vector<std::int64_t> dims;
  std::vector<std::int64_t> data;
};

std::optional<IntValue> IntValueOf(const onnx::TensorProto& t) {
  const bool i64 = t.data_type() == onnx::TensorProto::INT64;
  const bool i32 = t.data_type() == onnx::TensorProto::INT32;
  if ((!i64 && !i32) || t.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  IntValue v;
  v.dims.assign(t.dims().begin(), t.dims().end());
  const std::int64_t n = Elements(v.dims);
  if (n < 0 || n > 4096) return std::nullopt;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const std::size_t width = i64 ? 8 : 4;
    if (raw.size() != static_cast<std::size_t>(n) * width) return std::nullopt;
    for (std::int64_t i = 0; i < n; ++i) {
      if (i64) {
        std::int64_t x;
        std::memcpy(&x, raw.data() + i * 8, 8);
        v.data.push_back(x);
      } else {
        std::int32_t x;
        std::memcpy(&x, raw.data() + i * 4, 4);
        v.data.push_back(x);
      }
    }
  } else if (i64) {
    v.data.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    v.data.assign(t.int32_data().begin(), t.int32_data().end());
  }
  if (static_cast<std::int64_t>(v.data.size()) != n) return std::nullopt;
  return v;
}

// Evaluates one node of a shape computation, or nullopt when it is not one (or an
// input is not known).
std::optional<IntValue> EvalShapeNode(const onnx::NodeProto& node,
                                      const std::unordered_map<std::string, IntValue>& known,
                                      const std::unordered_map<std::string, ShapeType>& shapes) {
  if (!node.domain().empty() && node.domain() != "ai.onnx") return std::nullopt;
  const std::string& op = node.op_type();
  auto in = [&](int i) -> const IntValue* {
    if (i >= node.input_size() || node.input(i).empty()) return nullptr;
    auto it = known.find(node.input(i));
    return it == known.end() ? nullptr : &it->second;
  };
  auto attr = [&](const char* name) -> const onnx::AttributeProto* {
    for (const auto& a : node.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  };
  auto index = [](std::int64_t i, std::int64_t n) { return i < 0 ? i + n : i; };
  if (op == "Constant") {
    if (const auto* a = attr("value")) return IntValueOf(a->t());
    if (const auto* a = attr("value_int")) return IntValue{{}, {a->i()}};
    if (const auto* a = attr("value_ints")) {
      IntValue v{{a->ints_size()}, {a->ints().begin(), a->ints().end()}};
      return v;
    }
    return std::nullopt;
  }
  if (op == "Shape") {
    auto it = node.input_size() > 0 ? shapes.find(node.input(0)) : shapes.end();
    if (it == shapes.end() || !it->second.known) return std::nullopt;
    const std::int64_t r = static_cast<std::int64_t>(it->second.dims.size());
    std::int64_t start = 0, end = r;
    if (const auto* a = attr("start")) start = std::clamp<std::int64_t>(index(a->i(), r), 0, r);
    if (const auto* a = attr("end")) end = std::clamp<std::int64_t>(index(a->i(), r), 0, r);
    IntValue v;
    for (std::int64_t i = start; i < end; ++i) v.data.push_back(it->second.dims[i]);
    v.dims = {static_cast<std::int64_t>(v.data.size())};
    return v;
  }
  if (op == "Cast") {
    const auto* to = attr("to");
    const IntValue* x = in(0);
    if (x == nullptr || to == nullptr ||
        (to->i() != onnx::TensorProto::INT64 && to->i() != onnx::TensorProto::INT32)) {
      return std::nullopt;
    }
    return *x;
  }
  if (op == "Gather") {
    const IntValue* x = in(0);
    const IntValue* idx = in(1);
    const auto* axis = attr("axis");
    if (x == nullptr || idx == nullptr || x->dims.size() != 1 || (axis && axis->i() != 0)) {
      return std::nullopt;
    }
    IntValue v{idx->dims, {}};
    const std::int64_t n = x->dims[0];
    for (std::int64_t i : idx->data) {
      const std::int64_t j = index(i, n);
      if (j < 0 || j >= n) return std::nullopt;
      v.data.push_back(x->data[static_cast<std::size_t>(j)]);
    }
    return v;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    const IntValue* x = in(0);
    if (x == nullptr || x->dims.size() > 1) return std::nullopt;
    // A scalar or a vector either way: only the rank changes.
    IntValue v = *x;
    if (op == "Unsqueeze") {
      if (x->dims.empty())
        v.dims = {1};
      else
        return std::nullopt;  // [n] -> [1, n] or [n, 1]: not a shape vector
    } else {
      if (x->dims.size() == 1 && x->dims[0] == 1)
        v.dims = {};
      else
        return std::nullopt;
    }
    return v;
  }
  if (op == "Concat") {
    IntValue v;
    for (int i = 0; i < node.input_size(); ++i) {
      const IntValue* x = in(i);
      if (x == nullptr || x->dims.size() != 1) return std::nullopt;
      v.data.insert(v.data.end(), x->data.begin(), x->data.end());
    }
    v.dims = {static_cast<std::int64_t>(v.data.size())};
    return v;
  }
  if (op == "Slice") {
    const IntValue* x = in(0);
    // Opset 10 and later take starts, ends, axes and steps as inputs; opset 1 as
    // attributes.
    IntValue attr_starts, attr_ends, attr_axes;
    const IntValue* starts = in(1);
    const IntValue* ends = in(2);
    const IntValue* axes = in(3);
    if (node.input_size() == 1) {
      const auto* s = attr("starts");
      const auto* e = attr("ends");
      if (s == nullptr || e == nullptr) return std::nullopt;
      attr_starts.data.assign(s->ints().begin(), s->ints().end());
      attr_ends.data.assign(e->ints().begin(), e->ints().end());
      starts = &attr_starts;
      ends = &attr_ends;
      if (const auto* a = attr("axes")) {
        attr_axes.data.assign(a->ints().begin(), a->ints().end());
        axes = &attr_axes;
      }
    }
    if (x == nullptr || starts == nullptr || ends == nullptr || x->dims.size() != 1 ||
        starts->data.size() != 1 || ends->data.size() != 1) {
      return std::nullopt;
    }
    if (axes && (axes->data.size() != 1 || index(axes->data[0], 1) != 0)) return std::nullopt;
    const IntValue* steps = in(4);
    const std::int64_t step = steps ? (steps->data.size() == 1 ? steps->data[0] : 0) : 1;
    if (step != 1) return std::nullopt;
    const std::int64_t n = x->dims[0];
    const std::int64_t b = std::clamp<std::int64_t>(index(starts->data[0], n), 0, n);
    const std::int64_t e = std::clamp<std::int64_t>(index(ends->data[0], n), 0, n);
    IntValue v;
    for (std::int64_t i = b; i < e; ++i) v.data.push_back(x->data[static_cast<std::size_t>(i)]);
    v.dims = {static_cast<std::int64_t>(v.data.size())};
    return v;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const IntValue* a = in(0);
    const IntValue* b = in(1);
    if (a == nullptr || b == nullptr) return std::nullopt;
    const std::size_t n = std::max(a->data.size(), b->data.size());
    if ((a->data.size() != n && a->data.size() != 1) ||
        (b->data.size() != n && b->data.size() != 1))
      return std::nullopt;
    IntValue v{a->data.size() >= b->data.size() ? a->dims : b->dims, {}};
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t x = a->data[a->data.size() == 1 ? 0 : i];
      const std::int64_t y = b->data[b->data.size() == 1 ? 0 : i];
      if (op == "Div" && y == 0) return std::nullopt;
      v.data.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
    }
    return v;
  }
  return std::nullopt;
}

void ReadShapes(const onnx::GraphProto& g, std::unordered_map<std::string, ShapeType>& shapes) {
  for (const auto& vi : g.input()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.value_info()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.output()) shapes[vi.name()] = FromValueInfo(vi);
}

// Shapes of every tensor of `model` (already inferred with fixed inputs), with the shape
// computations folded on a copy as described above.
Expected<std::unordered_map<std::string, ShapeType>> ShapesWithFolding(
    const onnx::ModelProto& model, const std::string& name) {
  std::unordered_map<std::string, ShapeType> shapes;
  ReadShapes(model.graph(), shapes);
  bool any_unknown = false;
  for (const auto& n : model.graph().node()) {
    for (const auto& o : n.output()) any_unknown = any_unknown || (!o.empty() && !shapes[o].known);
  }
  if (!any_unknown) return shapes;

  onnx::ModelProto copy = model;
  std::unordered_map<std::string, IntValue> known;
  for (const auto& t : copy.graph().initializer()) {
    if (auto v = IntValueOf(t)) known[t.name()] = std::move(*v);
  }
  for (int round = 0; round < 16; ++round) {
    onnx::GraphProto* g = copy.mutable_graph();
    bool changed = false;
    onnx::GraphProto kept_nodes;
    for (const auto& node : g->node()) {
      std::optional<IntValue> v;
      if (node.output_size() == 1 && !node.output(0).empty())
        v = EvalShapeNode(node, known, shapes);
      if (!v) {
        *kept_nodes.add_node() = node;
        continue;
      }
      onnx::TensorProto* t = g->add_initializer();
      t->set_name(node.output(0));
      t->set_data_type(onnx::TensorProto::INT64);
      for (std::int64_t d : v->dims) t->add_dims(d);
      for (std::int64_t x : v->data) t->add_int64_data(x);
      ShapeType st;
      st.dims = v->dims;
      st.elem_bytes = 8;
      st.known = true;
      shapes[node.output(0)] = st;
      known[node.output(0)] = std::move(*v);
      changed = true;
    }
    if (!changed) break;
    g->mutable_node()->Swap(kept_nodes.mutable_node());
    g->clear_value_info();
    try {
      onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(false, 0, true));
    } catch (const std::exception& e) {
      return Unsupported(name + ": shape inference failed: " + e.what());
    }
    std::unordered_map<std::string, ShapeType> again;
    ReadShapes(copy.graph(), again);
    for (auto& [n, st] : again) {
      if (st.known) shapes[n] = st;
    }
  }
  return shapes;
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

  DEEPEDGE_ASSIGN_OR_RETURN(auto shapes, ShapesWithFolding(model, mname));
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
  // `node` (index node_index in the graph) produces the tensor; null for graph inputs.
  auto tensor = [&](const std::string& n, int producer, const onnx::NodeProto* node,
                    int node_index) -> Expected<int> {
    auto it = tensor_index.find(n);
    if (it != tensor_index.end()) return it->second;
    const ShapeType& st = shapes[n];
    if (!st.known) {
      const std::string by = node != nullptr ? " (an output of " + node->op_type() + " node '" +
                                                   NodeName(*node, node_index) + "')"
                                             : "";
      return Unsupported(mname + ": the size of tensor '" + n +
                         "' is unknown after shape inference" + by);
    }
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
    DEEPEDGE_ASSIGN_OR_RETURN(int ti, tensor(vi.name(), -1, nullptr, -1));
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
      DEEPEDGE_ASSIGN_OR_RETURN(int ti, tensor(out, li, &node, ni));
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
    if (op == "Conv" && dims(1) && dims(1)->size() >= 2) {
      layer.channels_per_group = (*dims(1))[1];
      layer.kernel_size = Elements(*dims(1), 2);
      layer.kernel_shape.assign(dims(1)->begin() + 2, dims(1)->end());
      layer.strides.assign(layer.kernel_shape.size(), 1);
      for (const auto& a : node.attribute()) {
        if (a.name() == "strides" && a.ints_size() == static_cast<int>(layer.strides.size()))
          layer.strides.assign(a.ints().begin(), a.ints().end());
      }
      if (y) layer.output_dims = *y;
    }
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
  // Ranks of tensors whose shape the symbolic inference leaves out (a Reshape to a
  // computed shape): from the inference with fixed sizes and folded shape computations.
  onnx::ModelProto fixed = model;
  DEEPEDGE_RETURN_IF_ERROR(InferFixed(&fixed, mname, {}));
  DEEPEDGE_ASSIGN_OR_RETURN(auto fixed_shapes, ShapesWithFolding(fixed, mname));
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
      if (!dst->type().tensor_type().has_shape()) {
        // The checker needs a shape: the rank, with every dimension symbolic.
        auto st = fixed_shapes.find(n);
        if (st == fixed_shapes.end() || !st->second.known)
          return Unsupported(mname + ": the shape of cut tensor '" + n + "' is unknown");
        auto* shape = dst->mutable_type()->mutable_tensor_type()->mutable_shape();
        for (std::size_t i = 0; i < st->second.dims.size(); ++i)
          shape->add_dim()->set_dim_param(n + "_d" + std::to_string(i));
      }
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
