#include "engine/passes.h"

#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "engine/kernels/signal.h"

namespace deepedge::engine {

namespace {

// Operators whose output is not a function of their inputs alone.
bool IsNondeterministic(const ir::Node& n) {
  return n.op_type.rfind("Random", 0) == 0 || n.op_type == "Multinomial" ||
         n.op_type == "Bernoulli" ||
         // Stateful: its output depends on the earlier runs (OpKernel::ResetState).
         (n.domain == kSignalDomain && n.op_type == "FilterBankSpectralSubtraction");
}

bool HasSubgraph(const ir::Node& n) {
  for (const auto& [name, a] : n.attributes) {
    if (a.graph || !a.graphs.empty()) return true;
  }
  return false;
}

// A KernelContext over constant inputs, owning its outputs.
class FoldContext final : public KernelContext {
 public:
  FoldContext(const ir::Node& node, std::vector<const Tensor*> inputs)
      : node_(node), inputs_(std::move(inputs)), outputs_(node.outputs.size()) {}
  const ir::Node& node() const override { return node_; }
  std::size_t input_count() const override { return inputs_.size(); }
  const Tensor* input(std::size_t i) const override {
    return i < inputs_.size() ? inputs_[i] : nullptr;
  }
  std::size_t output_count() const override { return outputs_.size(); }
  bool output_wanted(std::size_t i) const override { return !node_.outputs[i].empty(); }
  Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) override {
    if (i >= outputs_.size()) return InvalidArgument("output index out of range");
    DEEPEDGE_ASSIGN_OR_RETURN(outputs_[i], Tensor::Allocate(dtype, shape));
    return &outputs_[i];
  }
  int threads() const override { return 1; }
  void ParallelFor(std::size_t n,
                   const std::function<void(std::size_t, std::size_t)>& fn) override {
    if (n) fn(0, n);
  }
  Status RunSubgraph(const ir::Graph&, std::span<const Tensor* const>,
                     std::vector<Tensor>&) override {
    return Unsupported("constant folding runs no subgraphs");
  }
  std::vector<Tensor>& outputs() { return outputs_; }

 private:
  const ir::Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> outputs_;
};

void CollectReads(const ir::Graph& g, std::set<std::string>& reads) {
  for (const ir::Node& n : g.nodes) {
    for (const std::string& in : n.inputs) reads.insert(in);
    for (const auto& [k, a] : n.attributes) {
      if (a.graph) {
        CollectReads(*a.graph, reads);
        for (const ir::ValueInfo& o : a.graph->outputs) reads.insert(o.name);
      }
      for (const auto& sub : a.graphs) {
        CollectReads(*sub, reads);
        for (const ir::ValueInfo& o : sub->outputs) reads.insert(o.name);
      }
    }
  }
}

// The single value of a constant f32 initializer, or nullopt.
std::optional<float> ScalarConstant(const ir::Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end() || it->second->dtype() != DType::kF32 ||
      it->second->element_count() != 1)
    return std::nullopt;
  return it->second->as<float>()[0];
}

bool IsDefaultOp(const ir::Node& n, std::string_view op) {
  return n.op_type == op && (n.domain.empty() || n.domain == "ai.onnx");
}

// The input of binary node n that is not the scalar constant `value`, when the other is
// (either order), else "".
std::string OtherThanScalar(const ir::Graph& g, const ir::Node& n, float value) {
  if (n.inputs.size() != 2) return "";
  for (std::size_t i = 0; i < 2; ++i) {
    const std::optional<float> c = ScalarConstant(g, n.inputs[i]);
    if (c && *c == value && ScalarConstant(g, n.inputs[1 - i]) == std::nullopt)
      return n.inputs[1 - i];
  }
  return "";
}

// Clip's bounds as attributes (before opset 11) or constant inputs.
bool ClipsTo(const ir::Graph& g, const ir::Node& n, float lo, float hi) {
  if (n.opset < 11) return n.GetFloat("min", -1) == lo && n.GetFloat("max", -1) == hi;
  return n.inputs.size() == 3 && ScalarConstant(g, n.inputs[1]) == lo &&
         ScalarConstant(g, n.inputs[2]) == hi;
}

