// The im2col convolution on the engine's micro-kernel against a direct double-precision
// one, on every SGEMM micro-kernel this CPU has, on one thread and on two, in both of
// its modes: a small filter swept over blocks of gathered rows (a 7x7 stride-2 stem),
// and a filter large enough to be streamed block by block (3x3 on 7x7 with deep
// channels), with padding, ragged channel counts and partial strips.
#include "engine/xnnpack/conv_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/nn_sgemm.h"
#include "engine/xnnpack/kernel_switch.h"
#include "support/kernel_harness.h"

namespace deepedge::engine::xnn {
namespace {

struct Case {
  ConvGemmGeometry g;
  std::size_t c_in, c_out, kh, kw;
  float lo, hi;
};

std::vector<float> Direct(const Case& t, const std::vector<float>& in, const std::vector<float>& f,
                          const std::vector<float>& bias) {
  const ConvGemmGeometry& g = t.g;
  std::vector<float> out(g.n * g.out_h * g.out_w * t.c_out);
  for (std::size_t b = 0; b < g.n; ++b) {
    for (std::size_t y = 0; y < g.out_h; ++y) {
      for (std::size_t x = 0; x < g.out_w; ++x) {
        for (std::size_t o = 0; o < t.c_out; ++o) {
          double acc = bias[o];
          for (std::size_t i = 0; i < t.kh; ++i) {
            for (std::size_t j = 0; j < t.kw; ++j) {
              const long iy = static_cast<long>(y * g.stride_h + i) - static_cast<long>(g.pad_top);
              const long ix = static_cast<long>(x * g.stride_w + j) - static_cast<long>(g.pad_left);
              if (iy < 0 || ix < 0 || iy >= static_cast<long>(g.h) || ix >= static_cast<long>(g.w))
                continue;
              for (std::size_t c = 0; c < t.c_in; ++c) {
                acc += static_cast<double>(in[((b * g.h + static_cast<std::size_t>(iy)) * g.w +
                                               static_cast<std::size_t>(ix)) *
                                                  t.c_in +
                                              c]) *
                       f[((o * t.kh + i) * t.kw + j) * t.c_in + c];
              }
            }
          }
          out[((b * g.out_h + y) * g.out_w + x) * t.c_out + o] =
              std::min(std::max(static_cast<float>(acc), t.lo), t.hi);
        }
      }
    }
  }
  return out;
}

TEST(ConvGemmTest, MatchesDirectConvolution) {
  const float inf = INFINITY;
  const Case cases[] = {
      // ResNet-18's stem on a smaller image: 7x7 stride 2, pad 3, 3 channels, Relu.
      {{1, 32, 32, 16, 16, 2, 2, 3, 3}, 3, 64, 7, 7, 0.0f, inf},
      // Two images, odd sizes, asymmetric stride and padding, ragged output channels.
      {{2, 11, 9, 5, 6, 2, 1, 1, 2}, 4, 45, 5, 5, -inf, inf},
      // Streamed: 3x3 on 7x7 with 512 -> 512 channels (9.4 MB), Clip.
      {{1, 7, 7, 7, 7, 1, 1, 1, 1}, 512, 512, 3, 3, -0.5f, 0.5f},
      // Streamed with a ragged last depth block and output strip.
      {{1, 5, 6, 5, 6, 1, 1, 1, 1}, 300, 500, 3, 3, -inf, inf},
      // A ResNet down-sampling block on a smaller map: 3x3 stride 2, pad 1, Relu; and
      // its 1x1 stride-2 shortcut (no padding; odd input: the last column is skipped).
      {{1, 15, 15, 8, 8, 2, 2, 1, 1}, 64, 128, 3, 3, 0.0f, inf},
      {{1, 15, 15, 8, 8, 2, 2, 0, 0}, 64, 128, 1, 1, -inf, inf},
      // Last column strips at most half used (the half-width kernel): 20 output channels
      // (AVX2 and the generic kernel), 40 (AVX-512 and AVX2); the streamed 500 above too.
      {{1, 15, 15, 8, 8, 2, 2, 1, 1}, 16, 20, 3, 3, 0.0f, 6.0f},
      {{2, 9, 9, 9, 9, 1, 1, 1, 1}, 3, 40, 3, 3, -inf, inf},
      // One-sided filters (openWakeWord's embedding model on a smaller map): 1x3 padded
      // along the width, 3x1 unpadded.
      {{1, 12, 10, 12, 10, 1, 1, 0, 1}, 24, 24, 1, 3, -inf, inf},
      {{1, 12, 10, 10, 10, 1, 1, 0, 0}, 24, 48, 3, 1, 0.0f, inf},
      // Last row strips at most half used (the half-height kernel), the filter in cache:
      // 49 pixels (14 * 3 + 7 on AVX-512, 6 * 8 + 1 on AVX2), 21 (14 + 7, 6 * 3 + 3).
      // The streamed 7x7 and 5x6 cases above take it too.
      {{1, 7, 7, 7, 7, 1, 1, 1, 1}, 16, 32, 3, 3, 0.0f, inf},
      {{1, 3, 7, 3, 7, 1, 1, 1, 1}, 8, 70, 3, 3, -inf, inf},
  };
  const std::string original = nn::SgemmKernelName();
  ir::Node node;
  node.op_type = "Conv";
  node.name = "conv_gemm_test";
  for (const std::string& kernel : nn::SgemmKernelNames()) {
    ASSERT_TRUE(nn::SetSgemmKernel(kernel));
    for (int threads : {1, 2}) {
      testing::SingleNodeContext two_threads(node, {}, 2);
      KernelContext* ctx = threads == 1 ? nullptr : &two_threads;
      std::mt19937 rng(11);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (const Case& t : cases) {
        std::vector<float> in(t.g.n * t.g.h * t.g.w * t.c_in), f(t.c_out * t.kh * t.kw * t.c_in),
            bias(t.c_out);
        for (float& v : in) v = dist(rng);
        for (float& v : f) v = dist(rng);
        for (float& v : bias) v = dist(rng);
        const std::vector<float> want = Direct(t, in, f, bias);
        const ConvGemm conv(f.data(), bias.data(), t.c_out, t.kh, t.kw, t.c_in, t.lo, t.hi);
        // Exactly sized buffers: ASan catches a read or write past either.
        std::vector<float> got(want.size(), NAN);
        conv.Run(ctx, in.data(), t.g, got.data());
        const float tol = 2e-6f * static_cast<float>(t.kh * t.kw * t.c_in);
        for (std::size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], tol)
              << kernel << ", " << threads << " thread(s), case " << t.g.h << "x" << t.g.w << "x"
              << t.c_in << "->" << t.c_out << " at " << i;
        }
      }
    }
  }
  ASSERT_TRUE(nn::SetSgemmKernel(original));
}

