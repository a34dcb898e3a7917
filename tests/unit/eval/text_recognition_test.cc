// Text recognition in `deepedge eval`: CTC greedy decoding, UTF-8 edit distance and
// CER, the charset loader, text_recognition card fields, text-line data sets and the
// line preprocessing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "deepedge/eval.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/metrics.h"
#include "deepedge/model_card.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

// Scores of `steps` one-hot rows over `classes` classes.
std::vector<float> OneHot(const std::vector<int>& path, int classes) {
  std::vector<float> s(path.size() * static_cast<std::size_t>(classes), 0.01f);
  for (std::size_t t = 0; t < path.size(); ++t) {
    s[t * static_cast<std::size_t>(classes) + static_cast<std::size_t>(path[t])] = 0.9f;
  }
  return s;
}

TEST(CtcGreedyDecode, MergesRepeatsAndDropsBlanks) {
  const std::vector<int> path = {0, 3, 3, 0, 3, 1, 1, 1, 0, 0, 2};
  const auto s = OneHot(path, 4);
  EXPECT_EQ(CtcGreedyDecode(s, 11, 4), (std::vector<int>{3, 3, 1, 2}));
}

TEST(CtcGreedyDecode, AllBlankIsEmpty) {
  const auto s = OneHot({0, 0, 0}, 5);
  EXPECT_TRUE(CtcGreedyDecode(s, 3, 5).empty());
}

TEST(CtcGreedyDecode, OtherBlankIndexAndTiesGoLow) {
  // Blank 2; step 1 ties classes 1 and 3 -> 1.
  const std::vector<float> s = {0.1f, 0.2f, 0.7f, 0.0f,   // blank
                                0.0f, 0.4f, 0.2f, 0.4f,   // 1 (tie)
                                0.9f, 0.0f, 0.1f, 0.0f};  // 0
  EXPECT_EQ(CtcGreedyDecode(s, 3, 4, 2), (std::vector<int>{1, 0}));
}

TEST(CtcGreedyDecode, TooFewScoresGiveNothing) {
  const std::vector<float> s(7, 0.5f);
  EXPECT_TRUE(CtcGreedyDecode(s, 2, 4).empty());
}

TEST(Utf8, DecodesCodePoints) {
  EXPECT_EQ(Utf8ToCodePoints("ab"), U"ab");
  EXPECT_EQ(Utf8ToCodePoints("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"), U"\u00E9\u4E2D\U0001F600");
  EXPECT_EQ(Utf8ToCodePoints(""), U"");
}

TEST(Utf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(Utf8ToCodePoints("a\xFF"
                             "b"),
            U"a\uFFFDb");
  EXPECT_EQ(Utf8ToCodePoints("\xE4\xB8"), U"\uFFFD\uFFFD");            // truncated
  EXPECT_EQ(Utf8ToCodePoints("\xC0\xAF"), U"\uFFFD\uFFFD");            // overlong '/'
  EXPECT_EQ(Utf8ToCodePoints("\xED\xA0\x80"), U"\uFFFD\uFFFD\uFFFD");  // surrogate
}

// The textbook full-table Levenshtein distance: the reference for EditDistance.
std::int64_t ReferenceDistance(const std::u32string& a, const std::u32string& b) {
  std::vector<std::vector<std::int64_t>> d(a.size() + 1, std::vector<std::int64_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<std::int64_t>(i);
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<std::int64_t>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
  }
  return d[a.size()][b.size()];
}

TEST(EditDistance, KnownCases) {
  EXPECT_EQ(EditDistance(U"kitten", U"sitting"), 3);
  EXPECT_EQ(EditDistance(U"", U"abc"), 3);
  EXPECT_EQ(EditDistance(U"abc", U""), 3);
  EXPECT_EQ(EditDistance(U"same", U"same"), 0);
  EXPECT_EQ(EditDistance(U"ab", U"ba"), 2);  // no transpositions
}

TEST(EditDistance, MatchesTheFullTableOnRandomStrings) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::u32string a, b;
    const auto la = rng() % 12, lb = rng() % 12;
    for (unsigned i = 0; i < la; ++i) a.push_back(U'a' + rng() % 4);
    for (unsigned i = 0; i < lb; ++i) b.push_back(U'a' + rng() % 4);
    ASSERT_EQ(EditDistance(a, b), ReferenceDistance(a, b)) << trial;
  }
}

