// The XNNPACK partition pass. See xnn_pass.h for the rules.
//
// 1. Value descriptions (dtype, NCHW shape with dynamic dims) come from the graph
//    inputs, value_info, initializers, and from this pass's own shape inference
//    for the operators it supports.
// 2. Each node is checked on its own (CheckNode): operator, attributes, constant
//    weights, activation ranks and static channel counts.
// 3. Regions grow greedily in topological order: a supported node joins the region of
//    one of its producers unless that would create a cycle (some other producer
//    depends on that region through a node outside it); otherwise it opens a new one.
//    Each node remembers the set of regions it depends on, which makes the check exact.
// 4. Regions too small to pay for their layout transposes are dissolved; the rest
//    become XnnpackRegion nodes and the graph is re-sorted topologically.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "engine/kernels/kernel_util.h"
#include "engine/xnnpack/xnn_ops.h"
#include "engine/xnnpack/xnn_pass.h"
#include "engine/xnnpack/xnn_region.h"

namespace deepedge::engine {
namespace {

using xnn::ConstantFn;
constexpr std::int64_t kDyn = Shape::kDynamic;

struct ValueDesc {
  std::optional<DType> dtype;
  std::optional<Shape> shape;
};

bool IsStatic(std::int64_t d) {
  return d >= 0;
}

// Every name a nested graph reads (node inputs and graph outputs, recursively): an
// over-approximation of the outer values it uses.
void CollectNestedNames(const ir::Graph& g, std::set<std::string>& out) {
  for (const ir::Node& n : g.nodes) {
    for (const std::string& s : n.inputs) {
      if (!s.empty()) out.insert(s);
    }
    for (const auto& [key, attr] : n.attributes) {
      if (attr.graph) CollectNestedNames(*attr.graph, out);
      for (const auto& sub : attr.graphs) {
        if (sub) CollectNestedNames(*sub, out);
      }
    }
  }
  for (const ir::ValueInfo& vi : g.outputs) out.insert(vi.name);
}

// The values a node reads: its inputs and what its nested graphs read.
std::vector<std::string> ReadNames(const ir::Node& n) {
  std::set<std::string> names;
  for (const std::string& s : n.inputs) {
    if (!s.empty()) names.insert(s);
  }
  for (const auto& [key, attr] : n.attributes) {
    if (attr.graph) CollectNestedNames(*attr.graph, names);
    for (const auto& sub : attr.graphs) {
      if (sub) CollectNestedNames(*sub, names);
    }
  }
  return {names.begin(), names.end()};
}

bool HasNestedGraph(const ir::Node& n) {
  for (const auto& [key, attr] : n.attributes) {
    if (attr.graph || !attr.graphs.empty()) return true;
  }
  return false;
}

// Checks one node; on success returns its output shapes (NCHW, or 2-D).
class NodeChecker {
 public:
  NodeChecker(const std::map<std::string, ValueDesc>& values, const ConstantFn& constant)
      : values_(values), constant_(constant) {}

  Expected<std::vector<Shape>> Check(const ir::Node& n);
  // The output shape of a Reshape, Flatten, Squeeze or Unsqueeze (dims may be dynamic)
  // of a 2-D or 4-D f32 activation, whether or not a region can take the node.
  Expected<Shape> ReshapeResult(const ir::Node& n);

 private:
  Status No(const std::string& why) const { return Unsupported(why); }
  const Tensor* Const(const ir::Node& n, std::size_t i) const {
    const std::string& name = xnn::InputName(n, i);
    return name.empty() ? nullptr : constant_(name);
  }
  // Input i as an activation: not a constant, f32, rank 2 or 4, static channels.
  Expected<Shape> Act(const ir::Node& n, std::size_t i) const {
    const std::string& name = xnn::InputName(n, i);
    if (name.empty()) return No("input " + std::to_string(i) + " is missing");
    if (constant_(name) != nullptr) return No("input '" + name + "' is a constant");
    auto it = values_.find(name);
    if (it == values_.end() || !it->second.shape) {
      return No("the shape of '" + name + "' is unknown");
    }
    if (!it->second.dtype || *it->second.dtype != DType::kF32) {
      return No("'" + name + "' is not known to be f32");
    }
    const Shape& s = *it->second.shape;
    if (s.rank() != 2 && s.rank() != 4) {
      return No("'" + name + "' has rank " + std::to_string(s.rank()) + " (2 or 4 only)");
    }
    if (!IsStatic(s[1])) return No("the channel count of '" + name + "' is not static");
    return s;
  }
  Expected<Shape> Act4(const ir::Node& n, std::size_t i) const {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape s, Act(n, i));
    if (s.rank() != 4) return No("input must be 4-D");
    return s;
  }

  Expected<Shape> Conv(const ir::Node& n);
  Expected<Shape> Gemm(const ir::Node& n);
  Expected<Shape> Pool(const ir::Node& n);
  Expected<Shape> Binary(const ir::Node& n);
  Expected<Shape> Reshape(const ir::Node& n);

