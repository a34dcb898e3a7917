// int8 / uint8 kernels in domain com.deepedge (contract in qlinear.h).
#include "engine/kernels/qlinear.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 reports its own AVX-512 intrinsics (_mm512_undefined_*) as "maybe
// uninitialized" once they are inlined; the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define DEEPEDGE_Q8_X86 1
#define Q8_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define Q8_AVX2 __attribute__((target("avx2")))
#else
#define DEEPEDGE_Q8_X86 0
#endif

#include "engine/kernels/fixed_point.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {
namespace {

using i64 = std::int64_t;
namespace fp = fixed_point;

bool DetectSimd() {
#if DEEPEDGE_Q8_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}
const bool kSimdAvailable = DetectSimd();
#if DEEPEDGE_Q8_X86
const bool kAvx2Available = __builtin_cpu_supports("avx2");
#else
const bool kAvx2Available = false;
#endif
// The paths in use: g_simd (AVX-512 VNNI) first; g_avx2 where g_simd is off.
bool g_simd = kSimdAvailable;
bool g_avx2 = kAvx2Available && !kSimdAvailable;

Status AttrError(const ir::Node& n, const std::string& m) {
  return InvalidArgument(n.Describe() + ": " + m);
}

bool IsQ(DType t) {
  return t == DType::kI8 || t == DType::kU8;
}
std::int32_t TypeMin(DType t) {
  return t == DType::kI8 ? -128 : 0;
}
std::int32_t TypeMax(DType t) {
  return t == DType::kI8 ? 127 : 255;
}

inline std::int32_t WrapAdd(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

// An i8 value moved to u8 by adding 128 (what VNNI's u8 x s8 products want).
inline std::uint8_t ToU8(std::int8_t v) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(v) ^ 0x80u);
}
inline std::uint8_t ToU8(std::uint8_t v) {
  return v;
}

// ---------------------------------------------------------------------------
// Attributes

struct InParams {
  float scale = 1;
  std::int32_t zp = 0;
};

struct OutParams {
  float scale = 1;
  std::int32_t zp = 0;
  DType type = DType::kI8;
  std::int32_t lo = -128, hi = 127;  // fused activation, within the type's range
};

bool ValidScale(float s) {
  return std::isfinite(s) && s > 0;
}

Expected<InParams> ReadIn(const ir::Node& n, const std::string& prefix) {
  InParams p;
  p.scale = n.GetFloat(prefix + "_scale", 0);
  if (!ValidScale(p.scale)) {
    return AttrError(n, prefix + "_scale must be a positive finite float (attribute missing?)");
  }
  const i64 zp = n.GetInt(prefix + "_zero_point", 0);
  if (zp < -128 || zp > 255) {
    return AttrError(n, prefix + "_zero_point " + std::to_string(zp) + " is out of range");
  }
  p.zp = static_cast<std::int32_t>(zp);
  return p;
}

// Attribute "requant": true for "float", false for "fixed_point" (the default).
Expected<bool> ReadFloatRequant(const ir::Node& n) {
  const std::string requant = n.GetString("requant", "fixed_point");
  if (requant != "fixed_point" && requant != "float") {
    return AttrError(n, "requant must be \"fixed_point\" or \"float\", got \"" + requant + "\"");
  }
  return requant == "float";
}

Expected<OutParams> ReadOut(const ir::Node& n) {
  OutParams p;
  p.scale = n.GetFloat("y_scale", 0);
  if (!ValidScale(p.scale)) {
    return AttrError(n, "y_scale must be a positive finite float (attribute missing?)");
  }
  const std::string t = n.GetString("y_type", "");
  if (t == "i8" || t == "int8") {
    p.type = DType::kI8;
  } else if (t == "u8" || t == "uint8") {
    p.type = DType::kU8;
  } else {
    return AttrError(n, "y_type must be \"i8\" or \"u8\", got \"" + t + "\"");
  }
  const i64 zp = n.GetInt("y_zero_point", 0);
  if (zp < TypeMin(p.type) || zp > TypeMax(p.type)) {
    return AttrError(n, "y_zero_point " + std::to_string(zp) + " is out of range for " + t);
  }
  p.zp = static_cast<std::int32_t>(zp);
  const i64 lo = std::max<i64>(n.GetInt("act_min", TypeMin(p.type)), TypeMin(p.type));
  const i64 hi = std::min<i64>(n.GetInt("act_max", TypeMax(p.type)), TypeMax(p.type));
  if (lo > hi) {
    return AttrError(n, "act_min " + std::to_string(lo) + " > act_max " + std::to_string(hi));
  }
  p.lo = static_cast<std::int32_t>(lo);
  p.hi = static_cast<std::int32_t>(hi);
  return p;
}

Status CheckQInput(const KernelContext& ctx, const Tensor& t, std::int32_t zp, const char* what) {
  if (!IsQ(t.dtype())) {
    return NodeUnsupported(ctx, std::string(what) + " has type " +
                                    std::string(DTypeName(t.dtype())) + " (expected i8 or u8)");
  }
  if (zp < TypeMin(t.dtype()) || zp > TypeMax(t.dtype())) {
    return NodeError(ctx, std::string(what) + " zero point " + std::to_string(zp) +
                              " is out of range for " + std::string(DTypeName(t.dtype())));
  }
  return Status::Ok();
}

// Calls fn(T{}) with T = std::int8_t or std::uint8_t.
template <typename Fn>
void DispatchQ(DType t, Fn&& fn) {
  if (t == DType::kI8) {
    fn(std::int8_t{});
  } else {
    fn(std::uint8_t{});
  }
}

// ---------------------------------------------------------------------------
// Requantization of int32 accumulators

struct Requant {
  std::int32_t offset = 0;  // added (wrapping) to the accumulator first: bias, corrections
  std::int32_t mult = 0;
  int shift = 0;
  std::int32_t zp = 0;
  std::int32_t lo = 0, hi = 0;  // output clamp
  bool use_float = false;       // requant "float": round_half_even(float(acc) * scale) instead
  float scale = 0;
};

inline std::int32_t RequantOne(std::int32_t acc, const Requant& r) {
  const std::int32_t x = WrapAdd(acc, r.offset);
  if (r.use_float) {
    // Clamped before rounding (the bounds are integers, so the order does not matter)
    // so that the conversion cannot overflow; nearbyint rounds half to even.
    const float f = std::clamp(static_cast<float>(x) * r.scale, static_cast<float>(r.lo - r.zp),
                               static_cast<float>(r.hi - r.zp));
    return static_cast<std::int32_t>(std::nearbyint(f)) + r.zp;
  }
  const std::int32_t v = fp::MultiplyByQuantizedMultiplier(x, r.mult, r.shift);
  // clamp(v + zp, lo, hi) without the overflow of v + zp.
  return std::clamp(v, r.lo - r.zp, r.hi - r.zp) + r.zp;
}

#if DEEPEDGE_Q8_X86
// One channel's requantization as vector constants. The two roundings of
// MultiplyByQuantizedMultiplier (SRDHM, then RoundingDivideByPOT by e = -shift) fold
// into one exact 64-bit floor division of t = x * multiplier:
//   floor((t + 2^30 + c * 2^31) / 2^(31 + e)),  c = 2^(e-1) - [t < -2^30]  (c = 0 if e = 0)
// (nested floor divisions compose; t < -2^30 is exactly when SRDHM's result is negative,
// which decides RoundingDivideByPOT's tie direction). |t| < 2^62, so nothing overflows.
struct RequantLanes {
  __m512i offset, mult, round, fix, neg_limit, lo, hi, zp;
  __m128i left, total_shift;
  bool use_float;
  __m512 scale, flo, fhi;  // use_float: the scale and the clamp bounds minus zp
};

Q8_TARGET inline RequantLanes MakeRequantLanes(const Requant& r) {
  const int left = r.shift > 0 ? r.shift : 0;
  const int e = r.shift > 0 ? 0 : -r.shift;
  RequantLanes p;
  p.offset = _mm512_set1_epi32(r.offset);
  p.mult = _mm512_set1_epi32(r.mult);
  p.round = _mm512_set1_epi64((std::int64_t{1} << 30) + (e >= 1 ? std::int64_t{1} << (30 + e) : 0));
  p.fix = _mm512_set1_epi64(e >= 1 ? std::int64_t{1} << 31 : 0);
  p.neg_limit = _mm512_set1_epi64(-(std::int64_t{1} << 30));
  p.lo = _mm512_set1_epi32(r.lo - r.zp);
  p.hi = _mm512_set1_epi32(r.hi - r.zp);
  p.zp = _mm512_set1_epi32(r.zp);
  p.left = _mm_cvtsi32_si128(left);
  p.total_shift = _mm_cvtsi32_si128(31 + e);
  p.use_float = r.use_float;
  p.scale = _mm512_set1_ps(r.scale);
  p.flo = _mm512_set1_ps(static_cast<float>(r.lo - r.zp));
  p.fhi = _mm512_set1_ps(static_cast<float>(r.hi - r.zp));
  return p;
}

// The rounded quotient for the even 32-bit lanes of x (as 64-bit lanes).
Q8_TARGET inline __m512i RequantEven64(__m512i x, const RequantLanes& p) {
  const __m512i t = _mm512_mul_epi32(x, p.mult);
  const __mmask8 neg = _mm512_cmplt_epi64_mask(t, p.neg_limit);
  __m512i u = _mm512_add_epi64(t, p.round);
  u = _mm512_mask_sub_epi64(u, neg, u, p.fix);
  return _mm512_sra_epi64(u, p.total_shift);
}

Q8_TARGET inline __m512i RequantVec(__m512i acc, const RequantLanes& p) {
  if (p.use_float) {
    // RequantOne's float rule; vcvtps2dq rounds half to even (the default MXCSR mode).
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc, p.offset)), p.scale);
    f = _mm512_min_ps(_mm512_max_ps(f, p.flo), p.fhi);
    return _mm512_add_epi32(_mm512_cvtps_epi32(f), p.zp);
  }
  const __m512i x = _mm512_sll_epi32(_mm512_add_epi32(acc, p.offset), p.left);
  const __m512i even = RequantEven64(x, p);
  const __m512i odd = RequantEven64(_mm512_srli_epi64(x, 32), p);
  // Odd results move from the low to the high half of their 64-bit lane.
  __m512i y = _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CDAB);
  y = _mm512_max_epi32(y, p.lo);
  y = _mm512_min_epi32(y, p.hi);
  return _mm512_add_epi32(y, p.zp);
}

// Saturates 16 int32 lanes to i8 or u8 and stores the first `count` (<= 16). The
// narrowing happens in a register: the narrowing store to memory (vpmovsdb m128)
// stalls for tens of cycles on AMD Zen 4; a byte-masked store does not.
Q8_TARGET inline void StoreSaturated8(__m512i y, bool i8, std::uint8_t* out, i64 count) {
  const __m128i b = i8 ? _mm512_cvtsepi32_epi8(y) : _mm512_cvtusepi32_epi8(y);
  if (count == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), b);
    return;
  }
  _mm_mask_storeu_epi8(out, static_cast<__mmask16>((1u << count) - 1), b);
}

Q8_TARGET void RequantRowSimd(const std::int32_t* acc, i64 n, const Requant& r, bool i8,
                              void* out) {
  const RequantLanes rl = MakeRequantLanes(r);
  for (i64 i = 0; i < n; i += 16) {
    const __mmask16 m =
        n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    StoreSaturated8(RequantVec(_mm512_maskz_loadu_epi32(m, acc + i), rl), i8,
                    static_cast<std::uint8_t*>(out) + i, std::min<i64>(16, n - i));
  }
}
#endif

#if DEEPEDGE_Q8_X86
// The same rules in 8 AVX2 lanes. AVX2 has no 64-bit arithmetic shift: the quotient
// is taken of t + 2^62 (non-negative as unsigned, since |t| < 2^62, and a multiple of
// 2^s added) with a logical shift, and 2^(62 - s) taken off its low 32 bits after.
// Needs s = 31 + e <= 62 (Avx2RequantFits).
struct RequantLanes8 {
  __m256i offset, mult, round, fix, neg_limit, lo, hi, zp, unbias;
  __m128i left, total_shift;
  bool use_float;
  __m256 scale, flo, fhi;
};
inline bool Avx2RequantFits(const Requant& r) {
  return r.use_float || r.shift > -32;
}
Q8_AVX2 inline RequantLanes8 MakeRequantLanes8(const Requant& r) {
  const int left = r.shift > 0 ? r.shift : 0;
  const int e = r.shift > 0 ? 0 : -r.shift;
  RequantLanes8 p;
  p.offset = _mm256_set1_epi32(r.offset);
  p.mult = _mm256_set1_epi32(r.mult);
  p.round = _mm256_set1_epi64x((std::int64_t{1} << 62) + (std::int64_t{1} << 30) +
                               (e >= 1 ? std::int64_t{1} << (30 + e) : 0));
  p.fix = _mm256_set1_epi64x(e >= 1 ? std::int64_t{1} << 31 : 0);
  p.neg_limit = _mm256_set1_epi64x(-(std::int64_t{1} << 30));
  p.lo = _mm256_set1_epi32(r.lo - r.zp);
  p.hi = _mm256_set1_epi32(r.hi - r.zp);
  p.zp = _mm256_set1_epi32(r.zp);
  p.unbias = _mm256_set1_epi32(static_cast<std::int32_t>(std::uint32_t{1} << (31 - e)));
  p.left = _mm_cvtsi32_si128(left);
  p.total_shift = _mm_cvtsi32_si128(31 + e);
  p.use_float = r.use_float;
  p.scale = _mm256_set1_ps(r.scale);
  p.flo = _mm256_set1_ps(static_cast<float>(r.lo - r.zp));
  p.fhi = _mm256_set1_ps(static_cast<float>(r.hi - r.zp));
  return p;
}
// The biased quotient of the even 32-bit lanes of x, in the low halves of 64-bit lanes.
Q8_AVX2 inline __m256i RequantEven64x4(__m256i x, const RequantLanes8& p) {
  const __m256i t = _mm256_mul_epi32(x, p.mult);
  const __m256i neg = _mm256_cmpgt_epi64(p.neg_limit, t);
  const __m256i u = _mm256_sub_epi64(_mm256_add_epi64(t, p.round), _mm256_and_si256(neg, p.fix));
  return _mm256_srl_epi64(u, p.total_shift);
}
Q8_AVX2 inline __m256i RequantVec8(__m256i acc, const RequantLanes8& p) {
  if (p.use_float) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, p.offset)), p.scale);
    f = _mm256_min_ps(_mm256_max_ps(f, p.flo), p.fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), p.zp);
  }
  const __m256i x = _mm256_sll_epi32(_mm256_add_epi32(acc, p.offset), p.left);
  const __m256i even = RequantEven64x4(x, p);
  const __m256i odd = RequantEven64x4(_mm256_srli_epi64(x, 32), p);
  __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  y = _mm256_sub_epi32(y, p.unbias);
  y = _mm256_max_epi32(y, p.lo);
  y = _mm256_min_epi32(y, p.hi);
  return _mm256_add_epi32(y, p.zp);
}
// Stores the first `count` (<= 16) of 16 requantized lanes (a then b) as bytes. The
// values are already clamped into the output type, so the saturating packs are exact.
Q8_AVX2 inline void StoreBytes16(__m256i a, __m256i b, bool i8, std::uint8_t* out, i64 count) {
  const __m256i w = _mm256_packs_epi32(a, b);
  const __m256i bytes = i8 ? _mm256_packs_epi16(w, w) : _mm256_packus_epi16(w, w);
  const __m128i v = _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0)));
  if (count == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
    return;
  }
  alignas(16) std::uint8_t tmp[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(tmp), v);
  std::memcpy(out, tmp, static_cast<std::size_t>(count));
}
Q8_AVX2 void RequantRowAvx2(const std::int32_t* acc, i64 n, const Requant& r, bool i8, void* out) {
  const RequantLanes8 rl = MakeRequantLanes8(r);
  auto* o = static_cast<std::uint8_t*>(out);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i + 8));
    StoreBytes16(RequantVec8(a, rl), RequantVec8(b, rl), i8, o + i, 16);
  }
  if (i < n) {
    alignas(32) std::int32_t tail[16] = {};
    std::memcpy(tail, acc + i, static_cast<std::size_t>(n - i) * sizeof(std::int32_t));
    StoreBytes16(RequantVec8(_mm256_load_si256(reinterpret_cast<const __m256i*>(tail)), rl),
                 RequantVec8(_mm256_load_si256(reinterpret_cast<const __m256i*>(tail + 8)), rl), i8,
                 o + i, n - i);
  }
}
#endif

