// Private to elementwise.cc: element-type tags, type dispatch, broadcast plans and the
// loops (unary, binary, n-ary, Where) that the elementwise kernels are built from.
//
// Loop design: the output shape and each input's strides (0 along broadcast dimensions)
// are coalesced into as few dimensions as possible; the loops then walk the output in
// row segments of the innermost dimension, where each input's stride is 0 (broadcast:
// one value for the whole segment) or 1 (contiguous). Equal shapes and scalar operands
// coalesce to a single segment, so the common cases run as one tight loop without
// offset tables. Large outputs are split into element ranges for ctx.ParallelFor.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"
#include "deepedge/tensor.h"
#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine::ew {

// ---------------------------------------------------------------------------------------
// Branch-free selects. With GCC's default -ftrapping-math a plain `c ? a : b` whose arm
// does float arithmetic is compiled as a branch (the arithmetic may not be executed
// speculatively), and a loop with a branch does not vectorize; a mask blend keeps both
// sides computed.

inline std::uint32_t SelectBits(bool c, std::uint32_t a, std::uint32_t b) {
  const std::uint32_t m = 0u - static_cast<std::uint32_t>(c);
  return (a & m) | (b & ~m);
}
inline float SelectFloat(bool c, float a, float b) {
  return std::bit_cast<float>(
      SelectBits(c, std::bit_cast<std::uint32_t>(a), std::bit_cast<std::uint32_t>(b)));
}

// ---------------------------------------------------------------------------------------
// Inline 16-bit float conversions, bit-identical to deepedge::F16ToF32 & co. (tested), so
// that the loops over f16/bf16 tensors need no out-of-line call per element.

inline float HalfToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t em = h & 0x7FFFu;  // exponent and mantissa
  // Every case computed, then selected: no branches, so that loops vectorize.
  const std::uint32_t normal = (em << 13) + (112u << 23);  // rebias the exponent 15 -> 127
  const std::uint32_t special = (em << 13) | 0x7F800000u;  // inf, nan (payload kept)
  // Zero or subnormal: mantissa * 2^-24 is exact in f32.
  const std::uint32_t small = std::bit_cast<std::uint32_t>(
      static_cast<float>(static_cast<std::int32_t>(em & 0x3FFu)) * 5.9604644775390625e-8f);
  const std::uint32_t bits =
      SelectBits(em >= 0x7C00u, special, SelectBits(em < 0x0400u, small, normal));
  return std::bit_cast<float>(bits | sign);
}

inline std::uint16_t FloatToHalf(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7FFFFFFFu;
  // Below the smallest normal half (2^-14): adding 0.5 leaves the value in units of
  // 2^-24 in the low mantissa bits, rounded to nearest even by the addition itself.
  // (Computed for every input and selected: no branches, so that loops vectorize.)
  const std::uint32_t small =
      std::bit_cast<std::uint32_t>(std::bit_cast<float>(a & 0x3FFFFFFFu) + 0.5f) - 0x3F000000u;
  // Normal: rebias the exponent 127 -> 15, round the 13 dropped bits to nearest even.
  const std::uint32_t normal = (a - (112u << 23) + 0xFFFu + ((a >> 13) & 1u)) >> 13;
  const std::uint32_t special = a > 0x7F800000u ? 0x7E00u : 0x7C00u;  // nan / overflow, inf
  const std::uint32_t h =
      SelectBits(a < 0x38800000u, small, SelectBits(a < 0x477FF000u, normal, special));
  return static_cast<std::uint16_t>(sign | h);
}

