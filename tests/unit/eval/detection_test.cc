// Detection evaluation: the card's detection fields, the anchor grid, IoU, NMS, VOC
// matching, average precision, letterbox preprocessing and decoding, the labels-file data
// set, JPEG decoding, and the whole loop on a fake detector that finds bright squares.
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "deepedge/eval.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/model_card.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

// A BlazeFace-like card: 64x64 input, one 8-pixel stride with 2 anchors a cell.
constexpr const char* kCard = R"(card_version: 1
name: tiny_detector
task: detection
weights: trained
preprocessing:
  input: image
  layout: NHWC
  channels: rgb
  resize: [64, 64]
  fit: letterbox
  scale: 1/127.5
  mean: [1]
  std: [1]
  input_dtype: float32
labels: [square]
postprocessing:
  decode: ssd_anchors
  boxes_output: boxes
  scores_output: scores
  anchors: {strides: [8], per_cell: [2], offset: 0.5}
  box_scale: 64
  scores: logits
  score_threshold: 0.5
  nms: weighted
  nms_iou: 0.3
  max_detections: 10
  match_iou: 0.5
)";

ModelCard GoodCard() {
  Expected<ModelCard> c = ParseModelCard(kCard, "/cards/tiny_detector.yaml");
  EXPECT_TRUE(c) << c.status().message();
  return c ? *c : ModelCard{};
}

std::string Replace(std::string text, const std::string& find, const std::string& with) {
  const auto at = text.find(find);
  EXPECT_NE(at, std::string::npos) << find;
  if (at != std::string::npos) text.replace(at, find.size(), with);
  return text;
}

TEST(DetectionCard, ParsesEveryField) {
  const ModelCard c = GoodCard();
  EXPECT_EQ(c.task, CardTask::kDetection);
  EXPECT_EQ(c.preprocessing.fit, ResizeFit::kLetterbox);
  const CardDetection& d = c.detection;
  EXPECT_EQ(d.boxes_output, "boxes");
  EXPECT_EQ(d.scores_output, "scores");
  EXPECT_EQ(d.anchor_strides, std::vector<std::int64_t>{8});
  EXPECT_EQ(d.anchors_per_cell, std::vector<std::int64_t>{2});
  EXPECT_DOUBLE_EQ(d.box_scale, 64);
  EXPECT_TRUE(d.logits);
  EXPECT_TRUE(d.weighted_nms);
  EXPECT_DOUBLE_EQ(d.nms_iou, 0.3);
  EXPECT_EQ(d.max_detections, 10);
}

TEST(DetectionCard, BadFieldsAreNamed) {
  struct Case {
    const char* find;
    const char* replace;
    const char* field;
  };
  const Case cases[] = {
      {"labels: [square]", "labels: [a, b]", "'labels'"},
      {"  decode: ssd_anchors\n", "", "'postprocessing.decode': missing"},
      {"decode: ssd_anchors", "decode: yolo", "'postprocessing.decode'"},
      {"  boxes_output: boxes\n", "", "'postprocessing.boxes_output': missing"},
      {"per_cell: [2]", "per_cell: [2, 6]", "'postprocessing.anchors.per_cell'"},
      {"strides: [8]", "strides: [0]", "'postprocessing.anchors.strides[0]'"},
      {"offset: 0.5", "offset: 2", "'postprocessing.anchors.offset'"},
      {"  box_scale: 64\n", "", "'postprocessing.box_scale': missing"},
      {"scores: logits", "scores: odds", "'postprocessing.scores'"},
      {"nms: weighted", "nms: soft", "'postprocessing.nms'"},
      {"nms_iou: 0.3", "nms_iou: 1.5", "'postprocessing.nms_iou'"},
      {"max_detections: 10", "max_detections: 0", "'postprocessing.max_detections'"},
      {"score_threshold: 0.5", "score_threshold: -1", "'postprocessing.score_threshold'"},
      {"fit: letterbox", "fit: crop", "'preprocessing.fit'"},
      {"  resize: [64, 64]\n", "", "'preprocessing.fit' and 'preprocessing.resize' contradict"},
      {"  match_iou: 0.5\n", "  match_iou: 0.5\n  top_k: 3\n", "'postprocessing.top_k'"},
  };
  for (const Case& c : cases) {
    Expected<ModelCard> card = ParseModelCard(Replace(kCard, c.find, c.replace), "/cards/x.yaml");
    ASSERT_FALSE(card) << c.replace;
    EXPECT_NE(card.status().message().find(c.field), std::string::npos)
        << "expected " << c.field << " in: " << card.status().message();
    EXPECT_NE(card.status().message().find("/cards/x.yaml"), std::string::npos);
  }
}