// Requantizes n accumulators into out[i * stride] (out of type t).
void StoreRow(const std::int32_t* acc, i64 n, const Requant& r, DType t, void* out, i64 stride) {
#if DEEPEDGE_Q8_X86
  if (g_simd && stride == 1) {
    RequantRowSimd(acc, n, r, t == DType::kI8, out);
    return;
  }
  if (g_avx2 && stride == 1 && Avx2RequantFits(r)) {
    RequantRowAvx2(acc, n, r, t == DType::kI8, out);
    return;
  }
#endif
  if (t == DType::kI8) {
    auto* o = static_cast<std::int8_t*>(out);
    for (i64 i = 0; i < n; ++i) o[i * stride] = static_cast<std::int8_t>(RequantOne(acc[i], r));
  } else {
    auto* o = static_cast<std::uint8_t*>(out);
    for (i64 i = 0; i < n; ++i) o[i * stride] = static_cast<std::uint8_t>(RequantOne(acc[i], r));
  }
}

// ---------------------------------------------------------------------------
// int8 GEMM: tiles of kMr output channels x kNr pixels.
//
// Packed weights: per group and tile of kMr channels, [K4][kMr][4] s8 (k padded to a
// multiple of 4 with zeros, channels to kMr). Packed activations (one block of kNr
// pixels): [K4][kNr][4] u8. A tile is acc[r][l] = sum_k w[r][k] * col[l][k].

constexpr i64 kMr = 8;
constexpr i64 kNr = 32;

[[gnu::always_inline]] inline void TileGenericImpl(const std::uint8_t* col, const std::int8_t* w,
                                                   i64 k4n, std::int32_t* acc) {
  std::fill(acc, acc + kMr * kNr, 0);
  for (i64 k4 = 0; k4 < k4n; ++k4) {
    const std::uint8_t* c = col + k4 * kNr * 4;
    const std::int8_t* wk = w + k4 * kMr * 4;
    // De-interleave the block's 4 taps into rows, then plain vectorisable row updates.
    std::int32_t rows[4][kNr];
    for (i64 l = 0; l < kNr; ++l)
      for (int j = 0; j < 4; ++j) rows[j][l] = c[l * 4 + j];
    for (i64 r = 0; r < kMr; ++r) {
      std::int32_t* a = acc + r * kNr;
      const std::int32_t w0 = wk[r * 4], w1 = wk[r * 4 + 1], w2 = wk[r * 4 + 2], w3 = wk[r * 4 + 3];
      for (i64 l = 0; l < kNr; ++l) {
        // Wrapping, like the int32 accumulators of the SIMD path (no UB on huge K).
        const std::int32_t s4 =
            rows[0][l] * w0 + rows[1][l] * w1 + rows[2][l] * w2 + rows[3][l] * w3;
        a[l] = WrapAdd(a[l], s4);
      }
    }
  }
}

void TileGenericDefault(const std::uint8_t* col, const std::int8_t* w, i64 k4n, std::int32_t* acc) {
  TileGenericImpl(col, w, k4n, acc);
}
#if DEEPEDGE_Q8_X86
// The same C++ compiled for AVX2, for x86 CPUs without AVX-512 VNNI.
__attribute__((target("avx2"))) void TileGenericAvx2(const std::uint8_t* col, const std::int8_t* w,
                                                     i64 k4n, std::int32_t* acc) {
  TileGenericImpl(col, w, k4n, acc);
}
#endif
void TileGeneric(const std::uint8_t* col, const std::int8_t* w, i64 k4n, std::int32_t* acc) {
#if DEEPEDGE_Q8_X86
  if (kAvx2Available) {
    TileGenericAvx2(col, w, k4n, acc);
    return;
  }
#endif
  TileGenericDefault(col, w, k4n, acc);
}

#if DEEPEDGE_Q8_X86
// The packed activation block widened to int16 (u8 values, so zero-extended) in the
// same [K4][kNr][4] order, for TileAvx2Wide: done once per block, shared by every
// channel tile of it.
Q8_AVX2 void WidenBlockAvx2(const std::uint8_t* col, i64 k4n, std::int16_t* col16) {
  const i64 n = k4n * kNr * 4;
  for (i64 i = 0; i < n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(col + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(col16 + i), _mm256_cvtepu8_epi16(b));
  }
}

// The tile on AVX2 from a widened block: the eight channels' weights of one k4 step
// are widened once (channels 0-3 and 4-7, four int16 taps each) and every pixel's
// four int16 taps are broadcast from memory (a load, no shuffle) and multiplied by
// both with vpmaddwd, so a step costs two shuffles for 8 channels x 4 pixels instead
// of one per channel. The products are exact (vpmaddubsw on the bytes would saturate
// at 16 bits). Lanes hold tap pairs (0+1, 2+3) of a channel; each pixel's eight
// channel sums are reduced at the end. sums[p] = the 8 channels of pixel px + p.
// Not inlined: the loop needs 11 of the 16 registers, and the requantizing caller's
// constants, hoisted around it, made it spill (50 % slower).
Q8_AVX2 [[gnu::noinline]] void Avx2WideSums(const std::int16_t* col16, const std::int8_t* w,
                                            i64 k4n, i64 px, __m256i (&sums)[8]) {
  for (i64 half = 0; half < 8; half += 4) {
    __m256i lo[4], hi[4];
    for (int p = 0; p < 4; ++p) lo[p] = hi[p] = _mm256_setzero_si256();
    const std::int16_t* c = col16 + (px + half) * 4;
    const std::int8_t* wk = w;
    for (i64 k4 = 0; k4 < k4n; ++k4, c += kNr * 4, wk += kMr * 4) {
      const __m256i w03 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk)));
      const __m256i w47 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk + 16)));
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
        std::int64_t q;
        std::memcpy(&q, c + p * 4, sizeof q);
        const __m256i x = _mm256_set1_epi64x(q);
        lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(x, w03));
        hi[p] = _mm256_add_epi32(hi[p], _mm256_madd_epi16(x, w47));
      }
    }
    for (int p = 0; p < 4; ++p) {
      // [c0 c1 c4 c5 | c2 c3 c6 c7] after the pair sums, then in channel order.
      sums[half + p] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[p], hi[p]), 0xD8);
    }
  }
}

// Transposes 8 x 8 int32: r[p][c] -> r[c][p].
Q8_AVX2 [[gnu::always_inline]] inline void Transpose8x8(__m256i (&r)[8]) {
  __m256i t[8];
  for (int p = 0; p < 8; p += 2) {
    t[p] = _mm256_unpacklo_epi32(r[p], r[p + 1]);
    t[p + 1] = _mm256_unpackhi_epi32(r[p], r[p + 1]);
  }
  // u[0..3]: rows (0, 1, 2, 3 | 4, 5, 6, 7) of columns 0-3; u[4..7] of columns 4-7.
  __m256i u[8];
  for (int p = 0; p < 8; p += 4) {
    u[p] = _mm256_unpacklo_epi64(t[p], t[p + 2]);
    u[p + 1] = _mm256_unpackhi_epi64(t[p], t[p + 2]);
    u[p + 2] = _mm256_unpacklo_epi64(t[p + 1], t[p + 3]);
    u[p + 3] = _mm256_unpackhi_epi64(t[p + 1], t[p + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2x128_si256(u[c], u[c + 4], 0x20);
    r[c + 4] = _mm256_permute2x128_si256(u[c], u[c + 4], 0x31);
  }
}

Q8_AVX2 void TileAvx2Wide(const std::int16_t* col16, const std::int8_t* w, i64 k4n,
                          std::int32_t* acc) {
  for (i64 px = 0; px < kNr; px += 8) {
    __m256i v[8];
    Avx2WideSums(col16, w, k4n, px, v);
    Transpose8x8(v);
    for (int r = 0; r < 8; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kNr + px), v[r]);
    }
  }
}

// TileAvx2Wide with the requantization fused in, for the float rule (every rq[r],
// r < rows, has use_float): the sums of a pixel are requantized with per-lane
// (per-channel) constants, transposed into channel rows and stored as bytes: row r
// to out + r * row_stride, its first `valid` pixels. As TileVnniRequant, it spares
// layers with few input channels the int32 tile's store and reload.
Q8_AVX2 void TileAvx2WideRequant(const std::int16_t* col16, const std::int8_t* w, i64 k4n, i64 rows,
                                 i64 valid, const Requant* rq, bool i8, std::uint8_t* out,
                                 i64 row_stride) {
  alignas(32) std::int32_t offset[8] = {}, zp[8] = {};
  alignas(32) float scale[8] = {}, flo[8] = {}, fhi[8] = {};
  for (i64 r = 0; r < rows; ++r) {
    offset[r] = rq[r].offset;
    zp[r] = rq[r].zp;
    scale[r] = rq[r].scale;
    flo[r] = static_cast<float>(rq[r].lo - rq[r].zp);
    fhi[r] = static_cast<float>(rq[r].hi - rq[r].zp);
  }
  const __m256i voff = _mm256_load_si256(reinterpret_cast<const __m256i*>(offset));
  const __m256i vzp = _mm256_load_si256(reinterpret_cast<const __m256i*>(zp));
  const __m256 vscale = _mm256_load_ps(scale), vlo = _mm256_load_ps(flo), vhi = _mm256_load_ps(fhi);
  for (i64 px = 0; px < valid; px += 8) {
    __m256i v[8];
    Avx2WideSums(col16, w, k4n, px, v);
    for (int p = 0; p < 8; ++p) {
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(v[p], voff)), vscale);
      f = _mm256_min_ps(_mm256_max_ps(f, vlo), vhi);
      v[p] = _mm256_add_epi32(_mm256_cvtps_epi32(f), vzp);
    }
    Transpose8x8(v);
    const i64 count = std::min<i64>(8, valid - px);
    for (i64 r = 0; r < rows; r += 2) {
      // Rows r and r + 1 (values already within the output type, so the packs are
      // exact): [r 0-3, r+1 0-3 | r 4-7, r+1 4-7] as int16, then bytes; dwords 0, 4
      // are row r and 1, 5 row r + 1.
      const __m256i w16 = _mm256_packs_epi32(v[r], v[r + 1]);
      const __m256i b = i8 ? _mm256_packs_epi16(w16, w16) : _mm256_packus_epi16(w16, w16);
      const __m128i two = _mm256_castsi256_si128(
          _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0)));
      if (count == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + r * row_stride + px), two);
        if (r + 1 < rows) {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(out + (r + 1) * row_stride + px),
                           _mm_unpackhi_epi64(two, two));
        }
        continue;
      }
      alignas(16) std::uint8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), two);
      std::memcpy(out + r * row_stride + px, bytes, static_cast<std::size_t>(count));
      if (r + 1 < rows) {
        std::memcpy(out + (r + 1) * row_stride + px, bytes + 8, static_cast<std::size_t>(count));
      }
    }
  }
}
#endif

// Weights that do not fit s8 after their zero point is subtracted (u8 weights with a
// zero point): the same tile with int32 weights.
void TileWide(const std::uint8_t* col, const std::int32_t* w, i64 k4n, std::int32_t* acc) {
  std::fill(acc, acc + kMr * kNr, 0);
  for (i64 k4 = 0; k4 < k4n; ++k4) {
    const std::uint8_t* c = col + k4 * kNr * 4;
    const std::int32_t* wk = w + k4 * kMr * 4;
    for (i64 r = 0; r < kMr; ++r) {
      std::int32_t* a = acc + r * kNr;
      for (i64 l = 0; l < kNr; ++l) {
        std::int32_t s = 0;
        for (int j = 0; j < 4; ++j) s += c[l * 4 + j] * wk[r * 4 + j];
        a[l] = WrapAdd(a[l], s);
      }
    }
  }
}

#if DEEPEDGE_Q8_X86
// The tile's accumulators in registers: c0[r] / c1[r] hold pixels 0-15 / 16-31 of row r.
Q8_TARGET [[gnu::always_inline]] inline void VnniAccumulate(const std::uint8_t* col,
                                                            const std::int8_t* w, i64 k4n,
                                                            __m512i (&c0)[kMr],
                                                            __m512i (&c1)[kMr]) {
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) c0[r] = c1[r] = _mm512_setzero_si512();
  for (i64 k4 = 0; k4 < k4n; ++k4) {
    const __m512i a0 = _mm512_loadu_si512(col + k4 * kNr * 4);
    const __m512i a1 = _mm512_loadu_si512(col + k4 * kNr * 4 + 64);
    const std::int8_t* wk = w + k4 * kMr * 4;
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      std::int32_t wv;
      std::memcpy(&wv, wk + r * 4, 4);
      const __m512i b = _mm512_set1_epi32(wv);
      c0[r] = _mm512_dpbusd_epi32(c0[r], a0, b);
      c1[r] = _mm512_dpbusd_epi32(c1[r], a1, b);
    }
  }
}

Q8_TARGET void TileVnni(const std::uint8_t* col, const std::int8_t* w, i64 k4n, std::int32_t* acc) {
  __m512i c0[kMr], c1[kMr];
  VnniAccumulate(col, w, k4n, c0, c1);
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) {
    _mm512_storeu_si512(acc + r * kNr, c0[r]);
    _mm512_storeu_si512(acc + r * kNr + 16, c1[r]);
  }
}
#endif

#if DEEPEDGE_Q8_X86
// TileVnni with the requantization fused in: the accumulators go from registers
// straight to the output, row r (r < rows) to out + r * row_stride with rq[r], its
// first `valid` pixels. Storing the int32 tile and requantizing it row by row cost
// more than the GEMM itself on layers with few input channels.
Q8_TARGET void TileVnniRequant(const std::uint8_t* col, const std::int8_t* w, i64 k4n, i64 rows,
                               i64 valid, const Requant* rq, bool i8, std::uint8_t* out,
                               i64 row_stride) {
  __m512i c0[kMr], c1[kMr];
  VnniAccumulate(col, w, k4n, c0, c1);
  const i64 n0 = std::min<i64>(16, valid), n1 = std::max<i64>(0, valid - 16);
#pragma GCC unroll 8
  for (int r = 0; r < kMr; ++r) {
    if (r >= rows) break;
    std::uint8_t* o = out + r * row_stride;
    const RequantLanes rl = MakeRequantLanes(rq[r]);
    StoreSaturated8(RequantVec(c0[r], rl), i8, o, n0);
    if (n1 > 0) StoreSaturated8(RequantVec(c1[r], rl), i8, o + 16, n1);
  }
}
#endif

#if DEEPEDGE_Q8_X86
// Matrix-vector products for a few rows (fully connected layers at batch 1): one
// weight tile (8 outputs, [K4][8][4]) against `rows` u8 rows of K4 * 4 bytes, two
// k4 steps per instruction; acc[r * 8 + j].
constexpr i64 kGemvRows = 4;
Q8_TARGET void GemvVnni(const std::uint8_t* x, i64 rows, i64 x_stride, const std::int8_t* w,
                        i64 k4n, std::int32_t* acc) {
  __m512i a[kGemvRows];
  for (i64 r = 0; r < kGemvRows; ++r) a[r] = _mm512_setzero_si512();
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  i64 k4 = 0;
  for (; k4 + 2 <= k4n; k4 += 2) {
    const __m512i wv = _mm512_loadu_si512(w + k4 * kMr * 4);
    for (i64 r = 0; r < rows; ++r) {
      const __m128i q =
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + r * x_stride + k4 * 4));
      a[r] =
          _mm512_dpbusd_epi32(a[r], _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(q)), wv);
    }
  }
  if (k4 < k4n) {
    const __m512i wv = _mm512_maskz_loadu_epi32(0x00FF, w + k4 * kMr * 4);
    for (i64 r = 0; r < rows; ++r) {
      std::int32_t q;
      std::memcpy(&q, x + r * x_stride + k4 * 4, 4);
      a[r] = _mm512_dpbusd_epi32(a[r], _mm512_set1_epi32(q), wv);
    }
  }
  for (i64 r = 0; r < rows; ++r) {
    const __m256i sum =
        _mm256_add_epi32(_mm512_castsi512_si256(a[r]), _mm512_extracti64x4_epi64(a[r], 1));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kMr), sum);
  }
}
#endif

