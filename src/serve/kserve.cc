#include "deepedge/kserve.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

namespace deepedge::kserve {
namespace {

using json = nlohmann::json;

struct DatatypeEntry {
  std::string_view name;
  std::optional<DType> dtype;
};
constexpr DatatypeEntry kDatatypes[] = {
    {"BOOL", DType::kBool},   {"UINT8", DType::kU8},    {"UINT16", std::nullopt},
    {"UINT32", std::nullopt}, {"UINT64", std::nullopt}, {"INT8", DType::kI8},
    {"INT16", DType::kI16},   {"INT32", DType::kI32},   {"INT64", DType::kI64},
    {"FP16", DType::kF16},    {"FP32", DType::kF32},    {"FP64", std::nullopt},
    {"BYTES", std::nullopt},  {"BF16", DType::kBF16},
};

// Rejects nesting deeper than `max_depth` before nlohmann sees the text, so that no
// input can make a parser or destructor recurse without bound.
Status CheckJsonDepth(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) + " levels");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::Ok();
}

Expected<json> ParseJson(std::string_view text, const Limits& limits) {
  DEEPEDGE_RETURN_IF_ERROR(CheckJsonDepth(text, limits.max_json_depth));
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

Expected<Parameter> ToParameter(const json& v, const std::string& key) {
  switch (v.type()) {
    case json::value_t::boolean:
      return Parameter(v.get<bool>());
    case json::value_t::number_integer:
      return Parameter(v.get<std::int64_t>());
    case json::value_t::number_unsigned: {
      const auto u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Parameter(static_cast<std::int64_t>(u));
      }
      return Parameter(static_cast<double>(u));
    }
    case json::value_t::number_float:
      return Parameter(v.get<double>());
    case json::value_t::string:
      return Parameter(v.get<std::string>());
    default:
      return InvalidArgument("parameter \"" + key + "\" is not a bool, number or string");
  }
}

Expected<Parameters> ToParameters(const json& obj, const std::string& where) {
  if (!obj.is_object()) return InvalidArgument(where + ": \"parameters\" is not an object");
  Parameters out;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    Expected<Parameter> p = ToParameter(it.value(), it.key());
    if (!p) return p.status().WithContext(where);
    out.emplace(it.key(), std::move(*p));
  }
  return out;
}

json FromParameters(const Parameters& params) {
  json obj = json::object();
  for (const auto& param : params) {  // not a structured binding: clang 14 cannot capture one
    const std::string& key = param.first;
    std::visit([&obj, &key](const auto& x) { obj[key] = x; }, param.second);
  }
  return obj;
}

// A tensor's description, checked, before its data is read.
struct TensorHeader {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::int64_t> dims;
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;
  std::optional<std::uint64_t> binary_size;  // binary_data_size when sent binary
  const json* data = nullptr;                // "data" when sent as JSON
};

