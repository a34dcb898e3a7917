// A one-way delay line for a byte stream: the core of deepedge-linkdelay, the
// testbed's user-space delay stage (the kernel here has no netem).
//
// Bytes pushed at time t are released at t + delay, in order; an end-of-stream
// marker travels the same way, so a peer's FIN arrives `delay` late too. The queue
// holds at most `capacity` bytes: the relay reads from a socket only while there is
// room, so a full queue back-pressures the sender through TCP instead of growing.
//
// The clock is injected: every call takes `now`, so tests drive time by hand.
// Thread-safety: none (one relay thread owns each queue).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace deepedge::testbed {

using TimePoint = std::chrono::steady_clock::time_point;

class DelayQueue {
 public:
  // `delay` >= 0; `capacity` > 0 bytes.
  DelayQueue(std::chrono::nanoseconds delay, std::size_t capacity);

  std::chrono::nanoseconds delay() const { return delay_; }
  std::size_t capacity() const { return capacity_; }
  // Bytes queued and not yet consumed.
  std::size_t size() const { return bytes_; }
  bool empty() const { return chunks_.empty(); }
  // How many more bytes Push() accepts now.
  std::size_t Room() const { return capacity_ - bytes_; }
  // True once PushEnd() was called (no Push() may follow).
  bool end_pushed() const { return end_pushed_; }

  // Appends `data` (non-empty, at most Room() bytes) received at `now`. Release times
  // never go backwards, so order is kept even if `now` does.
  void Push(TimePoint now, std::span<const std::uint8_t> data);
  // The sender closed its side at `now`: released after the bytes before it.
  void PushEnd(TimePoint now);

  // The head chunk's unconsumed bytes when it is due at `now`, else an empty span.
  // Data released together stays in separate chunks: callers loop.
  std::span<const std::uint8_t> Ready(TimePoint now) const;
  // Drops `n` bytes (at most Ready(now).size()) from the head.
  void Consume(std::size_t n);
  // True when every byte was consumed and the end marker is due at `now`.
  bool EndReady(TimePoint now) const;
  // When the head (data or end marker) is released; nullopt when nothing is queued.
  std::optional<TimePoint> NextRelease() const;

 private:
  struct Chunk {
    TimePoint release;
    std::vector<std::uint8_t> bytes;  // empty: the end marker
    std::size_t offset = 0;           // bytes of this chunk already consumed
  };
  TimePoint NextReleaseTime(TimePoint now);

  std::chrono::nanoseconds delay_;
  std::size_t capacity_;
  std::size_t bytes_ = 0;
  bool end_pushed_ = false;
  std::optional<TimePoint> last_release_;
  std::deque<Chunk> chunks_;
};

}  // namespace deepedge::testbed
