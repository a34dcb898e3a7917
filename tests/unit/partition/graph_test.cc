// The layer graph and the cutter on zoo models built in memory.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <limits>
#include <set>
#include <string>
#include <vector>

#include "deepedge/onnx_model.h"
#include "deepedge/partition.h"
#include "deepedge/zoo.h"
#include "zoo/graph_builder.h"

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
  // Weights: 8x3x3x3 floats (and a bias, if any) for the stem; 0.47 M floats in all.
  EXPECT_GE(l.weight_bytes, 8 * 3 * 3 * 3 * 4);
  EXPECT_LE(l.weight_bytes, 8 * 3 * 3 * 3 * 4 + 8 * 4);
  std::int64_t weights = 0;
  for (const Layer& x : g->layers) weights += x.weight_bytes;
  EXPECT_NEAR(static_cast<double>(weights), 1.9e6, 0.1e6);
}

// Every calibration case is a model whose timed layer the layer graph finds and classes
// as the sweep does, so that each fit is used for the layers it was measured on.
TEST(CalibrationCases, EachCaseIsOfItsOwnClass) {
  Expected<std::vector<CalibrationCase>> cases = CalibrationCases(/*quick=*/false);
  ASSERT_TRUE(cases.has_value()) << cases.status().message();
  std::set<std::string> classes;
  for (const CalibrationCase& c : *cases) {
    const ModelSource src = ModelSource::FromBytes(ModelFormat::kOnnx, c.model);
    Expected<LayerGraph> g = BuildLayerGraph(src);
    ASSERT_TRUE(g.has_value()) << c.description << ": " << g.status().message();
    const int i = g->Find(c.layer);
    ASSERT_GE(i, 0) << c.description;
    const Layer& l = g->layers[static_cast<std::size_t>(i)];
    EXPECT_EQ(LayerClass(l), c.layer_class) << c.description;
    classes.insert(c.layer_class);
    if (c.description == "lstm 128->128 x1 steps") {
      // One step of 4 gates over input and state; the weights are not input bytes.
      EXPECT_EQ(l.macs, 4 * 128 * (128 + 128));
      EXPECT_EQ(l.input_bytes, 128 * 4);
      EXPECT_EQ(l.weight_bytes, (4 * 128 * 128 * 2 + 8 * 128) * 4);
    }
  }
  for (const char* cls : {"conv",    "stem",       "deconv",    "conv3x3", "conv1x1", "conv1d",
                          "gconv",   "depthwise",  "fc",        "matmul",  "lstm",    "pool",
                          "eltwise", "activation", "batchnorm", "lrn",     "softmax", "sigmoid",
                          "resize",  "transpose",  "concat",    "memory"})
    EXPECT_TRUE(classes.count(cls)) << cls;
}

// The reference networks of in-model ratios are whole models the layer graph reads, with
// the layer classes they are meant to measure.
TEST(InModelReferenceNetworks, CoverTheCommonConvolutionClasses) {
  for (bool quick : {true, false}) {
    Expected<std::vector<ReferenceNetwork>> nets = InModelReferenceNetworks(quick);
    ASSERT_TRUE(nets.has_value()) << nets.status().message();
    ASSERT_EQ(nets->size(), quick ? 1u : 2u);
    std::set<std::string> classes;
    for (const ReferenceNetwork& n : *nets) {
      Expected<LayerGraph> g = BuildLayerGraph(ModelSource::FromBytes(ModelFormat::kOnnx, n.model));
      ASSERT_TRUE(g.has_value()) << n.description << ": " << g.status().message();
      EXPECT_NE(n.description.find("synthetic"), std::string::npos);
      EXPECT_GT(g->layers.size(), 20u) << n.description;
      for (const Layer& l : g->layers) classes.insert(LayerClass(l));
    }
    for (const char* cls : {"stem", "conv1x1", "depthwise", "fc", "pool"})
      EXPECT_TRUE(classes.count(cls)) << cls << (quick ? " (quick)" : "");
    if (!quick) {
      for (const char* cls : {"conv3x3", "conv", "eltwise"}) EXPECT_TRUE(classes.count(cls)) << cls;
    }
  }
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
    // conv1 reads the image's 3 channels: a stem.
    const char* want = l.group > 1                 ? "gconv"
                       : winograd                  ? "conv3x3"
                       : l.channels_per_group == 3 ? "stem"
                                                   : "conv";
    EXPECT_EQ(LayerClass(l), want) << l.name;
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
  EXPECT_EQ(ParentLayerClass("stem"), "conv");
  EXPECT_EQ(ParentLayerClass("deconv"), "conv");
  EXPECT_EQ(ParentLayerClass("pool"), "");
}

