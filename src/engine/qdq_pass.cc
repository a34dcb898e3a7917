#include "engine/qdq_pass.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/kernels/fixed_point.h"

namespace deepedge::engine {
namespace {

using i64 = std::int64_t;

constexpr int kFarAway = 1 << 20;  // reader count of values that must survive

bool IsOnnx(const ir::Node& n) {
  return n.domain.empty() || n.domain == "ai.onnx";
}
bool Is(const ir::Node& n, const char* op) {
  return IsOnnx(n) && n.op_type == op;
}
bool IsQType(DType t) {
  return t == DType::kI8 || t == DType::kU8;
}
std::int32_t TypeMin(DType t) {
  return t == DType::kI8 ? -128 : 0;
}
std::int32_t TypeMax(DType t) {
  return t == DType::kI8 ? 127 : 255;
}

// Values read by nested graphs (also their outputs, which may name outer values).
void CollectNestedReads(const ir::Graph& g, std::set<std::string>& reads) {
  for (const ir::Node& n : g.nodes) {
    for (const std::string& in : n.inputs) reads.insert(in);
    for (const auto& [k, a] : n.attributes) {
      std::vector<const ir::Graph*> subs;
      if (a.graph) subs.push_back(a.graph.get());
      for (const auto& s : a.graphs) subs.push_back(s.get());
      for (const ir::Graph* s : subs) {
        CollectNestedReads(*s, reads);
        for (const ir::ValueInfo& o : s->outputs) reads.insert(o.name);
      }
    }
  }
}

class Fuser {
 public:
  Fuser(ir::Graph& g, const QdqOptions& options) : g_(g), options_(options) {}

  Expected<QdqFusionStats> Run() {
    HoistConstants();
    const std::size_t before = g_.nodes.size();
    Index();
    replacement_.assign(g_.nodes.size(), std::nullopt);
    removed_.assign(g_.nodes.size(), false);
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const ir::Node& n = g_.nodes[i];
      if (!Is(n, "QuantizeLinear") || removed_[i]) continue;
      if (TryDqQ(i)) continue;
      if (TryCore(i)) continue;
      if (TryLookup(i)) continue;
      TryMove(i);
    }
    std::vector<ir::Node> nodes;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      if (replacement_[i]) {
        for (ir::Node& r : *replacement_[i]) nodes.push_back(std::move(r));
      } else if (!removed_[i]) {
        nodes.push_back(std::move(g_.nodes[i]));
      }
    }
    for (ir::Node& n : nodes) {
      for (std::string& in : n.inputs) in = Resolve(in);
    }
    g_.nodes = std::move(nodes);
    RemoveDeadCandidates();
    stats_.nodes_removed = static_cast<int>(before) - static_cast<int>(g_.nodes.size());
    return stats_;
  }

 private:
  struct Dq {
    std::size_t node = 0;
    std::string input;
    const Tensor* constant = nullptr;  // the quantized input, when an initializer
    std::optional<DType> type;         // of the quantized input, where known
    std::vector<float> scale;
    std::vector<std::int32_t> zp;  // one per scale
    i64 axis = 1;
    bool per_axis = false;
  };
  struct Q {
    float scale = 0;
    std::int32_t zp = 0;
    DType type = DType::kU8;
  };

  // Constant nodes become initializers, so that scales and weights are found.
  void HoistConstants() {
    std::set<std::string> outs;
    for (const ir::ValueInfo& v : g_.outputs) outs.insert(v.name);
    std::vector<ir::Node> kept;
    for (ir::Node& n : g_.nodes) {
      const ir::Attribute* value = n.Find("value");
      if (Is(n, "Constant") && n.outputs.size() == 1 && value != nullptr && value->tensor &&
          !outs.count(n.outputs[0]) && !g_.initializers.count(n.outputs[0])) {
        g_.initializers[n.outputs[0]] = value->tensor;
        continue;
      }
      kept.push_back(std::move(n));
    }
    g_.nodes = std::move(kept);
  }