#if DEEPEDGE_Q8_X86
// GemvVnni on AVX2: each k4 step widens the tile's 32 weight bytes to int16 once (rows
// 0-3 and 4-7) and multiplies them by every row's four inputs with vpmaddwd; pairs of
// lanes are summed at the end.
Q8_AVX2 void GemvAvx2(const std::uint8_t* x, i64 rows, i64 x_stride, const std::int8_t* w, i64 k4n,
                      std::int32_t* acc) {
  __m256i lo[kGemvRows], hi[kGemvRows];
  for (i64 r = 0; r < kGemvRows; ++r) lo[r] = hi[r] = _mm256_setzero_si256();
  for (i64 k4 = 0; k4 < k4n; ++k4) {
    const std::int8_t* wk = w + k4 * kMr * 4;
    const __m256i w03 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk)));
    const __m256i w47 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wk + 16)));
    for (i64 r = 0; r < rows; ++r) {
      std::int32_t q;
      std::memcpy(&q, x + r * x_stride + k4 * 4, sizeof q);
      const __m256i xq = _mm256_cvtepu8_epi16(_mm_set1_epi32(q));
      lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(xq, w03));
      hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(xq, w47));
    }
  }
  for (i64 r = 0; r < rows; ++r) {
    // [c0 c1 c4 c5 | c2 c3 c6 c7] after the pair sums, then in channel order.
    const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[r], hi[r]), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + r * kMr), sums);
  }
}
#endif

struct PackedWeights {
  i64 M = 0;   // output channels (all groups)
  i64 G = 1;   // groups
  i64 Mg = 0;  // channels per group
  i64 K = 0;   // reduction length per group
  i64 K4 = 0;  // ceil(K / 4)
  i64 MT = 0;  // tiles of kMr channels per group
  bool narrow = true;
  std::vector<std::int8_t> w8;     // narrow
  std::vector<std::int32_t> w32;   // !narrow
  std::vector<std::int32_t> wsum;  // [M]: sum over k of (w - w_zp)
  const std::int8_t* Tile8(i64 g, i64 mt) const {
    return w8.data() + ((g * MT + mt) * K4) * kMr * 4;
  }
  const std::int32_t* Tile32(i64 g, i64 mt) const {
    return w32.data() + ((g * MT + mt) * K4) * kMr * 4;
  }
};

// Weights w[m][k] (m < M, k < K per group, row-major) of type T minus zero points.
template <typename T>
PackedWeights PackWeights(const T* w, i64 M, i64 G, i64 K, const std::vector<std::int32_t>& zp) {
  PackedWeights p;
  p.M = M;
  p.G = G;
  p.Mg = M / G;
  p.K = K;
  p.K4 = (K + 3) / 4;
  p.MT = (p.Mg + kMr - 1) / kMr;
  p.wsum.assign(static_cast<std::size_t>(M), 0);
  auto value = [&](i64 m, i64 k) {
    const std::int32_t z = zp.empty() ? 0 : zp[zp.size() == 1 ? 0 : static_cast<std::size_t>(m)];
    return static_cast<std::int32_t>(w[m * K + k]) - z;
  };
  for (i64 m = 0; m < M; ++m) {
    for (i64 k = 0; k < K; ++k) {
      const std::int32_t v = value(m, k);
      p.wsum[static_cast<std::size_t>(m)] += v;
      if (v < -128 || v > 127) p.narrow = false;
    }
  }
  const auto size = static_cast<std::size_t>(G * p.MT * p.K4 * kMr * 4);
  if (p.narrow) {
    p.w8.assign(size, 0);
  } else {
    p.w32.assign(size, 0);
  }
  for (i64 g = 0; g < G; ++g) {
    for (i64 mi = 0; mi < p.Mg; ++mi) {
      const i64 m = g * p.Mg + mi, mt = mi / kMr, r = mi % kMr;
      for (i64 k = 0; k < K; ++k) {
        const auto idx =
            static_cast<std::size_t>((((g * p.MT + mt) * p.K4 + k / 4) * kMr + r) * 4 + k % 4);
        if (p.narrow) {
          p.w8[idx] = static_cast<std::int8_t>(value(m, k));
        } else {
          p.w32[idx] = value(m, k);
        }
      }
    }
  }
  return p;
}

// The GEMM driver: for every batch b (image x group), block of kNr pixels and chunk
// of channel tiles: pack(b, p0, col) fills a [K4][kNr][4] u8 block, then each tile's
// accumulators go to store(b, channel-in-group, p0, acc[kNr], valid pixels).
//
// `direct` (optional): direct(b, m) -> {&rq[m], output row of channel m at pixel 0},
// channel rows kNr-contiguous and `row_stride` apart. Where the SIMD tile applies, the
// tile then requantizes from registers and `store` is not called.
struct DirectRow {
  const Requant* rq;
  std::uint8_t* out;
};
template <typename Pack, typename Store, typename Direct = std::nullptr_t>
void RunGemm(KernelContext& ctx, const PackedWeights& pw, i64 batches, i64 P, Pack&& pack,
             Store&& store, Direct&& direct = nullptr, bool i8 = true, i64 row_stride = 0) {
  const i64 blocks = (P + kNr - 1) / kNr;
  // Split the channel tiles too when there are few pixel blocks, so that every
  // thread gets work; the blocks are then packed once, up front, for all chunks.
  const i64 want = 4 * static_cast<i64>(ctx.threads());
  i64 chunks = 1;
  while (batches * blocks * chunks < want && chunks * 2 <= pw.MT) chunks *= 2;
  const i64 tiles_per_chunk = (pw.MT + chunks - 1) / chunks;
  const i64 col_size = pw.K4 * kNr * 4;
  // The AVX2 tile reads the block widened to int16 (TileAvx2Wide).
#if DEEPEDGE_Q8_X86
  const bool wide16 = g_avx2 && pw.narrow;
#else
  const bool wide16 = false;
#endif
  std::vector<std::uint8_t> shared;
  std::vector<std::int16_t> shared16;
  if (chunks > 1) {
    shared.resize(static_cast<std::size_t>(batches * blocks * col_size + 64));
    if (wide16) shared16.resize(static_cast<std::size_t>(batches * blocks * col_size));
    ctx.ParallelFor(
        static_cast<std::size_t>(batches * blocks), [&](std::size_t b0, std::size_t b1) {
          for (std::size_t j = b0; j < b1; ++j) {
            const i64 bb = static_cast<i64>(j);
            pack(bb / blocks, (bb % blocks) * kNr, shared.data() + bb * col_size);
#if DEEPEDGE_Q8_X86
            if (wide16) {
              WidenBlockAvx2(shared.data() + bb * col_size, pw.K4, shared16.data() + bb * col_size);
            }
#endif
          }
        });
  }
  const auto jobs = static_cast<std::size_t>(batches * blocks * chunks);
  ctx.ParallelFor(jobs, [&](std::size_t begin, std::size_t end) {
    std::vector<std::uint8_t> own(chunks > 1 ? 0 : static_cast<std::size_t>(col_size + 64));
    std::vector<std::int16_t> own16(chunks > 1 || !wide16 ? 0 : static_cast<std::size_t>(col_size));
    alignas(64) std::int32_t acc[kMr * kNr];
    i64 packed_b = -1, packed_p0 = -1;
    for (std::size_t j = begin; j < end; ++j) {
      const i64 job = static_cast<i64>(j);
      const i64 chunk = job % chunks;
      const i64 blk = (job / chunks) % blocks;
      const i64 b = job / chunks / blocks;
      const i64 p0 = blk * kNr;
      const std::uint8_t* col = own.data();
      const std::int16_t* col16 = own16.data();
      if (chunks > 1) {
        col = shared.data() + (b * blocks + blk) * col_size;
        if (wide16) col16 = shared16.data() + (b * blocks + blk) * col_size;
      } else if (b != packed_b || p0 != packed_p0) {
        pack(b, p0, own.data());
#if DEEPEDGE_Q8_X86
        if (wide16) WidenBlockAvx2(own.data(), pw.K4, own16.data());
#endif
        packed_b = b;
        packed_p0 = p0;
      }
      const i64 g = b % pw.G;
      const i64 valid = std::min(kNr, P - p0);
      const i64 mt_end = std::min(pw.MT, (chunk + 1) * tiles_per_chunk);
      for (i64 mt = chunk * tiles_per_chunk; mt < mt_end; ++mt) {
        const i64 rows = std::min(kMr, pw.Mg - mt * kMr);
#if DEEPEDGE_Q8_X86
        if constexpr (!std::is_same_v<std::decay_t<Direct>, std::nullptr_t>) {
          if (g_simd && pw.narrow) {
            const DirectRow d = direct(b, mt * kMr);
            TileVnniRequant(col, pw.Tile8(g, mt), pw.K4, rows, valid, d.rq, i8, d.out + p0,
                            row_stride);
            continue;
          }
          if (wide16) {
            const DirectRow d = direct(b, mt * kMr);
            if (std::all_of(d.rq, d.rq + rows, [](const Requant& r) { return r.use_float; })) {
              TileAvx2WideRequant(col16, pw.Tile8(g, mt), pw.K4, rows, valid, d.rq, i8, d.out + p0,
                                  row_stride);
              continue;
            }
          }
        }
#endif
        if (!pw.narrow) {
          TileWide(col, pw.Tile32(g, mt), pw.K4, acc);
        } else {
#if DEEPEDGE_Q8_X86
          if (g_simd) {
            TileVnni(col, pw.Tile8(g, mt), pw.K4, acc);
          } else if (wide16) {
            TileAvx2Wide(col16, pw.Tile8(g, mt), pw.K4, acc);
          } else {
            TileGeneric(col, pw.Tile8(g, mt), pw.K4, acc);
          }
#else
          TileGeneric(col, pw.Tile8(g, mt), pw.K4, acc);
#endif
        }
        for (i64 r = 0; r < rows; ++r) store(b, mt * kMr + r, p0, acc + r * kNr, valid);
      }
    }
  });
}

// Runs fn(plane_begin, plane_end, row_begin, row_end) over `planes` planes of `rows` rows
// each. With several threads every thread takes one band of rows in all planes (jobs
// band-major, so pthreadpool's contiguous ranges hand thread t band t; the planes go in
// chunks so that stealing still balances), the same split by pixels as the pointwise
// convolutions' 32-pixel blocks. Why: splitting by planes instead had every thread read
// about half of its input from the other core's cache, because the layer before had
// split by pixels. Band borders fall on multiples of `row_align` rows.
template <typename Fn>
void ForBandsOfPlanes(KernelContext& ctx, i64 planes, i64 rows, i64 row_align, Fn&& fn) {
  const i64 threads = ctx.threads();
  const i64 units = (rows + row_align - 1) / row_align;
  const i64 bands = std::min(threads, units);
  if (bands <= 1) {
    ctx.ParallelFor(static_cast<std::size_t>(planes), [&](std::size_t b, std::size_t e) {
      fn(static_cast<i64>(b), static_cast<i64>(e), i64{0}, rows);
    });
    return;
  }
  const i64 chunks = std::min(planes, (4 * threads + bands - 1) / bands);
  ctx.ParallelFor(static_cast<std::size_t>(bands * chunks), [&](std::size_t b, std::size_t e) {
    for (std::size_t j = b; j < e; ++j) {
      const i64 band = static_cast<i64>(j) / chunks, chunk = static_cast<i64>(j) % chunks;
      const i64 r0 = std::min(rows, units * band / bands * row_align);
      const i64 r1 = std::min(rows, units * (band + 1) / bands * row_align);
      fn(planes * chunk / chunks, planes * (chunk + 1) / chunks, r0, r1);
    }
  });
}

// ---------------------------------------------------------------------------
// QConv / QGemm

struct ConvGeom {
  i64 N = 1, C = 0, H = 0, W = 0, M = 0, G = 1, kh = 1, kw = 1;
  i64 sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0, OH = 0, OW = 0;
};

// Output size and pads along one axis (ONNX Conv / pooling rules).
Status ResolveAxis(const ir::Node& n, const std::string& auto_pad, i64 in, i64 k, i64 s, i64 d,
                   i64 pad_b, i64 pad_e, bool ceil_mode, i64& pb, i64& pe, i64& out) {
  const i64 dk = (k - 1) * d + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    out = (in + s - 1) / s;
    const i64 total = std::max<i64>(0, (out - 1) * s + dk - in);
    pb = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pe = total - pb;
    return Status::Ok();
  }
  if (auto_pad == "VALID") {
    pb = pe = 0;
  } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
    pb = pad_b;
    pe = pad_e;
  } else {
    return AttrError(n, "unknown auto_pad '" + auto_pad + "'");
  }
  const i64 span = in + pb + pe - dk;
  if (span < 0) return AttrError(n, "the window does not fit the padded input");
  if (ceil_mode) {
    out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= in + pb) --out;
  } else {
    out = span / s + 1;
  }
  return Status::Ok();
}

// The 2-D window geometry of a node over x [N, C, H, W] with kernel kh x kw.
Status PlanWindow(const ir::Node& n, const Shape& x, i64 kh, i64 kw, bool ceil_mode, ConvGeom& g) {
  if (x.rank() != 4) {
    return AttrError(n, "input must be 4-D [N, C, H, W], got " + x.ToString());
  }
  g.N = x[0];
  g.C = x[1];
  g.H = x[2];
  g.W = x[3];
  g.kh = kh;
  g.kw = kw;
  const auto strides = n.GetInts("strides", {1, 1});
  const auto dil = n.GetInts("dilations", {1, 1});
  const auto pads = n.GetInts("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) {
    return AttrError(n, "strides, dilations and pads must have 2, 2 and 4 values (2-D only)");
  }
  for (i64 v : strides)
    if (v < 1) return AttrError(n, "strides must be positive");
  for (i64 v : dil)
    if (v < 1) return AttrError(n, "dilations must be positive");
  for (i64 v : pads)
    if (v < 0) return AttrError(n, "pads must be non-negative");
  if (kh < 1 || kw < 1) return AttrError(n, "the kernel must be at least 1x1");
  g.sh = strides[0];
  g.sw = strides[1];
  g.dh = dil[0];
  g.dw = dil[1];
  const std::string auto_pad = n.GetString("auto_pad", "NOTSET");
  DEEPEDGE_RETURN_IF_ERROR(
      ResolveAxis(n, auto_pad, g.H, kh, g.sh, g.dh, pads[0], pads[2], ceil_mode, g.pt, g.pb, g.OH));
  DEEPEDGE_RETURN_IF_ERROR(
      ResolveAxis(n, auto_pad, g.W, kw, g.sw, g.dw, pads[1], pads[3], ceil_mode, g.pl, g.pr, g.OW));
  if (g.OH < 1 || g.OW < 1) return AttrError(n, "empty output");
  return Status::Ok();
}

// Packs kNr output pixels [p0, p0 + kNr) of one image / group of a pointwise
// convolution (1x1, stride 1, no padding): col[k4][l][j] = x[4 * k4 + j][p0 + l] in
// the u8 domain; pixels past the end read the zero point, channels past K read 0.
template <typename T>
void PackPointwiseBlock(const ConvGeom& g, i64 cg, const T* x, i64 p0, i64 K4, std::uint8_t zxu,
                        std::uint8_t* col) {
  const i64 P = g.OH * g.OW;
  const i64 n = std::min(kNr, P - p0);
  for (i64 k = 0; k < K4 * 4; ++k) {
    std::uint8_t* d = col + (k / 4) * kNr * 4 + (k % 4);
    if (k >= cg) {
      for (i64 l = 0; l < kNr; ++l) d[l * 4] = 0;
      continue;
    }
    const T* src = x + k * P + p0;
    for (i64 l = 0; l < n; ++l) d[l * 4] = ToU8(src[l]);
    for (i64 l = n; l < kNr; ++l) d[l * 4] = zxu;
  }
}

