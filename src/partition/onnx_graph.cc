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

// ONNX shape inference with data propagation (it carries Shape -> Gather -> Concat
// values into Reshape targets). Debian's libonnx 1.12 crashes in Shape's data
// propagation when the Shape's input has no inferred shape (Silero VAD's 8 kHz branch,
// inlined: an LSTM state squeezed before the LSTM's own shape is known). So each round
// first infers without propagation, then with it on a copy without the Shape nodes whose
// input is still unknown, keeping what it found; the next round sees more inputs known.
Status InferAll(onnx::ModelProto* model, const std::string& name) {
  model->mutable_graph()->clear_value_info();
  auto infer = [&](onnx::ModelProto& m, bool propagate) -> Status {
    try {
      onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(false, 0, propagate));
    } catch (const std::exception& e) {
      return Unsupported(name + ": shape inference failed: " + e.what());
    }
    return Status::Ok();
  };
  std::size_t known_before = 0;
  for (int round = 0; round < 8; ++round) {
    onnx::ModelProto plain = *model;
    DEEPEDGE_RETURN_IF_ERROR(infer(plain, false));
    std::set<std::string> shaped;
    for (const auto& t : plain.graph().initializer()) shaped.insert(t.name());
    auto note = [&](const onnx::ValueInfoProto& vi) {
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
        shaped.insert(vi.name());
    };
    for (const auto& vi : plain.graph().input()) note(vi);
    for (const auto& vi : plain.graph().value_info()) note(vi);
    for (const auto& vi : plain.graph().output()) note(vi);
    auto risky = [&](const onnx::NodeProto& n) {
      return n.op_type() == "Shape" && n.input_size() > 0 && !shaped.count(n.input(0));
    };
    const auto& nodes = model->graph().node();
    // Nothing risky (most models): the propagating pass on the model itself.
    if (std::none_of(nodes.begin(), nodes.end(), risky)) return infer(*model, true);
    onnx::ModelProto work = *model;
    onnx::GraphProto kept;
    for (const auto& n : nodes)
      if (!risky(n)) *kept.add_node() = n;
    work.mutable_graph()->mutable_node()->Swap(kept.mutable_node());
    DEEPEDGE_RETURN_IF_ERROR(infer(work, true));
    *model->mutable_graph()->mutable_value_info() = work.graph().value_info();
    *model->mutable_graph()->mutable_output() = work.graph().output();
    const std::size_t known = static_cast<std::size_t>(work.graph().value_info_size());
    if (known == known_before) break;
    known_before = known;
  }
  return Status::Ok();
}

