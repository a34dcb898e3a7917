// Status and Expected<T>: the error currency of every DeepEdge library boundary.
//
// No exception crosses a public DeepEdge API, a backend or the network: a function
// that can fail returns Status (no value) or Expected<T> (a value or a Status).
// Both are plain values: cheap to move, safe to copy, not thread-safe to mutate
// concurrently (like any value type).
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace deepedge {

// What went wrong, coarse enough for a caller to act on.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something malformed (option, shape, value)
  kNotFound,         // a file, model, backend or tensor name does not exist
  kUnsupported,      // valid, but this backend / build / device cannot do it
  kCorrupt,          // a file exists but its content is truncated or malformed
  kIo,               // reading or writing failed at the OS level
  kUnavailable,      // a resource (sensor, server, device) is absent right now
  kInternal,         // a bug or an unexpected failure inside a dependency
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // One line, human-readable, naming the thing at fault (file, option, tensor).
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message" (for adding the file name
  // or the step at which a lower-level error happened).
  Status WithContext(std::string_view context) const;

  // "code: message", for logs.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {StatusCode::kNotFound, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status Corrupt(std::string m) {
  return {StatusCode::kCorrupt, std::move(m)};
}
inline Status IoError(std::string m) {
  return {StatusCode::kIo, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {StatusCode::kUnavailable, std::move(m)};
}
inline Status Internal(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// A value of type T or the Status that explains why there is none.
// (std::expected is C++23; this is the subset DeepEdge needs.)
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Expected(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Expected<T> built from an OK status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; OK when a value is present.
  Status status() const { return has_value() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace deepedge

#define DEEPEDGE_CONCAT_INNER(a, b) a##b
#define DEEPEDGE_CONCAT(a, b) DEEPEDGE_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define DEEPEDGE_RETURN_IF_ERROR(expr)                   \
  do {                                                   \
    ::deepedge::Status deepedge_status_ = (expr);        \
    if (!deepedge_status_.ok()) return deepedge_status_; \
  } while (0)

// `DEEPEDGE_ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value, or returns its error.
#define DEEPEDGE_ASSIGN_OR_RETURN(lhs, expr) \
  DEEPEDGE_ASSIGN_OR_RETURN_IMPL(DEEPEDGE_CONCAT(deepedge_expected_, __LINE__), lhs, expr)
#define DEEPEDGE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return tmp.status();           \
  lhs = std::move(tmp).value()
