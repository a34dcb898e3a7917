// Elementwise kernels: arithmetic with numpy broadcasting, comparisons, logic, Where,
// unary math and activations (see engine/kernel.h for the contract and
// elementwise_loops.h for the loops).
//
// f16 and bf16 are computed in f32 (inputs and outputs stay 16-bit). Integer arithmetic
// wraps (two's complement); integer division or modulo by zero gives 0 rather than
// trapping, and INT_MIN / -1 wraps to INT_MIN. Beyond the ONNX spec: Mod with fmod=0 on
// floats gives the divisor-signed remainder (numpy.mod) instead of failing, and nodes of
// opset < 7 may use the legacy broadcast/axis attributes of the binary operators.
// Exp and Sigmoid use an inline exp (ew::ExpF, within 2 ulp) so that their loops vectorize.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/elementwise_loops.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {

namespace {

using ew::BoolT;
using ew::Dispatch;
using ew::F64T;
using ew::kBoolType;
using ew::kFloatTypes;
using ew::kNumeric;
using ew::kSignedInts;

template <typename T>
const typename T::S* In(const Tensor& t) {
  return static_cast<const typename T::S*>(t.data());
}
template <typename T>
typename T::S* Out(Tensor& t) {
  return static_cast<typename T::S*>(t.data());
}

std::string TypeName(DType t) {
  return std::string(DTypeName(t));
}

Status SameType(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return Status::Ok();
  return NodeError(ctx,
                   "input types differ: " + TypeName(a.dtype()) + " and " + TypeName(b.dtype()));
}

// ---------------------------------------------------------------------------------------
// Binary shapes, including the pre-opset-7 `broadcast`/`axis` attributes.

struct BinaryShapes {
  Shape a, b, out;
};

Expected<BinaryShapes> ResolveBinaryShapes(const KernelContext& ctx, const Tensor& a,
                                           const Tensor& b) {
  Shape sa = a.shape();
  Shape sb = b.shape();
  const ir::Node& node = ctx.node();
  if (node.opset > 0 && node.opset < 7 && node.GetInt("broadcast", 0) != 0 && node.Has("axis")) {
    // Legacy broadcasting: B's dimensions line up with A's starting at `axis`.
    auto axis = NormalizeAxis(node.GetInt("axis", 0), sa.rank());
    if (!axis.has_value()) return NodeError(ctx, axis.status().message());
    const auto start = static_cast<std::size_t>(*axis);
    if (start + sb.rank() > sa.rank()) {
      return NodeError(ctx, "input B " + sb.ToString() + " does not fit input A " + sa.ToString() +
                                " at axis " + std::to_string(start));
    }
    std::vector<std::int64_t> dims = sb.dims();
    dims.resize(sa.rank() - start, 1);
    sb = Shape(std::move(dims));
  }
  auto out = BroadcastShapes(sa, sb);
  if (!out.has_value()) return NodeError(ctx, out.status().message());
  return BinaryShapes{std::move(sa), std::move(sb), std::move(*out)};
}

// ---------------------------------------------------------------------------------------
// Binary operators. Each is a functor over the compute type (float for all float types).

struct AddOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return ew::WrapAdd(a, b);
    } else {
      return a + b;
    }
  }
};
struct SubOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return ew::WrapSub(a, b);
    } else {
      return a - b;
    }
  }
};
struct MulOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return ew::WrapMul(a, b);
    } else {
      return a * b;
    }
  }
};
struct DivOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return ew::WrapNeg(a);
      }
      return static_cast<C>(a / b);  // truncates toward zero
    } else {
      return a / b;
    }
  }
};
// Max and Min propagate NaN (like numpy.maximum / numpy.minimum).
struct MaxOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      return (a > b || a != a) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};
struct MinOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};
// Mod with fmod=1: the remainder has the dividend's sign (C fmod / truncation).
struct ModTruncOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return 0;
      }
      return static_cast<C>(a % b);
    } else {
      return std::fmod(a, b);
    }
  }
};
// Mod with fmod=0: the remainder has the divisor's sign (Python / numpy.mod).
struct ModFloorOp {
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == 0) return 0;
      if constexpr (std::is_signed_v<C>) {
        if (b == -1) return 0;
        C r = static_cast<C>(a % b);
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
        return r;
      } else {
        return static_cast<C>(a % b);
      }
    } else {
      C r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) r += b;
      return r;
    }
  }
};

