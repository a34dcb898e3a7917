#include "data/idx.h"

#include "deepedge/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <string>

#include "deepedge/file_util.h"

namespace deepedge {
namespace data {

bool IsGzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

Expected<std::vector<std::uint8_t>> Gunzip(std::span<const std::uint8_t> bytes,
                                           std::size_t max_bytes) {
  std::vector<std::uint8_t> out;
  z_stream zs{};
  // 15 + 16: a gzip wrapper (not zlib, not raw deflate) with the largest window.
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return Internal("gzip: inflateInit2 failed");
  // zlib's avail_in is 32-bit; feed the input in chunks.
  std::size_t in_pos = 0;
  std::array<std::uint8_t, 1 << 16> chunk{};
  int rc = Z_OK;
  Status error;
  while (true) {
    if (zs.avail_in == 0 && in_pos < bytes.size()) {
      const std::size_t n =
          std::min<std::size_t>(bytes.size() - in_pos, std::numeric_limits<std::uint32_t>::max());
      // zlib's API takes a non-const pointer but does not write through it.
      zs.next_in = const_cast<Bytef*>(bytes.data() + in_pos);
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t produced = chunk.size() - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      error = Corrupt("gzip stream inflates past " + std::to_string(max_bytes) + " bytes");
      break;
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(produced));
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (gzip allows concatenation).
      if (zs.avail_in == 0 && in_pos == bytes.size()) break;
      if (inflateReset(&zs) != Z_OK) {
        error = Internal("gzip: inflateReset failed");
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == bytes.size()) {
      error = Corrupt("truncated gzip stream (ends after " + std::to_string(out.size()) +
                      " decompressed bytes)");
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error = Corrupt(std::string("malformed gzip stream: ") + (zs.msg ? zs.msg : "inflate error"));
      break;
    }
  }
  inflateEnd(&zs);
  if (!error.ok()) return error;
  return out;
}

}  // namespace data

namespace {

std::uint32_t BigEndian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Decompresses when needed; `storage` keeps the inflated bytes alive.
Expected<std::span<const std::uint8_t>> Plain(std::span<const std::uint8_t> bytes,
                                              std::vector<std::uint8_t>& storage) {
  if (!data::IsGzip(bytes)) return bytes;
  DEEPEDGE_ASSIGN_OR_RETURN(storage, data::Gunzip(bytes, data::kMaxIdxBytes));
  return std::span<const std::uint8_t>(storage);
}

// Checks the header of an unsigned-byte IDX tensor of `rank` and returns its dims.
Expected<std::vector<std::int64_t>> ParseHeader(std::span<const std::uint8_t> b, int rank,
                                                const char* what) {
  if (b.size() < 4) {
    return Corrupt(std::string("IDX ") + what + ": " + std::to_string(b.size()) +
                   " bytes, shorter than the 4-byte magic");
  }
  if (b[0] != 0 || b[1] != 0) {
    return Corrupt(std::string("IDX ") + what + ": bad magic (first two bytes must be zero)");
  }
  if (b[2] != 0x08) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", b[2]);
    return Corrupt(std::string("IDX ") + what + ": element type " + code +
                   ", expected 0x08 (unsigned byte)");
  }
  if (b[3] != rank) {
    return Corrupt(std::string("IDX ") + what + ": rank " + std::to_string(b[3]) + ", expected " +
                   std::to_string(rank));
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (b.size() < header) {
    return Corrupt(std::string("IDX ") + what + ": truncated header (" + std::to_string(b.size()) +
                   " of " + std::to_string(header) + " bytes)");
  }
  std::vector<std::int64_t> dims;
  std::uint64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const std::uint32_t d = BigEndian32(b.data() + 4 + 4 * i);
    if (d == 0) {
      return Corrupt(std::string("IDX ") + what + ": dimension " + std::to_string(i) + " is zero");
    }
    dims.push_back(d);
    total *= d;
    if (total > data::kMaxIdxBytes) {
      return Corrupt(std::string("IDX ") + what + ": header claims more than " +
                     std::to_string(data::kMaxIdxBytes) + " bytes");
    }
  }
  const std::uint64_t have = b.size() - header;
  if (have < total) {
    return Corrupt(std::string("IDX ") + what + ": truncated: header says " +
                   std::to_string(total) + " data bytes, file has " + std::to_string(have));
  }
  if (have > total) {
    return Corrupt(std::string("IDX ") + what + ": " + std::to_string(have - total) +
                   " bytes after the data the header describes");
  }
  return dims;
}

}  // namespace