#if DEEPEDGE_Q8_X86
// PackPointwiseBlock with AVX-512: 16 pixels of four channels at a time, each byte
// widened to a 32-bit lane and the four channels shifted into its bytes. `flip` is
// 0x80 for i8 input (what ToU8 adds), 0 for u8.
Q8_TARGET void PackPointwiseBlockSimd(const std::uint8_t* x, std::uint8_t flip, i64 P, i64 cg,
                                      i64 p0, i64 K4, std::uint8_t zxu, std::uint8_t* col) {
  const i64 n = std::min(kNr, P - p0);
  const __m128i vflip = _mm_set1_epi8(static_cast<char>(flip));
  const __m128i vz = _mm_set1_epi8(static_cast<char>(zxu));
  for (i64 k4 = 0; k4 < K4; ++k4) {
    for (i64 half = 0; half < kNr; half += 16) {
      const i64 valid = std::clamp<i64>(n - half, 0, 16);
      const auto m = static_cast<__mmask16>((1u << valid) - 1);
      __m512i v = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        const i64 k = 4 * k4 + j;
        if (k >= cg) break;  // channels past K read 0
        const __m128i raw = _mm_maskz_loadu_epi8(m, x + k * P + p0 + half);
        const __m128i u = _mm_mask_blend_epi8(m, vz, _mm_xor_si128(raw, vflip));
        v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_cvtepu8_epi32(u), 8 * j));
      }
      _mm512_storeu_si512(col + (k4 * kNr + half) * 4, v);
    }
  }
}
#endif

#if DEEPEDGE_Q8_X86
// Four rows of 32 bytes (r[j][l]) interleaved byte by byte into out[l][j] (unpack 8
// then 16 bits, lane halves put back in order).
Q8_AVX2 inline void InterleaveFourRows(const __m256i (&r)[4], std::uint8_t* out) {
  const __m256i lo01 = _mm256_unpacklo_epi8(r[0], r[1]), hi01 = _mm256_unpackhi_epi8(r[0], r[1]);
  const __m256i lo23 = _mm256_unpacklo_epi8(r[2], r[3]), hi23 = _mm256_unpackhi_epi8(r[2], r[3]);
  // Pixels 0-3 | 16-19, 4-7 | 20-23, 8-11 | 24-27, 12-15 | 28-31.
  const __m256i a = _mm256_unpacklo_epi16(lo01, lo23), b = _mm256_unpackhi_epi16(lo01, lo23);
  const __m256i c = _mm256_unpacklo_epi16(hi01, hi23), d = _mm256_unpackhi_epi16(hi01, hi23);
  auto* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o, _mm256_permute2x128_si256(a, b, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(c, d, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(a, b, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(c, d, 0x31));
}

// PackPointwiseBlock with AVX2: four channel rows of 32 pixels interleaved byte by
// byte (unpack 8 then 16 bits, lane halves put back in order). A short block or a
// group of channels past K goes through a filled copy of its rows.
Q8_AVX2 void PackPointwiseBlockAvx2(const std::uint8_t* x, std::uint8_t flip, i64 P, i64 cg, i64 p0,
                                    i64 K4, std::uint8_t zxu, std::uint8_t* col) {
  const i64 n = std::min(kNr, P - p0);
  const __m256i vflip = _mm256_set1_epi8(static_cast<char>(flip));
  alignas(32) std::uint8_t rows[4][kNr];
  for (i64 k4 = 0; k4 < K4; ++k4) {
    __m256i r[4];
    if (n == kNr && 4 * k4 + 3 < cg) {
      for (int j = 0; j < 4; ++j) {
        r[j] = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + (4 * k4 + j) * P + p0)), vflip);
      }
    } else {
      for (int j = 0; j < 4; ++j) {
        const i64 k = 4 * k4 + j;
        // Channels past K read 0, pixels past the end the zero point (as u8).
        std::memset(rows[j], k < cg ? zxu : 0, kNr);
        if (k < cg) {
          for (i64 l = 0; l < n; ++l)
            rows[j][l] = static_cast<std::uint8_t>(x[k * P + p0 + l] ^ flip);
        }
        r[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows[j]));
      }
    }
    InterleaveFourRows(r, col + k4 * kNr * 4);
  }
}

// The output pixels [p0, p0 + n) of a block fall in runs along output rows: run i
// covers pixels [l0, l0 + len) of the block, which start at padded-input offset off
// (tap (0, 0), channel 0). Returns the number of runs (at most kNr).
struct PixelRun {
  i64 l0, len, off;
};
inline int BlockRuns(const ConvGeom& g, i64 Wp, i64 p0, i64 n, PixelRun* runs) {
  int nruns = 0;
  for (i64 l = 0; l < n;) {
    const i64 p = p0 + l, oh = p / g.OW, ow = p % g.OW;
    const i64 len = std::min(n - l, g.OW - ow);
    runs[nruns++] = PixelRun{l, len, oh * g.sh * Wp + ow * g.sw};
    l += len;
  }
  return nruns;
}

// PackPaddedBlockSimd on AVX2 (column strides 1 and 2, dilation 1 along x). AVX2 has
// no byte-masked store: each run's 32 loaded bytes go whole into the tap row, runs
// in pixel order, so the next run overwrites the previous one's tail; the last
// run's tail lands in the row's slack or on pixels past the block's end (never
// stored). Reads at most 64 bytes past a run's start, as PackPaddedBlockSimd.
Q8_AVX2 void PackPaddedBlockAvx2(const ConvGeom& g, i64 cg, const std::uint8_t* xp, i64 Hp, i64 Wp,
                                 i64 p0, i64 K4, std::uint8_t* col) {
  const i64 P = g.OH * g.OW;
  const i64 ksp = g.kh * g.kw;
  const i64 K = cg * ksp;
  const i64 n = std::min(kNr, P - p0);
  PixelRun runs[kNr];
  const int nruns = BlockRuns(g, Wp, p0, n, runs);
  const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
  alignas(32) std::uint8_t taps[4][2 * kNr];
  for (i64 k4 = 0; k4 < K4; ++k4) {
    __m256i r[4];
    for (int j = 0; j < 4; ++j) {
      const i64 k = 4 * k4 + j;
      if (k >= K) {
        r[j] = _mm256_setzero_si256();  // channels past K read 0
        continue;
      }
      const i64 c = k / ksp, rem = k % ksp, ky = rem / g.kw, kx = rem % g.kw;
      const std::uint8_t* base = xp + c * Hp * Wp + ky * g.dh * Wp + kx;
      for (int ri = 0; ri < nruns; ++ri) {
        const std::uint8_t* src = base + runs[ri].off;
        __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
        if (g.sw == 2) {
          const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
          v = _mm256_permute4x64_epi64(
              _mm256_packus_epi16(_mm256_and_si256(v, low_bytes), _mm256_and_si256(v1, low_bytes)),
              0xD8);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(taps[j] + runs[ri].l0), v);
      }
      r[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(taps[j]));
    }
    InterleaveFourRows(r, col + k4 * kNr * 4);
  }
}
#endif

// Bytes past the padded input copy that PackPaddedBlockSimd may read.
constexpr i64 kPackSlack = 64;

// The same for any convolution, from a padded u8 copy of the input (planes of
// Hp x Wp whose borders hold the zero point), so that no tap needs a bounds check.
void PackPaddedBlock(const ConvGeom& g, i64 cg, const std::uint8_t* xp, i64 Hp, i64 Wp, i64 p0,
                     i64 K4, std::uint8_t* col) {
  const i64 P = g.OH * g.OW;
  const i64 ksp = g.kh * g.kw;
  const i64 K = cg * ksp;
  i64 off[kNr];
  for (i64 l = 0; l < kNr; ++l) {
    const i64 p = p0 + l;
    off[l] = p < P ? (p / g.OW) * g.sh * Wp + (p % g.OW) * g.sw : 0;  // past the end: any pixel
  }
  for (i64 k = 0; k < K; ++k) {
    const i64 c = k / ksp, r = k % ksp, ky = r / g.kw, kx = r % g.kw;
    const std::uint8_t* src = xp + c * Hp * Wp + ky * g.dh * Wp + kx * g.dw;
    std::uint8_t* d = col + (k / 4) * kNr * 4 + (k % 4);
    for (i64 l = 0; l < kNr; ++l) d[l * 4] = src[off[l]];
  }
  for (i64 k = K; k < K4 * 4; ++k) {
    std::uint8_t* d = col + (k / 4) * kNr * 4 + (k % 4);
    for (i64 l = 0; l < kNr; ++l) d[l * 4] = 0;
  }
}

#if DEEPEDGE_Q8_X86
// PackPaddedBlock with AVX-512 for column strides 1 and 2 (dilation 1 along x): the
// block's pixels fall in a few output-row runs; each run of each tap is one (masked)
// load, stride 2 keeping the even bytes, and four taps are then interleaved into the
// [kNr][4] layout as in PackPointwiseBlockSimd. Reads at most 64 bytes past a run's
// start (the caller pads xp by kPackSlack bytes).
Q8_TARGET void PackPaddedBlockSimd(const ConvGeom& g, i64 cg, const std::uint8_t* xp, i64 Hp,
                                   i64 Wp, i64 p0, i64 K4, std::uint8_t* col) {
  const i64 P = g.OH * g.OW;
  const i64 ksp = g.kh * g.kw;
  const i64 K = cg * ksp;
  const i64 n = std::min(kNr, P - p0);
  PixelRun runs[kNr];
  const int nruns = BlockRuns(g, Wp, p0, n, runs);
  for (i64 k4 = 0; k4 < K4; ++k4) {
    alignas(64) std::uint8_t taps[4][kNr] = {};  // pixels past the end read 0: never stored
    for (int j = 0; j < 4; ++j) {
      const i64 k = 4 * k4 + j;
      if (k >= K) break;
      const i64 c = k / ksp, r = k % ksp, ky = r / g.kw, kx = r % g.kw;
      const std::uint8_t* base = xp + c * Hp * Wp + ky * g.dh * Wp + kx;
      for (int ri = 0; ri < nruns; ++ri) {
        const PixelRun& run = runs[ri];
        const auto m = static_cast<__mmask32>((std::uint64_t{1} << run.len) - 1);
        __m256i v;
        if (g.sw == 1) {
          v = _mm256_maskz_loadu_epi8(m, base + run.off);
        } else {
          v = _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi16(m, base + run.off));
        }
        _mm256_mask_storeu_epi8(taps[j] + run.l0, m, v);
      }
    }
    for (i64 half = 0; half < kNr; half += 16) {
      __m512i v = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        const __m128i t = _mm_load_si128(reinterpret_cast<const __m128i*>(taps[j] + half));
        v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_cvtepu8_epi32(t), 8 * j));
      }
      _mm512_storeu_si512(col + (k4 * kNr + half) * 4, v);
    }
  }
}
#endif

// Packs rows [p0, p0 + kNr) of x [rows, K] (rows past the end read the zero point).
template <typename T>
void PackRowsBlock(const T* x, i64 rows, i64 K, i64 p0, i64 K4, std::uint8_t zxu,
                   std::uint8_t* col) {
  for (i64 l = 0; l < kNr; ++l) {
    const i64 p = p0 + l;
    const T* row = p < rows ? x + p * K : nullptr;
    for (i64 k = 0; k < K4 * 4; ++k) {
      std::uint8_t v = 0;
      if (k < K) v = row != nullptr ? ToU8(row[k]) : zxu;
      col[(k / 4) * kNr * 4 + l * 4 + (k % 4)] = v;
    }
  }
}

// Depthwise accumulation of one output plane from the padded input plane, for equal
// strides s: acc[oh * Wp + ow] = sum over taps of w * pad[s * (oh * Wp + ow) + tap]
// (columns ow >= OW are scratch). One long vectorisable loop per tap.
[[gnu::always_inline]] inline void DwPlaneImpl(const std::int16_t* pad, i64 Wp,
                                               const std::int16_t* w, const ConvGeom& g,
                                               std::int32_t* acc) {
  const i64 n = g.OH * Wp;
  for (i64 j = 0; j < n; ++j) acc[j] = 0;
  for (i64 ky = 0; ky < g.kh; ++ky) {
    for (i64 kx = 0; kx < g.kw; ++kx) {
      const std::int32_t wv = w[ky * g.kw + kx];
      const std::int16_t* src = pad + ky * g.dh * Wp + kx * g.dw;
      if (g.sh == 1) {
        for (i64 j = 0; j < n; ++j) acc[j] += wv * src[j];
      } else if (g.sh == 2) {
        for (i64 j = 0; j < n; ++j) acc[j] += wv * src[2 * j];
      } else {
        for (i64 j = 0; j < n; ++j) acc[j] += wv * src[g.sh * j];
      }
    }
  }
}
// Unequal strides: row by row.
void DwRows(const std::int16_t* pad, i64 Wp, const std::int16_t* w, const ConvGeom& g,
            std::int32_t* acc) {
  for (i64 oh = 0; oh < g.OH; ++oh) {
    std::int32_t* a = acc + oh * Wp;
    for (i64 ow = 0; ow < g.OW; ++ow) a[ow] = 0;
    for (i64 ky = 0; ky < g.kh; ++ky) {
      const std::int16_t* row = pad + (oh * g.sh + ky * g.dh) * Wp;
      for (i64 kx = 0; kx < g.kw; ++kx) {
        const std::int32_t wv = w[ky * g.kw + kx];
        for (i64 ow = 0; ow < g.OW; ++ow) a[ow] += wv * row[ow * g.sw + kx * g.dw];
      }
    }
  }
}
void DwPlaneGeneric(const std::int16_t* pad, i64 Wp, const std::int16_t* w, const ConvGeom& g,
                    std::int32_t* acc) {
  DwPlaneImpl(pad, Wp, w, g, acc);
}
#if DEEPEDGE_Q8_X86
__attribute__((target("avx2"))) void DwPlaneAvx2(const std::int16_t* pad, i64 Wp,
                                                 const std::int16_t* w, const ConvGeom& g,
                                                 std::int32_t* acc) {
  DwPlaneImpl(pad, Wp, w, g, acc);
}
Q8_TARGET void DwPlaneSimd(const std::int16_t* pad, i64 Wp, const std::int16_t* w,
                           const ConvGeom& g, std::int32_t* acc) {
  DwPlaneImpl(pad, Wp, w, g, acc);
}
#endif

#if DEEPEDGE_Q8_X86
// 3x3 depthwise planes (dilation 1, stride 1 or 2) in registers, requantized straight
// to out (OH rows of OW bytes). The taps go in pairs through vpdpwssd (int16 pairs
// multiplied and summed into int32), so a row of three taps is two instructions:
//   stride 2: lane i of the load at column 2 * i holds (x[2i], x[2i+1]), the taps
//     w0, w1 of output i; the load at column 2 * i + 2 adds w2 (paired with 0).
//   stride 1: even outputs take (w0, w1) at column 2i and (w2, 0) at 2i + 2; odd
//     outputs (w0, w1) at 2i + 1 and (0, w2) at 2i + 2; the two halves are
//     interleaved again after the narrowing to bytes.
// Reads up to (s * (OH - 1) + 3) * Wp + s * RoundUp(OW, 32) + 34 elements of pad.
#if DEEPEDGE_Q8_X86
// dst[h * pitch + w] = x[h * W + w] - zp as int16, x an i8 (`i8`) or u8 plane of H x W.
Q8_TARGET void WidenPlaneSimd(const std::uint8_t* x, bool i8, std::int32_t zp, i64 H, i64 W,
                              std::int16_t* dst, i64 pitch) {
  const __m512i vzp = _mm512_set1_epi16(static_cast<std::int16_t>(zp));
  for (i64 h = 0; h < H; ++h) {
    for (i64 w = 0; w < W; w += 32) {
      const i64 count = std::min<i64>(32, W - w);
      const auto m = static_cast<__mmask32>((std::uint64_t{1} << count) - 1);
      const __m256i b = _mm256_maskz_loadu_epi8(m, x + h * W + w);
      const __m512i v = i8 ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
      const __m512i d = _mm512_sub_epi16(v, vzp);
      if (count == 32) {
        _mm512_storeu_si512(dst + h * pitch + w, d);
      } else {
        _mm512_mask_storeu_epi16(dst + h * pitch + w, m, d);
      }
    }
  }
}
#endif

