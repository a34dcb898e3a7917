#include "engine/xnnpack/conv_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#include "engine/xnnpack/kernel_switch.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kKc = 256;                  // depth of one micro-kernel call
constexpr std::size_t kMaxMr = 16;                // the largest strip height of the kernels
constexpr std::size_t kMaxNr = 32;                // and width
constexpr std::size_t kRowBlock = 128 << 10;      // bytes of gathered rows per task (L2)
constexpr std::size_t kStreamFilter = 512 << 10;  // filters this large stream once per run

}  // namespace

ConvGemm::ConvGemm(const float* filter, const float* bias, std::size_t c_out, std::size_t kh,
                   std::size_t kw, std::size_t c_in, float out_min, float out_max)
    : c_out_(c_out),
      kh_(kh),
      kw_(kw),
      c_in_(c_in),
      k_(kh * kw * c_in),
      uk_(nn::CurrentSgemmMicroKernel()),
      n_strips_((c_out + static_cast<std::size_t>(uk_.nr) - 1) / static_cast<std::size_t>(uk_.nr)),
      strip_width_(uk_, c_out),
      stream_(n_strips_ * k_ * static_cast<std::size_t>(uk_.nr) * sizeof(float) >= kStreamFilter),
      b_(n_strips_ * ((k_ + kKc - 1) / kKc * kKc) * static_cast<std::size_t>(uk_.nr), 0.0f),
      bias_(n_strips_ * static_cast<std::size_t>(uk_.nr), 0.0f),
      out_min_(out_min),
      out_max_(out_max) {
  const std::size_t nr = static_cast<std::size_t>(uk_.nr);
  // An OHWI filter row already is in the gathered rows' order (ky, kx, c).
  for (std::size_t o = 0; o < c_out; ++o) {
    for (std::size_t p = 0; p < k_; ++p) b_[PackedOffset(o / nr, p) + o % nr] = filter[o * k_ + p];
  }
  std::copy(bias, bias + c_out, bias_.begin());
}

std::size_t ConvGemm::PackedOffset(std::size_t js, std::size_t k) const {
  const std::size_t nr = static_cast<std::size_t>(uk_.nr);
  if (!stream_) return (js * k_ + k) * nr;
  // Streamed: [depth block][strip][kKc][nr], the order the product reads it in.
  const std::size_t kb = k / kKc;
  return ((kb * n_strips_ + js) * kKc + k % kKc) * nr;
}

void ConvGemm::Gather(const float* in, const ConvGemmGeometry& g, std::size_t p0, std::size_t p1,
                      float* rows, std::size_t lda) const {
  const std::size_t run = kw_ * c_in_;  // one window row: kw neighbouring pixels
  for (std::size_t p = p0; p < p1; ++p) {
    const std::size_t img = p / (g.out_h * g.out_w);
    const std::size_t oy = (p / g.out_w) % g.out_h, ox = p % g.out_w;
    float* row = rows + (p - p0) * lda;
    const std::ptrdiff_t x0 =
        static_cast<std::ptrdiff_t>(ox * g.stride_w) - static_cast<std::ptrdiff_t>(g.pad_left);
    const bool x_inside =
        x0 >= 0 && x0 + static_cast<std::ptrdiff_t>(kw_) <= static_cast<std::ptrdiff_t>(g.w);
    for (std::size_t ky = 0; ky < kh_; ++ky) {
      float* dst = row + ky * run;
      const std::ptrdiff_t y = static_cast<std::ptrdiff_t>(oy * g.stride_h + ky) -
                               static_cast<std::ptrdiff_t>(g.pad_top);
      if (y < 0 || y >= static_cast<std::ptrdiff_t>(g.h)) {
        std::fill(dst, dst + run, 0.0f);
        continue;
      }
      const float* src = in + (img * g.h + static_cast<std::size_t>(y)) * g.w * c_in_;
      if (x_inside) {
        std::memcpy(dst, src + static_cast<std::size_t>(x0) * c_in_, run * sizeof(float));
        continue;
      }
      for (std::size_t kx = 0; kx < kw_; ++kx) {
        const std::ptrdiff_t x = x0 + static_cast<std::ptrdiff_t>(kx);
        float* d = dst + kx * c_in_;
        if (x < 0 || x >= static_cast<std::ptrdiff_t>(g.w)) {
          std::fill(d, d + c_in_, 0.0f);
        } else {
          std::memcpy(d, src + static_cast<std::size_t>(x) * c_in_, c_in_ * sizeof(float));
        }
      }
    }
  }
}

