// Reference kernels of the neural-network family: convolution, pooling, Gemm/MatMul,
// normalizations, softmax, Resize/Upsample, TopK, CumSum, Einsum (see engine/kernel.h
// for the contract).
//
// Everything computes in f32; f16 and bf16 tensors are converted to f32 on the way in
// and back on the way out. Spatial operators work on a canonical 3-D geometry (1-D and
// 2-D problems get leading dimensions of size 1). Conv, ConvTranspose, Gemm, MatMul and
// Einsum run on the blocked SGEMM below (nn_sgemm.h); groups with one input channel
// (depthwise) use a direct convolution instead.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/aligned.h"
#include "engine/kernels/kernel_util.h"
#include "engine/kernels/nn_sgemm.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

namespace deepedge::engine {
namespace {

using i64 = std::int64_t;

// ---------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

// The f32 values of a floating tensor: borrowed for f32, converted for f16 / bf16.
class FloatIn {
 public:
  FloatIn() = default;
  const float* data() const { return borrowed_ != nullptr ? borrowed_ : owned_.data(); }
  i64 size() const { return size_; }
  float operator[](i64 i) const { return data()[i]; }

  static Expected<FloatIn> From(const KernelContext& ctx, const Tensor& t, const char* what) {
    FloatIn in;
    in.size_ = t.element_count();
    if (t.dtype() == DType::kF32) {
      in.borrowed_ = t.as<float>().data();
      return in;
    }
    if (t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
      const bool half = t.dtype() == DType::kF16;
      auto src = t.as<std::uint16_t>();
      in.owned_.resize(src.size());
      for (std::size_t i = 0; i < src.size(); ++i)
        in.owned_[i] = half ? F16ToF32(src[i]) : BF16ToF32(src[i]);
      return in;
    }
    return NodeUnsupported(ctx, std::string(what) + " has type " +
                                    std::string(DTypeName(t.dtype())) +
                                    " (expected f32, f16 or bf16)");
  }

 private:
  const float* borrowed_ = nullptr;
  std::vector<float> owned_;
  i64 size_ = 0;
};

// Output storage written as f32: the tensor itself for f32, a buffer converted by
// Finish() for f16 / bf16.
class FloatOut {
 public:
  float* data() {
    return tensor_->dtype() == DType::kF32 ? tensor_->as<float>().data() : buf_.data();
  }
  i64 size() const { return tensor_->element_count(); }
  Tensor* tensor() { return tensor_; }

  static Expected<FloatOut> Make(KernelContext& ctx, std::size_t i, DType dtype,
                                 const Shape& shape) {
    FloatOut out;
    DEEPEDGE_ASSIGN_OR_RETURN(out.tensor_, ctx.Output(i, dtype, shape));
    if (dtype != DType::kF32) out.buf_.resize(static_cast<std::size_t>(shape.element_count()));
    return out;
  }
  // Converts the f32 results into the tensor (no-op for f32).
  Status Finish() {
    if (tensor_->dtype() == DType::kF32) return Status::Ok();
    auto dst = tensor_->as<std::uint16_t>();
    const bool half = tensor_->dtype() == DType::kF16;
    for (std::size_t i = 0; i < dst.size(); ++i)
      dst[i] = half ? F32ToF16(buf_[i]) : F32ToBF16(buf_[i]);
    return Status::Ok();
  }

 private:
  Tensor* tensor_ = nullptr;
  std::vector<float> buf_;
};

// Runs fn over [0, n) on the session's threads when the work (n * cost, roughly in
// flops) is worth it, inline otherwise.
void Parallel(KernelContext* ctx, i64 n, double cost_per_item,
              const std::function<void(i64, i64)>& fn) {
  if (n <= 0) return;
  constexpr double kMinParallelWork = 1 << 15;
  if (ctx == nullptr || ctx->threads() <= 1 || n == 1 ||
      cost_per_item * static_cast<double>(n) < kMinParallelWork) {
    fn(0, n);
    return;
  }
  ctx->ParallelFor(static_cast<std::size_t>(n), [&fn](std::size_t b, std::size_t e) {
    fn(static_cast<i64>(b), static_cast<i64>(e));
  });
}

i64 CeilDiv(i64 a, i64 b) {
  return (a + b - 1) / b;
}

// floor(v) clamped to [lo, hi]; NaN gives lo (a plain cast of an out-of-range or NaN
// value is undefined).
i64 ClampedFloor(double v, i64 lo, i64 hi) {
  if (!(v > static_cast<double>(lo))) return lo;
  if (v >= static_cast<double>(hi)) return hi;
  return static_cast<i64>(std::floor(v));
}

// NormalizeAxis with an error that names the node.
Expected<i64> NodeAxis(const KernelContext& ctx, i64 axis, std::size_t rank) {
  auto a = NormalizeAxis(axis, rank);
  if (!a.has_value()) return NodeError(ctx, a.status().message());
  return *a;
}

i64 Product(const std::vector<i64>& v, std::size_t begin, std::size_t end) {
  i64 p = 1;
  for (std::size_t i = begin; i < end && i < v.size(); ++i) p *= v[i];
  return p;
}

// Sum of n floats, vectorisable (independent lanes) and accumulated per block in double.
double SumF(const float* x, i64 n) {
  constexpr int kLanes = 16;
  double total = 0;
  i64 i = 0;
  while (i < n) {
    const i64 block_end = std::min(n, i + 4096);
    float acc[kLanes] = {};
    for (; i + kLanes <= block_end; i += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
    float rest = 0;
    for (; i < block_end; ++i) rest += x[i];
    double block = rest;
    for (int l = 0; l < kLanes; ++l) block += acc[l];
    total += block;
  }
  return total;
}

// Sum of (x - mean)^2, same scheme.
double SumSqDevF(const float* x, i64 n, float mean) {
  constexpr int kLanes = 16;
  double total = 0;
  i64 i = 0;
  while (i < n) {
    const i64 block_end = std::min(n, i + 4096);
    float acc[kLanes] = {};
    for (; i + kLanes <= block_end; i += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float d = x[i + l] - mean;
        acc[l] += d * d;
      }
    float rest = 0;
    for (; i < block_end; ++i) rest += (x[i] - mean) * (x[i] - mean);
    double block = rest;
    for (int l = 0; l < kLanes; ++l) block += acc[l];
    total += block;
  }
  return total;
}

float DotF(const float* a, const float* b, i64 n) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  i64 i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

// Maximum of n >= 1 floats (vectorisable; NaN-propagation is not guaranteed).
float MaxF(const float* x, i64 n) {
  constexpr int kLanes = 16;
  float m = x[0];
  i64 i = 0;
  if (n >= kLanes) {
    float lanes[kLanes];
    std::copy(x, x + kLanes, lanes);
    for (i = kLanes; i + kLanes <= n; i += kLanes)
      for (int l = 0; l < kLanes; ++l) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
    for (int l = 0; l < kLanes; ++l) m = lanes[l] > m ? lanes[l] : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// ---------------------------------------------------------------------------------
// SGEMM
// ---------------------------------------------------------------------------------

template <int W>
struct VecOf {
  typedef float type __attribute__((vector_size(W * sizeof(float))));
};

// How far ahead the x86 micro-kernels prefetch B, in steps of depth. Their B is a
// filter packed at construction, and a model's filters (17 MB in MobileNet v1) do not
// stay in the caches between runs, and the micro-kernel's own loads (two lines every 14
// cycles) with the hardware prefetcher left memory mostly idle (transparent huge pages
// did not change that). Read 64 steps ahead (8 KiB for the 32-wide AVX-512 kernel), the
// next block of depth arrives while the current one computes. Measured on the Zen 5 EPYC (1 thread,
// filters not in cache): a 1x1 convolution on 7x7 maps 1024 -> 1024 channels 0.91 -> 0.68 ms (0.65
// with its filter in cache), MobileNet v1 7.46 -> 6.96-7.05 ms.
constexpr int kPrefetchSteps = 64;

// Prefetches the kBytes bytes of B that step p + kPrefetchSteps will read (b points at
// step p's row, kStride floats apart). A prefetch never faults, so one past the end of
// B is harmless.
template <int kStride, int kBytes>
__attribute__((always_inline)) inline void PrefetchB(const float* b) {
  const char* ahead = reinterpret_cast<const char*>(b + kPrefetchSteps * kStride);
  for (int off = 0; off < kBytes; off += 64) __builtin_prefetch(ahead + off, 0, 3);
}

// C[MR x NR] = alpha * A_strip * B_strip + beta * C (beta == 0: C not read).
// b: kc groups of NR = W * NV floats. a: kc groups of MR floats (packed), or with
// kRowsA MR rows of kc floats, lda apart (unpacked: as the Winograd transform writes it;
// the broadcasts read MR sequential streams, which costs about the same from cache).
template <int MR, int W, int NV, bool kRowsA = false, bool kPrefetch = false>
__attribute__((always_inline)) inline void MicroKernelBody(i64 kc, const float* __restrict a,
                                                           const float* __restrict b,
                                                           float* __restrict c, i64 ldc,
                                                           float alpha, float beta, i64 lda = 0) {
  using V = typename VecOf<W>::type;
  V acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = V{};
  for (i64 p = 0; p < kc; ++p) {
    if constexpr (kPrefetch) PrefetchB<W * NV, W * NV * sizeof(float)>(b);
    V bv[NV];
    for (int j = 0; j < NV; ++j) std::memcpy(&bv[j], b + j * W, sizeof(V));
    for (int i = 0; i < MR; ++i) {
      // s - V{}, not V{} + s: adding +0.0 turns -0.0 into +0.0, so the compiler keeps
      // that add (an add and a register broadcast per row and step, where a
      // broadcast load suffices); s - (+0.0) is s for every s and folds away.
      const V av = (kRowsA ? a[i * lda] : a[i]) - V{};
      for (int j = 0; j < NV; ++j) acc[i][j] += av * bv[j];
    }
    a += kRowsA ? 1 : MR;
    b += W * NV;
  }
  const V va = V{} + alpha;
  if (beta == 0.0f) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        const V r = va * acc[i][j];
        std::memcpy(c + i * ldc + j * W, &r, sizeof(V));
      }
  } else if (beta == 1.0f) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        V cv;
        std::memcpy(&cv, c + i * ldc + j * W, sizeof(V));
        cv += va * acc[i][j];
        std::memcpy(c + i * ldc + j * W, &cv, sizeof(V));
      }
  } else {
    const V vb = V{} + beta;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        V cv;
        std::memcpy(&cv, c + i * ldc + j * W, sizeof(V));
        cv = vb * cv + va * acc[i][j];
        std::memcpy(c + i * ldc + j * W, &cv, sizeof(V));
      }
  }
}

// The same product with an epilogue, for callers that fold a bias and an activation
// into the last pass over C (the 1x1 convolution): c[MR x NR] = clamp(init + A * B,
// lo, hi), where init is c itself (accumulate), else the bias row (NR floats), else 0.
// A is MR rows of kc floats, lda apart (unpacked). Row p of B starts at b + p * kBStride
// (wider than NR for the half-width kernels, which read part of a packed strip).
template <int MR, int W, int NV, int kBStride = W* NV, bool kPrefetch = false>
__attribute__((always_inline)) inline void MicroKernelEpilogueBody(
    i64 kc, const float* __restrict a, i64 lda, const float* __restrict b, float* __restrict c,
    i64 ldc, const float* __restrict bias, bool accumulate, bool clamp, float lo, float hi) {
  using V = typename VecOf<W>::type;
  V acc[MR][NV];
  if (accumulate) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) std::memcpy(&acc[i][j], c + i * ldc + j * W, sizeof(V));
  } else {
    V init[NV];
    for (int j = 0; j < NV; ++j) {
      init[j] = V{};
      if (bias != nullptr) std::memcpy(&init[j], bias + j * W, sizeof(V));
    }
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) acc[i][j] = init[j];
  }
  for (i64 p = 0; p < kc; ++p) {
    if constexpr (kPrefetch) PrefetchB<kBStride, W * NV * sizeof(float)>(b);
    V bv[NV];
    for (int j = 0; j < NV; ++j) std::memcpy(&bv[j], b + j * W, sizeof(V));
    for (int i = 0; i < MR; ++i) {
      const V av = a[i * lda] - V{};  // not V{} + s: see MicroKernelBody
      for (int j = 0; j < NV; ++j) acc[i][j] += av * bv[j];
    }
    ++a;
    b += kBStride;
  }
  if (clamp) {
    const V vlo = V{} + lo, vhi = V{} + hi;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        V x = acc[i][j];
        x = x < vlo ? vlo : x;
        x = x > vhi ? vhi : x;
        acc[i][j] = x;
      }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) std::memcpy(c + i * ldc + j * W, &acc[i][j], sizeof(V));
}

using MicroKernelFn = void (*)(i64 kc, const float* a, const float* b, float* c, i64 ldc,
                               float alpha, float beta);
using MicroKernelRowsAFn = void (*)(i64 kc, const float* a, i64 lda, const float* b, float* c,
                                    i64 ldc, float alpha, float beta);

using MicroKernelEpilogueFn = void (*)(i64 kc, const float* a, i64 lda, const float* b, float* c,
                                       i64 ldc, const float* bias, bool accumulate, bool clamp,
                                       float lo, float hi);

struct MicroKernel {
  int mr;
  int nr;
  MicroKernelFn fn;
  MicroKernelRowsAFn fn_rows_a;
  MicroKernelEpilogueFn fn_epilogue;
  MicroKernelEpilogueFn fn_epilogue_half;
  MicroKernelEpilogueFn fn_epilogue_short;
  const char* name;
};

constexpr int kMaxMr = 16;
constexpr int kMaxNr = 32;

#if defined(__aarch64__)
constexpr int kGenericMr = 8;
#else
constexpr int kGenericMr = 4;
#endif

void MicroKernelGeneric(i64 kc, const float* a, const float* b, float* c, i64 ldc, float alpha,
                        float beta) {
  MicroKernelBody<kGenericMr, 4, 2>(kc, a, b, c, ldc, alpha, beta);
}
void MicroKernelGenericRowsA(i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc,
                             float alpha, float beta) {
  MicroKernelBody<kGenericMr, 4, 2, true>(kc, a, b, c, ldc, alpha, beta, lda);
}
void MicroKernelGenericEpilogue(i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc,
                                const float* bias, bool accumulate, bool clamp, float lo,
                                float hi) {
  MicroKernelEpilogueBody<kGenericMr, 4, 2>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo, hi);
}
void MicroKernelGenericEpilogueShort(i64 kc, const float* a, i64 lda, const float* b, float* c,
                                     i64 ldc, const float* bias, bool accumulate, bool clamp,
                                     float lo, float hi) {
  MicroKernelEpilogueBody<kGenericMr / 2, 4, 2>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                                hi);
}
void MicroKernelGenericEpilogueHalf(i64 kc, const float* a, i64 lda, const float* b, float* c,
                                    i64 ldc, const float* bias, bool accumulate, bool clamp,
                                    float lo, float hi) {
  MicroKernelEpilogueBody<kGenericMr, 4, 1, 8>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                               hi);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DEEPEDGE_NN_X86 1
__attribute__((target("avx512f"))) void MicroKernelAvx512(i64 kc, const float* a, const float* b,
                                                          float* c, i64 ldc, float alpha,
                                                          float beta) {
  MicroKernelBody<14, 16, 2>(kc, a, b, c, ldc, alpha, beta);
}
__attribute__((target("avx512f"))) void MicroKernelAvx512RowsA(i64 kc, const float* a, i64 lda,
                                                               const float* b, float* c, i64 ldc,
                                                               float alpha, float beta) {
  MicroKernelBody<14, 16, 2, true, true>(kc, a, b, c, ldc, alpha, beta, lda);
}
__attribute__((target("avx512f"))) void MicroKernelAvx512Epilogue(i64 kc, const float* a, i64 lda,
                                                                  const float* b, float* c, i64 ldc,
                                                                  const float* bias,
                                                                  bool accumulate, bool clamp,
                                                                  float lo, float hi) {
  MicroKernelEpilogueBody<14, 16, 2, 32, true>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                               hi);
}
__attribute__((target("avx512f"))) void MicroKernelAvx512EpilogueHalf(
    i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc, const float* bias,
    bool accumulate, bool clamp, float lo, float hi) {
  MicroKernelEpilogueBody<14, 16, 1, 32, true>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                               hi);
}
__attribute__((target("avx512f"))) void MicroKernelAvx512EpilogueShort(
    i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc, const float* bias,
    bool accumulate, bool clamp, float lo, float hi) {
  MicroKernelEpilogueBody<7, 16, 2, 32, true>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                              hi);
}
__attribute__((target("avx2,fma"))) void MicroKernelAvx2(i64 kc, const float* a, const float* b,
                                                         float* c, i64 ldc, float alpha,
                                                         float beta) {
  MicroKernelBody<6, 8, 2>(kc, a, b, c, ldc, alpha, beta);
}
__attribute__((target("avx2,fma"))) void MicroKernelAvx2RowsA(i64 kc, const float* a, i64 lda,
                                                              const float* b, float* c, i64 ldc,
                                                              float alpha, float beta) {
  MicroKernelBody<6, 8, 2, true, true>(kc, a, b, c, ldc, alpha, beta, lda);
}
// max(lo, x) then min(hi, x), in this operand order: an unordered compare returns the
// second operand, so NaN passes through as it does in the generic body.
__attribute__((target("avx2,fma"), always_inline)) inline __m256 ClampPs(__m256 x, __m256 lo,
                                                                         __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, x));
}

// The 6x16 epilogue kernel written out with intrinsics, one named accumulator per
// register. From the generic body GCC kept the twelve accumulators in registers inside
// the loop only, and moved them through the stack before and after it (the array's
// address escapes in the branches around the loop). Measured from L1 on the AVX2 EPYC:
// 26-28 -> 31-33 GMAC/s at depth 16 (a 16-channel 1x1 convolution), 35 -> 37-38 at 32,
// 43-44 -> 45 at 256. Same operations in the same order as the generic body, so the
// same results to the bit.
__attribute__((target("avx2,fma"))) void MicroKernelAvx2Epilogue(i64 kc, const float* a, i64 lda,
                                                                 const float* b, float* c, i64 ldc,
                                                                 const float* bias, bool accumulate,
                                                                 bool clamp, float lo, float hi) {
  const float* a0 = a;
  const float* a1 = a0 + lda;
  const float* a2 = a1 + lda;
  const float* a3 = a2 + lda;
  const float* a4 = a3 + lda;
  const float* a5 = a4 + lda;
  float* c0 = c;
  float* c1 = c0 + ldc;
  float* c2 = c1 + ldc;
  float* c3 = c2 + ldc;
  float* c4 = c3 + ldc;
  float* c5 = c4 + ldc;
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (accumulate) {
    c00 = _mm256_loadu_ps(c0), c01 = _mm256_loadu_ps(c0 + 8);
    c10 = _mm256_loadu_ps(c1), c11 = _mm256_loadu_ps(c1 + 8);
    c20 = _mm256_loadu_ps(c2), c21 = _mm256_loadu_ps(c2 + 8);
    c30 = _mm256_loadu_ps(c3), c31 = _mm256_loadu_ps(c3 + 8);
    c40 = _mm256_loadu_ps(c4), c41 = _mm256_loadu_ps(c4 + 8);
    c50 = _mm256_loadu_ps(c5), c51 = _mm256_loadu_ps(c5 + 8);
  } else {
    const __m256 b0 = bias != nullptr ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias != nullptr ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    c00 = c10 = c20 = c30 = c40 = c50 = b0;
    c01 = c11 = c21 = c31 = c41 = c51 = b1;
  }
  for (i64 p = 0; p < kc; ++p) {
    PrefetchB<16, 64>(b);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    b += 16;
    __m256 av = _mm256_broadcast_ss(a0 + p);
    c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a1 + p);
    c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a2 + p);
    c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a3 + p);
    c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a4 + p);
    c40 = _mm256_fmadd_ps(av, b0, c40), c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a5 + p);
    c50 = _mm256_fmadd_ps(av, b0, c50), c51 = _mm256_fmadd_ps(av, b1, c51);
  }
  if (clamp) {
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    c00 = ClampPs(c00, vlo, vhi), c01 = ClampPs(c01, vlo, vhi);
    c10 = ClampPs(c10, vlo, vhi), c11 = ClampPs(c11, vlo, vhi);
    c20 = ClampPs(c20, vlo, vhi), c21 = ClampPs(c21, vlo, vhi);
    c30 = ClampPs(c30, vlo, vhi), c31 = ClampPs(c31, vlo, vhi);
    c40 = ClampPs(c40, vlo, vhi), c41 = ClampPs(c41, vlo, vhi);
    c50 = ClampPs(c50, vlo, vhi), c51 = ClampPs(c51, vlo, vhi);
  }
  _mm256_storeu_ps(c0, c00), _mm256_storeu_ps(c0 + 8, c01);
  _mm256_storeu_ps(c1, c10), _mm256_storeu_ps(c1 + 8, c11);
  _mm256_storeu_ps(c2, c20), _mm256_storeu_ps(c2 + 8, c21);
  _mm256_storeu_ps(c3, c30), _mm256_storeu_ps(c3 + 8, c31);
  _mm256_storeu_ps(c4, c40), _mm256_storeu_ps(c4 + 8, c41);
  _mm256_storeu_ps(c5, c50), _mm256_storeu_ps(c5 + 8, c51);
}
__attribute__((target("avx2,fma"))) void MicroKernelAvx2EpilogueHalf(
    i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc, const float* bias,
    bool accumulate, bool clamp, float lo, float hi) {
  MicroKernelEpilogueBody<6, 8, 1, 16, true>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                             hi);
}
__attribute__((target("avx2,fma"))) void MicroKernelAvx2EpilogueShort(
    i64 kc, const float* a, i64 lda, const float* b, float* c, i64 ldc, const float* bias,
    bool accumulate, bool clamp, float lo, float hi) {
  MicroKernelEpilogueBody<3, 8, 2, 16, true>(kc, a, lda, b, c, ldc, bias, accumulate, clamp, lo,
                                             hi);
}
#endif