// Fixes every free dimension of the graph inputs to 1 (or as `overrides`, or to the
// shape of the input's value) and infers all shapes.
Status InferFixed(onnx::ModelProto* model, const std::string& name,
                  const std::map<std::string, Shape>& overrides,
                  const std::map<std::string, InputValue>& values = {}) {
  onnx::GraphProto* graph = model->mutable_graph();
  std::set<std::string> inits, inputs;
  for (const auto& t : graph->initializer()) inits.insert(t.name());
  for (const auto& vi : graph->input()) inputs.insert(vi.name());
  for (const auto& [n, v] : values) {
    if (!inputs.count(n) || inits.count(n))
      return InvalidArgument(name + ": the model has no input named '" + n + "'");
  }
  for (auto& vi : *graph->mutable_input()) {
    if (inits.count(vi.name()) || !vi.type().has_tensor_type()) continue;
    auto* t = vi.mutable_type()->mutable_tensor_type();
    if (auto v = values.find(vi.name()); v != values.end()) {
      const int et = t->elem_type();
      if (et != onnx::TensorProto::INT64 && et != onnx::TensorProto::INT32 &&
          et != onnx::TensorProto::BOOL)
        return InvalidArgument(name + ": input '" + vi.name() +
                               "' is not an integer or bool tensor; only those take a value");
      if (static_cast<std::int64_t>(v->second.data.size()) != Elements(v->second.dims))
        return InvalidArgument(name + ": the value of input '" + vi.name() +
                               "' does not fill its shape");
      if (t->has_shape()) {
        bool fits = t->shape().dim_size() == static_cast<int>(v->second.dims.size());
        for (int i = 0; fits && i < t->shape().dim_size(); ++i) {
          const auto& d = t->shape().dim(i);
          fits = !d.has_dim_value() || d.dim_value() == v->second.dims[static_cast<std::size_t>(i)];
        }
        if (!fits)
          return InvalidArgument(name + ": the value given for input '" + vi.name() +
                                 "' has another shape than the input");
      }
      t->clear_shape();
      auto* shape = t->mutable_shape();
      for (std::int64_t d : v->second.dims) shape->add_dim()->set_dim_value(d);
      continue;
    }
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
  return InferAll(model, name);
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
  bool boolean = false;  // a bool tensor (a comparison, an If's condition), data 0 / 1
};

std::optional<IntValue> IntValueOf(const onnx::TensorProto& t) {
  const bool i64 = t.data_type() == onnx::TensorProto::INT64;
  const bool i32 = t.data_type() == onnx::TensorProto::INT32;
  const bool b = t.data_type() == onnx::TensorProto::BOOL;
  if ((!i64 && !i32 && !b) || t.data_location() == onnx::TensorProto::EXTERNAL) return std::nullopt;
  IntValue v;
  v.boolean = b;
  v.dims.assign(t.dims().begin(), t.dims().end());
  const std::int64_t n = Elements(v.dims);
  if (n < 0 || n > 4096) return std::nullopt;
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    const std::size_t width = i64 ? 8 : i32 ? 4 : 1;
    if (raw.size() != static_cast<std::size_t>(n) * width) return std::nullopt;
    for (std::int64_t i = 0; i < n; ++i) {
      if (i64) {
        std::int64_t x;
        std::memcpy(&x, raw.data() + i * 8, 8);
        v.data.push_back(x);
      } else if (i32) {
        std::int32_t x;
        std::memcpy(&x, raw.data() + i * 4, 4);
        v.data.push_back(x);
      } else {
        v.data.push_back(raw[static_cast<std::size_t>(i)] != 0 ? 1 : 0);
      }
    }
  } else if (i64) {
    v.data.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    v.data.assign(t.int32_data().begin(), t.int32_data().end());
    if (b)
      for (std::int64_t& x : v.data) x = x != 0 ? 1 : 0;
  }
  if (static_cast<std::int64_t>(v.data.size()) != n) return std::nullopt;
  return v;
}

// Applies `f` elementwise to a and b with numpy broadcasting of a scalar or a
// one-element tensor against the other (the only broadcasting shape computations use).
template <typename F>
std::optional<IntValue> Elementwise(const IntValue* a, const IntValue* b, bool boolean, F f) {
  if (a == nullptr || b == nullptr) return std::nullopt;
  const std::size_t n = std::max(a->data.size(), b->data.size());
  if ((a->data.size() != n && a->data.size() != 1) || (b->data.size() != n && b->data.size() != 1))
    return std::nullopt;
  IntValue v{a->data.size() >= b->data.size() ? a->dims : b->dims, {}, boolean};
  for (std::size_t i = 0; i < n; ++i) {
    const std::optional<std::int64_t> r =
        f(a->data[a->data.size() == 1 ? 0 : i], b->data[b->data.size() == 1 ? 0 : i]);
    if (!r) return std::nullopt;
    v.data.push_back(*r);
  }
  return v;
}

// Row-major strides of `dims`.
std::vector<std::int64_t> Strides(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> st(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) st[i - 1] = st[i] * dims[i];
  return st;
}

