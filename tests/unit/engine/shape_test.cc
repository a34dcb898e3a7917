// Tests of the shape / data-movement kernels (src/engine/kernels/shape.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/kernel_harness.h"

namespace deepedge {

// Readable shapes in gtest failure messages.
void PrintTo(const Shape& s, std::ostream* os) {
  *os << s.ToString();
}

namespace {

using testing::F32;
using testing::I32;
using testing::I64;
using testing::MakeNode;
using testing::MakeTensor;
using testing::RunNode;
using testing::SetFloat;
using testing::SetInt;
using testing::SetInts;
using testing::SetString;
using Dims = std::vector<std::int64_t>;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

template <typename T>
std::vector<T> Vals(const Tensor& t) {
  auto s = t.as<T>();
  return {s.begin(), s.end()};
}

// A zero-element tensor (MakeTensor would memcpy into its null storage).
Tensor Empty(DType dtype, const Shape& s) {
  return Tensor::Allocate(dtype, s).value();
}
Tensor U8(const Shape& s, const std::vector<std::uint8_t>& v) {
  return MakeTensor(DType::kU8, s, v);
}
Tensor Bool(const Shape& s, const std::vector<std::uint8_t>& v) {
  return MakeTensor(DType::kBool, s, v);
}
Tensor H16(const Shape& s, const std::vector<float>& v) {
  std::vector<std::uint16_t> bits;
  for (float f : v) bits.push_back(F32ToF16(f));
  return MakeTensor(DType::kF16, s, bits);
}
std::vector<float> H16Vals(const Tensor& t) {
  std::vector<float> out;
  for (std::uint16_t b : t.as<std::uint16_t>()) out.push_back(F16ToF32(b));
  return out;
}
std::vector<float> Iota(std::int64_t n, float start = 0) {
  std::vector<float> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}
Dims IotaI(std::int64_t n, std::int64_t start = 0) {
  Dims v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

void SetTensor(ir::Node& n, const std::string& name, Tensor t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kTensor;
  a.tensor = std::make_shared<const Tensor>(std::move(t));
  n.attributes[name] = a;
}

// Runs the node and expects one output; fails the test otherwise.
std::vector<Tensor> Exec(const ir::Node& n, std::vector<const Tensor*> in) {
  Expected<std::vector<Tensor>> r = RunNode(n, std::move(in));
  EXPECT_TRUE(r.has_value()) << r.status().ToString();
  if (!r.has_value()) return {};
  return std::move(r).value();
}

// Expects an InvalidArgument error that names the node and contains `what`.
void ExpectError(const ir::Node& n, std::vector<const Tensor*> in, const std::string& what = "") {
  Expected<std::vector<Tensor>> r = RunNode(n, std::move(in));
  ASSERT_FALSE(r.has_value()) << n.op_type << " should have failed";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("'" + n.name + "'"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().message();
}

// Reference transpose: out axis i is in axis perm[i].
template <typename T>
std::vector<T> RefTranspose(const std::vector<T>& x, const Dims& d, const Dims& perm) {
  const std::size_t r = d.size();
  Dims od(r);
  for (std::size_t i = 0; i < r; ++i) od[i] = d[static_cast<std::size_t>(perm[i])];
  Dims is(r, 1);
  for (std::size_t i = r; i-- > 1;) is[i - 1] = is[i] * d[i];
  std::vector<T> out(x.size());
  for (std::size_t f = 0; f < x.size(); ++f) {
    std::int64_t rem = static_cast<std::int64_t>(f), off = 0;
    for (std::size_t i = r; i-- > 0;) {
      off += (rem % od[i]) * is[static_cast<std::size_t>(perm[i])];
      rem /= od[i];
    }
    out[f] = x[static_cast<std::size_t>(off)];
  }
  return out;
}

// ---------------------------------------------------------------------------------

TEST(ShapeKernelsTest, RegistersEveryOperator) {
  engine::KernelRegistry r;
  engine::RegisterShapeKernels(r);
  for (const char* op :
       {"Reshape",  "Flatten",      "Squeeze",         "Unsqueeze", "Transpose",
        "Concat",   "Split",        "Slice",           "Gather",    "GatherElements",
        "GatherND", "ScatterND",    "ScatterElements", "Scatter",   "Pad",
        "Expand",   "Tile",         "Shape",           "Size",      "ConstantOfShape",
        "Range",    "Cast",         "CastLike",        "Identity",  "Dropout",
        "Constant", "DepthToSpace", "SpaceToDepth",    "Trilu",     "OneHot",
        "NonZero",  "EyeLike",      "Unique"}) {
    EXPECT_TRUE(r.Supports(MakeNode(op, {"x"}, {"y"}, 17))) << op;
  }
  EXPECT_FALSE(r.Supports(MakeNode("CastLike", {"x"}, {"y"}, 14)));
  EXPECT_FALSE(r.Supports(MakeNode("Trilu", {"x"}, {"y"}, 13)));
}

TEST(ShapeKernelsTest, IdentityCopiesEveryDtype) {
  ir::Node n = MakeNode("Identity", {"x"}, {"y"});
  Tensor f = F32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(Vals<float>(Exec(n, {&f})[0]), (std::vector<float>{1, 2, 3, 4}));
  Tensor i = I64({3}, {-1, 5, kMax});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&i})[0]), (Dims{-1, 5, kMax}));
  Tensor b = Bool({2}, {1, 0});
  auto out = Exec(n, {&b});
  EXPECT_EQ(out[0].dtype(), DType::kBool);
  EXPECT_EQ(Vals<std::uint8_t>(out[0]), (std::vector<std::uint8_t>{1, 0}));
  Tensor h = H16({2}, {1.5f, -2});
  EXPECT_EQ(H16Vals(Exec(n, {&h})[0]), (std::vector<float>{1.5f, -2}));
  Tensor e = Empty(DType::kF32, {0, 3});
  EXPECT_EQ(Exec(n, {&e})[0].shape(), (Shape{0, 3}));
}

TEST(ShapeKernelsTest, DropoutIsIdentityWithAllTrueMask) {
  ir::Node n = MakeNode("Dropout", {"x"}, {"y", "mask"}, 13);
  Tensor x = F32({3}, {1, -2, 3});
  auto out = Exec(n, {&x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Vals<float>(out[0]), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(out[1].dtype(), DType::kBool);
  EXPECT_EQ(Vals<std::uint8_t>(out[1]), (std::vector<std::uint8_t>{1, 1, 1}));
  // Opset 7: the mask has the input's type.
  ir::Node old = MakeNode("Dropout", {"x"}, {"y", "mask"}, 7);
  auto out7 = Exec(old, {&x});
  EXPECT_EQ(out7[1].dtype(), DType::kF32);
  EXPECT_EQ(Vals<float>(out7[1]), (std::vector<float>{1, 1, 1}));
  // Training mode with ratio 0 is still the identity; with a real ratio it is unsupported.
  ir::Node t = MakeNode("Dropout", {"x", "r", "t"}, {"y"}, 13);
  Tensor zero = F32({}, {0});
  Tensor half = F32({}, {0.5f});
  Tensor yes = Bool({}, {1});
  EXPECT_EQ(Vals<float>(Exec(t, {&x, &zero, &yes})[0]), (std::vector<float>{1, -2, 3}));
  auto r = RunNode(t, {&x, &half, &yes});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
}

TEST(ShapeKernelsTest, ReshapeInfersCopiesAndAllowsZero) {
  ir::Node n = MakeNode("Reshape", {"x", "s"}, {"y"}, 14);
  Tensor x = F32({2, 3, 4}, Iota(24));
  Tensor s1 = I64({2}, {-1, 4});
  auto y = Exec(n, {&x, &s1});
  EXPECT_EQ(y[0].shape(), (Shape{6, 4}));
  EXPECT_EQ(Vals<float>(y[0]), Iota(24));
  Tensor s2 = I64({3}, {0, -1, 2});  // 0 copies the input's dimension
  EXPECT_EQ(Exec(n, {&x, &s2})[0].shape(), (Shape{2, 6, 2}));
  Tensor s3 = Empty(DType::kI64, {0});
  Tensor one = F32({1, 1}, {7});
  EXPECT_EQ(Exec(n, {&one, &s3})[0].shape(), Shape{});
  // allowzero: 0 is a real zero dimension.
  ir::Node z = n;
  SetInt(z, "allowzero", 1);
  Tensor empty = Empty(DType::kF32, {0, 3});
  Tensor s4 = I64({2}, {3, 0});
  EXPECT_EQ(Exec(z, {&empty, &s4})[0].shape(), (Shape{3, 0}));
  // Without allowzero the same target copies dim 1 (3): 3x3 != 0 elements.
  ExpectError(n, {&empty, &s4}, "cannot reshape");
  Tensor i32s = I32({2}, {4, 6});
  Tensor u8 = U8({24}, std::vector<std::uint8_t>(24, 9));
  auto yu = Exec(n, {&u8, &i32s});
  EXPECT_EQ(yu[0].dtype(), DType::kU8);
  EXPECT_EQ(yu[0].shape(), (Shape{4, 6}));
}

TEST(ShapeKernelsTest, ReshapeRejectsBadTargets) {
  ir::Node n = MakeNode("Reshape", {"x", "s"}, {"y"}, 14);
  Tensor x = F32({2, 3}, Iota(6));
  Tensor bad = I64({2}, {4, 2});
  ExpectError(n, {&x, &bad}, "cannot reshape");
  Tensor two = I64({2}, {-1, -1});
  ExpectError(n, {&x, &two}, "more than one -1");
  Tensor neg = I64({2}, {-2, 3});
  ExpectError(n, {&x, &neg}, "negative");
  Tensor nodiv = I64({2}, {4, -1});
  ExpectError(n, {&x, &nodiv}, "cannot reshape");
  Tensor far = I64({3}, {1, 1, 0});  // copies a dimension the input lacks
  ExpectError(n, {&x, &far}, "copies dimension 2");
  ir::Node az = n;
  SetInt(az, "allowzero", 1);
  Tensor zm = I64({2}, {0, -1});
  ExpectError(az, {&x, &zm});
  Tensor f = F32({2}, {2, 3});
  ExpectError(n, {&x, &f}, "input 1");
}

TEST(ShapeKernelsTest, ReshapeOpset1UsesTheAttribute) {
  ir::Node n = MakeNode("Reshape", {"x"}, {"y"}, 1);
  SetInts(n, "shape", {3, -1});
  Tensor x = I64({6}, IotaI(6));
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), IotaI(6));
}