// The micro-kernels this CPU can run, best first.
const std::vector<MicroKernel>& AvailableMicroKernels() {
  static const std::vector<MicroKernel> kernels = [] {
    std::vector<MicroKernel> v;
#ifdef DEEPEDGE_NN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
      v.push_back(MicroKernel{14, 32, MicroKernelAvx512, MicroKernelAvx512RowsA,
                              MicroKernelAvx512Epilogue, MicroKernelAvx512EpilogueHalf,
                              MicroKernelAvx512EpilogueShort, "avx512 14x32"});
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      v.push_back(MicroKernel{6, 16, MicroKernelAvx2, MicroKernelAvx2RowsA, MicroKernelAvx2Epilogue,
                              MicroKernelAvx2EpilogueHalf, MicroKernelAvx2EpilogueShort,
                              "avx2 6x16"});
    }
#endif
    v.push_back(MicroKernel{kGenericMr, 8, MicroKernelGeneric, MicroKernelGenericRowsA,
                            MicroKernelGenericEpilogue, MicroKernelGenericEpilogueHalf,
                            MicroKernelGenericEpilogueShort,
                            kGenericMr == 8 ? "generic 8x8" : "generic 4x8"});
    return v;
  }();
  return kernels;
}

std::atomic<const MicroKernel*> g_micro_kernel{nullptr};

const MicroKernel& SelectMicroKernel() {
  const MicroKernel* k = g_micro_kernel.load(std::memory_order_acquire);
  if (k == nullptr) {
    k = &AvailableMicroKernels().front();
    g_micro_kernel.store(k, std::memory_order_release);
  }
  return *k;
}

constexpr i64 kKc = 256;  // depth of a packed block

i64 BlockM(const MicroKernel& uk) {
  return uk.mr * CeilDiv(96, uk.mr);
}
i64 BlockN(const MicroKernel& uk) {
  return uk.nr * CeilDiv(384, uk.nr);
}

// Per-thread scratch (grows, never shrinks).
float* Scratch(int which, std::size_t floats) {
  thread_local AlignedFloats buffers[4];
  AlignedFloats& b = buffers[which];
  if (b.size() < floats) b.resize(floats);
  return b.data();
}
enum ScratchSlot { kScratchA = 0, kScratchB = 1, kScratchCol = 2, kScratchMisc = 3 };

// Packs A (element (i, p) at a[i * rs + p * cs]), i < mc, p < kc, into MR-row strips.
void PackA(const float* a, i64 rs, i64 cs, i64 mc, i64 kc, int mr, float* dst) {
  for (i64 i0 = 0; i0 < mc; i0 += mr) {
    const int rows = static_cast<int>(std::min<i64>(mr, mc - i0));
    if (rows < mr) std::fill(dst, dst + kc * mr, 0.0f);
    if (cs == 1) {
      for (int r = 0; r < rows; ++r) {
        const float* src = a + (i0 + r) * rs;
        for (i64 p = 0; p < kc; ++p) dst[p * mr + r] = src[p];
      }
    } else if (rs == 1) {
      for (i64 p = 0; p < kc; ++p)
        std::memcpy(dst + p * mr, a + i0 + p * cs, sizeof(float) * static_cast<std::size_t>(rows));
    } else {
      for (i64 p = 0; p < kc; ++p)
        for (int r = 0; r < rows; ++r) dst[p * mr + r] = a[(i0 + r) * rs + p * cs];
    }
    dst += kc * mr;
  }
}

// Packs B (element (p, j) at b[p * rs + j * cs]), p < kc, j < nc, into NR-column strips.
void PackB(const float* b, i64 rs, i64 cs, i64 kc, i64 nc, int nr, float* dst) {
  for (i64 j0 = 0; j0 < nc; j0 += nr) {
    const int cols = static_cast<int>(std::min<i64>(nr, nc - j0));
    if (cols < nr) std::fill(dst, dst + kc * nr, 0.0f);
    if (cs == 1) {
      for (i64 p = 0; p < kc; ++p)
        std::memcpy(dst + p * nr, b + p * rs + j0, sizeof(float) * static_cast<std::size_t>(cols));
    } else if (rs == 1) {
      for (int q = 0; q < cols; ++q) {
        const float* src = b + (j0 + q) * cs;
        for (i64 p = 0; p < kc; ++p) dst[p * nr + q] = src[p];
      }
    } else {
      for (i64 p = 0; p < kc; ++p)
        for (int q = 0; q < cols; ++q) dst[p * nr + q] = b[p * rs + (j0 + q) * cs];
    }
    dst += kc * nr;
  }
}

// Packs all of A (rows x k, row-major) for GemmCore's PrepackedA: depth blocks of kKc in
// order, each holding every MR-row strip. Writes RoundUp(rows, mr) * k floats.
void PackAllA(const float* a, i64 rows, i64 k, int mr, float* dst) {
  const i64 padded = mr * CeilDiv(rows, mr);
  for (i64 k0 = 0; k0 < k; k0 += kKc) {
    PackA(a + k0, k, 1, rows, std::min(kKc, k - k0), mr, dst + k0 * padded);
  }
}

// All of B (k x n, row-major, rows ldb apart) packed for GemmCore once (constant
// weights): depth blocks of kKc in order, each holding every NR-column strip.
struct PrepackedB {
  int nr = 0;
  i64 k = 0, n = 0;
  i64 padded_cols = 0;  // n rounded up to nr
  std::vector<float> data;

  static PrepackedB Pack(const float* b, i64 k, i64 n, i64 ldb, int nr) {
    PrepackedB p;
    p.nr = nr;
    p.k = k;
    p.n = n;
    p.padded_cols = nr * CeilDiv(n, nr);
    p.data.resize(static_cast<std::size_t>(p.padded_cols * k));
    for (i64 k0 = 0; k0 < k; k0 += kKc) {
      PackB(b + k0 * ldb, ldb, 1, std::min(kKc, k - k0), n, nr, p.data.data() + k0 * p.padded_cols);
    }
    return p;
  }
  // The packed strips of rows [k0, k0 + kc) from column col0 (a multiple of nr) on.
  const float* Block(i64 k0, i64 kc, i64 col0) const {
    return data.data() + k0 * padded_cols + (col0 / nr) * kc * nr;
  }
};

// C = beta * C (beta == 0: C = 0 without reading it).
void ScaleMatrix(float* c, i64 m, i64 n, i64 ldc, float beta) {
  for (i64 i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (i64 j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// A already packed by PackAllA (constant weights, packed once when a session is prepared):
// rows [row0, row0 + m) of it, row0 a multiple of mr.
struct PrepackedA {
  const float* data = nullptr;
  i64 padded_rows = 0;  // the packed matrix's rows, rounded up to mr
  i64 row0 = 0;
  // The packed strips of rows [row0 + m0, ...) and depths [k0, k0 + kc): PackAllA lays out
  // each depth block of kKc (the last may be shorter) as all its MR-row strips in turn.
  const float* Block(i64 m0, i64 k0, i64 kc, int mr) const {
    return data + k0 * padded_rows + ((row0 + m0) / mr) * kc * mr;
  }
};

// Serial blocked product C[m x n] = alpha * A * B + beta * C. A is addressed by strides
// (element (i, p) at a[i * a_rs + p * a_cs]), or comes prepacked (`prepacked`, which
// then replaces `a`); B is supplied already packed by pack_b(k0, kc, n0, nc, dst), which
// writes rows [k0, k0 + kc) and columns [n0, n0 + nc) of B in NR-column strips (so B may
// be an implicit im2col matrix), or returns a pointer to them packed so already.
template <class PackBFn>
void GemmCore(const MicroKernel& uk, i64 m, i64 n, i64 k, float alpha, const float* a, i64 a_rs,
              i64 a_cs, PackBFn&& pack_b, float beta, float* c, i64 ldc,
              const PrepackedA* prepacked = nullptr) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    ScaleMatrix(c, m, n, ldc, beta);
    return;
  }
  const int mr = uk.mr;
  const int nr = uk.nr;
  const i64 mc_max = BlockM(uk);
  const i64 nc_max = BlockN(uk);
  float* abuf = Scratch(kScratchA, static_cast<std::size_t>(mc_max * kKc));
  float* bbuf = Scratch(kScratchB, static_cast<std::size_t>(nc_max * kKc));
  alignas(64) float tile[kMaxMr * kMaxNr];
  for (i64 n0 = 0; n0 < n; n0 += nc_max) {
    const i64 nc = std::min(nc_max, n - n0);
    for (i64 k0 = 0; k0 < k; k0 += kKc) {
      const i64 kc = std::min(kKc, k - k0);
      // pack_b writes the block into bbuf, or (prepacked B) returns where it already is.
      const float* bpack = bbuf;
      if constexpr (std::is_void_v<std::invoke_result_t<PackBFn&, i64, i64, i64, i64, float*>>) {
        pack_b(k0, kc, n0, nc, bbuf);
      } else {
        bpack = pack_b(k0, kc, n0, nc, bbuf);
      }
      const float beta_k = k0 == 0 ? beta : 1.0f;
      for (i64 m0 = 0; m0 < m; m0 += mc_max) {
        const i64 mc = std::min(mc_max, m - m0);
        const float* apack = abuf;
        if (prepacked != nullptr) {
          apack = prepacked->Block(m0, k0, kc, mr);
        } else {
          PackA(a + m0 * a_rs + k0 * a_cs, a_rs, a_cs, mc, kc, mr, abuf);
        }
        for (i64 j0 = 0; j0 < nc; j0 += nr) {
          const i64 cols = std::min<i64>(nr, nc - j0);
          const float* bp = bpack + (j0 / nr) * kc * nr;
          for (i64 i0 = 0; i0 < mc; i0 += mr) {
            const i64 rows = std::min<i64>(mr, mc - i0);
            const float* ap = apack + (i0 / mr) * kc * mr;
            float* cp = c + (m0 + i0) * ldc + n0 + j0;
            if (rows == mr && cols == nr) {
              uk.fn(kc, ap, bp, cp, ldc, alpha, beta_k);
              continue;
            }
            uk.fn(kc, ap, bp, tile, nr, 1.0f, 0.0f);
            for (i64 r = 0; r < rows; ++r)
              for (i64 q = 0; q < cols; ++q) {
                const float v = alpha * tile[r * nr + q];
                cp[r * ldc + q] = beta_k == 0.0f ? v : beta_k * cp[r * ldc + q] + v;
              }
          }
        }
      }
    }
  }
}

// y[i * incy] = alpha * sum_p A(i, p) * x[p * incx] + beta * y[i * incy], i < rows,
// with A(i, p) = a[i * rs + p * cs].
void Gemv(KernelContext* ctx, i64 rows, i64 k, float alpha, const float* a, i64 rs, i64 cs,
          const float* x, i64 incx, float beta, float* y, i64 incy) {
  std::vector<float> xbuf;
  if (incx != 1) {
    xbuf.resize(static_cast<std::size_t>(k));
    for (i64 p = 0; p < k; ++p) xbuf[static_cast<std::size_t>(p)] = x[p * incx];
    x = xbuf.data();
  }
  auto finish = [&](i64 i, float dot) {
    float& out = y[i * incy];
    out = beta == 0.0f ? alpha * dot : alpha * dot + beta * out;
  };
  if (cs == 1) {
    Parallel(ctx, rows, 2.0 * static_cast<double>(k), [&](i64 b, i64 e) {
      for (i64 i = b; i < e; ++i) finish(i, DotF(a + i * rs, x, k));
    });
    return;
  }
  // Column-oriented: accumulate alpha-free sums over p in a contiguous buffer.
  constexpr i64 kBlock = 256;
  const i64 blocks = CeilDiv(rows, kBlock);
  Parallel(ctx, blocks, 2.0 * static_cast<double>(k * kBlock), [&](i64 b, i64 e) {
    float acc[kBlock];
    for (i64 blk = b; blk < e; ++blk) {
      const i64 i0 = blk * kBlock;
      const i64 len = std::min(kBlock, rows - i0);
      std::fill(acc, acc + len, 0.0f);
      for (i64 p = 0; p < k; ++p) {
        const float xv = x[p];
        const float* col = a + i0 * rs + p * cs;
        if (rs == 1) {
          for (i64 i = 0; i < len; ++i) acc[i] += xv * col[i];
        } else {
          for (i64 i = 0; i < len; ++i) acc[i] += xv * col[i * rs];
        }
      }
      for (i64 i = 0; i < len; ++i) finish(i0 + i, acc[i]);
    }
  });
}

// One product of a batch.
struct GemmOperands {
  const float* a;
  const float* b;
  float* c;
};

// A batch of products with common shapes and strides (see nn::Sgemm).
// `packed_b`, when given, is every product's B (not transposed) packed for the current
// micro-kernel; matrix-vector products ignore it.
void GemmBatched(KernelContext* ctx, const std::vector<GemmOperands>& ops, bool trans_a,
                 bool trans_b, i64 m, i64 n, i64 k, float alpha, i64 lda, i64 ldb, float beta,
                 i64 ldc, const PrepackedB* packed_b = nullptr) {
  if (m <= 0 || n <= 0 || ops.empty()) return;
  const i64 count = static_cast<i64>(ops.size());
  const i64 a_rs = trans_a ? 1 : lda;
  const i64 a_cs = trans_a ? lda : 1;
  const i64 b_rs = trans_b ? 1 : ldb;
  const i64 b_cs = trans_b ? ldb : 1;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) *
                       static_cast<double>(std::max<i64>(k, 1));
  if (k == 0 || alpha == 0.0f) {
    Parallel(ctx, count, flops, [&](i64 b, i64 e) {
      for (i64 t = b; t < e; ++t) ScaleMatrix(ops[static_cast<std::size_t>(t)].c, m, n, ldc, beta);
    });
    return;
  }
  if (n == 1 || m == 1) {
    // Matrix-vector products: no packing.
    KernelContext* inner = count == 1 ? ctx : nullptr;
    Parallel(count == 1 ? nullptr : ctx, count, flops, [&](i64 b, i64 e) {
      for (i64 t = b; t < e; ++t) {
        const GemmOperands& o = ops[static_cast<std::size_t>(t)];
        if (n == 1) {
          Gemv(inner, m, k, alpha, o.a, a_rs, a_cs, o.b, b_rs, beta, o.c, ldc);
        } else {
          Gemv(inner, n, k, alpha, o.b, b_cs, b_rs, o.a, a_cs, beta, o.c, 1);
        }
      }
    });
    return;
  }
  const MicroKernel& uk = SelectMicroKernel();
  const bool use_packed_b = packed_b != nullptr && !trans_b && packed_b->nr == uk.nr &&
                            packed_b->k == k && packed_b->n == n;
  // Split each product into tiles so that there are a few tasks per thread.
  i64 mt = 1;
  i64 nt = 1;
  const int threads = ctx == nullptr ? 1 : ctx->threads();
  if (threads > 1) {
    const i64 want = 4 * static_cast<i64>(threads);
    while (count * mt * nt < want) {
      const i64 tile_m = CeilDiv(m, mt);
      const i64 tile_n = CeilDiv(n, nt);
      const bool can_m = tile_m >= 2 * uk.mr * 2;
      const bool can_n = tile_n >= 2 * uk.nr * 2;
      if (!can_m && !can_n) break;
      if (can_n && (!can_m || tile_n >= tile_m)) {
        ++nt;
      } else {
        ++mt;
      }
    }
  }
  const i64 tile_m = uk.mr * CeilDiv(CeilDiv(m, mt), uk.mr);
  const i64 tile_n = uk.nr * CeilDiv(CeilDiv(n, nt), uk.nr);
  mt = CeilDiv(m, tile_m);
  nt = CeilDiv(n, tile_n);
  const i64 tasks = count * mt * nt;
  Parallel(ctx, tasks, flops / static_cast<double>(mt * nt), [&](i64 b, i64 e) {
    for (i64 t = b; t < e; ++t) {
      const GemmOperands& o = ops[static_cast<std::size_t>(t / (mt * nt))];
      const i64 im = (t / nt) % mt;
      const i64 in = t % nt;
      const i64 m0 = im * tile_m;
      const i64 n0 = in * tile_n;
      const i64 mm = std::min(tile_m, m - m0);
      const i64 nn = std::min(tile_n, n - n0);
      if (use_packed_b) {
        GemmCore(
            uk, mm, nn, k, alpha, o.a + m0 * a_rs, a_rs, a_cs,
            [&](i64 k0, i64 kc, i64 j0, i64, float*) -> const float* {
              return packed_b->Block(k0, kc, n0 + j0);
            },
            beta, o.c + m0 * ldc + n0, ldc);
        continue;
      }
      const float* bsub = o.b + n0 * b_cs;
      GemmCore(
          uk, mm, nn, k, alpha, o.a + m0 * a_rs, a_rs, a_cs,
          [&](i64 k0, i64 kc, i64 j0, i64 nc, float* dst) {
            PackB(bsub + k0 * b_rs + j0 * b_cs, b_rs, b_cs, kc, nc, uk.nr, dst);
          },
          beta, o.c + m0 * ldc + n0, ldc);
    }
  });
}

}  // namespace

namespace nn {

void Sgemm(KernelContext* ctx, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n,
           std::int64_t k, float alpha, const float* a, std::int64_t lda, const float* b,
           std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  GemmBatched(ctx, {GemmOperands{a, b, c}}, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc);
}

const char* SgemmKernelName() {
  return SelectMicroKernel().name;
}

SgemmMicroKernel CurrentSgemmMicroKernel() {
  const MicroKernel& k = SelectMicroKernel();
  return SgemmMicroKernel{
      k.mr, k.nr, k.fn_rows_a, k.fn_epilogue, k.fn_epilogue_half, k.fn_epilogue_short};
}

std::vector<std::string> SgemmKernelNames() {
  std::vector<std::string> names;
  for (const MicroKernel& k : AvailableMicroKernels()) names.emplace_back(k.name);
  return names;
}

bool SetSgemmKernel(std::string_view name) {
  for (const MicroKernel& k : AvailableMicroKernels()) {
    if (name == k.name) {
      g_micro_kernel.store(&k, std::memory_order_release);
      return true;
    }
  }
  return false;
}

}  // namespace nn

