#include <gtest/gtest.h>

#include <string>

#include "deepedge/eval_dataset.h"
#include "deepedge/idx.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

std::string Be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// An uncompressed IDX file of unsigned bytes: [count, rows, cols] images or [count] labels.
std::string IdxImagesFile(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  std::string s = std::string("\0\0\x08\x03", 4) + Be32(count) + Be32(rows) + Be32(cols);
  for (std::uint32_t i = 0; i < count * rows * cols; ++i) s += static_cast<char>(i % 251);
  return s;
}
std::string IdxLabelsFile(const std::string& labels) {
  return std::string("\0\0\x08\x01", 4) + Be32(static_cast<std::uint32_t>(labels.size())) + labels;
}

TEST(IdxDataset, DirectoryWithPublishedNames) {
  TempDir dir;
  dir.Write("t10k-images-idx3-ubyte", IdxImagesFile(2, 2, 3));
  dir.Write("t10k-labels-idx1-ubyte", IdxLabelsFile(std::string("\x04\x09", 2)));
  Expected<std::unique_ptr<ImageDataset>> d = OpenIdxDataset(dir.path(), "test");
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ((*d)->size(), 2);
  ImageSample s;
  ASSERT_TRUE((*d)->Get(1, s).ok());
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.height, 2);
  EXPECT_EQ(s.width, 3);
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.label, 9);
  EXPECT_EQ(s.pixels, (std::vector<std::uint8_t>{6, 7, 8, 9, 10, 11}));
  EXPECT_NE((*d)->Description().find("2 images 2x3, 2 labels"), std::string::npos)
      << (*d)->Description();

  Expected<std::unique_ptr<ImageDataset>> train = OpenIdxDataset(dir.path(), "train");
  ASSERT_FALSE(train);
  EXPECT_EQ(train.status().code(), StatusCode::kNotFound);
  EXPECT_NE(train.status().message().find("train-images-idx3-ubyte"), std::string::npos);
  EXPECT_EQ(OpenIdxDataset(dir.path(), "validation").status().code(), StatusCode::kInvalidArgument);
}

// Counts that differ: the unmatched samples are bad, the others usable.
TEST(IdxDataset, ImagesFileWithFewerLabels) {
  TempDir dir;
  const auto images = dir.Write("x-images-idx3-ubyte", IdxImagesFile(3, 2, 2));
  dir.Write("x-labels-idx1-ubyte", IdxLabelsFile(std::string("\x01\x02", 2)));
  Expected<std::unique_ptr<ImageDataset>> d = OpenIdxDataset(images);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ((*d)->size(), 3);
  ImageSample s;
  EXPECT_TRUE((*d)->Get(0, s).ok());
  const Status bad = (*d)->Get(2, s);
  EXPECT_EQ(bad.code(), StatusCode::kCorrupt);
  EXPECT_EQ(bad.message(), "sample 2: image without label");
}

// The images gzip-compressed (as Debian ships them), the labels not: still a pair.
TEST(IdxDataset, LabelsFoundWithOrWithoutGz) {
  TempDir dir;
  const auto images = dir.Write("x-images-idx3-ubyte.gz", "");
  dir.Write("x-labels-idx1-ubyte", IdxLabelsFile("\x01"));
  // The (empty) images file is reached, so the labels file was found.
  Expected<std::unique_ptr<ImageDataset>> d = OpenIdxDataset(images);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.status().code(), StatusCode::kCorrupt) << d.status().message();
  EXPECT_NE(d.status().message().find("x-images-idx3-ubyte.gz"), std::string::npos);
}

TEST(IdxDataset, MoreLabelsThanImages) {
  TempDir dir;
  const auto images = dir.Write("x-images-idx3-ubyte", IdxImagesFile(1, 2, 2));
  dir.Write("x-labels-idx1-ubyte", IdxLabelsFile(std::string("\x01\x02", 2)));
  Expected<std::unique_ptr<ImageDataset>> d = OpenIdxDataset(images);
  ASSERT_TRUE(d);
  ImageSample s;
  EXPECT_EQ((*d)->Get(1, s).message(), "sample 1: label without image");
}

TEST(IdxDataset, WholeSetErrorsNameTheFile) {
  TempDir dir;
  Expected<std::unique_ptr<ImageDataset>> missing = OpenIdxDataset(dir / "nothing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nothing"), std::string::npos);

  const auto images = dir.Write("y-images-idx3-ubyte", IdxImagesFile(1, 2, 2));
  Expected<std::unique_ptr<ImageDataset>> no_labels = OpenIdxDataset(images);
  ASSERT_FALSE(no_labels);
  EXPECT_NE(no_labels.status().message().find("y-labels-idx1-ubyte"), std::string::npos);

  const auto odd = dir.Write("pictures.bin", "abc");
  EXPECT_EQ(OpenIdxDataset(odd).status().code(), StatusCode::kInvalidArgument);

  const auto corrupt = dir.Write("z-images-idx3-ubyte", "not idx at all");
  dir.Write("z-labels-idx1-ubyte", IdxLabelsFile("\x01"));
  Expected<std::unique_ptr<ImageDataset>> c = OpenIdxDataset(corrupt);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(c.status().message().find("z-images-idx3-ubyte"), std::string::npos);
}

TEST(IdxDataset, DebianFashionMnistTestSplit) {
  if (!std::filesystem::exists(std::string(kFashionMnistDebianDir) +
                               "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed (" << kFashionMnistDebianDir
                 << ")";
  }
  Expected<std::unique_ptr<ImageDataset>> d = OpenIdxDataset(kFashionMnistDebianDir);
  ASSERT_TRUE(d) << d.status().message();
  EXPECT_EQ((*d)->size(), 10000);
  ImageSample s;
  ASSERT_TRUE((*d)->Get(9999, s).ok());
  EXPECT_EQ(s.height, 28);
  EXPECT_EQ(s.width, 28);
  EXPECT_LE(s.label, 9);
}

}  // namespace
}  // namespace deepedge
