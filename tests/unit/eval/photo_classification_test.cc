// Classification of photos: the center_crop fit, area-averaged shrinking, int8 / uint8
// outputs, and the labels-file data set of photos.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "deepedge/eval.h"
#include "deepedge/eval_dataset.h"
#include "deepedge/model_card.h"
#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

constexpr const char* kCard = R"(card_version: 1
name: photo_classifier
task: classification
weights: trained
preprocessing:
  layout: NCHW
  channels: gray
  resize: [8, 8]
  fit: center_crop
  crop_fraction: 1
  scale: 1/255
  input_dtype: float32
labels: [a, b, c]
postprocessing:
  softmax: false
  top_k: 3
)";

ModelCard Card(const std::string& text = kCard) {
  Expected<ModelCard> c = ParseModelCard(text, "/cards/photo_classifier.yaml");
  EXPECT_TRUE(c) << c.status().message();
  return c ? *c : ModelCard{};
}

std::string Replace(std::string text, const std::string& find, const std::string& with) {
  const auto at = text.find(find);
  EXPECT_NE(at, std::string::npos) << find;
  if (at != std::string::npos) text.replace(at, find.size(), with);
  return text;
}

// A grey image: white, with a black rectangle [x0, x1) x [y0, y1).
ImageSample Grey(std::int64_t w, std::int64_t h, std::int64_t x0, std::int64_t x1, std::int64_t y0,
                 std::int64_t y1) {
  ImageSample s;
  s.width = w;
  s.height = h;
  s.channels = 1;
  s.pixels.assign(static_cast<std::size_t>(w * h), 255);
  for (std::int64_t y = y0; y < y1; ++y) {
    for (std::int64_t x = x0; x < x1; ++x) s.pixels[static_cast<std::size_t>(y * w + x)] = 0;
  }
  return s;
}

ClassificationPlan Plan() {
  ClassificationPlan plan;
  plan.height = plan.width = 8;
  plan.channels = 1;
  plan.input_shape = Shape{1, 1, 8, 8};
  plan.classes = 3;
  return plan;
}

double Sum(const Tensor& t) {
  double s = 0;
  for (float v : t.as<float>()) s += v;
  return s;
}

TEST(CenterCrop, KeepsTheCentredSquareOfAWideImage) {
  // 32 x 16, white borders 8 wide left and right: the centred 16 x 16 square is black.
  const ImageSample s = Grey(32, 16, 8, 24, 0, 16);
  Tensor input;
  ASSERT_TRUE(PreprocessImage(s, Card(), Plan(), input).ok());
  EXPECT_DOUBLE_EQ(Sum(input), 0.0);
  // Stretched instead, the borders come in.
  Tensor stretched;
  ASSERT_TRUE(PreprocessImage(
                  s, Card(Replace(kCard, "fit: center_crop\n  crop_fraction: 1", "fit: stretch")),
                  Plan(), stretched)
                  .ok());
  EXPECT_GT(Sum(stretched), 10.0);
}

TEST(CenterCrop, FractionCropsTheShorterSide) {
  // 16 x 16, black in the centre 8 x 8: crop_fraction 0.5 keeps only that.
  const ImageSample s = Grey(16, 16, 4, 12, 4, 12);
  Tensor input;
  ASSERT_TRUE(PreprocessImage(s, Card(Replace(kCard, "crop_fraction: 1", "crop_fraction: 0.5")),
                              Plan(), input)
                  .ok());
  EXPECT_DOUBLE_EQ(Sum(input), 0.0);
  ASSERT_TRUE(PreprocessImage(s, Card(), Plan(), input).ok());
  EXPECT_GT(Sum(input), 10.0);
}

TEST(CenterCrop, CardErrors) {
  const struct {
    std::string text;
    const char* needle;
  } cases[] = {
      {Replace(kCard, "crop_fraction: 1", "crop_fraction: 0"), "'preprocessing.crop_fraction'"},
      {Replace(kCard, "fit: center_crop", "fit: stretch"),
       "'preprocessing.crop_fraction' and 'preprocessing.fit' contradict"},
      {Replace(kCard, "fit: center_crop\n  crop_fraction: 1", "fit: letterbox"),
       "letterbox is only for detection"},
      {Replace(kCard, "fit: center_crop", "fit: zoom"), "'preprocessing.fit'"},
  };
  for (const auto& c : cases) {
    Expected<ModelCard> card = ParseModelCard(c.text, "/cards/x.yaml");
    ASSERT_FALSE(card) << c.text;
    EXPECT_NE(card.status().message().find(c.needle), std::string::npos) << card.status().message();
  }
}

