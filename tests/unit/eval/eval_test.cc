#include "deepedge/eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace deepedge {
namespace {

// A classifier whose answer follows from its input: class c scores -|mean - c|, where
// mean is the mean input value (so an image of grey 100 * c, scaled by 1/100, is
// class c). Records every input it is given.
class FakeClassifier final : public Session {
 public:
  FakeClassifier(Shape input_shape, std::int64_t classes, DType dtype = DType::kF32)
      : classes_(classes) {
    inputs_.push_back({"image", dtype, std::move(input_shape)});
    outputs_.push_back({"scores", DType::kF32, Shape{1, classes}});
  }
  const std::vector<TensorInfo>& Inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& Outputs() const override { return outputs_; }
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (runs == fail_at) return Internal("fake failure");
    ++runs;
    const Tensor& in = inputs[0];
    if (in.dtype() != DType::kF32) return Internal("fake takes float");
    double mean = 0;
    for (float v : in.as<float>()) mean += v;
    mean /= static_cast<double>(in.element_count());
    seen_means.push_back(mean);
    outputs.resize(1);
    Expected<Tensor> out = Tensor::Allocate(DType::kF32, Shape{1, classes_});
    if (!out) return out.status();
    for (std::int64_t c = 0; c < classes_; ++c) {
      out->as<float>()[static_cast<std::size_t>(c)] =
          static_cast<float>(-std::abs(mean - static_cast<double>(c)));
    }
    outputs[0] = std::move(out).value();
    return Status::Ok();
  }

  int runs = 0;
  int fail_at = -1;
  std::vector<double> seen_means;

 private:
  std::int64_t classes_;
  std::vector<TensorInfo> inputs_, outputs_;
};

// Samples held in memory; an entry with a non-OK status is unreadable.
class MemoryDataset final : public ImageDataset {
 public:
  void Add(std::int64_t h, std::int64_t w, std::uint8_t grey, std::int64_t label) {
    ImageSample s;
    s.height = h;
    s.width = w;
    s.channels = 1;
    s.pixels.assign(static_cast<std::size_t>(h * w), grey);
    s.label = label;
    samples_.push_back({s, Status::Ok()});
  }
  void AddUnreadable(std::string why) { samples_.push_back({{}, Corrupt(std::move(why))}); }
  std::string Description() const override { return "memory"; }
  std::int64_t size() const override { return static_cast<std::int64_t>(samples_.size()); }
  Status Get(std::int64_t i, ImageSample& out) const override {
    const auto& [s, status] = samples_[static_cast<std::size_t>(i)];
    if (!status.ok()) return status;
    out = s;
    out.index = i;
    return Status::Ok();
  }

 private:
  std::vector<std::pair<ImageSample, Status>> samples_;
};

ModelCard Card(int classes, InputLayout layout = InputLayout::kNCHW,
               ChannelOrder channels = ChannelOrder::kGray) {
  ModelCard c;
  c.path = "/cards/fake.yaml";
  c.preprocessing.layout = layout;
  c.preprocessing.channels = channels;
  c.preprocessing.scale = 0.01;
  const auto n = static_cast<std::size_t>(ChannelCount(channels));
  c.preprocessing.mean.assign(n, 0.0);
  c.preprocessing.std.assign(n, 1.0);
  for (int i = 0; i < classes; ++i) c.labels.push_back("c" + std::to_string(i));
  c.postprocessing.top_k = std::min(classes, 5);
  return c;
}

int CountLines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(PlanClassification, ResolvesInputAndOutput) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  Expected<ClassificationPlan> p = PlanClassification(m, Card(3));
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_EQ(p->input_shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(p->height, 2);
  EXPECT_EQ(p->width, 2);
  EXPECT_EQ(p->channels, 1);
  EXPECT_EQ(p->classes, 3);

  FakeClassifier dynamic(Shape{Shape::kDynamic, 3, Shape::kDynamic, Shape::kDynamic}, 3);
  ModelCard c = Card(3, InputLayout::kNCHW, ChannelOrder::kRgb);
  c.preprocessing.resize_height = 8;
  c.preprocessing.resize_width = 6;
  p = PlanClassification(dynamic, c);
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_EQ(p->input_shape, (Shape{1, 3, 8, 6}));
}