// Who produces and how often something reads each value of a graph, for fusions that
// remove intermediate values.
class ValueUses {
 public:
  explicit ValueUses(ir::Graph& graph) : graph_(graph) {
    // Nested graphs' reads and graph outputs count as two: never fused away.
    for (const ir::Node& n : graph.nodes) {
      for (const std::string& in : n.inputs) ++reads_[in];
      if (HasSubgraph(n)) {
        std::set<std::string> nested;
        for (const auto& [k, a] : n.attributes) {
          if (a.graph) CollectReads(*a.graph, nested);
          for (const auto& sub : a.graphs) CollectReads(*sub, nested);
        }
        for (const std::string& v : nested) reads_[v] += 2;
      }
    }
    for (const ir::ValueInfo& v : graph.outputs) reads_[v.name] += 2;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      for (const std::string& out : graph.nodes[i].outputs) producer_[out] = i;
    }
  }
  // The index of the node producing `value` when only one node reads it, else -1.
  int SoleProducer(const std::string& value) const {
    auto it = producer_.find(value);
    auto r = reads_.find(value);
    if (it == producer_.end() || r == reads_.end() || r->second != 1) return -1;
    return static_cast<int>(it->second);
  }
  ir::Node* Sole(const std::string& value) const {
    const int i = SoleProducer(value);
    return i < 0 ? nullptr : &graph_.nodes[static_cast<std::size_t>(i)];
  }

 private:
  ir::Graph& graph_;
  std::map<std::string, int> reads_;
  std::map<std::string, std::size_t> producer_;
};

// Removes the nodes marked in `drop`.
void DropNodes(ir::Graph& graph, const std::vector<bool>& drop) {
  std::vector<ir::Node> kept;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
}

