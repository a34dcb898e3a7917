// TFLite fixed-point arithmetic (engine/kernels/fixed_point.h) against exact
// references in 128-bit integers and long double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/kernels/fixed_point.h"

namespace deepedge {
namespace {

namespace fp = engine::fixed_point;
// A 128-bit integer for exact references (__extension__: GCC and Clang have it).
__extension__ typedef __int128 i128;
constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

// floor(n / d) for d > 0.
i128 FloorDiv(i128 n, i128 d) {
  i128 q = n / d;
  if ((n % d != 0) && (n < 0)) --q;
  return q;
}

// round(a * b / 2^31) with ties toward +infinity (gemmlowp's definition), saturated.
std::int32_t RefHighMul(std::int32_t a, std::int32_t b) {
  const i128 ab = static_cast<i128>(a) * b;
  const i128 r = FloorDiv(2 * ab + (static_cast<i128>(1) << 31), static_cast<i128>(1) << 32);
  if (r > kMax) return kMax;
  return static_cast<std::int32_t>(r);
}

// x / 2^e rounded to nearest, ties away from zero.
std::int32_t RefDivPot(std::int32_t x, int e) {
  const i128 d = static_cast<i128>(1) << e;
  const i128 ax = x < 0 ? -static_cast<i128>(x) : x;
  const i128 q = (2 * ax + d) / (2 * d);  // floor(|x|/d + 1/2)
  return static_cast<std::int32_t>(x < 0 ? -q : q);
}

std::uint32_t Next(std::uint64_t& s) {
  s = s * 6364136223846793005ULL + 1442695040888963407ULL;
  return static_cast<std::uint32_t>(s >> 32);
}

TEST(FixedPointTest, HighMulMatchesExactReferenceOnEdgeCases) {
  const std::vector<std::int32_t> v = {kMin,    kMin + 1, -(1 << 30), -3,       -2,
                                       -1,      0,        1,          2,        3,
                                       1 << 30, kMax - 1, kMax,       12345678, -87654321};
  for (std::int32_t a : v)
    for (std::int32_t b : v) {
      EXPECT_EQ(fp::SaturatingRoundingDoublingHighMul(a, b), RefHighMul(a, b)) << a << " " << b;
    }
  // The only overflow saturates.
  EXPECT_EQ(fp::SaturatingRoundingDoublingHighMul(kMin, kMin), kMax);
  // Ties: 2^30 * 1 / 2^31 = 0.5 -> 1; -0.5 -> 0; -1.5 -> -1 (toward +infinity).
  EXPECT_EQ(fp::SaturatingRoundingDoublingHighMul(1 << 30, 1), 1);
  EXPECT_EQ(fp::SaturatingRoundingDoublingHighMul(-(1 << 30), 1), 0);
  EXPECT_EQ(fp::SaturatingRoundingDoublingHighMul(-(1 << 30), 3), -1);
}

TEST(FixedPointTest, HighMulMatchesExactReferenceOnRandomValues) {
  std::uint64_t s = 7;
  for (int i = 0; i < 200000; ++i) {
    const auto a = static_cast<std::int32_t>(Next(s));
    const auto b = static_cast<std::int32_t>(Next(s));
    ASSERT_EQ(fp::SaturatingRoundingDoublingHighMul(a, b), RefHighMul(a, b)) << a << " " << b;
  }
}

TEST(FixedPointTest, RoundingDivideByPotRoundsHalfAwayFromZero) {
  EXPECT_EQ(fp::RoundingDivideByPOT(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(fp::RoundingDivideByPOT(-5, 1), -3);  // -2.5 -> -3
  EXPECT_EQ(fp::RoundingDivideByPOT(-6, 2), -2);  // -1.5 -> -2
  EXPECT_EQ(fp::RoundingDivideByPOT(-5, 2), -1);  // -1.25 -> -1
  EXPECT_EQ(fp::RoundingDivideByPOT(kMin, 31), -1);
  EXPECT_EQ(fp::RoundingDivideByPOT(kMax, 31), 1);
  EXPECT_EQ(fp::RoundingDivideByPOT(7, 0), 7);
  std::uint64_t s = 11;
  for (int i = 0; i < 200000; ++i) {
    const auto x = static_cast<std::int32_t>(Next(s));
    const int e = static_cast<int>(Next(s) % 32);
    ASSERT_EQ(fp::RoundingDivideByPOT(x, e), RefDivPot(x, e)) << x << " >> " << e;
  }
  for (std::int32_t x : {kMin, kMin + 1, -1, 0, 1, kMax})
    for (int e = 0; e < 32; ++e) EXPECT_EQ(fp::RoundingDivideByPOT(x, e), RefDivPot(x, e));
}

TEST(FixedPointTest, QuantizeMultiplierRepresentsTheRealValue) {
  const std::vector<double> reals = {1e-9, 1e-6,   0.00390625,     0.0123, 0.25,
                                     0.5,  0.75,   0.999999999999, 1.0,    1.5,
                                     3.0,  1000.0, 123456.789};
  for (double r : reals) {
    const fp::QuantizedMultiplier q = fp::QuantizeMultiplier(r);
    ASSERT_GE(q.multiplier, 1 << 30) << r;
    const long double back = std::ldexp(static_cast<long double>(q.multiplier), q.shift - 31);
    EXPECT_LE(std::fabs(back - r) / r, 1.0 / static_cast<double>(1u << 31)) << r;
  }
  // A mantissa that rounds up to 1.0 carries into the exponent.
  const fp::QuantizedMultiplier up = fp::QuantizeMultiplier(0.999999999999);
  EXPECT_EQ(up.multiplier, 1 << 30);
  EXPECT_EQ(up.shift, 1);
  // Zero, negative and too-small multipliers flush to zero.
  for (double r : {0.0, -1.0, 1e-12}) {
    const fp::QuantizedMultiplier q = fp::QuantizeMultiplier(r);
    EXPECT_EQ(q.multiplier, 0) << r;
    EXPECT_EQ(q.shift, 0) << r;
  }
}

TEST(FixedPointTest, MultiplyByQuantizedMultiplierIsTheComposition) {
  std::uint64_t s = 3;
  for (int i = 0; i < 100000; ++i) {
    const double real =
        std::ldexp(1.0 + (Next(s) % 1000000) / 1e6, -static_cast<int>(Next(s) % 20));
    const auto x =
        static_cast<std::int32_t>(static_cast<std::int32_t>(Next(s)) >> (1 + Next(s) % 24));
    const fp::QuantizedMultiplier q = fp::QuantizeMultiplier(real);
    const int left = std::max(q.shift, 0), right = std::max(-q.shift, 0);
    // Exact composition (no left shift overflow for these multipliers <= 2).
    const std::int32_t expect = RefDivPot(
        RefHighMul(static_cast<std::int32_t>(static_cast<std::int64_t>(x) << left), q.multiplier),
        right);
    ASSERT_EQ(fp::MultiplyByQuantizedMultiplier(x, q), expect) << x << " * " << real;
    // Within one of the real product (two roundings of at most 1/2 each).
    const long double exact = static_cast<long double>(x) *
                              std::ldexp(static_cast<long double>(q.multiplier), q.shift - 31);
    ASSERT_LE(std::fabs(static_cast<long double>(expect) - exact), 1.0L) << x << " * " << real;
  }
}

}  // namespace
}  // namespace deepedge