namespace {

// ---------------------------------------------------------------------------------
// Window geometry (Conv, ConvTranspose, pooling)
// ---------------------------------------------------------------------------------

// A window operator's spatial geometry canonicalised to 3-D: 1-D and 2-D problems get
// leading dimensions of size 1 (kernel 1, stride 1, dilation 1, no padding).
struct Geometry {
  int nd = 0;  // spatial rank of the node (1..3)
  i64 in[3] = {1, 1, 1};
  i64 out[3] = {1, 1, 1};
  i64 k[3] = {1, 1, 1};
  i64 s[3] = {1, 1, 1};
  i64 d[3] = {1, 1, 1};
  i64 pb[3] = {0, 0, 0};  // padding before (may be negative for ConvTranspose)
  i64 pe[3] = {0, 0, 0};  // padding after

  i64 InVol() const { return in[0] * in[1] * in[2]; }
  i64 OutVol() const { return out[0] * out[1] * out[2]; }
  i64 KVol() const { return k[0] * k[1] * k[2]; }
  int Offset() const { return 3 - nd; }
  // The node's spatial output dimensions.
  std::vector<i64> OutDims() const { return std::vector<i64>(out + Offset(), out + 3); }
};

// Range [lo, hi) of output positions o in [0, count) for which o * stride + off lies in
// [0, limit).
std::pair<i64, i64> ValidRange(i64 off, i64 stride, i64 limit, i64 count) {
  i64 lo = off >= 0 ? 0 : CeilDiv(-off, stride);
  i64 hi = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / stride + 1;
  lo = std::min(lo, count);
  hi = std::clamp(hi, lo, count);
  return {lo, hi};
}

std::string IntsStr(const std::vector<i64>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Spatial rank, input sizes, kernel, strides and dilations from X's shape, the kernel
// and the node's attributes.
Status InitGeometry(const KernelContext& ctx, const Shape& x, const std::vector<i64>& kernel,
                    Geometry& g) {
  if (x.rank() < 3) {
    return NodeError(ctx, "X must have rank >= 3 (N x C x spatial...), got shape " + x.ToString());
  }
  const int nd = static_cast<int>(x.rank()) - 2;
  if (nd > 3) {
    return NodeUnsupported(
        ctx, "only 1-D, 2-D and 3-D windows are supported, got shape " + x.ToString());
  }
  if (static_cast<int>(kernel.size()) != nd) {
    return NodeError(ctx, "kernel " + IntsStr(kernel) + " does not match the " +
                              std::to_string(nd) + "-D input " + x.ToString());
  }
  const ir::Node& node = ctx.node();
  const std::vector<i64> strides = node.GetInts("strides", std::vector<i64>(nd, 1));
  const std::vector<i64> dilations = node.GetInts("dilations", std::vector<i64>(nd, 1));
  if (static_cast<int>(strides.size()) != nd) {
    return NodeError(
        ctx, "strides " + IntsStr(strides) + " must have " + std::to_string(nd) + " values");
  }
  if (static_cast<int>(dilations.size()) != nd) {
    return NodeError(
        ctx, "dilations " + IntsStr(dilations) + " must have " + std::to_string(nd) + " values");
  }
  g.nd = nd;
  const int o = g.Offset();
  for (int i = 0; i < nd; ++i) {
    if (kernel[i] < 1) return NodeError(ctx, "kernel " + IntsStr(kernel) + " must be positive");
    if (strides[i] < 1) return NodeError(ctx, "strides " + IntsStr(strides) + " must be positive");
    if (dilations[i] < 1) {
      return NodeError(ctx, "dilations " + IntsStr(dilations) + " must be positive");
    }
    if (x[2 + i] < 0) return NodeError(ctx, "X has a negative dimension: " + x.ToString());
    g.in[o + i] = x[2 + i];
    g.k[o + i] = kernel[i];
    g.s[o + i] = strides[i];
    g.d[o + i] = dilations[i];
  }
  return Status::Ok();
}

// Explicit pads: 2 * nd non-negative values.
Expected<std::vector<i64>> ReadPads(const KernelContext& ctx, int nd) {
  std::vector<i64> pads = ctx.node().GetInts("pads", std::vector<i64>(2 * nd, 0));
  if (static_cast<int>(pads.size()) != 2 * nd) {
    return NodeError(ctx,
                     "pads " + IntsStr(pads) + " must have " + std::to_string(2 * nd) + " values");
  }
  for (i64 p : pads) {
    if (p < 0) return NodeError(ctx, "pads " + IntsStr(pads) + " must be non-negative");
  }
  return pads;
}

// Output sizes and pads of a forward window (Conv, pooling).
Status ResolveForward(const KernelContext& ctx, bool ceil_mode, Geometry& g) {
  const std::string auto_pad = ctx.node().GetString("auto_pad", "NOTSET");
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> pads, ReadPads(ctx, g.nd));
  const int o = g.Offset();
  for (int i = 0; i < g.nd; ++i) {
    const int a = o + i;
    const i64 dk = (g.k[a] - 1) * g.d[a] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[a] = CeilDiv(g.in[a], g.s[a]);
      const i64 total = std::max<i64>(0, (g.out[a] - 1) * g.s[a] + dk - g.in[a]);
      g.pb[a] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pe[a] = total - g.pb[a];
      continue;
    }
    if (auto_pad == "VALID") {
      g.pb[a] = g.pe[a] = 0;
    } else if (auto_pad == "NOTSET" || auto_pad.empty()) {
      g.pb[a] = pads[i];
      g.pe[a] = pads[i + g.nd];
    } else {
      return NodeError(ctx, "unknown auto_pad '" + auto_pad + "'");
    }
    const i64 span = g.in[a] + g.pb[a] + g.pe[a] - dk;
    if (span < 0) {
      return NodeError(ctx, "the window (" + std::to_string(dk) +
                                " wide with dilation) is larger than the padded input (" +
                                std::to_string(g.in[a] + g.pb[a] + g.pe[a]) +
                                ") along spatial axis " + std::to_string(i));
    }
    if (ceil_mode) {
      g.out[a] = CeilDiv(span, g.s[a]) + 1;
      // The last window must start inside the input or its leading padding.
      if ((g.out[a] - 1) * g.s[a] >= g.in[a] + g.pb[a]) --g.out[a];
    } else {
      g.out[a] = span / g.s[a] + 1;
    }
  }
  return Status::Ok();
}

Shape WindowOutputShape(i64 n, i64 c, const Geometry& g) {
  std::vector<i64> dims = {n, c};
  for (i64 v : g.OutDims()) dims.push_back(v);
  return Shape(std::move(dims));
}

// Kernel spatial dims from W (dims 2..), checked against the kernel_shape attribute.
Expected<std::vector<i64>> KernelFromWeights(const KernelContext& ctx, const Shape& w) {
  std::vector<i64> kernel(w.dims().begin() + 2, w.dims().end());
  if (ctx.node().Has("kernel_shape")) {
    const std::vector<i64> attr = ctx.node().GetInts("kernel_shape");
    if (attr != kernel) {
      return NodeError(
          ctx, "kernel_shape " + IntsStr(attr) + " does not match W's shape " + w.ToString());
    }
  }
  return kernel;
}

Status CheckSameFloatType(const KernelContext& ctx, const Tensor& a, const Tensor& b,
                          const char* an, const char* bn) {
  if (!IsFloat(a.dtype())) {
    return NodeUnsupported(ctx, std::string(an) + " has type " + std::string(DTypeName(a.dtype())) +
                                    " (expected f32, f16 or bf16)");
  }
  if (a.dtype() != b.dtype()) {
    return NodeError(ctx, std::string(an) + " is " + std::string(DTypeName(a.dtype())) + " but " +
                              bn + " is " + std::string(DTypeName(b.dtype())));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------------

// Writes rows [k0, k0 + kc) and columns [p0, p0 + nc) of the im2col matrix of one
// group's input xg (Cg x in-volume) into NR-column strips. Row r is (c, kd, kh, kw);
// column p is the output position (od, oh, ow).
void PackIm2col(const Geometry& g, const float* xg, i64 k0, i64 kc, i64 p0, i64 nc, int nr,
                float* dst) {
  const i64 in_vol = g.InVol();
  const i64 strip = kc * nr;
  // Zero the padding lanes of the last strip.
  if (nc % nr != 0) {
    float* last = dst + (nc / nr) * strip;
    std::fill(last, last + strip, 0.0f);
  }
  for (i64 r = k0; r < k0 + kc; ++r) {
    const i64 kw = r % g.k[2];
    i64 t = r / g.k[2];
    const i64 kh = t % g.k[1];
    t /= g.k[1];
    const i64 kd = t % g.k[0];
    const i64 c = t / g.k[0];
    const float* xc = xg + c * in_vol;
    float* row = dst + (r - k0) * nr;
    const i64 off_w = kw * g.d[2] - g.pb[2];
    const auto [w_lo, w_hi] = ValidRange(off_w, g.s[2], g.in[2], g.out[2]);
    // Writes `count` columns starting at column j: zeros (src null) or src[q * stride].
    auto put = [&](i64 j, i64 count, const float* src, i64 stride) {
      while (count > 0) {
        const i64 s = j / nr;
        const i64 lane = j - s * nr;
        const i64 piece = std::min<i64>(count, nr - lane);
        float* out = row + s * strip + lane;
        if (src == nullptr) {
          std::fill(out, out + piece, 0.0f);
        } else if (stride == 1) {
          std::memcpy(out, src, sizeof(float) * static_cast<std::size_t>(piece));
          src += piece;
        } else {
          for (i64 q = 0; q < piece; ++q) out[q] = src[q * stride];
          src += piece * stride;
        }
        j += piece;
        count -= piece;
      }
    };
    i64 p = p0;
    const i64 end = p0 + nc;
    i64 ow = p % g.out[2];
    i64 oh = (p / g.out[2]) % g.out[1];
    i64 od = p / (g.out[2] * g.out[1]);
    while (p < end) {
      const i64 len = std::min(g.out[2] - ow, end - p);
      const i64 j = p - p0;
      const i64 id = od * g.s[0] - g.pb[0] + kd * g.d[0];
      const i64 ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
      if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
        put(j, len, nullptr, 0);
      } else {
        const float* xrow = xc + (id * g.in[1] + ih) * g.in[2];
        const i64 lo = std::clamp(w_lo, ow, ow + len);
        const i64 hi = std::clamp(w_hi, lo, ow + len);
        put(j, lo - ow, nullptr, 0);
        if (hi > lo) put(j + lo - ow, hi - lo, xrow + lo * g.s[2] + off_w, g.s[2]);
        put(j + hi - ow, ow + len - hi, nullptr, 0);
      }
      p += len;
      ow = 0;
      if (++oh == g.out[1]) {
        oh = 0;
        ++od;
      }
    }
  }
}

// Direct convolution for groups with one input channel (depthwise, channel multiplier
// Mg = M / group).
void ConvDepthwise(KernelContext* ctx, const Geometry& g, i64 n_batch, i64 c_in, i64 m_out,
                   i64 group, const float* x, const float* w, const float* bias, float* y) {
  const i64 mg = m_out / group;
  const i64 in_vol = g.InVol();
  const i64 out_vol = g.OutVol();
  const i64 kvol = g.KVol();
  Parallel(ctx, n_batch * m_out, 2.0 * static_cast<double>(out_vol * kvol), [&](i64 b, i64 e) {
    for (i64 t = b; t < e; ++t) {
      const i64 n = t / m_out;
      const i64 oc = t % m_out;
      const float* xp = x + (n * c_in + oc / mg) * in_vol;
      float* yp = y + t * out_vol;
      const float* wk = w + oc * kvol;
      const float bv = bias != nullptr ? bias[oc] : 0.0f;
      for (i64 od = 0; od < g.out[0]; ++od) {
        for (i64 oh = 0; oh < g.out[1]; ++oh) {
          float* yrow = yp + (od * g.out[1] + oh) * g.out[2];
          std::fill(yrow, yrow + g.out[2], bv);
          for (i64 kd = 0; kd < g.k[0]; ++kd) {
            const i64 id = od * g.s[0] - g.pb[0] + kd * g.d[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (i64 kh = 0; kh < g.k[1]; ++kh) {
              const i64 ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const float* xrow = xp + (id * g.in[1] + ih) * g.in[2];
              const float* wrow = wk + (kd * g.k[1] + kh) * g.k[2];
              for (i64 kw = 0; kw < g.k[2]; ++kw) {
                const float wv = wrow[kw];
                const i64 off = kw * g.d[2] - g.pb[2];
                const auto [lo, hi] = ValidRange(off, g.s[2], g.in[2], g.out[2]);
                if (g.s[2] == 1) {
                  for (i64 ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow + off];
                } else {
                  for (i64 ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow * g.s[2] + off];
                }
              }
            }
          }
        }
      }
    }
  });
}

// A kernel whose input 1 (a layer's weights), when it is a constant, is packed once when
// the session is prepared: pack(node, weights) gives the packed form, or nullopt where it
// does not apply; run(ctx, packed) runs the node, packed null when the weights at run time
// are not the ones packed.
template <class Packed>
class PackedWeightsKernel final : public OpKernel {
 public:
  using PackFn = std::optional<Packed> (*)(const ir::Node&, const Tensor&);
  using RunFn = Status (*)(KernelContext&, const Packed*);

  static KernelFactory Factory(PackFn pack, RunFn run) {
    return [pack, run](const ir::Node& n,
                       const PrepareContext& prep) -> Expected<std::unique_ptr<OpKernel>> {
      auto k = std::make_unique<PackedWeightsKernel>(run);
      const Tensor* w = prep.constant && n.inputs.size() > 1 && !n.inputs[1].empty()
                            ? prep.constant(n.inputs[1])
                            : nullptr;
      if (w != nullptr) {
        k->packed_ = pack(n, *w);
        if (k->packed_) k->packed_from_ = w->data();
      }
      return std::unique_ptr<OpKernel>(std::move(k));
    };
  }

  explicit PackedWeightsKernel(RunFn run) : run_(run) {}

  Status Run(KernelContext& ctx) override {
    const Tensor* w = ctx.input(1);
    // Constants are borrowed views at run time: compare the storage, not the Tensor.
    const bool same = packed_from_ != nullptr && w != nullptr && w->data() == packed_from_;
    return run_(ctx, same ? &*packed_ : nullptr);
  }

 private:
  RunFn run_;
  std::optional<Packed> packed_;
  const void* packed_from_ = nullptr;
};

// A convolution's constant weights packed once for GemmCore (PrepackedA), per group: the
// product's A matrix (output channels x C/group * kernel taps). Packing them at every run
// had cost as much as the product itself where the output has few positions
// (openWakeWord's STFT: 257 x 512 weights against 8 output frames).
struct PackedConvWeights {
  int mr = 0;           // the micro-kernel's rows they were packed for
  i64 group = 0;        // groups
  i64 group_rows = 0;   // output channels per group
  i64 depth = 0;        // C/group * kernel taps
  i64 padded_rows = 0;  // group_rows rounded up to mr
  std::vector<float> data;

  static PackedConvWeights Pack(const float* w, i64 m_out, i64 group, i64 depth, int mr) {
    PackedConvWeights p;
    p.mr = mr;
    p.group = group;
    p.group_rows = m_out / group;
    p.depth = depth;
    p.padded_rows = mr * CeilDiv(p.group_rows, mr);
    p.data.resize(static_cast<std::size_t>(group * p.padded_rows * depth));
    for (i64 gi = 0; gi < group; ++gi) {
      PackAllA(w + gi * p.group_rows * depth, p.group_rows, depth, mr,
               p.data.data() + gi * p.padded_rows * depth);
    }
    return p;
  }
};

// Y = conv(X, W) + bias for a resolved geometry (X: N x C x in, W: M x C/group x k).
// `packed`, when given, holds W packed for the current micro-kernel.
void ConvForward(KernelContext* ctx, const Geometry& g, i64 n_batch, i64 c_in, i64 m_out, i64 group,
                 const float* x, const float* w, const float* bias, float* y,
                 const PackedConvWeights* packed = nullptr) {
  const i64 cg = c_in / group;
  const i64 mg = m_out / group;
  const i64 kvol = g.KVol();
  const i64 k = cg * kvol;
  const i64 out_vol = g.OutVol();
  const i64 in_vol = g.InVol();
  if (n_batch == 0 || m_out == 0 || out_vol == 0) return;
  // One input channel per group, with several groups: a depthwise convolution. With one
  // group (a one-channel input: a spectrogram's STFT, a grayscale stem) the product below
  // has all the output channels as rows; the per-tap loop ran openWakeWord's STFT
  // convolution (257 channels, 512 taps, 5 outputs) at 0.5 GMAC/s.
  if (cg == 1 && group > 1) {
    ConvDepthwise(ctx, g, n_batch, c_in, m_out, group, x, w, bias, y);
    return;
  }
  const MicroKernel& uk = SelectMicroKernel();
  const bool use_packed = packed != nullptr && packed->mr == uk.mr && packed->group == group &&
                          packed->group_rows == mg && packed->depth == k;
  bool pointwise = kvol == 1;
  for (int a = 0; a < 3; ++a) {
    pointwise = pointwise && g.s[a] == 1 && g.pb[a] == 0 && g.pe[a] == 0;
  }
  // Tasks: one per image and group when serial; with threads, output positions and then
  // output channels are split further so that each thread gets a few tasks. Every task
  // packs its own columns of the im2col matrix: when the positions are too few to split
  // (a spectrogram's 8 frames), each would pack all of it, so the channels are split
  // once per thread only (openWakeWord's STFT at 2 threads: 0.12 -> 0.06 ms).
  i64 pblocks = 1;
  i64 mblocks = 1;
  const int threads = ctx == nullptr ? 1 : ctx->threads();
  if (threads > 1) {
    const i64 extra = CeilDiv(4 * static_cast<i64>(threads), n_batch * group);
    pblocks = std::clamp<i64>(extra, 1, std::max<i64>(1, out_vol / (2 * uk.nr)));
    const i64 m_extra = pblocks == 1 ? CeilDiv(static_cast<i64>(threads), n_batch * group)
                                     : CeilDiv(extra, pblocks);
    mblocks = std::clamp<i64>(m_extra, 1, std::max<i64>(1, mg / (2 * uk.mr)));
  }
  const i64 pblock = uk.nr * CeilDiv(CeilDiv(out_vol, pblocks), uk.nr);
  pblocks = CeilDiv(out_vol, pblock);
  const i64 mblock = uk.mr * CeilDiv(CeilDiv(mg, mblocks), uk.mr);
  mblocks = CeilDiv(mg, mblock);
  const i64 per_group = pblocks * mblocks;
  const i64 tasks = n_batch * group * per_group;
  Parallel(ctx, tasks, 2.0 * static_cast<double>(mblock * k * pblock), [&](i64 b, i64 e) {
    for (i64 t = b; t < e; ++t) {
      const i64 n = t / (group * per_group);
      const i64 gi = (t / per_group) % group;
      const i64 p0 = ((t % per_group) / mblocks) * pblock;
      const i64 m0 = (t % mblocks) * mblock;
      const i64 pc = std::min(pblock, out_vol - p0);
      const i64 mc = std::min(mblock, mg - m0);
      float* yb = y + (n * m_out + gi * mg + m0) * out_vol + p0;
      float beta = 0.0f;
      if (bias != nullptr) {
        for (i64 m = 0; m < mc; ++m) {
          std::fill(yb + m * out_vol, yb + m * out_vol + pc, bias[gi * mg + m0 + m]);
        }
        beta = 1.0f;
      }
      const float* xg = x + (n * c_in + gi * cg) * in_vol;
      const float* wg = w + (gi * mg + m0) * k;
      PrepackedA pa;
      if (use_packed) {
        pa.data = packed->data.data() + gi * packed->padded_rows * k;
        pa.padded_rows = packed->padded_rows;
        pa.row0 = m0;  // a multiple of uk.mr (mblock is)
      }
      if (pointwise) {
        GemmCore(
            uk, mc, pc, k, 1.0f, wg, k, 1,
            [&](i64 k0, i64 kc, i64 j0, i64 nc, float* dst) {
              PackB(xg + k0 * in_vol + p0 + j0, in_vol, 1, kc, nc, uk.nr, dst);
            },
            beta, yb, out_vol, use_packed ? &pa : nullptr);
      } else {
        GemmCore(
            uk, mc, pc, k, 1.0f, wg, k, 1,
            [&](i64 k0, i64 kc, i64 j0, i64 nc, float* dst) {
              PackIm2col(g, xg, k0, kc, p0 + j0, nc, uk.nr, dst);
            },
            beta, yb, out_vol, use_packed ? &pa : nullptr);
      }
    }
  });
}

// `packed`: W packed when the session was prepared, or null.
Status ConvRun(KernelContext& ctx, const PackedConvWeights* packed) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1));
  const Tensor* bias = ctx.input(2);
  const Shape& xs = x->shape();
  const Shape& ws = w->shape();
  DEEPEDGE_RETURN_IF_ERROR(CheckSameFloatType(ctx, *x, *w, "X", "W"));
  if (xs.rank() < 3) {
    return NodeError(ctx, "X must have rank >= 3 (N x C x spatial...), got shape " + xs.ToString());
  }
  if (ws.rank() != xs.rank()) {
    return NodeError(ctx, "W has shape " + ws.ToString() + " but X has shape " + xs.ToString() +
                              " (ranks differ)");
  }
  const i64 group = ctx.node().GetInt("group", 1);
  if (group < 1) return NodeError(ctx, "group must be positive, got " + std::to_string(group));
  const i64 n = xs[0];
  const i64 c = xs[1];
  const i64 m = ws[0];
  if (ws[1] * group != c) {
    return NodeError(ctx, "X has " + std::to_string(c) + " channels but W " + ws.ToString() +
                              " with group " + std::to_string(group) + " expects " +
                              std::to_string(ws[1] * group));
  }
  if (m % group != 0) {
    return NodeError(ctx, "W has " + std::to_string(m) +
                              " output channels, not a multiple of group " + std::to_string(group));
  }
  if (bias != nullptr) {
    if (bias->dtype() != x->dtype()) return NodeError(ctx, "B's type differs from X's");
    if (bias->element_count() != m) {
      return NodeError(ctx, "B has shape " + bias->shape().ToString() + ", expected " +
                                std::to_string(m) + " values");
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> kernel, KernelFromWeights(ctx, ws));
  Geometry g;
  DEEPEDGE_RETURN_IF_ERROR(InitGeometry(ctx, xs, kernel, g));
  DEEPEDGE_RETURN_IF_ERROR(ResolveForward(ctx, false, g));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn wf, FloatIn::From(ctx, *w, "W"));
  FloatIn bf;
  if (bias != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(bf, FloatIn::From(ctx, *bias, "B"));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y,
                            FloatOut::Make(ctx, 0, x->dtype(), WindowOutputShape(n, m, g)));
  ConvForward(&ctx, g, n, c, m, group, xf.data(), wf.data(), bias != nullptr ? bf.data() : nullptr,
              y.data(), packed);
  return y.Finish();
}

