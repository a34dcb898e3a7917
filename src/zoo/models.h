// The zoo's architectures (private to deepedge_zoo). Each function adds the layers
// from `input` (float [N, 3, H, W]) to the logits and returns the logits' tensor
// name ([N, 1000], before Softmax).
#pragma once

#include <string>

#include "zoo/graph_builder.h"

namespace deepedge::zoo {

// Howard et al. 2017, Table 1, with width multiplier `alpha`.
std::string MobileNetV1(GraphBuilder& b, const std::string& input, double alpha);
// Sandler et al. 2018, Table 2, width 1.0.
std::string MobileNetV2(GraphBuilder& b, const std::string& input);
// torchvision squeezenet1_1 (Iandola et al. 2016, SqueezeNet v1.1 from the authors' repo).
std::string SqueezeNet11(GraphBuilder& b, const std::string& input);
// He et al. 2016, Table 1, 18 layers, projection (1x1/2 conv + BN) shortcuts.
std::string ResNet18(GraphBuilder& b, const std::string& input);
// BVLC CaffeNet (Krizhevsky et al. 2012 with pooling before normalization), input 227.
std::string AlexNetCaffeNet(GraphBuilder& b, const std::string& input);

}  // namespace deepedge::zoo