Expected<TensorHeader> ParseTensorHeader(const json& t, const std::string& where,
                                         const Limits& limits) {
  if (!t.is_object()) return InvalidArgument(where + " is not an object");
  TensorHeader h;
  auto name = t.find("name");
  if (name == t.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InvalidArgument(where + " has no \"name\" string");
  }
  h.name = name->get<std::string>();
  const std::string what = "tensor \"" + h.name + "\"";

  auto datatype = t.find("datatype");
  if (datatype == t.end() || !datatype->is_string()) {
    return InvalidArgument(what + " has no \"datatype\" string");
  }
  const std::string& dt = datatype->get_ref<const std::string&>();
  std::optional<DType> dtype = ParseDatatype(dt);
  if (!dtype) {
    if (IsProtocolDatatype(dt)) {
      return Unsupported(what + ": datatype " + dt + " is not supported by DeepEdge");
    }
    return InvalidArgument(what + ": unknown datatype \"" + dt + "\"");
  }
  h.dtype = *dtype;

  auto shape = t.find("shape");
  if (shape == t.end() || !shape->is_array()) {
    return InvalidArgument(what + " has no \"shape\" array");
  }
  if (shape->size() > limits.max_rank) {
    return InvalidArgument(what + ": rank " + std::to_string(shape->size()) + " exceeds " +
                           std::to_string(limits.max_rank));
  }
  std::uint64_t elements = 1;
  bool overflow = false;
  for (const json& d : *shape) {
    std::int64_t dim = 0;
    if (d.is_number_unsigned()) {
      const auto u = d.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return InvalidArgument(what + ": dimension " + std::to_string(u) + " is too large");
      }
      dim = static_cast<std::int64_t>(u);
    } else if (d.is_number_integer()) {
      dim = d.get<std::int64_t>();
    } else {
      return InvalidArgument(what + ": shape has a non-integer dimension " +
                             d.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (dim < 0) {
      return InvalidArgument(what + ": dimension " + std::to_string(dim) + " is negative");
    }
    h.dims.push_back(dim);
    overflow =
        overflow || __builtin_mul_overflow(elements, static_cast<std::uint64_t>(dim), &elements);
  }
  const std::uint64_t esize = DTypeSize(h.dtype);
  if (overflow || __builtin_mul_overflow(elements, esize, &h.bytes)) {
    return InvalidArgument(what + ": shape " + shape->dump() + " overflows");
  }
  h.elements = elements;
  if (h.bytes > limits.max_tensor_bytes) {
    return InvalidArgument(what + ": " + std::to_string(h.bytes) + " bytes exceeds the limit of " +
                           std::to_string(limits.max_tensor_bytes));
  }

  if (auto params = t.find("parameters"); params != t.end()) {
    if (!params->is_object()) return InvalidArgument(what + ": \"parameters\" is not an object");
    if (auto bds = params->find("binary_data_size"); bds != params->end()) {
      if (!bds->is_number_integer() ||
          (!bds->is_number_unsigned() && bds->get<std::int64_t>() < 0)) {
        return InvalidArgument(what + ": binary_data_size is not a non-negative integer");
      }
      h.binary_size = bds->get<std::uint64_t>();
    }
  }
  if (auto data = t.find("data"); data != t.end()) h.data = &*data;
  if (h.binary_size && h.data) {
    return InvalidArgument(what + " has both \"data\" and binary_data_size");
  }
  if (h.binary_size && *h.binary_size != h.bytes) {
    return InvalidArgument(what + ": binary_data_size " + std::to_string(*h.binary_size) +
                           " but shape " + shape->dump() + " of " + dt + " needs " +
                           std::to_string(h.bytes) + " bytes");
  }
  if (!h.binary_size && !h.data) {
    return InvalidArgument(what + " has neither \"data\" nor binary_data_size");
  }
  return h;
}

// Counts the scalars of a (possibly nested) "data" array; depth is bounded by
// CheckJsonDepth.
Expected<std::uint64_t> CountElements(const json& v) {
  if (!v.is_array()) return std::uint64_t{1};
  std::uint64_t n = 0;
  for (const json& e : v) {
    Expected<std::uint64_t> c = CountElements(e);
    if (!c) return c;
    n += *c;
  }
  return n;
}

template <typename T>
Status StoreInteger(const json& v, T* out, const std::string& what, std::uint64_t index) {
  auto bad = [&](const char* why) {
    return InvalidArgument(what + ": element " + std::to_string(index) + " (" +
                           v.dump(-1, ' ', false, json::error_handler_t::replace) + ") " + why);
  };
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return bad("out of range");
    *out = static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto s = v.get<std::int64_t>();
    if (s < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        s > static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
      return bad("out of range");
    }
    *out = static_cast<T>(s);
  } else {
    return bad("is not an integer");
  }
  return Status::Ok();
}

