// Cache-line-aligned storage for the engine's own kernels (private to the engine).
//
// std::vector<float> gets whatever malloc returns: 16-byte alignment, and for buffers
// large enough to be mmapped, 16 bytes past a page boundary. A 64-byte AVX-512 vector
// loaded from such a buffer straddles two cache lines on every load; the packed filters,
// NHWC activations and scratch rows that the SGEMM, depthwise and Winograd kernels
// stream are aligned to 64 bytes instead. (MobileNet v2 on 1 thread ran 5.6 % faster
// with only the region's activation buffers aligned: paired medians of 6 alternated
// bench runs on the Zen 5 EPYC.)
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#include "deepedge/tensor.h"

namespace deepedge::engine {

// The alignment of a Tensor's own storage, so that kernels see one alignment whichever
// buffer they are given.
inline constexpr std::size_t kCacheLineBytes = Tensor::kAlignment;

// A standard allocator that returns kCacheLineBytes-aligned storage (operator new with
// std::align_val_t). Stateless: all instances compare equal.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() noexcept = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) noexcept {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ::operator delete (p, n * sizeof(T), std::align_val_t{kCacheLineBytes});
  }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const noexcept {
    return true;
  }
};

// A float vector whose data() is 64-byte aligned.
using AlignedFloats = std::vector<float, CacheAlignedAllocator<float>>;

}  // namespace deepedge::engine