inline float BFloatToFloat(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

inline std::uint16_t FloatToBFloat(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  return static_cast<std::uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// ---------------------------------------------------------------------------------------
// exp(x) in f32 without a libm call, so that loops using it vectorize: x = n ln2 + r
// with |r| <= ln2/2 (ln2 split in two for an exact reduction), e^r by its degree-7
// Taylor polynomial, 2^n applied in two halves so that subnormal results come out right.
// Error within 2 ulp of the correctly rounded result (tested against double exp).

inline float ExpF(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;  // few mantissa bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = 1.42860682030941723e-6f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float xlo = SelectFloat(x < -104.0f, -104.0f, x);  // NaN passes through
  const float xc = SelectFloat(xlo > 89.0f, 89.0f, xlo);
  const float t = xc * kLog2e + kRound;
  const float n = t - kRound;
  const auto ni = static_cast<std::int32_t>(std::bit_cast<std::uint32_t>(t) -
                                            std::bit_cast<std::uint32_t>(kRound));
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t n1 = ni / 2;
  const std::int32_t n2 = ni - n1;
  const float s1 = std::bit_cast<float>(static_cast<std::uint32_t>(n1 + 127) << 23);
  const float s2 = std::bit_cast<float>(static_cast<std::uint32_t>(n2 + 127) << 23);
  const float y = p * s1 * s2;
  return SelectFloat(x > 88.72283935546875f, std::numeric_limits<float>::infinity(),
                     SelectFloat(x != x, x, y));
}

// ---------------------------------------------------------------------------------------
// Element types. S: the storage type; C: the type arithmetic is done in; Ld/St convert.

struct F32T {
  using S = float;
  using C = float;
  static C Ld(S v) { return v; }
  static S St(C v) { return v; }
};
struct F16T {
  using S = std::uint16_t;
  using C = float;
  static C Ld(S v) { return HalfToFloat(v); }
  static S St(C v) { return FloatToHalf(v); }
};
struct BF16T {
  using S = std::uint16_t;
  using C = float;
  static C Ld(S v) { return BFloatToFloat(v); }
  static S St(C v) { return FloatToBFloat(v); }
};
template <typename T>
struct IntT {
  using S = T;
  using C = T;
  static C Ld(S v) { return v; }
  static S St(C v) { return v; }
};
struct BoolT {
  using S = std::uint8_t;
  using C = bool;
  static C Ld(S v) { return v != 0; }
  static S St(C v) { return v ? 1 : 0; }
};
// Not a tensor type: exponents of another type than the base are widened to double.
struct F64T {
  using S = double;
  using C = double;
  static C Ld(S v) { return v; }
  static S St(C v) { return v; }
};

// ---------------------------------------------------------------------------------------
// Type sets and dispatch.

constexpr unsigned Bit(DType t) {
  return 1u << static_cast<unsigned>(t);
}
inline constexpr unsigned kFloatTypes = Bit(DType::kF32) | Bit(DType::kF16) | Bit(DType::kBF16);
inline constexpr unsigned kSignedInts =
    Bit(DType::kI8) | Bit(DType::kI16) | Bit(DType::kI32) | Bit(DType::kI64);
inline constexpr unsigned kIntTypes = kSignedInts | Bit(DType::kU8);
inline constexpr unsigned kNumeric = kFloatTypes | kIntTypes;
inline constexpr unsigned kBoolType = Bit(DType::kBool);

inline Status UnsupportedType(const KernelContext& ctx, DType t, const char* what = "input") {
  return NodeUnsupported(
      ctx, std::string(what) + " type " + std::string(DTypeName(t)) + " is not supported");
}

// Calls fn(Tag{}) for the tag of `t` when `t` is in kAllowed (only those are
// instantiated), or returns an Unsupported error naming the node and the type.
template <unsigned kAllowed, typename Fn>
Status Dispatch(const KernelContext& ctx, DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      if constexpr ((kAllowed & Bit(DType::kF32)) != 0) return fn(F32T{});
      break;
    case DType::kF16:
      if constexpr ((kAllowed & Bit(DType::kF16)) != 0) return fn(F16T{});
      break;
    case DType::kBF16:
      if constexpr ((kAllowed & Bit(DType::kBF16)) != 0) return fn(BF16T{});
      break;
    case DType::kI8:
      if constexpr ((kAllowed & Bit(DType::kI8)) != 0) return fn(IntT<std::int8_t>{});
      break;
    case DType::kU8:
      if constexpr ((kAllowed & Bit(DType::kU8)) != 0) return fn(IntT<std::uint8_t>{});
      break;
    case DType::kI16:
      if constexpr ((kAllowed & Bit(DType::kI16)) != 0) return fn(IntT<std::int16_t>{});
      break;
    case DType::kI32:
      if constexpr ((kAllowed & Bit(DType::kI32)) != 0) return fn(IntT<std::int32_t>{});
      break;
    case DType::kI64:
      if constexpr ((kAllowed & Bit(DType::kI64)) != 0) return fn(IntT<std::int64_t>{});
      break;
    case DType::kBool:
      if constexpr ((kAllowed & Bit(DType::kBool)) != 0) return fn(BoolT{});
      break;
  }
  return UnsupportedType(ctx, t);
}

// ---------------------------------------------------------------------------------------
// Integer helpers: wrapping arithmetic (two's complement, no UB) done in an unsigned type
// at least as wide as `unsigned` (so that small types do not promote to signed int).

template <typename C>
using Wide = std::conditional_t<(sizeof(C) < sizeof(unsigned)), unsigned, std::make_unsigned_t<C>>;

template <typename C>
C WrapAdd(C a, C b) {
  return static_cast<C>(static_cast<Wide<C>>(a) + static_cast<Wide<C>>(b));
}
template <typename C>
C WrapSub(C a, C b) {
  return static_cast<C>(static_cast<Wide<C>>(a) - static_cast<Wide<C>>(b));
}
template <typename C>
C WrapMul(C a, C b) {
  return static_cast<C>(static_cast<Wide<C>>(a) * static_cast<Wide<C>>(b));
}
template <typename C>
C WrapNeg(C a) {
  return static_cast<C>(Wide<C>{0} - static_cast<Wide<C>>(a));
}

// double -> integer, saturating (NaN -> 0): for results computed in floating point.
template <typename C>
C SaturateCast(double v) {
  if (v != v) return 0;
  if (v <= static_cast<double>(std::numeric_limits<C>::lowest()))
    return std::numeric_limits<C>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<C>::max())) return std::numeric_limits<C>::max();
  return static_cast<C>(v);
}

