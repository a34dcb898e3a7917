// The executor: runs an ir::Model node by node with the registered kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepedge/ir.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"
#include "engine/kernel.h"

namespace deepedge::engine {

struct ExecutorOptions {
  int threads = 0;       // 0: every core
  bool profile = false;  // time every node
  // Use the process's one pool of `threads` workers, shared with every executor that
  // sets this (SessionOptions::share_threads), instead of a pool of its own.
  bool share_threads = false;
};

class Executor {
 public:
  // Prepares every node of `model` (kernels must exist for all, else Unsupported
  // naming the operator, domain, opset and node). The model is shared, not copied.
  static Expected<std::unique_ptr<Executor>> Create(std::shared_ptr<const ir::Model> model,
                                                    const KernelRegistry& registry,
                                                    const ExecutorOptions& options);
  virtual ~Executor() = default;

  virtual const std::vector<ir::ValueInfo>& Inputs() const = 0;
  virtual const std::vector<ir::ValueInfo>& Outputs() const = 0;

  // Runs the graph. `inputs` in Inputs() order; their dtypes must match and their
  // shapes must fit the declared ones (dynamic dimensions take any size). Outputs
  // are owning tensors in Outputs() order.
  virtual Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) = 0;
  // Returns every stateful kernel (OpKernel::ResetState) to its initial state, as if
  // freshly created: e.g. between two audio clips streamed frame by frame. Not
  // concurrently with Run.
  virtual void ResetState() = 0;

  // Per node of the last Run when profiling (in graph order; the nodes inside an
  // XNNPACK region each have their own entry, see NodeProfile::group), else empty.
  virtual const std::vector<NodeProfile>& LastProfile() const = 0;
  // Peak bytes of intermediate buffers held at once (buffers are reused by
  // liveness: a value's storage returns to the pool after its last consumer).
  virtual std::size_t ArenaBytes() const = 0;
};

}  // namespace deepedge::engine
