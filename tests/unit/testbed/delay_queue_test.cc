#include "testbed/delay_queue.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace deepedge::testbed {
namespace {

using std::chrono::milliseconds;

std::span<const std::uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string Str(std::span<const std::uint8_t> b) {
  return {b.begin(), b.end()};
}

const TimePoint t0{};

TEST(DelayQueue, ReleasesEachChunkDelayAfterItsArrival) {
  DelayQueue q(milliseconds(50), 1024);
  q.Push(t0, Bytes("abc"));
  q.Push(t0 + milliseconds(10), Bytes("de"));
  EXPECT_TRUE(q.Ready(t0 + milliseconds(49)).empty());
  EXPECT_EQ(q.NextRelease(), t0 + milliseconds(50));
  EXPECT_EQ(Str(q.Ready(t0 + milliseconds(50))), "abc");
  q.Consume(3);
  // The second chunk arrived 10 ms later: not due at 50 ms.
  EXPECT_TRUE(q.Ready(t0 + milliseconds(59)).empty());
  EXPECT_EQ(q.NextRelease(), t0 + milliseconds(60));
  EXPECT_EQ(Str(q.Ready(t0 + milliseconds(60))), "de");
  q.Consume(2);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.NextRelease(), std::nullopt);
}

TEST(DelayQueue, PartialConsumeKeepsTheRest) {
  DelayQueue q(milliseconds(0), 1024);
  q.Push(t0, Bytes("hello"));
  q.Consume(2);
  EXPECT_EQ(Str(q.Ready(t0)), "llo");
  EXPECT_EQ(q.size(), 3u);
  q.Consume(3);
  EXPECT_EQ(q.size(), 0u);
}

TEST(DelayQueue, CapacityBoundsWhatItHolds) {
  DelayQueue q(milliseconds(5), 8);
  EXPECT_EQ(q.Room(), 8u);
  q.Push(t0, Bytes("12345"));
  EXPECT_EQ(q.Room(), 3u);
  q.Push(t0, Bytes("678"));
  EXPECT_EQ(q.Room(), 0u);
  q.Consume(0);
  EXPECT_EQ(Str(q.Ready(t0 + milliseconds(5))), "12345");
  q.Consume(5);
  EXPECT_EQ(q.Room(), 5u);
}

TEST(DelayQueue, EndTravelsBehindTheData) {
  DelayQueue q(milliseconds(20), 64);
  q.Push(t0, Bytes("x"));
  q.PushEnd(t0 + milliseconds(1));
  EXPECT_TRUE(q.end_pushed());
  EXPECT_FALSE(q.EndReady(t0 + milliseconds(100)));  // data still in front
  q.Consume(q.Ready(t0 + milliseconds(20)).size());
  EXPECT_FALSE(q.EndReady(t0 + milliseconds(20)));
  EXPECT_TRUE(q.Ready(t0 + milliseconds(21)).empty());  // the marker is no data
  EXPECT_TRUE(q.EndReady(t0 + milliseconds(21)));
}

TEST(DelayQueue, ClockGoingBackwardsDoesNotReorder) {
  DelayQueue q(milliseconds(10), 64);
  q.Push(t0 + milliseconds(100), Bytes("first"));
  q.Push(t0 + milliseconds(50), Bytes("second"));
  EXPECT_TRUE(q.Ready(t0 + milliseconds(60)).empty());
  EXPECT_EQ(Str(q.Ready(t0 + milliseconds(110))), "first");
  q.Consume(5);
  EXPECT_EQ(Str(q.Ready(t0 + milliseconds(110))), "second");
}

TEST(DelayQueue, NegativeDelayIsZeroAndZeroCapacityIsOne) {
  DelayQueue q(milliseconds(-5), 0);
  EXPECT_EQ(q.delay(), milliseconds(0));
  EXPECT_EQ(q.capacity(), 1u);
}

// Against a reference: a random stream pushed and drained at random times comes out
// whole, in order, and no byte leaves before its arrival time + delay.
TEST(DelayQueue, RandomStreamMatchesReference) {
  std::mt19937 rng(7);
  const auto delay = milliseconds(30);
  DelayQueue q(delay, 100);
  std::string sent, got;
  std::vector<TimePoint> arrival;  // per byte
  TimePoint now = t0;
  std::size_t delivered = 0;
  for (int step = 0; step < 5000; ++step) {
    now += milliseconds(rng() % 7);
    if (rng() % 2 && q.Room() > 0) {
      const std::size_t n = 1 + rng() % q.Room();
      std::string chunk;
      for (std::size_t i = 0; i < n; ++i) chunk.push_back(static_cast<char>('a' + rng() % 26));
      q.Push(now, Bytes(chunk));
      sent += chunk;
      arrival.insert(arrival.end(), n, now);
    } else {
      auto r = q.Ready(now);
      const std::size_t take = r.empty() ? 0 : 1 + rng() % r.size();
      for (std::size_t i = 0; i < take; ++i) {
        ASSERT_GE(now, arrival[delivered + i] + delay) << "byte " << delivered + i;
      }
      got += Str(r.first(take));
      q.Consume(take);
      delivered += take;
    }
    ASSERT_LE(q.size(), 100u);
  }
  now += delay;
  while (!q.Ready(now).empty()) {
    got += Str(q.Ready(now));
    q.Consume(q.Ready(now).size());
  }
  EXPECT_EQ(got, sent);
}

}  // namespace
}  // namespace deepedge::testbed
