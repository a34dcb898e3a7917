// Elementwise kernels against references computed here in double precision.
//
// Table-driven: each operator table (binary, comparison, unary) is crossed with one
// shared list of shape cases and with the element types the operator accepts.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/kernels/elementwise_loops.h"
#include "support/kernel_harness.h"
#include "support/tensor_values.h"

namespace deepedge {
namespace {

using testing::MakeNode;
using testing::RunNode;

constexpr DType kFloatDTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr DType kIntDTypes[] = {DType::kI8, DType::kU8, DType::kI16, DType::kI32, DType::kI64};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

// ---------------------------------------------------------------------------------------
// Tensors of any type, read and written as doubles.

double Get(const Tensor& t, std::size_t i) {
  return testing::ElementAsDouble(t, i);
}

void Set(Tensor& t, std::size_t i, double v) {
  switch (t.dtype()) {
    case DType::kF32:
      t.as<float>()[i] = static_cast<float>(v);
      break;
    case DType::kF16:
      t.as<std::uint16_t>()[i] = F32ToF16(static_cast<float>(v));
      break;
    case DType::kBF16:
      t.as<std::uint16_t>()[i] = F32ToBF16(static_cast<float>(v));
      break;
    case DType::kI8:
      t.as<std::int8_t>()[i] = static_cast<std::int8_t>(v);
      break;
    case DType::kU8:
      t.as<std::uint8_t>()[i] = static_cast<std::uint8_t>(v);
      break;
    case DType::kI16:
      t.as<std::int16_t>()[i] = static_cast<std::int16_t>(v);
      break;
    case DType::kI32:
      t.as<std::int32_t>()[i] = static_cast<std::int32_t>(v);
      break;
    case DType::kI64:
      t.as<std::int64_t>()[i] = static_cast<std::int64_t>(v);
      break;
    case DType::kBool:
      t.as<std::uint8_t>()[i] = v != 0 ? 1 : 0;
      break;
  }
}

Tensor Make(DType dt, const Shape& shape, const std::vector<double>& v) {
  Tensor t = Tensor::Allocate(dt, shape).value();
  const auto n = static_cast<std::size_t>(shape.element_count());
  for (std::size_t i = 0; i < n; ++i) Set(t, i, v[i % v.size()]);
  return t;
}

std::vector<double> All(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.element_count()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = Get(t, i);
  return v;
}

// Deterministic values in [lo, hi]: whole numbers for integer types (u8 clamps lo to 0),
// never zero (nor near zero for floats) with `nonzero`.
std::vector<double> Values(DType dt, std::int64_t n, double lo, double hi, std::uint32_t seed,
                           bool nonzero = false) {
  std::vector<double> v(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  std::uint32_t s = seed * 2654435761u + 12345u;
  if (dt == DType::kU8 || dt == DType::kBool) lo = std::max(lo, 0.0);
  for (double& x : v) {
    s = s * 1664525u + 1013904223u;
    x = lo + (hi - lo) * ((s >> 8) / 16777216.0);
    if (dt == DType::kBool) {
      x = (s >> 20) & 1;
    } else if (!IsFloat(dt)) {
      x = std::round(x);
      if (nonzero && x == 0) x = 1;
    } else if (nonzero && std::fabs(x) < 0.25) {
      x = 0.5;
    }
  }
  return v;
}

Tensor Random(DType dt, const Shape& shape, double lo, double hi, std::uint32_t seed,
              bool nonzero = false) {
  return Make(dt, shape, Values(dt, shape.element_count(), lo, hi, seed, nonzero));
}

// An exact integer result wrapped to dt's range, as two's complement hardware does.
double WrapInt(DType dt, std::int64_t v) {
  switch (dt) {
    case DType::kI8:
      return static_cast<std::int8_t>(v);
    case DType::kU8:
      return static_cast<std::uint8_t>(v);
    case DType::kI16:
      return static_cast<std::int16_t>(v);
    case DType::kI32:
      return static_cast<std::int32_t>(v);
    default:
      return static_cast<double>(v);
  }
}

// ---------------------------------------------------------------------------------------
// Reference broadcasting.

std::optional<Shape> RefBroadcast(const std::vector<Shape>& shapes) {
  std::size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.rank());
  std::vector<std::int64_t> out(rank, 1);
  for (const Shape& s : shapes) {
    for (std::size_t i = 0; i < s.rank(); ++i) {
      std::int64_t& o = out[rank - s.rank() + i];
      if (o == 1) {
        o = s[i];
      } else if (s[i] != 1 && s[i] != o) {
        return std::nullopt;
      }
    }
  }
  return Shape(out);
}

// Index into `in` of output element `flat` under broadcasting.
std::size_t RefIndex(const Shape& in, const Shape& out, std::size_t flat) {
  std::size_t idx = 0;
  std::size_t stride = 1;
  const std::size_t pad = out.rank() - in.rank();
  for (std::size_t d = out.rank(); d-- > 0;) {
    const auto dim = static_cast<std::size_t>(out[d]);
    const std::size_t coord = flat % dim;
    flat /= dim;
    if (d >= pad) {
      const auto in_dim = static_cast<std::size_t>(in[d - pad]);
      if (in_dim != 1) idx += coord * stride;
      stride *= in_dim;
    }
  }
  return idx;
}

// out[i] = f(values of every input at i), inputs broadcast together.
std::vector<double> RefNary(const std::vector<const Tensor*>& ins, const Shape& out,
                            const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> y(static_cast<std::size_t>(out.element_count()));
  std::vector<double> args(ins.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    for (std::size_t k = 0; k < ins.size(); ++k) {
      args[k] = Get(*ins[k], RefIndex(ins[k]->shape(), out, i));
    }
    y[i] = f(args);
  }
  return y;
}

double Tolerance(DType dt, double want) {
  switch (dt) {
    case DType::kF32:
      return 2e-6 * std::fabs(want) + 1e-6;
    case DType::kF16:
      return 2e-3 * std::fabs(want) + 1e-3;
    case DType::kBF16:
      return 1.6e-2 * std::fabs(want) + 1e-2;
    default:
      return 0;
  }
}

void ExpectValues(const Tensor& got, DType dt, const Shape& shape, const std::vector<double>& want,
                  double f32_tolerance_scale = 1.0) {
  ASSERT_EQ(got.dtype(), dt);
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(static_cast<std::size_t>(got.element_count()), want.size());
  int failures = 0;
  for (std::size_t i = 0; i < want.size() && failures < 5; ++i) {
    const double g = Get(got, i);
    const double w = want[i];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << "element " << i << " is " << g << ", want NaN";
      failures += std::isnan(g) ? 0 : 1;
      continue;
    }
    if (std::isinf(w)) {
      EXPECT_EQ(g, w) << "element " << i;
      failures += g == w ? 0 : 1;
      continue;
    }
    const double tol = Tolerance(dt, w) * (dt == DType::kF32 ? f32_tolerance_scale : 1.0);
    EXPECT_NEAR(g, w, tol) << "element " << i;
    failures += std::fabs(g - w) <= tol ? 0 : 1;
  }
}

std::string Name(DType t) {
  return std::string(DTypeName(t));
}

// Shape pairs shared by every binary operator: same shape, scalars on either side, row
// and column broadcasts, rank mismatch, both sides broadcasting, zero-sized dimensions.
struct ShapePair {
  Shape a, b;
};
const std::vector<ShapePair> kShapePairs = {
    {{2, 3}, {2, 3}},
    {{2, 3}, {}},
    {{}, {2, 3}},
    {{}, {}},
    {{1}, {}},
    {{2, 3}, {3}},
    {{3}, {2, 3}},
    {{2, 3}, {2, 1}},
    {{2, 1}, {2, 3}},
    {{4, 1, 3}, {2, 1}},
    {{1, 4, 1, 5}, {3, 1, 2, 1}},
    {{2, 0, 3}, {3}},
    {{2, 0, 3}, {1, 1}},
    {{0}, {}},
    {{1}, {3, 1, 2}},
    {{5, 4, 33}, {5, 4, 33}},
    {{3, 1, 65}, {1, 7, 65}},
    {{2, 3, 4, 5}, {3, 1, 5}},
};

// ---------------------------------------------------------------------------------------
// Binary arithmetic.

std::int64_t FloorMod(std::int64_t a, std::int64_t b) {
  std::int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

struct BinaryCase {
  std::string op;
  std::function<double(double, double)> ref;                     // floats
  std::function<std::int64_t(std::int64_t, std::int64_t)> iref;  // ints; null: floats only
  double a_lo, a_hi, b_lo, b_hi;
  bool b_nonzero = false;
};

const std::vector<BinaryCase>& BinaryCases() {
  static const std::vector<BinaryCase> cases = {
      {"Add", [](double a, double b) { return a + b; },
       [](std::int64_t a, std::int64_t b) { return a + b; }, -10, 10, -10, 10},
      {"Sub", [](double a, double b) { return a - b; },
       [](std::int64_t a, std::int64_t b) { return a - b; }, -10, 10, -10, 10},
      {"Mul", [](double a, double b) { return a * b; },
       [](std::int64_t a, std::int64_t b) { return a * b; }, -10, 10, -10, 10},
      {"Div", [](double a, double b) { return a / b; },
       [](std::int64_t a, std::int64_t b) { return a / b; }, -20, 20, -6, 6, true},
      {"Mod", [](double a, double b) { return a - std::floor(a / b) * b; }, FloorMod, -20, 20, -6,
       6, true},
      {"Max", [](double a, double b) { return std::max(a, b); },
       [](std::int64_t a, std::int64_t b) { return std::max(a, b); }, -10, 10, -10, 10},
      {"Min", [](double a, double b) { return std::min(a, b); },
       [](std::int64_t a, std::int64_t b) { return std::min(a, b); }, -10, 10, -10, 10},
      {"Sum", [](double a, double b) { return a + b; },
       [](std::int64_t a, std::int64_t b) { return a + b; }, -10, 10, -10, 10},
      {"Mean", [](double a, double b) { return (a + b) / 2; }, nullptr, -10, 10, -10, 10},
      {"Pow", [](double a, double b) { return std::pow(a, b); }, nullptr, 0.5, 3, -2, 2},
  };
  return cases;
}

void PrintTo(const BinaryCase& c, std::ostream* os) {
  *os << c.op;
}

class BinaryTest : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(BinaryTest, MatchesReferenceForEveryShapePairAndType) {
  const BinaryCase& c = GetParam();
  std::vector<DType> types(std::begin(kFloatDTypes), std::end(kFloatDTypes));
  if (c.iref) types.insert(types.end(), std::begin(kIntDTypes), std::end(kIntDTypes));
  std::uint32_t seed = 1;
  for (DType dt : types) {
    for (const ShapePair& sp : kShapePairs) {
      SCOPED_TRACE(c.op + " " + Name(dt) + " " + sp.a.ToString() + " , " + sp.b.ToString());
      const Tensor a = Random(dt, sp.a, c.a_lo, c.a_hi, ++seed);
      const Tensor b = Random(dt, sp.b, c.b_lo, c.b_hi, ++seed, c.b_nonzero);
      const ir::Node node = MakeNode(c.op, {"a", "b"}, {"y"});
      auto out = RunNode(node, {&a, &b});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      const Shape shape = *RefBroadcast({sp.a, sp.b});
      const bool is_float = IsFloat(dt);
      const std::vector<double> want = RefNary({&a, &b}, shape, [&](const std::vector<double>& v) {
        if (is_float) return c.ref(v[0], v[1]);
        return WrapInt(dt,
                       c.iref(static_cast<std::int64_t>(v[0]), static_cast<std::int64_t>(v[1])));
      });
      ExpectValues((*out)[0], dt, shape, want);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, BinaryTest, ::testing::ValuesIn(BinaryCases()),
                         [](const auto& info) { return info.param.op; });

// ---------------------------------------------------------------------------------------
// Comparisons and logic: bool outputs.

struct CompareCase {
  std::string op;
  std::function<bool(double, double)> ref;
  bool numeric;  // numeric inputs (else bool inputs)
  bool bools;    // bool inputs too
};

const std::vector<CompareCase>& CompareCases() {
  static const std::vector<CompareCase> cases = {
      {"Equal", [](double a, double b) { return a == b; }, true, true},
      {"Less", [](double a, double b) { return a < b; }, true, false},
      {"Greater", [](double a, double b) { return a > b; }, true, false},
      {"LessOrEqual", [](double a, double b) { return a <= b; }, true, false},
      {"GreaterOrEqual", [](double a, double b) { return a >= b; }, true, false},
      {"And", [](double a, double b) { return a != 0 && b != 0; }, false, true},
      {"Or", [](double a, double b) { return a != 0 || b != 0; }, false, true},
      {"Xor", [](double a, double b) { return (a != 0) != (b != 0); }, false, true},
  };
  return cases;
}

void PrintTo(const CompareCase& c, std::ostream* os) {
  *os << c.op;
}

class CompareTest : public ::testing::TestWithParam<CompareCase> {};

TEST_P(CompareTest, MatchesReferenceForEveryShapePairAndType) {
  const CompareCase& c = GetParam();
  std::vector<DType> types;
  if (c.numeric) {
    types.assign(std::begin(kFloatDTypes), std::end(kFloatDTypes));
    types.insert(types.end(), std::begin(kIntDTypes), std::end(kIntDTypes));
  }
  if (c.bools) types.push_back(DType::kBool);
  std::uint32_t seed = 100;
  for (DType dt : types) {
    for (const ShapePair& sp : kShapePairs) {
      SCOPED_TRACE(c.op + " " + Name(dt) + " " + sp.a.ToString() + " , " + sp.b.ToString());
      // Few distinct values, so that equality happens often.
      const Tensor a = Random(dt, sp.a, -3, 3, ++seed);
      const Tensor b = Random(dt, sp.b, -3, 3, ++seed);
      auto out = RunNode(MakeNode(c.op, {"a", "b"}, {"y"}), {&a, &b});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      const Shape shape = *RefBroadcast({sp.a, sp.b});
      ExpectValues((*out)[0], DType::kBool, shape,
                   RefNary({&a, &b}, shape, [&](const std::vector<double>& v) {
                     return c.ref(v[0], v[1]) ? 1.0 : 0.0;
                   }));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, CompareTest, ::testing::ValuesIn(CompareCases()),
                         [](const auto& info) { return info.param.op; });

TEST(CompareTest, NaNComparesUnequalAndUnordered) {
  const Tensor a = testing::F32({3}, {std::nanf(""), 1.0f, std::nanf("")});
  const Tensor b = testing::F32({3}, {std::nanf(""), std::nanf(""), 1.0f});
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
    auto out = RunNode(MakeNode(op, {"a", "b"}, {"y"}), {&a, &b});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], DType::kBool, {3}, {0, 0, 0});
  }
}

// ---------------------------------------------------------------------------------------
// Unary operators and activations.

struct UnaryCase {
  std::string name;  // test name
  std::string op;
  std::function<double(double)> ref;
  double lo, hi;
  unsigned ints = 0;  // 0: floats only; 1: signed ints too; 2: all ints
  std::vector<std::pair<std::string, float>> attrs = {};
  int opset = 17;
  double f32_tolerance_scale = 1.0;
};

double Sigmoid(double x) {
  return 1 / (1 + std::exp(-x));
}
double Softplus(double x) {
  return std::log1p(std::exp(x));
}
double HalfEven(double x) {
  const double r = std::round(x);
  return std::fabs(x - std::trunc(x)) == 0.5 ? 2 * std::round(x / 2) : r;
}

const std::vector<UnaryCase>& UnaryCases() {
  constexpr double kSeluAlpha = 1.67326319217681884765625;
  constexpr double kSeluGamma = 1.05070102214813232421875;
  static const std::vector<UnaryCase> cases = {
      {"Abs", "Abs", [](double x) { return std::fabs(x); }, -10, 10, 2},
      {"Neg", "Neg", [](double x) { return -x; }, -10, 10, 1},
      {"Sign", "Sign", [](double x) { return double((x > 0) - (x < 0)); }, -3, 3, 2},
      {"Exp", "Exp", [](double x) { return std::exp(x); }, -5, 5},
      {"Log", "Log", [](double x) { return std::log(x); }, 0.01, 100},
      {"Sqrt", "Sqrt", [](double x) { return std::sqrt(x); }, 0, 100},
      {"Reciprocal", "Reciprocal", [](double x) { return 1 / x; }, 0.5, 8},
      {"Floor", "Floor", [](double x) { return std::floor(x); }, -5, 5},
      {"Ceil", "Ceil", [](double x) { return std::ceil(x); }, -5, 5},
      {"Round", "Round", HalfEven, -5, 5},
      {"Sin", "Sin", [](double x) { return std::sin(x); }, -3, 3},
      {"Cos", "Cos", [](double x) { return std::cos(x); }, -3, 3},
      {"Tan", "Tan", [](double x) { return std::tan(x); }, -1.2, 1.2},
      {"Asin", "Asin", [](double x) { return std::asin(x); }, -0.99, 0.99},
      {"Acos", "Acos", [](double x) { return std::acos(x); }, -0.99, 0.99},
      {"Atan", "Atan", [](double x) { return std::atan(x); }, -5, 5},
      {"Sinh", "Sinh", [](double x) { return std::sinh(x); }, -3, 3},
      {"Cosh", "Cosh", [](double x) { return std::cosh(x); }, -3, 3},
      {"Asinh", "Asinh", [](double x) { return std::asinh(x); }, -5, 5},
      {"Acosh", "Acosh", [](double x) { return std::acosh(x); }, 1, 10},
      {"Atanh", "Atanh", [](double x) { return std::atanh(x); }, -0.9, 0.9},
      {"Erf", "Erf", [](double x) { return std::erf(x); }, -3, 3},
      {"Tanh", "Tanh", [](double x) { return std::tanh(x); }, -5, 5},
      {"Relu", "Relu", [](double x) { return std::max(x, 0.0); }, -5, 5, 1},
      {"LeakyReluDefault", "LeakyRelu", [](double x) { return x < 0 ? 0.01 * x : x; }, -5, 5},
      {"LeakyRelu",
       "LeakyRelu",
       [](double x) { return x < 0 ? 0.3 * x : x; },
       -5,
       5,
       0,
       {{"alpha", 0.3f}}},
      {"EluDefault", "Elu", [](double x) { return x < 0 ? std::expm1(x) : x; }, -5, 5},
      {"Elu",
       "Elu",
       [](double x) { return x < 0 ? 0.5 * std::expm1(x) : x; },
       -5,
       5,
       0,
       {{"alpha", 0.5f}}},
      {"SeluDefault", "Selu",
       [=](double x) { return x > 0 ? kSeluGamma * x : kSeluGamma * kSeluAlpha * std::expm1(x); },
       -5, 5},
      {"Selu",
       "Selu",
       [](double x) { return x > 0 ? 3 * x : 3 * 2 * std::expm1(x); },
       -5,
       5,
       0,
       {{"alpha", 2.0f}, {"gamma", 3.0f}}},
      {"CeluDefault", "Celu", [](double x) { return x > 0 ? x : std::expm1(x); }, -5, 5},
      {"Celu",
       "Celu",
       [](double x) { return x > 0 ? x : 2 * std::expm1(x / 2); },
       -5,
       5,
       0,
       {{"alpha", 2.0f}}},
      {"Sigmoid", "Sigmoid", Sigmoid, -20, 20},
      {"HardSigmoidDefault", "HardSigmoid",
       [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); }, -5, 5},
      {"HardSigmoid",
       "HardSigmoid",
       [](double x) { return std::clamp(0.25 * x + 0.75, 0.0, 1.0); },
       -5,
       5,
       0,
       {{"alpha", 0.25f}, {"beta", 0.75f}}},
      {"HardSwish", "HardSwish", [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }, -5,
       5},
      {"Softplus", "Softplus", Softplus, -20, 20},
      {"Softsign", "Softsign", [](double x) { return x / (1 + std::fabs(x)); }, -5, 5},
      {"ThresholdedReluDefault", "ThresholdedRelu", [](double x) { return x > 1 ? x : 0; }, -3, 3},
      {"ThresholdedRelu",
       "ThresholdedRelu",
       [](double x) { return x > 0.5 ? x : 0; },
       -3,
       3,
       0,
       {{"alpha", 0.5f}}},
      {"Mish", "Mish", [](double x) { return x * std::tanh(Softplus(x)); }, -10, 10, 0, {}, 18},
      {"ClipOpset6",
       "Clip",
       [](double x) { return std::clamp(x, -1.5, 2.0); },
       -5,
       5,
       0,
       {{"min", -1.5f}, {"max", 2.0f}},
       6},
      {"ClipOpset6Default", "Clip", [](double x) { return x; }, -5, 5, 0, {}, 6},
      {"ClipOpset13NoBounds", "Clip", [](double x) { return x; }, -5, 5, 2},
  };
  return cases;
}

const std::vector<Shape> kUnaryShapes = {{2, 3}, {}, {0, 4}, {7, 5, 3}, {1, 1, 129}};

void PrintTo(const UnaryCase& c, std::ostream* os) {
  *os << c.name;
}

class UnaryTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryTest, MatchesReferenceForEveryShapeAndType) {
  const UnaryCase& c = GetParam();
  std::vector<DType> types(std::begin(kFloatDTypes), std::end(kFloatDTypes));
  for (DType t : kIntDTypes) {
    if (c.ints == 2 || (c.ints == 1 && t != DType::kU8)) types.push_back(t);
  }
  ir::Node node = MakeNode(c.op, {"x"}, {"y"}, c.opset);
  for (const auto& [name, value] : c.attrs) testing::SetFloat(node, name, value);
  std::uint32_t seed = 7;
  for (DType dt : types) {
    for (const Shape& shape : kUnaryShapes) {
      SCOPED_TRACE(c.name + " " + Name(dt) + " " + shape.ToString());
      const Tensor x = Random(dt, shape, c.lo, c.hi, ++seed);
      auto out = RunNode(node, {&x});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      std::vector<double> want = All(x);
      for (double& v : want) v = IsFloat(dt) ? c.ref(v) : WrapInt(dt, std::llround(c.ref(v)));
      ExpectValues((*out)[0], dt, shape, want, c.f32_tolerance_scale);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, UnaryTest, ::testing::ValuesIn(UnaryCases()),
                         [](const auto& info) { return info.param.name; });

TEST(UnaryTest, SpecialFloatValues) {
  const std::vector<double> in = {kNaN, kInf, -kInf, 0.0, -0.0};
  const Tensor x = Make(DType::kF32, {5}, in);
  struct Case {
    const char* op;
    std::vector<double> want;
  };
  const std::vector<Case> cases = {
      {"Abs", {kNaN, kInf, kInf, 0, 0}},
      {"Neg", {kNaN, -kInf, kInf, 0, 0}},
      {"Relu", {kNaN, kInf, 0, 0, 0}},
      {"Sigmoid", {kNaN, 1, 0, 0.5, 0.5}},
      {"Tanh", {kNaN, 1, -1, 0, 0}},
      {"Exp", {kNaN, kInf, 0, 1, 1}},
      {"Softplus", {kNaN, kInf, 0, std::log(2.0), std::log(2.0)}},
      {"Floor", {kNaN, kInf, -kInf, 0, 0}},
      {"Round", {kNaN, kInf, -kInf, 0, 0}},
      {"Sign", {kNaN, 1, -1, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op);
    auto out = RunNode(MakeNode(c.op, {"x"}, {"y"}), {&x});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], DType::kF32, {5}, c.want);
  }
}

TEST(UnaryTest, RoundIsHalfToEven) {
  const Tensor x =
      testing::F32({10}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, 2.6f, -2.6f, 1e7f + 1});
  auto out = RunNode(MakeNode("Round", {"x"}, {"y"}), {&x});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  ExpectValues((*out)[0], DType::kF32, {10}, {0, 2, 2, 0, -2, -2, 2, 3, -3, 1e7 + 1});
}

TEST(UnaryTest, IsNaNAndIsInfWithDetectAttributes) {
  const std::vector<double> in = {kNaN, kInf, -kInf, 0.0, -3.5, 1e30};
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(Name(dt));
    const Tensor x = Make(dt, {2, 3}, in);
    auto nan = RunNode(MakeNode("IsNaN", {"x"}, {"y"}), {&x});
    ASSERT_TRUE(nan.has_value()) << nan.status().message();
    ExpectValues((*nan)[0], DType::kBool, {2, 3}, {1, 0, 0, 0, 0, 0});
    struct Case {
      int neg, pos;
      std::vector<double> want;
    };
    const double big_is_inf = dt == DType::kF16 ? 1 : 0;  // 1e30 overflows f16
    for (const Case& c :
         {Case{1, 1, {0, 1, 1, 0, 0, big_is_inf}}, Case{0, 1, {0, 1, 0, 0, 0, big_is_inf}},
          Case{1, 0, {0, 0, 1, 0, 0, 0}}, Case{0, 0, {0, 0, 0, 0, 0, 0}}}) {
      ir::Node node = MakeNode("IsInf", {"x"}, {"y"});
      testing::SetInt(node, "detect_negative", c.neg);
      testing::SetInt(node, "detect_positive", c.pos);
      auto inf = RunNode(node, {&x});
      ASSERT_TRUE(inf.has_value()) << inf.status().message();
      ExpectValues((*inf)[0], DType::kBool, {2, 3}, c.want);
    }
  }
}

