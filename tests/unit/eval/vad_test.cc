// Voice activity detection in `deepedge eval`: vad card fields, the WAV reader, the
// vad data set, the threshold / hangover smoothing, the clip and frame tallies, and the
// evaluation loop on a fake streaming model that flags loud frames.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
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
task: vad
weights: trained
preprocessing:
  input: input
  sample_rate: 16000
  frame: 512
  context: 64
  state_input: state
  state_output: stateN
  rate_input: sr
postprocessing:
  output: output
  threshold: 0.5
  hangover_ms: 100
  min_speech_ms: 250
)";

TEST(VadCard, ParsesEveryField) {
  Expected<ModelCard> c = ParseModelCard(kGood, "/cards/vad.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kVad);
  EXPECT_EQ(c->preprocessing.input_name, "input");
  EXPECT_EQ(c->postprocessing.output_name, "output");
  const CardVad& v = c->vad;
  EXPECT_EQ(v.sample_rate, 16000);
  EXPECT_EQ(v.frame, 512);
  EXPECT_EQ(v.context, 64);
  EXPECT_EQ(v.state_input, "state");
  EXPECT_EQ(v.state_output, "stateN");
  EXPECT_EQ(v.rate_input, "sr");
  EXPECT_DOUBLE_EQ(v.threshold, 0.5);
  EXPECT_DOUBLE_EQ(v.negative_threshold, 0.35);  // Silero's threshold - 0.15
  EXPECT_DOUBLE_EQ(v.hangover_ms, 100);
  EXPECT_DOUBLE_EQ(v.min_speech_ms, 250);
  EXPECT_TRUE(c->labels.empty());
}

TEST(VadCard, OptionalFieldsDefault) {
  Expected<ModelCard> c = ParseModelCard(
      "card_version: 1\ntask: vad\nweights: trained\npreprocessing: {sample_rate: 8000, "
      "frame: 256}\npostprocessing: {threshold: 0.1}\n",
      "/cards/min.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->vad.context, 0);
  EXPECT_TRUE(c->vad.state_input.empty());
  EXPECT_TRUE(c->vad.rate_input.empty());
  EXPECT_DOUBLE_EQ(c->vad.negative_threshold, 0.01);  // never below 0.01, as Silero
  EXPECT_DOUBLE_EQ(c->vad.hangover_ms, 0);
  EXPECT_DOUBLE_EQ(c->vad.min_speech_ms, 0);
}

TEST(VadCard, TheShippedSileroCardIsVadWebsInput) {
  Expected<ModelCard> c = ReadModelCard(std::filesystem::path(DEEPEDGE_TEST_DATA_DIR) /
                                        "../../models/silero_vad_v5.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kVad);
  EXPECT_EQ(c->vad.frame + c->vad.context, 576);  // vad-web 0.0.31: 64 + 512
  EXPECT_EQ(c->vad.sample_rate, 16000);
}

struct BadVadCase {
  const char* name;
  const char* find;
  const char* replace;
  const char* field;
};

class BadVadCard : public ::testing::TestWithParam<BadVadCase> {};

TEST_P(BadVadCard, ErrorNamesTheFieldAndTheCard) {
  const BadVadCase& bc = GetParam();
  std::string text = kGood;
  if (*bc.find == '\0') {
    text += bc.replace;
  } else {
    const auto at = text.find(bc.find);
    ASSERT_NE(at, std::string::npos) << bc.find;
    text.replace(at, std::string(bc.find).size(), bc.replace);
  }
  Expected<ModelCard> c = ParseModelCard(text, "/cards/bad_vad.yaml");
  ASSERT_FALSE(c) << bc.name << " parsed:\n" << text;
  const std::string msg = c.status().message();
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << msg;
  EXPECT_NE(msg.find("/cards/bad_vad.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find(bc.field), std::string::npos) << "expected '" << bc.field << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

const BadVadCase kBadVadCases[] = {
    {"image_field", "  frame: 512\n", "  frame: 512\n  layout: NCHW\n",
     "'preprocessing.layout': unknown field"},
    {"unknown_post_field", "  hangover_ms: 100", "  hangover: 100",
     "'postprocessing.hangover': unknown field"},
    {"labels", "", "labels: [speech]\n", "'labels' and 'task' contradict"},
    {"missing_rate", "  sample_rate: 16000\n", "", "'preprocessing.sample_rate': missing"},
    {"rate_not_int", "sample_rate: 16000", "sample_rate: 16k", "'preprocessing.sample_rate'"},
    {"rate_too_low", "sample_rate: 16000", "sample_rate: 10", "'preprocessing.sample_rate'"},
    {"missing_frame", "  frame: 512\n", "", "'preprocessing.frame': missing"},
    {"frame_zero", "frame: 512", "frame: 0", "'preprocessing.frame'"},
    {"context_over_frame", "context: 64", "context: 600",
     "'preprocessing.context' and 'preprocessing.frame' contradict"},
    {"state_without_output", "  state_output: stateN\n", "",
     "'preprocessing.state_input' and 'preprocessing.state_output' contradict"},
    {"input_is_state", "input: input", "input: state",
     "'preprocessing.input' and 'preprocessing.state_input' contradict"},
    {"missing_preprocessing", "preprocessing:", "preproc:", "'preproc': unknown field"},
    {"missing_postprocessing_threshold", "  threshold: 0.5\n", "",
     "'postprocessing.threshold': missing"},
    {"threshold_over_one", "threshold: 0.5", "threshold: 1.5", "'postprocessing.threshold'"},
    {"threshold_zero", "threshold: 0.5", "threshold: 0", "'postprocessing.threshold'"},
    {"negative_above", "  threshold: 0.5\n", "  threshold: 0.5\n  negative_threshold: 0.6\n",
     "'postprocessing.negative_threshold' and 'postprocessing.threshold' contradict"},
    {"hangover_negative", "hangover_ms: 100", "hangover_ms: -5", "'postprocessing.hangover_ms'"},
    {"min_speech_text", "min_speech_ms: 250", "min_speech_ms: long",
     "'postprocessing.min_speech_ms'"},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadVadCard, ::testing::ValuesIn(kBadVadCases),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- WAV ----

void Put16(std::string& b, std::uint16_t v) {
  b.push_back(static_cast<char>(v & 0xFF));
  b.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& b, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) b.push_back(static_cast<char>(v >> (8 * k) & 0xFF));
}

// A WAV file: fmt (format, channels, rate, bits), an optional chunk before data, data.
std::string MakeWav(const std::vector<std::int16_t>& samples, std::uint32_t rate = 16000,
                    std::uint16_t channels = 1, std::uint16_t format = 1, std::uint16_t bits = 16,
                    const std::string& extra_chunk = "") {
  std::string fmt;
  Put16(fmt, format);
  Put16(fmt, channels);
  Put32(fmt, rate);
  Put32(fmt, rate * channels * bits / 8);
  Put16(fmt, static_cast<std::uint16_t>(channels * bits / 8));
  Put16(fmt, bits);
  std::string body = "WAVEfmt ";
  Put32(body, static_cast<std::uint32_t>(fmt.size()));
  body += fmt + extra_chunk + "data";
  Put32(body, static_cast<std::uint32_t>(samples.size() * 2));
  for (std::int16_t s : samples) Put16(body, static_cast<std::uint16_t>(s));
  std::string out = "RIFF";
  Put32(out, static_cast<std::uint32_t>(body.size()));
  return out + body;
}

TEST(Wav, DecodesSixteenBitPcm) {
  WavAudio w;
  ASSERT_TRUE(DecodeWav(MakeWav({0, 16384, -32768, 32767}), "a.wav", w).ok());
  EXPECT_EQ(w.sample_rate, 16000);
  EXPECT_EQ(w.channels, 1);
  ASSERT_EQ(w.samples.size(), 4u);
  EXPECT_FLOAT_EQ(w.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(w.samples[2], -1.0f);
  EXPECT_FLOAT_EQ(w.samples[3], 32767.0f / 32768.0f);
}

TEST(Wav, SkipsOtherChunksWithTheirPadding) {
  std::string list = "LIST";
  Put32(list, 3);
  list += "abc";
  list.push_back('\0');  // pad byte of an odd-sized chunk
  WavAudio w;
  const Status s = DecodeWav(MakeWav({1, 2, 3}, 8000, 1, 1, 16, list), "b.wav", w);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(w.sample_rate, 8000);
  EXPECT_EQ(w.samples.size(), 3u);
}

TEST(Wav, StereoKeepsItsChannels) {
  WavAudio w;
  ASSERT_TRUE(DecodeWav(MakeWav({1, 2, 3, 4}, 16000, 2), "s.wav", w).ok());
  EXPECT_EQ(w.channels, 2);
  EXPECT_EQ(w.samples.size(), 4u);
}

TEST(Wav, OtherEncodingsAreNamed) {
  WavAudio w;
  Status s = DecodeWav(MakeWav({1, 2}, 16000, 1, 3, 32), "f.wav", w);  // IEEE float
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("format 3"), std::string::npos) << s.message();
  s = DecodeWav(MakeWav({1, 2}, 16000, 1, 1, 8), "u8.wav", w);
  EXPECT_NE(s.message().find("8-bit PCM"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("u8.wav"), std::string::npos) << s.message();
}

TEST(Wav, BadHeadersAreCorrupt) {
  WavAudio w;
  EXPECT_EQ(DecodeWav("", "e.wav", w).code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodeWav("RIFX0000WAVE", "x.wav", w).code(), StatusCode::kCorrupt);
  std::string no_fmt = "RIFF";
  Put32(no_fmt, 12);
  no_fmt += "WAVEdata";
  Put32(no_fmt, 0);
  const Status s = DecodeWav(no_fmt, "n.wav", w);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("before the fmt chunk"), std::string::npos) << s.message();
}

TEST(Wav, EveryTruncationIsAnErrorNeverACrash) {
  const std::string good = MakeWav({1, -2, 3, -4, 5, -6});
  WavAudio w;
  for (std::size_t n = 0; n < good.size(); ++n) {
    const Status s = DecodeWav(std::string_view(good).substr(0, n), "t.wav", w);
    // The data chunk's header promises 12 bytes: anything shorter is truncated.
    EXPECT_FALSE(s.ok()) << n;
    EXPECT_NE(s.message().find("t.wav"), std::string::npos) << s.message();
  }
  EXPECT_TRUE(DecodeWav(good, "t.wav", w).ok());
}

TEST(Wav, RandomBytesAfterAHeaderNeverCrash) {
  std::mt19937 rng(7);
  WavAudio w;
  for (int i = 0; i < 2000; ++i) {
    std::string b = "RIFF\xff\xff\xff\xffWAVE";
    const auto n = rng() % 96;
    for (std::uint32_t k = 0; k < n; ++k) b.push_back(static_cast<char>(rng()));
    if (i % 2) b.replace(12, std::min<std::size_t>(4, b.size() - 12), "fmt ");
    (void)DecodeWav(b, "r.wav", w);  // any result; ASan watches the reads
  }
}

// ---- Smoothing and tallies (32 ms frames: 512 samples at 16 kHz) ----

CardVad Vad(double hangover_ms = 0, double min_speech_ms = 0) {
  CardVad v;
  v.threshold = 0.5;
  v.negative_threshold = 0.35;
  v.hangover_ms = hangover_ms;
  v.min_speech_ms = min_speech_ms;
  return v;
}

std::vector<std::pair<std::int64_t, std::int64_t>> Runs(const std::vector<float>& p,
                                                        const CardVad& v) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const FrameRun& r : SmoothVad(p, v)) out.emplace_back(r.begin, r.end);
  return out;
}

using RunList = std::vector<std::pair<std::int64_t, std::int64_t>>;

TEST(SmoothVad, ThresholdWithoutHangover) {
  EXPECT_EQ(Runs({0.1f, 0.6f, 0.7f, 0.2f, 0.1f, 0.5f}, Vad()), (RunList{{1, 3}, {5, 6}}));
  EXPECT_TRUE(Runs({0.1f, 0.49f, 0.2f}, Vad()).empty());
  EXPECT_TRUE(Runs({}, Vad()).empty());
}

TEST(SmoothVad, HangoverHoldsSpeechAfterTheLastHighFrame) {
  // 96 ms = 3 frames of hangover after the first quiet frame.
  EXPECT_EQ(Runs({0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f}, Vad(96)), (RunList{{0, 4}}));
  // A high frame inside the hangover restarts it.
  EXPECT_EQ(Runs({0.9f, 0.1f, 0.1f, 0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f}, Vad(96)),
            (RunList{{0, 7}}));
  // 100 ms rounds to 3 frames too.
  EXPECT_EQ(Runs({0.9f, 0.1f, 0.1f, 0.1f, 0.1f}, Vad(100)), (RunList{{0, 4}}));
}

TEST(SmoothVad, BetweenTheThresholdsNeitherStartsNorEndsSpeech) {
  // Frames in [0.35, 0.5) keep speech going without starting the quiet count...
  EXPECT_EQ(Runs({0.9f, 0.4f, 0.4f, 0.4f, 0.4f, 0.1f}, Vad()), (RunList{{0, 5}}));
  // ...and do not start speech.
  EXPECT_TRUE(Runs({0.4f, 0.4f}, Vad()).empty());
  // Once quiet has begun, they count towards the hangover (as Silero's VADIterator).
  EXPECT_EQ(Runs({0.9f, 0.1f, 0.4f, 0.4f, 0.4f}, Vad(64)), (RunList{{0, 3}}));
}

TEST(SmoothVad, ShortDetectionsAreDropped) {
  // 250 ms needs ceil(250 / 32) = 8 high frames.
  std::vector<float> p(20, 0.0f);
  for (int f = 2; f < 9; ++f) p[static_cast<std::size_t>(f)] = 0.8f;  // 7 frames
  EXPECT_TRUE(Runs(p, Vad(0, 250)).empty());
  p[9] = 0.8f;  // 8 frames
  EXPECT_EQ(Runs(p, Vad(0, 250)), (RunList{{2, 10}}));
}

TEST(SmoothVad, NanIsQuietAndSpeechMayRunToTheEnd) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(Runs({0.9f, nan, 0.1f}, Vad()), (RunList{{0, 1}}));
  EXPECT_EQ(Runs({0.1f, 0.9f, 0.9f}, Vad(320)), (RunList{{1, 3}}));
}

TEST(TallyVadClip, FramesOverlappingASegmentAreSpeechTheRestPadding) {
  const CardVad v = Vad();
  VadTally t;
  // 0.1-0.2 s covers frames floor(3.125) = 3 to ceil(6.25) = 7: 3, 4, 5, 6.
  TallyVadClip({{2, 5}}, {{0.1, 0.2}}, 10, v, t);
  EXPECT_EQ(t.speech_clips, 1);
  EXPECT_EQ(t.detected_clips, 1);
  EXPECT_EQ(t.speech_frames, 4);
  EXPECT_EQ(t.speech_frames_detected, 2);
  EXPECT_EQ(t.padding_frames, 6);
  EXPECT_EQ(t.padding_frames_detected, 1);
  // A clip without speech: every detection is a false alarm; not a speech clip.
  TallyVadClip({{0, 3}}, {}, 5, v, t);
  EXPECT_EQ(t.speech_clips, 1);
  EXPECT_EQ(t.padding_frames, 11);
  EXPECT_EQ(t.padding_frames_detected, 4);
  // Speech detected only outside its segment does not find the clip.
  TallyVadClip({{0, 2}}, {{0.1, 0.2}}, 10, v, t);
  EXPECT_EQ(t.speech_clips, 2);
  EXPECT_EQ(t.detected_clips, 1);
  EXPECT_EQ(t.padding_frames_detected, 6);
}

// ---- The loop ----

// A streaming model shaped as Silero VAD v5: input [?, ?], state [2, ?, 128], sr
// scalar int64; output [?, 1] and stateN. P(speech) is 0.9 when the frame's new
// samples are loud (RMS > 0.1), else 0.05. It checks what the loop must do: the
// context is the previous window's tail, the state is its own last stateN (reset per
// clip), sr is the card's rate.
class FakeVad final : public Session {
 public:
  FakeVad() {
    inputs_ = {{"input", DType::kF32, Shape{Shape::kDynamic, Shape::kDynamic}},
               {"state", DType::kF32, Shape{2, Shape::kDynamic, 128}},
               {"sr", DType::kI64, Shape{}}};
    outputs_ = {{"output", DType::kF32, Shape{Shape::kDynamic, 1}},
                {"stateN", DType::kF32, Shape{Shape::kDynamic, Shape::kDynamic, Shape::kDynamic}}};
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    if (in.size() != 3 || in[0].shape() != Shape{1, 576} || in[1].shape() != Shape{2, 1, 128} ||
        in[2].dtype() != DType::kI64 || in[2].as<std::int64_t>()[0] != 16000) {
      return Internal("fake: unexpected inputs");
    }
    auto x = in[0].as<float>();
    const float state = in[1].as<float>()[0];
    // A new clip starts from zero; otherwise the state is the last stateN (runs so far).
    if (state != 0.0f && state != last_state_) return Internal("fake: state not fed back");
    if (state != 0.0f) {
      for (int k = 0; k < 64; ++k) {
        if (x[static_cast<std::size_t>(k)] != previous_[static_cast<std::size_t>(512 + k)]) {
          return Internal("fake: context is not the previous frame's tail");
        }
      }
    }
    previous_.assign(x.begin(), x.end());
    double sq = 0;
    for (std::size_t k = 64; k < 576; ++k) sq += static_cast<double>(x[k]) * x[k];
    out.resize(2);
    Expected<Tensor> p = Tensor::Allocate(DType::kF32, Shape{1, 1});
    Expected<Tensor> s = Tensor::Allocate(DType::kF32, Shape{2, 1, 128});
    if (!p || !s) return Internal("fake: allocation");
    p->as<float>()[0] = std::sqrt(sq / 512) > 0.1 ? 0.9f : 0.05f;
    last_state_ = state + 1.0f;
    for (float& v : s->as<float>()) v = last_state_;
    out[0] = std::move(*p);
    out[1] = std::move(*s);
    ++runs;
    return Status::Ok();
  }
  int runs = 0;

 private:
  std::vector<TensorInfo> inputs_, outputs_;
  std::vector<float> previous_;
  float last_state_ = 0;
};

// `seconds` of silence, a loud tone, silence (each as given), 16-bit samples.
std::vector<std::int16_t> Clip(double quiet_before, double loud, double quiet_after,
                               int rate = 16000) {
  std::vector<std::int16_t> s;
  const auto a = static_cast<int>(quiet_before * rate), b = static_cast<int>(loud * rate),
             c = static_cast<int>(quiet_after * rate);
  s.resize(static_cast<std::size_t>(a), 0);
  for (int i = 0; i < b; ++i) {
    s.push_back(static_cast<std::int16_t>(16000 * std::sin(0.3 * i)));
  }
  s.resize(s.size() + static_cast<std::size_t>(c), 0);
  return s;
}

class VadLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    Expected<ModelCard> c = ParseModelCard(kGood, dir_ / "vad.yaml");
    ASSERT_TRUE(c) << c.status().message();
    card_ = std::move(*c);
    card_.vad.min_speech_ms = 0;
    card_.vad.hangover_ms = 0;
  }
  std::unique_ptr<AudioDataset> Open(const std::string& labels) {
    Expected<std::unique_ptr<AudioDataset>> d = OpenVadDataset(dir_.Write("labels.tsv", labels));
    EXPECT_TRUE(d) << d.status().message();
    return d ? std::move(*d) : nullptr;
  }
  TempDir dir_;
  ModelCard card_;
};

TEST_F(VadLoop, LoudFramesAreFoundAndQuietOnesAreNot) {
  dir_.Write("a.wav", MakeWav(Clip(0.5, 0.5, 0.5)));
  dir_.Write("quiet.wav", MakeWav(Clip(1.0, 0, 0)));
  dir_.Write("sub/b.wav", MakeWav(Clip(0.2, 0.3, 0.1)));
  auto data = Open("# comment\na.wav\t0.5-1.0\nquiet.wav\t-\n\nsub/b.wav\t0.2-0.5\n");
  ASSERT_TRUE(data);
  FakeVad fake;
  Expected<VadEval> r = EvaluateVad(fake, card_, *data, {});
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->samples_evaluated, 3);
  // 1.5 s = 24000 samples = 46.875 -> 47 frames; 1 s -> 32 frames; 0.6 s -> 19 frames.
  EXPECT_EQ(fake.runs, 47 + 32 + 19);
  EXPECT_EQ(static_cast<int>(r->inference_ms.size()), fake.runs);
  EXPECT_EQ(r->clip_detection.successes, 2);
  EXPECT_EQ(r->clip_detection.trials, 2);
  EXPECT_EQ(r->false_alarm.successes, 0);
  EXPECT_EQ(r->tally.padding_frames + r->tally.speech_frames, 47 + 32 + 19);
  EXPECT_DOUBLE_EQ(r->frame_recall.value, 1.0);
  EXPECT_DOUBLE_EQ(r->frame_precision.value, 1.0);
  // a.wav: 0.5 s = frame 15.625, so detection starts at frame 15 (0.480 s) and ends
  // with the tone at frame 32 (1.024 s).
  EXPECT_NE(r->predictions.find("0\ta.wav\t0.500-1.000\t0.480-1.024\t1\t0/"), std::string::npos)
      << r->predictions;
  EXPECT_NE(r->predictions.find("1\tquiet.wav\t-\t-\t-\t0/32"), std::string::npos)
      << r->predictions;
}