TEST(ShapeKernelsTest, Flatten) {
  Tensor x = F32({2, 3, 4}, Iota(24));
  for (auto [axis, shape] : std::vector<std::pair<std::int64_t, Shape>>{
           {0, {1, 24}}, {1, {2, 12}}, {2, {6, 4}}, {3, {24, 1}}, {-1, {6, 4}}, {-3, {1, 24}}}) {
    ir::Node n = MakeNode("Flatten", {"x"}, {"y"}, 13);
    SetInt(n, "axis", axis);
    auto y = Exec(n, {&x});
    EXPECT_EQ(y[0].shape(), shape) << axis;
    EXPECT_EQ(Vals<float>(y[0]), Iota(24));
  }
  ir::Node d = MakeNode("Flatten", {"x"}, {"y"}, 13);
  Tensor e = Empty(DType::kF32, {0, 3, 2});
  EXPECT_EQ(Exec(d, {&e})[0].shape(), (Shape{0, 6}));
  ir::Node bad = d;
  SetInt(bad, "axis", 4);
  ExpectError(bad, {&x}, "axis 4");
}

TEST(ShapeKernelsTest, SqueezeAttributeBefore13InputFrom13) {
  Tensor x = F32({1, 3, 1, 2}, Iota(6));
  ir::Node attr = MakeNode("Squeeze", {"x"}, {"y"}, 11);
  SetInts(attr, "axes", {0, -2});
  EXPECT_EQ(Exec(attr, {&x})[0].shape(), (Shape{3, 2}));
  ir::Node all = MakeNode("Squeeze", {"x"}, {"y"}, 11);
  EXPECT_EQ(Exec(all, {&x})[0].shape(), (Shape{3, 2}));

  ir::Node in = MakeNode("Squeeze", {"x", "axes"}, {"y"}, 13);
  Tensor axes = I64({1}, {2});
  auto y = Exec(in, {&x, &axes});
  EXPECT_EQ(y[0].shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(Vals<float>(y[0]), Iota(6));
  ir::Node none = MakeNode("Squeeze", {"x"}, {"y"}, 13);
  EXPECT_EQ(Exec(none, {&x})[0].shape(), (Shape{3, 2}));
  // At opset 13 an `axes` attribute is not the interface; the input is.
  ir::Node ignored = none;
  SetInts(ignored, "axes", {0});
  EXPECT_EQ(Exec(ignored, {&x})[0].shape(), (Shape{3, 2}));

  Tensor notone = I64({1}, {1});
  ExpectError(in, {&x, &notone}, "cannot squeeze axis 1");
  Tensor out_of_range = I64({1}, {4});
  ExpectError(in, {&x, &out_of_range}, "axis 4 is out of range");
  Tensor e = Empty(DType::kF32, {1, 0});
  EXPECT_EQ(Exec(none, {&e})[0].shape(), (Shape{0}));
}

TEST(ShapeKernelsTest, UnsqueezeAttributeBefore13InputFrom13) {
  Tensor x = I64({3, 2}, IotaI(6));
  ir::Node attr = MakeNode("Unsqueeze", {"x"}, {"y"}, 11);
  SetInts(attr, "axes", {0, -1});
  EXPECT_EQ(Exec(attr, {&x})[0].shape(), (Shape{1, 3, 2, 1}));
  ir::Node in = MakeNode("Unsqueeze", {"x", "axes"}, {"y"}, 13);
  Tensor axes = I64({2}, {1, 3});
  auto y = Exec(in, {&x, &axes});
  EXPECT_EQ(y[0].shape(), (Shape{3, 1, 2, 1}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), IotaI(6));
  Tensor s = F32({}, {4});
  Tensor zero = I64({1}, {0});
  EXPECT_EQ(Exec(in, {&s, &zero})[0].shape(), (Shape{1}));
  Tensor dup = I64({2}, {1, -3});  // both are axis 1 of the rank-4 output
  ExpectError(in, {&x, &dup}, "repeat");
  Tensor far = I64({1}, {3});
  ExpectError(in, {&x, &far}, "out of range");
  ir::Node missing = MakeNode("Unsqueeze", {"x"}, {"y"}, 11);
  ExpectError(missing, {&x}, "axes");
}

TEST(ShapeKernelsTest, TransposeDefaultReversesAxes) {
  ir::Node n = MakeNode("Transpose", {"x"}, {"y"});
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor x3 = F32({2, 3, 4}, Iota(24));
  auto y3 = Exec(n, {&x3});
  EXPECT_EQ(y3[0].shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(Vals<float>(y3[0]), RefTranspose(Iota(24), {2, 3, 4}, {2, 1, 0}));
}

TEST(ShapeKernelsTest, TransposeMatchesReferenceForManyPermsAndSizes) {
  const std::vector<std::pair<Dims, Dims>> cases = {
      {{2, 3, 4, 5}, {0, 2, 3, 1}},     // NCHW -> NHWC
      {{2, 4, 5, 3}, {0, 3, 1, 2}},     // NHWC -> NCHW
      {{2, 3, 4, 5}, {2, 0, 3, 1}},     // general
      {{2, 3, 4, 5}, {1, 0, 2, 3}},     // contiguous inner rows
      {{1, 3, 1, 5}, {3, 2, 1, 0}},     // unit axes
      {{2, 3, 4}, {0, 1, 2}},           // identity
      {{300, 257}, {1, 0}},             // big 2-D: tiled and parallel
      {{2, 16, 32, 40}, {0, 2, 3, 1}},  // big NCHW -> NHWC
      {{6, 7, 8, 9, 2}, {4, 2, 0, 3, 1}},
  };
  for (const auto& [dims, perm] : cases) {
    ir::Node n = MakeNode("Transpose", {"x"}, {"y"});
    SetInts(n, "perm", perm);
    const std::int64_t count = Shape(dims).element_count();
    Tensor x = F32(Shape(dims), Iota(count));
    auto y = Exec(n, {&x});
    ASSERT_EQ(y.size(), 1u);
    EXPECT_EQ(Vals<float>(y[0]), RefTranspose(Iota(count), dims, perm)) << Shape(dims).ToString();
    // Other element sizes take the same paths.
    Dims vals = IotaI(count);
    Tensor xi = I64(Shape(dims), vals);
    EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&xi})[0]), RefTranspose(vals, dims, perm));
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 7);
    Tensor xu = U8(Shape(dims), bytes);
    EXPECT_EQ(Vals<std::uint8_t>(Exec(n, {&xu})[0]), RefTranspose(bytes, dims, perm));
    std::vector<std::uint16_t> halves(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<std::uint16_t>(i);
    Tensor xh = MakeTensor(DType::kF16, Shape(dims), halves);
    auto yh = Exec(n, {&xh});
    EXPECT_EQ(yh[0].dtype(), DType::kF16);
    EXPECT_EQ(Vals<std::uint16_t>(yh[0]), RefTranspose(halves, dims, perm));
  }
}

