#include "engine/xnnpack/pointwise.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/xnnpack/kernel_switch.h"

namespace deepedge::engine::xnn {
namespace {

constexpr std::size_t kKc = 256;                 // depth of one micro-kernel call (cache blocking)
constexpr std::size_t kMaxMr = 16;               // the largest strip height of the micro-kernels
constexpr std::size_t kRowBlock = 256 << 10;     // bytes of input rows one task keeps in L2
constexpr std::size_t kSmallFilter = 256 << 10;  // packed filter bytes swept per row strip

}  // namespace

Pointwise1x1::Pointwise1x1(const float* filter, const float* bias, std::size_t c_in,
                           std::size_t c_out, float out_min, float out_max)
    : c_in_(c_in),
      c_out_(c_out),
      uk_(nn::CurrentSgemmMicroKernel()),
      n_strips_((c_out + static_cast<std::size_t>(uk_.nr) - 1) / static_cast<std::size_t>(uk_.nr)),
      strip_width_(uk_, c_out),
      b_(n_strips_ * c_in * static_cast<std::size_t>(uk_.nr), 0.0f),
      bias_(n_strips_ * static_cast<std::size_t>(uk_.nr), 0.0f),
      out_min_(out_min),
      out_max_(out_max) {
  const std::size_t nr = static_cast<std::size_t>(uk_.nr);
  for (std::size_t k = 0; k < c_out; ++k) {
    for (std::size_t c = 0; c < c_in; ++c) {
      b_[((k / nr) * c_in + c) * nr + k % nr] = filter[k * c_in + c];
    }
  }
  std::copy(bias, bias + c_out, bias_.begin());
}

void Pointwise1x1::Run(KernelContext* ctx, const float* in, std::size_t pixels, float* out) const {
  const std::size_t mr = static_cast<std::size_t>(uk_.mr), nr = static_cast<std::size_t>(uk_.nr);
  const std::size_t m_strips = (pixels + mr - 1) / mr;
  if (m_strips == 0 || n_strips_ == 0) return;
  const std::size_t threads = ctx != nullptr ? static_cast<std::size_t>(ctx->threads()) : 1;

  // Tasks are blocks of (row strips x column strips). Deep layers on small maps, whose
  // filter outweighs their input, split the columns: each core then streams only its
  // share of the filter. Otherwise the rows split, in blocks whose input stays in L2
  // while every column strip of the filter passes over it, and small enough to give
  // each thread several tasks (the pool balances them).
  const bool split_columns = n_strips_ * nr >= pixels;
  std::size_t rows_per_task = m_strips, cols_per_task = n_strips_;
  if (split_columns) {
    cols_per_task = std::max<std::size_t>(1, n_strips_ / (threads * 4));
  } else {
    const std::size_t cap = std::max<std::size_t>(1, kRowBlock / (mr * c_in_ * sizeof(float)));
    const std::size_t want = threads > 1 ? std::max<std::size_t>(1, m_strips / (threads * 8)) : cap;
    rows_per_task = std::min(cap, want);
  }
  const std::size_t row_tasks = (m_strips + rows_per_task - 1) / rows_per_task;
  const std::size_t col_tasks = (n_strips_ + cols_per_task - 1) / cols_per_task;

  const bool clamp =
      !(std::isinf(out_min_) && out_min_ < 0 && std::isinf(out_max_) && out_max_ > 0);
  const bool small_filter = c_in_ * n_strips_ * nr * sizeof(float) <= kSmallFilter;
  auto run = [&](std::size_t t0, std::size_t t1) {
    alignas(64) float rows[kMaxMr * kKc];
    // Partial output tiles (the last row strip, the last column strip) are computed in
    // scratch and copied out; one per row strip of a task.
    thread_local AlignedFloats scratch;
    if (scratch.size() < rows_per_task * mr * nr) scratch.resize(rows_per_task * mr * nr);
    // Rows the micro-kernel computes for tile (ms, js): half of mr for a last row strip
    // at most half used (a 7x7 map's last 7 of 14 rows) in a column strip of full width.
    auto tile_rows = [&](std::size_t ms, std::size_t js) {
      return nn::TileRows(uk_, pixels - ms * mr, strip_width_(js));
    };
    // Whether tile (ms, js) is written in place: all the rows its kernel computes exist,
    // and all its columns (or, for a last strip at most half used, the half the narrow
    // kernel computes).
    auto whole = [&](std::size_t ms, std::size_t js) {
      return ms * mr + tile_rows(ms, js) <= pixels && js * nr + strip_width_(js) <= c_out_;
    };
    // Where tile (ms, js) accumulates: in place, or for a partial tile in scratch slot
    // `slot`.
    auto target = [&](std::size_t ms, std::size_t js, std::size_t slot, std::size_t& ldc) {
      const bool in_place = whole(ms, js);
      ldc = in_place ? c_out_ : nr;
      return in_place ? out + ms * mr * c_out_ + js * nr : scratch.data() + slot * mr * nr;
    };
    auto copy_out = [&](std::size_t ms, std::size_t js, std::size_t slot) {
      if (whole(ms, js)) return;
      const std::size_t m0 = ms * mr, nrows = std::min(mr, pixels - m0);
      const std::size_t n0 = js * nr, ncols = std::min(nr, c_out_ - n0);
      for (std::size_t r = 0; r < nrows; ++r) {
        std::memcpy(out + (m0 + r) * c_out_ + n0, scratch.data() + (slot * mr + r) * nr,
                    ncols * sizeof(float));
      }
    };
    // One pass of depth [k0, k0 + kc) over tile (ms, js) into c: the first pass starts
    // from the bias, the last one clamps (both folded into the micro-kernel). A last column
    // strip at most half used (24 channels on a 16-wide kernel) runs on the half-width
    // kernel: half its work, written in place.
    auto pass = [&](std::size_t ms, std::size_t js, std::size_t k0, float* c, std::size_t ldc) {
      const std::size_t kc = std::min(kKc, c_in_ - k0);
      const std::size_t m0 = ms * mr, nrows = std::min(mr, pixels - m0);
      const std::size_t need = tile_rows(ms, js);
      const float* a = in + m0 * c_in_ + k0;
      std::size_t lda = c_in_;
      if (nrows < need) {
        // The last strip: its rows past the input are zeros in a copy, never read from
        // beyond the caller's buffer.
        std::fill(rows, rows + need * kc, 0.0f);
        for (std::size_t r = 0; r < nrows; ++r) {
          std::memcpy(rows + r * kc, a + r * c_in_, kc * sizeof(float));
        }
        a = rows;
        lda = kc;
      }
      nn::EpilogueFor(uk_, need, strip_width_(js))(
          static_cast<std::int64_t>(kc), a, static_cast<std::int64_t>(lda),
          b_.data() + js * c_in_ * nr + k0 * nr, c, static_cast<std::int64_t>(ldc),
          bias_.data() + js * nr, k0 != 0, k0 + kc >= c_in_ && clamp, out_min_, out_max_);
    };
    for (std::size_t t = t0; t < t1; ++t) {
      const std::size_t ms0 = (t / col_tasks) * rows_per_task;
      const std::size_t ms1 = std::min(m_strips, ms0 + rows_per_task);
      const std::size_t js0 = (t % col_tasks) * cols_per_task;
      const std::size_t js1 = std::min(n_strips_, js0 + cols_per_task);
      std::size_t ldc = 0;
      if (small_filter) {
        // A filter that fits in L2 is swept once per row strip, so each output row is
        // written whole, once (small filters, large maps: the output dominates).
        for (std::size_t ms = ms0; ms < ms1; ++ms) {
          for (std::size_t js = js0; js < js1; ++js) {
            float* c = target(ms, js, 0, ldc);
            for (std::size_t k0 = 0; k0 < c_in_; k0 += kKc) pass(ms, js, k0, c, ldc);
            copy_out(ms, js, 0);
          }
        }
      } else {
        // A larger one goes by column strip, and within it by block of depth: each
        // filter block (kKc x nr) stays in L1 while all the task's row strips pass
        // under it, so the filter is read from memory once per task.
        for (std::size_t js = js0; js < js1; ++js) {
          for (std::size_t k0 = 0; k0 < c_in_; k0 += kKc) {
            for (std::size_t ms = ms0; ms < ms1; ++ms) {
              float* c = target(ms, js, ms - ms0, ldc);
              pass(ms, js, k0, c, ldc);
            }
          }
          for (std::size_t ms = ms0; ms < ms1; ++ms) copy_out(ms, js, ms - ms0);
        }
      }
    }
  };
  const std::size_t tasks = row_tasks * col_tasks;
  if (threads > 1 && tasks > 1) {
    ctx->ParallelFor(tasks, run);
  } else {
    run(0, tasks);
  }
}

bool PointwisePays(std::size_t c_in, std::size_t c_out, std::size_t pixels) {
  // From 128 input channels with AVX-512 (measured there against XNNPACK's 2022 kernels);
  // from 16 otherwise: on an AVX2-only EPYC MobileNet v1's 32- and 64-channel layers ran
  // 2.3 -> 1.5 ms and 1.9 -> 1.1 ms on this kernel, the model 26.0 -> 21.0 ms, and
  // MobileNet v2's 16- and 24-channel expansions 1.0 -> 0.6 ms (1 thread). Its
  // projections onto 16 and 24 channels, too: 0.47-0.51 -> 0.19-0.26 ms (block 1),
  // 0.63-0.64 -> 0.25-0.34 ms (block 2), 1.09 -> 0.48-0.58 ms (block 3).
  const bool avx512 = CpuHasAvx512();
  const std::size_t min_in = avx512 ? 128 : 16;
  const std::size_t min_out = avx512 ? 32 : 16;
  return c_in >= min_in && c_out >= min_out && pixels >= 32;
}

bool PointwiseEnabled() {
  static const bool enabled = KernelSwitchOn("DEEPEDGE_POINTWISE");
  return enabled;
}

}  // namespace deepedge::engine::xnn