TEST(DetectionCard, LetterboxOnlyForDetection) {
  std::string text = Replace(kCard, "task: detection", "task: classification");
  text = Replace(text, "postprocessing:\n", "postprocessing:\n  softmax: false\n");
  Expected<ModelCard> c = ParseModelCard(text, "/cards/x.yaml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("'preprocessing.fit'"), std::string::npos)
      << c.status().message();
}

TEST(SsdAnchors, BlazeFaceGridsHaveTheModelsAnchorCounts) {
  CardDetection short_range;
  short_range.anchor_strides = {8, 16};
  short_range.anchors_per_cell = {2, 6};
  const auto a = MakeSsdAnchors(short_range, 128, 128);
  ASSERT_EQ(a.size(), 896u);  // 16*16*2 + 8*8*6: face_detection_short_range's rows
  EXPECT_DOUBLE_EQ(a[0].x, 0.5 / 16);
  EXPECT_DOUBLE_EQ(a[1].x, 0.5 / 16);  // two anchors share a cell
  EXPECT_DOUBLE_EQ(a[2].x, 1.5 / 16);
  EXPECT_DOUBLE_EQ(a[32].y, 1.5 / 16);  // the second row
  EXPECT_DOUBLE_EQ(a[512].x, 0.5 / 8);  // the stride-16 map starts
  EXPECT_DOUBLE_EQ(a[895].x, 7.5 / 8);
  EXPECT_DOUBLE_EQ(a[895].y, 7.5 / 8);
  CardDetection full_range;
  full_range.anchor_strides = {4};
  full_range.anchors_per_cell = {1};
  EXPECT_EQ(MakeSsdAnchors(full_range, 192, 192).size(), 2304u);
}

TEST(BoxIou, KnownOverlaps) {
  const LabelledBox a{0, 0, 10, 10};
  EXPECT_DOUBLE_EQ(BoxIou(a, a), 1.0);
  EXPECT_DOUBLE_EQ(BoxIou(a, {10, 0, 20, 10}), 0.0);        // touching
  EXPECT_DOUBLE_EQ(BoxIou(a, {5, 0, 15, 10}), 50.0 / 150);  // half of each
  EXPECT_DOUBLE_EQ(BoxIou(a, {2, 2, 4, 4}), 4.0 / 100);     // inside
  EXPECT_DOUBLE_EQ(BoxIou(a, {5, 5, 5, 5}), 0.0);           // empty
}

TEST(NonMaxSuppression, HardKeepsTheBestOfEachCluster) {
  const std::vector<ScoredBox> in = {{{1, 0, 11, 10}, 0.6},
                                     {{0, 0, 10, 10}, 0.9},
                                     {{50, 50, 60, 60}, 0.7},
                                     {{5, 0, 15, 10}, 0.8}};  // IoU 1/3 with the best
  const auto out = NonMaxSuppression(in, 0.3, /*weighted=*/false, 10);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0].score, 0.9);
  EXPECT_DOUBLE_EQ(out[0].box.x_min, 0);
  EXPECT_DOUBLE_EQ(out[1].score, 0.7);
  // A stricter IoU keeps the third box (IoU 1/3) as its own detection.
  EXPECT_EQ(NonMaxSuppression(in, 0.4, false, 10).size(), 3u);
  EXPECT_EQ(NonMaxSuppression(in, 0.4, false, 1).size(), 1u);
}

