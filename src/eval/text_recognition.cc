// `deepedge eval` of CTC text-line recognisers (task text_recognition): PaddleOCR's
// recognition preprocessing, CTC greedy decoding, exact-match accuracy and CER.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "deepedge/eval.h"
#include "eval/eval_common.h"

namespace deepedge {
namespace {

using eval_internal::Bilinear;
using eval_internal::CardError;
using eval_internal::CardInputIndex;
using eval_internal::CardOutputIndex;
using eval_internal::CheckFloatImageInput;
using eval_internal::DimText;
using eval_internal::ImageInputDims;
using eval_internal::MsSince;
using eval_internal::RunSample;
using eval_internal::SteadyClock;

// Predictions are tab-separated: keep each field on its line.
std::string OneField(std::string s) {
  for (char& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

}  // namespace

std::vector<int> CtcGreedyDecode(std::span<const float> scores, std::int64_t steps,
                                 std::int64_t classes, int blank) {
  std::vector<int> out;
  if (steps <= 0 || classes <= 0 || scores.size() < static_cast<std::size_t>(steps * classes)) {
    return out;
  }
  int previous = -1;
  for (std::int64_t t = 0; t < steps; ++t) {
    const float* row = scores.data() + t * classes;
    int best = 0;
    for (std::int64_t k = 1; k < classes; ++k) {
      // NaN never wins (comparisons with NaN are false).
      if (row[k] > row[best] || std::isnan(row[best])) best = static_cast<int>(k);
    }
    if (best != previous && best != blank) out.push_back(best);
    previous = best;
  }
  return out;
}

Expected<TextRecognitionPlan> PlanTextRecognition(const Session& session, const ModelCard& card) {
  if (card.task != CardTask::kTextRecognition) {
    return Unsupported("card " + card.path.string() + ": task '" +
                       std::string(CardTaskName(card.task)) + "' is not text_recognition");
  }
  const CardPreprocessing& pre = card.preprocessing;
  const auto& inputs = session.Inputs();
  const auto& outputs = session.Outputs();
  TextRecognitionPlan plan;
  DEEPEDGE_ASSIGN_OR_RETURN(plan.input_index, CardInputIndex(card, inputs));
  DEEPEDGE_ASSIGN_OR_RETURN(
      const ImageInputDims dims,
      CheckFloatImageInput(card, inputs, plan.input_index, "text recognisers"));
  const TensorInfo& in = inputs[static_cast<std::size_t>(plan.input_index)];
  const std::int64_t h = dims.h, w = dims.w;
  plan.channels = ChannelCount(pre.channels);
  plan.height = *pre.resize_height;
  plan.min_width = *pre.resize_width;
  plan.max_width = std::max(card.text.max_width, plan.min_width);
  if (h != Shape::kDynamic && h != plan.height) {
    return CardError(card, "preprocessing.resize",
                     "height " + std::to_string(plan.height) + " but input '" + in.name +
                         "' takes " + std::to_string(h));
  }
  if (w != Shape::kDynamic && (w != plan.min_width || plan.max_width != plan.min_width)) {
    return CardError(card, "preprocessing.resize",
                     "width " + std::to_string(plan.min_width) + " (max_width " +
                         std::to_string(plan.max_width) + ") but input '" + in.name +
                         "' takes exactly " + std::to_string(w));
  }

  DEEPEDGE_ASSIGN_OR_RETURN(plan.output_index, CardOutputIndex(card, outputs));
  const TensorInfo& out = outputs[static_cast<std::size_t>(plan.output_index)];
  if (out.dtype != DType::kF32) {
    return CardError(card, "postprocessing.output",
                     "output '" + out.name + "' is " + std::string(DTypeName(out.dtype)) +
                         "; eval decodes float32 outputs");
  }
  plan.classes = static_cast<std::int64_t>(card.text.charset.size());
  const std::int64_t last = out.shape.rank() ? out.shape[out.shape.rank() - 1] : Shape::kDynamic;
  if (out.shape.rank() < 2 || (last != Shape::kDynamic && last != plan.classes)) {
    return CardError(card, "charset",
                     std::to_string(plan.classes) +
                         " classes (blank, the charset file's characters" +
                         (card.text.use_space_char ? ", space" : "") + "), but output '" +
                         out.name + "' is " + out.shape.ToString() + " (steps x classes)");
  }
  return plan;
}

Status PreprocessTextLine(const ImageSample& s, const ModelCard& card,
                          const TextRecognitionPlan& plan, Tensor& input) {
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
  // PaddleOCR (predict_rec.py, resize_norm_img, a batch of one line): the input width
  // is int(H * max(w / h, W / H)), truncated, and the line is resized to
  // ceil(H * w / h) but at most that width. So a line narrower than the card's width
  // gets the ceiling and zero padding, a wider one the truncated width and no padding.
  // DeepEdge also caps the width at max_width (PaddleOCR has no cap).
  const double ratio = static_cast<double>(s.width) / static_cast<double>(s.height);
  const double scaled = static_cast<double>(plan.height) * ratio;
  const std::int64_t width =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(scaled), plan.min_width, plan.max_width);
  const auto resized =
      std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(scaled)), 1, width);
  const int oc = plan.channels;
  const bool nchw = pre.layout == InputLayout::kNCHW;
  const Shape shape = nchw ? Shape{1, oc, plan.height, width} : Shape{1, plan.height, width, oc};
  if (input.empty() || input.shape() != shape || input.dtype() != DType::kF32) {
    DEEPEDGE_ASSIGN_OR_RETURN(input, Tensor::Allocate(DType::kF32, shape));
  }
  auto dst = input.as<float>();
  std::fill(dst.begin(), dst.end(), 0.0f);  // the padding: 0 after normalisation
  const double sy = static_cast<double>(s.height) / static_cast<double>(plan.height);
  const double sx = static_cast<double>(s.width) / static_cast<double>(resized);
  const std::int64_t hw = plan.height * width;
  float px[3];
  for (std::int64_t y = 0; y < plan.height; ++y) {
    for (std::int64_t x = 0; x < resized; ++x) {
      for (int c = 0; c < s.channels; ++c) {
        // cv2.resize of an 8-bit image gives 8-bit pixels: round to nearest as it does.
        px[c] = std::floor(Bilinear(s, (static_cast<double>(y) + 0.5) * sy - 0.5,
                                    (static_cast<double>(x) + 0.5) * sx - 0.5, c) +
                           0.5f);
      }
      for (int c = 0; c < oc; ++c) {
        float v = 0;
        if (pre.channels == ChannelOrder::kGray) {
          v = s.channels == 1 ? px[0] : 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
        } else {
          v = s.channels == 1 ? px[0] : px[pre.channels == ChannelOrder::kBgr ? 2 - c : c];
        }
        const double value =
            (static_cast<double>(v) * pre.scale - pre.mean[static_cast<std::size_t>(c)]) /
            pre.std[static_cast<std::size_t>(c)];
        const std::int64_t at = nchw ? c * hw + y * width + x : (y * width + x) * oc + c;
        dst[static_cast<std::size_t>(at)] = static_cast<float>(value);
      }
    }
  }
  return Status::Ok();
}

