// Reading TensorFlow Lite models: inspection and import into the graph IR.
//
// Library: deepedge_tflite. The flatbuffers headers and the generated schema code stay
// private to it. Thread-safety: the functions keep no state and may be called
// concurrently.
//
// Every file is checked before use: the flatbuffer is verified (offsets, vector
// lengths, nesting) and then every tensor, buffer, operator-code and subgraph index and
// every constant's size against its shape and type. A truncated, fuzzed or inconsistent
// file gives Corrupt naming the problem; it never crashes or reads out of bounds.
#pragma once

#include "deepedge/ir.h"
#include "deepedge/model.h"
#include "deepedge/status.h"

namespace deepedge {

// Describes a TFLite model given as a file (`source.path`) or bytes (`source.bytes`).
//
// Fills, in ModelInfo:
//  - name: the file stem, or "<memory>"; format: kTflite; producer: the model's
//    description string (e.g. "MLIR Converted."), when present;
//  - inputs / outputs: the main subgraph's (subgraph 0), with their TFLite names,
//    dtypes, shapes (shape_signature's -1 becomes Shape::kDynamic) and quantization
//    (scale, zero point, per-channel axis) when the tensor is quantized. A tensor whose
//    type DeepEdge lacks (string, float64, uint32, ...) is reported as Unsupported;
//  - operator_counts: TFLite builtin names ("CONV_2D") or "CUSTOM:<code>" -> count, over
//    all subgraphs;
//  - tensor_type_counts: TFLite type name ("int8", "float32", ...) -> tensors, all subgraphs;
//  - parameter_count: elements of all constant tensors (sparse ones: stored values);
//  - macs: multiply-accumulates of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
//    FULLY_CONNECTED, BATCH_MATMUL and UNIDIRECTIONAL_SEQUENCE_LSTM in subgraph 0 from
//    the shapes stored in the file; empty when such an operator has a dynamic shape or
//    the model has control flow (IF / WHILE).
//
// Errors (messages name the file, or "<memory>"):
//  - NotFound / IoError: the file cannot be read;
//  - InvalidArgument: `source.format` is not ModelFormat::kTflite;
//  - Corrupt: not a valid TFLite flatbuffer or inconsistent (see above);
//  - Unsupported: an input or output tensor has a type DeepEdge lacks.
Expected<ModelInfo> InspectTflite(const ModelSource& source);

// Imports a TFLite model (subgraph 0 is the model) into the graph IR, ONNX-flavoured
// (ai.onnx opset 14 on every node):
//  - tensors keep TFLite's layout (NHWC); spatial operators run as
//    Transpose(0,3,1,2) -> ONNX operator in NCHW -> Transpose(0,2,3,1), weights permuted
//    at import (OHWI -> OIHW; depthwise [1,H,W,C*M] -> [C*M,1,H,W] with group C);
//    SAME / VALID padding becomes explicit pads; fused activations become nodes after
//    the operator;
//  - quantized tensors (int8 / uint8 / int16 with scale and zero point) keep their
//    integer type; operators computing on them are emitted in QDQ form
//    (DequantizeLinear -> float operators -> QuantizeLinear), weights as integer
//    initializers behind DequantizeLinear (per-channel: with `axis`), int32 biases as
//    int32 initializers behind DequantizeLinear with zero point 0; pure data movement
//    with identical input and output quantization runs on the integers; int16
//    activations (16x8 quantization) go through int16 Quantize / DequantizeLinear with
//    the operators between them in float (the int8 fusion pass leaves them alone);
//    int16 weights are refused;
//  - float16 constants behind DEQUANTIZE become Cast; sparse constants are densified;
//  - custom operators: MediaPipe's Convolution2DTransposeBias (inputs: input, filter
//    [O, KH, KW, I], bias [O]; custom_options a raw int32 struct: padding 1 SAME / 2
//    VALID, stride_width, stride_height) becomes ConvTranspose with the bias, as
//    TRANSPOSE_CONV does (SAME: output = input * stride); TFLite Micro's audio front-end
//    operators (SignalWindow, SignalFftAutoScale, SignalRfft (int16), SignalEnergy,
//    SignalFilterBank, SignalFilterBankSquareRoot, SignalFilterBankSpectralSubtraction,
//    SignalPCAN, SignalFilterBankLog; custom_options a flexbuffer map, every field
//    required and range-checked, unknown fields refused) map one to one onto the
//    engine's com.deepedge.signal kernels with TFLM's fixed-point arithmetic; the
//    spectral subtraction's noise estimate persists across inferences of one session
//    (a new session starts from zero); no other custom code maps;
//  - uint32 / uint64 tensors (only those signal operators use them) are carried as
//    int32 / int64 with the same bits; a builtin other than RESHAPE or a bit-preserving
//    CAST touching one is Unsupported;
//  - UNIDIRECTIONAL_SEQUENCE_LSTM becomes ONNX LSTM with weights dequantized to float at
//    import; its state tensors start at zero on every inference (TFLite keeps them
//    between invocations);
//  - control flow: IF (cond, values...) becomes ONNX If; each branch subgraph is imported
//    as a nested graph without formal inputs whose inputs read the outer values. WHILE
//    (values...) becomes ONNX Loop (no trip limit) whose initial condition is the
//    condition subgraph inlined before it on the inputs, and whose body runs the body
//    subgraph, then the condition subgraph on its results; loop-carried values may change
//    shape between trips. Nested control flow maps the same way; a subgraph used only as
//    a branch, condition or body is not imported on its own. Value names inside nested
//    imports start with "tfl/";
//  - graph inputs / outputs keep the TFLite tensor names; metadata keeps the
//    signature keys and metadata entry names.
// Errors: as InspectTflite; Unsupported names the operator (builtin name and number, or
// custom code) and its index for custom operators, builtins without a mapping and
// unsupported option combinations, and names the tensor for types DeepEdge lacks. A
// malformed Convolution2DTransposeBias (options, input count, ranks, channels, strides,
// stated output shape) or Signal* operator (options, input / output counts, tensor
// types) is InvalidArgument naming the operator index and the problem. So
// is a malformed IF / WHILE: options missing, a subgraph index out of range, a subgraph
// calling itself directly or through others (the chain is named), more than 32 levels of
// nesting or 1000 nested imports, input / output counts or types that differ from the
// called subgraph's, a condition that is not one bool. Errors inside a called subgraph
// name the calling operator, the role ("then branch", "body", ...) and the subgraph's
// operator.
Expected<ir::Model> ImportTflite(const ModelSource& source);

}  // namespace deepedge
