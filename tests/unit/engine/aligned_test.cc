// The engine's kernel buffers start on a cache line, at every size (small ones come from
// malloc's heap, large ones from mmap at 16 bytes past a page), and keep it as they grow.
#include "engine/kernels/aligned.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace deepedge::engine {
namespace {

bool OnCacheLine(const float* p) {
  return reinterpret_cast<std::uintptr_t>(p) % kCacheLineBytes == 0;
}

TEST(AlignedFloats, DataStartsOnACacheLineAtEverySize) {
  for (std::size_t n : {1u, 3u, 17u, 1000u, 32768u, 1u << 20, 3u << 20}) {
    AlignedFloats v(n, 1.0f);
    EXPECT_TRUE(OnCacheLine(v.data())) << n << " floats";
    EXPECT_EQ(v.back(), 1.0f);
  }
}

TEST(AlignedFloats, StaysAlignedWhenItGrowsAndKeepsItsValues) {
  AlignedFloats v;
  for (std::size_t n = 1; n <= (1u << 18); n *= 4) {
    const std::size_t old = v.size();
    v.resize(n, static_cast<float>(n));
    ASSERT_TRUE(OnCacheLine(v.data())) << n << " floats";
    if (old > 0) {
      EXPECT_EQ(v[old - 1], static_cast<float>(old));
    }
  }
  AlignedFloats copy = v;
  EXPECT_TRUE(OnCacheLine(copy.data()));
  EXPECT_EQ(copy, v);
}

}  // namespace
}  // namespace deepedge::engine