// base^e for integers by squaring (wrapping); negative exponents truncate 1/base^|e|.
template <typename C>
C IntPow(C base, std::int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<C>) {
      if (base == -1) return (e % 2 == 0) ? C{1} : C{-1};
    }
    return 0;
  }
  using W = ew::Wide<C>;
  W result = 1;
  W b = static_cast<W>(base);
  auto n = static_cast<std::uint64_t>(e);
  while (n != 0) {
    if ((n & 1) != 0) result = static_cast<W>(result * b);
    b = static_cast<W>(b * b);
    n >>= 1;
  }
  return static_cast<C>(result);
}

// The result has the base's type; the exponent is C (same type) or double (widened).
struct PowOp {
  template <typename C, typename D>
  C operator()(C a, D b) const {
    if constexpr (std::is_floating_point_v<C>) {
      return std::pow(a, static_cast<C>(b));
    } else if constexpr (std::is_integral_v<D>) {
      return IntPow(a, static_cast<std::int64_t>(b));
    } else {
      if (b == std::trunc(b) && std::fabs(b) < 9.0e18) {
        return IntPow(a, static_cast<std::int64_t>(b));
      }
      return ew::SaturateCast<C>(std::pow(static_cast<double>(a), b));
    }
  }
};

// Arithmetic: output has the inputs' type.
template <typename Op, unsigned kAllowed>
Status ArithmeticWith(KernelContext& ctx, const Op& op) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *a, *b));
  DEEPEDGE_ASSIGN_OR_RETURN(BinaryShapes s, ResolveBinaryShapes(ctx, *a, *b));
  return Dispatch<kAllowed>(ctx, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a->dtype(), s.out));
    ew::RunBinary<T, T, T>(ctx, In<T>(*a), s.a, In<T>(*b), s.b, Out<T>(*y), s.out, op);
    return Status::Ok();
  });
}

template <typename Op, unsigned kAllowed>
Status Arithmetic(KernelContext& ctx) {
  return ArithmeticWith<Op, kAllowed>(ctx, Op{});
}

Status Mod(KernelContext& ctx) {
  if (ctx.node().GetInt("fmod", 0) != 0) return ArithmeticWith<ModTruncOp, kNumeric>(ctx, {});
  return ArithmeticWith<ModFloorOp, kNumeric>(ctx, {});
}

// Comparisons: output is bool.
struct EqualOp {
  template <typename C>
  bool operator()(C a, C b) const {
    return a == b;
  }
};
struct LessOp {
  template <typename C>
  bool operator()(C a, C b) const {
    return a < b;
  }
};
struct GreaterOp {
  template <typename C>
  bool operator()(C a, C b) const {
    return a > b;
  }
};
struct LessOrEqualOp {
  template <typename C>
  bool operator()(C a, C b) const {
    return a <= b;
  }
};
struct GreaterOrEqualOp {
  template <typename C>
  bool operator()(C a, C b) const {
    return a >= b;
  }
};
struct AndOp {
  bool operator()(bool a, bool b) const { return a && b; }
};
struct OrOp {
  bool operator()(bool a, bool b) const { return a || b; }
};
struct XorOp {
  bool operator()(bool a, bool b) const { return a != b; }
};

template <typename Op, unsigned kAllowed>
Status Compare(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *a, *b));
  DEEPEDGE_ASSIGN_OR_RETURN(BinaryShapes s, ResolveBinaryShapes(ctx, *a, *b));
  return Dispatch<kAllowed>(ctx, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kBool, s.out));
    ew::RunBinary<T, T, BoolT>(ctx, In<T>(*a), s.a, In<T>(*b), s.b, Out<BoolT>(*y), s.out, Op{});
    return Status::Ok();
  });
}

