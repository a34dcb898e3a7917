// Quantization kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
// QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.
//
// Quantized operands are widened to int32 with their zero points already
// subtracted, products accumulate in int32 (as ONNX specifies), and requantization
// multiplies the accumulator by the float multiplier scale_a * scale_b / scale_y in
// double precision, rounds half to even and saturates to the output type.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {
namespace {

bool IsQuantType(DType t) {
  return t == DType::kU8 || t == DType::kI8;
}

// QuantizeLinear / DequantizeLinear also take int16 (ONNX opset 21; TFLite's 16x8
// quantization keeps activations in int16).
bool IsQdqType(DType t) {
  return IsQuantType(t) || t == DType::kI16;
}

// int32 addition that wraps (as int32 accumulators do in practice) instead of
// overflowing; the products of widened 8-bit operands always fit.
inline std::int32_t WrapAdd(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

std::string TypeName(DType t) {
  return std::string(DTypeName(t));
}

// The range of a quantized type.
std::int32_t QMin(DType t) {
  return t == DType::kI8 ? -128 : t == DType::kI16 ? -32768 : 0;
}
std::int32_t QMax(DType t) {
  return t == DType::kI8 ? 127 : t == DType::kI16 ? 32767 : 255;
}

// round-half-to-even(v) + zp, saturated to [qmin, qmax]; NaN maps to the zero point.
inline std::int32_t QuantizeRounded(double v, std::int32_t zp, std::int32_t qmin,
                                    std::int32_t qmax) {
  if (std::isnan(v)) return std::clamp(zp, qmin, qmax);
  double r = std::nearbyint(v) + static_cast<double>(zp);
  r = std::clamp(r, static_cast<double>(qmin), static_cast<double>(qmax));
  return static_cast<std::int32_t>(r);
}

// Writes saturated int32 values as u8, i8 or i16.
inline void StoreQuant(Tensor* t, std::int64_t i, std::int32_t v) {
  const auto k = static_cast<std::size_t>(i);
  switch (t->dtype()) {
    case DType::kU8:
      t->as<std::uint8_t>()[k] = static_cast<std::uint8_t>(v);
      break;
    case DType::kI16:
      t->as<std::int16_t>()[k] = static_cast<std::int16_t>(v);
      break;
    default:
      t->as<std::int8_t>()[k] = static_cast<std::int8_t>(v);
      break;
  }
}

// The values of an u8, i8 or i32 tensor as int32.
Expected<std::vector<std::int32_t>> ReadQuantInts(const KernelContext& ctx, const Tensor& t,
                                                  const std::string& what, bool allow_i32 = false,
                                                  bool allow_16 = false) {
  std::vector<std::int32_t> v;
  if (allow_16 && t.dtype() == DType::kI16) {
    auto s = t.as<std::int16_t>();
    v.assign(s.begin(), s.end());
    return v;
  }
  switch (t.dtype()) {
    case DType::kU8: {
      auto s = t.as<std::uint8_t>();
      v.assign(s.begin(), s.end());
      break;
    }
    case DType::kI8: {
      auto s = t.as<std::int8_t>();
      v.assign(s.begin(), s.end());
      break;
    }
    case DType::kI32:
      if (allow_i32) {
        auto s = t.as<std::int32_t>();
        v.assign(s.begin(), s.end());
        break;
      }
      [[fallthrough]];
    default:
      return NodeUnsupported(
          ctx, what + " has type " + TypeName(t.dtype()) +
                   (allow_i32 ? " (expected u8, i8 or i32)" : " (expected u8 or i8)"));
  }
  return v;
}

Expected<std::vector<float>> ReadScale(const KernelContext& ctx, const Tensor& t,
                                       const std::string& what) {
  auto v = ReadFloats(t);
  if (!v) return NodeError(ctx, what + ": " + v.status().message());
  if (v->empty()) return NodeError(ctx, what + " is empty");
  return v;
}

// ---------------------------------------------------------------------------
// QuantizeLinear / DequantizeLinear

// Scale and zero point of a per-tensor or per-axis (de)quantization.
struct AxisParams {
  std::vector<float> scale;
  std::vector<std::int32_t> zp;  // one per scale
  std::int64_t axis_len = 1;     // 1: per tensor
  std::int64_t inner = 1;        // elements after the axis
  std::size_t Index(std::int64_t i) const {
    return axis_len == 1 ? 0 : static_cast<std::size_t>((i / inner) % axis_len);
  }
};

Expected<AxisParams> ReadAxisParams(const KernelContext& ctx, const Shape& xs,
                                    const Tensor& scale_t, const Tensor* zp_t, bool allow_axis,
                                    bool zp_i32) {
  AxisParams p;
  DEEPEDGE_ASSIGN_OR_RETURN(p.scale, ReadScale(ctx, scale_t, "scale"));
  if (zp_t != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(p.zp,
                              ReadQuantInts(ctx, *zp_t, "zero point", zp_i32, /*allow_16=*/true));
    if (zp_t->shape() != scale_t.shape() && p.zp.size() != p.scale.size()) {
      return NodeError(ctx, "zero point shape " + zp_t->shape().ToString() +
                                " does not match scale shape " + scale_t.shape().ToString());
    }
  } else {
    p.zp.assign(p.scale.size(), 0);
  }
  if (p.scale.size() == 1 && scale_t.shape().rank() <= 1) return p;
  if (!allow_axis) {
    return NodeError(ctx, "scale must be a scalar (per-axis quantization needs opset 13), got " +
                              scale_t.shape().ToString());
  }
  if (scale_t.shape().rank() != 1) {
    return NodeError(ctx, "scale must be a scalar or 1-D, got " + scale_t.shape().ToString());
  }
  if (xs.rank() == 0) return NodeError(ctx, "per-axis scale needs an input of rank >= 1");
  auto axis = NormalizeAxis(ctx.node().GetInt("axis", 1), xs.rank());
  if (!axis) return NodeError(ctx, axis.status().message());
  const auto a = static_cast<std::size_t>(*axis);
  if (xs[a] != static_cast<std::int64_t>(p.scale.size())) {
    return NodeError(ctx, "scale has " + std::to_string(p.scale.size()) +
                              " elements but input dimension " + std::to_string(a) + " of " +
                              xs.ToString() + " is " + std::to_string(xs[a]));
  }
  p.axis_len = xs[a];
  for (std::size_t d = a + 1; d < xs.rank(); ++d) p.inner *= xs[d];
  return p;
}

// y = saturate(round_half_even(x / scale) + zp), NaN -> zp, for f32 x and one scale:
// the loop over [in, in + n).
template <typename Q>
[[gnu::always_inline]] inline void QuantizeRange(const float* __restrict in, Q* __restrict out,
                                                 std::size_t n, float scale, std::int32_t zp) {
  constexpr float lo = static_cast<float>(std::numeric_limits<Q>::min());
  constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
  const float zero = std::clamp(static_cast<float>(zp), lo, hi);
  const float zpf = static_cast<float>(zp);
  for (std::size_t i = 0; i < n; ++i) {
    const float q = in[i] / scale;
    // Round half to even without a libm call, so that the loop vectorises: adding and
    // subtracting 1.5 * 2^23 rounds in the default mode for |q| < 2^22; larger values
    // saturate anyway, so they are clamped first.
    constexpr float kMagic = 12582912.0f, kLimit = 4194304.0f;
    // Ternaries, not std::clamp: they map onto minps / maxps and keep the loop
    // vectorised (NaN is handled by the q != q select).
    float c = q < -kLimit ? -kLimit : q;
    c = c > kLimit ? kLimit : c;
    float r = ((c + kMagic) - kMagic) + zpf;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    out[i] = static_cast<Q>(q != q ? zero : r);
  }
}

// One instantiation per output type, each compiled for AVX-512, AVX2 and the baseline
// and picked at load time (the division dominates; IEEE division gives the same
// quotient at every width).
#if defined(__x86_64__)
#define DEEPEDGE_QUANT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DEEPEDGE_QUANT_CLONES
#endif
DEEPEDGE_QUANT_CLONES void QuantizeRangeOf(const float* in, std::int8_t* out, std::size_t n,
                                           float scale, std::int32_t zp) {
  QuantizeRange(in, out, n, scale, zp);
}
DEEPEDGE_QUANT_CLONES void QuantizeRangeOf(const float* in, std::uint8_t* out, std::size_t n,
                                           float scale, std::int32_t zp) {
  QuantizeRange(in, out, n, scale, zp);
}
DEEPEDGE_QUANT_CLONES void QuantizeRangeOf(const float* in, std::int16_t* out, std::size_t n,
                                           float scale, std::int32_t zp) {
  QuantizeRange(in, out, n, scale, zp);
}

template <typename Q>
void QuantizePerTensor(KernelContext& ctx, std::span<const float> x, float scale, std::int32_t zp,
                       Q* y) {
  const float* xs = x.data();
  ctx.ParallelFor(x.size(), [xs, scale, zp, y](std::size_t begin, std::size_t end) {
    QuantizeRangeOf(xs + begin, y + begin, end - begin, scale, zp);
  });
}

template <bool kPerAxis>
Status QuantizeLinearKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1));
  const Tensor* zp = ctx.input(2);
  const DType out_type = zp != nullptr ? zp->dtype() : DType::kU8;
  if (!IsQdqType(out_type)) {
    return NodeUnsupported(ctx, "output type " + TypeName(out_type) + " is not supported");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(AxisParams p,
                            ReadAxisParams(ctx, x->shape(), *scale, zp, kPerAxis, false));
  if (p.axis_len == 1 && x->dtype() == DType::kF32) {
    // The common case (every activation of a QDQ model): no copy, no per-element
    // parameter lookup. Same arithmetic as below, in float, which is exact here.
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_type, x->shape()));
    switch (out_type) {
      case DType::kU8:
        QuantizePerTensor(ctx, x->as<float>(), p.scale[0], p.zp[0], y->as<std::uint8_t>().data());
        break;
      case DType::kI16:
        QuantizePerTensor(ctx, x->as<float>(), p.scale[0], p.zp[0], y->as<std::int16_t>().data());
        break;
      default:
        QuantizePerTensor(ctx, x->as<float>(), p.scale[0], p.zp[0], y->as<std::int8_t>().data());
        break;
    }
    return Status::Ok();
  }
  std::vector<float> xf;
  if (x->dtype() == DType::kI32) {
    auto s = x->as<std::int32_t>();
    xf.reserve(s.size());
    for (std::int32_t v : s) xf.push_back(static_cast<float>(v));
  } else {
    auto v = ReadFloats(*x);
    if (!v) return NodeUnsupported(ctx, "input: " + v.status().message());
    xf = std::move(*v);
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_type, x->shape()));
  const std::int32_t qmin = QMin(out_type), qmax = QMax(out_type);
  ctx.ParallelFor(xf.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::size_t c = p.Index(static_cast<std::int64_t>(i));
      const float q = xf[i] / p.scale[c];  // in float, like the reference
      StoreQuant(y, static_cast<std::int64_t>(i), QuantizeRounded(q, p.zp[c], qmin, qmax));
    }
  });
  return Status::Ok();
}