// out[idx] = x.data[offset(idx)] for every index of `out_dims`, row-major (a slice, a
// transpose).
template <typename Offset>
IntValue Remapped(const IntValue& x, const std::vector<std::int64_t>& out_dims, Offset offset) {
  IntValue v{out_dims, {}, x.boolean};
  const std::int64_t n = Elements(out_dims);
  std::vector<std::int64_t> idx(out_dims.size(), 0);
  for (std::int64_t k = 0; k < n; ++k) {
    v.data.push_back(x.data[static_cast<std::size_t>(offset(idx))]);
    for (std::size_t a = idx.size(); a-- > 0;) {
      if (++idx[a] < out_dims[a]) break;
      idx[a] = 0;
    }
  }
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
    if (x == nullptr || to == nullptr) return std::nullopt;
    IntValue v = *x;
    if (to->i() == onnx::TensorProto::BOOL) {
      v.boolean = true;
      for (std::int64_t& e : v.data) e = e != 0 ? 1 : 0;
      return v;
    }
    if (to->i() != onnx::TensorProto::INT64 && to->i() != onnx::TensorProto::INT32)
      return std::nullopt;
    v.boolean = false;
    return v;
  }
  if (op == "Identity") {
    const IntValue* x = in(0);
    return x ? std::optional<IntValue>(*x) : std::nullopt;
  }
  if (op == "Size") {
    auto it = node.input_size() > 0 ? shapes.find(node.input(0)) : shapes.end();
    if (it == shapes.end() || !it->second.known) return std::nullopt;
    return IntValue{{}, {Elements(it->second.dims)}};
  }
  if (op == "Not") {
    const IntValue* x = in(0);
    if (x == nullptr || !x->boolean) return std::nullopt;
    IntValue v = *x;
    for (std::int64_t& e : v.data) e = e ? 0 : 1;
    return v;
  }
  using R = std::optional<std::int64_t>;
  if (op == "Equal" || op == "Greater" || op == "Less" || op == "GreaterOrEqual" ||
      op == "LessOrEqual" || op == "And" || op == "Or") {
    return Elementwise(in(0), in(1), true, [&op](std::int64_t x, std::int64_t y) -> R {
      if (op == "Equal") return x == y;
      if (op == "Greater") return x > y;
      if (op == "Less") return x < y;
      if (op == "GreaterOrEqual") return x >= y;
      if (op == "LessOrEqual") return x <= y;
      return op == "And" ? (x && y) : (x || y);
    });
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
    const IntValue* steps = in(4);
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
    if (x == nullptr || starts == nullptr || ends == nullptr || x->dims.empty() ||
        starts->data.size() != ends->data.size() ||
        (axes && axes->data.size() != starts->data.size()) ||
        (steps && steps->data.size() != starts->data.size()) ||
        (node.input_size() > 3 && !node.input(3).empty() && axes == nullptr) ||
        (node.input_size() > 4 && !node.input(4).empty() && steps == nullptr))
      return std::nullopt;
    const std::int64_t rank = static_cast<std::int64_t>(x->dims.size());
    // Per axis: first index, step and count (ONNX's clamping rules).
    std::vector<std::int64_t> first(x->dims.size(), 0), step(x->dims.size(), 1), count = x->dims;
    for (std::size_t i = 0; i < starts->data.size(); ++i) {
      const std::int64_t a = index(axes ? axes->data[i] : static_cast<std::int64_t>(i), rank);
      const std::int64_t st = steps ? steps->data[i] : 1;
      if (a < 0 || a >= rank || st == 0) return std::nullopt;
      const std::int64_t n = x->dims[static_cast<std::size_t>(a)];
      std::int64_t b = starts->data[i], e = ends->data[i];
      b = b < 0 ? b + n : b;
      e = e < 0 ? e + n : e;
      if (st > 0) {
        b = std::clamp<std::int64_t>(b, 0, n);
        e = std::clamp<std::int64_t>(e, 0, n);
      } else {
        b = std::clamp<std::int64_t>(b, 0, n - 1);
        e = std::clamp<std::int64_t>(e, -1, n - 1);
      }
      const std::int64_t c = st > 0 ? (e - b + st - 1) / st : (b - e + (-st) - 1) / (-st);
      first[static_cast<std::size_t>(a)] = b;
      step[static_cast<std::size_t>(a)] = st;
      count[static_cast<std::size_t>(a)] = std::max<std::int64_t>(c, 0);
    }
    const std::vector<std::int64_t> xs = Strides(x->dims);
    return Remapped(*x, count, [&](const std::vector<std::int64_t>& idx) {
      std::int64_t off = 0;
      for (std::size_t a = 0; a < idx.size(); ++a) off += (first[a] + idx[a] * step[a]) * xs[a];
      return off;
    });
  }
  if (op == "Transpose") {
    const IntValue* x = in(0);
    if (x == nullptr) return std::nullopt;
    const std::size_t r = x->dims.size();
    std::vector<std::int64_t> perm(r);
    for (std::size_t i = 0; i < r; ++i) perm[i] = static_cast<std::int64_t>(r - 1 - i);
    if (const auto* a = attr("perm")) perm.assign(a->ints().begin(), a->ints().end());
    if (perm.size() != r) return std::nullopt;
    std::vector<std::int64_t> dims(r);
    for (std::size_t i = 0; i < r; ++i) {
      if (perm[i] < 0 || perm[i] >= static_cast<std::int64_t>(r)) return std::nullopt;
      dims[i] = x->dims[static_cast<std::size_t>(perm[i])];
    }
    const std::vector<std::int64_t> xs = Strides(x->dims);
    return Remapped(*x, dims, [&](const std::vector<std::int64_t>& idx) {
      std::int64_t off = 0;
      for (std::size_t a = 0; a < idx.size(); ++a)
        off += idx[a] * xs[static_cast<std::size_t>(perm[a])];
      return off;
    });
  }
  if (op == "Reshape") {
    const IntValue* x = in(0);
    const IntValue* shape = in(1);
    if (x == nullptr || shape == nullptr || IntAttr(node, "allowzero", 0) != 0) return std::nullopt;
    std::vector<std::int64_t> dims = shape->data;
    std::int64_t known_part = 1, infer = -1;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] == 0) {
        if (i >= x->dims.size()) return std::nullopt;
        dims[i] = x->dims[i];
      }
      if (dims[i] == -1) {
        if (infer >= 0) return std::nullopt;
        infer = static_cast<std::int64_t>(i);
      } else if (dims[i] < 0) {
        return std::nullopt;
      } else {
        known_part *= dims[i];
      }
    }
    const std::int64_t n = static_cast<std::int64_t>(x->data.size());
    if (infer >= 0) {
      if (known_part == 0 || n % known_part != 0) return std::nullopt;
      dims[static_cast<std::size_t>(infer)] = n / known_part;
    }
    if (Elements(dims) != n) return std::nullopt;
    IntValue v = *x;
    v.dims = dims;
    return v;
  }
  if (op == "ConstantOfShape") {
    const IntValue* shape = in(0);
    if (shape == nullptr || shape->dims.size() != 1) return std::nullopt;
    IntValue fill{{}, {0}};
    if (const auto* a = attr("value")) {
      std::optional<IntValue> f = IntValueOf(a->t());
      if (!f || f->data.size() != 1) return std::nullopt;
      fill = *f;
    }
    const std::int64_t n = Elements(shape->data);
    if (n < 0 || n > 4096) return std::nullopt;
    return IntValue{shape->data,
                    std::vector<std::int64_t>(static_cast<std::size_t>(n), fill.data[0]),
                    fill.boolean};
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const IntValue* a = in(0);
    const IntValue* b = in(1);
    if ((a && a->boolean) || (b && b->boolean)) return std::nullopt;
    return Elementwise(a, b, false, [&op](std::int64_t x, std::int64_t y) -> R {
      if (op == "Div" && y == 0) return std::nullopt;
      return op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y;
    });
  }
  return std::nullopt;
}