// Card against model: each contradiction names the card file and the card field.
TEST(PlanClassification, CardContradictingTheModel) {
  struct Case {
    const char* field;
    ModelCard card;
    Shape shape;
  };
  ModelCard labels = Card(4);
  ModelCard layout = Card(3, InputLayout::kNHWC);  // the model is NCHW [1, 1, 2, 2]
  ModelCard rgb = Card(3, InputLayout::kNCHW, ChannelOrder::kRgb);
  ModelCard dtype = Card(3);
  dtype.preprocessing.input_dtype = DType::kU8;
  dtype.preprocessing.input_quantization = InputQuantization{};
  ModelCard input = Card(3);
  input.preprocessing.input_name = "pixels";
  ModelCard output = Card(3);
  output.postprocessing.output_name = "logits";
  ModelCard resize = Card(3);
  resize.preprocessing.resize_height = resize.preprocessing.resize_width = 4;
  const Case cases[] = {
      {"'labels'", std::move(labels), Shape{1, 1, 2, 2}},
      {"'preprocessing.channels'", std::move(layout), Shape{1, 1, 2, 3}},
      {"'preprocessing.channels'", std::move(rgb), Shape{1, 1, 2, 2}},
      {"'preprocessing.input_dtype'", std::move(dtype), Shape{1, 1, 2, 2}},
      {"'preprocessing.input'", std::move(input), Shape{1, 1, 2, 2}},
      {"'postprocessing.output'", std::move(output), Shape{1, 1, 2, 2}},
      {"'preprocessing.resize'", std::move(resize), Shape{1, 1, 2, 2}},
      {"'preprocessing.resize': missing", Card(3), Shape{1, 1, Shape::kDynamic, 2}},
      {"'preprocessing.layout'", Card(3), Shape{1, 4}},
  };
  for (const Case& c : cases) {
    FakeClassifier m(c.shape, 3);
    Expected<ClassificationPlan> p = PlanClassification(m, c.card);
    ASSERT_FALSE(p) << c.field;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.field), std::string::npos) << p.status().message();
    EXPECT_NE(p.status().message().find("/cards/fake.yaml"), std::string::npos);
  }
}

// Reference: the value the card's formula gives for channel c of pixel v.
float Ref(const CardPreprocessing& p, double v, int c) {
  return static_cast<float>((v * p.scale - p.mean[static_cast<std::size_t>(c)]) /
                            p.std[static_cast<std::size_t>(c)]);
}

TEST(PreprocessImage, LayoutsAndChannelOrders) {
  ImageSample s;
  s.height = 1;
  s.width = 2;
  s.channels = 3;
  s.pixels = {10, 20, 30, 40, 50, 60};  // HWC: (r, g, b) of two pixels
  struct Case {
    InputLayout layout;
    ChannelOrder order;
    Shape shape;
    std::vector<float> want;
  } cases[] = {
      {InputLayout::kNCHW, ChannelOrder::kRgb, Shape{1, 3, 1, 2}, {10, 40, 20, 50, 30, 60}},
      {InputLayout::kNHWC, ChannelOrder::kRgb, Shape{1, 1, 2, 3}, {10, 20, 30, 40, 50, 60}},
      {InputLayout::kNHWC, ChannelOrder::kBgr, Shape{1, 1, 2, 3}, {30, 20, 10, 60, 50, 40}},
      {InputLayout::kNCHW, ChannelOrder::kBgr, Shape{1, 3, 1, 2}, {30, 60, 20, 50, 10, 40}},
  };
  for (const Case& c : cases) {
    ModelCard card = Card(3, c.layout, c.order);
    card.preprocessing.scale = 1.0;
    FakeClassifier m(c.shape, 3);
    Expected<ClassificationPlan> plan = PlanClassification(m, card);
    ASSERT_TRUE(plan) << plan.status().message();
    Tensor t;
    ASSERT_TRUE(PreprocessImage(s, card, *plan, t).ok());
    EXPECT_EQ(t.shape(), c.shape);
    const auto got = t.as<float>();
    EXPECT_EQ(std::vector<float>(got.begin(), got.end()), c.want);
  }
}