template <bool kPerAxis>
Status DequantizeLinearKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1));
  const Tensor* zp = ctx.input(2);
  if (zp != nullptr && zp->dtype() != x->dtype()) {
    return NodeError(ctx, "zero point type " + TypeName(zp->dtype()) + " differs from input type " +
                              TypeName(x->dtype()));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int32_t> xv,
                            ReadQuantInts(ctx, *x, "input", true, /*allow_16=*/true));
  DEEPEDGE_ASSIGN_OR_RETURN(AxisParams p,
                            ReadAxisParams(ctx, x->shape(), *scale, zp, kPerAxis, true));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kF32, x->shape()));
  float* out = y->as<float>().data();
  ctx.ParallelFor(xv.size(), [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      const std::size_t c = p.Index(static_cast<std::int64_t>(i));
      const auto diff = static_cast<std::int64_t>(xv[i]) - p.zp[c];
      out[i] = static_cast<float>(diff) * p.scale[c];
    }
  });
  return Status::Ok();
}

Status DynamicQuantizeLinearKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  auto xf_or = ReadFloats(*x);
  if (!xf_or) return NodeUnsupported(ctx, "input: " + xf_or.status().message());
  const std::vector<float>& xf = *xf_or;
  // The range always includes 0 so that 0 is exactly representable.
  float lo = 0, hi = 0;
  for (float v : xf) {
    if (std::isnan(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const std::int32_t qmin = 0, qmax = 255;
  const float scale = (hi - lo) / static_cast<float>(qmax - qmin);
  std::int32_t zp = 0;
  if (scale > 0 && std::isfinite(scale)) {
    const float initial = static_cast<float>(qmin) - lo / scale;
    const float clamped = std::clamp(initial, static_cast<float>(qmin), static_cast<float>(qmax));
    zp = static_cast<std::int32_t>(std::nearbyint(clamped));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kU8, x->shape()));
  for (std::size_t i = 0; i < xf.size(); ++i) {
    // A zero range means every element is 0: it quantizes to the zero point.
    const std::int32_t q = scale > 0 ? QuantizeRounded(xf[i] / scale, zp, qmin, qmax) : zp;
    y->as<std::uint8_t>()[i] = static_cast<std::uint8_t>(q);
  }
  if (ctx.output_wanted(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * s, ctx.Output(1, DType::kF32, Shape{}));
    s->as<float>()[0] = scale;
  }
  if (ctx.output_wanted(2)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * z, ctx.Output(2, DType::kU8, Shape{}));
    z->as<std::uint8_t>()[0] = static_cast<std::uint8_t>(zp);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Integer matrix multiplication (numpy matmul broadcasting).

struct MatMulPlan {
  Shape out;
  std::int64_t M = 1, K = 1, N = 1;
  std::int64_t a_mats = 1, b_mats = 1;
  std::vector<std::int64_t> a_mat, b_mat;  // per output matrix: matrix index in a / b
};

Expected<MatMulPlan> PlanMatMul(const KernelContext& ctx, const Shape& a, const Shape& b) {
  if (a.rank() == 0 || b.rank() == 0) {
    return NodeError(
        ctx, "matmul operands must have rank >= 1, got " + a.ToString() + " and " + b.ToString());
  }
  std::vector<std::int64_t> ad = a.dims(), bd = b.dims();
  if (ad.size() == 1) ad.insert(ad.begin(), 1);
  if (bd.size() == 1) bd.push_back(1);
  MatMulPlan p;
  p.M = ad[ad.size() - 2];
  p.K = ad.back();
  p.N = bd.back();
  if (bd[bd.size() - 2] != p.K) {
    return NodeError(ctx, "matmul shapes " + a.ToString() + " and " + b.ToString() +
                              " do not match (inner dimensions differ)");
  }
  const Shape ab(std::vector<std::int64_t>(ad.begin(), ad.end() - 2));
  const Shape bb(std::vector<std::int64_t>(bd.begin(), bd.end() - 2));
  auto ob = BroadcastShapes(ab, bb);
  if (!ob) return NodeError(ctx, "batch dimensions: " + ob.status().message());
  p.a_mats = ab.element_count();
  p.b_mats = bb.element_count();
  p.a_mat = BroadcastOffsets(ab, *ob);
  p.b_mat = BroadcastOffsets(bb, *ob);
  std::vector<std::int64_t> od = ob->dims();
  if (a.rank() > 1) od.push_back(p.M);
  if (b.rank() > 1) od.push_back(p.N);
  p.out = Shape(std::move(od));
  return p;
}

// A per-tensor, per-row (per-column for b) or per-matrix-and-row parameter.
template <typename V>
struct LineParam {
  std::vector<V> v;
  int mode = 0;  // 0: one value; 1: v[line]; 2: v[mat * lines + line]
  std::int64_t lines = 1;
  V At(std::int64_t mat, std::int64_t line) const {
    if (mode == 0) return v[0];
    if (mode == 1) return v[static_cast<std::size_t>(line)];
    return v[static_cast<std::size_t>(mat * lines + line)];
  }
};

template <typename V>
Expected<LineParam<V>> MakeLineParam(const KernelContext& ctx, std::vector<V> v, const Shape& s,
                                     std::int64_t lines, std::int64_t mats,
                                     const std::string& what) {
  LineParam<V> p;
  p.lines = lines;
  const auto n = static_cast<std::int64_t>(v.size());
  if (n == 1) {
    p.mode = 0;
  } else if (s.rank() == 1 && n == lines) {
    p.mode = 1;
  } else if (s.rank() >= 2 && n == lines * mats) {
    p.mode = 2;
  } else {
    return NodeError(ctx, what + " of shape " + s.ToString() +
                              " is neither a scalar nor one value per " +
                              (what[0] == 'a' ? "row" : "column"));
  }
  p.v = std::move(v);
  return p;
}

Expected<LineParam<std::int32_t>> ReadZeroPoint(const KernelContext& ctx, const Tensor* t,
                                                std::int64_t lines, std::int64_t mats,
                                                const std::string& what) {
  if (t == nullptr) return LineParam<std::int32_t>{{0}, 0, lines};
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int32_t> v, ReadQuantInts(ctx, *t, what));
  if (v.empty()) return NodeError(ctx, what + " is empty");
  return MakeLineParam(ctx, std::move(v), t->shape(), lines, mats, what);
}

// Quantized input minus its zero point: a[mat][row][col] with the zero point
// chosen by row (`by_row`) or column.
Expected<std::vector<std::int32_t>> Widen(const KernelContext& ctx, const Tensor& t,
                                          const LineParam<std::int32_t>& zp, std::int64_t mats,
                                          std::int64_t rows, std::int64_t cols, bool by_row,
                                          const std::string& what) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int32_t> v, ReadQuantInts(ctx, t, what));
  for (std::int64_t m = 0; m < mats; ++m) {
    for (std::int64_t r = 0; r < rows; ++r) {
      std::int32_t* row = v.data() + (m * rows + r) * cols;
      for (std::int64_t c = 0; c < cols; ++c) row[c] -= zp.At(m, by_row ? r : c);
    }
  }
  return v;
}

