// Small helpers shared by the reference kernels.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"
#include "engine/kernel.h"

namespace deepedge::engine {

// InvalidArgument / Unsupported errors that name the node: "Conv 'c1' (ai.onnx opset 13): msg".
Status NodeError(const KernelContext& ctx, const std::string& msg);
Status NodeUnsupported(const KernelContext& ctx, const std::string& msg);

// The input, or an error naming the node when it is missing.
Expected<const Tensor*> RequiredInput(const KernelContext& ctx, std::size_t i);

// Row-major strides of a static shape, in elements.
std::vector<std::int64_t> Strides(const Shape& shape);

// Numpy-style multidirectional broadcasting of two shapes.
Expected<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// For each element of `out` (row-major), the offset of the element of `in` that
// broadcasting reads. `in` must broadcast to `out`.
std::vector<std::int64_t> BroadcastOffsets(const Shape& in, const Shape& out);

// An axis in [-rank, rank) (or [-rank-1, rank] with `inclusive_end`) mapped to [0, rank).
Expected<std::int64_t> NormalizeAxis(std::int64_t axis, std::size_t rank,
                                     bool inclusive_end = false);

// The values of an integer tensor (i32 or i64) as int64.
Expected<std::vector<std::int64_t>> ReadInts(const Tensor& t);
// The values of a floating tensor (f32, f16, bf16) as f32.
Expected<std::vector<float>> ReadFloats(const Tensor& t);

// Calls fn(T{}) with T the C++ type of `dtype` (float for f32; std::uint16_t for f16
// and bf16: callers that do arithmetic must convert those); `bool` is std::uint8_t.
template <typename Fn>
Status DispatchByType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      return fn(float{});
    case DType::kF16:
      return fn(std::uint16_t{});
    case DType::kBF16:
      return fn(std::uint16_t{});
    case DType::kI8:
      return fn(std::int8_t{});
    case DType::kU8:
      return fn(std::uint8_t{});
    case DType::kI16:
      return fn(std::int16_t{});
    case DType::kI32:
      return fn(std::int32_t{});
    case DType::kI64:
      return fn(std::int64_t{});
    case DType::kBool:
      return fn(std::uint8_t{});
  }
  return Unsupported("unknown dtype");
}

// The DType of a C++ element type (for the real arithmetic types).
template <typename T>
constexpr DType DTypeOf() {
  if constexpr (std::is_same_v<T, float>) return DType::kF32;
  if constexpr (std::is_same_v<T, std::int8_t>) return DType::kI8;
  if constexpr (std::is_same_v<T, std::uint8_t>) return DType::kU8;
  if constexpr (std::is_same_v<T, std::int16_t>) return DType::kI16;
  if constexpr (std::is_same_v<T, std::int32_t>) return DType::kI32;
  if constexpr (std::is_same_v<T, std::int64_t>) return DType::kI64;
  return DType::kF32;
}

}  // namespace deepedge::engine
