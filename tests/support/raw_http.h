// A minimal HTTP/1.1 client over a raw loopback socket, for server tests: the test
// writes the request bytes itself (curl-style), so nothing of the server's HTTP
// library is trusted on the client side.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <map>
#include <string>

namespace deepedge::testing {

struct HttpReply {
  int status = -1;                             // -1: no reply (connect, write or read failed)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A connected socket to 127.0.0.1:port, or -1.
inline int ConnectLoopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool WriteAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads one response (Content-Length framed, or until EOF) from `fd`, waiting at
// most `timeout_ms` for each chunk.
// Parses a reply's head (status line and header lines, without the blank line that
// ends it) into r.status and r.headers; false when it is not an HTTP/1.x reply.
inline bool ParseHead(const std::string& head, HttpReply& r) {
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return false;
  r.status = std::stoi(head.substr(9, 3));
  r.headers.clear();
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value[0] == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = next;
  }
  return true;
}

inline HttpReply ReadReply(int fd, int timeout_ms = 30000) {
  HttpReply r;
  std::string buf;
  std::size_t header_end = std::string::npos;
  std::size_t need = std::string::npos;
  char chunk[65536];
  for (;;) {
    if (header_end != std::string::npos && need != std::string::npos &&
        buf.size() >= header_end + 4 + need) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    if (header_end == std::string::npos) {
      header_end = buf.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      if (!ParseHead(buf.substr(0, header_end), r)) return HttpReply{};
      if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
        need = std::stoul(it->second);
      }
    }
  }
  if (header_end == std::string::npos) {
    r.status = -1;
    return r;
  }
  r.body = buf.substr(header_end + 4);
  if (need != std::string::npos && r.body.size() > need) r.body.resize(need);
  return r;
}

// Replies read one at a time from a keep-alive connection, keeping whatever arrives
// past the current one for the next (ReadReply reads one reply per connection).
// Statuses 1xx carry no body; other replies need a Content-Length.
class ReplyReader {
 public:
  explicit ReplyReader(int fd) : fd_(fd) {}
  // The next reply, or status -1 when none arrives within timeout_ms.
  HttpReply Next(int timeout_ms = 10000) {
    for (;;) {
      const std::size_t end = buf_.find("\r\n\r\n");
      HttpReply r;
      if (end != std::string::npos) {
        if (!ParseHead(buf_.substr(0, end), r)) return HttpReply{};
        std::size_t length = 0;
        if (auto it = r.headers.find("content-length"); it != r.headers.end() && r.status >= 200)
          length = std::stoul(it->second);
        if (buf_.size() >= end + 4 + length) {
          r.body = buf_.substr(end + 4, length);
          buf_.erase(0, end + 4 + length);
          return r;
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return HttpReply{};
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return HttpReply{};
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

// Sends `method path` with `body` and `extra_headers` ("Name: value\r\n" lines) on a
// fresh connection ("Connection: close") and returns the reply.
inline HttpReply Http(int port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& extra_headers = "",
                      int timeout_ms = 30000) {
  HttpReply r;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return r;
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (method == "POST" || !body.empty()) {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += extra_headers + "\r\n" + body;
  if (WriteAll(fd, req)) r = ReadReply(fd, timeout_ms);
  ::close(fd);
  return r;
}

}  // namespace deepedge::testing
