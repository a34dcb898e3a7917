#include "engine/xnnpack/depthwise.h"

#include <algorithm>
#include <cstring>

#include "engine/xnnpack/kernel_switch.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kPixels = 4;  // output pixels per step along a row
constexpr std::size_t kPad = 16;    // channel padding of the filter and bias arrays

// A block of L channels in one machine vector or two. 16 lanes are one AVX-512 register;
// on AVX2 a 16-lane block is two, and nine filter blocks and four pixels' accumulators
// (26 registers of 16) spilled: the kernel then ran MobileNet v1's depthwise layers 2.4x
// slower than XNNPACK. With 8 lanes they fit.
template <std::size_t L>
struct VecOf {
  typedef float type __attribute__((vector_size(L * sizeof(float))));
};
using Vec8 = VecOf<8>::type;
using Vec16 = VecOf<16>::type;

struct RowArgs {
  const float* rows[3];  // input rows y*s - pad_top + i; a row of zeros when outside
  std::size_t w, c, stride, pad_left, out_w;
  const float* filter;  // [3][3][c_padded]
  const float* bias;
  std::size_t c_padded;
  float lo, hi;
  float* out;  // the output row
};

// Helpers take vectors by reference: passing them by value in a function not built
// for AVX-512 would change the ABI.
template <typename V, bool kFull>
__attribute__((always_inline)) inline void Load(V& v, const float* p, std::size_t nl) {
  if (kFull) {
    std::memcpy(&v, p, sizeof(V));
  } else {
    v = V{};
    std::memcpy(&v, p, nl * sizeof(float));
  }
}

template <typename V, bool kFull>
__attribute__((always_inline)) inline void StoreClamped(float* p, V& v, float lo, float hi,
                                                        std::size_t nl) {
  const V vlo = V{} + lo, vhi = V{} + hi;
  v = v < vlo ? vlo : v;
  v = v > vhi ? vhi : v;
  std::memcpy(p, &v, kFull ? sizeof(V) : nl * sizeof(float));
}

// One block of channels [cb, cb + nl) along a whole output row.
// The stride is a template argument so that the compiler sees which loads of the
// four pixels' windows coincide (with stride 1, 18 distinct vectors of 36).
template <typename V, bool kFull, std::size_t kStride>
__attribute__((always_inline)) inline void RowBlock(const RowArgs& a, std::size_t cb,
                                                    std::size_t nl, std::ptrdiff_t x_begin,
                                                    std::ptrdiff_t x_end) {
  // The filter and bias are padded with zeros to kPad channels: whole loads.
  V f[9];
  for (std::size_t t = 0; t < 9; ++t) Load<V, true>(f[t], a.filter + t * a.c_padded + cb, 0);
  V bias;
  Load<V, true>(bias, a.bias + cb, 0);
  const std::ptrdiff_t s = static_cast<std::ptrdiff_t>(kStride);
  const std::ptrdiff_t pl = static_cast<std::ptrdiff_t>(a.pad_left);
  const std::ptrdiff_t w = static_cast<std::ptrdiff_t>(a.w);
  // Output columns whose three inputs all lie inside the row: [x_lo, x_hi).
  const std::ptrdiff_t x_lo =
      std::min<std::ptrdiff_t>((pl + s - 1) / s, static_cast<std::ptrdiff_t>(a.out_w));
  const std::ptrdiff_t last = w - 3 + pl;  // x * s may reach this
  const std::ptrdiff_t x_hi =
      last < 0
          ? x_lo
          : std::max<std::ptrdiff_t>(
                x_lo, std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(a.out_w), last / s + 1));
  auto edge = [&](std::ptrdiff_t x) {
    V acc = bias;
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::ptrdiff_t j = 0; j < 3; ++j) {
        const std::ptrdiff_t ix = x * s - pl + j;
        if (ix < 0 || ix >= w) continue;
        V v;
        Load<V, kFull>(v, a.rows[i] + static_cast<std::size_t>(ix) * a.c + cb, nl);
        acc += v * f[i * 3 + static_cast<std::size_t>(j)];
      }
    }
    StoreClamped<V, kFull>(a.out + static_cast<std::size_t>(x) * a.c + cb, acc, a.lo, a.hi, nl);
  };
  // P output pixels whose windows lie inside the row: no bounds checks.
  auto interior = [&]<std::size_t P>(std::ptrdiff_t x) {
    V acc[P];
    for (std::size_t q = 0; q < P; ++q) acc[q] = bias;
    for (std::size_t i = 0; i < 3; ++i) {
      const float* base = a.rows[i] + static_cast<std::size_t>(x * s - pl) * a.c + cb;
      for (std::size_t j = 0; j < 3; ++j) {
        for (std::size_t q = 0; q < P; ++q) {
          V v;
          Load<V, kFull>(v, base + (q * kStride + j) * a.c, nl);
          acc[q] += v * f[i * 3 + j];
        }
      }
    }
    for (std::size_t q = 0; q < P; ++q) {
      StoreClamped<V, kFull>(a.out + (static_cast<std::size_t>(x) + q) * a.c + cb, acc[q], a.lo,
                             a.hi, nl);
    }
  };
  const std::ptrdiff_t in_end = std::min(x_hi, x_end);
  std::ptrdiff_t x = x_begin;
  for (; x < std::min(x_lo, x_end); ++x) edge(x);
  for (; x + static_cast<std::ptrdiff_t>(kPixels) <= in_end;
       x += static_cast<std::ptrdiff_t>(kPixels)) {
    interior.template operator()<kPixels>(x);
  }
  for (; x < in_end; ++x) interior.template operator()<1>(x);
  for (; x < x_end; ++x) edge(x);
}

