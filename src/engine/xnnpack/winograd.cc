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

// One 1-D transform of a tile's rows or columns: n points read at stride `is`, written
// at stride `os`. B^T (input, alpha = M + 2 points) and A^T (output, M points) of
// F(2, 3) and F(4, 3) (Lavin and Gray 2016: interpolation points 0, +-1 and 0, +-1, +-2,
// and infinity).
template <std::size_t M>
[[gnu::always_inline]] inline void InputRow(const Lanes* d, std::size_t is, Lanes* r,
                                            std::size_t os) {
  if constexpr (M == 2) {
    r[0] = d[0] - d[2 * is];
    r[os] = d[is] + d[2 * is];
    r[2 * os] = d[2 * is] - d[is];
    r[3 * os] = d[is] - d[3 * is];
  } else {
    const Lanes d0 = d[0], d1 = d[is], d2 = d[2 * is], d3 = d[3 * is], d4 = d[4 * is],
                d5 = d[5 * is];
    r[0] = 4.0f * d0 - 5.0f * d2 + d4;
    r[os] = d3 + d4 - 4.0f * (d1 + d2);
    r[2 * os] = 4.0f * (d1 - d2) + d4 - d3;
    r[3 * os] = 2.0f * (d3 - d1) + d4 - d2;
    r[4 * os] = 2.0f * (d1 - d3) + d4 - d2;
    r[5 * os] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

template <std::size_t M>
[[gnu::always_inline]] inline void OutputRow(const Lanes* a, std::size_t is, Lanes* y,
                                             std::size_t os) {
  if constexpr (M == 2) {
    y[0] = a[0] + a[is] + a[2 * is];
    y[os] = a[is] - a[2 * is] - a[3 * is];
  } else {
    const Lanes a1 = a[is], a2 = a[2 * is], a3 = a[3 * is], a4 = a[4 * is];
    const Lanes p12 = a1 + a2, m12 = a1 - a2, p34 = a3 + a4, m34 = a3 - a4;
    y[0] = a[0] + p12 + p34;
    y[os] = m12 + 2.0f * m34;
    y[2 * os] = p12 + 4.0f * p34;
    y[3 * os] = m12 + 8.0f * m34 + a[5 * is];
  }
}

// The transformed inputs V = B^T d B of the alpha x alpha input tiles d of tiles [t0,
// t1): element (tile t, channel c) of product matrix xi goes to
// v[xi * xi_stride + (t - base) * C + c].
template <std::size_t M>
[[gnu::always_inline]] inline void InputTransformT(const float* in, const Geometry& g,
                                                   std::size_t base, std::size_t t0, std::size_t t1,
                                                   const float* zeros, float* v,
                                                   std::size_t xi_stride) {
  constexpr std::size_t kA = M + 2, kP = kA * kA;
  const std::size_t c = g.c, per_image = g.tiles_y * g.tiles_x;
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t img = t / per_image, ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    const std::ptrdiff_t y0 =
        static_cast<std::ptrdiff_t>(ty * M) - static_cast<std::ptrdiff_t>(g.pad_top);
    const std::ptrdiff_t x0 =
        static_cast<std::ptrdiff_t>(tx * M) - static_cast<std::ptrdiff_t>(g.pad_left);
    const float* p[kP];
    for (std::size_t i = 0; i < kA; ++i) {
      for (std::size_t j = 0; j < kA; ++j) {
        const std::ptrdiff_t y = y0 + static_cast<std::ptrdiff_t>(i);
        const std::ptrdiff_t x = x0 + static_cast<std::ptrdiff_t>(j);
        const bool inside = y >= 0 && x >= 0 && y < static_cast<std::ptrdiff_t>(g.h) &&
                            x < static_cast<std::ptrdiff_t>(g.w);
        p[i * kA + j] = inside ? in + ((img * g.h + static_cast<std::size_t>(y)) * g.w +
                                       static_cast<std::size_t>(x)) *
                                          c
                               : zeros;
      }
    }
    float* dst = v + (t - base) * c;
    for (std::size_t cb = 0; cb < c; cb += kLanes) {
      const std::size_t nl = std::min(kLanes, c - cb);
      Lanes d[kP];
      for (std::size_t q = 0; q < kP; ++q) {
        if (nl == kLanes) {
          std::memcpy(&d[q], p[q] + cb, sizeof(Lanes));
        } else {
          d[q] = Lanes{};
          std::memcpy(&d[q], p[q] + cb, nl * sizeof(float));
        }
      }
      Lanes r[kP], o[kP];
      for (std::size_t j = 0; j < kA; ++j) InputRow<M>(d + j, kA, r + j, kA);          // columns
      for (std::size_t i = 0; i < kA; ++i) InputRow<M>(r + i * kA, 1, o + i * kA, 1);  // rows
      // Fixed-size copies for whole vectors: a variable length becomes `rep movs`,
      // whose start-up cost was half of this transform's time.
      if (nl == kLanes) {
        for (std::size_t q = 0; q < kP; ++q)
          std::memcpy(dst + q * xi_stride + cb, &o[q], sizeof(Lanes));
      } else {
        for (std::size_t q = 0; q < kP; ++q) {
          std::memcpy(dst + q * xi_stride + cb, &o[q], nl * sizeof(float));
        }
      }
    }
  }
}

// out tile = A^T m A + bias, clamped, for each tile t in [t0, t1); element (tile t,
// channel j) of product xi is m[xi * xi_stride + (t - base) * ldm + j].
template <std::size_t M>
[[gnu::always_inline]] inline void OutputTransformT(
    const float* m, const Geometry& g, std::size_t k, std::size_t ldm, std::size_t xi_stride,
    std::size_t out_h, std::size_t out_w, std::size_t base, std::size_t t0, std::size_t t1,
    const float* bias, float lo, float hi, float* out) {
  constexpr std::size_t kA = M + 2, kP = kA * kA;
  const std::size_t per_image = g.tiles_y * g.tiles_x;
  const Lanes vlo = Lanes{} + lo, vhi = Lanes{} + hi;
  for (std::size_t t = t0; t < t1; ++t) {
    const std::size_t img = t / per_image, ty = (t % per_image) / g.tiles_x, tx = t % g.tiles_x;
    const std::size_t oy = ty * M, ox = tx * M;
    const std::size_t rows = std::min(M, out_h - oy), cols = std::min(M, out_w - ox);
    float* y00 = out + ((img * out_h + oy) * out_w + ox) * k;
    const float* src = m + (t - base) * ldm;
    for (std::size_t kb = 0; kb < k; kb += kLanes) {
      // ldm is a multiple of kLanes: a full vector load past k stays inside the row.
      const std::size_t nl = std::min(kLanes, k - kb);
      Lanes a[kP];
      for (std::size_t q = 0; q < kP; ++q)
        std::memcpy(&a[q], src + q * xi_stride + kb, sizeof(Lanes));
      Lanes b;
      if (nl == kLanes) {
        std::memcpy(&b, bias + kb, sizeof(Lanes));
      } else {
        b = Lanes{};
        std::memcpy(&b, bias + kb, nl * sizeof(float));
      }
      Lanes s[M * kA], y[M * M];
      for (std::size_t j = 0; j < kA; ++j) OutputRow<M>(a + j, kA, s + j, kA);        // columns
      for (std::size_t r = 0; r < M; ++r) OutputRow<M>(s + r * kA, 1, y + r * M, 1);  // rows
      for (std::size_t q = 0; q < M * M; ++q) {
        const Lanes v = y[q] + b;
        y[q] = v < vlo ? vlo : (v > vhi ? vhi : v);
      }
      for (std::size_t r = 0; r < rows; ++r) {
        float* row = y00 + r * out_w * k + kb;
        for (std::size_t cx = 0; cx < cols; ++cx) {
          if (nl == kLanes) {
            std::memcpy(row + cx * k, &y[r * M + cx], sizeof(Lanes));
          } else {
            std::memcpy(row + cx * k, &y[r * M + cx], nl * sizeof(float));
          }
        }
      }
    }
  }
}

// The transforms for either tile size, built for each instruction set.
DEEPEDGE_WINOGRAD_CLONES
void InputTransform(std::size_t tile, const float* in, const Geometry& g, std::size_t base,
                    std::size_t t0, std::size_t t1, const float* zeros, float* v,
                    std::size_t xi_stride) {
  if (tile == 4) {
    InputTransformT<4>(in, g, base, t0, t1, zeros, v, xi_stride);
  } else {
    InputTransformT<2>(in, g, base, t0, t1, zeros, v, xi_stride);
  }
}
DEEPEDGE_WINOGRAD_CLONES
void OutputTransform(std::size_t tile, const float* m, const Geometry& g, std::size_t k,
                     std::size_t ldm, std::size_t xi_stride, std::size_t out_h, std::size_t out_w,
                     std::size_t base, std::size_t t0, std::size_t t1, const float* bias, float lo,
                     float hi, float* out) {
  if (tile == 4) {
    OutputTransformT<4>(m, g, k, ldm, xi_stride, out_h, out_w, base, t0, t1, bias, lo, hi, out);
  } else {
    OutputTransformT<2>(m, g, k, ldm, xi_stride, out_h, out_w, base, t0, t1, bias, lo, hi, out);
  }
}

}  // namespace