void ReadShapes(const onnx::GraphProto& g, std::unordered_map<std::string, ShapeType>& shapes) {
  for (const auto& vi : g.input()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.value_info()) shapes[vi.name()] = FromValueInfo(vi);
  for (const auto& vi : g.output()) shapes[vi.name()] = FromValueInfo(vi);
}

std::string NodeName(const onnx::NodeProto& n, int index) {
  return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
}

bool IsIf(const onnx::NodeProto& n) {
  return n.op_type() == "If" && (n.domain().empty() || n.domain() == "ai.onnx");
}

struct Folded {
  std::unordered_map<std::string, ShapeType> shapes;
  std::unordered_map<std::string, IntValue> known;  // integer values folded (If conditions)
};

// Shapes of every tensor of `model` (already inferred with fixed inputs), with the shape
// computations folded on a copy as described above, and the integer values found.
Expected<Folded> ShapesWithFolding(const onnx::ModelProto& model, const std::string& name,
                                   const std::map<std::string, InputValue>& values = {}) {
  Folded f;
  std::unordered_map<std::string, ShapeType>& shapes = f.shapes;
  std::unordered_map<std::string, IntValue>& known = f.known;
  ReadShapes(model.graph(), shapes);
  bool any_unknown = false, any_if = false;
  for (const auto& n : model.graph().node()) {
    any_if = any_if || IsIf(n);
    for (const auto& o : n.output()) any_unknown = any_unknown || (!o.empty() && !shapes[o].known);
  }
  if (!any_unknown && !any_if) return f;

  onnx::ModelProto copy = model;
  for (const auto& t : copy.graph().initializer()) {
    if (auto v = IntValueOf(t)) known[t.name()] = std::move(*v);
  }
  for (const auto& vi : copy.graph().input()) {
    auto v = values.find(vi.name());
    if (v == values.end()) continue;
    const bool boolean = vi.type().tensor_type().elem_type() == onnx::TensorProto::BOOL;
    known[vi.name()] = IntValue{v->second.dims, v->second.data, boolean};
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
      t->set_data_type(v->boolean ? onnx::TensorProto::BOOL : onnx::TensorProto::INT64);
      for (std::int64_t d : v->dims) t->add_dims(d);
      for (std::int64_t x : v->data) {
        if (v->boolean)
          t->add_int32_data(static_cast<std::int32_t>(x));
        else
          t->add_int64_data(x);
      }
      ShapeType st;
      st.dims = v->dims;
      st.elem_bytes = v->boolean ? 1 : 8;
      st.known = true;
      shapes[node.output(0)] = st;
      known[node.output(0)] = std::move(*v);
      changed = true;
    }
    if (!changed) break;
    g->mutable_node()->Swap(kept_nodes.mutable_node());
    DEEPEDGE_RETURN_IF_ERROR(InferAll(&copy, name));
    std::unordered_map<std::string, ShapeType> again;
    ReadShapes(copy.graph(), again);
    for (auto& [n, st] : again) {
      if (st.known) shapes[n] = st;
    }
  }
  return f;
}

