#include "engine/xnnpack/winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "engine/kernels/nn_sgemm.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kLanes = 16;  // channels per step of the transforms

// The transforms run over blocks of 16 channels held in fixed-size arrays, which the
// compiler vectorises; target_clones builds them for AVX-512 and AVX2 too.
#define DEEPEDGE_WINOGRAD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

struct Geometry {
  std::size_t h, w, c, tiles_y, tiles_x, pad_top, pad_left;
};

// V[xi][t - t0][c] = (B^T d B)[xi] for the 4x4 input tile d of each tile t in [t0, t1).
DEEPEDGE_WINOGRAD_CLONES
void InputTransform(const float* in, const Geometry& g, std::size_t t0, std::size_t t1,
                    const float* zeros, float* v) {
  const std::size_t tb = t1 - t0, c = g.c, per_image = g.tiles_y * g.tiles_x;
  const std::size_t stride = tb * c;  // between the 16 matrices
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t img = t / per_image, ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    const std::ptrdiff_t y0 =
        static_cast<std::ptrdiff_t>(ty * 2) - static_cast<std::ptrdiff_t>(g.pad_top);
    const std::ptrdiff_t x0 =
        static_cast<std::ptrdiff_t>(tx * 2) - static_cast<std::ptrdiff_t>(g.pad_left);
    const float* p[16];
    for (std::size_t i = 0; i < 4; ++i) {
      for (std::size_t j = 0; j < 4; ++j) {
        const std::ptrdiff_t y = y0 + static_cast<std::ptrdiff_t>(i);
        const std::ptrdiff_t x = x0 + static_cast<std::ptrdiff_t>(j);
        const bool inside = y >= 0 && x >= 0 && y < static_cast<std::ptrdiff_t>(g.h) &&
                            x < static_cast<std::ptrdiff_t>(g.w);
        p[i * 4 + j] = inside ? in + ((img * g.h + static_cast<std::size_t>(y)) * g.w +
                                      static_cast<std::size_t>(x)) *
                                         c
                              : zeros;
      }
    }
    float* dst = v + (t - t0) * c;
    for (std::size_t cb = 0; cb < c; cb += kLanes) {
      const std::size_t nl = std::min(kLanes, c - cb);
      float d[16][kLanes] = {};
      for (std::size_t q = 0; q < 16; ++q) std::memcpy(d[q], p[q] + cb, nl * sizeof(float));
      float r[16][kLanes];
      for (std::size_t j = 0; j < 4; ++j) {
        for (std::size_t l = 0; l < kLanes; ++l) {
          r[0 + j][l] = d[0 + j][l] - d[8 + j][l];
          r[4 + j][l] = d[4 + j][l] + d[8 + j][l];
          r[8 + j][l] = d[8 + j][l] - d[4 + j][l];
          r[12 + j][l] = d[4 + j][l] - d[12 + j][l];
        }
      }
      float o[16][kLanes];
      for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t l = 0; l < kLanes; ++l) {
          o[i * 4 + 0][l] = r[i * 4 + 0][l] - r[i * 4 + 2][l];
          o[i * 4 + 1][l] = r[i * 4 + 1][l] + r[i * 4 + 2][l];
          o[i * 4 + 2][l] = r[i * 4 + 2][l] - r[i * 4 + 1][l];
          o[i * 4 + 3][l] = r[i * 4 + 1][l] - r[i * 4 + 3][l];
        }
      }
      for (std::size_t q = 0; q < 16; ++q) std::memcpy(dst + q * stride + cb, o[q], nl * 4);
    }
  }
}

// out tile = A^T m A + bias, clamped, for each tile t in [t0, t1); m is M[xi][t - t0][k].
DEEPEDGE_WINOGRAD_CLONES
void OutputTransform(const float* m, const Geometry& g, std::size_t k, std::size_t out_h,
                     std::size_t out_w, std::size_t t0, std::size_t t1, const float* bias, float lo,
                     float hi, float* out) {
  const std::size_t tb = t1 - t0, per_image = g.tiles_y * g.tiles_x;
  const std::size_t stride = tb * k;
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t img = t / per_image, ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    const std::size_t oy = ty * 2, ox = tx * 2;
    const bool row1 = oy + 1 < out_h, col1 = ox + 1 < out_w;
    float* y00 = out + ((img * out_h + oy) * out_w + ox) * k;
    float* y10 = y00 + out_w * k;
    const float* src = m + (t - t0) * k;
    for (std::size_t kb = 0; kb < k; kb += kLanes) {
      const std::size_t nl = std::min(kLanes, k - kb);
      float a[16][kLanes] = {};
      for (std::size_t q = 0; q < 16; ++q) std::memcpy(a[q], src + q * stride + kb, nl * 4);
      float b[kLanes] = {};
      std::memcpy(b, bias + kb, nl * 4);
      float s[8][kLanes];  // A^T a: two rows of four
      for (std::size_t j = 0; j < 4; ++j) {
        for (std::size_t l = 0; l < kLanes; ++l) {
          s[j][l] = a[j][l] + a[4 + j][l] + a[8 + j][l];
          s[4 + j][l] = a[4 + j][l] - a[8 + j][l] - a[12 + j][l];
        }
      }
      float y[4][kLanes];
      for (std::size_t r = 0; r < 2; ++r) {
        for (std::size_t l = 0; l < kLanes; ++l) {
          const float v0 = s[r * 4 + 0][l] + s[r * 4 + 1][l] + s[r * 4 + 2][l] + b[l];
          const float v1 = s[r * 4 + 1][l] - s[r * 4 + 2][l] - s[r * 4 + 3][l] + b[l];
          y[r * 2 + 0][l] = std::min(std::max(v0, lo), hi);
          y[r * 2 + 1][l] = std::min(std::max(v1, lo), hi);
        }
      }
      std::memcpy(y00 + kb, y[0], nl * 4);
      if (col1) std::memcpy(y00 + k + kb, y[1], nl * 4);
      if (row1) {
        std::memcpy(y10 + kb, y[2], nl * 4);
        if (col1) std::memcpy(y10 + k + kb, y[3], nl * 4);
      }
    }
  }
}

}  // namespace

