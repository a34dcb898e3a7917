// Integration tests: `deepedge quantize`, the real binary, run as a user would.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "deepedge/file_util.h"
#include "deepedge/npy.h"
#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Result = testing::CliResult;

class QuantizeCliTest : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  std::string Zoo(const std::string& name) {
    return testing::ZooModelViaCli(DEEPEDGE_BINARY, dir_.path(), name);
  }
  void WriteSample(const std::filesystem::path& p, Shape shape) {
    std::filesystem::create_directories(p.parent_path());
    Tensor t = Tensor::Allocate(DType::kF32, std::move(shape)).value();
    float v = -1.0f;
    for (float& x : t.as<float>()) {
      x = v;
      v = v > 1.0f ? -1.0f : v + 0.001f;
    }
    ASSERT_TRUE(WriteFileAtomic(p, EncodeNpy(t)).ok());
  }
  // Bad input: exit status 2, one line naming the problem, no output file.
  void ExpectBadInput(const std::string& args, const std::filesystem::path& output,
                      const std::string& needle) {
    SCOPED_TRACE(args);
    Result r = Run(args);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err_lines(), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepedge: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(output));
    // No temporary file left beside the output either.
    std::error_code ec;
    if (std::filesystem::is_directory(output.parent_path(), ec)) {
      for (const auto& e : std::filesystem::directory_iterator(output.parent_path())) {
        EXPECT_EQ(e.path().filename().string().find(output.filename().string() + ".tmp"),
                  std::string::npos)
            << e.path();
      }
    }
  }
  testing::TempDir dir_;
};

TEST_F(QuantizeCliTest, RandomCalibrationWritesACheckedQdqModel) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  const auto out = dir_ / "q.onnx";
  Result r = Run("quantize " + model + " -o " + out.string() + " --calibration-random 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("29 nodes int8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("27 BatchNormalization folded"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("added 31 QuantizeLinear, 87 DequantizeLinear"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: calibrated on random inputs"), std::string::npos) << r.err;
  ASSERT_TRUE(std::filesystem::exists(out));
  // Int8 weights: about a quarter of the float model's size.
  EXPECT_LT(std::filesystem::file_size(out), std::filesystem::file_size(model) / 2);
  Result info = Run("info " + out.string());
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("QuantizeLinear"), std::string::npos) << info.out;
  Result infer = Run("infer " + out.string() + " -o " + (dir_ / "outs").string());
  ASSERT_EQ(infer.exit_code, 0) << infer.err;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "outs" / "output.npy"));
  const std::string text = ReadFileText(out).value();
  EXPECT_NE(text.find("deepedge.quantized"), std::string::npos);
  EXPECT_NE(text.find("minmax; calibration: 2 random samples"), std::string::npos);
}

TEST_F(QuantizeCliTest, DirectoryCalibrationWithPercentileAndExclude) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  WriteSample(dir_ / "calib" / "a.npy", Shape{1, 3, 224, 224});
  WriteSample(dir_ / "calib" / "b.npy", Shape{1, 3, 224, 224});
  const auto out = dir_ / "q.onnx";
  Result r = Run("quantize " + model + " -o " + out.string() + " --calibration " +
                 (dir_ / "calib").string() +
                 " --method percentile --percentile 99.9 --per-tensor-weights --exclude fc");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("percentile 99.9; calibration: 2 .npy files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("28 nodes int8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("per-tensor weights"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out));
}

TEST_F(QuantizeCliTest, BadInputsGiveOneLineExitTwoAndNoOutput) {
  const std::string model = Zoo("mobilenet_v1_0.25_224");
  const auto out = dir_ / "out" / "q.onnx";
  std::filesystem::create_directories(out.parent_path());
  const std::string o = " -o " + out.string();
  const std::string rnd = " --calibration-random 1";

  ExpectBadInput("quantize " + (dir_ / "missing.onnx").string() + o + rnd, out,
                 "missing.onnx: no such file");
  const auto garbage = dir_ / "garbage.onnx";
  ASSERT_TRUE(WriteFileAtomic(garbage, std::string_view("not a protobuf\xff\xff")).ok());
  ExpectBadInput("quantize " + garbage.string() + o + rnd, out, "garbage.onnx");
  const auto text = dir_ / "model.txt";
  ASSERT_TRUE(WriteFileAtomic(text, std::string_view("hello")).ok());
  ExpectBadInput("quantize " + text.string() + o + rnd, out, "unknown model format");
  const auto prototxt = dir_ / "net.prototxt";
  ASSERT_TRUE(WriteFileAtomic(prototxt, std::string_view("name: \"x\"\n")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "net.caffemodel", std::string_view("xx")).ok());
  ExpectBadInput("quantize " + prototxt.string() + o + rnd, out, "ONNX models only");

  std::filesystem::create_directories(dir_ / "empty");
  ExpectBadInput("quantize " + model + o + " --calibration " + (dir_ / "empty").string(), out,
                 "has no .npy files");
  ExpectBadInput("quantize " + model + o + " --calibration " + (dir_ / "nodir").string(), out,
                 "no such directory");
  WriteSample(dir_ / "small" / "s.npy", Shape{1, 3, 8, 8});
  ExpectBadInput("quantize " + model + o + " --calibration " + (dir_ / "small").string(), out,
                 "does not fit input 'input'");
  ExpectBadInput("quantize " + model + o, out, "--calibration");
  ExpectBadInput("quantize " + model + o + rnd + " --calibration " + (dir_ / "small").string(), out,
                 "excludes");
  ExpectBadInput("quantize " + model + o + rnd + " --method kl", out, "kl");
  ExpectBadInput("quantize " + model + o + rnd + " --method percentile --percentile 120", out,
                 "percentile");
  ExpectBadInput("quantize " + model + o + rnd + " --exclude conv0.conv,nosuch", out,
                 "no node named 'nosuch'");

  // Unwritable output: a missing directory, a directory in the way, and (when not
  // root, for whom permissions do not apply) a read-only directory.
  ExpectBadInput("quantize " + model + " -o " + (dir_ / "no" / "q.onnx").string() + rnd,
                 dir_ / "no" / "q.onnx", "does not exist");
  std::filesystem::create_directories(dir_ / "isdir.onnx");
  Result r = Run("quantize " + model + " -o " + (dir_ / "isdir.onnx").string() + rnd);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  if (::geteuid() != 0) {
    const auto ro = dir_ / "ro";
    std::filesystem::create_directories(ro);
    ::chmod(ro.c_str(), 0555);
    ExpectBadInput("quantize " + model + " -o " + (ro / "q.onnx").string() + rnd, ro / "q.onnx",
                   "not writable");
    ::chmod(ro.c_str(), 0755);
  }

  // Quantizing a quantized model is refused.
  const auto q = dir_ / "q1.onnx";
  ASSERT_EQ(Run("quantize " + model + " -o " + q.string() + rnd).exit_code, 0);
  ExpectBadInput("quantize " + q.string() + o + rnd, out, "already quantized");
}

}  // namespace
}  // namespace deepedge