TEST(NonMaxSuppression, WeightedBlendsTheClusterByScore) {
  const std::vector<ScoredBox> in = {{{0, 0, 10, 10}, 0.75}, {{2, 0, 12, 10}, 0.25}};
  const auto out = NonMaxSuppression(in, 0.3, /*weighted=*/true, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_DOUBLE_EQ(out[0].score, 0.75);
  EXPECT_DOUBLE_EQ(out[0].box.x_min, 0.5);  // 0.75 * 0 + 0.25 * 2
  EXPECT_DOUBLE_EQ(out[0].box.x_max, 10.5);
  EXPECT_DOUBLE_EQ(out[0].box.y_max, 10);
}

TEST(MatchDetections, GreedyByScoreOneDetectionPerBox) {
  const std::vector<LabelledBox> truth = {{0, 0, 10, 10}, {100, 100, 110, 110}};
  const std::vector<ScoredBox> dets = {{{0, 0, 10, 10}, 0.9},        // matches box 0
                                       {{1, 0, 11, 10}, 0.8},        // box 0 is taken
                                       {{100, 100, 120, 110}, 0.7},  // IoU 0.5 exactly
                                       {{200, 200, 210, 210}, 0.6}};
  EXPECT_EQ(MatchDetections(dets, truth, 0.5), (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(MatchDetections(dets, truth, 0.51), (std::vector<bool>{true, false, false, false}));
  EXPECT_TRUE(MatchDetections(dets, {}, 0.5) == std::vector<bool>(4, false));
}

TEST(AveragePrecision, AllPointInterpolation) {
  // Ranked TP, FP, TP over 3 boxes: precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3;
  // made monotone: 1, 2/3, 2/3. AP = 1/3 * 1 + 1/3 * 2/3.
  const std::vector<ScoredMatch> m = {{0.7, true}, {0.9, true}, {0.8, false}};
  EXPECT_NEAR(AveragePrecision(m, 3), 1.0 / 3 + 2.0 / 9, 1e-12);
  EXPECT_DOUBLE_EQ(AveragePrecision({{0.5, true}, {0.4, true}}, 2), 1.0);
  EXPECT_DOUBLE_EQ(AveragePrecision({{0.5, false}}, 2), 0.0);
  EXPECT_DOUBLE_EQ(AveragePrecision({}, 0), 0.0);
}

// A 3-channel image of `w` x `h`, grey 0, with white rectangles.
ImageSample Picture(std::int64_t w, std::int64_t h, const std::vector<LabelledBox>& white) {
  ImageSample s;
  s.width = w;
  s.height = h;
  s.channels = 3;
  s.pixels.assign(static_cast<std::size_t>(w * h * 3), 0);
  for (const LabelledBox& b : white) {
    for (auto y = static_cast<std::int64_t>(b.y_min); y < static_cast<std::int64_t>(b.y_max); ++y) {
      for (auto x = static_cast<std::int64_t>(b.x_min); x < static_cast<std::int64_t>(b.x_max);
           ++x) {
        for (int c = 0; c < 3; ++c) s.pixels[static_cast<std::size_t>((y * w + x) * 3 + c)] = 255;
      }
    }
  }
  return s;
}

DetectionPlan PlanFor(const ModelCard& card) {
  DetectionPlan plan;
  plan.height = plan.width = 64;
  plan.channels = 3;
  plan.boxes_output = 0;
  plan.scores_output = 1;
  plan.anchors = MakeSsdAnchors(card.detection, 64, 64);
  return plan;
}

TEST(DetectionPreprocess, LetterboxPadsBlackAndPlacesTheImage) {
  const ModelCard card = GoodCard();
  const DetectionPlan plan = PlanFor(card);
  // 128 x 64, all white: scale 0.5, 16 black rows above and below.
  ImageSample s = Picture(128, 64, {{0, 0, 128, 64}});
  Tensor input;
  Expected<InputPlacement> p = PreprocessDetectionImage(s, card, plan, input);
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_DOUBLE_EQ(p->scale_x, 0.5);
  EXPECT_DOUBLE_EQ(p->scale_y, 0.5);
  EXPECT_DOUBLE_EQ(p->pad_x, 0);
  EXPECT_DOUBLE_EQ(p->pad_y, 16);
  ASSERT_EQ(input.shape(), (Shape{1, 64, 64, 3}));
  const auto v = input.as<float>();
  auto at = [&](int y, int x) { return v[static_cast<std::size_t>((y * 64 + x) * 3)]; };
  EXPECT_FLOAT_EQ(at(0, 10), -1.0f);  // padding: black
  EXPECT_FLOAT_EQ(at(15, 10), -1.0f);
  EXPECT_FLOAT_EQ(at(16, 10), 1.0f);  // the image: white
  EXPECT_FLOAT_EQ(at(47, 63), 1.0f);
  EXPECT_FLOAT_EQ(at(48, 10), -1.0f);
}

TEST(DetectionPreprocess, LargeShrinkAveragesInsteadOfAliasing) {
  const ModelCard card = GoodCard();
  const DetectionPlan plan = PlanFor(card);
  // Two-pixel stripes shrunk 8x: each input pixel covers two periods, so it is their
  // mean (grey, 0 after normalisation); a single bilinear tap at the footprint's centre
  // lands between two black columns (-1).
  ImageSample s = Picture(512, 512, {});
  for (std::int64_t y = 0; y < 512; ++y) {
    for (std::int64_t x = 0; x < 512; ++x) {
      if ((x + 1) / 2 % 2 == 0) continue;
      for (int c = 0; c < 3; ++c) s.pixels[static_cast<std::size_t>((y * 512 + x) * 3 + c)] = 255;
    }
  }
  Tensor input;
  ASSERT_TRUE(PreprocessDetectionImage(s, card, plan, input));
  for (float v : input.as<float>()) ASSERT_NEAR(v, 0.0f, 0.05f);
}

TEST(DetectionDecode, AnchorOffsetsMapBackThroughTheLetterbox) {
  const ModelCard card = GoodCard();
  const DetectionPlan plan = PlanFor(card);
  const auto n = static_cast<std::int64_t>(plan.anchors.size());
  Tensor boxes = Tensor::Allocate(DType::kF32, Shape{1, n, 4}).value();
  Tensor scores = Tensor::Allocate(DType::kF32, Shape{1, n, 1}).value();
  for (float& v : scores.as<float>()) v = -10;
  // Anchor 2 * (3 * 8 + 5) sits at cell (row 3, col 5): centre (5.5 / 8, 3.5 / 8) of
  // the input. Offset it by (+4, -2) input pixels, size 16 x 8 input pixels.
  const std::int64_t a = 2 * (3 * 8 + 5);
  float* r = boxes.as<float>().data() + a * 4;
  r[0] = 4;
  r[1] = -2;
  r[2] = 16;
  r[3] = 8;
  scores.as<float>()[static_cast<std::size_t>(a)] = 2;  // sigmoid 0.881
  // The image placed at half size, 16 rows down (a 128 x 64 image).
  const InputPlacement place{0.5, 0.5, 0, 16};
  Expected<std::vector<ScoredBox>> d = DecodeSsdDetections(card, plan, boxes, scores, place, 0.5);
  ASSERT_TRUE(d) << d.status().message();
  ASSERT_EQ(d->size(), 1u);
  const double cx = 5.5 * 8 + 4, cy = 3.5 * 8 - 2;  // input pixels
  EXPECT_NEAR((*d)[0].box.x_min, (cx - 8) / 0.5, 1e-9);
  EXPECT_NEAR((*d)[0].box.x_max, (cx + 8) / 0.5, 1e-9);
  EXPECT_NEAR((*d)[0].box.y_min, (cy - 4 - 16) / 0.5, 1e-9);
  EXPECT_NEAR((*d)[0].box.y_max, (cy + 4 - 16) / 0.5, 1e-9);
  EXPECT_NEAR((*d)[0].score, 1 / (1 + std::exp(-2.0)), 1e-12);
  // Below the threshold: nothing; a wrong-sized output: an error naming the card.
  EXPECT_TRUE(DecodeSsdDetections(card, plan, boxes, scores, place, 0.9)->empty());
  Tensor short_scores = Tensor::Allocate(DType::kF32, Shape{1, n - 1, 1}).value();
  Expected<std::vector<ScoredBox>> bad =
      DecodeSsdDetections(card, plan, boxes, short_scores, place, 0.5);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("tiny_detector.yaml"), std::string::npos);
}

// Finds the white pixels of its input and reports their bounding box at the nearest
// anchor, the way a trained SSD head would; every other anchor scores low.
class FakeSquareDetector final : public Session {
 public:
  explicit FakeSquareDetector(const ModelCard& card)
      : anchors_(MakeSsdAnchors(card.detection, 64, 64)) {
    inputs_.push_back({"image", DType::kF32, Shape{1, 64, 64, 3}});
    const auto n = static_cast<std::int64_t>(anchors_.size());
    outputs_.push_back({"boxes", DType::kF32, Shape{1, n, 16}});
    outputs_.push_back({"scores", DType::kF32, Shape{1, n, 1}});
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    const auto v = inputs[0].as<float>();
    double x0 = 64, y0 = 64, x1 = 0, y1 = 0;
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) {
        if (v[static_cast<std::size_t>((y * 64 + x) * 3)] > 0) {
          x0 = std::min<double>(x0, x);
          y0 = std::min<double>(y0, y);
          x1 = std::max<double>(x1, x + 1);
          y1 = std::max<double>(y1, y + 1);
        }
      }
    }
    const auto n = static_cast<std::int64_t>(anchors_.size());
    outputs.clear();
    outputs.push_back(Tensor::Allocate(DType::kF32, Shape{1, n, 16}).value());
    outputs.push_back(Tensor::Allocate(DType::kF32, Shape{1, n, 1}).value());
    for (float& s : outputs[1].as<float>()) s = -6;
    if (x1 <= x0) return Status::Ok();
    const double cx = (x0 + x1) / 2 / 64, cy = (y0 + y1) / 2 / 64;
    std::size_t best = 0;
    for (std::size_t a = 1; a < anchors_.size(); ++a) {
      if (std::hypot(anchors_[a].x - cx, anchors_[a].y - cy) <
          std::hypot(anchors_[best].x - cx, anchors_[best].y - cy)) {
        best = a;
      }
    }
    float* r = outputs[0].as<float>().data() + best * 16;
    r[0] = static_cast<float>((cx - anchors_[best].x) * 64);
    r[1] = static_cast<float>((cy - anchors_[best].y) * 64);
    r[2] = static_cast<float>(x1 - x0);
    r[3] = static_cast<float>(y1 - y0);
    outputs[1].as<float>()[best] = 4;
    return Status::Ok();
  }

 private:
  std::vector<AnchorCentre> anchors_;
  std::vector<TensorInfo> inputs_, outputs_;
};

