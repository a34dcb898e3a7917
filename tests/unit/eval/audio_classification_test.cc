// audio_classification cards (micro_speech): parsing, the clip-class data set, and the
// evaluation loop over fake front-end and classifier sessions.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "deepedge/eval.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/file_util.h"
#include "deepedge/model_card.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

const std::string kCard = R"(card_version: 1
task: audio_classification
weights: trained
frontend: {model: pre.tflite}
preprocessing: {sample_rate: 16000, frame: 480, stride: 320, frames: 49}
labels: [silence, unknown, yes, no]
postprocessing: {softmax: false, top_k: 2}
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(AudioClassificationCard, ParsesTheMicroSpeechFields) {
  Expected<ModelCard> c = ParseModelCard(kCard, "/cards/ms.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kAudioClassification);
  EXPECT_EQ(CardTaskName(c->task), "audio_classification");
  EXPECT_EQ(c->audio.frontend_source, "pre.tflite");
  EXPECT_EQ(c->audio.sample_rate, 16000);
  EXPECT_EQ(c->audio.frame, 480);
  EXPECT_EQ(c->audio.stride, 320);
  EXPECT_EQ(c->audio.frames, 49);
  EXPECT_EQ(c->labels, (std::vector<std::string>{"silence", "unknown", "yes", "no"}));
  EXPECT_EQ(c->postprocessing.top_k, 2);
  // Relative front ends sit beside the evaluated model, not the card.
  EXPECT_EQ(ResolveFrontendModel("pre.tflite", "/m/ms.tflite"), "/m/pre.tflite");
  EXPECT_EQ(ResolveFrontendModel("/abs/pre.tflite", "/m/ms.tflite"), "/abs/pre.tflite");
}

TEST(AudioClassificationCard, BadCardsNameTheField) {
  struct Case {
    std::string yaml, field;
  };
  const std::vector<Case> cases = {
      {Replace(kCard, "frontend: {model: pre.tflite}\n", ""), "'frontend'"},
      {Replace(kCard, "{model: pre.tflite}", "{}"), "'frontend.model'"},
      {Replace(kCard, "{model: pre.tflite}", "{model: pre.tflite, melspectrogram: x}"),
       "melspectrogram"},
      {Replace(kCard, "frame: 480, ", ""), "'preprocessing.frame'"},
      {Replace(kCard, "stride: 320", "stride: 481"), "'preprocessing.stride'"},
      {Replace(kCard, "frames: 49", "frames: 0"), "'preprocessing.frames'"},
      {Replace(kCard, "sample_rate: 16000", "sample_rate: 16k"), "'preprocessing.sample_rate'"},
      {Replace(kCard, "frames: 49", "frames: 49, chunk: 1280"), "chunk"},
      {Replace(kCard, "labels: [silence, unknown, yes, no]\n", ""), "'labels'"},
      {Replace(kCard, "top_k: 2", "top_k: 5"), "'postprocessing.top_k'"},
      {Replace(kCard, "postprocessing: {softmax: false, top_k: 2}\n", ""), "'postprocessing'"},
      {Replace(kCard, "task: audio_classification", "task: vad"), "'frontend'"},
      {Replace(kCard, "task: audio_classification", "task: audio"), "'task'"},
  };
  for (const Case& c : cases) {
    Expected<ModelCard> card = ParseModelCard(c.yaml, "/cards/ms.yaml");
    ASSERT_FALSE(card) << c.yaml;
    EXPECT_NE(card.status().message().find(c.field), std::string::npos) << card.status().message();
    EXPECT_EQ(card.status().message().find('\n'), std::string::npos) << card.status().message();
  }
}

// The front end: int16 [1, frame] -> int8 [1, 2]: (first sample / 256, a counter of its
// runs), so that the test sees the framing and that each clip gets a fresh session.
class FakeFrontEnd final : public Session {
 public:
  explicit FakeFrontEnd(std::int64_t frame) {
    inputs_ = {{"audio", DType::kI16, Shape{1, frame}}};
    outputs_ = {{"features", DType::kI8, Shape{1, 2}}};
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    if (in.size() != 1 || in[0].dtype() != DType::kI16) return Internal("fake: bad input");
    Tensor t = Tensor::Allocate(DType::kI8, Shape{1, 2}).value();
    t.as<std::int8_t>()[0] = static_cast<std::int8_t>(in[0].as<std::int16_t>()[0] / 256);
    t.as<std::int8_t>()[1] = static_cast<std::int8_t>(runs_++);
    out.clear();
    out.push_back(std::move(t));
    return Status::Ok();
  }

 private:
  std::vector<TensorInfo> inputs_, outputs_;
  int runs_ = 0;
};

// The classifier: int8 [1, frames * 2] -> float [1, 3], class = the first feature
// (clamped to 0..2); it keeps its inputs.
class FakeClassifier final : public Session {
 public:
  explicit FakeClassifier(std::int64_t elements) {
    inputs_ = {{"x", DType::kI8, Shape{1, elements}}};
    outputs_ = {{"y", DType::kF32, Shape{1, 3}}};
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    const auto x = in[0].as<std::int8_t>();
    seen.emplace_back(x.begin(), x.end());
    Tensor t = Tensor::Allocate(DType::kF32, Shape{1, 3}).value();
    t.as<float>()[static_cast<std::size_t>(std::clamp<int>(x[0], 0, 2))] = 1;
    out.clear();
    out.push_back(std::move(t));
    return Status::Ok();
  }
  std::vector<std::vector<std::int8_t>> seen;

 private:
  std::vector<TensorInfo> inputs_, outputs_;
};

// One-level clip: every sample `level` (x 32768 = level * 32768 as PCM).
void WriteClip(const std::filesystem::path& p, double level, std::size_t n, std::int64_t rate) {
  const std::vector<double> x(n, level);
  ASSERT_TRUE(WriteFileAtomic(p, EncodeWav(x, rate)).ok());
}

TEST(AudioClassificationEval, FramesClipsThroughAFreshFrontEndAndScoresThem) {
  testing::TempDir dir;
  const std::string card_text = R"(card_version: 1
task: audio_classification
weights: trained
frontend: {model: pre.tflite}
preprocessing: {sample_rate: 8000, frame: 4, stride: 2, frames: 3}
labels: [a, b, c]
postprocessing: {softmax: false}
)";
  Expected<ModelCard> card = ParseModelCard(card_text, dir.path() / "c.yaml");
  ASSERT_TRUE(card) << card.status().message();
  // 256 / 32768 per PCM step of 256: feature = level * 128.
  WriteClip(dir.path() / "one.wav", 1.0 / 128, 8, 8000);  // class 1
  WriteClip(dir.path() / "two.wav", 2.0 / 128, 5, 8000);  // class 2; frame 2 runs past the end
  WriteClip(dir.path() / "zero.wav", 0.0, 8, 8000);       // class 0
  WriteClip(dir.path() / "rate.wav", 0.0, 8, 16000);      // a bad sample
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "labels.tsv",
                              "# clips\none.wav\tb\ntwo.wav\tc\nzero.wav\tb\nrate.wav\ta\n")
                  .ok());
  Expected<std::unique_ptr<AudioDataset>> data =
      OpenAudioClassDataset(dir.path() / "labels.tsv", card->labels);
  ASSERT_TRUE(data) << data.status().message();
  EXPECT_NE((*data)->Description().find("4 clips: 1 a, 2 b, 1 c"), std::string::npos)
      << (*data)->Description();

  int made = 0;
  const SessionFactory frontend = [&made]() -> Expected<std::unique_ptr<Session>> {
    ++made;
    return std::unique_ptr<Session>(new FakeFrontEnd(4));
  };
  FakeClassifier classifier(6);
  EvalOptions o;
  o.keep_going = true;
  Expected<ClassificationEval> r =
      EvaluateAudioClassification(frontend, classifier, *card, **data, o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(made, 3);  // one per good clip
  EXPECT_EQ(r->samples_evaluated, 3);
  ASSERT_EQ(r->bad_samples.size(), 1u);
  EXPECT_NE(r->bad_samples[0].reason.find("16000 Hz"), std::string::npos);
  EXPECT_EQ(r->top1.successes, 2);  // zero.wav, labelled b, is predicted a
  EXPECT_EQ(r->confusion.count(1, 0), 1);
  ASSERT_EQ(classifier.seen.size(), 3u);
  // Frames at 0, 2, 4 (the run counter restarts: a fresh front end per clip).
  EXPECT_EQ(classifier.seen[0], (std::vector<std::int8_t>{1, 0, 1, 1, 1, 2}));
  // two.wav has 5 samples: frame 2 starts at 4, its first sample is still in the clip.
  EXPECT_EQ(classifier.seen[1], (std::vector<std::int8_t>{2, 0, 2, 1, 2, 2}));

  // A classifier whose input the frames do not fill is a card error on frames.
  FakeClassifier wrong(7);
  Expected<ClassificationEval> e = EvaluateAudioClassification(frontend, wrong, *card, **data, o);
  ASSERT_FALSE(e);
  EXPECT_NE(e.status().message().find("'preprocessing.frames'"), std::string::npos)
      << e.status().message();
}

TEST(AudioClassificationEval, AnUnknownClassNamesTheLine) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "labels.tsv", "x.wav\tyes\ny.wav\tmaybe\n").ok());
  Expected<std::unique_ptr<AudioDataset>> data =
      OpenAudioClassDataset(dir.path() / "labels.tsv", {"yes", "no"});
  ASSERT_FALSE(data);
  EXPECT_NE(data.status().message().find("line 2"), std::string::npos) << data.status().message();
  EXPECT_NE(data.status().message().find("maybe"), std::string::npos) << data.status().message();
}

}  // namespace
}  // namespace deepedge
