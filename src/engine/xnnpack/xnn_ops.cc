#include "engine/xnnpack/xnn_ops.h"

#include <xnnpack.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/kernels/kernel_util.h"

namespace deepedge::engine::xnn {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Status NodeInvalid(const ir::Node& node, const std::string& msg) {
  return InvalidArgument(node.Describe() + ": " + msg);
}

Status ReadPair(const ir::Node& node, const char* attr, std::int64_t out[2], std::int64_t min) {
  const ir::Attribute* a = node.Find(attr);
  if (a == nullptr) return Status::Ok();
  if (a->ints.size() != 2) {
    return NodeInvalid(node, std::string(attr) + " must have 2 values for a 2-D window");
  }
  for (int i = 0; i < 2; ++i) {
    if (a->ints[static_cast<std::size_t>(i)] < min) {
      return NodeInvalid(node, std::string(attr) + " must be >= " + std::to_string(min));
    }
    out[i] = a->ints[static_cast<std::size_t>(i)];
  }
  return Status::Ok();
}

Status ReadCommon(const ir::Node& node, Window& w) {
  DEEPEDGE_RETURN_IF_ERROR(ReadPair(node, "strides", w.stride, 1));
  DEEPEDGE_RETURN_IF_ERROR(ReadPair(node, "dilations", w.dilation, 1));
  if (const ir::Attribute* p = node.Find("pads")) {
    if (p->ints.size() != 4) return NodeInvalid(node, "pads must have 4 values for a 2-D window");
    // ONNX order: x1_begin, x2_begin, x1_end, x2_end = top, left, bottom, right.
    for (std::size_t i = 0; i < 4; ++i) {
      if (p->ints[i] < 0) return NodeInvalid(node, "negative pads are not supported");
      w.pads[i] = p->ints[i];
    }
  }
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    w.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "VALID") {
    w.auto_pad = AutoPad::kValid;
  } else if (auto_pad == "SAME_UPPER") {
    w.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    w.auto_pad = AutoPad::kSameLower;
  } else {
    return NodeInvalid(node, "unknown auto_pad '" + auto_pad + "'");
  }
  return Status::Ok();
}

}  // namespace

Expected<Window> ParseConvWindow(const ir::Node& node, const Shape& weight_shape) {
  if (weight_shape.rank() != 4) {
    return Unsupported(node.Describe() + ": only 2-D convolutions (4-D weights) are supported");
  }
  Window w;
  w.kernel[0] = weight_shape[2];
  w.kernel[1] = weight_shape[3];
  if (const ir::Attribute* k = node.Find("kernel_shape")) {
    if (k->ints.size() != 2 || k->ints[0] != w.kernel[0] || k->ints[1] != w.kernel[1]) {
      return NodeInvalid(node,
                         "kernel_shape does not match the weight shape " + weight_shape.ToString());
    }
  }
  if (w.kernel[0] < 1 || w.kernel[1] < 1) return NodeInvalid(node, "empty kernel");
  DEEPEDGE_RETURN_IF_ERROR(ReadCommon(node, w));
  return w;
}

Expected<Window> ParsePoolWindow(const ir::Node& node) {
  Window w;
  const ir::Attribute* k = node.Find("kernel_shape");
  if (k == nullptr || k->ints.size() != 2) {
    return Unsupported(node.Describe() + ": only 2-D pooling (kernel_shape of 2 values)");
  }
  DEEPEDGE_RETURN_IF_ERROR(ReadPair(node, "kernel_shape", w.kernel, 1));
  DEEPEDGE_RETURN_IF_ERROR(ReadCommon(node, w));
  w.ceil_mode = node.GetInt("ceil_mode", 0) != 0;
  return w;
}

Expected<ResolvedWindow> ResolveWindow(const Window& w, std::int64_t in_h, std::int64_t in_w) {
  ResolvedWindow r;
  const std::int64_t in[2] = {in_h, in_w};
  std::int64_t out[2] = {0, 0};
  std::int64_t begin[2] = {0, 0};
  std::int64_t end[2] = {0, 0};
  std::int64_t extra[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::int64_t dk = (w.kernel[i] - 1) * w.dilation[i] + 1;
    const std::int64_t s = w.stride[i];
    switch (w.auto_pad) {
      case AutoPad::kValid:
        if (in[i] < dk) break;
        out[i] = (in[i] - dk) / s + 1;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out[i] = (in[i] + s - 1) / s;
        const std::int64_t total = std::max<std::int64_t>(0, (out[i] - 1) * s + dk - in[i]);
        begin[i] = w.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        end[i] = total - begin[i];
        break;
      }
      case AutoPad::kNotSet: {
        begin[i] = w.pads[i];
        end[i] = w.pads[i + 2];
        const std::int64_t padded = in[i] + begin[i] + end[i];
        if (padded < dk) break;
        if (w.ceil_mode) {
          out[i] = (padded - dk + s - 1) / s + 1;
          // A window that would start in the end padding is dropped.
          if ((out[i] - 1) * s >= in[i] + begin[i]) --out[i];
          extra[i] = std::max<std::int64_t>(0, (out[i] - 1) * s + dk - padded);
        } else {
          out[i] = (padded - dk) / s + 1;
        }
        break;
      }
    }
    if (out[i] < 1) {
      return InvalidArgument("a window of " + std::to_string(dk) + " does not fit an input of " +
                             std::to_string(in[i]));
    }
  }
  r.out_h = out[0];
  r.out_w = out[1];
  r.top = begin[0];
  r.left = begin[1];
  r.bottom = end[0];
  r.right = end[1];
  r.extra_bottom = extra[0];
  r.extra_right = extra[1];
  return r;
}