TEST(UnaryTest, NotInvertsBools) {
  const Tensor x = Make(DType::kBool, {2, 2}, {1, 0, 0, 1});
  auto out = RunNode(MakeNode("Not", {"x"}, {"y"}), {&x});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  ExpectValues((*out)[0], DType::kBool, {2, 2}, {0, 1, 1, 0});
}

TEST(UnaryTest, IntegerAbsAndNegWrapAtTheMinimum) {
  const Tensor x = Make(DType::kI8, {3}, {-128, -5, 127});
  auto abs = RunNode(MakeNode("Abs", {"x"}, {"y"}), {&x});
  ASSERT_TRUE(abs.has_value()) << abs.status().message();
  ExpectValues((*abs)[0], DType::kI8, {3}, {-128, 5, 127});
  const Tensor y = testing::I32({2}, {std::numeric_limits<std::int32_t>::min(), 3});
  auto neg = RunNode(MakeNode("Neg", {"x"}, {"y"}), {&y});
  ASSERT_TRUE(neg.has_value()) << neg.status().message();
  ExpectValues((*neg)[0], DType::kI32, {2}, {std::numeric_limits<std::int32_t>::min(), -3});
}

// ---------------------------------------------------------------------------------------
// Variadic Sum, Mean, Max, Min.