// ---------------------------------------------------------------------------------------
// Parallel split: element ranges of at least kGrain elements.

inline constexpr std::int64_t kGrain = 16384;

template <typename Fn>
void ParallelRange(KernelContext& ctx, std::int64_t n, const Fn& fn) {
  if (n <= 0) return;
  const std::int64_t threads = ctx.threads();
  if (threads <= 1 || n < 2 * kGrain) {
    fn(std::int64_t{0}, n);
    return;
  }
  std::int64_t tasks = std::min((n + kGrain - 1) / kGrain, threads * 4);
  std::int64_t per = (n + tasks - 1) / tasks;
  per = (per + 63) / 64 * 64;  // whole cache lines per task for the common types
  tasks = (n + per - 1) / per;
  ctx.ParallelFor(static_cast<std::size_t>(tasks), [&](std::size_t tb, std::size_t te) {
    const std::int64_t b = static_cast<std::int64_t>(tb) * per;
    const std::int64_t e = std::min(n, static_cast<std::int64_t>(te) * per);
    if (b < e) fn(b, e);
  });
}

// ---------------------------------------------------------------------------------------
// Broadcast plans.

struct Plan {
  std::size_t inputs = 0;
  std::vector<std::int64_t> dims;     // coalesced output dims, at least one
  std::vector<std::int64_t> strides;  // [d * inputs + k]: input k along dim d; 0 = broadcast
  std::int64_t stride(std::size_t d, std::size_t k) const { return strides[d * inputs + k]; }
  std::int64_t inner_stride(std::size_t k) const { return stride(dims.size() - 1, k); }
};

// `ins` must each broadcast to `out` (numpy rules, right-aligned).
inline Plan MakePlan(const Shape& out, const std::vector<Shape>& ins) {
  const std::size_t rank = out.rank();
  const std::size_t k_count = ins.size();
  std::vector<std::vector<std::int64_t>> in_strides;
  in_strides.reserve(k_count);
  for (const Shape& s : ins) in_strides.push_back(Strides(s));
  Plan p;
  p.inputs = k_count;
  std::vector<std::int64_t> col(k_count);
  for (std::size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;  // size-1 dimensions never move any offset
    for (std::size_t k = 0; k < k_count; ++k) {
      const std::size_t pad = rank - ins[k].rank();
      col[k] = (d < pad || ins[k][d - pad] == 1) ? 0 : in_strides[k][d - pad];
    }
    // Merge into the previous dimension when every input steps through both as one.
    bool merge = !p.dims.empty();
    const std::size_t last = p.strides.size() - (merge ? k_count : 0);
    for (std::size_t k = 0; merge && k < k_count; ++k) {
      merge = p.strides[last + k] == col[k] * out[d];
    }
    if (merge) {
      p.dims.back() *= out[d];
      for (std::size_t k = 0; k < k_count; ++k) p.strides[last + k] = col[k];
    } else {
      p.dims.push_back(out[d]);
      p.strides.insert(p.strides.end(), col.begin(), col.end());
    }
  }
  if (p.dims.empty()) {  // a single element
    p.dims.push_back(1);
    p.strides.assign(k_count, 0);
  }
  return p;
}