// Renames values read by the nodes of `g` and of the graphs nested in them, and those
// `g` returns (a nested branch may return an enclosing value as it is).
void RenameReads(onnx::GraphProto* g, const std::unordered_map<std::string, std::string>& rename) {
  for (auto& o : *g->mutable_output()) {
    if (auto r = rename.find(o.name()); r != rename.end()) o.set_name(r->second);
  }
  for (auto& n : *g->mutable_node()) {
    for (auto& in : *n.mutable_input()) {
      if (auto r = rename.find(in); r != rename.end()) in = r->second;
    }
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) RenameReads(a.mutable_g(), rename);
      for (auto& sub : *a.mutable_graphs()) RenameReads(&sub, rename);
    }
  }
}

// Replaces each If of `g` whose condition is in `known` by the nodes of the branch it
// takes (see BuildLayerGraph). Branch values keep their names (ONNX names are unique
// across nested graphs); a branch output a branch node produces is renamed to the If's
// output, any other (an outer value, a constant) is passed on by an Identity. Returns
// true when any If was replaced.
bool InlineDecidedIfs(onnx::GraphProto* g, const std::unordered_map<std::string, IntValue>& known) {
  onnx::GraphProto out;
  bool changed = false;
  for (int ni = 0; ni < g->node_size(); ++ni) {
    const onnx::NodeProto& node = g->node(ni);
    auto cond = IsIf(node) && node.input_size() > 0 ? known.find(node.input(0)) : known.end();
    const onnx::GraphProto* branch = nullptr;
    if (cond != known.end() && cond->second.data.size() == 1) {
      const char* want = cond->second.data[0] != 0 ? "then_branch" : "else_branch";
      for (const auto& a : node.attribute())
        if (a.name() == want && a.has_g()) branch = &a.g();
    }
    if (branch == nullptr || branch->output_size() < node.output_size()) {
      *out.add_node() = node;
      continue;
    }
    const std::string prefix = NodeName(node, ni) + "/";
    std::set<std::string> produced;
    for (const auto& bn : branch->node())
      for (const auto& o : bn.output()) produced.insert(o);
    std::unordered_map<std::string, std::string> rename;
    std::vector<std::pair<std::string, std::string>> passed;  // branch output -> If output
    for (int k = 0; k < node.output_size(); ++k) {
      const std::string& from = branch->output(k).name();
      const std::string& to = node.output(k);
      if (to.empty()) continue;
      if (produced.count(from) && !rename.count(from))
        rename[from] = to;
      else
        passed.emplace_back(from, to);
    }
    for (const auto& t : branch->initializer()) *g->add_initializer() = t;
    onnx::GraphProto inlined;
    for (const auto& bn : branch->node()) {
      onnx::NodeProto* n = inlined.add_node();
      *n = bn;
      // The engine names a node without a name by its first output.
      const std::string own = !bn.name().empty()     ? bn.name()
                              : bn.output_size() > 0 ? bn.output(0)
                                                     : bn.op_type();
      n->set_name(prefix + own);
      for (auto& o : *n->mutable_output()) {
        if (auto r = rename.find(o); r != rename.end()) o = r->second;
      }
    }
    RenameReads(&inlined, rename);
    for (auto& n : *inlined.mutable_node()) *out.add_node() = std::move(n);
    for (const auto& [from, to] : passed) {
      onnx::NodeProto* n = out.add_node();
      n->set_op_type("Identity");
      n->set_name(prefix + to);
      n->add_input(from);
      n->add_output(to);
    }
    changed = true;
  }
  if (changed) g->mutable_node()->Swap(out.mutable_node());
  return changed;
}

}  // namespace

