#include "deepedge/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace deepedge {
namespace {

TEST(ShapeTest, StaticDynamicAndText) {
  Shape s{1, 3, 224, 224};
  EXPECT_TRUE(s.is_static());
  EXPECT_EQ(s.element_count(), 150528);
  EXPECT_EQ(s.ToString(), "1x3x224x224");
  Shape d{Shape::kDynamic, 10};
  EXPECT_FALSE(d.is_static());
  EXPECT_EQ(d.element_count(), -1);
  EXPECT_EQ(d.ToString(), "?x10");
  EXPECT_EQ(Shape().element_count(), 1);
  EXPECT_EQ(Shape().ToString(), "scalar");
}

TEST(ShapeTest, Parse) {
  EXPECT_EQ(*Shape::Parse("1x3x224x224"), (Shape{1, 3, 224, 224}));
  EXPECT_EQ(*Shape::Parse("2,5"), (Shape{2, 5}));
  EXPECT_EQ(*Shape::Parse("?x5"), (Shape{Shape::kDynamic, 5}));
  EXPECT_FALSE(Shape::Parse("1xx3").has_value());
  EXPECT_FALSE(Shape::Parse("-2x3").has_value());
  EXPECT_FALSE(Shape::Parse("abc").has_value());
}

TEST(TensorTest, AllocateIsAlignedZeroedAndOwning) {
  Expected<Tensor> t = Tensor::Allocate(DType::kF32, Shape{2, 3});
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->owns_data());
  EXPECT_EQ(t->byte_size(), 24u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t->data()) % Tensor::kAlignment, 0u);
  for (float v : t->as<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(TensorTest, AllocateRejectsDynamicShape) {
  EXPECT_EQ(Tensor::Allocate(DType::kF32, Shape{Shape::kDynamic, 3}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TensorTest, BorrowChecksSizeAndDoesNotOwn) {
  std::int8_t buf[6] = {1, 2, 3, 4, 5, 6};
  Expected<Tensor> t = Tensor::Borrow(DType::kI8, Shape{2, 3}, buf, sizeof buf);
  ASSERT_TRUE(t.has_value());
  EXPECT_FALSE(t->owns_data());
  EXPECT_EQ(t->data(), buf);
  EXPECT_FALSE(Tensor::Borrow(DType::kI16, Shape{2, 3}, buf, sizeof buf).has_value());
}

TEST(TensorTest, CloneIsDeep) {
  std::int32_t buf[2] = {7, 8};
  Tensor borrowed = *Tensor::Borrow(DType::kI32, Shape{2}, buf, sizeof buf);
  Tensor copy = borrowed.Clone();
  EXPECT_TRUE(copy.owns_data());
  buf[0] = 0;
  EXPECT_EQ(copy.as<std::int32_t>()[0], 7);
  EXPECT_EQ(copy.shape(), Shape{2});
}

}  // namespace
}  // namespace deepedge