struct VariadicCase {
  std::string op;
  std::function<double(const std::vector<double>&)> ref;
  bool ints;
};

const std::vector<VariadicCase>& VariadicCases() {
  static const std::vector<VariadicCase> cases = {
      {"Sum",
       [](const std::vector<double>& v) {
         double s = 0;
         for (double x : v) s += x;
         return s;
       },
       true},
      {"Mean",
       [](const std::vector<double>& v) {
         double s = 0;
         for (double x : v) s += x;
         return s / static_cast<double>(v.size());
       },
       false},
      {"Max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); },
       true},
      {"Min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); },
       true},
  };
  return cases;
}

const std::vector<std::vector<Shape>> kVariadicShapes = {
    {{2, 3}},
    {{2, 3}, {3}},
    {{2, 3}, {3}, {2, 1}},
    {{4, 1, 3}, {2, 1}, {}},
    {{2, 0, 3}, {3}, {1}},
    {{3}, {3}, {3}, {3}},
    {{}, {1, 1}, {}, {5, 1, 300}},
};

void PrintTo(const VariadicCase& c, std::ostream* os) {
  *os << c.op;
}

class VariadicTest : public ::testing::TestWithParam<VariadicCase> {};

TEST_P(VariadicTest, MatchesReferenceForOneToFourInputs) {
  const VariadicCase& c = GetParam();
  std::vector<DType> types(std::begin(kFloatDTypes), std::end(kFloatDTypes));
  if (c.ints) types.insert(types.end(), std::begin(kIntDTypes), std::end(kIntDTypes));
  std::uint32_t seed = 300;
  for (DType dt : types) {
    for (const std::vector<Shape>& shapes : kVariadicShapes) {
      std::string trace = c.op + " " + Name(dt);
      std::vector<Tensor> tensors;
      std::vector<std::string> names;
      for (const Shape& s : shapes) {
        trace += " " + s.ToString();
        tensors.push_back(Random(dt, s, -10, 10, ++seed));
        names.push_back("x" + std::to_string(names.size()));
      }
      SCOPED_TRACE(trace);
      std::vector<const Tensor*> ins;
      for (const Tensor& t : tensors) ins.push_back(&t);
      auto out = RunNode(MakeNode(c.op, names, {"y"}), ins);
      ASSERT_TRUE(out.has_value()) << out.status().message();
      const Shape shape = *RefBroadcast(shapes);
      ExpectValues((*out)[0], dt, shape, RefNary(ins, shape, c.ref));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, VariadicTest, ::testing::ValuesIn(VariadicCases()),
                         [](const auto& info) { return info.param.op; });

TEST(VariadicTest, MaxAndMinPropagateNaN) {
  const Tensor a = testing::F32({3}, {std::nanf(""), 1.0f, 2.0f});
  const Tensor b = testing::F32({3}, {1.0f, std::nanf(""), 3.0f});
  for (const char* op : {"Max", "Min"}) {
    auto out = RunNode(MakeNode(op, {"a", "b"}, {"y"}), {&a, &b});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], DType::kF32, {3}, {kNaN, kNaN, op[1] == 'a' ? 3.0 : 2.0});
  }
}