  const std::map<std::string, ValueDesc>& values_;
  const ConstantFn& constant_;
};

Expected<Shape> WindowOutput(const xnn::Window& w, const Shape& x, std::int64_t channels) {
  std::int64_t oh = kDyn, ow = kDyn;
  if (w.auto_pad == xnn::AutoPad::kNotSet) {
    for (int i = 0; i < 4; ++i) {
      if (w.pads[i] > 65535) return Unsupported("pads too large");
    }
  }
  if (IsStatic(x[2]) && IsStatic(x[3])) {
    auto r = xnn::ResolveWindow(w, x[2], x[3]);
    if (!r) return r.status();
    oh = r->out_h;
    ow = r->out_w;
  } else if (IsStatic(x[2]) || IsStatic(x[3])) {
    // Resolve the static one with a stand-in for the other.
    const std::int64_t dk_h = (w.kernel[0] - 1) * w.dilation[0] + 1;
    const std::int64_t dk_w = (w.kernel[1] - 1) * w.dilation[1] + 1;
    auto r = xnn::ResolveWindow(w, IsStatic(x[2]) ? x[2] : dk_h, IsStatic(x[3]) ? x[3] : dk_w);
    if (!r) return r.status();
    if (IsStatic(x[2])) oh = r->out_h;
    if (IsStatic(x[3])) ow = r->out_w;
  }
  return Shape({x[0], channels, oh, ow});
}

Expected<Shape> NodeChecker::Conv(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
  const Tensor* w = Const(n, 1);
  if (w == nullptr) return No("weights are not a constant");
  if (n.inputs.size() > 3) return No("too many inputs");
  DEEPEDGE_ASSIGN_OR_RETURN(xnn::Window win, xnn::ParseConvWindow(n, w->shape()));
  const std::int64_t group = n.GetInt("group", 1);
  const std::int64_t cout = w->shape()[0];
  if (group < 1 || cout % group != 0) return No("group does not divide the output channels");
  if (x[1] != w->shape()[1] * group) {
    return No("input has " + std::to_string(x[1]) + " channels, the weights want " +
              std::to_string(w->shape()[1] * group));
  }
  if (!xnn::InputName(n, 2).empty()) {
    const Tensor* b = Const(n, 2);
    if (b == nullptr) return No("bias is not a constant");
    if (b->element_count() != cout) return No("bias size does not match");
  }
  return WindowOutput(win, x, cout);
}

Expected<Shape> NodeChecker::Gemm(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
  if (x.rank() != 2) return No("input must be 2-D");
  const Tensor* b = Const(n, 1);
  if (b == nullptr || b->shape().rank() != 2) return No("B is not a 2-D constant");
  const bool gemm = n.op_type == "Gemm";
  if (gemm && n.GetInt("transA", 0) != 0) return No("transA is not supported");
  const bool trans_b = gemm && n.GetInt("transB", 0) != 0;
  const std::int64_t k = b->shape()[trans_b ? 1 : 0];
  const std::int64_t nout = b->shape()[trans_b ? 0 : 1];
  if (x[1] != k) return No("inner dimensions differ");
  if (gemm && !xnn::InputName(n, 2).empty()) {
    const Tensor* c = Const(n, 2);
    if (c == nullptr) return No("C is not a constant");
    const auto& d = c->shape().dims();
    const bool row =
        (d.size() == 1 && d[0] == nout) || (d.size() == 2 && d[0] == 1 && d[1] == nout);
    const bool scalar = c->element_count() == 1 && d.size() <= 2;
    if (!row && !scalar) return No("C must be [N], [1, N] or a scalar");
  }
  if (!gemm && n.inputs.size() != 2) return No("MatMul takes two inputs");
  return Shape({x[0], nout});
}

Expected<Shape> NodeChecker::Pool(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(xnn::Window w, xnn::ParsePoolWindow(n));
  if (w.kernel[0] * w.kernel[1] < 2) return No("1x1 pooling");
  if (n.op_type == "MaxPool") {
    if (xnn::WantedOutputs(n) != 1) return No("the Indices output is used");
    if (n.GetInt("storage_order", 0) != 0) return No("storage_order");
  } else {
    if (w.dilation[0] != 1 || w.dilation[1] != 1) return No("AveragePool with dilations");
  }
  // A window must always see an input element: pads smaller than the window.
  for (int i = 0; i < 4; ++i) {
    const std::int64_t dk = (w.kernel[i % 2] - 1) * w.dilation[i % 2] + 1;
    if (w.pads[i] >= dk) return No("padding as large as the window");
  }
  return WindowOutput(w, x, x[1]);
}

Expected<Shape> NodeChecker::Binary(const ir::Node& n) {
  if (n.inputs.size() != 2) return No("only two inputs");
  const Tensor* c[2] = {Const(n, 0), Const(n, 1)};
  if (c[0] != nullptr && c[1] != nullptr) return No("both inputs are constants");
  std::optional<Shape> a[2];
  std::size_t rank = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    if (c[i] != nullptr) continue;
    DEEPEDGE_ASSIGN_OR_RETURN(a[i], Act(n, i));
    if (rank != 0 && a[i]->rank() != rank) return No("activations of different ranks");
    rank = a[i]->rank();
  }
  Shape s[2];
  for (std::size_t i = 0; i < 2; ++i) {
    if (c[i] == nullptr) {
      s[i] = *a[i];
      continue;
    }
    if (c[i]->dtype() != DType::kF32 && c[i]->dtype() != DType::kF16 &&
        c[i]->dtype() != DType::kBF16) {
      return No("constant is not floating");
    }
    if (c[i]->shape().rank() > rank) return No("constant of higher rank than the activation");
    std::vector<std::int64_t> d(rank - c[i]->shape().rank(), 1);
    for (std::int64_t v : c[i]->shape().dims()) d.push_back(v);
    s[i] = Shape(std::move(d));
  }
  std::vector<std::int64_t> out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t x = s[0][i], y = s[1][i];
    if (IsStatic(x) && IsStatic(y)) {
      if (x != y && x != 1 && y != 1) return No("shapes do not broadcast");
      out[i] = x == 1 ? y : x;
    } else if (IsStatic(x)) {
      out[i] = x == 1 ? kDyn : x;
    } else if (IsStatic(y)) {
      out[i] = y == 1 ? kDyn : y;
    } else {
      out[i] = kDyn;
    }
  }
  return Shape(std::move(out));
}

