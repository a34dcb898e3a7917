// Internals of the IDX reader (private to deepedge_data), exposed for its tests.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "deepedge/status.h"

namespace deepedge::data {

// True when `bytes` starts with the gzip magic (1f 8b).
bool IsGzip(std::span<const std::uint8_t> bytes);

// Inflates a complete gzip stream (concatenated members included). Corrupt when the
// stream is malformed or ends early, or when it would inflate past `max_bytes`
// (a guard against a hostile or damaged file filling memory).
Expected<std::vector<std::uint8_t>> Gunzip(std::span<const std::uint8_t> bytes,
                                           std::size_t max_bytes);

// The upper bound ParseIdx* applies to decompressed data: 2 GiB, far above the
// 47 MB of Fashion-MNIST's training images.
inline constexpr std::size_t kMaxIdxBytes = std::size_t{2} << 30;

}  // namespace deepedge::data