// ---------------------------------------------------------------------------------------
// Where.

TEST(WhereTest, MatchesReferenceWithThreeWayBroadcast) {
  const std::vector<std::vector<Shape>> triples = {
      {{2, 3}, {2, 3}, {2, 3}},      {{2, 1}, {3}, {}},     {{}, {2, 3}, {2, 3}},
      {{3, 1, 4}, {1, 5, 1}, {4}},   {{2, 0}, {2, 1}, {1}}, {{4}, {3, 1}, {2, 1, 1}},
      {{1, 1, 70}, {3, 70}, {3, 1}},
  };
  std::uint32_t seed = 500;
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8, DType::kI16, DType::kI32,
                   DType::kI64, DType::kU8, DType::kBool}) {
    for (const auto& shapes : triples) {
      SCOPED_TRACE(Name(dt) + " " + shapes[0].ToString() + " " + shapes[1].ToString() + " " +
                   shapes[2].ToString());
      const Tensor c = Random(DType::kBool, shapes[0], 0, 1, ++seed);
      const Tensor x = Random(dt, shapes[1], -100, 100, ++seed);
      const Tensor z = Random(dt, shapes[2], -100, 100, ++seed);
      auto out = RunNode(MakeNode("Where", {"c", "x", "z"}, {"y"}), {&c, &x, &z});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      const Shape shape = *RefBroadcast(shapes);
      ExpectValues((*out)[0], dt, shape,
                   RefNary({&c, &x, &z}, shape,
                           [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Clip, opset 11+ form (optional min/max inputs; integers too).

TEST(ClipTest, OptionalMinMaxInputsForFloatsAndInts) {
  struct Case {
    DType dt;
    std::optional<double> lo, hi;
  };
  const std::vector<Case> cases = {
      {DType::kF32, -1.0, 2.0}, {DType::kF32, std::nullopt, 2.0}, {DType::kF32, -1.0, std::nullopt},
      {DType::kF32, 3.0, 1.0},  {DType::kF16, -0.5, 0.5},         {DType::kBF16, -2.0, 1.0},
      {DType::kI8, -3.0, 4.0},  {DType::kU8, 2.0, 7.0},           {DType::kI16, std::nullopt, 0.0},
      {DType::kI32, -5.0, 5.0}, {DType::kI64, 0.0, std::nullopt},
  };
  std::uint32_t seed = 700;
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c.dt) + " min " + (c.lo ? std::to_string(*c.lo) : "none") + " max " +
                 (c.hi ? std::to_string(*c.hi) : "none"));
    const Tensor x = Random(c.dt, {3, 5}, -10, 10, ++seed);
    const Tensor lo = Make(c.dt, {}, {c.lo.value_or(0)});
    const Tensor hi = Make(c.dt, {}, {c.hi.value_or(0)});
    // Omitted inputs: "" in the middle, or left off at the end.
    std::vector<std::string> names = {"x", c.lo ? "lo" : ""};
    std::vector<const Tensor*> ins = {&x, c.lo ? &lo : nullptr};
    if (c.hi) {
      names.push_back("hi");
      ins.push_back(&hi);
    }
    auto out = RunNode(MakeNode("Clip", names, {"y"}, 13), ins);
    ASSERT_TRUE(out.has_value()) << out.status().message();
    std::vector<double> want = All(x);
    for (double& v : want) {
      if (c.lo) v = std::max(v, *c.lo);
      if (c.hi) v = std::min(v, *c.hi);
    }
    ExpectValues((*out)[0], c.dt, {3, 5}, want);
  }
}

TEST(ClipTest, RejectsNonScalarBoundsAndMismatchedTypes) {
  const Tensor x = testing::F32({2}, {1, 2});
  const Tensor two = testing::F32({2}, {0, 1});
  const Tensor int_bound = testing::I32({}, {1});
  for (const Tensor* bound : {&two, &int_bound}) {
    auto out = RunNode(MakeNode("Clip", {"x", "lo"}, {"y"}, 13), {&x, bound});
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("'Clip_test'"), std::string::npos)
        << out.status().message();
  }
}

// ---------------------------------------------------------------------------------------
// Pow with mixed types, Div and Mod on integers, BitShift, PRelu, legacy broadcasting.

TEST(PowTest, MixedBaseAndExponentTypes) {
  struct Case {
    DType base_type, exp_type;
    Shape base_shape, exp_shape;
    std::vector<double> base, exp, want;
  };
  const std::vector<Case> cases = {
      {DType::kF32, DType::kI64, {3}, {}, {1.5, -2, 3}, {2}, {2.25, 4, 9}},
      {DType::kF32, DType::kI32, {3}, {3}, {2, -2, 4}, {3, -1, 0}, {8, -0.5, 1}},
      {DType::kF16, DType::kF32, {2}, {2}, {4, 9}, {0.5, -1}, {2, 1.0 / 9}},
      {DType::kI32,
       DType::kI32,
       {6},
       {6},
       {2, -3, 5, 0, 1, -1},
       {3, 3, 2, 0, -2, -3},
       {8, -27, 25, 1, 1, -1}},
      {DType::kI64, DType::kF32, {4}, {4}, {4, 9, 2, 2}, {0.5, 0.5, 3, -1}, {2, 3, 8, 0}},
      {DType::kI64, DType::kI64, {2}, {}, {3, -10}, {12}, {531441, 1e12}},
      {DType::kI32, DType::kF32, {2}, {1}, {2, 10}, {0.5}, {1, 3}},
      // Scalar exponents 2 and 1 (the fast path), 0.5, and a wider exponent shape.
      {DType::kF32, DType::kF32, {4}, {}, {-3, 0.5, 0, 7}, {2}, {9, 0.25, 0, 49}},
      {DType::kF32, DType::kF32, {2}, {1}, {-3, 0.5}, {1}, {-3, 0.5}},
      {DType::kF32, DType::kF32, {2}, {}, {4, 2}, {0.5}, {2, std::sqrt(2.0)}},
      {DType::kF32, DType::kF32, {2}, {1, 1}, {-3, 5}, {2}, {9, 25}},
      {DType::kBF16, DType::kBF16, {2}, {}, {-3, 5}, {2}, {9, 25}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c.base_type) + "^" + Name(c.exp_type) + " " + c.base_shape.ToString() + "^" +
                 c.exp_shape.ToString());
    const Tensor a = Make(c.base_type, c.base_shape, c.base);
    const Tensor b = Make(c.exp_type, c.exp_shape, c.exp);
    auto out = RunNode(MakeNode("Pow", {"a", "b"}, {"y"}), {&a, &b});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], c.base_type, *RefBroadcast({c.base_shape, c.exp_shape}), c.want);
  }
}