// Conv's weights packed when the session is prepared: constant f32 ones only; anything
// unusual is left to ConvRun, which checks it and names the problem.
std::optional<PackedConvWeights> PackConvWeights(const ir::Node& n, const Tensor& w) {
  const i64 group = n.GetInt("group", 1);
  if (w.dtype() != DType::kF32 || w.shape().rank() < 3 || group < 1 || w.shape()[0] % group != 0)
    return std::nullopt;
  const i64 depth = w.element_count() / std::max<i64>(w.shape()[0], 1);
  return PackedConvWeights::Pack(static_cast<const float*>(w.data()), w.shape()[0], group, depth,
                                 SelectMicroKernel().mr);
}

// ---------------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------------

// Y = conv_transpose(X, W) + bias (X: N x C x in, W: C x M/group x k, Y: N x M x out).
// Per image and group: col = W_g^T * X_g (Mg*kvol x in positions), scattered into Y.
void ConvTransposeForward(KernelContext* ctx, const Geometry& g, i64 n_batch, i64 c_in, i64 m_out,
                          i64 group, const float* x, const float* w, const float* bias, float* y) {
  const i64 cg = c_in / group;
  const i64 mg = m_out / group;
  const i64 kvol = g.KVol();
  const i64 in_vol = g.InVol();
  const i64 out_vol = g.OutVol();
  if (n_batch == 0 || m_out == 0 || out_vol == 0) return;
  const MicroKernel& uk = SelectMicroKernel();
  const int threads = ctx == nullptr ? 1 : ctx->threads();
  i64 mblocks = 1;
  if (threads > 1) {
    mblocks = std::clamp<i64>(CeilDiv(4 * static_cast<i64>(threads), n_batch * group), 1, mg);
  }
  const i64 mb = CeilDiv(mg, mblocks);
  mblocks = CeilDiv(mg, mb);
  const i64 pix_block =
      std::clamp<i64>(uk.nr * CeilDiv((i64{1} << 18) / std::max<i64>(1, mb * kvol), uk.nr), uk.nr,
                      uk.nr * CeilDiv(std::max<i64>(in_vol, 1), uk.nr));
  const i64 tasks = n_batch * group * mblocks;
  Parallel(ctx, tasks, 2.0 * static_cast<double>(mb * kvol * cg * in_vol), [&](i64 b, i64 e) {
    for (i64 t = b; t < e; ++t) {
      const i64 n = t / (group * mblocks);
      const i64 gi = (t / mblocks) % group;
      const i64 m0 = (t % mblocks) * mb;
      const i64 mcount = std::min(mb, mg - m0);
      float* yg = y + (n * m_out + gi * mg + m0) * out_vol;
      for (i64 m = 0; m < mcount; ++m) {
        const float bv = bias != nullptr ? bias[gi * mg + m0 + m] : 0.0f;
        std::fill(yg + m * out_vol, yg + (m + 1) * out_vol, bv);
      }
      if (cg == 0 || in_vol == 0) continue;
      const float* xg = x + (n * c_in + gi * cg) * in_vol;
      const float* a = w + gi * cg * mg * kvol + m0 * kvol;
      const i64 rows = mcount * kvol;
      for (i64 p0 = 0; p0 < in_vol; p0 += pix_block) {
        const i64 pc = std::min(pix_block, in_vol - p0);
        float* col = Scratch(kScratchCol, static_cast<std::size_t>(rows * pc));
        GemmCore(
            uk, rows, pc, cg, 1.0f, a, 1, mg * kvol,
            [&](i64 k0, i64 kc, i64 j0, i64 nc, float* dst) {
              PackB(xg + k0 * in_vol + p0 + j0, in_vol, 1, kc, nc, uk.nr, dst);
            },
            0.0f, col, pc);
        // Scatter-add: input position (id, ih, iw) and kernel tap (kd, kh, kw) land on
        // output (id * s - pb + kd * d, ...).
        for (i64 r = 0; r < rows; ++r) {
          const i64 m = r / kvol;
          const i64 kpos = r % kvol;
          const i64 kw = kpos % g.k[2];
          const i64 kh = (kpos / g.k[2]) % g.k[1];
          const i64 kd = kpos / (g.k[2] * g.k[1]);
          float* yp = yg + m * out_vol;
          const float* crow = col + r * pc;
          const i64 off_w = kw * g.d[2] - g.pb[2];
          const auto [w_lo, w_hi] = ValidRange(off_w, g.s[2], g.out[2], g.in[2]);
          i64 p = p0;
          const i64 end = p0 + pc;
          i64 iw = p % g.in[2];
          i64 ih = (p / g.in[2]) % g.in[1];
          i64 id = p / (g.in[2] * g.in[1]);
          while (p < end) {
            const i64 len = std::min(g.in[2] - iw, end - p);
            const i64 od = id * g.s[0] - g.pb[0] + kd * g.d[0];
            const i64 oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
            if (od >= 0 && od < g.out[0] && oh >= 0 && oh < g.out[1]) {
              float* yrow = yp + (od * g.out[1] + oh) * g.out[2];
              const i64 base = (p - p0) - iw;  // crow[base + iw'] for iw' in this run
              const i64 lo = std::clamp(w_lo, iw, iw + len);
              const i64 hi = std::clamp(w_hi, lo, iw + len);
              for (i64 q = lo; q < hi; ++q) yrow[q * g.s[2] + off_w] += crow[base + q];
            }
            p += len;
            iw = 0;
            if (++ih == g.in[1]) {
              ih = 0;
              ++id;
            }
          }
        }
      }
    }
  });
}

Status ConvTransposeKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1));
  const Tensor* bias = ctx.input(2);
  const Shape& xs = x->shape();
  const Shape& ws = w->shape();
  DEEPEDGE_RETURN_IF_ERROR(CheckSameFloatType(ctx, *x, *w, "X", "W"));
  if (xs.rank() < 3) {
    return NodeError(ctx, "X must have rank >= 3 (N x C x spatial...), got shape " + xs.ToString());
  }
  if (ws.rank() != xs.rank()) {
    return NodeError(ctx, "W has shape " + ws.ToString() + " but X has shape " + xs.ToString() +
                              " (ranks differ)");
  }
  const i64 group = ctx.node().GetInt("group", 1);
  if (group < 1) return NodeError(ctx, "group must be positive, got " + std::to_string(group));
  const i64 n = xs[0];
  const i64 c = xs[1];
  if (ws[0] != c || c % group != 0) {
    return NodeError(ctx, "X has " + std::to_string(c) + " channels but W has shape " +
                              ws.ToString() + " (group " + std::to_string(group) + ")");
  }
  const i64 m = ws[1] * group;
  if (bias != nullptr) {
    if (bias->dtype() != x->dtype()) return NodeError(ctx, "B's type differs from X's");
    if (bias->element_count() != m) {
      return NodeError(ctx, "B has shape " + bias->shape().ToString() + ", expected " +
                                std::to_string(m) + " values");
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> kernel, KernelFromWeights(ctx, ws));
  Geometry g;
  DEEPEDGE_RETURN_IF_ERROR(InitGeometry(ctx, xs, kernel, g));
  const int nd = g.nd;
  const ir::Node& node = ctx.node();
  const std::vector<i64> out_pad = node.GetInts("output_padding", std::vector<i64>(nd, 0));
  if (static_cast<int>(out_pad.size()) != nd) {
    return NodeError(
        ctx, "output_padding " + IntsStr(out_pad) + " must have " + std::to_string(nd) + " values");
  }
  std::vector<i64> out_shape = node.GetInts("output_shape");
  if (static_cast<int>(out_shape.size()) == nd + 2)
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && static_cast<int>(out_shape.size()) != nd) {
    return NodeError(
        ctx, "output_shape " + IntsStr(out_shape) + " must have " + std::to_string(nd) + " values");
  }
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" &&
      auto_pad != "VALID" && !auto_pad.empty()) {
    return NodeError(ctx, "unknown auto_pad '" + auto_pad + "'");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> pads, ReadPads(ctx, nd));
  const int o = g.Offset();
  for (int i = 0; i < nd; ++i) {
    const int a = o + i;
    const i64 full = g.s[a] * (g.in[a] - 1) + out_pad[i] + (g.k[a] - 1) * g.d[a] + 1;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!out_shape.empty() || same) {
      g.out[a] = !out_shape.empty() ? out_shape[i] : g.in[a] * g.s[a];
      // A requested size beyond the full output leaves the extra positions at the end
      // (bias only), as onnxruntime does.
      const i64 total = std::max<i64>(0, full - g.out[a]);
      g.pb[a] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pe[a] = total - g.pb[a];
    } else if (auto_pad == "VALID") {
      g.out[a] = full;
    } else {
      g.pb[a] = pads[i];
      g.pe[a] = pads[i + nd];
      g.out[a] = full - g.pb[a] - g.pe[a];
    }
    if (g.out[a] < 0) {
      return NodeError(
          ctx, "the output would have a negative size along spatial axis " + std::to_string(i));
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn wf, FloatIn::From(ctx, *w, "W"));
  FloatIn bf;
  if (bias != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(bf, FloatIn::From(ctx, *bias, "B"));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y,
                            FloatOut::Make(ctx, 0, x->dtype(), WindowOutputShape(n, m, g)));
  ConvTransposeForward(&ctx, g, n, c, m, group, xf.data(), wf.data(),
                       bias != nullptr ? bf.data() : nullptr, y.data());
  return y.Finish();
}

// ---------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------

// Per axis and output position: where the window starts (may be in the padding), the
// taps [lo, hi) that read the input, and how many taps lie inside input + padding
// (the count_include_pad divisor).
struct AxisWindows {
  std::vector<i64> start, lo, hi, incl;
};

std::array<AxisWindows, 3> MakeWindows(const Geometry& g) {
  std::array<AxisWindows, 3> all;
  for (int a = 0; a < 3; ++a) {
    AxisWindows& w = all[static_cast<std::size_t>(a)];
    for (i64 o = 0; o < g.out[a]; ++o) {
      const i64 start = o * g.s[a] - g.pb[a];
      const auto [lo, hi] = ValidRange(start, g.d[a], g.in[a], g.k[a]);
      w.start.push_back(start);
      w.lo.push_back(lo);
      w.hi.push_back(hi);
      w.incl.push_back(std::clamp<i64>(CeilDiv(g.in[a] + g.pe[a] - start, g.d[a]), 0, g.k[a]));
    }
  }
  return all;
}

// Calls fn(out_offset, od, oh, ow) for every output position of a plane, in order.
template <class Fn>
void ForEachOutput(const Geometry& g, Fn&& fn) {
  i64 oi = 0;
  for (i64 od = 0; od < g.out[0]; ++od)
    for (i64 oh = 0; oh < g.out[1]; ++oh)
      for (i64 ow = 0; ow < g.out[2]; ++ow) fn(oi++, od, oh, ow);
}

// Calls fn(input_offset) for every tap of the window at (od, oh, ow) that reads the input.
template <class Fn>
void ForEachTap(const Geometry& g, const std::array<AxisWindows, 3>& w, i64 od, i64 oh, i64 ow,
                Fn&& fn) {
  const auto& wd = w[0];
  const auto& wh = w[1];
  const auto& ww = w[2];
  const std::size_t ud = static_cast<std::size_t>(od);
  const std::size_t uh = static_cast<std::size_t>(oh);
  const std::size_t uw = static_cast<std::size_t>(ow);
  for (i64 td = wd.lo[ud]; td < wd.hi[ud]; ++td) {
    const i64 id = wd.start[ud] + td * g.d[0];
    for (i64 th = wh.lo[uh]; th < wh.hi[uh]; ++th) {
      const i64 ih = wh.start[uh] + th * g.d[1];
      const i64 row = (id * g.in[1] + ih) * g.in[2];
      for (i64 tw = ww.lo[uw]; tw < ww.hi[uw]; ++tw) fn(row + ww.start[uw] + tw * g.d[2]);
    }
  }
}

// Kernel from the required kernel_shape attribute.
Expected<std::vector<i64>> PoolKernelShape(const KernelContext& ctx) {
  if (!ctx.node().Has("kernel_shape"))
    return NodeError(ctx, "the kernel_shape attribute is required");
  return ctx.node().GetInts("kernel_shape");
}

Status PoolGeometry(const KernelContext& ctx, const Tensor& x, bool allow_ceil, Geometry& g) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> kernel, PoolKernelShape(ctx));
  DEEPEDGE_RETURN_IF_ERROR(InitGeometry(ctx, x.shape(), kernel, g));
  const bool ceil_mode = allow_ceil && ctx.node().GetInt("ceil_mode", 0) != 0;
  return ResolveForward(ctx, ceil_mode, g);
}

// Row-wise window reduction of one plane, vectorisable along the output row:
// yrow[ow] = combine(yrow[ow], x[...]) for every tap, after yrow is filled with init.
template <typename T, class Combine>
void PoolPlaneRows(const Geometry& g, const std::array<AxisWindows, 3>& w, const T* xp, T* yp,
                   T init, Combine combine) {
  for (i64 od = 0; od < g.out[0]; ++od) {
    const std::size_t ud = static_cast<std::size_t>(od);
    for (i64 oh = 0; oh < g.out[1]; ++oh) {
      const std::size_t uh = static_cast<std::size_t>(oh);
      T* yrow = yp + (od * g.out[1] + oh) * g.out[2];
      std::fill(yrow, yrow + g.out[2], init);
      for (i64 td = w[0].lo[ud]; td < w[0].hi[ud]; ++td) {
        const i64 id = w[0].start[ud] + td * g.d[0];
        for (i64 th = w[1].lo[uh]; th < w[1].hi[uh]; ++th) {
          const i64 ih = w[1].start[uh] + th * g.d[1];
          const T* xrow = xp + (id * g.in[1] + ih) * g.in[2];
          for (i64 kw = 0; kw < g.k[2]; ++kw) {
            const i64 off = kw * g.d[2] - g.pb[2];
            const auto [lo, hi] = ValidRange(off, g.s[2], g.in[2], g.out[2]);
            if (g.s[2] == 1) {
              for (i64 ow = lo; ow < hi; ++ow) yrow[ow] = combine(yrow[ow], xrow[ow + off]);
            } else {
              for (i64 ow = lo; ow < hi; ++ow)
                yrow[ow] = combine(yrow[ow], xrow[ow * g.s[2] + off]);
            }
          }
        }
      }
    }
  }
}

template <typename T>
void MaxPoolPlanes(KernelContext* ctx, const Geometry& g, i64 planes, const T* x, T* y,
                   i64* indices, bool column_major) {
  const std::array<AxisWindows, 3> w = MakeWindows(g);
  const i64 in_vol = g.InVol();
  const i64 out_vol = g.OutVol();
  if (indices == nullptr) {
    Parallel(ctx, planes, static_cast<double>(out_vol * g.KVol()), [&](i64 b, i64 e) {
      for (i64 plane = b; plane < e; ++plane) {
        PoolPlaneRows(g, w, x + plane * in_vol, y + plane * out_vol,
                      std::numeric_limits<T>::lowest(), [](T a, T v) { return v > a ? v : a; });
      }
    });
    return;
  }
  Parallel(ctx, planes, static_cast<double>(out_vol * g.KVol()), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      const T* xp = x + plane * in_vol;
      T* yp = y + plane * out_vol;
      ForEachOutput(g, [&](i64 oi, i64 od, i64 oh, i64 ow) {
        T best = std::numeric_limits<T>::lowest();
        i64 pos = -1;
        ForEachTap(g, w, od, oh, ow, [&](i64 off) {
          if (pos < 0 || xp[off] > best) {
            best = xp[off];
            pos = off;
          }
        });
        yp[oi] = best;
        if (indices != nullptr) {
          i64 index = pos;
          if (pos >= 0 && column_major) {
            const i64 iw = pos % g.in[2];
            const i64 ih = (pos / g.in[2]) % g.in[1];
            const i64 id = pos / (g.in[2] * g.in[1]);
            index = id + ih * g.in[0] + iw * g.in[0] * g.in[1];
          }
          indices[plane * out_vol + oi] = pos < 0 ? -1 : plane * in_vol + index;
        }
      });
    }
  });
}

Status MaxPoolKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  Geometry g;
  DEEPEDGE_RETURN_IF_ERROR(PoolGeometry(ctx, *x, true, g));
  const Shape ys = WindowOutputShape(x->shape()[0], x->shape()[1], g);
  const i64 planes = x->shape()[0] * x->shape()[1];
  const bool column_major = ctx.node().GetInt("storage_order", 0) != 0;
  i64* indices = nullptr;
  if (ctx.output_count() > 1 && ctx.output_wanted(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * it, ctx.Output(1, DType::kI64, ys));
    indices = it->as<std::int64_t>().data();
  }
  switch (x->dtype()) {
    case DType::kI8: {
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), ys));
      MaxPoolPlanes(&ctx, g, planes, x->as<std::int8_t>().data(), y->as<std::int8_t>().data(),
                    indices, column_major);
      return Status::Ok();
    }
    case DType::kU8: {
      DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), ys));
      MaxPoolPlanes(&ctx, g, planes, x->as<std::uint8_t>().data(), y->as<std::uint8_t>().data(),
                    indices, column_major);
      return Status::Ok();
    }
    default:
      break;
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), ys));
  MaxPoolPlanes(&ctx, g, planes, xf.data(), y.data(), indices, column_major);
  return y.Finish();
}

