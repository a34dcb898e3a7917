// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions in NHWC (private to the engine).
//
// For 3x3 convolutions with stride 1, dilation 1 and one group, the F(2x2, 3x3)
// algorithm computes each 2x2 output tile from a 4x4 input tile with 16 products
// instead of 36: the work becomes 16 matrix products [tiles x C_in] x [C_in x C_out]
// (2.25x fewer multiply-adds), between an input and an output transform. The 2022
// XNNPACK runs these convolutions as direct (indirect GEMM) convolutions only, which is
// where the engine lost most to ONNX Runtime on ResNet-style networks. The products
// run on the engine's SGEMM micro-kernel directly: the filter is transformed and packed
// into its column strips once, and the input transform writes its row strips, so
// nothing is packed per call. Rounding differs from the direct form by a few ulps per
// product (the transforms only add, subtract and halve).
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/aligned.h"
#include "engine/kernels/nn_sgemm.h"

namespace deepedge::engine::xnn {

class Winograd3x3 {
 public:
  // `filter`: [C_out][3][3][C_in] (XNNPACK's OHWI), `bias`: [C_out]. Outputs are
  // clamped to [out_min, out_max] (a fused Relu / Clip). `tile`: the output tile, 2
  // (F(2x2, 3x3): 16 products) or 4 (F(4x4, 3x3): 36 products for 16 outputs, 4x fewer
  // multiply-adds than direct; its transforms scale by up to 8, so rounding grows).
  Winograd3x3(const float* filter, const float* bias, std::size_t c_in, std::size_t c_out,
              float out_min, float out_max, std::size_t tile = 2);

  // in: [n][h][w][C_in]; out: [n][out_h][out_w][C_out], where out_h <= h + pad_top + 1
  // - 2 + pad_bottom (the caller resolves the padding; positions outside the input
  // read as zero). Work is split over ctx's threads (ctx may be null: one thread).
  // Thread-safety: Run may be called from one thread at a time per object.
  void Run(KernelContext* ctx, const float* in, std::size_t n, std::size_t h, std::size_t w,
           std::size_t pad_top, std::size_t pad_left, std::size_t out_h, std::size_t out_w,
           float* out) const;

  std::size_t c_in() const { return c_in_; }
  std::size_t c_out() const { return c_out_; }
  std::size_t tile() const { return tile_; }

 private:
  std::size_t c_in_, c_out_;
  std::size_t tile_;         // 2 or 4
  std::size_t products_;     // (tile + 2)^2
  nn::SgemmMicroKernel uk_;  // chosen at construction; the packing follows its mr, nr
  std::size_t n_strips_;     // column strips of nr output channels
  AlignedFloats u_;          // transformed filter, packed: [products][n_strips][C_in][nr]
  AlignedFloats bias_;
  float out_min_, out_max_;
};

// Whether a 3x3 stride-1 single-group convolution of these sizes is worth the
// Winograd form: channel counts and output tiles large enough for the products to
// pay for the transforms.
bool WinogradPays(std::size_t c_in, std::size_t c_out, std::size_t tiles);

// The output tile for a 3x3 stride-1 single-group convolution with n x out_h x out_w
// outputs: 0 (not Winograd: WinogradPays says no), 4 where F(4x4) pays (32+ channels in
// and out, 32+ tiles of 4x4: maps of 28x28 and more; at 14x14 it measured no faster;
// DEEPEDGE_WINOGRAD_F4 not "off"), else 2.
std::size_t WinogradTile(std::size_t c_in, std::size_t c_out, std::size_t n, std::size_t out_h,
                         std::size_t out_w);

// Whether XNNPACK regions use the Winograd form: yes unless the environment sets
// DEEPEDGE_WINOGRAD=off (to compare against XNNPACK's direct convolution).
bool WinogradEnabled();

}  // namespace deepedge::engine::xnn
