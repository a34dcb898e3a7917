#include "engine/kernels/kernel_util.h"

#include <algorithm>

namespace deepedge::engine {

Status NodeError(const KernelContext& ctx, const std::string& msg) {
  return InvalidArgument(ctx.node().Describe() + ": " + msg);
}

Status NodeUnsupported(const KernelContext& ctx, const std::string& msg) {
  return Unsupported(ctx.node().Describe() + ": " + msg);
}

Expected<const Tensor*> RequiredInput(const KernelContext& ctx, std::size_t i) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr) return NodeError(ctx, "input " + std::to_string(i) + " is missing");
  return t;
}

std::vector<std::int64_t> Strides(const Shape& shape) {
  std::vector<std::int64_t> s(shape.rank(), 1);
  for (std::size_t i = shape.rank(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

Expected<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.rank() ? 1 : a[i - (rank - a.rank())];
    const std::int64_t db = i < rank - b.rank() ? 1 : b[i - (rank - b.rank())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + a.ToString() + " and " + b.ToString() +
                             " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return Shape(std::move(out));
}

std::vector<std::int64_t> BroadcastOffsets(const Shape& in, const Shape& out) {
  const std::size_t rank = out.rank();
  const std::size_t pad = rank - in.rank();
  const std::vector<std::int64_t> in_strides = Strides(in);
  // Stride 0 along broadcast dimensions.
  std::vector<std::int64_t> s(rank, 0);
  for (std::size_t i = pad; i < rank; ++i) s[i] = in[i - pad] == 1 ? 0 : in_strides[i - pad];
  const std::int64_t n = out.element_count();
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t off = 0;
  for (std::int64_t e = 0; e < n; ++e) {
    offsets[static_cast<std::size_t>(e)] = off;
    for (std::size_t d = rank; d-- > 0;) {
      if (++idx[d] < out[d]) {
        off += s[d];
        break;
      }
      off -= s[d] * (out[d] - 1);
      idx[d] = 0;
    }
  }
  return offsets;
}

Expected<std::int64_t> NormalizeAxis(std::int64_t axis, std::size_t rank, bool inclusive_end) {
  const auto r = static_cast<std::int64_t>(rank) + (inclusive_end ? 1 : 0);
  if (axis < -r || axis >= r) {
    return InvalidArgument("axis " + std::to_string(axis) + " is out of range for rank " +
                           std::to_string(rank));
  }
  return axis < 0 ? axis + r : axis;
}

Expected<std::vector<std::int64_t>> ReadInts(const Tensor& t) {
  std::vector<std::int64_t> v;
  if (t.dtype() == DType::kI64) {
    auto s = t.as<std::int64_t>();
    v.assign(s.begin(), s.end());
  } else if (t.dtype() == DType::kI32) {
    auto s = t.as<std::int32_t>();
    v.assign(s.begin(), s.end());
  } else {
    return InvalidArgument("expected an integer tensor, got " + std::string(DTypeName(t.dtype())));
  }
  return v;
}

Expected<std::vector<float>> ReadFloats(const Tensor& t) {
  std::vector<float> v;
  if (t.dtype() == DType::kF32) {
    auto s = t.as<float>();
    v.assign(s.begin(), s.end());
  } else if (t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
    auto s = t.as<std::uint16_t>();
    v.reserve(s.size());
    const bool half = t.dtype() == DType::kF16;
    for (std::uint16_t h : s) v.push_back(half ? F16ToF32(h) : BF16ToF32(h));
  } else {
    return InvalidArgument("expected a floating tensor, got " + std::string(DTypeName(t.dtype())));
  }
  return v;
}

}  // namespace deepedge::engine
