#include "engine/layout_pass.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace deepedge::engine {
namespace {

using Perm = std::vector<std::int64_t>;

const std::set<std::string>& UnaryOps() {
  static const std::set<std::string> ops = {"Relu",
                                            "Sigmoid",
                                            "Tanh",
                                            "LeakyRelu",
                                            "HardSwish",
                                            "HardSigmoid",
                                            "Exp",
                                            "Log",
                                            "Abs",
                                            "Neg",
                                            "Sqrt",
                                            "Reciprocal",
                                            "Floor",
                                            "Ceil",
                                            "Round",
                                            "Erf",
                                            "Sign",
                                            "Not",
                                            "Cast",
                                            "Identity",
                                            "Elu",
                                            "Selu",
                                            "Softplus",
                                            "Softsign",
                                            "Sin",
                                            "Cos",
                                            "Clip",
                                            "QuantizeLinear",
                                            "DequantizeLinear",
                                            "Celu",
                                            "Mish",
                                            "ThresholdedRelu",
                                            "IsNaN",
                                            "IsInf"};
  return ops;
}

const std::set<std::string>& BinaryOps() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul",   "Div",         "Max",
                                            "Min", "Pow", "Equal", "Less",        "Greater",
                                            "And", "Or",  "Xor",   "LessOrEqual", "GreaterOrEqual",
                                            "Mod"};
  return ops;
}

bool IsTranspose(const ir::Node& n) {
  return n.op_type == "Transpose" && n.domain.empty() && n.inputs.size() == 1 &&
         n.outputs.size() == 1 && n.Has("perm");
}

bool IsIdentityPerm(const Perm& p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != static_cast<std::int64_t>(i)) return false;
  }
  return true;
}

bool ValidPerm(const Perm& p) {
  std::vector<int> seen(p.size(), 0);
  for (std::int64_t v : p) {
    if (v < 0 || v >= static_cast<std::int64_t>(p.size()) || seen[static_cast<std::size_t>(v)]++) {
      return false;
    }
  }
  return true;
}

