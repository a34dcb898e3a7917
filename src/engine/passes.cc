#include "engine/passes.h"

#include <cstring>
#include <deque>
#include <functional>
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

}  // namespace

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