void ConvGemm::Run(KernelContext* ctx, const float* in, const ConvGemmGeometry& g,
                   float* out) const {
  const std::size_t mr = static_cast<std::size_t>(uk_.mr), nr = static_cast<std::size_t>(uk_.nr);
  const std::size_t pixels = g.n * g.out_h * g.out_w;
  const std::size_t m_strips = (pixels + mr - 1) / mr;
  if (m_strips == 0 || n_strips_ == 0) return;
  const std::size_t threads = ctx != nullptr ? static_cast<std::size_t>(ctx->threads()) : 1;
  auto parallel = [&](std::size_t count, const std::function<void(std::size_t, std::size_t)>& fn) {
    if (threads > 1 && count > 1) {
      ctx->ParallelFor(count, fn);
    } else {
      fn(0, count);
    }
  };
  const bool clamp =
      !(std::isinf(out_min_) && out_min_ < 0 && std::isinf(out_max_) && out_max_ > 0);
  // Rows the micro-kernel computes for the tile of row strip s (of the whole product) and
  // column strip js: half of mr for a last row strip at most half used (a 7x7 map's last
  // 7 of 14 rows) in a column strip of full width. Rows past the last pixel are zeros.
  auto tile_rows = [&](std::size_t s, std::size_t js) {
    return nn::TileRows(uk_, pixels - s * mr, strip_width_(js));
  };
  // One micro-kernel pass over depth [k0, k0 + kc) of tile (rows a, strip js) into c. A
  // last column strip at most half used (24 channels on a 16-wide kernel) runs on the
  // half-width kernel: half its work, and its tiles are written in place.
  auto pass = [&](const float* a, std::size_t lda, std::size_t s, std::size_t js, std::size_t k0,
                  std::size_t kc, float* c, std::size_t ldc) {
    nn::EpilogueFor(uk_, tile_rows(s, js), strip_width_(js))(
        static_cast<std::int64_t>(kc), a + k0, static_cast<std::int64_t>(lda),
        b_.data() + PackedOffset(js, k0), c, static_cast<std::int64_t>(ldc), bias_.data() + js * nr,
        k0 != 0, k0 + kc >= k_ && clamp, out_min_, out_max_);
  };

  if (!stream_) {
    // A small filter stays in the caches: tasks are blocks of row strips, each gathers
    // its windows into per-thread rows (in L2) and sweeps the whole filter over them.
    const std::size_t cap = std::max<std::size_t>(1, kRowBlock / (mr * k_ * sizeof(float)));
    const std::size_t want = threads > 1 ? std::max<std::size_t>(1, m_strips / (threads * 8)) : cap;
    const std::size_t per_task = std::min(cap, want);
    const std::size_t tasks = (m_strips + per_task - 1) / per_task;
    parallel(tasks, [&](std::size_t t0, std::size_t t1) {
      thread_local AlignedFloats rows;
      alignas(64) float tile[kMaxMr * kMaxNr];
      if (rows.size() < per_task * mr * k_) rows.resize(per_task * mr * k_);
      for (std::size_t t = t0; t < t1; ++t) {
        const std::size_t p0 = t * per_task * mr;
        const std::size_t p1 = std::min(pixels, p0 + per_task * mr);
        const std::size_t strips = (p1 - p0 + mr - 1) / mr;
        Gather(in, g, p0, p1, rows.data(), k_);
        // Rows past the last pixel: zeros, so the last strip's products stay finite.
        std::fill(rows.data() + (p1 - p0) * k_, rows.data() + strips * mr * k_, 0.0f);
        for (std::size_t s = 0; s < strips; ++s) {
          const std::size_t m0 = p0 + s * mr, nrows = std::min(mr, pixels - m0);
          for (std::size_t js = 0; js < n_strips_; ++js) {
            const std::size_t n0 = js * nr, ncols = std::min(nr, c_out_ - n0);
            const bool whole = nrows == tile_rows(m0 / mr, js) && ncols == strip_width_(js);
            float* c = whole ? out + m0 * c_out_ + n0 : tile;
            const std::size_t ldc = whole ? c_out_ : nr;
            for (std::size_t k0 = 0; k0 < k_; k0 += kKc) {
              pass(rows.data() + s * mr * k_, k_, m0 / mr, js, k0, std::min(kKc, k_ - k0), c, ldc);
            }
            if (!whole) {
              for (std::size_t r = 0; r < nrows; ++r) {
                std::memcpy(out + (m0 + r) * c_out_ + n0, tile + r * nr, ncols * sizeof(float));
              }
            }
          }
        }
      }
    });
    return;
  }

  // A large filter (deep layers on small maps) streams once, in the order it is packed
  // (block of depth, then column strip): all windows are gathered
  // first, then each task owns a group of column strips and, block of depth by block,
  // runs every row strip under the filter block while it is in L1. The products
  // accumulate in a scratch as wide as whole strips and are copied out at the end.
  thread_local AlignedFloats rows_buf, c_buf;
  const std::size_t ldc = n_strips_ * nr;
  if (rows_buf.size() < m_strips * mr * k_) rows_buf.resize(m_strips * mr * k_);
  if (c_buf.size() < m_strips * mr * ldc) c_buf.resize(m_strips * mr * ldc);
  // Named through pointers: inside the lambdas the thread_locals would be the worker's.
  float* const rows = rows_buf.data();
  float* const cs = c_buf.data();
  parallel(m_strips, [&](std::size_t s0, std::size_t s1) {
    const std::size_t p0 = s0 * mr, p1 = std::min(pixels, s1 * mr);
    Gather(in, g, p0, p1, rows + p0 * k_, k_);
    std::fill(rows + p1 * k_, rows + s1 * mr * k_, 0.0f);
  });
  const std::size_t per_group = std::max<std::size_t>(1, n_strips_ / (threads * 2));
  const std::size_t groups = (n_strips_ + per_group - 1) / per_group;
  parallel(groups, [&](std::size_t g0, std::size_t g1) {
    for (std::size_t grp = g0; grp < g1; ++grp) {
      const std::size_t js0 = grp * per_group, js1 = std::min(n_strips_, js0 + per_group);
      for (std::size_t k0 = 0; k0 < k_; k0 += kKc) {
        const std::size_t kc = std::min(kKc, k_ - k0);
        for (std::size_t js = js0; js < js1; ++js) {
          for (std::size_t s = 0; s < m_strips; ++s) {
            pass(rows + s * mr * k_, k_, s, js, k0, kc, cs + s * mr * ldc + js * nr, ldc);
          }
        }
      }
      const std::size_t n0 = js0 * nr, ncols = std::min(js1 * nr, c_out_) - n0;
      for (std::size_t p = 0; p < pixels; ++p) {
        std::memcpy(out + p * c_out_ + n0, cs + p * ldc + n0, ncols * sizeof(float));
      }
    }
  });
}

