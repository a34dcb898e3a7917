// Intermediate-tensor memory, reused by liveness.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace deepedge::engine {

// Aligned blocks handed out by best fit and returned when a value is dead. A run of a
// graph with fixed shapes acquires and releases in the same order every time, so
// after the first run no allocation happens. Not thread-safe: one per graph runner.
class BufferPool {
 public:
  struct Block {
    std::byte* data = nullptr;
    std::size_t size = 0;
    bool in_use = false;
  };

  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool();

  // A free block of at least `bytes` (the smallest that fits), or a new one.
  Block* Acquire(std::size_t bytes);
  void Release(Block* block);

  // Bytes held in blocks in use now, and the most ever held at once.
  std::size_t live_bytes() const { return live_; }
  std::size_t peak_bytes() const { return peak_; }
  // Bytes allocated from the system in all (the arena).
  std::size_t reserved_bytes() const { return reserved_; }

 private:
  std::vector<std::unique_ptr<Block>> blocks_;
  std::size_t live_ = 0, peak_ = 0, reserved_ = 0;
};

}  // namespace deepedge::engine
