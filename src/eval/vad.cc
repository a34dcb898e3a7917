// `deepedge eval` of streaming voice-activity models (task vad): framing with context
// and a fed-back recurrent state, the card's threshold / hangover smoothing, and the
// clip, padding and frame metrics (include/deepedge/eval.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "deepedge/eval.h"
#include "eval/eval_common.h"

namespace deepedge {
namespace {

using eval_internal::CardError;
using eval_internal::MsSince;
using eval_internal::OneField;
using eval_internal::RecordBadSample;
using eval_internal::RunSample;
using eval_internal::SteadyClock;

// The index of the tensor named `name` in `list`; `kind` is "input" or "output".
Expected<int> FindTensor(const ModelCard& card, const std::vector<TensorInfo>& list,
                         const std::string& name, std::string_view field, std::string_view kind) {
  auto it =
      std::find_if(list.begin(), list.end(), [&](const TensorInfo& t) { return t.name == name; });
  if (it == list.end()) {
    std::string names;
    for (const TensorInfo& t : list) names += (names.empty() ? "" : ", ") + t.name;
    return CardError(card, field,
                     "the model has no " + std::string(kind) + " '" + name + "' (" +
                         std::string(kind) + "s: " + names + ")");
  }
  return static_cast<int>(it - list.begin());
}

// `shape` with its dynamic dimensions as 1 (the batch of a streaming model).
Shape DynamicAsOne(const Shape& shape) {
  std::vector<std::int64_t> dims = shape.dims();
  for (auto& d : dims) d = d == Shape::kDynamic ? 1 : d;
  return Shape(std::move(dims));
}

std::string SpanText(const std::vector<TimeSpan>& spans) {
  if (spans.empty()) return "-";
  std::string out;
  char buf[64];
  for (const TimeSpan& s : spans) {
    std::snprintf(buf, sizeof buf, "%s%.3f-%.3f", out.empty() ? "" : " ", s.start_s, s.end_s);
    out += buf;
  }
  return out;
}

}  // namespace

Expected<VadPlan> PlanVad(const Session& session, const ModelCard& card) {
  if (card.task != CardTask::kVad) {
    return Unsupported("card " + card.path.string() + ": task '" +
                       std::string(CardTaskName(card.task)) + "' is not vad");
  }
  const CardVad& v = card.vad;
  const auto& inputs = session.Inputs();
  const auto& outputs = session.Outputs();
  VadPlan plan;
  const std::int64_t window = v.context + v.frame;

  if (card.preprocessing.input_name.empty()) {
    if (inputs.size() != 1) {
      return CardError(card, "preprocessing.input",
                       "the model has " + std::to_string(inputs.size()) +
                           " inputs; name the one that takes the audio");
    }
  } else {
    DEEPEDGE_ASSIGN_OR_RETURN(
        plan.input_index,
        FindTensor(card, inputs, card.preprocessing.input_name, "preprocessing.input", "input"));
  }
  const TensorInfo& in = inputs[static_cast<std::size_t>(plan.input_index)];
  if (in.dtype != DType::kF32 || in.shape.rank() != 2 ||
      (in.shape[0] != 1 && in.shape[0] != Shape::kDynamic) ||
      (in.shape[1] != window && in.shape[1] != Shape::kDynamic)) {
    return CardError(card, "preprocessing.frame",
                     "context + frame is " + std::to_string(window) + " samples (float32 [1, " +
                         std::to_string(window) + "]), but input '" + in.name + "' is " +
                         std::string(DTypeName(in.dtype)) + " " +
                         (in.shape.rank() ? in.shape.ToString() : "of unknown shape"));
  }
  plan.input_shape = Shape{1, window};

  if (!v.state_input.empty()) {
    DEEPEDGE_ASSIGN_OR_RETURN(plan.state_input, FindTensor(card, inputs, v.state_input,
                                                           "preprocessing.state_input", "input"));
    DEEPEDGE_ASSIGN_OR_RETURN(
        plan.state_output,
        FindTensor(card, outputs, v.state_output, "preprocessing.state_output", "output"));
    const TensorInfo& si = inputs[static_cast<std::size_t>(plan.state_input)];
    const TensorInfo& so = outputs[static_cast<std::size_t>(plan.state_output)];
    plan.state_shape = DynamicAsOne(si.shape);
    if (si.dtype != DType::kF32 || so.dtype != DType::kF32 || si.shape.rank() == 0) {
      return CardError(card, "preprocessing.state_input",
                       "state '" + si.name + "' (" + std::string(DTypeName(si.dtype)) + ") and '" +
                           so.name + "' (" + std::string(DTypeName(so.dtype)) +
                           ") must be float32 tensors");
    }
    if (so.shape.is_static() && so.shape.rank() > 0 &&
        so.shape.element_count() != plan.state_shape.element_count()) {
      return CardError(card, "preprocessing.state_output",
                       "output '" + so.name + "' " + so.shape.ToString() +
                           " cannot be fed back as input '" + si.name + "' " +
                           plan.state_shape.ToString());
    }
  }

  if (!v.rate_input.empty()) {
    DEEPEDGE_ASSIGN_OR_RETURN(plan.rate_input, FindTensor(card, inputs, v.rate_input,
                                                          "preprocessing.rate_input", "input"));
    const TensorInfo& ri = inputs[static_cast<std::size_t>(plan.rate_input)];
    plan.rate_dtype = ri.dtype;
    plan.rate_shape = DynamicAsOne(ri.shape);
    if ((ri.dtype != DType::kI64 && ri.dtype != DType::kI32 && ri.dtype != DType::kF32) ||
        plan.rate_shape.element_count() != 1) {
      return CardError(card, "preprocessing.rate_input",
                       "input '" + ri.name + "' is " + std::string(DTypeName(ri.dtype)) + " " +
                           plan.rate_shape.ToString() +
                           "; the sample rate is fed as one int64, int32 or float32 value");
    }
  }

  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const int k = static_cast<int>(i);
    if (k != plan.input_index && k != plan.state_input && k != plan.rate_input) {
      return CardError(card, "preprocessing",
                       "model input '" + inputs[i].name +
                           "' is not fed: name it as input, state_input or rate_input");
    }
  }
  if (plan.state_input == plan.input_index || plan.rate_input == plan.input_index ||
      (plan.rate_input >= 0 && plan.rate_input == plan.state_input)) {
    return CardError(card, "preprocessing", "one model input named for two roles");
  }

