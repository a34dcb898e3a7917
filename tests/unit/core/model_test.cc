#include "deepedge/model.h"

#include <gtest/gtest.h>

#include "deepedge/file_util.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

TEST(ModelSourceTest, DetectsFormatsByExtension) {
  TempDir dir;
  EXPECT_EQ(ModelSource::FromFile(dir.Write("a.onnx", "x"))->format, ModelFormat::kOnnx);
  EXPECT_EQ(ModelSource::FromFile(dir.Write("a.pb", "x"))->format, ModelFormat::kTensorFlow);
  EXPECT_EQ(ModelSource::FromFile(dir.Write("a.tflite", "x"))->format, ModelFormat::kTflite);
}

TEST(ModelSourceTest, SniffsTfliteMagicWithoutExtension) {
  TempDir dir;
  auto src = ModelSource::FromFile(dir.Write("model.bin", std::string("\x1c\0\0\0TFL3", 8)));
  ASSERT_TRUE(src.has_value());
  EXPECT_EQ(src->format, ModelFormat::kTflite);
}

TEST(ModelSourceTest, FindsCompanionWeights) {
  TempDir dir;
  dir.Write("net.prototxt", "name: 'x'");
  dir.Write("net.caffemodel", "w");
  auto caffe = ModelSource::FromFile(dir / "net.caffemodel");
  ASSERT_TRUE(caffe.has_value()) << caffe.status().ToString();
  EXPECT_EQ(caffe->path, dir / "net.prototxt");
  EXPECT_EQ(caffe->weights_path, dir / "net.caffemodel");

  dir.Write("yolo.cfg", "[net]");
  auto darknet = ModelSource::FromFile(dir / "yolo.cfg");
  ASSERT_FALSE(darknet.has_value());
  EXPECT_NE(darknet.status().message().find("yolo.weights"), std::string::npos);
}

TEST(ModelSourceTest, ErrorsNameTheFile) {
  TempDir dir;
  auto missing = ModelSource::FromFile(dir / "nope.onnx");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.onnx"), std::string::npos);

  auto empty = ModelSource::FromFile(dir.Write("empty.onnx", ""));
  EXPECT_EQ(empty.status().code(), StatusCode::kCorrupt);

  auto unknown = ModelSource::FromFile(dir.Write("notes.txt", "hello"));
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown model format"), std::string::npos);

  EXPECT_EQ(ModelSource::FromFile(dir.path()).status().code(), StatusCode::kInvalidArgument);
}

TEST(FileUtilTest, AtomicWriteReplacesAndLeavesNoTemp) {
  TempDir dir;
  const auto p = dir / "out.json";
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("first")).ok());
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("second")).ok());
  EXPECT_EQ(*ReadFileText(p), "second");
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
  EXPECT_FALSE(WriteFileAtomic(dir / "no-such-dir" / "x", std::string_view("y")).ok());
}

}  // namespace
}  // namespace deepedge
