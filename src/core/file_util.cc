#include "deepedge/file_util.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

namespace deepedge {

namespace fs = std::filesystem;

Expected<std::vector<std::uint8_t>> ReadFileBytes(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound(path.string() + ": no such file");
  if (fs::is_directory(path, ec)) return InvalidArgument(path.string() + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path.string() + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return IoError(path.string() + ": cannot read its size");
  in.seekg(0, std::ios::beg);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    return IoError(path.string() + ": read failed");
  }
  return bytes;
}

Expected<std::string> ReadFileText(const fs::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  return std::string(bytes.begin(), bytes.end());
}

Status WriteFileAtomic(const fs::path& path, std::span<const std::uint8_t> bytes) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return IoError(path.string() + ": cannot write: " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      return IoError(path.string() + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return IoError(path.string() + ": cannot rename into place: " + ec.message());
  }
  return Status::Ok();
}

Status WriteFileAtomic(const fs::path& path, std::string_view text) {
  return WriteFileAtomic(
      path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                          text.size()));
}

}  // namespace deepedge

// SHA-256 from Nettle: a small library, so that hashing a model maps no more than it
// needs into the process whose memory `deepedge bench` measures (OpenSSL's libcrypto
// added 1.5 MiB of resident pages).
#include <nettle/sha2.h>

namespace deepedge {

Expected<std::string> Sha256File(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path.string() + ": cannot open to hash it");
  sha256_ctx ctx;
  sha256_init(&ctx);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) {
      sha256_update(&ctx, static_cast<std::size_t>(in.gcount()),
                    reinterpret_cast<const std::uint8_t*>(buf.data()));
    }
  }
  if (in.bad()) return IoError(path.string() + ": read failed while hashing");
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (std::uint8_t b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

}  // namespace deepedge
