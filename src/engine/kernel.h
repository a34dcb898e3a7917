// The kernel interface of the DeepEdge engine.
//
// A kernel runs one node. Simple kernels are plain functions (KernelFn); kernels that
// prepare something once per session (packed weights, an XNNPACK runtime) are
// OpKernel objects made by a KernelFactory. Kernels are registered explicitly, one
// registration function per operator family (one file each, src/engine/kernels/).
//
// Contract for every kernel:
//  - read inputs through KernelContext::input(i) (null when an optional input is
//    omitted), never modify them;
//  - get each output's storage from KernelContext::Output(i, dtype, shape) and write
//    every element of it (the storage is reused across values and is NOT zeroed);
//  - compute output shapes from the actual input shapes (that is how dynamic
//    dimensions are resolved);
//  - report problems as Status with the node in the message (ctx.node().Describe()),
//    never throw, never abort.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "deepedge/ir.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::engine {

// One original node (or fused group) of a profiled run.
struct NodeProfile {
  std::string name;     // the node's name; a fused group's is its nodes' names joined by '+'
  std::string op_type;  // likewise joined by '+'
  double time_ms = 0;
  std::int64_t output_bytes = 0;
  std::int64_t macs = 0;  // multiply-accumulates (Conv, Gemm, MatMul and kin); 0 otherwise
  // When the node ran inside a kernel that runs several nodes at once (an XNNPACK
  // region): that kernel's node name, and its time when run fused (the node times
  // were measured separately, one runtime per node); else "" and -1.
  std::string group = {};
  double group_time_ms = -1;
};

class KernelContext {
 public:
  virtual ~KernelContext() = default;

  virtual const ir::Node& node() const = 0;
  virtual std::size_t input_count() const = 0;
  // Null when input i is omitted ("" in the node) or i >= input_count().
  virtual const Tensor* input(std::size_t i) const = 0;
  virtual std::size_t output_count() const = 0;
  // False when output i is omitted ("" in the node): a kernel may skip computing it.
  virtual bool output_wanted(std::size_t i) const = 0;
  // Storage for output i. The tensor stays valid until the node's consumers have
  // run. Calling it again for the same output replaces the earlier storage.
  virtual Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) = 0;

  // Session thread count (>= 1) and a parallel loop over [0, n) split into chunks;
  // `fn(begin, end)` runs on the session's threads. Fine to call with n == 0.
  virtual int threads() const = 0;
  virtual void ParallelFor(std::size_t n,
                           const std::function<void(std::size_t begin, std::size_t end)>& fn) = 0;
  // The session's pthreadpool (null with one thread), for kernels that hand work to a
  // library taking one (XNNPACK). Sharing it matters: two pools whose workers spin
  // on the same cores slow each other down many times over.
  virtual pthreadpool_t thread_pool() const { return nullptr; }

  // True when the session profiles nodes. A kernel that runs several original nodes
  // at once may then report each one with AddNodeProfile; the executor lists those
  // instead of the kernel's node as a whole.
  virtual bool profiling() const { return false; }
  virtual void AddNodeProfile(NodeProfile /*profile*/) {}

  // Runs a nested graph (an If branch, a Loop or Scan body) with `inputs` bound to
  // its inputs in order; it may also read the enclosing graphs' values by name.
  // `outputs` receives owning tensors, one per graph output.
  virtual Status RunSubgraph(const ir::Graph& graph, std::span<const Tensor* const> inputs,
                             std::vector<Tensor>& outputs) = 0;
};

// What a factory may look at when preparing a node.
struct PrepareContext {
  const ir::Graph& graph;  // the graph the node belongs to
  int threads = 1;
  // Constant value of an input (initializer), or null when it is computed at run time.
  std::function<const Tensor*(const std::string& name)> constant;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual Status Run(KernelContext& ctx) = 0;
  // Kernels with state carried from one Run to the next (e.g. a streaming noise
  // estimate) keep it as members: it lives as long as the kernel, i.e. the executor
  // (session) that prepared it, and starts at its initial value. ResetState returns it
  // there (Executor::ResetState). Called on the executor's thread, never concurrently
  // with Run. Default: stateless.
  virtual void ResetState() {}
};

using KernelFn = Status (*)(KernelContext& ctx);
using KernelFactory = std::function<Expected<std::unique_ptr<OpKernel>>(const ir::Node& node,
                                                                        const PrepareContext& ctx)>;

// Which kernel runs which (domain, op_type, opset).
// Thread-safety: fill it first, then read it from any thread.
class KernelRegistry {
 public:
  // `since_opset`: the first opset version this implementation follows; a node
  // gets the entry with the greatest since_opset <= its opset.
  void Add(std::string domain, std::string op_type, KernelFn fn, int since_opset = 1);
  void AddFactory(std::string domain, std::string op_type, KernelFactory factory,
                  int since_opset = 1);

  bool Supports(const ir::Node& node) const;
  // Unsupported error names the operator, domain, opset and node.
  Expected<std::unique_ptr<OpKernel>> Create(const ir::Node& node, const PrepareContext& ctx) const;
  // "Add", "com.microsoft:FusedConv", ... sorted.
  std::vector<std::string> OpTypes() const;

 private:
  struct Entry {
    int since_opset;
    KernelFn fn;
    KernelFactory factory;
  };
  const Entry* FindEntry(const ir::Node& node) const;
  std::map<std::pair<std::string, std::string>, std::vector<Entry>> entries_;
};

// Built-in kernel families, one file each under src/engine/kernels/.
void RegisterElementwiseKernels(KernelRegistry& r);  // arithmetic, comparisons, activations
void RegisterShapeKernels(
    KernelRegistry& r);  // reshape, transpose, concat, slice, gather, pad, cast, ...
void RegisterNnKernels(KernelRegistry& r);      // conv, pooling, gemm, matmul, norms, softmax
void RegisterReduceKernels(KernelRegistry& r);  // Reduce*, ArgMax/ArgMin
void RegisterQuantKernels(KernelRegistry& r);   // QuantizeLinear, QLinearConv, ConvInteger, ...
void RegisterRnnKernels(KernelRegistry& r);     // LSTM, GRU, RNN
void RegisterControlFlowKernels(KernelRegistry& r);  // If, Loop, Scan
// Everything above.
void RegisterAllKernels(KernelRegistry& r);

}  // namespace deepedge::engine