Expected<IdxImages> ParseIdxImages(std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> storage;
  DEEPEDGE_ASSIGN_OR_RETURN(std::span<const std::uint8_t> b, Plain(bytes, storage));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int64_t> dims, ParseHeader(b, 3, "images"));
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  out.pixels.assign(b.begin() + 16, b.end());
  return out;
}

Expected<std::vector<std::uint8_t>> ParseIdxLabels(std::span<const std::uint8_t> bytes) {
  std::vector<std::uint8_t> storage;
  DEEPEDGE_ASSIGN_OR_RETURN(std::span<const std::uint8_t> b, Plain(bytes, storage));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::int64_t> dims, ParseHeader(b, 1, "labels"));
  return std::vector<std::uint8_t>(b.begin() + 8, b.end());
}

Expected<IdxImages> ReadIdxImages(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  Expected<IdxImages> out = ParseIdxImages(bytes);
  if (!out) return out.status().WithContext(path.string());
  return out;
}

Expected<std::vector<std::uint8_t>> ReadIdxLabels(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  Expected<std::vector<std::uint8_t>> out = ParseIdxLabels(bytes);
  if (!out) return out.status().WithContext(path.string());
  return out;
}

Expected<IdxLabelledImages> ReadIdxLabelledImages(const std::filesystem::path& images,
                                                  const std::filesystem::path& labels,
                                                  std::uint8_t max_label) {
  IdxLabelledImages out;
  DEEPEDGE_ASSIGN_OR_RETURN(out.images, ReadIdxImages(images));
  DEEPEDGE_ASSIGN_OR_RETURN(out.labels, ReadIdxLabels(labels));
  if (static_cast<std::int64_t>(out.labels.size()) != out.images.count) {
    return Corrupt(images.string() + " holds " + std::to_string(out.images.count) + " images but " +
                   labels.string() + " holds " + std::to_string(out.labels.size()) + " labels");
  }
  for (std::size_t i = 0; i < out.labels.size(); ++i) {
    if (out.labels[i] > max_label) {
      return Corrupt(labels.string() + ": label " + std::to_string(out.labels[i]) + " of sample " +
                     std::to_string(i) + " is outside 0-" + std::to_string(max_label));
    }
  }
  return out;
}

Expected<IdxLabelledImages> ReadFashionMnist(const std::filesystem::path& dir,
                                             std::string_view split) {
  std::string prefix;
  if (split == "train") {
    prefix = "train";
  } else if (split == "test") {
    prefix = "t10k";
  } else {
    return InvalidArgument("Fashion-MNIST split '" + std::string(split) +
                           "': expected 'train' or 'test'");
  }
  // The published names, compressed (as Debian ships them) or not.
  auto find = [&](const std::string& stem) -> Expected<std::filesystem::path> {
    std::error_code ec;
    for (const std::string& name : {stem, stem + ".gz"}) {
      if (std::filesystem::is_regular_file(dir / name, ec)) return dir / name;
    }
    return NotFound((dir / stem).string() +
                    "(.gz): no such file (Debian package "
                    "dataset-fashion-mnist installs it in " +
                    kFashionMnistDebianDir + ")");
  };
  DEEPEDGE_ASSIGN_OR_RETURN(std::filesystem::path images, find(prefix + "-images-idx3-ubyte"));
  DEEPEDGE_ASSIGN_OR_RETURN(std::filesystem::path labels, find(prefix + "-labels-idx1-ubyte"));
  DEEPEDGE_ASSIGN_OR_RETURN(IdxLabelledImages out, ReadIdxLabelledImages(images, labels, 9));
  if (out.images.rows != 28 || out.images.cols != 28) {
    return Corrupt(images.string() + ": images are " + std::to_string(out.images.rows) + "x" +
                   std::to_string(out.images.cols) + ", Fashion-MNIST's are 28x28");
  }
  return out;
}

}  // namespace deepedge