TEST(CharErrorRate, CountsCodePointsNotBytes) {
  CharErrorRate cer;
  cer.Add("\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD");  // 中文 -> 中: 1 of 2
  EXPECT_EQ(cer.edits, 1);
  EXPECT_EQ(cer.reference_chars, 2);
  cer.Add("abcd", "abXd");
  EXPECT_EQ(cer.edits, 2);
  EXPECT_EQ(cer.reference_chars, 6);
  EXPECT_DOUBLE_EQ(cer.value(), 2.0 / 6.0);
  cer.Add("", "xyz");  // insertions can push CER past 1
  EXPECT_EQ(cer.edits, 5);
  EXPECT_DOUBLE_EQ(CharErrorRate{}.value(), 0.0);
}

TEST(ParseCharset, BlankFirstSpaceLast) {
  auto c = ParseCharset("a\nb\r\n\xE4\xB8\xAD\n", true);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(*c, (std::vector<std::string>{"", "a", "b", "\xE4\xB8\xAD", " "}));
  auto no_space = ParseCharset("a\nb", false);  // no final newline
  ASSERT_TRUE(no_space);
  EXPECT_EQ(*no_space, (std::vector<std::string>{"", "a", "b"}));
}

TEST(ParseCharset, EmptyLinesAndFilesAreErrors) {
  auto c = ParseCharset("a\n\nb\n", true);
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("line 2"), std::string::npos) << c.status().message();
  EXPECT_FALSE(ParseCharset("", true));
}

TEST(ResolveCardFile, FixtureRelativeAndAbsolute) {
  ::setenv("DEEPEDGE_FIXTURES", "/fx", 1);
  EXPECT_EQ(ResolveCardFile("fixture:pkg@1/keys.txt", "/cards/c.yaml"), "/fx/pkg@1/keys.txt");
  ::unsetenv("DEEPEDGE_FIXTURES");
  EXPECT_EQ(ResolveCardFile("keys.txt", "/cards/c.yaml"), "/cards/keys.txt");
  EXPECT_EQ(ResolveCardFile("/abs/keys.txt", "/cards/c.yaml"), "/abs/keys.txt");
}

constexpr const char* kTextCard = R"(card_version: 1
task: text_recognition
weights: trained
preprocessing:
  layout: NCHW
  channels: bgr
  resize: [48, 320]
  max_width: 640
  scale: 1/255
  mean: 0.5
  std: 0.5
  input_dtype: float32
charset: keys.txt
postprocessing:
  decode: ctc_greedy
)";

class TextCardTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(dir_.path() / "keys.txt") << "a\nb\nc\n"; }
  Expected<ModelCard> Parse(const std::string& text) {
    return ParseModelCard(text, dir_.path() / "card.yaml");
  }
  // `text` with `from` replaced by `to` must fail naming `field`.
  void ExpectBad(const std::string& from, const std::string& to, const std::string& field) {
    std::string text = kTextCard;
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    auto c = Parse(text);
    ASSERT_FALSE(c) << "parsed:\n" << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(field), std::string::npos)
        << "expected " << field << " in: " << c.status().message();
    EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << c.status().message();
  }
  TempDir dir_;
};