Status Pow(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(BinaryShapes s, ResolveBinaryShapes(ctx, *a, *b));
  return Dispatch<kNumeric>(ctx, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = typename T::C;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a->dtype(), s.out));
    if (b->dtype() == a->dtype()) {
      if constexpr (std::is_floating_point_v<C>) {
        // x^2 and x^1 with a scalar exponent are the common cases in real models.
        if (b->element_count() == 1 && s.out == a->shape()) {
          const C e = T::Ld(In<T>(*b)[0]);
          if (e == C{2}) {
            ew::RunUnary<T, T>(ctx, In<T>(*a), Out<T>(*y), s.out.element_count(),
                               [](C x) { return x * x; });
            return Status::Ok();
          }
          if (e == C{1}) {
            ew::RunUnary<T, T>(ctx, In<T>(*a), Out<T>(*y), s.out.element_count(),
                               [](C x) { return x; });
            return Status::Ok();
          }
        }
      }
      ew::RunBinary<T, T, T>(ctx, In<T>(*a), s.a, In<T>(*b), s.b, Out<T>(*y), s.out, PowOp{});
      return Status::Ok();
    }
    // An exponent of another type: widen it to double.
    std::vector<double> e(static_cast<std::size_t>(b->element_count()));
    DEEPEDGE_RETURN_IF_ERROR(Dispatch<kNumeric>(ctx, b->dtype(), [&](auto btag) -> Status {
      using TB = decltype(btag);
      const typename TB::S* pb = In<TB>(*b);
      for (std::size_t i = 0; i < e.size(); ++i) e[i] = static_cast<double>(TB::Ld(pb[i]));
      return Status::Ok();
    }));
    ew::RunBinary<T, F64T, T>(ctx, In<T>(*a), s.a, e.data(), s.b, Out<T>(*y), s.out, PowOp{});
    return Status::Ok();
  });
}

Status BitShift(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *a, *b));
  const std::string dir = ctx.node().GetString("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") {
    return NodeError(ctx, "direction must be LEFT or RIGHT, got '" + dir + "'");
  }
  const bool left = dir == "LEFT";
  DEEPEDGE_ASSIGN_OR_RETURN(BinaryShapes s, ResolveBinaryShapes(ctx, *a, *b));
  return Dispatch<ew::Bit(DType::kU8)>(ctx, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = typename T::C;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a->dtype(), s.out));
    constexpr C kBits = static_cast<C>(sizeof(C) * 8);
    const auto op = [left](C v, C n) -> C {
      if (n >= kBits) return 0;
      using W = ew::Wide<C>;
      return static_cast<C>(left ? static_cast<W>(v) << n : static_cast<W>(v) >> n);
    };
    ew::RunBinary<T, T, T>(ctx, In<T>(*a), s.a, In<T>(*b), s.b, Out<T>(*y), s.out, op);
    return Status::Ok();
  });
}

