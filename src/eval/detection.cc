// `deepedge eval` of SSD-style detectors with fixed-size anchors (task detection):
// letterboxed input, anchor decoding, (weighted) non-maximum suppression, VOC matching,
// recall / precision at the card's threshold and average precision.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <tuple>
#include <utility>

#include "deepedge/eval.h"
#include "eval/eval_common.h"

namespace deepedge {
namespace {

using eval_internal::AreaSample;
using eval_internal::CardError;
using eval_internal::CardInputIndex;
using eval_internal::CheckFloatImageInput;
using eval_internal::DimText;
using eval_internal::ImageInputDims;
using eval_internal::MsSince;
using eval_internal::RecordBadSample;
using eval_internal::RunSample;
using eval_internal::SteadyClock;

double Area(const LabelledBox& b) {
  return std::max(0.0, b.x_max - b.x_min) * std::max(0.0, b.y_max - b.y_min);
}

Expected<int> OutputNamed(const ModelCard& card, const std::vector<TensorInfo>& outputs,
                          const std::string& name, const char* field) {
  auto it = std::find_if(outputs.begin(), outputs.end(),
                         [&](const TensorInfo& t) { return t.name == name; });
  if (it == outputs.end()) {
    std::string list;
    for (const auto& o : outputs) list += (list.empty() ? "" : ", ") + o.name;
    return CardError(card, field, "the model has no output '" + name + "' (it has " + list + ")");
  }
  if (it->dtype != DType::kF32) {
    return CardError(card, field,
                     "output '" + name + "' is " + std::string(DTypeName(it->dtype)) +
                         "; eval decodes float32 outputs");
  }
  return static_cast<int>(it - outputs.begin());
}

// Rows of an output [1, rows, k] or [rows, k] (k >= min_k), or -1.
std::int64_t RowsOf(const Shape& s, std::int64_t min_k) {
  if (s.rank() < 2 || s.rank() > 3 || (s.rank() == 3 && s[0] != 1 && s[0] != Shape::kDynamic)) {
    return -1;
  }
  const std::int64_t k = s[s.rank() - 1];
  if (k != Shape::kDynamic && k < min_k) return -1;
  return s[s.rank() - 2];
}

double Sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-std::clamp(x, -100.0, 100.0)));
}

// One evaluated image's contribution to the average precision.
struct ImageMatches {
  std::vector<ScoredMatch> matches;
  std::int64_t objects = 0;
};

// The 2.5th and 97.5th percentiles of the AP over images resampled with replacement.
std::pair<double, double> BootstrapApInterval(const std::vector<ImageMatches>& images) {
  constexpr int kResamples = 1000;
  if (images.empty()) return {0.0, 1.0};
  std::mt19937_64 rng(20261130);
  std::uniform_int_distribution<std::size_t> pick(0, images.size() - 1);
  std::vector<double> aps;
  aps.reserve(kResamples);
  std::vector<ScoredMatch> pooled;
  for (int b = 0; b < kResamples; ++b) {
    pooled.clear();
    std::int64_t objects = 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const ImageMatches& m = images[pick(rng)];
      pooled.insert(pooled.end(), m.matches.begin(), m.matches.end());
      objects += m.objects;
    }
    aps.push_back(AveragePrecision(pooled, objects));
  }
  std::sort(aps.begin(), aps.end());
  return {aps[static_cast<std::size_t>(0.025 * (kResamples - 1))],
          aps[static_cast<std::size_t>(0.975 * (kResamples - 1))]};
}

std::string BoxText(const ScoredBox& d) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f,%.1f,%.1f,%.1f:%.4f", d.box.x_min, d.box.y_min, d.box.x_max,
                d.box.y_max, d.score);
  return buf;
}

}  // namespace

std::vector<AnchorCentre> MakeSsdAnchors(const CardDetection& d, std::int64_t height,
                                         std::int64_t width) {
  std::vector<AnchorCentre> out;
  for (std::size_t l = 0; l < d.anchor_strides.size(); ++l) {
    const std::int64_t stride = d.anchor_strides[l];
    const std::int64_t rows = (height + stride - 1) / stride;
    const std::int64_t cols = (width + stride - 1) / stride;
    for (std::int64_t y = 0; y < rows; ++y) {
      for (std::int64_t x = 0; x < cols; ++x) {
        const AnchorCentre a{
            (static_cast<double>(x) + d.anchor_offset) / static_cast<double>(cols),
            (static_cast<double>(y) + d.anchor_offset) / static_cast<double>(rows)};
        for (std::int64_t k = 0; k < d.anchors_per_cell[l]; ++k) out.push_back(a);
      }
    }
  }
  return out;
}

