// Operator semantics shared by the XNNPACK partition pass and the region kernel
// (private to src/engine/xnnpack/): attribute parsing for convolution and pooling
// windows, clip bounds, constant reading, and the layout helpers that map NCHW
// (the outer graph) to NHWC (inside a region).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "deepedge/ir.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge::engine::xnn {

// Constant value of a tensor name (an initializer), or null.
using ConstantFn = std::function<const Tensor*(const std::string& name)>;

enum class AutoPad { kNotSet, kValid, kSameUpper, kSameLower };

// A 2-D sliding window (Conv, MaxPool, AveragePool) as the node describes it.
struct Window {
  std::int64_t kernel[2] = {1, 1};
  std::int64_t stride[2] = {1, 1};
  std::int64_t dilation[2] = {1, 1};
  std::int64_t pads[4] = {0, 0, 0, 0};  // top, left, bottom, right
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// A window resolved for one input size: what XNNPACK needs.
struct ResolvedWindow {
  std::int64_t out_h = 0;
  std::int64_t out_w = 0;
  // Explicit padding (the node's pads, or the auto_pad ones).
  std::int64_t top = 0, left = 0, bottom = 0, right = 0;
  // Extra bottom / right padding that makes XNNPACK's floor rounding give the
  // ceil_mode output size (0 without ceil_mode).
  std::int64_t extra_bottom = 0, extra_right = 0;
};

// Conv: kernel from `kernel_shape` or the weight dims [C_out, C_in/group, KH, KW].
Expected<Window> ParseConvWindow(const ir::Node& node, const Shape& weight_shape);
// MaxPool / AveragePool: `kernel_shape` is required; dilations only for MaxPool.
Expected<Window> ParsePoolWindow(const ir::Node& node);
// Output size and padding for an input of h x w. Errors when the output would be empty.
Expected<ResolvedWindow> ResolveWindow(const Window& w, std::int64_t in_h, std::int64_t in_w);

// Output bounds of Relu / Clip (opset < 11: attributes; later: constant inputs 1, 2).
// Absent bounds are -inf / +inf.
struct ClipRange {
  float min = 0;
  float max = 0;
};
Expected<ClipRange> ParseClip(const ir::Node& node, const ConstantFn& constant);

// ReduceMean over axes {2, 3} of a 4-D tensor (a global average pool, as TensorFlow
// exports it). Returns keepdims; Unsupported for any other reduction.
Expected<bool> ParseSpatialMean(const ir::Node& node, const ConstantFn& constant);

// Pad in constant mode with constant, non-negative pads: NCHW begins then ends
// (2 * rank values) and the fill value.
struct PadSpec {
  std::vector<std::int64_t> pads;
  float value = 0;
};
Expected<PadSpec> ParsePad(const ir::Node& node, std::size_t rank, const ConstantFn& constant);

// Resize / Upsample in nearest mode by whole factors on H and W of a 4-D tensor (N and
// C kept), from constant scales, where output pixel (y, x) reads input (y / h, x / w):
// half_pixel or pytorch_half_pixel coordinates with round_prefer_floor or
// round_prefer_ceil (for whole factors no ties arise and every output rounds to
// floor(y / h)), asymmetric with floor (or with round_prefer_floor at factor 2), and
// Upsample. Unsupported for anything else (sizes instead of scales, linear modes).
// Where a Resize / Upsample keeps its operands, by opset: Upsample-7/8 has its scales in
// an attribute (`scales` is "" here), Upsample-9 and Resize-10 take (X, scales),
// Resize-11 and later (X, roi, scales, sizes). "" marks an absent operand.
struct ResizeOperands {
  std::string roi, scales, sizes;
};
ResizeOperands ResizeOperandNames(const ir::Node& node);

struct NearestScale {
  std::int64_t h = 1, w = 1;
};
Expected<NearestScale> ParseNearestResize(const ir::Node& node, std::size_t rank,
                                          const ConstantFn& constant);

// The value of a constant floating tensor (f32, f16, bf16) as f32.
Expected<std::vector<float>> ConstantFloats(const Tensor& t);

// The input name i of a node, or "" when absent.
const std::string& InputName(const ir::Node& node, std::size_t i);
// Number of non-empty outputs.
std::size_t WantedOutputs(const ir::Node& node);

// A constant of rank <= `rank` broadcast against an activation of rank `rank`, in the
// layout the region uses: left-padded with 1s to `rank`, and for rank 4 permuted from
// NCHW to NHWC (the data too). Returns the new dims and the permuted values.
struct LayoutConstant {
  std::vector<std::size_t> dims;
  std::vector<float> values;
};
Expected<LayoutConstant> ToRegionLayout(const Tensor& t, std::size_t rank);

// NCHW dims -> NHWC dims for rank 4; other ranks unchanged.
std::vector<std::int64_t> ToNhwcDims(const std::vector<std::int64_t>& nchw);

// "xnn_status_invalid_parameter", ...
const char* XnnStatusName(int status);

}  // namespace deepedge::engine::xnn
