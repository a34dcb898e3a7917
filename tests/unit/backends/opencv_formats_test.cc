// The OpenCV backend's Caffe and TensorFlow importers, on models this test writes
// itself. The binary files (.caffemodel, frozen .pb) are encoded here in protobuf's
// wire format by a few lines of encoder, so the test needs neither Caffe's nor
// TensorFlow's protos; every expected output is worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deepedge/backends.h"
#include "support/temp_dir.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace deepedge {
namespace {

// --- protobuf wire format ---
//
// A message is a sequence of (key, value) records; key = field number << 3 | wire
// type. Wire type 0 is a varint (ints, enums), 2 is length-delimited (strings, bytes,
// nested messages, packed repeated scalars). Floats are little-endian IEEE 754.
class Proto {
 public:
  Proto& Varint(int field, std::uint64_t v) {
    Key(field, 0);
    PutVarint(v);
    return *this;
  }
  Proto& Bytes(int field, std::string_view v) {
    Key(field, 2);
    PutVarint(v.size());
    out_.append(v);
    return *this;
  }
  Proto& Message(int field, const Proto& m) { return Bytes(field, m.str()); }
  Proto& PackedInt64(int field, std::initializer_list<std::int64_t> values) {
    Proto body;
    for (std::int64_t v : values) body.PutVarint(static_cast<std::uint64_t>(v));
    return Bytes(field, body.str());
  }
  Proto& PackedFloat(int field, const std::vector<float>& values) {
    return Bytes(field, FloatBytes(values));
  }
  const std::string& str() const { return out_; }

  // Raw little-endian floats: packed float fields and TensorFlow's tensor_content.
  static std::string FloatBytes(const std::vector<float>& values) {
    std::string s;
    for (float f : values) {
      std::uint32_t u = 0;
      std::memcpy(&u, &f, sizeof u);
      for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
    }
    return s;
  }

 private:
  void Key(int field, int wire_type) {
    PutVarint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type));
  }
  void PutVarint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// --- test helpers ---

class OpenCvFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = MakeOpenCvBackend();
    ASSERT_NE(backend, nullptr);
    ASSERT_TRUE(registry_.Register(std::move(backend)).ok());
  }

  Expected<std::unique_ptr<Session>> Load(const ModelSource& src) {
    return registry_.Load("opencv", src, {});
  }

  // Runs `session` on one f32 input and returns its one output.
  static Tensor RunOne(Session& session, const Shape& shape, std::vector<float> x) {
    std::vector<Tensor> inputs;
    inputs.push_back(*Tensor::Borrow(DType::kF32, shape, x.data(), x.size() * sizeof(float)));
    std::vector<Tensor> outputs;
    const Status st = session.Run(inputs, outputs);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(outputs.size(), 1u);
    return outputs.empty() ? Tensor() : std::move(outputs[0]);
  }

  static void ExpectValues(const Tensor& t, const std::vector<float>& want) {
    const auto got = t.as<float>();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "at " << i;
  }

  // A load that must fail cleanly: a Corrupt status with a one-line message naming
  // each of `names` (the files, or "<memory>").
  void ExpectLoadError(const ModelSource& src, std::initializer_list<std::string_view> names) {
    SCOPED_TRACE(src.display_name());
    auto session = Load(src);
    ASSERT_FALSE(session.has_value());
    const Status& st = session.status();
    EXPECT_EQ(st.code(), StatusCode::kCorrupt) << st.ToString();
    EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
    for (std::string_view name : names) {
      EXPECT_NE(st.message().find(name), std::string::npos) << name << ": " << st.message();
    }
  }
  void ExpectLoadError(const std::filesystem::path& model,
                       std::initializer_list<std::string_view> names) {
    auto src = ModelSource::FromFile(model);
    ASSERT_TRUE(src.has_value()) << src.status().ToString();
    ExpectLoadError(*src, names);
  }

  BackendRegistry registry_;
};