namespace {

// The layer graph of `model` (parsed, its inputs fixed and shapes inferred), with the Ifs
// named in `forced` (node name -> branch: true for then) taken as if their conditions
// were known. Branches of the Ifs left undecided are built when `branch_depth` > 0.
Expected<LayerGraph> BuildFrom(onnx::ModelProto model, const ModelSource& source,
                               const std::map<std::string, InputValue>& input_values,
                               const std::map<std::string, bool>& forced, int branch_depth);

// For each If of `lg` left undecided: the layer graphs of the model with it replaced by
// its then and its else branch.
void AddBranches(const onnx::ModelProto& model, const ModelSource& source,
                 const std::map<std::string, InputValue>& input_values,
                 const std::map<std::string, bool>& forced, int branch_depth, LayerGraph* lg) {
  for (Layer& l : lg->layers) {
    if (l.type != "If") continue;
    for (bool then : {true, false}) {
      std::map<std::string, bool> f = forced;
      f[l.name] = then;
      Expected<LayerGraph> b = BuildFrom(model, source, input_values, f, branch_depth - 1);
      // A branch that cannot be built (its outputs' shapes unknown) leaves the If uncosted.
      if (!b) {
        l.branches.clear();
        break;
      }
      l.branches.push_back(std::move(*b));
    }
  }
}

Expected<LayerGraph> BuildFrom(onnx::ModelProto model, const ModelSource& source,
                               const std::map<std::string, InputValue>& input_values,
                               const std::map<std::string, bool>& forced, int branch_depth) {
  const std::string mname = source.display_name();
  // The model as given, for building branches: copied only when it has an If (a model
  // of AlexNet's size is 240 MB).
  const bool has_if = std::any_of(model.graph().node().begin(), model.graph().node().end(),
                                  [](const onnx::NodeProto& n) { return IsIf(n); });
  const onnx::ModelProto original = branch_depth > 0 && has_if ? model : onnx::ModelProto();
  // Fold, inline the Ifs that folding decided, again for the Ifs those branches hold.
  std::unordered_map<std::string, ShapeType> shapes;
  std::unordered_map<std::string, IntValue> known;
  for (int depth = 0;; ++depth) {
    DEEPEDGE_ASSIGN_OR_RETURN(Folded folded, ShapesWithFolding(model, mname, input_values));
    const onnx::GraphProto& mg = model.graph();
    for (int ni = 0; ni < mg.node_size(); ++ni) {
      auto it = forced.find(NodeName(mg.node(ni), ni));
      if (it != forced.end() && IsIf(mg.node(ni)) && mg.node(ni).input_size() > 0)
        folded.known[mg.node(ni).input(0)] = IntValue{{}, {it->second ? 1 : 0}, true};
    }
    if (depth == 16 || !InlineDecidedIfs(model.mutable_graph(), folded.known)) {
      shapes = std::move(folded.shapes);
      known = std::move(folded.known);
      break;
    }
    DEEPEDGE_RETURN_IF_ERROR(InferAll(&model, mname));
  }
  const onnx::GraphProto& g = model.graph();

  std::set<std::string> constants;
  std::unordered_map<std::string, std::vector<std::int64_t>> const_dims;
  std::unordered_map<std::string, std::int64_t> const_bytes;
  for (const auto& t : g.initializer()) {
    constants.insert(t.name());
    const_dims[t.name()] = {t.dims().begin(), t.dims().end()};
    const std::optional<DType> dt = onnx_internal::MapElementType(t.data_type());
    if (dt) const_bytes[t.name()] = Elements(const_dims[t.name()]) * DTypeSize(*dt);
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
      const std::string hint =
          node != nullptr && IsIf(*node)
              ? "; its branch depends on a value the layer graph does not know: give the "
                "inputs its condition reads (predict and partition: -i sr=sr.npy)"
              : "";
      return Unsupported(mname + ": the size of tensor '" + n +
                         "' is unknown after shape inference" + by + hint);
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
      for (const auto& a : node.attribute()) {
        const std::optional<DType> dt = onnx_internal::MapElementType(a.t().data_type());
        if (a.name() == "value" && a.has_t() && node.output_size() > 0 && dt)
          const_bytes[node.output(0)] =
              Elements({a.t().dims().begin(), a.t().dims().end()}) * DTypeSize(*dt);
      }
      continue;
    }
    Layer layer;
    layer.name = NodeName(node, ni);
    if (!names.insert(layer.name).second)
      return Unsupported(mname + ": two nodes are named '" + layer.name + "'");
    layer.type = node.op_type();
    layer.group = IntAttr(node, "group", 1);
    const int li = static_cast<int>(lg.layers.size());
    // A recurrent layer's W, R and B (inputs 1-3) are its weights even where the model
    // computes them (Silero VAD slices them out of one tensor at run time): left out of
    // its input bytes, as initializers are, so that its fit sees what it was calibrated on.
    const bool recurrent = layer.type == "LSTM" || layer.type == "GRU" || layer.type == "RNN";
    for (int ii = 0; ii < node.input_size(); ++ii) {
      const std::string& in = node.input(ii);
      if (in.empty()) continue;
      if (constants.count(in)) {
        if (auto b = const_bytes.find(in); b != const_bytes.end()) layer.weight_bytes += b->second;
        continue;
      }
      auto it = tensor_index.find(in);
      if (it == tensor_index.end())
        return Unsupported(mname + ": node '" + layer.name + "' reads '" + in +
                           "', which no earlier node produces (not topologically sorted)");
      DataTensor& t = lg.tensors[static_cast<std::size_t>(it->second)];
      if (t.consumers.empty() || t.consumers.back() != li) t.consumers.push_back(li);
      if (std::find(layer.inputs.begin(), layer.inputs.end(), it->second) == layer.inputs.end()) {
        layer.inputs.push_back(it->second);
        if (!recurrent || ii == 0 || ii > 3)
          layer.input_bytes += t.bytes;
        else
          layer.weight_bytes += t.bytes;
      }
    }
    layer.shape_computation = node.output_size() > 0;
    for (const auto& out : node.output()) {
      if (out.empty()) continue;
      layer.shape_computation = layer.shape_computation && known.count(out) > 0;
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
    if (op == "Concat" && y) layer.output_dims = *y;
    if (op == "Conv" && y && dims(1) && dims(1)->size() >= 2) {
      layer.macs = Elements(*y) * Elements(*dims(1), 1);
    } else if (op == "ConvTranspose" && dims(0) && dims(1) && dims(1)->size() >= 2) {
      layer.macs = Elements(*dims(0)) * Elements(*dims(1), 1);
    } else if (op == "Gemm" && y && dims(0) && dims(0)->size() == 2) {
      layer.macs = Elements(*y) * (IntAttr(node, "transA", 0) ? (*dims(0))[0] : (*dims(0))[1]);
    } else if (op == "MatMul" && y && dims(0) && !dims(0)->empty()) {
      layer.macs = Elements(*y) * dims(0)->back();
    } else if ((op == "LSTM" || op == "GRU" || op == "RNN") && y && y->size() == 4 && dims(1) &&
               dims(2) && dims(1)->size() == 3 && dims(2)->size() == 3) {
      // Each step multiplies the input by W and the state by R (all gates): Y is
      // [steps, directions, batch, hidden] (layout 0), W [directions, gates x hidden,
      // input], R [directions, gates x hidden, hidden].
      layer.macs =
          (*y)[0] * (*y)[2] * (*dims(1))[0] * (*dims(1))[1] * ((*dims(1))[2] + (*dims(2))[2]);
    }
    lg.layers.push_back(std::move(layer));
  }
  for (const auto& vi : g.output()) {
    auto it = tensor_index.find(vi.name());
    if (it != tensor_index.end())
      lg.tensors[static_cast<std::size_t>(it->second)].graph_output = true;
  }
  if (branch_depth > 0 && has_if)
    AddBranches(original, source, input_values, forced, branch_depth, &lg);
  return lg;
}

}  // namespace

Expected<LayerGraph> BuildLayerGraph(const ModelSource& source,
                                     const std::map<std::string, Shape>& input_shapes,
                                     const std::map<std::string, InputValue>& input_values) {
  onnx::ModelProto model;
  DEEPEDGE_RETURN_IF_ERROR(onnx_internal::ParseModel(source, &model));
  DEEPEDGE_RETURN_IF_ERROR(InferFixed(&model, source.display_name(), input_shapes, input_values));
  // Branches of undecided Ifs two levels deep: an If inside a branch of one.
  return BuildFrom(std::move(model), source, input_values, {}, 2);
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
  DEEPEDGE_ASSIGN_OR_RETURN(Folded folded, ShapesWithFolding(fixed, mname));
  const auto& fixed_shapes = folded.shapes;
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
