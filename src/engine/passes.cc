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

}  // namespace

int FuseHardSwish(ir::Graph& graph) {
  // How often each value is read: by nodes, nested graphs (counted as two: never fused
  // away) and the graph outputs.
  std::map<std::string, int> reads;
  for (const ir::Node& n : graph.nodes) {
    for (const std::string& in : n.inputs) ++reads[in];
    if (HasSubgraph(n)) {
      std::set<std::string> nested;
      for (const auto& [k, a] : n.attributes) {
        if (a.graph) CollectReads(*a.graph, nested);
        for (const auto& sub : a.graphs) CollectReads(*sub, nested);
      }
      for (const std::string& v : nested) reads[v] += 2;
    }
  }
  for (const ir::ValueInfo& v : graph.outputs) reads[v.name] += 2;
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& out : graph.nodes[i].outputs) producer[out] = i;
  }
  // The node producing `value` when only one node reads it.
  auto sole = [&](const std::string& value) -> ir::Node* {
    auto it = producer.find(value);
    if (it == producer.end() || reads[value] != 1) return nullptr;
    return &graph.nodes[it->second];
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
      drop[producer[mul->outputs[0]]] = drop[producer[clip->outputs[0]]] =
          drop[producer[add->outputs[0]]] = true;
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
  std::vector<ir::Node> kept;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (!drop[i]) kept.push_back(std::move(graph.nodes[i]));
  }
  graph.nodes = std::move(kept);
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