// The first half of a file: cut in the middle of a record.
std::string Truncated(const std::string& bytes) {
  return bytes.substr(0, bytes.size() / 2);
}
std::vector<std::uint8_t> Bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// OpenCV 4.6's Caffe importer leaks when a weight blob is malformed: it moves a layer's
// blobs out of the parsed caffemodel (ExtractSubrange) and deletes each one only after
// converting it, so the exception thrown on a bad blob strands them all. Under the
// sanitizer tree (ASAN_OPTIONS=detect_leaks=1) that would fail the whole binary, so the
// loads that provoke it ignore allocations made in their scope (this thread only).
class IgnoreLeaksInScope {
 public:
  IgnoreLeaksInScope() {
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
  }
  ~IgnoreLeaksInScope() {
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
  }
  IgnoreLeaksInScope(const IgnoreLeaksInScope&) = delete;
  IgnoreLeaksInScope& operator=(const IgnoreLeaksInScope&) = delete;
};

// --- Caffe ---
//
// Field numbers from BVLC caffe's src/caffe/proto/caffe.proto (proto2):
//   NetParameter   { name = 1; repeated LayerParameter layer = 100; }
//   LayerParameter { name = 1; type = 2; repeated BlobProto blobs = 7; }
//   BlobProto      { BlobShape shape = 7; repeated float data = 5 [packed]; }
//   BlobShape      { repeated int64 dim = 1 [packed]; }
// The legacy `V1LayerParameter layers = 2` is not used.
namespace caffe {
constexpr int kNetName = 1;
constexpr int kNetLayer = 100;
constexpr int kLayerName = 1;
constexpr int kLayerType = 2;
constexpr int kLayerBlobs = 7;
constexpr int kBlobShape = 7;
constexpr int kBlobData = 5;
constexpr int kBlobShapeDim = 1;
}  // namespace caffe

// conv (1 -> 1 channel, 2x2 kernel, bias) then an in-place ReLU, on a 1x1x3x3 input.
constexpr std::string_view kCaffePrototxt = R"(name: "tiny"
input: "data"
input_dim: 1
input_dim: 1
input_dim: 3
input_dim: 3
layer {
  name: "conv"
  type: "Convolution"
  bottom: "data"
  top: "conv"
  convolution_param { num_output: 1 kernel_size: 2 bias_term: true }
}
layer {
  name: "relu"
  type: "ReLU"
  bottom: "conv"
  top: "conv"
}
)";

// The weights OpenCV matches to the prototxt's layers by name: the kernel (OIHW
// 1x1x2x2) and the bias. `kernel_values` lets a test store a blob that disagrees with
// its shape.
std::string CaffeModel(const std::vector<float>& kernel_values = {1, 2, 3, 4}) {
  using namespace caffe;
  Proto kernel;
  kernel.Message(kBlobShape, Proto().PackedInt64(kBlobShapeDim, {1, 1, 2, 2}))
      .PackedFloat(kBlobData, kernel_values);
  Proto bias;
  bias.Message(kBlobShape, Proto().PackedInt64(kBlobShapeDim, {1}))
      .PackedFloat(kBlobData, {-40.0f});
  Proto conv;
  conv.Bytes(kLayerName, "conv")
      .Bytes(kLayerType, "Convolution")
      .Message(kLayerBlobs, kernel)
      .Message(kLayerBlobs, bias);
  Proto net;
  net.Bytes(kNetName, "tiny").Message(kNetLayer, conv);
  return net.str();
}

