#include "formats/onnx/onnx_macs.h"

#include <exception>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>
#include <onnx/shape_inference/implementation.h>

namespace deepedge::onnx_internal {

namespace {

using Dims = std::vector<std::int64_t>;
using ShapeMap = std::unordered_map<std::string, Dims>;

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

bool IsMacOp(const onnx::NodeProto& node) {
  if (!IsDefaultDomain(node.domain())) return false;
  static const std::set<std::string_view> kOps = {"Conv",          "ConvTranspose", "ConvInteger",
                                                  "QLinearConv",   "Gemm",          "MatMul",
                                                  "MatMulInteger", "QLinearMatMul"};
  return kOps.count(node.op_type()) != 0;
}

void Census(const onnx::GraphProto& graph, bool nested, OpCensus* out) {
  for (const onnx::NodeProto& node : graph.node()) {
    ++out->counts[node.op_type()];
    if (nested && IsMacOp(node)) out->mac_ops_in_subgraphs = true;
    for (const onnx::AttributeProto& a : node.attribute()) {
      if (a.has_g()) Census(a.g(), true, out);
      for (const onnx::GraphProto& g : a.graphs()) Census(g, true, out);
    }
  }
}

void AddStaticShape(const onnx::ValueInfoProto& vi, ShapeMap* shapes) {
  if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) return;
  Dims dims;
  for (const onnx::TensorShapeProto_Dimension& d : vi.type().tensor_type().shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return;
    dims.push_back(d.dim_value());
  }
  (*shapes)[vi.name()] = std::move(dims);
}

std::int64_t Product(Dims::const_iterator begin, Dims::const_iterator end) {
  std::int64_t n = 1;
  for (auto it = begin; it != end; ++it) n *= *it;
  return n;
}

std::int64_t IntAttr(const onnx::NodeProto& node, std::string_view name, std::int64_t fallback) {
  for (const onnx::AttributeProto& a : node.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

// MACs of one node, or nullopt when a shape it needs is unknown.
std::optional<std::int64_t> NodeMacs(const onnx::NodeProto& node, const ShapeMap& shapes) {
  auto shape = [&](const std::string& name) -> const Dims* {
    if (name.empty()) return nullptr;
    auto it = shapes.find(name);
    return it == shapes.end() ? nullptr : &it->second;
  };
  auto input = [&](int i) { return i < node.input_size() ? shape(node.input(i)) : nullptr; };
  const Dims* y = node.output_size() > 0 ? shape(node.output(0)) : nullptr;
  const std::string& op = node.op_type();

  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
    // Each output element: (C_in / group) * prod(kernel) MACs, i.e. W's dims after
    // the first. Holds for any number of spatial dimensions.
    const Dims* w = input(op == "QLinearConv" ? 3 : 1);
    if (y == nullptr || w == nullptr || w->size() < 2) return std::nullopt;
    return Product(y->begin(), y->end()) * Product(w->begin() + 1, w->end());
  }
  if (op == "ConvTranspose") {
    // Each input element is scattered into (C_out / group) * prod(kernel) outputs;
    // W is [C_in, C_out / group, k...].
    const Dims* x = input(0);
    const Dims* w = input(1);
    if (x == nullptr || w == nullptr || w->size() < 2) return std::nullopt;
    return Product(x->begin(), x->end()) * Product(w->begin() + 1, w->end());
  }
  if (op == "Gemm") {
    const Dims* a = input(0);
    if (y == nullptr || a == nullptr || a->size() != 2) return std::nullopt;
    const std::int64_t k = IntAttr(node, "transA", 0) != 0 ? (*a)[0] : (*a)[1];
    return Product(y->begin(), y->end()) * k;
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    // The output already carries the broadcast batch dimensions; each of its
    // elements is a dot product over A's last dimension (a 1-D A is [K]).
    const Dims* a = input(0);
    if (y == nullptr || a == nullptr || a->empty()) return std::nullopt;
    return Product(y->begin(), y->end()) * a->back();
  }
  return 0;
}

}  // namespace

OpCensus CountOperators(const onnx::GraphProto& graph) {
  OpCensus census;
  Census(graph, false, &census);
  return census;
}

std::optional<std::int64_t> ComputeMacs(onnx::ModelProto* model) {
  onnx::GraphProto* graph = model->mutable_graph();
  std::set<std::string> initializers;
  for (const onnx::TensorProto& t : graph->initializer()) initializers.insert(t.name());

  // Batch 1, and 1 for any other free dimension: the figure is per inference.
  for (onnx::ValueInfoProto& vi : *graph->mutable_input()) {
    if (initializers.count(vi.name()) != 0 || !vi.type().has_tensor_type()) continue;
    onnx::TypeProto_Tensor* t = vi.mutable_type()->mutable_tensor_type();
    if (!t->has_shape()) continue;
    for (onnx::TensorShapeProto_Dimension& d : *t->mutable_shape()->mutable_dim()) {
      if (!d.has_dim_value()) d.set_dim_value(1);
    }
  }
  // Stored intermediate shapes may be symbolic or stale: infer them afresh.
  graph->clear_value_info();
  try {
    // Lenient mode: a node it cannot infer leaves its outputs unknown (and the
    // count empty if it matters) instead of failing the whole inspection.
    onnx::shape_inference::InferShapes(*model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type_val=*/false,
                                                                   /*strict_mode_val=*/0,
                                                                   /*data_prop_val=*/true));
  } catch (const std::exception&) {
    return std::nullopt;
  }

  ShapeMap shapes;
  for (const onnx::ValueInfoProto& vi : graph->input()) AddStaticShape(vi, &shapes);
  for (const onnx::ValueInfoProto& vi : graph->value_info()) AddStaticShape(vi, &shapes);
  for (const onnx::ValueInfoProto& vi : graph->output()) AddStaticShape(vi, &shapes);
  for (const onnx::TensorProto& t : graph->initializer()) {
    shapes[t.name()] = Dims(t.dims().begin(), t.dims().end());
  }

  std::int64_t total = 0;
  for (const onnx::NodeProto& node : graph->node()) {
    if (!IsMacOp(node)) continue;
    const std::optional<std::int64_t> macs = NodeMacs(node, shapes);
    if (!macs) return std::nullopt;
    total += *macs;
  }
  return total;
}

}  // namespace deepedge::onnx_internal
