// The architecture of the Fashion-MNIST classifier, shared by the libtorch model that
// trains it and the ONNX exporter, so that the two cannot drift apart.
//
// A small MobileNet v1 (Howard et al. 2017): a 3x3 stem convolution, then
// depthwise-separable blocks (3x3 depthwise, 1x1 pointwise), each convolution followed
// by BatchNorm and ReLU, then global average pooling and one fully connected layer.
// Input: float [N, 1, 28, 28], pixel / 255 (range [0, 1]); output: [N, 10].
#pragma once

#include <cstdint>

namespace deepedge::train {

inline constexpr std::int64_t kImageSize = 28;
inline constexpr std::int64_t kClasses = 10;
inline constexpr std::int64_t kStemChannels = 32;  // conv0: 3x3, stride 1

struct BlockSpec {
  std::int64_t out;     // pointwise output channels
  std::int64_t stride;  // of the depthwise convolution
};
// 28x28 -> 14x14 -> 7x7: two stride-2 blocks, each followed by a stride-1 block.
inline constexpr BlockSpec kBlocks[] = {{64, 2}, {64, 1}, {128, 2}, {128, 1}};

// The Fashion-MNIST class names in label order (Xiao et al. 2017).
inline constexpr const char* kClassNames[kClasses] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace deepedge::train