Expected<ClipRange> ParseClip(const ir::Node& node, const ConstantFn& constant) {
  if (node.op_type == "Relu") return ClipRange{0.0f, kInf};
  ClipRange r{-kInf, kInf};
  if (node.opset > 0 && node.opset < 11) {
    r.min = node.GetFloat("min", -kInf);
    r.max = node.GetFloat("max", kInf);
  } else {
    for (std::size_t i = 1; i <= 2; ++i) {
      const std::string& name = InputName(node, i);
      if (name.empty()) continue;
      const Tensor* t = constant ? constant(name) : nullptr;
      if (t == nullptr) {
        return Unsupported(node.Describe() + ": Clip bounds must be constants");
      }
      DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> v, ConstantFloats(*t));
      if (v.size() != 1) return NodeInvalid(node, "Clip bounds must be scalars");
      (i == 1 ? r.min : r.max) = v[0];
    }
  }
  if (std::isnan(r.min) || std::isnan(r.max)) return NodeInvalid(node, "NaN Clip bound");
  return r;
}

Expected<bool> ParseSpatialMean(const ir::Node& node, const ConstantFn& constant) {
  std::vector<std::int64_t> axes;
  if (node.opset >= 18) {
    const std::string& name = InputName(node, 1);
    const Tensor* t = name.empty() || !constant ? nullptr : constant(name);
    if (t == nullptr) return Unsupported(node.Describe() + ": axes must be a constant");
    DEEPEDGE_ASSIGN_OR_RETURN(axes, ReadInts(*t));
  } else {
    axes = node.GetInts("axes");
  }
  for (std::int64_t& a : axes) {
    if (a < 0) a += 4;
  }
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<std::int64_t>{2, 3}) {
    return Unsupported(node.Describe() + ": only ReduceMean over axes 2 and 3");
  }
  return node.GetInt("keepdims", 1) != 0;
}

Expected<PadSpec> ParsePad(const ir::Node& node, std::size_t rank, const ConstantFn& constant) {
  if (node.GetString("mode", "constant") != "constant") {
    return Unsupported(node.Describe() + ": only constant-mode Pad");
  }
  PadSpec spec;
  if (node.opset > 0 && node.opset < 11) {
    spec.pads = node.GetInts("pads");
    spec.value = node.GetFloat("value", 0.0f);
  } else {
    if (!InputName(node, 3).empty()) return Unsupported(node.Describe() + ": Pad with axes");
    const std::string& name = InputName(node, 1);
    const Tensor* p = name.empty() || !constant ? nullptr : constant(name);
    if (p == nullptr) return Unsupported(node.Describe() + ": pads must be a constant");
    DEEPEDGE_ASSIGN_OR_RETURN(spec.pads, ReadInts(*p));
    const std::string& vname = InputName(node, 2);
    if (!vname.empty()) {
      const Tensor* v = constant ? constant(vname) : nullptr;
      if (v == nullptr) return Unsupported(node.Describe() + ": the pad value must be a constant");
      DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> vv, ConstantFloats(*v));
      if (vv.size() != 1) return NodeInvalid(node, "the pad value must be a scalar");
      spec.value = vv[0];
    }
  }
  if (spec.pads.size() != 2 * rank) return NodeInvalid(node, "pads do not match the rank");
  for (std::int64_t v : spec.pads) {
    if (v < 0) return Unsupported(node.Describe() + ": negative pads (cropping)");
  }
  return spec;
}

ResizeOperands ResizeOperandNames(const ir::Node& node) {
  const bool old_opset = node.opset > 0 && node.opset < (node.op_type == "Upsample" ? 9 : 10);
  if (old_opset) return {};
  if (node.op_type == "Upsample" || node.opset == 10) return {"", InputName(node, 1), ""};
  return {InputName(node, 1), InputName(node, 2), InputName(node, 3)};
}