Status StoreElement(const json& v, DType dtype, std::byte* base, std::uint64_t index,
                    const std::string& what) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: {
      if (!v.is_number()) {
        return InvalidArgument(what + ": element " + std::to_string(index) + " (" +
                               v.dump(-1, ' ', false, json::error_handler_t::replace) +
                               ") is not a number");
      }
      // Out of range: the value would round to infinity in the target type (a
      // shortest decimal form may lie a little above the largest finite value).
      // Checked before the cast: converting a double beyond float's range is UB.
      constexpr double kF32Edge = 3.4028235677973366e38;  // FLT_MAX + half an ulp
      const double d = v.get<double>();
      const float f = std::fabs(d) < kF32Edge ? static_cast<float>(d) : HUGE_VALF;
      const bool finite = dtype == DType::kF16
                              ? std::isfinite(F16ToF32(F32ToF16(f)))
                              : std::isfinite(f) && (dtype == DType::kF32 ||
                                                     std::isfinite(BF16ToF32(F32ToBF16(f))));
      if (!finite) {
        return InvalidArgument(what + ": element " + std::to_string(index) + " (" +
                               v.dump(-1, ' ', false, json::error_handler_t::replace) +
                               ") is out of range");
      }
      if (dtype == DType::kF32) {
        std::memcpy(base + index * 4, &f, 4);
      } else {
        const std::uint16_t h = dtype == DType::kF16 ? F32ToF16(f) : F32ToBF16(f);
        std::memcpy(base + index * 2, &h, 2);
      }
      return Status::Ok();
    }
    case DType::kBool:
      if (!v.is_boolean()) {
        return InvalidArgument(what + ": element " + std::to_string(index) + " (" +
                               v.dump(-1, ' ', false, json::error_handler_t::replace) +
                               ") is not true or false");
      }
      base[index] = static_cast<std::byte>(v.get<bool>() ? 1 : 0);
      return Status::Ok();
    case DType::kI8:
      return StoreInteger(v, reinterpret_cast<std::int8_t*>(base) + index, what, index);
    case DType::kU8:
      return StoreInteger(v, reinterpret_cast<std::uint8_t*>(base) + index, what, index);
    case DType::kI16: {
      std::int16_t x = 0;
      DEEPEDGE_RETURN_IF_ERROR(StoreInteger(v, &x, what, index));
      std::memcpy(base + index * 2, &x, 2);
      return Status::Ok();
    }
    case DType::kI32: {
      std::int32_t x = 0;
      DEEPEDGE_RETURN_IF_ERROR(StoreInteger(v, &x, what, index));
      std::memcpy(base + index * 4, &x, 4);
      return Status::Ok();
    }
    case DType::kI64: {
      std::int64_t x = 0;
      DEEPEDGE_RETURN_IF_ERROR(StoreInteger(v, &x, what, index));
      std::memcpy(base + index * 8, &x, 8);
      return Status::Ok();
    }
  }
  return Internal("unknown dtype");
}

Status FillFromJson(const json& v, DType dtype, std::byte* base, std::uint64_t& index,
                    const std::string& what) {
  if (v.is_array()) {
    for (const json& e : v) DEEPEDGE_RETURN_IF_ERROR(FillFromJson(e, dtype, base, index, what));
    return Status::Ok();
  }
  DEEPEDGE_RETURN_IF_ERROR(StoreElement(v, dtype, base, index, what));
  ++index;
  return Status::Ok();
}

// Decodes the "inputs" / "outputs" array of a message into tensors; `binary` is the
// bytes after the JSON part, consumed in order.
Expected<std::vector<NamedTensor>> DecodeTensors(const json& array, const char* field,
                                                 std::string_view binary, const Limits& limits) {
  if (!array.is_array()) return InvalidArgument(std::string("\"") + field + "\" is not an array");
  if (array.size() > limits.max_tensors) {
    return InvalidArgument(std::string("\"") + field + "\" has " + std::to_string(array.size()) +
                           " tensors, more than the limit of " +
                           std::to_string(limits.max_tensors));
  }
  std::vector<TensorHeader> headers;
  std::uint64_t total = 0, binary_total = 0;
  for (std::size_t i = 0; i < array.size(); ++i) {
    Expected<TensorHeader> h =
        ParseTensorHeader(array[i], std::string(field) + "[" + std::to_string(i) + "]", limits);
    if (!h) return h.status();
    for (const TensorHeader& other : headers) {
      if (other.name == h->name) {
        return InvalidArgument("tensor \"" + h->name + "\" appears twice in \"" + field + "\"");
      }
    }
    total += h->bytes;
    if (total > limits.max_total_bytes) {
      return InvalidArgument(std::string("\"") + field + "\" holds more than " +
                             std::to_string(limits.max_total_bytes) + " bytes");
    }
    if (h->binary_size) binary_total += *h->binary_size;
    if (h->data) {
      Expected<std::uint64_t> n = CountElements(*h->data);
      if (!n) return n.status();
      if (*n != h->elements) {
        return InvalidArgument("tensor \"" + h->name + "\": \"data\" has " + std::to_string(*n) +
                               " elements but its shape needs " + std::to_string(h->elements));
      }
    }
    headers.push_back(std::move(*h));
  }
  if (binary_total != binary.size()) {
    return InvalidArgument("binary data is " + std::to_string(binary.size()) +
                           " bytes but the tensors' binary_data_size add up to " +
                           std::to_string(binary_total));
  }

  std::vector<NamedTensor> out;
  out.reserve(headers.size());
  std::size_t offset = 0;
  for (TensorHeader& h : headers) {
    Expected<Tensor> t = Tensor::Allocate(h.dtype, Shape(h.dims));
    if (!t) return t.status().WithContext("tensor \"" + h.name + "\"");
    if (h.binary_size) {
      if (h.bytes > 0) std::memcpy(t->data(), binary.data() + offset, h.bytes);
      offset += h.bytes;
    } else {
      std::uint64_t index = 0;
      DEEPEDGE_RETURN_IF_ERROR(FillFromJson(*h.data, h.dtype, static_cast<std::byte*>(t->data()),
                                            index, "tensor \"" + h.name + "\""));
    }
    out.push_back({std::move(h.name), std::move(*t), h.binary_size.has_value()});
  }
  return out;
}