Winograd3x3::Winograd3x3(const float* filter, const float* bias, std::size_t c_in,
                         std::size_t c_out, float out_min, float out_max)
    : c_in_(c_in),
      c_out_(c_out),
      u_(16 * c_in * c_out),
      bias_(bias, bias + c_out),
      out_min_(out_min),
      out_max_(out_max) {
  // U = G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], in double.
  for (std::size_t k = 0; k < c_out; ++k) {
    for (std::size_t c = 0; c < c_in; ++c) {
      double g[3][3];
      for (std::size_t r = 0; r < 3; ++r) {
        for (std::size_t s = 0; s < 3; ++s) g[r][s] = filter[((k * 3 + r) * 3 + s) * c_in + c];
      }
      double gg[4][3];
      for (std::size_t s = 0; s < 3; ++s) {
        gg[0][s] = g[0][s];
        gg[1][s] = 0.5 * (g[0][s] + g[1][s] + g[2][s]);
        gg[2][s] = 0.5 * (g[0][s] - g[1][s] + g[2][s]);
        gg[3][s] = g[2][s];
      }
      for (std::size_t i = 0; i < 4; ++i) {
        const double u[4] = {gg[i][0], 0.5 * (gg[i][0] + gg[i][1] + gg[i][2]),
                             0.5 * (gg[i][0] - gg[i][1] + gg[i][2]), gg[i][2]};
        for (std::size_t j = 0; j < 4; ++j) {
          u_[((i * 4 + j) * c_in + c) * c_out + k] = static_cast<float>(u[j]);
        }
      }
    }
  }
}

void Winograd3x3::Run(KernelContext* ctx, const float* in, std::size_t n, std::size_t h,
                      std::size_t w, std::size_t pad_top, std::size_t pad_left, std::size_t out_h,
                      std::size_t out_w, float* out) const {
  const Geometry g{h, w, c_in_, (out_h + 1) / 2, (out_w + 1) / 2, pad_top, pad_left};
  const std::size_t tiles = n * g.tiles_y * g.tiles_x;
  if (tiles == 0) return;
  // Tiles go in chunks whose transformed inputs and products stay in the caches
  // (about 4 MiB), but not so small that SGEMM's packing of the weights dominates.
  const std::size_t per_tile = 16 * (c_in_ + c_out_) * sizeof(float);
  const std::size_t max_tb = std::max<std::size_t>(32, (std::size_t{4} << 20) / per_tile);
  const std::size_t threads = ctx != nullptr ? static_cast<std::size_t>(ctx->threads()) : 1;
  std::size_t chunks = (tiles + max_tb - 1) / max_tb;
  if (threads > 1 && chunks < threads && tiles >= 64 * threads) chunks = threads;
  const std::size_t tb = (tiles + chunks - 1) / chunks;
  chunks = (tiles + tb - 1) / tb;
  const std::vector<float> zeros(c_in_, 0.0f);

  auto run_chunk = [&](std::size_t chunk, KernelContext* gemm_ctx) {
    thread_local std::vector<float> v, m;
    const std::size_t t0 = chunk * tb, t1 = std::min(tiles, t0 + tb), nt = t1 - t0;
    if (v.size() < 16 * nt * c_in_) v.resize(16 * nt * c_in_);
    if (m.size() < 16 * nt * c_out_) m.resize(16 * nt * c_out_);
    InputTransform(in, g, t0, t1, zeros.data(), v.data());
    for (std::size_t xi = 0; xi < 16; ++xi) {
      nn::Sgemm(gemm_ctx, false, false, static_cast<std::int64_t>(nt),
                static_cast<std::int64_t>(c_out_), static_cast<std::int64_t>(c_in_), 1.0f,
                v.data() + xi * nt * c_in_, static_cast<std::int64_t>(c_in_),
                u_.data() + xi * c_in_ * c_out_, static_cast<std::int64_t>(c_out_), 0.0f,
                m.data() + xi * nt * c_out_, static_cast<std::int64_t>(c_out_));
    }
    OutputTransform(m.data(), g, c_out_, out_h, out_w, t0, t1, bias_.data(), out_min_, out_max_,
                    out);
  };
  if (threads > 1 && chunks >= threads) {
    // One chunk per task, each on one thread.
    ctx->ParallelFor(chunks, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) run_chunk(i, nullptr);
    });
  } else {
    // Few chunks: the products use the threads.
    for (std::size_t i = 0; i < chunks; ++i) run_chunk(i, ctx);
  }
}

bool WinogradPays(std::size_t c_in, std::size_t c_out, std::size_t tiles) {
  return c_in >= 16 && c_out >= 16 && tiles >= 32;
}

bool WinogradEnabled() {
  static const bool enabled = [] {
    const char* e = std::getenv("DEEPEDGE_WINOGRAD");
    return e != nullptr && std::string_view(e) == "on";
  }();
  return enabled;
}

}  // namespace deepedge::engine::xnn
