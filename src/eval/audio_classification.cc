// Task audio_classification: clips through a streaming front-end model, its frames'
// outputs into a classifier, scored as a classification (include/deepedge/eval.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "deepedge/eval.h"
#include "eval/eval_common.h"

namespace deepedge {
namespace {

using eval_internal::CardError;
using eval_internal::MsSince;
using eval_internal::RecordBadSample;
using eval_internal::SteadyClock;

// Samples [start, start + n) of the clip into `frame`, zeros past its end: int16 as
// 16-bit PCM (x 32768, saturated), float32 as they are.
void FillFrame(std::span<const float> clip, std::int64_t start, Tensor& frame) {
  const auto n = static_cast<std::size_t>(frame.element_count());
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t at = static_cast<std::size_t>(start) + k;
    const float v = at < clip.size() ? clip[at] : 0.0f;
    if (frame.dtype() == DType::kI16) {
      frame.as<std::int16_t>()[k] = static_cast<std::int16_t>(
          std::clamp(std::nearbyint(static_cast<double>(v) * 32768.0), -32768.0, 32767.0));
    } else {
      frame.as<float>()[k] = v;
    }
  }
}

}  // namespace

Expected<ClassificationEval> EvaluateAudioClassification(const SessionFactory& frontend,
                                                         Session& classifier, const ModelCard& card,
                                                         const AudioDataset& data,
                                                         const EvalOptions& options) {
  if (card.task != CardTask::kAudioClassification) {
    return CardError(card, "task", "not an audio_classification card");
  }
  const CardAudioClassification& a = card.audio;
  // The classifier: one input holding frames x features, one output of the labels.
  const auto& cin = classifier.Inputs();
  const auto& couts = classifier.Outputs();
  if (cin.size() != 1 || couts.empty()) {
    return CardError(card, "preprocessing", "the classifier must have one input and an output");
  }
  ClassificationPlan plan;
  plan.classes = static_cast<std::int64_t>(card.labels.size());
  plan.output_dtype = couts[0].dtype;
  if (plan.output_dtype != DType::kF32 && plan.output_dtype != DType::kI8 &&
      plan.output_dtype != DType::kU8) {
    return CardError(card, "postprocessing.output",
                     "output '" + couts[0].name + "' is " +
                         std::string(DTypeName(plan.output_dtype)) +
                         ", not float32, int8 or uint8");
  }
  if (const auto& q = couts[0].quantization; q && q->scale.size() == 1 && q->scale[0] > 0) {
    plan.output_scale = q->scale[0];
    plan.output_zero_point = q->zero_point[0];
  }
  if (couts[0].shape.element_count() != plan.classes) {
    return CardError(card, "labels",
                     std::to_string(plan.classes) + " labels, but output '" + couts[0].name +
                         "' is " + couts[0].shape.ToString());
  }
  const TensorInfo& in = cin[0];
  const std::int64_t in_elements = in.shape.element_count();
  if (in_elements <= 0 || in_elements % a.frames != 0) {
    return CardError(card, "preprocessing.frames",
                     std::to_string(a.frames) + " frames do not fill input '" + in.name + "' " +
                         in.shape.ToString());
  }
  const std::int64_t features = in_elements / a.frames;

  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  if (total <= 0) return InvalidArgument("no samples to evaluate in " + data.Description());
  ClassificationEval r;
  r.samples_considered = total;
  r.confusion = ConfusionMatrix(static_cast<int>(plan.classes));
  std::int64_t top1 = 0, top5 = 0;
  r.predictions = "# index\tlabel\tpredicted\tcorrect\ttop" +
                  std::to_string(card.postprocessing.top_k) + " (class:score)\n";
  std::vector<Tensor> features_in(1), frame(1), outputs;
  DEEPEDGE_ASSIGN_OR_RETURN(features_in[0], Tensor::Allocate(in.dtype, in.shape));
  const std::size_t feature_bytes = features_in[0].byte_size() / static_cast<std::size_t>(a.frames);
  std::vector<float> scores;
  AudioSample sample;
  const auto loop_start = SteadyClock::now();
  auto bad = [&](std::int64_t i, const Status& why) -> Status {
    return RecordBadSample(i, total, sample.label >= 0 ? std::to_string(sample.label) : "", 2, why,
                           options, r.bad_samples, r.predictions);
  };
  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.label = -1;
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, s));
      continue;
    }
    const std::string id = "sample " + std::to_string(i) + " (" + sample.name + ")";
    if (sample.sample_rate != a.sample_rate || sample.samples.empty() || sample.label < 0 ||
        sample.label >= plan.classes) {
      const std::string why = sample.sample_rate != a.sample_rate
                                  ? std::to_string(sample.sample_rate) +
                                        " Hz; the card's model takes " +
                                        std::to_string(a.sample_rate) + " Hz"
                              : sample.samples.empty() ? "no audio"
                                                       : "no label of the card's";
      DEEPEDGE_RETURN_IF_ERROR(bad(i, InvalidArgument(id + ": " + why)));
      continue;
    }
    // A fresh front end per clip: its state (noise estimates, ...) starts from zero.
    Expected<std::unique_ptr<Session>> fe = frontend();
    if (!fe) return fe.status().WithContext("card " + card.path.string() + ": frontend.model");
    Session& f = **fe;
    if (f.Inputs().size() != 1 || f.Outputs().empty() ||
        f.Inputs()[0].shape.element_count() != a.frame ||
        (f.Inputs()[0].dtype != DType::kI16 && f.Inputs()[0].dtype != DType::kF32)) {
      return CardError(card, "preprocessing.frame",
                       "the front end must take one int16 or float32 input of " +
                           std::to_string(a.frame) + " samples");
    }
    DEEPEDGE_ASSIGN_OR_RETURN(frame[0], Tensor::Allocate(f.Inputs()[0].dtype, f.Inputs()[0].shape));
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));
    const auto run_start = SteadyClock::now();
    for (std::int64_t k = 0; k < a.frames; ++k) {
      FillFrame(sample.samples, k * a.stride, frame[0]);
      if (Status s = f.Run(frame, outputs); !s.ok()) {
        return s.WithContext(id + ": front end, frame " + std::to_string(k));
      }
      if (outputs.empty() || outputs[0].dtype() != in.dtype ||
          outputs[0].element_count() != features) {
        return CardError(card, "frontend.model",
                         "the front end gives " +
                             (outputs.empty() ? std::string("no output")
                                              : std::string(DTypeName(outputs[0].dtype())) + " " +
                                                    outputs[0].shape().ToString()) +
                             " a frame; the classifier wants " + std::to_string(features) + " " +
                             std::string(DTypeName(in.dtype)));
      }
      std::memcpy(static_cast<std::byte*>(features_in[0].data()) +
                      static_cast<std::size_t>(k) * feature_bytes,
                  outputs[0].data(), feature_bytes);
    }
    if (options.on_input) DEEPEDGE_RETURN_IF_ERROR(options.on_input(i, features_in[0]));
    if (Status s = classifier.Run(features_in, outputs); !s.ok()) return s.WithContext(id);
    const double ms = MsSince(run_start);
    if (r.inference_ms.empty()) r.first_inference_ms = ms;
    r.inference_ms.push_back(ms);
    t0 = SteadyClock::now();
    if (outputs.empty() || outputs[0].dtype() != plan.output_dtype ||
        outputs[0].element_count() != plan.classes) {
      return CardError(
          card, "labels",
          std::to_string(plan.classes) + " labels, but " + id + " gave another output");
    }
    eval_internal::ScoreClassification(outputs[0], plan, card, i, sample.label, r, top1, top5,
                                       scores);
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  r.top1 = MakeProportionMetric("top1", top1, r.samples_evaluated);
  if (plan.classes >= 5) r.top5 = MakeProportionMetric("top5", top5, r.samples_evaluated);
  return r;
}

}  // namespace deepedge
