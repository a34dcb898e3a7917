#include "zoo/models.h"

#include <cstdint>
#include <string>

namespace deepedge::zoo {

namespace {

std::string Idx(const std::string& prefix, int i) {
  return prefix + std::to_string(i);
}

}  // namespace

std::string MobileNetV1(GraphBuilder& b, const std::string& input, double alpha) {
  auto width = [alpha](std::int64_t c) {
    return static_cast<std::int64_t>(static_cast<double>(c) * alpha);
  };
  std::int64_t channels = width(32);
  std::string x =
      b.ConvBnAct("conv0", input,
                  {.in_channels = 3, .out_channels = channels, .kernel = 3, .stride = 2, .pad = 1},
                  Activation::kRelu6);
  // Table 1: the 13 depthwise-separable layers as (output channels, dw stride).
  struct Block {
    std::int64_t out;
    std::int64_t stride;
  };
  static constexpr Block kBlocks[] = {{64, 1},  {128, 2},  {128, 1}, {256, 2}, {256, 1},
                                      {512, 2}, {512, 1},  {512, 1}, {512, 1}, {512, 1},
                                      {512, 1}, {1024, 2}, {1024, 1}};
  int i = 1;
  for (const Block& blk : kBlocks) {
    const std::string name = Idx("block", i++);
    x = b.ConvBnAct(name + ".dw", x,
                    {.in_channels = channels,
                     .out_channels = channels,
                     .kernel = 3,
                     .stride = blk.stride,
                     .pad = 1,
                     .group = channels},
                    Activation::kRelu6);
    const std::int64_t out = width(blk.out);
    x = b.ConvBnAct(name + ".pw", x, {.in_channels = channels, .out_channels = out},
                    Activation::kRelu6);
    channels = out;
  }
  x = b.GlobalAveragePool("pool", x);
  x = b.Flatten("flatten", x);
  return b.Gemm("fc", x, channels, 1000, /*last=*/true);
}

std::string MobileNetV2(GraphBuilder& b, const std::string& input) {
  std::int64_t channels = 32;
  std::string x = b.ConvBnAct(
      "conv0", input, {.in_channels = 3, .out_channels = 32, .kernel = 3, .stride = 2, .pad = 1},
      Activation::kRelu6);
  // Table 2: expansion t, output channels c, repeats n, first stride s.
  struct Stage {
    std::int64_t t, c, n, s;
  };
  static constexpr Stage kStages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int block = 1;
  for (const Stage& st : kStages) {
    for (std::int64_t r = 0; r < st.n; ++r) {
      const std::string name = Idx("block", block++);
      const std::int64_t stride = r == 0 ? st.s : 1;
      const std::int64_t hidden = channels * st.t;
      std::string y = x;
      if (st.t != 1) {
        y = b.ConvBnAct(name + ".expand", y, {.in_channels = channels, .out_channels = hidden},
                        Activation::kRelu6);
      }
      y = b.ConvBnAct(name + ".dw", y,
                      {.in_channels = hidden,
                       .out_channels = hidden,
                       .kernel = 3,
                       .stride = stride,
                       .pad = 1,
                       .group = hidden},
                      Activation::kRelu6);
      // The linear bottleneck: no activation after the projection.
      y = b.ConvBnAct(name + ".project", y, {.in_channels = hidden, .out_channels = st.c},
                      Activation::kNone);
      if (stride == 1 && channels == st.c) y = b.Add(name + ".add", x, y);
      x = y;
      channels = st.c;
    }
  }
  x = b.ConvBnAct("conv_last", x, {.in_channels = channels, .out_channels = 1280},
                  Activation::kRelu6);
  x = b.GlobalAveragePool("pool", x);
  x = b.Flatten("flatten", x);
  return b.Gemm("fc", x, 1280, 1000, /*last=*/true);
}

namespace {

std::string Fire(GraphBuilder& b, const std::string& name, const std::string& x, std::int64_t in,
                 std::int64_t squeeze, std::int64_t expand1, std::int64_t expand3) {
  std::string s =
      b.Conv(name + ".squeeze", x, {.in_channels = in, .out_channels = squeeze, .bias = true});
  s = b.Relu(name + ".squeeze_relu", s);
  std::string e1 = b.Conv(name + ".expand1x1", s,
                          {.in_channels = squeeze, .out_channels = expand1, .bias = true});
  e1 = b.Relu(name + ".expand1x1_relu", e1);
  std::string e3 = b.Conv(
      name + ".expand3x3", s,
      {.in_channels = squeeze, .out_channels = expand3, .kernel = 3, .pad = 1, .bias = true});
  e3 = b.Relu(name + ".expand3x3_relu", e3);
  return b.Concat(name + ".concat", {e1, e3}, 1);
}

}  // namespace

std::string SqueezeNet11(GraphBuilder& b, const std::string& input) {
  std::string x =
      b.Conv("conv1", input,
             {.in_channels = 3, .out_channels = 64, .kernel = 3, .stride = 2, .bias = true});
  x = b.Relu("relu1", x);
  x = b.MaxPool("pool1", x, 3, 2, 0, /*ceil_mode=*/true);
  x = Fire(b, "fire2", x, 64, 16, 64, 64);
  x = Fire(b, "fire3", x, 128, 16, 64, 64);
  x = b.MaxPool("pool3", x, 3, 2, 0, /*ceil_mode=*/true);
  x = Fire(b, "fire4", x, 128, 32, 128, 128);
  x = Fire(b, "fire5", x, 256, 32, 128, 128);
  x = b.MaxPool("pool5", x, 3, 2, 0, /*ceil_mode=*/true);
  x = Fire(b, "fire6", x, 256, 48, 192, 192);
  x = Fire(b, "fire7", x, 384, 48, 192, 192);
  x = Fire(b, "fire8", x, 384, 64, 256, 256);
  x = Fire(b, "fire9", x, 512, 64, 256, 256);
  // The classifier is convolutional: 1x1 conv to the classes, then average them.
  x = b.Conv("conv10", x, {.in_channels = 512, .out_channels = 1000, .bias = true});
  x = b.Relu("relu10", x);
  x = b.GlobalAveragePool("pool10", x);
  return b.Flatten("flatten", x);
}

std::string ResNet18(GraphBuilder& b, const std::string& input) {
  std::string x = b.ConvBnAct(
      "conv1", input, {.in_channels = 3, .out_channels = 64, .kernel = 7, .stride = 2, .pad = 3},
      Activation::kRelu);
  x = b.MaxPool("maxpool", x, 3, 2, 1);
  std::int64_t channels = 64;
  const std::int64_t kWidths[] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = kWidths[stage];
    for (int blk = 0; blk < 2; ++blk) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(blk);
      const std::int64_t stride = (blk == 0 && stage > 0) ? 2 : 1;
      std::string y = b.ConvBnAct(
          name + ".1", x,
          {.in_channels = channels, .out_channels = width, .kernel = 3, .stride = stride, .pad = 1},
          Activation::kRelu);
      y = b.ConvBnAct(name + ".2", y,
                      {.in_channels = width, .out_channels = width, .kernel = 3, .pad = 1},
                      Activation::kNone);
      std::string shortcut = x;
      if (stride != 1 || channels != width) {
        shortcut = b.ConvBnAct(name + ".downsample", x,
                               {.in_channels = channels, .out_channels = width, .stride = stride},
                               Activation::kNone);
      }
      x = b.Relu(name + ".relu", b.Add(name + ".add", y, shortcut));
      channels = width;
    }
  }
  x = b.GlobalAveragePool("avgpool", x);
  x = b.Flatten("flatten", x);
  return b.Gemm("fc", x, 512, 1000, /*last=*/true);
}