// For every output row: acc[N] = A_row · B, then emit(out_matrix, row, acc).
template <typename Emit>
void IntGemmRows(KernelContext& ctx, const MatMulPlan& p, const std::vector<std::int32_t>& aq,
                 const std::vector<std::int32_t>& bq, Emit&& emit) {
  const std::int64_t M = p.M, K = p.K, N = p.N;
  ctx.ParallelFor(p.a_mat.size() * static_cast<std::size_t>(M),
                  [&](std::size_t begin, std::size_t end) {
                    std::vector<std::int32_t> acc(static_cast<std::size_t>(N));
                    for (std::size_t r = begin; r < end; ++r) {
                      const auto bi = static_cast<std::int64_t>(r) / M;
                      const auto m = static_cast<std::int64_t>(r) % M;
                      const std::int64_t am = p.a_mat[static_cast<std::size_t>(bi)];
                      const std::int64_t bm = p.b_mat[static_cast<std::size_t>(bi)];
                      const std::int32_t* arow = aq.data() + (am * M + m) * K;
                      const std::int32_t* bmat = bq.data() + bm * K * N;
                      std::fill(acc.begin(), acc.end(), 0);
                      for (std::int64_t k = 0; k < K; ++k) {
                        const std::int32_t av = arow[k];
                        if (av == 0) continue;
                        const std::int32_t* brow = bmat + k * N;
                        for (std::int64_t n = 0; n < N; ++n)
                          acc[static_cast<std::size_t>(n)] =
                              WrapAdd(acc[static_cast<std::size_t>(n)], av * brow[n]);
                      }
                      emit(bi, am, bm, m, acc.data());
                    }
                  });
}

