#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "deepedge/eval.h"
#include "eval/eval_common.h"

namespace deepedge {
namespace {

using eval_internal::AreaSample;
using eval_internal::CardError;
using eval_internal::CardInputIndex;
using eval_internal::CardOutputIndex;
using eval_internal::CheckBatchAndChannels;
using eval_internal::DequantizeScores;
using eval_internal::DimText;
using eval_internal::MsSince;
using eval_internal::RecordBadSample;
using eval_internal::RunSample;
using eval_internal::ScoreClassification;
using eval_internal::SteadyClock;

}  // namespace

namespace eval_internal {

void DequantizeScores(const Tensor& out, const ClassificationPlan& plan,
                      std::vector<float>& scores) {
  if (out.dtype() == DType::kF32) {
    scores.assign(out.as<float>().begin(), out.as<float>().end());
    return;
  }
  auto deq = [&](auto q) {
    return static_cast<float>(
        (static_cast<double>(q) - static_cast<double>(plan.output_zero_point)) * plan.output_scale);
  };
  scores.clear();
  if (out.dtype() == DType::kI8) {
    for (std::int8_t q : out.as<std::int8_t>()) scores.push_back(deq(q));
  } else {
    for (std::uint8_t q : out.as<std::uint8_t>()) scores.push_back(deq(q));
  }
}

void ScoreClassification(const Tensor& out, const ClassificationPlan& plan, const ModelCard& card,
                         std::int64_t i, int label, ClassificationEval& r, std::int64_t& top1,
                         std::int64_t& top5, std::vector<float>& scores) {
  const int k = card.postprocessing.top_k;
  char buf[64];
  DequantizeScores(out, plan, scores);
  if (card.postprocessing.softmax) Softmax(scores);
  const std::vector<int> ranked = TopK(scores, k);
  const int predicted = ranked.front();
  const bool correct = predicted == label;
  top1 += correct;
  if (plan.classes >= 5) top5 += InTopK(scores, label, 5);
  r.confusion.Add(label, predicted);
  ++r.samples_evaluated;
  r.predictions += std::to_string(i) + "\t" + std::to_string(label) + "\t" +
                   std::to_string(predicted) + "\t" + (correct ? "1" : "0") + "\t";
  for (std::size_t j = 0; j < ranked.size(); ++j) {
    std::snprintf(buf, sizeof buf, "%s%d:%.6g", j ? " " : "", ranked[j],
                  static_cast<double>(scores[static_cast<std::size_t>(ranked[j])]));
    r.predictions += buf;
  }
  r.predictions += "\n";
}

}  // namespace eval_internal

Expected<ClassificationPlan> PlanClassification(const Session& session, const ModelCard& card) {
  if (card.task != CardTask::kClassification) {
    return Unsupported("card " + card.path.string() + ": task '" +
                       std::string(CardTaskName(card.task)) + "' is not classification");
  }
  const CardPreprocessing& pre = card.preprocessing;
  const auto& inputs = session.Inputs();
  const auto& outputs = session.Outputs();
  ClassificationPlan plan;

  DEEPEDGE_ASSIGN_OR_RETURN(plan.input_index, CardInputIndex(card, inputs));

  const TensorInfo& in = inputs[static_cast<std::size_t>(plan.input_index)];
  if (in.shape.rank() != 4) {
    return CardError(card, "preprocessing.layout",
                     "input '" + in.name + "' has shape " + in.shape.ToString() + ", not rank 4 (" +
                         std::string(InputLayoutName(pre.layout)) + ")");
  }
  if (in.dtype != pre.input_dtype) {
    return CardError(card, "preprocessing.input_dtype",
                     "the card says " + std::string(DTypeName(pre.input_dtype)) + " but input '" +
                         in.name + "' is " + std::string(DTypeName(in.dtype)));
  }
  const bool nchw = pre.layout == InputLayout::kNCHW;
  const std::int64_t n = in.shape[0];
  const std::int64_t c = in.shape[nchw ? 1 : 3];
  std::int64_t h = in.shape[nchw ? 2 : 1];
  std::int64_t w = in.shape[nchw ? 3 : 2];
  plan.channels = ChannelCount(pre.channels);
  DEEPEDGE_RETURN_IF_ERROR(CheckBatchAndChannels(card, in, n, c, plan.channels));
  if (pre.resize_height) {
    if ((h != Shape::kDynamic && h != *pre.resize_height) ||
        (w != Shape::kDynamic && w != *pre.resize_width)) {
      return CardError(card, "preprocessing.resize",
                       std::to_string(*pre.resize_height) + "x" +
                           std::to_string(*pre.resize_width) + " but input '" + in.name +
                           "' takes " + DimText(h) + "x" + DimText(w));
    }
    h = *pre.resize_height;
    w = *pre.resize_width;
  } else if (h == Shape::kDynamic || w == Shape::kDynamic) {
    return CardError(card, "preprocessing.resize",
                     "missing: input '" + in.name + "' " + in.shape.ToString() +
                         " has a dynamic height or width");
  }
  plan.height = h;
  plan.width = w;
  plan.input_shape = nchw ? Shape{1, c, h, w} : Shape{1, h, w, c};

  DEEPEDGE_ASSIGN_OR_RETURN(plan.output_index, CardOutputIndex(card, outputs));
  const TensorInfo& out = outputs[static_cast<std::size_t>(plan.output_index)];
  if (out.dtype != DType::kF32 && out.dtype != DType::kI8 && out.dtype != DType::kU8) {
    return CardError(card, "postprocessing.output",
                     "output '" + out.name + "' is " + std::string(DTypeName(out.dtype)) +
                         "; eval scores float32, int8 and uint8 outputs");
  }
  plan.output_dtype = out.dtype;
  if (out.dtype != DType::kF32 && out.quantization && out.quantization->scale.size() == 1) {
    plan.output_scale = out.quantization->scale[0];
    plan.output_zero_point = out.quantization->zero_point[0];
    if (!(plan.output_scale > 0)) {
      return CardError(card, "postprocessing.output",
                       "output '" + out.name + "' has quantization scale " +
                           std::to_string(plan.output_scale) + " (must be > 0)");
    }
  }
  // Classes: the product of the static non-batch dimensions ([1, K] or [K]); a
  // dynamic output is checked on the first run instead.
  std::int64_t classes = 1;
  for (std::size_t i = 0; i < out.shape.rank(); ++i) {
    const std::int64_t d = out.shape[i];
    if (d == Shape::kDynamic) {
      if (i == 0) continue;
      classes = -1;
      break;
    }
    if (!(i == 0 && out.shape.rank() > 1)) classes *= d;
  }
  if (classes > 0 && classes != static_cast<std::int64_t>(card.labels.size())) {
    return CardError(card, "labels",
                     std::to_string(card.labels.size()) + " labels, but output '" + out.name +
                         "' " + out.shape.ToString() + " has " + std::to_string(classes) +
                         " classes");
  }
  plan.classes = static_cast<std::int64_t>(card.labels.size());
  return plan;
}

Status PreprocessImage(const ImageSample& s, const ModelCard& card, const ClassificationPlan& plan,
                       Tensor& input) {
  const CardPreprocessing& pre = card.preprocessing;
  const std::string id = "sample " + std::to_string(s.index);
  if (s.channels != 1 && s.channels != 3) {
    return InvalidArgument(id + ": " + std::to_string(s.channels) +
                           " channels (1 grey or 3 RGB expected)");
  }
  if (s.height < 1 || s.width < 1 ||
      s.pixels.size() != static_cast<std::size_t>(s.height * s.width * s.channels)) {
    return InvalidArgument(id + ": " + std::to_string(s.pixels.size()) + " bytes for a " +
                           std::to_string(s.height) + "x" + std::to_string(s.width) + "x" +
                           std::to_string(s.channels) + " image");
  }
  const bool crop = pre.fit == ResizeFit::kCenterCrop;
  const bool resize = crop || s.height != plan.height || s.width != plan.width;
  if (resize && !pre.resize_height) {
    return InvalidArgument(id + ": image " + std::to_string(s.height) + "x" +
                           std::to_string(s.width) + ", the model takes " +
                           std::to_string(plan.height) + "x" + std::to_string(plan.width) +
                           " and the card has no preprocessing.resize");
  }
  if (input.empty() || input.shape() != plan.input_shape || input.dtype() != pre.input_dtype) {
    DEEPEDGE_ASSIGN_OR_RETURN(input, Tensor::Allocate(pre.input_dtype, plan.input_shape));
  }
  const int oc = plan.channels;
  const bool nchw = pre.layout == InputLayout::kNCHW;
  // The source region: the whole image, or the centred crop of the input's aspect ratio.
  // Pixel-centre alignment (as OpenCV's INTER_LINEAR and PIL's bilinear do).
  const auto H = static_cast<double>(plan.height), W = static_cast<double>(plan.width);
  double region_h = static_cast<double>(s.height), region_w = static_cast<double>(s.width);
  if (crop) {
    if (region_h * W > region_w * H) {
      region_h = region_w * H / W;
    } else {
      region_w = region_h * W / H;
    }
    region_h *= pre.crop_fraction;
    region_w *= pre.crop_fraction;
  }
  const double top = (static_cast<double>(s.height) - region_h) / 2;
  const double left = (static_cast<double>(s.width) - region_w) / 2;
  const double sy = region_h / H, sx = region_w / W;
  const std::int64_t hw = plan.height * plan.width;
  float rgb[3];
  for (std::int64_t y = 0; y < plan.height; ++y) {
    for (std::int64_t x = 0; x < plan.width; ++x) {
      // Source value of each source channel at this output pixel.
      for (int c = 0; c < s.channels; ++c) {
        if (resize) {
          rgb[c] = static_cast<float>(AreaSample(s, top + static_cast<double>(y) * sy,
                                                 left + static_cast<double>(x) * sx, sy, sx, c));
        } else {
          rgb[c] = s.pixels[static_cast<std::size_t>((y * s.width + x) * s.channels + c)];
        }
      }
      for (int c = 0; c < oc; ++c) {
        float v = 0;
        if (pre.channels == ChannelOrder::kGray) {
          // ITU-R BT.601 luma, as OpenCV's RGB2GRAY.
          v = s.channels == 1 ? rgb[0] : 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
        } else {
          const int src = pre.channels == ChannelOrder::kBgr ? 2 - c : c;
          v = s.channels == 1 ? rgb[0] : rgb[src];
        }
        const double value =
            (static_cast<double>(v) * pre.scale - pre.mean[static_cast<std::size_t>(c)]) /
            pre.std[static_cast<std::size_t>(c)];
        const std::int64_t at = nchw ? c * hw + y * plan.width + x : (y * plan.width + x) * oc + c;
        if (pre.input_dtype == DType::kF32) {
          input.as<float>()[static_cast<std::size_t>(at)] = static_cast<float>(value);
        } else {
          const InputQuantization& q = *pre.input_quantization;
          const double qv = std::nearbyint(value / q.scale) + q.zero_point;
          if (pre.input_dtype == DType::kI8) {
            input.as<std::int8_t>()[static_cast<std::size_t>(at)] =
                static_cast<std::int8_t>(std::clamp(qv, -128.0, 127.0));
          } else {
            input.as<std::uint8_t>()[static_cast<std::size_t>(at)] =
                static_cast<std::uint8_t>(std::clamp(qv, 0.0, 255.0));
          }
        }
      }
    }
  }
  return Status::Ok();
}

Expected<ClassificationEval> EvaluateClassification(Session& session, const ModelCard& card,
                                                    const ImageDataset& data,
                                                    const EvalOptions& options) {
  DEEPEDGE_ASSIGN_OR_RETURN(ClassificationPlan plan, PlanClassification(session, card));
  const auto& inputs_info = session.Inputs();
  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  if (total <= 0) return InvalidArgument("no samples to evaluate in " + data.Description());

  // Other inputs (none for a plain classifier) would need data the card does not
  // describe.
  if (inputs_info.size() != 1) {
    return CardError(card, "preprocessing.input",
                     "the model has " + std::to_string(inputs_info.size()) +
                         " inputs; eval feeds classifiers with one");
  }

  ClassificationEval r;
  r.samples_considered = total;
  r.confusion = ConfusionMatrix(static_cast<int>(plan.classes));
  const int k = card.postprocessing.top_k;
  const bool has_top5 = plan.classes >= 5;
  std::int64_t top1 = 0, top5 = 0;
  r.inference_ms.reserve(static_cast<std::size_t>(total));
  r.predictions =
      "# index\tlabel\tpredicted\tcorrect\ttop" + std::to_string(k) + " (class:score)\n";
  r.predictions.reserve(static_cast<std::size_t>(total) * 64);

  std::vector<Tensor> in(1);
  std::vector<Tensor> outputs;
  std::vector<float> scores;
  ImageSample sample;
  const auto loop_start = SteadyClock::now();

  auto bad = [&](std::int64_t i, std::int64_t label, const Status& why) -> Status {
    return RecordBadSample(i, total, label >= 0 ? std::to_string(label) : "", 2, why, options,
                           r.bad_samples, r.predictions);
  };

  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.label = -1;
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, -1, s));
      continue;
    }
    if (sample.label < 0 || sample.label >= plan.classes) {
      DEEPEDGE_RETURN_IF_ERROR(
          bad(i, sample.label,
              Corrupt("sample " + std::to_string(i) + ": label " + std::to_string(sample.label) +
                      " is outside the card's label set (0.." + std::to_string(plan.classes - 1) +
                      ")")));
      continue;
    }
    if (Status s = PreprocessImage(sample, card, plan, in[0]); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.label, s));
      continue;
    }
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));
    if (options.on_input) DEEPEDGE_RETURN_IF_ERROR(options.on_input(i, in[0]));

    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* out_ptr,
                              RunSample(session, in, outputs, plan.output_index, i, r.inference_ms,
                                        r.first_inference_ms));
    t0 = SteadyClock::now();
    const Tensor& out = *out_ptr;
    if (out.dtype() != plan.output_dtype || out.element_count() != plan.classes) {
      return CardError(card, "labels",
                       std::to_string(plan.classes) + " labels, but the output of sample " +
                           std::to_string(i) + " is " + std::string(DTypeName(out.dtype())) + " " +
                           out.shape().ToString());
    }
    ScoreClassification(out, plan, card, i, static_cast<int>(sample.label), r, top1, top5, scores);
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  r.top1 = MakeProportionMetric("top1", top1, r.samples_evaluated);
  if (has_top5) r.top5 = MakeProportionMetric("top5", top5, r.samples_evaluated);
  return r;
}

}  // namespace deepedge