std::string AlexNetCaffeNet(GraphBuilder& b, const std::string& input) {
  // CaffeNet: pool before norm (the original AlexNet normalizes first), and the
  // two-GPU split of conv2/4/5 as group 2.
  std::string x =
      b.Conv("conv1", input,
             {.in_channels = 3, .out_channels = 96, .kernel = 11, .stride = 4, .bias = true});
  x = b.Relu("relu1", x);
  x = b.MaxPool("pool1", x, 3, 2, 0);
  x = b.Lrn("norm1", x, 5, 1e-4f, 0.75f, 1.0f);
  x = b.Conv(
      "conv2", x,
      {.in_channels = 96, .out_channels = 256, .kernel = 5, .pad = 2, .group = 2, .bias = true});
  x = b.Relu("relu2", x);
  x = b.MaxPool("pool2", x, 3, 2, 0);
  x = b.Lrn("norm2", x, 5, 1e-4f, 0.75f, 1.0f);
  x = b.Conv("conv3", x,
             {.in_channels = 256, .out_channels = 384, .kernel = 3, .pad = 1, .bias = true});
  x = b.Relu("relu3", x);
  x = b.Conv(
      "conv4", x,
      {.in_channels = 384, .out_channels = 384, .kernel = 3, .pad = 1, .group = 2, .bias = true});
  x = b.Relu("relu4", x);
  x = b.Conv(
      "conv5", x,
      {.in_channels = 384, .out_channels = 256, .kernel = 3, .pad = 1, .group = 2, .bias = true});
  x = b.Relu("relu5", x);
  x = b.MaxPool("pool5", x, 3, 2, 0);
  x = b.Flatten("flatten", x);
  x = b.Relu("relu6", b.Gemm("fc6", x, 256 * 6 * 6, 4096));
  x = b.Relu("relu7", b.Gemm("fc7", x, 4096, 4096));
  return b.Gemm("fc8", x, 4096, 1000, /*last=*/true);
}

}  // namespace deepedge::zoo