Status MatMulIntegerKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(MatMulPlan p, PlanMatMul(ctx, a->shape(), b->shape()));
  DEEPEDGE_ASSIGN_OR_RETURN(auto azp,
                            ReadZeroPoint(ctx, ctx.input(2), p.M, p.a_mats, "a zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto bzp,
                            ReadZeroPoint(ctx, ctx.input(3), p.N, p.b_mats, "b zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto aq, Widen(ctx, *a, azp, p.a_mats, p.M, p.K, true, "A"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto bq, Widen(ctx, *b, bzp, p.b_mats, p.K, p.N, false, "B"));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, p.out));
  std::int32_t* out = y->as<std::int32_t>().data();
  const std::int64_t M = p.M, N = p.N;
  IntGemmRows(ctx, p, aq, bq,
              [&](std::int64_t bi, std::int64_t, std::int64_t, std::int64_t m,
                  const std::int32_t* acc) { std::copy(acc, acc + N, out + (bi * M + m) * N); });
  return Status::Ok();
}

Expected<float> ReadScalarScale(const KernelContext& ctx, const Tensor* t,
                                const std::string& what) {
  if (t == nullptr) return NodeError(ctx, what + " is missing");
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> v, ReadScale(ctx, *t, what));
  if (v.size() != 1) {
    return NodeError(ctx, what + " must be a scalar, got " + t->shape().ToString());
  }
  return v[0];
}

Expected<std::int32_t> ReadScalarZeroPoint(const KernelContext& ctx, const Tensor* t,
                                           const std::string& what) {
  if (t == nullptr) return 0;
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int32_t> v, ReadQuantInts(ctx, *t, what));
  if (v.size() != 1) {
    return NodeError(ctx, what + " must be a scalar, got " + t->shape().ToString());
  }
  return v[0];
}

