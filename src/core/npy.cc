#include "deepedge/npy.h"

#include <cstring>
#include <string>

#include "deepedge/file_util.h"

namespace deepedge {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

struct Descr {
  std::string_view text;
  DType dtype;
};
// Little-endian descriptors; '|' marks single-byte types.
constexpr Descr kDescrs[] = {
    {"<f4", DType::kF32}, {"<f2", DType::kF16}, {"<V2", DType::kBF16},
    {"|i1", DType::kI8},  {"|u1", DType::kU8},  {"<i2", DType::kI16},
    {"<i4", DType::kI32}, {"<i8", DType::kI64}, {"|b1", DType::kBool},
};

// Returns the value text after 'key': in a Python dict literal header.
std::string_view FindValue(std::string_view header, std::string_view key) {
  std::string quoted(1, '\'');
  quoted.append(key).push_back('\'');
  std::size_t k = header.find(quoted);
  if (k == std::string_view::npos) return {};
  std::size_t colon = header.find(':', k + quoted.size());
  if (colon == std::string_view::npos) return {};
  std::size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string_view::npos) return {};
  std::size_t end;
  if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string_view::npos) return {};
    return header.substr(start + 1, end - start - 1);
  }
  if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string_view::npos) return {};
    return header.substr(start + 1, end - start - 1);
  }
  end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}

}  // namespace

Expected<Tensor> ParseNpy(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    return Corrupt("not a .npy file (bad magic)");
  }
  const int major = bytes[6];
  std::size_t header_len = 0;
  std::size_t offset = 0;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Corrupt("truncated .npy header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) |
                 (static_cast<std::size_t>(bytes[11]) << 24);
    offset = 12;
  } else {
    return Unsupported(".npy format version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) return Corrupt("truncated .npy header");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + offset), header_len);

  const std::string_view descr = FindValue(header, "descr");
  const std::string_view fortran = FindValue(header, "fortran_order");
  const std::string_view shape_text = FindValue(header, "shape");
  if (descr.empty() || fortran.empty() || header.find("'shape'") == std::string_view::npos) {
    return Corrupt("malformed .npy header");
  }
  if (fortran.substr(0, 4) == "True") return Unsupported(".npy in Fortran order");
  std::optional<DType> dtype;
  for (const Descr& d : kDescrs) {
    // numpy writes '|i1' but some writers use '<i1'; both mean the same byte.
    if (d.text == descr ||
        (d.text[0] == '|' && descr.size() == 3 && descr.substr(1) == d.text.substr(1))) {
      dtype = d.dtype;
    }
  }
  if (!dtype) return Unsupported(".npy element type '" + std::string(descr) + "'");

  std::vector<std::int64_t> dims;
  std::size_t pos = 0;
  while (pos < shape_text.size()) {
    std::size_t end = shape_text.find(',', pos);
    if (end == std::string_view::npos) end = shape_text.size();
    std::string part(shape_text.substr(pos, end - pos));
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) {
      char* stop = nullptr;
      const long long v = std::strtoll(part.c_str(), &stop, 10);
      if (*stop != '\0' || v < 0)
        return Corrupt("malformed .npy shape '" + std::string(shape_text) + "'");
      dims.push_back(v);
    }
    pos = end + 1;
  }
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(*dtype, Shape(std::move(dims))));
  const std::size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != t.byte_size()) {
    return Corrupt(".npy data is " + std::to_string(bytes.size() - data_offset) + " bytes, shape " +
                   t.shape().ToString() + " needs " + std::to_string(t.byte_size()));
  }
  if (t.byte_size()) std::memcpy(t.data(), bytes.data() + data_offset, t.byte_size());
  return t;
}

Expected<Tensor> ReadNpy(const std::filesystem::path& path) {
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes, ReadFileBytes(path));
  Expected<Tensor> t = ParseNpy(bytes);
  if (!t) return t.status().WithContext(path.string());
  return t;
}

std::vector<std::uint8_t> EncodeNpy(const Tensor& tensor) {
  std::string_view descr = "<f4";
  for (const Descr& d : kDescrs) {
    if (d.dtype == tensor.dtype()) descr = d.text;
  }
  std::string shape;
  for (std::int64_t d : tensor.shape().dims()) shape += std::to_string(d) + ", ";
  if (tensor.shape().rank() > 1) shape.erase(shape.size() - 2);  // "(2, 3)" but "(2,)"
  if (tensor.shape().rank() == 1) shape.erase(shape.size() - 1);
  std::string header =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary, newline-terminated.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::vector<std::uint8_t> out(kMagic, kMagic + 6);
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<std::uint8_t>(header.size() & 0xFF));
  out.push_back(static_cast<std::uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const auto data = tensor.bytes();
  out.insert(out.end(), reinterpret_cast<const std::uint8_t*>(data.data()),
             reinterpret_cast<const std::uint8_t*>(data.data()) + data.size());
  return out;
}

}  // namespace deepedge
