// Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax/ArgMin.
//
// A reduction is planned once per run: the input dimensions are collapsed into
// alternating runs of kept and reduced dimensions; a trailing kept run becomes a
// contiguous "inner" vector that every reduced element contributes to, and a
// trailing reduced run is walked directly, so the hot loop has stride 1. Floating inputs accumulate
// in double, integer inputs in (wrapping) int64 where the result is an integer and in double where
// it is not (L2, LogSum, LogSumExp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {
namespace {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Integer arithmetic that wraps instead of overflowing (no undefined behaviour).
inline std::int64_t WrapAdd(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
inline std::int64_t WrapMul(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
}
inline std::int64_t WrapAbs(std::int64_t a) {
  return a < 0 ? static_cast<std::int64_t>(0 - static_cast<std::uint64_t>(a)) : a;
}

// double -> integer T with saturation (NaN -> 0).
template <typename T>
T SaturateCast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T{0};
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (v <= lo) return std::numeric_limits<T>::lowest();
    if (v >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

struct ReducePlan {
  Shape out_shape;                 // with or without the reduced dims (keepdims)
  std::int64_t inner = 1;          // length of the trailing kept, contiguous block
  std::int64_t run = 1;            // length of a trailing reduced, contiguous block
  std::int64_t reduce_count = 1;   // elements per output element
  std::vector<std::int64_t> base;  // per output block: offset of its first input element
  std::vector<std::int64_t> roff;  // offsets of the reduced elements relative to base
};

// Every offset sum(idx[d] * stride[d]) over a row-major walk of `sizes`.
std::vector<std::int64_t> EnumerateOffsets(const std::vector<std::int64_t>& sizes,
                                           const std::vector<std::int64_t>& strides) {
  std::int64_t n = 1;
  for (std::int64_t s : sizes) n *= s;
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx(sizes.size(), 0);
  std::int64_t off = 0;
  for (std::int64_t e = 0; e < n; ++e) {
    out[static_cast<std::size_t>(e)] = off;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      if (++idx[d] < sizes[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (sizes[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

// `reduced[d]`: whether dimension d is reduced. The input must not be empty.
ReducePlan MakePlan(const Shape& in, const std::vector<bool>& reduced, bool keepdims) {
  ReducePlan plan;
  std::vector<std::int64_t> out_dims;
  for (std::size_t d = 0; d < in.rank(); ++d) {
    if (!reduced[d]) {
      out_dims.push_back(in[d]);
    } else {
      plan.reduce_count *= in[d];
      if (keepdims) out_dims.push_back(1);
    }
  }
  plan.out_shape = Shape(std::move(out_dims));

  // Collapse: drop size-1 dims, merge neighbours of the same kind.
  struct Group {
    std::int64_t size;
    bool reduced;
  };
  std::vector<Group> groups;
  for (std::size_t d = 0; d < in.rank(); ++d) {
    if (in[d] == 1) continue;
    if (!groups.empty() && groups.back().reduced == reduced[d]) {
      groups.back().size *= in[d];
    } else {
      groups.push_back({in[d], reduced[d]});
    }
  }
  std::vector<std::int64_t> stride(groups.size(), 1);
  for (std::size_t g = groups.size(); g-- > 1;) stride[g - 1] = stride[g] * groups[g].size;
  if (!groups.empty() && !groups.back().reduced) {
    plan.inner = groups.back().size;
    groups.pop_back();
    stride.pop_back();
  } else if (!groups.empty()) {
    plan.run = groups.back().size;
    groups.pop_back();
    stride.pop_back();
  }
  std::vector<std::int64_t> kept_sizes, kept_strides, red_sizes, red_strides;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    (groups[g].reduced ? red_sizes : kept_sizes).push_back(groups[g].size);
    (groups[g].reduced ? red_strides : kept_strides).push_back(stride[g]);
  }
  plan.base = EnumerateOffsets(kept_sizes, kept_strides);
  plan.roff = EnumerateOffsets(red_sizes, red_strides);
  return plan;
}

template <typename T, ReduceOp op>
using AccOf = std::conditional_t<std::is_floating_point_v<T> || op == ReduceOp::kL2 ||
                                     op == ReduceOp::kLogSum || op == ReduceOp::kLogSumExp,
                                 double, std::int64_t>;

template <typename Acc, ReduceOp op>
Acc InitAcc() {
  if constexpr (op == ReduceOp::kProd) return Acc{1};
  if constexpr (op == ReduceOp::kMax) {
    if constexpr (std::is_floating_point_v<Acc>) return -std::numeric_limits<Acc>::infinity();
    return std::numeric_limits<Acc>::lowest();
  }
  if constexpr (op == ReduceOp::kMin) {
    if constexpr (std::is_floating_point_v<Acc>) return std::numeric_limits<Acc>::infinity();
    return std::numeric_limits<Acc>::max();
  }
  if constexpr (op == ReduceOp::kLogSumExp) return -std::numeric_limits<double>::infinity();
  return Acc{0};
}

template <typename Acc, ReduceOp op>
inline Acc Update(Acc acc, Acc x) {
  if constexpr (op == ReduceOp::kMax) {
    if constexpr (std::is_floating_point_v<Acc>) {
      return (x > acc || std::isnan(x)) && !std::isnan(acc) ? x : acc;
    } else {
      return x > acc ? x : acc;
    }
  } else if constexpr (op == ReduceOp::kMin) {
    if constexpr (std::is_floating_point_v<Acc>) {
      return (x < acc || std::isnan(x)) && !std::isnan(acc) ? x : acc;
    } else {
      return x < acc ? x : acc;
    }
  } else if constexpr (std::is_floating_point_v<Acc>) {
    if constexpr (op == ReduceOp::kProd) return acc * x;
    if constexpr (op == ReduceOp::kL1) return acc + std::fabs(x);
    if constexpr (op == ReduceOp::kL2 || op == ReduceOp::kSumSquare) return acc + x * x;
    return acc + x;  // Sum, Mean, LogSum
  } else {
    if constexpr (op == ReduceOp::kProd) return WrapMul(acc, x);
    if constexpr (op == ReduceOp::kL1) return WrapAdd(acc, WrapAbs(x));
    if constexpr (op == ReduceOp::kSumSquare) return WrapAdd(acc, WrapMul(x, x));
    return WrapAdd(acc, x);  // Sum, Mean
  }
}

// Merges two partial accumulators of the same reduction.
template <typename Acc, ReduceOp op>
inline Acc Combine(Acc a, Acc b) {
  if constexpr (op == ReduceOp::kMax || op == ReduceOp::kMin) {
    return Update<Acc, op>(a, b);
  } else if constexpr (op == ReduceOp::kProd) {
    return Update<Acc, op>(a, b);
  } else if constexpr (std::is_floating_point_v<Acc>) {
    return a + b;  // every other accumulator is a sum
  } else {
    return WrapAdd(a, b);
  }
}

template <typename T, typename Acc, ReduceOp op>
inline T Finalize(Acc acc, std::int64_t count) {
  if constexpr (op == ReduceOp::kMean) {
    if constexpr (std::is_floating_point_v<Acc>) {
      return static_cast<T>(acc / static_cast<double>(count));
    } else {
      return count == 0 ? T{0} : static_cast<T>(acc / count);
    }
  } else if constexpr (op == ReduceOp::kL2) {
    return SaturateCast<T>(std::sqrt(acc));
  } else if constexpr (op == ReduceOp::kLogSum) {
    return SaturateCast<T>(std::log(acc));
  } else if constexpr (std::is_floating_point_v<Acc>) {
    return SaturateCast<T>(acc);
  } else {
    return static_cast<T>(acc);  // modular, like the wrapping arithmetic
  }
}

// out[o] for every output element; `in` holds the whole input.
template <typename T, ReduceOp op>
void RunReduce(KernelContext& ctx, const ReducePlan& plan, const T* in, T* out) {
  using Acc = AccOf<T, op>;
  const std::int64_t inner = plan.inner;
  const std::int64_t count = plan.reduce_count;
  const std::int64_t run = plan.run;
  // Calls f(j, x) for every reduced element x of output j of the block at `block`;
  // one of `run` and `inner` is 1, so the innermost walk is always contiguous.
  auto visit = [&](const T* block, auto&& f) {
    for (std::int64_t r : plan.roff) {
      const T* p = block + r;
      for (std::int64_t q = 0; q < run; ++q) {
        const T* v = p + q * inner;
        for (std::int64_t j = 0; j < inner; ++j) f(j, v[j]);
      }
    }
  };
  ctx.ParallelFor(plan.base.size(), [&](std::size_t begin, std::size_t end) {
    std::vector<Acc> acc(static_cast<std::size_t>(inner));
    std::vector<double> mx;
    if constexpr (op == ReduceOp::kLogSumExp) mx.resize(static_cast<std::size_t>(inner));
    for (std::size_t o = begin; o < end; ++o) {
      const T* block = in + plan.base[o];
      T* dst = out + static_cast<std::int64_t>(o) * inner;
      if constexpr (op == ReduceOp::kLogSumExp) {
        // Stable: max first, then log(sum(exp(x - max))) + max.
        std::fill(mx.begin(), mx.end(), -std::numeric_limits<double>::infinity());
        visit(block, [&](std::int64_t j, T x) { mx[j] = std::max(mx[j], static_cast<double>(x)); });
        std::fill(acc.begin(), acc.end(), 0.0);
        visit(block, [&](std::int64_t j, T x) {
          if (std::isfinite(mx[j])) acc[j] += std::exp(static_cast<double>(x) - mx[j]);
        });
        for (std::int64_t j = 0; j < inner; ++j) {
          const double v = std::isfinite(mx[j]) ? mx[j] + std::log(acc[j]) : mx[j];
          dst[j] = SaturateCast<T>(v);
        }
      } else if (inner == 1) {
        // One output per block: four independent accumulators over the contiguous run.
        Acc lane[4] = {InitAcc<Acc, op>(), InitAcc<Acc, op>(), InitAcc<Acc, op>(),
                       InitAcc<Acc, op>()};
        for (std::int64_t r : plan.roff) {
          const T* p = block + r;
          std::int64_t q = 0;
          for (; q + 4 <= run; q += 4) {
            for (int l = 0; l < 4; ++l)
              lane[l] = Update<Acc, op>(lane[l], static_cast<Acc>(p[q + l]));
          }
          for (; q < run; ++q) lane[0] = Update<Acc, op>(lane[0], static_cast<Acc>(p[q]));
        }
        const Acc a = Combine<Acc, op>(Combine<Acc, op>(lane[0], lane[1]),
                                       Combine<Acc, op>(lane[2], lane[3]));
        dst[0] = Finalize<T, Acc, op>(a, count);
      } else {
        std::fill(acc.begin(), acc.end(), InitAcc<Acc, op>());
        visit(block,
              [&](std::int64_t j, T x) { acc[j] = Update<Acc, op>(acc[j], static_cast<Acc>(x)); });
        for (std::int64_t j = 0; j < inner; ++j) dst[j] = Finalize<T, Acc, op>(acc[j], count);
      }
    }
  });
}

// The value of a reduction over no elements (ONNX 18 semantics).
template <typename T, ReduceOp op>
T EmptyValue() {
  using Acc = AccOf<T, op>;
  if constexpr (op == ReduceOp::kLogSumExp || op == ReduceOp::kLogSum) {
    return SaturateCast<T>(-std::numeric_limits<double>::infinity());
  } else if constexpr (op == ReduceOp::kMean) {
    return SaturateCast<T>(std::numeric_limits<double>::quiet_NaN());
  } else if constexpr (op == ReduceOp::kMax || op == ReduceOp::kMin) {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(InitAcc<Acc, op>());
    return op == ReduceOp::kMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
  } else {
    return static_cast<T>(InitAcc<Acc, op>());  // 0, or 1 for Prod
  }
}

template <typename T, ReduceOp op>
void ReduceTyped(KernelContext& ctx, const Shape& in_shape, const std::vector<bool>& reduced,
                 bool keepdims, const T* in, T* out, std::int64_t out_count) {
  if (out_count == 0) return;
  if (in_shape.element_count() == 0) {  // reducing over an empty dimension
    std::fill(out, out + out_count, EmptyValue<T, op>());
    return;
  }
  const ReducePlan plan = MakePlan(in_shape, reduced, keepdims);
  RunReduce<T, op>(ctx, plan, in, out);
}

bool OpAcceptsType(ReduceOp op, DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32:
    case DType::kI64:
      return true;
    case DType::kI8:
    case DType::kU8:
      return op == ReduceOp::kMax || op == ReduceOp::kMin;
    default:
      return false;
  }
}

// Which dimensions the node reduces. Axes come from input 1 when `axes_input`
// (ReduceSum 13+, the others 18+), else from the "axes" attribute; each form falls
// back to the other when absent, for exporters that mix them up.
Expected<std::vector<bool>> ResolveAxes(const KernelContext& ctx, std::size_t rank,
                                        bool axes_input) {
  const ir::Node& node = ctx.node();
  std::vector<std::int64_t> axes;
  const Tensor* axes_t = ctx.input(1);
  if (axes_t != nullptr && (axes_input || !node.Has("axes"))) {
    auto v = ReadInts(*axes_t);
    if (!v) return NodeError(ctx, "axes: " + v.status().message());
    axes = std::move(*v);
  } else if (node.Has("axes")) {
    axes = node.GetInts("axes");
  }
  const bool noop = axes_input && node.GetInt("noop_with_empty_axes", 0) != 0;
  if (axes.empty()) return std::vector<bool>(rank, !noop);
  std::vector<bool> reduced(rank, false);
  for (std::int64_t a : axes) {
    auto n = NormalizeAxis(a, rank);
    if (!n) return NodeError(ctx, "axes: " + n.status().message());
    if (reduced[static_cast<std::size_t>(*n)]) {
      return NodeError(ctx, "axis " + std::to_string(a) + " appears twice in axes");
    }
    reduced[static_cast<std::size_t>(*n)] = true;
  }
  return reduced;
}

template <ReduceOp op, bool kAxesInput>
Status ReduceKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const DType dt = x->dtype();
  if (!OpAcceptsType(op, dt)) {
    return NodeUnsupported(ctx, "input type " + std::string(DTypeName(dt)) + " is not supported");
  }
  const Shape& in_shape = x->shape();
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<bool> reduced,
                            ResolveAxes(ctx, in_shape.rank(), kAxesInput));
  const bool keepdims = ctx.node().GetInt("keepdims", 1) != 0;
  std::vector<std::int64_t> out_dims;
  for (std::size_t d = 0; d < in_shape.rank(); ++d) {
    if (!reduced[d]) {
      out_dims.push_back(in_shape[d]);
    } else if (keepdims) {
      out_dims.push_back(1);
    }
  }
  const Shape out_shape(std::move(out_dims));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, dt, out_shape));
  const std::int64_t out_count = out_shape.element_count();

  if (dt == DType::kF16 || dt == DType::kBF16) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> xf, ReadFloats(*x));
    std::vector<float> yf(static_cast<std::size_t>(out_count));
    ReduceTyped<float, op>(ctx, in_shape, reduced, keepdims, xf.data(), yf.data(), out_count);
    auto dst = y->as<std::uint16_t>();
    for (std::size_t i = 0; i < yf.size(); ++i) {
      dst[i] = dt == DType::kF16 ? F32ToF16(yf[i]) : F32ToBF16(yf[i]);
    }
    return Status::Ok();
  }
  return DispatchByType(dt, [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, std::uint16_t> || std::is_same_v<T, std::int16_t>) {
      return NodeUnsupported(ctx, "input type is not supported");
    } else {
      ReduceTyped<T, op>(ctx, in_shape, reduced, keepdims, x->as<T>().data(), y->as<T>().data(),
                         out_count);
      return Status::Ok();
    }
  });
}

