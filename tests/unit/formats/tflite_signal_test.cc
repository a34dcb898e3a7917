// The TFLite importer's mapping of TFLite Micro's Signal* custom operators: flexbuffer
// custom_options read and checked field by field (bad ones are one InvalidArgument naming
// the operator, never a crash), tensor types checked, uint32 kept away from builtins.
// Tiny models built here; the arithmetic itself is tested in tests/unit/engine/signal_test.cc.
#include <gtest/gtest.h>

#include <flatbuffers/flexbuffers.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>

#include "deepedge/backends.h"
#include "deepedge/tflite_model.h"
#include "tflite_schema_generated.h"
#include "unit/formats/tflite_test_models.h"

namespace deepedge {
namespace {

using tfl::TensorType;
using tflite_test::ModelBuilder;

constexpr int kCustomCode = 32;

// A flexbuffer map written by `fill`.
std::vector<std::uint8_t> Options(const std::function<void(flexbuffers::Builder&)>& fill) {
  flexbuffers::Builder fbb;
  const auto start = fbb.StartMap();
  fill(fbb);
  fbb.EndMap(start);
  fbb.Finish();
  return fbb.GetBuffer();
}

// x int16 [8] -> SignalWindow(x, window) -> y int16 [8].
std::vector<std::uint8_t> WindowModel(const std::vector<std::uint8_t>& options,
                                      TensorType window_type = TensorType::INT16) {
  ModelBuilder b;
  const int x = b.Tensor({8}, TensorType::INT16, "x");
  const std::vector<std::int16_t> w = {4096, 2048, 1024, 512, -4096, 8192, 16384, 32767};
  const int wt = window_type == TensorType::INT16
                     ? b.Const({8}, TensorType::INT16, w, "window")
                     : b.Const({8}, window_type, std::vector<float>(8, 1.0f), "window");
  const int y = b.Tensor({8}, TensorType::INT16, "y");
  b.CustomOp(b.Code(kCustomCode, "SignalWindow"), {x, wt}, {y}, options);
  return b.Finish({x}, {y});
}

Expected<std::vector<Tensor>> RunModel(const std::vector<std::uint8_t>& bytes,
                                       std::vector<Tensor> inputs) {
  auto backend = MakeDeepEdgeBackend();
  SessionOptions so;
  so.threads = 1;
  DEEPEDGE_ASSIGN_OR_RETURN(auto session,
                            backend->Load(ModelSource::FromBytes(ModelFormat::kTflite, bytes), so));
  std::vector<Tensor> out;
  DEEPEDGE_RETURN_IF_ERROR(session->Run(inputs, out));
  return out;
}

Status ImportStatus(const std::vector<std::uint8_t>& bytes) {
  auto r = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  return r.has_value() ? Status::Ok() : r.status();
}

TEST(TfliteSignal, WindowImportsAndRuns) {
  const auto model = WindowModel(Options([](flexbuffers::Builder& f) { f.Int("shift", 12); }));
  Tensor x = Tensor::Allocate(DType::kI16, Shape({8})).value();
  const std::vector<std::int16_t> xv = {1000, -1000, 32767, -32768, 4096, 12, -7, 20000};
  std::copy(xv.begin(), xv.end(), x.as<std::int16_t>().begin());
  std::vector<Tensor> in;
  in.push_back(std::move(x));
  auto out = RunModel(model, std::move(in));
  ASSERT_TRUE(out.has_value()) << out.status().ToString();
  const std::vector<std::int16_t> w = {4096, 2048, 1024, 512, -4096, 8192, 16384, 32767};
  for (std::size_t i = 0; i < 8; ++i) {
    const double ref = std::clamp(std::floor(double(xv[i]) * w[i] / 4096), -32768.0, 32767.0);
    EXPECT_EQ((*out)[0].as<std::int16_t>()[i], static_cast<std::int16_t>(ref)) << i;
  }
}

TEST(TfliteSignal, BadOptionsAreInvalidArgumentNamingTheOperator) {
  struct Case {
    const char* what;
    std::vector<std::uint8_t> options;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {"no options", {}, "shift"},
      {"missing field", Options([](flexbuffers::Builder& f) { f.Int("shiftt", 12); }), "shift"},
      {"out of range", Options([](flexbuffers::Builder& f) { f.Int("shift", 40); }), "shift"},
      {"negative", Options([](flexbuffers::Builder& f) { f.Int("shift", -1); }), "shift"},
      {"not a number", Options([](flexbuffers::Builder& f) { f.String("shift", "12"); }), "shift"},
      {"unknown field", Options([](flexbuffers::Builder& f) {
         f.Int("shift", 12);
         f.Int("extra", 1);
       }),
       "extra"},
      {"garbage", {0xFF, 0x13, 0x07, 0x99, 0x01}, "flexbuffer"},
  };
  for (const Case& c : cases) {
    const Status st = ImportStatus(WindowModel(c.options));
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.what << ": " << st.ToString();
    EXPECT_NE(st.message().find("SignalWindow"), std::string::npos)
        << c.what << ": " << st.message();
    EXPECT_NE(st.message().find(c.mentions), std::string::npos) << c.what << ": " << st.message();
  }
  // A non-map root.
  flexbuffers::Builder v;
  v.Int(12);
  v.Finish();
  const Status st = ImportStatus(WindowModel(v.GetBuffer()));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

TEST(TfliteSignal, WrongTensorTypeIsRefused) {
  const Status st = ImportStatus(WindowModel(
      Options([](flexbuffers::Builder& f) { f.Int("shift", 12); }), TensorType::FLOAT32));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("int16"), std::string::npos) << st.message();
}

// x int16 [n] -> SignalRfft -> int16 [fft_length + 2].
std::vector<std::uint8_t> RfftModel(int n, int fft_length, int type) {
  ModelBuilder b;
  const int x = b.Tensor({n}, TensorType::INT16, "x");
  const int y = b.Tensor({fft_length + 2}, TensorType::INT16, "y");
  b.CustomOp(b.Code(kCustomCode, "SignalRfft"), {x}, {y}, Options([&](flexbuffers::Builder& f) {
               f.Int("T", type);
               f.Int("fft_length", fft_length);
             }));
  return b.Finish({x}, {y});
}

TEST(TfliteSignal, RfftOptions) {
  EXPECT_TRUE(ImportStatus(RfftModel(480, 512, 7)).ok());
  Status st = ImportStatus(RfftModel(480, 512, 1));  // float32: TFLM has it, not done here
  EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.ToString();
  st = ImportStatus(RfftModel(480, 500, 7));  // not a power of two
  EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.ToString();
  st = ImportStatus(RfftModel(480, 512, 99));  // not a TFLite type
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  st = ImportStatus(RfftModel(600, 512, 7));  // input longer than the FFT
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("SignalRfft"), std::string::npos) << st.message();
}

TEST(TfliteSignal, EnergyStartAfterEndIsRefused) {
  ModelBuilder b;
  const int x = b.Tensor({20}, TensorType::INT16, "x");
  const int y = b.Tensor({10}, TensorType::UINT32, "y");
  b.CustomOp(b.Code(kCustomCode, "SignalEnergy"), {x}, {y}, Options([](flexbuffers::Builder& f) {
               f.Int("end_index", 3);
               f.Int("start_index", 5);
             }));
  const Status st = ImportStatus(b.Finish({x}, {y}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("start_index"), std::string::npos) << st.message();
}

// uint32 values travel as i32 bits: a builtin that would read them as signed is refused,
// a bit-preserving CAST to int32 is fine.
TEST(TfliteSignal, Uint32OnlyMeetsBitPreservingBuiltins) {
  auto model = [](bool cast) {
    ModelBuilder b;
    const int x = b.Tensor({20}, TensorType::INT16, "x");
    const int e = b.Tensor({10}, TensorType::UINT32, "e");
    b.CustomOp(b.Code(kCustomCode, "SignalEnergy"), {x}, {e}, Options([](flexbuffers::Builder& f) {
                 f.Int("end_index", 10);
                 f.Int("start_index", 0);
               }));
    if (cast) {
      const int y = b.Tensor({10}, TensorType::INT32, "y");
      b.Op(b.Code(53), {e}, {y});  // CAST
      return b.Finish({x}, {y});
    }
    const int y = b.Tensor({10}, TensorType::UINT32, "y");
    b.Op(b.Code(0), {e, e}, {y});  // ADD on uint32
    return b.Finish({x}, {y});
  };
  EXPECT_TRUE(ImportStatus(model(true)).ok());
  const Status st = ImportStatus(model(false));
  EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.ToString();
  EXPECT_NE(st.message().find("uint32"), std::string::npos) << st.message();
}

// The real micro_speech front ends (../shared/models/tflite-micro, when present) on extreme
// frames: full-scale noise, a constant -32768, a full-scale square wave, silence. Every
// run must succeed with 40 features; this is mostly for the sanitizer build (shifts,
// wraps and saturations on real option values).
TEST(TfliteSignal, RealFrontEndsSurviveExtremeFrames) {
  const std::filesystem::path dir =
      std::getenv("DEEPEDGE_TFLITE_MODELS") != nullptr
          ? std::filesystem::path(std::getenv("DEEPEDGE_TFLITE_MODELS"))
          : std::filesystem::path(DEEPEDGE_TEST_DATA_DIR) / ".." / ".." / ".." / "shared" /
                "models" / "tflite-micro";
  for (const char* name : {"audio_preprocessor_int8.tflite", "audio_preprocessor_float.tflite"}) {
    const auto path = dir / "micro_speech" / name;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << path.string();
    auto source = ModelSource::FromFile(path);
    ASSERT_TRUE(source.has_value()) << source.status().ToString();
    SessionOptions so;
    so.threads = 1;
    auto session = MakeDeepEdgeBackend()->Load(*source, so);
    ASSERT_TRUE(session.has_value()) << session.status().ToString();
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> d(-32768, 32767);
    for (int frame = 0; frame < 40; ++frame) {
      std::vector<Tensor> in;
      in.push_back(Tensor::Allocate(DType::kI16, Shape({1, 480})).value());
      auto x = in[0].as<std::int16_t>();
      for (std::size_t i = 0; i < x.size(); ++i) {
        switch (frame % 4) {
          case 0:
            x[i] = static_cast<std::int16_t>(d(rng));
            break;
          case 1:
            x[i] = -32768;
            break;
          case 2:
            x[i] = (i / 4) % 2 == 0 ? 32767 : -32768;
            break;
          default:
            x[i] = 0;
        }
      }
      std::vector<Tensor> out;
      const Status st = (*session)->Run(in, out);
      ASSERT_TRUE(st.ok()) << name << " frame " << frame << ": " << st.ToString();
      ASSERT_EQ(out[0].element_count(), 40);
    }
  }
}

}  // namespace
}  // namespace deepedge
