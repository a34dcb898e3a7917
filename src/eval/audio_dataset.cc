// Audio data sets: a labels file naming WAV clips with their speech segments (voice
// activity) or a 0 / 1 wake-word label (keyword spotting) (include/deepedge/eval_dataset.h).
#include <algorithm>
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

struct ClipRow {
  std::string audio;               // as the labels file writes it
  std::filesystem::path path;      // resolved
  std::vector<TimeSpan> segments;  // voice activity
  int label = -1;                  // keyword spotting: 1 wake word, 0 not
};

class AudioClipDataset final : public AudioDataset {
 public:
  AudioClipDataset(std::string description, std::vector<ClipRow> rows)
      : description_(std::move(description)), rows_(std::move(rows)) {}

  std::string Description() const override { return description_; }
  std::int64_t size() const override { return static_cast<std::int64_t>(rows_.size()); }

  Status Get(std::int64_t i, AudioSample& out) const override {
    const ClipRow& row = rows_[static_cast<std::size_t>(i)];
    out.index = i;
    out.name = row.audio;
    out.label = row.label;
    out.segments = row.segments;
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
    const double seconds =
        static_cast<double>(out.samples.size()) / static_cast<double>(out.sample_rate);
    if (!row.segments.empty() && row.segments.back().end_s > seconds + 1e-6) {
      return InvalidArgument(what + ": a segment ends at " +
                             std::to_string(row.segments.back().end_s) + " s, after the clip (" +
                             std::to_string(seconds) + " s)");
    }
    return Status::Ok();
  }

 private:
  std::string description_;
  std::vector<ClipRow> rows_;
};

bool ParseSeconds(std::string_view s, double& v) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(v) && v >= 0;
}

// "START-END ..." or "-" into row.segments.
Status ParseSegments(std::string_view text, ClipRow& row) {
  if (text == "-") return Status::Ok();
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t sp = text.find(' ', at);
    if (sp == std::string_view::npos) sp = text.size();
    const std::string_view seg = text.substr(at, sp - at);
    at = sp + 1;
    if (seg.empty()) continue;
    const std::size_t dash = seg.find('-');
    TimeSpan span;
    if (dash == std::string_view::npos || !ParseSeconds(seg.substr(0, dash), span.start_s) ||
        !ParseSeconds(seg.substr(dash + 1), span.end_s)) {
      return Corrupt("segment '" + std::string(seg) + "' is not START-END in seconds");
    }
    if (span.end_s <= span.start_s) {
      return InvalidArgument("segment '" + std::string(seg) + "' is empty (end <= start)");
    }
    if (!row.segments.empty() && span.start_s < row.segments.back().end_s) {
      return InvalidArgument("segment '" + std::string(seg) +
                             "' overlaps or precedes the one before it");
    }
    row.segments.push_back(span);
  }
  if (row.segments.empty()) return Corrupt("no segments (write - for a clip without speech)");
  return Status::Ok();
}

}  // namespace

Expected<std::unique_ptr<AudioDataset>> OpenVadDataset(const std::filesystem::path& labels) {
  std::vector<ClipRow> rows;
  std::size_t with_speech = 0;
  DEEPEDGE_RETURN_IF_ERROR(
      eval_internal::ForEachLabelsLine(labels, "AUDIO<TAB>START-END ... (or - for no speech)",
                                       "expected a labels file, one AUDIO<TAB>START-END ... a line",
                                       [&](std::string audio, std::string_view rest) -> Status {
                                         ClipRow row;
                                         row.path = ResolveCardFile(audio, labels);
                                         row.audio = std::move(audio);
                                         DEEPEDGE_RETURN_IF_ERROR(ParseSegments(rest, row));
                                         with_speech += !row.segments.empty();
                                         rows.push_back(std::move(row));
                                         return Status::Ok();
                                       }));
  std::string description = "vad: " + labels.string() + " (" + std::to_string(rows.size()) +
                            " clips, " + std::to_string(with_speech) + " with speech)";
  return std::unique_ptr<AudioDataset>(
      new AudioClipDataset(std::move(description), std::move(rows)));
}

Expected<std::unique_ptr<AudioDataset>> OpenKwsDataset(const std::filesystem::path& labels) {
  std::vector<ClipRow> rows;
  std::size_t positives = 0;
  DEEPEDGE_RETURN_IF_ERROR(eval_internal::ForEachLabelsLine(
      labels, "AUDIO<TAB>LABEL (1: wake word, 0: not)",
      "expected a labels file, one AUDIO<TAB>0-or-1 a line",
      [&](std::string audio, std::string_view rest) -> Status {
        if (rest != "0" && rest != "1") {
          return Corrupt("label '" + std::string(rest) + "' is not 0 or 1");
        }
        ClipRow row;
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
  return std::unique_ptr<AudioDataset>(
      new AudioClipDataset(std::move(description), std::move(rows)));
}

Expected<std::unique_ptr<AudioDataset>> OpenAudioClassDataset(
    const std::filesystem::path& labels, const std::vector<std::string>& classes) {
  std::vector<ClipRow> rows;
  std::vector<std::size_t> counts(classes.size());
  DEEPEDGE_RETURN_IF_ERROR(eval_internal::ForEachLabelsLine(
      labels, "AUDIO<TAB>CLASS", "expected a labels file, one AUDIO<TAB>CLASS a line",
      [&](std::string audio, std::string_view rest) -> Status {
        const auto it = std::find(classes.begin(), classes.end(), rest);
        if (it == classes.end()) {
          return Corrupt("class '" + std::string(rest) + "' is not one of the card's labels");
        }
        ClipRow row;
        row.path = ResolveCardFile(audio, labels);
        row.audio = std::move(audio);
        row.label = static_cast<int>(it - classes.begin());
        ++counts[static_cast<std::size_t>(row.label)];
        rows.push_back(std::move(row));
        return Status::Ok();
      }));
  std::string description =
      "audio_classification: " + labels.string() + " (" + std::to_string(rows.size()) + " clips:";
  for (std::size_t c = 0; c < classes.size(); ++c) {
    description += (c ? ", " : " ") + std::to_string(counts[c]) + " " + classes[c];
  }
  return std::unique_ptr<AudioDataset>(
      new AudioClipDataset(std::move(description + ")"), std::move(rows)));
}

}  // namespace deepedge
