#include "testbed/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace deepedge::testbed {

struct Relay::Conn {
  Conn(int c, int u, std::chrono::nanoseconds delay, std::size_t cap)
      : client(c), up(u), to_up(delay, cap), to_client(delay, cap) {}
  int client, up;
  bool connecting = true;       // the upstream connect is in progress
  DelayQueue to_up, to_client;  // client -> upstream, upstream -> client
  bool client_eof = false;      // the client closed its sending side
  bool up_eof = false;          // the upstream closed its sending side
  bool up_shut = false;         // we passed the client's end on to the upstream
  bool client_shut = false;     // we passed the upstream's end on to the client
  bool dead = false;            // reset or error on either side: close both
};

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

bool WouldBlock() {
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

// Reads what fits into `q`; false when the connection must be dropped.
bool ReadInto(int fd, DelayQueue& q, bool& eof, TimePoint now, std::vector<std::uint8_t>& buf) {
  if (eof || q.Room() == 0) return true;
  const ssize_t n = recv(fd, buf.data(), std::min(q.Room(), buf.size()), MSG_DONTWAIT);
  if (n > 0) {
    q.Push(now, std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
  } else if (n == 0) {
    eof = true;
    q.PushEnd(now);
  } else if (!WouldBlock()) {
    return false;
  }
  return true;
}

// Writes due bytes of `q` to `fd`; false when the connection must be dropped.
bool WriteFrom(int fd, DelayQueue& q, TimePoint now, std::atomic<std::uint64_t>& counter) {
  for (;;) {
    const std::span<const std::uint8_t> ready = q.Ready(now);
    if (ready.empty()) return true;
    const ssize_t w = send(fd, ready.data(), ready.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) return WouldBlock();
    q.Consume(static_cast<std::size_t>(w));
    counter += static_cast<std::uint64_t>(w);
  }
}

}  // namespace

Expected<std::unique_ptr<Relay>> Relay::Create(RelayOptions options) {
  if (options.buffer_bytes == 0) return InvalidArgument("relay buffer must be at least 1 byte");
  if (options.delay < std::chrono::nanoseconds(0)) return InvalidArgument("negative delay");
  DEEPEDGE_ASSIGN_OR_RETURN(SockAddr listen_addr, ResolveHostPort(options.listen));
  DEEPEDGE_ASSIGN_OR_RETURN(SockAddr upstream, ResolveHostPort(options.upstream));
  std::unique_ptr<Relay> r(new Relay(std::move(options)));
  r->upstream_ = upstream;
  if (pipe2(r->wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    return IoError(std::string("pipe: ") + std::strerror(errno));
  DEEPEDGE_ASSIGN_OR_RETURN(r->listen_fd_, ListenTcp(listen_addr));
  DEEPEDGE_RETURN_IF_ERROR(SetNonBlocking(r->listen_fd_));
  r->port_ = LocalPort(r->listen_fd_);
  return r;
}

Relay::~Relay() {
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    if (fd >= 0) close(fd);
}

TimePoint Relay::Now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

void Relay::Stop() {
  stop_.store(true);
  const char c = 1;
  [[maybe_unused]] ssize_t w = write(wake_[1], &c, 1);
}

RelayStats Relay::stats() const {
  return {connections_.load(), upstream_failed_.load(), bytes_up_.load(), bytes_down_.load()};
}

Status Relay::Run() {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::uint8_t> buf(kReadChunk);
  std::vector<pollfd> fds;
  Status result = Status::Ok();
  while (!stop_.load()) {
    TimePoint now = Now();
    // Deliver what is due before sleeping, so the wait below covers only the future.
    for (auto& c : conns) {
      if (c->dead) continue;
      if (!c->connecting && !WriteFrom(c->up, c->to_up, now, bytes_up_)) c->dead = true;
      if (!WriteFrom(c->client, c->to_client, now, bytes_down_)) c->dead = true;
      if (!c->connecting && !c->up_shut && c->to_up.EndReady(now)) {
        shutdown(c->up, SHUT_WR);
        c->up_shut = true;
      }
      if (!c->client_shut && c->to_client.EndReady(now)) {
        shutdown(c->client, SHUT_WR);
        c->client_shut = true;
      }
    }
    std::erase_if(conns, [](const std::unique_ptr<Conn>& c) {
      const bool done = c->dead || (c->up_shut && c->client_shut);
      if (done) {
        close(c->client);
        close(c->up);
      }
      return done;
    });

    std::optional<TimePoint> wake_at;
    auto consider = [&](const DelayQueue& q) {
      const std::optional<TimePoint> t = q.NextRelease();
      if (t && *t > now && (!wake_at || *t < *wake_at)) wake_at = t;
    };
    fds.clear();
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns) {
      consider(c->to_up);
      consider(c->to_client);
      short ce = 0, ue = 0;
      if (!c->client_eof && c->to_up.Room() > 0) ce |= POLLIN;
      if (!c->to_client.Ready(now).empty()) ce |= POLLOUT;
      if (c->connecting) {
        ue |= POLLOUT;
      } else {
        if (!c->up_eof && c->to_client.Room() > 0) ue |= POLLIN;
        if (!c->to_up.Ready(now).empty()) ue |= POLLOUT;
      }
      // A socket polled for nothing would still report HUP/ERR at once: skip it.
      fds.push_back({ce ? c->client : -1, ce, 0});
      fds.push_back({ue ? c->up : -1, ue, 0});
    }
    timespec ts{};
    timespec* tsp = nullptr;
    if (wake_at) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*wake_at - now).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tsp = &ts;
    }
    if (ppoll(fds.data(), fds.size(), tsp, nullptr) < 0) {
      if (errno == EINTR) continue;
      result = IoError(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      char drain[16];
      while (read(wake_[0], drain, sizeof drain) > 0) {
      }
    }
    now = Now();
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = *conns[i];
      const short cr = fds[2 + 2 * i].revents, ur = fds[3 + 2 * i].revents;
      if (c.connecting && ur) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.up, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          ++upstream_failed_;
          c.dead = true;
          continue;
        }
        c.connecting = false;
      } else if (!c.connecting && (ur & (POLLIN | POLLHUP | POLLERR))) {
        if (!ReadInto(c.up, c.to_client, c.up_eof, now, buf)) c.dead = true;
      }
      if (cr & (POLLIN | POLLHUP | POLLERR)) {
        if (!ReadInto(c.client, c.to_up, c.client_eof, now, buf)) c.dead = true;
      }
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;  // EAGAIN: accepted everything; other errors: retry next round
        ++connections_;
        SetNoDelay(fd);
        Expected<int> up = StartConnectTcp(upstream_);
        if (!up) {
          ++upstream_failed_;
          close(fd);
          continue;
        }
        conns.push_back(std::make_unique<Conn>(fd, *up, options_.delay, options_.buffer_bytes));
      }
    }
  }
  for (auto& c : conns) {
    close(c->client);
    close(c->up);
  }
  return result;
}

}  // namespace deepedge::testbed