  if (card.postprocessing.output_name.empty()) {
    if (outputs.empty()) return InvalidArgument("the model has no outputs");
    plan.output_index = 0;
  } else {
    DEEPEDGE_ASSIGN_OR_RETURN(plan.output_index,
                              FindTensor(card, outputs, card.postprocessing.output_name,
                                         "postprocessing.output", "output"));
  }
  const TensorInfo& out = outputs[static_cast<std::size_t>(plan.output_index)];
  if (out.dtype != DType::kF32 || plan.output_index == plan.state_output ||
      (out.shape.is_static() && out.shape.rank() > 0 && out.shape.element_count() != 1)) {
    return CardError(card, "postprocessing.output",
                     "output '" + out.name + "' is " + std::string(DTypeName(out.dtype)) + " " +
                         out.shape.ToString() + "; vad reads one float32 probability per frame");
  }
  return plan;
}

std::vector<FrameRun> SmoothVad(std::span<const float> p, const CardVad& v) {
  const double frame_ms =
      1000.0 * static_cast<double>(v.frame) / static_cast<double>(v.sample_rate);
  const auto hangover = static_cast<std::int64_t>(std::llround(v.hangover_ms / frame_ms));
  const auto min_positive = static_cast<std::int64_t>(std::ceil(v.min_speech_ms / frame_ms - 1e-9));
  std::vector<FrameRun> runs;
  if (!(frame_ms > 0)) return runs;  // not a parsed card: no frame length
  bool active = false;
  std::int64_t begin = 0, positives = 0, quiet_start = -1;
  auto close = [&](std::int64_t end) {
    if (positives >= min_positive) runs.push_back({begin, end});
    active = false;
  };
  const auto n = static_cast<std::int64_t>(p.size());
  for (std::int64_t f = 0; f < n; ++f) {
    const float x = p[static_cast<std::size_t>(f)];
    const bool high = x >= v.threshold;  // false for NaN
    const bool low = !(x >= v.negative_threshold);
    if (!active) {
      if (high) {
        active = true;
        begin = f;
        positives = 1;
        quiet_start = -1;
      }
      continue;
    }
    if (high) {
      ++positives;
      quiet_start = -1;
      continue;
    }
    if (quiet_start < 0 && low) quiet_start = f;
    if (quiet_start >= 0 && f - quiet_start >= hangover) close(f);
  }
  if (active) close(n);
  return runs;
}

