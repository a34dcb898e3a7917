// Runs single engine nodes in tests, without a model or an executor.
#pragma once

#include <cstring>
#include <memory>
#include <vector>

#include "engine/kernel.h"

namespace deepedge::testing {

// A tensor from values: MakeTensor<float>({2, 2}, {1, 2, 3, 4}).
template <typename T>
Tensor MakeTensor(DType dtype, const Shape& shape, const std::vector<T>& values) {
  Tensor t = Tensor::Allocate(dtype, shape).value();
  const std::size_t bytes = std::min(t.byte_size(), values.size() * sizeof(T));
  if (bytes > 0) std::memcpy(t.data(), values.data(), bytes);
  return t;
}
inline Tensor F32(const Shape& shape, const std::vector<float>& v) {
  return MakeTensor(DType::kF32, shape, v);
}
inline Tensor I64(const Shape& shape, const std::vector<std::int64_t>& v) {
  return MakeTensor(DType::kI64, shape, v);
}
inline Tensor I32(const Shape& shape, const std::vector<std::int32_t>& v) {
  return MakeTensor(DType::kI32, shape, v);
}

// A node: Node("Add", {"a", "b"}, {"y"}) with attributes added by the caller.
inline ir::Node MakeNode(std::string op, std::vector<std::string> inputs,
                         std::vector<std::string> outputs, int opset = 17) {
  ir::Node n;
  n.name = op + "_test";
  n.op_type = std::move(op);
  n.opset = opset;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}
inline void SetInt(ir::Node& n, const std::string& name, std::int64_t v) {
  n.attributes[name] = ir::Attribute::Int(v);
}
inline void SetFloat(ir::Node& n, const std::string& name, float v) {
  n.attributes[name] = ir::Attribute::Float(v);
}
inline void SetInts(ir::Node& n, const std::string& name, std::vector<std::int64_t> v) {
  n.attributes[name] = ir::Attribute::Ints(std::move(v));
}
inline void SetString(ir::Node& n, const std::string& name, std::string v) {
  n.attributes[name] = ir::Attribute::String(std::move(v));
}

// A KernelContext over caller-owned inputs; outputs are owned by the context.
class SingleNodeContext final : public engine::KernelContext {
 public:
  SingleNodeContext(const ir::Node& node, std::vector<const Tensor*> inputs, int threads = 1)
      : node_(node), inputs_(std::move(inputs)), outputs_(node.outputs.size()), threads_(threads) {}

  const ir::Node& node() const override { return node_; }
  std::size_t input_count() const override { return inputs_.size(); }
  const Tensor* input(std::size_t i) const override {
    return i < inputs_.size() ? inputs_[i] : nullptr;
  }
  std::size_t output_count() const override { return outputs_.size(); }
  bool output_wanted(std::size_t i) const override {
    return i < node_.outputs.size() && !node_.outputs[i].empty();
  }
  Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) override {
    if (i >= outputs_.size()) return InvalidArgument("output index out of range");
    DEEPEDGE_ASSIGN_OR_RETURN(outputs_[i], Tensor::Allocate(dtype, shape));
    // Poison the storage: kernels must write every element (the executor reuses buffers).
    if (outputs_[i].byte_size() > 0) std::memset(outputs_[i].data(), 0xA5, outputs_[i].byte_size());
    return &outputs_[i];
  }
  int threads() const override { return threads_; }
  void ParallelFor(std::size_t n,
                   const std::function<void(std::size_t, std::size_t)>& fn) override {
    // Uneven chunks on purpose: kernels must not assume a chunk size.
    std::size_t begin = 0;
    for (std::size_t chunk = 1; begin < n; chunk += 2) {
      const std::size_t end = std::min(n, begin + chunk);
      fn(begin, end);
      begin = end;
    }
  }
  Status RunSubgraph(const ir::Graph&, std::span<const Tensor* const>,
                     std::vector<Tensor>&) override {
    return Unsupported("SingleNodeContext runs no subgraphs (use the executor)");
  }
  std::vector<Tensor>& outputs() { return outputs_; }

 private:
  const ir::Node& node_;
  std::vector<const Tensor*> inputs_;
  std::vector<Tensor> outputs_;
  int threads_;
};

// Runs `node` with every built-in kernel family registered; returns its outputs.
// `threads` is what the kernel is told the session has (it splits its work for that
// many); the chunks still run one after another on the calling thread.
inline Expected<std::vector<Tensor>> RunNode(const ir::Node& node,
                                             std::vector<const Tensor*> inputs, int threads = 1) {
  static const engine::KernelRegistry* registry = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterAllKernels(*r);
    return r;
  }();
  ir::Graph graph;
  engine::PrepareContext prep{graph, 1,
                              [](const std::string&) -> const Tensor* { return nullptr; }};
  DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<engine::OpKernel> kernel, registry->Create(node, prep));
  SingleNodeContext ctx(node, std::move(inputs), threads);
  DEEPEDGE_RETURN_IF_ERROR(kernel->Run(ctx));
  return std::move(ctx.outputs());
}

}  // namespace deepedge::testing