TEST(PreprocessImage, GreyToRgbAndRgbToGreyAndMeanStd) {
  ImageSample grey;
  grey.height = grey.width = 1;
  grey.pixels = {51};
  ModelCard card = Card(3, InputLayout::kNCHW, ChannelOrder::kRgb);
  card.preprocessing.scale = 1.0 / 255;
  card.preprocessing.mean = {0.485, 0.456, 0.406};
  card.preprocessing.std = {0.229, 0.224, 0.225};
  FakeClassifier m3(Shape{1, 3, 1, 1}, 3);
  ClassificationPlan plan = PlanClassification(m3, card).value();
  Tensor t;
  ASSERT_TRUE(PreprocessImage(grey, card, plan, t).ok());
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(t.as<float>()[static_cast<std::size_t>(c)], Ref(card.preprocessing, 51, c));
  }

  ImageSample rgb;
  rgb.height = rgb.width = 1;
  rgb.channels = 3;
  rgb.pixels = {100, 200, 50};
  ModelCard g = Card(3);
  g.preprocessing.scale = 1.0;
  FakeClassifier m1(Shape{1, 1, 1, 1}, 3);
  plan = PlanClassification(m1, g).value();
  Tensor tg;
  ASSERT_TRUE(PreprocessImage(rgb, g, plan, tg).ok());
  EXPECT_NEAR(tg.as<float>()[0], 0.299 * 100 + 0.587 * 200 + 0.114 * 50, 1e-3);
}

TEST(PreprocessImage, QuantizedInputs) {
  ImageSample s;
  s.height = 1;
  s.width = 4;
  s.pixels = {0, 1, 128, 255};
  ModelCard card = Card(3);
  card.preprocessing.scale = 1.0 / 127.5;
  card.preprocessing.mean = {1.0};  // value in [-1, 1]
  card.preprocessing.input_dtype = DType::kI8;
  card.preprocessing.input_quantization = InputQuantization{1.0 / 128, 0};
  FakeClassifier m(Shape{1, 1, 1, 4}, 3, DType::kI8);
  ClassificationPlan plan = PlanClassification(m, card).value();
  Tensor t;
  ASSERT_TRUE(PreprocessImage(s, card, plan, t).ok());
  ASSERT_EQ(t.dtype(), DType::kI8);
  // round(((p / 127.5) - 1) * 128): -128, -127 (-126.996), 1 (0.502), 128 -> clamped 127.
  const auto q = t.as<std::int8_t>();
  EXPECT_EQ(std::vector<int>(q.begin(), q.end()), (std::vector<int>{-128, -127, 1, 127}));

  card.preprocessing.input_dtype = DType::kU8;
  card.preprocessing.input_quantization = InputQuantization{1.0 / 128, 128};
  FakeClassifier mu(Shape{1, 1, 1, 4}, 3, DType::kU8);
  plan = PlanClassification(mu, card).value();
  Tensor tu;
  ASSERT_TRUE(PreprocessImage(s, card, plan, tu).ok());
  const auto u = tu.as<std::uint8_t>();
  EXPECT_EQ(std::vector<int>(u.begin(), u.end()), (std::vector<int>{0, 1, 129, 255}));
}

