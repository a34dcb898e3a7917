// 3x3 depthwise convolution in NHWC (private to the engine), stride 1 or 2.
//
// The 2022 XNNPACK splits a depthwise convolution over output rows and reads each
// output pixel's nine inputs through an indirection buffer; on this project's 2-core VM
// MobileNet v1's depthwise layers ran 1.4x faster on two threads than on one, where
// ONNX Runtime's ran 2x faster. Here each task is a block of output rows, and within a
// row each block of channels (16 with AVX-512, 8 otherwise: one register) keeps its nine
// filter vectors in registers while it walks the row, four output pixels at a time.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kernel.h"
#include "engine/kernels/aligned.h"

namespace deepedge::engine::xnn {

class Depthwise3x3 {
 public:
  // `filter`: [3][3][C] (XNNPACK's depthwise layout [1][KH][KW][C]), `bias`: [C].
  // Outputs are clamped to [out_min, out_max] (a fused Relu / Clip). Both arrays are
  // copied. stride: 1 or 2 (both axes).
  Depthwise3x3(const float* filter, const float* bias, std::size_t channels, std::size_t stride,
               float out_min, float out_max);

  // in: [n][h][w][C]; out: [n][out_h][out_w][C]; out[y][x] reads in[y * stride - pad_top
  // + i][x * stride - pad_left + j] for i, j < 3, positions outside the input reading as
  // zero. Work is split over ctx's threads (ctx may be null: one thread). Thread-safety:
  // Run keeps no state between calls and may be called from several threads at once.
  void Run(KernelContext* ctx, const float* in, std::size_t n, std::size_t h, std::size_t w,
           std::size_t pad_top, std::size_t pad_left, std::size_t out_h, std::size_t out_w,
           float* out) const;

 private:
  std::size_t c_, c_padded_, stride_;
  AlignedFloats filter_;  // [3][3][c_padded], zero past C
  AlignedFloats bias_;    // [c_padded]
  float out_min_, out_max_;
};

// Whether XNNPACK regions may run 3x3 depthwise convolutions on the engine's kernel: yes
// unless the environment sets DEEPEDGE_DEPTHWISE=off (to compare against XNNPACK).
bool DepthwiseEnabled();

// Whether the kernel beats XNNPACK's on this CPU for a layer of `channels` channels:
// with AVX-512 (MobileNet v1's first depthwise layer 0.237 -> 0.100 ms), unless the
// channels are a multiple of 256. On an AVX2-only EPYC, even with 8-lane blocks and FMA,
// MobileNet v1's depthwise layers took 2.6-3.7 ms against XNNPACK's 1.8 ms.
bool DepthwisePays(std::size_t channels);

}  // namespace deepedge::engine::xnn