#if DEEPEDGE_Q8_X86
// The same on AVX2, 16 pixels at a time, then 8. The row's last partial group of 8
// goes whole too when a next row follows (W >= 7: the load then stays within that row)
// and the padding it overwrote is zeroed again (the next row's interior is rewritten
// when its turn comes): 7x7 and 14x14 planes had been widened mostly in plain C++.
// The last row's partial group is done in plain C++.
Q8_AVX2 void WidenPlaneAvx2(const std::uint8_t* x, bool i8, std::int32_t zp, i64 H, i64 W,
                            std::int16_t* dst, i64 pitch) {
  const __m256i vzp = _mm256_set1_epi16(static_cast<std::int16_t>(zp));
  const __m128i vzp8 = _mm_set1_epi16(static_cast<std::int16_t>(zp));
  auto widen8 = [i8, vzp8](const std::uint8_t* s, std::int16_t* d) Q8_AVX2 {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));
    const __m128i v = i8 ? _mm_cvtepi8_epi16(b) : _mm_cvtepu8_epi16(b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_sub_epi16(v, vzp8));
  };
  for (i64 h = 0; h < H; ++h) {
    const std::uint8_t* src = x + h * W;
    std::int16_t* d = dst + h * pitch;
    i64 w = 0;
    for (; w + 16 <= W; w += 16) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + w));
      const __m256i v = i8 ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + w), _mm256_sub_epi16(v, vzp));
    }
    for (; w + 8 <= W; w += 8) widen8(src + w, d + w);
    if (w < W && h + 1 < H && W >= 7) {
      widen8(src + w, d + w);
      std::fill(d + W, d + std::min(w + 8, pitch), std::int16_t{0});
      continue;
    }
    for (; w < W; ++w) {
      const std::int32_t v = i8 ? static_cast<std::int8_t>(src[w]) : src[w];
      d[w] = static_cast<std::int16_t>(v - zp);
    }
  }
}
#endif

// dst[h * pitch + w] = plane[h * W + w] - zp as int16 (a depthwise input plane into the
// interior of its padded copy).
template <typename T>
void WidenPlane(const T* plane, std::int32_t zp, i64 H, i64 W, std::int16_t* dst, i64 pitch) {
#if DEEPEDGE_Q8_X86
  if (g_simd) {
    WidenPlaneSimd(reinterpret_cast<const std::uint8_t*>(plane), std::is_same_v<T, std::int8_t>, zp,
                   H, W, dst, pitch);
    return;
  }
  if (g_avx2) {
    WidenPlaneAvx2(reinterpret_cast<const std::uint8_t*>(plane), std::is_same_v<T, std::int8_t>, zp,
                   H, W, dst, pitch);
    return;
  }
#endif
  for (i64 h = 0; h < H; ++h) {
    std::int16_t* __restrict d = dst + h * pitch;
    const T* __restrict src = plane + h * W;
    for (i64 w = 0; w < W; ++w)
      d[w] = static_cast<std::int16_t>(static_cast<std::int32_t>(src[w]) - zp);
  }
}

// Whether a stride-1 3x3 plane takes fewer blocks of `block` outputs flattened (OH * Wp
// positions) than row by row (OH * RoundUp(OW, block)).
inline bool Dw3x3Flattened(const ConvGeom& g, i64 Wp, i64 block) {
  return (g.OH * Wp + block - 1) / block < g.OH * ((g.OW + block - 1) / block);
}

// Copies `rows` rows of `width` bytes, `pitch` apart in `scratch`, to consecutive rows
// of `out`. Narrow rows go as one fixed-size copy each (8 or 16 bytes, at most twice
// the width), in order, so that a row's overrun lands on the rows after it before
// they are written; the last row is copied exactly (what follows it is another
// plane's, maybe another thread's). Variable-length memcpy calls per 7-byte row had
// cost a third of a 7x7 depthwise layer. Reads up to 16 bytes from each row start.
inline void CopyRows(const std::uint8_t* scratch, i64 pitch, i64 rows, i64 width,
                     std::uint8_t* out) {
  i64 r = 0;
  if (width >= 4 && width <= 8) {
    for (; r + 1 < rows; ++r) std::memcpy(out + r * width, scratch + r * pitch, 8);
  } else if (width >= 8 && width <= 16) {
    for (; r + 1 < rows; ++r) std::memcpy(out + r * width, scratch + r * pitch, 16);
  }
  for (; r < rows; ++r) {
    std::memcpy(out + r * width, scratch + r * pitch, static_cast<std::size_t>(width));
  }
}

// Two int16 values as one int32 lane, `lo` in the low half (vpdpwssd's pair order).
inline std::int32_t Int16Pair(std::int16_t lo, std::int16_t hi) {
  return static_cast<std::int32_t>(
      static_cast<std::uint16_t>(lo) |
      (static_cast<std::uint32_t>(static_cast<std::uint16_t>(hi)) << 16));
}
// The 3x3 kernels' tap pairs per filter row ky (int32 lanes to broadcast): (w0, w1),
// (w2, 0) and (0, w2).
struct Dw3x3Pairs {
  std::int32_t w01[3], w2l[3], w2h[3];
};
inline Dw3x3Pairs MakeDw3x3Pairs(const std::int16_t* w) {
  Dw3x3Pairs p;
  for (int ky = 0; ky < 3; ++ky) {
    p.w01[ky] = Int16Pair(w[ky * 3], w[ky * 3 + 1]);
    p.w2l[ky] = Int16Pair(w[ky * 3 + 2], 0);
    p.w2h[ky] = Int16Pair(0, w[ky * 3 + 2]);
  }
  return p;
}
// 32 stride-1 outputs of a 3x3 depthwise plane whose first tap row starts at `base`
// (rows Wp apart), requantized and narrowed to bytes in output order.
struct Dw3x3Taps {
  __m512i w01[3], w2l[3], w2h[3];
};
Q8_TARGET inline __m256i Dw3x3S1Block(const std::int16_t* base, i64 Wp, const Dw3x3Taps& t,
                                      const RequantLanes& rl, bool i8) {
  __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
#pragma GCC unroll 3
  for (int ky = 0; ky < 3; ++ky) {
    const std::int16_t* row = base + ky * Wp;
    const __m512i a0 = _mm512_loadu_si512(row);
    const __m512i a1 = _mm512_loadu_si512(row + 1);
    const __m512i a2 = _mm512_loadu_si512(row + 2);
    even = _mm512_dpwssd_epi32(even, a0, t.w01[ky]);
    even = _mm512_dpwssd_epi32(even, a2, t.w2l[ky]);
    odd = _mm512_dpwssd_epi32(odd, a1, t.w01[ky]);
    odd = _mm512_dpwssd_epi32(odd, a2, t.w2h[ky]);
  }
  const __m512i e = RequantVec(even, rl), o = RequantVec(odd, rl);
  const __m128i be = i8 ? _mm512_cvtsepi32_epi8(e) : _mm512_cvtusepi32_epi8(e);
  const __m128i bo = i8 ? _mm512_cvtsepi32_epi8(o) : _mm512_cvtusepi32_epi8(o);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(be, bo)),
                                 _mm_unpackhi_epi8(be, bo), 1);
}

// 3x3 depthwise planes (dilation 1, stride 1 or 2) in registers, requantized straight
// to out (OH rows of OW bytes). The taps go in pairs through vpdpwssd (int16 pairs
// multiplied and summed into int32), so a row of three taps is two instructions:
//   stride 2: lane i of the load at column 2 * i holds (x[2i], x[2i+1]), the taps
//     w0, w1 of output i; the load at column 2 * i + 2 adds w2 (paired with 0).
//   stride 1: even outputs take (w0, w1) at column 2i and (w2, 0) at 2i + 2; odd
//     outputs (w0, w1) at 2i + 1 and (0, w2) at 2i + 2; the two halves are
//     interleaved again after the narrowing to bytes. Narrow planes (7x7, 14x14) run
//     over the flattened padded plane (outputs j = oh * Wp + ow, the columns past OW
//     discarded through `scratch`, OH * Wp + 32 bytes), fewer blocks than row by row.
// Reads up to (s * (OH - 1) + 3) * Wp + s * RoundUp(OW, 32) + 34 elements of pad.
Q8_TARGET void Dw3x3Simd(const std::int16_t* pad, i64 Wp, const std::int16_t* w, const ConvGeom& g,
                         const Requant& rq, bool i8, std::uint8_t* out, std::uint8_t* scratch) {
  const Dw3x3Pairs pairs = MakeDw3x3Pairs(w);
  Dw3x3Taps t;
  for (int ky = 0; ky < 3; ++ky) {
    t.w01[ky] = _mm512_set1_epi32(pairs.w01[ky]);
    t.w2l[ky] = _mm512_set1_epi32(pairs.w2l[ky]);
    t.w2h[ky] = _mm512_set1_epi32(pairs.w2h[ky]);
  }
  const RequantLanes rl = MakeRequantLanes(rq);
  if (g.sh == 1 && Dw3x3Flattened(g, Wp, 32)) {
    for (i64 j = 0; j < g.OH * Wp; j += 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(scratch + j),
                          Dw3x3S1Block(pad + j, Wp, t, rl, i8));
    }
    CopyRows(scratch, Wp, g.OH, g.OW, out);
    return;
  }
  for (i64 oh = 0; oh < g.OH; ++oh) {
    std::uint8_t* orow = out + oh * g.OW;
    if (g.sh == 1) {
      for (i64 ow = 0; ow < g.OW; ow += 32) {
        const __m256i bytes = Dw3x3S1Block(pad + oh * Wp + ow, Wp, t, rl, i8);
        const i64 count = std::min<i64>(32, g.OW - ow);
        if (count == 32) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(orow + ow), bytes);
        } else {
          _mm256_mask_storeu_epi8(orow + ow, static_cast<__mmask32>((1u << count) - 1), bytes);
        }
      }
    } else {
      for (i64 ow = 0; ow < g.OW; ow += 16) {
        __m512i acc = _mm512_setzero_si512();
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky) {
          const std::int16_t* row = pad + (2 * oh + ky) * Wp + 2 * ow;
          acc = _mm512_dpwssd_epi32(acc, _mm512_loadu_si512(row), t.w01[ky]);
          acc = _mm512_dpwssd_epi32(acc, _mm512_loadu_si512(row + 2), t.w2l[ky]);
        }
        StoreSaturated8(RequantVec(acc, rl), i8, orow + ow, std::min<i64>(16, g.OW - ow));
      }
    }
  }
}
#endif

#if DEEPEDGE_Q8_X86
// Dw3x3Simd on AVX2, 8 int32 lanes: vpmaddwd multiplies the same int16 pairs and sums
// them (vpdpwssd without the accumulate), so the tap pairing is the same. A stride-1
// block is 16 outputs (8 even, 8 odd), a stride-2 block 8. Needs every channel's
// requantization to pass Avx2RequantFits. Reads no further than Dw3x3Simd.
struct Dw3x3Taps8 {
  __m256i w01[3], w2l[3], w2h[3];
};
// The first `count` (<= 16) of 16 requantized outputs, even ones in `e` and odd ones
// in `o` (output 2i in e[i], 2i + 1 in o[i]), stored as bytes in output order.
Q8_AVX2 inline void StoreEvenOdd16(__m256i e, __m256i o, bool i8, std::uint8_t* out, i64 count) {
  // [0 1 2 3 | 8 9 10 11] and [4 5 6 7 | 12 13 14 15], then outputs 0-7 and 8-15.
  const __m256i lo = _mm256_unpacklo_epi32(e, o), hi = _mm256_unpackhi_epi32(e, o);
  StoreBytes16(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31), i8,
               out, count);
}
Q8_AVX2 inline void Dw3x3S1Block8(const std::int16_t* base, i64 Wp, const Dw3x3Taps8& t,
                                  const RequantLanes8& rl, bool i8, std::uint8_t* out, i64 count) {
  __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
#pragma GCC unroll 3
  for (int ky = 0; ky < 3; ++ky) {
    const std::int16_t* row = base + ky * Wp;
    const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row));
    const __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 1));
    const __m256i a2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2));
    even = _mm256_add_epi32(even, _mm256_madd_epi16(a0, t.w01[ky]));
    even = _mm256_add_epi32(even, _mm256_madd_epi16(a2, t.w2l[ky]));
    odd = _mm256_add_epi32(odd, _mm256_madd_epi16(a1, t.w01[ky]));
    odd = _mm256_add_epi32(odd, _mm256_madd_epi16(a2, t.w2h[ky]));
  }
  StoreEvenOdd16(RequantVec8(even, rl), RequantVec8(odd, rl), i8, out, count);
}
Q8_AVX2 void Dw3x3Avx2(const std::int16_t* pad, i64 Wp, const std::int16_t* w, const ConvGeom& g,
                       const Requant& rq, bool i8, std::uint8_t* out, std::uint8_t* scratch) {
  const Dw3x3Pairs pairs = MakeDw3x3Pairs(w);
  Dw3x3Taps8 t;
  for (int ky = 0; ky < 3; ++ky) {
    t.w01[ky] = _mm256_set1_epi32(pairs.w01[ky]);
    t.w2l[ky] = _mm256_set1_epi32(pairs.w2l[ky]);
    t.w2h[ky] = _mm256_set1_epi32(pairs.w2h[ky]);
  }
  const RequantLanes8 rl = MakeRequantLanes8(rq);
  if (g.sh == 1 && Dw3x3Flattened(g, Wp, 16)) {
    for (i64 j = 0; j < g.OH * Wp; j += 16) Dw3x3S1Block8(pad + j, Wp, t, rl, i8, scratch + j, 16);
    CopyRows(scratch, Wp, g.OH, g.OW, out);
    return;
  }
  for (i64 oh = 0; oh < g.OH; ++oh) {
    std::uint8_t* orow = out + oh * g.OW;
    if (g.sh == 1) {
      for (i64 ow = 0; ow < g.OW; ow += 16) {
        Dw3x3S1Block8(pad + oh * Wp + ow, Wp, t, rl, i8, orow + ow, std::min<i64>(16, g.OW - ow));
      }
      continue;
    }
    // Stride 2, two blocks of 8 at a time so that one store takes 16 bytes.
    for (i64 ow = 0; ow < g.OW; ow += 16) {
      __m256i acc[2];
      for (int h = 0; h < 2; ++h) {
        acc[h] = _mm256_setzero_si256();
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ++ky) {
          const std::int16_t* row = pad + (2 * oh + ky) * Wp + 2 * (ow + 8 * h);
          acc[h] = _mm256_add_epi32(
              acc[h], _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)),
                                        t.w01[ky]));
          acc[h] = _mm256_add_epi32(
              acc[h],
              _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2)),
                                t.w2l[ky]));
        }
      }
      StoreBytes16(RequantVec8(acc[0], rl), RequantVec8(acc[1], rl), i8, orow + ow,
                   std::min<i64>(16, g.OW - ow));
    }
  }
}
#endif

