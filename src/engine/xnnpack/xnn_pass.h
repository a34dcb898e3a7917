// XNNPACK regions: a graph pass that groups the nodes XNNPACK can run into regions,
// and the kernel that runs a region.
//
// The pass (PartitionForXnnpack) finds maximal connected, acyclic groups of nodes
// that XNNPACK runs in f32 and replaces each by ONE node
//   op_type "XnnpackRegion", domain "com.deepedge", opset 1,
// whose attribute "body" (kGraph) holds the region's original nodes as an ir::Graph:
// its inputs are the values that enter the region (non-constant), its outputs the
// values used after it (by outer nodes, nested graphs or as graph outputs), its
// initializers the constants the region uses (shared, not copied). The body keeps
// ONNX semantics and NCHW shapes (its ValueInfos carry the inferred shapes, with
// Shape::kDynamic where unknown); the kernel runs it in NHWC and transposes at the
// region boundary. Values read by nested graphs count as used outside. Callers that
// keep a table of opsets per domain should add "com.deepedge" opset 1.
//
// What XNNPACK runs (f32 only; activations rank 4 NCHW with a static channel count,
// or rank 2 [N, C]; every other dimension may be dynamic):
//  - Conv 2-D with constant weights (and constant bias): any group count (depthwise
//    when group == C_in and C_out is a multiple of it), strides, dilations, pads,
//    auto_pad (NOTSET, VALID, SAME_UPPER, SAME_LOWER);
//  - Gemm on 2-D input with constant B (transB 0 or 1) and constant C of [N_out] or
//    [1, N_out]; transA = 0; alpha / beta folded into the weights / bias;
//    MatMul of a 2-D input by a constant 2-D B: as fully connected;
//  - MaxPool (kernel > 1 element, dilations, ceil_mode, no Indices output),
//    AveragePool (kernel > 1 element, count_include_pad 0 or 1, ceil_mode, no
//    dilations), pads smaller than the window; GlobalAveragePool, GlobalMaxPool;
//  - Add, Sub, Mul, Div, Max, Min (two inputs): activation with activation of the same
//    rank (numpy broadcasting), or with a constant of lower or equal rank;
//  - Relu, Clip (constant bounds), Sigmoid, HardSwish, LeakyRelu, Elu, PRelu (per-channel
//    or scalar constant slope, rank 4), Abs, Neg, Floor, Ceil, Sqrt, Round;
//  - Softmax over the last axis of a 2-D tensor, or over the channels of a 4-D one
//    (opset >= 13, axis 1);
//  - ReduceMean over axes 2, 3 of a 4-D tensor (a global average pool);
//  - Pad in constant mode with constant, non-negative pads;
//  - Flatten (axis 1), Reshape, Squeeze and Unsqueeze between 4-D and 2-D where each
//    4-D side is statically known to have C == 1 or H == W == 1 (there the NHWC and
//    NCHW orders agree), e.g. [N, C, 1, 1] <-> [N, C];
//  - BatchNormalization with constant parameters (inference form, one output);
//  - Concat of 2+ activations along the channel axis (as zero-pads and adds: this
//    XNNPACK has no concatenate);
//  - Identity, Dropout (inference, one output).
// A region's inputs need a known dtype and rank: from the graph inputs, value_info,
// this pass's own inference through the ops above, or through element-wise ops it
// does not take (Tanh, Exp, LRN, ...) and Flatten.
// Fusions made when the region is built: BatchNormalization into the preceding Conv
// or Gemm (when that op's output has no other use), Relu / Clip into the preceding
// op's output_min / output_max (same condition).
//
// Region size rule: a region that holds a Conv, Gemm or MatMul is always kept (their
// XNNPACK kernels are far faster than the layout transposes at the boundary cost).
// A region without one is kept only when it needs no layout transpose (every rank-4
// input and output has C == 1 or H == W == 1 statically, or all are rank 2) and it
// has at least `min_light_region_nodes` nodes that compute (Identity, Dropout and the
// reshapes do not count); otherwise its nodes stay as they were.
#pragma once

#include <pthreadpool.h>

#include <string>
#include <vector>

#include "deepedge/ir.h"
#include "deepedge/status.h"
#include "engine/kernel.h"

namespace deepedge::engine {

inline constexpr char kXnnpackDomain[] = "com.deepedge";
inline constexpr char kXnnpackRegionOp[] = "XnnpackRegion";

struct XnnPassOptions {
  // See "Region size rule" above.
  int min_light_region_nodes = 2;
  // When set, receives one line per node left outside every region, saying why
  // ("Concat 'c' (ai.onnx opset 13): ..."), and one line per dropped region.
  std::vector<std::string>* notes = nullptr;
};

// Returns `graph` with XNNPACK regions in place of the nodes they cover, nodes in
// topological order. A graph with nothing XNNPACK can run (or a machine where
// XNNPACK does not initialize) comes back unchanged. Nested graphs (If / Loop / Scan
// bodies) are left as they are. Errors: InvalidArgument when the graph is not in
// topological order.
Expected<ir::Graph> PartitionForXnnpack(const ir::Graph& graph, const XnnPassOptions& options = {});

// Registers the XnnpackRegion kernel (domain "com.deepedge"). `pool`: a thread pool
// every region runs on (owned by the caller; it must outlive the kernels); null
// makes each region kernel create its own pool of ctx.threads() threads (none when
// that is 1) at its first run.
void RegisterXnnpackKernels(KernelRegistry& r, pthreadpool_t pool = nullptr);

}  // namespace deepedge::engine
