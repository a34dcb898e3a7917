// Helpers shared by the task evaluators (classification.cc, text_recognition.cc);
// private to src/eval.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deepedge/eval.h"

namespace deepedge::eval_internal {

using SteadyClock = std::chrono::steady_clock;

inline double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// "card PATH: field 'F': problem", the one form every card error takes.
inline Status CardError(const ModelCard& card, std::string_view field, const std::string& problem) {
  return InvalidArgument("card " + card.path.string() + ": field '" + std::string(field) +
                         "': " + problem);
}

inline std::string DimText(std::int64_t d) {
  return d == Shape::kDynamic ? "?" : std::to_string(d);
}

// Tabs and line breaks as spaces: keeps a predictions field on its line.
inline std::string OneField(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// A sample that cannot be scored: its reason goes to `bad_samples`, its predictions line
// is "INDEX<TAB>FIRST" then `dashes` "-" fields then "bad: REASON", and it counts in the
// progress. Returns the error that ends the run unless options.keep_going.
inline Status RecordBadSample(std::int64_t i, std::int64_t total, const std::string& first,
                              int dashes, const Status& why, const EvalOptions& options,
                              std::vector<BadSample>& bad_samples, std::string& predictions) {
  bad_samples.push_back({i, why.message()});
  predictions += std::to_string(i) + "\t" + (first.empty() ? "-" : OneField(first));
  for (int k = 0; k < dashes; ++k) predictions += "\t-";
  predictions += "\tbad: " + OneField(why.message()) + "\n";
  if (options.progress) options.progress(i + 1, total);
  if (!options.keep_going) {
    return Status(why.code(), why.message() + " (--keep-going counts bad samples and goes on)");
  }
  return Status::Ok();
}

// Bilinear sample of channel c at (y, x) in source pixel coordinates, edges clamped.
inline float Bilinear(const ImageSample& s, double y, double x, int c) {
  y = std::clamp(y, 0.0, static_cast<double>(s.height - 1));
  x = std::clamp(x, 0.0, static_cast<double>(s.width - 1));
  const auto y0 = static_cast<std::int64_t>(y), x0 = static_cast<std::int64_t>(x);
  const std::int64_t y1 = std::min(y0 + 1, s.height - 1), x1 = std::min(x0 + 1, s.width - 1);
  const double fy = y - static_cast<double>(y0), fx = x - static_cast<double>(x0);
  auto px = [&](std::int64_t yy, std::int64_t xx) {
    return static_cast<double>(
        s.pixels[static_cast<std::size_t>((yy * s.width + xx) * s.channels + c)]);
  };
  const double top = px(y0, x0) * (1 - fx) + px(y0, x1) * fx;
  const double bottom = px(y1, x0) * (1 - fx) + px(y1, x1) * fx;
  return static_cast<float>(top * (1 - fy) + bottom * fy);
}

// The mean of channel c over the source rectangle whose top-left corner is (y0, x0)
// and whose size is fy x fx source pixels: ceil(f) x ceil(f) bilinear taps spread over
// it, so that shrinking a photo many times averages its pixels instead of skipping
// them; one tap at the centre when not shrinking (plain bilinear resize).
inline double AreaSample(const ImageSample& s, double y0, double x0, double fy, double fx, int c) {
  const int ny = std::max(1, static_cast<int>(std::ceil(fy - 1e-9)));
  const int nx = std::max(1, static_cast<int>(std::ceil(fx - 1e-9)));
  double sum = 0;
  for (int j = 0; j < ny; ++j) {
    const double sy = y0 + (j + 0.5) * fy / ny - 0.5;
    for (int i = 0; i < nx; ++i) sum += Bilinear(s, sy, x0 + (i + 0.5) * fx / nx - 0.5, c);
  }
  return sum / (nx * ny);
}

// The input the card names (preprocessing.input), or the model's only input.
inline Expected<int> CardInputIndex(const ModelCard& card, const std::vector<TensorInfo>& inputs) {
  const std::string& name = card.preprocessing.input_name;
  if (name.empty()) {
    if (inputs.size() != 1) {
      return CardError(card, "preprocessing.input",
                       "the model has " + std::to_string(inputs.size()) +
                           " inputs; name the one that takes the image");
    }
    return 0;
  }
  auto it = std::find_if(inputs.begin(), inputs.end(),
                         [&](const TensorInfo& t) { return t.name == name; });
  if (it == inputs.end()) {
    return CardError(card, "preprocessing.input", "the model has no input '" + name + "'");
  }
  return static_cast<int>(it - inputs.begin());
}

// The output the card names (postprocessing.output), or the model's first.
inline Expected<int> CardOutputIndex(const ModelCard& card,
                                     const std::vector<TensorInfo>& outputs) {
  if (outputs.empty()) return InvalidArgument("the model has no outputs");
  const std::string& name = card.postprocessing.output_name;
  if (name.empty()) return 0;
  auto it = std::find_if(outputs.begin(), outputs.end(),
                         [&](const TensorInfo& t) { return t.name == name; });
  if (it == outputs.end()) {
    return CardError(card, "postprocessing.output", "the model has no output '" + name + "'");
  }
  return static_cast<int>(it - outputs.begin());
}

// An image input of batch 1 (or dynamic) with as many channels (c, read in the card's
// layout) as the card's channel order has.
inline Status CheckBatchAndChannels(const ModelCard& card, const TensorInfo& in, std::int64_t n,
                                    std::int64_t c, int channels) {
  const CardPreprocessing& pre = card.preprocessing;
  if (n != 1 && n != Shape::kDynamic) {
    return CardError(card, "preprocessing.input",
                     "input '" + in.name + "' has batch " + std::to_string(n) +
                         "; eval feeds one sample at a time");
  }
  if (c != channels) {
    return CardError(card, "preprocessing.channels",
                     std::string(ChannelOrderName(pre.channels)) + " is " +
                         std::to_string(channels) + " channel(s), but input '" + in.name + "' " +
                         in.shape.ToString() + " has " + DimText(c) + " in " +
                         std::string(InputLayoutName(pre.layout)) + " (wrong layout?)");
  }
  return Status::Ok();
}

// A float32 image input of rank 4, its dimensions read in the card's layout.
struct ImageInputDims {
  std::int64_t n = 0, c = 0, h = 0, w = 0;
};

// The checks every float32 image task makes of its input (the card's input, the model's
// only one): rank 4, float32, batch 1 or dynamic, the card's channel count in its layout.
// `task` names the task in messages ("text recognisers", "detectors").
inline Expected<ImageInputDims> CheckFloatImageInput(const ModelCard& card,
                                                     const std::vector<TensorInfo>& inputs,
                                                     int index, std::string_view task) {
  if (inputs.size() != 1) {
    return CardError(card, "preprocessing.input",
                     "the model has " + std::to_string(inputs.size()) + " inputs; eval feeds " +
                         std::string(task) + " with one");
  }
  const TensorInfo& in = inputs[static_cast<std::size_t>(index)];
  if (in.shape.rank() != 4) {
    return CardError(card, "preprocessing.layout",
                     "input '" + in.name + "' has shape " + in.shape.ToString() + ", not rank 4");
  }
  if (in.dtype != DType::kF32 || card.preprocessing.input_dtype != DType::kF32) {
    return CardError(card, "preprocessing.input_dtype",
                     "input '" + in.name + "' is " + std::string(DTypeName(in.dtype)) +
                         "; eval feeds " + std::string(task) + " float32");
  }
  const bool nchw = card.preprocessing.layout == InputLayout::kNCHW;
  const ImageInputDims d{in.shape[0], in.shape[nchw ? 1 : 3], in.shape[nchw ? 2 : 1],
                         in.shape[nchw ? 3 : 2]};
  DEEPEDGE_RETURN_IF_ERROR(
      CheckBatchAndChannels(card, in, d.n, d.c, ChannelCount(card.preprocessing.channels)));
  return d;
}

// The output as float scores: int8 / uint8 outputs dequantized with the plan's scale and
// zero point (a monotone map, so the ranking is the quantized one). classification.cc.
void DequantizeScores(const Tensor& out, const ClassificationPlan& plan,
                      std::vector<float>& scores);

// Scores one classifier output of sample i against `label`: dequantized, softmax when
// the card says, top-k ranked; adds to top1 / top5 (with >= 5 classes), r.confusion,
// r.samples_evaluated and r.predictions (its line). classification.cc.
void ScoreClassification(const Tensor& out, const ClassificationPlan& plan, const ModelCard& card,
                         std::int64_t i, int label, ClassificationEval& r, std::int64_t& top1,
                         std::int64_t& top5, std::vector<float>& scores);

// Runs sample i through the session, appending its time to inference_ms (and setting
// first_inference_ms on the first sample), and returns the output the plan reads.
inline Expected<const Tensor*> RunSample(Session& session, const std::vector<Tensor>& in,
                                         std::vector<Tensor>& outputs, int output_index,
                                         std::int64_t i, std::vector<double>& inference_ms,
                                         double& first_inference_ms) {
  const auto t0 = SteadyClock::now();
  if (Status s = session.Run(in, outputs); !s.ok()) {
    return s.WithContext("sample " + std::to_string(i));
  }
  const double run_ms = MsSince(t0);
  if (inference_ms.empty()) first_inference_ms = run_ms;
  inference_ms.push_back(run_ms);
  if (outputs.size() <= static_cast<std::size_t>(output_index)) {
    return Internal("the session returned " + std::to_string(outputs.size()) + " outputs");
  }
  return &outputs[static_cast<std::size_t>(output_index)];
}

}  // namespace deepedge::eval_internal