TEST(ShapeKernelsTest, TransposeZeroSizedAndErrors) {
  ir::Node n = MakeNode("Transpose", {"x"}, {"y"});
  SetInts(n, "perm", {1, 0, 2});
  Tensor e = Empty(DType::kF32, {2, 0, 3});
  EXPECT_EQ(Exec(n, {&e})[0].shape(), (Shape{0, 2, 3}));
  ir::Node bad = MakeNode("Transpose", {"x"}, {"y"});
  SetInts(bad, "perm", {0, 0, 1});
  Tensor x = F32({1, 2, 3}, Iota(6));
  ExpectError(bad, {&x}, "not a permutation");
  SetInts(bad, "perm", {0, 1});
  ExpectError(bad, {&x}, "rank");
}

TEST(ShapeKernelsTest, Concat) {
  ir::Node n = MakeNode("Concat", {"a", "b"}, {"y"});
  SetInt(n, "axis", 0);
  Tensor a = F32({2, 2}, {1, 2, 3, 4});
  Tensor b = F32({1, 2}, {5, 6});
  auto y = Exec(n, {&a, &b});
  EXPECT_EQ(y[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  ir::Node last = MakeNode("Concat", {"a", "b", "c"}, {"y"});
  SetInt(last, "axis", -1);
  Tensor c = F32({2, 1}, {5, 6});
  Tensor e = Empty(DType::kF32, {2, 0});
  auto y2 = Exec(last, {&a, &e, &c});
  EXPECT_EQ(y2[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<float>(y2[0]), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  Tensor ba = Bool({2}, {1, 0});
  Tensor bb = Bool({1}, {1});
  auto yb = Exec(n, {&ba, &bb});
  EXPECT_EQ(yb[0].dtype(), DType::kBool);
  EXPECT_EQ(Vals<std::uint8_t>(yb[0]), (std::vector<std::uint8_t>{1, 0, 1}));
  Tensor ea = Empty(DType::kI64, {0, 2}), eb = Empty(DType::kI64, {0, 2});
  EXPECT_EQ(Exec(n, {&ea, &eb})[0].shape(), (Shape{0, 2}));
  ExpectError(last, {&a, &b, &c}, "do not concatenate");
  Tensor i = I64({1, 2}, {5, 6});
  ExpectError(n, {&a, &i}, "do not concatenate");
  ir::Node far = n;
  SetInt(far, "axis", 2);
  ExpectError(far, {&a, &b}, "out of range");
  ir::Node noaxis = MakeNode("Concat", {"a", "b"}, {"y"}, 13);
  ExpectError(noaxis, {&a, &b}, "axis");
}

TEST(ShapeKernelsTest, SplitAttributeAndInput) {
  Tensor x = F32({6}, Iota(6, 1));
  ir::Node attr = MakeNode("Split", {"x"}, {"a", "b"}, 11);
  SetInts(attr, "split", {2, 4});
  auto y = Exec(attr, {&x});
  ASSERT_EQ(y.size(), 2u);
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(Vals<float>(y[1]), (std::vector<float>{3, 4, 5, 6}));
  ir::Node in = MakeNode("Split", {"x", "split"}, {"a", "b", "c"}, 13);
  Tensor split = I64({3}, {1, 0, 5});
  auto y2 = Exec(in, {&x, &split});
  EXPECT_EQ(Vals<float>(y2[0]), (std::vector<float>{1}));
  EXPECT_EQ(y2[1].shape(), (Shape{0}));
  EXPECT_EQ(Vals<float>(y2[2]), (std::vector<float>{2, 3, 4, 5, 6}));
  ir::Node equal = MakeNode("Split", {"x"}, {"a", "b", "c"}, 13);
  auto y3 = Exec(equal, {&x});
  EXPECT_EQ(Vals<float>(y3[2]), (std::vector<float>{5, 6}));
  // 2-D, negative axis.
  ir::Node cols = MakeNode("Split", {"x"}, {"a", "b"}, 13);
  SetInt(cols, "axis", -1);
  Tensor m = I64({2, 4}, IotaI(8));
  auto y4 = Exec(cols, {&m});
  EXPECT_EQ(y4[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y4[0]), (Dims{0, 1, 4, 5}));
  EXPECT_EQ(Vals<std::int64_t>(y4[1]), (Dims{2, 3, 6, 7}));
  // Opset 18 num_outputs: the last chunk is smaller.
  ir::Node uneven = MakeNode("Split", {"x"}, {"a", "b", "c", "d"}, 18);
  SetInt(uneven, "num_outputs", 4);
  Tensor seven = F32({7}, Iota(7, 1));
  auto y5 = Exec(uneven, {&seven});
  EXPECT_EQ(Vals<float>(y5[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ(Vals<float>(y5[3]), (std::vector<float>{7}));

  ir::Node four = MakeNode("Split", {"x"}, {"a", "b", "c", "d"}, 13);
  ExpectError(four, {&x}, "evenly");
  Tensor badsplit = I64({2}, {2, 2});
  ExpectError(in, {&x, &badsplit}, "does not cut");
}

TEST(ShapeKernelsTest, SliceWithInputs) {
  Tensor x = F32({3, 4}, Iota(12));
  ir::Node n = MakeNode("Slice", {"x", "s", "e", "a", "p"}, {"y"}, 13);
  auto slice = [&](Dims s, Dims e, Dims a, Dims p) {
    Tensor ts = I64({static_cast<std::int64_t>(s.size())}, s);
    Tensor te = I64({static_cast<std::int64_t>(e.size())}, e);
    Tensor ta = I64({static_cast<std::int64_t>(a.size())}, a);
    Tensor tp = I64({static_cast<std::int64_t>(p.size())}, p);
    auto y = Exec(n, {&x, &ts, &te, &ta, &tp});
    return y.empty() ? Tensor() : std::move(y[0]);
  };
  Tensor y1 = slice({1, 0}, {2, 3}, {0, 1}, {1, 2});
  EXPECT_EQ(y1.shape(), (Shape{1, 2}));
  EXPECT_EQ(Vals<float>(y1), (std::vector<float>{4, 6}));
  Tensor y2 = slice({-1}, {kMin}, {1}, {-1});  // reverse every row
  EXPECT_EQ(Vals<float>(y2), (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  Tensor y3 = slice({0}, {kMax}, {-2}, {2});
  EXPECT_EQ(y3.shape(), (Shape{2, 4}));
  EXPECT_EQ(Vals<float>(y3), (std::vector<float>{0, 1, 2, 3, 8, 9, 10, 11}));
  Tensor y4 = slice({10}, {20}, {1}, {1});
  EXPECT_EQ(y4.shape(), (Shape{3, 0}));
  Tensor y5 = slice({3}, {0}, {1}, {-2});
  EXPECT_EQ(Vals<float>(y5), (std::vector<float>{3, 1, 7, 5, 11, 9}));
  Tensor y6 = slice({-100, 1}, {100, -1}, {0, 1}, {1, 1});  // clamped
  EXPECT_EQ(Vals<float>(y6), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  Tensor y7 = slice({2, 3}, {-100, -100}, {0, 1}, {-2, -3});
  EXPECT_EQ(Vals<float>(y7), (std::vector<float>{11, 8, 3, 0}));

  // Optional axes and steps omitted; i32 starts/ends; f16 data.
  ir::Node short_node = MakeNode("Slice", {"x", "s", "e"}, {"y"}, 10);
  Tensor s = I32({1}, {1});
  Tensor e = I32({1}, {3});
  Tensor h = H16({4}, {1, 2, 3, 4});
  EXPECT_EQ(H16Vals(Exec(short_node, {&h, &s, &e})[0]), (std::vector<float>{2, 3}));

  Tensor zs = I64({1}, {0}), ze = I64({1}, {2}), za = I64({1}, {1}), zp = I64({1}, {0});
  ExpectError(n, {&x, &zs, &ze, &za, &zp}, "step 0");
  Tensor two_axes = I64({2}, {1, -1}), two_s = I64({2}, {0, 0}), two_e = I64({2}, {1, 1});
  Tensor two_p = I64({2}, {1, 1});
  ExpectError(n, {&x, &two_s, &two_e, &two_axes, &two_p}, "repeat");
  Tensor far = I64({1}, {2});
  ExpectError(n, {&x, &zs, &ze, &far, &ze}, "out of range");
}

TEST(ShapeKernelsTest, SliceOpset1Attributes) {
  ir::Node n = MakeNode("Slice", {"x"}, {"y"}, 1);
  SetInts(n, "starts", {0, 1});
  SetInts(n, "ends", {2, 3});
  Tensor x = I64({3, 4}, IotaI(12));
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{1, 2, 5, 6}));
  ir::Node ax = n;
  SetInts(ax, "starts", {-2});
  SetInts(ax, "ends", {1000});
  SetInts(ax, "axes", {1});
  EXPECT_EQ(Vals<std::int64_t>(Exec(ax, {&x})[0]), (Dims{2, 3, 6, 7, 10, 11}));
  ir::Node missing = MakeNode("Slice", {"x"}, {"y"}, 1);
  ExpectError(missing, {&x}, "starts");
}

TEST(ShapeKernelsTest, Gather) {
  Tensor data = F32({3, 2}, {1, 2, 3, 4, 5, 6});
  ir::Node n = MakeNode("Gather", {"x", "i"}, {"y"});
  Tensor idx = I64({2, 2}, {0, 1, 1, 2});
  auto y = Exec(n, {&data, &idx});
  EXPECT_EQ(y[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 2, 3, 4, 3, 4, 5, 6}));

  Tensor d3 = I64({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  ir::Node ax1 = n;
  SetInt(ax1, "axis", 1);
  Tensor i1 = I32({1, 2}, {0, 2});
  auto y1 = Exec(ax1, {&d3, &i1});
  EXPECT_EQ(y1[0].shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y1[0]), (Dims{1, 3, 4, 6, 7, 9}));
  ir::Node neg = n;
  SetInt(neg, "axis", -1);
  Tensor in = I64({2}, {-1, 0});
  EXPECT_EQ(Vals<std::int64_t>(Exec(neg, {&d3, &in})[0]), (Dims{3, 1, 6, 4, 9, 7}));
  Tensor scalar = I64({}, {1});
  auto ys = Exec(n, {&d3, &scalar});
  EXPECT_EQ(ys[0].shape(), (Shape{3}));
  EXPECT_EQ(Vals<std::int64_t>(ys[0]), (Dims{4, 5, 6}));
  Tensor none = Empty(DType::kI64, {0});
  EXPECT_EQ(Exec(n, {&d3, &none})[0].shape(), (Shape{0, 3}));
  Tensor b = Bool({3}, {1, 0, 1});
  Tensor bi = I64({3}, {1, 1, 2});
  EXPECT_EQ(Vals<std::uint8_t>(Exec(n, {&b, &bi})[0]), (std::vector<std::uint8_t>{0, 0, 1}));

  // Big enough to run in chunks.
  Tensor big = F32({1000, 64}, Iota(64000));
  Dims rev = IotaI(1000);
  std::reverse(rev.begin(), rev.end());
  Tensor ri = I64({1000}, rev);
  auto yb = Exec(n, {&big, &ri});
  EXPECT_EQ(Vals<float>(yb[0])[0], 999 * 64.0f);
  EXPECT_EQ(Vals<float>(yb[0])[64 * 999 + 5], 5.0f);

  Tensor oob = I64({1}, {3});
  ExpectError(n, {&d3, &oob}, "index 3 is out of range");
  Tensor oobn = I64({1}, {-4});
  ExpectError(n, {&d3, &oobn}, "out of range");
  Tensor fidx = F32({1}, {0});
  ExpectError(n, {&d3, &fidx}, "indices");
  ir::Node far = n;
  SetInt(far, "axis", 2);
  ExpectError(far, {&d3, &idx}, "axis 2");
}

TEST(ShapeKernelsTest, GatherElements) {
  ir::Node n = MakeNode("GatherElements", {"x", "i"}, {"y"});
  SetInt(n, "axis", 1);
  Tensor d = F32({2, 2}, {1, 2, 3, 4});
  Tensor i = I64({2, 2}, {0, 0, 1, 0});
  EXPECT_EQ(Vals<float>(Exec(n, {&d, &i})[0]), (std::vector<float>{1, 1, 4, 3}));
  ir::Node a0 = MakeNode("GatherElements", {"x", "i"}, {"y"});
  Tensor d3 = I64({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor i3 = I64({2, 3}, {1, 2, 0, 2, 0, 0});
  auto y = Exec(a0, {&d3, &i3});
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{4, 8, 3, 7, 2, 3}));
  Tensor ineg = I32({2, 3}, {-1, -2, 0, -3, 0, 0});
  EXPECT_EQ(Vals<std::int64_t>(Exec(a0, {&d3, &ineg})[0]), (Dims{7, 5, 3, 1, 2, 3}));
  ir::Node last = MakeNode("GatherElements", {"x", "i"}, {"y"});
  SetInt(last, "axis", -1);
  Tensor i2 = I64({3, 1}, {2, 1, 0});
  EXPECT_EQ(Vals<std::int64_t>(Exec(last, {&d3, &i2})[0]), (Dims{3, 5, 7}));
  Tensor oob = I64({1, 1}, {3});
  ExpectError(a0, {&d3, &oob}, "out of range");
  Tensor rank = I64({3}, {0, 0, 0});
  ExpectError(a0, {&d3, &rank}, "rank");
}

TEST(ShapeKernelsTest, GatherND) {
  ir::Node n = MakeNode("GatherND", {"x", "i"}, {"y"});
  Tensor d = I64({2, 2}, {0, 1, 2, 3});
  Tensor i1 = I64({2, 2}, {0, 0, 1, 1});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&d, &i1})[0]), (Dims{0, 3}));
  Tensor i2 = I64({2, 1}, {1, 0});
  auto y2 = Exec(n, {&d, &i2});
  EXPECT_EQ(y2[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y2[0]), (Dims{2, 3, 0, 1}));
  Tensor d3 = F32({2, 2, 2}, Iota(8));
  Tensor i3 = I64({2, 2}, {0, 1, 1, 0});
  EXPECT_EQ(Vals<float>(Exec(n, {&d3, &i3})[0]), (std::vector<float>{2, 3, 4, 5}));
  Tensor i4 = I64({2, 1, 2}, {0, 1, 1, 0});
  auto y4 = Exec(n, {&d3, &i4});
  EXPECT_EQ(y4[0].shape(), (Shape{2, 1, 2}));
  ir::Node batch = n;
  SetInt(batch, "batch_dims", 1);
  Tensor ib = I64({2, 1}, {1, 0});
  auto yb = Exec(batch, {&d3, &ib});
  EXPECT_EQ(yb[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Vals<float>(yb[0]), (std::vector<float>{2, 3, 4, 5}));
  Tensor neg = I64({1, 3}, {-1, -1, -2});
  EXPECT_EQ(Vals<float>(Exec(n, {&d3, &neg})[0]), (std::vector<float>{6}));
  Tensor oob = I64({1, 1}, {2});
  ExpectError(n, {&d, &oob}, "out of range");
  Tensor too_long = I64({1, 3}, {0, 0, 0});
  ExpectError(n, {&d, &too_long}, "do not fit");
}

TEST(ShapeKernelsTest, ScatterND) {
  ir::Node n = MakeNode("ScatterND", {"x", "i", "u"}, {"y"}, 16);
  Tensor d = F32({8}, Iota(8, 1));
  Tensor i = I64({4, 1}, {4, 3, 1, 7});
  Tensor u = F32({4}, {9, 10, 11, 12});
  EXPECT_EQ(Vals<float>(Exec(n, {&d, &i, &u})[0]), (std::vector<float>{1, 11, 3, 10, 9, 6, 7, 12}));
  Tensor m = I64({2, 2}, {0, 0, 0, 0});
  Tensor mi = I64({1, 1}, {-1});
  Tensor mu = I64({1, 2}, {5, 6});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&m, &mi, &mu})[0]), (Dims{0, 0, 5, 6}));
  ir::Node add = n;
  SetString(add, "reduction", "add");
  Tensor ia = I64({3, 1}, {4, 3, 4});
  Tensor ua = F32({3}, {9, 10, 11});
  EXPECT_EQ(Vals<float>(Exec(add, {&d, &ia, &ua})[0]),
            (std::vector<float>{1, 2, 3, 14, 25, 6, 7, 8}));
  ir::Node mul = n;
  SetString(mul, "reduction", "mul");
  EXPECT_EQ(Vals<float>(Exec(mul, {&d, &ia, &ua})[0]),
            (std::vector<float>{1, 2, 3, 40, 495, 6, 7, 8}));
  Tensor wrong = F32({3}, {1, 2, 3});
  ExpectError(n, {&d, &i, &wrong}, "updates");
  Tensor oob = I64({1, 1}, {8});
  Tensor one = F32({1}, {0});
  ExpectError(n, {&d, &oob, &one}, "out of range");
}

TEST(ShapeKernelsTest, ScatterElements) {
  ir::Node n = MakeNode("ScatterElements", {"x", "i", "u"}, {"y"}, 16);
  Tensor d = F32({3, 3}, std::vector<float>(9, 0));
  Tensor i = I64({2, 3}, {1, 0, 2, 0, 2, 1});
  Tensor u = F32({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f});
  EXPECT_EQ(Vals<float>(Exec(n, {&d, &i, &u})[0]),
            (std::vector<float>{2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f}));
  ir::Node ax = n;
  SetInt(ax, "axis", 1);
  Tensor row = F32({1, 5}, {1, 2, 3, 4, 5});
  Tensor ri = I64({1, 2}, {1, -2});
  Tensor ru = F32({1, 2}, {1.1f, 2.1f});
  EXPECT_EQ(Vals<float>(Exec(ax, {&row, &ri, &ru})[0]), (std::vector<float>{1, 1.1f, 3, 2.1f, 5}));
  ir::Node add = ax;
  SetString(add, "reduction", "add");
  Tensor dup = I64({1, 2}, {1, 1});
  auto ya = Exec(add, {&row, &dup, &ru});
  EXPECT_FLOAT_EQ(Vals<float>(ya[0])[1], 2 + 1.1f + 2.1f);
  ir::Node mx = ax;
  SetString(mx, "reduction", "max");
  Tensor ri64 = I64({1, 5}, {1, 2, 3, 4, 5});
  Tensor mu = I64({1, 2}, {10, 0});
  Tensor mi = I64({1, 2}, {0, 4});
  EXPECT_EQ(Vals<std::int64_t>(Exec(mx, {&ri64, &mi, &mu})[0]), (Dims{10, 2, 3, 4, 5}));
  // The deprecated Scatter (opset 9) is the same operation.
  ir::Node old = MakeNode("Scatter", {"x", "i", "u"}, {"y"}, 9);
  SetInt(old, "axis", 1);
  Tensor pos = I64({1, 2}, {1, 3});
  EXPECT_EQ(Vals<float>(Exec(old, {&row, &pos, &ru})[0]),
            (std::vector<float>{1, 1.1f, 3, 2.1f, 5}));
  Tensor oob = I64({1, 1}, {5});
  Tensor one = F32({1, 1}, {0});
  ExpectError(ax, {&row, &oob, &one}, "out of range");
  ir::Node bad = n;
  SetString(bad, "reduction", "avg");
  ExpectError(bad, {&d, &i, &u}, "reduction");
}

TEST(ShapeKernelsTest, PadModes) {
  Tensor x = F32({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor pads = I64({4}, {0, 2, 0, 0});
  Tensor nine = F32({}, {9});
  ir::Node c = MakeNode("Pad", {"x", "p", "v"}, {"y"}, 13);
  auto y = Exec(c, {&x, &pads, &nine});
  EXPECT_EQ(y[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{9, 9, 1, 2, 9, 9, 3, 4, 9, 9, 5, 6}));
  ir::Node c0 = MakeNode("Pad", {"x", "p"}, {"y"}, 13);
  EXPECT_EQ(Vals<float>(Exec(c0, {&x, &pads})[0]),
            (std::vector<float>{0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6}));
  ir::Node r = c0;
  SetString(r, "mode", "reflect");
  EXPECT_EQ(Vals<float>(Exec(r, {&x, &pads})[0]),
            (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6}));
  ir::Node e = c0;
  SetString(e, "mode", "edge");
  EXPECT_EQ(Vals<float>(Exec(e, {&x, &pads})[0]),
            (std::vector<float>{1, 1, 1, 2, 3, 3, 3, 4, 5, 5, 5, 6}));
  Tensor v3 = I64({3}, {1, 2, 3});
  Tensor p22 = I64({2}, {2, 2});
  EXPECT_EQ(Vals<std::int64_t>(Exec(r, {&v3, &p22})[0]), (Dims{3, 2, 1, 2, 3, 2, 1}));
  ir::Node w = c0;
  SetString(w, "mode", "wrap");
  EXPECT_EQ(Vals<std::int64_t>(Exec(w, {&v3, &p22})[0]), (Dims{2, 3, 1, 2, 3, 1, 2}));
  Tensor p55 = I64({2}, {5, 5});
  EXPECT_EQ(Vals<std::int64_t>(Exec(r, {&v3, &p55})[0]),
            (Dims{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2}));
  // Both axes, rows padded too.
  Tensor p2d = I64({4}, {1, 1, 1, 0});
  EXPECT_EQ(Vals<float>(Exec(e, {&x, &p2d})[0]),
            (std::vector<float>{1, 1, 2, 1, 1, 2, 3, 3, 4, 5, 5, 6, 5, 5, 6}));
  // Negative pads crop.
  Tensor crop = I64({4}, {-1, 0, 0, 1});
  auto yc = Exec(c0, {&x, &crop});
  EXPECT_EQ(yc[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<float>(yc[0]), (std::vector<float>{3, 4, 0, 5, 6, 0}));
  // u8 and f16 data.
  Tensor u = U8({2}, {7, 8});
  Tensor pu = I64({2}, {1, 1});
  Tensor uv = U8({}, {200});
  EXPECT_EQ(Vals<std::uint8_t>(Exec(c, {&u, &pu, &uv})[0]),
            (std::vector<std::uint8_t>{200, 7, 8, 200}));
  Tensor h = H16({2}, {1.5f, 2.5f});
  EXPECT_EQ(H16Vals(Exec(e, {&h, &pu})[0]), (std::vector<float>{1.5f, 1.5f, 2.5f, 2.5f}));
  // Opset 18 axes input.
  ir::Node ax = MakeNode("Pad", {"x", "p", "", "a"}, {"y"}, 18);
  Tensor pa = I64({2}, {1, 1});
  Tensor axes = I64({1}, {-1});
  auto ya = Exec(ax, {&x, &pa, nullptr, &axes});
  EXPECT_EQ(ya[0].shape(), (Shape{3, 4}));
  EXPECT_EQ(Vals<float>(ya[0]), (std::vector<float>{0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0}));
  // Zero-sized input, constant mode.
  Tensor empty = Empty(DType::kF32, {0, 2});
  auto ye = Exec(c, {&empty, &pads, &nine});
  EXPECT_EQ(ye[0].shape(), (Shape{0, 4}));

  Tensor bad = I64({2}, {1, 1});
  ExpectError(c0, {&x, &bad}, "pads");
  Tensor too_much = I64({4}, {-2, 0, -2, 0});
  ExpectError(c0, {&x, &too_much}, "crop");
  Tensor grow = I64({4}, {1, 0, 0, 0});
  ExpectError(r, {&empty, &grow}, "empty axis");
  ir::Node unknown = c0;
  SetString(unknown, "mode", "mirror");
  ExpectError(unknown, {&x, &pads}, "mode");
}

TEST(ShapeKernelsTest, PadOpset2Attributes) {
  ir::Node n = MakeNode("Pad", {"x"}, {"y"}, 2);
  SetInts(n, "pads", {1, 0, 0, 1});
  SetFloat(n, "value", 1.5f);
  Tensor x = F32({1, 2}, {3, 4});
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1.5f, 1.5f, 1.5f, 3, 4, 1.5f}));
  Tensor i = I64({1, 2}, {3, 4});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&i})[0]), (Dims{1, 1, 1, 3, 4, 1}));  // 1.5 -> 1
  ir::Node e = MakeNode("Pad", {"x"}, {"y"}, 2);
  SetInts(e, "pads", {0, 1, 0, 1});
  SetString(e, "mode", "edge");
  EXPECT_EQ(Vals<float>(Exec(e, {&x})[0]), (std::vector<float>{3, 3, 4, 4}));
}