// A binary PPM of the picture.
std::string Ppm(const ImageSample& s) {
  std::string out = "P6\n" + std::to_string(s.width) + " " + std::to_string(s.height) + "\n255\n";
  out.append(s.pixels.begin(), s.pixels.end());
  return out;
}

TEST(EvaluateDetection, FindsTheSquaresAndCountsTheMisses) {
  TempDir dir;
  // Square in a wide image (letterboxed), one in a tall image, and an image whose
  // labelled box was never drawn (a miss); the fourth line's image does not exist.
  dir.Write("wide.ppm", Ppm(Picture(256, 128, {{40, 30, 104, 94}})));
  dir.Write("tall.ppm", Ppm(Picture(100, 200, {{20, 120, 60, 160}})));
  dir.Write("empty.ppm", Ppm(Picture(64, 64, {})));
  const auto labels = dir.Write("labels.tsv",
                                "# test set\n"
                                "wide.ppm\t40,30,104,94\n"
                                "tall.ppm\t20,120,60,160\n"
                                "empty.ppm\t10,10,30,30\n"
                                "absent.ppm\t-\n");
  Expected<std::unique_ptr<ImageDataset>> data = OpenDetectionDataset(labels);
  ASSERT_TRUE(data) << data.status().message();
  EXPECT_EQ((*data)->size(), 4);
  const ModelCard card = GoodCard();
  FakeSquareDetector detector(card);
  EvalOptions options;
  options.keep_going = true;
  Expected<DetectionEval> r = EvaluateDetection(detector, card, **data, options);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->samples_evaluated, 3);
  ASSERT_EQ(r->bad_samples.size(), 1u);
  EXPECT_NE(r->bad_samples[0].reason.find("absent.ppm"), std::string::npos);
  EXPECT_EQ(r->objects, 3);
  EXPECT_EQ(r->recall.successes, 2);
  EXPECT_EQ(r->precision.successes, 2);
  EXPECT_EQ(r->precision.trials, 2);
  EXPECT_NEAR(r->average_precision, 2.0 / 3, 1e-12);
  EXPECT_LE(r->ap_ci_low, r->average_precision);
  EXPECT_GE(r->ap_ci_high, r->average_precision);
  EXPECT_NE(r->predictions.find("wide.ppm\t1\t1\t"), std::string::npos) << r->predictions;
  // Without --keep-going the absent image ends the run, naming it.
  Expected<DetectionEval> strict = EvaluateDetection(detector, card, **data, EvalOptions{});
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.status().message().find("absent.ppm"), std::string::npos);
}