TEST_F(VadLoop, HangoverFramesInThePaddingAreFalseAlarms) {
  dir_.Write("a.wav", MakeWav(Clip(0.512, 0.512, 0.512)));  // 16 frames each
  auto data = Open("a.wav\t0.512-1.024\n");
  ASSERT_TRUE(data);
  card_.vad.hangover_ms = 96;  // 3 frames
  FakeVad fake;
  Expected<VadEval> r = EvaluateVad(fake, card_, *data, {});
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->tally.speech_frames, 16);
  EXPECT_EQ(r->tally.padding_frames, 32);
  // The tone's first frame is exact; the context holds the tone's tail for one frame
  // only (the fake looks at the new samples), so speech ends 3 frames late.
  EXPECT_EQ(r->false_alarm.successes, 3);
  EXPECT_EQ(r->frame_precision.successes, 16);
  EXPECT_EQ(r->frame_precision.trials, 19);
}

TEST_F(VadLoop, BadClipsAreCountedOrStopTheRun) {
  dir_.Write("a.wav", MakeWav(Clip(0.2, 0.2, 0.2)));
  dir_.Write("stereo.wav", MakeWav({1, 2, 3, 4}, 16000, 2));
  dir_.Write("slow.wav", MakeWav(Clip(0.2, 0.2, 0.2, 8000), 8000));
  dir_.Write("short.wav", MakeWav(Clip(0.1, 0, 0)));
  auto data =
      Open("stereo.wav\t-\nslow.wav\t-\nmissing.wav\t-\nshort.wav\t0.05-0.3\na.wav\t0.2-0.4\n");
  ASSERT_TRUE(data);
  FakeVad fake;
  Expected<VadEval> stop = EvaluateVad(fake, card_, *data, {});
  ASSERT_FALSE(stop);
  EXPECT_NE(stop.status().message().find("mono"), std::string::npos) << stop.status().message();

  EvalOptions keep;
  keep.keep_going = true;
  Expected<VadEval> r = EvaluateVad(fake, card_, *data, keep);
  ASSERT_TRUE(r) << r.status().message();
  ASSERT_EQ(r->bad_samples.size(), 4u);
  EXPECT_NE(r->bad_samples[0].reason.find("mono"), std::string::npos);
  EXPECT_NE(r->bad_samples[1].reason.find("8000 Hz"), std::string::npos);
  EXPECT_NE(r->bad_samples[2].reason.find("missing.wav"), std::string::npos);
  EXPECT_NE(r->bad_samples[3].reason.find("after the clip"), std::string::npos);
  EXPECT_EQ(r->samples_evaluated, 1);
  EXPECT_EQ(r->clip_detection.successes, 1);
}

