// The engine's 3x3 depthwise convolution against a direct double-precision one, with
// stride 1 and 2, every padding the regions pass (including asymmetric and none),
// channel counts that leave a partial block of 16, maps narrower than the window, on
// one thread and on two.
#include "engine/xnnpack/depthwise.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "engine/xnnpack/kernel_switch.h"
#include "support/kernel_harness.h"

namespace deepedge::engine::xnn {
namespace {

struct Case {
  std::size_t n, h, w, c, stride, pad_top, pad_left, out_h, out_w;
  float lo, hi;
};

std::vector<float> Direct(const Case& t, const std::vector<float>& in, const std::vector<float>& f,
                          const std::vector<float>& bias) {
  std::vector<float> out(t.n * t.out_h * t.out_w * t.c);
  for (std::size_t b = 0; b < t.n; ++b) {
    for (std::size_t y = 0; y < t.out_h; ++y) {
      for (std::size_t x = 0; x < t.out_w; ++x) {
        for (std::size_t c = 0; c < t.c; ++c) {
          double acc = bias[c];
          for (std::size_t i = 0; i < 3; ++i) {
            for (std::size_t j = 0; j < 3; ++j) {
              const long iy = static_cast<long>(y * t.stride + i) - static_cast<long>(t.pad_top);
              const long ix = static_cast<long>(x * t.stride + j) - static_cast<long>(t.pad_left);
              if (iy < 0 || ix < 0 || iy >= static_cast<long>(t.h) || ix >= static_cast<long>(t.w))
                continue;
              acc += static_cast<double>(in[((b * t.h + static_cast<std::size_t>(iy)) * t.w +
                                             static_cast<std::size_t>(ix)) *
                                                t.c +
                                            c]) *
                     f[(i * 3 + j) * t.c + c];
            }
          }
          out[((b * t.out_h + y) * t.out_w + x) * t.c + c] =
              std::min(std::max(static_cast<float>(acc), t.lo), t.hi);
        }
      }
    }
  }
  return out;
}

TEST(DepthwiseTest, MatchesDirectConvolution) {
  const float inf = INFINITY;
  const Case cases[] = {
      // n, h, w, c, stride, pad top, pad left, out h, out w, clamp
      {1, 14, 14, 512, 1, 1, 1, 14, 14, 0.0f, 6.0f},    // MobileNet v1, 14x14 stage, Relu6
      {1, 112, 112, 32, 1, 1, 1, 112, 112, 0.0f, inf},  // its first depthwise layer
      {1, 112, 112, 64, 2, 0, 0, 56, 56, 0.0f, 6.0f},   // stride 2, TF-style padding
      {1, 13, 13, 40, 2, 1, 1, 7, 7, -inf, inf},        // stride 2, odd size, partial block
      {2, 5, 9, 3, 1, 1, 1, 5, 9, -1.0f, 1.0f},         // two images, 3 channels, Clip
      {1, 1, 1, 17, 1, 1, 1, 1, 1, -inf, inf},          // a map smaller than the window
      {1, 6, 2, 16, 1, 0, 0, 4, 0, -inf, inf},          // no output columns at all
      {1, 8, 11, 33, 1, 0, 2, 6, 11, -inf, inf},        // asymmetric padding
      {1, 7, 7, 1024, 1, 1, 1, 7, 7, 0.0f, inf},        // MobileNet v1, last stage
  };
  ir::Node node;
  node.op_type = "Conv";
  node.name = "depthwise_test";
  for (int threads : {1, 2}) {
    testing::SingleNodeContext two_threads(node, {}, 2);
    KernelContext* ctx = threads == 1 ? nullptr : &two_threads;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (const Case& t : cases) {
      std::vector<float> in(t.n * t.h * t.w * t.c), f(9 * t.c), bias(t.c);
      for (float& v : in) v = dist(rng);
      for (float& v : f) v = dist(rng);
      for (float& v : bias) v = dist(rng);
      const std::vector<float> want = Direct(t, in, f, bias);
      const Depthwise3x3 conv(f.data(), bias.data(), t.c, t.stride, t.lo, t.hi);
      // Exactly sized buffers: ASan catches a read or write past either.
      std::vector<float> got(want.size(), NAN);
      conv.Run(ctx, in.data(), t.n, t.h, t.w, t.pad_top, t.pad_left, t.out_h, t.out_w, got.data());
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-5f) << threads << " thread(s), case " << t.h << "x" << t.w
                                            << "x" << t.c << " stride " << t.stride << " at " << i;
      }
    }
  }
}

TEST(DepthwiseTest, PaysWithAvx512ExceptOnChannelsThatAliasInL1) {
  const bool avx512 = CpuHasAvx512();
  EXPECT_EQ(DepthwisePays(32), avx512);   // MobileNet v1 and v2's first depthwise layer
  EXPECT_EQ(DepthwisePays(144), avx512);  // v2's 56x56 stage
  EXPECT_EQ(DepthwisePays(960), avx512);  // v2's 7x7 stage
  EXPECT_FALSE(DepthwisePays(256));       // v1's 28x28 stage: 1 KiB pixels
  EXPECT_FALSE(DepthwisePays(512));
  EXPECT_FALSE(DepthwisePays(1024));
}

}  // namespace
}  // namespace deepedge::engine::xnn
