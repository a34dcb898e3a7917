#include "testbed/probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "testbed/net.h"

namespace deepedge::testbed {
namespace {

void PutU64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t GetU64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// Closes the descriptor when leaving scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

Status SendHeader(int fd, char cmd, std::uint64_t n) {
  std::uint8_t h[9];
  h[0] = static_cast<std::uint8_t>(cmd);
  PutU64(h + 1, n);
  return WriteAll(fd, h, sizeof h);
}

Status SendZeros(int fd, std::uint64_t n) {
  std::vector<std::uint8_t> buf(64 * 1024, 0x5a);
  while (n > 0) {
    const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
    DEEPEDGE_RETURN_IF_ERROR(WriteAll(fd, buf.data(), k));
    n -= k;
  }
  return Status::Ok();
}

// Reads up to `len` bytes; `arrival_ns` gets the kernel's arrival time of the last
// segment read (SO_TIMESTAMPNS, CLOCK_REALTIME), or the time of the read when the
// kernel gives none.
ssize_t RecvStamped(int fd, std::uint8_t* data, std::size_t len, std::uint64_t& arrival_ns) {
  iovec iov{data, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t r = recvmsg(fd, &msg, 0);
  arrival_ns = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); r > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      arrival_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
                   static_cast<std::uint64_t>(ts.tv_nsec);
    }
  }
  if (arrival_ns == 0) arrival_ns = RealtimeNs();
  return r;
}

}  // namespace

Expected<RateMeter> ReceiveTimed(int fd, std::uint64_t n) {
  // Kernel arrival times, not the reader's clock: a reader that the scheduler holds
  // back finds the bytes of the stall already queued and would count them as arriving
  // at once (a 0.35 s stall made an 8 Mbit/s link read 11.3 Mbit/s).
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  RateMeter meter(n);
  std::vector<std::uint8_t> buf(64 * 1024);
  while (meter.received() < n) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - meter.received(), buf.size()));
    std::uint64_t arrival_ns = 0;
    const ssize_t r = RecvStamped(fd, buf.data(), want, arrival_ns);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return IoError("transfer ended after " + std::to_string(meter.received()) + " of " +
                     std::to_string(n) + " bytes");
    meter.Add(static_cast<std::uint64_t>(r), arrival_ns);
  }
  return meter;
}

namespace {

Status ServeOne(int fd) {
  std::uint8_t h[9];
  DEEPEDGE_RETURN_IF_ERROR(ReadAll(fd, h, sizeof h));
  const std::uint64_t n = GetU64(h + 1);
  switch (h[0]) {
    case 'P':
      for (std::uint64_t i = 0; i < n; ++i) {
        std::uint8_t b;
        DEEPEDGE_RETURN_IF_ERROR(ReadAll(fd, &b, 1));
        DEEPEDGE_RETURN_IF_ERROR(WriteAll(fd, &b, 1));
      }
      return Status::Ok();
    case 'U': {
      DEEPEDGE_ASSIGN_OR_RETURN(RateMeter m, ReceiveTimed(fd, n));
      std::uint8_t r[24];
      PutU64(r, m.received());
      PutU64(r + 8, m.mark_bytes());
      PutU64(r + 16, m.span_ns());
      return WriteAll(fd, r, sizeof r);
    }
    case 'D':
      return SendZeros(fd, n);
    default:
      return InvalidArgument("unknown probe command");
  }
}

}  // namespace

std::uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t MonotonicNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

void RateMeter::Add(std::uint64_t bytes, std::uint64_t now_ns) {
  received_ += bytes;
  last_ns_ = now_ns;
  if (!started_ && received_ >= mark_) {
    started_ = true;
    mark_bytes_ = received_;
    mark_ns_ = now_ns;
  }
}

double RateMeter::bps() const {
  return RateFromSpan(received_ - mark_bytes_, span_ns());
}

double RateFromSpan(std::uint64_t bytes, std::uint64_t ns) {
  if (ns == 0 || bytes == 0) return -1;
  return static_cast<double>(bytes) * 8.0 / (static_cast<double>(ns) * 1e-9);
}

Expected<ProbeResult> MeasureLink(const ProbeRequest& request) {
  DEEPEDGE_ASSIGN_OR_RETURN(SockAddr addr, ResolveHostPort(request.server));
  ProbeResult out;
  if (request.pings > 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(int raw, ConnectTcp(addr));
    Fd fd{raw};
    DEEPEDGE_RETURN_IF_ERROR(SendHeader(fd.fd, 'P', static_cast<std::uint64_t>(request.pings)));
    for (int i = 0; i < request.pings; ++i) {
      const std::uint64_t t0 = MonotonicNs();
      std::uint8_t b = static_cast<std::uint8_t>(i);
      DEEPEDGE_RETURN_IF_ERROR(WriteAll(fd.fd, &b, 1));
      DEEPEDGE_RETURN_IF_ERROR(ReadAll(fd.fd, &b, 1));
      if (b != static_cast<std::uint8_t>(i)) return Corrupt("ping echo does not match");
      out.rtt_ms.push_back(static_cast<double>(MonotonicNs() - t0) * 1e-6);
    }
  }
  if (request.up_bytes > 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(int raw, ConnectTcp(addr));
    Fd fd{raw};
    DEEPEDGE_RETURN_IF_ERROR(SendHeader(fd.fd, 'U', request.up_bytes));
    DEEPEDGE_RETURN_IF_ERROR(SendZeros(fd.fd, request.up_bytes));
    std::uint8_t r[24];
    DEEPEDGE_RETURN_IF_ERROR(ReadAll(fd.fd, r, sizeof r));
    out.up_bytes = GetU64(r);
    if (out.up_bytes != request.up_bytes) return Corrupt("probe server counted other bytes");
    out.up_bps = RateFromSpan(GetU64(r) - GetU64(r + 8), GetU64(r + 16));
  }
  if (request.down_bytes > 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(int raw, ConnectTcp(addr));
    Fd fd{raw};
    DEEPEDGE_RETURN_IF_ERROR(SendHeader(fd.fd, 'D', request.down_bytes));
    DEEPEDGE_ASSIGN_OR_RETURN(RateMeter m, ReceiveTimed(fd.fd, request.down_bytes));
    out.down_bytes = m.received();
    out.down_bps = m.bps();
  }
  return out;
}

Status ServeProbe(int listen_fd, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    pollfd p{listen_fd, POLLIN, 0};
    const int rc = poll(&p, 1, 100);
    if (rc < 0 && errno != EINTR) return IoError(std::string("poll: ") + std::strerror(errno));
    if (rc <= 0) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    SetNoDelay(fd);
    // A stalled client must not hold the server forever.
    const timeval timeout{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    Fd guard{fd};
    // A client's failure ends its connection only.
    (void)ServeOne(fd);
  }
  return Status::Ok();
}

}  // namespace deepedge::testbed
