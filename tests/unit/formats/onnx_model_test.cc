#include "deepedge/onnx_model.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "deepedge/zoo.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

constexpr std::int64_t kDyn = Shape::kDynamic;

// Writes tiny models with the protobuf classes. A negative dimension becomes
// dim_param "N"; kNoDim (-2) a dimension with neither value nor symbol.
constexpr std::int64_t kNoDim = -2;

class TinyModel {
 public:
  TinyModel() {
    model_.set_ir_version(8);
    model_.set_producer_name("test");
    model_.set_producer_version("0.1");
    onnx::OperatorSetIdProto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(13);
    model_.mutable_graph()->set_name("tiny");
  }

  onnx::ModelProto& proto() { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }

  void Input(const std::string& name, const std::vector<std::int64_t>& dims,
             int elem_type = onnx::TensorProto::FLOAT) {
    SetValueInfo(graph().add_input(), name, dims, elem_type);
  }
  void Output(const std::string& name, const std::vector<std::int64_t>& dims,
              int elem_type = onnx::TensorProto::FLOAT) {
    SetValueInfo(graph().add_output(), name, dims, elem_type);
  }
  // A zero-filled float initializer.
  void Weight(const std::string& name, const std::vector<std::int64_t>& dims) {
    onnx::TensorProto* t = graph().add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t n = 1;
    for (std::int64_t d : dims) {
      t->add_dims(d);
      n *= d;
    }
    t->mutable_raw_data()->assign(static_cast<std::size_t>(n) * 4, '\0');
  }
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    return AddNodeTo(&graph(), op, inputs, outputs);
  }

  static onnx::NodeProto* AddNodeTo(onnx::GraphProto* g, const std::string& op,
                                    const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    for (const auto& i : inputs) n->add_input(i);
    for (const auto& o : outputs) n->add_output(o);
    return n;
  }
  static void Ints(onnx::NodeProto* n, const std::string& name, std::vector<std::int64_t> v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t x : v) a->add_ints(x);
  }
  static void Int(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
    onnx::AttributeProto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void SetValueInfo(onnx::ValueInfoProto* vi, const std::string& name,
                           const std::vector<std::int64_t>& dims, int elem_type) {
    vi->set_name(name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem_type);
    auto* shape = t->mutable_shape();
    for (std::int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d == kNoDim) continue;
      if (d < 0) {
        dim->set_dim_param("N");
      } else {
        dim->set_dim_value(d);
      }
    }
  }

  std::vector<std::uint8_t> Bytes() const {
    std::string s;
    model_.SerializeToString(&s);
    return {s.begin(), s.end()};
  }
  ModelSource Source() const { return ModelSource::FromBytes(ModelFormat::kOnnx, Bytes()); }

 private:
  onnx::ModelProto model_;
};

std::string AsString(const std::vector<std::uint8_t>& b) {
  return {b.begin(), b.end()};
}

// x[N,3,8,8] -> Conv 3x3 pad 1, 4 filters -> Relu -> y[N,4,8,8].
TinyModel ConvRelu() {
  TinyModel m;
  m.Input("x", {-1, 3, 8, 8});
  m.Weight("w", {4, 3, 3, 3});
  m.Weight("b", {4});
  auto* conv = m.Node("Conv", {"x", "w", "b"}, {"c"});
  TinyModel::Ints(conv, "kernel_shape", {3, 3});
  TinyModel::Ints(conv, "pads", {1, 1, 1, 1});
  m.Node("Relu", {"c"}, {"y"});
  m.Output("y", {-1, 4, 8, 8});
  return m;
}