TEST(DivTest, IntegersTruncateTowardZeroAndNeverTrap) {
  constexpr double kMin32 = std::numeric_limits<std::int32_t>::min();
  constexpr auto kMin64 = static_cast<double>(std::numeric_limits<std::int64_t>::min());
  const Tensor a = Make(DType::kI32, {6}, {7, -7, 7, -7, 5, kMin32});
  const Tensor b = Make(DType::kI32, {6}, {2, 2, -2, -2, 0, -1});
  auto out = RunNode(MakeNode("Div", {"a", "b"}, {"y"}), {&a, &b});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  ExpectValues((*out)[0], DType::kI32, {6}, {3, -3, -3, 3, 0, kMin32});
  const Tensor c = Make(DType::kI64, {3}, {kMin64, 9, -9});
  const Tensor d = Make(DType::kI64, {3}, {-1, 4, 4});
  auto out64 = RunNode(MakeNode("Div", {"a", "b"}, {"y"}), {&c, &d});
  ASSERT_TRUE(out64.has_value()) << out64.status().message();
  ExpectValues((*out64)[0], DType::kI64, {3}, {kMin64, 2, -2});
}

TEST(ModTest, FmodAttributeSelectsTheSignConvention) {
  const std::vector<double> a = {-4, 7, 5, 4, -7, 8};
  const std::vector<double> b = {2, -3, 8, -2, 3, 5};
  for (DType dt : {DType::kI8, DType::kI16, DType::kI32, DType::kI64}) {
    SCOPED_TRACE(Name(dt));
    const Tensor ta = Make(dt, {6}, a);
    const Tensor tb = Make(dt, {6}, b);
    ir::Node floor_mod = MakeNode("Mod", {"a", "b"}, {"y"});
    auto out = RunNode(floor_mod, {&ta, &tb});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], dt, {6}, {0, -2, 5, 0, 2, 3});
    ir::Node trunc_mod = MakeNode("Mod", {"a", "b"}, {"y"});
    testing::SetInt(trunc_mod, "fmod", 1);
    out = RunNode(trunc_mod, {&ta, &tb});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], dt, {6}, {0, 1, 5, 0, -1, 3});
  }
  // Floats with fmod=1 follow C fmod (the dividend's sign).
  for (DType dt : kFloatDTypes) {
    SCOPED_TRACE(Name(dt));
    const Tensor ta = Make(dt, {6}, {-4.3, 7.2, 5.0, 4.3, -7.2, 8.0});
    const Tensor tb = Make(dt, {6}, {2.1, -3.4, 8.0, -2.1, 3.4, 5.0});
    ir::Node node = MakeNode("Mod", {"a", "b"}, {"y"});
    testing::SetInt(node, "fmod", 1);
    auto out = RunNode(node, {&ta, &tb});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    std::vector<double> want(6);
    for (std::size_t i = 0; i < 6; ++i) want[i] = std::fmod(Get(ta, i), Get(tb, i));
    ExpectValues((*out)[0], dt, {6}, want);
  }
  // Division by zero gives 0 instead of trapping.
  const Tensor z = Make(DType::kI32, {2}, {5, -5});
  const Tensor zero = Make(DType::kI32, {}, {0});
  auto out = RunNode(MakeNode("Mod", {"a", "b"}, {"y"}), {&z, &zero});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  ExpectValues((*out)[0], DType::kI32, {2}, {0, 0});
}