Perm Inverse(const Perm& p) {
  Perm inv(p.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    inv[static_cast<std::size_t>(p[i])] = static_cast<std::int64_t>(i);
  return inv;
}

// Elements of a dense row-major tensor permuted (out dim i = in dim p[i]).
Tensor Permute(const Tensor& in, const Perm& p) {
  const Shape& s = in.shape();
  const std::size_t rank = s.rank();
  std::vector<std::int64_t> od(rank), stride(rank, 1);
  for (std::size_t i = 0; i < rank; ++i) od[i] = s[static_cast<std::size_t>(p[i])];
  for (std::size_t i = rank; i-- > 1;) stride[i - 1] = stride[i] * s[i];
  Tensor out = std::move(Tensor::Allocate(in.dtype(), Shape(od))).value();
  const std::size_t es = DTypeSize(in.dtype());
  std::vector<std::int64_t> idx(rank, 0);
  const auto* src = static_cast<const std::byte*>(in.data());
  auto* dst = static_cast<std::byte*>(out.data());
  for (std::int64_t o = 0; o < out.element_count(); ++o) {
    std::int64_t off = 0;
    for (std::size_t i = 0; i < rank; ++i) off += idx[i] * stride[static_cast<std::size_t>(p[i])];
    std::memcpy(dst + static_cast<std::size_t>(o) * es, src + static_cast<std::size_t>(off) * es,
                es);
    for (std::size_t i = rank; i-- > 0;) {
      if (++idx[i] < od[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

void CollectNestedReads(const ir::Graph& g, std::set<std::string>& reads) {
  for (const ir::Node& n : g.nodes) {
    for (const auto& [k, a] : n.attributes) {
      auto visit = [&](const ir::Graph& sub) {
        for (const ir::Node& sn : sub.nodes) {
          for (const std::string& in : sn.inputs) reads.insert(in);
        }
        for (const ir::ValueInfo& o : sub.outputs) reads.insert(o.name);
        CollectNestedReads(sub, reads);
      };
      if (a.graph) visit(*a.graph);
      for (const auto& sg : a.graphs) visit(*sg);
    }
  }
}

class LayoutOptimizer {
 public:
  explicit LayoutOptimizer(ir::Graph& g) : g_(g) {
    for (const ir::ValueInfo& o : g_.outputs) pinned_.insert(o.name);
    CollectNestedReads(g_, pinned_);
  }

  void Run() {
    for (int round = 0; round < 10000; ++round) {
      if (Cancel()) continue;
      if (PushDown()) continue;
      break;
    }
    for (int round = 0; round < 10000; ++round) {
      if (Cancel()) continue;
      if (HoistAboveDequantize()) continue;
      break;
    }
    RemoveDeadTransposes();
  }

 private:
  struct Use {
    std::size_t node;
    std::size_t slot;
  };

  std::map<std::string, std::vector<Use>> Uses() const {
    std::map<std::string, std::vector<Use>> u;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      for (std::size_t s = 0; s < g_.nodes[i].inputs.size(); ++s) {
        if (!g_.nodes[i].inputs[s].empty()) u[g_.nodes[i].inputs[s]].push_back({i, s});
      }
    }
    return u;
  }
  std::map<std::string, std::size_t> Producers() const {
    std::map<std::string, std::size_t> p;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      for (const std::string& o : g_.nodes[i].outputs) p[o] = i;
    }
    return p;
  }
  std::string Fresh(const std::string& base) {
    return base + "/layout_" + std::to_string(counter_++);
  }
  const Tensor* Const(const std::string& name) const {
    auto it = g_.initializers.find(name);
    return it == g_.initializers.end() ? nullptr : it->second.get();
  }
  bool ScalarConst(const std::string& name) const {
    if (name.empty()) return true;
    const Tensor* t = Const(name);
    return t != nullptr && t->element_count() == 1;
  }

  // T2(T1(x)) with T1's permutation undone by T2: readers of T2 read x.
  bool Cancel() {
    const auto prod = Producers();
    const auto uses = Uses();
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      ir::Node& t2 = g_.nodes[i];
      if (!IsTranspose(t2)) continue;
      auto p = prod.find(t2.inputs[0]);
      if (p == prod.end() || !IsTranspose(g_.nodes[p->second])) continue;
      const ir::Node& t1 = g_.nodes[p->second];
      const Perm p1 = t1.GetInts("perm"), p2 = t2.GetInts("perm");
      if (p1.size() != p2.size() || !ValidPerm(p1) || !ValidPerm(p2)) continue;
      Perm composed(p1.size());
      for (std::size_t k = 0; k < p1.size(); ++k) composed[k] = p1[static_cast<std::size_t>(p2[k])];
      if (!IsIdentityPerm(composed)) continue;
      const std::string x = t1.inputs[0], y = t2.outputs[0];
      if (pinned_.count(y)) {
        t2.op_type = "Identity";
        t2.attributes.clear();
        t2.inputs[0] = x;
      } else {
        auto u = uses.find(y);
        if (u != uses.end()) {
          for (const Use& use : u->second) g_.nodes[use.node].inputs[use.slot] = x;
        }
        g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      }
      return true;
    }
    return false;
  }

  // Can node `e`, reading transposed value `t` (perm p), run on the untransposed value?
  // Fills `other` with the replacement inputs.
  bool Pushable(const ir::Node& e, const std::string& t, const Perm& p,
                const std::map<std::string, std::size_t>& prod,
                std::vector<std::string>& new_inputs,
                std::vector<std::pair<std::string, Tensor>>& new_consts, const std::string& x) {
    // E's output keeps its name and content (the moved Transpose restores it).
    if (!e.domain.empty() || e.outputs.size() != 1 || HasGraph(e)) {
      return false;
    }
    new_inputs = e.inputs;
    if (UnaryOps().count(e.op_type)) {
      if (e.inputs.empty() || e.inputs[0] != t) return false;
      for (std::size_t s = 1; s < e.inputs.size(); ++s) {
        if (!ScalarConst(e.inputs[s])) return false;
      }
      new_inputs[0] = x;
      return true;
    }
    if (!BinaryOps().count(e.op_type) || e.inputs.size() != 2) return false;
    for (std::size_t s = 0; s < 2; ++s) {
      const std::string& in = e.inputs[s];
      if (in == t) {
        new_inputs[s] = x;
        continue;
      }
      if (const Tensor* c = Const(in)) {
        if (c->element_count() == 1) continue;
        if (c->shape().rank() > p.size()) return false;
        // Broadcast to full rank (leading 1s), then store it pre-permuted.
        std::vector<std::int64_t> full(p.size() - c->shape().rank(), 1);
        for (std::int64_t d : c->shape().dims()) full.push_back(d);
        Tensor copy = c->Clone();
        auto reshaped = Tensor::Borrow(copy.dtype(), Shape(full), copy.data(), copy.byte_size());
        if (!reshaped) return false;
        const std::string name = Fresh(in);
        new_consts.emplace_back(name, Permute(*reshaped, Inverse(p)));
        new_inputs[s] = name;
        continue;
      }
      auto pr = prod.find(in);
      if (pr != prod.end() && IsTranspose(g_.nodes[pr->second]) &&
          g_.nodes[pr->second].GetInts("perm") == p) {
        new_inputs[s] = g_.nodes[pr->second].inputs[0];
        continue;
      }
      return false;
    }
    return true;
  }

  static bool HasGraph(const ir::Node& n) {
    for (const auto& [k, a] : n.attributes) {
      if (a.graph || !a.graphs.empty()) return true;
    }
    return false;
  }

  // Moves a Transpose below all its readers when each of them is element-wise.
  bool PushDown() {
    const auto prod = Producers();
    const auto uses = Uses();
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      if (!IsTranspose(g_.nodes[i])) continue;
      const ir::Node t = g_.nodes[i];
      const Perm p = t.GetInts("perm");
      if (!ValidPerm(p) || pinned_.count(t.outputs[0])) continue;
      auto u = uses.find(t.outputs[0]);
      if (u == uses.end()) continue;
      std::set<std::size_t> readers;
      for (const Use& use : u->second) readers.insert(use.node);
      struct Plan {
        std::size_t node;
        std::vector<std::string> inputs;
        std::vector<std::pair<std::string, Tensor>> consts;
      };
      std::vector<Plan> plans;
      bool ok = true;
      for (std::size_t r : readers) {
        Plan plan{r, {}, {}};
        if (!Pushable(g_.nodes[r], t.outputs[0], p, prod, plan.inputs, plan.consts, t.inputs[0])) {
          ok = false;
          break;
        }
        plans.push_back(std::move(plan));
      }
      if (!ok || plans.empty()) continue;
      // Rewrite from the last reader backwards so that indices stay valid.
      std::sort(plans.begin(), plans.end(),
                [](const Plan& a, const Plan& b) { return a.node > b.node; });
      for (Plan& plan : plans) {
        for (auto& [name, tensor] : plan.consts) {
          g_.initializers[name] = std::make_shared<const Tensor>(std::move(tensor));
        }
        ir::Node& e = g_.nodes[plan.node];
        const std::string out = e.outputs[0];
        const std::string inner = Fresh(out);
        e.inputs = plan.inputs;
        e.outputs[0] = inner;
        ir::Node nt;
        nt.name = Fresh(t.name);
        nt.op_type = "Transpose";
        nt.opset = t.opset;
        nt.inputs = {inner};
        nt.outputs = {out};
        nt.attributes = t.attributes;
        g_.nodes.insert(g_.nodes.begin() + static_cast<std::ptrdiff_t>(plan.node) + 1,
                        std::move(nt));
      }
      // The original Transpose has no readers left.
      g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
    return false;
  }

  // Transpose(DequantizeLinear(x)) -> DequantizeLinear(Transpose(x)) for per-tensor DQ
  // whose only reader is the Transpose.
  bool HoistAboveDequantize() {
    const auto prod = Producers();
    const auto uses = Uses();
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      if (!IsTranspose(g_.nodes[i])) continue;
      auto p = prod.find(g_.nodes[i].inputs[0]);
      if (p == prod.end()) continue;
      ir::Node& dq = g_.nodes[p->second];
      if (dq.op_type != "DequantizeLinear" || !dq.domain.empty() || dq.inputs.size() < 2) continue;
      if (!ScalarConst(dq.inputs[1]) || (dq.inputs.size() > 2 && !ScalarConst(dq.inputs[2])))
        continue;
      const std::string mid = dq.outputs[0];
      if (pinned_.count(mid)) continue;
      auto u = uses.find(mid);
      if (u == uses.end() || u->second.size() != 1) continue;
      if (Const(dq.inputs[0]) != nullptr) continue;  // constants: FoldConstants' job
      // New order: x -> Transpose -> mid' -> DequantizeLinear -> (Transpose's output).
      ir::Node t = g_.nodes[i];
      const std::string y = t.outputs[0];
      const std::string moved = Fresh(mid);
      t.inputs[0] = dq.inputs[0];
      t.outputs[0] = moved;
      dq.inputs[0] = moved;
      dq.outputs[0] = y;
      const std::size_t at = p->second;
      g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      g_.nodes.insert(g_.nodes.begin() + static_cast<std::ptrdiff_t>(at), std::move(t));
      return true;
    }
    return false;
  }

  void RemoveDeadTransposes() {
    for (bool changed = true; changed;) {
      changed = false;
      const auto uses = Uses();
      for (std::size_t i = g_.nodes.size(); i-- > 0;) {
        const ir::Node& n = g_.nodes[i];
        if (!IsTranspose(n) || pinned_.count(n.outputs[0]) || uses.count(n.outputs[0])) continue;
        g_.nodes.erase(g_.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        changed = true;
      }
    }
  }

  ir::Graph& g_;
  std::set<std::string> pinned_;
  int counter_ = 0;
};

int CountTransposes(const ir::Graph& g) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), IsTranspose));
}

}  // namespace

Expected<int> OptimizeLayout(ir::Graph& graph) {
  const int before = CountTransposes(graph);
  if (before == 0) return 0;
  ir::Graph work = graph;
  LayoutOptimizer(work).Run();
  const int after = CountTransposes(work);
  if (after >= before) return 0;
  // Initializers nothing reads any more (constants replaced by permuted copies) go.
  std::set<std::string> reads;
  for (const ir::Node& n : work.nodes) reads.insert(n.inputs.begin(), n.inputs.end());
  CollectNestedReads(work, reads);
  for (const ir::ValueInfo& o : work.outputs) reads.insert(o.name);
  for (auto it = work.initializers.begin(); it != work.initializers.end();) {
    if (!reads.count(it->first) && !graph.initializers.count(it->first)) {
      it = work.initializers.erase(it);
    } else {
      ++it;
    }
  }
  graph = std::move(work);
  return before - after;
}

}  // namespace deepedge::engine
