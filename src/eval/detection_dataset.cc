// Detection data sets: one labels file of images and their boxes
// (include/deepedge/eval_dataset.h).
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"
#include "deepedge/model_card.h"

namespace deepedge {
namespace {

struct DetectionRow {
  std::string image;           // as the labels file writes it
  std::filesystem::path path;  // resolved
  std::vector<LabelledBox> boxes;
};

class DetectionDataset final : public ImageDataset {
 public:
  DetectionDataset(std::filesystem::path labels, std::vector<DetectionRow> rows,
                   std::size_t objects)
      : labels_(std::move(labels)), rows_(std::move(rows)), objects_(objects) {}

  std::string Description() const override {
    return "detection: " + labels_.string() + " (" + std::to_string(rows_.size()) + " images, " +
           std::to_string(objects_) + " boxes)";
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(rows_.size()); }

  Status Get(std::int64_t i, ImageSample& out) const override {
    const DetectionRow& row = rows_[static_cast<std::size_t>(i)];
    out.index = i;
    out.label = -1;
    out.text.clear();
    out.name = row.image;
    out.boxes = row.boxes;
    const std::string what = "sample " + std::to_string(i) + " (" + row.image + ")";
    Expected<std::string> bytes = ReadFileText(row.path);
    if (!bytes) return Status(bytes.status().code(), what + ": " + bytes.status().message());
    if (bytes->size() >= 2 && static_cast<unsigned char>((*bytes)[0]) == 0xFF &&
        static_cast<unsigned char>((*bytes)[1]) == 0xD8) {
      return DecodeJpeg(*bytes, what, out);
    }
    return DecodePnm(*bytes, what, out);
  }

 private:
  std::filesystem::path labels_;
  std::vector<DetectionRow> rows_;
  std::size_t objects_;
};

bool ParseNumber(std::string_view s, double& v) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(v);
}

// "x_min,y_min,x_max,y_max"; the error text when it is not.
Expected<LabelledBox> ParseBox(std::string_view s) {
  double v[4];
  std::size_t at = 0;
  for (int k = 0; k < 4; ++k) {
    const std::size_t comma = k < 3 ? s.find(',', at) : s.size();
    if (comma == std::string_view::npos || !ParseNumber(s.substr(at, comma - at), v[k])) {
      return Corrupt("box '" + std::string(s) + "' is not x_min,y_min,x_max,y_max");
    }
    at = comma + 1;
  }
  if (v[2] <= v[0] || v[3] <= v[1]) {
    return InvalidArgument("box '" + std::string(s) +
                           "' is empty (x_max <= x_min or y_max <= y_min)");
  }
  return LabelledBox{v[0], v[1], v[2], v[3]};
}

}  // namespace

Expected<std::unique_ptr<ImageDataset>> OpenDetectionDataset(const std::filesystem::path& labels) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(labels, ec)) {
    return NotFound(labels.string() +
                    ": no such file (a detection data set is a labels file: "
                    "IMAGE<TAB>x_min,y_min,x_max,y_max ... per line)");
  }
  DEEPEDGE_ASSIGN_OR_RETURN(std::string text, ReadFileText(labels));
  std::vector<DetectionRow> rows;
  std::size_t start = 0, line_no = 0, objects = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = labels.string() + ": line " + std::to_string(line_no);
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) {
      return Corrupt(where + ": expected IMAGE<TAB>BOXES (x_min,y_min,x_max,y_max ... or -)");
    }
    DetectionRow row;
    row.image = line.substr(0, tab);
    row.path = ResolveCardFile(row.image, labels);
    const std::string boxes = line.substr(tab + 1);
    if (boxes != "-") {
      std::size_t at = 0;
      while (at <= boxes.size()) {
        std::size_t sp = boxes.find(' ', at);
        if (sp == std::string::npos) sp = boxes.size();
        if (sp > at) {
          Expected<LabelledBox> box = ParseBox(std::string_view(boxes).substr(at, sp - at));
          if (!box) return Status(box.status().code(), where + ": " + box.status().message());
          row.boxes.push_back(*box);
        }
        at = sp + 1;
      }
      if (row.boxes.empty())
        return Corrupt(where + ": no boxes (write - for an image without any)");
    }
    objects += row.boxes.size();
    rows.push_back(std::move(row));
  }
  return std::unique_ptr<ImageDataset>(new DetectionDataset(labels, std::move(rows), objects));
}

}  // namespace deepedge