class QConvKernel final : public OpKernel {
 public:
  static Expected<std::unique_ptr<OpKernel>> Make(const ir::Node& n, const PrepareContext& prep,
                                                  bool gemm) {
    auto k = std::unique_ptr<QConvKernel>(new QConvKernel());
    k->gemm_ = gemm;
    DEEPEDGE_ASSIGN_OR_RETURN(k->x_, ReadIn(n, "x"));
    DEEPEDGE_ASSIGN_OR_RETURN(k->y_, ReadOut(n));
    k->w_scale_ = n.GetFloats("w_scale");
    if (k->w_scale_.empty()) return AttrError(n, "w_scale is missing");
    for (float s : k->w_scale_) {
      if (!ValidScale(s)) return AttrError(n, "w_scale values must be positive and finite");
    }
    for (i64 z : n.GetInts("w_zero_point", {0})) {
      if (z < -128 || z > 255) return AttrError(n, "w_zero_point is out of range");
      k->w_zp_.push_back(static_cast<std::int32_t>(z));
    }
    DEEPEDGE_ASSIGN_OR_RETURN(k->float_requant_, ReadFloatRequant(n));
    k->group_ = gemm ? 1 : n.GetInt("group", 1);
    if (k->group_ < 1) return AttrError(n, "group must be positive");
    if (n.inputs.size() < 2 || n.inputs[1].empty()) return AttrError(n, "w is missing");
    if (prep.constant) {
      if (const Tensor* w = prep.constant(n.inputs[1]); w != nullptr) {
        DEEPEDGE_ASSIGN_OR_RETURN(Packed p, k->Pack(n, *w));
        k->packed_ = std::make_shared<Packed>(std::move(p));
        k->packed_from_ = w->data();
        if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
          if (const Tensor* b = prep.constant(n.inputs[2]); b != nullptr) k->bias_from_ = b->data();
        }
      }
    }
    return std::unique_ptr<OpKernel>(std::move(k));
  }

  Status Run(KernelContext& ctx) override {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1));
    DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *x, x_.zp, "x"));
    std::shared_ptr<const Packed> packed = packed_;
    // Constants are borrowed views at run time: compare the storage, not the Tensor.
    if (packed == nullptr || packed_from_ != w->data() || packed->wshape != w->shape()) {
      DEEPEDGE_ASSIGN_OR_RETURN(Packed p, Pack(ctx.node(), *w));
      packed = std::make_shared<Packed>(std::move(p));
    }
    const Packed& pk = *packed;
    const i64 M = pk.M;
    const Tensor* b = ctx.input(2);
    if (b != nullptr && (b->dtype() != DType::kI32 || b->element_count() != M)) {
      return NodeError(ctx, "bias must be i32 with " + std::to_string(M) + " elements, got " +
                                std::string(DTypeName(b->dtype())) + " " + b->shape().ToString());
    }
    // u8-domain input zero point: what padding reads and what the weight sums correct.
    const std::int32_t zxu = x_.zp + (x->dtype() == DType::kI8 ? 128 : 0);
    // With constant weights and bias (the usual case) the rescaling parameters are the
    // same every run: built once, kept while the input type stays (Run is never
    // concurrent within a session).
    const bool constant_params = packed == packed_ && (b == nullptr || b->data() == bias_from_);
    if (!constant_params || rq_cache_.empty() || rq_cache_x_ != x->dtype()) {
      rq_cache_ = BuildRequant(pk, b, zxu);
      rq_cache_x_ = x->dtype();
    }
    const std::vector<Requant>& rq = rq_cache_;
    if (gemm_) return RunGemmOp(ctx, *x, pk, rq, static_cast<std::uint8_t>(zxu));
    return RunConv(ctx, *x, pk, rq, static_cast<std::uint8_t>(zxu));
  }

 private:
  struct Packed;

  // Per output channel: the bias (b may be null) and the input zero point's correction
  // folded into one offset, and the multiplier of the node's rescaling rule.
  std::vector<Requant> BuildRequant(const Packed& pk, const Tensor* b, std::int32_t zxu) const {
    const i64 M = pk.M;
    std::vector<Requant> rq(static_cast<std::size_t>(M));
    for (i64 m = 0; m < M; ++m) {
      Requant& r = rq[static_cast<std::size_t>(m)];
      const auto mi = static_cast<std::size_t>(m);
      r.mult = pk.mult[mi].multiplier;
      r.shift = pk.mult[mi].shift;
      r.zp = y_.zp;
      r.lo = y_.lo;
      r.hi = y_.hi;
      r.use_float = float_requant_;
      r.scale = pk.float_scale[mi];
      // Depthwise kernels subtract the zero point from the input instead.
      const std::int32_t corr =
          pk.depthwise ? 0
                       : static_cast<std::int32_t>(static_cast<std::uint32_t>(zxu) *
                                                   static_cast<std::uint32_t>(pk.w.wsum[mi]));
      r.offset = WrapAdd(b != nullptr ? b->as<std::int32_t>()[mi] : 0, -corr);
    }
    return rq;
  }

  struct Packed {
    i64 M = 0, K = 0;  // channels, reduction length per group
    Shape wshape;
    bool depthwise = false;
    PackedWeights w;                            // GEMM path
    std::vector<std::int16_t> dw;               // depthwise path: [M][kh*kw], zero point subtracted
    std::vector<fp::QuantizedMultiplier> mult;  // [M]
    std::vector<float> float_scale;             // [M]: x_scale * w_scale[m] / y_scale in float
  };

  QConvKernel() = default;

  Expected<Packed> Pack(const ir::Node& n, const Tensor& w) const {
    if (!IsQ(w.dtype())) {
      return AttrError(n,
                       "w has type " + std::string(DTypeName(w.dtype())) + " (expected i8 or u8)");
    }
    const Shape& ws = w.shape();
    Packed p;
    p.wshape = ws;
    if (gemm_) {
      if (ws.rank() != 2) return AttrError(n, "w must be 2-D [N, K], got " + ws.ToString());
      p.M = ws[0];
      p.K = ws[1];
    } else {
      if (ws.rank() != 4) return AttrError(n, "w must be 4-D, got " + ws.ToString());
      p.M = ws[0];
      p.K = ws[1] * ws[2] * ws[3];
      if (n.Has("kernel_shape") && n.GetInts("kernel_shape") != std::vector<i64>{ws[2], ws[3]}) {
        return AttrError(n, "kernel_shape does not match w " + ws.ToString());
      }
      if (p.M % group_ != 0) {
        return AttrError(n, "group " + std::to_string(group_) + " does not divide the " +
                                std::to_string(p.M) + " output channels");
      }
      p.depthwise = group_ > 1 && ws[1] == 1;
    }
    if (p.M < 1 || p.K < 1) return AttrError(n, "w " + ws.ToString() + " is empty");
    const auto Mu = static_cast<std::size_t>(p.M);
    if (w_scale_.size() != 1 && w_scale_.size() != Mu) {
      return AttrError(n, "w_scale has " + std::to_string(w_scale_.size()) +
                              " values; expected 1 or " + std::to_string(p.M));
    }
    if (w_zp_.size() != 1 && w_zp_.size() != Mu) {
      return AttrError(n, "w_zero_point has " + std::to_string(w_zp_.size()) +
                              " values; expected 1 or " + std::to_string(p.M));
    }
    for (std::int32_t z : w_zp_) {
      if (z < TypeMin(w.dtype()) || z > TypeMax(w.dtype())) {
        return AttrError(n, "w_zero_point is out of range for the weight type");
      }
    }
    for (std::size_t m = 0; m < Mu; ++m) {
      const double ws_m = w_scale_[w_scale_.size() == 1 ? 0 : m];
      // As TFLite: input_scale * filter_scale / output_scale in double.
      p.mult.push_back(fp::QuantizeMultiplier(static_cast<double>(x_.scale) * ws_m /
                                              static_cast<double>(y_.scale)));
      // As ONNX Runtime: in float.
      p.float_scale.push_back(x_.scale * w_scale_[w_scale_.size() == 1 ? 0 : m] / y_.scale);
    }
    if (p.depthwise) {
      const i64 ksp = ws[2] * ws[3];
      p.dw.resize(static_cast<std::size_t>(p.M * ksp));
      DispatchQ(w.dtype(), [&](auto t) {
        using T = decltype(t);
        const T* wd = w.as<T>().data();
        for (i64 m = 0; m < p.M; ++m) {
          const std::int32_t z = w_zp_[w_zp_.size() == 1 ? 0 : static_cast<std::size_t>(m)];
          for (i64 i = 0; i < ksp; ++i) {
            p.dw[static_cast<std::size_t>(m * ksp + i)] =
                static_cast<std::int16_t>(static_cast<std::int32_t>(wd[m * ksp + i]) - z);
          }
        }
      });
      return p;
    }
    DispatchQ(w.dtype(), [&](auto t) {
      using T = decltype(t);
      p.w = PackWeights(w.as<T>().data(), p.M, gemm_ ? 1 : group_,
                        gemm_ ? p.K : ws[1] * ws[2] * ws[3], w_zp_);
    });
    return p;
  }

  Status RunConv(KernelContext& ctx, const Tensor& x, const Packed& pk,
                 const std::vector<Requant>& rq, std::uint8_t zxu) {
    ConvGeom g;
    const Shape& ws = pk.wshape;
    DEEPEDGE_RETURN_IF_ERROR(PlanWindow(ctx.node(), x.shape(), ws[2], ws[3], false, g));
    if (g.C != ws[1] * group_) {
      return NodeError(ctx, "x " + x.shape().ToString() + " has " + std::to_string(g.C) +
                                " channels; w " + ws.ToString() + " with group " +
                                std::to_string(group_) + " expects " +
                                std::to_string(ws[1] * group_));
    }
    g.M = pk.M;
    g.G = group_;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, y_.type, Shape{g.N, g.M, g.OH, g.OW}));
    const i64 P = g.OH * g.OW;
    const DType yt = y_.type;
    auto* yb = static_cast<std::uint8_t*>(y->data());  // one byte per element either way
    if (pk.depthwise) {
      RunDepthwise(ctx, x, g, pk, rq, yb);
      return Status::Ok();
    }
    const i64 cg = g.C / g.G, mg = g.M / g.G;
    const bool pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 &&
                           g.pl == 0 && g.pb == 0 && g.pr == 0;
    const i64 Hp = g.H + g.pt + g.pb, Wp = g.W + g.pl + g.pr;
    std::vector<std::uint8_t> xp;
    DispatchQ(x.dtype(), [&](auto t) {
      using T = decltype(t);
      const T* xd = x.as<T>().data();
      if (!pointwise) {
        // A padded u8 copy of the input: the packing then needs no bounds checks.
        xp.assign(static_cast<std::size_t>(g.N * g.C * Hp * Wp + kPackSlack), zxu);
        ctx.ParallelFor(static_cast<std::size_t>(g.N * g.C), [&](std::size_t b, std::size_t e) {
          for (std::size_t pl = b; pl < e; ++pl) {
            const T* src = xd + static_cast<i64>(pl) * g.H * g.W;
            std::uint8_t* dst = xp.data() + static_cast<i64>(pl) * Hp * Wp + g.pt * Wp + g.pl;
            for (i64 h = 0; h < g.H; ++h)
              for (i64 w = 0; w < g.W; ++w) dst[h * Wp + w] = ToU8(src[h * g.W + w]);
          }
        });
      }
      RunGemm(
          ctx, pk.w, g.N * g.G, P,
          [&](i64 b, i64 p0, std::uint8_t* col) {
            const i64 n = b / g.G, gi = b % g.G;
            if (pointwise) {
              const T* xg = xd + (n * g.C + gi * cg) * g.H * g.W;
#if DEEPEDGE_Q8_X86
              if (g_simd) {
                PackPointwiseBlockSimd(reinterpret_cast<const std::uint8_t*>(xg),
                                       std::is_same_v<T, std::int8_t> ? 0x80 : 0, P, cg, p0,
                                       pk.w.K4, zxu, col);
                return;
              }
              if (g_avx2) {
                PackPointwiseBlockAvx2(reinterpret_cast<const std::uint8_t*>(xg),
                                       std::is_same_v<T, std::int8_t> ? 0x80 : 0, P, cg, p0,
                                       pk.w.K4, zxu, col);
                return;
              }
#endif
              PackPointwiseBlock(g, cg, xg, p0, pk.w.K4, zxu, col);
            } else {
#if DEEPEDGE_Q8_X86
              if (g_simd && (g.sw == 1 || g.sw == 2) && g.dw == 1) {
                PackPaddedBlockSimd(g, cg, xp.data() + (n * g.C + gi * cg) * Hp * Wp, Hp, Wp, p0,
                                    pk.w.K4, col);
                return;
              }
              if (g_avx2 && (g.sw == 1 || g.sw == 2) && g.dw == 1) {
                PackPaddedBlockAvx2(g, cg, xp.data() + (n * g.C + gi * cg) * Hp * Wp, Hp, Wp, p0,
                                    pk.w.K4, col);
                return;
              }
#endif
              PackPaddedBlock(g, cg, xp.data() + (n * g.C + gi * cg) * Hp * Wp, Hp, Wp, p0, pk.w.K4,
                              col);
            }
          },
          [&](i64 b, i64 mi, i64 p0, const std::int32_t* acc, i64 valid) {
            const i64 n = b / g.G, m = (b % g.G) * mg + mi;
            StoreRow(acc, valid, rq[static_cast<std::size_t>(m)], yt, yb + (n * g.M + m) * P + p0,
                     1);
          },
          [&](i64 b, i64 mi) {
            const i64 n = b / g.G, m = (b % g.G) * mg + mi;
            return DirectRow{&rq[static_cast<std::size_t>(m)], yb + (n * g.M + m) * P};
          },
          yt == DType::kI8, P);
    });
    return Status::Ok();
  }

  static constexpr i64 kDwBandMinPixels = 4000;
  void RunDepthwise(KernelContext& ctx, const Tensor& x, const ConvGeom& g, const Packed& pk,
                    const std::vector<Requant>& rq, std::uint8_t* yb) {
    const i64 mult = g.M / g.C;
    const i64 Hp = g.H + g.pt + g.pb, Wp = g.W + g.pl + g.pr;
    const i64 ksp = g.kh * g.kw;
    const i64 P = g.OH * g.OW;
    const bool plane_path = g.sh == g.sw;
    // The plane path reads up to s * (OH * Wp - 1) + the last tap's offset; Dw3x3Simd
    // up to the bound its comment states.
    const bool kernel3x3 = g.kh == 3 && g.kw == 3 && g.dh == 1 && g.dw == 1 && g.sh == g.sw &&
                           (g.sh == 1 || g.sh == 2);
    const bool simd3x3 = DEEPEDGE_Q8_X86 && g_simd && kernel3x3;
#if DEEPEDGE_Q8_X86
    const bool avx2_3x3 =
        !simd3x3 && g_avx2 && kernel3x3 && std::all_of(rq.begin(), rq.end(), Avx2RequantFits);
#else
    const bool avx2_3x3 = false;
#endif
    const bool in_registers = simd3x3 || avx2_3x3;
    const i64 pad_size =
        std::max({Hp * Wp, g.sh * g.OH * Wp + g.kh * g.dh * Wp + g.kw * g.dw,
                  (g.sh * (g.OH - 1) + 3) * Wp + g.sh * ((g.OW + 31) / 32 * 32) + 34});
    DispatchQ(x.dtype(), [&](auto t) {
      using T = decltype(t);
      const T* xd = x.as<T>().data();
      // Small planes go whole to one thread: splitting their rows repeats each plane's
      // set-up (widening, constants, the output rows' copy) on every thread for a few
      // outputs each, which cost more than the other core's cache lines it saves (7x7
      // layers of MobileNet v2 ran slower on 2 threads than on 1).
      const i64 row_align = P < kDwBandMinPixels ? g.OH : 1;
      ForBandsOfPlanes(ctx, g.N * g.M, g.OH, row_align, [&](i64 begin, i64 end, i64 oh0, i64 oh1) {
        // Output rows [oh0, oh1) read padded rows [oh0 * s, (oh1 - 1) * s + taps): only
        // those input rows are widened. The kernels read `band` (the geometry of the
        // band alone) from `top`; rows outside the band feed only discarded columns.
        ConvGeom band = g;
        band.OH = oh1 - oh0;
        if (band.OH <= 0) return;
        const i64 ih0 = std::max<i64>(0, oh0 * g.sh - g.pt);
        const i64 ih1 = std::min(g.H, (oh1 - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.pt);
        const i64 bp = band.OH * g.OW;
        // Per job: the borders and the slack stay zero (value-initialised), only the
        // interior rows change from plane to plane. The 3x3 kernel needs no int32
        // plane, only its byte scratch.
        std::vector<std::int16_t> pad(static_cast<std::size_t>(pad_size));
        std::vector<std::int32_t> acc(in_registers ? 0 : static_cast<std::size_t>(band.OH * Wp));
        std::vector<std::uint8_t> flat(in_registers ? static_cast<std::size_t>(band.OH * Wp + 32)
                                                    : 0);
        const std::int16_t* top = pad.data() + oh0 * g.sh * Wp;
        i64 padded = -1;
        for (i64 j = begin; j < end; ++j) {
          const i64 n = j / g.M, m = j % g.M;
          const i64 c = m / mult;
          if (n * g.C + c != padded) {
            if (ih1 > ih0) {
              const T* plane = xd + (n * g.C + c) * g.H * g.W + ih0 * g.W;
              WidenPlane(plane, x_.zp, ih1 - ih0, g.W, pad.data() + (g.pt + ih0) * Wp + g.pl, Wp);
            }
            padded = n * g.C + c;
          }
          const std::int16_t* wm = pk.dw.data() + m * ksp;
          std::uint8_t* out = yb + (n * g.M + m) * P + oh0 * g.OW;
#if DEEPEDGE_Q8_X86
          if (simd3x3) {
            Dw3x3Simd(top, Wp, wm, band, rq[static_cast<std::size_t>(m)], y_.type == DType::kI8,
                      out, flat.data());
            continue;
          }
          if (avx2_3x3) {
            Dw3x3Avx2(top, Wp, wm, band, rq[static_cast<std::size_t>(m)], y_.type == DType::kI8,
                      out, flat.data());
            continue;
          }
#endif
          if (!plane_path) {
            DwRows(top, Wp, wm, band, acc.data());
          } else {
#if DEEPEDGE_Q8_X86
            if (g_simd) {
              DwPlaneSimd(top, Wp, wm, band, acc.data());
            } else if (g_avx2) {
              DwPlaneAvx2(top, Wp, wm, band, acc.data());
            } else {
              DwPlaneGeneric(top, Wp, wm, band, acc.data());
            }
#else
            DwPlaneGeneric(top, Wp, wm, band, acc.data());
#endif
          }
          // Drop the scratch columns (moving forward in place), then requantize.
          for (i64 oh = 1; oh < band.OH; ++oh) {
            std::copy(acc.begin() + oh * Wp, acc.begin() + oh * Wp + g.OW, acc.begin() + oh * g.OW);
          }
          StoreRow(acc.data(), bp, rq[static_cast<std::size_t>(m)], y_.type, out, 1);
        }
      });
    });
  }

  Status RunGemmOp(KernelContext& ctx, const Tensor& x, const Packed& pk,
                   const std::vector<Requant>& rq, std::uint8_t zxu) {
    const Shape& xs = x.shape();
    if (xs.rank() < 1 || xs[xs.rank() - 1] != pk.K) {
      return NodeError(ctx, "x " + xs.ToString() + " does not end in K = " + std::to_string(pk.K) +
                                " (w is " + pk.wshape.ToString() + ")");
    }
    const i64 rows = x.element_count() / pk.K;
    std::vector<i64> od = xs.dims();
    od.back() = pk.M;
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, y_.type, Shape(od)));
    auto* yb = static_cast<std::uint8_t*>(y->data());
    const i64 N = pk.M;
    const DType yt = y_.type;
    DispatchQ(x.dtype(), [&](auto t) {
      using T = decltype(t);
      const T* xd = x.as<T>().data();
#if DEEPEDGE_Q8_X86
      if ((g_simd || g_avx2) && pk.w.narrow && rows <= kGemvRows) {
        // Few rows: matrix-vector products instead of 32-pixel tiles.
        const i64 stride = pk.w.K4 * 4 + 8;
        std::vector<std::uint8_t> xu(static_cast<std::size_t>(rows * stride), 0);
        for (i64 r = 0; r < rows; ++r)
          for (i64 k = 0; k < pk.K; ++k)
            xu[static_cast<std::size_t>(r * stride + k)] = ToU8(xd[r * pk.K + k]);
        ctx.ParallelFor(static_cast<std::size_t>(pk.w.MT), [&](std::size_t b, std::size_t e) {
          alignas(64) std::int32_t acc[kGemvRows * kMr];
          for (std::size_t mt = b; mt < e; ++mt) {
            const auto mti = static_cast<i64>(mt);
            if (g_simd) {
              GemvVnni(xu.data(), rows, stride, pk.w.Tile8(0, mti), pk.w.K4, acc);
            } else {
              GemvAvx2(xu.data(), rows, stride, pk.w.Tile8(0, mti), pk.w.K4, acc);
            }
            const i64 cols = std::min(kMr, N - mti * kMr);
            for (i64 r = 0; r < rows; ++r)
              for (i64 j = 0; j < cols; ++j) {
                const i64 m = mti * kMr + j;
                const std::int32_t v =
                    RequantOne(acc[r * kMr + j], rq[static_cast<std::size_t>(m)]);
                yb[r * N + m] = yt == DType::kI8
                                    ? static_cast<std::uint8_t>(static_cast<std::int8_t>(v))
                                    : static_cast<std::uint8_t>(v);
              }
          }
        });
        return;
      }
#endif
      RunGemm(
          ctx, pk.w, 1, rows,
          [&](i64, i64 p0, std::uint8_t* col) {
            PackRowsBlock(xd, rows, pk.K, p0, pk.w.K4, zxu, col);
          },
          [&](i64, i64 m, i64 p0, const std::int32_t* acc, i64 valid) {
            StoreRow(acc, valid, rq[static_cast<std::size_t>(m)], yt, yb + p0 * N + m, N);
          });
    });
    return Status::Ok();
  }

  bool gemm_ = false;
  bool float_requant_ = false;
  InParams x_;
  OutParams y_;
  std::vector<float> w_scale_;
  std::vector<std::int32_t> w_zp_;
  i64 group_ = 1;
  std::shared_ptr<const Packed> packed_;
  const void* packed_from_ = nullptr;
  const void* bias_from_ = nullptr;  // the constant bias's storage (null: none or not constant)
  std::vector<Requant> rq_cache_;    // BuildRequant's result for constant weights and bias
  DType rq_cache_x_ = DType::kI8;
};