Status AveragePoolKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  Geometry g;
  DEEPEDGE_RETURN_IF_ERROR(PoolGeometry(ctx, *x, true, g));
  const bool include_pad = ctx.node().GetInt("count_include_pad", 0) != 0;
  const i64 planes = x->shape()[0] * x->shape()[1];
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(
      FloatOut y,
      FloatOut::Make(ctx, 0, x->dtype(), WindowOutputShape(x->shape()[0], x->shape()[1], g)));
  const std::array<AxisWindows, 3> w = MakeWindows(g);
  const i64 in_vol = g.InVol();
  const i64 out_vol = g.OutVol();
  // Divisors per axis; a window's divisor is their product.
  std::array<std::vector<float>, 3> count;
  for (std::size_t a = 0; a < 3; ++a) {
    for (std::size_t o = 0; o < w[a].lo.size(); ++o) {
      count[a].push_back(static_cast<float>(include_pad ? w[a].incl[o] : w[a].hi[o] - w[a].lo[o]));
    }
  }
  const float* xd = xf.data();
  float* yd = y.data();
  Parallel(&ctx, planes, static_cast<double>(out_vol * g.KVol()), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      float* yp = yd + plane * out_vol;
      PoolPlaneRows(g, w, xd + plane * in_vol, yp, 0.0f, [](float a, float v) { return a + v; });
      i64 oi = 0;
      for (std::size_t od = 0; od < count[0].size(); ++od)
        for (std::size_t oh = 0; oh < count[1].size(); ++oh) {
          const float c01 = count[0][od] * count[1][oh];
          for (std::size_t ow = 0; ow < count[2].size(); ++ow, ++oi) {
            const float c = c01 * count[2][ow];
            yp[oi] = c > 0 ? yp[oi] / c : 0.0f;
          }
        }
    }
  });
  return y.Finish();
}

// The p attribute of LpPool / GlobalLpPool: a float in opset 1, an int later.
float ReadP(const KernelContext& ctx) {
  const ir::Attribute* a = ctx.node().Find("p");
  if (a == nullptr) return 2.0f;
  return a->kind == ir::Attribute::Kind::kFloat ? a->f : static_cast<float>(a->i);
}

// (sum |v|^p)^(1/p) helpers.
float LpAccumulate(float v, float p) {
  const float a = std::fabs(v);
  if (p == 2.0f) return a * a;
  if (p == 1.0f) return a;
  return std::pow(a, p);
}
float LpFinish(float sum, float p) {
  if (p == 2.0f) return std::sqrt(sum);
  if (p == 1.0f) return sum;
  return std::pow(sum, 1.0f / p);
}

Status LpPoolKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  Geometry g;
  DEEPEDGE_RETURN_IF_ERROR(PoolGeometry(ctx, *x, true, g));
  const float p = ReadP(ctx);
  if (!(p > 0)) return NodeError(ctx, "p must be positive");
  const i64 planes = x->shape()[0] * x->shape()[1];
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(
      FloatOut y,
      FloatOut::Make(ctx, 0, x->dtype(), WindowOutputShape(x->shape()[0], x->shape()[1], g)));
  const std::array<AxisWindows, 3> w = MakeWindows(g);
  const i64 in_vol = g.InVol();
  const i64 out_vol = g.OutVol();
  const float* xd = xf.data();
  float* yd = y.data();
  Parallel(&ctx, planes, static_cast<double>(out_vol * g.KVol()), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      const float* xp = xd + plane * in_vol;
      float* yp = yd + plane * out_vol;
      ForEachOutput(g, [&](i64 oi, i64 od, i64 oh, i64 ow) {
        float sum = 0;
        ForEachTap(g, w, od, oh, ow, [&](i64 off) { sum += LpAccumulate(xp[off], p); });
        yp[oi] = LpFinish(sum, p);
      });
    }
  });
  return y.Finish();
}

enum class GlobalPool { kAverage, kMax, kLp };

template <GlobalPool kKind>
Status GlobalPoolKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() < 2) {
    return NodeError(ctx, "X must have rank >= 2 (N x C x spatial...), got shape " + xs.ToString());
  }
  std::vector<i64> dims(xs.rank(), 1);
  dims[0] = xs[0];
  dims[1] = xs[1];
  const i64 planes = xs[0] * xs[1];
  const i64 vol = Product(xs.dims(), 2, xs.rank());
  const float p = kKind == GlobalPool::kLp ? ReadP(ctx) : 2.0f;
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), Shape(dims)));
  const float* xd = xf.data();
  float* yd = y.data();
  Parallel(&ctx, planes, static_cast<double>(vol), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      const float* xp = xd + plane * vol;
      if constexpr (kKind == GlobalPool::kAverage) {
        yd[plane] = vol > 0 ? static_cast<float>(SumF(xp, vol) / static_cast<double>(vol))
                            : std::numeric_limits<float>::quiet_NaN();
      } else if constexpr (kKind == GlobalPool::kMax) {
        float best = vol > 0 ? xp[0] : std::numeric_limits<float>::lowest();
        for (i64 i = 1; i < vol; ++i) best = xp[i] > best ? xp[i] : best;
        yd[plane] = best;
      } else {
        float sum = 0;
        for (i64 i = 0; i < vol; ++i) sum += LpAccumulate(xp[i], p);
        yd[plane] = LpFinish(sum, p);
      }
    }
  });
  return y.Finish();
}

Status MaxRoiPoolKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* rois, RequiredInput(ctx, 1));
  const Shape& xs = x->shape();
  if (xs.rank() != 4) return NodeError(ctx, "X must be N x C x H x W, got shape " + xs.ToString());
  if (rois->shape().rank() != 2 || rois->shape()[1] != 5) {
    return NodeError(ctx, "rois must be num_rois x 5, got shape " + rois->shape().ToString());
  }
  const std::vector<i64> pooled = ctx.node().GetInts("pooled_shape");
  if (pooled.size() != 2 || pooled[0] < 1 || pooled[1] < 1) {
    return NodeError(ctx, "pooled_shape must be two positive values, got " + IntsStr(pooled));
  }
  const float scale = ctx.node().GetFloat("spatial_scale", 1.0f);
  const i64 c = xs[1];
  const i64 h = xs[2];
  const i64 wd = xs[3];
  const i64 nrois = rois->shape()[0];
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn rf, FloatIn::From(ctx, *rois, "rois"));
  DEEPEDGE_ASSIGN_OR_RETURN(
      FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), Shape{nrois, c, pooled[0], pooled[1]}));
  float* yd = y.data();
  for (i64 r = 0; r < nrois; ++r) {
    const float* roi = rf.data() + r * 5;
    const i64 n = ClampedFloor(roi[0], -1, xs[0]);
    if (n < 0 || n >= xs[0]) {
      return NodeError(ctx, "roi " + std::to_string(r) + " names batch " + std::to_string(n) +
                                " of " + std::to_string(xs[0]));
    }
    const i64 x1 = ClampedFloor(std::round(roi[1] * scale), -(i64{1} << 40), i64{1} << 40);
    const i64 y1 = ClampedFloor(std::round(roi[2] * scale), -(i64{1} << 40), i64{1} << 40);
    const i64 x2 = ClampedFloor(std::round(roi[3] * scale), -(i64{1} << 40), i64{1} << 40);
    const i64 y2 = ClampedFloor(std::round(roi[4] * scale), -(i64{1} << 40), i64{1} << 40);
    const float bin_h =
        static_cast<float>(std::max<i64>(y2 - y1 + 1, 1)) / static_cast<float>(pooled[0]);
    const float bin_w =
        static_cast<float>(std::max<i64>(x2 - x1 + 1, 1)) / static_cast<float>(pooled[1]);
    for (i64 ch = 0; ch < c; ++ch) {
      const float* xp = xf.data() + (n * c + ch) * h * wd;
      for (i64 py = 0; py < pooled[0]; ++py) {
        const i64 hs = std::clamp<i64>(
            static_cast<i64>(std::floor(static_cast<float>(py) * bin_h)) + y1, 0, h);
        const i64 he = std::clamp<i64>(
            static_cast<i64>(std::ceil(static_cast<float>(py + 1) * bin_h)) + y1, 0, h);
        for (i64 px = 0; px < pooled[1]; ++px) {
          const i64 ws = std::clamp<i64>(
              static_cast<i64>(std::floor(static_cast<float>(px) * bin_w)) + x1, 0, wd);
          const i64 we = std::clamp<i64>(
              static_cast<i64>(std::ceil(static_cast<float>(px + 1) * bin_w)) + x1, 0, wd);
          float best = 0;
          if (he > hs && we > ws) {
            best = std::numeric_limits<float>::lowest();
            for (i64 yy = hs; yy < he; ++yy)
              for (i64 xx = ws; xx < we; ++xx) best = std::max(best, xp[yy * wd + xx]);
          }
          yd[((r * c + ch) * pooled[0] + py) * pooled[1] + px] = best;
        }
      }
    }
  }
  return y.Finish();
}

// ---------------------------------------------------------------------------------
// Gemm, MatMul
// ---------------------------------------------------------------------------------

Status GemmKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  const Tensor* c = ctx.input(2);
  DEEPEDGE_RETURN_IF_ERROR(CheckSameFloatType(ctx, *a, *b, "A", "B"));
  const ir::Node& node = ctx.node();
  const bool ta = node.GetInt("transA", 0) != 0;
  const bool tb = node.GetInt("transB", 0) != 0;
  const float alpha = node.GetFloat("alpha", 1.0f);
  const float beta = node.GetFloat("beta", 1.0f);
  const Shape& as = a->shape();
  const Shape& bs = b->shape();
  if (as.rank() != 2 || bs.rank() != 2) {
    return NodeError(
        ctx, "A and B must be matrices, got shapes " + as.ToString() + " and " + bs.ToString());
  }
  const i64 m = ta ? as[1] : as[0];
  const i64 k = ta ? as[0] : as[1];
  const i64 kb = tb ? bs[1] : bs[0];
  const i64 n = tb ? bs[0] : bs[1];
  if (k != kb) {
    return NodeError(ctx, "inner dimensions differ: A " + as.ToString() +
                              (ta ? " (transposed)" : "") + ", B " + bs.ToString() +
                              (tb ? " (transposed)" : ""));
  }
  const bool use_c = c != nullptr && beta != 0.0f;
  if (c != nullptr) {
    const Shape& cs = c->shape();
    bool ok = cs.rank() <= 2 && c->dtype() == a->dtype();
    for (std::size_t i = 0; ok && i < cs.rank(); ++i) {
      const i64 want = (cs.rank() == 2 && i == 0) ? m : n;
      ok = cs[i] == 1 || cs[i] == want;
    }
    if (!ok) {
      return NodeError(ctx, "C " + cs.ToString() + " (" + std::string(DTypeName(c->dtype())) +
                                ") does not broadcast to " + Shape{m, n}.ToString());
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn af, FloatIn::From(ctx, *a, "A"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn bf, FloatIn::From(ctx, *b, "B"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, a->dtype(), Shape{m, n}));
  float* yd = y.data();
  if (use_c) {
    DEEPEDGE_ASSIGN_OR_RETURN(FloatIn cf, FloatIn::From(ctx, *c, "C"));
    const Shape& cs = c->shape();
    const i64 rows = cs.rank() == 2 ? cs[0] : 1;
    const i64 cols = cs.rank() >= 1 ? cs[cs.rank() - 1] : 1;
    for (i64 i = 0; i < m; ++i) {
      const float* crow = cf.data() + (rows == 1 ? 0 : i) * cols;
      float* yrow = yd + i * n;
      if (cols == 1) {
        std::fill(yrow, yrow + n, beta * crow[0]);
      } else {
        for (i64 j = 0; j < n; ++j) yrow[j] = beta * crow[j];
      }
    }
  }
  nn::Sgemm(&ctx, ta, tb, m, n, k, alpha, af.data(), as[1], bf.data(), bs[1], use_c ? 1.0f : 0.0f,
            yd, n);
  return y.Finish();
}

template <typename T>
void MatMulInt(i64 m, i64 n, i64 k, const T* a, const T* b, T* c) {
  using U = std::make_unsigned_t<T>;
  for (i64 i = 0; i < m; ++i) {
    T* crow = c + i * n;
    std::fill(crow, crow + n, T{0});
    for (i64 p = 0; p < k; ++p) {
      const T av = a[i * k + p];
      const T* brow = b + p * n;
      // Wrapping (unsigned) arithmetic: overflow is defined, as in other runtimes.
      for (i64 j = 0; j < n; ++j)
        crow[j] =
            static_cast<T>(static_cast<U>(crow[j]) + static_cast<U>(av) * static_cast<U>(brow[j]));
    }
  }
}

// `packed_b`: B packed when the session was prepared, or null.
Status MatMulRun(KernelContext& ctx, const PrepackedB* packed_b) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1));
  if (a->dtype() != b->dtype()) {
    return NodeError(ctx, "A is " + std::string(DTypeName(a->dtype())) + " but B is " +
                              std::string(DTypeName(b->dtype())));
  }
  const Shape& as = a->shape();
  const Shape& bs = b->shape();
  if (as.rank() < 1 || bs.rank() < 1) {
    return NodeError(
        ctx, "A and B must have rank >= 1, got shapes " + as.ToString() + " and " + bs.ToString());
  }
  // 1-D operands: A becomes 1 x K, B becomes K x 1; those dims are dropped afterwards.
  std::vector<i64> ad = as.dims();
  std::vector<i64> bd = bs.dims();
  const bool a_vec = ad.size() == 1;
  const bool b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  const i64 m = ad[ad.size() - 2];
  const i64 k = ad[ad.size() - 1];
  const i64 n = bd[bd.size() - 1];
  if (bd[bd.size() - 2] != k) {
    return NodeError(ctx, "inner dimensions differ: A " + as.ToString() + ", B " + bs.ToString());
  }
  const Shape a_batch(std::vector<i64>(ad.begin(), ad.end() - 2));
  const Shape b_batch(std::vector<i64>(bd.begin(), bd.end() - 2));
  auto batch = BroadcastShapes(a_batch, b_batch);
  if (!batch.has_value()) {
    return NodeError(ctx, "batch dimensions of A " + as.ToString() + " and B " + bs.ToString() +
                              " do not broadcast");
  }
  std::vector<i64> yd = batch->dims();
  if (!a_vec) yd.push_back(m);
  if (!b_vec) yd.push_back(n);
  const Shape ys(yd);
  const i64 count = batch->element_count();
  const std::vector<i64> a_off = BroadcastOffsets(a_batch, *batch);
  const std::vector<i64> b_off = BroadcastOffsets(b_batch, *batch);
  if (a->dtype() == DType::kI32 || a->dtype() == DType::kI64) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, a->dtype(), ys));
    for (i64 t = 0; t < count; ++t) {
      const std::size_t ut = static_cast<std::size_t>(t);
      if (a->dtype() == DType::kI32) {
        MatMulInt(m, n, k, a->as<std::int32_t>().data() + a_off[ut] * m * k,
                  b->as<std::int32_t>().data() + b_off[ut] * k * n,
                  y->as<std::int32_t>().data() + t * m * n);
      } else {
        MatMulInt(m, n, k, a->as<std::int64_t>().data() + a_off[ut] * m * k,
                  b->as<std::int64_t>().data() + b_off[ut] * k * n,
                  y->as<std::int64_t>().data() + t * m * n);
      }
    }
    return Status::Ok();
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn af, FloatIn::From(ctx, *a, "A"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn bf, FloatIn::From(ctx, *b, "B"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, a->dtype(), ys));
  if (count == 0 || m == 0 || n == 0) return y.Finish();
  if (b_batch.element_count() == 1 && count == a_batch.element_count()) {
    // B is shared: the batch folds into the rows of one product.
    GemmBatched(&ctx, {GemmOperands{af.data(), bf.data(), y.data()}}, false, false, count * m, n, k,
                1.0f, k, n, 0.0f, n, packed_b);
    return y.Finish();
  }
  std::vector<GemmOperands> ops(static_cast<std::size_t>(count));
  for (i64 t = 0; t < count; ++t) {
    const std::size_t ut = static_cast<std::size_t>(t);
    ops[ut] = {af.data() + a_off[ut] * m * k, bf.data() + b_off[ut] * k * n, y.data() + t * m * n};
  }
  GemmBatched(&ctx, ops, false, false, m, n, k, 1.0f, k, n, 0.0f, n);
  return y.Finish();
}

// MatMul's B packed when the session is prepared: a constant 2-D f32 one (a layer's
// weights). PP-OCRv4's recogniser multiplies 40 tokens by a 120 x 6625 classifier, whose
// packing at every run cost about as much as the product.
std::optional<PrepackedB> PackMatMulB(const ir::Node&, const Tensor& b) {
  if (b.dtype() != DType::kF32 || b.shape().rank() != 2 || b.shape()[0] <= 0 || b.shape()[1] <= 1)
    return std::nullopt;
  return PrepackedB::Pack(static_cast<const float*>(b.data()), b.shape()[0], b.shape()[1],
                          b.shape()[1], SelectMicroKernel().nr);
}

// ---------------------------------------------------------------------------------
// Normalizations
// ---------------------------------------------------------------------------------

// Per-channel (or, with BatchNormalization's old spatial=0 form, per-element) parameters.
Expected<FloatIn> ReadChannelParam(const KernelContext& ctx, std::size_t i, const char* what,
                                   i64 channels, i64 per_sample) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
  if (t->element_count() != channels && t->element_count() != per_sample) {
    return NodeError(ctx, std::string(what) + " has shape " + t->shape().ToString() +
                              ", expected " + std::to_string(channels) +
                              " values (one per channel)");
  }
  return FloatIn::From(ctx, *t, what);
}

