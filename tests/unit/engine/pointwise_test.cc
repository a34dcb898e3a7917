// The 1x1 convolution on the engine's micro-kernel against a plain double-precision
// product, on every SGEMM micro-kernel this CPU has (their strip sizes set the packing
// and the partial tiles), on one thread and on two, with and without a clamp, and with
// C_in past one depth block.
#include "engine/xnnpack/pointwise.h"

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
  std::size_t pixels, c_in, c_out;
  float lo, hi;
};

// out[p][k] = clamp(bias[k] + sum over c of in[p][c] * f[k][c]).
std::vector<float> Reference(const Case& t, const std::vector<float>& in,
                             const std::vector<float>& f, const std::vector<float>& bias) {
  std::vector<float> out(t.pixels * t.c_out);
  for (std::size_t p = 0; p < t.pixels; ++p) {
    for (std::size_t k = 0; k < t.c_out; ++k) {
      double acc = bias[k];
      for (std::size_t c = 0; c < t.c_in; ++c) {
        acc += static_cast<double>(in[p * t.c_in + c]) * f[k * t.c_in + c];
      }
      out[p * t.c_out + k] = std::min(std::max(static_cast<float>(acc), t.lo), t.hi);
    }
  }
  return out;
}

TEST(PointwiseTest, MatchesReferenceProduct) {
  const float inf = INFINITY;
  const Case cases[] = {
      {1, 1, 1, -inf, inf},          // one of everything: a partial tile both ways
      {196, 128, 128, 0.0f, inf},    // whole strips on the AVX-512 kernel, Relu
      {57, 33, 45, -inf, inf},       // ragged rows and columns
      {49, 1024, 64, 0.0f, 6.0f},    // depth of four blocks, Relu6, the column split
      {784, 300, 96, -0.5f, 0.75f},  // depth past one block with a ragged rest, Clip
      {3136, 64, 128, -inf, inf},    // many row tasks (the row split)
      {30, 16, 512, 0.0f, inf},      // filter larger than the input: columns split
      // A last column strip at most half used runs on the half-width kernel: 24 (AVX2),
      // 20 (AVX2 and the generic kernel), 40 (AVX-512 and AVX2) output channels.
      {3136, 144, 24, -inf, inf},  // MobileNet v2's block-3 projection
      {57, 40, 20, 0.0f, 6.0f},
      {100, 300, 40, 0.0f, inf},
      // A last row strip at most half used runs on the half-height kernel, its rows read
      // in place when exactly half (7 of 14 on AVX-512, 3 of 6 on AVX2), else copied.
      {21, 64, 64, 0.0f, inf},     // 14 + 7 (AVX-512), 3 * 6 + 3 (AVX2)
      {51, 256, 96, -inf, inf},    // 8 * 6 + 3 (AVX2), 6 * 8 + 3 (generic 8-row)
      {16, 300, 70, -1.0f, 1.0f},  // 14 + 2 (AVX-512), with a half-width last strip
  };
  const std::string original = nn::SgemmKernelName();
  ir::Node node;
  node.op_type = "Conv";
  node.name = "pointwise_test";
  for (const std::string& kernel : nn::SgemmKernelNames()) {
    ASSERT_TRUE(nn::SetSgemmKernel(kernel));
    for (int threads : {1, 2}) {
      testing::SingleNodeContext two_threads(node, {}, 2);
      KernelContext* ctx = threads == 1 ? nullptr : &two_threads;
      std::mt19937 rng(5);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (const Case& t : cases) {
        std::vector<float> in(t.pixels * t.c_in), f(t.c_out * t.c_in), bias(t.c_out);
        for (float& v : in) v = dist(rng);
        for (float& v : f) v = dist(rng);
        for (float& v : bias) v = dist(rng);
        const std::vector<float> want = Reference(t, in, f, bias);
        const Pointwise1x1 conv(f.data(), bias.data(), t.c_in, t.c_out, t.lo, t.hi);
        // Exactly sized buffers: ASan catches a read or write past either.
        std::vector<float> got(want.size(), NAN);
        conv.Run(ctx, in.data(), t.pixels, got.data());
        const float tol = 2e-6f * static_cast<float>(t.c_in);
        for (std::size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], tol)
              << kernel << ", " << threads << " thread(s), case " << t.pixels << "x" << t.c_in
              << "->" << t.c_out << " at " << i;
        }
      }
    }
  }
  ASSERT_TRUE(nn::SetSgemmKernel(original));
}

TEST(PointwiseTest, PaysOnlyForDeepEnoughLayersOnLargeEnoughMaps) {
  const bool avx512 = CpuHasAvx512();
  EXPECT_TRUE(PointwisePays(512, 512, 196));  // MobileNet v1, 14x14 stage
  // Its first pointwise layer: memory-bound against XNNPACK with AVX-512, not with AVX2.
  EXPECT_EQ(PointwisePays(32, 64, 12544), !avx512);
  // MobileNet v2's 24-channel projections: likewise.
  EXPECT_EQ(PointwisePays(144, 24, 3136), !avx512);
  EXPECT_FALSE(PointwisePays(144, 8, 3136));    // 8 output channels: never
  EXPECT_FALSE(PointwisePays(8, 64, 12544));    // 8 input channels: never
  EXPECT_TRUE(PointwisePays(1024, 1024, 49));   // its 7x7 stage
  EXPECT_FALSE(PointwisePays(1024, 1024, 16));  // a 4x4 map: too few rows
}

}  // namespace
}  // namespace deepedge::engine::xnn