// Whether a tensor's region layout has its NCHW memory order (see the kernel).
bool SameOrderStatic(const Shape& s) {
  return s.rank() != 4 || s[1] == 1 || (s[2] == 1 && s[3] == 1);
}

Expected<Shape> NodeChecker::Reshape(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(Shape result, ReshapeResult(n));
  DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
  if (result.rank() != 2 && result.rank() != 4) return No("the result must be 2-D or 4-D");
  if (!SameOrderStatic(x) || !SameOrderStatic(result)) {
    return No("a 4-D side is not known to have C == 1 or H == W == 1 (NHWC order differs)");
  }
  return result;
}

Expected<Shape> NodeChecker::ReshapeResult(const ir::Node& n) {
  DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
  std::vector<std::int64_t> out;
  if (n.op_type == "Flatten") {
    auto axis = NormalizeAxis(n.GetInt("axis", 1), x.rank(), true);
    if (!axis || *axis != 1) return No("only Flatten with axis 1");
    std::int64_t rest = 1;
    for (std::size_t i = 1; i < x.rank(); ++i) {
      rest = IsStatic(x[i]) && IsStatic(rest) ? rest * x[i] : kDyn;
    }
    out = {x[0], rest};
  } else if (n.op_type == "Reshape") {
    const Tensor* s = Const(n, 1);
    if (s == nullptr) return No("the shape is not a constant");
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int64_t> t, ReadInts(*s));
    const bool allowzero = n.GetInt("allowzero", 0) != 0;
    int infer = -1;
    // Element count bookkeeping with dynamic input dims that are copied by a 0.
    std::int64_t in_known = 1, out_known = 1;
    std::vector<bool> copied(x.rank(), false);
    for (std::size_t i = 0; i < t.size(); ++i) {
      std::int64_t d = t[i];
      if (d == 0 && !allowzero) {
        if (i >= x.rank()) return No("shape copies a dimension the input lacks");
        d = x[i];
        copied[i] = true;
        out.push_back(d);
        continue;
      }
      if (d == -1) {
        if (infer >= 0) return No("two -1 in the shape");
        infer = static_cast<int>(i);
        out.push_back(kDyn);
        continue;
      }
      if (d < 0) return No("negative dimension in the shape");
      out.push_back(d);
      out_known *= d;
    }
    bool all_known = true;
    for (std::size_t i = 0; i < x.rank(); ++i) {
      if (copied[i]) continue;
      if (!IsStatic(x[i])) all_known = false;
      in_known *= IsStatic(x[i]) ? x[i] : 1;
    }
    if (infer >= 0 && all_known && out_known > 0 && in_known % out_known == 0) {
      out[static_cast<std::size_t>(infer)] = in_known / out_known;
    }
  } else {
    const bool squeeze = n.op_type == "Squeeze";
    std::vector<std::int64_t> axes;
    if (n.opset >= 13) {
      const Tensor* a = Const(n, 1);
      if (a == nullptr) return No("axes are not a constant");
      DEEPEDGE_ASSIGN_OR_RETURN(axes, ReadInts(*a));
    } else {
      if (!n.Has("axes")) return No("axes are not given");
      axes = n.GetInts("axes");
    }
    const std::size_t out_rank =
        squeeze ? x.rank() - std::min(x.rank(), axes.size()) : x.rank() + axes.size();
    std::set<std::int64_t> set;
    for (std::int64_t a : axes) {
      auto na = NormalizeAxis(a, squeeze ? x.rank() : out_rank);
      if (!na) return No(na.status().message());
      set.insert(*na);
    }
    if (set.size() != axes.size()) return No("repeated axes");
    if (squeeze) {
      for (std::size_t i = 0; i < x.rank(); ++i) {
        if (set.count(static_cast<std::int64_t>(i))) {
          if (x[i] != 1) return No("squeezes a dimension not known to be 1");
        } else {
          out.push_back(x[i]);
        }
      }
    } else {
      std::size_t next = 0;
      for (std::size_t i = 0; i < out_rank; ++i) {
        out.push_back(set.count(static_cast<std::int64_t>(i)) ? 1 : x[next++]);
      }
    }
  }
  return Shape(std::move(out));
}

