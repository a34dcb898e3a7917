// The accuracy run of `deepedge eval`: every sample of a labelled data set through a
// model once, scored against its labels.
//
// Accuracy mode is separate from timing (as in MLPerf): each sample runs once, with
// no warm-up and no stop rule; per-sample inference times are kept because they are
// free, but the latency figures that mean something come from `deepedge bench`.
//
// The loop takes a Session (include/deepedge/backend.h), so it works with every
// backend and depends on none. Library: deepedge_eval.
//
// The tasks: classification (top-1 / top-5), text_recognition (exact-match
// accuracy and character error rate of a CTC line recogniser), detection (recall
// and precision at the card's operating point, average precision at its match IoU)
// vad (clips detected, false alarms in the padding, frame precision / recall),
// keyword_spotting (wake-word clips detected, false alarms in other speech) and
// audio_classification (clips through a front-end model into a classifier: top-1).
//
// Thread-safety: EvaluateClassification and EvaluateTextRecognition use the Session
// from the calling thread only (a Session is single-threaded); they keep no global
// state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "deepedge/backend.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/metrics.h"
#include "deepedge/model_card.h"
#include "deepedge/tensor.h"

namespace deepedge {

struct EvalOptions {
  std::int64_t limit = 0;   // evaluate the first `limit` samples; 0: all
  bool keep_going = false;  // false: the first bad sample ends the run with its error
  bool end_to_end = false;  // also time preprocessing and postprocessing per sample
  // Called after each sample with (done, total); may be null. Runs on the loop's
  // thread: keep it cheap.
  std::function<void(std::int64_t, std::int64_t)> progress;
  // Called with each good sample's input tensor (as the card prepared it) before it
  // runs, e.g. to save calibration data for `deepedge quantize`; may be null. An error
  // ends the run.
  std::function<Status(std::int64_t index, const Tensor& input)> on_input;
};

// A sample that could not be scored, and why.
struct BadSample {
  std::int64_t index = 0;
  std::string reason;
};

struct ClassificationEval {
  std::int64_t samples_considered = 0;  // min(limit, data set size)
  std::int64_t samples_evaluated = 0;   // scored (considered - bad)
  std::vector<BadSample> bad_samples;
  ProportionMetric top1;
  std::optional<ProportionMetric> top5;  // when the card has at least 5 labels
  ConfusionMatrix confusion;
  // One line per considered sample, tab-separated, after a '#' header line:
  //   index  label  predicted  correct(0/1)  top-k "class:score" pairs, space-separated
  // A bad sample: index  label-or-"-"  "-"  "-"  "bad: REASON".
  std::string predictions;
  // Milliseconds per evaluated sample: Session::Run always; preprocessing (sample to
  // input tensor) and postprocessing (scores to ranked answer) with end_to_end.
  std::vector<double> inference_ms, preprocess_ms, postprocess_ms;
  double first_inference_ms = 0;  // the first sample's Run (includes one-time costs)
  double wall_s = 0;              // the whole loop
};

// How a card maps onto a model: the resolved input and output. Exposed for tests
// and for `deepedge eval` to print.
struct ClassificationPlan {
  int input_index = 0;
  int output_index = 0;
  Shape input_shape;  // static, batch 1, in the card's layout
  std::int64_t height = 0, width = 0;
  int channels = 1;
  std::int64_t classes = 0;
  // The output's element type; int8 / uint8 scores are dequantized with the scale and
  // zero point the model records (1 and 0 when it records none: the ranking is the same).
  DType output_dtype = DType::kF32;
  double output_scale = 1.0;
  std::int64_t output_zero_point = 0;
};

// Checks the card against the session's inputs and outputs. Errors (InvalidArgument,
// naming the card file, the card field and the model's tensor): no input / output of
// the card's name, several inputs and no name, an input that is not rank 4, a channel
// count or layout that contradicts the model's shape, an input_dtype other than the
// model's, a label count other than the output's class count, an output type that is
// not float32, int8 or uint8.
Expected<ClassificationPlan> PlanClassification(const Session& session, const ModelCard& card);

// Turns one image into the model's input as the card says (resize, channel order,
// scale, mean / std, layout, dtype, quantization), writing into `input` (allocated to
// plan.input_shape / the card's dtype when empty). A sample that cannot be made into
// the input (wrong size without a resize, a channel count the card cannot convert)
// is InvalidArgument naming the sample: a bad sample.
Status PreprocessImage(const ImageSample& sample, const ModelCard& card,
                       const ClassificationPlan& plan, Tensor& input);

// Runs the evaluation. Errors: those of PlanClassification; a bad sample when
// !keep_going (Corrupt or InvalidArgument "sample I: REASON"); a failing Session::Run
// (with context "sample I"); InvalidArgument when nothing was considered.
Expected<ClassificationEval> EvaluateClassification(Session& session, const ModelCard& card,
                                                    const ImageDataset& data,
                                                    const EvalOptions& options);

// ---- Text recognition (task text_recognition: a CTC line recogniser) ----

// CTC greedy (best path) decoding of `steps` x `classes` scores, row-major: the
// highest class per step (ties to the lower index), repeats merged, `blank` dropped.
// Returns the class indices of the decoded text. Requires scores.size() ==
// steps * classes.
std::vector<int> CtcGreedyDecode(std::span<const float> scores, std::int64_t steps,
                                 std::int64_t classes, int blank = 0);

struct TextRecognitionEval {
  std::int64_t samples_considered = 0;
  std::int64_t samples_evaluated = 0;
  std::vector<BadSample> bad_samples;
  ProportionMetric exact_match;  // the whole line equal, byte for byte
  CharErrorRate cer;             // over the evaluated lines, in code points
  // One line per considered sample, tab-separated, after a '#' header line:
  //   index  text  predicted  correct(0/1)  edits
  // (tabs and newlines in a prediction are written as spaces). A bad sample:
  //   index  text-or-"-"  "-"  "-"  "bad: REASON".
  std::string predictions;
  std::vector<double> inference_ms, preprocess_ms, postprocess_ms;
  double first_inference_ms = 0;
  double wall_s = 0;
};

struct TextRecognitionPlan {
  int input_index = 0;
  int output_index = 0;
  std::int64_t height = 0;     // the input's height
  std::int64_t min_width = 0;  // narrower lines are padded to this width
  std::int64_t max_width = 0;  // wider lines are squeezed to this width
  int channels = 3;
  std::int64_t classes = 0;  // charset size, blank included
};

// Checks a text_recognition card against the session. Errors (InvalidArgument naming
// the card and field): those of PlanClassification's input checks, a static input
// height other than resize's, a static input width other than resize's width when
// max_width differs, a float32 output whose last dimension is not the charset size.
Expected<TextRecognitionPlan> PlanTextRecognition(const Session& session, const ModelCard& card);

// One text line into the model's input as PaddleOCR prepares it: bilinear resize to
// the plan's height keeping the aspect ratio (width ceil(h * w / H), at most
// max_width), scale / mean / std, then zero padding on the right to
// max(min_width, that width). `input` is (re)allocated to [1, C, H, W]. Bad image:
// InvalidArgument naming the sample.
Status PreprocessTextLine(const ImageSample& sample, const ModelCard& card,
                          const TextRecognitionPlan& plan, Tensor& input);

// Runs the evaluation of a text recogniser over `data` (samples with `text`).
// Errors as EvaluateClassification's.
Expected<TextRecognitionEval> EvaluateTextRecognition(Session& session, const ModelCard& card,
                                                      const ImageDataset& data,
                                                      const EvalOptions& options);

// ---- Detection (task detection: an SSD-style detector with fixed-size anchors) ----

// An anchor's centre as a fraction of the input's width and height.
struct AnchorCentre {
  double x = 0, y = 0;
};

// The anchor grid a card describes for an input of height x width: for each stride,
// ceil(size / stride) cells a side, row by row, each cell's per_cell anchors at
// ((col + offset) / cols, (row + offset) / rows). (MediaPipe's SSD anchors with a fixed
// anchor size, the layers of one stride merged, as BlazeFace uses them.)
std::vector<AnchorCentre> MakeSsdAnchors(const CardDetection& d, std::int64_t height,
                                         std::int64_t width);

// A detected box in pixels of the full image, with its score in [0, 1].
struct ScoredBox {
  LabelledBox box;
  double score = 0;
};

// Intersection over union of two boxes; 0 when either is empty.
double BoxIou(const LabelledBox& a, const LabelledBox& b);

// Non-maximum suppression of `candidates` (any order): repeatedly the best-scoring box
// and every remaining box overlapping it by more than `iou` form a cluster; `weighted`
// replaces the best box by the cluster's score-weighted mean box (MediaPipe's blending),
// otherwise the best box is kept as it is. The cluster keeps the best score. At most
// `max_out` boxes, best first.
std::vector<ScoredBox> NonMaxSuppression(std::vector<ScoredBox> candidates, double iou,
                                         bool weighted, int max_out);

// Greedy matching of one image's detections (sorted by score, best first) to its
// labelled boxes, as PASCAL VOC scores them: each detection takes the unmatched box it
// overlaps most, when that IoU is at least `iou`. Returns, per detection, whether it
// matched (a true positive).
std::vector<bool> MatchDetections(const std::vector<ScoredBox>& detections,
                                  const std::vector<LabelledBox>& truth, double iou);

// A detection's score and whether it matched, pooled over a data set.
struct ScoredMatch {
  double score = 0;
  bool true_positive = false;
};

// Average precision: the area under the precision-recall curve of `matches` ranked by
// score, with precision made monotone (the all-point interpolation of PASCAL VOC 2010
// and later). `positives` is the number of labelled boxes; 0 when it is 0.
double AveragePrecision(std::vector<ScoredMatch> matches, std::int64_t positives);

struct DetectionPlan {
  int input_index = 0;
  int boxes_output = 0, scores_output = 0;
  std::int64_t height = 0, width = 0;  // the input's
  int channels = 3;
  std::vector<AnchorCentre> anchors;
};

// Checks a detection card against the session: the input (rank 4, batch 1, the card's
// layout, channels and resize, float32), both named outputs, and that the anchor grid
// has as many anchors as the outputs have rows. Errors: InvalidArgument naming the card
// and field.
Expected<DetectionPlan> PlanDetection(const Session& session, const ModelCard& card);

// Where an image lands in the model's input: input = image * scale + pad, per axis.
struct InputPlacement {
  double scale_x = 1, scale_y = 1, pad_x = 0, pad_y = 0;
};

// One image into the model's input, stretched or letterboxed as the card says, with
// an area-weighted (supersampled bilinear) resize so that large photos do not alias;
// letterbox padding is black before scale / mean / std. `input` is (re)allocated.
// Returns how the image was placed (to map boxes back).
Expected<InputPlacement> PreprocessDetectionImage(const ImageSample& sample, const ModelCard& card,
                                                  const DetectionPlan& plan, Tensor& input);

// The boxes of one inference in image pixels: candidates scoring at least `min_score`,
// decoded against the plan's anchors, mapped back through `placement`, after the card's
// NMS. Errors: an output of the wrong type or size (InvalidArgument naming the card).
Expected<std::vector<ScoredBox>> DecodeSsdDetections(const ModelCard& card,
                                                     const DetectionPlan& plan, const Tensor& boxes,
                                                     const Tensor& scores,
                                                     const InputPlacement& placement,
                                                     double min_score);

struct DetectionEval {
  std::int64_t samples_considered = 0;
  std::int64_t samples_evaluated = 0;
  std::vector<BadSample> bad_samples;
  std::int64_t objects = 0;  // labelled boxes in the evaluated images
  // At the card's score_threshold: labelled boxes found / all, and detections that
  // match a box / all detections.
  ProportionMetric recall, precision;
  // At match_iou over every detection scoring at least kDetectionApMinScore (after NMS),
  // with a 95% percentile-bootstrap interval over images (1000 resamples, fixed seed, so
  // a run is reproducible).
  double average_precision = 0;
  double ap_ci_low = 0, ap_ci_high = 1;
  // One line per considered sample, tab-separated, after a '#' header line:
  //   index  image  labelled  found  detections at the threshold
  //   ("x_min,y_min,x_max,y_max:score", space-separated, image pixels)
  // A bad sample: index  image-or-"-"  "-"  "-"  "bad: REASON".
  std::string predictions;
  std::vector<double> inference_ms, preprocess_ms, postprocess_ms;
  double first_inference_ms = 0;
  double wall_s = 0;
};

// The lowest score a detection may have to count in the average precision.
inline constexpr double kDetectionApMinScore = 0.05;

// Runs the evaluation of a detector over `data` (samples with `boxes`). Errors as
// EvaluateClassification's.
Expected<DetectionEval> EvaluateDetection(Session& session, const ModelCard& card,
                                          const ImageDataset& data, const EvalOptions& options);

// ---- Voice activity detection (task vad: a streaming per-frame speech model) ----

struct VadPlan {
  int input_index = 0;
  int output_index = 0;
  int state_input = -1, state_output = -1;  // -1: no recurrent state
  int rate_input = -1;                      // -1: no sample-rate input
  Shape input_shape;                        // [1, context + frame]
  Shape state_shape;                        // the state's, dynamic dimensions as 1
  Shape rate_shape;                         // scalar, or all ones
  DType rate_dtype = DType::kI64;
};

// Checks a vad card against the session: the audio input (float32, rank 2, batch 1,
// context + frame samples where static), the state input and output (float32, the same
// static shape once dynamic dimensions are 1), the rate input (int64 / int32 / float32,
// one element), and that every model input is one of those. Errors: InvalidArgument
// naming the card and field.
Expected<VadPlan> PlanVad(const Session& session, const ModelCard& card);

// A run of frames [begin, end).
struct FrameRun {
  std::int64_t begin = 0, end = 0;
};

// The card's smoothing of per-frame speech probabilities into speech runs, as a
// streaming detector decides (Silero's VADIterator; vad-web's redemption):
//  - a frame at or above `threshold` starts speech, or continues it;
//  - while speaking, quiet starts at the first frame below `negative_threshold`; once
//    hangover frames (hangover_ms / frame duration, rounded) have followed it without a
//    frame at or above `threshold`, speech ends after them (the hangover frames count
//    as speech: a streaming detector has not decided yet);
//  - a run with fewer frames at or above `threshold` than min_speech_ms / frame
//    duration (rounded up) is dropped (a misfire).
// NaN probabilities are below every threshold. Needs frame and sample_rate > 0 (as a
// parsed card has); otherwise there are no runs.
std::vector<FrameRun> SmoothVad(std::span<const float> probabilities, const CardVad& vad);

// Counts over clips, in frames of the card's frame length. A frame covers samples
// [f * frame, (f + 1) * frame) of its clip (the last one may be partial); it is inside
// speech when it overlaps a labelled segment, padding otherwise.
struct VadTally {
  std::int64_t speech_clips = 0;    // clips with at least one labelled segment
  std::int64_t detected_clips = 0;  // of those, with a detected frame inside a segment
  std::int64_t speech_frames = 0, speech_frames_detected = 0;
  std::int64_t padding_frames = 0, padding_frames_detected = 0;
};

// Adds one clip of `frames` frames (its detected runs and labelled segments) to `t`.
void TallyVadClip(const std::vector<FrameRun>& detected, const std::vector<TimeSpan>& segments,
                  std::int64_t frames, const CardVad& vad, VadTally& t);

struct VadEval {
  std::int64_t samples_considered = 0;
  std::int64_t samples_evaluated = 0;
  std::vector<BadSample> bad_samples;
  VadTally tally;
  // Clips with speech that have a detected frame inside a segment / clips with speech.
  ProportionMetric clip_detection;
  // Padding frames detected as speech / padding frames.
  ProportionMetric false_alarm;
  // Detected frames inside segments / detected frames; / frames inside segments.
  ProportionMetric frame_precision, frame_recall;
  // One line per considered clip, tab-separated, after a '#' header line:
  //   index  audio  labelled  detected  found(0/1, "-" without speech)  false_alarm_frames
  // with segments as "START-END" seconds, space-separated, "-" for none. A bad clip:
  //   index  audio-or-"-"  "-"  "-"  "-"  "bad: REASON".
  std::string predictions;
  // Per frame (one Session::Run each): inference; per clip: preprocessing (reading and
  // framing) and postprocessing (smoothing and scoring) with end_to_end.
  std::vector<double> inference_ms, preprocess_ms, postprocess_ms;
  double first_inference_ms = 0;
  double wall_s = 0;
};

// Runs the evaluation of a vad model over `data`: per clip the state and context start
// at zero, the clip is cut into frames (the last zero-padded), each frame runs once
// and its state output is fed back, then SmoothVad and TallyVadClip. A clip that is
// not mono, has another sample rate than the card's, or is empty is a bad sample.
// Errors as EvaluateClassification's.
Expected<VadEval> EvaluateVad(Session& session, const ModelCard& card, const AudioDataset& data,
                              const EvalOptions& options);

// ---- Keyword spotting (task keyword_spotting: openWakeWord's three-model pipeline) ----

// The three sessions of a keyword_spotting card: the front end the card names and the
// wake-word model being evaluated. Not owned; each used from the calling thread only.
struct KwsSessions {
  Session* melspectrogram = nullptr;  // f32 [1, context + chunk] -> f32 [.., frames, mel_bins]
  Session* embedding = nullptr;       // f32 [1, window, mel_bins, 1] -> f32 [.., dims]
  Session* wakeword = nullptr;        // f32 [1, embeddings, dims] -> f32 one score in [0, 1]
};

// A wake-word score and where in the clip it was made: the end of the audio the
// pipeline had consumed (whole chunks, the last one zero-padded), in samples.
struct KwsScore {
  std::int64_t end_sample = 0;
  float score = 0;
};

// Streams one clip through the pipeline, as openWakeWord's streaming engine does with
// its buffers reset: the clip is cut into chunks (the last zero-padded); each chunk,
// after the card's context of earlier samples (zeros before the clip), times
// input_scale, runs the melspectrogram model; its frames, mel = raw * scale + offset,
// are appended to a mel buffer that starts empty; while the buffer holds a window of
// frames, the first window runs the embedding model, the embedding joins a history of
// `embeddings` vectors that starts as zeros (oldest dropped), the history runs the
// wake-word model (one score), and `step` frames leave the buffer. Errors: a failing
// Run (context "melspectrogram" / "embedding" / "wake word"), an output of the wrong
// type or size (InvalidArgument naming the card field). Adds the Run times of all
// three models per chunk to `inference_ms` and sets `mel_frames` to the frames of the
// first chunk's melspectrogram output, each when not null.
Expected<std::vector<KwsScore>> ScoreKwsClip(const KwsSessions& sessions, const ModelCard& card,
                                             std::span<const float> samples,
                                             std::vector<double>* inference_ms = nullptr,
                                             std::int64_t* mel_frames = nullptr);

// The detections of a clip's scores: a score at or above threshold detects, unless it
// is one of the first warmup_predictions scores or comes (by end_sample) less than
// refractory_ms after the last detection. Returns the indices into `scores` of the
// detections, in order.
std::vector<std::size_t> DetectKeyword(const std::vector<KwsScore>& scores,
                                       const CardKeywordSpotting& kws);

// Checks the three sessions against the card: one f32 input each, the melspectrogram
// input of rank 2 (static length context + chunk where static), the embedding input
// [1, window, mel_bins, 1] where static, the wake-word input [1, embeddings, dims].
// Errors: InvalidArgument naming the card and field.
Status CheckKwsSessions(const KwsSessions& sessions, const ModelCard& card);

struct KwsEval {
  std::int64_t samples_considered = 0;
  std::int64_t samples_evaluated = 0;
  std::vector<BadSample> bad_samples;
  std::int64_t positive_clips = 0, negative_clips = 0;
  std::int64_t detected_positive_clips = 0;  // positives with at least one detection
  std::int64_t false_alarm_clips = 0;        // negatives with at least one detection
  std::int64_t false_alarms = 0;             // detections in negative clips
  double negative_hours = 0;                 // audio of the negative clips
  double false_alarms_per_hour = 0;          // false_alarms / negative_hours (0 without)
  ProportionMetric tpr;                      // detected positives / positives
  ProportionMetric false_alarm_clip_rate;    // negatives with a detection / negatives
  std::int64_t mel_frames_per_chunk = 0;     // as the melspectrogram model gave them
  // One line per considered clip, tab-separated, after a '#' header line:
  //   index  audio  label  max_score  detections (seconds, space-separated, "-": none)
  // (max_score over the scores after the card's warm-up, 0 when there are none).
  // A bad clip: index  audio-or-"-"  "-"  "-"  "bad: REASON".
  std::string predictions;
  // Per chunk: the Run times of the three models together; per clip with end_to_end:
  // preprocessing (reading) and postprocessing (detection and tally).
  std::vector<double> inference_ms, preprocess_ms, postprocess_ms;
  double first_inference_ms = 0;
  double wall_s = 0;
};

// Runs the evaluation over `data` (clips with label 0 or 1): per clip ScoreKwsClip and
// DetectKeyword. A clip of another sample rate, empty, or without a label is a bad
// sample. Errors as EvaluateClassification's, and those of CheckKwsSessions.
Expected<KwsEval> EvaluateKeywordSpotting(const KwsSessions& sessions, const ModelCard& card,
                                          const AudioDataset& data, const EvalOptions& options);

// ---- Audio classification (task audio_classification: front-end model + classifier) ----

// Makes a fresh session of a model (for a front end whose state must start at zero).
using SessionFactory = std::function<Expected<std::unique_ptr<Session>>()>;

// Runs the evaluation of an audio_classification card (TFLite Micro's micro_speech):
// per clip a fresh front-end session from `frontend`; frame k is samples
// [k * stride, k * stride + frame) of the clip (zeros past its end), as 16-bit PCM for
// an int16 front-end input (float32 inputs get the samples in [-1, 1)); the front end's
// first output for frames 0 .. frames-1, one after another, is the classifier's input
// (same element type, frames x features elements); its output is scored as
// EvaluateClassification scores (top-1, top-5 with >= 5 labels, confusion matrix,
// predictions lines). Per sample, inference_ms is all the front-end runs plus the
// classifier's. A clip of another sample rate, empty, or without a label is a bad
// sample. Errors: InvalidArgument naming the card field when the models do not fit the
// card (input size, element types, label count); a failing Run (naming the sample).
Expected<ClassificationEval> EvaluateAudioClassification(const SessionFactory& frontend,
                                                         Session& classifier, const ModelCard& card,
                                                         const AudioDataset& data,
                                                         const EvalOptions& options);

}  // namespace deepedge
