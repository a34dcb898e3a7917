#include "engine/xnnpack/winograd.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "engine/kernels/nn_sgemm.h"
#include "engine/xnnpack/kernel_switch.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kLanes = 16;  // channels per step of the transforms
constexpr std::size_t kKc = 256;    // depth of one micro-kernel call (cache blocking)

// The transforms run over blocks of 16 channels held in fixed-size arrays, which the
// compiler vectorises; target_clones builds them for AVX-512 and AVX2 too.
#define DEEPEDGE_WINOGRAD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

struct Geometry {
  std::size_t h, w, c, tiles_y, tiles_x, pad_top, pad_left;
};

// 16 channels in one vector (four on SSE, two on AVX2, one on AVX-512).
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// The transformed inputs V = B^T d B of the 4x4 input tiles d of tiles [t0, t1): element
// (tile t, channel c) of product matrix xi goes to v[xi * xi_stride + (t - base) * C + c].
DEEPEDGE_WINOGRAD_CLONES
void InputTransform(const float* in, const Geometry& g, std::size_t base, std::size_t t0,
                    std::size_t t1, const float* zeros, float* v, std::size_t xi_stride) {
  const std::size_t c = g.c, per_image = g.tiles_y * g.tiles_x;
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
    float* dst = v + (t - base) * c;
    for (std::size_t cb = 0; cb < c; cb += kLanes) {
      const std::size_t nl = std::min(kLanes, c - cb);
      Lanes d[16];
      for (std::size_t q = 0; q < 16; ++q) {
        if (nl == kLanes) {
          std::memcpy(&d[q], p[q] + cb, sizeof(Lanes));
        } else {
          d[q] = Lanes{};
          std::memcpy(&d[q], p[q] + cb, nl * sizeof(float));
        }
      }
      Lanes r[16];
      for (std::size_t j = 0; j < 4; ++j) {
        r[0 + j] = d[0 + j] - d[8 + j];
        r[4 + j] = d[4 + j] + d[8 + j];
        r[8 + j] = d[8 + j] - d[4 + j];
        r[12 + j] = d[4 + j] - d[12 + j];
      }
      Lanes o[16];
      for (std::size_t i = 0; i < 4; ++i) {
        o[i * 4 + 0] = r[i * 4 + 0] - r[i * 4 + 2];
        o[i * 4 + 1] = r[i * 4 + 1] + r[i * 4 + 2];
        o[i * 4 + 2] = r[i * 4 + 2] - r[i * 4 + 1];
        o[i * 4 + 3] = r[i * 4 + 1] - r[i * 4 + 3];
      }
      // Fixed-size copies for whole vectors: a variable length becomes `rep movs`,
      // whose start-up cost was half of this transform's time.
      if (nl == kLanes) {
        for (std::size_t q = 0; q < 16; ++q)
          std::memcpy(dst + q * xi_stride + cb, &o[q], sizeof(Lanes));
      } else {
        for (std::size_t q = 0; q < 16; ++q) {
          std::memcpy(dst + q * xi_stride + cb, &o[q], nl * sizeof(float));
        }
      }
    }
  }
}