TEST(EvaluateDetection, PlanChecksTheModelAgainstTheCard) {
  ModelCard card = GoodCard();
  card.detection.anchors_per_cell = {3};  // 192 anchors, the fake has 128
  FakeSquareDetector detector(GoodCard());
  Expected<DetectionPlan> p = PlanDetection(detector, card);
  ASSERT_FALSE(p);
  EXPECT_NE(p.status().message().find("'postprocessing.anchors'"), std::string::npos)
      << p.status().message();
  card = GoodCard();
  card.detection.scores_output = "logits";
  p = PlanDetection(detector, card);
  ASSERT_FALSE(p);
  EXPECT_NE(p.status().message().find("no output 'logits'"), std::string::npos)
      << p.status().message();
}

TEST(DetectionDataset, BadLinesAreNamed) {
  TempDir dir;
  const struct {
    const char* text;
    const char* needle;
  } cases[] = {
      {"a.ppm 1,2,3,4\n", "line 1: expected IMAGE<TAB>BOXES"},
      {"# c\na.ppm\t1,2,3\n", "line 2: box '1,2,3'"},
      {"a.ppm\t1,2,3,x\n", "box '1,2,3,x'"},
      {"a.ppm\t5,2,3,4\n", "is empty"},
      {"a.ppm\t \n", "no boxes"},
  };
  for (const auto& c : cases) {
    const auto labels = dir.Write("labels.tsv", c.text);
    Expected<std::unique_ptr<ImageDataset>> data = OpenDetectionDataset(labels);
    ASSERT_FALSE(data) << c.text;
    EXPECT_NE(data.status().message().find(c.needle), std::string::npos) << data.status().message();
  }
  EXPECT_EQ(OpenDetectionDataset(dir / "none.tsv").status().code(), StatusCode::kNotFound);
}

