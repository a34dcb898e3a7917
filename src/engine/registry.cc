#include <algorithm>

#include "engine/kernel.h"
#include "engine/kernels/qlinear.h"
#include "engine/kernels/signal.h"

namespace deepedge::engine {

namespace {

// A plain function wrapped as an OpKernel.
class FunctionKernel final : public OpKernel {
 public:
  explicit FunctionKernel(KernelFn fn) : fn_(fn) {}
  Status Run(KernelContext& ctx) override { return fn_(ctx); }

 private:
  KernelFn fn_;
};

}  // namespace

void KernelRegistry::Add(std::string domain, std::string op_type, KernelFn fn, int since_opset) {
  auto& v = entries_[{std::move(domain), std::move(op_type)}];
  v.push_back({since_opset, fn, nullptr});
  std::sort(v.begin(), v.end(),
            [](const Entry& a, const Entry& b) { return a.since_opset < b.since_opset; });
}

void KernelRegistry::AddFactory(std::string domain, std::string op_type, KernelFactory factory,
                                int since_opset) {
  auto& v = entries_[{std::move(domain), std::move(op_type)}];
  v.push_back({since_opset, nullptr, std::move(factory)});
  std::sort(v.begin(), v.end(),
            [](const Entry& a, const Entry& b) { return a.since_opset < b.since_opset; });
}

const KernelRegistry::Entry* KernelRegistry::FindEntry(const ir::Node& node) const {
  // "ai.onnx" and "" are the same domain.
  const std::string domain = node.domain == "ai.onnx" ? "" : node.domain;
  auto it = entries_.find({domain, node.op_type});
  if (it == entries_.end()) return nullptr;
  const Entry* best = nullptr;
  for (const Entry& e : it->second) {
    if (e.since_opset <= node.opset || node.opset == 0) best = &e;
  }
  return best;
}

bool KernelRegistry::Supports(const ir::Node& node) const {
  return FindEntry(node) != nullptr;
}

Expected<std::unique_ptr<OpKernel>> KernelRegistry::Create(const ir::Node& node,
                                                           const PrepareContext& ctx) const {
  const Entry* e = FindEntry(node);
  if (e == nullptr) {
    return Unsupported("unsupported operator " + node.op_type + " (domain " +
                       (node.domain.empty() ? std::string("ai.onnx") : node.domain) + ", opset " +
                       std::to_string(node.opset) + ") at node '" + node.name + "'");
  }
  if (e->factory) return e->factory(node, ctx);
  return std::unique_ptr<OpKernel>(std::make_unique<FunctionKernel>(e->fn));
}

std::vector<std::string> KernelRegistry::OpTypes() const {
  std::vector<std::string> ops;
  for (const auto& [key, v] : entries_)
    ops.push_back(key.first.empty() ? key.second : key.first + ":" + key.second);
  return ops;
}

void RegisterAllKernels(KernelRegistry& r) {
  RegisterElementwiseKernels(r);
  RegisterShapeKernels(r);
  RegisterNnKernels(r);
  RegisterReduceKernels(r);
  RegisterQuantKernels(r);
  RegisterRnnKernels(r);
  RegisterControlFlowKernels(r);
  RegisterQLinearKernels(r);
  RegisterSignalKernels(r);
}

}  // namespace deepedge::engine
