// The relay and the link probe over real loopback sockets.
#include "testbed/relay.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testbed/net.h"
#include "testbed/probe.h"

namespace deepedge::testbed {
namespace {

using std::chrono::milliseconds;

// A loopback server running `handle` on each accepted connection (one at a time).
class TestServer {
 public:
  explicit TestServer(std::function<void(int)> handle) {
    listen_fd_ = ListenTcp(ResolveHostPort("127.0.0.1:0").value()).value();
    port_ = LocalPort(listen_fd_);
    thread_ = std::thread([this, handle] {
      for (;;) {
        const int fd = accept(listen_fd_, nullptr, nullptr);
        if (fd < 0 || stop_) {
          if (fd >= 0) close(fd);
          return;
        }
        handle(fd);
        close(fd);
      }
    });
  }
  ~TestServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void Echo(int fd) {
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    if (!WriteAll(fd, buf, static_cast<std::size_t>(n)).ok()) return;
  }
}

class RunningRelay {
 public:
  explicit RunningRelay(RelayOptions o) {
    auto r = Relay::Create(std::move(o));
    EXPECT_TRUE(r.has_value()) << r.status().ToString();
    relay_ = std::move(*r);
    thread_ = std::thread([this] { EXPECT_TRUE(relay_->Run().ok()); });
  }
  ~RunningRelay() {
    relay_->Stop();
    thread_.join();
  }
  Relay& operator*() { return *relay_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(relay_->port()); }

 private:
  std::unique_ptr<Relay> relay_;
  std::thread thread_;
};

int Connect(const std::string& addr) {
  return ConnectTcp(ResolveHostPort(addr).value()).value();
}

std::string ReadToEnd(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

TEST(Relay, ForwardsALargeStreamBothWaysInOrderThroughASmallBuffer) {
  TestServer echo(Echo);
  RunningRelay relay({.listen = "127.0.0.1:0", .upstream = echo.addr(), .buffer_bytes = 4096});
  std::mt19937 rng(3);
  std::string data(2 << 20, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const int fd = Connect(relay.addr());
  std::thread sender([&] {
    EXPECT_TRUE(WriteAll(fd, data.data(), data.size()).ok());
    shutdown(fd, SHUT_WR);
  });
  const std::string back = ReadToEnd(fd);
  sender.join();
  close(fd);
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "the echoed stream differs";
  EXPECT_EQ((*relay).stats().bytes_up, data.size());
  EXPECT_EQ((*relay).stats().bytes_down, data.size());
}

TEST(Relay, EachDirectionIsDelayed) {
  TestServer echo(Echo);
  RunningRelay relay({.listen = "127.0.0.1:0", .upstream = echo.addr(), .delay = milliseconds(40)});
  const int fd = Connect(relay.addr());
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    char c = 'a', r = 0;
    ASSERT_TRUE(WriteAll(fd, &c, 1).ok());
    ASSERT_TRUE(ReadAll(fd, &r, 1).ok());
    const auto rtt = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r, 'a');
    // Correctness of the emulation: never earlier than the two one-way delays.
    EXPECT_GE(rtt, milliseconds(80));
  }
  close(fd);
}

TEST(Relay, HalfCloseReachesTheUpstreamAndTheReplyComesBack) {
  TestServer server([](int fd) {
    const std::string got = ReadToEnd(fd);  // until the client's end of stream
    const std::string reply = "done:" + got;
    (void)WriteAll(fd, reply.data(), reply.size());
  });
  RunningRelay relay(
      {.listen = "127.0.0.1:0", .upstream = server.addr(), .delay = milliseconds(5)});
  const int fd = Connect(relay.addr());
  ASSERT_TRUE(WriteAll(fd, "abc", 3).ok());
  shutdown(fd, SHUT_WR);
  EXPECT_EQ(ReadToEnd(fd), "done:abc");
  close(fd);
}

TEST(Relay, UnreachableUpstreamClosesTheClient) {
  // A port with no listener: bind one, note it, close it.
  const int tmp = ListenTcp(ResolveHostPort("127.0.0.1:0").value()).value();
  const std::string dead = "127.0.0.1:" + std::to_string(LocalPort(tmp));
  close(tmp);
  RunningRelay relay({.listen = "127.0.0.1:0", .upstream = dead});
  const int fd = Connect(relay.addr());
  (void)WriteAll(fd, "x", 1);
  EXPECT_EQ(ReadToEnd(fd), "");
  close(fd);
  EXPECT_EQ((*relay).stats().upstream_failed, 1u);
}

TEST(Relay, BadAddressesAreNamed) {
  auto r = Relay::Create({.listen = "nonsense", .upstream = "127.0.0.1:1"});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("nonsense"), std::string::npos);
  r = Relay::Create({.listen = "127.0.0.1:0", .upstream = "127.0.0.1:99999"});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.status().message().find("port"), std::string::npos);
  r = Relay::Create({.listen = "127.0.0.1:0", .upstream = "127.0.0.1:1", .buffer_bytes = 0});
  EXPECT_FALSE(r.has_value());
}

