// int8 / uint8 kernels of the DeepEdge engine (domain "com.deepedge", opset 1).
//
// They follow TensorFlow Lite's integer rules (fixed-point multipliers, see
// fixed_point.h) so that a quantized model gives TFLite's integers, and they are
// what the QDQ fusion pass (engine/qdq_pass.h) turns DequantizeLinear -> float op ->
// QuantizeLinear chains into. Layout is NCHW, like every engine kernel.
//
// Quantization parameters are attributes (per tensor unless stated):
//   x_scale (float), x_zero_point (int)       the quantized input
//   y_scale (float), y_zero_point (int)       the output
//   y_type  (string "i8" | "u8")              the output type
//   act_min, act_max (int, optional)          fused activation: the output is clamped
//                                             to [act_min, act_max] (quantized values;
//                                             default the whole range of y_type)
// Every quantized input may be i8 or u8 (its own type is read from the tensor).
//
// QConv      inputs x [N, C, H, W], w [M, C/group, kh, kw] (i8 or u8), bias (i32 [M],
//            optional; real value bias * x_scale * w_scale[m]).
//            Attributes: w_scale (floats, 1 or M), w_zero_point (ints, 1 or M, default
//            0), and Conv's kernel_shape, strides, pads, dilations, group, auto_pad.
//            acc = sum (x - x_zp)(w - w_zp) + bias (int32);
//            y = clamp(MultiplyByQuantizedMultiplier(acc, x_scale*w_scale[m]/y_scale) +
//                      y_zp, act_min, act_max).
//            Attribute requant (string, default "fixed_point"): "float" instead
//            rescales as ONNX's QLinearConv defines it and ONNX Runtime computes it:
//            y = clamp(round_half_even(float(acc) * s) + y_zp, act_min, act_max) with
//            s = x_scale * w_scale[m] / y_scale in float arithmetic.
//            Depthwise (group == C) and grouped convolutions are supported.
// QGemm      inputs x [..., K], w [N, K] (i8 or u8: the weights already transposed),
//            bias (i32 [N], optional). Output [..., N]; same arithmetic as QConv with
//            w_scale / w_zero_point per output column (1 or N values).
// QAdd, QMul inputs a, b (numpy broadcasting); attributes a_scale, a_zero_point,
//            b_scale, b_zero_point instead of x_*. TFLite's int8 ADD (inputs scaled to
//            2 * max(a_scale, b_scale) with a left shift of 20) and MUL
//            (one multiplier a_scale*b_scale/y_scale) rules. Attribute requant
//            "float" instead follows the float chain of an ONNX QDQ model:
//            y = clamp(round_half_even(a_scale/y_scale (a - a_zp) + b_scale/y_scale
//            (b - b_zp)) + y_zp) (QMul: a_scale*b_scale/y_scale (a - a_zp)(b - b_zp)),
//            computed in double (exact products, one rounding).
// QAveragePool  x [N, C, H, W]; AveragePool's kernel_shape, strides, pads, auto_pad,
//            ceil_mode, count_include_pad. With equal input / output parameters TFLite's
//            rule (sum / count rounded half away from zero); otherwise the sum of
//            (x - x_zp) times the multiplier x_scale / (y_scale * count).
// QGlobalAveragePool  x [N, C, H, W] -> [N, C, 1, 1] (keepdims 1, default) or [N, C]
//            (keepdims 0): TFLite's MEAN over H, W (sum times x_scale/(count*y_scale),
//            plus the bias y_zp - trunc(x_zp * x_scale / y_scale)).
// QMaxPool   x [N, C, H, W]; MaxPool's kernel_shape, strides, pads, dilations,
//            auto_pad, ceil_mode. Padding never wins; different input / output
//            parameters are requantized.
// QLookup    x (i8 or u8) -> y: y = table[x - type_min] with the attribute table (ints,
//            256 entries), for element-wise functions (Sigmoid, Tanh, ...) that the
//            pass tabulates in float.
//
// Speed: QConv and QGemm pack the weights once (when they are constants) and run an
// im2col + int8 GEMM with int32 accumulation (tiles of 8 channels x 32 pixels), with
// AVX-512 VNNI where the CPU has it, AVX2 otherwise (plain C++ without either);
// requantization, and QAdd /
// QMul of equal shapes, are vectorised the same way. Depthwise convolutions run
// direct, one output plane per channel. Work is split over the session's threads.
#pragma once

#include "engine/kernel.h"

namespace deepedge::engine {

inline constexpr char kQLinearDomain[] = "com.deepedge";

// Registers the kernels above.
void RegisterQLinearKernels(KernelRegistry& r);

// The instruction sets of the kernels' vector paths, in order. Every level gives the
// same integers as the plain C++ one.
enum class QLinearIsa { kPlain, kAvx2, kAvx512Vnni };
// The best level this CPU runs (chosen at start-up) and the level in use.
QLinearIsa QLinearBestIsa();
QLinearIsa QLinearActiveIsa();
// Tests and benchmarks: use `isa` (capped at what the CPU runs: asking for AVX-512 on
// a CPU with AVX2 only gives AVX2). Not thread-safe against running kernels.
void SetQLinearIsa(QLinearIsa isa);
const char* QLinearIsaName(QLinearIsa isa);

}  // namespace deepedge::engine
