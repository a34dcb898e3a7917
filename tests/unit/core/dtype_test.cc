#include "deepedge/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace deepedge {
namespace {

TEST(DTypeTest, SizesAndNamesRoundTrip) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  for (DType t : kAllDTypes) EXPECT_EQ(ParseDType(DTypeName(t)), t);
  EXPECT_EQ(ParseDType("float32"), DType::kF32);
  EXPECT_EQ(ParseDType("uint8"), DType::kU8);
  EXPECT_FALSE(ParseDType("complex64").has_value());
}

TEST(DTypeTest, HalfConversionMatchesKnownBitPatterns) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xC000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7BFF);                // largest half
  EXPECT_EQ(F32ToF16(1e6f), 0x7C00);                    // overflow -> inf
  EXPECT_EQ(F32ToF16(5.9604644775390625e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(1.0f + 1.0f / 2048.0f), 0x3C00);   // tie rounds to even
  EXPECT_EQ(F32ToF16(1.0f + 3.0f / 2048.0f), 0x3C02);   // tie rounds to even (up)
  EXPECT_FLOAT_EQ(F16ToF32(0x3555), 0.333251953125f);
  EXPECT_FLOAT_EQ(F16ToF32(0x0001), 5.9604644775390625e-8f);
  EXPECT_TRUE(std::isinf(F16ToF32(0x7C00)));
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DTypeTest, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3F80);
  EXPECT_FLOAT_EQ(BF16ToF32(0x4049), 3.140625f);
  EXPECT_EQ(F32ToBF16(3.14159265f), 0x4049);
}

}  // namespace
}  // namespace deepedge
