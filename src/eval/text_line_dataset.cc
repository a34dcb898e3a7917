// Text-line data sets: labels.tsv plus PGM / PPM images (include/deepedge/eval_dataset.h).
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"
#include "eval/labels_file.h"

namespace deepedge {
namespace {

// The next header token of a PNM file: whitespace and '#' comments skipped.
bool NextToken(std::string_view b, std::size_t& at, std::string& token) {
  token.clear();
  while (at < b.size()) {
    if (b[at] == '#') {
      while (at < b.size() && b[at] != '\n') ++at;
    } else if (std::isspace(static_cast<unsigned char>(b[at]))) {
      ++at;
    } else {
      break;
    }
  }
  while (at < b.size() && !std::isspace(static_cast<unsigned char>(b[at])) && b[at] != '#') {
    token += b[at++];
  }
  return !token.empty();
}

bool PositiveInt(const std::string& s, std::int64_t& v) {
  if (s.empty() || s.size() > 6) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v > 0;
}

class TextLineDataset final : public ImageDataset {
 public:
  TextLineDataset(std::filesystem::path dir, std::vector<std::pair<std::string, std::string>> rows)
      : dir_(std::move(dir)), rows_(std::move(rows)) {}

  std::string Description() const override {
    return "text lines: " + dir_.string() + " (" + std::to_string(rows_.size()) + " lines)";
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(rows_.size()); }

  Status Get(std::int64_t i, ImageSample& out) const override {
    const auto& [file, text] = rows_[static_cast<std::size_t>(i)];
    out.index = i;
    out.label = -1;
    out.text = text;
    const std::string what = "sample " + std::to_string(i) + " (" + file + ")";
    Expected<std::string> bytes = ReadFileText(dir_ / file);
    if (!bytes) return Status(bytes.status().code(), what + ": " + bytes.status().message());
    return DecodePnm(*bytes, what, out);
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, std::string>> rows_;  // file, text
};

}  // namespace

Status DecodePnm(std::string_view b, const std::string& what, ImageSample& out) {
  std::size_t at = 0;
  std::string magic, w, h, maxval;
  if (!NextToken(b, at, magic) || (magic != "P5" && magic != "P6")) {
    return Corrupt(what + ": not a binary PGM (P5) or PPM (P6) image");
  }
  std::int64_t width = 0, height = 0, mv = 0;
  if (!NextToken(b, at, w) || !NextToken(b, at, h) || !NextToken(b, at, maxval) ||
      !PositiveInt(w, width) || !PositiveInt(h, height) || !PositiveInt(maxval, mv)) {
    return Corrupt(what + ": bad PNM header");
  }
  if (mv != 255) return Corrupt(what + ": maxval " + maxval + " (only 255 is read)");
  ++at;  // the single whitespace byte after maxval
  const int channels = magic == "P5" ? 1 : 3;
  const std::size_t need = static_cast<std::size_t>(width * height * channels);
  if (at > b.size() || b.size() - at < need) {
    return Corrupt(what + ": " + std::to_string(b.size() - std::min(at, b.size())) +
                   " pixel bytes, " + std::to_string(need) + " expected for " + w + "x" + h);
  }
  out.width = width;
  out.height = height;
  out.channels = channels;
  out.pixels.assign(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(at + need));
  return Status::Ok();
}

Expected<std::unique_ptr<ImageDataset>> OpenTextLineDataset(const std::filesystem::path& dir) {
  std::vector<std::pair<std::string, std::string>> rows;
  DEEPEDGE_RETURN_IF_ERROR(eval_internal::ForEachLabelsLine(
      dir / "labels.tsv", "FILE<TAB>TEXT",
      "a text-line data set is a directory with labels.tsv and its images",
      [&](std::string file, std::string_view text) -> Status {
        rows.emplace_back(std::move(file), std::string(text));
        return Status::Ok();
      }));
  return std::unique_ptr<ImageDataset>(new TextLineDataset(dir, std::move(rows)));
}

}  // namespace deepedge