Status PRelu(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* slope, RequiredInput(ctx, 1));
  DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *x, *slope));
  auto out = BroadcastShapes(x->shape(), slope->shape());
  if (!out.has_value() || *out != x->shape()) {
    return NodeError(ctx, "slope " + slope->shape().ToString() + " does not broadcast to input " +
                              x->shape().ToString());
  }
  return Dispatch<kFloatTypes | kSignedInts>(ctx, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = typename T::C;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
    const auto op = [](C v, C k) -> C {
      if constexpr (std::is_integral_v<C>) {
        return v < 0 ? ew::WrapMul(v, k) : v;
      } else {
        return ew::SelectFloat(v < 0, v * k, v);
      }
    };
    ew::RunBinary<T, T, T>(ctx, In<T>(*x), x->shape(), In<T>(*slope), slope->shape(), Out<T>(*y),
                           x->shape(), op);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------
// Variadic: Sum, Mean, Max, Min.

template <typename Op, unsigned kAllowed, bool kMean>
Status Variadic(KernelContext& ctx) {
  std::vector<const Tensor*> xs;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, i));
    if (!xs.empty()) DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *xs[0], *x));
    xs.push_back(x);
  }
  if (xs.empty()) return NodeError(ctx, "needs at least one input");
  Shape out = xs[0]->shape();
  std::vector<Shape> shapes;
  for (const Tensor* x : xs) {
    auto b = BroadcastShapes(out, x->shape());
    if (!b.has_value()) return NodeError(ctx, b.status().message());
    out = std::move(*b);
    shapes.push_back(x->shape());
  }
  return Dispatch<kAllowed>(ctx, xs[0]->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = typename T::C;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, xs[0]->dtype(), out));
    if (xs.size() == 2 && !kMean) {
      ew::RunBinary<T, T, T>(ctx, In<T>(*xs[0]), shapes[0], In<T>(*xs[1]), shapes[1], Out<T>(*y),
                             out, Op{});
      return Status::Ok();
    }
    std::vector<const typename T::S*> ptrs;
    for (const Tensor* x : xs) ptrs.push_back(In<T>(*x));
    if constexpr (kMean) {
      const C count = static_cast<C>(xs.size());
      ew::RunVariadic<T>(ctx, ptrs, shapes, Out<T>(*y), out, Op{},
                         [count](C v) { return v / count; });
    } else {
      ew::RunVariadic<T>(ctx, ptrs, shapes, Out<T>(*y), out, Op{}, [](C v) { return v; });
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------
// Where.

Status Where(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* cond, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* z, RequiredInput(ctx, 2));
  if (cond->dtype() != DType::kBool) return ew::UnsupportedType(ctx, cond->dtype(), "condition");
  DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *x, *z));
  auto xz = BroadcastShapes(x->shape(), z->shape());
  if (!xz.has_value()) return NodeError(ctx, xz.status().message());
  auto out = BroadcastShapes(cond->shape(), *xz);
  if (!out.has_value()) return NodeError(ctx, out.status().message());
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), *out));
  const auto* c = static_cast<const std::uint8_t*>(cond->data());
  const auto run = [&](auto zero) {
    using S = decltype(zero);
    ew::RunWhere<S>(ctx, c, cond->shape(), static_cast<const S*>(x->data()), x->shape(),
                    static_cast<const S*>(z->data()), z->shape(), static_cast<S*>(y->data()), *out);
    return Status::Ok();
  };
  switch (DTypeSize(x->dtype())) {
    case 1:
      return run(std::uint8_t{});
    case 2:
      return run(std::uint16_t{});
    case 4:
      return run(std::uint32_t{});
    case 8:
      return run(std::uint64_t{});
    default:
      return ew::UnsupportedType(ctx, x->dtype());
  }
}

// ---------------------------------------------------------------------------------------
// Unary: output has the input's type (or bool for the predicates).

template <unsigned kAllowed, typename F>
Status Unary(KernelContext& ctx, const F& f) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  return Dispatch<kAllowed>(ctx, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
    ew::RunUnary<T, T>(ctx, In<T>(*x), Out<T>(*y), x->element_count(), f);
    return Status::Ok();
  });
}

template <typename F>
Status Predicate(KernelContext& ctx, const F& f) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  return Dispatch<kFloatTypes>(ctx, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kBool, x->shape()));
    ew::RunUnary<T, BoolT>(ctx, In<T>(*x), Out<BoolT>(*y), x->element_count(), f);
    return Status::Ok();
  });
}

// min(1, max(0, v)) as selects (NaN stays NaN), so that loops using it vectorize.
float ClampUnit(float v) {
  return ew::SelectFloat(v > 1.0f, 1.0f, ew::SelectFloat(v < 0.0f, 0.0f, v));
}

// Defines `Status Name(KernelContext&)` computing f(x) (a float expression in `x`) for the
// float types.
#define DEEPEDGE_FLOAT_UNARY(Name, expr)                                   \
  Status Name(KernelContext& ctx) {                                        \
    return Unary<kFloatTypes>(ctx, [](float x) -> float { return expr; }); \
  }

