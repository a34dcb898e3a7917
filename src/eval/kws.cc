// Keyword spotting (task keyword_spotting): openWakeWord's streaming three-model pipeline
// (melspectrogram -> embedding -> wake-word model), the detection rule, and the clip
// metrics (include/deepedge/eval.h).
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
using eval_internal::SteadyClock;

// Runs `session` on one input; returns its first output, which must be f32.
Expected<const Tensor*> RunOne(Session& session, const Tensor& input, std::vector<Tensor>& outputs,
                               const char* what, double& ms) {
  const auto t0 = SteadyClock::now();
  if (Status s = session.Run(std::span<const Tensor>(&input, 1), outputs); !s.ok()) {
    return s.WithContext(what);
  }
  ms += MsSince(t0);
  if (outputs.empty()) return Internal(std::string(what) + ": the session returned no output");
  return &outputs.front();
}

std::string Shaped(const Tensor& t) {
  return std::string(DTypeName(t.dtype())) + " " + t.shape().ToString();
}

// A static dimension that differs from `want` (a dynamic one matches anything).
bool Differs(std::int64_t dim, std::int64_t want) {
  return dim != Shape::kDynamic && dim != want;
}

}  // namespace

Status CheckKwsSessions(const KwsSessions& s, const ModelCard& card) {
  const CardKeywordSpotting& w = card.kws;
  struct Part {
    Session* session;
    const char* field;
    std::vector<std::int64_t> want;  // expected input dims; 0: any
  };
  const Part parts[] = {{s.melspectrogram, "frontend.melspectrogram", {1, w.context + w.chunk}},
                        {s.embedding, "frontend.embedding", {1, w.window, w.mel_bins, 1}},
                        {s.wakeword, "preprocessing.embeddings", {1, w.embeddings, 0}}};
  for (const Part& p : parts) {
    if (p.session == nullptr) return CardError(card, p.field, "no session for this model");
    const auto& ins = p.session->Inputs();
    if (ins.size() != 1 || p.session->Outputs().empty()) {
      return CardError(card, p.field,
                       "the model has " + std::to_string(ins.size()) + " inputs and " +
                           std::to_string(p.session->Outputs().size()) +
                           " outputs (one input and an output expected)");
    }
    const TensorInfo& in = ins.front();
    bool ok = in.dtype == DType::kF32 && in.shape.rank() == p.want.size();
    for (std::size_t d = 0; ok && d < p.want.size(); ++d) {
      if (p.want[d] != 0 && Differs(in.shape.dims()[d], p.want[d])) ok = false;
    }
    if (!ok) {
      std::string want = "f32 [";
      for (std::size_t d = 0; d < p.want.size(); ++d) {
        want += (d ? ", " : "") + (p.want[d] ? std::to_string(p.want[d]) : std::string("?"));
      }
      return CardError(card, p.field,
                       "the model's input '" + in.name + "' is " +
                           std::string(DTypeName(in.dtype)) + " " + in.shape.ToString() +
                           "; the card needs " + want + "]");
    }
  }
  return Status::Ok();
}

