// Image-list data sets: one labels file naming images (JPEG or PNM) with their class
// (classification) or their boxes (detection) (include/deepedge/eval_dataset.h).
#include <charconv>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"
#include "deepedge/model_card.h"
#include "eval/labels_file.h"

namespace deepedge {
namespace {

struct ImageRow {
  std::string image;               // as the labels file writes it
  std::filesystem::path path;      // resolved
  std::int64_t label = -1;         // classification
  std::vector<LabelledBox> boxes;  // detection
};

class ImageListDataset final : public ImageDataset {
 public:
  ImageListDataset(std::string description, std::vector<ImageRow> rows)
      : description_(std::move(description)), rows_(std::move(rows)) {}

  std::string Description() const override { return description_; }
  std::int64_t size() const override { return static_cast<std::int64_t>(rows_.size()); }

  Status Get(std::int64_t i, ImageSample& out) const override {
    const ImageRow& row = rows_[static_cast<std::size_t>(i)];
    out.index = i;
    out.label = row.label;
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
  std::string description_;
  std::vector<ImageRow> rows_;
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

// Reads the labels file's rows: IMAGE<TAB>REST; `parse` fills a row from REST.
template <typename ParseRest>
Expected<std::vector<ImageRow>> ReadImageList(const std::filesystem::path& labels,
                                              std::string_view format, ParseRest parse) {
  std::vector<ImageRow> rows;
  DEEPEDGE_RETURN_IF_ERROR(eval_internal::ForEachLabelsLine(
      labels, format, "expected a labels file, one " + std::string(format) + " a line",
      [&](std::string image, std::string_view rest) -> Status {
        ImageRow row;
        row.path = ResolveCardFile(image, labels);
        row.image = std::move(image);
        DEEPEDGE_RETURN_IF_ERROR(parse(rest, row));
        rows.push_back(std::move(row));
        return Status::Ok();
      }));
  return rows;
}

}  // namespace

Expected<std::unique_ptr<ImageDataset>> OpenDetectionDataset(const std::filesystem::path& labels) {
  std::size_t objects = 0;
  auto parse = [&objects](std::string_view boxes, ImageRow& row) -> Status {
    if (boxes != "-") {
      std::size_t at = 0;
      while (at <= boxes.size()) {
        std::size_t sp = boxes.find(' ', at);
        if (sp == std::string_view::npos) sp = boxes.size();
        if (sp > at) {
          DEEPEDGE_ASSIGN_OR_RETURN(LabelledBox box, ParseBox(boxes.substr(at, sp - at)));
          row.boxes.push_back(box);
        }
        at = sp + 1;
      }
      if (row.boxes.empty()) return Corrupt("no boxes (write - for an image without any)");
    }
    objects += row.boxes.size();
    return Status::Ok();
  };
  DEEPEDGE_ASSIGN_OR_RETURN(
      std::vector<ImageRow> rows,
      ReadImageList(labels, "IMAGE<TAB>BOXES (x_min,y_min,x_max,y_max ... or -)", parse));
  std::string description = "detection: " + labels.string() + " (" + std::to_string(rows.size()) +
                            " images, " + std::to_string(objects) + " boxes)";
  return std::unique_ptr<ImageDataset>(
      new ImageListDataset(std::move(description), std::move(rows)));
}

Expected<std::unique_ptr<ImageDataset>> OpenImageListDataset(const std::filesystem::path& labels) {
  auto parse = [](std::string_view rest, ImageRow& row) -> Status {
    const std::string_view index = rest.substr(0, rest.find('\t'));
    std::int64_t v = -1;
    const auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), v);
    if (index.empty() || ec != std::errc() || end != index.data() + index.size() || v < 0) {
      return Corrupt("class '" + std::string(index) + "' is not a class index (0, 1, ...)");
    }
    row.label = v;
    return Status::Ok();
  };
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<ImageRow> rows,
                            ReadImageList(labels, "IMAGE<TAB>CLASS_INDEX[<TAB>NOTE]", parse));
  std::string description =
      "images: " + labels.string() + " (" + std::to_string(rows.size()) + " images)";
  return std::unique_ptr<ImageDataset>(
      new ImageListDataset(std::move(description), std::move(rows)));
}

}  // namespace deepedge