TEST(InspectOnnxTest, DescribesInterfaceAndSize) {
  auto info = InspectOnnx(ConvRelu().Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->name, "tiny");
  EXPECT_EQ(info->format, ModelFormat::kOnnx);
  ASSERT_EQ(info->inputs.size(), 1u);  // the initializers are not inputs
  EXPECT_EQ(info->inputs[0].name, "x");
  EXPECT_EQ(info->inputs[0].dtype, DType::kF32);
  EXPECT_EQ(info->inputs[0].shape, Shape({kDyn, 3, 8, 8}));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].name, "y");
  EXPECT_EQ(info->outputs[0].shape, Shape({kDyn, 4, 8, 8}));
  EXPECT_EQ(info->operator_counts, (std::map<std::string, std::int64_t>{{"Conv", 1}, {"Relu", 1}}));
  EXPECT_EQ(info->parameter_count, 4 * 3 * 3 * 3 + 4);
  // N = 1: 4 x 8 x 8 outputs, each 3 x 3 x 3 MACs.
  EXPECT_EQ(info->macs, 4 * 8 * 8 * 27);
  EXPECT_EQ(info->producer, "test 0.1");
  EXPECT_FALSE(info->synthetic_weights);
}

TEST(InspectOnnxTest, NamesFileModelsByStem) {
  TempDir dir;
  const auto path = dir.Write("m.onnx", AsString(ConvRelu().Bytes()));
  auto src = ModelSource::FromFile(path);
  ASSERT_TRUE(src.has_value()) << src.status().ToString();
  auto info = InspectOnnx(*src);
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->name, "m");
}

TEST(InspectOnnxTest, TruncatedFileIsCorrupt) {
  TempDir dir;
  const std::vector<std::uint8_t> bytes = ConvRelu().Bytes();
  const auto path = dir.Write("m.onnx", AsString(bytes).substr(0, bytes.size() / 2));
  ModelSource src;
  src.path = path;
  auto info = InspectOnnx(src);
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(info.status().message().find("m.onnx: not a valid ONNX model"), std::string::npos)
      << info.status().message();
  EXPECT_EQ(CheckOnnx(src).code(), StatusCode::kCorrupt);
}

TEST(InspectOnnxTest, EveryTruncationIsCorrupt) {
  // opset_import is serialized after the graph, so no strict prefix is a model.
  const std::vector<std::uint8_t> bytes = ConvRelu().Bytes();
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    std::vector<std::uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    auto info = InspectOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, std::move(prefix)));
    ASSERT_FALSE(info.has_value()) << n;
    EXPECT_EQ(info.status().code(), StatusCode::kCorrupt) << n << ": " << info.status().message();
  }
}

TEST(InspectOnnxTest, GarbageIsCorrupt) {
  TempDir dir;
  std::string noise;
  std::uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1664525u + 1013904223u;
    noise.push_back(static_cast<char>(x >> 24));
  }
  for (const std::string& content : {std::string("this is a text file, not a model\n"), noise}) {
    ModelSource src;
    src.path = dir.Write("g.onnx", content);
    auto info = InspectOnnx(src);
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.status().code(), StatusCode::kCorrupt) << info.status().ToString();
    EXPECT_NE(info.status().message().find("g.onnx: not a valid ONNX model"), std::string::npos)
        << info.status().message();
  }
}

TEST(InspectOnnxTest, EmptyGraphIsCorrupt) {
  TinyModel m;
  m.Input("x", {1});
  m.Output("x", {1});
  auto info = InspectOnnx(m.Source());
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(info.status().message().find("<memory>"), std::string::npos);
  EXPECT_NE(info.status().message().find("empty"), std::string::npos);
}

TEST(InspectOnnxTest, RejectsOtherFormats) {
  ModelSource src = ConvRelu().Source();
  src.format = ModelFormat::kTflite;
  EXPECT_EQ(InspectOnnx(src).status().code(), StatusCode::kInvalidArgument);
}

