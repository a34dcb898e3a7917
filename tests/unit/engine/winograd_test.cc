// The Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions against a direct NHWC
// convolution, on every SGEMM micro-kernel this CPU has (their strip sizes set the
// packing), on one thread and on two.
#include "engine/xnnpack/winograd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/nn_sgemm.h"
#include "support/kernel_harness.h"

namespace deepedge::engine::xnn {
namespace {

struct Case {
  std::size_t n, h, w, c, k, pad_top, pad_left, pad_bottom, pad_right;
  float lo, hi;
};

// out[n][y][x][k] = bias[k] + sum over r, s, c of in[n][y + r - pt][x + s - pl][c] * f[k][r][s][c].
std::vector<float> Direct(const Case& t, const std::vector<float>& in, const std::vector<float>& f,
                          const std::vector<float>& bias, std::size_t oh, std::size_t ow) {
  std::vector<float> out(t.n * oh * ow * t.k);
  for (std::size_t b = 0; b < t.n; ++b) {
    for (std::size_t y = 0; y < oh; ++y) {
      for (std::size_t x = 0; x < ow; ++x) {
        for (std::size_t k = 0; k < t.k; ++k) {
          double acc = bias[k];
          for (std::size_t r = 0; r < 3; ++r) {
            for (std::size_t s = 0; s < 3; ++s) {
              const long iy = static_cast<long>(y + r) - static_cast<long>(t.pad_top);
              const long ix = static_cast<long>(x + s) - static_cast<long>(t.pad_left);
              if (iy < 0 || ix < 0 || iy >= static_cast<long>(t.h) || ix >= static_cast<long>(t.w))
                continue;
              for (std::size_t c = 0; c < t.c; ++c) {
                acc += static_cast<double>(in[((b * t.h + static_cast<std::size_t>(iy)) * t.w +
                                               static_cast<std::size_t>(ix)) *
                                                  t.c +
                                              c]) *
                       f[((k * 3 + r) * 3 + s) * t.c + c];
              }
            }
          }
          out[((b * oh + y) * ow + x) * t.k + k] =
              std::min(std::max(static_cast<float>(acc), t.lo), t.hi);
        }
      }
    }
  }
  return out;
}

TEST(WinogradTest, MatchesDirectConvolution) {
  const float inf = INFINITY;
  const Case cases[] = {
      {1, 8, 8, 16, 16, 1, 1, 1, 1, -inf, inf},     // "same" padding, even size
      {2, 7, 5, 17, 33, 1, 1, 1, 1, 0, inf},        // odd sizes, ragged channel blocks, Relu
      {1, 6, 9, 3, 5, 0, 0, 0, 0, -inf, inf},       // no padding
      {1, 9, 6, 20, 18, 2, 0, 1, 2, -1.0f, 1.5f},   // asymmetric padding, Clip
      {1, 56, 56, 64, 64, 1, 1, 1, 1, 0, 6.0f},     // a ResNet stage, several chunks
      {1, 14, 14, 300, 40, 1, 1, 1, 1, -inf, inf},  // C_in past one depth block (256)
  };
  const std::string original = nn::SgemmKernelName();
  ir::Node node;
  node.op_type = "Conv";
  node.name = "winograd_test";
  for (const std::string& kernel : nn::SgemmKernelNames()) {
    ASSERT_TRUE(nn::SetSgemmKernel(kernel));
    for (int threads : {1, 2}) {
      for (std::size_t tile : {2, 4}) {
        testing::SingleNodeContext two_threads(node, {}, 2);
        KernelContext* ctx = threads == 1 ? nullptr : &two_threads;
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        for (const Case& t : cases) {
          const std::size_t oh = t.h + t.pad_top + t.pad_bottom - 2;
          const std::size_t ow = t.w + t.pad_left + t.pad_right - 2;
          std::vector<float> in(t.n * t.h * t.w * t.c), f(t.k * 9 * t.c), bias(t.k);
          for (float& v : in) v = dist(rng);
          for (float& v : f) v = dist(rng);
          for (float& v : bias) v = dist(rng);
          const std::vector<float> want = Direct(t, in, f, bias, oh, ow);
          Winograd3x3 wino(f.data(), bias.data(), t.c, t.k, t.lo, t.hi, tile);
          ASSERT_EQ(wino.tile(), tile);
          std::vector<float> got(want.size(), NAN);
          wino.Run(ctx, in.data(), t.n, t.h, t.w, t.pad_top, t.pad_left, oh, ow, got.data());
          // F(4x4)'s transforms scale by up to 8 (and its filter by 1/24): a few times
          // F(2x2)'s rounding.
          const float tol = (tile == 4 ? 4e-5f : 1e-5f) * static_cast<float>(9 * t.c);
          for (std::size_t i = 0; i < want.size(); ++i) {
            ASSERT_NEAR(got[i], want[i], tol)
                << kernel << ", F(" << tile << "), " << threads << " thread(s), case " << t.h << "x"
                << t.w << "x" << t.c << "->" << t.k << " at " << i;
          }
        }
      }
    }
  }
  ASSERT_TRUE(nn::SetSgemmKernel(original));
}

TEST(WinogradTest, PaysOnlyForLargeEnoughShapes) {
  EXPECT_TRUE(WinogradPays(64, 64, 784));
  EXPECT_FALSE(WinogradPays(3, 64, 784));            // the first layer of a CNN
  EXPECT_FALSE(WinogradPays(512, 512, 16));          // a 7x7 map: too few tiles
  EXPECT_EQ(WinogradTile(64, 64, 1, 56, 56), 4u);    // ResNet-18's first stage
  EXPECT_EQ(WinogradTile(128, 128, 1, 28, 28), 4u);  // and its second
  EXPECT_EQ(WinogradTile(256, 256, 1, 14, 14), 2u);  // 16 tiles of 4x4: F(2x2)
  EXPECT_EQ(WinogradTile(16, 64, 1, 56, 56), 2u);    // narrow: the transforms dominate
  EXPECT_EQ(WinogradTile(3, 64, 1, 224, 224), 0u);
}

}  // namespace
}  // namespace deepedge::engine::xnn