DEEPEDGE_FLOAT_UNARY(Exp, ew::ExpF(x))
DEEPEDGE_FLOAT_UNARY(Log, std::log(x))
DEEPEDGE_FLOAT_UNARY(Sqrt, std::sqrt(x))
DEEPEDGE_FLOAT_UNARY(Reciprocal, 1.0f / x)
DEEPEDGE_FLOAT_UNARY(Floor, std::floor(x))
DEEPEDGE_FLOAT_UNARY(Ceil, std::ceil(x))
DEEPEDGE_FLOAT_UNARY(Sin, std::sin(x))
DEEPEDGE_FLOAT_UNARY(Cos, std::cos(x))
DEEPEDGE_FLOAT_UNARY(Tan, std::tan(x))
DEEPEDGE_FLOAT_UNARY(Asin, std::asin(x))
DEEPEDGE_FLOAT_UNARY(Acos, std::acos(x))
DEEPEDGE_FLOAT_UNARY(Atan, std::atan(x))
DEEPEDGE_FLOAT_UNARY(Sinh, std::sinh(x))
DEEPEDGE_FLOAT_UNARY(Cosh, std::cosh(x))
DEEPEDGE_FLOAT_UNARY(Asinh, std::asinh(x))
DEEPEDGE_FLOAT_UNARY(Acosh, std::acosh(x))
DEEPEDGE_FLOAT_UNARY(Atanh, std::atanh(x))
DEEPEDGE_FLOAT_UNARY(Erf, std::erf(x))
DEEPEDGE_FLOAT_UNARY(Tanh, std::tanh(x))
DEEPEDGE_FLOAT_UNARY(Softsign, x / (1.0f + std::fabs(x)))
DEEPEDGE_FLOAT_UNARY(HardSwish, x* ClampUnit(x / 6.0f + 0.5f))

#undef DEEPEDGE_FLOAT_UNARY

// Round half to even, independent of the floating-point rounding mode.
float RoundHalfEven(float x) {
  float r = std::floor(x);
  const float d = x - r;
  if (d > 0.5f || (d == 0.5f && std::fmod(r, 2.0f) != 0.0f)) r += 1.0f;
  return r;
}

Status Round(KernelContext& ctx) {
  return Unary<kFloatTypes>(ctx, [](float x) { return RoundHalfEven(x); });
}

// exp(-x) overflowing to inf for very negative x gives the correct limit 0.
float SigmoidF(float x) {
  return 1.0f / (1.0f + ew::ExpF(-x));
}
float SoftplusF(float x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

Status Sigmoid(KernelContext& ctx) {
  return Unary<kFloatTypes>(ctx, [](float x) { return SigmoidF(x); });
}
Status Softplus(KernelContext& ctx) {
  return Unary<kFloatTypes>(ctx, [](float x) { return SoftplusF(x); });
}
Status Mish(KernelContext& ctx) {
  return Unary<kFloatTypes>(ctx, [](float x) { return x * std::tanh(SoftplusF(x)); });
}

Status Abs(KernelContext& ctx) {
  return Unary<kNumeric>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      return std::fabs(x);
    } else if constexpr (std::is_unsigned_v<C>) {
      return x;
    } else {
      return x < 0 ? ew::WrapNeg(x) : x;
    }
  });
}

Status Neg(KernelContext& ctx) {
  return Unary<kFloatTypes | kSignedInts>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      return -x;
    } else {
      return ew::WrapNeg(x);
    }
  });
}

Status Sign(KernelContext& ctx) {
  return Unary<kNumeric>(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>) {
      return static_cast<C>(x > 0 ? 1 : 0);
    } else if constexpr (std::is_integral_v<C>) {
      return static_cast<C>(x > 0 ? 1 : (x < 0 ? -1 : 0));
    } else {
      return x > 0 ? C{1} : (x < 0 ? C{-1} : x);  // keeps 0, -0 and NaN
    }
  });
}

Status Relu(KernelContext& ctx) {
  return Unary<kFloatTypes | kSignedInts>(ctx, [](auto x) {
    using C = decltype(x);
    return x < 0 ? C{0} : x;  // NaN stays NaN
  });
}

Status IsNaN(KernelContext& ctx) {
  return Predicate(ctx, [](float x) { return std::isnan(x); });
}