// ArgMax / ArgMin.
template <typename T, bool kMax>
void ArgReduce(KernelContext& ctx, const T* in, std::int64_t* out, std::int64_t outer,
               std::int64_t len, std::int64_t inner, bool last) {
  ctx.ParallelFor(static_cast<std::size_t>(outer), [&](std::size_t begin, std::size_t end) {
    for (std::size_t o = begin; o < end; ++o) {
      const T* base = in + static_cast<std::int64_t>(o) * len * inner;
      std::int64_t* dst = out + static_cast<std::int64_t>(o) * inner;
      for (std::int64_t j = 0; j < inner; ++j) {
        T best = base[j];
        std::int64_t best_i = 0;
        for (std::int64_t k = 1; k < len; ++k) {
          const T v = base[k * inner + j];
          const bool better = kMax ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
          if (better) {
            best = v;
            best_i = k;
          }
        }
        dst[j] = best_i;
      }
    }
  });
}

template <bool kMax>
Status ArgKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& s = x->shape();
  const ir::Node& node = ctx.node();
  if (s.rank() == 0) return NodeError(ctx, "input must have rank >= 1");
  auto axis_or = NormalizeAxis(node.GetInt("axis", 0), s.rank());
  if (!axis_or) return NodeError(ctx, axis_or.status().message());
  const bool keepdims = node.GetInt("keepdims", 1) != 0;
  const bool last = node.GetInt("select_last_index", 0) != 0;
  const auto axis = static_cast<std::size_t>(*axis_or);
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= s[d];
  for (std::size_t d = axis + 1; d < s.rank(); ++d) inner *= s[d];
  const std::int64_t len = s[axis];
  std::vector<std::int64_t> dims;
  for (std::size_t d = 0; d < s.rank(); ++d) {
    if (d != axis) {
      dims.push_back(s[d]);
    } else if (keepdims) {
      dims.push_back(1);
    }
  }
  if (len == 0 && outer * inner != 0) {
    return NodeError(ctx, "cannot take the arg-extremum over an empty axis");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI64, Shape(std::move(dims))));
  std::int64_t* out = y->as<std::int64_t>().data();
  if (outer * inner == 0) return Status::Ok();
  const DType dt = x->dtype();
  if (dt == DType::kF16 || dt == DType::kBF16) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> xf, ReadFloats(*x));
    ArgReduce<float, kMax>(ctx, xf.data(), out, outer, len, inner, last);
    return Status::Ok();
  }
  if (dt == DType::kBool) return NodeUnsupported(ctx, "bool input is not supported");
  return DispatchByType(dt, [&](auto tag) -> Status {
    using T = decltype(tag);
    ArgReduce<T, kMax>(ctx, x->as<T>().data(), out, outer, len, inner, last);
    return Status::Ok();
  });
}

