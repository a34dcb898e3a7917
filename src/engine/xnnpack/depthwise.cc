#include "engine/xnnpack/depthwise.h"

#include <algorithm>
#include <cstring>

#include "engine/xnnpack/kernel_switch.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kLanes = 16;  // channels per vector block
constexpr std::size_t kPixels = 4;  // output pixels per step along a row

typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// Built for AVX-512 and AVX2 too (one, two or four machine vectors per block).
#define DEEPEDGE_DEPTHWISE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

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
template <bool kFull>
__attribute__((always_inline)) inline void Load(Lanes& v, const float* p, std::size_t nl) {
  if (kFull) {
    std::memcpy(&v, p, sizeof(Lanes));
  } else {
    v = Lanes{};
    std::memcpy(&v, p, nl * sizeof(float));
  }
}

template <bool kFull>
__attribute__((always_inline)) inline void StoreClamped(float* p, Lanes& v, float lo, float hi,
                                                        std::size_t nl) {
  const Lanes vlo = Lanes{} + lo, vhi = Lanes{} + hi;
  v = v < vlo ? vlo : v;
  v = v > vhi ? vhi : v;
  std::memcpy(p, &v, kFull ? sizeof(Lanes) : nl * sizeof(float));
}

// One block of channels [cb, cb + nl) along a whole output row.
// The stride is a template argument so that the compiler sees which loads of the
// four pixels' windows coincide (with stride 1, 18 distinct vectors of 36).
template <bool kFull, std::size_t kStride>
__attribute__((always_inline)) inline void RowBlock(const RowArgs& a, std::size_t cb,
                                                    std::size_t nl, std::ptrdiff_t x_begin,
                                                    std::ptrdiff_t x_end) {
  Lanes f[9];
  for (std::size_t t = 0; t < 9; ++t) Load<true>(f[t], a.filter + t * a.c_padded + cb, kLanes);
  Lanes bias;
  Load<true>(bias, a.bias + cb, kLanes);
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
    Lanes acc = bias;
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::ptrdiff_t j = 0; j < 3; ++j) {
        const std::ptrdiff_t ix = x * s - pl + j;
        if (ix < 0 || ix >= w) continue;
        Lanes v;
        Load<kFull>(v, a.rows[i] + static_cast<std::size_t>(ix) * a.c + cb, nl);
        acc += v * f[i * 3 + static_cast<std::size_t>(j)];
      }
    }
    StoreClamped<kFull>(a.out + static_cast<std::size_t>(x) * a.c + cb, acc, a.lo, a.hi, nl);
  };
  // P output pixels whose windows lie inside the row: no bounds checks.
  auto interior = [&]<std::size_t P>(std::ptrdiff_t x) {
    Lanes acc[P];
    for (std::size_t q = 0; q < P; ++q) acc[q] = bias;
    for (std::size_t i = 0; i < 3; ++i) {
      const float* base = a.rows[i] + static_cast<std::size_t>(x * s - pl) * a.c + cb;
      for (std::size_t j = 0; j < 3; ++j) {
        for (std::size_t q = 0; q < P; ++q) {
          Lanes v;
          Load<kFull>(v, base + (q * kStride + j) * a.c, nl);
          acc[q] += v * f[i * 3 + j];
        }
      }
    }
    for (std::size_t q = 0; q < P; ++q) {
      StoreClamped<kFull>(a.out + (static_cast<std::size_t>(x) + q) * a.c + cb, acc[q], a.lo, a.hi,
                          nl);
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

DEEPEDGE_DEPTHWISE_CLONES
void Row(const RowArgs& a) {
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
    std::size_t cb = 0;
    if (a.stride == 1) {
      for (; cb + kLanes <= a.c; cb += kLanes) RowBlock<true, 1>(a, cb, kLanes, x0, x1);
      if (cb < a.c) RowBlock<false, 1>(a, cb, a.c - cb, x0, x1);
    } else {
      for (; cb + kLanes <= a.c; cb += kLanes) RowBlock<true, 2>(a, cb, kLanes, x0, x1);
      if (cb < a.c) RowBlock<false, 2>(a, cb, a.c - cb, x0, x1);
    }
    x0 = x1;
  }
}

}  // namespace

Depthwise3x3::Depthwise3x3(const float* filter, const float* bias, std::size_t channels,
                           std::size_t stride, float out_min, float out_max)
    : c_(channels),
      c_padded_((channels + kLanes - 1) / kLanes * kLanes),
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
  thread_local std::vector<float> zeros;
  if (zeros.size() < w * c_) zeros.assign(w * c_, 0.0f);
  // Named through a pointer: inside the lambda, `zeros` would be the worker's own.
  const float* zero_row = zeros.data();
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
      Row(a);
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

}  // namespace deepedge::engine::xnn