// Blocks of sizeof(V) / 4 channels, then one of 8 when that many are left, then the rest
// (fewer than 8) through partial loads.
template <typename V, std::size_t kStride>
__attribute__((always_inline)) inline void ChannelBlocks(const RowArgs& a, std::ptrdiff_t x0,
                                                         std::ptrdiff_t x1) {
  constexpr std::size_t kL = sizeof(V) / sizeof(float);
  std::size_t cb = 0;
  for (; cb + kL <= a.c; cb += kL) RowBlock<V, true, kStride>(a, cb, kL, x0, x1);
  if constexpr (kL > 8) {
    if (cb + 8 <= a.c) {
      RowBlock<Vec8, true, kStride>(a, cb, 8, x0, x1);
      cb += 8;
    }
  }
  if (cb < a.c) RowBlock<Vec8, false, kStride>(a, cb, a.c - cb, x0, x1);
}

template <typename V>
__attribute__((always_inline)) inline void RowOf(const RowArgs& a) {
  // Pixels in chunks, channel blocks within a chunk: the reads then stream through
  // each input pixel's channels in order (a pixel of a deep layer is kilobytes), and the
  // nine filter vectors loaded per block serve the chunk's 8 pixels.
  constexpr std::ptrdiff_t kChunk = 2 * kPixels;
  const std::ptrdiff_t out_w = static_cast<std::ptrdiff_t>(a.out_w);
  // The first chunk also takes the left border's pixels, so that whole groups of four
  // start at the first interior pixel.
  const std::ptrdiff_t s = static_cast<std::ptrdiff_t>(a.stride);
  const std::ptrdiff_t x_lo = (static_cast<std::ptrdiff_t>(a.pad_left) + s - 1) / s;
  for (std::ptrdiff_t x0 = 0; x0 < out_w;) {
    const std::ptrdiff_t x1 = std::min(out_w, (x0 == 0 ? x_lo : x0) + kChunk);
    if (a.stride == 1) {
      ChannelBlocks<V, 1>(a, x0, x1);
    } else {
      ChannelBlocks<V, 2>(a, x0, x1);
    }
    x0 = x1;
  }
}

// FMA is named with AVX2: "avx2" alone (as target_clones spells it) leaves every
// multiply-add two instructions.
__attribute__((target("avx512f,fma"))) void Row16(const RowArgs& a) {
  RowOf<Vec16>(a);
}
__attribute__((target("avx2,fma"))) void Row8Fma(const RowArgs& a) {
  RowOf<Vec8>(a);
}
void Row8(const RowArgs& a) {
  RowOf<Vec8>(a);
}