TEST(ShapeKernelsTest, Expand) {
  ir::Node n = MakeNode("Expand", {"x", "s"}, {"y"});
  Tensor x = F32({3, 1}, {1, 2, 3});
  Tensor s = I64({3}, {2, 1, 6});
  auto y = Exec(n, {&x, &s});
  EXPECT_EQ(y[0].shape(), (Shape{2, 3, 6}));
  std::vector<float> want;
  for (int b = 0; b < 2; ++b) {
    for (float v : {1.0f, 2.0f, 3.0f}) want.insert(want.end(), 6, v);
  }
  EXPECT_EQ(Vals<float>(y[0]), want);
  Tensor s1 = I64({1}, {1});  // a smaller shape broadcasts to the input's
  EXPECT_EQ(Exec(n, {&x, &s1})[0].shape(), (Shape{3, 1}));
  Tensor row = Bool({1, 3}, {1, 0, 1});
  Tensor s2 = I64({2}, {2, 3});
  EXPECT_EQ(Vals<std::uint8_t>(Exec(n, {&row, &s2})[0]),
            (std::vector<std::uint8_t>{1, 0, 1, 1, 0, 1}));
  Tensor sc = I64({}, {5});
  Tensor s3 = I64({2}, {2, 2});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&sc, &s3})[0]), (Dims{5, 5, 5, 5}));
  Tensor s0 = I64({3}, {0, 1, 1});
  EXPECT_EQ(Exec(n, {&x, &s0})[0].shape(), (Shape{0, 3, 1}));
  Tensor bad = I64({2}, {2, 4});
  ExpectError(n, {&x, &bad}, "broadcast");
}