Expected<TextRecognitionEval> EvaluateTextRecognition(Session& session, const ModelCard& card,
                                                      const ImageDataset& data,
                                                      const EvalOptions& options) {
  DEEPEDGE_ASSIGN_OR_RETURN(TextRecognitionPlan plan, PlanTextRecognition(session, card));
  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  if (total <= 0) return InvalidArgument("no samples to evaluate in " + data.Description());

  TextRecognitionEval r;
  r.samples_considered = total;
  r.predictions = "# index\ttext\tpredicted\tcorrect\tedits\n";
  std::int64_t exact = 0;
  std::vector<Tensor> in(1);
  std::vector<Tensor> outputs;
  std::vector<float> scores;
  ImageSample sample;
  const auto loop_start = SteadyClock::now();

  auto bad = [&](std::int64_t i, const std::string& text, const Status& why) -> Status {
    r.bad_samples.push_back({i, why.message()});
    r.predictions += std::to_string(i) + "\t" + (text.empty() ? "-" : OneField(text)) +
                     "\t-\t-\tbad: " + OneField(why.message()) + "\n";
    if (options.progress) options.progress(i + 1, total);
    if (!options.keep_going) {
      return Status(why.code(), why.message() + " (--keep-going counts bad samples and goes on)");
    }
    return Status::Ok();
  };

  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.text.clear();
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.text, s));
      continue;
    }
    if (Status s = PreprocessTextLine(sample, card, plan, in[0]); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.text, s));
      continue;
    }
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));
    if (options.on_input) DEEPEDGE_RETURN_IF_ERROR(options.on_input(i, in[0]));

    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* out_ptr,
                              RunSample(session, in, outputs, plan.output_index, i, r.inference_ms,
                                        r.first_inference_ms));
    t0 = SteadyClock::now();
    const Tensor& out = *out_ptr;
    const Shape& os = out.shape();
    if (out.dtype() != DType::kF32 || os.rank() < 2 || os[os.rank() - 1] != plan.classes) {
      return CardError(card, "charset",
                       std::to_string(plan.classes) + " classes, but the output of sample " +
                           std::to_string(i) + " is " + std::string(DTypeName(out.dtype())) + " " +
                           os.ToString());
    }
    const std::int64_t steps = out.element_count() / plan.classes;
    scores.assign(out.as<float>().begin(), out.as<float>().end());
    if (card.postprocessing.softmax) {
      for (std::int64_t t = 0; t < steps; ++t) {
        Softmax(std::span<float>(scores.data() + t * plan.classes,
                                 static_cast<std::size_t>(plan.classes)));
      }
    }
    std::string predicted;
    for (int k : CtcGreedyDecode(scores, steps, plan.classes, 0)) {
      predicted += card.text.charset[static_cast<std::size_t>(k)];
    }
    const bool correct = predicted == sample.text;
    exact += correct;
    const std::int64_t edits_before = r.cer.edits;
    r.cer.Add(sample.text, predicted);
    ++r.samples_evaluated;
    r.predictions += std::to_string(i) + "\t" + OneField(sample.text) + "\t" + OneField(predicted) +
                     "\t" + (correct ? "1" : "0") + "\t" +
                     std::to_string(r.cer.edits - edits_before) + "\n";
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  r.exact_match = MakeProportionMetric("exact_match", exact, r.samples_evaluated);
  return r;
}

}  // namespace deepedge
