// NumPy .npy files (format versions 1.0-3.0, little-endian, C order).
#pragma once

#include <filesystem>

#include "deepedge/status.h"
#include "deepedge/tensor.h"

namespace deepedge {

// Parses a .npy image. Errors: Corrupt (bad magic, header, or size), Unsupported
// (Fortran order, big-endian, or an element type DeepEdge has no DType for).
Expected<Tensor> ParseNpy(std::span<const std::uint8_t> bytes);
Expected<Tensor> ReadNpy(const std::filesystem::path& path);

// Serialises a tensor as .npy version 1.0. bf16 is written as raw "<V2" elements.
std::vector<std::uint8_t> EncodeNpy(const Tensor& tensor);

}  // namespace deepedge