TEST(BitShiftTest, LeftAndRightWithBroadcast) {
  const Tensor x = Make(DType::kU8, {2, 3}, {16, 4, 1, 255, 128, 3});
  const Tensor n = Make(DType::kU8, {3}, {1, 2, 9});
  struct Case {
    const char* dir;
    std::vector<double> want;
  };
  for (const Case& c :
       {Case{"LEFT", {32, 16, 0, 254, 0, 0}}, Case{"RIGHT", {8, 1, 0, 127, 32, 0}}}) {
    SCOPED_TRACE(c.dir);
    ir::Node node = MakeNode("BitShift", {"x", "n"}, {"y"});
    testing::SetString(node, "direction", c.dir);
    auto out = RunNode(node, {&x, &n});
    ASSERT_TRUE(out.has_value()) << out.status().message();
    ExpectValues((*out)[0], DType::kU8, {2, 3}, c.want);
  }
  ir::Node bad = MakeNode("BitShift", {"x", "n"}, {"y"});
  testing::SetString(bad, "direction", "UP");
  auto out = RunNode(bad, {&x, &n});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("'BitShift_test'"), std::string::npos);
}

TEST(PReluTest, SlopeBroadcastsToTheInput) {
  const Shape x_shape = {2, 3, 4};
  std::uint32_t seed = 900;
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32, DType::kI64, DType::kI8}) {
    for (const Shape& slope_shape :
         std::vector<Shape>{{4}, {3, 1}, {1}, {}, {2, 3, 4}, {1, 3, 1}}) {
      SCOPED_TRACE(Name(dt) + " slope " + slope_shape.ToString());
      const Tensor x = Random(dt, x_shape, -5, 5, ++seed);
      const Tensor slope = Random(dt, slope_shape, -3, 3, ++seed);
      auto out = RunNode(MakeNode("PRelu", {"x", "slope"}, {"y"}), {&x, &slope});
      ASSERT_TRUE(out.has_value()) << out.status().message();
      ExpectValues((*out)[0], dt, x_shape,
                   RefNary({&x, &slope}, x_shape, [](const std::vector<double>& v) {
                     return v[0] < 0 ? v[0] * v[1] : v[0];
                   }));
    }
  }
  const Tensor x = Random(DType::kF32, x_shape, -5, 5, 1);
  for (const Shape& bad : std::vector<Shape>{{5}, {2, 2, 3, 4}}) {
    const Tensor slope = Random(DType::kF32, bad, -3, 3, 2);
    auto out = RunNode(MakeNode("PRelu", {"x", "slope"}, {"y"}), {&x, &slope});
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("'PRelu_test'"), std::string::npos);
  }
}

TEST(LegacyBroadcastTest, OpsetSixBroadcastAndAxisAttributes) {
  const Tensor a = Random(DType::kF32, {2, 3, 4}, -5, 5, 11);
  const Tensor b = Random(DType::kF32, {3}, -5, 5, 12);
  ir::Node node = MakeNode("Add", {"a", "b"}, {"y"}, 6);
  testing::SetInt(node, "broadcast", 1);
  testing::SetInt(node, "axis", 1);
  auto out = RunNode(node, {&a, &b});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  std::vector<double> want = All(a);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] += Get(b, (i / 4) % 3);
  ExpectValues((*out)[0], DType::kF32, {2, 3, 4}, want);
  // Without axis: B matches A's trailing dimensions (numpy-like).
  const Tensor c = Random(DType::kF32, {4}, -5, 5, 13);
  ir::Node suffix = MakeNode("Mul", {"a", "c"}, {"y"}, 6);
  testing::SetInt(suffix, "broadcast", 1);
  out = RunNode(suffix, {&a, &c});
  ASSERT_TRUE(out.has_value()) << out.status().message();
  want = All(a);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] *= Get(c, i % 4);
  ExpectValues((*out)[0], DType::kF32, {2, 3, 4}, want);
}

// ---------------------------------------------------------------------------------------
// Errors.

