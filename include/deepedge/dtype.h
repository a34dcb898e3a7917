// Element types of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace deepedge {

enum class DType : std::uint8_t {
  kF32,
  kF16,   // IEEE 754 half
  kBF16,  // bfloat16 (upper 16 bits of an f32)
  kI8,
  kU8,
  kI16,
  kI32,
  kI64,
  kBool,  // one byte per element, 0 or 1
};

inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16,
                                       DType::kI8,  DType::kU8,  DType::kI16,
                                       DType::kI32, DType::kI64, DType::kBool};

// Bytes per element.
std::size_t DTypeSize(DType t);
// Short lower-case name: "f32", "f16", "bf16", "i8", "u8", "i16", "i32", "i64", "bool".
std::string_view DTypeName(DType t);
// Inverse of DTypeName; also accepts "float32", "float16", "int8", "uint8", ... .
std::optional<DType> ParseDType(std::string_view name);

// Conversions between f32 and the 16-bit float formats (round to nearest even).
std::uint16_t F32ToF16(float f);
float F16ToF32(std::uint16_t h);
std::uint16_t F32ToBF16(float f);
float BF16ToF32(std::uint16_t b);

}  // namespace deepedge