// The values of a constant f32 initializer that scales or offsets channels of an NCHW
// tensor: one value, or `channels` along axis 1 ([C], [C, 1, 1] or [1, C, 1, 1] for a
// rank-4 tensor), else nullopt.
std::optional<std::vector<float>> ChannelConstant(const ir::Graph& g, const std::string& name,
                                                  std::int64_t channels) {
  auto it = g.initializers.find(name);
  if (it == g.initializers.end() || it->second->dtype() != DType::kF32) return std::nullopt;
  const Tensor& t = *it->second;
  const auto v = t.as<float>();
  if (t.element_count() == 1) return std::vector<float>(v.begin(), v.end());
  const Shape& s = t.shape();
  // Broadcast against [N, C, H, W]: the channel axis is the third from the end.
  if (s.rank() < 3 || s.rank() > 4 || s[s.rank() - 3] != channels || s[s.rank() - 2] != 1 ||
      s[s.rank() - 1] != 1 || (s.rank() == 4 && s[0] != 1))
    return std::nullopt;
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace

int FoldAffineIntoPointwiseConv(ir::Graph& graph) {
  ValueUses uses(graph);
  std::vector<bool> drop(graph.nodes.size(), false);
  int folded = 0;
  for (ir::Node& conv : graph.nodes) {
    if (!IsDefaultOp(conv, "Conv") || conv.GetInt("group", 1) != 1 || conv.inputs.size() < 2)
      continue;
    auto wit = graph.initializers.find(conv.inputs[1]);
    if (wit == graph.initializers.end() || wit->second->dtype() != DType::kF32) continue;
    const Tensor& w = *wit->second;
    const Shape& ws = w.shape();
    // 1x1 and unpadded: every output reads exactly its own pixel, never a padding zero
    // (which the map before it would not have turned into an offset).
    if (ws.rank() != 4 || ws[2] != 1 || ws[3] != 1) continue;
    bool unpadded = conv.GetString("auto_pad", "NOTSET") == "NOTSET" ||
                    conv.GetString("auto_pad", "NOTSET") == "VALID";
    for (std::int64_t p : conv.GetInts("pads")) unpadded = unpadded && p == 0;
    if (!unpadded) continue;
    const std::int64_t m = ws[0], c = ws[1];
    const Tensor* bias = nullptr;
    if (conv.inputs.size() > 2 && !conv.inputs[2].empty()) {
      auto bit = graph.initializers.find(conv.inputs[2]);
      if (bit == graph.initializers.end() || bit->second->dtype() != DType::kF32 ||
          bit->second->element_count() != m)
        continue;
      bias = bit->second.get();
    }
    // x -> [Mul(s)] -> [Add(t)] -> conv, each intermediate read once.
    std::vector<float> scale(1, 1.0f), shift(1, 0.0f);
    std::string source = conv.inputs[0];
    std::vector<int> chain;
    for (const char* op : {"Add", "Mul"}) {
      const int i = uses.SoleProducer(source);
      if (i < 0 || drop[static_cast<std::size_t>(i)]) break;
      const ir::Node& n = graph.nodes[static_cast<std::size_t>(i)];
      if (!IsDefaultOp(n, op) || n.inputs.size() != 2) continue;
      std::optional<std::vector<float>> k;
      std::string other;
      for (std::size_t side = 0; side < 2 && !k; ++side) {
        k = ChannelConstant(graph, n.inputs[side], c);
        if (k && graph.initializers.count(n.inputs[1 - side])) k.reset();
        if (k) other = n.inputs[1 - side];
      }
      if (!k) break;
      (std::string(op) == "Add" ? shift : scale) = std::move(*k);
      chain.push_back(i);
      source = other;
    }
    if (chain.empty()) continue;
    auto at = [](const std::vector<float>& v, std::int64_t i) {
      return v[v.size() == 1 ? 0 : static_cast<std::size_t>(i)];
    };
    // W(s * x + t) + b = (W s) x + (b + W t).
    Tensor w2 = Tensor::Allocate(DType::kF32, ws).value();
    Tensor b2 = Tensor::Allocate(DType::kF32, Shape{m}).value();
    const auto wv = w.as<float>();
    auto w2v = w2.as<float>();
    auto b2v = b2.as<float>();
    for (std::int64_t o = 0; o < m; ++o) {
      double acc = bias != nullptr ? static_cast<double>(bias->as<float>()[o]) : 0.0;
      for (std::int64_t i = 0; i < c; ++i) {
        const float wi = wv[static_cast<std::size_t>(o * c + i)];
        w2v[static_cast<std::size_t>(o * c + i)] = wi * at(scale, i);
        acc += static_cast<double>(wi) * at(shift, i);
      }
      b2v[static_cast<std::size_t>(o)] = static_cast<float>(acc);
    }
    const std::string wname = conv.name + "/affine_folded_w",
                      bname = conv.name + "/affine_folded_b";
    if (graph.initializers.count(wname) || graph.initializers.count(bname)) continue;
    graph.initializers[wname] = std::make_shared<const Tensor>(std::move(w2));
    graph.initializers[bname] = std::make_shared<const Tensor>(std::move(b2));
    conv.inputs.resize(3);
    conv.inputs[0] = source;
    conv.inputs[1] = wname;
    conv.inputs[2] = bname;
    for (int i : chain) {
      drop[static_cast<std::size_t>(i)] = true;
      conv.name = graph.nodes[static_cast<std::size_t>(i)].name + "+" + conv.name;
    }
    ++folded;
  }
  DropNodes(graph, drop);
  return folded;
}

int FuseHardSwish(ir::Graph& graph) {
  ValueUses uses(graph);
  auto sole = [&](const std::string& value) { return uses.Sole(value); };
  // The index of a node of the graph (the nodes are not moved until DropNodes).
  auto index_of = [&](const ir::Node* n) {
    return static_cast<std::size_t>(n - graph.nodes.data());
  };
  std::vector<bool> drop(graph.nodes.size(), false);
  int fused = 0;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    ir::Node& last = graph.nodes[i];
    if (drop[i]) continue;
    // y = x * Clip(x + 3, 0, 6) / 6 (or * (1/6)), the operands of Add and Mul in either
    // order.
    std::string product;
    if (IsDefaultOp(last, "Div") && last.inputs.size() == 2 &&
        ScalarConstant(graph, last.inputs[1]) == 6.0f) {
      product = last.inputs[0];
    } else if (IsDefaultOp(last, "Mul")) {
      product = OtherThanScalar(graph, last, 1.0f / 6.0f);
    }
    ir::Node* mul = product.empty() ? nullptr : sole(product);
    if (mul == nullptr || !IsDefaultOp(*mul, "Mul") || mul->inputs.size() != 2) continue;
    for (std::size_t k = 0; k < 2; ++k) {
      ir::Node* clip = sole(mul->inputs[k]);
      if (clip == nullptr || !IsDefaultOp(*clip, "Clip") || !ClipsTo(graph, *clip, 0, 6)) continue;
      ir::Node* add = sole(clip->inputs[0]);
      if (add == nullptr || !IsDefaultOp(*add, "Add")) continue;
      const std::string x = OtherThanScalar(graph, *add, 3.0f);
      if (x.empty() || x != mul->inputs[1 - k]) continue;
      drop[index_of(mul)] = drop[index_of(clip)] = drop[index_of(add)] = true;
      ir::Node hs;
      // Named as fused groups are in profiles: the first node's name is what a layer
      // graph of the original model matches.
      hs.name = add->name + "+" + clip->name + "+" + mul->name + "+" + last.name;
      hs.op_type = "HardSwish";
      hs.opset = std::max(last.opset, 14);
      hs.inputs = {x};
      hs.outputs = {last.outputs[0]};
      last = std::move(hs);
      ++fused;
      break;
    }
  }
  DropNodes(graph, drop);
  return fused;
}