// ResNet-18's 3x3 stride-1 convolutions on 56x56 to 14x14 maps run through the engine's
// Winograd (one class); its stride-2 ones, those on 7x7 maps (16 tiles) and the 7x7 stem
// do not (another).
TEST(LayerGraph, WinogradConvolutionsHaveTheirOwnClass) {
  Expected<LayerGraph> g = BuildLayerGraph(Zoo("resnet18"));
  ASSERT_TRUE(g.has_value()) << g.status().message();
  int winograd = 0, other = 0, stem = 0;
  for (const Layer& l : g->layers) {
    const std::string c = LayerClass(l);
    winograd += c == "conv3x3";
    other += c == "conv";
    stem += c == "stem";
    if (c == "conv3x3") {
      EXPECT_EQ(l.strides, (std::vector<std::int64_t>{1, 1})) << l.name;
    }
  }
  // 16 3x3 convolutions: 3 of them stride 2 (layer2-4's first), 3 on layer4's 7x7 maps.
  EXPECT_EQ(winograd, 10);
  EXPECT_EQ(other, 6);
  EXPECT_EQ(stem, 1);  // the 7x7 on the image
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

// A model in the shape of PyTorch's exports: F.pad's pads computed at run time
// (ConstantOfShape -> Concat -> Reshape -> Slice backwards -> Transpose -> Reshape ->
// Cast) and an If on an integer input, as Silero VAD's sample rate picks its network.
ModelSource PadThenIf() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("pad_then_if");
  zoo::SetFloatValueInfo(g->add_input(), "x", {1, 6}, "");
  onnx::ValueInfoProto* n = g->add_input();  // an int64 scalar
  n->set_name("n");
  n->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  n->mutable_type()->mutable_tensor_type()->mutable_shape();
  auto ints = [&](const std::string& name, const std::vector<std::int64_t>& v) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(v.size()));
    for (std::int64_t x : v) t->add_int64_data(x);
  };
  auto node = [](onnx::GraphProto* in, const std::string& op, const std::string& name,
                 const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* n = in->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const std::string& i : inputs) n->add_input(i);
    n->add_output(output);
    return n;
  };
  ints("two", {2});
  ints("begin", {1, 2});
  ints("pairs", {-1, 2});
  ints("flat", {-1});
  ints("last", {-1});
  ints("before_first", {std::numeric_limits<std::int64_t>::min()});
  ints("axis0", {0});
  ints("step_back", {-1});
  ints("rate", {16000});
  // int64 zeros (without `value` ConstantOfShape gives float ones).
  onnx::AttributeProto* fill =
      node(g, "ConstantOfShape", "zeros", {"two"}, "zeros")->add_attribute();
  fill->set_name("value");
  fill->set_type(onnx::AttributeProto::TENSOR);
  fill->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  fill->mutable_t()->add_dims(1);
  fill->mutable_t()->add_int64_data(0);
  zoo::AddIntAttr(node(g, "Concat", "concat", {"begin", "zeros"}, "all"), "axis", 0);
  node(g, "Reshape", "as_pairs", {"all", "pairs"}, "as_pairs");
  node(g, "Slice", "backwards", {"as_pairs", "last", "before_first", "axis0", "step_back"},
       "backwards");
  zoo::AddIntsAttr(node(g, "Transpose", "transpose", {"backwards"}, "transposed"), "perm", {1, 0});
  node(g, "Reshape", "flatten", {"transposed", "flat"}, "pads64");
  zoo::AddIntAttr(node(g, "Cast", "cast", {"pads64"}, "pads"), "to", onnx::TensorProto::INT64);
  node(g, "Pad", "pad", {"x", "pads"}, "padded");
  node(g, "Equal", "is_16k", {"n", "rate"}, "is_16k");
  onnx::NodeProto* branch_if = node(g, "If", "if", {"is_16k"}, "z");
  auto branch = [&](const char* attr, const std::string& op) {
    onnx::AttributeProto* a = branch_if->add_attribute();
    a->set_name(attr);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* b = a->mutable_g();
    b->set_name(attr);
    node(b, op, "", {"padded"}, op + "_out");  // unnamed: named by its output
    onnx::ValueInfoProto* out = b->add_output();
    out->set_name(op + "_out");
    out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  };
  branch("then_branch", "Relu");
  branch("else_branch", "Sigmoid");
  onnx::ValueInfoProto* z = g->add_output();
  z->set_name("z");
  z->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  std::string bytes;
  EXPECT_TRUE(m.SerializeToString(&bytes));
  return ModelSource::FromBytes(ModelFormat::kOnnx,
                                std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

TEST(LayerGraph, RunTimePadsFoldAndAnInputValueDecidesTheIf) {
  const ModelSource src = PadThenIf();
  // Without the value the If is one layer (both branches give the same shape).
  Expected<LayerGraph> undecided = BuildLayerGraph(src);
  ASSERT_TRUE(undecided.has_value()) << undecided.status().message();
  const int whole_if = undecided->Find("if");
  ASSERT_GE(whole_if, 0);
  const Layer& if_layer = undecided->layers[static_cast<std::size_t>(whole_if)];
  EXPECT_EQ(if_layer.type, "If");
  // For costing, the graphs with each branch taken: then (Relu), else (Sigmoid).
  ASSERT_EQ(if_layer.branches.size(), 2u);
  EXPECT_GE(if_layer.branches[0].Find("if/Relu_out"), 0);
  EXPECT_GE(if_layer.branches[1].Find("if/Sigmoid_out"), 0);
  // Costed as the costlier branch: the Sigmoid, by a fit 10x the Relu's.
  DeviceProfile device;
  device.fits["activation"] = {"linear", {0.001, 0, 0, 0}, 0, 5};
  device.fits["sigmoid"] = {"linear", {0.01, 0, 0, 0}, 0, 5};
  device.fits["eltwise"] = {"linear", {0.002, 0, 0, 0}, 0, 5};
  Expected<std::vector<LayerCost>> costs = LayerCosts(*undecided, device);
  ASSERT_TRUE(costs.has_value()) << costs.status().message();
  EXPECT_TRUE((*costs)[static_cast<std::size_t>(whole_if)].costlier_branch);
  EXPECT_DOUBLE_EQ((*costs)[static_cast<std::size_t>(whole_if)].time_ms, 0.01);

  for (const auto& [rate, op] : {std::pair<std::int64_t, std::string>{16000, "Relu"},
                                 std::pair<std::int64_t, std::string>{8000, "Sigmoid"}}) {
    SCOPED_TRACE(op);
    Expected<LayerGraph> g = BuildLayerGraph(src, {}, {{"n", {{}, {rate}}}});
    ASSERT_TRUE(g.has_value()) << g.status().message();
    // pads [0, 1, 0, 2]: x [1, 6] -> [1, 9].
    const int pad = g->Find("pad");
    ASSERT_GE(pad, 0);
    EXPECT_EQ(g->layers[static_cast<std::size_t>(pad)].output_bytes, 9 * 4);
    EXPECT_FALSE(g->layers[static_cast<std::size_t>(pad)].shape_computation);
    EXPECT_LT(g->Find("if"), 0);
    const int taken = g->Find("if/" + op + "_out");
    ASSERT_GE(taken, 0);
    const Layer& l = g->layers[static_cast<std::size_t>(taken)];
    EXPECT_EQ(l.type, op);
    EXPECT_EQ(l.output_bytes, 9 * 4);
    // The branch's output is the If's: the graph output z.
    ASSERT_EQ(l.outputs.size(), 1u);
    EXPECT_EQ(g->tensors[static_cast<std::size_t>(l.outputs[0])].name, "z");
    EXPECT_TRUE(g->tensors[static_cast<std::size_t>(l.outputs[0])].graph_output);
    for (const char* shape_only :
         {"zeros", "concat", "as_pairs", "backwards", "transpose", "flatten", "cast", "is_16k"}) {
      const int i = g->Find(shape_only);
      ASSERT_GE(i, 0) << shape_only;
      EXPECT_TRUE(g->layers[static_cast<std::size_t>(i)].shape_computation) << shape_only;
    }
  }
}

}  // namespace
}  // namespace deepedge::partition
