// Small TCP helpers for the testbed tools (relay and probe): IPv4/IPv6 "HOST:PORT"
// parsing, listening and connecting sockets. File descriptors returned are owned by
// the caller (close them). Errors name the address and the OS reason.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "deepedge/status.h"

namespace deepedge::testbed {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  std::string text;  // as given, for messages
};

// "127.0.0.1:80", "[::1]:80", "localhost:80" -> an address (numeric port 0..65535).
Expected<SockAddr> ResolveHostPort(std::string_view host_port);

// A listening TCP socket on `addr` (SO_REUSEADDR; port 0 picks a free one).
Expected<int> ListenTcp(const SockAddr& addr, int backlog = 64);
// The port a bound socket listens on.
int LocalPort(int fd);
// A connected socket (blocking), TCP_NODELAY set.
Expected<int> ConnectTcp(const SockAddr& addr);
// A socket whose non-blocking connect to `addr` is started (EINPROGRESS is success).
Expected<int> StartConnectTcp(const SockAddr& addr);

Status SetNonBlocking(int fd);
void SetNoDelay(int fd);

// Blocking full write / full read; IoError on failure or early end of stream.
Status WriteAll(int fd, const void* data, std::size_t n);
Status ReadAll(int fd, void* data, std::size_t n);

}  // namespace deepedge::testbed