TEST(InspectOnnxTest, DynamicDimensionsAreReportedAndCountedAsOne) {
  // x[N, ?, 16] (a symbol and a dimension with nothing) x w[16, 8].
  TinyModel m;
  m.Input("x", {-1, kNoDim, 16});
  m.Weight("w", {16, 8});
  m.Node("MatMul", {"x", "w"}, {"y"});
  m.Output("y", {-1, kNoDim, 8});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->inputs[0].shape, Shape({kDyn, kDyn, 16}));
  EXPECT_EQ(info->outputs[0].shape, Shape({kDyn, kDyn, 8}));
  EXPECT_EQ(info->macs, 16 * 8);
}

TEST(InspectOnnxTest, CountsConstantNodeWeightsAsParameters) {
  // The ConvRelu model with its weights in Constant nodes (a tensor and a float
  // list) instead of initializers, as some exporters write them.
  TinyModel m;
  m.Input("x", {-1, 3, 8, 8});
  onnx::NodeProto* w = m.Node("Constant", {}, {"w"});
  onnx::AttributeProto* value = w->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  onnx::TensorProto* t = value->mutable_t();
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : {4, 3, 3, 3}) t->add_dims(d);
  t->mutable_raw_data()->assign(4 * 3 * 3 * 3 * 4, '\0');
  onnx::NodeProto* b = m.Node("Constant", {}, {"b"});
  onnx::AttributeProto* floats = b->add_attribute();
  floats->set_name("value_floats");
  floats->set_type(onnx::AttributeProto::FLOATS);
  for (int i = 0; i < 4; ++i) floats->add_floats(0.5f);
  auto* conv = m.Node("Conv", {"x", "w", "b"}, {"c"});
  TinyModel::Ints(conv, "kernel_shape", {3, 3});
  TinyModel::Ints(conv, "pads", {1, 1, 1, 1});
  m.Node("Relu", {"c"}, {"y"});
  m.Output("y", {-1, 4, 8, 8});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->parameter_count, 4 * 3 * 3 * 3 + 4);
  EXPECT_EQ(info->operator_counts.at("Constant"), 2);
}

TEST(InspectOnnxTest, GemmMacs) {
  for (bool trans_a : {false, true}) {
    TinyModel m;
    m.Input("a", trans_a ? std::vector<std::int64_t>{5, 2} : std::vector<std::int64_t>{2, 5});
    m.Weight("b", {7, 5});
    m.Weight("c", {7});
    auto* gemm = m.Node("Gemm", {"a", "b", "c"}, {"y"});
    TinyModel::Int(gemm, "transA", trans_a ? 1 : 0);
    TinyModel::Int(gemm, "transB", 1);
    m.Output("y", {2, 7});
    auto info = InspectOnnx(m.Source());
    ASSERT_TRUE(info.has_value()) << info.status().ToString();
    EXPECT_EQ(info->macs, 2 * 7 * 5) << "transA " << trans_a;
    EXPECT_EQ(info->parameter_count, 7 * 5 + 7);
  }
}

TEST(InspectOnnxTest, MatMulMacsWithBroadcasting) {
  TinyModel m;
  m.Input("a", {2, 1, 3, 4});
  m.Input("b", {5, 4, 6});
  m.Node("MatMul", {"a", "b"}, {"y"});  // y: [2, 5, 3, 6]
  m.Input("v", {4});
  m.Weight("w", {4, 6});
  m.Node("MatMul", {"v", "w"}, {"z"});  // 1-D: z: [6]
  m.Output("y", {2, 5, 3, 6});
  m.Output("z", {6});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->inputs.size(), 3u);
  EXPECT_EQ(info->macs, 2 * 5 * 3 * 6 * 4 + 6 * 4);
}

TEST(InspectOnnxTest, GroupedThreeDimensionalConvMacs) {
  TinyModel m;
  m.Input("x", {1, 8, 4, 10, 10});
  m.Weight("w", {16, 4, 3, 3, 3});  // group 2: 4 input channels per filter
  auto* conv = m.Node("Conv", {"x", "w"}, {"y"});
  TinyModel::Int(conv, "group", 2);
  TinyModel::Ints(conv, "kernel_shape", {3, 3, 3});
  m.Output("y", {1, 16, 2, 8, 8});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->macs, (16 * 2 * 8 * 8) * (4 * 27));
}