Expected<std::vector<Shape>> NodeChecker::Check(const ir::Node& n) {
  if (!(n.domain.empty() || n.domain == "ai.onnx")) return No("not an ONNX operator");
  if (HasNestedGraph(n)) return No("has a nested graph");
  if (n.outputs.empty() || n.outputs[0].empty()) return No("output 0 is not used");
  const std::string& op = n.op_type;
  auto one = [](Expected<Shape> s) -> Expected<std::vector<Shape>> {
    if (!s) return s.status();
    return std::vector<Shape>{std::move(*s)};
  };
  if (op == "Conv") return one(Conv(n));
  if (op == "Gemm" || op == "MatMul") return one(Gemm(n));
  if (op == "MaxPool" || op == "AveragePool") return one(Pool(n));
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") {
    return one(Binary(n));
  }
  if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") {
    return one(Reshape(n));
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
    return one(Shape({x[0], x[1], 1, 1}));
  }
  if (op == "Relu" || op == "Clip") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
    DEEPEDGE_ASSIGN_OR_RETURN(xnn::ClipRange r, xnn::ParseClip(n, constant_));
    if (!(r.min < r.max)) return No("Clip with min >= max");
    return one(x);
  }
  if (op == "Sigmoid" || op == "HardSigmoid" || op == "HardSwish" || op == "LeakyRelu" ||
      op == "Elu" || op == "Abs" || op == "Neg" || op == "Floor" || op == "Ceil" || op == "Sqrt" ||
      op == "Round" || op == "Identity") {
    return one(Act(n, 0));
  }
  if (op == "Dropout") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
    if (xnn::WantedOutputs(n) != 1) return No("the mask output is used");
    if (!xnn::InputName(n, 2).empty()) {
      const Tensor* t = Const(n, 2);
      if (t == nullptr || t->dtype() != DType::kBool || t->element_count() != 1 ||
          t->as<std::uint8_t>()[0] != 0) {
        return No("training_mode is not a constant false");
      }
    }
    return one(x);
  }
  if (op == "PRelu") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
    const Tensor* s = Const(n, 1);
    if (s == nullptr) return No("slope is not a constant");
    const auto& d = s->shape().dims();
    if (d.size() > 4) return No("slope of rank > 4");
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i] != 1 && (d.size() - i != 3 || d[i] != x[1])) {
        return No("slope is neither per-channel nor a scalar");
      }
    }
    return one(x);
  }
  if (op == "Softmax") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
    const std::int64_t fallback = n.opset > 0 && n.opset < 13 ? 1 : -1;
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t axis,
                              NormalizeAxis(n.GetInt("axis", fallback), x.rank()));
    const bool ok = (x.rank() == 2 && axis == 1) || (x.rank() == 4 && axis == 1 && n.opset >= 13);
    if (!ok) return No("only Softmax over the last axis of 2-D, or the channels of 4-D");
    return one(x);
  }
  if (op == "BatchNormalization") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
    if (xnn::WantedOutputs(n) != 1 || n.GetInt("training_mode", 0) != 0) {
      return No("training-mode BatchNormalization");
    }
    for (std::size_t i = 1; i <= 4; ++i) {
      const Tensor* t = Const(n, i);
      if (t == nullptr) return No("parameters are not constants");
      if (t->element_count() != x[1]) return No("parameter size does not match the channels");
    }
    return one(x);
  }
  if (op == "ReduceMean") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
    DEEPEDGE_ASSIGN_OR_RETURN(bool keepdims, xnn::ParseSpatialMean(n, constant_));
    return one(keepdims ? Shape({x[0], x[1], 1, 1}) : Shape({x[0], x[1]}));
  }
  if (op == "Resize" || op == "Upsample") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act4(n, 0));
    DEEPEDGE_ASSIGN_OR_RETURN(xnn::NearestScale f, xnn::ParseNearestResize(n, 4, constant_));
    return one(Shape(
        {x[0], x[1], IsStatic(x[2]) ? x[2] * f.h : kDyn, IsStatic(x[3]) ? x[3] * f.w : kDyn}));
  }
  if (op == "Pad") {
    DEEPEDGE_ASSIGN_OR_RETURN(Shape x, Act(n, 0));
    DEEPEDGE_ASSIGN_OR_RETURN(xnn::PadSpec pad, xnn::ParsePad(n, x.rank(), constant_));
    std::vector<std::int64_t> out = x.dims();
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (IsStatic(out[i])) out[i] += pad.pads[i] + pad.pads[i + out.size()];
    }
    if (!IsStatic(out[1])) return No("the padded channel count is not static");
    return one(Shape(std::move(out)));
  }
  if (op == "Concat") {
    if (n.inputs.empty()) return No("no inputs");
    std::optional<Shape> first;
    std::int64_t channels = 0;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      DEEPEDGE_ASSIGN_OR_RETURN(Shape s, Act(n, i));
      if (first && s.rank() != first->rank()) return No("inputs of different ranks");
      if (first) {
        for (std::size_t d = 0; d < s.rank(); ++d) {
          if (d != 1 && IsStatic(s[d]) && IsStatic((*first)[d]) && s[d] != (*first)[d]) {
            return No("inputs differ outside the channel axis");
          }
        }
      } else {
        first = s;
      }
      channels += s[1];
    }
    DEEPEDGE_ASSIGN_OR_RETURN(std::int64_t axis, NormalizeAxis(n.GetInt("axis", 1), first->rank()));
    if (axis != 1) return No("only Concat along the channel axis");
    Shape out = *first;
    out[1] = channels;
    return one(out);
  }
  return No("operator not supported by the XNNPACK region kernel");
}