TEST_F(OpenCvFormatsTest, CaffePrototxtAndCaffemodel) {
  testing::TempDir dir;
  const auto prototxt = dir.Write("tiny.prototxt", kCaffePrototxt);
  const auto caffemodel = dir.Write("tiny.caffemodel", CaffeModel());

  auto from_prototxt = ModelSource::FromFile(prototxt);
  ASSERT_TRUE(from_prototxt.has_value()) << from_prototxt.status().ToString();
  EXPECT_EQ(from_prototxt->format, ModelFormat::kCaffe);
  EXPECT_EQ(from_prototxt->weights_path, caffemodel);
  auto from_caffemodel = ModelSource::FromFile(caffemodel);
  ASSERT_TRUE(from_caffemodel.has_value()) << from_caffemodel.status().ToString();
  EXPECT_EQ(from_caffemodel->path, prototxt);
  const ModelSource in_memory =
      ModelSource::FromBytes(ModelFormat::kCaffe, Bytes(kCaffePrototxt), Bytes(CaffeModel()));

  for (const ModelSource& src : {*from_prototxt, *from_caffemodel, in_memory}) {
    SCOPED_TRACE(src.display_name());
    auto session = Load(src);
    ASSERT_TRUE(session.has_value()) << session.status().ToString();
    ASSERT_EQ((*session)->Inputs().size(), 1u);
    EXPECT_EQ((*session)->Inputs()[0].name, "data");
    EXPECT_EQ((*session)->Inputs()[0].dtype, DType::kF32);
    EXPECT_EQ((*session)->Inputs()[0].shape, (Shape{Shape::kDynamic, 1, 3, 3}));
    ASSERT_EQ((*session)->Outputs().size(), 1u);

    // x = 1 2 3   kernel = 1 2   bias = -40
    //     4 5 6            3 4
    //     7 8 9
    // top-left:     1*1 + 2*2 + 4*3 + 5*4 = 37 -> -3 -> relu 0
    // top-right:    2*1 + 3*2 + 5*3 + 6*4 = 47 ->  7
    // bottom-left:  4*1 + 5*2 + 7*3 + 8*4 = 67 -> 27
    // bottom-right: 5*1 + 6*2 + 8*3 + 9*4 = 77 -> 37
    // (a transposed kernel would give 35, 45, 65, 75: the blob's order is checked too.)
    const Tensor y = RunOne(**session, Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
    ExpectValues(y, {0, 7, 27, 37});
  }
}

TEST_F(OpenCvFormatsTest, CorruptCaffeModelsGiveOneLineErrors) {
  {  // The weights cut in the middle of the layer record.
    testing::TempDir dir;
    const auto prototxt = dir.Write("cut.prototxt", kCaffePrototxt);
    dir.Write("cut.caffemodel", Truncated(CaffeModel()));
    // OpenCV's own message names the weights file, which is the one at fault.
    ExpectLoadError(prototxt, {"cut.prototxt", "cut.caffemodel"});
    ExpectLoadError(ModelSource::FromBytes(ModelFormat::kCaffe, Bytes(kCaffePrototxt),
                                           Bytes(Truncated(CaffeModel()))),
                    {"<memory>"});
  }
  {  // The text description cut in the middle of a layer.
    testing::TempDir dir;
    const std::string text(kCaffePrototxt);
    const auto prototxt = dir.Write("half.prototxt", text.substr(0, text.find("bottom: \"data\"")));
    dir.Write("half.caffemodel", CaffeModel());
    ExpectLoadError(prototxt, {"half.prototxt"});
  }
  {  // Well-formed protobuf, but a 1x1x2x2 kernel blob holding three values.
    testing::TempDir dir;
    const auto prototxt = dir.Write("short.prototxt", kCaffePrototxt);
    dir.Write("short.caffemodel", CaffeModel({1, 2, 3}));
    const IgnoreLeaksInScope opencv_leaks;
    ExpectLoadError(prototxt, {"short.prototxt"});
  }
}

// --- TensorFlow frozen graph ---
//
// Field numbers from TensorFlow's tensorflow/core/framework/*.proto (proto3):
//   GraphDef         { repeated NodeDef node = 1; }
//   NodeDef          { name = 1; op = 2; repeated string input = 3;
//                      map<string, AttrValue> attr = 5; }  // entries {key = 1; value = 2}
//   AttrValue        { oneof { ListValue list = 1; bytes s = 2; int64 i = 3;
//                      DataType type = 6; TensorShapeProto shape = 7; TensorProto tensor = 8; } }
//   ListValue        { repeated int64 i = 3 [packed]; }
//   TensorProto      { DataType dtype = 1; TensorShapeProto tensor_shape = 2;
//                      bytes tensor_content = 4; }
//   TensorShapeProto { repeated Dim dim = 2; }  Dim { int64 size = 1; }
//   DataType         DT_FLOAT = 1
namespace tf {
constexpr int kGraphNode = 1;
constexpr int kNodeName = 1;
constexpr int kNodeOp = 2;
constexpr int kNodeInput = 3;
constexpr int kNodeAttr = 5;
constexpr int kMapKey = 1;
constexpr int kMapValue = 2;
constexpr int kAttrList = 1;
constexpr int kAttrS = 2;
constexpr int kAttrType = 6;
constexpr int kAttrShape = 7;
constexpr int kAttrTensor = 8;
constexpr int kListI = 3;
constexpr int kTensorDtype = 1;
constexpr int kTensorShape = 2;
constexpr int kTensorContent = 4;
constexpr int kShapeDim = 2;
constexpr int kDimSize = 1;
constexpr std::uint64_t kDtFloat = 1;

Proto ShapeProto(std::initializer_list<std::int64_t> dims) {
  Proto shape;
  for (std::int64_t d : dims) {
    shape.Message(kShapeDim, Proto().Varint(kDimSize, static_cast<std::uint64_t>(d)));
  }
  return shape;
}

Proto FloatTensor(std::initializer_list<std::int64_t> dims, const std::vector<float>& values) {
  Proto t;
  t.Varint(kTensorDtype, kDtFloat)
      .Message(kTensorShape, ShapeProto(dims))
      .Bytes(kTensorContent, Proto::FloatBytes(values));
  return t;
}

class Node {
 public:
  Node(std::string_view name, std::string_view op, std::initializer_list<std::string_view> inputs) {
    proto_.Bytes(kNodeName, name).Bytes(kNodeOp, op);
    for (std::string_view in : inputs) proto_.Bytes(kNodeInput, in);
  }
  Node& Attr(std::string_view key, const Proto& value) {
    proto_.Message(kNodeAttr, Proto().Bytes(kMapKey, key).Message(kMapValue, value));
    return *this;
  }
  Node& Type(std::string_view key) { return Attr(key, Proto().Varint(kAttrType, kDtFloat)); }
  Node& String(std::string_view key, std::string_view s) {
    return Attr(key, Proto().Bytes(kAttrS, s));
  }
  const Proto& proto() const { return proto_; }

 private:
  Proto proto_;
};
}  // namespace tf

// Placeholder (NHWC 1x3x3x2) -> Conv2D 2x2 VALID, 2 -> 2 channels, with a Const
// filter -> BiasAdd with a Const bias -> Relu. Two channels in and out make the
// layouts matter: the HWIO filter must be reordered, and the blobs are NCHW.
//
// filter[o][i] (2x2 each):  o0: i0 = 1 0   i1 = 0 0     o1: i0 = 0 0   i1 = 10 0
//                                    0 0        0 0             0 1         0 0
// bias = {-2, 0.5}
std::string TfGraph() {
  using namespace tf;
  // The filter as drawn above, [o][i][h][w]; the Const holds it as HWIO.
  const float w[2][2][2][2] = {{{{1, 0}, {0, 0}}, {{0, 0}, {0, 0}}},
                               {{{0, 0}, {0, 1}}, {{10, 0}, {0, 0}}}};
  std::vector<float> hwio;
  for (int h = 0; h < 2; ++h)
    for (int x = 0; x < 2; ++x)
      for (int i = 0; i < 2; ++i)
        for (int o = 0; o < 2; ++o) hwio.push_back(w[o][i][h][x]);

  Proto graph;
  auto add = [&graph](const Node& n) { graph.Message(kGraphNode, n.proto()); };
  add(Node("input", "Placeholder", {})
          .Type("dtype")
          .Attr("shape", Proto().Message(kAttrShape, ShapeProto({1, 3, 3, 2}))));
  add(Node("filter", "Const", {})
          .Type("dtype")
          .Attr("value", Proto().Message(kAttrTensor, FloatTensor({2, 2, 2, 2}, hwio))));
  add(Node("conv", "Conv2D", {"input", "filter"})
          .Type("T")
          .Attr("strides", Proto().Message(kAttrList, Proto().PackedInt64(kListI, {1, 1, 1, 1})))
          .String("padding", "VALID")
          .String("data_format", "NHWC"));
  add(Node("bias", "Const", {})
          .Type("dtype")
          .Attr("value", Proto().Message(kAttrTensor, FloatTensor({2}, {-2.0f, 0.5f}))));
  add(Node("bias_add", "BiasAdd", {"conv", "bias"}).Type("T").String("data_format", "NHWC"));
  add(Node("relu", "Relu", {"bias_add"}).Type("T"));
  return graph.str();
}

TEST_F(OpenCvFormatsTest, TensorFlowFrozenGraph) {
  testing::TempDir dir;
  const auto pb = dir.Write("tiny.pb", TfGraph());
  auto from_file = ModelSource::FromFile(pb);
  ASSERT_TRUE(from_file.has_value()) << from_file.status().ToString();
  EXPECT_EQ(from_file->format, ModelFormat::kTensorFlow);
  EXPECT_TRUE(from_file->weights_path.empty());
  const ModelSource in_memory = ModelSource::FromBytes(ModelFormat::kTensorFlow, Bytes(TfGraph()));

  for (const ModelSource& src : {*from_file, in_memory}) {
    SCOPED_TRACE(src.display_name());
    auto session = Load(src);
    ASSERT_TRUE(session.has_value()) << session.status().ToString();
    ASSERT_EQ((*session)->Inputs().size(), 1u);
    EXPECT_EQ((*session)->Inputs()[0].name, "input");
    EXPECT_EQ((*session)->Inputs()[0].shape,
              (Shape{Shape::kDynamic, Shape::kDynamic, Shape::kDynamic, Shape::kDynamic}));
    ASSERT_EQ((*session)->Outputs().size(), 1u);

    // NCHW input: channel 0 = 1 2 3   channel 1 = 1 0 0
    //                         4 5 6               0 1 0
    //                         7 8 9               0 0 1
    // out 0 = c0 top-left of each window - 2 = {1, 2, 4, 5} - 2 -> relu {0, 0, 2, 3}
    // out 1 = c0 bottom-right + 10 * c1 top-left + 0.5:
    //   5 + 10 + 0.5 = 15.5;  6 + 0 + 0.5 = 6.5;  8 + 0 + 0.5 = 8.5;  9 + 10 + 0.5 = 19.5
    const Tensor y = RunOne(**session, Shape{1, 2, 3, 3},
                            {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 0, 0, 0, 1, 0, 0, 0, 1});
    EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
    ExpectValues(y, {0, 0, 2, 3, 15.5f, 6.5f, 8.5f, 19.5f});
  }
}

TEST_F(OpenCvFormatsTest, CorruptTensorFlowGraphsGiveOneLineErrors) {
  testing::TempDir dir;
  ExpectLoadError(dir.Write("cut.pb", Truncated(TfGraph())), {"cut.pb"});
  ExpectLoadError(ModelSource::FromBytes(ModelFormat::kTensorFlow, Bytes(Truncated(TfGraph()))),
                  {"<memory>"});
  // A node record (key 0x0a: field 1, length-delimited) claiming 127 bytes; 3 follow.
  const std::string junk = std::string("\x0a\x7f") + "abc";
  ExpectLoadError(dir.Write("junk.pb", junk), {"junk.pb"});
}

}  // namespace
}  // namespace deepedge