TEST_F(VadLoop, PlanChecksTheCardAgainstTheModel) {
  FakeVad fake;
  Expected<VadPlan> plan = PlanVad(fake, card_);
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->input_shape, (Shape{1, 576}));
  EXPECT_EQ(plan->state_shape, (Shape{2, 1, 128}));
  EXPECT_EQ(plan->rate_shape, Shape{});
  struct Case {
    void (*edit)(ModelCard&);
    const char* find;
  } cases[] = {
      {[](ModelCard& c) { c.preprocessing.input_name = "audio"; }, "'preprocessing.input'"},
      {[](ModelCard& c) { c.vad.rate_input.clear(); }, "input 'sr' is not fed"},
      {[](ModelCard& c) { c.vad.state_output = "hn"; }, "'preprocessing.state_output'"},
      {[](ModelCard& c) { c.postprocessing.output_name = "stateN"; }, "'postprocessing.output'"},
      {[](ModelCard& c) { c.task = CardTask::kClassification; }, "not vad"},
  };
  for (const Case& k : cases) {
    ModelCard c = card_;
    k.edit(c);
    Expected<VadPlan> bad = PlanVad(fake, c);
    ASSERT_FALSE(bad) << k.find;
    EXPECT_NE(bad.status().message().find(k.find), std::string::npos) << bad.status().message();
  }
}