double BoxIou(const LabelledBox& a, const LabelledBox& b) {
  const LabelledBox i{std::max(a.x_min, b.x_min), std::max(a.y_min, b.y_min),
                      std::min(a.x_max, b.x_max), std::min(a.y_max, b.y_max)};
  const double inter = Area(i);
  const double uni = Area(a) + Area(b) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<ScoredBox> NonMaxSuppression(std::vector<ScoredBox> candidates, double iou,
                                         bool weighted, int max_out) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const ScoredBox& a, const ScoredBox& b) { return a.score > b.score; });
  std::vector<ScoredBox> out;
  std::vector<bool> taken(candidates.size(), false);
  for (std::size_t i = 0; i < candidates.size() && static_cast<int>(out.size()) < max_out; ++i) {
    if (taken[i]) continue;
    const ScoredBox& best = candidates[i];
    double wsum = 0;
    LabelledBox mean{};
    for (std::size_t j = i; j < candidates.size(); ++j) {
      if (taken[j] || (j != i && BoxIou(best.box, candidates[j].box) <= iou)) continue;
      taken[j] = true;
      const double w = candidates[j].score;
      wsum += w;
      mean.x_min += w * candidates[j].box.x_min;
      mean.y_min += w * candidates[j].box.y_min;
      mean.x_max += w * candidates[j].box.x_max;
      mean.y_max += w * candidates[j].box.y_max;
    }
    ScoredBox kept = best;
    if (weighted && wsum > 0) {
      kept.box = {mean.x_min / wsum, mean.y_min / wsum, mean.x_max / wsum, mean.y_max / wsum};
    }
    out.push_back(kept);
  }
  return out;
}

std::vector<bool> MatchDetections(const std::vector<ScoredBox>& detections,
                                  const std::vector<LabelledBox>& truth, double iou) {
  std::vector<bool> matched(detections.size(), false), used(truth.size(), false);
  for (std::size_t d = 0; d < detections.size(); ++d) {
    double best = -1;
    std::size_t best_t = truth.size();
    for (std::size_t t = 0; t < truth.size(); ++t) {
      if (used[t]) continue;
      const double v = BoxIou(detections[d].box, truth[t]);
      if (v > best) {
        best = v;
        best_t = t;
      }
    }
    if (best_t < truth.size() && best >= iou) {
      used[best_t] = true;
      matched[d] = true;
    }
  }
  return matched;
}

double AveragePrecision(std::vector<ScoredMatch> matches, std::int64_t positives) {
  if (positives <= 0) return 0.0;
  std::stable_sort(matches.begin(), matches.end(),
                   [](const ScoredMatch& a, const ScoredMatch& b) { return a.score > b.score; });
  // Precision and recall after each detection, then precision made non-increasing from
  // the right, integrated over recall steps.
  std::vector<double> precision, recall;
  std::int64_t tp = 0;
  for (std::size_t i = 0; i < matches.size(); ++i) {
    tp += matches[i].true_positive;
    precision.push_back(static_cast<double>(tp) / static_cast<double>(i + 1));
    recall.push_back(static_cast<double>(tp) / static_cast<double>(positives));
  }
  for (std::size_t i = precision.size(); i-- > 1;) {
    precision[i - 1] = std::max(precision[i - 1], precision[i]);
  }
  double ap = 0, previous_recall = 0;
  for (std::size_t i = 0; i < recall.size(); ++i) {
    ap += (recall[i] - previous_recall) * precision[i];
    previous_recall = recall[i];
  }
  return ap;
}