TEST(ShapeKernelsTest, Tile) {
  ir::Node n = MakeNode("Tile", {"x", "r"}, {"y"});
  Tensor x = F32({2, 2}, {1, 2, 3, 4});
  Tensor r = I64({2}, {2, 3});
  auto y = Exec(n, {&x, &r});
  EXPECT_EQ(y[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                                   1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  Tensor h = H16({3}, {1, 2, 3});
  Tensor r2 = I64({1}, {2});
  EXPECT_EQ(H16Vals(Exec(n, {&h, &r2})[0]), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  Tensor z = I64({2}, {0, 2});
  EXPECT_EQ(Exec(n, {&x, &z})[0].shape(), (Shape{0, 4}));
  Tensor bad = I64({1}, {2});
  ExpectError(n, {&x, &bad}, "repeats");
  Tensor neg = I64({2}, {1, -1});
  ExpectError(n, {&x, &neg}, "negative");
}

TEST(ShapeKernelsTest, ShapeAndSize) {
  Tensor x = U8({2, 3, 4}, std::vector<std::uint8_t>(24, 0));
  ir::Node n = MakeNode("Shape", {"x"}, {"y"}, 15);
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].dtype(), DType::kI64);
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{2, 3, 4}));
  ir::Node se = n;
  SetInt(se, "start", 1);
  EXPECT_EQ(Vals<std::int64_t>(Exec(se, {&x})[0]), (Dims{3, 4}));
  SetInt(se, "end", -1);
  EXPECT_EQ(Vals<std::int64_t>(Exec(se, {&x})[0]), (Dims{3}));
  SetInt(se, "start", -10);
  SetInt(se, "end", 10);
  EXPECT_EQ(Vals<std::int64_t>(Exec(se, {&x})[0]), (Dims{2, 3, 4}));
  SetInt(se, "start", 2);
  SetInt(se, "end", 1);
  EXPECT_EQ(Exec(se, {&x})[0].shape(), (Shape{0}));
  Tensor s = F32({}, {1});
  EXPECT_EQ(Exec(n, {&s})[0].shape(), (Shape{0}));

  ir::Node sz = MakeNode("Size", {"x"}, {"y"});
  auto ys = Exec(sz, {&x});
  EXPECT_EQ(ys[0].shape(), Shape{});
  EXPECT_EQ(Vals<std::int64_t>(ys[0]), (Dims{24}));
  Tensor e = Empty(DType::kF32, {3, 0});
  EXPECT_EQ(Vals<std::int64_t>(Exec(sz, {&e})[0]), (Dims{0}));
}