TEST(DetectionDataset, FixtureImagesResolveUnderTheFixtureCache) {
  TempDir dir;
  dir.Write("cache/pkg@1/package/x.ppm", Ppm(Picture(8, 4, {})));
  const auto labels = dir.Write("labels.tsv", "fixture:pkg@1/package/x.ppm\t1,1,3,3 4,1,6,3\n");
  ::setenv("DEEPEDGE_FIXTURES", (dir / "cache").c_str(), 1);
  Expected<std::unique_ptr<ImageDataset>> data = OpenDetectionDataset(labels);
  ASSERT_TRUE(data) << data.status().message();
  ImageSample s;
  const Status st = (*data)->Get(0, s);
  ::unsetenv("DEEPEDGE_FIXTURES");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(s.width, 8);
  EXPECT_EQ(s.height, 4);
  ASSERT_EQ(s.boxes.size(), 2u);
  EXPECT_DOUBLE_EQ(s.boxes[1].x_min, 4);
  EXPECT_EQ(s.name, "fixture:pkg@1/package/x.ppm");
}

// A JPEG of a horizontal grey ramp, written with libjpeg.
std::string EncodeJpeg(int width, int height, int components) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = static_cast<JDIMENSION>(width);
  c.image_height = static_cast<JDIMENSION>(height);
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<unsigned char> row(static_cast<std::size_t>(width * components));
  while (c.next_scanline < c.image_height) {
    for (int x = 0; x < width; ++x) {
      for (int k = 0; k < components; ++k) {
        row[static_cast<std::size_t>(x * components + k)] =
            static_cast<unsigned char>(x * 255 / (width - 1));
      }
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&c, &p, 1);
  }
  jpeg_finish_compress(&c);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  jpeg_destroy_compress(&c);
  std::free(buffer);
  return out;
}

TEST(DecodeJpeg, ColourAndGreyRamps) {
  for (int components : {1, 3}) {
    const std::string jpeg = EncodeJpeg(64, 16, components);
    ImageSample s;
    const Status st = DecodeJpeg(jpeg, "ramp", s);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(s.width, 64);
    EXPECT_EQ(s.height, 16);
    EXPECT_EQ(s.channels, components);
    for (int x = 0; x < 64; x += 9) {
      const int want = x * 255 / 63;
      EXPECT_NEAR(s.pixels[static_cast<std::size_t>((8 * 64 + x) * components)], want, 6) << x;
    }
  }
}

TEST(DecodeJpeg, BadBytesAreCorruptNeverACrash) {
  ImageSample s;
  EXPECT_EQ(DecodeJpeg("not a jpeg", "x", s).code(), StatusCode::kCorrupt);
  const std::string good = EncodeJpeg(32, 32, 3);
  // A header cut short, and bytes flipped all over: an error or an image, never a crash.
  const Status cut = DecodeJpeg(good.substr(0, 40), "cut", s);
  EXPECT_EQ(cut.code(), StatusCode::kCorrupt) << cut.message();
  EXPECT_NE(cut.message().find("cut"), std::string::npos);
  for (std::size_t at = 2; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5A);
    const Status st = DecodeJpeg(bad, "flipped", s);
    if (st.ok()) {
      EXPECT_EQ(s.pixels.size(), static_cast<std::size_t>(s.width * s.height * s.channels));
    } else {
      EXPECT_EQ(st.code(), StatusCode::kCorrupt);
    }
  }
}

}  // namespace
}  // namespace deepedge