Status QLinearMatMulKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a_scale_t, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 3));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b_scale_t, RequiredInput(ctx, 4));
  const Tensor* y_zp_t = ctx.input(7);
  const DType out_type = y_zp_t != nullptr ? y_zp_t->dtype() : a->dtype();
  if (!IsQuantType(out_type)) {
    return NodeUnsupported(ctx, "output type " + TypeName(out_type) + " is not supported");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(MatMulPlan p, PlanMatMul(ctx, a->shape(), b->shape()));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> as_v, ReadScale(ctx, *a_scale_t, "a scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> bs_v, ReadScale(ctx, *b_scale_t, "b scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto a_scale, MakeLineParam(ctx, std::move(as_v), a_scale_t->shape(),
                                                        p.M, p.a_mats, "a scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto b_scale, MakeLineParam(ctx, std::move(bs_v), b_scale_t->shape(),
                                                        p.N, p.b_mats, "b scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(float y_scale, ReadScalarScale(ctx, ctx.input(6), "y scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::int32_t y_zp, ReadScalarZeroPoint(ctx, y_zp_t, "y zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto azp,
                            ReadZeroPoint(ctx, ctx.input(2), p.M, p.a_mats, "a zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto bzp,
                            ReadZeroPoint(ctx, ctx.input(5), p.N, p.b_mats, "b zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto aq, Widen(ctx, *a, azp, p.a_mats, p.M, p.K, true, "A"));
  DEEPEDGE_ASSIGN_OR_RETURN(auto bq, Widen(ctx, *b, bzp, p.b_mats, p.K, p.N, false, "B"));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_type, p.out));
  const std::int32_t qmin = QMin(out_type), qmax = QMax(out_type);
  const std::int64_t M = p.M, N = p.N;
  IntGemmRows(ctx, p, aq, bq,
              [&](std::int64_t bi, std::int64_t am, std::int64_t bm, std::int64_t m,
                  const std::int32_t* acc) {
                const float sa = a_scale.At(am, m);
                for (std::int64_t n = 0; n < N; ++n) {
                  const float mult = sa * b_scale.At(bm, n) / y_scale;
                  const double v = static_cast<double>(acc[n]) * static_cast<double>(mult);
                  StoreQuant(y, (bi * M + m) * N + n, QuantizeRounded(v, y_zp, qmin, qmax));
                }
              });
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Integer convolution.

struct ConvGeom {
  std::int64_t N = 0, C = 0, M = 0, G = 1;
  std::vector<std::int64_t> in, k, out, stride, dil, pad;  // spatial, pad = begin pads
  std::int64_t in_sp = 1, k_sp = 1, out_sp = 1;
};

Expected<ConvGeom> PlanConv(const KernelContext& ctx, const Shape& xs, const Shape& ws) {
  const ir::Node& node = ctx.node();
  if (xs.rank() < 3) return NodeError(ctx, "input must have rank >= 3, got " + xs.ToString());
  if (ws.rank() != xs.rank()) {
    return NodeError(
        ctx, "weight shape " + ws.ToString() + " does not match input shape " + xs.ToString());
  }
  ConvGeom g;
  const std::size_t nd = xs.rank() - 2;
  g.N = xs[0];
  g.C = xs[1];
  g.M = ws[0];
  g.G = node.GetInt("group", 1);
  if (g.G < 1 || g.C % g.G != 0 || g.M % g.G != 0 || ws[1] * g.G != g.C) {
    return NodeError(ctx, "input channels " + std::to_string(g.C) + ", weight shape " +
                              ws.ToString() + " and group " + std::to_string(g.G) +
                              " do not agree");
  }
  for (std::size_t d = 0; d < nd; ++d) {
    g.in.push_back(xs[d + 2]);
    g.k.push_back(ws[d + 2]);
  }
  const std::vector<std::int64_t> ks = node.GetInts("kernel_shape");
  if (!ks.empty() && ks != g.k) {
    return NodeError(ctx, "kernel_shape does not match weight shape " + ws.ToString());
  }
  g.stride = node.GetInts("strides", std::vector<std::int64_t>(nd, 1));
  g.dil = node.GetInts("dilations", std::vector<std::int64_t>(nd, 1));
  std::vector<std::int64_t> pads = node.GetInts("pads", std::vector<std::int64_t>(2 * nd, 0));
  if (g.stride.size() != nd || g.dil.size() != nd || pads.size() != 2 * nd) {
    return NodeError(
        ctx, "strides, dilations or pads do not match the spatial rank " + std::to_string(nd));
  }
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  g.pad.resize(nd);
  for (std::size_t d = 0; d < nd; ++d) {
    if (g.stride[d] < 1 || g.dil[d] < 1 || g.k[d] < 1) {
      return NodeError(ctx, "strides, dilations and kernel sizes must be positive");
    }
    const std::int64_t ek = g.dil[d] * (g.k[d] - 1) + 1;
    std::int64_t o = 0;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      o = (g.in[d] + g.stride[d] - 1) / g.stride[d];
      const std::int64_t total = std::max<std::int64_t>(0, (o - 1) * g.stride[d] + ek - g.in[d]);
      g.pad[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (auto_pad == "VALID") {
      g.pad[d] = 0;
      o = (g.in[d] - ek) / g.stride[d] + 1;
      if (g.in[d] < ek) o = 0;
    } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
      if (pads[d] < 0 || pads[d + nd] < 0) return NodeError(ctx, "pads must be non-negative");
      g.pad[d] = pads[d];
      const std::int64_t span = g.in[d] + pads[d] + pads[d + nd] - ek;
      o = span < 0 ? 0 : span / g.stride[d] + 1;
    } else {
      return NodeError(ctx, "unknown auto_pad '" + auto_pad + "'");
    }
    if (o < 1) {
      return NodeError(ctx, "the kernel does not fit the padded input " + xs.ToString());
    }
    g.out.push_back(o);
    g.in_sp *= g.in[d];
    g.k_sp *= g.k[d];
    g.out_sp *= o;
  }
  return g;
}

// Gathers the receptive fields of image n, channels [c0, c0 + cg) into
// col[(c * k_sp + kidx) * out_sp + p]; padding reads 0 (zero points are already
// subtracted, so padding with the input zero point contributes nothing).
void Im2Col(KernelContext& ctx, const ConvGeom& g, const std::int32_t* x, std::int64_t cg,
            std::int32_t* col) {
  const std::size_t nd = g.in.size();
  const std::int64_t out_last = g.out[nd - 1];
  const std::int64_t in_last = g.in[nd - 1];
  const std::int64_t rows_out = g.out_sp / out_last;
  ctx.ParallelFor(static_cast<std::size_t>(cg * g.k_sp), [&](std::size_t begin, std::size_t end) {
    std::vector<std::int64_t> kd(nd), od(nd);
    for (std::size_t ck = begin; ck < end; ++ck) {
      const auto c = static_cast<std::int64_t>(ck) / g.k_sp;
      std::int64_t kr = static_cast<std::int64_t>(ck) % g.k_sp;
      for (std::size_t d = nd; d-- > 0;) {
        kd[d] = kr % g.k[d];
        kr /= g.k[d];
      }
      const std::int32_t* src = x + c * g.in_sp;
      std::int32_t* dst = col + static_cast<std::int64_t>(ck) * g.out_sp;
      std::fill(od.begin(), od.end(), 0);
      for (std::int64_t q = 0; q < rows_out; ++q) {
        bool valid = true;
        std::int64_t off = 0;
        for (std::size_t d = 0; d + 1 < nd; ++d) {
          const std::int64_t ic = od[d] * g.stride[d] - g.pad[d] + kd[d] * g.dil[d];
          if (ic < 0 || ic >= g.in[d]) valid = false;
          off = off * g.in[d] + ic;
        }
        std::int32_t* drow = dst + q * out_last;
        if (!valid) {
          std::fill(drow, drow + out_last, 0);
        } else {
          const std::int32_t* srow = src + off * in_last;
          const std::int64_t s = g.stride[nd - 1];
          const std::int64_t base = kd[nd - 1] * g.dil[nd - 1] - g.pad[nd - 1];
          for (std::int64_t o = 0; o < out_last; ++o) {
            const std::int64_t ic = o * s + base;
            drow[o] = (ic >= 0 && ic < in_last) ? srow[ic] : 0;
          }
        }
        for (std::size_t d = nd - 1; d-- > 0;) {  // next row of outputs
          if (++od[d] < g.out[d]) break;
          od[d] = 0;
        }
      }
    }
  });
}

// acc[out_sp] for every (image, output channel); emit(n, m, acc) writes the output row.
template <typename Emit>
void IntConv(KernelContext& ctx, const ConvGeom& g, const std::vector<std::int32_t>& xq,
             const std::vector<std::int32_t>& wq, Emit&& emit) {
  const std::int64_t cg = g.C / g.G, mg = g.M / g.G;
  const std::int64_t ck_count = cg * g.k_sp;
  bool direct = g.k_sp == 1;
  for (std::size_t d = 0; d < g.in.size(); ++d)
    direct = direct && g.stride[d] == 1 && g.pad[d] == 0;
  std::vector<std::int32_t> col_buf;
  if (!direct) col_buf.resize(static_cast<std::size_t>(ck_count * g.out_sp));
  for (std::int64_t n = 0; n < g.N; ++n) {
    for (std::int64_t gi = 0; gi < g.G; ++gi) {
      const std::int32_t* xg = xq.data() + (n * g.C + gi * cg) * g.in_sp;
      const std::int32_t* col = xg;  // 1x1 stride-1 unpadded: the input is its own col
      if (!direct) {
        Im2Col(ctx, g, xg, cg, col_buf.data());
        col = col_buf.data();
      }
      ctx.ParallelFor(static_cast<std::size_t>(mg), [&](std::size_t begin, std::size_t end) {
        std::vector<std::int32_t> acc(static_cast<std::size_t>(g.out_sp));
        for (std::size_t mi = begin; mi < end; ++mi) {
          const std::int64_t m = gi * mg + static_cast<std::int64_t>(mi);
          const std::int32_t* wrow = wq.data() + m * ck_count;
          std::fill(acc.begin(), acc.end(), 0);
          for (std::int64_t ck = 0; ck < ck_count; ++ck) {
            const std::int32_t wv = wrow[ck];
            if (wv == 0) continue;
            const std::int32_t* crow = col + ck * g.out_sp;
            for (std::int64_t p = 0; p < g.out_sp; ++p) {
              acc[static_cast<std::size_t>(p)] =
                  WrapAdd(acc[static_cast<std::size_t>(p)], wv * crow[p]);
            }
          }
          emit(n, m, acc.data());
        }
      });
    }
  }
}

Shape ConvOutShape(const ConvGeom& g) {
  std::vector<std::int64_t> d = {g.N, g.M};
  d.insert(d.end(), g.out.begin(), g.out.end());
  return Shape(std::move(d));
}

// Widens x (scalar zero point) and w (per-tensor or per-output-channel zero point).
Status WidenConvOperands(const KernelContext& ctx, const ConvGeom& g, const Tensor& x,
                         const Tensor* x_zp_t, const Tensor& w, const Tensor* w_zp_t,
                         std::vector<std::int32_t>& xq, std::vector<std::int32_t>& wq) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::int32_t x_zp, ReadScalarZeroPoint(ctx, x_zp_t, "x zero point"));
  DEEPEDGE_ASSIGN_OR_RETURN(xq, ReadQuantInts(ctx, x, "x"));
  if (x_zp != 0) {
    for (std::int32_t& v : xq) v -= x_zp;
  }
  std::vector<std::int32_t> w_zp = {0};
  if (w_zp_t != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(w_zp, ReadQuantInts(ctx, *w_zp_t, "w zero point"));
    if (w_zp.size() != 1 && static_cast<std::int64_t>(w_zp.size()) != g.M) {
      return NodeError(ctx, "w zero point has " + std::to_string(w_zp.size()) +
                                " elements; expected 1 or " + std::to_string(g.M));
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(wq, ReadQuantInts(ctx, w, "w"));
  const std::int64_t per_m = static_cast<std::int64_t>(wq.size()) / std::max<std::int64_t>(g.M, 1);
  for (std::int64_t m = 0; m < g.M; ++m) {
    const std::int32_t z = w_zp.size() == 1 ? w_zp[0] : w_zp[static_cast<std::size_t>(m)];
    for (std::int64_t i = 0; i < per_m; ++i) wq[static_cast<std::size_t>(m * per_m + i)] -= z;
  }
  return Status::Ok();
}

Status ConvIntegerKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(ConvGeom g, PlanConv(ctx, x->shape(), w->shape()));
  std::vector<std::int32_t> xq, wq;
  DEEPEDGE_RETURN_IF_ERROR(WidenConvOperands(ctx, g, *x, ctx.input(2), *w, ctx.input(3), xq, wq));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kI32, ConvOutShape(g)));
  std::int32_t* out = y->as<std::int32_t>().data();
  IntConv(ctx, g, xq, wq, [&](std::int64_t n, std::int64_t m, const std::int32_t* acc) {
    std::copy(acc, acc + g.out_sp, out + (n * g.M + m) * g.out_sp);
  });
  return Status::Ok();
}

Status QLinearConvKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 3));
  const Tensor* y_zp_t = ctx.input(7);
  const DType out_type = y_zp_t != nullptr ? y_zp_t->dtype() : x->dtype();
  if (!IsQuantType(out_type)) {
    return NodeUnsupported(ctx, "output type " + TypeName(out_type) + " is not supported");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(ConvGeom g, PlanConv(ctx, x->shape(), w->shape()));
  DEEPEDGE_ASSIGN_OR_RETURN(float x_scale, ReadScalarScale(ctx, ctx.input(1), "x scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(float y_scale, ReadScalarScale(ctx, ctx.input(6), "y scale"));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w_scale_t, RequiredInput(ctx, 4));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> w_scale, ReadScale(ctx, *w_scale_t, "w scale"));
  if (w_scale.size() != 1 && static_cast<std::int64_t>(w_scale.size()) != g.M) {
    return NodeError(ctx, "w scale has " + std::to_string(w_scale.size()) +
                              " elements; expected 1 or " + std::to_string(g.M));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::int32_t y_zp, ReadScalarZeroPoint(ctx, y_zp_t, "y zero point"));
  std::vector<std::int32_t> bias;
  if (const Tensor* b = ctx.input(8); b != nullptr) {
    if (b->dtype() != DType::kI32) {
      return NodeError(ctx, "bias must be i32, got " + TypeName(b->dtype()));
    }
    if (b->element_count() != g.M) {
      return NodeError(ctx, "bias shape " + b->shape().ToString() + " does not match " +
                                std::to_string(g.M) + " output channels");
    }
    auto s = b->as<std::int32_t>();
    bias.assign(s.begin(), s.end());
  }
  std::vector<std::int32_t> xq, wq;
  DEEPEDGE_RETURN_IF_ERROR(WidenConvOperands(ctx, g, *x, ctx.input(2), *w, ctx.input(5), xq, wq));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_type, ConvOutShape(g)));
  const std::int32_t qmin = QMin(out_type), qmax = QMax(out_type);
  IntConv(ctx, g, xq, wq, [&](std::int64_t n, std::int64_t m, const std::int32_t* acc) {
    const float ws = w_scale.size() == 1 ? w_scale[0] : w_scale[static_cast<std::size_t>(m)];
    const double mult = static_cast<double>(x_scale * ws / y_scale);
    const std::int32_t b = bias.empty() ? 0 : bias[static_cast<std::size_t>(m)];
    const std::int64_t base = (n * g.M + m) * g.out_sp;
    for (std::int64_t p = 0; p < g.out_sp; ++p) {
      const double v = static_cast<double>(static_cast<std::int64_t>(acc[p]) + b) * mult;
      StoreQuant(y, base + p, QuantizeRounded(v, y_zp, qmin, qmax));
    }
  });
  return Status::Ok();
}

}  // namespace

void RegisterQuantKernels(KernelRegistry& r) {
  r.Add("", "QuantizeLinear", QuantizeLinearKernel<false>, 10);
  r.Add("", "QuantizeLinear", QuantizeLinearKernel<true>, 13);
  r.Add("", "DequantizeLinear", DequantizeLinearKernel<false>, 10);
  r.Add("", "DequantizeLinear", DequantizeLinearKernel<true>, 13);
  r.Add("", "DynamicQuantizeLinear", DynamicQuantizeLinearKernel, 11);
  r.Add("", "QLinearConv", QLinearConvKernel, 10);
  r.Add("", "QLinearMatMul", QLinearMatMulKernel, 10);
  r.Add("", "ConvInteger", ConvIntegerKernel, 10);
  r.Add("", "MatMulInteger", MatMulIntegerKernel, 10);
}

}  // namespace deepedge::engine