TEST(ShapeKernelsTest, ConstantOfShape) {
  ir::Node n = MakeNode("ConstantOfShape", {"s"}, {"y"});
  Tensor s = I64({2}, {2, 3});
  auto y = Exec(n, {&s});
  EXPECT_EQ(y[0].dtype(), DType::kF32);
  EXPECT_EQ(Vals<float>(y[0]), std::vector<float>(6, 0));
  ir::Node v = n;
  SetTensor(v, "value", I64({1}, {7}));
  auto yi = Exec(v, {&s});
  EXPECT_EQ(yi[0].dtype(), DType::kI64);
  EXPECT_EQ(Vals<std::int64_t>(yi[0]), Dims(6, 7));
  ir::Node h = n;
  SetTensor(h, "value", H16({1}, {0.5f}));
  EXPECT_EQ(H16Vals(Exec(h, {&s})[0]), std::vector<float>(6, 0.5f));
  Tensor empty = Empty(DType::kI64, {0});
  auto ys = Exec(v, {&empty});
  EXPECT_EQ(ys[0].shape(), Shape{});
  EXPECT_EQ(Vals<std::int64_t>(ys[0]), (Dims{7}));
  Tensor zero = I64({2}, {0, 5});
  EXPECT_EQ(Exec(v, {&zero})[0].shape(), (Shape{0, 5}));
  Tensor neg = I64({1}, {-1});
  ExpectError(n, {&neg}, "negative");
  ir::Node two = n;
  SetTensor(two, "value", F32({2}, {1, 2}));
  ExpectError(two, {&s}, "one-element");
}

TEST(ShapeKernelsTest, Range) {
  ir::Node n = MakeNode("Range", {"s", "l", "d"}, {"y"});
  Tensor s = I32({}, {3}), l = I32({}, {9}), d = I32({}, {3});
  auto y = Exec(n, {&s, &l, &d});
  EXPECT_EQ(y[0].dtype(), DType::kI32);
  EXPECT_EQ(Vals<std::int32_t>(y[0]), (std::vector<std::int32_t>{3, 6}));
  Tensor s2 = I64({}, {10}), l2 = I64({}, {4}), d2 = I64({}, {-3});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&s2, &l2, &d2})[0]), (Dims{10, 7}));
  Tensor fs = F32({}, {1}), fl = F32({}, {2}), fd = F32({}, {0.3f});
  auto yf = Exec(n, {&fs, &fl, &fd});
  ASSERT_EQ(yf[0].shape(), (Shape{4}));
  EXPECT_FLOAT_EQ(Vals<float>(yf[0])[3], 1 + 3 * 0.3f);
  Tensor e0 = I64({}, {0}), e1 = I64({}, {1});
  EXPECT_EQ(Exec(n, {&e0, &e0, &e1})[0].shape(), (Shape{0}));
  Tensor wrong_way = I64({}, {-1});
  EXPECT_EQ(Exec(n, {&e0, &e1, &wrong_way})[0].shape(), (Shape{0}));
  ExpectError(n, {&e0, &e1, &e0}, "delta is 0");
  ExpectError(n, {&e0, &fl, &e1}, "type");
}

