// The layout pass: fewer Transposes between spatial operators.
//
// Importers of NHWC formats (TFLite) wrap every spatial operator as
// Transpose(0,3,1,2) -> op in NCHW -> Transpose(0,2,3,1). This pass makes a chain of
// such operators stay NCHW with transposes only at the chain's ends:
//  - a Transpose whose input is an inverse Transpose cancels with it;
//  - a Transpose moves below the element-wise node that reads it: unary operators
//    (activations, Cast, Identity, ...), per-tensor QuantizeLinear / DequantizeLinear
//    (scale and zero point constant with one element), and binary ones (Add, Mul, ...)
//    whose other operand is a constant (permuted here; scalars stay) or the output of
//    a Transpose with the same permutation. When every reader of a Transpose is such a
//    node, the Transpose moves below each of them;
//  - last, a Transpose reading a per-tensor DequantizeLinear moves above it, so that
//    DequantizeLinear feeds the spatial operator directly (what QDQ fusion matches).
// Values that are graph outputs or read by nested graphs keep their name and content.
// The rewrite is kept only if it does not increase the number of Transposes.
//
// Run before FoldConstants and QDQ fusion. Returns how many Transpose nodes went.
#pragma once

#include "deepedge/ir.h"
#include "deepedge/status.h"

namespace deepedge::engine {

Expected<int> OptimizeLayout(ir::Graph& graph);

}  // namespace deepedge::engine
