// deepedge-linkprobe: measures an emulated link end to end over TCP (round-trip time,
// uplink and downlink rate) against a probe server on the other side.
//
// Protocol (one request per connection): 1 command byte and a little-endian u64 N.
//   'P': N round trips of 1 byte each (TCP_NODELAY), the client times each.
//   'U': the client sends N bytes; the server answers three u64: bytes received,
//        bytes received when the rate clock started, nanoseconds from then to the last
//        byte.
//   'D': the server sends N bytes; the client times them the same way.
// Rates skip the first fifth of a transfer, so a token bucket's initial burst and
// TCP's slow start do not inflate them, and are timed by the kernel's arrival stamps,
// not by when the receiver got to read. Rates are in bits per second.
// Thread-safety: the functions share nothing; ServeProbe handles one client at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "deepedge/status.h"

namespace deepedge::testbed {

struct ProbeResult {
  std::vector<double> rtt_ms;  // one per ping
  double up_bps = -1;          // bits/s; -1 when not measured
  double down_bps = -1;
  std::uint64_t up_bytes = 0, down_bytes = 0;
};

struct ProbeRequest {
  std::string server;  // "HOST:PORT"
  int pings = 10;
  std::uint64_t up_bytes = 0;    // 0: skip
  std::uint64_t down_bytes = 0;  // 0: skip
};

Expected<ProbeResult> MeasureLink(const ProbeRequest& request);

// Serves probe requests on a listening socket until `stop` is set (checked every
// 100 ms). The socket stays the caller's.
Status ServeProbe(int listen_fd, const std::atomic<bool>& stop);

// Times the fraction of a transfer after its first fifth.
class RateMeter {
 public:
  explicit RateMeter(std::uint64_t total) : mark_(total / 5) {}
  void Add(std::uint64_t bytes, std::uint64_t now_ns);
  std::uint64_t received() const { return received_; }
  std::uint64_t mark_bytes() const { return mark_bytes_; }
  std::uint64_t span_ns() const { return last_ns_ > mark_ns_ ? last_ns_ - mark_ns_ : 0; }
  // Bits per second over the measured span; -1 when it is empty.
  double bps() const;

 private:
  std::uint64_t mark_;
  std::uint64_t received_ = 0, mark_bytes_ = 0, mark_ns_ = 0, last_ns_ = 0;
  bool started_ = false;
};

double RateFromSpan(std::uint64_t bytes, std::uint64_t ns);

// Receives exactly `n` bytes from a connected TCP socket and times them by their
// kernel arrival (SO_TIMESTAMPNS), so the rate holds even when the reader was not
// scheduled while they came. Blocks; an early end of the stream is an IoError.
Expected<RateMeter> ReceiveTimed(int fd, std::uint64_t n);

std::uint64_t MonotonicNs();
std::uint64_t RealtimeNs();  // CLOCK_REALTIME, the clock of kernel arrival stamps

}  // namespace deepedge::testbed