TEST(VadDataset, MalformedLabelsNameTheLine) {
  TempDir dir;
  struct Case {
    const char* text;
    StatusCode code;
    const char* find;
  } cases[] = {
      {"a.wav 0-1\n", StatusCode::kCorrupt, "line 1"},
      {"# x\na.wav\t0-x\n", StatusCode::kCorrupt, "line 2"},
      {"a.wav\t1-0.5\n", StatusCode::kInvalidArgument, "end <= start"},
      {"a.wav\t0-1 0.5-2\n", StatusCode::kInvalidArgument, "overlaps"},
      {"a.wav\t-1-2\n", StatusCode::kCorrupt, "START-END"},
      {"a.wav\t\n", StatusCode::kCorrupt, "no segments"},
  };
  for (const Case& c : cases) {
    Expected<std::unique_ptr<AudioDataset>> d = OpenVadDataset(dir.Write("l.tsv", c.text));
    ASSERT_FALSE(d) << c.text;
    EXPECT_EQ(d.status().code(), c.code) << d.status().message();
    EXPECT_NE(d.status().message().find(c.find), std::string::npos) << d.status().message();
  }
  Expected<std::unique_ptr<AudioDataset>> missing = OpenVadDataset(dir / "none.tsv");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// EncodeWav (the data-set makers' writer) round-trips through DecodeWav: each sample to
// the nearest 16-bit level, saturated at the ends.
TEST(EncodeWav, RoundTripsThroughDecodeWav) {
  const std::vector<double> x = {0.0, 0.5, -0.5, 1e-5, -1.0, 2.0, -3.0, 0.25 + 0.4 / 32768};
  const std::string bytes = EncodeWav(x, 16000);
  EXPECT_EQ(bytes.size(), 44u + 2 * x.size());
  WavAudio wav;
  ASSERT_TRUE(DecodeWav(bytes, "encoded", wav).ok());
  EXPECT_EQ(wav.sample_rate, 16000);
  EXPECT_EQ(wav.channels, 1);
  ASSERT_EQ(wav.samples.size(), x.size());
  const std::vector<double> want = {0.0, 0.5, -0.5, 0.0, -1.0, 32767.0 / 32768, -1.0, 0.25};
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(wav.samples[i], want[i]) << i;
}

}  // namespace
}  // namespace deepedge
