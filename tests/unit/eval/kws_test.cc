// Keyword spotting: the card, the labels file, the streaming pipeline on fake sessions
// with known outputs, the detection rule and the metrics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "deepedge/eval.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/model_card.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

constexpr const char* kGood = R"(card_version: 1
task: keyword_spotting
weights: trained
frontend:
  melspectrogram: fixture:oww/melspectrogram.onnx
  embedding: models/embedding_model.onnx
preprocessing:
  sample_rate: 16000
  chunk: 1280
  context: 480
  input_scale: 32768
  mel_bins: 32
  mel_transform: {scale: 0.1, offset: 2}
  window: 76
  step: 8
  embeddings: 16
postprocessing:
  threshold: 0.5
  refractory_ms: 2000
  warmup_predictions: 5
)";

TEST(KwsCard, ParsesEveryField) {
  Expected<ModelCard> c = ParseModelCard(kGood, "/cards/kws.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kKeywordSpotting);
  const CardKeywordSpotting& w = c->kws;
  EXPECT_EQ(w.melspectrogram_source, "fixture:oww/melspectrogram.onnx");
  EXPECT_EQ(w.melspectrogram_path.filename(), "melspectrogram.onnx");
  EXPECT_EQ(w.embedding_path, std::filesystem::path("/cards/models/embedding_model.onnx"));
  EXPECT_EQ(w.sample_rate, 16000);
  EXPECT_EQ(w.chunk, 1280);
  EXPECT_EQ(w.context, 480);
  EXPECT_DOUBLE_EQ(w.input_scale, 32768);
  EXPECT_EQ(w.mel_bins, 32);
  EXPECT_DOUBLE_EQ(w.mel_scale, 0.1);
  EXPECT_DOUBLE_EQ(w.mel_offset, 2);
  EXPECT_EQ(w.window, 76);
  EXPECT_EQ(w.step, 8);
  EXPECT_EQ(w.embeddings, 16);
  EXPECT_DOUBLE_EQ(w.threshold, 0.5);
  EXPECT_DOUBLE_EQ(w.refractory_ms, 2000);
  EXPECT_EQ(w.warmup_predictions, 5);
}

TEST(KwsCard, OptionalFieldsDefault) {
  std::string text = kGood;
  for (const char* line : {"  context: 480\n", "  input_scale: 32768\n", "  refractory_ms: 2000\n",
                           "  warmup_predictions: 5\n"}) {
    text.erase(text.find(line), std::string(line).size());
  }
  Expected<ModelCard> c = ParseModelCard(text, "/cards/kws.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->kws.context, 0);
  EXPECT_DOUBLE_EQ(c->kws.input_scale, 1);
  EXPECT_DOUBLE_EQ(c->kws.refractory_ms, 0);
  EXPECT_EQ(c->kws.warmup_predictions, 0);
}

TEST(KwsCard, ShippedCardsParse) {
  for (const char* w : {"alexa", "hey_jarvis", "hey_mycroft", "timer", "weather"}) {
    const std::filesystem::path p = std::filesystem::path(__FILE__).parent_path() /
                                    "../../../models" /
                                    ("openwakeword_" + std::string(w) + ".yaml");
    Expected<ModelCard> c = ReadModelCard(p);
    ASSERT_TRUE(c) << c.status().message();
    EXPECT_EQ(c->task, CardTask::kKeywordSpotting);
    EXPECT_EQ(c->kws.embedding_path.filename(), "embedding_model.onnx");
    EXPECT_EQ(c->kws.warmup_predictions, 5);  // as openWakeWord's Model.predict
  }
}

struct BadCase {
  const char* name;
  const char* from;
  const char* to;
  const char* field;
};

const BadCase kBad[] = {
    {"no_frontend",
     "frontend:\n  melspectrogram: fixture:oww/melspectrogram.onnx\n  embedding: "
     "models/embedding_model.onnx\n",
     "", "'frontend': missing"},
    {"frontend_typo", "  embedding: models", "  embeding: models", "'frontend.embeding'"},
    {"no_chunk", "  chunk: 1280\n", "", "'preprocessing.chunk': missing"},
    {"zero_chunk", "chunk: 1280", "chunk: 0", "'preprocessing.chunk'"},
    {"chunk_text", "chunk: 1280", "chunk: big", "'preprocessing.chunk'"},
    {"unknown_pre", "  step: 8\n", "  step: 8\n  hop: 3\n", "'preprocessing.hop'"},
    {"step_over_window", "step: 8", "step: 80", "'preprocessing.step' and 'preprocessing.window'"},
    {"context_too_long", "context: 480", "context: 20000", "'preprocessing.context'"},
    {"no_transform", "  mel_transform: {scale: 0.1, offset: 2}\n", "",
     "'preprocessing.mel_transform': missing"},
    {"transform_typo", "{scale: 0.1, offset: 2}", "{scale: 0.1, ofset: 2}",
     "'preprocessing.mel_transform.ofset'"},
    {"zero_scale", "{scale: 0.1, offset: 2}", "{scale: 0, offset: 2}",
     "'preprocessing.mel_transform.scale'"},
    {"negative_input_scale", "input_scale: 32768", "input_scale: -1",
     "'preprocessing.input_scale'"},
    {"no_threshold", "  threshold: 0.5\n", "", "'postprocessing.threshold': missing"},
    {"zero_threshold", "threshold: 0.5", "threshold: 0", "'postprocessing.threshold'"},
    {"big_threshold", "threshold: 0.5", "threshold: 1.5", "'postprocessing.threshold'"},
    {"negative_refractory", "refractory_ms: 2000", "refractory_ms: -5",
     "'postprocessing.refractory_ms'"},
    {"unknown_post", "  refractory_ms: 2000\n", "  refractory_ms: 2000\n  cooldown: 1\n",
     "'postprocessing.cooldown'"},
    {"negative_warmup", "warmup_predictions: 5", "warmup_predictions: -1",
     "'postprocessing.warmup_predictions': must be a non-negative integer"},
    {"fractional_warmup", "warmup_predictions: 5", "warmup_predictions: 2.5",
     "'postprocessing.warmup_predictions': '2.5' is not an integer"},
    {"text_warmup", "warmup_predictions: 5", "warmup_predictions: five",
     "'postprocessing.warmup_predictions'"},
    {"list_warmup", "warmup_predictions: 5", "warmup_predictions: [5]",
     "'postprocessing.warmup_predictions': expected an integer"},
    {"labels", "weights: trained\n", "weights: trained\nlabels: [a]\n", "'labels' and 'task'"},
};

class KwsBadCard : public ::testing::TestWithParam<BadCase> {};

TEST_P(KwsBadCard, NamesTheField) {
  const BadCase& bc = GetParam();
  std::string text = kGood;
  const std::size_t at = text.find(bc.from);
  ASSERT_NE(at, std::string::npos) << bc.from;
  text.replace(at, std::string(bc.from).size(), bc.to);
  Expected<ModelCard> c = ParseModelCard(text, "/cards/bad.yaml");
  ASSERT_FALSE(c) << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().message();
  EXPECT_NE(c.status().message().find(bc.field), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("/cards/bad.yaml"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Cases, KwsBadCard, ::testing::ValuesIn(kBad),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(KwsCard, FrontendOnlyForKeywordSpotting) {
  Expected<ModelCard> c = ParseModelCard(
      "card_version: 1\ntask: vad\nweights: trained\nfrontend: {melspectrogram: a}\n"
      "preprocessing: {sample_rate: 16000, frame: 512}\npostprocessing: {threshold: 0.5}\n",
      "/cards/v.yaml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("'frontend'"), std::string::npos) << c.status().message();
}

// ---- Fake sessions ----

// Records every input; `next` makes the output from the input.
class Fake final : public Session {
 public:
  using Make = std::function<std::vector<float>(const std::vector<float>&)>;
  Fake(Shape in, Shape out, Make make) : make_(std::move(make)) {
    inputs_ = {{"x", DType::kF32, std::move(in)}};
    outputs_ = {{"y", DType::kF32, std::move(out)}};
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    if (in.size() != 1 || in[0].dtype() != DType::kF32) return Internal("fake: bad inputs");
    std::vector<float> x(in[0].as<float>().begin(), in[0].as<float>().end());
    seen.push_back(x);
    std::vector<float> y = make_(x);
    // The declared output shape when it holds y; else [1, y.size()].
    Shape shape = outputs_[0].shape;
    if (shape.element_count() != static_cast<std::int64_t>(y.size())) {
      shape = Shape{1, static_cast<std::int64_t>(y.size())};
    }
    Expected<Tensor> t = Tensor::Allocate(DType::kF32, shape);
    if (!t || t->element_count() != static_cast<std::int64_t>(y.size())) {
      return Internal("fake: output size");
    }
    std::copy(y.begin(), y.end(), t->as<float>().begin());
    out.clear();
    out.push_back(std::move(*t));
    return Status::Ok();
  }
  std::vector<std::vector<float>> seen;

 private:
  std::vector<TensorInfo> inputs_, outputs_;
  Make make_;
};

// A tiny card: chunks of 4 samples after 2 of context, times 10; 2 bins a frame,
// mel * 0.5 + 1; windows of 3 frames, step 2; 2 embeddings per score.
ModelCard TinyCard() {
  Expected<ModelCard> c = ParseModelCard(
      "card_version: 1\ntask: keyword_spotting\nweights: trained\n"
      "frontend: {melspectrogram: m.onnx, embedding: e.onnx}\n"
      "preprocessing: {sample_rate: 16000, chunk: 4, context: 2, input_scale: 10, mel_bins: 2,\n"
      "  mel_transform: {scale: 0.5, offset: 1}, window: 3, step: 2, embeddings: 2}\n"
      "postprocessing: {threshold: 0.5}\n",
      "/cards/tiny.yaml");
  EXPECT_TRUE(c) << c.status().message();
  return c ? *c : ModelCard{};
}

// A card streaming 0.1 s chunks straight into PeakModels, with a 1 s refractory time.
void UsePeakCard(ModelCard& card) {
  card.kws.chunk = 1600;
  card.kws.context = 0;
  card.kws.input_scale = 1;
  card.kws.refractory_ms = 1000;
}

// Mel frames carry the chunk's peak, the embedding passes the newest frame on, and the
// score is high when the newest window was loud (mel 0.5 * 0.5 + 1 = 1.25 > 1.1).
struct PeakModels {
  Fake mel{Shape{1, 1600}, Shape{1, 1, 2, 2}, [](const std::vector<float>& x) {
             float peak = 0;
             for (float v : x) peak = std::max(peak, std::abs(v));
             return std::vector<float>{peak, peak, peak, peak};
           }};
  Fake emb{Shape{1, 3, 2, 1}, Shape{1, 1, 1, 1},
           [](const std::vector<float>& x) { return std::vector<float>{x.back()}; }};
  Fake ww{Shape{1, 2, 1}, Shape{1, 1}, [](const std::vector<float>& x) {
            return std::vector<float>{x.back() > 1.1f ? 0.9f : 0.1f};
          }};
};

TEST(KwsStream, WindowsContextHistoryAsTheReference) {
  const ModelCard card = TinyCard();
  // The melspectrogram emits two frames a run, numbered 0, 1, 2, ... (both bins).
  int frame = 0;
  Fake mel(Shape{1, Shape::kDynamic}, Shape{1, 1, 2, 2}, [&](const std::vector<float>&) {
    const float a = static_cast<float>(frame++), b = static_cast<float>(frame++);
    return std::vector<float>{a, a, b, b};
  });
  // The embedding: the window's first and last values.
  Fake emb(Shape{1, 3, 2, 1}, Shape{1, 1, 1, 2}, [](const std::vector<float>& x) {
    return std::vector<float>{x.front(), x.back()};
  });
  // The score: 0.25 x the newest embedding's last value.
  Fake ww(Shape{1, 2, Shape::kDynamic}, Shape{1, 1},
          [](const std::vector<float>& x) { return std::vector<float>{0.25f * x.back()}; });
  const KwsSessions s{&mel, &emb, &ww};
  ASSERT_TRUE(CheckKwsSessions(s, card).ok());
  const std::vector<float> clip = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // 3 chunks, the last padded
  std::vector<double> ms;
  std::int64_t frames = 0;
  Expected<std::vector<KwsScore>> scores = ScoreKwsClip(s, card, clip, &ms, &frames);
  ASSERT_TRUE(scores) << scores.status().message();
  EXPECT_EQ(ms.size(), 3u);  // one time per chunk
  EXPECT_EQ(frames, 2);
  ASSERT_EQ(mel.seen.size(), 3u);
  EXPECT_EQ(mel.seen[0], (std::vector<float>{0, 0, 10, 20, 30, 40}));
  EXPECT_EQ(mel.seen[1], (std::vector<float>{30, 40, 50, 60, 70, 80}));
  EXPECT_EQ(mel.seen[2], (std::vector<float>{70, 80, 90, 100, 0, 0}));
  // Frames 0..5 become 1, 1.5, ..., 3.5; windows [0, 3) after chunk 1, [2, 5) after 2.
  ASSERT_EQ(emb.seen.size(), 2u);
  EXPECT_EQ(emb.seen[0], (std::vector<float>{1, 1, 1.5, 1.5, 2, 2}));
  EXPECT_EQ(emb.seen[1], (std::vector<float>{2, 2, 2.5, 2.5, 3, 3}));
  // The history starts as zeros; the oldest leaves.
  ASSERT_EQ(ww.seen.size(), 2u);
  EXPECT_EQ(ww.seen[0], (std::vector<float>{0, 0, 1, 2}));
  EXPECT_EQ(ww.seen[1], (std::vector<float>{1, 2, 2, 3}));
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ((*scores)[0].end_sample, 8);
  EXPECT_FLOAT_EQ((*scores)[0].score, 0.5f);
  EXPECT_EQ((*scores)[1].end_sample, 10);  // the clip's end, not the padding's
  EXPECT_FLOAT_EQ((*scores)[1].score, 0.75f);

  // A second clip starts from empty buffers and a zero history.
  frame = 0;
  ww.seen.clear();
  ASSERT_TRUE(ScoreKwsClip(s, card, clip));
  EXPECT_EQ(ww.seen[0], (std::vector<float>{0, 0, 1, 2}));
}

TEST(KwsStream, RejectsWrongShapes) {
  const ModelCard card = TinyCard();
  auto one = [](const std::vector<float>&) { return std::vector<float>{1}; };
  Fake mel(Shape{1, 7}, Shape{1, 1, 2, 2}, one);  // context + chunk is 6
  Fake emb(Shape{1, 3, 2, 1}, Shape{1, 2}, one);
  Fake ww(Shape{1, 2, 2}, Shape{1, 1}, one);
  Status s = CheckKwsSessions({&mel, &emb, &ww}, card);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("frontend.melspectrogram"), std::string::npos) << s.message();
  Fake mel_ok(Shape{1, 6}, Shape{1, 1, 2, 2}, one);
  Fake ww_bad(Shape{1, 5, 2}, Shape{1, 1}, one);  // 5 embeddings, the card 2
  s = CheckKwsSessions({&mel_ok, &emb, &ww_bad}, card);
  EXPECT_NE(s.message().find("preprocessing.embeddings"), std::string::npos) << s.message();
  // A melspectrogram output that is not whole frames is an error naming mel_bins.
  Fake mel_odd(Shape{1, 6}, Shape{1, 3}, [](const std::vector<float>&) {
    return std::vector<float>{1, 2, 3};
  });
  Expected<std::vector<KwsScore>> r =
      ScoreKwsClip({&mel_odd, &emb, &ww}, card, std::vector<float>(8, 0.1f));
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("preprocessing.mel_bins"), std::string::npos);
}

TEST(KwsDetect, ThresholdAndRefractory) {
  CardKeywordSpotting w;
  w.sample_rate = 16000;
  w.threshold = 0.5;
  w.refractory_ms = 200;  // 3200 samples
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<KwsScore> s;
  const float v[] = {0.1f, 0.6f, 0.9f, 0.7f, 0.2f, 0.8f, nan, 0.5f};
  for (int k = 0; k < 8; ++k) s.push_back({1280 * (k + 1), v[k]});
  // 0.6 at 2560 detects; 0.9 (3840) and 0.7 (5120) are within 3200 of it; 0.8 at 7680 is
  // not; NaN never detects; 0.5 at 10240 (at the threshold) is within 3200 of 7680.
  EXPECT_EQ(DetectKeyword(s, w), (std::vector<std::size_t>{1, 5}));
  w.refractory_ms = 0;
  EXPECT_EQ(DetectKeyword(s, w), (std::vector<std::size_t>{1, 2, 3, 5, 7}));
  EXPECT_TRUE(DetectKeyword({}, w).empty());
}

TEST(KwsDetect, WarmupScoresNeverDetect) {
  CardKeywordSpotting w;
  w.sample_rate = 16000;
  w.threshold = 0.5;
  w.refractory_ms = 200;  // 3200 samples
  std::vector<KwsScore> s;
  const float v[] = {0.1f, 0.6f, 0.9f, 0.7f, 0.1f, 0.1f, 0.8f, 0.1f, 0.1f};
  for (int k = 0; k < 9; ++k) s.push_back({1280 * (k + 1), v[k]});
  // No warm-up: 0.6 (2560) detects and hides 0.9 (3840) and 0.7 (5120); 0.8 (8960) detects.
  EXPECT_EQ(DetectKeyword(s, w), (std::vector<std::size_t>{1, 6}));
  // Warm-up 3: 0.6 and 0.9 are ignored and start no refractory period, so 0.7 (5120)
  // detects, and 0.8 (8960, 3840 after it) still does.
  w.warmup_predictions = 3;
  EXPECT_EQ(DetectKeyword(s, w), (std::vector<std::size_t>{3, 6}));
  w.warmup_predictions = 4;
  EXPECT_EQ(DetectKeyword(s, w), (std::vector<std::size_t>{6}));
  // A warm-up as long as the clip's scores: nothing detects.
  w.warmup_predictions = 9;
  EXPECT_TRUE(DetectKeyword(s, w).empty());
}

// ---- Data set and metrics ----

// 16-bit PCM mono WAV bytes of x (the data makers' writer).
std::string Wav(const std::vector<float>& x, std::int64_t rate) {
  const std::vector<double> samples(x.begin(), x.end());
  return EncodeWav(samples, rate);
}

TEST(KwsData, LabelsMustBeZeroOrOne) {
  TempDir dir;
  Expected<std::unique_ptr<AudioDataset>> d =
      OpenKwsDataset(dir.Write("l.tsv", "a.wav\t1\nb.wav\t2\n"));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(d.status().message().find("line 2"), std::string::npos) << d.status().message();
  EXPECT_FALSE(OpenKwsDataset(dir / "missing.tsv"));
}

TEST(KwsEval, CountsClipsAlarmsAndHours) {
  TempDir dir;
  const std::vector<float> quiet(16000, 0.0f), loud(16000, 0.5f);
  dir.Write("pos_loud.wav", Wav(loud, 16000));
  dir.Write("pos_quiet.wav", Wav(quiet, 16000));
  dir.Write("neg_quiet.wav", Wav(quiet, 16000));
  dir.Write("neg_loud.wav", Wav(std::vector<float>(32000, 0.5f), 16000));
  dir.Write("rate.wav", Wav(quiet, 8000));
  Expected<std::unique_ptr<AudioDataset>> data =
      OpenKwsDataset(dir.Write("labels.tsv",
                               "# comment\npos_loud.wav\t1\npos_quiet.wav\t1\nneg_quiet.wav\t0\n"
                               "neg_loud.wav\t0\nrate.wav\t0\n"));
  ASSERT_TRUE(data) << data.status().message();
  ModelCard card = TinyCard();
  UsePeakCard(card);
  PeakModels m;
  Fake &mel = m.mel, &emb = m.emb, &ww = m.ww;
  EvalOptions o;
  o.keep_going = true;
  Expected<KwsEval> r = EvaluateKeywordSpotting({&mel, &emb, &ww}, card, **data, o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->samples_considered, 5);
  EXPECT_EQ(r->samples_evaluated, 4);
  ASSERT_EQ(r->bad_samples.size(), 1u);
  EXPECT_NE(r->bad_samples[0].reason.find("8000 Hz"), std::string::npos);
  EXPECT_EQ(r->positive_clips, 2);
  EXPECT_EQ(r->detected_positive_clips, 1);
  EXPECT_EQ(r->negative_clips, 2);
  EXPECT_EQ(r->false_alarm_clips, 1);
  // 2 s of loud audio, one score per 0.1 s, 1 s refractory: two detections.
  EXPECT_EQ(r->false_alarms, 2);
  EXPECT_DOUBLE_EQ(r->negative_hours, 3.0 / 3600);
  EXPECT_NEAR(r->false_alarms_per_hour, 2400, 1e-6);
  EXPECT_EQ(r->tpr.successes, 1);
  EXPECT_EQ(r->tpr.trials, 2);
  EXPECT_DOUBLE_EQ(r->tpr.value, 0.5);
  EXPECT_LT(r->tpr.ci_low, 0.5);
  EXPECT_GT(r->tpr.ci_high, 0.5);
  EXPECT_DOUBLE_EQ(r->false_alarm_clip_rate.value, 0.5);
  EXPECT_EQ(r->mel_frames_per_chunk, 2);
  EXPECT_NE(r->predictions.find("0\tpos_loud.wav\t1\t0.9000\t"), std::string::npos)
      << r->predictions;
  EXPECT_NE(r->predictions.find("1\tpos_quiet.wav\t1\t0.1000\t-\n"), std::string::npos)
      << r->predictions;
  EXPECT_NE(r->predictions.find("4\trate.wav\t-\t-\tbad: "), std::string::npos) << r->predictions;

  // Without keep_going the bad clip ends the run.
  o.keep_going = false;
  EXPECT_FALSE(EvaluateKeywordSpotting({&mel, &emb, &ww}, card, **data, o));
}

TEST(KwsEval, WarmupIgnoresEarlyDetectionsAndKeepsLaterOnes) {
  TempDir dir;
  // Ten chunks of 0.1 s; the loud ones give a high score (as in the test above, score k
  // is made after chunk k + 1 and reflects it, end_sample (k + 2) x 1600).
  auto clip = [](std::initializer_list<int> loud_chunks) {
    std::vector<float> x(16000, 0.0f);
    for (int c : loud_chunks) std::fill_n(x.begin() + c * 1600, 1600, 0.5f);
    return x;
  };
  dir.Write("neg.wav", Wav(clip({0, 1, 2}), 16000));  // loud only in the warm-up
  dir.Write("pos.wav", Wav(clip({1, 7}), 16000));     // loud in the warm-up and after
  Expected<std::unique_ptr<AudioDataset>> data =
      OpenKwsDataset(dir.Write("labels.tsv", "neg.wav\t0\npos.wav\t1\n"));
  ASSERT_TRUE(data) << data.status().message();
  ModelCard card = TinyCard();
  UsePeakCard(card);  // refractory 1 s: longer than 0.2 s .. 0.8 s
  PeakModels m;
  Fake &mel = m.mel, &emb = m.emb, &ww = m.ww;
  const EvalOptions o;

  // No warm-up: the negative fires at 0.2 s, the positive's early score hides its later one.
  Expected<KwsEval> r = EvaluateKeywordSpotting({&mel, &emb, &ww}, card, **data, o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->false_alarm_clips, 1);
  EXPECT_EQ(r->detected_positive_clips, 1);
  EXPECT_NE(r->predictions.find("0\tneg.wav\t0\t0.9000\t0.20\n"), std::string::npos)
      << r->predictions;
  EXPECT_NE(r->predictions.find("1\tpos.wav\t1\t0.9000\t0.20\n"), std::string::npos)
      << r->predictions;

  // Warm-up 3 scores: the negative's two early high scores are ignored (and left out of
  // max_score); the positive's detection at 0.8 s, after the warm-up, still counts.
  card.kws.warmup_predictions = 3;
  r = EvaluateKeywordSpotting({&mel, &emb, &ww}, card, **data, o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->false_alarm_clips, 0);
  EXPECT_EQ(r->false_alarms, 0);
  EXPECT_EQ(r->detected_positive_clips, 1);
  EXPECT_NE(r->predictions.find("0\tneg.wav\t0\t0.1000\t-\n"), std::string::npos) << r->predictions;
  EXPECT_NE(r->predictions.find("1\tpos.wav\t1\t0.9000\t0.80\n"), std::string::npos)
      << r->predictions;
}

}  // namespace
}  // namespace deepedge
