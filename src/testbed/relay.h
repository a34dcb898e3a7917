// The TCP relay of deepedge-linkdelay: accepts connections on one address, opens one
// upstream connection for each, and forwards bytes both ways through a DelayQueue
// per direction, so every byte (and each side's end of stream) arrives `delay` after
// the relay received it. One thread, poll(2); connections are independent.
//
// Emulation note: the relay terminates TCP on both sides (a split connection), so
// each TCP leg sees a short RTT; the delay shows in request/response latency and in
// transfer completion times, not in TCP's own congestion-window ramp-up.
//
// Thread-safety: Run() on one thread; Stop() and stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "deepedge/status.h"
#include "testbed/delay_queue.h"
#include "testbed/net.h"

namespace deepedge::testbed {

struct RelayOptions {
  std::string listen;                     // "ADDR:PORT" (port 0: any free port, see Relay::port())
  std::string upstream;                   // "HOST:PORT"
  std::chrono::nanoseconds delay{0};      // one way, applied in both directions
  std::size_t buffer_bytes = 256 * 1024;  // per direction and connection
  std::function<TimePoint()> clock = nullptr;  // default: steady_clock::now
};

struct RelayStats {
  std::uint64_t connections = 0;      // accepted
  std::uint64_t upstream_failed = 0;  // upstream connects that failed
  std::uint64_t bytes_up = 0;         // client -> upstream, delivered
  std::uint64_t bytes_down = 0;       // upstream -> client, delivered
};

class Relay {
 public:
  // Binds and listens; the upstream is resolved now and connected per client.
  static Expected<std::unique_ptr<Relay>> Create(RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  int port() const { return port_; }
  // Serves until Stop(); then closes every connection. Error only when the listener
  // itself fails.
  Status Run();
  // Async-signal-safe: sets a flag and wakes Run().
  void Stop();
  RelayStats stats() const;

 private:
  struct Conn;
  explicit Relay(RelayOptions options) : options_(std::move(options)) {}
  TimePoint Now() const;

  RelayOptions options_;
  SockAddr upstream_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> connections_{0}, upstream_failed_{0}, bytes_up_{0}, bytes_down_{0};
};

}  // namespace deepedge::testbed
