#include "deepedge/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <filesystem>
#include <string>

#include "data/idx.h"
#include "deepedge/file_util.h"

namespace deepedge {
namespace {

void PutBigEndian32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// An IDX image of unsigned bytes, written field by field as the format describes.
std::vector<std::uint8_t> Idx(const std::vector<std::uint32_t>& dims,
                              const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) PutBigEndian32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::uint8_t> Iota(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return v;
}

// gzip-compresses with zlib (the same format as gzip(1) writes).
std::vector<std::uint8_t> Gzip(const std::vector<std::uint8_t>& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void ExpectCorrupt(const Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.ToString();
}

TEST(IdxTest, ParsesImagesInRowMajorOrder) {
  const std::vector<std::uint8_t> pixels = Iota(3 * 2 * 4);
  Expected<IdxImages> im = ParseIdxImages(Idx({3, 2, 4}, pixels));
  ASSERT_TRUE(im.has_value()) << im.status().ToString();
  EXPECT_EQ(im->count, 3);
  EXPECT_EQ(im->rows, 2);
  EXPECT_EQ(im->cols, 4);
  EXPECT_EQ(im->pixels, pixels);
  std::span<const std::uint8_t> second = im->image(1);
  ASSERT_EQ(second.size(), 8u);
  EXPECT_EQ(second[0], pixels[8]);
  EXPECT_EQ(second[7], pixels[15]);
}

TEST(IdxTest, ParsesLabels) {
  Expected<std::vector<std::uint8_t>> l = ParseIdxLabels(Idx({5}, {9, 0, 3, 3, 1}));
  ASSERT_TRUE(l.has_value()) << l.status().ToString();
  EXPECT_EQ(*l, (std::vector<std::uint8_t>{9, 0, 3, 3, 1}));
}

TEST(IdxTest, GzipGivesTheSameResultAsPlain) {
  const std::vector<std::uint8_t> plain = Idx({4, 3, 3}, Iota(36));
  const std::vector<std::uint8_t> gz = Gzip(plain);
  ASSERT_TRUE(data::IsGzip(gz));
  ASSERT_FALSE(data::IsGzip(plain));
  Expected<IdxImages> a = ParseIdxImages(plain);
  Expected<IdxImages> b = ParseIdxImages(gz);
  ASSERT_TRUE(a.has_value() && b.has_value()) << b.status().ToString();
  EXPECT_EQ(a->pixels, b->pixels);
  EXPECT_EQ(b->count, 4);
}

TEST(IdxTest, ConcatenatedGzipMembersAreOneStream) {
  const std::vector<std::uint8_t> plain = Idx({6}, {1, 2, 3, 4, 5, 6});
  const std::vector<std::uint8_t> head(plain.begin(), plain.begin() + 7);
  const std::vector<std::uint8_t> tail(plain.begin() + 7, plain.end());
  std::vector<std::uint8_t> gz = Gzip(head);
  const std::vector<std::uint8_t> gz2 = Gzip(tail);
  gz.insert(gz.end(), gz2.begin(), gz2.end());
  Expected<std::vector<std::uint8_t>> l = ParseIdxLabels(gz);
  ASSERT_TRUE(l.has_value()) << l.status().ToString();
  EXPECT_EQ(*l, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(IdxTest, BadMagicIsCorrupt) {
  std::vector<std::uint8_t> b = Idx({2, 2, 2}, Iota(8));
  b[0] = 1;
  ExpectCorrupt(ParseIdxImages(b).status(), "bad magic");
  ExpectCorrupt(ParseIdxImages(std::vector<std::uint8_t>{0, 0}).status(), "shorter than");
  ExpectCorrupt(ParseIdxLabels(std::vector<std::uint8_t>{}).status(), "shorter than");
}

TEST(IdxTest, WrongElementTypeOrRankIsCorrupt) {
  std::vector<std::uint8_t> b = Idx({2, 2, 2}, Iota(8));
  b[2] = 0x0d;  // float
  ExpectCorrupt(ParseIdxImages(b).status(), "element type 0x0d");
  // A labels file given where images are expected, and the reverse.
  ExpectCorrupt(ParseIdxImages(Idx({4}, Iota(4))).status(), "rank 1, expected 3");
  ExpectCorrupt(ParseIdxLabels(Idx({1, 2, 2}, Iota(4))).status(), "rank 3, expected 1");
}

TEST(IdxTest, TruncationIsCorrupt) {
  const std::vector<std::uint8_t> full = Idx({3, 4, 4}, Iota(48));
  const std::vector<std::uint8_t> short_data(full.begin(), full.end() - 1);
  ExpectCorrupt(ParseIdxImages(short_data).status(), "truncated: header says 48 data bytes");
  const std::vector<std::uint8_t> short_header(full.begin(), full.begin() + 10);
  ExpectCorrupt(ParseIdxImages(short_header).status(), "truncated header");
  // A gzip stream cut short.
  const std::vector<std::uint8_t> gz = Gzip(full);
  const std::vector<std::uint8_t> cut(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2));
  ExpectCorrupt(ParseIdxImages(cut).status(), "truncated gzip");
}

TEST(IdxTest, TrailingBytesAndZeroDimensionsAreCorrupt) {
  std::vector<std::uint8_t> b = Idx({2}, {1, 2});
  b.push_back(0);
  ExpectCorrupt(ParseIdxLabels(b).status(), "1 bytes after the data");
  ExpectCorrupt(ParseIdxImages(Idx({0, 28, 28}, {})).status(), "dimension 0 is zero");
}

TEST(IdxTest, GarbageAfterGzipMagicIsCorrupt) {
  std::vector<std::uint8_t> b = {0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef,
                                 0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const Status s = ParseIdxLabels(b).status();
  EXPECT_EQ(s.code(), StatusCode::kCorrupt) << s.ToString();
}

TEST(IdxTest, GunzipStopsAtTheLimit) {
  const std::vector<std::uint8_t> gz = Gzip(std::vector<std::uint8_t>(100000, 0));
  ExpectCorrupt(data::Gunzip(gz, 1000).status(), "inflates past 1000 bytes");
  Expected<std::vector<std::uint8_t>> ok = data::Gunzip(gz, 100000);
  ASSERT_TRUE(ok.has_value()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), 100000u);
}

class IdxFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("deepedge_idx_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path Write(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const std::filesystem::path p = dir_ / name;
    EXPECT_TRUE(WriteFileAtomic(p, bytes).ok());
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(IdxFileTest, ReadsLabelledImagesAndChecksCounts) {
  const auto images = Write("im", Idx({3, 2, 2}, Iota(12)));
  const auto labels = Write("lb.gz", Gzip(Idx({3}, {0, 9, 4})));
  Expected<IdxLabelledImages> ok = ReadIdxLabelledImages(images, labels, 9);
  ASSERT_TRUE(ok.has_value()) << ok.status().ToString();
  EXPECT_EQ(ok->images.count, 3);
  EXPECT_EQ(ok->labels, (std::vector<std::uint8_t>{0, 9, 4}));

  const auto two = Write("two", Idx({2}, {0, 1}));
  ExpectCorrupt(ReadIdxLabelledImages(images, two).status(), "holds 3 images but");
  ExpectCorrupt(ReadIdxLabelledImages(images, labels, 8).status(), "label 9 of sample 1");
}

TEST_F(IdxFileTest, ErrorsNameTheFile) {
  std::vector<std::uint8_t> bad = Idx({2}, {1, 2});
  bad[1] = 7;
  const auto p = Write("bad-labels", bad);
  const Status s = ReadIdxLabels(p).status();
  ExpectCorrupt(s, "bad magic");
  EXPECT_NE(s.message().find("bad-labels"), std::string::npos) << s.ToString();
  const Status missing = ReadIdxImages(dir_ / "nope").status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound) << missing.ToString();
}

TEST_F(IdxFileTest, FashionMnistChecksNamesSplitAndSize) {
  EXPECT_EQ(ReadFashionMnist(dir_, "valid").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadFashionMnist(dir_, "test").status().code(), StatusCode::kNotFound);
  Write("t10k-images-idx3-ubyte", Idx({2, 3, 3}, Iota(18)));
  Write("t10k-labels-idx1-ubyte.gz", Gzip(Idx({2}, {1, 2})));
  ExpectCorrupt(ReadFashionMnist(dir_, "test").status(), "Fashion-MNIST's are 28x28");
}

// The real data set, where Debian's dataset-fashion-mnist is installed.
TEST(FashionMnistTest, DebianTestSplitHasAThousandImagesPerClass) {
  std::error_code ec;
  if (!std::filesystem::exists(
          std::filesystem::path(kFashionMnistDebianDir) / "t10k-labels-idx1-ubyte.gz", ec)) {
    GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  }
  Expected<IdxLabelledImages> test = ReadFashionMnist(kFashionMnistDebianDir, "test");
  ASSERT_TRUE(test.has_value()) << test.status().ToString();
  EXPECT_EQ(test->images.count, 10000);
  EXPECT_EQ(test->images.pixels.size(), 10000u * 28 * 28);
  std::array<int, 10> per_class{};
  for (std::uint8_t l : test->labels) ++per_class[l];
  for (int n : per_class) EXPECT_EQ(n, 1000);
  // Real photographs of clothes: neither blank nor saturated.
  std::uint64_t sum = 0;
  for (std::uint8_t p : test->images.pixels) sum += p;
  const double mean = static_cast<double>(sum) / static_cast<double>(test->images.pixels.size());
  EXPECT_GT(mean, 40.0);
  EXPECT_LT(mean, 110.0);
}

}  // namespace
}  // namespace deepedge