Expected<DetectionPlan> PlanDetection(const Session& session, const ModelCard& card) {
  if (card.task != CardTask::kDetection) {
    return Unsupported("card " + card.path.string() + ": task '" +
                       std::string(CardTaskName(card.task)) + "' is not detection");
  }
  const CardPreprocessing& pre = card.preprocessing;
  const auto& inputs = session.Inputs();
  DetectionPlan plan;
  DEEPEDGE_ASSIGN_OR_RETURN(plan.input_index, CardInputIndex(card, inputs));
  DEEPEDGE_ASSIGN_OR_RETURN(const ImageInputDims dims,
                            CheckFloatImageInput(card, inputs, plan.input_index, "detectors"));
  const TensorInfo& in = inputs[static_cast<std::size_t>(plan.input_index)];
  const std::int64_t h = dims.h, w = dims.w;
  plan.channels = ChannelCount(pre.channels);
  plan.height = *pre.resize_height;
  plan.width = *pre.resize_width;
  if ((h != Shape::kDynamic && h != plan.height) || (w != Shape::kDynamic && w != plan.width)) {
    return CardError(card, "preprocessing.resize",
                     "[" + std::to_string(plan.height) + ", " + std::to_string(plan.width) +
                         "] but input '" + in.name + "' takes " + DimText(h) + "x" + DimText(w));
  }
  const CardDetection& d = card.detection;
  const auto& outputs = session.Outputs();
  DEEPEDGE_ASSIGN_OR_RETURN(
      plan.boxes_output, OutputNamed(card, outputs, d.boxes_output, "postprocessing.boxes_output"));
  DEEPEDGE_ASSIGN_OR_RETURN(plan.scores_output, OutputNamed(card, outputs, d.scores_output,
                                                            "postprocessing.scores_output"));
  plan.anchors = MakeSsdAnchors(d, plan.height, plan.width);
  const auto anchors = static_cast<std::int64_t>(plan.anchors.size());
  const TensorInfo& bo = outputs[static_cast<std::size_t>(plan.boxes_output)];
  const TensorInfo& so = outputs[static_cast<std::size_t>(plan.scores_output)];
  const std::int64_t box_rows = RowsOf(bo.shape, 4), score_rows = RowsOf(so.shape, 1);
  if (box_rows < 0 || (box_rows != Shape::kDynamic && box_rows != anchors)) {
    return CardError(card, "postprocessing.anchors",
                     std::to_string(anchors) + " anchors, but boxes output '" + bo.name + "' is " +
                         bo.shape.ToString() + " ([1, anchors, >=4] expected)");
  }
  if (score_rows < 0 || (score_rows != Shape::kDynamic && score_rows != anchors) ||
      (so.shape[so.shape.rank() - 1] != 1 && so.shape[so.shape.rank() - 1] != Shape::kDynamic)) {
    return CardError(card, "postprocessing.anchors",
                     std::to_string(anchors) + " anchors, but scores output '" + so.name + "' is " +
                         so.shape.ToString() + " ([1, anchors, 1] expected)");
  }
  return plan;
}