// ---------------------------------------------------------------------------
// QAdd / QMul

#if DEEPEDGE_Q8_X86
Q8_TARGET inline __m512i Load16(const std::int8_t* p, __mmask16 m) {
  return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p));
}
Q8_TARGET inline __m512i Load16(const std::uint8_t* p, __mmask16 m) {
  return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p));
}

// Same-shape QAdd / QMul on 16 elements at a time: the scalar rules lane by lane.
// `in_a` / `in_b`: the ADD input rescalings (offset 0, no clamp); `out`: the output
// requantization with its clamp.
template <bool kMul, typename TA, typename TB>
Q8_TARGET void BinarySimd(const TA* a, const TB* b, i64 n, std::int32_t za, std::int32_t zb,
                          const Requant& in_a, const Requant& in_b, const Requant& out, bool i8,
                          std::uint8_t* y) {
  const __m512i vza = _mm512_set1_epi32(za), vzb = _mm512_set1_epi32(zb);
  const RequantLanes la = MakeRequantLanes(in_a), lb = MakeRequantLanes(in_b),
                     lo = MakeRequantLanes(out);
  for (i64 i = 0; i < n; i += 16) {
    const __mmask16 m =
        n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i av = _mm512_sub_epi32(Load16(a + i, m), vza);
    const __m512i bv = _mm512_sub_epi32(Load16(b + i, m), vzb);
    __m512i raw;
    if constexpr (kMul) {
      raw = _mm512_mullo_epi32(av, bv);
    } else {
      raw = _mm512_add_epi32(RequantVec(_mm512_slli_epi32(av, 20), la),
                             RequantVec(_mm512_slli_epi32(bv, 20), lb));
    }
    StoreSaturated8(RequantVec(raw, lo), i8, y + i, std::min<i64>(16, n - i));
  }
}
#endif

#if DEEPEDGE_Q8_X86
// The same on AVX2, 16 elements (two vectors of 8) at a time.
Q8_AVX2 inline __m256i Widen8(const std::int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
Q8_AVX2 inline __m256i Widen8(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
// TFLite's ADD / MUL rules on 8 elements (zero points already subtracted).
template <bool kMul>
struct FixedPointBinary8 {
  RequantLanes8 la, lb, lo;
  Q8_AVX2 __m256i operator()(__m256i av, __m256i bv) const {
    __m256i raw;
    if constexpr (kMul) {
      raw = _mm256_mullo_epi32(av, bv);
    } else {
      raw = _mm256_add_epi32(RequantVec8(_mm256_slli_epi32(av, 20), la),
                             RequantVec8(_mm256_slli_epi32(bv, 20), lb));
    }
    return RequantVec8(raw, lo);
  }
};
// 16 elements: a[0..15], b[0..15] in, the first `count` results of rule(a - za, b - zb)
// out (the rule gives 8 clamped int32 results for 8 lanes).
template <typename Rule, typename TA, typename TB>
Q8_AVX2 inline void Binary16(const TA* a, const TB* b, __m256i vza, __m256i vzb, const Rule& rule,
                             bool i8, std::uint8_t* y, i64 count) {
  const __m256i y0 = rule(_mm256_sub_epi32(Widen8(a), vza), _mm256_sub_epi32(Widen8(b), vzb));
  const __m256i y1 =
      rule(_mm256_sub_epi32(Widen8(a + 8), vza), _mm256_sub_epi32(Widen8(b + 8), vzb));
  StoreBytes16(y0, y1, i8, y, count);
}
template <typename Rule, typename TA, typename TB>
Q8_AVX2 void BinaryAvx2(const TA* a, const TB* b, i64 n, std::int32_t za, std::int32_t zb,
                        const Rule& rule, bool i8, std::uint8_t* y) {
  const __m256i vza = _mm256_set1_epi32(za), vzb = _mm256_set1_epi32(zb);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) Binary16(a + i, b + i, vza, vzb, rule, i8, y + i, 16);
  if (i < n) {
    // The last partial block from zero-filled copies (the loads read 16 elements).
    TA ta[16] = {};
    TB tb[16] = {};
    std::memcpy(ta, a + i, static_cast<std::size_t>(n - i) * sizeof(TA));
    std::memcpy(tb, b + i, static_cast<std::size_t>(n - i) * sizeof(TB));
    Binary16(ta, tb, vza, vzb, rule, i8, y + i, n - i);
  }
}
#endif

// QAdd / QMul with requant "float" (ONNX QDQ models, as ONNX defines the chain
// DequantizeLinear -> Add / Mul -> QuantizeLinear): y = clamp(round_half_even(v)) + zp
// with v = fa (a - za) + fb (b - zb), fa = a_scale / y_scale, or v = fm (a - za)(b - zb),
// fm = a_scale * b_scale / y_scale. In double: the products of these small integers
// and the float ratios fa, fb are exact, so the sum is the one rounding, with or
// without fused multiply-adds, and every instruction set gives the same integers.
struct FloatBinary {
  double fa = 0, fb = 0, fm = 0;
  double lo = 0, hi = 0;  // the output clamp minus zp
  std::int32_t zp = 0;
};
template <bool kMul>
inline std::int32_t FloatBinaryOne(std::int32_t x, std::int32_t y, const FloatBinary& p) {
  const double v = kMul ? static_cast<double>(x * y) * p.fm
                        : static_cast<double>(x) * p.fa + static_cast<double>(y) * p.fb;
  return static_cast<std::int32_t>(std::nearbyint(std::clamp(v, p.lo, p.hi))) + p.zp;
}
#if DEEPEDGE_Q8_X86
// The float rule on 8 elements (zero points already subtracted), 4 doubles at a time.
template <bool kMul>
struct FloatBinary8 {
  FloatBinary p;
  Q8_AVX2 __m256i operator()(__m256i x, __m256i y) const {
    __m128i half[2];
    for (int h = 0; h < 2; ++h) {
      const __m128i xs = h == 0 ? _mm256_castsi256_si128(x) : _mm256_extracti128_si256(x, 1);
      const __m128i ys = h == 0 ? _mm256_castsi256_si128(y) : _mm256_extracti128_si256(y, 1);
      __m256d v;
      if constexpr (kMul) {
        v = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm_mullo_epi32(xs, ys)), _mm256_set1_pd(p.fm));
      } else {
        v = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(xs), _mm256_set1_pd(p.fa)),
                          _mm256_mul_pd(_mm256_cvtepi32_pd(ys), _mm256_set1_pd(p.fb)));
      }
      v = _mm256_min_pd(_mm256_max_pd(v, _mm256_set1_pd(p.lo)), _mm256_set1_pd(p.hi));
      half[h] = _mm256_cvtpd_epi32(v);  // rounds half to even (the default MXCSR mode)
    }
    return _mm256_add_epi32(_mm256_set_m128i(half[1], half[0]), _mm256_set1_epi32(p.zp));
  }
};
#endif