TEST(InspectOnnxTest, ConvTransposeMacs) {
  TinyModel m;
  m.Input("x", {1, 4, 5, 5});
  m.Weight("w", {4, 2, 3, 3});  // 4 in, 2 out
  auto* deconv = m.Node("ConvTranspose", {"x", "w"}, {"y"});
  TinyModel::Ints(deconv, "strides", {2, 2});
  m.Output("y", {1, 2, 11, 11});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  // Every input element meets every weight of its input channel.
  EXPECT_EQ(info->macs, (4 * 5 * 5) * (2 * 3 * 3));
}

TEST(InspectOnnxTest, UnresolvableShapeLeavesMacsEmpty) {
  // The MatMul input's shape depends on a runtime tensor.
  TinyModel m;
  m.Input("x", {6, 4});
  m.Input("shape", {2}, onnx::TensorProto::INT64);
  m.Weight("w", {4, 3});
  m.Node("Reshape", {"x", "shape"}, {"r"});
  m.Node("MatMul", {"r", "w"}, {"y"});
  m.Output("y", {kNoDim, 3});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_FALSE(info->macs.has_value()) << *info->macs;
  EXPECT_EQ(info->parameter_count, 12);
}

TinyModel WithIf(bool conv_in_branch) {
  TinyModel m;
  m.Input("cond", {}, onnx::TensorProto::BOOL);
  m.Input("x", {1, 1, 4, 4});
  m.Weight("w", {1, 1, 1, 1});
  auto* node = m.Node("If", {"cond"}, {"y"});
  for (const char* branch : {"then_branch", "else_branch"}) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(branch);
    a->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto* g = a->mutable_g();
    g->set_name(branch);
    if (conv_in_branch) {
      TinyModel::AddNodeTo(g, "Conv", {"x", "w"}, {std::string(branch) + "_out"});
    } else {
      TinyModel::AddNodeTo(g, "Relu", {"x"}, {std::string(branch) + "_r"});
      TinyModel::AddNodeTo(g, "Neg", {std::string(branch) + "_r"}, {std::string(branch) + "_out"});
    }
    TinyModel::SetValueInfo(g->add_output(), std::string(branch) + "_out", {1, 1, 4, 4},
                            onnx::TensorProto::FLOAT);
  }
  m.Output("y", {1, 1, 4, 4});
  return m;
}

TEST(InspectOnnxTest, CountsOperatorsInSubgraphs) {
  auto info = InspectOnnx(WithIf(false).Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->operator_counts,
            (std::map<std::string, std::int64_t>{{"If", 1}, {"Neg", 2}, {"Relu", 2}}));
  EXPECT_EQ(info->macs, 0);
}

TEST(InspectOnnxTest, MacOperatorsInSubgraphsLeaveMacsEmpty) {
  auto info = InspectOnnx(WithIf(true).Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->operator_counts.at("Conv"), 2);
  EXPECT_FALSE(info->macs.has_value());
}

TEST(InspectOnnxTest, UnsupportedElementTypeNamesTheTensor) {
  TinyModel m;
  m.Input("precise", {2}, onnx::TensorProto::DOUBLE);
  m.Node("Relu", {"precise"}, {"y"});
  m.Output("y", {2}, onnx::TensorProto::DOUBLE);
  auto info = InspectOnnx(m.Source());
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(info.status().message().find("'precise'"), std::string::npos);
  EXPECT_NE(info.status().message().find("DOUBLE"), std::string::npos);
}

TEST(InspectOnnxTest, NonTensorInputIsUnsupported) {
  TinyModel m;
  onnx::ValueInfoProto* vi = m.graph().add_input();
  vi->set_name("seq");
  vi->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(onnx::TensorProto::FLOAT);
  m.Node("SequenceLength", {"seq"}, {"n"});
  m.Output("n", {}, onnx::TensorProto::INT64);
  auto info = InspectOnnx(m.Source());
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(info.status().message().find("'seq'"), std::string::npos);
}

