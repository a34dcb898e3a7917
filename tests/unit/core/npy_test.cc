#include "deepedge/npy.h"

#include <gtest/gtest.h>

#include <cstring>

namespace deepedge {
namespace {

// A .npy image exactly as numpy 1.24 writes np.arange(6, dtype='<f4').reshape(2, 3).
std::vector<std::uint8_t> NumpyWrittenArange() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string image = "\x93NUMPY";
  image += '\x01';
  image += '\x00';
  image += static_cast<char>(header.size());
  image += '\x00';
  image += header;
  for (int i = 0; i < 6; ++i) {
    const float f = static_cast<float>(i);
    char b[4];
    std::memcpy(b, &f, 4);
    image.append(b, 4);
  }
  std::vector<std::uint8_t> out(image.begin(), image.end());
  return out;
}

TEST(NpyTest, ParsesNumpyOutput) {
  Expected<Tensor> t = ParseNpy(NumpyWrittenArange());
  ASSERT_TRUE(t.has_value()) << t.status().ToString();
  EXPECT_EQ(t->dtype(), DType::kF32);
  EXPECT_EQ(t->shape(), (Shape{2, 3}));
  EXPECT_EQ(t->as<float>()[5], 5.0f);
}

TEST(NpyTest, EncodeParseRoundTripsEveryDType) {
  for (DType dt : kAllDTypes) {
    for (const Shape& shape : {Shape{}, Shape{4}, Shape{2, 3, 1}}) {
      Tensor t = *Tensor::Allocate(dt, shape);
      for (std::size_t i = 0; i < t.byte_size(); ++i) t.bytes()[i] = std::byte(i % 2);
      std::vector<std::uint8_t> enc = EncodeNpy(t);
      EXPECT_EQ((enc.size() - t.byte_size()) % 64, 0u);  // data aligned as numpy does
      Expected<Tensor> back = ParseNpy(enc);
      ASSERT_TRUE(back.has_value()) << back.status().ToString();
      EXPECT_EQ(back->dtype(), dt);
      EXPECT_EQ(back->shape(), shape);
      EXPECT_EQ(std::memcmp(back->data(), t.data(), t.byte_size()), 0);
    }
  }
}

TEST(NpyTest, RejectsBadFiles) {
  auto good = NumpyWrittenArange();
  EXPECT_EQ(ParseNpy(std::vector<std::uint8_t>{1, 2, 3}).status().code(), StatusCode::kCorrupt);
  auto truncated = good;
  truncated.pop_back();
  EXPECT_EQ(ParseNpy(truncated).status().code(), StatusCode::kCorrupt);
  std::string text(good.begin(), good.end());
  auto fortran = text;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_EQ(ParseNpy(std::vector<std::uint8_t>(fortran.begin(), fortran.end())).status().code(),
            StatusCode::kUnsupported);
  auto complex = text;
  complex.replace(complex.find("<f4"), 3, "<c8");
  EXPECT_EQ(ParseNpy(std::vector<std::uint8_t>(complex.begin(), complex.end())).status().code(),
            StatusCode::kUnsupported);
}

}  // namespace
}  // namespace deepedge
