// Fixed-point requantization arithmetic with TensorFlow Lite's rounding rules
// (gemmlowp's "rounding doubling high multiply" followed by a rounding right shift),
// written from their public description so that int8 kernels produce the same
// integers as TFLite's reference kernels.
//
// A real multiplier M > 0 is stored as (multiplier, shift) with
//   M ~= multiplier * 2^(shift - 31),  multiplier in [2^30, 2^31)  (0 for M == 0),
// and applied to an int32 accumulator x as
//   RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(shift, 0), multiplier),
//                       max(-shift, 0)).
// Everything here is pure, header-only and free of undefined behaviour for every
// int32 input (the left shift wraps like the two's-complement hardware TFLite runs on).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace deepedge::engine::fixed_point {

struct QuantizedMultiplier {
  std::int32_t multiplier = 0;  // Q0.31, in [2^30, 2^31) or 0
  int shift = 0;                // > 0: left shift; < 0: right shift
};

// TFLite's QuantizeMultiplier: frexp into [0.5, 1), round the mantissa to 31 bits
// (carrying into the exponent when it rounds up to 1.0), and flush multipliers too
// small to represent (shift < -31) to zero. `real` must be finite and >= 0.
inline QuantizedMultiplier QuantizeMultiplier(double real) {
  QuantizedMultiplier q;
  if (!(real > 0) || !std::isfinite(real)) return q;
  int shift = 0;
  const double mantissa = std::frexp(real, &shift);
  auto fixed = static_cast<std::int64_t>(std::round(mantissa * static_cast<double>(1LL << 31)));
  if (fixed == (1LL << 31)) {
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) return q;
  // Multipliers >= 2^31 cannot be applied with a 32-bit left shift; TFLite never
  // builds them for sane scales. Saturate to the largest representable one.
  if (shift > 30) {
    q.multiplier = std::numeric_limits<std::int32_t>::max();
    q.shift = 30;
    return q;
  }
  q.multiplier = static_cast<std::int32_t>(fixed);
  q.shift = shift;
  return q;
}

// round(a * b / 2^31), ties toward +infinity, computed as (a*b + 2^30) >> 31 in 64
// bits (identical to gemmlowp's nudge-and-truncate form); the single overflowing
// case a == b == INT32_MIN saturates to INT32_MAX.
inline std::int32_t SaturatingRoundingDoublingHighMul(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min()) {
    return std::numeric_limits<std::int32_t>::max();
  }
  const std::int64_t ab = static_cast<std::int64_t>(a) * static_cast<std::int64_t>(b);
  return static_cast<std::int32_t>((ab + (std::int64_t{1} << 30)) >> 31);
}

// x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31].
inline std::int32_t RoundingDivideByPOT(std::int32_t x, int exponent) {
  const std::int32_t mask = static_cast<std::int32_t>((std::int64_t{1} << exponent) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * 2^left, wrapping on overflow as two's-complement int32 does (TFLite's C++ has
// the same result on every platform it runs on; here it is defined behaviour).
inline std::int32_t WrappingShiftLeft(std::int32_t x, int left) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left);
}

// TFLite's MultiplyByQuantizedMultiplier (the default "double rounding" variant).
inline std::int32_t MultiplyByQuantizedMultiplier(std::int32_t x, std::int32_t multiplier,
                                                  int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return RoundingDivideByPOT(
      SaturatingRoundingDoublingHighMul(WrappingShiftLeft(x, left), multiplier), right);
}
inline std::int32_t MultiplyByQuantizedMultiplier(std::int32_t x, QuantizedMultiplier q) {
  return MultiplyByQuantizedMultiplier(x, q.multiplier, q.shift);
}

// TFLite's rounding of a float to the nearest integer (ties away from zero).
inline std::int32_t RoundToInt(double v) {
  return static_cast<std::int32_t>(std::round(v));
}

}  // namespace deepedge::engine::fixed_point