bool ConvGemmPays(std::size_t c_in, std::size_t kh, std::size_t kw, std::size_t c_out,
                  std::size_t stride) {
  // Stems of 5x5 and larger with AVX-512 (measured there); of 3x3 and larger otherwise:
  // on an AVX2-only EPYC MobileNet v1 and v2's 3x3 stride-2 stems took 0.7-1.1 ms here
  // against 1.05-1.9 ms on XNNPACK (1 thread) and 0.47-0.59 against 0.82-0.91 ms (2).
  //
  // Without AVX-512, strided convolutions too: ResNet-18's 3x3 stride-2 layers took
  // 1.6-2.0 ms here against 3.5-3.8 ms on XNNPACK, its 1x1 stride-2 shortcuts 0.21-0.27
  // against 0.44 ms (1 thread, alternated profiles on the EPYC).
  const bool avx512 = CpuHasAvx512();
  const std::size_t min_taps = avx512 ? 25 : 9;
  const bool stem = c_in <= 4 && kh * kw >= min_taps;
  const bool large =
      stride == 1 && c_out * kh * kw * c_in * sizeof(float) >= (std::size_t{2} << 20);
  const bool strided = !avx512 && stride >= 2 && c_out >= 16;
  // Without AVX-512, 1xk and kx1 filters too: openWakeWord's embedding model (1x3 and
  // 3x1, 24 to 96 channels) ran them at 11-15 GMAC/s on XNNPACK and at 28-40 here (the
  // model 2.9-3.3 -> 1.4-2.0 ms, 1 thread, the EPYC).
  const bool one_sided = !avx512 && kh != kw;
  return stem || large || strided || one_sided;
}

bool ConvGemmEnabled() {
  static const bool enabled = KernelSwitchOn("DEEPEDGE_CONV_GEMM");
  return enabled;
}

}  // namespace deepedge::engine::xnn