Winograd3x3::Winograd3x3(const float* filter, const float* bias, std::size_t c_in,
                         std::size_t c_out, float out_min, float out_max, std::size_t tile)
    : c_in_(c_in),
      c_out_(c_out),
      tile_(tile == 4 ? 4 : 2),
      products_((tile_ + 2) * (tile_ + 2)),
      uk_(nn::CurrentSgemmMicroKernel()),
      n_strips_((c_out + static_cast<std::size_t>(uk_.nr) - 1) / static_cast<std::size_t>(uk_.nr)),
      u_(products_ * n_strips_ * c_in * static_cast<std::size_t>(uk_.nr), 0.0f),
      bias_(bias, bias + c_out),
      out_min_(out_min),
      out_max_(out_max) {
  const std::size_t nr = static_cast<std::size_t>(uk_.nr), alpha = tile_ + 2;
  // U = G g G^T, in double, stored as the micro-kernel's column strips (columns past
  // C_out stay zero). F(2, 3): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; F(4, 3):
  // G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
  static constexpr double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double kG4[6][3] = {{1.0 / 4, 0, 0},
                                       {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                       {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                       {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                       {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                       {0, 0, 1}};
  auto gm = [&](std::size_t i, std::size_t j) { return tile_ == 4 ? kG4[i][j] : kG2[i][j]; };
  for (std::size_t k = 0; k < c_out; ++k) {
    for (std::size_t c = 0; c < c_in; ++c) {
      double g[3][3];
      for (std::size_t r = 0; r < 3; ++r) {
        for (std::size_t s = 0; s < 3; ++s) g[r][s] = filter[((k * 3 + r) * 3 + s) * c_in + c];
      }
      double gg[6][3];  // G g
      for (std::size_t i = 0; i < alpha; ++i) {
        for (std::size_t s = 0; s < 3; ++s)
          gg[i][s] = gm(i, 0) * g[0][s] + gm(i, 1) * g[1][s] + gm(i, 2) * g[2][s];
      }
      for (std::size_t i = 0; i < alpha; ++i) {
        for (std::size_t j = 0; j < alpha; ++j) {
          const double u = gg[i][0] * gm(j, 0) + gg[i][1] * gm(j, 1) + gg[i][2] * gm(j, 2);
          const std::size_t xi = i * alpha + j;
          u_[((xi * n_strips_ + k / nr) * c_in + c) * nr + k % nr] = static_cast<float>(u);
        }
      }
    }
  }
}

void Winograd3x3::Run(KernelContext* ctx, const float* in, std::size_t n, std::size_t h,
                      std::size_t w, std::size_t pad_top, std::size_t pad_left, std::size_t out_h,
                      std::size_t out_w, float* out) const {
  const Geometry g{
      h, w, c_in_, (out_h + tile_ - 1) / tile_, (out_w + tile_ - 1) / tile_, pad_top, pad_left};
  const std::size_t np = products_;
  const std::size_t tiles = n * g.tiles_y * g.tiles_x;
  if (tiles == 0) return;
  const std::size_t mr = static_cast<std::size_t>(uk_.mr), nr = static_cast<std::size_t>(uk_.nr);
  // Rows of M: whole column strips, rounded up to whole vectors of the output transform.
  const std::size_t ldm = (n_strips_ * nr + kLanes - 1) / kLanes * kLanes;
  // Tiles go in chunks whose transformed inputs and products stay in the caches (about
  // 512 KiB, half of a 1 MiB L2: with 2 MiB SqueezeNet's 16 -> 64 layers at 55x55 spilled
  // their products and the model ran 5 % slower; 256 KiB and 1 MiB measured within 2 %
  // either way); a whole layer in one chunk when it fits, so the filter streams once.
  const std::size_t per_tile = np * (c_in_ + ldm) * sizeof(float);
  const std::size_t strips_total = (tiles + mr - 1) / mr;
  const std::size_t threads = ctx != nullptr ? static_cast<std::size_t>(ctx->threads()) : 1;
  std::size_t strips_per_chunk =
      std::min(strips_total, std::max<std::size_t>(1, (std::size_t{512} << 10) / (per_tile * mr)));
  std::size_t chunks = (strips_total + strips_per_chunk - 1) / strips_per_chunk;
  // With several threads, each runs whole chunks (all three phases on one core, its
  // data in that core's L2), as many chunks per thread as can be evened out. Splitting
  // every phase across the cores instead moves the transformed tiles between L2 caches:
  // on 2 threads SqueezeNet's 3x3 layers ran no faster than on 1 (its fire2 layer 0.37 ms
  // on both) and ResNet-18's first stage barely faster; per chunk per thread, the models
  // ran 0.84x and 0.88x the time. Only a layer of fewer row strips than threads is split
  // by phase.
  const bool chunk_per_thread = threads > 1 && strips_total >= threads;
  if (chunk_per_thread) {
    chunks = (std::max(chunks, threads) + threads - 1) / threads * threads;
    strips_per_chunk = (strips_total + chunks - 1) / chunks;
    chunks = (strips_total + strips_per_chunk - 1) / strips_per_chunk;
  }
  const std::size_t chunk_tiles = strips_per_chunk * mr;
  const std::vector<float> zeros(c_in_, 0.0f);

  // One chunk of tiles [t0, t0 + nt): input transform, the products, output
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
    thread_local AlignedFloats v_buf, m_buf;
    if (v_buf.size() < np * chunk_tiles * c_in_) v_buf.resize(np * chunk_tiles * c_in_);
    if (m_buf.size() < np * chunk_tiles * ldm) m_buf.resize(np * chunk_tiles * ldm);
    float* const v = v_buf.data();
    float* const m = m_buf.data();
    const std::size_t ms = (nt + mr - 1) / mr;
    const std::size_t v_xi = ms * mr * c_in_;  // between the matrices of V
    const std::size_t m_xi = ms * mr * ldm;    // and of M
    parallel(nt, [&](std::size_t a0, std::size_t a1) {
      InputTransform(tile_, in, g, t0, t0 + a0, t0 + a1, zeros.data(), v, v_xi);
    });
    // Rows past the last tile of the last strip: zero, so the products stay finite.
    for (std::size_t xi = 0; xi < np; ++xi) {
      std::fill(v + xi * v_xi + nt * c_in_, v + (xi + 1) * v_xi, 0.0f);
    }
    // M[xi] = V[xi] * U[xi], one (xi, column strip) pair per task.
    parallel(np * n_strips_, [&](std::size_t p0, std::size_t p1) {
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
      OutputTransform(tile_, m, g, c_out_, ldm, m_xi, out_h, out_w, t0, t0 + a0, t0 + a1,
                      bias_.data(), out_min_, out_max_, out);
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

std::size_t WinogradTile(std::size_t c_in, std::size_t c_out, std::size_t n, std::size_t out_h,
                         std::size_t out_w) {
  if (!WinogradPays(c_in, c_out, n * ((out_h + 1) / 2) * ((out_w + 1) / 2))) return 0;
  static const bool f4 = KernelSwitchOn("DEEPEDGE_WINOGRAD_F4");
  const std::size_t tiles4 = n * ((out_h + 3) / 4) * ((out_w + 3) / 4);
  return f4 && c_in >= 32 && c_out >= 32 && tiles4 >= 32 ? 4 : 2;
}

bool WinogradEnabled() {
  static const bool enabled = KernelSwitchOn("DEEPEDGE_WINOGRAD");
  return enabled;
}

}  // namespace deepedge::engine::xnn