// Bilinear with pixel-centre alignment, checked by hand on a 2x2 -> 4x4 upscale:
// output (y, x) samples source (0.5 y - 0.25, 0.5 x - 0.25), clamped to the edges.
TEST(PreprocessImage, BilinearResize) {
  ImageSample s;
  s.height = s.width = 2;
  s.pixels = {0, 100, 200, 255};
  ModelCard card = Card(3);
  card.preprocessing.scale = 1.0;
  card.preprocessing.resize_height = card.preprocessing.resize_width = 4;
  FakeClassifier m(Shape{1, 1, 4, 4}, 3);
  ClassificationPlan plan = PlanClassification(m, card).value();
  Tensor t;
  ASSERT_TRUE(PreprocessImage(s, card, plan, t).ok());
  const auto v = t.as<float>();
  EXPECT_FLOAT_EQ(v[0], 0.0f);     // (0, 0): the corner
  EXPECT_FLOAT_EQ(v[3], 100.0f);   // (0, 3)
  EXPECT_FLOAT_EQ(v[12], 200.0f);  // (3, 0)
  EXPECT_FLOAT_EQ(v[15], 255.0f);  // (3, 3)
  // (1, 1) samples (0.25, 0.25): top 0 * 0.75 + 100 * 0.25 = 25, bottom 200 * 0.75 +
  // 255 * 0.25 = 213.75, then 25 * 0.75 + 213.75 * 0.25 = 72.1875.
  EXPECT_FLOAT_EQ(v[5], 72.1875f);
  // (0, 1) samples (0 clamped, 0.25): 25.
  EXPECT_FLOAT_EQ(v[1], 25.0f);

  // A constant image stays constant at any size.
  ImageSample flat;
  flat.height = 3;
  flat.width = 5;
  flat.pixels.assign(15, 77);
  ASSERT_TRUE(PreprocessImage(flat, card, plan, t).ok());
  for (float x : t.as<float>()) EXPECT_FLOAT_EQ(x, 77.0f);
}

TEST(PreprocessImage, BadSamples) {
  ModelCard card = Card(3);
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  ClassificationPlan plan = PlanClassification(m, card).value();
  ImageSample s;
  s.index = 9;
  s.height = s.width = 3;
  s.pixels.assign(9, 0);
  Tensor t;
  Status st = PreprocessImage(s, card, plan, t);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("sample 9: image 3x3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no preprocessing.resize"), std::string::npos) << st.message();
  s.height = s.width = 2;
  s.channels = 2;
  s.pixels.assign(8, 0);
  st = PreprocessImage(s, card, plan, t);
  EXPECT_NE(st.message().find("2 channels"), std::string::npos) << st.message();
  s.channels = 1;
  s.pixels.assign(3, 0);
  st = PreprocessImage(s, card, plan, t);
  EXPECT_NE(st.message().find("3 bytes for a 2x2x1 image"), std::string::npos) << st.message();
}

// Four good samples (three right, one wrong), a label outside the label set, an image
// of the wrong size, and an unreadable sample.
MemoryDataset MixedData() {
  MemoryDataset d;
  d.Add(2, 2, 0, 0);    // class 0, right
  d.Add(2, 2, 100, 1);  // class 1, right
  d.Add(2, 2, 200, 7);  // label 7: outside 0..2
  d.Add(2, 2, 200, 2);  // right
  d.Add(3, 3, 100, 1);  // wrong size
  d.AddUnreadable("sample 5: image without label");
  d.Add(2, 2, 200, 0);  // predicted 2, label 0: wrong
  return d;
}

TEST(EvaluateClassification, KeepGoingCountsBadSamplesWithTheirReasons) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  const MemoryDataset data = MixedData();
  EvalOptions o;
  o.keep_going = true;
  std::vector<std::int64_t> progress;
  o.progress = [&](std::int64_t done, std::int64_t total) {
    EXPECT_EQ(total, 7);
    progress.push_back(done);
  };
  Expected<ClassificationEval> r = EvaluateClassification(m, Card(3), data, o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->samples_considered, 7);
  EXPECT_EQ(r->samples_evaluated, 4);
  ASSERT_EQ(r->bad_samples.size(), 3u);
  EXPECT_EQ(r->bad_samples[0].index, 2);
  EXPECT_NE(r->bad_samples[0].reason.find("label 7 is outside the card's label set (0..2)"),
            std::string::npos)
      << r->bad_samples[0].reason;
  EXPECT_EQ(r->bad_samples[1].index, 4);
  EXPECT_NE(r->bad_samples[1].reason.find("image 3x3"), std::string::npos);
  EXPECT_EQ(r->bad_samples[2].index, 5);
  EXPECT_NE(r->bad_samples[2].reason.find("image without label"), std::string::npos);
  EXPECT_EQ(r->top1.successes, 3);
  EXPECT_EQ(r->top1.trials, 4);
  EXPECT_DOUBLE_EQ(r->top1.value, 0.75);
  EXPECT_FALSE(r->top5);  // three classes
  EXPECT_EQ(r->confusion.count(0, 2), 1);
  EXPECT_EQ(r->confusion.correct(), 3);
  EXPECT_EQ(m.runs, 4);  // bad samples never reach the model
  EXPECT_EQ(r->inference_ms.size(), 4u);
  EXPECT_TRUE(r->preprocess_ms.empty());
  EXPECT_EQ(progress, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));

  // One header line, then one line per considered sample in order.
  EXPECT_EQ(CountLines(r->predictions), 8) << r->predictions;
  std::istringstream lines(r->predictions);
  std::string header, l0, l1, l2;
  std::getline(lines, header);
  std::getline(lines, l0);
  std::getline(lines, l1);
  std::getline(lines, l2);
  EXPECT_EQ(header.rfind("# index\tlabel\tpredicted\tcorrect\ttop3", 0), 0u) << header;
  EXPECT_EQ(l0, "0\t0\t0\t1\t0:-0 1:-1 2:-2");
  EXPECT_EQ(l2.rfind("2\t7\t-\t-\tbad: sample 2: label 7", 0), 0u) << l2;
}

