#include "engine/buffer_pool.h"

#include <algorithm>
#include <cstdlib>

namespace deepedge::engine {

namespace {
constexpr std::size_t kAlignment = 64;
}

BufferPool::~BufferPool() {
  for (auto& b : blocks_) std::free(b->data);
}

BufferPool::Block* BufferPool::Acquire(std::size_t bytes) {
  Block* best = nullptr;
  for (auto& b : blocks_) {
    if (!b->in_use && b->size >= bytes && (best == nullptr || b->size < best->size)) best = b.get();
  }
  if (best == nullptr) {
    const std::size_t size =
        std::max<std::size_t>((bytes + kAlignment - 1) / kAlignment * kAlignment, kAlignment);
    auto block = std::make_unique<Block>();
    block->data = static_cast<std::byte*>(std::aligned_alloc(kAlignment, size));
    if (block->data == nullptr) return nullptr;
    block->size = size;
    reserved_ += size;
    blocks_.push_back(std::move(block));
    best = blocks_.back().get();
  }
  best->in_use = true;
  live_ += best->size;
  peak_ = std::max(peak_, live_);
  return best;
}

void BufferPool::Release(Block* block) {
  if (block == nullptr || !block->in_use) return;
  block->in_use = false;
  live_ -= block->size;
}

}  // namespace deepedge::engine