TEST(ErrorTest, NonBroadcastableShapesNameTheNode) {
  std::vector<std::pair<std::string, DType>> ops;
  for (const BinaryCase& c : BinaryCases()) ops.emplace_back(c.op, DType::kF32);
  for (const CompareCase& c : CompareCases()) {
    ops.emplace_back(c.op, c.numeric ? DType::kF32 : DType::kBool);
  }
  for (const auto& [op, dt] : ops) {
    SCOPED_TRACE(op);
    const Tensor a = Make(dt, {2, 3}, {1});
    const Tensor b = Make(dt, {4}, {1});
    auto out = RunNode(MakeNode(op, {"a", "b"}, {"y"}), {&a, &b});
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("'" + op + "_test'"), std::string::npos)
        << out.status().message();
    EXPECT_NE(out.status().message().find("2x3"), std::string::npos) << out.status().message();
  }
  const Tensor c = Make(DType::kBool, {2, 3}, {1});
  const Tensor x = Make(DType::kF32, {3}, {1});
  const Tensor z = Make(DType::kF32, {4}, {1});
  auto out = RunNode(MakeNode("Where", {"c", "x", "z"}, {"y"}), {&c, &x, &z});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("'Where_test'"), std::string::npos);
  const Tensor three = Make(DType::kF32, {3}, {1});
  out = RunNode(MakeNode("Sum", {"a", "b", "c"}, {"y"}), {&three, &three, &z});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("'Sum_test'"), std::string::npos);
}

TEST(ErrorTest, MismatchedInputTypes) {
  const Tensor a = testing::F32({2}, {1, 2});
  const Tensor b = testing::I32({2}, {1, 2});
  for (const char* op : {"Add", "Mul", "Equal", "Max", "PRelu", "Where"}) {
    SCOPED_TRACE(op);
    const Tensor c = Make(DType::kBool, {2}, {1, 0});
    auto out = std::string(op) == "Where"
                   ? RunNode(MakeNode(op, {"c", "a", "b"}, {"y"}), {&c, &a, &b})
                   : RunNode(MakeNode(op, {"a", "b"}, {"y"}), {&a, &b});
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("f32"), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("i32"), std::string::npos) << out.status().message();
  }
}

TEST(ErrorTest, UnsupportedTypesAreNamed) {
  struct Case {
    std::string op;
    DType dt;
    int inputs;
  };
  const std::vector<Case> cases = {
      {"Add", DType::kBool, 2},    {"Div", DType::kBool, 2},     {"Exp", DType::kI32, 1},
      {"Sigmoid", DType::kI64, 1}, {"Neg", DType::kU8, 1},       {"Relu", DType::kBool, 1},
      {"And", DType::kF32, 2},     {"Not", DType::kI8, 1},       {"Less", DType::kBool, 2},
      {"IsNaN", DType::kI32, 1},   {"BitShift", DType::kI32, 2}, {"Mean", DType::kI32, 2},
      {"Clip", DType::kBool, 1},   {"Pow", DType::kBool, 2},     {"Where", DType::kF32, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.op + " " + Name(c.dt));
    const Tensor t = Make(c.dt, {2}, {1, 0});
    std::vector<std::string> names = {"a", "b", "c"};
    names.resize(static_cast<std::size_t>(c.inputs));
    std::vector<const Tensor*> ins(names.size(), &t);
    ir::Node node = MakeNode(c.op, names, {"y"});
    testing::SetString(node, "direction", "LEFT");
    auto out = RunNode(node, ins);
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.status().code(), StatusCode::kUnsupported) << out.status().message();
    EXPECT_NE(out.status().message().find(Name(c.dt)), std::string::npos) << out.status().message();
    EXPECT_NE(out.status().message().find("'" + c.op + "_test'"), std::string::npos)
        << out.status().message();
  }
}

TEST(ErrorTest, MissingInputIsAnError) {
  const Tensor a = testing::F32({2}, {1, 2});
  auto out = RunNode(MakeNode("Add", {"a", ""}, {"y"}), {&a, nullptr});
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.status().message().find("'Add_test'"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Large tensors through ParallelFor (two threads; the harness hands out uneven chunks).

class CountingContext final : public engine::KernelContext {
 public:
  CountingContext(const ir::Node& node, std::vector<const Tensor*> inputs)
      : inner_(node, std::move(inputs), 2) {}
  const ir::Node& node() const override { return inner_.node(); }
  std::size_t input_count() const override { return inner_.input_count(); }
  const Tensor* input(std::size_t i) const override { return inner_.input(i); }
  std::size_t output_count() const override { return inner_.output_count(); }
  bool output_wanted(std::size_t i) const override { return inner_.output_wanted(i); }
  Expected<Tensor*> Output(std::size_t i, DType dtype, const Shape& shape) override {
    return inner_.Output(i, dtype, shape);
  }
  int threads() const override { return 2; }
  void ParallelFor(std::size_t n,
                   const std::function<void(std::size_t, std::size_t)>& fn) override {
    ++parallel_calls;
    inner_.ParallelFor(n, fn);
  }
  Status RunSubgraph(const ir::Graph& g, std::span<const Tensor* const> in,
                     std::vector<Tensor>& out) override {
    return inner_.RunSubgraph(g, in, out);
  }
  std::vector<Tensor>& outputs() { return inner_.outputs(); }
  int parallel_calls = 0;

 private:
  testing::SingleNodeContext inner_;
};

// Runs `node` with two threads; `parallel` receives whether ParallelFor was used.
Expected<std::vector<Tensor>> RunThreaded(const ir::Node& node, std::vector<const Tensor*> inputs,
                                          bool* parallel) {
  static const engine::KernelRegistry* registry = [] {
    auto* r = new engine::KernelRegistry;
    engine::RegisterElementwiseKernels(*r);
    return r;
  }();
  ir::Graph graph;
  engine::PrepareContext prep{graph, 2,
                              [](const std::string&) -> const Tensor* { return nullptr; }};
  DEEPEDGE_ASSIGN_OR_RETURN(std::unique_ptr<engine::OpKernel> kernel, registry->Create(node, prep));
  CountingContext ctx(node, std::move(inputs));
  DEEPEDGE_RETURN_IF_ERROR(kernel->Run(ctx));
  *parallel = ctx.parallel_calls > 0;
  return std::move(ctx.outputs());
}

TEST(ParallelTest, LargeBroadcastsMatchTheReference) {
  struct Case {
    std::string op;
    DType dt;
    std::vector<Shape> shapes;
    std::function<double(const std::vector<double>&)> ref;
    DType out_dt;
  };
  const auto add = [](const std::vector<double>& v) { return v[0] + v[1]; };
  const std::vector<Case> cases = {
      {"Add", DType::kF32, {{300, 257}, {300, 257}}, add, DType::kF32},
      {"Add", DType::kF32, {{300, 257}, {257}}, add, DType::kF32},
      {"Add", DType::kF32, {{300, 257}, {300, 1}}, add, DType::kF32},
      {"Add", DType::kF32, {{}, {300, 257}}, add, DType::kF32},
      {"Add", DType::kF16, {{3, 100, 257}, {100, 1}}, add, DType::kF16},
      {"Sub",
       DType::kI64,
       {{2, 1, 40000}, {3, 1}},
       [](const std::vector<double>& v) { return v[0] - v[1]; },
       DType::kI64},
      {"Less",
       DType::kF32,
       {{300, 257}, {1, 257}},
       [](const std::vector<double>& v) { return v[0] < v[1] ? 1.0 : 0.0; },
       DType::kBool},
      {"Sum",
       DType::kF32,
       {{300, 257}, {257}, {300, 1}},
       [](const std::vector<double>& v) { return v[0] + v[1] + v[2]; },
       DType::kF32},
      {"Sigmoid",
       DType::kF32,
       {{100003}},
       [](const std::vector<double>& v) { return Sigmoid(v[0]); },
       DType::kF32},
      {"Where",
       DType::kBool,
       {{300, 1}, {300, 257}, {257}},
       [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; },
       DType::kF32},
  };
  std::uint32_t seed = 1000;
  for (const Case& c : cases) {
    std::string trace = c.op;
    std::vector<Tensor> tensors;
    std::vector<std::string> names;
    for (std::size_t k = 0; k < c.shapes.size(); ++k) {
      trace += " " + c.shapes[k].ToString();
      // Where: a bool condition, then f32 values.
      const DType dt = (c.op == "Where" && k > 0) ? DType::kF32 : c.dt;
      tensors.push_back(Random(dt, c.shapes[k], -10, 10, ++seed));
      names.push_back("x" + std::to_string(k));
    }
    SCOPED_TRACE(trace);
    std::vector<const Tensor*> ins;
    for (const Tensor& t : tensors) ins.push_back(&t);
    bool parallel = false;
    auto out = RunThreaded(MakeNode(c.op, names, {"y"}), ins, &parallel);
    ASSERT_TRUE(out.has_value()) << out.status().message();
    EXPECT_TRUE(parallel);
    const Shape shape = *RefBroadcast(c.shapes);
    ExpectValues((*out)[0], c.out_dt, shape, RefNary(ins, shape, c.ref));
  }
  // Small tensors stay on the calling thread.
  const Tensor small = Random(DType::kF32, {100, 100}, -1, 1, 1);
  bool parallel = true;
  auto out = RunThreaded(MakeNode("Add", {"a", "b"}, {"y"}), {&small, &small}, &parallel);
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(parallel);
}

// ---------------------------------------------------------------------------------------
// The kernels' inline helpers against the library's conversions and double exp.

TEST(HelpersTest, HalfConversionsMatchTheLibraryBitForBit) {
  for (std::uint32_t h = 0; h <= 0xFFFFu; ++h) {
    const auto v = static_cast<std::uint16_t>(h);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(engine::ew::HalfToFloat(v)),
              std::bit_cast<std::uint32_t>(F16ToF32(v)))
        << "half " << h;
    ASSERT_EQ(std::bit_cast<std::uint32_t>(engine::ew::BFloatToFloat(v)),
              std::bit_cast<std::uint32_t>(BF16ToF32(v)))
        << "bf16 " << h;
  }
  // Every 4093rd f32 bit pattern, plus the boundaries of the rounding cases.
  std::vector<std::uint32_t> bits = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u,
                                     0x7FC00000u, 0x7F800001u, 0x38800000u, 0x387FFFFFu,
                                     0x477FEFFFu, 0x477FF000u, 0x33000000u, 0x33000001u};
  for (std::uint64_t x = 0; x <= 0xFFFFFFFFu; x += 4093)
    bits.push_back(static_cast<std::uint32_t>(x));
  for (std::uint32_t x : bits) {
    const float f = std::bit_cast<float>(x);
    ASSERT_EQ(engine::ew::FloatToHalf(f), F32ToF16(f)) << "f32 bits " << x;
    ASSERT_EQ(engine::ew::FloatToBFloat(f), F32ToBF16(f)) << "f32 bits " << x;
  }
}