TEST(EvaluateClassification, StopsAtTheFirstBadSampleWithoutKeepGoing) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  Expected<ClassificationEval> r = EvaluateClassification(m, Card(3), MixedData(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("sample 2: label 7"), std::string::npos);
  EXPECT_NE(r.status().message().find("--keep-going"), std::string::npos);
  EXPECT_EQ(m.runs, 2);
}

TEST(EvaluateClassification, LimitEndToEndAndTheFirstSamples) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  EvalOptions o;
  o.limit = 2;
  o.end_to_end = true;
  Expected<ClassificationEval> r = EvaluateClassification(m, Card(3), MixedData(), o);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->samples_considered, 2);
  EXPECT_EQ(r->samples_evaluated, 2);
  EXPECT_EQ(r->top1.successes, 2);
  EXPECT_EQ(r->preprocess_ms.size(), 2u);
  EXPECT_EQ(r->postprocess_ms.size(), 2u);
  EXPECT_EQ(m.seen_means, (std::vector<double>{0.0, 1.0}));  // pixel * 0.01
}

TEST(EvaluateClassification, TopFiveAndSoftmax) {
  // Six classes; the image means 2.4: ranking 2, 3, 1, 4, 0, 5.
  FakeClassifier m(Shape{1, 1, 1, 1}, 6);
  MemoryDataset d;
  d.Add(1, 1, 240, 3);  // second best: top-1 miss, top-5 hit
  d.Add(1, 1, 240, 5);  // last: top-5 miss
  d.Add(1, 1, 240, 2);  // right
  ModelCard card = Card(6);
  card.postprocessing.softmax = true;
  Expected<ClassificationEval> r = EvaluateClassification(m, card, d, {});
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->top1.successes, 1);
  ASSERT_TRUE(r->top5);
  EXPECT_EQ(r->top5->successes, 2);
  EXPECT_EQ(r->top5->trials, 3);
  // Softmax scores: the first line's top score is a probability below 1.
  std::istringstream lines(r->predictions);
  std::string header, first;
  std::getline(lines, header);
  std::getline(lines, first);
  const auto at = first.find("2:");
  ASSERT_NE(at, std::string::npos) << first;
  const double p = std::stod(first.substr(at + 2));
  EXPECT_GT(p, 0.2);
  EXPECT_LT(p, 1.0);
}

TEST(EvaluateClassification, SessionFailureIsAnErrorNotABadSample) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  m.fail_at = 1;
  EvalOptions o;
  o.keep_going = true;
  Expected<ClassificationEval> r = EvaluateClassification(m, Card(3), MixedData(), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("sample 1: fake failure"), std::string::npos)
      << r.status().message();
}

TEST(EvaluateClassification, EmptyDataSet) {
  FakeClassifier m(Shape{1, 1, 2, 2}, 3);
  MemoryDataset empty;
  Expected<ClassificationEval> r = EvaluateClassification(m, Card(3), empty, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace deepedge