Expected<int> FoldConstants(ir::Graph& graph, const KernelRegistry& registry) {
  int folded = 0;
  std::vector<ir::Node> kept;
  std::set<std::string> graph_outputs;
  for (const ir::ValueInfo& v : graph.outputs) graph_outputs.insert(v.name);
  for (ir::Node& n : graph.nodes) {
    bool constant = !IsNondeterministic(n) && !HasSubgraph(n) && registry.Supports(n);
    std::vector<const Tensor*> inputs;
    for (const std::string& in : n.inputs) {
      if (in.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto it = graph.initializers.find(in);
      if (it == graph.initializers.end()) {
        constant = false;
        break;
      }
      inputs.push_back(it->second.get());
    }
    for (const std::string& out : n.outputs) {
      // A graph output computed from constants stays a node: outputs come from nodes.
      if (graph_outputs.count(out)) constant = false;
    }
    if (constant) {
      PrepareContext prep{graph, 1, nullptr};
      Expected<std::unique_ptr<OpKernel>> kernel = registry.Create(n, prep);
      if (kernel) {
        FoldContext ctx(n, inputs);
        if ((*kernel)->Run(ctx).ok()) {
          for (std::size_t i = 0; i < n.outputs.size(); ++i) {
            if (n.outputs[i].empty()) continue;
            graph.initializers[n.outputs[i]] =
                std::make_shared<const Tensor>(std::move(ctx.outputs()[i]));
          }
          ++folded;
          continue;
        }
      }
    }
    kept.push_back(std::move(n));
  }
  graph.nodes = std::move(kept);
  // Nested graphs too (If branches, Loop bodies): exporters put their weights there as
  // Constant nodes (Silero VAD v5's 59 per branch), which otherwise run, copying every
  // weight, at each run, and leave the kernels nothing constant to pack.
  for (ir::Node& n : graph.nodes) {
    for (auto& [name, a] : n.attributes) {
      auto fold_nested = [&](std::shared_ptr<const ir::Graph>& g) -> Status {
        if (!g) return Status::Ok();
        auto copy = std::make_shared<ir::Graph>(*g);
        DEEPEDGE_ASSIGN_OR_RETURN(int count, FoldConstants(*copy, registry));
        if (count > 0) {
          folded += count;
          g = std::move(copy);
        }
        return Status::Ok();
      };
      DEEPEDGE_RETURN_IF_ERROR(fold_nested(a.graph));
      for (auto& sub : a.graphs) DEEPEDGE_RETURN_IF_ERROR(fold_nested(sub));
    }
  }
  return folded;
}

int RemoveDeadNodes(ir::Graph& graph) {
  int removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> reads;
    CollectReads(graph, reads);
    for (const ir::ValueInfo& v : graph.outputs) reads.insert(v.name);
    std::vector<ir::Node> kept;
    for (ir::Node& n : graph.nodes) {
      bool live = false;
      for (const std::string& out : n.outputs) live |= !out.empty() && reads.count(out) > 0;
      if (live) {
        kept.push_back(std::move(n));
      } else {
        ++removed;
        changed = true;
      }
    }
    graph.nodes = std::move(kept);
    for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
      it = reads.count(it->first) ? std::next(it) : graph.initializers.erase(it);
    }
  }
  return removed;
}

}  // namespace deepedge::engine