// out tile = A^T m A + bias, clamped, for each tile t in [t0, t1); element (tile t,
// channel j) of product xi is m[xi * xi_stride + (t - base) * ldm + j].
DEEPEDGE_WINOGRAD_CLONES
void OutputTransform(const float* m, const Geometry& g, std::size_t k, std::size_t ldm,
                     std::size_t xi_stride, std::size_t out_h, std::size_t out_w, std::size_t base,
                     std::size_t t0, std::size_t t1, const float* bias, float lo, float hi,
                     float* out) {
  const std::size_t per_image = g.tiles_y * g.tiles_x;
  const Lanes vlo = Lanes{} + lo, vhi = Lanes{} + hi;
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t img = t / per_image, ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    const std::size_t oy = ty * 2, ox = tx * 2;
    const bool row1 = oy + 1 < out_h, col1 = ox + 1 < out_w;
    float* y00 = out + ((img * out_h + oy) * out_w + ox) * k;
    float* y10 = y00 + out_w * k;
    const float* src = m + (t - base) * ldm;
    for (std::size_t kb = 0; kb < k; kb += kLanes) {
      // ldm is a multiple of kLanes: a full vector load past k stays inside the row.
      const std::size_t nl = std::min(kLanes, k - kb);
      Lanes a[16];
      for (std::size_t q = 0; q < 16; ++q)
        std::memcpy(&a[q], src + q * xi_stride + kb, sizeof(Lanes));
      Lanes b;
      if (nl == kLanes) {
        std::memcpy(&b, bias + kb, sizeof(Lanes));
      } else {
        b = Lanes{};
        std::memcpy(&b, bias + kb, nl * sizeof(float));
      }
      Lanes s[8];  // A^T a: two rows of four
      for (std::size_t j = 0; j < 4; ++j) {
        s[j] = a[j] + a[4 + j] + a[8 + j];
        s[4 + j] = a[4 + j] - a[8 + j] - a[12 + j];
      }
      Lanes y[4];
      for (std::size_t r = 0; r < 2; ++r) {
        const Lanes v0 = s[r * 4 + 0] + s[r * 4 + 1] + s[r * 4 + 2] + b;
        const Lanes v1 = s[r * 4 + 1] - s[r * 4 + 2] - s[r * 4 + 3] + b;
        y[r * 2 + 0] = v0 < vlo ? vlo : (v0 > vhi ? vhi : v0);
        y[r * 2 + 1] = v1 < vlo ? vlo : (v1 > vhi ? vhi : v1);
      }
      if (nl == kLanes) {
        std::memcpy(y00 + kb, &y[0], sizeof(Lanes));
        if (col1) std::memcpy(y00 + k + kb, &y[1], sizeof(Lanes));
        if (row1) {
          std::memcpy(y10 + kb, &y[2], sizeof(Lanes));
          if (col1) std::memcpy(y10 + k + kb, &y[3], sizeof(Lanes));
        }
      } else {
        const std::size_t bytes = nl * sizeof(float);
        std::memcpy(y00 + kb, &y[0], bytes);
        if (col1) std::memcpy(y00 + k + kb, &y[1], bytes);
        if (row1) {
          std::memcpy(y10 + kb, &y[2], bytes);
          if (col1) std::memcpy(y10 + k + kb, &y[3], bytes);
        }
      }
    }
  }
}

}  // namespace