Status BatchNormKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() < 2) return NodeError(ctx, "X must have rank >= 2, got shape " + xs.ToString());
  if (!IsFloat(x->dtype())) {
    return NodeUnsupported(ctx, "X has type " + std::string(DTypeName(x->dtype())));
  }
  const i64 n = xs[0];
  const i64 c = xs[1];
  const i64 inner = Product(xs.dims(), 2, xs.rank());
  const i64 per_sample = c * inner;
  const float eps = ctx.node().GetFloat("epsilon", 1e-5f);
  const float momentum = ctx.node().GetFloat("momentum", 0.9f);
  const bool training = ctx.node().GetInt("training_mode", 0) != 0;
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn scale, ReadChannelParam(ctx, 1, "scale", c, per_sample));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn bias, ReadChannelParam(ctx, 2, "B", c, per_sample));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn mean, ReadChannelParam(ctx, 3, "input_mean", c, per_sample));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn var, ReadChannelParam(ctx, 4, "input_var", c, per_sample));
  const bool per_element = scale.size() != c;
  const i64 want = per_element ? per_sample : c;
  if (bias.size() != want || mean.size() != want || var.size() != want) {
    return NodeError(ctx, "scale, B, mean and var must all be per channel or all per element");
  }
  if (training && per_element) return NodeUnsupported(ctx, "training_mode with spatial=0");
  for (std::size_t o = 1; o < ctx.output_count(); ++o) {
    if (ctx.output_wanted(o) && !training) {
      return NodeUnsupported(
          ctx,
          "the training outputs (mean, var, saved statistics) are not computed in inference mode");
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  const float* xd = xf.data();
  float* yd = y.data();
  const i64 params = per_element ? per_sample : c;
  std::vector<float> mul(static_cast<std::size_t>(params));
  std::vector<float> add(static_cast<std::size_t>(params));
  std::vector<double> batch_mean;
  std::vector<double> batch_var;
  if (training) {
    // Statistics over every axis but the channel (population variance).
    batch_mean.assign(static_cast<std::size_t>(c), 0.0);
    batch_var.assign(static_cast<std::size_t>(c), 0.0);
    const double count = static_cast<double>(n * inner);
    for (i64 ch = 0; ch < c; ++ch) {
      double s = 0;
      for (i64 b = 0; b < n; ++b) s += SumF(xd + (b * c + ch) * inner, inner);
      const double mu = count > 0 ? s / count : 0.0;
      double v = 0;
      for (i64 b = 0; b < n; ++b)
        v += SumSqDevF(xd + (b * c + ch) * inner, inner, static_cast<float>(mu));
      batch_mean[static_cast<std::size_t>(ch)] = mu;
      batch_var[static_cast<std::size_t>(ch)] = count > 0 ? v / count : 0.0;
    }
  }
  for (i64 i = 0; i < params; ++i) {
    const std::size_t u = static_cast<std::size_t>(i);
    const double mu = training ? batch_mean[u] : mean[i];
    const double v = training ? batch_var[u] : var[i];
    const double inv = 1.0 / std::sqrt(v + static_cast<double>(eps));
    mul[u] = static_cast<float>(scale[i] * inv);
    add[u] = static_cast<float>(bias[i] - mu * scale[i] * inv);
  }
  Parallel(&ctx, n * c, static_cast<double>(2 * inner), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      const i64 ch = plane % c;
      const float* xp = xd + plane * inner;
      float* yp = yd + plane * inner;
      if (!per_element) {
        const float mv = mul[static_cast<std::size_t>(ch)];
        const float av = add[static_cast<std::size_t>(ch)];
        for (i64 i = 0; i < inner; ++i) yp[i] = xp[i] * mv + av;
      } else {
        const float* mv = mul.data() + ch * inner;
        const float* av = add.data() + ch * inner;
        for (i64 i = 0; i < inner; ++i) yp[i] = xp[i] * mv[i] + av[i];
      }
    }
  });
  DEEPEDGE_RETURN_IF_ERROR(y.Finish());
  if (training) {
    // running_mean / running_var outputs.
    for (std::size_t o = 1; o < 3 && o < ctx.output_count(); ++o) {
      if (!ctx.output_wanted(o)) continue;
      DEEPEDGE_ASSIGN_OR_RETURN(FloatOut r, FloatOut::Make(ctx, o, x->dtype(), Shape{c}));
      for (i64 ch = 0; ch < c; ++ch) {
        const std::size_t u = static_cast<std::size_t>(ch);
        const double running = o == 1 ? mean[ch] : var[ch];
        const double current = o == 1 ? batch_mean[u] : batch_var[u];
        r.data()[ch] = static_cast<float>(running * momentum + current * (1.0 - momentum));
      }
      DEEPEDGE_RETURN_IF_ERROR(r.Finish());
    }
    for (std::size_t o = 3; o < ctx.output_count(); ++o) {
      if (ctx.output_wanted(o)) return NodeUnsupported(ctx, "saved_mean / saved_var outputs");
    }
  }
  return Status::Ok();
}

Status InstanceNormKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() < 2) return NodeError(ctx, "X must have rank >= 2, got shape " + xs.ToString());
  const i64 c = xs[1];
  const i64 inner = Product(xs.dims(), 2, xs.rank());
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn scale, ReadChannelParam(ctx, 1, "scale", c, c));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn bias, ReadChannelParam(ctx, 2, "B", c, c));
  const float eps = ctx.node().GetFloat("epsilon", 1e-5f);
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  const float* xd = xf.data();
  float* yd = y.data();
  Parallel(&ctx, xs[0] * c, static_cast<double>(4 * inner), [&](i64 b, i64 e) {
    for (i64 plane = b; plane < e; ++plane) {
      const i64 ch = plane % c;
      const float* xp = xd + plane * inner;
      float* yp = yd + plane * inner;
      const double mu = inner > 0 ? SumF(xp, inner) / static_cast<double>(inner) : 0.0;
      const double var =
          inner > 0 ? SumSqDevF(xp, inner, static_cast<float>(mu)) / static_cast<double>(inner)
                    : 0.0;
      const double inv = 1.0 / std::sqrt(var + static_cast<double>(eps));
      const float mv = static_cast<float>(scale[ch] * inv);
      const float av = static_cast<float>(bias[ch] - mu * scale[ch] * inv);
      for (i64 i = 0; i < inner; ++i) yp[i] = xp[i] * mv + av;
    }
  });
  return y.Finish();
}

// Offsets of a parameter tensor broadcast (unidirectionally) over `target`; empty when
// it already has target's element count laid out the same way.
Expected<std::vector<i64>> ParamOffsets(const KernelContext& ctx, const Tensor& p,
                                        const Shape& target, const char* what) {
  if (p.shape() == target) return std::vector<i64>{};
  auto b = BroadcastShapes(p.shape(), target);
  if (!b.has_value() || *b != target) {
    return NodeError(ctx, std::string(what) + " " + p.shape().ToString() +
                              " does not broadcast to " + target.ToString());
  }
  if (p.element_count() == target.element_count()) return std::vector<i64>{};
  return BroadcastOffsets(p.shape(), target);
}

Status LayerNormKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1));
  const Tensor* bias = ctx.input(2);
  const Shape& xs = x->shape();
  DEEPEDGE_ASSIGN_OR_RETURN(i64 axis, NodeAxis(ctx, ctx.node().GetInt("axis", -1), xs.rank()));
  const float eps = ctx.node().GetFloat("epsilon", 1e-5f);
  const i64 rows = Product(xs.dims(), 0, static_cast<std::size_t>(axis));
  const i64 cols = Product(xs.dims(), static_cast<std::size_t>(axis), xs.rank());
  const Shape norm_shape(std::vector<i64>(xs.dims().begin() + axis, xs.dims().end()));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<i64> s_off, ParamOffsets(ctx, *scale, norm_shape, "Scale"));
  std::vector<i64> b_off;
  if (bias != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(b_off, ParamOffsets(ctx, *bias, norm_shape, "B"));
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn sf, FloatIn::From(ctx, *scale, "Scale"));
  FloatIn bf;
  if (bias != nullptr) {
    DEEPEDGE_ASSIGN_OR_RETURN(bf, FloatIn::From(ctx, *bias, "B"));
  }
  // Expand broadcast parameters to one value per normalized element.
  std::vector<float> s_full;
  std::vector<float> b_full;
  const float* sp = sf.data();
  const float* bp = bias != nullptr ? bf.data() : nullptr;
  if (!s_off.empty()) {
    for (i64 o : s_off) s_full.push_back(sf[o]);
    sp = s_full.data();
  }
  if (!b_off.empty()) {
    for (i64 o : b_off) b_full.push_back(bf[o]);
    bp = b_full.data();
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  std::vector<i64> stat_dims = xs.dims();
  for (std::size_t i = static_cast<std::size_t>(axis); i < stat_dims.size(); ++i) stat_dims[i] = 1;
  float* mean_out = nullptr;
  float* inv_out = nullptr;
  if (ctx.output_count() > 1 && ctx.output_wanted(1)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(1, DType::kF32, Shape(stat_dims)));
    mean_out = t->as<float>().data();
  }
  if (ctx.output_count() > 2 && ctx.output_wanted(2)) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * t, ctx.Output(2, DType::kF32, Shape(stat_dims)));
    inv_out = t->as<float>().data();
  }
  const float* xd = xf.data();
  float* yd = y.data();
  Parallel(&ctx, rows, static_cast<double>(5 * cols), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; ++r) {
      const float* xp = xd + r * cols;
      float* yp = yd + r * cols;
      const double mu = cols > 0 ? SumF(xp, cols) / static_cast<double>(cols) : 0.0;
      const double var =
          cols > 0 ? SumSqDevF(xp, cols, static_cast<float>(mu)) / static_cast<double>(cols) : 0.0;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
      const float muf = static_cast<float>(mu);
      if (bp != nullptr) {
        for (i64 i = 0; i < cols; ++i) yp[i] = (xp[i] - muf) * inv * sp[i] + bp[i];
      } else {
        for (i64 i = 0; i < cols; ++i) yp[i] = (xp[i] - muf) * inv * sp[i];
      }
      if (mean_out != nullptr) mean_out[r] = muf;
      if (inv_out != nullptr) inv_out[r] = inv;
    }
  });
  return y.Finish();
}

Status LrnKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() < 2) return NodeError(ctx, "X must have rank >= 2, got shape " + xs.ToString());
  const i64 size = ctx.node().GetInt("size", 0);
  if (size < 1)
    return NodeError(ctx, "size must be a positive (odd) number, got " + std::to_string(size));
  const float alpha = ctx.node().GetFloat("alpha", 1e-4f);
  const float beta = ctx.node().GetFloat("beta", 0.75f);
  const float bias = ctx.node().GetFloat("bias", 1.0f);
  const i64 c = xs[1];
  const i64 inner = Product(xs.dims(), 2, xs.rank());
  const i64 before = (size - 1) / 2;
  const i64 after = size - 1 - before;
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  const float* xd = xf.data();
  float* yd = y.data();
  const float a_over_n = alpha / static_cast<float>(size);
  // Split over (image, block of positions); each position runs over the channels.
  constexpr i64 kBlock = 1024;
  const i64 blocks = CeilDiv(std::max<i64>(inner, 1), kBlock);
  Parallel(&ctx, xs[0] * blocks, static_cast<double>(c * kBlock * 20), [&](i64 b, i64 e) {
    std::vector<float> sum(static_cast<std::size_t>(kBlock));
    for (i64 t = b; t < e; ++t) {
      const i64 n = t / blocks;
      const i64 p0 = (t % blocks) * kBlock;
      const i64 len = std::min(kBlock, inner - p0);
      if (len <= 0) continue;
      const float* xn = xd + n * c * inner + p0;
      float* yn = yd + n * c * inner + p0;
      for (i64 ch = 0; ch < c; ++ch) {
        std::fill(sum.begin(), sum.begin() + len, 0.0f);
        const i64 lo = std::max<i64>(0, ch - before);
        const i64 hi = std::min<i64>(c - 1, ch + after);
        for (i64 j = lo; j <= hi; ++j) {
          const float* xj = xn + j * inner;
          for (i64 i = 0; i < len; ++i) sum[static_cast<std::size_t>(i)] += xj[i] * xj[i];
        }
        const float* xc = xn + ch * inner;
        float* yc = yn + ch * inner;
        for (i64 i = 0; i < len; ++i)
          yc[i] = xc[i] / std::pow(bias + a_over_n * sum[static_cast<std::size_t>(i)], beta);
      }
    }
  });
  return y.Finish();
}

Status MvnKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  std::vector<i64> axes = ctx.node().GetInts("axes", {0, 2, 3});
  std::vector<i64> kept = xs.dims();
  for (i64& a : axes) {
    DEEPEDGE_ASSIGN_OR_RETURN(a, NodeAxis(ctx, a, xs.rank()));
    kept[static_cast<std::size_t>(a)] = 1;
  }
  const Shape stat_shape(kept);
  const i64 total = xs.element_count();
  const i64 stats = stat_shape.element_count();
  const double count = stats > 0 ? static_cast<double>(total) / static_cast<double>(stats) : 0.0;
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  const std::vector<i64> off = BroadcastOffsets(stat_shape, xs);
  std::vector<double> sum(static_cast<std::size_t>(stats), 0.0);
  std::vector<double> sq(static_cast<std::size_t>(stats), 0.0);
  const float* xd = xf.data();
  for (i64 i = 0; i < total; ++i) {
    const std::size_t o = static_cast<std::size_t>(off[static_cast<std::size_t>(i)]);
    sum[o] += xd[i];
    sq[o] += static_cast<double>(xd[i]) * xd[i];
  }
  std::vector<float> mean(static_cast<std::size_t>(stats));
  std::vector<float> inv(static_cast<std::size_t>(stats));
  for (std::size_t s = 0; s < mean.size(); ++s) {
    const double mu = sum[s] / count;
    const double var = std::max(0.0, sq[s] / count - mu * mu);
    mean[s] = static_cast<float>(mu);
    inv[s] = static_cast<float>(1.0 / (std::sqrt(var) + 1e-9));
  }
  float* yd = y.data();
  for (i64 i = 0; i < total; ++i) {
    const std::size_t o = static_cast<std::size_t>(off[static_cast<std::size_t>(i)]);
    yd[i] = (xd[i] - mean[o]) * inv[o];
  }
  return y.Finish();
}

// ---------------------------------------------------------------------------------
// Softmax, LogSoftmax, Hardmax
// ---------------------------------------------------------------------------------

// exp on four floats at a time (Cephes-style range reduction and degree-6 polynomial,
// relative error < 1e-7); results below the f32 range are 0, NaN stays NaN.
using V4 = VecOf<4>::type;
using I4 = std::int32_t __attribute__((vector_size(16)));

inline V4 ExpV4(V4 x) {
  const V4 hi = V4{} + 88.3762626647949f;
  const V4 lo = V4{} - 87.3365478515625f;
  const auto underflow = x < lo;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const V4 t = x * 1.44269504088896341f + 12582912.0f;  // round(x / ln 2) via 1.5 * 2^23
  const V4 n = t - 12582912.0f;
  V4 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V4 p = V4{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I4 bits = (__builtin_convertvector(n, I4) + 127) << 23;
  V4 scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const V4 result = p * scale;
  return underflow ? V4{} : result;
}

// y[i] = exp(x[i] - sub[i]) (kVectorSub) or exp(x[i] - sub[0]); y may be null. Returns
// the sum of the results.
template <bool kVectorSub>
double ExpSub(const float* x, const float* sub, float* y, i64 n) {
  double total = 0;
  V4 acc = V4{};
  const V4 shift = V4{} + sub[0];
  i64 i = 0;
  while (i + 4 <= n) {
    // Blocks of up to 1024 values are summed in f32, then added in double.
    const i64 end = std::min(n - 3, i + 1024);
    for (; i < end; i += 4) {
      V4 xv;
      std::memcpy(&xv, x + i, sizeof(V4));
      V4 sv = shift;
      if constexpr (kVectorSub) std::memcpy(&sv, sub + i, sizeof(V4));
      const V4 e = ExpV4(xv - sv);
      if (y != nullptr) std::memcpy(y + i, &e, sizeof(V4));
      acc += e;
    }
    total += static_cast<double>(acc[0]) + acc[1] + acc[2] + acc[3];
    acc = V4{};
  }
  if (i < n) {
    V4 xv = V4{} - std::numeric_limits<float>::infinity();
    V4 sv = V4{};
    for (i64 q = 0; q < n - i; ++q) {
      xv[q] = x[i + q];
      sv[q] = kVectorSub ? sub[i + q] : sub[0];
    }
    const V4 e = ExpV4(xv - sv);
    for (i64 q = 0; q < n - i; ++q) {
      if (y != nullptr) y[i + q] = e[q];
    }
    total += static_cast<double>(e[0]) + e[1] + e[2] + e[3];
  }
  return total;
}

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// One row of n values at stride 1.
template <SoftmaxKind kKind>
void SoftmaxRow(const float* x, float* y, i64 n) {
  if (n <= 0) return;
  if constexpr (kKind == SoftmaxKind::kHardmax) {
    i64 arg = 0;
    for (i64 i = 1; i < n; ++i) arg = x[i] > x[arg] ? i : arg;
    std::fill(y, y + n, 0.0f);
    y[arg] = 1.0f;
    return;
  }
  const float mx = MaxF(x, n);
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    const float inv = static_cast<float>(1.0 / ExpSub<false>(x, &mx, y, n));
    for (i64 i = 0; i < n; ++i) y[i] *= inv;
  } else {
    const float lse = static_cast<float>(std::log(ExpSub<false>(x, &mx, nullptr, n)));
    for (i64 i = 0; i < n; ++i) y[i] = x[i] - mx - lse;
  }
}

// n values at stride `inner`, for `inner` interleaved rows at once (vectorised across them).
template <SoftmaxKind kKind>
void SoftmaxColumns(const float* x, float* y, i64 n, i64 inner, float* mx, float* acc, i64* arg) {
  std::copy(x, x + inner, mx);
  if constexpr (kKind == SoftmaxKind::kHardmax) {
    std::fill(arg, arg + inner, 0);
    for (i64 j = 1; j < n; ++j) {
      const float* xr = x + j * inner;
      for (i64 i = 0; i < inner; ++i) {
        if (xr[i] > mx[i]) {
          mx[i] = xr[i];
          arg[i] = j;
        }
      }
    }
  } else {
    for (i64 j = 1; j < n; ++j) {
      const float* xr = x + j * inner;
      for (i64 i = 0; i < inner; ++i) mx[i] = xr[i] > mx[i] ? xr[i] : mx[i];
    }
  }
  if constexpr (kKind == SoftmaxKind::kHardmax) {
    std::fill(y, y + n * inner, 0.0f);
    for (i64 i = 0; i < inner; ++i) y[arg[i] * inner + i] = 1.0f;
    return;
  }
  std::fill(acc, acc + inner, 0.0f);
  for (i64 j = 0; j < n; ++j) {
    // exp(x - max) into y (also for LogSoftmax, whose y is overwritten below).
    float* yr = y + j * inner;
    ExpSub<true>(x + j * inner, mx, yr, inner);
    for (i64 i = 0; i < inner; ++i) acc[i] += yr[i];
  }
  if constexpr (kKind == SoftmaxKind::kSoftmax) {
    for (i64 i = 0; i < inner; ++i) acc[i] = 1.0f / acc[i];
    for (i64 j = 0; j < n; ++j) {
      float* yr = y + j * inner;
      for (i64 i = 0; i < inner; ++i) yr[i] *= acc[i];
    }
  } else {
    for (i64 i = 0; i < inner; ++i) acc[i] = mx[i] + std::log(acc[i]);
    for (i64 j = 0; j < n; ++j) {
      const float* xr = x + j * inner;
      float* yr = y + j * inner;
      for (i64 i = 0; i < inner; ++i) yr[i] = xr[i] - acc[i];
    }
  }
}

// kV13: opset >= 13 (one axis, default -1); otherwise the input is coerced to 2-D at
// `axis` (default 1) and each row is normalised.
template <SoftmaxKind kKind, bool kV13>
Status SoftmaxKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() == 0) return NodeError(ctx, "X must have rank >= 1");
  i64 axis = ctx.node().GetInt("axis", kV13 ? -1 : 1);
  // Before opset 13, axis == rank (e.g. the default 1 on a 1-D input) is read as the
  // last axis: the whole input is one row.
  if (!kV13 && axis == static_cast<i64>(xs.rank())) axis = static_cast<i64>(xs.rank()) - 1;
  DEEPEDGE_ASSIGN_OR_RETURN(axis, NodeAxis(ctx, axis, xs.rank()));
  const std::size_t ua = static_cast<std::size_t>(axis);
  const i64 outer = Product(xs.dims(), 0, ua);
  const i64 n = kV13 ? xs[ua] : Product(xs.dims(), ua, xs.rank());
  const i64 inner = kV13 ? Product(xs.dims(), ua + 1, xs.rank()) : 1;
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
  const float* xd = xf.data();
  float* yd = y.data();
  if (n == 0 || inner == 0) return y.Finish();
  if (inner == 1) {
    Parallel(&ctx, outer, static_cast<double>(20 * n), [&](i64 b, i64 e) {
      for (i64 r = b; r < e; ++r) SoftmaxRow<kKind>(xd + r * n, yd + r * n, n);
    });
  } else {
    Parallel(&ctx, outer, static_cast<double>(20 * n * inner), [&](i64 b, i64 e) {
      std::vector<float> mx(static_cast<std::size_t>(inner));
      std::vector<float> acc(static_cast<std::size_t>(inner));
      std::vector<i64> arg(static_cast<std::size_t>(inner));
      for (i64 r = b; r < e; ++r) {
        SoftmaxColumns<kKind>(xd + r * n * inner, yd + r * n * inner, n, inner, mx.data(),
                              acc.data(), arg.data());
      }
    });
  }
  return y.Finish();
}

