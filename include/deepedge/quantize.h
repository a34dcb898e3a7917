// Post-training quantization of ONNX models to the QDQ format.
//
// Library: deepedge_quantize. The ONNX and protobuf headers stay private to it; it
// runs the float model for calibration through a Backend the caller passes (it does
// not depend on any engine), so any backend that loads ONNX from bytes will do.
//
// What QuantizeOnnx writes is the standard ONNX QDQ form (the one
// onnxruntime.quantization writes with QuantFormat.QDQ):
//  - weights: per-channel symmetric int8 in [-127, 127], scale = max|w_c| / 127 per
//    output channel, zero point 0 (Conv [O, I, kh, kw]: axis 0; Gemm transB=1 [N, K]:
//    axis 0, transB=0 [K, N]: axis 1; MatMul constant B [K, N]: axis 1), stored as
//    int8 initializers read through DequantizeLinear (per-tensor with
//    per_channel_weights = false);
//  - biases of Conv and Gemm: int32, scale = input_scale * weight_scale[c], zero point 0;
//  - activations: per-tensor asymmetric int8, a QuantizeLinear -> DequantizeLinear pair
//    on every float tensor that feeds a quantized node and on each quantized node's
//    output. When a Relu or Clip is the only consumer of a quantized node's output,
//    the pair goes after that activation, not between (DQ -> Conv -> Relu -> Q), the
//    shape int8 kernels fuse.
// Quantized nodes: Conv, Gemm, MatMul, Add, Mul, MaxPool, AveragePool,
// GlobalAveragePool, GlobalMaxPool of the main graph whose tensors are float32 (as
// observed in calibration) and whose weights are float32 constants; every other node
// stays float. Before quantizing, a BatchNormalization that is the only consumer of a
// Conv with constant weights is folded into the Conv (as onnxruntime's pre-processing
// does), so that Conv -> Relu is visible.
//
// Thread-safety: the functions keep no state and may be called concurrently if the
// backend's Load may (Backend::Load is documented thread-safe).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "deepedge/backend.h"
#include "deepedge/model.h"
#include "deepedge/status.h"

namespace deepedge {

enum class CalibrationMethod {
  kMinMax,      // the observed minimum and maximum of each activation
  kPercentile,  // the central `percentile` % of a 2048-bin histogram over [min, max]
};

struct QuantizeOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;  // kPercentile: in (0, 100]; 100 equals min-max
  bool per_channel_weights = true;
  // Nodes to keep in float, by node name (or, for an unnamed node, its first output's
  // name). An unknown name is an error.
  std::vector<std::string> exclude;

  // Calibration data: exactly one of the two.
  //
  // calibration_dir: .npy files (any name ending in .npy), used in file-name order.
  //  - single-input model: DIR/*.npy, one sample per file; or DIR/<input name>/*.npy;
  //  - several inputs: one subdirectory per input name, DIR/<input name>/*.npy, each
  //    with the same file names; samples are paired by file name.
  //  Each array has the input's element type and rank, and its size on every static
  //  dimension (a dynamic dimension, such as the batch, takes the file's size).
  std::filesystem::path calibration_dir;
  // calibration_random > 0: that many random samples, each element uniform in
  // [-1, 1) (the range of images normalised with mean 0.5, std 0.5) from a
  // splitmix64 stream seeded with `seed`; dynamic dimensions are 1; float32 inputs
  // only. Random data gives ranges unlike real data's, so the accuracy of such a
  // model means nothing: it is for speed measurements.
  int calibration_random = 0;
  std::uint64_t seed = 42;

  // How the calibration backend runs the float model.
  SessionOptions session;
};

struct QuantizeResult {
  std::vector<std::uint8_t> model;  // the serialized QDQ ModelProto; passes CheckOnnx
  int quantized_nodes = 0;          // float nodes now between DQ and Q
  int float_nodes = 0;              // nodes left as they were (other ops, excluded, ...)
  int folded_batch_norms = 0;
  int quantize_linear = 0;    // QuantizeLinear nodes added (activations)
  int dequantize_linear = 0;  // DequantizeLinear nodes added (activations, weights, biases)
  int calibration_samples = 0;
  std::string description;  // "minmax, calibration: 8 .npy files from DIR", as in metadata
  std::vector<std::string> warnings;  // one line each (random calibration, skipped nodes)
};

// Quantizes an ONNX model (file or bytes) into QDQ form, calibrating activations by
// running the float model (with every needed activation added as a graph output) on
// `backend`, loaded from bytes. The result's metadata_props gets
// "deepedge.quantized" = `description`.
//
// Errors (messages name the file, input, node or option):
//  - those of InspectOnnx for a model that cannot be read or parsed;
//  - InvalidArgument: no calibration data or both kinds, an empty calibration
//    directory, a sample of the wrong type or shape, an unknown --exclude name,
//    a percentile outside (0, 100];
//  - NotFound: the calibration directory or an input's subdirectory is missing;
//  - Unsupported: a model that already has QuantizeLinear / DequantizeLinear, an
//    opset below 10 (13 for per-channel weights), random calibration of a non-float
//    input, a backend that cannot load models from bytes;
//  - errors of the backend, with context, when the float model does not run.
Expected<QuantizeResult> QuantizeOnnx(const ModelSource& source, const Backend& backend,
                                      const QuantizeOptions& options);

}  // namespace deepedge