Expected<InputPlacement> PreprocessDetectionImage(const ImageSample& s, const ModelCard& card,
                                                  const DetectionPlan& plan, Tensor& input) {
  const CardPreprocessing& pre = card.preprocessing;
  const std::string id = "sample " + std::to_string(s.index);
  if ((s.channels != 1 && s.channels != 3) || s.height < 1 || s.width < 1 ||
      s.pixels.size() != static_cast<std::size_t>(s.height * s.width * s.channels)) {
    return InvalidArgument(id + ": not a grey or RGB image (" + std::to_string(s.pixels.size()) +
                           " bytes for " + std::to_string(s.height) + "x" +
                           std::to_string(s.width) + "x" + std::to_string(s.channels) + ")");
  }
  const auto H = static_cast<double>(plan.height), W = static_cast<double>(plan.width);
  const auto h = static_cast<double>(s.height), w = static_cast<double>(s.width);
  InputPlacement p;
  if (pre.fit == ResizeFit::kLetterbox) {
    p.scale_x = p.scale_y = std::min(W / w, H / h);
    p.pad_x = (W - w * p.scale_x) / 2;
    p.pad_y = (H - h * p.scale_y) / 2;
  } else {
    p.scale_x = W / w;
    p.scale_y = H / h;
  }
  const int oc = plan.channels;
  const bool nchw = pre.layout == InputLayout::kNCHW;
  const Shape shape =
      nchw ? Shape{1, oc, plan.height, plan.width} : Shape{1, plan.height, plan.width, oc};
  if (input.empty() || input.shape() != shape || input.dtype() != DType::kF32) {
    DEEPEDGE_ASSIGN_OR_RETURN(input, Tensor::Allocate(DType::kF32, shape));
  }
  auto dst = input.as<float>();
  const std::int64_t hw = plan.height * plan.width;
  double px[3];
  for (std::int64_t y = 0; y < plan.height; ++y) {
    for (std::int64_t x = 0; x < plan.width; ++x) {
      // The input pixel's footprint in image coordinates; outside the image: black.
      const double x0 = (static_cast<double>(x) - p.pad_x) / p.scale_x;
      const double y0 = (static_cast<double>(y) - p.pad_y) / p.scale_y;
      const double cx = x0 + 0.5 / p.scale_x, cy = y0 + 0.5 / p.scale_y;
      const bool inside = cx >= 0 && cx < w && cy >= 0 && cy < h;
      for (int c = 0; c < s.channels; ++c) {
        px[c] = inside ? AreaSample(s, y0, x0, 1.0 / p.scale_y, 1.0 / p.scale_x, c) : 0.0;
      }
      for (int c = 0; c < oc; ++c) {
        double v = 0;
        if (pre.channels == ChannelOrder::kGray) {
          v = s.channels == 1 ? px[0] : 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
        } else {
          v = s.channels == 1 ? px[0] : px[pre.channels == ChannelOrder::kBgr ? 2 - c : c];
        }
        const double value = (v * pre.scale - pre.mean[static_cast<std::size_t>(c)]) /
                             pre.std[static_cast<std::size_t>(c)];
        const std::int64_t at = nchw ? c * hw + y * plan.width + x : (y * plan.width + x) * oc + c;
        dst[static_cast<std::size_t>(at)] = static_cast<float>(value);
      }
    }
  }
  return p;
}

Expected<std::vector<ScoredBox>> DecodeSsdDetections(const ModelCard& card,
                                                     const DetectionPlan& plan, const Tensor& boxes,
                                                     const Tensor& scores,
                                                     const InputPlacement& placement,
                                                     double min_score) {
  const CardDetection& d = card.detection;
  const auto anchors = static_cast<std::int64_t>(plan.anchors.size());
  const std::int64_t k = boxes.shape().rank() ? boxes.shape()[boxes.shape().rank() - 1] : 0;
  if (boxes.dtype() != DType::kF32 || scores.dtype() != DType::kF32 || k < 4 ||
      boxes.element_count() != anchors * k || scores.element_count() != anchors) {
    return CardError(card, "postprocessing.anchors",
                     std::to_string(anchors) + " anchors, but the outputs are " +
                         std::string(DTypeName(boxes.dtype())) + " " + boxes.shape().ToString() +
                         " and " + std::string(DTypeName(scores.dtype())) + " " +
                         scores.shape().ToString());
  }
  const auto raw = boxes.as<float>();
  const auto raw_scores = scores.as<float>();
  const auto H = static_cast<double>(plan.height), W = static_cast<double>(plan.width);
  std::vector<ScoredBox> candidates;
  for (std::int64_t a = 0; a < anchors; ++a) {
    const double logit = raw_scores[static_cast<std::size_t>(a)];
    const double score = d.logits ? Sigmoid(logit) : logit;
    if (!(score >= min_score)) continue;  // NaN scores are dropped too
    const float* r = raw.data() + a * k;
    const AnchorCentre& an = plan.anchors[static_cast<std::size_t>(a)];
    // Fractions of the input, then input pixels, then image pixels.
    const double cx = r[0] / d.box_scale + an.x, cy = r[1] / d.box_scale + an.y;
    const double bw = r[2] / d.box_scale, bh = r[3] / d.box_scale;
    auto to_x = [&](double f) { return (f * W - placement.pad_x) / placement.scale_x; };
    auto to_y = [&](double f) { return (f * H - placement.pad_y) / placement.scale_y; };
    ScoredBox b;
    b.box = {to_x(cx - bw / 2), to_y(cy - bh / 2), to_x(cx + bw / 2), to_y(cy + bh / 2)};
    b.score = score;
    if (std::isfinite(b.box.x_min + b.box.y_min + b.box.x_max + b.box.y_max)) {
      candidates.push_back(b);
    }
  }
  return NonMaxSuppression(std::move(candidates), d.nms_iou, d.weighted_nms, d.max_detections);
}