// Bit sets of region ids.
using Bits = std::vector<std::uint64_t>;
void SetBit(Bits& b, int i) {
  const std::size_t w = static_cast<std::size_t>(i) / 64;
  if (b.size() <= w) b.resize(w + 1, 0);
  b[w] |= std::uint64_t{1} << (static_cast<std::size_t>(i) % 64);
}
bool HasBit(const Bits& b, int i) {
  const std::size_t w = static_cast<std::size_t>(i) / 64;
  return w < b.size() && ((b[w] >> (static_cast<std::size_t>(i) % 64)) & 1u);
}
void OrBits(Bits& a, const Bits& b) {
  if (a.size() < b.size()) a.resize(b.size(), 0);
  for (std::size_t i = 0; i < b.size(); ++i) a[i] |= b[i];
}

// The output of a Resize / Upsample with constant scales or sizes: the input's dims
// scaled (dynamic where the input's are), or the sizes.
std::optional<Shape> ResizedShape(const ir::Node& n, const Shape& in, const ConstantFn& constant) {
  const xnn::ResizeOperands operands = xnn::ResizeOperandNames(n);
  auto input = [&](const std::string& name) -> const Tensor* {
    return name.empty() ? nullptr : constant(name);
  };
  // Opset 18's axes and aspect-ratio policy change what scales and sizes mean.
  if (n.Find("axes") != nullptr || n.Find("keep_aspect_ratio_policy") != nullptr) {
    return std::nullopt;
  }
  if (const Tensor* sizes = input(operands.sizes)) {
    Expected<std::vector<std::int64_t>> v = ReadInts(*sizes);
    if (!v || v->size() != in.rank()) return std::nullopt;
    return Shape(*v);
  }
  const Tensor* scales = input(operands.scales);
  if (scales == nullptr) return std::nullopt;
  Expected<std::vector<float>> v = ReadFloats(*scales);
  if (!v || v->size() != in.rank()) return std::nullopt;
  std::vector<std::int64_t> out(in.rank());
  for (std::size_t i = 0; i < in.rank(); ++i) {
    const float f = (*v)[i];
    out[i] = f == 1.0f ? in[i]
             : IsStatic(in[i])
                 // In float, as ONNX Runtime computes it (0.7f x 10 is 7 in float).
                 ? static_cast<std::int64_t>(std::floor(static_cast<float>(in[i]) * f))
                 : kDyn;
  }
  return Shape(out);
}

// Outputs of element-wise operators (and Flatten, Resize) that the regions do not take
// still get a description (same dtype and shape as the input; Flatten's 2-D shape;
// Resize's scaled one), so that a region may start after them even when the graph
// carries no value_info. Without Resize's, every layer after a feature pyramid's
// upsampling (PP-OCRv4's detector: a third of its time) ran outside XNNPACK.
void PropagateShapePreserving(const ir::Node& n, std::map<std::string, ValueDesc>& values,
                              const ConstantFn& constant) {
  if ((n.op_type == "Resize" || n.op_type == "Upsample") &&
      (n.domain.empty() || n.domain == "ai.onnx") && !n.inputs.empty() && !n.outputs.empty() &&
      !n.outputs[0].empty()) {
    auto in = values.find(n.inputs[0]);
    if (in == values.end() || !in->second.shape) return;
    std::optional<Shape> shape = ResizedShape(n, *in->second.shape, constant);
    if (!shape) return;
    ValueDesc& out = values[n.outputs[0]];
    if (!out.dtype) out.dtype = in->second.dtype;
    if (!out.shape) out.shape = std::move(shape);
    return;
  }
  if (n.op_type == "Flatten" && (n.domain.empty() || n.domain == "ai.onnx") && !n.inputs.empty() &&
      !n.outputs.empty() && !n.outputs[0].empty()) {
    // Flatten of a tensor with static dims (e.g. [N, 256, 6, 6] before a classifier).
    auto in = values.find(n.inputs[0]);
    if (in == values.end() || !in->second.shape) return;
    const Shape& s = *in->second.shape;
    auto axis = NormalizeAxis(n.GetInt("axis", 1), s.rank(), true);
    if (!axis) return;
    std::int64_t outer = 1, inner = 1;
    for (std::size_t i = 0; i < s.rank(); ++i) {
      std::int64_t& part = static_cast<std::int64_t>(i) < *axis ? outer : inner;
      part = IsStatic(part) && IsStatic(s[i]) ? part * s[i] : kDyn;
    }
    ValueDesc& out = values[n.outputs[0]];
    if (!out.dtype) out.dtype = in->second.dtype;
    if (!out.shape) out.shape = Shape({outer, inner});
    return;
  }
  static const std::set<std::string> kOps = {
      "Tanh",   "Exp",  "Log",   "Erf",  "Softplus", "Softsign",    "Reciprocal",      "Cos",
      "Sin",    "Selu", "Celu",  "Gelu", "Mish",     "HardSigmoid", "ThresholdedRelu", "LRN",
      "Shrink", "Sign", "IsNaN", "IsInf"};
  if (!(n.domain.empty() || n.domain == "ai.onnx") || !kOps.count(n.op_type)) return;
  if (n.inputs.empty() || n.outputs.empty() || n.outputs[0].empty()) return;
  auto in = values.find(n.inputs[0]);
  if (in == values.end()) return;
  ValueDesc d = in->second;
  if (n.op_type == "IsNaN" || n.op_type == "IsInf") d.dtype = DType::kBool;
  ValueDesc& out = values[n.outputs[0]];
  if (!out.dtype) out.dtype = d.dtype;
  if (!out.shape) out.shape = d.shape;
}