Winograd3x3::Winograd3x3(const float* filter, const float* bias, std::size_t c_in,
                         std::size_t c_out, float out_min, float out_max)
    : c_in_(c_in),
      c_out_(c_out),
      uk_(nn::CurrentSgemmMicroKernel()),
      n_strips_((c_out + static_cast<std::size_t>(uk_.nr) - 1) / static_cast<std::size_t>(uk_.nr)),
      u_(16 * n_strips_ * c_in * static_cast<std::size_t>(uk_.nr), 0.0f),
      bias_(bias, bias + c_out),
      out_min_(out_min),
      out_max_(out_max) {
  const std::size_t nr = static_cast<std::size_t>(uk_.nr);
  // U = G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], in double, stored
  // as the micro-kernel's column strips (columns past C_out stay zero).
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
          const std::size_t xi = i * 4 + j;
          u_[((xi * n_strips_ + k / nr) * c_in + c) * nr + k % nr] = static_cast<float>(u[j]);
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
  const std::size_t mr = static_cast<std::size_t>(uk_.mr), nr = static_cast<std::size_t>(uk_.nr);
  // Rows of M: whole column strips, rounded up to whole vectors of the output transform.
  const std::size_t ldm = (n_strips_ * nr + kLanes - 1) / kLanes * kLanes;
  // Tiles go in chunks whose transformed inputs and products stay in the caches (about
  // 2 MiB); a whole layer in one chunk when it fits, so the filter streams once.
  const std::size_t per_tile = 16 * (c_in_ + ldm) * sizeof(float);
  const std::size_t strips_total = (tiles + mr - 1) / mr;
  const std::size_t threads = ctx != nullptr ? static_cast<std::size_t>(ctx->threads()) : 1;
  std::size_t strips_per_chunk =
      std::min(strips_total, std::max<std::size_t>(1, (std::size_t{2} << 20) / (per_tile * mr)));
  std::size_t chunks = (strips_total + strips_per_chunk - 1) / strips_per_chunk;
  // With at least two chunks per thread, each thread runs whole chunks (all three
  // phases on one core, its data in that core's L2): splitting every phase across the
  // cores moved the transformed tiles between L2 caches and made ResNet-18's first
  // stage barely faster on 2 threads than on 1. Chunks are then evened out to a
  // multiple of the thread count.
  const bool chunk_per_thread = threads > 1 && chunks >= 2 * threads;
  if (chunk_per_thread) {
    chunks = (chunks + threads - 1) / threads * threads;
    strips_per_chunk = (strips_total + chunks - 1) / chunks;
    chunks = (strips_total + strips_per_chunk - 1) / strips_per_chunk;
  }
  const std::size_t chunk_tiles = strips_per_chunk * mr;
  const std::vector<float> zeros(c_in_, 0.0f);

  // One chunk of tiles [t0, t0 + nt): input transform, the 16 products, output
  // transform; each phase split over `phase_ctx`'s threads (null: this thread).
  auto run_chunk = [&](std::size_t t0, std::size_t nt, KernelContext* phase_ctx) {
    auto parallel = [phase_ctx](std::size_t count,
                                const std::function<void(std::size_t, std::size_t)>& fn) {
      if (phase_ctx != nullptr && phase_ctx->threads() > 1 && count > 1) {
        phase_ctx->ParallelFor(count, fn);
      } else {
        fn(0, count);
      }
    };
    // Per thread: in chunk-per-thread mode every worker has its own.
    thread_local std::vector<float> v_buf, m_buf;
    if (v_buf.size() < 16 * chunk_tiles * c_in_) v_buf.resize(16 * chunk_tiles * c_in_);
    if (m_buf.size() < 16 * chunk_tiles * ldm) m_buf.resize(16 * chunk_tiles * ldm);
    float* const v = v_buf.data();
    float* const m = m_buf.data();
    const std::size_t ms = (nt + mr - 1) / mr;
    const std::size_t v_xi = ms * mr * c_in_;  // between the 16 matrices of V
    const std::size_t m_xi = ms * mr * ldm;    // and of M
    parallel(nt, [&](std::size_t a0, std::size_t a1) {
      InputTransform(in, g, t0, t0 + a0, t0 + a1, zeros.data(), v, v_xi);
    });
    // Rows past the last tile of the last strip: zero, so the products stay finite.
    for (std::size_t xi = 0; xi < 16; ++xi) {
      std::fill(v + xi * v_xi + nt * c_in_, v + (xi + 1) * v_xi, 0.0f);
    }
    // M[xi] = V[xi] * U[xi], one (xi, column strip) pair per task.
    parallel(16 * n_strips_, [&](std::size_t p0, std::size_t p1) {
      for (std::size_t p = p0; p < p1; ++p) {
        const std::size_t xi = p / n_strips_, js = p % n_strips_;
        const float* b = u_.data() + (xi * n_strips_ + js) * c_in_ * nr;
        for (std::size_t k0 = 0; k0 < c_in_; k0 += kKc) {
          const std::size_t kc = std::min(kKc, c_in_ - k0);
          for (std::size_t s = 0; s < ms; ++s) {
            const float* a = v + xi * v_xi + s * mr * c_in_ + k0;
            float* c = m + xi * m_xi + s * mr * ldm + js * nr;
            uk_.fn(static_cast<std::int64_t>(kc), a, static_cast<std::int64_t>(c_in_), b + k0 * nr,
                   c, static_cast<std::int64_t>(ldm), 1.0f, k0 == 0 ? 0.0f : 1.0f);
          }
        }
      }
    });
    parallel(nt, [&](std::size_t a0, std::size_t a1) {
      OutputTransform(m, g, c_out_, ldm, m_xi, out_h, out_w, t0, t0 + a0, t0 + a1, bias_.data(),
                      out_min_, out_max_, out);
    });
  };
  if (chunk_per_thread) {
    ctx->ParallelFor(chunks, [&](std::size_t c0, std::size_t c1) {
      for (std::size_t c = c0; c < c1; ++c) {
        const std::size_t t0 = c * chunk_tiles;
        if (t0 < tiles) run_chunk(t0, std::min(chunk_tiles, tiles - t0), nullptr);
      }
    });
  } else {
    for (std::size_t t0 = 0; t0 < tiles; t0 += chunk_tiles) {
      run_chunk(t0, std::min(chunk_tiles, tiles - t0), ctx);
    }
  }
}

bool WinogradPays(std::size_t c_in, std::size_t c_out, std::size_t tiles) {
  return c_in >= 16 && c_out >= 16 && tiles >= 32;
}

bool WinogradEnabled() {
  static const bool enabled = KernelSwitchOn("DEEPEDGE_WINOGRAD");
  return enabled;
}

}  // namespace deepedge::engine::xnn