TEST(ShapeKernelsTest, CastConversions) {
  ir::Node n = MakeNode("Cast", {"x"}, {"y"});
  Tensor f = F32({6}, {-2.7f, -0.5f, 0, 0.5f, 2.7f, 300});
  SetInt(n, "to", 6);  // INT32
  auto yi = Exec(n, {&f});
  EXPECT_EQ(yi[0].dtype(), DType::kI32);
  EXPECT_EQ(Vals<std::int32_t>(yi[0]), (std::vector<std::int32_t>{-2, 0, 0, 0, 2, 300}));
  SetInt(n, "to", 9);  // BOOL
  auto yb = Exec(n, {&f});
  EXPECT_EQ(yb[0].dtype(), DType::kBool);
  EXPECT_EQ(Vals<std::uint8_t>(yb[0]), (std::vector<std::uint8_t>{1, 1, 0, 1, 1, 1}));
  SetInt(n, "to", 10);  // FLOAT16
  Tensor exact = F32({4}, {0.5f, -2, 1024, 65504});
  auto yh = Exec(n, {&exact});
  EXPECT_EQ(yh[0].dtype(), DType::kF16);
  EXPECT_EQ(Vals<std::uint16_t>(yh[0])[0], 0x3800);
  SetInt(n, "to", 1);
  EXPECT_EQ(Vals<float>(Exec(n, {&yh[0]})[0]), (std::vector<float>{0.5f, -2, 1024, 65504}));
  SetInt(n, "to", 16);  // BFLOAT16
  Tensor ones = F32({2}, {1, -2});
  EXPECT_EQ(Vals<std::uint16_t>(Exec(n, {&ones})[0]), (std::vector<std::uint16_t>{0x3F80, 0xC000}));
  SetInt(n, "to", 2);  // UINT8: integers wrap
  Tensor big = I64({3}, {300, -1, 7});
  EXPECT_EQ(Vals<std::uint8_t>(Exec(n, {&big})[0]), (std::vector<std::uint8_t>{44, 255, 7}));
  SetInt(n, "to", 1);
  Tensor b = Bool({2}, {0, 1});
  EXPECT_EQ(Vals<float>(Exec(n, {&b})[0]), (std::vector<float>{0, 1}));
  SetInt(n, "to", 7);
  Tensor h = H16({2}, {-3.75f, 8.5f});
  EXPECT_EQ(Vals<std::int64_t>(Exec(n, {&h})[0]), (Dims{-3, 8}));
  Tensor e = Empty(DType::kF32, {0});
  EXPECT_EQ(Exec(n, {&e})[0].shape(), (Shape{0}));
  // Opset 1 names the type.
  ir::Node old = MakeNode("Cast", {"x"}, {"y"}, 1);
  SetString(old, "to", "INT64");
  EXPECT_EQ(Vals<std::int64_t>(Exec(old, {&f})[0]), (Dims{-2, 0, 0, 0, 2, 300}));
  ir::Node dbl = MakeNode("Cast", {"x"}, {"y"});
  SetInt(dbl, "to", 11);  // DOUBLE
  auto r = RunNode(dbl, {&f});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  ir::Node missing = MakeNode("Cast", {"x"}, {"y"});
  ExpectError(missing, {&f}, "to");
}

TEST(ShapeKernelsTest, CastBetweenEveryPairOfTypes) {
  const std::vector<std::pair<DType, std::int64_t>> types = {
      {DType::kF32, 1}, {DType::kU8, 2},   {DType::kI8, 3},   {DType::kI16, 5},  {DType::kI32, 6},
      {DType::kI64, 7}, {DType::kBool, 9}, {DType::kF16, 10}, {DType::kBF16, 16}};
  Tensor src = F32({4}, {0, 1, 2, 5});
  for (const auto& [from, from_code] : types) {
    ir::Node to_from = MakeNode("Cast", {"x"}, {"y"});
    SetInt(to_from, "to", from_code);
    auto a = Exec(to_from, {&src});
    ASSERT_EQ(a[0].dtype(), from);
    for (const auto& [to, to_code] : types) {
      ir::Node n = MakeNode("Cast", {"x"}, {"y"});
      SetInt(n, "to", to_code);
      auto b = Exec(n, {&a[0]});
      ASSERT_EQ(b[0].dtype(), to);
      ir::Node back = MakeNode("Cast", {"x"}, {"y"});
      SetInt(back, "to", 1);
      auto c = Exec(back, {&b[0]});
      const bool via_bool = from == DType::kBool || to == DType::kBool;
      EXPECT_EQ(Vals<float>(c[0]),
                (via_bool ? std::vector<float>{0, 1, 1, 1} : std::vector<float>{0, 1, 2, 5}))
          << DTypeName(from) << " -> " << DTypeName(to);
    }
  }
}

TEST(ShapeKernelsTest, CastBigTensorRunsInChunks) {
  ir::Node n = MakeNode("Cast", {"x"}, {"y"});
  SetInt(n, "to", 1);
  std::vector<std::uint8_t> v(100000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i);
  Tensor x = U8({100000}, v);
  auto y = Exec(n, {&x});
  auto out = Vals<float>(y[0]);
  bool ok = true;
  for (std::size_t i = 0; i < v.size(); ++i) ok = ok && out[i] == static_cast<float>(v[i]);
  EXPECT_TRUE(ok);
}

TEST(ShapeKernelsTest, CastLike) {
  ir::Node n = MakeNode("CastLike", {"x", "like"}, {"y"}, 15);
  Tensor x = F32({2}, {1.9f, -1.9f});
  Tensor like = Empty(DType::kI64, {0});
  auto y = Exec(n, {&x, &like});
  EXPECT_EQ(y[0].dtype(), DType::kI64);
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{1, -1}));
  Tensor h = H16({1}, {0});
  EXPECT_EQ(H16Vals(Exec(n, {&x, &h})[0]), (std::vector<float>{1.900390625f, -1.900390625f}));
}

TEST(ShapeKernelsTest, Constant) {
  ir::Node t = MakeNode("Constant", {}, {"y"});
  SetTensor(t, "value", I64({2, 2}, {1, 2, 3, 4}));
  auto y = Exec(t, {});
  EXPECT_EQ(y[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{1, 2, 3, 4}));
  ir::Node f = MakeNode("Constant", {}, {"y"});
  SetFloat(f, "value_float", 2.5f);
  auto yf = Exec(f, {});
  EXPECT_EQ(yf[0].shape(), Shape{});
  EXPECT_EQ(Vals<float>(yf[0]), (std::vector<float>{2.5f}));
  ir::Node fs = MakeNode("Constant", {}, {"y"});
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloats;
  a.floats = {1, 2, 3};
  fs.attributes["value_floats"] = a;
  EXPECT_EQ(Vals<float>(Exec(fs, {})[0]), (std::vector<float>{1, 2, 3}));
  ir::Node i = MakeNode("Constant", {}, {"y"});
  SetInt(i, "value_int", -4);
  EXPECT_EQ(Vals<std::int64_t>(Exec(i, {})[0]), (Dims{-4}));
  ir::Node is = MakeNode("Constant", {}, {"y"});
  SetInts(is, "value_ints", {});
  EXPECT_EQ(Exec(is, {})[0].shape(), (Shape{0}));
  ir::Node none = MakeNode("Constant", {}, {"y"});
  ExpectError(none, {}, "value");
  ir::Node str = MakeNode("Constant", {}, {"y"});
  SetString(str, "value_string", "hi");
  EXPECT_EQ(RunNode(str, {}).status().code(), StatusCode::kUnsupported);
}