void TallyVadClip(const std::vector<FrameRun>& detected, const std::vector<TimeSpan>& segments,
                  std::int64_t frames, const CardVad& v, VadTally& t) {
  if (frames <= 0 || v.frame <= 0 || v.sample_rate <= 0) return;
  std::vector<char> inside(static_cast<std::size_t>(frames), 0), found(inside.size(), 0);
  const double per_frame = static_cast<double>(v.frame) / static_cast<double>(v.sample_rate);
  for (const TimeSpan& s : segments) {
    // Frames [floor(start / frame), ceil(end / frame)) overlap [start, end).
    const auto a = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::floor(s.start_s / per_frame + 1e-9)), 0, frames);
    const auto b = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::ceil(s.end_s / per_frame - 1e-9)), 0, frames);
    for (std::int64_t f = a; f < b; ++f) inside[static_cast<std::size_t>(f)] = 1;
  }
  for (const FrameRun& r : detected) {
    for (std::int64_t f = std::max<std::int64_t>(r.begin, 0); f < std::min(r.end, frames); ++f) {
      found[static_cast<std::size_t>(f)] = 1;
    }
  }
  bool hit = false;
  for (std::size_t f = 0; f < inside.size(); ++f) {
    if (inside[f]) {
      ++t.speech_frames;
      t.speech_frames_detected += found[f];
      hit = hit || found[f];
    } else {
      ++t.padding_frames;
      t.padding_frames_detected += found[f];
    }
  }
  if (!segments.empty()) {
    ++t.speech_clips;
    t.detected_clips += hit;
  }
}

