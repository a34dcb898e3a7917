#include "deepedge/tensor.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace deepedge {

bool Shape::is_static() const {
  for (std::int64_t d : dims_) {
    if (d < 0) return false;
  }
  return true;
}

std::int64_t Shape::element_count() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims_) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

std::string Shape::ToString() const {
  if (dims_.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += 'x';
    s += dims_[i] < 0 ? std::string("?") : std::to_string(dims_[i]);
  }
  return s;
}

Expected<Shape> Shape::Parse(std::string_view text) {
  if (text == "scalar") return Shape{};
  std::vector<std::int64_t> dims;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find_first_of("x,", pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(pos, end - pos);
    if (part == "?") {
      dims.push_back(kDynamic);
    } else {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
      if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 0) {
        return InvalidArgument("bad shape '" + std::string(text) +
                               "' (expected dimensions like 1x3x224x224)");
      }
      dims.push_back(v);
    }
    pos = end + 1;
  }
  return Shape(std::move(dims));
}

void Tensor::AlignedFree::operator()(std::byte* p) const {
  std::free(p);
}

Expected<Tensor> Tensor::Allocate(DType dtype, Shape shape) {
  if (!shape.is_static()) {
    return InvalidArgument("cannot allocate a tensor of dynamic shape " + shape.ToString());
  }
  const std::int64_t count = shape.element_count();
  const std::size_t elem = DTypeSize(dtype);
  if (count > 0 &&
      static_cast<std::uint64_t>(count) > std::numeric_limits<std::size_t>::max() / 2 / elem) {
    return InvalidArgument("tensor of shape " + shape.ToString() + " is too large");
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.bytes_ = static_cast<std::size_t>(count) * elem;
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t padded = (t.bytes_ + kAlignment - 1) / kAlignment * kAlignment;
  if (padded > 0) {
    auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, padded));
    if (p == nullptr)
      return Internal("out of memory allocating " + std::to_string(padded) + " bytes");
    std::memset(p, 0, padded);
    t.storage_.reset(p);
    t.data_ = p;
  }
  return t;
}

Expected<Tensor> Tensor::Borrow(DType dtype, Shape shape, void* data, std::size_t bytes) {
  if (!shape.is_static()) {
    return InvalidArgument("cannot borrow into a tensor of dynamic shape " + shape.ToString());
  }
  const std::size_t need = static_cast<std::size_t>(shape.element_count()) * DTypeSize(dtype);
  if (need != bytes) {
    return InvalidArgument("tensor of shape " + shape.ToString() + " and type " +
                           std::string(DTypeName(dtype)) + " needs " + std::to_string(need) +
                           " bytes, got " + std::to_string(bytes));
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.bytes_ = bytes;
  t.data_ = data;
  return t;
}

Tensor Tensor::Clone() const {
  Expected<Tensor> copy = Allocate(dtype_, shape_);
  if (!copy) return Tensor();
  if (bytes_) std::memcpy(copy->data(), data_, bytes_);
  return std::move(copy).value();
}

}  // namespace deepedge