Expected<std::vector<KwsScore>> ScoreKwsClip(const KwsSessions& s, const ModelCard& card,
                                             std::span<const float> samples,
                                             std::vector<double>* inference_ms,
                                             std::int64_t* mel_frames) {
  const CardKeywordSpotting& w = card.kws;
  const auto n = static_cast<std::int64_t>(samples.size());
  const std::int64_t chunks = (n + w.chunk - 1) / w.chunk;
  const std::int64_t bins = w.mel_bins;
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor mel_in,
                            Tensor::Allocate(DType::kF32, Shape{1, w.context + w.chunk}));
  DEEPEDGE_ASSIGN_OR_RETURN(Tensor emb_in,
                            Tensor::Allocate(DType::kF32, Shape{1, w.window, bins, 1}));
  Tensor ww_in;            // [1, embeddings, dims] once the first embedding gives dims
  std::vector<float> mel;  // frames * bins, transformed; frames before `first` are spent
  std::size_t first = 0;
  std::vector<Tensor> outputs;
  std::vector<KwsScore> scores;
  for (std::int64_t c = 0; c < chunks; ++c) {
    double ms = 0;
    // The chunk after `context` earlier samples; zeros outside the clip.
    auto x = mel_in.as<float>();
    const std::int64_t from = c * w.chunk - w.context;
    for (std::int64_t k = 0; k < w.context + w.chunk; ++k) {
      const std::int64_t at = from + k;
      x[static_cast<std::size_t>(k)] =
          at >= 0 && at < n
              ? static_cast<float>(samples[static_cast<std::size_t>(at)] * w.input_scale)
              : 0.0f;
    }
    DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* m,
                              RunOne(*s.melspectrogram, mel_in, outputs, "melspectrogram", ms));
    if (m->dtype() != DType::kF32 || m->element_count() == 0 || m->element_count() % bins != 0) {
      return CardError(card, "preprocessing.mel_bins",
                       "the melspectrogram output is " + Shaped(*m) + ", not frames of " +
                           std::to_string(bins) + " f32 values");
    }
    if (c == 0 && mel_frames) *mel_frames = m->element_count() / bins;
    for (float v : m->as<float>()) {
      mel.push_back(static_cast<float>(v * w.mel_scale + w.mel_offset));
    }
    while ((mel.size() - first) / static_cast<std::size_t>(bins) >=
           static_cast<std::size_t>(w.window)) {
      auto e = emb_in.as<float>();
      std::copy_n(mel.begin() + static_cast<std::ptrdiff_t>(first), e.size(), e.begin());
      DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* emb,
                                RunOne(*s.embedding, emb_in, outputs, "embedding", ms));
      if (emb->dtype() != DType::kF32 || emb->element_count() == 0) {
        return CardError(card, "frontend.embedding",
                         "the embedding output is " + Shaped(*emb) + ", not f32 values");
      }
      const std::int64_t dims = emb->element_count();
      if (ww_in.element_count() != w.embeddings * dims || ww_in.dtype() != DType::kF32) {
        // The first embedding of the clip: the history starts as zeros.
        DEEPEDGE_ASSIGN_OR_RETURN(ww_in,
                                  Tensor::Allocate(DType::kF32, Shape{1, w.embeddings, dims}));
        std::fill(ww_in.as<float>().begin(), ww_in.as<float>().end(), 0.0f);
      }
      auto h = ww_in.as<float>();
      // Oldest out, newest in.
      std::memmove(h.data(), h.data() + dims,
                   static_cast<std::size_t>((w.embeddings - 1) * dims) * sizeof(float));
      std::copy(emb->as<float>().begin(), emb->as<float>().end(),
                h.end() - static_cast<std::ptrdiff_t>(dims));
      DEEPEDGE_ASSIGN_OR_RETURN(const Tensor* sc,
                                RunOne(*s.wakeword, ww_in, outputs, "wake word", ms));
      if (sc->dtype() != DType::kF32 || sc->element_count() != 1) {
        return CardError(card, "preprocessing.embeddings",
                         "the wake-word output is " + Shaped(*sc) + ", not one f32 score");
      }
      scores.push_back({std::min((c + 1) * w.chunk, n), sc->as<float>()[0]});
      first += static_cast<std::size_t>(w.step * bins);
    }
    if (first > mel.size() / 2) {  // drop spent frames now and then
      mel.erase(mel.begin(), mel.begin() + static_cast<std::ptrdiff_t>(first));
      first = 0;
    }
    if (inference_ms) inference_ms->push_back(ms);
  }
  return scores;
}

std::vector<std::size_t> DetectKeyword(const std::vector<KwsScore>& scores,
                                       const CardKeywordSpotting& kws) {
  const double refractory =
      kws.refractory_ms * static_cast<double>(kws.sample_rate) / 1000.0;  // samples
  std::vector<std::size_t> out;
  std::int64_t last = 0;
  // The warm-up scores are skipped as openWakeWord's Model.predict zeroes them.
  for (auto i = static_cast<std::size_t>(std::max<std::int64_t>(kws.warmup_predictions, 0));
       i < scores.size(); ++i) {
    if (!(scores[i].score >= kws.threshold)) continue;  // NaN never detects
    if (!out.empty() && static_cast<double>(scores[i].end_sample - last) < refractory) continue;
    out.push_back(i);
    last = scores[i].end_sample;
  }
  return out;
}