// Calls seg(out_pos, in_offsets, len) for the row segments covering output elements
// [begin, end): input k's elements are at in_offsets[k] + i * inner_stride(k), i < len.
// K: the number of inputs when known at compile time (0: p.inputs, at run time).
template <std::size_t K, typename Seg>
void ForEachSegment(const Plan& p, std::int64_t begin, std::int64_t end, const Seg& seg) {
  const std::size_t rank = p.dims.size();
  const std::size_t kc = K != 0 ? K : p.inputs;
  std::conditional_t<K != 0, std::array<std::int64_t, K>, std::vector<std::int64_t>> off{};
  if constexpr (K == 0) off.resize(kc);
  std::vector<std::int64_t> idx(rank);
  std::int64_t rem = begin;
  for (std::size_t d = rank; d-- > 0;) {
    idx[d] = rem % p.dims[d];
    rem /= p.dims[d];
  }
  for (std::size_t k = 0; k < kc; ++k) {
    off[k] = 0;
    for (std::size_t d = 0; d < rank; ++d) off[k] += idx[d] * p.stride(d, k);
  }
  const std::int64_t inner = p.dims[rank - 1];
  const std::int64_t* inner_strides = &p.strides[(rank - 1) * kc];
  std::int64_t pos = begin;
  while (pos < end) {
    const std::int64_t len = std::min(inner - idx[rank - 1], end - pos);
    seg(pos, static_cast<const std::int64_t*>(off.data()), len);
    pos += len;
    if (pos >= end) break;
    // The segment ended a row: back to its start, then step the outer index.
    for (std::size_t k = 0; k < kc; ++k) off[k] -= idx[rank - 1] * inner_strides[k];
    idx[rank - 1] = 0;
    for (std::size_t d = rank - 1; d-- > 0;) {
      const std::int64_t* s = &p.strides[d * kc];
      for (std::size_t k = 0; k < kc; ++k) off[k] += s[k];
      if (++idx[d] < p.dims[d]) break;
      for (std::size_t k = 0; k < kc; ++k) off[k] -= p.dims[d] * s[k];
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Loops.

// y[i] = f(x[i]) over the whole tensor.
template <typename TX, typename TY, typename F>
void RunUnary(KernelContext& ctx, const typename TX::S* x, typename TY::S* y, std::int64_t n,
              const F& f) {
  ParallelRange(ctx, n, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) y[i] = TY::St(f(TX::Ld(x[i])));
  });
}

// y = f(a, b) with a and b broadcast to y_shape.
template <typename TA, typename TB, typename TY, typename F>
void RunBinary(KernelContext& ctx, const typename TA::S* a, const Shape& a_shape,
               const typename TB::S* b, const Shape& b_shape, typename TY::S* y,
               const Shape& y_shape, const F& f) {
  const std::int64_t n = y_shape.element_count();
  if (n <= 0) return;
  const Plan p = MakePlan(y_shape, {a_shape, b_shape});
  const bool va = p.inner_stride(0) != 0;
  const bool vb = p.inner_stride(1) != 0;
  ParallelRange(ctx, n, [&](std::int64_t begin, std::int64_t end) {
    ForEachSegment<2>(p, begin, end,
                      [&](std::int64_t pos, const std::int64_t* off, std::int64_t len) {
                        const typename TA::S* pa = a + off[0];
                        const typename TB::S* pb = b + off[1];
                        typename TY::S* py = y + pos;
                        if (va && vb) {
                          for (std::int64_t i = 0; i < len; ++i)
                            py[i] = TY::St(f(TA::Ld(pa[i]), TB::Ld(pb[i])));
                        } else if (va) {
                          const auto bv = TB::Ld(*pb);
                          for (std::int64_t i = 0; i < len; ++i)
                            py[i] = TY::St(f(TA::Ld(pa[i]), bv));
                        } else if (vb) {
                          const auto av = TA::Ld(*pa);
                          for (std::int64_t i = 0; i < len; ++i)
                            py[i] = TY::St(f(av, TB::Ld(pb[i])));
                        } else {
                          std::fill(py, py + len, TY::St(f(TA::Ld(*pa), TB::Ld(*pb))));
                        }
                      });
  });
}

// y = fin(f(...f(f(x0, x1), x2)..., xn-1)) with every input broadcast to y_shape; the
// accumulation stays in T::C (f32 for f16/bf16).
template <typename T, typename F, typename Fin>
void RunVariadic(KernelContext& ctx, const std::vector<const typename T::S*>& xs,
                 const std::vector<Shape>& shapes, typename T::S* y, const Shape& y_shape,
                 const F& f, const Fin& fin) {
  const std::int64_t n = y_shape.element_count();
  if (n <= 0) return;
  const Plan p = MakePlan(y_shape, shapes);
  const std::size_t k_count = xs.size();
  ParallelRange(ctx, n, [&](std::int64_t begin, std::int64_t end) {
    ForEachSegment<0>(p, begin, end,
                      [&](std::int64_t pos, const std::int64_t* off, std::int64_t len) {
                        constexpr std::int64_t kBlock = 256;
                        typename T::C acc[kBlock];
                        for (std::int64_t j0 = 0; j0 < len; j0 += kBlock) {
                          const std::int64_t m = std::min(kBlock, len - j0);
                          {
                            const std::int64_t s = p.inner_stride(0);
                            const typename T::S* px = xs[0] + off[0] + j0 * s;
                            for (std::int64_t j = 0; j < m; ++j) acc[j] = T::Ld(px[j * s]);
                          }
                          for (std::size_t k = 1; k < k_count; ++k) {
                            const std::int64_t s = p.inner_stride(k);
                            const typename T::S* px = xs[k] + off[k] + j0 * s;
                            for (std::int64_t j = 0; j < m; ++j)
                              acc[j] = f(acc[j], T::Ld(px[j * s]));
                          }
                          typename T::S* py = y + pos + j0;
                          for (std::int64_t j = 0; j < m; ++j) py[j] = T::St(fin(acc[j]));
                        }
                      });
  });
}

// y = cond ? x : z, all three broadcast to y_shape; S is a raw element of the value size.
template <typename S>
void RunWhere(KernelContext& ctx, const std::uint8_t* cond, const Shape& c_shape, const S* x,
              const Shape& x_shape, const S* z, const Shape& z_shape, S* y, const Shape& y_shape) {
  const std::int64_t n = y_shape.element_count();
  if (n <= 0) return;
  const Plan p = MakePlan(y_shape, {c_shape, x_shape, z_shape});
  const std::int64_t sc = p.inner_stride(0);
  const std::int64_t sx = p.inner_stride(1);
  const std::int64_t sz = p.inner_stride(2);
  ParallelRange(ctx, n, [&](std::int64_t begin, std::int64_t end) {
    ForEachSegment<3>(p, begin, end,
                      [&](std::int64_t pos, const std::int64_t* off, std::int64_t len) {
                        const std::uint8_t* pc = cond + off[0];
                        const S* px = x + off[1];
                        const S* pz = z + off[2];
                        S* py = y + pos;
                        if (sc != 0 && sx != 0 && sz != 0) {
                          for (std::int64_t i = 0; i < len; ++i) {
                            const S xv = px[i];  // both loaded: lets the loop vectorize as a select
                            const S zv = pz[i];
                            py[i] = pc[i] != 0 ? xv : zv;
                          }
                        } else {
                          for (std::int64_t i = 0; i < len; ++i) {
                            const S xv = px[i * sx];
                            const S zv = pz[i * sz];
                            py[i] = pc[i * sc] != 0 ? xv : zv;
                          }
                        }
                      });
  });
}

}  // namespace deepedge::engine::ew
