// Whole-file reads and crash-safe writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge {

// Reads a whole file. Errors name the file.
Expected<std::vector<std::uint8_t>> ReadFileBytes(const std::filesystem::path& path);
Expected<std::string> ReadFileText(const std::filesystem::path& path);

// Writes to "<path>.tmp-<pid>" and renames it over `path`, so a reader never sees a
// half-written file and a failure leaves no partial file behind.
Status WriteFileAtomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view text);

}  // namespace deepedge

namespace deepedge {

// Lower-case hex SHA-256 of a file's content, read in chunks (models can be large).
Expected<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace deepedge
