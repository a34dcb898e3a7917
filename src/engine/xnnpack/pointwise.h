// 1x1 stride-1 convolution in NHWC (private to the engine): a matrix product
// [pixels x C_in] x [C_in x C_out] run on the engine's SGEMM micro-kernel.
//
// In NHWC the input already is the product's left operand, row by row, so nothing is
// packed per call: the micro-kernel reads the input rows in place and a filter packed
// into its column strips once, at construction. Bias and a fused Relu / Clip are
// applied to each output tile while it is still in L1. The 2022 XNNPACK runs these
// layers on a 7x16 GEMM micro-kernel (AVX-512), which on this project's VM reached about
// 75 GMAC/s per core on MobileNet v1's pointwise layers; the engine's 14x32 kernel
// reaches about 100 on the same shapes (see benchmarks/sgemm).
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/aligned.h"
#include "engine/kernels/nn_sgemm.h"

namespace deepedge::engine::xnn {

class Pointwise1x1 {
 public:
  // `filter`: [C_out][C_in] (XNNPACK's OHWI with a 1x1 window), `bias`: [C_out].
  // Outputs are clamped to [out_min, out_max] (a fused Relu / Clip). Both arrays are
  // copied; the object keeps no pointer to them.
  Pointwise1x1(const float* filter, const float* bias, std::size_t c_in, std::size_t c_out,
               float out_min, float out_max);

  // in: [pixels][C_in]; out: [pixels][C_out]; they must not overlap. Work is split over
  // ctx's threads (ctx may be null: one thread). Thread-safety: Run keeps no state
  // between calls and may be called from several threads at once.
  void Run(KernelContext* ctx, const float* in, std::size_t pixels, float* out) const;

  std::size_t c_in() const { return c_in_; }
  std::size_t c_out() const { return c_out_; }

 private:
  std::size_t c_in_, c_out_;
  nn::SgemmMicroKernel uk_;      // chosen at construction; the packing follows its nr
  std::size_t n_strips_;         // column strips of nr output channels
  nn::StripWidths strip_width_;  // columns computed per strip (half for a half-used last)
  AlignedFloats b_;              // filter, packed: [n_strips][C_in][nr], zero past C_out
  AlignedFloats bias_;           // [n_strips * nr], zero past C_out
  float out_min_, out_max_;
};

// Whether a 1x1 convolution of these sizes runs faster here than on XNNPACK. Measured
// in MobileNet v1: with AVX-512, from 128 input channels on maps of 32 pixels and more
// (shallower layers are bound by memory: both run at the same speed, or XNNPACK wins)
// onto 32 or more; with AVX2 only, from 16 input channels onto 16 or more.
bool PointwisePays(std::size_t c_in, std::size_t c_out, std::size_t pixels);

// Whether XNNPACK regions run 1x1 convolutions on the engine's kernel: yes unless the
// environment sets DEEPEDGE_POINTWISE=off (to compare against XNNPACK's GEMM).
bool PointwiseEnabled();

}  // namespace deepedge::engine::xnn