TEST(HelpersTest, ExpIsWithinTwoUlpOfDoubleExp) {
  std::vector<float> xs = {0.0f,     -0.0f,  1.0f,    -1.0f,       88.72f,
                           88.7228f, -87.3f, -103.0f, -103.97f,    -104.0f,
                           -110.0f,  1e-8f,  -1e-8f,  0.34657359f, -0.34657359f};
  for (int i = 0; i <= 400000; ++i) xs.push_back(-105.0f + 195.0f * static_cast<float>(i) / 4e5f);
  for (float x : xs) {
    const float want = static_cast<float>(std::exp(static_cast<double>(x)));
    const float got = engine::ew::ExpF(x);
    const auto distance = std::abs(static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(got)) -
                                   static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(want)));
    ASSERT_LE(distance, 2) << "exp(" << x << ") = " << got << ", want " << want;
  }
  EXPECT_EQ(engine::ew::ExpF(std::numeric_limits<float>::infinity()), kInf);
  EXPECT_EQ(engine::ew::ExpF(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(engine::ew::ExpF(89.0f), kInf);
  EXPECT_EQ(engine::ew::ExpF(1000.0f), kInf);
  EXPECT_TRUE(std::isnan(engine::ew::ExpF(std::nanf(""))));
}

// ---------------------------------------------------------------------------------------
// Registration.

TEST(RegistrationTest, OpsetRanges) {
  engine::KernelRegistry r;
  engine::RegisterElementwiseKernels(r);
  struct Case {
    const char* op;
    int opset;
    bool supported;
  };
  for (const Case& c :
       {Case{"Mish", 17, false}, Case{"Mish", 18, true}, Case{"Clip", 6, true},
        Case{"Clip", 11, true}, Case{"LessOrEqual", 11, false}, Case{"LessOrEqual", 12, true},
        Case{"Where", 8, false}, Case{"HardSwish", 14, true}, Case{"Gelu", 17, false},
        Case{"Add", 1, true}, Case{"Round", 10, false}, Case{"Round", 11, true}}) {
    EXPECT_EQ(r.Supports(MakeNode(c.op, {"x"}, {"y"}, c.opset)), c.supported)
        << c.op << " opset " << c.opset;
  }
  const std::vector<std::string> expected = {"Abs",
                                             "Acos",
                                             "Acosh",
                                             "Add",
                                             "And",
                                             "Asin",
                                             "Asinh",
                                             "Atan",
                                             "Atanh",
                                             "BitShift",
                                             "Ceil",
                                             "Celu",
                                             "Clip",
                                             "Cos",
                                             "Cosh",
                                             "Div",
                                             "Elu",
                                             "Equal",
                                             "Erf",
                                             "Exp",
                                             "Floor",
                                             "Greater",
                                             "GreaterOrEqual",
                                             "HardSigmoid",
                                             "HardSwish",
                                             "IsInf",
                                             "IsNaN",
                                             "LeakyRelu",
                                             "Less",
                                             "LessOrEqual",
                                             "Log",
                                             "Max",
                                             "Mean",
                                             "Min",
                                             "Mish",
                                             "Mod",
                                             "Mul",
                                             "Neg",
                                             "Not",
                                             "Or",
                                             "PRelu",
                                             "Pow",
                                             "Reciprocal",
                                             "Relu",
                                             "Round",
                                             "Selu",
                                             "Sigmoid",
                                             "Sign",
                                             "Sin",
                                             "Sinh",
                                             "Softplus",
                                             "Softsign",
                                             "Sqrt",
                                             "Sub",
                                             "Sum",
                                             "Tan",
                                             "Tanh",
                                             "ThresholdedRelu",
                                             "Where",
                                             "Xor"};
  EXPECT_EQ(r.OpTypes(), expected);
}

}  // namespace
}  // namespace deepedge