template <bool kMul>
Status QBinaryKernel(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  DEEPEDGE_ASSIGN_OR_RETURN(InParams ap, ReadIn(n, "a"));
  DEEPEDGE_ASSIGN_OR_RETURN(InParams bp, ReadIn(n, "b"));
  DEEPEDGE_ASSIGN_OR_RETURN(OutParams yp, ReadOut(n));
  DEEPEDGE_ASSIGN_OR_RETURN(const bool use_float, ReadFloatRequant(n));
  FloatBinary fb;
  // The ratios in float (as ONNX Runtime's), so that their products with the 9-bit
  // operands are exact in double.
  fb.fa = static_cast<double>(ap.scale / yp.scale);
  fb.fb = static_cast<double>(bp.scale / yp.scale);
  fb.fm =
      static_cast<double>(ap.scale) * static_cast<double>(bp.scale) / static_cast<double>(yp.scale);
  fb.lo = yp.lo - yp.zp;
  fb.hi = yp.hi - yp.zp;
  fb.zp = yp.zp;
  DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *a, ap.zp, "a"));
  DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *b, bp.zp, "b"));
  auto shape = BroadcastShapes(a->shape(), b->shape());
  if (!shape) return NodeError(ctx, shape.status().message());
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, yp.type, *shape));
  const i64 count = shape->element_count();
  std::vector<i64> aoff, boff;
  if (a->shape() != *shape) aoff = BroadcastOffsets(a->shape(), *shape);
  if (b->shape() != *shape) boff = BroadcastOffsets(b->shape(), *shape);
  // TFLite's parameters (add.cc / mul.cc), in double from the float scales.
  constexpr int kLeftShift = 20;
  fp::QuantizedMultiplier ma, mb, mo;
  if constexpr (kMul) {
    mo = fp::QuantizeMultiplier(static_cast<double>(ap.scale) * static_cast<double>(bp.scale) /
                                static_cast<double>(yp.scale));
  } else {
    const double twice_max =
        2 * std::max(static_cast<double>(ap.scale), static_cast<double>(bp.scale));
    ma = fp::QuantizeMultiplier(static_cast<double>(ap.scale) / twice_max);
    mb = fp::QuantizeMultiplier(static_cast<double>(bp.scale) / twice_max);
    mo = fp::QuantizeMultiplier(twice_max / ((1 << kLeftShift) * static_cast<double>(yp.scale)));
  }
  auto* yb = static_cast<std::uint8_t*>(y->data());
  DispatchQ(a->dtype(), [&](auto ta) {
    using TA = decltype(ta);
    DispatchQ(b->dtype(), [&](auto tb) {
      using TB = decltype(tb);
      const TA* ad = a->as<TA>().data();
      const TB* bd = b->as<TB>().data();
#if DEEPEDGE_Q8_X86
      constexpr std::int32_t kLo = std::numeric_limits<std::int32_t>::min();
      constexpr std::int32_t kHi = std::numeric_limits<std::int32_t>::max();
      const Requant ra{0, ma.multiplier, ma.shift, 0, kLo, kHi};
      const Requant rb{0, mb.multiplier, mb.shift, 0, kLo, kHi};
      const Requant ro{0, mo.multiplier, mo.shift, yp.zp, yp.lo, yp.hi};
      const bool avx2 = g_avx2 && Avx2RequantFits(ra) && Avx2RequantFits(rb) && Avx2RequantFits(ro);
      // The float rule runs on AVX2 also where AVX-512 is on (double lanes either way).
      const bool float_avx2 = use_float && (g_simd || g_avx2) && kAvx2Available;
      if ((use_float ? float_avx2 : g_simd || avx2) && aoff.empty() && boff.empty()) {
        const bool i8 = yp.type == DType::kI8;
        // One run of equal-shape elements on the best vector path.
        auto run = [&](i64 o, i64 len) {
          if (use_float) {
            BinaryAvx2(ad + o, bd + o, len, ap.zp, bp.zp, FloatBinary8<kMul>{fb}, i8, yb + o);
          } else if (g_simd) {
            BinarySimd<kMul>(ad + o, bd + o, len, ap.zp, bp.zp, ra, rb, ro, i8, yb + o);
          } else {
            const FixedPointBinary8<kMul> rule{MakeRequantLanes8(ra), MakeRequantLanes8(rb),
                                               MakeRequantLanes8(ro)};
            BinaryAvx2(ad + o, bd + o, len, ap.zp, bp.zp, rule, i8, yb + o);
          }
        };
        if (shape->rank() == 4) {
          // NCHW: the same bands of pixels per thread as the convolutions around it.
          const i64 plane = (*shape)[2] * (*shape)[3];
          ForBandsOfPlanes(ctx, count / std::max<i64>(plane, 1), plane, 64,
                           [&](i64 p0, i64 p1, i64 r0, i64 r1) {
                             for (i64 pl = p0; pl < p1; ++pl) run(pl * plane + r0, r1 - r0);
                           });
          return;
        }
        ctx.ParallelFor(static_cast<std::size_t>((count + 63) / 64),
                        [&](std::size_t b0, std::size_t e0) {
                          const i64 begin = static_cast<i64>(b0) * 64;
                          const i64 end = std::min(count, static_cast<i64>(e0) * 64);
                          run(begin, end - begin);
                        });
        return;
      }
#endif
      ctx.ParallelFor(static_cast<std::size_t>(count), [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
          const std::int32_t av = ad[aoff.empty() ? i : static_cast<std::size_t>(aoff[i])] - ap.zp;
          const std::int32_t bv = bd[boff.empty() ? i : static_cast<std::size_t>(boff[i])] - bp.zp;
          if (use_float) {
            const std::int32_t v = FloatBinaryOne<kMul>(av, bv, fb);
            yb[i] = yp.type == DType::kI8 ? static_cast<std::uint8_t>(static_cast<std::int8_t>(v))
                                          : static_cast<std::uint8_t>(v);
            continue;
          }
          std::int32_t raw;
          if constexpr (kMul) {
            raw = fp::MultiplyByQuantizedMultiplier(av * bv, mo);
          } else {
            const std::int32_t sa = fp::MultiplyByQuantizedMultiplier(av * (1 << kLeftShift), ma);
            const std::int32_t sb = fp::MultiplyByQuantizedMultiplier(bv * (1 << kLeftShift), mb);
            raw = fp::MultiplyByQuantizedMultiplier(sa + sb, mo);
          }
          const std::int32_t v = std::clamp(raw, yp.lo - yp.zp, yp.hi - yp.zp) + yp.zp;
          yb[i] = yp.type == DType::kI8 ? static_cast<std::uint8_t>(static_cast<std::int8_t>(v))
                                        : static_cast<std::uint8_t>(v);
        }
      });
    });
  });
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Pools

inline void StoreByte(std::uint8_t* y, i64 i, DType t, std::int32_t v) {
  y[i] = t == DType::kI8 ? static_cast<std::uint8_t>(static_cast<std::int8_t>(v))
                         : static_cast<std::uint8_t>(v);
}

Status PoolCommon(KernelContext& ctx, const Tensor*& x, InParams& xp, OutParams& yp, ConvGeom& g,
                  bool allow_dilation) {
  const ir::Node& n = ctx.node();
  DEEPEDGE_ASSIGN_OR_RETURN(x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(xp, ReadIn(n, "x"));
  DEEPEDGE_ASSIGN_OR_RETURN(yp, ReadOut(n));
  DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *x, xp.zp, "x"));
  const auto ks = n.GetInts("kernel_shape");
  if (ks.size() != 2) return NodeError(ctx, "kernel_shape must have 2 values (2-D pooling)");
  if (!allow_dilation && n.GetInts("dilations", {1, 1}) != std::vector<i64>{1, 1}) {
    return NodeUnsupported(ctx, "dilations are not supported");
  }
  return PlanWindow(n, x->shape(), ks[0], ks[1], n.GetInt("ceil_mode", 0) != 0, g);
}

bool SameParams(const InParams& x, const OutParams& y) {
  return x.scale == y.scale && x.zp == y.zp;
}

Status QAveragePoolKernel(KernelContext& ctx) {
  const Tensor* x = nullptr;
  InParams xp;
  OutParams yp;
  ConvGeom g;
  DEEPEDGE_RETURN_IF_ERROR(PoolCommon(ctx, x, xp, yp, g, false));
  const bool include_pad = ctx.node().GetInt("count_include_pad", 0) != 0;
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, yp.type, Shape{g.N, g.C, g.OH, g.OW}));
  const bool same = SameParams(xp, yp);
  // Multipliers x_scale / (y_scale * count) for every possible count.
  std::vector<fp::QuantizedMultiplier> mult(static_cast<std::size_t>(g.kh * g.kw + 1));
  for (std::size_t c = 1; c < mult.size(); ++c) {
    mult[c] = fp::QuantizeMultiplier(static_cast<double>(xp.scale) /
                                     (static_cast<double>(yp.scale) * static_cast<double>(c)));
  }
  auto* yb = static_cast<std::uint8_t*>(y->data());
  DispatchQ(x->dtype(), [&](auto t) {
    using T = decltype(t);
    const T* xd = x->as<T>().data();
    ctx.ParallelFor(static_cast<std::size_t>(g.N * g.C), [&](std::size_t begin, std::size_t end) {
      for (std::size_t pl = begin; pl < end; ++pl) {
        const T* plane = xd + static_cast<i64>(pl) * g.H * g.W;
        for (i64 oh = 0; oh < g.OH; ++oh) {
          const i64 h0 = oh * g.sh - g.pt;
          const i64 hs = std::max<i64>(h0, 0), he = std::min(h0 + g.kh, g.H);
          // The window clipped to the padded input (what count_include_pad counts).
          const i64 hp = std::min(h0 + g.kh, g.H + g.pb) - h0;
          for (i64 ow = 0; ow < g.OW; ++ow) {
            const i64 w0 = ow * g.sw - g.pl;
            const i64 ws = std::max<i64>(w0, 0), we = std::min(w0 + g.kw, g.W);
            const i64 wp = std::min(w0 + g.kw, g.W + g.pr) - w0;
            std::int32_t sum = 0;
            for (i64 h = hs; h < he; ++h)
              for (i64 w = ws; w < we; ++w) sum += plane[h * g.W + w];
            const auto valid =
                static_cast<std::int32_t>(std::max<i64>(0, he - hs) * std::max<i64>(0, we - ws));
            const auto count = include_pad ? static_cast<std::int32_t>(hp * wp) : valid;
            std::int32_t v;
            if (count == 0) {
              v = yp.zp;
            } else if (same) {
              // TFLite: padding counts as the zero point when it is counted.
              sum += (count - valid) * xp.zp;
              v = sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
            } else {
              v = fp::MultiplyByQuantizedMultiplier(sum - valid * xp.zp,
                                                    mult[static_cast<std::size_t>(count)]) +
                  yp.zp;
            }
            StoreByte(yb, static_cast<i64>(pl) * g.OH * g.OW + oh * g.OW + ow, yp.type,
                      std::clamp(v, yp.lo, yp.hi));
          }
        }
      }
    });
  });
  return Status::Ok();
}

Status QMaxPoolKernel(KernelContext& ctx) {
  const Tensor* x = nullptr;
  InParams xp;
  OutParams yp;
  ConvGeom g;
  DEEPEDGE_RETURN_IF_ERROR(PoolCommon(ctx, x, xp, yp, g, true));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, yp.type, Shape{g.N, g.C, g.OH, g.OW}));
  const bool same = SameParams(xp, yp);
  const fp::QuantizedMultiplier mult =
      fp::QuantizeMultiplier(static_cast<double>(xp.scale) / static_cast<double>(yp.scale));
  auto* yb = static_cast<std::uint8_t*>(y->data());
  DispatchQ(x->dtype(), [&](auto t) {
    using T = decltype(t);
    const T* xd = x->as<T>().data();
    ctx.ParallelFor(static_cast<std::size_t>(g.N * g.C), [&](std::size_t begin, std::size_t end) {
      for (std::size_t pl = begin; pl < end; ++pl) {
        const T* plane = xd + static_cast<i64>(pl) * g.H * g.W;
        for (i64 oh = 0; oh < g.OH; ++oh) {
          for (i64 ow = 0; ow < g.OW; ++ow) {
            std::int32_t best = std::numeric_limits<std::int32_t>::min();
            for (i64 ky = 0; ky < g.kh; ++ky) {
              const i64 h = oh * g.sh - g.pt + ky * g.dh;
              if (h < 0 || h >= g.H) continue;
              for (i64 kx = 0; kx < g.kw; ++kx) {
                const i64 w = ow * g.sw - g.pl + kx * g.dw;
                if (w < 0 || w >= g.W) continue;
                best = std::max<std::int32_t>(best, plane[h * g.W + w]);
              }
            }
            std::int32_t v;
            if (best == std::numeric_limits<std::int32_t>::min()) {
              v = yp.zp;  // a window entirely in the padding
            } else if (same) {
              v = best;
            } else {
              v = fp::MultiplyByQuantizedMultiplier(best - xp.zp, mult) + yp.zp;
            }
            StoreByte(yb, static_cast<i64>(pl) * g.OH * g.OW + oh * g.OW + ow, yp.type,
                      std::clamp(v, yp.lo, yp.hi));
          }
        }
      }
    });
  });
  return Status::Ok();
}

Status QGlobalAveragePoolKernel(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(InParams xp, ReadIn(n, "x"));
  DEEPEDGE_ASSIGN_OR_RETURN(OutParams yp, ReadOut(n));
  DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *x, xp.zp, "x"));
  const Shape& xs = x->shape();
  if (xs.rank() != 4) return NodeError(ctx, "x must be 4-D [N, C, H, W], got " + xs.ToString());
  const i64 hw = xs[2] * xs[3];
  if (hw < 1) return NodeError(ctx, "x " + xs.ToString() + " has no spatial elements");
  const bool keep = n.GetInt("keepdims", 1) != 0;
  const Shape ys = keep ? Shape{xs[0], xs[1], 1, 1} : Shape{xs[0], xs[1]};
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, yp.type, ys));
  // TFLite's quantized MEAN over H, W (float arithmetic where TFLite has it).
  const float real_scale = xp.scale / (static_cast<float>(hw) * yp.scale);
  const fp::QuantizedMultiplier mult = fp::QuantizeMultiplier(static_cast<double>(real_scale));
  const std::int32_t bias =
      yp.zp - static_cast<std::int32_t>(static_cast<float>(xp.zp) * xp.scale / yp.scale);
  auto* yb = static_cast<std::uint8_t*>(y->data());
  DispatchQ(x->dtype(), [&](auto t) {
    using T = decltype(t);
    const T* xd = x->as<T>().data();
    ctx.ParallelFor(static_cast<std::size_t>(xs[0] * xs[1]),
                    [&](std::size_t begin, std::size_t end) {
                      for (std::size_t pl = begin; pl < end; ++pl) {
                        const T* plane = xd + static_cast<i64>(pl) * hw;
                        std::int32_t sum = 0;
                        for (i64 i = 0; i < hw; ++i) sum += plane[i];
                        const std::int32_t v = fp::MultiplyByQuantizedMultiplier(sum, mult) + bias;
                        StoreByte(yb, static_cast<i64>(pl), yp.type, std::clamp(v, yp.lo, yp.hi));
                      }
                    });
  });
  return Status::Ok();
}

Status QLookupKernel(KernelContext& ctx) {
  const ir::Node& n = ctx.node();
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(OutParams yp, ReadOut(n));
  DEEPEDGE_RETURN_IF_ERROR(CheckQInput(ctx, *x, TypeMin(x->dtype()), "x"));
  const std::vector<i64> table = n.GetInts("table");
  if (table.size() != 256) {
    return NodeError(ctx, "table must have 256 values, got " + std::to_string(table.size()));
  }
  std::uint8_t lut[256];
  for (std::size_t i = 0; i < 256; ++i) {
    if (table[i] < TypeMin(yp.type) || table[i] > TypeMax(yp.type)) {
      return NodeError(ctx, "table value " + std::to_string(table[i]) + " is out of range");
    }
    StoreByte(lut, static_cast<i64>(i), yp.type, static_cast<std::int32_t>(table[i]));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, yp.type, x->shape()));
  const auto* xb = static_cast<const std::uint8_t*>(x->data());
  auto* yb = static_cast<std::uint8_t*>(y->data());
  // Index = x - type_min: the byte itself for u8, the byte with its top bit flipped for i8.
  const std::uint8_t flip = x->dtype() == DType::kI8 ? 0x80 : 0;
  ctx.ParallelFor(static_cast<std::size_t>(x->element_count()),
                  [&](std::size_t begin, std::size_t end) {
                    for (std::size_t i = begin; i < end; ++i) yb[i] = lut[xb[i] ^ flip];
                  });
  return Status::Ok();
}

}  // namespace

QLinearIsa QLinearBestIsa() {
  if (kSimdAvailable) return QLinearIsa::kAvx512Vnni;
  return kAvx2Available ? QLinearIsa::kAvx2 : QLinearIsa::kPlain;
}
QLinearIsa QLinearActiveIsa() {
  if (g_simd) return QLinearIsa::kAvx512Vnni;
  return g_avx2 ? QLinearIsa::kAvx2 : QLinearIsa::kPlain;
}
void SetQLinearIsa(QLinearIsa isa) {
  g_simd = isa == QLinearIsa::kAvx512Vnni && kSimdAvailable;
  g_avx2 = !g_simd && isa != QLinearIsa::kPlain && kAvx2Available;
}
const char* QLinearIsaName(QLinearIsa isa) {
  switch (isa) {
    case QLinearIsa::kAvx512Vnni:
      return "AVX-512 VNNI";
    case QLinearIsa::kAvx2:
      return "AVX2";
    case QLinearIsa::kPlain:
      break;
  }
  return "plain C++";
}

void RegisterQLinearKernels(KernelRegistry& r) {
  r.AddFactory(kQLinearDomain, "QConv", [](const ir::Node& n, const PrepareContext& p) {
    return QConvKernel::Make(n, p, false);
  });
  r.AddFactory(kQLinearDomain, "QGemm", [](const ir::Node& n, const PrepareContext& p) {
    return QConvKernel::Make(n, p, true);
  });
  r.Add(kQLinearDomain, "QAdd", QBinaryKernel<false>);
  r.Add(kQLinearDomain, "QMul", QBinaryKernel<true>);
  r.Add(kQLinearDomain, "QAveragePool", QAveragePoolKernel);
  r.Add(kQLinearDomain, "QGlobalAveragePool", QGlobalAveragePoolKernel);
  r.Add(kQLinearDomain, "QMaxPool", QMaxPoolKernel);
  r.Add(kQLinearDomain, "QLookup", QLookupKernel);
}

}  // namespace deepedge::engine