Expected<VadEval> EvaluateVad(Session& session, const ModelCard& card, const AudioDataset& data,
                              const EvalOptions& options) {
  DEEPEDGE_ASSIGN_OR_RETURN(VadPlan plan, PlanVad(session, card));
  if (options.on_input) {
    return Unsupported(
        "saving inputs is not supported for vad cards (the model's state is an "
        "input too)");
  }
  const CardVad& v = card.vad;
  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  if (total <= 0) return InvalidArgument("no samples to evaluate in " + data.Description());

  VadEval r;
  r.samples_considered = total;
  r.predictions = "# index\taudio\tlabelled\tdetected\tfound\tfalse_alarm_frames\n";
  const auto& infos = session.Inputs();
  std::vector<Tensor> in(infos.size());
  DEEPEDGE_ASSIGN_OR_RETURN(in[static_cast<std::size_t>(plan.input_index)],
                            Tensor::Allocate(DType::kF32, plan.input_shape));
  if (plan.state_input >= 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(in[static_cast<std::size_t>(plan.state_input)],
                              Tensor::Allocate(DType::kF32, plan.state_shape));
  }
  if (plan.rate_input >= 0) {
    DEEPEDGE_ASSIGN_OR_RETURN(Tensor rate, Tensor::Allocate(plan.rate_dtype, plan.rate_shape));
    if (plan.rate_dtype == DType::kI64) {
      rate.as<std::int64_t>()[0] = v.sample_rate;
    } else if (plan.rate_dtype == DType::kI32) {
      rate.as<std::int32_t>()[0] = static_cast<std::int32_t>(v.sample_rate);
    } else {
      rate.as<float>()[0] = static_cast<float>(v.sample_rate);
    }
    in[static_cast<std::size_t>(plan.rate_input)] = std::move(rate);
  }
  Tensor& audio = in[static_cast<std::size_t>(plan.input_index)];
  std::vector<Tensor> outputs;
  std::vector<float> probabilities;
  AudioSample sample;
  const auto loop_start = SteadyClock::now();

  auto bad = [&](std::int64_t i, const std::string& name, const Status& why) -> Status {
    return RecordBadSample(i, total, name, 3, why, options, r.bad_samples, r.predictions);
  };

  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.name.clear();
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.name, s));
      continue;
    }
    const std::string id = "sample " + std::to_string(i) + " (" + sample.name + ")";
    if (sample.sample_rate != v.sample_rate) {
      DEEPEDGE_RETURN_IF_ERROR(bad(
          i, sample.name,
          InvalidArgument(id + ": " + std::to_string(sample.sample_rate) +
                          " Hz; the card's model takes " + std::to_string(v.sample_rate) + " Hz")));
      continue;
    }
    if (sample.samples.empty()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.name, InvalidArgument(id + ": no audio")));
      continue;
    }
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));

    // A new clip: zero state and zero context.
    if (plan.state_input >= 0) {
      auto st = in[static_cast<std::size_t>(plan.state_input)].as<float>();
      std::fill(st.begin(), st.end(), 0.0f);
    }
    auto window = audio.as<float>();
    std::fill(window.begin(), window.end(), 0.0f);
    const auto n = static_cast<std::int64_t>(sample.samples.size());
    const std::int64_t frames = (n + v.frame - 1) / v.frame;
    probabilities.clear();
    for (std::int64_t f = 0; f < frames; ++f) {
      // The context is the tail of the previous window; then this frame's samples.
      if (v.context > 0) {
        std::memmove(window.data(), window.data() + v.frame,
                     static_cast<std::size_t>(v.context) * sizeof(float));
      }
      const std::int64_t from = f * v.frame, count = std::min(v.frame, n - from);
      float* dst = window.data() + v.context;
      std::copy_n(sample.samples.data() + from, count, dst);
      std::fill(dst + count, dst + v.frame, 0.0f);
      DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* out_ptr,
                                RunSample(session, in, outputs, plan.output_index, i,
                                          r.inference_ms, r.first_inference_ms));
      if (out_ptr->dtype() != DType::kF32 || out_ptr->element_count() != 1) {
        return CardError(card, "postprocessing.output",
                         "the output of " + id + " is " + std::string(DTypeName(out_ptr->dtype())) +
                             " " + out_ptr->shape().ToString() + ", not one probability");
      }
      probabilities.push_back(out_ptr->as<float>()[0]);
      if (plan.state_input >= 0) {
        const Tensor& next = outputs[static_cast<std::size_t>(plan.state_output)];
        auto st = in[static_cast<std::size_t>(plan.state_input)].as<float>();
        if (next.dtype() != DType::kF32 ||
            next.element_count() != static_cast<std::int64_t>(st.size())) {
          return CardError(
              card, "preprocessing.state_output",
              "the state output of " + id + " is " + std::string(DTypeName(next.dtype())) + " " +
                  next.shape().ToString() + "; the state input is " + plan.state_shape.ToString());
        }
        std::copy(next.as<float>().begin(), next.as<float>().end(), st.begin());
      }
    }

    t0 = SteadyClock::now();
    const std::vector<FrameRun> runs = SmoothVad(probabilities, v);
    const VadTally before = r.tally;
    TallyVadClip(runs, sample.segments, frames, v, r.tally);
    std::vector<TimeSpan> detected;
    for (const FrameRun& run : runs) {
      detected.push_back(
          {static_cast<double>(run.begin * v.frame) / static_cast<double>(v.sample_rate),
           static_cast<double>(std::min(run.end * v.frame, n)) /
               static_cast<double>(v.sample_rate)});
    }
    ++r.samples_evaluated;
    r.predictions +=
        std::to_string(i) + "\t" + OneField(sample.name) + "\t" + SpanText(sample.segments) + "\t" +
        SpanText(detected) + "\t" +
        (sample.segments.empty()                          ? "-"
         : r.tally.detected_clips > before.detected_clips ? "1"
                                                          : "0") +
        "\t" + std::to_string(r.tally.padding_frames_detected - before.padding_frames_detected) +
        "/" + std::to_string(r.tally.padding_frames - before.padding_frames) + "\n";
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  const VadTally& t = r.tally;
  r.clip_detection = MakeProportionMetric("clip_detection", t.detected_clips, t.speech_clips);
  r.false_alarm = MakeProportionMetric("false_alarm", t.padding_frames_detected, t.padding_frames);
  r.frame_precision = MakeProportionMetric("frame_precision", t.speech_frames_detected,
                                           t.speech_frames_detected + t.padding_frames_detected);
  r.frame_recall = MakeProportionMetric("frame_recall", t.speech_frames_detected, t.speech_frames);
  return r;
}

}  // namespace deepedge
