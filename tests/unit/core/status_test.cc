#include "deepedge/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace deepedge {
namespace {

Expected<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Status UsesAssign(int v, int* out) {
  DEEPEDGE_ASSIGN_OR_RETURN(*out, ParsePositive(v));
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessageAndContext) {
  Status s = NotFound("m.onnx: no such file");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.WithContext("load").message(), "load: m.onnx: no such file");
  EXPECT_EQ(s.ToString(), "not found: m.onnx: no such file");
}

TEST(ExpectedTest, HoldsValueOrError) {
  Expected<int> good = ParsePositive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());
  Expected<int> bad = ParsePositive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(ExpectedTest, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(UsesAssign(5, &out).ok());
  EXPECT_EQ(out, 5);
  EXPECT_EQ(UsesAssign(0, &out).code(), StatusCode::kInvalidArgument);
}

TEST(ExpectedTest, MoveOnlyValue) {
  Expected<std::unique_ptr<int>> p = std::make_unique<int>(7);
  std::unique_ptr<int> v = std::move(p).value();
  EXPECT_EQ(*v, 7);
}

}  // namespace
}  // namespace deepedge
