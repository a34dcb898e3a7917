// A convolution as im2col + matrix product on the engine's SGEMM micro-kernel, in
// NHWC (private to the engine), for the shapes where the 2022 XNNPACK's direct
// (indirect-GEMM) convolution was slowest in ResNet-18 on this project's VM:
//
// - a stem over a 3-channel image (7x7 stride 2): XNNPACK's 7x16 kernel reads three
//   channels per tap; here each output pixel's window is gathered once into a row of
//   kh * kw * C_in values, kh contiguous runs of kw * C_in floats each (in NHWC the
//   kw taps of one window row are neighbouring pixels, whatever the stride), and the
//   product runs on the 14x32 kernel;
// - deep layers on small maps (3x3 on 7x7 with 512 channels: a 9.4 MB filter for 49
//   pixels): the filter is streamed once per run, block by block, each block serving
//   every row strip from L1 while the gathered rows stay in L2.
//
// The bias and a fused Relu / Clip are folded into the micro-kernel's last pass.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/aligned.h"
#include "engine/kernels/nn_sgemm.h"

namespace deepedge::engine::xnn {

struct ConvGemmGeometry {
  std::size_t n, h, w;             // input images and size
  std::size_t out_h, out_w;        // output size
  std::size_t stride_h, stride_w;  // dilation is 1
  std::size_t pad_top, pad_left;   // positions outside the input read as zero
};

class ConvGemm {
 public:
  // `filter`: [C_out][kh][kw][C_in] (XNNPACK's OHWI), `bias`: [C_out]. Outputs are
  // clamped to [out_min, out_max]. Both arrays are copied.
  ConvGemm(const float* filter, const float* bias, std::size_t c_out, std::size_t kh,
           std::size_t kw, std::size_t c_in, float out_min, float out_max);

  // in: [n][h][w][C_in]; out: [n][out_h][out_w][C_out]; they must not overlap. Work is
  // split over ctx's threads (ctx may be null: one thread). Thread-safety: Run may be
  // called from several threads at once (its scratch is per thread).
  void Run(KernelContext* ctx, const float* in, const ConvGemmGeometry& g, float* out) const;

 private:
  // Gathers the windows of output pixels [p0, p1) into rows of k_ floats, lda apart.
  void Gather(const float* in, const ConvGemmGeometry& g, std::size_t p0, std::size_t p1,
              float* rows, std::size_t lda) const;

  // Where the packed filter's row k of column strip js starts.
  std::size_t PackedOffset(std::size_t js, std::size_t k) const;

  std::size_t c_out_, kh_, kw_, c_in_, k_;
  nn::SgemmMicroKernel uk_;      // chosen at construction; the packing follows its nr
  std::size_t n_strips_;         // column strips of nr output channels
  nn::StripWidths strip_width_;  // columns computed per strip (half for a half-used last)
  bool stream_;                  // whether the filter is large enough to be streamed
  // Filter, packed into nr-column strips (zero past C_out): [n_strips][k][nr], or when
  // streamed [k / 256 blocks][n_strips][256][nr] (the last block zero-padded).
  AlignedFloats b_;
  AlignedFloats bias_;  // [n_strips * nr], zero past C_out
  float out_min_, out_max_;
};

// Whether a single-group, dilation-1 convolution of these sizes runs faster here than on
// XNNPACK (measured on ResNet-18 on this project's VM): a stem over at most 4 input
// channels with a window of 5x5 or more (3x3 or more on CPUs without AVX-512), or a
// stride-1 filter of 2 MB or more (with stride 2, XNNPACK was as fast with AVX-512);
// without AVX-512 also any convolution of stride 2 or more onto 16 or more channels.
// `stride` is 0 when the two strides differ.
bool ConvGemmPays(std::size_t c_in, std::size_t kh, std::size_t kw, std::size_t c_out,
                  std::size_t stride);

// Whether XNNPACK regions use it: yes unless the environment sets DEEPEDGE_CONV_GEMM=off.
bool ConvGemmEnabled();

}  // namespace deepedge::engine::xnn