Expected<KwsEval> EvaluateKeywordSpotting(const KwsSessions& sessions, const ModelCard& card,
                                          const AudioDataset& data, const EvalOptions& options) {
  if (card.task != CardTask::kKeywordSpotting) {
    return CardError(card, "task", "not a keyword_spotting card");
  }
  DEEPEDGE_RETURN_IF_ERROR(CheckKwsSessions(sessions, card));
  const CardKeywordSpotting& w = card.kws;
  KwsEval r;
  const std::int64_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  r.samples_considered = total;
  if (total == 0) return InvalidArgument("no samples to evaluate (empty data set)");
  r.predictions = "# index\taudio\tlabel\tmax_score\tdetections_s\n";
  AudioSample sample;
  const auto loop_start = SteadyClock::now();
  auto bad = [&](std::int64_t i, const std::string& name, const Status& why) -> Status {
    return RecordBadSample(i, total, name, 2, why, options, r.bad_samples, r.predictions);
  };
  for (std::int64_t i = 0; i < total; ++i) {
    auto t0 = SteadyClock::now();
    sample.name.clear();
    if (Status s = data.Get(i, sample); !s.ok()) {
      DEEPEDGE_RETURN_IF_ERROR(bad(i, sample.name, s));
      continue;
    }
    const std::string id = "sample " + std::to_string(i) + " (" + sample.name + ")";
    if (sample.sample_rate != w.sample_rate) {
      DEEPEDGE_RETURN_IF_ERROR(bad(
          i, sample.name,
          InvalidArgument(id + ": " + std::to_string(sample.sample_rate) +
                          " Hz; the card's model takes " + std::to_string(w.sample_rate) + " Hz")));
      continue;
    }
    if (sample.samples.empty() || (sample.label != 0 && sample.label != 1)) {
      DEEPEDGE_RETURN_IF_ERROR(
          bad(i, sample.name,
              InvalidArgument(id + (sample.samples.empty() ? ": no audio" : ": no 0/1 label"))));
      continue;
    }
    if (options.end_to_end) r.preprocess_ms.push_back(MsSince(t0));
    const std::size_t before = r.inference_ms.size();
    Expected<std::vector<KwsScore>> scores =
        ScoreKwsClip(sessions, card, sample.samples, &r.inference_ms, &r.mel_frames_per_chunk);
    if (!scores) return scores.status().WithContext(id);
    if (before == 0 && !r.inference_ms.empty()) r.first_inference_ms = r.inference_ms.front();

    t0 = SteadyClock::now();
    const std::vector<std::size_t> hits = DetectKeyword(*scores, w);
    float max_score = 0;  // of the scores that can detect (after the warm-up)
    for (auto k = static_cast<std::size_t>(std::max<std::int64_t>(w.warmup_predictions, 0));
         k < scores->size(); ++k) {
      max_score = std::max(max_score, (*scores)[k].score);
    }
    std::string times;
    for (std::size_t h : hits) {
      char buf[32];
      std::snprintf(
          buf, sizeof buf, "%s%.2f", times.empty() ? "" : " ",
          static_cast<double>((*scores)[h].end_sample) / static_cast<double>(w.sample_rate));
      times += buf;
    }
    if (sample.label == 1) {
      ++r.positive_clips;
      r.detected_positive_clips += hits.empty() ? 0 : 1;
    } else {
      ++r.negative_clips;
      r.false_alarm_clips += hits.empty() ? 0 : 1;
      r.false_alarms += static_cast<std::int64_t>(hits.size());
      r.negative_hours +=
          static_cast<double>(sample.samples.size()) / static_cast<double>(w.sample_rate) / 3600.0;
    }
    char score_text[32];
    std::snprintf(score_text, sizeof score_text, "%.4f", static_cast<double>(max_score));
    ++r.samples_evaluated;
    r.predictions += std::to_string(i) + "\t" + OneField(sample.name) + "\t" +
                     std::to_string(sample.label) + "\t" + score_text + "\t" +
                     (times.empty() ? "-" : times) + "\n";
    if (options.end_to_end) r.postprocess_ms.push_back(MsSince(t0));
    if (options.progress) options.progress(i + 1, total);
  }
  r.wall_s = std::chrono::duration<double>(SteadyClock::now() - loop_start).count();
  r.false_alarms_per_hour =
      r.negative_hours > 0 ? static_cast<double>(r.false_alarms) / r.negative_hours : 0;
  r.tpr = MakeProportionMetric("tpr", r.detected_positive_clips, r.positive_clips);
  r.false_alarm_clip_rate =
      MakeProportionMetric("false_alarm_clips", r.false_alarm_clips, r.negative_clips);
  return r;
}

}  // namespace deepedge