TEST(Probe, MeasuresThroughTheRelay) {
  const int lfd = ListenTcp(ResolveHostPort("127.0.0.1:0").value()).value();
  std::atomic<bool> stop{false};
  std::thread server([&] { EXPECT_TRUE(ServeProbe(lfd, stop).ok()); });
  RunningRelay relay({.listen = "127.0.0.1:0",
                      .upstream = "127.0.0.1:" + std::to_string(LocalPort(lfd)),
                      .delay = milliseconds(15)});
  Expected<ProbeResult> r =
      MeasureLink({.server = relay.addr(), .pings = 4, .up_bytes = 1 << 20, .down_bytes = 1 << 20});
  stop = true;
  server.join();
  close(lfd);
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  ASSERT_EQ(r->rtt_ms.size(), 4u);
  for (double ms : r->rtt_ms) EXPECT_GE(ms, 30.0);
  EXPECT_EQ(r->up_bytes, 1u << 20);
  EXPECT_EQ(r->down_bytes, 1u << 20);
  EXPECT_GT(r->up_bps, 0);
  EXPECT_GT(r->down_bps, 0);
}

TEST(Probe, RateMeterSkipsTheFirstFifth) {
  RateMeter m(1000);
  m.Add(100, 0);     // burst: not timed
  m.Add(150, 1000);  // crosses 200 bytes: the clock starts at 250 bytes
  m.Add(750, 1'000'000'000 + 1000);
  EXPECT_EQ(m.received(), 1000u);
  EXPECT_EQ(m.mark_bytes(), 250u);
  EXPECT_DOUBLE_EQ(m.bps(), 750 * 8.0);
  EXPECT_EQ(RateFromSpan(0, 10), -1);
}

// The reader sleeps through the whole paced transfer and then finds it all queued:
// timed by its own clock it would read the bytes at memory speed, timed by their
// arrival it gets the sender's pace.
TEST(Probe, ReceiveTimedUsesArrivalTimesNotReadTimes) {
  const int lfd = ListenTcp(ResolveHostPort("127.0.0.1:0").value()).value();
  const std::string addr = "127.0.0.1:" + std::to_string(LocalPort(lfd));
  constexpr int kChunks = 20;
  constexpr std::size_t kChunk = 4096;
  constexpr auto kGap = milliseconds(20);  // 4096 B / 20 ms = 1.6 Mbit/s
  std::thread sender([&] {
    const int fd = accept(lfd, nullptr, nullptr);
    ASSERT_GE(fd, 0);
    SetNoDelay(fd);
    const std::vector<std::uint8_t> chunk(kChunk, 7);
    for (int i = 0; i < kChunks; ++i) {
      EXPECT_TRUE(WriteAll(fd, chunk.data(), chunk.size()).ok());
      std::this_thread::sleep_for(kGap);
    }
    close(fd);
  });
  const int fd = ConnectTcp(ResolveHostPort(addr).value()).value();
  // Stamps must be on before the bytes come; ReceiveTimed turns them on itself, so
  // the sleep starts after a first call has done so.
  Expected<RateMeter> first = ReceiveTimed(fd, kChunk);
  ASSERT_TRUE(first.has_value()) << first.status().ToString();
  std::this_thread::sleep_for(kGap * (kChunks + 5));
  Expected<RateMeter> m = ReceiveTimed(fd, kChunk * (kChunks - 1));
  sender.join();
  close(fd);
  close(lfd);
  ASSERT_TRUE(m.has_value()) << m.status().ToString();
  const double paced = kChunk * 8.0 / (kGap.count() * 1e-3);
  EXPECT_GT(m->bps(), 0.5 * paced);
  EXPECT_LT(m->bps(), 1.5 * paced);
}

TEST(Probe, NoServerIsAnError) {
  const int tmp = ListenTcp(ResolveHostPort("127.0.0.1:0").value()).value();
  const std::string dead = "127.0.0.1:" + std::to_string(LocalPort(tmp));
  close(tmp);
  Expected<ProbeResult> r = MeasureLink({.server = dead, .pings = 1});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace deepedge::testbed
