// The layer graph and the cutter on zoo models built in memory.
#include <gtest/gtest.h>

#include "deepedge/onnx_model.h"
#include "deepedge/partition.h"
#include "deepedge/zoo.h"

namespace deepedge::partition {
namespace {

ModelSource Zoo(const char* name) {
  Expected<std::vector<std::uint8_t>> bytes = ZooBuild(name);
  EXPECT_TRUE(bytes.has_value());
  return ModelSource::FromBytes(ModelFormat::kOnnx, bytes ? *bytes : std::vector<std::uint8_t>{});
}

TEST(LayerGraph, MobileNetIsAChainWithKnownSizes) {
  const ModelSource src = Zoo("mobilenet_v1_0.25_224");
  Expected<LayerGraph> g = BuildLayerGraph(src);
  ASSERT_TRUE(g.has_value()) << g.status().message();
  EXPECT_TRUE(g->IsChain());
  const int conv0 = g->Find("conv0.conv");
  ASSERT_GE(conv0, 0);
  const Layer& l = g->layers[static_cast<std::size_t>(conv0)];
  EXPECT_EQ(l.output_bytes, 8 * 112 * 112 * 4);  // width 0.25: 8 channels
  EXPECT_EQ(l.input_bytes, 3 * 224 * 224 * 4);
  EXPECT_EQ(l.macs, 8LL * 112 * 112 * 3 * 3 * 3);
  std::int64_t macs = 0;
  for (const Layer& x : g->layers) macs += x.macs;
  // The published figure is 41 M (rounded).
  EXPECT_NEAR(static_cast<double>(macs), 41e6, 2e6);
  EXPECT_TRUE(g->tensors.back().graph_output || g->layers.back().outputs.size() == 1);
}

// Depthwise means one input channel per group: MobileNet's 3x3 group convolutions are,
// AlexNet's group-2 convolutions (two halves of an ordinary convolution) are grouped
// ones, and its whole convolutions plain kxk ones.
TEST(LayerGraph, OnlyOneChannelPerGroupIsDepthwise) {
  Expected<LayerGraph> mobilenet = BuildLayerGraph(Zoo("mobilenet_v1_0.25_224"));
  ASSERT_TRUE(mobilenet.has_value()) << mobilenet.status().message();
  int depthwise = 0;
  for (const Layer& l : mobilenet->layers) depthwise += LayerClass(l) == "depthwise";
  EXPECT_EQ(depthwise, 13);

  Expected<LayerGraph> alexnet = BuildLayerGraph(Zoo("alexnet_caffenet"));
  ASSERT_TRUE(alexnet.has_value()) << alexnet.status().message();
  int grouped = 0, convs = 0;
  for (const Layer& l : alexnet->layers) {
    if (l.type != "Conv") continue;
    ++convs;
    grouped += l.group > 1;
    // conv3 (3x3 stride 1 on 13x13, 256 -> 384) is one the engine runs through Winograd.
    const bool winograd = l.group == 1 && l.kernel_shape == std::vector<std::int64_t>{3, 3};
    EXPECT_EQ(LayerClass(l), l.group > 1 ? "gconv" : winograd ? "conv3x3" : "conv") << l.name;
    EXPECT_GT(l.kernel_size, 1) << l.name;
  }
  EXPECT_EQ(convs, 5);
  EXPECT_GE(grouped, 1);
}

// 1x1 convolutions and matrix products of several rows have classes of their own; a
// profile without their fits predicts them from "conv" and "fc".
TEST(LayerGraph, PointwiseAndManyRowProductsHaveTheirOwnClasses) {
  Expected<LayerGraph> mobilenet = BuildLayerGraph(Zoo("mobilenet_v1_0.25_224"));
  ASSERT_TRUE(mobilenet.has_value()) << mobilenet.status().message();
  int pointwise = 0, fc = 0;
  for (const Layer& l : mobilenet->layers) {
    pointwise += LayerClass(l) == "conv1x1";
    fc += LayerClass(l) == "fc";
  }
  EXPECT_EQ(pointwise, 13);
  EXPECT_EQ(fc, 1);  // the classifier: one row
  Layer product;
  product.type = "MatMul";
  product.macs = 40 * 120 * 360;
  product.input_bytes = 40 * 120 * 4;
  product.output_bytes = 40 * 360 * 4;
  EXPECT_EQ(LayerClass(product), "matmul");
  EXPECT_EQ(ParentLayerClass("matmul"), "fc");
  EXPECT_EQ(ParentLayerClass("conv1x1"), "conv");
  EXPECT_EQ(ParentLayerClass("gconv"), "conv");
  EXPECT_EQ(ParentLayerClass("pool"), "");
}

// ResNet-18's 3x3 stride-1 convolutions on 56x56 to 14x14 maps run through the engine's
// Winograd (one class); its stride-2 ones, those on 7x7 maps (16 tiles) and the 7x7 stem
// do not (another).
TEST(LayerGraph, WinogradConvolutionsHaveTheirOwnClass) {
  Expected<LayerGraph> g = BuildLayerGraph(Zoo("resnet18"));
  ASSERT_TRUE(g.has_value()) << g.status().message();
  int winograd = 0, other = 0;
  for (const Layer& l : g->layers) {
    const std::string c = LayerClass(l);
    winograd += c == "conv3x3";
    other += c == "conv";
    if (c == "conv3x3") {
      EXPECT_EQ(l.strides, (std::vector<std::int64_t>{1, 1})) << l.name;
    }
  }
  // 16 3x3 convolutions: 3 of them stride 2 (layer2-4's first), 3 on layer4's 7x7 maps.
  EXPECT_EQ(winograd, 10);
  EXPECT_EQ(other, 7);
  EXPECT_EQ(ParentLayerClass("conv3x3"), "conv");
}

TEST(LayerGraph, ResNetBranches) {
  Expected<LayerGraph> g = BuildLayerGraph(Zoo("resnet18"));
  ASSERT_TRUE(g.has_value()) << g.status().message();
  EXPECT_FALSE(g->IsChain());
  int adds = 0;
  for (const Layer& l : g->layers) adds += l.type == "Add";
  EXPECT_EQ(adds, 8);
}

TEST(SplitModel, BothPartsPassTheCheckerAndShareTheCut) {
  const ModelSource src = Zoo("resnet18");
  Expected<LayerGraph> g = BuildLayerGraph(src);
  ASSERT_TRUE(g.has_value());
  // Cut in the middle of a residual block: the skip tensor crosses too.
  std::vector<bool> e(g->layers.size(), false);
  const int stop = g->Find("layer2.0.2.conv");
  ASSERT_GT(stop, 0);
  for (int i = 0; i < stop; ++i) e[static_cast<std::size_t>(i)] = true;
  ASSERT_TRUE(IsValidPlan(*g, e));
  Expected<SplitResult> r = SplitModel(src, *g, e);
  ASSERT_TRUE(r.has_value()) << r.status().message();
  EXPECT_GE(r->cut_tensors.size(), 2u);
  EXPECT_EQ(r->head_outputs, r->cut_tensors);
  EXPECT_EQ(r->tail_inputs, r->cut_tensors);
  EXPECT_EQ(CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, r->head)).message(), "");
  EXPECT_TRUE(CheckOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, r->tail)).ok());
  // An invalid plan is refused.
  e[static_cast<std::size_t>(stop) + 1] = true;
  EXPECT_FALSE(SplitModel(src, *g, e).has_value());
}

}  // namespace
}  // namespace deepedge::partition