Status IsInf(KernelContext& ctx) {
  const bool neg = ctx.node().GetInt("detect_negative", 1) != 0;
  const bool pos = ctx.node().GetInt("detect_positive", 1) != 0;
  return Predicate(ctx, [neg, pos](float x) { return std::isinf(x) && (x > 0 ? pos : neg); });
}

Status Not(KernelContext& ctx) {
  return Unary<kBoolType>(ctx, [](bool x) { return !x; });
}

// ---------------------------------------------------------------------------------------
// Activations with attributes.

Status LeakyRelu(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 0.01f);
  return Unary<kFloatTypes>(ctx, [alpha](float x) { return ew::SelectFloat(x < 0, alpha * x, x); });
}

Status Elu(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 1.0f);
  return Unary<kFloatTypes>(ctx, [alpha](float x) { return x < 0 ? alpha * std::expm1(x) : x; });
}

Status Selu(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node().GetFloat("gamma", 1.05070102214813232421875f);
  return Unary<kFloatTypes>(
      ctx, [alpha, gamma](float x) { return x > 0 ? gamma * x : gamma * alpha * std::expm1(x); });
}

Status Celu(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 1.0f);
  if (alpha == 0.0f) return NodeError(ctx, "alpha must not be 0");
  return Unary<kFloatTypes>(ctx,
                            [alpha](float x) { return x > 0 ? x : alpha * std::expm1(x / alpha); });
}

Status HardSigmoid(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 0.2f);
  const float beta = ctx.node().GetFloat("beta", 0.5f);
  return Unary<kFloatTypes>(ctx, [alpha, beta](float x) { return ClampUnit(alpha * x + beta); });
}

Status ThresholdedRelu(KernelContext& ctx) {
  const float alpha = ctx.node().GetFloat("alpha", 1.0f);
  return Unary<kFloatTypes>(ctx, [alpha](float x) { return x > alpha ? x : 0.0f; });
}

// y = min(max(x, lo), hi): with lo > hi every element becomes hi (as numpy.clip).
template <typename C>
C ClipValue(C x, C lo, C hi) {
  const C t = x < lo ? lo : x;
  return t > hi ? hi : t;
}

// Opset 1..10: min and max are float attributes.
Status ClipAttributes(KernelContext& ctx) {
  const float lo = ctx.node().GetFloat("min", -std::numeric_limits<float>::infinity());
  const float hi = ctx.node().GetFloat("max", std::numeric_limits<float>::infinity());
  return Unary<kFloatTypes>(ctx, [lo, hi](float x) { return ClipValue(x, lo, hi); });
}

// Opset 11+: min and max are optional scalar inputs of the input's type.
Status ClipInputs(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Tensor* min_t = ctx.input(1);
  const Tensor* max_t = ctx.input(2);
  for (const Tensor* t : {min_t, max_t}) {
    if (t == nullptr) continue;
    DEEPEDGE_RETURN_IF_ERROR(SameType(ctx, *x, *t));
    if (t->element_count() != 1) {
      return NodeError(ctx, "min and max must be scalars, got shape " + t->shape().ToString());
    }
  }
  return Dispatch<kNumeric>(ctx, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = typename T::C;
    C lo = std::numeric_limits<C>::lowest();
    C hi = std::numeric_limits<C>::max();
    if constexpr (std::is_floating_point_v<C>) {
      lo = -std::numeric_limits<C>::infinity();
      hi = std::numeric_limits<C>::infinity();
    }
    if (min_t != nullptr) lo = T::Ld(In<T>(*min_t)[0]);
    if (max_t != nullptr) hi = T::Ld(In<T>(*max_t)[0]);
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
    ew::RunUnary<T, T>(ctx, In<T>(*x), Out<T>(*y), x->element_count(),
                       [lo, hi](C v) { return ClipValue(v, lo, hi); });
    return Status::Ok();
  });
}

}  // namespace