using RowFn = void (*)(const RowArgs&);

RowFn BestRow() {
  if (CpuHasAvx512()) return Row16;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Row8Fma;
  return Row8;
}

}  // namespace

Depthwise3x3::Depthwise3x3(const float* filter, const float* bias, std::size_t channels,
                           std::size_t stride, float out_min, float out_max)
    : c_(channels),
      c_padded_((channels + kPad - 1) / kPad * kPad),
      stride_(stride),
      filter_(9 * c_padded_, 0.0f),
      bias_(c_padded_, 0.0f),
      out_min_(out_min),
      out_max_(out_max) {
  for (std::size_t t = 0; t < 9; ++t) {
    std::copy(filter + t * channels, filter + (t + 1) * channels, filter_.begin() + t * c_padded_);
  }
  std::copy(bias, bias + channels, bias_.begin());
}

void Depthwise3x3::Run(KernelContext* ctx, const float* in, std::size_t n, std::size_t h,
                       std::size_t w, std::size_t pad_top, std::size_t pad_left, std::size_t out_h,
                       std::size_t out_w, float* out) const {
  const std::size_t rows = n * out_h;
  if (rows == 0 || out_w == 0) return;
  // A row of zeros stands for the rows above and below the input (never written).
  thread_local AlignedFloats zeros;
  if (zeros.size() < w * c_) zeros.assign(w * c_, 0.0f);
  // Named through a pointer: inside the lambda, `zeros` would be the worker's own.
  const float* zero_row = zeros.data();
  static const RowFn row = BestRow();
  auto run = [&](std::size_t r0, std::size_t r1) {
    RowArgs a{};
    a.w = w;
    a.c = c_;
    a.stride = stride_;
    a.pad_left = pad_left;
    a.out_w = out_w;
    a.filter = filter_.data();
    a.bias = bias_.data();
    a.c_padded = c_padded_;
    a.lo = out_min_;
    a.hi = out_max_;
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t img = r / out_h, y = r % out_h;
      for (std::size_t i = 0; i < 3; ++i) {
        const std::ptrdiff_t iy =
            static_cast<std::ptrdiff_t>(y * stride_ + i) - static_cast<std::ptrdiff_t>(pad_top);
        a.rows[i] = iy >= 0 && iy < static_cast<std::ptrdiff_t>(h)
                        ? in + (img * h + static_cast<std::size_t>(iy)) * w * c_
                        : zero_row;
      }
      a.out = out + r * out_w * c_;
      row(a);
    }
  };
  if (ctx != nullptr && ctx->threads() > 1 && rows > 1) {
    ctx->ParallelFor(rows, run);
  } else {
    run(0, rows);
  }
}

bool DepthwiseEnabled() {
  static const bool enabled = KernelSwitchOn("DEEPEDGE_DEPTHWISE");
  return enabled;
}

bool DepthwisePays(std::size_t channels) {
  // A pixel of 256 * k channels is k KiB: the lines of one channel block in the
  // neighbouring pixels and rows that a block of four outputs reads fall into a few L1
  // sets, and evict each other. XNNPACK's kernel, which walks one output pixel's
  // channels at a time, runs those layers faster. Measured alone on the Zen 5 EPYC (1
  // thread, XNNPACK / this kernel): 28x28x256 0.067 / 0.074 ms, stride 2 0.019 / 0.027;
  // 14x14x512 0.032 / 0.042, stride 2 0.009 / 0.014; 7x7x1024 0.025 / 0.028; against
  // 56x56x144 0.169 / 0.151, 14x14x576 0.036 / 0.036, 7x7x960 0.022 / 0.015. On the
  // whole of MobileNet v1 (all of whose deeper layers have such channels) the gain was
  // within the host's noise: 0.98x in one pair of alternated runs, 0.99-1.00x in another.
  return CpuHasAvx512() && channels % 256 != 0;
}

}  // namespace deepedge::engine::xnn