bool IsHeavy(const std::string& op) {
  return op == "Conv" || op == "Gemm" || op == "MatMul";
}

// Nodes that only rename or re-view data: they do not count towards a region's size.
bool IsLayoutOnly(const std::string& op) {
  return op == "Identity" || op == "Dropout" || op == "Flatten" || op == "Reshape" ||
         op == "Squeeze" || op == "Unsqueeze";
}

}  // namespace

Expected<ir::Graph> PartitionForXnnpack(const ir::Graph& graph, const XnnPassOptions& options) {
  auto note = [&](const std::string& s) {
    if (options.notes) options.notes->push_back(s);
  };
  const std::size_t n_nodes = graph.nodes.size();

  // Producers, and the topological order check.
  std::map<std::string, int> producer;
  std::set<std::string> available;
  for (const ir::ValueInfo& vi : graph.inputs) available.insert(vi.name);
  for (const auto& [name, t] : graph.initializers) available.insert(name);
  for (std::size_t i = 0; i < n_nodes; ++i) {
    const ir::Node& n = graph.nodes[i];
    for (const std::string& in : n.inputs) {
      if (!in.empty() && !available.count(in)) {
        return InvalidArgument("graph '" + graph.name + "' is not in topological order: " +
                               n.Describe() + " reads '" + in + "' before it is computed");
      }
    }
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;
      available.insert(out);
      producer[out] = static_cast<int>(i);
    }
  }

  if (Status s = xnn::InitializeXnnpack(); !s.ok()) {
    note("XNNPACK is not available: " + s.message());
    return graph;
  }

  // Constants: initializers and Constant nodes with a tensor value.
  std::map<std::string, std::shared_ptr<const Tensor>> constants(graph.initializers.begin(),
                                                                 graph.initializers.end());
  for (const ir::Node& n : graph.nodes) {
    if (n.op_type != "Constant" || !(n.domain.empty() || n.domain == "ai.onnx")) continue;
    const ir::Attribute* v = n.Find("value");
    if (v != nullptr && v->tensor && !n.outputs.empty() && !n.outputs[0].empty()) {
      constants[n.outputs[0]] = v->tensor;
    }
  }
  const ConstantFn constant = [&constants](const std::string& name) -> const Tensor* {
    auto it = constants.find(name);
    return it == constants.end() ? nullptr : it->second.get();
  };

  // Value descriptions.
  std::map<std::string, ValueDesc> values;
  auto declare = [&values](const ir::ValueInfo& vi) {
    ValueDesc& d = values[vi.name];
    if (vi.dtype) d.dtype = vi.dtype;
    if (vi.shape) d.shape = vi.shape;
  };
  for (const ir::ValueInfo& vi : graph.value_info) declare(vi);
  for (const ir::ValueInfo& vi : graph.outputs) declare(vi);
  for (const ir::ValueInfo& vi : graph.inputs) declare(vi);
  for (const auto& [name, t] : constants) values[name] = {t->dtype(), t->shape()};

  NodeChecker checker(values, constant);
  std::vector<bool> supported(n_nodes, false);
  for (std::size_t i = 0; i < n_nodes; ++i) {
    const ir::Node& n = graph.nodes[i];
    auto shapes = checker.Check(n);
    if (!shapes) {
      note(n.Describe() + ": " + shapes.status().message());
      PropagateShapePreserving(n, values, constant);
      // A reshape left outside (an importer's NHWC -> NCHW view of a one-channel input,
      // as tf2onnx writes it) still has a known result: without it, none of the layers
      // after it (openWakeWord's embedding model: all of them) could join a region.
      if (IsLayoutOnly(n.op_type) && n.op_type != "Identity" && n.op_type != "Dropout" &&
          (n.domain.empty() || n.domain == "ai.onnx") && !n.outputs.empty() &&
          !n.outputs[0].empty()) {
        Expected<Shape> r = checker.ReshapeResult(n);
        ValueDesc& d = values[n.outputs[0]];
        if (r && !d.shape) {
          d.shape = std::move(*r);
          if (!d.dtype) d.dtype = values[n.inputs[0]].dtype;
        }
      }
      continue;
    }
    supported[i] = true;
    ValueDesc& d = values[n.outputs[0]];
    // Keep static dims a value_info may know better.
    Shape s = (*shapes)[0];
    if (d.shape && d.shape->rank() == s.rank()) {
      for (std::size_t k = 0; k < s.rank(); ++k) {
        if (!IsStatic(s[k]) && IsStatic((*d.shape)[k])) s[k] = (*d.shape)[k];
      }
    }
    d.shape = std::move(s);
    d.dtype = DType::kF32;
  }

  // Greedy region growth.
  std::vector<std::vector<std::string>> reads(n_nodes);
  std::vector<std::vector<int>> deps(n_nodes);
  for (std::size_t i = 0; i < n_nodes; ++i) {
    reads[i] = ReadNames(graph.nodes[i]);
    std::set<int> ps;
    for (const std::string& name : reads[i]) {
      auto it = producer.find(name);
      if (it != producer.end() && it->second < static_cast<int>(i)) ps.insert(it->second);
    }
    deps[i].assign(ps.begin(), ps.end());
  }
  std::vector<int> region(n_nodes, -1);
  std::vector<Bits> reach(n_nodes);
  int region_count = 0;
  for (std::size_t i = 0; i < n_nodes; ++i) {
    Bits r;
    for (int p : deps[i]) {
      OrBits(r, reach[static_cast<std::size_t>(p)]);
    }
    if (supported[i]) {
      // Candidates: the regions of the activation producers, input 0's first.
      std::vector<int> candidates;
      for (const std::string& name : graph.nodes[i].inputs) {
        auto it = producer.find(name);
        if (it == producer.end()) continue;
        const int reg = region[static_cast<std::size_t>(it->second)];
        if (reg >= 0 && std::find(candidates.begin(), candidates.end(), reg) == candidates.end()) {
          candidates.push_back(reg);
        }
      }
      for (int cand : candidates) {
        bool ok = true;
        for (int p : deps[i]) {
          if (region[static_cast<std::size_t>(p)] != cand &&
              HasBit(reach[static_cast<std::size_t>(p)], cand)) {
            ok = false;
            break;
          }
        }
        if (ok) {
          region[i] = cand;
          break;
        }
      }
      if (region[i] < 0) region[i] = region_count++;
      SetBit(r, region[i]);
    }
    reach[i] = std::move(r);
  }
  if (region_count == 0) return graph;

  // Who reads each value outside a given region: node indices (and graph outputs).
  std::map<std::string, std::vector<int>> readers;
  for (std::size_t i = 0; i < n_nodes; ++i) {
    for (const std::string& name : reads[i]) readers[name].push_back(static_cast<int>(i));
  }
  std::set<std::string> graph_outputs;
  for (const ir::ValueInfo& vi : graph.outputs) graph_outputs.insert(vi.name);

  struct Region {
    std::vector<int> nodes;
    std::shared_ptr<ir::Graph> body;
    bool keep = false;
  };
  std::vector<Region> regions(static_cast<std::size_t>(region_count));
  for (std::size_t i = 0; i < n_nodes; ++i) {
    if (region[i] >= 0)
      regions[static_cast<std::size_t>(region[i])].nodes.push_back(static_cast<int>(i));
  }
  auto value_info = [&values](const std::string& name) {
    ir::ValueInfo vi;
    vi.name = name;
    auto it = values.find(name);
    if (it != values.end()) {
      vi.dtype = it->second.dtype;
      vi.shape = it->second.shape;
    }
    return vi;
  };
  auto needs_transpose = [&values](const std::string& name) {
    auto it = values.find(name);
    if (it == values.end() || !it->second.shape) return true;
    const Shape& s = *it->second.shape;
    return s.rank() == 4 && s[1] != 1 && !(s[2] == 1 && s[3] == 1);
  };
  int kept = 0;
  for (std::size_t r = 0; r < regions.size(); ++r) {
    Region& reg = regions[r];
    auto body = std::make_shared<ir::Graph>();
    std::set<std::string> produced;
    std::set<int> members(reg.nodes.begin(), reg.nodes.end());
    bool heavy = false;
    int compute_nodes = 0;
    for (int i : reg.nodes) {
      const ir::Node& n = graph.nodes[static_cast<std::size_t>(i)];
      heavy = heavy || IsHeavy(n.op_type);
      compute_nodes += IsLayoutOnly(n.op_type) ? 0 : 1;
      body->nodes.push_back(n);
      for (const std::string& out : n.outputs) {
        if (!out.empty()) produced.insert(out);
      }
    }
    std::set<std::string> seen_inputs;
    for (int i : reg.nodes) {
      for (const std::string& in : graph.nodes[static_cast<std::size_t>(i)].inputs) {
        if (in.empty() || produced.count(in) || seen_inputs.count(in)) continue;
        seen_inputs.insert(in);
        if (auto c = constants.find(in); c != constants.end()) {
          body->initializers[in] = c->second;
        } else {
          body->inputs.push_back(value_info(in));
        }
      }
    }
    for (int i : reg.nodes) {
      for (const std::string& out : graph.nodes[static_cast<std::size_t>(i)].outputs) {
        if (out.empty()) continue;
        bool used_outside = graph_outputs.count(out) > 0;
        for (int reader : readers[out]) used_outside = used_outside || !members.count(reader);
        if (used_outside) {
          body->outputs.push_back(value_info(out));
        } else {
          body->value_info.push_back(value_info(out));
        }
      }
    }
    bool transposes = false;
    for (const ir::ValueInfo& vi : body->inputs)
      transposes = transposes || needs_transpose(vi.name);
    for (const ir::ValueInfo& vi : body->outputs) {
      transposes = transposes || needs_transpose(vi.name);
    }
    const std::string first = graph.nodes[static_cast<std::size_t>(reg.nodes.front())].Describe();
    if (body->outputs.empty()) {
      note("region at " + first + " dropped: none of its values is used");
      continue;
    }
    if (!heavy && (transposes || compute_nodes < std::max(1, options.min_light_region_nodes))) {
      note("region at " + first + " (" + std::to_string(reg.nodes.size()) +
           " nodes) dropped: no Conv/Gemm/MatMul to pay for " +
           (transposes ? "its layout transposes" : "its overhead"));
      continue;
    }
    reg.keep = true;
    reg.body = std::move(body);
    ++kept;
  }
  if (kept == 0) return graph;

  // Units of the new graph: kept regions (one node each) and the other nodes.
  std::set<std::string> node_names;
  for (const ir::Node& n : graph.nodes) node_names.insert(n.name);
  std::vector<ir::Node> units;
  std::vector<int> unit_anchor;
  std::vector<int> unit_of_node(n_nodes, -1);
  std::vector<std::vector<std::string>> unit_reads;
  int next_id = 0;
  for (std::size_t i = 0; i < n_nodes; ++i) {
    const int r = region[i];
    if (r >= 0 && regions[static_cast<std::size_t>(r)].keep) {
      Region& reg = regions[static_cast<std::size_t>(r)];
      if (static_cast<int>(i) != reg.nodes.front()) {
        unit_of_node[i] = unit_of_node[static_cast<std::size_t>(reg.nodes.front())];
        unit_anchor[static_cast<std::size_t>(unit_of_node[i])] = static_cast<int>(i);
        continue;
      }
      ir::Node node;
      do {
        node.name = "xnnpack_region_" + std::to_string(next_id++);
      } while (node_names.count(node.name));
      node.op_type = kXnnpackRegionOp;
      node.domain = kXnnpackDomain;
      node.opset = 1;
      for (const ir::ValueInfo& vi : reg.body->inputs) node.inputs.push_back(vi.name);
      for (const ir::ValueInfo& vi : reg.body->outputs) node.outputs.push_back(vi.name);
      reg.body->name = node.name;
      ir::Attribute body;
      body.kind = ir::Attribute::Kind::kGraph;
      body.graph = reg.body;
      node.attributes["body"] = std::move(body);
      note(node.name + ": " + std::to_string(reg.nodes.size()) + " nodes, " +
           std::to_string(node.inputs.size()) + " inputs, " + std::to_string(node.outputs.size()) +
           " outputs");
      unit_of_node[i] = static_cast<int>(units.size());
      unit_reads.push_back(node.inputs);
      units.push_back(std::move(node));
      unit_anchor.push_back(static_cast<int>(i));
      continue;
    }
    unit_of_node[i] = static_cast<int>(units.size());
    unit_reads.push_back(reads[i]);
    units.push_back(graph.nodes[i]);
    unit_anchor.push_back(static_cast<int>(i));
  }

  // Topological order of the units (Kahn), earliest anchor first.
  const std::size_t n_units = units.size();
  std::map<std::string, int> unit_producer;
  for (std::size_t u = 0; u < n_units; ++u) {
    for (const std::string& out : units[u].outputs) {
      if (!out.empty()) unit_producer[out] = static_cast<int>(u);
    }
  }
  std::vector<std::vector<int>> succ(n_units);
  std::vector<int> indegree(n_units, 0);
  for (std::size_t u = 0; u < n_units; ++u) {
    std::set<int> preds;
    for (const std::string& name : unit_reads[u]) {
      auto it = unit_producer.find(name);
      if (it != unit_producer.end() && it->second != static_cast<int>(u)) preds.insert(it->second);
    }
    for (int p : preds) {
      succ[static_cast<std::size_t>(p)].push_back(static_cast<int>(u));
      ++indegree[u];
    }
  }
  using Item = std::pair<int, int>;  // anchor, unit
  std::priority_queue<Item, std::vector<Item>, std::greater<>> ready;
  for (std::size_t u = 0; u < n_units; ++u) {
    if (indegree[u] == 0) ready.push({unit_anchor[u], static_cast<int>(u)});
  }
  ir::Graph out;
  out.name = graph.name;
  out.inputs = graph.inputs;
  out.outputs = graph.outputs;
  out.value_info = graph.value_info;
  while (!ready.empty()) {
    const int u = ready.top().second;
    ready.pop();
    out.nodes.push_back(std::move(units[static_cast<std::size_t>(u)]));
    for (int s : succ[static_cast<std::size_t>(u)]) {
      if (--indegree[static_cast<std::size_t>(s)] == 0) {
        ready.push({unit_anchor[static_cast<std::size_t>(s)], s});
      }
    }
  }
  if (out.nodes.size() != n_units) {
    return Internal("XNNPACK partition of graph '" + graph.name + "' produced a cycle");
  }
  // Initializers the outer graph still reads.
  std::set<std::string> still_read(graph_outputs.begin(), graph_outputs.end());
  for (const ir::Node& n : out.nodes) {
    const bool is_region = n.op_type == kXnnpackRegionOp && n.domain == kXnnpackDomain;
    for (const std::string& name : is_region ? n.inputs : ReadNames(n)) still_read.insert(name);
  }
  for (const auto& [name, t] : graph.initializers) {
    if (still_read.count(name)) out.initializers[name] = t;
  }
  return out;
}

}  // namespace deepedge::engine