// ---------------------------------------------------------------------------------
// Resize, Upsample
// ---------------------------------------------------------------------------------

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class CoordMode {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize
};
// kSimple: opset-10 Resize / Upsample (floor when enlarging, ceil when shrinking).
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kSimple };

struct ResizeSpec {
  ResizeMode mode = ResizeMode::kNearest;
  CoordMode coord = CoordMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  float extrapolation = 0.0f;
};

// Interpolation along one axis: for each output index, `taps` (index, weight) pairs,
// or the extrapolation value.
struct AxisTaps {
  int taps = 1;
  std::vector<i64> index;
  std::vector<float> weight;
  std::vector<std::uint8_t> extrapolate;
  bool identity = false;
};

// `out_len` is the output length before flooring (in * scale when scales are given), which
// align_corners, pytorch_half_pixel and tf_crop_and_resize divide by, as ONNX's
// reference does.
AxisTaps ComputeTaps(const ResizeSpec& spec, i64 in, i64 out, double out_len, double scale,
                     double roi_start, double roi_end) {
  AxisTaps t;
  t.taps = spec.mode == ResizeMode::kNearest ? 1 : spec.mode == ResizeMode::kLinear ? 2 : 4;
  const std::size_t total = static_cast<std::size_t>(out * t.taps);
  t.index.assign(total, 0);
  t.weight.assign(total, 0.0f);
  t.extrapolate.assign(static_cast<std::size_t>(out), 0);
  bool identity = in == out;
  const double last = static_cast<double>(in - 1);
  for (i64 o = 0; o < out; ++o) {
    const double od = static_cast<double>(o);
    double x = 0;
    switch (spec.coord) {
      case CoordMode::kHalfPixel:
        x = (od + 0.5) / scale - 0.5;
        break;
      case CoordMode::kPytorchHalfPixel:
        x = out_len > 1 ? (od + 0.5) / scale - 0.5 : 0.0;
        break;
      case CoordMode::kAlignCorners:
        x = out_len > 1 ? od * last / (out_len - 1) : 0.0;
        break;
      case CoordMode::kAsymmetric:
        x = od / scale;
        break;
      case CoordMode::kTfHalfPixelForNn:
        x = (od + 0.5) / scale;
        break;
      case CoordMode::kTfCropAndResize:
        x = out_len > 1 ? roi_start * last + od * (roi_end - roi_start) * last / (out_len - 1)
                        : 0.5 * (roi_start + roi_end) * last;
        break;
    }
    const std::size_t base = static_cast<std::size_t>(o * t.taps);
    if (spec.coord == CoordMode::kTfCropAndResize && (x < 0 || x > last)) {
      t.extrapolate[static_cast<std::size_t>(o)] = 1;
      identity = false;
      continue;
    }
    if (spec.mode == ResizeMode::kNearest) {
      double r = 0;
      switch (spec.nearest) {
        case NearestMode::kRoundPreferFloor:
          r = std::ceil(x - 0.5);
          break;
        case NearestMode::kRoundPreferCeil:
          r = std::floor(x + 0.5);
          break;
        case NearestMode::kFloor:
          r = std::floor(x);
          break;
        case NearestMode::kCeil:
          r = std::ceil(x);
          break;
        case NearestMode::kSimple:
          r = scale < 1.0 ? std::ceil(x) : std::floor(x);
          break;
      }
      t.index[base] = ClampedFloor(r, 0, in - 1);
      t.weight[base] = 1.0f;
      identity = identity && t.index[base] == o;
    } else if (spec.mode == ResizeMode::kLinear) {
      const double xc = std::clamp(x, 0.0, last);
      const i64 x0 = static_cast<i64>(std::floor(xc));
      const i64 x1 = std::min(x0 + 1, in - 1);
      const double f = xc - static_cast<double>(x0);
      t.index[base] = x0;
      t.index[base + 1] = x1;
      t.weight[base] = static_cast<float>(1.0 - f);
      t.weight[base + 1] = static_cast<float>(f);
      identity = identity && x0 == o && f == 0.0;
    } else {
      const double a = spec.cubic_a;
      const double x0 = static_cast<double>(ClampedFloor(x, -4, in + 4));
      const double r = std::clamp(x - x0, 0.0, 1.0);
      auto near = [a](double s) { return ((a + 2) * s - (a + 3)) * s * s + 1; };  // |s| <= 1
      auto far = [a](double s) {
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
      };  // 1 < |s| < 2
      const double c[4] = {far(1 + r), near(r), near(1 - r), far(2 - r)};
      double sum = 0;
      for (int q = 0; q < 4; ++q) {
        const i64 idx = static_cast<i64>(x0) - 1 + q;
        double wq = c[q];
        if (idx < 0 || idx >= in) {
          if (spec.exclude_outside) wq = 0;
        }
        t.index[base + static_cast<std::size_t>(q)] = std::clamp<i64>(idx, 0, in - 1);
        t.weight[base + static_cast<std::size_t>(q)] = static_cast<float>(wq);
        sum += wq;
      }
      if (spec.exclude_outside && sum != 0) {
        for (int q = 0; q < 4; ++q)
          t.weight[base + static_cast<std::size_t>(q)] =
              static_cast<float>(t.weight[base + static_cast<std::size_t>(q)] / sum);
      }
      identity = identity && r == 0.0 && static_cast<i64>(x0) == o;
    }
  }
  t.identity = identity;
  return t;
}

// Resamples axis (outer x in_len x inner -> outer x out_len x inner).
template <typename T>
void ResizeAxis(KernelContext* ctx, const T* in, T* out, i64 outer, i64 in_len, i64 out_len,
                i64 inner, const AxisTaps& t, float extrapolation) {
  if (inner == 1) {
    // Innermost axis: one pass per row of the input.
    Parallel(ctx, outer, static_cast<double>(2 * t.taps * out_len), [&](i64 b, i64 e) {
      for (i64 o = b; o < e; ++o) {
        const T* src = in + o * in_len;
        T* dst = out + o * out_len;
        for (i64 j = 0; j < out_len; ++j) {
          const std::size_t base = static_cast<std::size_t>(j * t.taps);
          if (t.extrapolate[static_cast<std::size_t>(j)]) {
            dst[j] = static_cast<T>(extrapolation);
          } else if (t.taps == 1) {
            dst[j] = src[t.index[base]];
          } else if constexpr (std::is_same_v<T, float>) {
            float v = 0;
            for (int q = 0; q < t.taps; ++q) {
              v += t.weight[base + static_cast<std::size_t>(q)] *
                   src[t.index[base + static_cast<std::size_t>(q)]];
            }
            dst[j] = v;
          }
        }
      }
    });
    return;
  }
  const i64 rows = outer * out_len;
  Parallel(ctx, rows, static_cast<double>(2 * t.taps * inner), [&](i64 b, i64 e) {
    for (i64 r = b; r < e; ++r) {
      const i64 o = r / out_len;
      const i64 j = r % out_len;
      T* dst = out + r * inner;
      if (t.extrapolate[static_cast<std::size_t>(j)]) {
        std::fill(dst, dst + inner, static_cast<T>(extrapolation));
        continue;
      }
      const std::size_t base = static_cast<std::size_t>(j * t.taps);
      const T* src0 = in + (o * in_len + t.index[base]) * inner;
      if (t.taps == 1) {
        std::copy(src0, src0 + inner, dst);
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        const float w0 = t.weight[base];
        for (i64 i = 0; i < inner; ++i) dst[i] = w0 * src0[i];
        for (int q = 1; q < t.taps; ++q) {
          const float wq = t.weight[base + static_cast<std::size_t>(q)];
          const float* src =
              in + (o * in_len + t.index[base + static_cast<std::size_t>(q)]) * inner;
          for (i64 i = 0; i < inner; ++i) dst[i] += wq * src[i];
        }
      }
    }
  });
}

Expected<ResizeSpec> ReadResizeSpec(const KernelContext& ctx, bool opset10) {
  const ir::Node& node = ctx.node();
  ResizeSpec spec;
  const std::string mode = node.GetString("mode", "nearest");
  if (mode == "nearest") {
    spec.mode = ResizeMode::kNearest;
  } else if (mode == "linear" || mode == "bilinear" || mode == "trilinear") {
    spec.mode = ResizeMode::kLinear;
  } else if (mode == "cubic") {
    spec.mode = ResizeMode::kCubic;
  } else {
    return NodeError(ctx, "unknown mode '" + mode + "'");
  }
  if (opset10) {
    spec.coord = CoordMode::kAsymmetric;
    spec.nearest = NearestMode::kSimple;
    return spec;
  }
  const std::string coord = node.GetString("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") {
    spec.coord = CoordMode::kHalfPixel;
  } else if (coord == "pytorch_half_pixel") {
    spec.coord = CoordMode::kPytorchHalfPixel;
  } else if (coord == "align_corners") {
    spec.coord = CoordMode::kAlignCorners;
  } else if (coord == "asymmetric") {
    spec.coord = CoordMode::kAsymmetric;
  } else if (coord == "tf_half_pixel_for_nn") {
    spec.coord = CoordMode::kTfHalfPixelForNn;
  } else if (coord == "tf_crop_and_resize") {
    spec.coord = CoordMode::kTfCropAndResize;
  } else {
    return NodeError(ctx, "unknown coordinate_transformation_mode '" + coord + "'");
  }
  const std::string nearest = node.GetString("nearest_mode", "round_prefer_floor");
  if (nearest == "round_prefer_floor") {
    spec.nearest = NearestMode::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    spec.nearest = NearestMode::kRoundPreferCeil;
  } else if (nearest == "floor") {
    spec.nearest = NearestMode::kFloor;
  } else if (nearest == "ceil") {
    spec.nearest = NearestMode::kCeil;
  } else {
    return NodeError(ctx, "unknown nearest_mode '" + nearest + "'");
  }
  spec.cubic_a = node.GetFloat("cubic_coeff_a", -0.75f);
  spec.exclude_outside = node.GetInt("exclude_outside", 0) != 0;
  spec.extrapolation = node.GetFloat("extrapolation_value", 0.0f);
  return spec;
}

template <typename T>
void RunResize(KernelContext& ctx, const ResizeSpec& spec, const Shape& xs,
               const std::vector<i64>& out_dims, const std::vector<AxisTaps>& taps, const T* x,
               T* y) {
  // Axes that change, shrinking ones first (less data for the following passes).
  std::vector<std::size_t> order;
  for (std::size_t a = 0; a < taps.size(); ++a)
    if (!taps[a].identity) order.push_back(a);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t p, std::size_t q) {
    return static_cast<double>(out_dims[p]) / static_cast<double>(std::max<i64>(xs[p], 1)) <
           static_cast<double>(out_dims[q]) / static_cast<double>(std::max<i64>(xs[q], 1));
  });
  if (order.empty()) {
    std::copy(x, x + xs.element_count(), y);
    return;
  }
  std::vector<i64> cur = xs.dims();
  std::vector<T> ping;
  std::vector<T> pong;
  const T* src = x;
  for (std::size_t step = 0; step < order.size(); ++step) {
    const std::size_t a = order[step];
    const i64 outer = Product(cur, 0, a);
    const i64 inner = Product(cur, a + 1, cur.size());
    const i64 in_len = cur[a];
    cur[a] = out_dims[a];
    T* dst = nullptr;
    if (step + 1 == order.size()) {
      dst = y;
    } else {
      std::vector<T>& buf = (src == ping.data() && !ping.empty()) ? pong : ping;
      buf.resize(static_cast<std::size_t>(Product(cur, 0, cur.size())));
      dst = buf.data();
    }
    ResizeAxis<T>(&ctx, src, dst, outer, in_len, out_dims[a], inner, taps[a], spec.extrapolation);
    src = dst;
  }
}

// Shared by Resize (opsets 10, 11+) and Upsample: `scales` / `sizes` already read.
Status ResizeCommon(KernelContext& ctx, const Tensor& x, const ResizeSpec& spec,
                    const std::vector<float>& scales, const std::vector<i64>& sizes,
                    const std::vector<float>& roi) {
  const Shape& xs = x.shape();
  const std::size_t rank = xs.rank();
  std::vector<i64> out_dims(rank);
  std::vector<double> scale(rank);
  if (!sizes.empty()) {
    if (sizes.size() != rank) {
      return NodeError(ctx, "sizes has " + std::to_string(sizes.size()) +
                                " values for an input of shape " + xs.ToString());
    }
    for (std::size_t i = 0; i < rank; ++i) {
      if (sizes[i] < 0) return NodeError(ctx, "sizes must be non-negative, got " + IntsStr(sizes));
      out_dims[i] = sizes[i];
      scale[i] = xs[i] > 0 ? static_cast<double>(sizes[i]) / static_cast<double>(xs[i]) : 1.0;
    }
  } else if (!scales.empty()) {
    if (scales.size() != rank) {
      return NodeError(ctx, "scales has " + std::to_string(scales.size()) +
                                " values for an input of shape " + xs.ToString());
    }
    for (std::size_t i = 0; i < rank; ++i) {
      if (!(scales[i] > 0)) return NodeError(ctx, "scales must be positive");
      scale[i] = static_cast<double>(scales[i]);
      const double size = std::floor(static_cast<double>(xs[i]) * scale[i]);
      if (!(size < 9.0e15))
        return NodeError(ctx, "scales give an output dimension that is too large");
      out_dims[i] = static_cast<i64>(size);
    }
  } else {
    return NodeError(ctx, "one of scales and sizes must be given");
  }
  if (spec.coord == CoordMode::kTfCropAndResize && roi.size() != 2 * rank) {
    return NodeError(ctx,
                     "tf_crop_and_resize needs roi with " + std::to_string(2 * rank) + " values");
  }
  std::vector<AxisTaps> taps(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    if (out_dims[i] > 0 && xs[i] == 0) {
      return NodeError(ctx, "cannot resize an empty dimension of " + xs.ToString());
    }
    const bool crop = spec.coord == CoordMode::kTfCropAndResize;
    const double out_len =
        sizes.empty() ? static_cast<double>(xs[i]) * scale[i] : static_cast<double>(out_dims[i]);
    taps[i] = ComputeTaps(spec, xs[i], out_dims[i], out_len, scale[i], crop ? roi[i] : 0.0,
                          crop ? roi[i + rank] : 1.0);
  }
  const Shape ys(out_dims);
  if (!IsFloat(x.dtype())) {
    if (spec.mode != ResizeMode::kNearest ||
        (spec.coord == CoordMode::kTfCropAndResize && spec.extrapolation != 0.0f)) {
      return NodeUnsupported(
          ctx, "only nearest mode for " + std::string(DTypeName(x.dtype())) + " input");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x.dtype(), ys));
    if (ys.element_count() == 0) return Status::Ok();
    return DispatchByType(x.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      RunResize<T>(ctx, spec, xs, out_dims, taps, x.as<T>().data(), y->as<T>().data());
      return Status::Ok();
    });
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, x, "X"));
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x.dtype(), ys));
  if (ys.element_count() > 0) RunResize<float>(ctx, spec, xs, out_dims, taps, xf.data(), y.data());
  return y.Finish();
}

// Float values of an optional input; empty when omitted or empty.
Expected<std::vector<float>> OptionalFloats(const KernelContext& ctx, std::size_t i,
                                            const char* what) {
  const Tensor* t = ctx.input(i);
  if (t == nullptr || t->element_count() == 0) return std::vector<float>{};
  auto v = ReadFloats(*t);
  if (!v.has_value()) return NodeError(ctx, std::string(what) + ": " + v.status().message());
  return v;
}

Status Resize10Kernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(ResizeSpec spec, ReadResizeSpec(ctx, true));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> scales, OptionalFloats(ctx, 1, "scales"));
  return ResizeCommon(ctx, *x, spec, scales, {}, {});
}

Status Resize11Kernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(ResizeSpec spec, ReadResizeSpec(ctx, false));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> roi, OptionalFloats(ctx, 1, "roi"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<float> scales, OptionalFloats(ctx, 2, "scales"));
  std::vector<i64> sizes;
  if (const Tensor* s = ctx.input(3); s != nullptr && s->element_count() > 0) {
    auto v = ReadInts(*s);
    if (!v.has_value()) return NodeError(ctx, "sizes: " + v.status().message());
    sizes = std::move(*v);
    if (!scales.empty()) return NodeError(ctx, "scales and sizes must not both be given");
  }
  return ResizeCommon(ctx, *x, spec, scales, sizes, roi);
}

// Upsample-7 (scales attribute) and Upsample-9 (scales input).
template <bool kScalesInput>
Status UpsampleKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(ResizeSpec spec, ReadResizeSpec(ctx, true));
  std::vector<float> scales;
  if constexpr (kScalesInput) {
    DEEPEDGE_ASSIGN_OR_RETURN(scales, OptionalFloats(ctx, 1, "scales"));
  } else {
    scales = ctx.node().GetFloats("scales");
  }
  return ResizeCommon(ctx, *x, spec, scales, {}, {});
}

// ---------------------------------------------------------------------------------
// TopK, CumSum
// ---------------------------------------------------------------------------------

template <typename T>
void TopKSlices(KernelContext* ctx, const T* x, T* values, i64* indices, i64 outer, i64 n,
                i64 inner, i64 k, bool largest) {
  Parallel(ctx, outer * inner, static_cast<double>(n * 8), [&](i64 b, i64 e) {
    std::vector<i64> order(static_cast<std::size_t>(n));
    for (i64 s = b; s < e; ++s) {
      const i64 o = s / inner;
      const i64 i = s % inner;
      const T* xs = x + o * n * inner + i;
      std::iota(order.begin(), order.end(), i64{0});
      // A strict order: NaN ranks above every number (as in NumPy), ties keep the
      // lower index first.
      auto greater = [](T a, T c) {
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(a)) return !std::isnan(c);
          if (std::isnan(c)) return false;
        }
        return a > c;
      };
      auto before = [&](i64 p, i64 q) {
        const T a = xs[p * inner];
        const T c = xs[q * inner];
        if (greater(a, c)) return largest;
        if (greater(c, a)) return !largest;
        return p < q;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (i64 j = 0; j < k; ++j) {
        const i64 src = order[static_cast<std::size_t>(j)];
        values[(o * k + j) * inner + i] = xs[src * inner];
        indices[(o * k + j) * inner + i] = src;
      }
    }
  });
}

// kInputK: K is input 1 (opset 10+) rather than the k attribute (opset 1).
template <bool kInputK>
Status TopKKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  const Shape& xs = x->shape();
  if (xs.rank() == 0) return NodeError(ctx, "X must have rank >= 1");
  DEEPEDGE_ASSIGN_OR_RETURN(i64 axis, NodeAxis(ctx, ctx.node().GetInt("axis", -1), xs.rank()));
  i64 k = 0;
  if constexpr (kInputK) {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* kt, RequiredInput(ctx, 1));
    auto kv = ReadInts(*kt);
    if (!kv.has_value() || kv->size() != 1) return NodeError(ctx, "K must be a single integer");
    k = (*kv)[0];
  } else {
    k = ctx.node().GetInt("k", -1);
  }
  const std::size_t ua = static_cast<std::size_t>(axis);
  if (k < 0 || k > xs[ua]) {
    return NodeError(ctx, "K = " + std::to_string(k) + " is outside [0, " + std::to_string(xs[ua]) +
                              "] for input " + xs.ToString());
  }
  const bool largest = ctx.node().GetInt("largest", 1) != 0;
  const i64 outer = Product(xs.dims(), 0, ua);
  const i64 n = xs[ua];
  const i64 inner = Product(xs.dims(), ua + 1, xs.rank());
  std::vector<i64> yd = xs.dims();
  yd[ua] = k;
  const Shape ys(yd);
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * it, ctx.Output(1, DType::kI64, ys));
  i64* idx = it->as<std::int64_t>().data();
  if (IsFloat(x->dtype())) {
    DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "X"));
    DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), ys));
    TopKSlices(&ctx, xf.data(), y.data(), idx, outer, n, inner, k, largest);
    return y.Finish();
  }
  if (x->dtype() == DType::kBool) return NodeUnsupported(ctx, "bool input");
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), ys));
  return DispatchByType(x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    TopKSlices(&ctx, x->as<T>().data(), y->as<T>().data(), idx, outer, n, inner, k, largest);
    return Status::Ok();
  });
}