Expected<NearestScale> ParseNearestResize(const ir::Node& node, std::size_t rank,
                                          const ConstantFn& constant) {
  auto no = [&](const std::string& why) { return Unsupported(node.Describe() + ": " + why); };
  if (rank != 4) return no("only 4-D nearest resizes");
  if (node.GetString("mode", "nearest") != "nearest") return no("only nearest mode");
  const bool upsample = node.op_type == "Upsample";
  std::vector<float> scales;
  if (upsample && node.opset > 0 && node.opset < 9) {
    scales = node.GetFloats("scales");
  } else {
    const ResizeOperands in = ResizeOperandNames(node);
    if (!in.sizes.empty()) return no("sizes instead of scales");
    // A computed roi would become a 1-D region input (nearest ignores it, but a region
    // only takes 2-D and 4-D activations).
    if (!in.roi.empty() && (!constant || constant(in.roi) == nullptr)) {
      return no("roi must be absent or a constant");
    }
    // Opset 18: scales for a subset of axes, or sizes under an aspect-ratio policy.
    if (node.Find("axes") != nullptr || node.Find("keep_aspect_ratio_policy") != nullptr) {
      return no("axes or keep_aspect_ratio_policy");
    }
    const Tensor* t = in.scales.empty() || !constant ? nullptr : constant(in.scales);
    if (t == nullptr) return no("the scales must be a constant");
    DEEPEDGE_ASSIGN_OR_RETURN(scales, ConstantFloats(*t));
  }
  if (scales.size() != rank) return no("scales do not match the rank");
  if (scales[0] != 1.0f || scales[1] != 1.0f) return no("only H and W may be scaled");
  NearestScale f;
  for (int i = 0; i < 2; ++i) {
    const float v = scales[static_cast<std::size_t>(2 + i)];
    if (!(v >= 1.0f && v <= 64.0f) || v != std::floor(v)) return no("scales must be whole");
    (i == 0 ? f.h : f.w) = static_cast<std::int64_t>(v);
  }
  if (upsample || (node.opset > 0 && node.opset < 11)) {
    // Upsample is floor(y / scale); Resize-10 nearest is asymmetric, rounding as -11's
    // default: floor(y / 2) at factor 2 only.
    if (!upsample && (f.h > 2 || f.w > 2)) return no("opset-10 nearest beyond factor 2");
    return f;
  }
  const std::string coords = node.GetString("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = node.GetString("nearest_mode", "round_prefer_floor");
  const bool half_pixel = coords == "half_pixel" || coords == "pytorch_half_pixel";
  const bool rounds = rounding == "round_prefer_floor" || rounding == "round_prefer_ceil";
  if (half_pixel && rounds) return f;
  if (coords == "asymmetric" &&
      (rounding == "floor" || (rounding == "round_prefer_floor" && f.h <= 2 && f.w <= 2)))
    return f;
  return no("coordinate mode " + coords + " with " + rounding);
}

Expected<std::vector<float>> ConstantFloats(const Tensor& t) {
  return ReadFloats(t);
}

const std::string& InputName(const ir::Node& node, std::size_t i) {
  static const std::string kEmpty;
  return i < node.inputs.size() ? node.inputs[i] : kEmpty;
}

std::size_t WantedOutputs(const ir::Node& node) {
  return static_cast<std::size_t>(std::count_if(node.outputs.begin(), node.outputs.end(),
                                                [](const std::string& s) { return !s.empty(); }));
}

Expected<LayoutConstant> ToRegionLayout(const Tensor& t, std::size_t rank) {
  if (t.shape().rank() > rank) {
    return InvalidArgument("constant of shape " + t.shape().ToString() +
                           " has a higher rank than the activation");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> values, ConstantFloats(t));
  std::vector<std::int64_t> dims(rank - t.shape().rank(), 1);
  for (std::int64_t d : t.shape().dims()) dims.push_back(d);
  LayoutConstant out;
  if (rank != 4) {
    for (std::int64_t d : dims) out.dims.push_back(static_cast<std::size_t>(d));
    out.values = std::move(values);
    return out;
  }
  const std::int64_t n = dims[0], c = dims[1], h = dims[2], w = dims[3];
  out.dims = {static_cast<std::size_t>(n), static_cast<std::size_t>(h), static_cast<std::size_t>(w),
              static_cast<std::size_t>(c)};
  out.values.resize(values.size());
  for (std::int64_t in = 0; in < n; ++in) {
    for (std::int64_t ic = 0; ic < c; ++ic) {
      for (std::int64_t ih = 0; ih < h; ++ih) {
        for (std::int64_t iw = 0; iw < w; ++iw) {
          out.values[static_cast<std::size_t>(((in * h + ih) * w + iw) * c + ic)] =
              values[static_cast<std::size_t>(((in * c + ic) * h + ih) * w + iw)];
        }
      }
    }
  }
  return out;
}

std::vector<std::int64_t> ToNhwcDims(const std::vector<std::int64_t>& nchw) {
  if (nchw.size() != 4) return nchw;
  return {nchw[0], nchw[2], nchw[3], nchw[1]};
}

const char* XnnStatusName(int status) {
  switch (status) {
    case xnn_status_success:
      return "xnn_status_success";
    case xnn_status_uninitialized:
      return "xnn_status_uninitialized";
    case xnn_status_invalid_parameter:
      return "xnn_status_invalid_parameter";
    case xnn_status_invalid_state:
      return "xnn_status_invalid_state";
    case xnn_status_unsupported_parameter:
      return "xnn_status_unsupported_parameter";
    case xnn_status_unsupported_hardware:
      return "xnn_status_unsupported_hardware";
    case xnn_status_out_of_memory:
      return "xnn_status_out_of_memory";
  }
  return "xnn_status_unknown";
}

}  // namespace deepedge::engine::xnn
