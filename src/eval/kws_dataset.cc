// Keyword-spotting data sets: a labels file naming WAV clips, each labelled 1 (holds the
// wake word) or 0 (include/deepedge/eval_dataset.h).
#include <string>
#include <utility>
#include <vector>

#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"
#include "deepedge/model_card.h"
#include "eval/labels_file.h"

namespace deepedge {
namespace {

struct KwsRow {
  std::string audio;           // as the labels file writes it
  std::filesystem::path path;  // resolved
  int label = 0;
};

class KwsDataset final : public AudioDataset {
 public:
  KwsDataset(std::string description, std::vector<KwsRow> rows)
      : description_(std::move(description)), rows_(std::move(rows)) {}

  std::string Description() const override { return description_; }
  std::int64_t size() const override { return static_cast<std::int64_t>(rows_.size()); }

  Status Get(std::int64_t i, AudioSample& out) const override {
    const KwsRow& row = rows_[static_cast<std::size_t>(i)];
    out.index = i;
    out.name = row.audio;
    out.label = row.label;
    out.segments.clear();
    out.samples.clear();
    out.sample_rate = 0;
    const std::string what = "sample " + std::to_string(i) + " (" + row.audio + ")";
    Expected<std::string> bytes = ReadFileText(row.path);
    if (!bytes) return Status(bytes.status().code(), what + ": " + bytes.status().message());
    WavAudio wav;
    DEEPEDGE_RETURN_IF_ERROR(DecodeWav(*bytes, what, wav));
    if (wav.channels != 1) {
      return InvalidArgument(what + ": " + std::to_string(wav.channels) +
                             " channels (mono expected)");
    }
    out.sample_rate = wav.sample_rate;
    out.samples = std::move(wav.samples);
    return Status::Ok();
  }

 private:
  std::string description_;
  std::vector<KwsRow> rows_;
};

}  // namespace

Expected<std::unique_ptr<AudioDataset>> OpenKwsDataset(const std::filesystem::path& labels) {
  std::vector<KwsRow> rows;
  std::size_t positives = 0;
  DEEPEDGE_RETURN_IF_ERROR(eval_internal::ForEachLabelsLine(
      labels, "AUDIO<TAB>LABEL (1: wake word, 0: not)",
      "expected a labels file, one AUDIO<TAB>0-or-1 a line",
      [&](std::string audio, std::string_view rest) -> Status {
        if (rest != "0" && rest != "1") {
          return Corrupt("label '" + std::string(rest) + "' is not 0 or 1");
        }
        KwsRow row;
        row.path = ResolveCardFile(audio, labels);
        row.audio = std::move(audio);
        row.label = rest == "1" ? 1 : 0;
        positives += static_cast<std::size_t>(row.label);
        rows.push_back(std::move(row));
        return Status::Ok();
      }));
  std::string description = "keyword_spotting: " + labels.string() + " (" +
                            std::to_string(rows.size()) + " clips, " + std::to_string(positives) +
                            " with the wake word)";
  return std::unique_ptr<AudioDataset>(new KwsDataset(std::move(description), std::move(rows)));
}

}  // namespace deepedge