TEST(ShapeKernelsTest, DepthToSpaceAndSpaceToDepth) {
  const std::int64_t n = 2, c = 8, h = 2, w = 3, b = 2, co = c / (b * b);
  Tensor x = F32({n, c, h, w}, Iota(n * c * h * w));
  auto at = [](std::int64_t i0, std::int64_t i1, std::int64_t i2, std::int64_t i3, std::int64_t d1,
               std::int64_t d2, std::int64_t d3) {
    return static_cast<std::size_t>(((i0 * d1 + i1) * d2 + i2) * d3 + i3);
  };
  for (std::string mode : {"DCR", "CRD"}) {
    ir::Node d2s = MakeNode("DepthToSpace", {"x"}, {"y"});
    SetInt(d2s, "blocksize", b);
    SetString(d2s, "mode", mode);
    auto y = Exec(d2s, {&x});
    ASSERT_EQ(y[0].shape(), (Shape{n, co, h * b, w * b}));
    auto out = Vals<float>(y[0]);
    const auto in = Iota(n * c * h * w);
    bool ok = true;
    for (std::int64_t i0 = 0; i0 < n; ++i0)
      for (std::int64_t ci = 0; ci < co; ++ci)
        for (std::int64_t yy = 0; yy < h * b; ++yy)
          for (std::int64_t xx = 0; xx < w * b; ++xx) {
            const std::int64_t bi = yy % b, bj = xx % b;
            const std::int64_t src_c =
                mode == "DCR" ? (bi * b + bj) * co + ci : ci * b * b + bi * b + bj;
            ok = ok && out[at(i0, ci, yy, xx, co, h * b, w * b)] ==
                           in[at(i0, src_c, yy / b, xx / b, c, h, w)];
          }
    EXPECT_TRUE(ok) << mode;
    if (mode == "DCR") {
      // SpaceToDepth undoes DCR DepthToSpace.
      ir::Node s2d = MakeNode("SpaceToDepth", {"x"}, {"y"});
      SetInt(s2d, "blocksize", b);
      auto back = Exec(s2d, {&y[0]});
      EXPECT_EQ(back[0].shape(), (Shape{n, c, h, w}));
      EXPECT_EQ(Vals<float>(back[0]), in);
    }
  }
  ir::Node d2s = MakeNode("DepthToSpace", {"x"}, {"y"});
  SetInt(d2s, "blocksize", 3);
  ExpectError(d2s, {&x}, "blocksize");
  ir::Node s2d = MakeNode("SpaceToDepth", {"x"}, {"y"});
  SetInt(s2d, "blocksize", 2);
  ExpectError(s2d, {&x}, "blocksize");
  Tensor h16 = H16({1, 4, 1, 1}, {1, 2, 3, 4});
  SetInt(d2s, "blocksize", 2);
  auto yh = Exec(d2s, {&h16});
  EXPECT_EQ(yh[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(H16Vals(yh[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(ShapeKernelsTest, Trilu) {
  Tensor x = F32({3, 4}, Iota(12, 1));
  auto trilu = [&](bool upper, std::optional<std::int64_t> k, const Tensor& in) {
    ir::Node n = MakeNode(
        "Trilu", k ? std::vector<std::string>{"x", "k"} : std::vector<std::string>{"x"}, {"y"}, 14);
    SetInt(n, "upper", upper ? 1 : 0);
    Tensor kt = I64({}, {k.value_or(0)});
    auto y = k ? Exec(n, {&in, &kt}) : Exec(n, {&in});
    return y.empty() ? Tensor() : std::move(y[0]);
  };
  EXPECT_EQ(Vals<float>(trilu(true, std::nullopt, x)),
            (std::vector<float>{1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12}));
  EXPECT_EQ(Vals<float>(trilu(true, 1, x)),
            (std::vector<float>{0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}));
  EXPECT_EQ(Vals<float>(trilu(true, -1, x)),
            (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12}));
  EXPECT_EQ(Vals<float>(trilu(false, 0, x)),
            (std::vector<float>{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0}));
  EXPECT_EQ(Vals<float>(trilu(false, -1, x)),
            (std::vector<float>{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}));
  EXPECT_EQ(Vals<float>(trilu(false, 100, x)), Iota(12, 1));
  EXPECT_EQ(Vals<float>(trilu(true, 100, x)), std::vector<float>(12, 0));
  Tensor batch = I64({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(Vals<std::int64_t>(trilu(false, std::nullopt, batch)), (Dims{1, 0, 3, 4, 5, 0, 7, 8}));
  Tensor e = Empty(DType::kF32, {0, 3});
  EXPECT_EQ(trilu(true, std::nullopt, e).shape(), (Shape{0, 3}));
  ir::Node n = MakeNode("Trilu", {"x"}, {"y"}, 14);
  Tensor v = F32({3}, {1, 2, 3});
  ExpectError(n, {&v}, "2-D");
}

TEST(ShapeKernelsTest, OneHot) {
  ir::Node n = MakeNode("OneHot", {"i", "d", "v"}, {"y"}, 11);
  Tensor idx = I64({3}, {0, 2, -1});
  Tensor depth = F32({}, {3});
  Tensor values = F32({2}, {0, 1});
  auto y = Exec(n, {&idx, &depth, &values});
  EXPECT_EQ(y[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 1}));
  ir::Node a0 = n;
  SetInt(a0, "axis", 0);
  Tensor idx2 = F32({3}, {0, 2, 5});  // float indices; 5 is out of range: all off
  Tensor vi = I64({2}, {2, 7});
  Tensor di = I32({1}, {3});
  auto y2 = Exec(a0, {&idx2, &di, &vi});
  EXPECT_EQ(y2[0].dtype(), DType::kI64);
  EXPECT_EQ(Vals<std::int64_t>(y2[0]), (Dims{7, 2, 2, 2, 2, 2, 2, 7, 2}));
  ir::Node mid = n;
  SetInt(mid, "axis", 1);
  Tensor idx3 = I64({2, 2}, {1, 0, 0, 1});
  Tensor d2 = I64({}, {2});
  auto y3 = Exec(mid, {&idx3, &d2, &values});
  EXPECT_EQ(y3[0].shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(Vals<float>(y3[0]), (std::vector<float>{0, 1, 1, 0, 1, 0, 0, 1}));
  ir::Node far = n;
  SetInt(far, "axis", 3);
  ExpectError(far, {&idx, &depth, &values}, "out of range");
  Tensor three = F32({3}, {0, 1, 2});
  ExpectError(n, {&idx, &depth, &three}, "values");
}

TEST(ShapeKernelsTest, NonZero) {
  ir::Node n = MakeNode("NonZero", {"x"}, {"y"});
  Tensor x = F32({2, 2}, {1, 0, 1, 1});
  auto y = Exec(n, {&x});
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<std::int64_t>(y[0]), (Dims{0, 1, 1, 0, 0, 1}));
  Tensor h = H16({4}, {0, -0.0f, 2, 0});
  auto yh = Exec(n, {&h});
  EXPECT_EQ(yh[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(Vals<std::int64_t>(yh[0]), (Dims{2}));
  Tensor b = Bool({3}, {0, 0, 0});
  EXPECT_EQ(Exec(n, {&b})[0].shape(), (Shape{1, 0}));
  Tensor e = Empty(DType::kI64, {0, 3});
  EXPECT_EQ(Exec(n, {&e})[0].shape(), (Shape{2, 0}));
}

TEST(ShapeKernelsTest, EyeLike) {
  ir::Node n = MakeNode("EyeLike", {"x"}, {"y"});
  SetInt(n, "k", 1);
  Tensor x = F32({3, 4}, Iota(12, 5));
  auto y = Exec(n, {&x});
  EXPECT_EQ(Vals<float>(y[0]), (std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  ir::Node t = MakeNode("EyeLike", {"x"}, {"y"});
  SetInt(t, "dtype", 7);
  SetInt(t, "k", -1);
  auto yi = Exec(t, {&x});
  EXPECT_EQ(yi[0].dtype(), DType::kI64);
  EXPECT_EQ(Vals<std::int64_t>(yi[0]), (Dims{0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
  Tensor b = Bool({2, 2}, {0, 0, 0, 0});
  ir::Node plain = MakeNode("EyeLike", {"x"}, {"y"});
  EXPECT_EQ(Vals<std::uint8_t>(Exec(plain, {&b})[0]), (std::vector<std::uint8_t>{1, 0, 0, 1}));
  Tensor v = F32({3}, {1, 2, 3});
  ExpectError(plain, {&v}, "2-D");
}

TEST(ShapeKernelsTest, Unique) {
  Tensor x = F32({6}, {2, 1, 1, 3, 4, 3});
  ir::Node n = MakeNode("Unique", {"x"}, {"y", "indices", "inverse", "counts"}, 11);
  auto s = Exec(n, {&x});
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(Vals<float>(s[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(Vals<std::int64_t>(s[1]), (Dims{1, 0, 3, 4}));
  EXPECT_EQ(Vals<std::int64_t>(s[2]), (Dims{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(Vals<std::int64_t>(s[3]), (Dims{2, 1, 2, 1}));
  ir::Node unsorted = n;
  SetInt(unsorted, "sorted", 0);
  auto u = Exec(unsorted, {&x});
  EXPECT_EQ(Vals<float>(u[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(Vals<std::int64_t>(u[1]), (Dims{0, 1, 3, 4}));
  EXPECT_EQ(Vals<std::int64_t>(u[2]), (Dims{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(Vals<std::int64_t>(u[3]), (Dims{1, 2, 2, 1}));

  ir::Node ax0 = n;
  SetInt(ax0, "axis", 0);
  Tensor m = I64({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 4});
  auto a = Exec(ax0, {&m});
  EXPECT_EQ(a[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Vals<std::int64_t>(a[0]), (Dims{1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(Vals<std::int64_t>(a[1]), (Dims{0, 2}));
  EXPECT_EQ(Vals<std::int64_t>(a[2]), (Dims{0, 0, 1}));
  EXPECT_EQ(Vals<std::int64_t>(a[3]), (Dims{2, 1}));

  ir::Node ax1 = n;
  SetInt(ax1, "axis", 1);
  Tensor t = F32({2, 4, 2}, {1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1});
  auto b = Exec(ax1, {&t});
  EXPECT_EQ(b[0].shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(Vals<float>(b[0]), (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1}));
  EXPECT_EQ(Vals<std::int64_t>(b[1]), (Dims{1, 0, 2}));
  EXPECT_EQ(Vals<std::int64_t>(b[2]), (Dims{1, 0, 2, 0}));
  EXPECT_EQ(Vals<std::int64_t>(b[3]), (Dims{2, 1, 1}));

  ir::Node only_y = MakeNode("Unique", {"x"}, {"y"}, 11);
  Tensor e = Empty(DType::kI64, {0});
  EXPECT_EQ(Exec(only_y, {&e})[0].shape(), (Shape{0}));
}

}  // namespace
}  // namespace deepedge