void RegisterElementwiseKernels(KernelRegistry& r) {
  // Binary arithmetic (opset < 7 nodes may use the legacy broadcast/axis attributes).
  r.Add("", "Add", Arithmetic<AddOp, kNumeric>, 1);
  r.Add("", "Sub", Arithmetic<SubOp, kNumeric>, 1);
  r.Add("", "Mul", Arithmetic<MulOp, kNumeric>, 1);
  r.Add("", "Div", Arithmetic<DivOp, kNumeric>, 1);
  r.Add("", "Pow", Pow, 1);
  r.Add("", "Mod", Mod, 10);
  r.Add("", "BitShift", BitShift, 11);
  r.Add("", "PRelu", PRelu, 1);
  // Variadic with broadcasting.
  r.Add("", "Sum", Variadic<AddOp, kNumeric, false>, 1);
  r.Add("", "Mean", Variadic<AddOp, kFloatTypes, true>, 1);
  r.Add("", "Max", Variadic<MaxOp, kNumeric, false>, 1);
  r.Add("", "Min", Variadic<MinOp, kNumeric, false>, 1);
  // Comparisons and logic.
  r.Add("", "Equal", Compare<EqualOp, kNumeric | kBoolType>, 1);
  r.Add("", "Less", Compare<LessOp, kNumeric>, 1);
  r.Add("", "Greater", Compare<GreaterOp, kNumeric>, 1);
  r.Add("", "LessOrEqual", Compare<LessOrEqualOp, kNumeric>, 12);
  r.Add("", "GreaterOrEqual", Compare<GreaterOrEqualOp, kNumeric>, 12);
  r.Add("", "And", Compare<AndOp, kBoolType>, 1);
  r.Add("", "Or", Compare<OrOp, kBoolType>, 1);
  r.Add("", "Xor", Compare<XorOp, kBoolType>, 1);
  r.Add("", "Not", Not, 1);
  r.Add("", "Where", Where, 9);
  // Unary math.
  r.Add("", "Abs", Abs, 1);
  r.Add("", "Neg", Neg, 1);
  r.Add("", "Exp", Exp, 1);
  r.Add("", "Log", Log, 1);
  r.Add("", "Sqrt", Sqrt, 1);
  r.Add("", "Reciprocal", Reciprocal, 1);
  r.Add("", "Floor", Floor, 1);
  r.Add("", "Ceil", Ceil, 1);
  r.Add("", "Round", Round, 11);
  r.Add("", "Sign", Sign, 9);
  r.Add("", "Sin", Sin, 7);
  r.Add("", "Cos", Cos, 7);
  r.Add("", "Tan", Tan, 7);
  r.Add("", "Asin", Asin, 7);
  r.Add("", "Acos", Acos, 7);
  r.Add("", "Atan", Atan, 7);
  r.Add("", "Sinh", Sinh, 9);
  r.Add("", "Cosh", Cosh, 9);
  r.Add("", "Asinh", Asinh, 9);
  r.Add("", "Acosh", Acosh, 9);
  r.Add("", "Atanh", Atanh, 9);
  r.Add("", "Erf", Erf, 9);
  r.Add("", "IsNaN", IsNaN, 9);
  r.Add("", "IsInf", IsInf, 10);
  // Activations.
  r.Add("", "Relu", Relu, 1);
  r.Add("", "LeakyRelu", LeakyRelu, 1);
  r.Add("", "Elu", Elu, 1);
  r.Add("", "Selu", Selu, 1);
  r.Add("", "Celu", Celu, 12);
  r.Add("", "Sigmoid", Sigmoid, 1);
  r.Add("", "HardSigmoid", HardSigmoid, 1);
  r.Add("", "HardSwish", HardSwish, 14);
  r.Add("", "Tanh", Tanh, 1);
  r.Add("", "Softplus", Softplus, 1);
  r.Add("", "Softsign", Softsign, 1);
  r.Add("", "ThresholdedRelu", ThresholdedRelu, 10);
  r.Add("", "Clip", ClipAttributes, 1);
  r.Add("", "Clip", ClipInputs, 11);
  r.Add("", "Mish", Mish, 18);
}

}  // namespace deepedge::engine
