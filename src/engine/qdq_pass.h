// The QDQ fusion pass: ONNX "QDQ" graphs (DequantizeLinear -> float op ->
// QuantizeLinear, as quantizers and the TFLite importer write them) onto the int8
// kernels of engine/kernels/qlinear.h.
//
// Patterns (dq = DequantizeLinear with constant scale / zero point, per tensor unless
// stated; q = QuantizeLinear with a constant scalar scale and zero point; act =
// optional Relu, or Clip with constant bounds, fused as an output clamp):
//   dq(x), dq(const w: i8/u8, per tensor or per output channel),
//   [dq(const i32 bias) | const f32 bias] -> Conv (2-D) -> [act] -> q      => QConv
//   the same -> Gemm (alpha = beta = 1, transA = 0) | MatMul by a 2-D weight    => QGemm
//   dq(a), dq(b) -> Add | Mul -> [act] -> q                                  => QAdd | QMul
//   dq(x) -> AveragePool | MaxPool (2-D) | GlobalAveragePool |
//            ReduceMean over axes {2, 3} -> [act] -> q                       => quantized pools
//   dq(x) -> Relu | Clip | Sigmoid | Tanh | LeakyRelu | HardSigmoid | HardSwish -> q
//                                                                            => QLookup
//   dq(x) -> Reshape | Flatten | Squeeze | Unsqueeze | Transpose | Identity -> q, and
//   dq(x1), dq(x2), ... -> Concat -> q, all with q's parameters  => the op on quantized values
//   a Gemm / MatMul input may be dq -> Flatten | Reshape (moved onto the quantized values)
//   dq(x) -> Reshape | Flatten | Squeeze | Unsqueeze | Transpose | Identity -> q, and
//   dq(x1), dq(x2), ... -> Concat -> q, all with q's parameters  => the op on quantized values
//   (a Gemm / MatMul input may also be dq -> Flatten | Reshape: moved the same way)
//   dq(x) -> q with identical parameters                                     => removed
// Every intermediate value of a pattern must have exactly one reader (and not be a
// graph output or read by a nested graph); the dq nodes may be shared: they are only
// removed when nothing reads them any more. A bias whose scale is not
// x_scale * w_scale is requantized to that scale (as TFLite requires). Everything else
// is left as it is and keeps running through the float kernels.
//
// Must run BEFORE FoldConstants, which would turn dq(const weight) into a float
// constant. Constant nodes are hoisted into initializers first. New nodes are in
// domain "com.deepedge", opset 1; callers that keep a table of opsets per domain
// should add it.
#pragma once

#include "deepedge/ir.h"
#include "deepedge/status.h"

namespace deepedge::engine {

struct QdqFusionStats {
  int conv = 0, gemm = 0, add = 0, mul = 0, pool = 0, lookup = 0;
  int moved = 0;          // data movement (Reshape, Concat, ...) run on quantized values
  int qdq_removed = 0;    // dq -> q pairs with identical parameters
  int nodes_removed = 0;  // net decrease of the node count
  int fused() const { return conv + gemm + add + mul + pool + lookup; }
};

// How fused QConv / QGemm nodes rescale their int32 accumulators, and QAdd / QMul
// their inputs (attribute "requant" of engine/kernels/qlinear.h). The other fused ops
// always follow TFLite.
enum class Requantization {
  kFixedPoint,  // TFLite's fixed-point multiplier: a TFLite model's integers
  kFloat,       // ONNX QLinearConv's definition, as ONNX Runtime computes it
};

struct QdqOptions {
  Requantization requantization = Requantization::kFixedPoint;
};

Expected<QdqFusionStats> FuseQdq(ir::Graph& graph, const QdqOptions& options = {});

}  // namespace deepedge::engine
