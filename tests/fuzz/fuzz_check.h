// Checks shared by the fuzz targets: a failed property aborts, which libFuzzer reports
// with the input that caused it.
#pragma once

#include <cstdlib>
#include <cstring>
#include <vector>

#include "deepedge/kserve.h"

namespace deepedge::fuzz {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

// Same names, dtypes, shapes and bytes, in the same order.
inline void CheckSame(const std::vector<kserve::NamedTensor>& a,
                      const std::vector<kserve::NamedTensor>& b) {
  Check(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    Check(a[i].name == b[i].name);
    Check(a[i].tensor.dtype() == b[i].tensor.dtype());
    Check(a[i].tensor.shape() == b[i].tensor.shape());
    Check(a[i].tensor.byte_size() == b[i].tensor.byte_size());
    Check(a[i].tensor.byte_size() == 0 ||
          std::memcmp(a[i].tensor.data(), b[i].tensor.data(), a[i].tensor.byte_size()) == 0);
  }
}

}  // namespace deepedge::fuzz