Expected<DetectionEval> EvaluateDetection(Session& session, const ModelCard& card,
                                          const ImageDataset& data, const EvalOptions& options) {
  DEEPEDGE_ASSIGN_OR_RETURN(DetectionPlan plan, PlanDetection(session, card));
  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  if (total <= 0) return InvalidArgument("no samples to evaluate in " + data.Description());
  const CardDetection& d = card.detection;

  DetectionEval r;
  r.samples_considered = total;
  r.predictions = "# index\timage\tlabelled\tfound\tdetections at score >= " +
                  std::to_string(d.score_threshold) + " (x_min,y_min,x_max,y_max:score)\n";
  std::int64_t found = 0, detections = 0, true_detections = 0;
  std::vector<ImageMatches> per_image;
  std::vector<Tensor> in(1);
  std::vector<Tensor> outputs;
  ImageSample sample;
  const auto loop_start = SteadyClock::now();
  const double floor = std::min(kDetectionApMinScore, d.score_threshold);

  auto bad = [&](std::int64_t i, const Status& why) -> Status {
    return RecordBadSample(i, total, sample.name, 2, why, options, r.bad_samples, r.predictions);
  };

  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.name.clear();
    sample.boxes.clear();
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, s));
      continue;
    }
    Expected<InputPlacement> placement = PreprocessDetectionImage(sample, card, plan, in[0]);
    if (!placement) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, placement.status()));
      continue;
    }
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));
    if (options.on_input) DEEPEDGE_RETURN_IF_ERROR(options.on_input(i, in[0]));
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* boxes_ptr,
                              RunSample(session, in, outputs, plan.boxes_output, i, r.inference_ms,
                                        r.first_inference_ms));
    t0 = SteadyClock::now();
    if (outputs.size() <= static_cast<std::size_t>(plan.scores_output)) {
      return Internal("the session returned " + std::to_string(outputs.size()) + " outputs");
    }
    const Tensor& scores = outputs[static_cast<std::size_t>(plan.scores_output)];
    // The operating point as the model is deployed (threshold, then NMS), and a
    // low-threshold pass for the ranking that average precision needs.
    DEEPEDGE_ASSIGN_OR_RETURN(
        std::vector<ScoredBox> kept,
        DecodeSsdDetections(card, plan, *boxes_ptr, scores, *placement, d.score_threshold));
    DEEPEDGE_ASSIGN_OR_RETURN(
        std::vector<ScoredBox> all,
        DecodeSsdDetections(card, plan, *boxes_ptr, scores, *placement, floor));
    const std::vector<bool> hits = MatchDetections(kept, sample.boxes, d.match_iou);
    const auto hit_count = static_cast<std::int64_t>(std::count(hits.begin(), hits.end(), true));
    found += hit_count;
    true_detections += hit_count;
    detections += static_cast<std::int64_t>(kept.size());
    const std::vector<bool> all_hits = MatchDetections(all, sample.boxes, d.match_iou);
    ImageMatches& im = per_image.emplace_back();
    im.objects = static_cast<std::int64_t>(sample.boxes.size());
    for (std::size_t j = 0; j < all.size(); ++j) im.matches.push_back({all[j].score, all_hits[j]});
    r.objects += static_cast<std::int64_t>(sample.boxes.size());
    ++r.samples_evaluated;
    r.predictions += std::to_string(i) + "\t" + sample.name + "\t" +
                     std::to_string(sample.boxes.size()) + "\t" + std::to_string(hit_count) + "\t";
    for (std::size_t j = 0; j < kept.size(); ++j) {
      r.predictions += (j ? " " : "") + BoxText(kept[j]);
    }
    r.predictions += "\n";
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  r.recall = MakeProportionMetric("recall", found, r.objects);
  r.precision = MakeProportionMetric("precision", true_detections, detections);
  std::vector<ScoredMatch> pooled;
  for (const ImageMatches& m : per_image) {
    pooled.insert(pooled.end(), m.matches.begin(), m.matches.end());
  }
  r.average_precision = AveragePrecision(std::move(pooled), r.objects);
  std::tie(r.ap_ci_low, r.ap_ci_high) = BootstrapApInterval(per_image);
  return r;
}

}  // namespace deepedge
