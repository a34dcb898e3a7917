// IDX files: the format of MNIST and Fashion-MNIST (LeCun et al.; Xiao et al. 2017).
//
// An IDX file is a big-endian header (two zero bytes, an element-type code, the rank,
// then one uint32 per dimension) followed by the elements in row-major order. DeepEdge
// reads the two kinds labelled image sets use: unsigned-byte images [N, rows, cols]
// (rank 3) and unsigned-byte labels [N] (rank 1). Files may be gzip-compressed (as
// Debian's dataset-fashion-mnist ships them); compression is recognised by its magic,
// not by the file name.
//
// All functions are pure (no global state) and thread-safe; results are plain values
// owned by the caller.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge {

// Where Debian's dataset-fashion-mnist package installs the four files.
inline constexpr const char* kFashionMnistDebianDir = "/usr/share/datasets/fashion-mnist";

// uint8 images, row-major [count, rows, cols]: pixels.size() == count * rows * cols.
struct IdxImages {
  std::int64_t count = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::uint8_t> pixels;

  // The rows * cols pixels of image i (0 <= i < count).
  std::span<const std::uint8_t> image(std::int64_t i) const {
    const auto size = static_cast<std::size_t>(rows * cols);
    return std::span<const std::uint8_t>(pixels).subspan(static_cast<std::size_t>(i) * size, size);
  }
};

// Images and their labels, the same count of each.
struct IdxLabelledImages {
  IdxImages images;
  std::vector<std::uint8_t> labels;
};

// Parse an in-memory IDX image (already decompressed or gzip: both are accepted).
// Errors: Corrupt naming the problem (bad magic, wrong element type or rank, a zero
// dimension, data shorter or longer than the header says, a truncated gzip stream).
Expected<IdxImages> ParseIdxImages(std::span<const std::uint8_t> bytes);
Expected<std::vector<std::uint8_t>> ParseIdxLabels(std::span<const std::uint8_t> bytes);

// Read a file (plain or gzip). Errors as above with the file name prefixed; NotFound
// or Io when the file cannot be read.
Expected<IdxImages> ReadIdxImages(const std::filesystem::path& path);
Expected<std::vector<std::uint8_t>> ReadIdxLabels(const std::filesystem::path& path);

// Read an images file and its labels file; Corrupt when their counts differ.
// `max_label`: labels above it are Corrupt (e.g. 9 for the ten Fashion-MNIST classes).
Expected<IdxLabelledImages> ReadIdxLabelledImages(const std::filesystem::path& images,
                                                  const std::filesystem::path& labels,
                                                  std::uint8_t max_label = 255);

// The Fashion-MNIST split "train" (60,000) or "test" (10,000) from `dir`, which holds
// the files under their published names ("train-images-idx3-ubyte", with or without
// ".gz"). Also checks that the images are 28 x 28 and the labels 0-9.
Expected<IdxLabelledImages> ReadFashionMnist(const std::filesystem::path& dir,
                                             std::string_view split);

}  // namespace deepedge
