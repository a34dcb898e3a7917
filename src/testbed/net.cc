#include "testbed/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace deepedge::testbed {
namespace {

std::string Errno() {
  return std::strerror(errno);
}

}  // namespace

Expected<SockAddr> ResolveHostPort(std::string_view host_port) {
  const std::string text(host_port);
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return InvalidArgument("address '" + text + "': expected HOST:PORT");
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return InvalidArgument("address '" + text + "': empty host");
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoi(port) > 65535)
    return InvalidArgument("address '" + text + "': port must be a number in 0..65535");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0 || res == nullptr)
    return InvalidArgument("address '" + text + "': " + gai_strerror(rc));
  SockAddr out;
  std::memcpy(&out.storage, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  out.text = text;
  freeaddrinfo(res);
  return out;
}

Expected<int> ListenTcp(const SockAddr& addr, int backlog) {
  const int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError("socket: " + Errno());
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.len) != 0) {
    const std::string e = Errno();
    close(fd);
    return IoError("cannot listen on " + addr.text + ": " + e);
  }
  if (listen(fd, backlog) != 0) {
    const std::string e = Errno();
    close(fd);
    return IoError("cannot listen on " + addr.text + ": " + e);
  }
  return fd;
}

int LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -1;
}

void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Status SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return IoError("fcntl(O_NONBLOCK): " + Errno());
  return Status::Ok();
}

Expected<int> ConnectTcp(const SockAddr& addr) {
  const int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError("socket: " + Errno());
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.len) != 0) {
    const std::string e = Errno();
    close(fd);
    return Unavailable("cannot connect to " + addr.text + ": " + e);
  }
  SetNoDelay(fd);
  return fd;
}

Expected<int> StartConnectTcp(const SockAddr& addr) {
  const int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return IoError("socket: " + Errno());
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.len) != 0 &&
      errno != EINPROGRESS) {
    const std::string e = Errno();
    close(fd);
    return Unavailable("cannot connect to " + addr.text + ": " + e);
  }
  SetNoDelay(fd);
  return fd;
}

Status WriteAll(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return IoError("send: " + Errno());
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

Status ReadAll(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return IoError("recv: " + Errno());
    if (r == 0) return IoError("recv: connection closed early");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return Status::Ok();
}

}  // namespace deepedge::testbed
