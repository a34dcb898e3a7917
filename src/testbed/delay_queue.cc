#include "testbed/delay_queue.h"

#include <cassert>

namespace deepedge::testbed {

DelayQueue::DelayQueue(std::chrono::nanoseconds delay, std::size_t capacity)
    : delay_(delay < std::chrono::nanoseconds(0) ? std::chrono::nanoseconds(0) : delay),
      capacity_(capacity == 0 ? 1 : capacity) {}

TimePoint DelayQueue::NextReleaseTime(TimePoint now) {
  TimePoint t = now + delay_;
  // A clock stepping back must not reorder the stream.
  if (last_release_ && t < *last_release_) t = *last_release_;
  last_release_ = t;
  return t;
}

void DelayQueue::Push(TimePoint now, std::span<const std::uint8_t> data) {
  assert(!end_pushed_ && !data.empty() && data.size() <= Room());
  chunks_.push_back({NextReleaseTime(now), std::vector<std::uint8_t>(data.begin(), data.end()), 0});
  bytes_ += data.size();
}

void DelayQueue::PushEnd(TimePoint now) {
  assert(!end_pushed_);
  end_pushed_ = true;
  chunks_.push_back({NextReleaseTime(now), {}, 0});
}

std::span<const std::uint8_t> DelayQueue::Ready(TimePoint now) const {
  if (chunks_.empty()) return {};
  const Chunk& c = chunks_.front();
  if (c.bytes.empty() || c.release > now) return {};
  return std::span<const std::uint8_t>(c.bytes).subspan(c.offset);
}

void DelayQueue::Consume(std::size_t n) {
  while (n > 0 && !chunks_.empty() && !chunks_.front().bytes.empty()) {
    Chunk& c = chunks_.front();
    const std::size_t take = std::min(n, c.bytes.size() - c.offset);
    c.offset += take;
    bytes_ -= take;
    n -= take;
    if (c.offset == c.bytes.size()) chunks_.pop_front();
  }
  assert(n == 0);
}

bool DelayQueue::EndReady(TimePoint now) const {
  return !chunks_.empty() && chunks_.front().bytes.empty() && chunks_.front().release <= now;
}

std::optional<TimePoint> DelayQueue::NextRelease() const {
  if (chunks_.empty()) return std::nullopt;
  return chunks_.front().release;
}

}  // namespace deepedge::testbed