// The type integer sums are accumulated in (unsigned: overflow wraps without UB).
template <typename T, bool kFloat = std::is_floating_point_v<T>>
struct WrapType {
  using type = T;
};
template <typename T>
struct WrapType<T, false> {
  using type = std::make_unsigned_t<T>;
};

template <typename T>
void CumSumSlices(const T* x, T* y, i64 outer, i64 n, i64 inner, bool exclusive, bool reverse) {
  using Acc = typename WrapType<T>::type;
  std::vector<Acc> acc(static_cast<std::size_t>(inner));
  for (i64 o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), Acc{0});
    for (i64 step = 0; step < n; ++step) {
      const i64 j = reverse ? n - 1 - step : step;
      const T* xr = x + (o * n + j) * inner;
      T* yr = y + (o * n + j) * inner;
      for (i64 i = 0; i < inner; ++i) {
        const std::size_t u = static_cast<std::size_t>(i);
        if (exclusive) {
          yr[i] = static_cast<T>(acc[u]);
          acc[u] = static_cast<Acc>(acc[u] + static_cast<Acc>(xr[i]));
        } else {
          acc[u] = static_cast<Acc>(acc[u] + static_cast<Acc>(xr[i]));
          yr[i] = static_cast<T>(acc[u]);
        }
      }
    }
  }
}

Status CumSumKernel(KernelContext& ctx) {
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0));
  DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* at, RequiredInput(ctx, 1));
  const Shape& xs = x->shape();
  auto av = ReadInts(*at);
  if (!av.has_value() || av->size() != 1) return NodeError(ctx, "axis must be a single integer");
  if (xs.rank() == 0) return NodeError(ctx, "x must have rank >= 1");
  DEEPEDGE_ASSIGN_OR_RETURN(i64 axis, NodeAxis(ctx, (*av)[0], xs.rank()));
  const bool exclusive = ctx.node().GetInt("exclusive", 0) != 0;
  const bool reverse = ctx.node().GetInt("reverse", 0) != 0;
  const std::size_t ua = static_cast<std::size_t>(axis);
  const i64 outer = Product(xs.dims(), 0, ua);
  const i64 n = xs[ua];
  const i64 inner = Product(xs.dims(), ua + 1, xs.rank());
  if (IsFloat(x->dtype())) {
    DEEPEDGE_ASSIGN_OR_RETURN(FloatIn xf, FloatIn::From(ctx, *x, "x"));
    DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, x->dtype(), xs));
    CumSumSlices(xf.data(), y.data(), outer, n, inner, exclusive, reverse);
    return y.Finish();
  }
  if (x->dtype() == DType::kBool) return NodeUnsupported(ctx, "bool input");
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), xs));
  return DispatchByType(x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    CumSumSlices(x->as<T>().data(), y->as<T>().data(), outer, n, inner, exclusive, reverse);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------
// Einsum
// ---------------------------------------------------------------------------------

// An operand during evaluation: distinct labels with sizes and element strides (a
// repeated label of an input, i.e. a diagonal, has the sum of its axes' strides).
struct EinsumTerm {
  std::vector<int> labels;
  std::vector<i64> dims;
  std::vector<i64> strides;
  const float* data = nullptr;
  std::vector<float> owned;  // storage when data points into it
};

constexpr int kEllipsisLabel = 52;  // labels 0..51 are A-Z, a-z; ellipsis dims follow

std::vector<i64> RowMajorStrides(const std::vector<i64>& dims) {
  std::vector<i64> s(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// Steps a row-major multi-index, keeping a strided offset in step.
void Advance(std::vector<i64>& idx, const std::vector<i64>& dims, const std::vector<i64>& strides,
             i64& off) {
  for (std::size_t d = idx.size(); d-- > 0;) {
    if (++idx[d] < dims[d]) {
      off += strides[d];
      return;
    }
    off -= strides[d] * (dims[d] - 1);
    idx[d] = 0;
  }
}

// t laid out contiguously with `labels` (sizes `dims`): labels of t that are not listed
// are summed over; listed labels t lacks, or has with size 1, are broadcast. Writes to
// dst when given, else into the result's own storage (or returns a view of t when it is
// already laid out so).
EinsumTerm Rearrange(const EinsumTerm& t, const std::vector<int>& labels,
                     const std::vector<i64>& dims, float* dst = nullptr) {
  EinsumTerm r;
  r.labels = labels;
  r.dims = dims;
  r.strides = RowMajorStrides(dims);
  if (dst == nullptr && t.labels == labels && t.dims == dims && t.strides == r.strides) {
    r.data = t.data;
    return r;
  }
  std::vector<i64> src_strides(labels.size(), 0);
  for (std::size_t a = 0; a < labels.size(); ++a) {
    for (std::size_t k = 0; k < t.labels.size(); ++k) {
      if (t.labels[k] == labels[a] && !(t.dims[k] == 1 && dims[a] != 1))
        src_strides[a] = t.strides[k];
    }
  }
  std::vector<i64> sum_dims;
  std::vector<i64> sum_strides;
  for (std::size_t k = 0; k < t.labels.size(); ++k) {
    if (std::find(labels.begin(), labels.end(), t.labels[k]) == labels.end()) {
      sum_dims.push_back(t.dims[k]);
      sum_strides.push_back(t.strides[k]);
    }
  }
  i64 total = 1;
  for (i64 d : dims) total *= d;
  i64 sum_count = 1;
  for (i64 d : sum_dims) sum_count *= d;
  if (dst == nullptr) {
    r.owned.resize(static_cast<std::size_t>(total));
    dst = r.owned.data();
  }
  std::vector<i64> idx(labels.size(), 0);
  std::vector<i64> sidx(sum_dims.size(), 0);
  i64 off = 0;
  for (i64 e = 0; e < total; ++e) {
    if (sum_dims.empty()) {
      dst[e] = t.data[off];
    } else {
      double acc = 0;
      i64 soff = 0;
      for (i64 q = 0; q < sum_count; ++q) {
        acc += t.data[off + soff];
        Advance(sidx, sum_dims, sum_strides, soff);
      }
      dst[e] = static_cast<float>(acc);
    }
    if (e + 1 < total) Advance(idx, dims, src_strides, off);
  }
  r.data = r.owned.empty() ? dst : r.owned.data();
  return r;
}

// The product of a and b summed over their shared labels that are not in `keep`.
Expected<EinsumTerm> EinsumContract(KernelContext& ctx, const EinsumTerm& a, const EinsumTerm& b,
                                    const std::vector<bool>& keep) {
  std::vector<int> batch, ml, nl, kl;
  std::vector<i64> bd, md, nd, kd;
  auto find = [](const EinsumTerm& t, int label) -> i64 {
    for (std::size_t k = 0; k < t.labels.size(); ++k)
      if (t.labels[k] == label) return static_cast<i64>(k);
    return -1;
  };
  for (std::size_t i = 0; i < a.labels.size(); ++i) {
    const int l = a.labels[i];
    const i64 j = find(b, l);
    const bool kept = keep[static_cast<std::size_t>(l)];
    if (j >= 0) {
      const i64 da = a.dims[i];
      const i64 db = b.dims[static_cast<std::size_t>(j)];
      if (da != db && da != 1 && db != 1) {
        return NodeError(ctx, "operands disagree on the size of an index (" + std::to_string(da) +
                                  " vs " + std::to_string(db) + ")");
      }
      (kept ? batch : kl).push_back(l);
      (kept ? bd : kd).push_back(std::max(da, db));
    } else if (kept) {
      ml.push_back(l);
      md.push_back(a.dims[i]);
    }
  }
  for (std::size_t j = 0; j < b.labels.size(); ++j) {
    if (find(a, b.labels[j]) < 0 && keep[static_cast<std::size_t>(b.labels[j])]) {
      nl.push_back(b.labels[j]);
      nd.push_back(b.dims[j]);
    }
  }
  auto concat = [](std::initializer_list<const std::vector<int>*> parts) {
    std::vector<int> v;
    for (const auto* p : parts) v.insert(v.end(), p->begin(), p->end());
    return v;
  };
  auto concat_dims = [](std::initializer_list<const std::vector<i64>*> parts) {
    std::vector<i64> v;
    for (const auto* p : parts) v.insert(v.end(), p->begin(), p->end());
    return v;
  };
  const EinsumTerm ap = Rearrange(a, concat({&batch, &ml, &kl}), concat_dims({&bd, &md, &kd}));
  const EinsumTerm bp = Rearrange(b, concat({&batch, &kl, &nl}), concat_dims({&bd, &kd, &nd}));
  const i64 nb = Product(bd, 0, bd.size());
  const i64 m = Product(md, 0, md.size());
  const i64 n = Product(nd, 0, nd.size());
  const i64 k = Product(kd, 0, kd.size());
  EinsumTerm r;
  r.labels = concat({&batch, &ml, &nl});
  r.dims = concat_dims({&bd, &md, &nd});
  r.strides = RowMajorStrides(r.dims);
  r.owned.resize(static_cast<std::size_t>(nb * m * n));
  r.data = r.owned.data();
  std::vector<GemmOperands> ops;
  for (i64 t = 0; t < nb; ++t) {
    ops.push_back({ap.data + t * m * k, bp.data + t * k * n, r.owned.data() + t * m * n});
  }
  GemmBatched(&ctx, ops, false, false, m, n, k, 1.0f, k, n, 0.0f, n);
  return r;
}

int EinsumLetter(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}

// One term of the equation: labels, with -1 for the ellipsis.
Expected<std::vector<int>> ParseEinsumTerm(const KernelContext& ctx, const std::string& term) {
  std::vector<int> labels;
  bool ellipsis = false;
  for (std::size_t i = 0; i < term.size(); ++i) {
    if (term.compare(i, 3, "...") == 0) {
      if (ellipsis) return NodeError(ctx, "term '" + term + "' has two ellipses");
      ellipsis = true;
      labels.push_back(-1);
      i += 2;
      continue;
    }
    const int l = EinsumLetter(term[i]);
    if (l < 0)
      return NodeError(ctx, "invalid character '" + std::string(1, term[i]) + "' in equation");
    labels.push_back(l);
  }
  return labels;
}

Status EinsumKernel(KernelContext& ctx) {
  std::string eq;
  for (char c : ctx.node().GetString("equation", "")) {
    if (c != ' ') eq += c;
  }
  const std::size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (std::size_t start = 0;;) {
    const std::size_t comma = lhs.find(',', start);
    terms.push_back(
        lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  const std::size_t count = ctx.input_count();
  if (count == 0) return NodeError(ctx, "Einsum needs at least one input");
  if (terms.size() != count) {
    return NodeError(ctx, "equation '" + eq + "' has " + std::to_string(terms.size()) +
                              " terms for " + std::to_string(count) + " inputs");
  }
  // Labels of every input axis; ellipsis dims get labels kEllipsisLabel + j, right-aligned.
  std::vector<std::vector<int>> parsed(count);
  std::vector<i64> ell_rank(count, 0);
  i64 ell = 0;
  DType dtype = DType::kF32;
  for (std::size_t i = 0; i < count; ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i));
    if (i == 0) dtype = t->dtype();
    if (t->dtype() != dtype) return NodeError(ctx, "inputs have different types");
    DEEPEDGE_ASSIGN_OR_RETURN(parsed[i], ParseEinsumTerm(ctx, terms[i]));
    const bool has_ell = std::find(parsed[i].begin(), parsed[i].end(), -1) != parsed[i].end();
    const i64 letters = static_cast<i64>(parsed[i].size()) - (has_ell ? 1 : 0);
    const i64 rank = static_cast<i64>(t->shape().rank());
    if (has_ell ? rank < letters : rank != letters) {
      return NodeError(ctx, "term '" + terms[i] + "' does not match input " + std::to_string(i) +
                                " of shape " + t->shape().ToString());
    }
    ell_rank[i] = rank - letters;
    ell = std::max(ell, ell_rank[i]);
  }
  const int num_labels = kEllipsisLabel + static_cast<int>(ell);
  std::vector<i64> label_dim(static_cast<std::size_t>(num_labels), -1);
  std::vector<int> occurrences(static_cast<std::size_t>(num_labels), 0);
  std::vector<int> operands_using(static_cast<std::size_t>(num_labels), 0);
  std::vector<FloatIn> data(count);
  std::vector<EinsumTerm> views(count);
  for (std::size_t i = 0; i < count; ++i) {
    const Tensor* t = ctx.input(i);
    DEEPEDGE_ASSIGN_OR_RETURN(data[i], FloatIn::From(ctx, *t, "input"));
    const std::vector<i64> strides = RowMajorStrides(t->shape().dims());
    EinsumTerm& v = views[i];
    v.data = data[i].data();
    std::size_t axis = 0;
    std::vector<bool> seen(static_cast<std::size_t>(num_labels), false);
    for (int raw : parsed[i]) {
      std::vector<int> labels;
      if (raw == -1) {
        for (i64 j = 0; j < ell_rank[i]; ++j)
          labels.push_back(kEllipsisLabel + static_cast<int>(ell - ell_rank[i] + j));
      } else {
        labels.push_back(raw);
      }
      for (int l : labels) {
        const std::size_t ul = static_cast<std::size_t>(l);
        const i64 d = t->shape()[axis];
        const bool is_ell = l >= kEllipsisLabel;
        if (label_dim[ul] < 0 || (is_ell && label_dim[ul] == 1)) {
          label_dim[ul] = d;
        } else if (d != label_dim[ul] && !(is_ell && d == 1)) {
          const char name = l < 26 ? static_cast<char>('A' + l) : static_cast<char>('a' + l - 26);
          return NodeError(ctx, "index '" + (is_ell ? std::string("...") : std::string(1, name)) +
                                    "' has sizes " + std::to_string(label_dim[ul]) + " and " +
                                    std::to_string(d) + " in equation '" + eq + "'");
        }
        ++occurrences[ul];
        if (!seen[ul]) {
          seen[ul] = true;
          ++operands_using[ul];
          v.labels.push_back(l);
          v.dims.push_back(d);
          v.strides.push_back(strides[axis]);
        } else {
          // A repeated index: the diagonal.
          const auto k = static_cast<std::size_t>(std::find(v.labels.begin(), v.labels.end(), l) -
                                                  v.labels.begin());
          if (v.dims[k] != d)
            return NodeError(ctx, "a repeated index has two sizes in term '" + terms[i] + "'");
          v.strides[k] += strides[axis];
        }
        ++axis;
      }
    }
  }
  // Output labels.
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    DEEPEDGE_ASSIGN_OR_RETURN(std::vector<int> rhs, ParseEinsumTerm(ctx, eq.substr(arrow + 2)));
    for (int l : rhs) {
      if (l == -1) {
        for (i64 j = 0; j < ell; ++j) out_labels.push_back(kEllipsisLabel + static_cast<int>(j));
        continue;
      }
      if (label_dim[static_cast<std::size_t>(l)] < 0 ||
          std::find(out_labels.begin(), out_labels.end(), l) != out_labels.end()) {
        return NodeError(ctx, "output of equation '" + eq +
                                  "' names an index that is not an input index, or twice");
      }
      out_labels.push_back(l);
    }
  } else {
    for (i64 j = 0; j < ell; ++j) out_labels.push_back(kEllipsisLabel + static_cast<int>(j));
    for (int l = 0; l < kEllipsisLabel; ++l)
      if (occurrences[static_cast<std::size_t>(l)] == 1) out_labels.push_back(l);
  }
  std::vector<i64> out_dims;
  for (int l : out_labels) out_dims.push_back(label_dim[static_cast<std::size_t>(l)]);
  std::vector<bool> in_output(static_cast<std::size_t>(num_labels), false);
  for (int l : out_labels) in_output[static_cast<std::size_t>(l)] = true;
  // Sum each operand over the labels nothing else needs, then contract left to right.
  auto keep_after = [&](std::size_t i) {
    std::vector<bool> keep(in_output);
    for (std::size_t j = i + 1; j < count; ++j)
      for (int l : views[j].labels) keep[static_cast<std::size_t>(l)] = true;
    return keep;
  };
  std::vector<EinsumTerm> reduced(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<int> labels;
    std::vector<i64> dims;
    for (std::size_t k = 0; k < views[i].labels.size(); ++k) {
      const std::size_t l = static_cast<std::size_t>(views[i].labels[k]);
      if (in_output[l] || operands_using[l] > 1) {
        labels.push_back(views[i].labels[k]);
        dims.push_back(views[i].dims[k]);
      }
    }
    reduced[i] = Rearrange(views[i], labels, dims);
  }
  DEEPEDGE_ASSIGN_OR_RETURN(FloatOut y, FloatOut::Make(ctx, 0, dtype, Shape(out_dims)));
  EinsumTerm acc = std::move(reduced[0]);
  for (std::size_t i = 1; i < count; ++i) {
    DEEPEDGE_ASSIGN_OR_RETURN(EinsumTerm next, EinsumContract(ctx, acc, reduced[i], keep_after(i)));
    acc = std::move(next);
  }
  Rearrange(acc, out_labels, out_dims, y.data());
  return y.Finish();
}

}  // namespace

void RegisterNnKernels(KernelRegistry& r) {
  r.AddFactory("", "Conv",
               PackedWeightsKernel<PackedConvWeights>::Factory(PackConvWeights, ConvRun), 1);
  r.Add("", "ConvTranspose", ConvTransposeKernel, 1);
  r.Add("", "MaxPool", MaxPoolKernel, 1);
  r.Add("", "AveragePool", AveragePoolKernel, 1);
  r.Add("", "LpPool", LpPoolKernel, 1);
  r.Add("", "GlobalAveragePool", GlobalPoolKernel<GlobalPool::kAverage>, 1);
  r.Add("", "GlobalMaxPool", GlobalPoolKernel<GlobalPool::kMax>, 1);
  r.Add("", "GlobalLpPool", GlobalPoolKernel<GlobalPool::kLp>, 1);
  r.Add("", "MaxRoiPool", MaxRoiPoolKernel, 1);
  r.Add("", "Gemm", GemmKernel, 1);
  r.AddFactory("", "MatMul", PackedWeightsKernel<PrepackedB>::Factory(PackMatMulB, MatMulRun), 1);
  r.Add("", "BatchNormalization", BatchNormKernel, 1);
  r.Add("", "InstanceNormalization", InstanceNormKernel, 1);
  r.Add("", "LayerNormalization", LayerNormKernel, 17);
  r.Add("", "LRN", LrnKernel, 1);
  r.Add("", "MeanVarianceNormalization", MvnKernel, 9);
  r.Add("", "Softmax", SoftmaxKernel<SoftmaxKind::kSoftmax, false>, 1);
  r.Add("", "Softmax", SoftmaxKernel<SoftmaxKind::kSoftmax, true>, 13);
  r.Add("", "LogSoftmax", SoftmaxKernel<SoftmaxKind::kLogSoftmax, false>, 1);
  r.Add("", "LogSoftmax", SoftmaxKernel<SoftmaxKind::kLogSoftmax, true>, 13);
  r.Add("", "Hardmax", SoftmaxKernel<SoftmaxKind::kHardmax, false>, 1);
  r.Add("", "Hardmax", SoftmaxKernel<SoftmaxKind::kHardmax, true>, 13);
  r.Add("", "Resize", Resize10Kernel, 10);
  r.Add("", "Resize", Resize11Kernel, 11);
  r.Add("", "Upsample", UpsampleKernel<false>, 7);
  r.Add("", "Upsample", UpsampleKernel<true>, 9);
  r.Add("", "TopK", TopKKernel<false>, 1);
  r.Add("", "TopK", TopKKernel<true>, 10);
  r.Add("", "CumSum", CumSumKernel, 11);
  r.Add("", "Einsum", EinsumKernel, 12);
}

}  // namespace deepedge::engine