TEST(InspectOnnxTest, OtherElementTypesMap) {
  TinyModel m;
  m.Input("h", {2}, onnx::TensorProto::FLOAT16);
  m.Input("q", {2}, onnx::TensorProto::UINT8);
  m.Node("Identity", {"h"}, {"h2"});
  m.Node("Identity", {"q"}, {"q2"});
  m.Output("h2", {2}, onnx::TensorProto::FLOAT16);
  m.Output("q2", {2}, onnx::TensorProto::UINT8);
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->inputs[0].dtype, DType::kF16);
  EXPECT_EQ(info->inputs[1].dtype, DType::kU8);
}

TEST(InspectOnnxTest, InitializersListedAsInputsAreNotInputs) {
  TinyModel m = ConvRelu();
  m.proto().set_ir_version(3);  // before IR 4, weights had to be graph inputs too
  m.Input("w", {4, 3, 3, 3});
  m.Input("b", {4});
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].name, "x");
  EXPECT_EQ(info->macs, 4 * 8 * 8 * 27);
}

TEST(InspectOnnxTest, ReadsSyntheticWeightsMark) {
  TinyModel m = ConvRelu();
  auto* p = m.proto().add_metadata_props();
  p->set_key("deepedge.weights");
  p->set_value("synthetic");
  auto info = InspectOnnx(m.Source());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_TRUE(info->synthetic_weights);
}

TEST(InspectOnnxTest, InspectsAZooModel) {
  auto bytes = ZooBuild("mobilenet_v1_0.25_224");
  ASSERT_TRUE(bytes.has_value()) << bytes.status().ToString();
  auto info = InspectOnnx(ModelSource::FromBytes(ModelFormat::kOnnx, *std::move(bytes)));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->name, "mobilenet_v1_0.25_224");
  EXPECT_TRUE(info->synthetic_weights);
  EXPECT_EQ(info->producer, "deepedge-zoo 1");
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].shape, Shape({kDyn, 3, 224, 224}));
  EXPECT_EQ(info->outputs[0].shape, Shape({kDyn, 1000}));
  EXPECT_EQ(info->operator_counts.at("Conv"), 27);
  EXPECT_EQ(info->operator_counts.at("Softmax"), 1);
}

TEST(CheckOnnxTest, AcceptsValidModel) {
  const Status s = CheckOnnx(ConvRelu().Source());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(CheckOnnxTest, RejectsUndefinedInput) {
  TinyModel m = ConvRelu();
  m.Node("Relu", {"nowhere"}, {"z"});
  m.Output("z", {1});
  const Status s = CheckOnnx(m.Source());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("<memory>: ONNX checker:"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("nowhere"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
}

TEST(CheckOnnxTest, FullCheckCatchesTypeClash) {
  // Structurally fine, but Add of float and int64 fails strict type inference.
  TinyModel m;
  m.Input("a", {2});
  m.Input("b", {2}, onnx::TensorProto::INT64);
  m.Node("Add", {"a", "b"}, {"y"});
  m.Output("y", {2});
  const Status s = CheckOnnx(m.Source());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
}

TEST(CheckOnnxTest, NewerOpsetIsUnsupported) {
  TinyModel m = ConvRelu();
  m.proto().mutable_opset_import(0)->set_version(99);
  const Status s = CheckOnnx(m.Source());
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
  EXPECT_NE(s.message().find("opset 99"), std::string::npos) << s.message();
}

TEST(CheckOnnxTest, ReportsMissingFile) {
  ModelSource src;
  src.path = "/nonexistent/m.onnx";
  EXPECT_EQ(CheckOnnx(src).code(), StatusCode::kNotFound);
  EXPECT_EQ(InspectOnnx(src).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace deepedge