template <ReduceOp op>
void AddReduce(KernelRegistry& r, const char* name, int input_axes_since) {
  r.Add("", name, ReduceKernel<op, false>, 1);
  r.Add("", name, ReduceKernel<op, true>, input_axes_since);
}

}  // namespace

void RegisterReduceKernels(KernelRegistry& r) {
  AddReduce<ReduceOp::kSum>(r, "ReduceSum", 13);
  AddReduce<ReduceOp::kMean>(r, "ReduceMean", 18);
  AddReduce<ReduceOp::kMax>(r, "ReduceMax", 18);
  AddReduce<ReduceOp::kMin>(r, "ReduceMin", 18);
  AddReduce<ReduceOp::kProd>(r, "ReduceProd", 18);
  AddReduce<ReduceOp::kL1>(r, "ReduceL1", 18);
  AddReduce<ReduceOp::kL2>(r, "ReduceL2", 18);
  AddReduce<ReduceOp::kLogSum>(r, "ReduceLogSum", 18);
  AddReduce<ReduceOp::kLogSumExp>(r, "ReduceLogSumExp", 18);
  AddReduce<ReduceOp::kSumSquare>(r, "ReduceSumSquare", 18);
  r.Add("", "ArgMax", ArgKernel<true>, 1);
  r.Add("", "ArgMin", ArgKernel<false>, 1);
}

}  // namespace deepedge::engine
