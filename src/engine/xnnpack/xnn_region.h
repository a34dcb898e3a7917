// The kernel of an XnnpackRegion node (private to src/engine/xnnpack/; the public
// entry point is RegisterXnnpackKernels in xnn_pass.h).
//
// At creation the region body is translated, once, into a list of XNNPACK operations
// with kernel-owned static data (weights re-laid out as XNNPACK wants them, with
// BatchNormalization folded in; constants permuted to NHWC). At the first run, and
// again whenever an input shape changes, it defines an XNNPACK subgraph for the
// actual shapes and creates a runtime (on the given pthreadpool, or on one of
// ctx.threads() threads the kernel owns); where some ops run on the engine's own
// kernels or are too small to pay for the pool (SerialPays), a sequence of runtimes
// and kernel calls instead, the small ones on the calling thread. Each run transposes
// the inputs NCHW -> NHWC into the runtime's external buffers, invokes the runtime and
// transposes the outputs back into ctx.Output().
// Thread-safety: one Run at a time per kernel (as the executor runs nodes).
#pragma once

#include <pthreadpool.h>

#include <cstdint>
#include <memory>

#include "deepedge/status.h"
#include "engine/kernel.h"

namespace deepedge::engine::xnn {

// xnn_initialize, once per process (thread-safe); its result every time.
Status InitializeXnnpack();

// The kernel of an XnnpackRegion node. Errors (Unsupported / InvalidArgument) name
// the region node and the body node at fault.
Expected<std::unique_ptr<OpKernel>> CreateRegionKernel(const ir::Node& node,
                                                       const PrepareContext& ctx,
                                                       pthreadpool_t shared_pool);

// Whether an op of `macs` multiply-adds over `activation_bytes` of inputs and output
// runs faster on the calling thread alone than split over the session's threads: its
// estimated one-thread time is under what a parallel step costs (waking the workers,
// the barrier, and the activations moving between the cores' caches).
bool SerialPays(std::int64_t macs, std::int64_t activation_bytes);

// How many XNNPACK runtimes `kernel` has built so far; -1 when it is not a region
// kernel. For tests.
int RegionKernelBuildCount(const OpKernel& kernel);

}  // namespace deepedge::engine::xnn
