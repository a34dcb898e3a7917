#include "monitors/pseudo_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

namespace deepedge::monitors_internal {

namespace fs = std::filesystem;

Expected<std::string> ReadPseudoFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound(path.string() + ": no such file");
    return IoError(path.string() + ": cannot open: " + std::strerror(err));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError(path.string() + ": read failed: " + std::strerror(err));
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

Expected<std::string> ReadTrimmed(const fs::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadPseudoFile(path));
  return std::string(Trim(text));
}

Expected<std::int64_t> ReadInt(const fs::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadPseudoFile(path));
  const std::optional<std::int64_t> v = ParseInt(Trim(text));
  if (!v)
    return Corrupt(path.string() + ": expected an integer, found '" +
                   std::string(Trim(text).substr(0, 40)) + "'");
  return *v;
}

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> ParseInt(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> ParseUint(std::string_view s) {
  s = Trim(s);
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> ParseDouble(std::string_view s) {
  s = Trim(s);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string_view> SplitWhitespace(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    const std::size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> SplitLines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const std::size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

std::optional<int> IndexedName(std::string_view name, std::string_view prefix) {
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  const std::string_view digits = name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return std::nullopt;
  }
  int v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

std::vector<fs::path> IndexedEntries(const fs::path& dir, std::string_view prefix) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return {};
  for (const fs::directory_entry& entry : it) {
    const std::optional<int> index = IndexedName(entry.path().filename().string(), prefix);
    if (index) found.emplace_back(*index, entry.path());
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<fs::path> out;
  out.reserve(found.size());
  for (auto& [index, path] : found) out.push_back(std::move(path));
  return out;
}

std::string MetricLabel(std::string_view label) {
  std::string out;
  bool pending_sep = false;
  for (const char c : label) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      if (pending_sep && !out.empty()) out += '_';
      pending_sep = false;
      out += static_cast<char>(std::tolower(u));
    } else {
      pending_sep = true;
    }
  }
  return out;
}

Expected<ProcessCpuTicks> ParsePidStat(std::string_view text) {
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return Corrupt("stat line has no ')' after the comm field");
  const std::vector<std::string_view> fields = SplitWhitespace(text.substr(close + 1));
  // Fields after the comm start at field 3 (state); utime is field 14, stime 15.
  constexpr std::size_t kUtime = 14 - 3;
  constexpr std::size_t kStime = 15 - 3;
  if (fields.size() <= kStime) return Corrupt("stat line has too few fields");
  const std::optional<std::uint64_t> utime = ParseUint(fields[kUtime]);
  const std::optional<std::uint64_t> stime = ParseUint(fields[kStime]);
  if (!utime || !stime) return Corrupt("stat line: utime/stime are not numbers");
  return ProcessCpuTicks{*utime, *stime};
}

Expected<ProcessCpuTicks> ReadProcessCpuTicks(const MonitorPaths& paths) {
  const fs::path path = paths.proc / paths.pid / "stat";
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadPseudoFile(path));
  Expected<ProcessCpuTicks> ticks = ParsePidStat(text);
  if (!ticks) return ticks.status().WithContext(path.string());
  return ticks;
}

Expected<std::vector<CpuLine>> ParseProcStat(std::string_view text) {
  std::vector<CpuLine> out;
  for (const std::string_view line : SplitLines(text)) {
    const std::vector<std::string_view> f = SplitWhitespace(line);
    if (f.empty() || f[0].substr(0, 3) != "cpu") continue;
    CpuLine cpu;
    if (f[0] != "cpu") {
      const std::optional<int> index = IndexedName(f[0], "cpu");
      if (!index) continue;
      cpu.cpu = *index;
    }
    // user nice system idle [iowait irq softirq steal guest guest_nice]; old kernels
    // stop after idle.
    if (f.size() < 5) return Corrupt("/proc/stat: '" + std::string(f[0]) + "' has too few fields");
    std::uint64_t v[8] = {};
    for (std::size_t i = 0; i < 8 && i + 1 < f.size(); ++i) {
      const std::optional<std::uint64_t> n = ParseUint(f[i + 1]);
      if (!n) return Corrupt("/proc/stat: '" + std::string(f[0]) + "' has a non-numeric field");
      v[i] = *n;
    }
    cpu.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    cpu.idle = v[3] + v[4];
    out.push_back(cpu);
  }
  if (out.empty()) return Corrupt("/proc/stat: no cpu lines");
  return out;
}

std::optional<std::uint64_t> StatusKb(std::string_view status_text, std::string_view key) {
  for (const std::string_view line : SplitLines(status_text)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != key) continue;
    const std::vector<std::string_view> f = SplitWhitespace(line.substr(colon + 1));
    if (f.empty()) return std::nullopt;
    if (f.size() > 1 && f[1] != "kB") return std::nullopt;
    return ParseUint(f[0]);
  }
  return std::nullopt;
}

long ClockTicksPerSecond() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return ticks > 0 ? ticks : 100;
}

std::int64_t NowNs(const Clock& clock) {
  return clock ? clock() : SteadyNowNs();
}

}  // namespace deepedge::monitors_internal
