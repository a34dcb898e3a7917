#include "deepedge/zoo.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "deepedge/file_util.h"
#include "deepedge/onnx_model.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

// Published figures are rounded and counted slightly differently (BN statistics,
// biases); the architecture is right when we are this close.
constexpr double kTolerance = 0.03;

double RelativeError(std::int64_t measured, std::int64_t reference) {
  return std::abs(static_cast<double>(measured - reference)) / static_cast<double>(reference);
}

TEST(ZooTest, ListsModelsWithUniqueNamesAndParseableShapes) {
  const std::vector<ZooEntry> list = ZooList();
  ASSERT_EQ(list.size(), 6u);
  std::set<std::string> names;
  for (const ZooEntry& e : list) {
    EXPECT_TRUE(names.insert(e.name).second) << e.name;
    EXPECT_FALSE(e.description.empty()) << e.name;
    EXPECT_FALSE(e.reference.empty()) << e.name;
    EXPECT_GT(e.reference_params, 0) << e.name;
    EXPECT_GT(e.reference_macs, 0) << e.name;
    auto shape = Shape::Parse(e.input_shape);
    ASSERT_TRUE(shape.has_value()) << e.input_shape;
    EXPECT_EQ(shape->rank(), 4u);
    EXPECT_EQ((*shape)[0], Shape::kDynamic);
  }
  for (const char* name : {"mobilenet_v1_1.0_224", "mobilenet_v1_0.25_224", "mobilenet_v2_1.0_224",
                           "squeezenet1.1", "resnet18", "alexnet_caffenet"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
}

TEST(ZooTest, UnknownNameIsNotFoundAndListsKnownNames) {
  auto bytes = ZooBuild("lenet");
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bytes.status().message().find("lenet"), std::string::npos);
  EXPECT_NE(bytes.status().message().find("resnet18"), std::string::npos);
  TempDir dir;
  EXPECT_EQ(ZooExport("lenet", dir / "x.onnx").code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.onnx"));
}

TEST(ZooTest, ExportWritesTheBuiltBytes) {
  TempDir dir;
  const auto path = dir / "sq.onnx";
  const Status s = ZooExport("squeezenet1.1", path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto written = ReadFileBytes(path);
  ASSERT_TRUE(written.has_value());
  auto built = ZooBuild("squeezenet1.1");
  ASSERT_TRUE(built.has_value());
  EXPECT_EQ(*written, *built);

  auto info = InspectOnnx(*ModelSource::FromFile(path));
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_EQ(info->name, "sq");
}

TEST(ZooTest, ExportToMissingDirectoryFails) {
  EXPECT_EQ(ZooExport("squeezenet1.1", "/nonexistent/dir/sq.onnx").code(), StatusCode::kIo);
}

// One test per model does everything with a single build (AlexNet is ~244 MB).
class ZooModelTest : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> ZooNames() {
  std::vector<std::string> names;
  for (const ZooEntry& e : ZooList()) names.push_back(e.name);
  return names;
}

TEST_P(ZooModelTest, IsValidAndMatchesPublishedFigures) {
  ZooEntry entry;
  for (const ZooEntry& e : ZooList()) {
    if (e.name == GetParam()) entry = e;
  }
  auto built = ZooBuild(entry.name);
  ASSERT_TRUE(built.has_value()) << built.status().ToString();
  const ModelSource source = ModelSource::FromBytes(ModelFormat::kOnnx, *std::move(built));

  const Status check = CheckOnnx(source);
  EXPECT_TRUE(check.ok()) << check.ToString();

  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromArray(source.bytes.data(), static_cast<int>(source.bytes.size())));
  EXPECT_EQ(proto.ir_version(), 7);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  EXPECT_EQ(proto.producer_name(), "deepedge-zoo");
  EXPECT_NE(proto.doc_string().find("ynthetic"), std::string::npos);
  std::map<std::string, std::string> meta;
  for (const auto& p : proto.metadata_props()) meta[p.key()] = p.value();
  EXPECT_EQ(meta["deepedge.weights"], "synthetic");
  EXPECT_EQ(meta["deepedge.zoo"], entry.name);
  ASSERT_EQ(proto.graph().input_size(), 1);
  EXPECT_EQ(proto.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "N");

  auto info = InspectOnnx(source);
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  EXPECT_TRUE(info->synthetic_weights);
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(info->inputs[0].name, "input");
  EXPECT_EQ(info->inputs[0].dtype, DType::kF32);
  EXPECT_EQ(info->inputs[0].shape, *Shape::Parse(entry.input_shape));
  ASSERT_EQ(info->outputs.size(), 1u);
  EXPECT_EQ(info->outputs[0].name, "output");
  EXPECT_EQ(info->outputs[0].shape, Shape({Shape::kDynamic, 1000}));
  EXPECT_EQ(info->operator_counts.at("Softmax"), 1);

  ASSERT_TRUE(info->parameter_count.has_value());
  ASSERT_TRUE(info->macs.has_value());
  std::printf(
      "%-24s params %11lld (published %11lld, %+.2f%%)  MACs %13lld (published %13lld, "
      "%+.2f%%)\n",
      entry.name.c_str(), static_cast<long long>(*info->parameter_count),
      static_cast<long long>(entry.reference_params),
      100.0 * static_cast<double>(*info->parameter_count - entry.reference_params) /
          static_cast<double>(entry.reference_params),
      static_cast<long long>(*info->macs), static_cast<long long>(entry.reference_macs),
      100.0 * static_cast<double>(*info->macs - entry.reference_macs) /
          static_cast<double>(entry.reference_macs));
  EXPECT_LT(RelativeError(*info->parameter_count, entry.reference_params), kTolerance);
  EXPECT_LT(RelativeError(*info->macs, entry.reference_macs), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(AllModels, ZooModelTest, ::testing::ValuesIn(ZooNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name;
                           for (char c : info.param) {
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

// Determinism needs two builds, so it skips AlexNet (the code path is shared).
TEST(ZooTest, BuildsAreByteIdentical) {
  for (const ZooEntry& e : ZooList()) {
    if (e.name == "alexnet_caffenet") continue;
    auto a = ZooBuild(e.name);
    auto b = ZooBuild(e.name);
    ASSERT_TRUE(a.has_value() && b.has_value()) << e.name;
    EXPECT_TRUE(*a == *b) << e.name;
  }
}

}  // namespace
}  // namespace deepedge
