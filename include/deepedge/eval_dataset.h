// Labelled data sets for `deepedge eval`.
//
// A data set is a random-access list of samples; reading one sample may fail on its
// own (an image without a label, an unreadable file) without the set being unusable:
// the evaluation reports that sample with the reason and counts it as bad.
//
// Thread-safety: Get() is const and reads only immutable state after Open*, so it
// may be called from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/status.h"

namespace deepedge {

// A labelled object's box in pixel coordinates of the full image (x right, y down): the
// real-valued rectangle [x_min, x_max] x [y_min, y_max].
struct LabelledBox {
  double x_min = 0, y_min = 0, x_max = 0, y_max = 0;
};

// One labelled image: pixels row-major, channels interleaved (HWC), uint8.
struct ImageSample {
  std::int64_t index = 0;
  std::int64_t height = 0, width = 0;
  int channels = 1;                  // 1 grey, 3 RGB
  std::vector<std::uint8_t> pixels;  // height * width * channels
  std::int64_t label = -1;           // class index as the data set states it
  std::string text;                  // text-line data: the line's transcript (UTF-8)
  std::string name;                  // detection data: the image as the labels name it
  std::vector<LabelledBox> boxes;    // detection data: every object in the image
};

class ImageDataset {
 public:
  virtual ~ImageDataset() = default;
  // "Fashion-MNIST test: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  // (10000 images)": what the record's `dataset` field says.
  virtual std::string Description() const = 0;
  virtual std::int64_t size() const = 0;
  // Fills `out` with sample i (0 <= i < size()), reusing its storage. A Status that
  // is not OK describes why this one sample is unusable (Corrupt / NotFound, the
  // message naming the sample), not a failure of the whole set.
  virtual Status Get(std::int64_t i, ImageSample& out) const = 0;
};

// An IDX image file and its label file (MNIST, Fashion-MNIST; plain or gzip).
// `path` is either
//  - a directory holding "<split>-images-idx3-ubyte[.gz]" and
//    "<split>-labels-idx1-ubyte[.gz]", where <split> is "t10k" for `split` "test"
//    and "train" for "train" (the published Fashion-MNIST names); or
//  - the images file itself, its labels file found by replacing "images-idx3" with
//    "labels-idx1" in the file name (with or without ".gz").
// Errors (whole set unusable): NotFound naming the missing file, Corrupt for a file
// that is not IDX (its header or length), InvalidArgument for an unknown split.
// Counts that differ do not fail: the unmatched samples are bad ones ("image without
// label", "label without image").
Expected<std::unique_ptr<ImageDataset>> OpenIdxDataset(const std::filesystem::path& path,
                                                       std::string_view split = "test");

// A text-line data set (for text_recognition cards): a directory holding labels.tsv,
// one "FILE<TAB>TEXT" line per sample (FILE relative to the directory; '#' lines and
// empty lines skipped), and the images, binary PGM (P5, grey) or PPM (P6, RGB) with
// maxval 255, as tools/render_text writes them. Samples are in labels.tsv's order.
// Errors (whole set unusable): NotFound without labels.tsv, Corrupt for a line without
// a tab (naming the line). A missing or unreadable image is a bad sample.
Expected<std::unique_ptr<ImageDataset>> OpenTextLineDataset(const std::filesystem::path& dir);

// A detection data set (for detection cards): one labels file, each line
//   IMAGE<TAB>BOX BOX ...     BOX = x_min,y_min,x_max,y_max in pixels; "-" for none
// ('#' lines and empty lines skipped). IMAGE is "fixture:REL" (under the fixture cache,
// as model cards resolve it) or a path relative to the labels file. Images are JPEG
// (baseline or progressive, grey or colour) or binary PGM / PPM. Samples are in the
// file's order. Errors (whole set unusable): NotFound / Io for the labels file, Corrupt
// for a malformed line or box (naming the line), InvalidArgument for a box with
// x_max <= x_min or y_max <= y_min. A missing or undecodable image is a bad sample.
Expected<std::unique_ptr<ImageDataset>> OpenDetectionDataset(const std::filesystem::path& labels);

// A classification data set of photos: one labels file, each line
//   IMAGE<TAB>CLASS_INDEX[<TAB>NOTE]     (NOTE, e.g. the class name, is not read)
// with IMAGE as for OpenDetectionDataset. Errors as OpenDetectionDataset's; a class
// that is not a non-negative integer is Corrupt naming the line.
Expected<std::unique_ptr<ImageDataset>> OpenImageListDataset(const std::filesystem::path& labels);

// Decodes a JPEG image (libjpeg) into `out` as 8-bit grey (1 channel) or RGB (3; CMYK
// and other colour spaces are converted to RGB by libjpeg where it can). Corrupt naming
// `what` when libjpeg rejects the data; never exits or crashes on bad bytes.
Status DecodeJpeg(std::string_view bytes, const std::string& what, ImageSample& out);

// Decodes a binary PGM (P5) or PPM (P6) image with maxval 255 into `out` (pixels,
// height, width, channels). Corrupt naming `what` on anything else.
Status DecodePnm(std::string_view bytes, const std::string& what, ImageSample& out);

// ---- Audio (vad cards) ----

// A labelled stretch of a clip, in seconds from its start: [start_s, end_s).
struct TimeSpan {
  double start_s = 0, end_s = 0;
};

// One labelled clip: mono samples scaled to [-1, 1) (16-bit PCM / 32768).
struct AudioSample {
  std::int64_t index = 0;
  std::string name;                // the audio file as the labels name it
  std::int64_t sample_rate = 0;    // Hz, as the file states it
  std::vector<float> samples;      // mono
  std::vector<TimeSpan> segments;  // labelled speech, sorted, not overlapping; empty: none
  int label = -1;  // keyword_spotting: 1 the clip holds the wake word, 0 not; -1 unset
};

class AudioDataset {
 public:
  virtual ~AudioDataset() = default;
  virtual std::string Description() const = 0;
  virtual std::int64_t size() const = 0;
  // As ImageDataset::Get: a Status that is not OK makes sample i a bad sample.
  virtual Status Get(std::int64_t i, AudioSample& out) const = 0;
};

// A voice-activity data set: one labels file, each line
//   AUDIO<TAB>START-END START-END ...     seconds; "-" for a clip without speech
// ('#' lines and empty lines skipped). AUDIO is a WAV file, absolute or relative to the
// labels file. Samples are in the file's order. Errors (whole set unusable): NotFound /
// Io for the labels file, Corrupt for a malformed line or segment (naming the line),
// InvalidArgument for a segment with end <= start or segments that overlap or are out
// of order. A missing or undecodable WAV, one that is not mono, or a segment past the
// clip's end is a bad sample.
Expected<std::unique_ptr<AudioDataset>> OpenVadDataset(const std::filesystem::path& labels);

// A keyword-spotting data set: one labels file, each line
//   AUDIO<TAB>LABEL      LABEL 1: the clip holds the wake word; 0: it does not
// ('#' lines and empty lines skipped; AUDIO as for OpenVadDataset). Errors (whole set
// unusable): NotFound / Io for the labels file, Corrupt for a line whose label is not
// 0 or 1 (naming the line). A missing, undecodable or multi-channel WAV is a bad sample.
Expected<std::unique_ptr<AudioDataset>> OpenKwsDataset(const std::filesystem::path& labels);

// A clip-classification data set (audio_classification cards): one labels file, each line
//   AUDIO<TAB>CLASS      CLASS: one of `classes` (the card's labels), by name
// ('#' lines and empty lines skipped; AUDIO as for OpenVadDataset). AudioSample::label is
// the class's index. Errors (whole set unusable): NotFound / Io for the labels file,
// Corrupt for a class not in `classes` (naming the line). A missing, undecodable or
// multi-channel WAV is a bad sample.
Expected<std::unique_ptr<AudioDataset>> OpenAudioClassDataset(
    const std::filesystem::path& labels, const std::vector<std::string>& classes);

// Decoded WAV audio: samples interleaved by channel, scaled to [-1, 1).
struct WavAudio {
  std::int64_t sample_rate = 0;  // Hz
  int channels = 0;
  std::vector<float> samples;  // frames * channels
};

// Decodes a RIFF/WAVE file of 16-bit integer PCM (format 1, or WAVE_FORMAT_EXTENSIBLE
// with the PCM sub-format). Chunks are walked with bounds checks; unknown chunks are
// skipped; a data chunk that runs past the end of the bytes is Corrupt (truncated
// file). Other encodings (8/24/32-bit, float, compressed) are InvalidArgument naming
// the format. Every error names `what`; never reads out of bounds.
Status DecodeWav(std::string_view bytes, const std::string& what, WavAudio& out);

// A RIFF/WAVE file of 16-bit mono PCM at `sample_rate` Hz: each sample in [-1, 1) is
// saturated and rounded to the nearest of the 65,536 levels (x 32768). For the data-set
// makers (tools/make_vad_set, tools/make_kws_set).
std::string EncodeWav(std::span<const double> samples, std::int64_t sample_rate);

}  // namespace deepedge