TEST(ConvGemmTest, PaysForStemsLargeFiltersStridesAndOneSidedFiltersWithoutAvx512) {
  const bool avx512 = CpuHasAvx512();
  EXPECT_TRUE(ConvGemmPays(3, 7, 7, 64, 2));     // ResNet-18's stem
  EXPECT_TRUE(ConvGemmPays(512, 3, 3, 512, 1));  // its last stage
  // Its strided 3x3 layers and 1x1 shortcuts: XNNPACK's with AVX-512, ours with AVX2.
  EXPECT_EQ(ConvGemmPays(256, 3, 3, 512, 2), !avx512);
  EXPECT_EQ(ConvGemmPays(128, 1, 1, 256, 2), !avx512);
  EXPECT_FALSE(ConvGemmPays(64, 3, 3, 8, 2));   // too few output channels
  EXPECT_FALSE(ConvGemmPays(64, 3, 3, 64, 0));  // unequal strides
  // MobileNet's 3x3 stem: XNNPACK's with AVX-512, ours with AVX2.
  EXPECT_EQ(ConvGemmPays(3, 3, 3, 32, 2), !avx512);
  EXPECT_FALSE(ConvGemmPays(64, 3, 3, 64, 1));  // a small stride-1 filter
  // 1x3 and 3x1 filters (openWakeWord's embedding model): ours with AVX2.
  EXPECT_EQ(ConvGemmPays(24, 1, 3, 24, 1), !avx512);
  EXPECT_EQ(ConvGemmPays(96, 3, 1, 96, 1), !avx512);
}

}  // namespace
}  // namespace deepedge::engine::xnn
