// Private to shape.cc: per-DType element traits (load to a compute type, store from
// float / int64 / bool), used by Cast, Range, OneHot, NonZero, Unique and the
// scatter reductions, plus byte-level helpers for the kernels that only move data.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

#include "deepedge/dtype.h"
#include "deepedge/status.h"

namespace deepedge::engine::shape_internal {

// memcpy that accepts null pointers when nothing is copied (empty tensors).
inline void CopyBytes(void* dst, const void* src, std::size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
}

// Float to a signed or unsigned integer type: truncation toward zero; NaN gives 0,
// values beyond int64 saturate, narrower types wrap (as a C cast through int64 would).
template <typename I>
I FloatToInt(float f) {
  if (std::isnan(f)) return 0;
  const double t = std::trunc(static_cast<double>(f));
  constexpr double kTwo63 = 9223372036854775808.0;
  std::int64_t v;
  if (t >= kTwo63) {
    v = INT64_MAX;
  } else if (t < -kTwo63) {
    v = INT64_MIN;
  } else {
    v = static_cast<std::int64_t>(t);
  }
  return static_cast<I>(v);
}

// Elem<D>: Storage is the bytes' C++ type; Load gives float (floating types),
// std::int64_t (integers) or bool; From converts any of those three back.
template <DType D>
struct Elem;

template <>
struct Elem<DType::kF32> {
  using Storage = float;
  static constexpr DType kType = DType::kF32;
  static float Load(float v) { return v; }
  static float From(float v) { return v; }
  static float From(std::int64_t v) { return static_cast<float>(v); }
  static float From(bool v) { return v ? 1.0f : 0.0f; }
};

template <>
struct Elem<DType::kF16> {
  using Storage = std::uint16_t;
  static constexpr DType kType = DType::kF16;
  static float Load(std::uint16_t v) { return F16ToF32(v); }
  static std::uint16_t From(float v) { return F32ToF16(v); }
  static std::uint16_t From(std::int64_t v) { return F32ToF16(static_cast<float>(v)); }
  static std::uint16_t From(bool v) { return v ? std::uint16_t{0x3C00} : std::uint16_t{0}; }
};

template <>
struct Elem<DType::kBF16> {
  using Storage = std::uint16_t;
  static constexpr DType kType = DType::kBF16;
  static float Load(std::uint16_t v) { return BF16ToF32(v); }
  static std::uint16_t From(float v) { return F32ToBF16(v); }
  static std::uint16_t From(std::int64_t v) { return F32ToBF16(static_cast<float>(v)); }
  static std::uint16_t From(bool v) { return v ? std::uint16_t{0x3F80} : std::uint16_t{0}; }
};

template <typename I, DType D>
struct IntElem {
  using Storage = I;
  static constexpr DType kType = D;
  static std::int64_t Load(I v) { return static_cast<std::int64_t>(v); }
  static I From(float v) { return FloatToInt<I>(v); }
  static I From(std::int64_t v) { return static_cast<I>(v); }
  static I From(bool v) { return v ? I{1} : I{0}; }
};

template <>
struct Elem<DType::kI8> : IntElem<std::int8_t, DType::kI8> {};
template <>
struct Elem<DType::kU8> : IntElem<std::uint8_t, DType::kU8> {};
template <>
struct Elem<DType::kI16> : IntElem<std::int16_t, DType::kI16> {};
template <>
struct Elem<DType::kI32> : IntElem<std::int32_t, DType::kI32> {};
template <>
struct Elem<DType::kI64> : IntElem<std::int64_t, DType::kI64> {};

template <>
struct Elem<DType::kBool> {
  using Storage = std::uint8_t;
  static constexpr DType kType = DType::kBool;
  static bool Load(std::uint8_t v) { return v != 0; }
  static std::uint8_t From(float v) { return v != 0.0f ? 1 : 0; }
  static std::uint8_t From(std::int64_t v) { return v != 0 ? 1 : 0; }
  static std::uint8_t From(bool v) { return v ? 1 : 0; }
};

// Calls fn(Elem<dtype>{}).
template <typename Fn>
Status VisitDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      return fn(Elem<DType::kF32>{});
    case DType::kF16:
      return fn(Elem<DType::kF16>{});
    case DType::kBF16:
      return fn(Elem<DType::kBF16>{});
    case DType::kI8:
      return fn(Elem<DType::kI8>{});
    case DType::kU8:
      return fn(Elem<DType::kU8>{});
    case DType::kI16:
      return fn(Elem<DType::kI16>{});
    case DType::kI32:
      return fn(Elem<DType::kI32>{});
    case DType::kI64:
      return fn(Elem<DType::kI64>{});
    case DType::kBool:
      return fn(Elem<DType::kBool>{});
  }
  return Unsupported("unknown dtype");
}

// Element i of a buffer, loaded to its compute type (unaligned-safe).
template <typename E>
auto LoadAt(const void* data, std::size_t i) {
  typename E::Storage s;
  std::memcpy(&s, static_cast<const std::byte*>(data) + i * sizeof(s), sizeof(s));
  return E::Load(s);
}

// A compute value (float / int64 / bool) as int64 (floats truncate toward zero).
inline std::int64_t ComputeToI64(float v) {
  return FloatToInt<std::int64_t>(v);
}
inline std::int64_t ComputeToI64(std::int64_t v) {
  return v;
}
inline std::int64_t ComputeToI64(bool v) {
  return v ? 1 : 0;
}

// Calls fn(std::integral_constant<std::size_t, N>{}) with N the element size in bytes.
template <typename Fn>
void VisitSize(std::size_t size, Fn&& fn) {
  switch (size) {
    case 1:
      fn(std::integral_constant<std::size_t, 1>{});
      break;
    case 2:
      fn(std::integral_constant<std::size_t, 2>{});
      break;
    case 4:
      fn(std::integral_constant<std::size_t, 4>{});
      break;
    default:
      fn(std::integral_constant<std::size_t, 8>{});
      break;
  }
}

// ONNX TensorProto.DataType codes (and the opset-1 Cast names) to DType.
inline std::optional<DType> DTypeFromOnnx(std::int64_t code) {
  switch (code) {
    case 1:
      return DType::kF32;
    case 2:
      return DType::kU8;
    case 3:
      return DType::kI8;
    case 5:
      return DType::kI16;
    case 6:
      return DType::kI32;
    case 7:
      return DType::kI64;
    case 9:
      return DType::kBool;
    case 10:
      return DType::kF16;
    case 16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

}  // namespace deepedge::engine::shape_internal
