// Graph passes run once per session, before the executor prepares the graph.
#pragma once

#include "deepedge/ir.h"
#include "deepedge/status.h"
#include "engine/kernel.h"

namespace deepedge::engine {

// Runs every node whose inputs are all constants (and that is deterministic and has
// no nested graph) once, turning its outputs into initializers: weights stored as
// f16 behind a Cast, shapes computed by Shape/Gather/Concat chains on constants,
// ... become plain constants that later passes and kernels can use. Nested graphs
// (If branches, Loop bodies) are folded the same way, each over its own constants; the
// nodes that hold them get folded copies. Returns how many nodes were folded. Nodes
// that fail to fold are left in place.
Expected<int> FoldConstants(ir::Graph& graph, const KernelRegistry& registry);

// Replaces y = x * Clip(x + 3, 0, 6) / 6 (HardSwish as exporters without the operator
// write it: PaddlePaddle's PP-LCNet, opsets before 14) by one HardSwish node, named
// "add+clip+mul+div" as fused groups are, when the intermediate values have no other
// reader. Four passes over the tensor become one, which XNNPACK regions run. Results may
// differ from the four-node form in the last bit (x * clamp(x / 6 + 0.5, 0, 1)). Run
// after FoldConstants. Returns how many were fused.
int FuseHardSwish(ir::Graph& graph);

// Folds a constant scale and / or offset (Mul then Add, one value or one per channel)
// that only feeds an unpadded 1x1 convolution into its weights and bias: W (s x + t) + b =
// (W s) x + (b + W t). PP-LCNet's learnable affine blocks after an activation become part
// of the following pointwise convolution instead of two passes over the tensor. The
// convolution takes the names "mul+add+conv"; its new weights are initializers of their
// own. Returns how many convolutions took a fold.
int FoldAffineIntoPointwiseConv(ir::Graph& graph);

// Removes nodes none of whose outputs is read (by a later node, a nested graph or
// the graph outputs), and initializers nothing reads. Returns how many nodes went.
int RemoveDeadNodes(ir::Graph& graph);

}  // namespace deepedge::engine