  void Index() {
    producer_.clear();
    readers_.clear();
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      for (const std::string& o : g_.nodes[i].outputs) {
        if (!o.empty()) producer_[o] = i;
      }
      for (const std::string& in : g_.nodes[i].inputs) {
        if (!in.empty()) ++readers_[in];
      }
    }
    std::set<std::string> nested;
    for (const ir::Node& n : g_.nodes) {
      for (const auto& [k, a] : n.attributes) {
        if (a.graph) CollectNestedReads(*a.graph, nested);
        for (const auto& s : a.graphs) CollectNestedReads(*s, nested);
      }
    }
    for (const std::string& v : nested) readers_[v] += kFarAway;
    for (const ir::ValueInfo& v : g_.outputs) readers_[v.name] += kFarAway;
  }

  const Tensor* Const(const std::string& name) const {
    auto it = g_.initializers.find(name);
    return it == g_.initializers.end() ? nullptr : it->second.get();
  }
  // The single node producing `v` if `v` has exactly one reader.
  std::optional<std::size_t> SoleProducer(const std::string& v) const {
    auto r = readers_.find(v);
    if (r == readers_.end() || r->second != 1) return std::nullopt;
    return Producer(v);
  }
  std::optional<std::size_t> Producer(const std::string& v) const {
    auto it = producer_.find(v);
    if (it == producer_.end() || removed_[it->second] || replacement_[it->second]) {
      return std::nullopt;
    }
    return it->second;
  }

  std::optional<DType> KnownType(const std::string& v) const {
    if (const Tensor* t = Const(v)) return t->dtype();
    if (auto p = producer_.find(v); p != producer_.end()) {
      const ir::Node& n = g_.nodes[p->second];
      if (Is(n, "QuantizeLinear") && !n.Has("output_dtype")) {
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
          if (const Tensor* z = Const(n.inputs[2])) return z->dtype();
          return std::nullopt;
        }
        return DType::kU8;
      }
    }
    for (const auto* list : {&g_.inputs, &g_.value_info}) {
      for (const ir::ValueInfo& vi : *list) {
        if (vi.name == v) return vi.dtype;
      }
    }
    return std::nullopt;
  }

  std::optional<i64> KnownRank(const std::string& v) const {
    if (const Tensor* t = Const(v)) return static_cast<i64>(t->shape().rank());
    for (const auto* list : {&g_.inputs, &g_.value_info, &g_.outputs}) {
      for (const ir::ValueInfo& vi : *list) {
        if (vi.name == v && vi.shape) return static_cast<i64>(vi.shape->rank());
      }
    }
    return std::nullopt;
  }

  static std::optional<std::vector<float>> Floats(const Tensor* t) {
    if (t == nullptr || t->dtype() != DType::kF32) return std::nullopt;
    auto s = t->as<float>();
    std::vector<float> v(s.begin(), s.end());
    for (float f : v) {
      if (!std::isfinite(f) || f <= 0) return std::nullopt;
    }
    if (v.empty()) return std::nullopt;
    return v;
  }
  static std::optional<std::vector<std::int32_t>> Ints(const Tensor* t) {
    if (t == nullptr) return std::nullopt;
    std::vector<std::int32_t> v;
    switch (t->dtype()) {
      case DType::kI8:
        for (auto x : t->as<std::int8_t>()) v.push_back(x);
        break;
      case DType::kU8:
        for (auto x : t->as<std::uint8_t>()) v.push_back(x);
        break;
      case DType::kI32:
        for (auto x : t->as<std::int32_t>()) v.push_back(x);
        break;
      default:
        return std::nullopt;
    }
    return v;
  }

  // The DequantizeLinear producing `v` (any number of readers).
  std::optional<Dq> ParseDq(const std::string& v) const {
    auto p = Producer(v);
    if (!p) return std::nullopt;
    const ir::Node& n = g_.nodes[*p];
    if (!Is(n, "DequantizeLinear") || n.inputs.size() < 2 || n.inputs[0].empty()) {
      return std::nullopt;
    }
    if (n.Has("block_size") && n.GetInt("block_size", 0) != 0) return std::nullopt;
    Dq d;
    d.node = *p;
    d.input = n.inputs[0];
    d.constant = Const(d.input);
    auto scale = Floats(Const(n.inputs[1]));
    if (!scale) return std::nullopt;
    d.scale = *scale;
    const Tensor* zt = n.inputs.size() > 2 && !n.inputs[2].empty() ? Const(n.inputs[2]) : nullptr;
    if (n.inputs.size() > 2 && !n.inputs[2].empty() && zt == nullptr) return std::nullopt;
    if (zt != nullptr) {
      auto z = Ints(zt);
      if (!z || z->size() != d.scale.size()) return std::nullopt;
      d.zp = *z;
      d.type = zt->dtype();
    } else {
      d.zp.assign(d.scale.size(), 0);
    }
    if (d.constant != nullptr) {
      if (d.type && *d.type != d.constant->dtype()) return std::nullopt;
      d.type = d.constant->dtype();
    }
    if (!d.type) d.type = KnownType(d.input);
    const Tensor* st = Const(n.inputs[1]);
    d.per_axis = st->shape().rank() >= 1 && st->element_count() > 1;
    if (st->shape().rank() > 1) return std::nullopt;
    d.axis = n.GetInt("axis", 1);
    return d;
  }

  // A per-tensor activation DequantizeLinear of an i8 / u8 value.
  std::optional<Dq> ActivationDq(const std::string& v) const {
    auto d = ParseDq(v);
    if (!d || d->per_axis || !d->type || !IsQType(*d->type)) return std::nullopt;
    return d;
  }

  std::optional<Q> ParseQ(const ir::Node& n) const {
    if (n.inputs.size() < 2 || n.outputs.empty() || n.outputs[0].empty()) return std::nullopt;
    if (n.Has("output_dtype") || n.Has("block_size")) return std::nullopt;
    if (n.GetInt("saturate", 1) != 1) return std::nullopt;
    auto scale = Floats(Const(n.inputs[1]));
    if (!scale || scale->size() != 1) return std::nullopt;
    Q q;
    q.scale = (*scale)[0];
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const Tensor* zt = Const(n.inputs[2]);
      auto z = Ints(zt);
      if (!z || z->size() != 1 || !IsQType(zt->dtype())) return std::nullopt;
      q.zp = (*z)[0];
      q.type = zt->dtype();
    }
    return q;
  }

  static void SetQuantOut(ir::Node& n, const Q& q, std::int32_t lo, std::int32_t hi) {
    n.attributes["y_scale"] = ir::Attribute::Float(q.scale);
    n.attributes["y_zero_point"] = ir::Attribute::Int(q.zp);
    n.attributes["y_type"] = ir::Attribute::String(q.type == DType::kI8 ? "i8" : "u8");
    if (lo > TypeMin(q.type)) n.attributes["act_min"] = ir::Attribute::Int(lo);
    if (hi < TypeMax(q.type)) n.attributes["act_max"] = ir::Attribute::Int(hi);
  }
  void SetRequant(ir::Node& n) const {
    if (options_.requantization == Requantization::kFloat) {
      n.attributes["requant"] = ir::Attribute::String("float");
    }
  }

  static void SetQuantIn(ir::Node& n, const std::string& prefix, const Dq& d) {
    n.attributes[prefix + "_scale"] = ir::Attribute::Float(d.scale[0]);
    n.attributes[prefix + "_zero_point"] = ir::Attribute::Int(d.zp[0]);
  }

  // Output clamp of a Relu / Clip in the quantized domain; nullopt when `act` is not one.
  std::optional<std::pair<std::int32_t, std::int32_t>> ActRange(const ir::Node& act,
                                                                const Q& q) const {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    if (Is(act, "Relu")) {
      lo = 0;
    } else if (Is(act, "Clip")) {
      if (act.opset > 0 && act.opset < 11) {
        lo = act.GetFloat("min", -std::numeric_limits<float>::max());
        hi = act.GetFloat("max", std::numeric_limits<float>::max());
      } else {
        for (std::size_t k = 1; k <= 2; ++k) {
          if (act.inputs.size() <= k || act.inputs[k].empty()) continue;
          const Tensor* t = Const(act.inputs[k]);
          if (t == nullptr || t->dtype() != DType::kF32 || t->element_count() != 1) {
            return std::nullopt;
          }
          (k == 1 ? lo : hi) = t->as<float>()[0];
        }
      }
    } else {
      return std::nullopt;
    }
    auto quant = [&](double f) {
      const double v = std::round(f / static_cast<double>(q.scale)) + q.zp;
      return static_cast<std::int32_t>(std::clamp<double>(v, TypeMin(q.type), TypeMax(q.type)));
    };
    std::int32_t qlo = TypeMin(q.type), qhi = TypeMax(q.type);
    if (std::isfinite(lo)) qlo = quant(lo);
    if (std::isfinite(hi)) qhi = quant(hi);
    if (qlo > qhi) return std::nullopt;
    return std::make_pair(qlo, qhi);
  }

  // q's input through an optional activation: the core node, and the clamp.
  struct Chain {
    std::size_t core = 0;
    std::optional<std::size_t> act;
    std::int32_t lo = 0, hi = 0;
  };
  std::optional<Chain> FindChain(std::size_t qi, const Q& q, bool allow_act) const {
    auto p = SoleProducer(g_.nodes[qi].inputs[0]);
    if (!p) return std::nullopt;
    Chain c;
    c.lo = TypeMin(q.type);
    c.hi = TypeMax(q.type);
    const ir::Node& pn = g_.nodes[*p];
    if (allow_act && (Is(pn, "Relu") || Is(pn, "Clip")) && !pn.inputs.empty()) {
      auto range = ActRange(pn, q);
      auto core = SoleProducer(pn.inputs[0]);
      if (range && core && g_.nodes[*core].outputs.size() >= 1) {
        c.act = *p;
        c.core = *core;
        c.lo = range->first;
        c.hi = range->second;
        return c;
      }
    }
    c.core = *p;
    return c;
  }

  // The core node's single (wanted) output must be the one the chain follows.
  bool SingleOutput(const ir::Node& n) const {
    std::size_t wanted = 0;
    for (const std::string& o : n.outputs) wanted += o.empty() ? 0 : 1;
    return wanted == 1 && !n.outputs[0].empty();
  }

  void Commit(std::size_t qi, const Chain& c, ir::Node fused, std::vector<std::size_t> dqs,
              bool own_domain = true) {
    const ir::Node& qn = g_.nodes[qi];
    if (own_domain) {
      fused.domain = "com.deepedge";
      fused.opset = 1;
    }
    fused.outputs = {qn.outputs[0]};
    if (fused.name.empty()) fused.name = qn.outputs[0];
    removed_[c.core] = true;
    if (c.act) removed_[*c.act] = true;
    std::vector<ir::Node> nodes = std::move(pre_);
    pre_.clear();
    nodes.push_back(std::move(fused));
    replacement_[qi] = std::move(nodes);
    for (std::size_t d : dqs) dead_candidates_.insert(g_.nodes[d].outputs[0]);
  }

  std::string FreshValue(const std::string& base) const {
    std::string name = base;
    for (int i = 1; g_.initializers.count(name) || producer_.count(name) || readers_.count(name);
         ++i) {
      name = base + "_" + std::to_string(i);
    }
    return name;
  }

  // The quantized input of a Gemm / MatMul: a dq, or a Flatten / Reshape of one (whose
  // only reader is the Gemm), which then moves onto the quantized values. The moved
  // node goes to pre_ and its original to `moved`.
  std::optional<Dq> GemmInput(const std::string& v, std::optional<std::size_t>& moved) {
    moved.reset();
    if (auto d = ActivationDq(v)) return d;
    auto p = SoleProducer(v);
    if (!p) return std::nullopt;
    const ir::Node& f = g_.nodes[*p];
    if (!(Is(f, "Flatten") || Is(f, "Reshape")) || f.inputs.empty() || !SingleOutput(f)) {
      return std::nullopt;
    }
    auto d = ActivationDq(f.inputs[0]);
    if (!d) return std::nullopt;
    ir::Node m = f;
    m.inputs[0] = d->input;
    m.outputs = {FreshValue(v + "_q8")};
    g_.value_info.push_back({m.outputs[0], *d->type, std::nullopt});
    d->input = m.outputs[0];
    pre_.push_back(std::move(m));
    moved = *p;
    return d;
  }

  // dq -> data movement -> q with identical parameters everywhere: the op runs on the
  // quantized values directly (Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
  // Identity, Concat of inputs that all have those parameters).
  bool TryMove(std::size_t qi) {
    const ir::Node& qn = g_.nodes[qi];
    auto q = ParseQ(qn);
    if (!q) return false;
    auto p = SoleProducer(qn.inputs[0]);
    if (!p) return false;
    const ir::Node& op = g_.nodes[*p];
    static const std::set<std::string> kMoves = {"Reshape",   "Flatten",  "Squeeze", "Unsqueeze",
                                                 "Transpose", "Identity", "Concat"};
    if (!IsOnnx(op) || !kMoves.count(op.op_type) || !SingleOutput(op) || op.inputs.empty()) {
      return false;
    }
    // Data inputs: all of Concat's, the first of the others (shapes / axes stay).
    const std::size_t data = op.op_type == "Concat" ? op.inputs.size() : 1;
    ir::Node m = op;
    std::vector<std::size_t> dqs;
    for (std::size_t k = 0; k < data; ++k) {
      auto d = ActivationDq(op.inputs[k]);
      if (!d || *d->type != q->type || d->scale[0] != q->scale || d->zp[0] != q->zp) return false;
      m.inputs[k] = d->input;
      dqs.push_back(d->node);
    }
    Chain c;
    c.core = *p;
    Commit(qi, c, std::move(m), dqs, false);
    g_.value_info.push_back({qn.outputs[0], q->type, std::nullopt});
    ++stats_.moved;
    return true;
  }

  std::string NewInitializer(const std::string& base, std::shared_ptr<const Tensor> t) {
    std::string name = base;
    for (int i = 1; g_.initializers.count(name) || producer_.count(name); ++i) {
      name = base + "_" + std::to_string(i);
    }
    g_.initializers[name] = std::move(t);
    return name;
  }

  // The int32 bias at scale x_scale * w_scale[m]: the dq'd i32 constant as it is
  // when its scale already is that, else requantized from its real value; a float
  // constant is quantized. "" (and true) when there is no bias; false when it
  // cannot be used.
  bool Bias(const std::string& name, i64 M, float x_scale, const std::vector<float>& w_scale,
            std::string& out, std::vector<std::size_t>& dqs) {
    out.clear();
    if (name.empty()) return true;
    std::vector<double> real;
    const Tensor* raw_i32 = nullptr;
    std::optional<Dq> d = ParseDq(name);
    if (d) {
      if (d->constant == nullptr || d->constant->dtype() != DType::kI32) return false;
      if (d->constant->element_count() != M) return false;
      if (d->scale.size() != 1 && static_cast<i64>(d->scale.size()) != M) return false;
      auto v = d->constant->as<std::int32_t>();
      bool exact = true;
      for (i64 m = 0; m < M; ++m) {
        const auto mi = static_cast<std::size_t>(m);
        const std::size_t si = d->scale.size() == 1 ? 0 : mi;
        const double s = d->scale[si];
        const double want = static_cast<double>(x_scale) * w_scale[w_scale.size() == 1 ? 0 : mi];
        if (d->zp[si] != 0 || std::fabs(s - want) > 1e-6 * want) exact = false;
        real.push_back((static_cast<double>(v[mi]) - d->zp[si]) * s);
      }
      if (exact) raw_i32 = d->constant;
      dqs.push_back(d->node);
      if (raw_i32 != nullptr) {
        out = d->input;
        return true;
      }
    } else {
      const Tensor* t = Const(name);
      if (t == nullptr || t->dtype() != DType::kF32 || t->element_count() != M) return false;
      for (float f : t->as<float>()) real.push_back(f);
    }
    auto q = Tensor::Allocate(DType::kI32, Shape{M});
    if (!q) return false;
    for (i64 m = 0; m < M; ++m) {
      const auto mi = static_cast<std::size_t>(m);
      const double s = static_cast<double>(x_scale) * w_scale[w_scale.size() == 1 ? 0 : mi];
      const double v = std::round(real[mi] / s);
      if (!(std::fabs(v) < 2147483647.0)) return false;
      q->as<std::int32_t>()[mi] = static_cast<std::int32_t>(v);
    }
    out = NewInitializer(name + "_qbias", std::make_shared<const Tensor>(std::move(q).value()));
    return true;
  }

  // A constant weight dq: i8 / u8, per tensor or per `channel_axis` with M scales.
  std::optional<Dq> WeightDq(const std::string& v, std::size_t rank, i64 channel_axis,
                             i64 M) const {
    auto d = ParseDq(v);
    if (!d || d->constant == nullptr || !IsQType(d->constant->dtype())) return std::nullopt;
    if (d->constant->shape().rank() != rank) return std::nullopt;
    if (d->per_axis) {
      i64 axis = d->axis < 0 ? d->axis + static_cast<i64>(rank) : d->axis;
      if (axis != channel_axis || static_cast<i64>(d->scale.size()) != M) return std::nullopt;
    }
    return d;
  }

  static std::vector<i64> ToI64(const std::vector<std::int32_t>& v) {
    return std::vector<i64>(v.begin(), v.end());
  }

  bool TryCore(std::size_t qi) {
    const ir::Node& qn = g_.nodes[qi];
    auto q = ParseQ(qn);
    if (!q) return false;
    auto chain = FindChain(qi, *q, true);
    if (!chain) return false;
    const ir::Node& core = g_.nodes[chain->core];
    if (!IsOnnx(core) || !SingleOutput(core)) return false;
    const std::string& op = core.op_type;
    if (op == "Conv") return FuseConv(qi, *q, *chain);
    if (op == "Gemm" || op == "MatMul") return FuseGemm(qi, *q, *chain);
    if (op == "Add" || op == "Mul") return FuseBinary(qi, *q, *chain);
    if (op == "AveragePool" || op == "MaxPool" || op == "GlobalAveragePool" || op == "ReduceMean") {
      return FusePool(qi, *q, *chain);
    }
    return false;
  }

  bool FuseConv(std::size_t qi, const Q& q, const Chain& c) {
    const ir::Node& core = g_.nodes[c.core];
    if (core.inputs.size() < 2) return false;
    auto x = ActivationDq(core.inputs[0]);
    if (!x) return false;
    auto wt = ParseDq(core.inputs[1]);
    if (!wt || wt->constant == nullptr || wt->constant->shape().rank() != 4) return false;
    const i64 M = wt->constant->shape()[0];
    auto w = WeightDq(core.inputs[1], 4, 0, M);
    if (!w) return false;
    std::vector<std::size_t> dqs = {x->node, w->node};
    std::string bias;
    if (!Bias(core.inputs.size() > 2 ? core.inputs[2] : "", M, x->scale[0], w->scale, bias, dqs)) {
      return false;
    }
    ir::Node f;
    f.name = core.name;
    f.op_type = "QConv";
    f.inputs = {x->input, w->input};
    if (!bias.empty()) f.inputs.push_back(bias);
    for (const char* a : {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"}) {
      if (const ir::Attribute* v = core.Find(a)) f.attributes[a] = *v;
    }
    SetQuantIn(f, "x", *x);
    f.attributes["w_scale"] = ir::Attribute::Floats(w->scale);
    f.attributes["w_zero_point"] = ir::Attribute::Ints(ToI64(w->zp));
    SetQuantOut(f, q, c.lo, c.hi);
    SetRequant(f);
    Commit(qi, c, std::move(f), dqs);
    ++stats_.conv;
    return true;
  }

  bool FuseGemm(std::size_t qi, const Q& q, const Chain& c) {
    const ir::Node& core = g_.nodes[c.core];
    const bool matmul = core.op_type == "MatMul";
    if (core.inputs.size() < 2) return false;
    bool trans_b = false;
    if (!matmul) {
      if (core.GetInt("transA", 0) != 0 || core.GetFloat("alpha", 1) != 1.0f) return false;
      if (core.inputs.size() > 2 && !core.inputs[2].empty() && core.GetFloat("beta", 1) != 1.0f) {
        return false;
      }
      trans_b = core.GetInt("transB", 0) != 0;
    }
    auto wt = ParseDq(core.inputs[1]);
    if (!wt || wt->constant == nullptr || wt->constant->shape().rank() != 2) return false;
    const Shape& ws = wt->constant->shape();
    const i64 N = trans_b ? ws[0] : ws[1];
    const i64 K = trans_b ? ws[1] : ws[0];
    auto w = WeightDq(core.inputs[1], 2, trans_b ? 0 : 1, N);
    if (!w) return false;
    std::optional<std::size_t> moved;
    auto x = GemmInput(core.inputs[0], moved);
    if (!x) return false;
    std::vector<std::size_t> dqs = {x->node, w->node};
    std::string bias;
    if (!Bias(!matmul && core.inputs.size() > 2 ? core.inputs[2] : "", N, x->scale[0], w->scale,
              bias, dqs)) {
      pre_.clear();
      if (moved) g_.value_info.pop_back();
      return false;
    }
    if (moved) removed_[*moved] = true;
    std::string wname = w->input;
    if (!trans_b) {
      // QGemm wants [N, K]: a transposed copy (the original may have other readers).
      auto t = Tensor::Allocate(w->constant->dtype(), Shape{N, K});
      if (!t) {
        pre_.clear();
        return false;
      }
      const auto* src = static_cast<const std::uint8_t*>(w->constant->data());
      auto* dst = static_cast<std::uint8_t*>(t->data());
      for (i64 k = 0; k < K; ++k)
        for (i64 n = 0; n < N; ++n) dst[n * K + k] = src[k * N + n];
      wname =
          NewInitializer(w->input + "_nk", std::make_shared<const Tensor>(std::move(t).value()));
    }
    ir::Node f;
    f.name = core.name;
    f.op_type = "QGemm";
    f.inputs = {x->input, wname};
    if (!bias.empty()) f.inputs.push_back(bias);
    SetQuantIn(f, "x", *x);
    f.attributes["w_scale"] = ir::Attribute::Floats(w->scale);
    f.attributes["w_zero_point"] = ir::Attribute::Ints(ToI64(w->zp));
    SetQuantOut(f, q, c.lo, c.hi);
    SetRequant(f);
    Commit(qi, c, std::move(f), dqs);
    ++stats_.gemm;
    return true;
  }

  bool FuseBinary(std::size_t qi, const Q& q, const Chain& c) {
    const ir::Node& core = g_.nodes[c.core];
    if (core.inputs.size() != 2) return false;
    auto a = ActivationDq(core.inputs[0]);
    auto b = ActivationDq(core.inputs[1]);
    if (!a || !b) return false;
    ir::Node f;
    f.name = core.name;
    const bool mul = core.op_type == "Mul";
    f.op_type = mul ? "QMul" : "QAdd";
    f.inputs = {a->input, b->input};
    SetQuantIn(f, "a", *a);
    SetQuantIn(f, "b", *b);
    SetQuantOut(f, q, c.lo, c.hi);
    SetRequant(f);
    Commit(qi, c, std::move(f), {a->node, b->node});
    ++(mul ? stats_.mul : stats_.add);
    return true;
  }

  bool FusePool(std::size_t qi, const Q& q, const Chain& c) {
    const ir::Node& core = g_.nodes[c.core];
    if (core.inputs.empty()) return false;
    auto x = ActivationDq(core.inputs[0]);
    if (!x) return false;
    const auto rank = KnownRank(core.inputs[0]).value_or(KnownRank(x->input).value_or(4));
    if (rank != 4) return false;
    ir::Node f;
    f.name = core.name;
    const std::string& op = core.op_type;
    if (op == "AveragePool" || op == "MaxPool") {
      if (core.GetInts("kernel_shape").size() != 2) return false;
      if (op == "AveragePool" && core.Has("dilations") &&
          core.GetInts("dilations") != std::vector<i64>{1, 1}) {
        return false;
      }
      f.op_type = op == "MaxPool" ? "QMaxPool" : "QAveragePool";
      for (const char* a : {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode",
                            "count_include_pad"}) {
        if (const ir::Attribute* v = core.Find(a)) f.attributes[a] = *v;
      }
    } else if (op == "GlobalAveragePool") {
      f.op_type = "QGlobalAveragePool";
    } else {  // ReduceMean over H, W
      std::vector<i64> axes = core.GetInts("axes");
      if (core.inputs.size() > 1 && !core.inputs[1].empty()) {
        const Tensor* t = Const(core.inputs[1]);
        if (t == nullptr || t->dtype() != DType::kI64) return false;
        axes.assign(t->as<i64>().begin(), t->as<i64>().end());
      }
      for (i64& a : axes) a = a < 0 ? a + 4 : a;
      std::sort(axes.begin(), axes.end());
      if (axes != std::vector<i64>{2, 3}) return false;
      f.op_type = "QGlobalAveragePool";
      f.attributes["keepdims"] = ir::Attribute::Int(core.GetInt("keepdims", 1));
    }
    f.inputs = {x->input};
    SetQuantIn(f, "x", *x);
    SetQuantOut(f, q, c.lo, c.hi);
    Commit(qi, c, std::move(f), {x->node});
    ++stats_.pool;
    return true;
  }

  // dq -> element-wise function -> q as a 256-entry table, computed in float as the
  // float kernels would (then rounded half to even, as QuantizeLinear does).
  bool TryLookup(std::size_t qi) {
    const ir::Node& qn = g_.nodes[qi];
    auto q = ParseQ(qn);
    if (!q) return false;
    auto p = SoleProducer(qn.inputs[0]);
    if (!p) return false;
    const ir::Node& fn = g_.nodes[*p];
    if (!IsOnnx(fn) || fn.inputs.empty() || !SingleOutput(fn)) return false;
    auto x = ActivationDq(fn.inputs[0]);
    if (!x) return false;
    std::function<double(double)> f;
    const std::string& op = fn.op_type;
    if (op == "Sigmoid") {
      f = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    } else if (op == "Tanh") {
      f = [](double v) { return std::tanh(v); };
    } else if (op == "Relu") {
      f = [](double v) { return std::max(v, 0.0); };
    } else if (op == "LeakyRelu") {
      const double alpha = fn.GetFloat("alpha", 0.01f);
      f = [alpha](double v) { return v >= 0 ? v : alpha * v; };
    } else if (op == "HardSigmoid") {
      const double alpha = fn.GetFloat("alpha", 0.2f), beta = fn.GetFloat("beta", 0.5f);
      f = [alpha, beta](double v) { return std::clamp(alpha * v + beta, 0.0, 1.0); };
    } else if (op == "HardSwish") {
      f = [](double v) { return v * std::clamp(v / 6.0 + 0.5, 0.0, 1.0); };
    } else if (op == "Clip") {
      auto range = ActRange(fn, *q);
      if (!range) return false;
      // Clip's bounds are applied in the output's quantized domain below.
      f = [](double v) { return v; };
    } else {
      return false;
    }
    std::int32_t lo = TypeMin(q->type), hi = TypeMax(q->type);
    if (op == "Clip") {
      auto range = ActRange(fn, *q);
      lo = range->first;
      hi = range->second;
    }
    std::vector<i64> table(256);
    const std::int32_t in_min = TypeMin(*x->type);
    for (std::int32_t i = 0; i < 256; ++i) {
      const float real = static_cast<float>(i + in_min - x->zp[0]) * x->scale[0];
      const auto y = static_cast<float>(f(static_cast<double>(real)));
      const double v = std::nearbyint(static_cast<double>(y / q->scale)) + q->zp;
      table[static_cast<std::size_t>(i)] = static_cast<i64>(std::clamp<double>(v, lo, hi));
    }
    ir::Node l;
    l.name = fn.name;
    l.op_type = "QLookup";
    l.inputs = {x->input};
    l.attributes["table"] = ir::Attribute::Ints(std::move(table));
    SetQuantOut(l, *q, TypeMin(q->type), TypeMax(q->type));
    Chain c;
    c.core = *p;
    Commit(qi, c, std::move(l), {x->node});
    ++stats_.lookup;
    return true;
  }

  // dq -> q with the same parameters is the identity on the quantized values.
  bool TryDqQ(std::size_t qi) {
    const ir::Node& qn = g_.nodes[qi];
    auto q = ParseQ(qn);
    if (!q) return false;
    auto d = ActivationDq(qn.inputs[0]);
    if (!d || *d->type != q->type || d->scale[0] != q->scale || d->zp[0] != q->zp) return false;
    const std::string& out = qn.outputs[0];
    if (readers_[out] >= kFarAway) return false;  // a graph output or read by a nested graph
    rename_[out] = d->input;
    removed_[qi] = true;
    dead_candidates_.insert(g_.nodes[d->node].outputs[0]);
    ++stats_.qdq_removed;
    return true;
  }

  std::string Resolve(const std::string& v) const {
    std::string cur = v;
    for (int i = 0; i < 1000; ++i) {
      auto it = rename_.find(cur);
      if (it == rename_.end()) break;
      cur = it->second;
    }
    return cur;
  }

  // Removes the dq nodes the fusions bypassed, when nothing reads them any more.
  void RemoveDeadCandidates() {
    for (bool changed = true; changed;) {
      changed = false;
      Index();
      std::vector<ir::Node> kept;
      for (ir::Node& n : g_.nodes) {
        const bool dead = Is(n, "DequantizeLinear") && n.outputs.size() == 1 &&
                          dead_candidates_.count(n.outputs[0]) && readers_[n.outputs[0]] == 0;
        if (dead) {
          changed = true;
        } else {
          kept.push_back(std::move(n));
        }
      }
      g_.nodes = std::move(kept);
    }
  }

  ir::Graph& g_;
  std::map<std::string, std::size_t> producer_;
  std::map<std::string, int> readers_;
  std::vector<std::optional<std::vector<ir::Node>>> replacement_;
  std::vector<bool> removed_;
  std::map<std::string, std::string> rename_;
  std::set<std::string> dead_candidates_;
  std::vector<ir::Node> pre_;  // nodes to insert before the next committed one
  QdqFusionStats stats_;
  QdqOptions options_;
};

}  // namespace

Expected<QdqFusionStats> FuseQdq(ir::Graph& graph, const QdqOptions& options) {
  return Fuser(graph, options).Run();
}

}  // namespace deepedge::engine
