// Reading any tensor's elements as doubles, for comparisons in tests.
#pragma once

#include <cstddef>
#include <cstdint>

#include "deepedge/dtype.h"
#include "deepedge/tensor.h"

namespace deepedge::testing {

inline double ElementAsDouble(const Tensor& t, std::size_t i) {
  switch (t.dtype()) {
    case DType::kF32:
      return t.as<float>()[i];
    case DType::kF16:
      return F16ToF32(t.as<std::uint16_t>()[i]);
    case DType::kBF16:
      return BF16ToF32(t.as<std::uint16_t>()[i]);
    case DType::kI8:
      return t.as<std::int8_t>()[i];
    case DType::kU8:
    case DType::kBool:
      return t.as<std::uint8_t>()[i];
    case DType::kI16:
      return t.as<std::int16_t>()[i];
    case DType::kI32:
      return t.as<std::int32_t>()[i];
    case DType::kI64:
      return static_cast<double>(t.as<std::int64_t>()[i]);
  }
  return 0;
}

}  // namespace deepedge::testing