TEST_F(TextCardTest, GoodCard) {
  auto c = Parse(kTextCard);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kTextRecognition);
  EXPECT_EQ(c->text.charset, (std::vector<std::string>{"", "a", "b", "c", " "}));
  EXPECT_EQ(c->text.charset_path, dir_.path() / "keys.txt");
  EXPECT_EQ(c->text.max_width, 640);
  EXPECT_EQ(c->postprocessing.decode, "ctc_greedy");
  EXPECT_EQ(c->preprocessing.mean, (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST_F(TextCardTest, BadFields) {
  ExpectBad("charset: keys.txt\n", "", "'charset': missing");
  ExpectBad("charset: keys.txt", "charset: nothere.txt", "'charset'");
  ExpectBad("charset: keys.txt", "charset: keys.txt\nlabels: [a]", "'labels' and 'task'");
  ExpectBad("  decode: ctc_greedy\n", "  softmax: false\n", "'postprocessing.decode': missing");
  ExpectBad("decode: ctc_greedy", "decode: beam", "'postprocessing.decode'");
  ExpectBad("  decode: ctc_greedy\n", "  decode: ctc_greedy\n  top_k: 1\n",
            "'postprocessing.top_k': unknown field");
  ExpectBad("max_width: 640", "max_width: 100", "'preprocessing.max_width'");
  ExpectBad("  resize: [48, 320]\n", "", "'preprocessing.resize': missing");
  ExpectBad("charset: keys.txt", "charset: keys.txt\nuse_space_char: maybe", "'use_space_char'");
}

TEST_F(TextCardTest, EmptyCharsetFileIsAnError) {
  std::ofstream(dir_.path() / "empty.txt") << "";
  std::string text = kTextCard;
  text.replace(text.find("keys.txt"), 8, "empty.txt");
  auto c = Parse(text);
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("'charset'"), std::string::npos) << c.status().message();
}

TEST_F(TextCardTest, TextFieldsOnClassificationCardsAreErrors) {
  const std::string cls =
      "card_version: 1\ntask: classification\nweights: trained\npreprocessing:\n  layout: NCHW\n"
      "  channels: gray\n  scale: 1\n  input_dtype: float32\nlabels: [a, b]\n"
      "postprocessing:\n  softmax: false\n";
  ASSERT_TRUE(Parse(cls)) << Parse(cls).status().message();
  auto c = Parse(cls + "charset: keys.txt\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("'charset': only for text_recognition"), std::string::npos)
      << c.status().message();
  c = Parse(cls + "  decode: ctc_greedy\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("'postprocessing.decode'"), std::string::npos)
      << c.status().message();
}

TEST(TextLineDataset, ReadsLabelsAndImages) {
  TempDir dir;
  std::ofstream(dir.path() / "labels.tsv") << "# comment\na.pgm\tHi there\nmissing.pgm\tx\n"
                                           << "bad.pgm\ty\n";
  std::ofstream(dir.path() / "a.pgm", std::ios::binary)
      << "P5\n# c\n3 2\n255\n"
      << std::string("\x00\x10\x20\x30\x40\x50", 6);
  std::ofstream(dir.path() / "bad.pgm", std::ios::binary) << "P5\n3 2\n255\n\x01";
  auto data = OpenTextLineDataset(dir.path());
  ASSERT_TRUE(data) << data.status().message();
  ASSERT_EQ((*data)->size(), 3);
  ImageSample s;
  ASSERT_TRUE((*data)->Get(0, s).ok());
  EXPECT_EQ(s.text, "Hi there");
  EXPECT_EQ(s.width, 3);
  EXPECT_EQ(s.height, 2);
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.pixels, (std::vector<std::uint8_t>{0, 0x10, 0x20, 0x30, 0x40, 0x50}));
  const Status missing = (*data)->Get(1, s);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing.pgm"), std::string::npos) << missing.message();
  const Status bad = (*data)->Get(2, s);
  EXPECT_EQ(bad.code(), StatusCode::kCorrupt) << bad.message();
}

TEST(TextLineDataset, SetLevelErrors) {
  TempDir dir;
  EXPECT_EQ(OpenTextLineDataset(dir.path()).status().code(), StatusCode::kNotFound);
  std::ofstream(dir.path() / "labels.tsv") << "a.pgm\tok\nno tab here\n";
  auto data = OpenTextLineDataset(dir.path());
  ASSERT_FALSE(data);
  EXPECT_NE(data.status().message().find("line 2"), std::string::npos) << data.status().message();
}

TEST(DecodePnm, ColourAndErrors) {
  ImageSample s;
  ASSERT_TRUE(DecodePnm(std::string("P6 1 1 255\n\x01\x02\x03", 14), "x", s).ok());
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(s.pixels, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(DecodePnm("P2 1 1 255\n0", "x", s).code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodePnm("P5 1 1 65535\n\x00\x00", "x", s).code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodePnm("P5 -1 1 255\n", "x", s).code(), StatusCode::kCorrupt);
}

// A uniform grey 10x20 line to height 5: width ceil(5 * 2) = 10, padded to 16 with
// zeros; each value (v/255 - 0.5) / 0.5; BGR from grey is the same in each channel.
TEST(PreprocessTextLine, KeepsAspectAndPadsRight) {
  ModelCard card;
  card.task = CardTask::kTextRecognition;
  card.preprocessing.channels = ChannelOrder::kBgr;
  card.preprocessing.scale = 1.0 / 255.0;
  card.preprocessing.mean = {0.5, 0.5, 0.5};
  card.preprocessing.std = {0.5, 0.5, 0.5};
  TextRecognitionPlan plan;
  plan.height = 5;
  plan.min_width = 16;
  plan.max_width = 32;
  ImageSample s;
  s.height = 10;
  s.width = 20;
  s.pixels.assign(200, 204);
  Tensor t;
  ASSERT_TRUE(PreprocessTextLine(s, card, plan, t).ok());
  EXPECT_EQ(t.shape(), (Shape{1, 3, 5, 16}));
  const auto v = t.as<float>();
  const float expect = static_cast<float>((204.0 / 255.0 - 0.5) / 0.5);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 5; ++y) {
      for (int x = 0; x < 16; ++x) {
        const float got = v[static_cast<std::size_t>((c * 5 + y) * 16 + x)];
        if (x < 10) {
          ASSERT_NEAR(got, expect, 1e-6) << c << " " << y << " " << x;
        } else {
          ASSERT_EQ(got, 0.0f) << c << " " << y << " " << x;
        }
      }
    }
  }
  // Wider than min_width: the input widens; past max_width it is squeezed.
  s.width = 100;  // 5 * 10 = 50 > 32
  s.pixels.assign(1000, 0);
  ASSERT_TRUE(PreprocessTextLine(s, card, plan, t).ok());
  EXPECT_EQ(t.shape(), (Shape{1, 3, 5, 32}));
  s.pixels.resize(10);
  EXPECT_EQ(PreprocessTextLine(s, card, plan, t).code(), StatusCode::kInvalidArgument);
}

TextRecognitionPlan SmallPlan(ModelCard& card) {
  card.task = CardTask::kTextRecognition;
  card.preprocessing.channels = ChannelOrder::kBgr;
  card.preprocessing.scale = 1.0 / 255.0;
  card.preprocessing.mean = {0.5, 0.5, 0.5};
  card.preprocessing.std = {0.5, 0.5, 0.5};
  TextRecognitionPlan plan;
  plan.height = 5;
  plan.min_width = 12;
  plan.max_width = 32;
  return plan;
}

// PaddleOCR's resize_norm_img: input width int(H * w / h) when that exceeds the card's
// width, and the line fills it (ceil(H * w / h) capped at the input width): a 3x10
// line to height 5 is 16.67 wide -> 16 columns, no padding (not 17).
TEST(PreprocessTextLine, WideLinesTakeTheTruncatedWidthLikePaddleOcr) {
  ModelCard card;
  const TextRecognitionPlan plan = SmallPlan(card);
  ImageSample s;
  s.height = 3;
  s.width = 10;
  s.pixels.assign(30, 255);
  Tensor t;
  ASSERT_TRUE(PreprocessTextLine(s, card, plan, t).ok());
  EXPECT_EQ(t.shape(), (Shape{1, 3, 5, 16}));
  for (float v : t.as<float>()) ASSERT_FLOAT_EQ(v, 1.0f);  // white everywhere: no padding
  // Narrower than the card's width: ceil(5 * 2.2) = 11 columns, padded to 12.
  s.width = 11;
  s.height = 5;
  s.pixels.assign(55, 255);
  ASSERT_TRUE(PreprocessTextLine(s, card, plan, t).ok());
  EXPECT_EQ(t.shape(), (Shape{1, 3, 5, 12}));
  EXPECT_FLOAT_EQ(t.as<float>()[10], 1.0f);
  EXPECT_FLOAT_EQ(t.as<float>()[11], 0.0f);
}

// cv2.resize of an 8-bit image returns 8-bit pixels, which PaddleOCR normalises: a
// 1x3 line [0, 7, 0] stretched to 5x15 samples at multiples of 0.2 source pixels, so
// columns get e.g. 7 * 0.2 = 1.4 -> 1 and 7 * 0.6 = 4.2 -> 4; each expected value is
// the bilinear value (half-pixel centres, clamped) rounded half up.
TEST(PreprocessTextLine, RoundsTheResizedPixelsToEightBitsLikeOpenCv) {
  ModelCard card;
  TextRecognitionPlan plan = SmallPlan(card);
  plan.min_width = 15;
  ImageSample s;
  s.height = 1;
  s.width = 3;
  s.pixels = {0, 7, 0};
  Tensor t;
  ASSERT_TRUE(PreprocessTextLine(s, card, plan, t).ok());
  ASSERT_EQ(t.shape(), (Shape{1, 3, 5, 15}));
  const auto v = t.as<float>();
  bool some_fraction = false;
  for (int x = 0; x < 15; ++x) {
    const double sx = std::clamp((x + 0.5) * 3.0 / 15.0 - 0.5, 0.0, 2.0);
    const int x0 = static_cast<int>(sx), x1 = std::min(x0 + 1, 2);
    const double exact = s.pixels[static_cast<std::size_t>(x0)] * (1 - (sx - x0)) +
                         s.pixels[static_cast<std::size_t>(x1)] * (sx - x0);
    const double rounded = std::floor(exact + 0.5);
    some_fraction |= std::abs(exact - rounded) > 0.1;
    ASSERT_NEAR(v[static_cast<std::size_t>(x)], (rounded / 255.0 - 0.5) / 0.5, 1e-6) << x;
  }
  EXPECT_TRUE(some_fraction);  // the case does test the rounding
}

}  // namespace
}  // namespace deepedge