// Splits a body into its JSON part and binary part.
Expected<std::pair<std::string_view, std::string_view>> SplitBody(
    std::string_view body, std::optional<std::size_t> header_length) {
  if (!header_length) return std::pair{body, std::string_view{}};
  if (*header_length > body.size()) {
    return InvalidArgument(std::string(kHeaderLengthHeader) + " " + std::to_string(*header_length) +
                           " exceeds the body's " + std::to_string(body.size()) + " bytes");
  }
  return std::pair{body.substr(0, *header_length), body.substr(*header_length)};
}

Expected<std::string> OptionalString(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::string();
  if (!it->is_string()) return InvalidArgument(std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

void AppendFloat(std::string& out, float f) {
  if (f == 0.0f && std::signbit(f)) {
    out += "-0.0";  // "-0" would be read back as the integer 0
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  out.append(buf, r.ptr);
}

template <typename T>
void AppendInt(std::string& out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Appends the flat "data" array of `t` as JSON text (faster and shorter than building
// a json value per element: floats in their shortest round-trip form).
Status AppendData(std::string& out, const Tensor& t, const std::string& name) {
  const std::int64_t n = t.element_count();
  const auto* p = static_cast<const std::byte*>(t.data());
  out += '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (i) out += ',';
    float f = 0.0f;
    switch (t.dtype()) {
      case DType::kF32:
        std::memcpy(&f, p + i * 4, 4);
        break;
      case DType::kF16:
      case DType::kBF16: {
        std::uint16_t h;
        std::memcpy(&h, p + i * 2, 2);
        f = t.dtype() == DType::kF16 ? F16ToF32(h) : BF16ToF32(h);
        break;
      }
      case DType::kI8:
        AppendInt(out, static_cast<int>(reinterpret_cast<const std::int8_t*>(p)[i]));
        continue;
      case DType::kU8:
        AppendInt(out, static_cast<int>(reinterpret_cast<const std::uint8_t*>(p)[i]));
        continue;
      case DType::kI16: {
        std::int16_t x;
        std::memcpy(&x, p + i * 2, 2);
        AppendInt(out, static_cast<int>(x));
        continue;
      }
      case DType::kI32: {
        std::int32_t x;
        std::memcpy(&x, p + i * 4, 4);
        AppendInt(out, x);
        continue;
      }
      case DType::kI64: {
        std::int64_t x;
        std::memcpy(&x, p + i * 8, 8);
        AppendInt(out, x);
        continue;
      }
      case DType::kBool:
        out += p[i] != std::byte{0} ? "true" : "false";
        continue;
    }
    if (!std::isfinite(f)) {
      return InvalidArgument("tensor \"" + name + "\": element " + std::to_string(i) +
                             " is not finite and JSON cannot carry it; ask for binary data");
    }
    AppendFloat(out, f);
  }
  out += ']';
  return Status::Ok();
}

// The tensors whose bytes follow the JSON part, in order (copied once, by Finish).
using BinaryParts = std::vector<const Tensor*>;

// Appends one tensor object; binary tensors get binary_data_size and join `binary`.
Status AppendTensor(std::string& out, BinaryParts& binary, const NamedTensor& nt, bool as_binary) {
  if (nt.name.empty()) return InvalidArgument("a tensor has an empty name");
  if (!nt.tensor.shape().is_static()) {
    return InvalidArgument("tensor \"" + nt.name + "\" has a dynamic shape");
  }
  json head = json::object();
  head["name"] = nt.name;
  head["shape"] = nt.tensor.shape().dims();
  head["datatype"] = std::string(DatatypeName(nt.tensor.dtype()));
  if (as_binary) {
    head["parameters"] = {{"binary_data_size", nt.tensor.byte_size()}};
    out += head.dump(-1, ' ', false, json::error_handler_t::replace);
    binary.push_back(&nt.tensor);
    return Status::Ok();
  }
  std::string text = head.dump(-1, ' ', false, json::error_handler_t::replace);
  text.pop_back();  // reopen the object to add "data"
  out += text;
  out += ",\"data\":";
  DEEPEDGE_RETURN_IF_ERROR(AppendData(out, nt.tensor, nt.name));
  out += '}';
  return Status::Ok();
}

// One allocation and one copy of each tensor: the body can be hundreds of MiB.
EncodedBody Finish(std::string json_part, const BinaryParts& binary) {
  EncodedBody b;
  b.json_size = json_part.size();
  std::size_t total = json_part.size();
  for (const Tensor* t : binary) total += t->byte_size();
  if (total == json_part.size()) {
    b.body = std::move(json_part);
    return b;
  }
  b.body.reserve(total);
  b.body = json_part;
  for (const Tensor* t : binary) {
    b.body.append(static_cast<const char*>(t->data()), t->byte_size());
  }
  return b;
}

Expected<std::vector<std::string>> StringArray(const json& obj, const char* key, bool required) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return InvalidArgument(std::string("no \"") + key + "\" array");
    return out;
  }
  if (!it->is_array()) return InvalidArgument(std::string("\"") + key + "\" is not an array");
  for (const json& s : *it) {
    if (!s.is_string()) return InvalidArgument(std::string("\"") + key + "\" holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

json TensorMetadataJson(const std::vector<TensorMetadata>& ts) {
  json a = json::array();
  for (const TensorMetadata& t : ts) {
    a.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  }
  return a;
}

Expected<std::vector<TensorMetadata>> TensorMetadataFrom(const json& obj, const char* key) {
  std::vector<TensorMetadata> out;
  auto it = obj.find(key);
  if (it == obj.end()) return out;
  if (!it->is_array()) return InvalidArgument(std::string("\"") + key + "\" is not an array");
  for (const json& t : *it) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() ||
        !t.contains("datatype") || !t["datatype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array()) {
      return InvalidArgument(std::string("an entry of \"") + key +
                             "\" lacks name, datatype or shape");
    }
    TensorMetadata m;
    m.name = t["name"].get<std::string>();
    m.datatype = t["datatype"].get<std::string>();
    for (const json& d : t["shape"]) {
      if (!d.is_number_integer()) {
        return InvalidArgument("tensor \"" + m.name + "\" has a non-integer dimension");
      }
      m.shape.push_back(d.get<std::int64_t>());
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

std::string_view DatatypeName(DType t) {
  for (const DatatypeEntry& e : kDatatypes) {
    if (e.dtype == t) return e.name;
  }
  return "";
}

std::optional<DType> ParseDatatype(std::string_view name) {
  for (const DatatypeEntry& e : kDatatypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

bool IsProtocolDatatype(std::string_view name) {
  for (const DatatypeEntry& e : kDatatypes) {
    if (e.name == name) return true;
  }
  return false;
}

bool InferRequest::binary_data_output() const {
  auto it = parameters.find("binary_data_output");
  return it != parameters.end() && std::holds_alternative<bool>(it->second) &&
         std::get<bool>(it->second);
}

Expected<std::optional<std::size_t>> ParseHeaderLength(std::string_view value,
                                                       std::size_t body_size) {
  if (value.empty()) return std::optional<std::size_t>();
  std::size_t n = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), n);
  if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
    return InvalidArgument(std::string(kHeaderLengthHeader) + " \"" + std::string(value) +
                           "\" is not a byte count");
  }
  if (n > body_size) {
    return InvalidArgument(std::string(kHeaderLengthHeader) + " " + std::to_string(n) +
                           " exceeds the body's " + std::to_string(body_size) + " bytes");
  }
  return std::optional<std::size_t>(n);
}

Expected<EncodedBody> EncodeInferRequest(const InferRequest& request, bool binary_inputs) {
  std::string out = "{";
  BinaryParts binary;
  if (!request.id.empty())
    out += "\"id\":" + json(request.id).dump(-1, ' ', false, json::error_handler_t::replace) + ",";
  if (!request.parameters.empty()) {
    out += "\"parameters\":" +
           FromParameters(request.parameters).dump(-1, ' ', false, json::error_handler_t::replace) +
           ",";
  }
  out += "\"inputs\":[";
  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    if (i) out += ',';
    DEEPEDGE_RETURN_IF_ERROR(AppendTensor(out, binary, request.inputs[i], binary_inputs));
  }
  out += ']';
  if (!request.outputs.empty()) {
    json outs = json::array();
    for (const RequestedOutput& o : request.outputs) {
      json e = {{"name", o.name}};
      if (o.binary) e["parameters"] = {{"binary_data", true}};
      outs.push_back(std::move(e));
    }
    out += ",\"outputs\":" + outs.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += '}';
  return Finish(std::move(out), binary);
}

Expected<InferRequest> DecodeInferRequest(std::string_view body,
                                          std::optional<std::size_t> header_length,
                                          const Limits& limits) {
  DEEPEDGE_ASSIGN_OR_RETURN(auto parts, SplitBody(body, header_length));
  DEEPEDGE_ASSIGN_OR_RETURN(json doc, ParseJson(parts.first, limits));
  if (!doc.is_object()) return InvalidArgument("the inference request is not a JSON object");
  InferRequest req;
  DEEPEDGE_ASSIGN_OR_RETURN(req.id, OptionalString(doc, "id"));
  if (auto p = doc.find("parameters"); p != doc.end()) {
    DEEPEDGE_ASSIGN_OR_RETURN(req.parameters, ToParameters(*p, "request"));
    if (auto b = req.parameters.find("binary_data_output");
        b != req.parameters.end() && !std::holds_alternative<bool>(b->second)) {
      return InvalidArgument("parameter binary_data_output is not a bool");
    }
  }
  auto inputs = doc.find("inputs");
  if (inputs == doc.end()) return InvalidArgument("the inference request has no \"inputs\"");
  DEEPEDGE_ASSIGN_OR_RETURN(req.inputs, DecodeTensors(*inputs, "inputs", parts.second, limits));
  if (auto outs = doc.find("outputs"); outs != doc.end()) {
    if (!outs->is_array()) return InvalidArgument("\"outputs\" is not an array");
    if (outs->size() > limits.max_tensors) {
      return InvalidArgument("\"outputs\" lists more than " + std::to_string(limits.max_tensors) +
                             " tensors");
    }
    for (const json& o : *outs) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) {
        return InvalidArgument("an entry of \"outputs\" has no \"name\" string");
      }
      RequestedOutput ro;
      ro.name = o["name"].get<std::string>();
      if (auto p = o.find("parameters"); p != o.end()) {
        if (!p->is_object()) {
          return InvalidArgument("output \"" + ro.name + "\": \"parameters\" is not an object");
        }
        if (auto b = p->find("binary_data"); b != p->end()) {
          if (!b->is_boolean()) {
            return InvalidArgument("output \"" + ro.name + "\": binary_data is not a bool");
          }
          ro.binary = b->get<bool>();
        }
      }
      for (const RequestedOutput& other : req.outputs) {
        if (other.name == ro.name) {
          return InvalidArgument("output \"" + ro.name + "\" is requested twice");
        }
      }
      req.outputs.push_back(std::move(ro));
    }
  }
  return req;
}

Expected<EncodedBody> EncodeInferResponse(const InferResponse& response) {
  std::string out = "{\"model_name\":" +
                    json(response.model_name).dump(-1, ' ', false, json::error_handler_t::replace);
  BinaryParts binary;
  if (!response.model_version.empty()) {
    out += ",\"model_version\":" +
           json(response.model_version).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (!response.id.empty())
    out += ",\"id\":" + json(response.id).dump(-1, ' ', false, json::error_handler_t::replace);
  if (!response.parameters.empty()) {
    out += ",\"parameters\":" +
           FromParameters(response.parameters).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  out += ",\"outputs\":[";
  for (std::size_t i = 0; i < response.outputs.size(); ++i) {
    if (i) out += ',';
    DEEPEDGE_RETURN_IF_ERROR(
        AppendTensor(out, binary, response.outputs[i], response.outputs[i].binary));
  }
  out += "]}";
  return Finish(std::move(out), binary);
}

Expected<InferResponse> DecodeInferResponse(std::string_view body,
                                            std::optional<std::size_t> header_length,
                                            const Limits& limits) {
  DEEPEDGE_ASSIGN_OR_RETURN(auto parts, SplitBody(body, header_length));
  DEEPEDGE_ASSIGN_OR_RETURN(json doc, ParseJson(parts.first, limits));
  if (!doc.is_object()) return InvalidArgument("the inference response is not a JSON object");
  if (auto err = doc.find("error"); err != doc.end() && err->is_string()) {
    return Unavailable("server error: " + err->get<std::string>());
  }
  InferResponse res;
  DEEPEDGE_ASSIGN_OR_RETURN(res.model_name, OptionalString(doc, "model_name"));
  DEEPEDGE_ASSIGN_OR_RETURN(res.model_version, OptionalString(doc, "model_version"));
  DEEPEDGE_ASSIGN_OR_RETURN(res.id, OptionalString(doc, "id"));
  if (auto p = doc.find("parameters"); p != doc.end()) {
    DEEPEDGE_ASSIGN_OR_RETURN(res.parameters, ToParameters(*p, "response"));
  }
  auto outputs = doc.find("outputs");
  if (outputs == doc.end()) return InvalidArgument("the inference response has no \"outputs\"");
  DEEPEDGE_ASSIGN_OR_RETURN(res.outputs, DecodeTensors(*outputs, "outputs", parts.second, limits));
  return res;
}

std::string EncodeModelMetadata(const ModelMetadata& m) {
  json j = {{"name", m.name},
            {"versions", m.versions},
            {"platform", m.platform},
            {"inputs", TensorMetadataJson(m.inputs)},
            {"outputs", TensorMetadataJson(m.outputs)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Expected<ModelMetadata> DecodeModelMetadata(std::string_view body) {
  DEEPEDGE_ASSIGN_OR_RETURN(json doc, ParseJson(body, Limits{}));
  if (!doc.is_object()) return InvalidArgument("model metadata is not a JSON object");
  ModelMetadata m;
  DEEPEDGE_ASSIGN_OR_RETURN(m.name, OptionalString(doc, "name"));
  if (m.name.empty()) return InvalidArgument("model metadata has no \"name\"");
  DEEPEDGE_ASSIGN_OR_RETURN(m.versions, StringArray(doc, "versions", false));
  DEEPEDGE_ASSIGN_OR_RETURN(m.platform, OptionalString(doc, "platform"));
  DEEPEDGE_ASSIGN_OR_RETURN(m.inputs, TensorMetadataFrom(doc, "inputs"));
  DEEPEDGE_ASSIGN_OR_RETURN(m.outputs, TensorMetadataFrom(doc, "outputs"));
  return m;
}

std::string EncodeServerMetadata(const ServerMetadata& m) {
  json j = {{"name", m.name}, {"version", m.version}, {"extensions", m.extensions}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Expected<ServerMetadata> DecodeServerMetadata(std::string_view body) {
  DEEPEDGE_ASSIGN_OR_RETURN(json doc, ParseJson(body, Limits{}));
  if (!doc.is_object()) return InvalidArgument("server metadata is not a JSON object");
  ServerMetadata m;
  DEEPEDGE_ASSIGN_OR_RETURN(m.name, OptionalString(doc, "name"));
  DEEPEDGE_ASSIGN_OR_RETURN(m.version, OptionalString(doc, "version"));
  DEEPEDGE_ASSIGN_OR_RETURN(m.extensions, StringArray(doc, "extensions", false));
  return m;
}

std::string EncodeError(std::string_view message) {
  return json{{"error", std::string(message)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string DecodeError(std::string_view body) {
  Expected<json> doc = ParseJson(body, Limits{});
  if (doc && doc->is_object()) {
    if (auto it = doc->find("error"); it != doc->end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return std::string(body.substr(0, 200));
}

}  // namespace deepedge::kserve