TEST(AreaResize, ShrinkingAveragesTheFootprint) {
  // Two-pixel stripes shrunk 8x (stretch): each input pixel is their mean, 0.5; a single
  // bilinear tap would land between two white or two black columns.
  ImageSample s = Grey(64, 64, 0, 0, 0, 0);
  for (std::int64_t y = 0; y < 64; ++y) {
    for (std::int64_t x = 0; x < 64; ++x) {
      if ((x + 1) / 2 % 2 == 0) s.pixels[static_cast<std::size_t>(y * 64 + x)] = 0;
    }
  }
  Tensor input;
  ASSERT_TRUE(PreprocessImage(
                  s, Card(Replace(kCard, "fit: center_crop\n  crop_fraction: 1", "fit: stretch")),
                  Plan(), input)
                  .ok());
  for (float v : input.as<float>()) ASSERT_NEAR(v, 0.5f, 1e-6f);
}

// A classifier with an int8 output [1, 3] quantized with scale 0.5, zero point 10.
class Int8Classifier final : public Session {
 public:
  explicit Int8Classifier(bool quantized) {
    inputs_.push_back({"image", DType::kF32, Shape{1, 1, 8, 8}});
    TensorInfo out{"logits", DType::kI8, Shape{1, 3}};
    if (quantized) out.quantization = QuantizationInfo{{0.5f}, {10}, std::nullopt};
    outputs_.push_back(out);
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor>, std::vector<Tensor>& outputs) override {
    outputs.clear();
    outputs.push_back(Tensor::Allocate(DType::kI8, Shape{1, 3}).value());
    const std::int8_t q[3] = {10, 30, 20};  // 0, 10, 5 after dequantization
    std::copy(q, q + 3, outputs[0].as<std::int8_t>().begin());
    return Status::Ok();
  }

 private:
  std::vector<TensorInfo> inputs_, outputs_;
};

class OnePhoto final : public ImageDataset {
 public:
  std::string Description() const override { return "one"; }
  std::int64_t size() const override { return 1; }
  Status Get(std::int64_t i, ImageSample& out) const override {
    out = Grey(8, 8, 0, 0, 0, 0);
    out.index = i;
    out.label = 1;
    return Status::Ok();
  }
};

TEST(Int8Outputs, AreDequantizedWithTheModelsScaleAndZeroPoint) {
  Int8Classifier model(/*quantized=*/true);
  Expected<ClassificationPlan> plan = PlanClassification(model, Card());
  ASSERT_TRUE(plan) << plan.status().message();
  EXPECT_EQ(plan->output_dtype, DType::kI8);
  EXPECT_DOUBLE_EQ(plan->output_scale, 0.5);
  EXPECT_EQ(plan->output_zero_point, 10);
  Expected<ClassificationEval> r = EvaluateClassification(model, Card(), OnePhoto(), {});
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->top1.successes, 1);
  EXPECT_NE(r->predictions.find("\t1:10 2:5 0:0\n"), std::string::npos) << r->predictions;
  // Without recorded quantization the raw values rank the classes the same way.
  Int8Classifier raw(/*quantized=*/false);
  r = EvaluateClassification(raw, Card(), OnePhoto(), {});
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_NE(r->predictions.find("\t1:30 2:20 0:10\n"), std::string::npos) << r->predictions;
}

TEST(ImageListDataset, ReadsClassesAndNamesBadLines) {
  TempDir dir;
  dir.Write("a.ppm", "P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06");
  const auto labels = dir.Write("photos.tsv", "# photos\na.ppm\t2\tclass c\nmissing.ppm\t0\n");
  Expected<std::unique_ptr<ImageDataset>> data = OpenImageListDataset(labels);
  ASSERT_TRUE(data) << data.status().message();
  ASSERT_EQ((*data)->size(), 2);
  ImageSample s;
  ASSERT_TRUE((*data)->Get(0, s).ok());
  EXPECT_EQ(s.label, 2);
  EXPECT_EQ(s.width, 2);
  EXPECT_EQ(s.pixels[5], 6);
  const Status missing = (*data)->Get(1, s);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("missing.ppm"), std::string::npos) << missing.message();
  for (const char* bad : {"a.ppm\tcat\n", "a.ppm\t-1\n", "a.ppm 2\n", "a.ppm\t\n"}) {
    const auto f = dir.Write("bad.tsv", bad);
    Expected<std::unique_ptr<ImageDataset>> b = OpenImageListDataset(f);
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(b.status().message().find("line 1"), std::string::npos) << b.status().message();
  }
}

}  // namespace
}  // namespace deepedge
