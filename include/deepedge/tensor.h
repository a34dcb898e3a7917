// Shape and Tensor: the data that crosses every backend boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"

namespace deepedge {

// A tensor shape. A dimension of kDynamic is not known until run time (an ONNX
// dim_param such as "batch", or a TensorFlow placeholder with no shape).
class Shape {
 public:
  static constexpr std::int64_t kDynamic = -1;

  Shape() = default;  // a scalar (rank 0, one element)
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

  std::size_t rank() const { return dims_.size(); }
  std::int64_t operator[](std::size_t i) const { return dims_[i]; }
  std::int64_t& operator[](std::size_t i) { return dims_[i]; }
  const std::vector<std::int64_t>& dims() const { return dims_; }

  // True when no dimension is dynamic.
  bool is_static() const;
  // Product of the dimensions; only meaningful for a static shape (returns -1 otherwise).
  std::int64_t element_count() const;
  // "1x3x224x224", "?x3x224x224" for dynamic dimensions, "scalar" for rank 0.
  std::string ToString() const;
  // Parses the ToString() form ("1x3x224x224" or "1,3,224,224"); "?" is dynamic.
  static Expected<Shape> Parse(std::string_view text);

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  std::vector<std::int64_t> dims_;
};

// A dense, row-major tensor.
//
// Ownership: a Tensor either owns its storage (Allocate: 64-byte aligned, freed
// with the tensor) or borrows memory owned by someone else (Borrow: the caller
// keeps that memory alive and unmodified-by-others for the Tensor's lifetime).
// Tensors are move-only; Clone() makes an owning deep copy.
// Thread-safety: none; a Tensor is a value, share it read-only or not at all.
class Tensor {
 public:
  static constexpr std::size_t kAlignment = 64;  // a cache line; what SIMD kernels want

  Tensor() = default;  // empty: no dtype meaning, no data
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  // Owning, zero-filled storage. The shape must be static and non-negative.
  static Expected<Tensor> Allocate(DType dtype, Shape shape);
  // Borrowed storage: `data` must hold exactly the bytes the shape needs.
  static Expected<Tensor> Borrow(DType dtype, Shape shape, void* data, std::size_t bytes);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t element_count() const { return shape_.element_count(); }
  std::size_t byte_size() const { return bytes_; }
  bool owns_data() const { return storage_ != nullptr; }
  bool empty() const { return data_ == nullptr && bytes_ == 0; }

  void* data() { return data_; }
  const void* data() const { return data_; }
  std::span<std::byte> bytes() { return {static_cast<std::byte*>(data_), bytes_}; }
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(data_), bytes_};
  }
  // Typed view; the caller must ask for the element type that matches dtype().
  template <typename T>
  std::span<T> as() {
    return {static_cast<T*>(data_), bytes_ / sizeof(T)};
  }
  template <typename T>
  std::span<const T> as() const {
    return {static_cast<const T*>(data_), bytes_ / sizeof(T)};
  }

  Tensor Clone() const;

 private:
  struct AlignedFree {
    void operator()(std::byte* p) const;
  };

  DType dtype_ = DType::kF32;
  Shape shape_;
  std::size_t bytes_ = 0;
  std::unique_ptr<std::byte[], AlignedFree> storage_;
  void* data_ = nullptr;
};

}  // namespace deepedge
