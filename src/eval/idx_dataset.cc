#include <algorithm>
#include <cstring>

#include "deepedge/eval_dataset.h"
#include "deepedge/idx.h"

namespace deepedge {
namespace {

class IdxDataset final : public ImageDataset {
 public:
  IdxDataset(std::string description, IdxImages images, std::vector<std::uint8_t> labels)
      : description_(std::move(description)),
        images_(std::move(images)),
        labels_(std::move(labels)) {}

  std::string Description() const override { return description_; }

  std::int64_t size() const override {
    return std::max<std::int64_t>(images_.count, static_cast<std::int64_t>(labels_.size()));
  }

  Status Get(std::int64_t i, ImageSample& out) const override {
    out.index = i;
    const bool has_image = i >= 0 && i < images_.count;
    const bool has_label = i >= 0 && i < static_cast<std::int64_t>(labels_.size());
    if (!has_image && !has_label) {
      return InvalidArgument("sample " + std::to_string(i) + " is outside the data set");
    }
    if (!has_label) return Corrupt("sample " + std::to_string(i) + ": image without label");
    if (!has_image) return Corrupt("sample " + std::to_string(i) + ": label without image");
    out.height = images_.rows;
    out.width = images_.cols;
    out.channels = 1;
    const auto px = images_.image(i);
    out.pixels.assign(px.begin(), px.end());
    out.label = labels_[static_cast<std::size_t>(i)];
    return Status::Ok();
  }

 private:
  std::string description_;
  IdxImages images_;
  std::vector<std::uint8_t> labels_;
};

// `name`, or `name`.gz, in `dir`; the first that exists.
std::filesystem::path FindIdx(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  for (const std::string& n : {name, name + ".gz"}) {
    if (std::filesystem::is_regular_file(dir / n, ec)) return dir / n;
  }
  return dir / (name + ".gz");  // for the NotFound message
}

}  // namespace

Expected<std::unique_ptr<ImageDataset>> OpenIdxDataset(const std::filesystem::path& path,
                                                       std::string_view split) {
  std::error_code ec;
  std::filesystem::path images, labels;
  std::string what;
  if (std::filesystem::is_directory(path, ec)) {
    std::string prefix;
    if (split == "test") {
      prefix = "t10k";
    } else if (split == "train") {
      prefix = "train";
    } else {
      return InvalidArgument("unknown split '" + std::string(split) + "' (test or train)");
    }
    images = FindIdx(path, prefix + "-images-idx3-ubyte");
    labels = FindIdx(path, prefix + "-labels-idx1-ubyte");
    what = std::string(split);
  } else {
    if (!std::filesystem::exists(path, ec)) {
      return NotFound("data " + path.string() + ": no such file or directory");
    }
    images = path;
    std::string name = path.filename().string();
    const auto at = name.find("images-idx3");
    if (at == std::string::npos) {
      return InvalidArgument("data " + path.string() +
                             ": an IDX images file is named *images-idx3-ubyte[.gz] (its labels "
                             "file *labels-idx1-ubyte[.gz]); or pass the directory");
    }
    name.replace(at, std::strlen("images-idx3"), "labels-idx1");
    // The labels file may be compressed when the images are not, or the other way.
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0)
      name.resize(name.size() - 3);
    labels = FindIdx(path.parent_path(), name);
    what = name.substr(0, at);
    while (!what.empty() && (what.back() == '-' || what.back() == '_')) what.pop_back();
  }
  for (const auto& f : {images, labels}) {
    if (!std::filesystem::is_regular_file(f, ec)) {
      return NotFound("data " + f.string() + ": no such file");
    }
  }
  DEEPEDGE_ASSIGN_OR_RETURN(IdxImages imgs, ReadIdxImages(images));
  DEEPEDGE_ASSIGN_OR_RETURN(std::vector<std::uint8_t> labs, ReadIdxLabels(labels));
  std::string description =
      "IDX " + what + ": " + images.string() + " + " + labels.filename().string() + " (" +
      std::to_string(imgs.count) + " images " + std::to_string(imgs.rows) + "x" +
      std::to_string(imgs.cols) + ", " + std::to_string(labs.size()) + " labels)";
  return std::unique_ptr<ImageDataset>(
      new IdxDataset(std::move(description), std::move(imgs), std::move(labs)));
}

}  // namespace deepedge
