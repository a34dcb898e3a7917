#include "deepedge/model_card.h"

#include <gtest/gtest.h>

#include <string>

#include "support/temp_dir.h"

namespace deepedge {
namespace {

using testing::TempDir;

constexpr const char* kGood = R"(card_version: 1
name: tiny
model: tiny.onnx
description: a test card
task: classification
weights: trained
dataset: none
preprocessing:
  input: image
  layout: NHWC
  channels: bgr
  resize: [32, 48]
  scale: 1/255
  mean: [0.5, 0.25, 0.125]
  std: 0.5
  input_dtype: float32
labels: [a, b, c, d, e, f]
postprocessing:
  output: prob
  softmax: true
  top_k: 3
)";

TEST(ModelCard, GoodCardParsesEveryField) {
  Expected<ModelCard> c = ParseModelCard(kGood, "/cards/tiny.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->path, "/cards/tiny.yaml");
  EXPECT_EQ(c->name, "tiny");
  EXPECT_EQ(c->model, "tiny.onnx");
  EXPECT_EQ(c->task, CardTask::kClassification);
  EXPECT_FALSE(c->synthetic_weights);
  const CardPreprocessing& p = c->preprocessing;
  EXPECT_EQ(p.input_name, "image");
  EXPECT_EQ(p.layout, InputLayout::kNHWC);
  EXPECT_EQ(p.channels, ChannelOrder::kBgr);
  EXPECT_EQ(p.resize_height, 32);
  EXPECT_EQ(p.resize_width, 48);
  EXPECT_DOUBLE_EQ(p.scale, 1.0 / 255.0);
  EXPECT_EQ(p.mean, (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(p.std, (std::vector<double>{0.5, 0.5, 0.5}));  // one value, every channel
  EXPECT_EQ(p.input_dtype, DType::kF32);
  EXPECT_FALSE(p.input_quantization);
  EXPECT_EQ(c->labels, (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(c->postprocessing.output_name, "prob");
  EXPECT_TRUE(c->postprocessing.softmax);
  EXPECT_EQ(c->postprocessing.top_k, 3);
}

// The smallest card: defaults for the optional fields.
TEST(ModelCard, DefaultsOfOptionalFields) {
  const std::string text = R"(card_version: 1
task: classification
weights: synthetic
preprocessing: {layout: NCHW, channels: rgb, scale: 2, input_dtype: float32}
synthetic_labels: 3
postprocessing: {softmax: false}
)";
  Expected<ModelCard> c = ParseModelCard(text, "dir/zoo_model.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->name, "zoo_model");
  EXPECT_TRUE(c->synthetic_weights);
  EXPECT_EQ(c->preprocessing.mean, (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(c->preprocessing.std, (std::vector<double>{1, 1, 1}));
  EXPECT_FALSE(c->preprocessing.resize_height);
  EXPECT_EQ(c->labels, (std::vector<std::string>{"class 0", "class 1", "class 2"}));
  EXPECT_EQ(c->postprocessing.top_k, 3);  // min(5, labels)
}

TEST(ModelCard, QuantizedInput) {
  std::string text = kGood;
  text.replace(text.find("  input_dtype: float32"), 22,
               "  input_dtype: int8\n  input_quantization: {scale: 0.0078125, zero_point: -1}");
  Expected<ModelCard> c = ParseModelCard(text, "q.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->preprocessing.input_dtype, DType::kI8);
  ASSERT_TRUE(c->preprocessing.input_quantization);
  EXPECT_DOUBLE_EQ(c->preprocessing.input_quantization->scale, 0.0078125);
  EXPECT_EQ(c->preprocessing.input_quantization->zero_point, -1);
}

TEST(ModelCard, LabelsFileRelativeToTheCard) {
  TempDir dir;
  dir.Write("cards/names.txt", "zero\r\none\n\ntwo\n");
  std::string text = kGood;
  text.replace(text.find("labels: [a, b, c, d, e, f]"), 26, "labels_file: names.txt");
  Expected<ModelCard> c = ParseModelCard(text, dir / "cards/m.yaml");
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->labels, (std::vector<std::string>{"zero", "one", "two"}));
}

TEST(ModelCard, ReadModelCardAndFindCardBeside) {
  TempDir dir;
  const auto card = dir.Write("m.yaml", kGood);
  dir.Write("m.onnx", "x");
  Expected<ModelCard> c = ReadModelCard(card);
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(FindCardBeside(dir / "m.onnx"), card);
  EXPECT_FALSE(FindCardBeside(dir / "other.onnx"));
  Expected<ModelCard> missing = ReadModelCard(dir / "absent.yaml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("absent.yaml"), std::string::npos);
}

// Every bad field: a replacement of one part of the good card, the field the error
// must name, and whether it is a contradiction between two fields.
struct BadCase {
  const char* name;
  const char* find;     // text of kGood to replace ("" = append)
  const char* replace;  // its replacement
  const char* field;    // must appear in the message
  StatusCode code = StatusCode::kInvalidArgument;
};

class BadCard : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadCard, ErrorNamesTheFieldAndTheCard) {
  const BadCase& bc = GetParam();
  std::string text = kGood;
  if (*bc.find == '\0') {
    text += bc.replace;
  } else {
    const auto at = text.find(bc.find);
    ASSERT_NE(at, std::string::npos) << bc.find;
    text.replace(at, std::string(bc.find).size(), bc.replace);
  }
  Expected<ModelCard> c = ParseModelCard(text, "/cards/bad_card.yaml");
  ASSERT_FALSE(c) << bc.name << " parsed:\n" << text;
  const std::string msg = c.status().message();
  EXPECT_EQ(c.status().code(), bc.code) << msg;
  EXPECT_NE(msg.find("/cards/bad_card.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find(bc.field), std::string::npos) << "expected '" << bc.field << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

const BadCase kBadCases[] = {
    {"missing_version", "card_version: 1\n", "", "'card_version': missing"},
    {"wrong_version", "card_version: 1", "card_version: 2", "'card_version'"},
    {"version_not_int", "card_version: 1", "card_version: one", "'card_version'"},
    {"unknown_top_field", "", "colour: blue\n", "'colour': unknown field"},
    {"unknown_pre_field", "  scale: 1/255", "  sacle: 1/255", "'preprocessing.sacle'"},
    {"unknown_post_field", "  top_k: 3", "  topk: 3", "'postprocessing.topk'"},
    {"missing_task", "task: classification\n", "", "'task': missing"},
    {"unknown_task", "task: classification", "task: segmentation", "'task'"},
    // No task is reserved any more (keyword_spotting is parsed): a classification card
    // relabelled keyword_spotting is rejected for its labels.
    {"labels_in_kws_card", "task: classification", "task: keyword_spotting",
     "'labels' and 'task' contradict"},
    {"missing_weights", "weights: trained\n", "", "'weights': missing"},
    {"bad_weights", "weights: trained", "weights: pretrained", "'weights'"},
    {"name_not_text", "name: tiny", "name: [a]", "'name'"},
    {"missing_preprocessing",
     "preprocessing:\n  input: image\n  layout: NHWC\n  channels: bgr\n  resize: [32, 48]\n"
     "  scale: 1/255\n  mean: [0.5, 0.25, 0.125]\n  std: 0.5\n  input_dtype: float32\n",
     "", "'preprocessing': missing"},
    {"preprocessing_not_map",
     "preprocessing:\n  input: image\n  layout: NHWC\n  channels: bgr\n  resize: [32, 48]\n"
     "  scale: 1/255\n  mean: [0.5, 0.25, 0.125]\n  std: 0.5\n  input_dtype: float32\n",
     "preprocessing: 3\n", "'preprocessing': expected a mapping"},
    {"missing_layout", "  layout: NHWC\n", "", "'preprocessing.layout': missing"},
    {"bad_layout", "layout: NHWC", "layout: NWHC", "'preprocessing.layout'"},
    {"missing_channels", "  channels: bgr\n", "", "'preprocessing.channels': missing"},
    {"bad_channels", "channels: bgr", "channels: rgba", "'preprocessing.channels'"},
    {"resize_one_value", "resize: [32, 48]", "resize: [32]", "'preprocessing.resize'"},
    {"resize_zero", "resize: [32, 48]", "resize: [0, 48]", "'preprocessing.resize'"},
    {"resize_not_int", "resize: [32, 48]", "resize: [32, wide]", "'preprocessing.resize[1]'"},
    {"missing_scale", "  scale: 1/255\n", "", "'preprocessing.scale': missing"},
    {"scale_not_number", "scale: 1/255", "scale: big", "'preprocessing.scale'"},
    {"scale_divide_by_zero", "scale: 1/255", "scale: 1/0", "'preprocessing.scale'"},
    {"scale_zero", "scale: 1/255", "scale: 0", "'preprocessing.scale'"},
    {"mean_wrong_count", "mean: [0.5, 0.25, 0.125]", "mean: [0.5, 0.25]",
     "'preprocessing.mean' and 'preprocessing.channels' contradict"},
    {"mean_not_number", "mean: [0.5, 0.25, 0.125]", "mean: [0.5, x, 0.125]",
     "'preprocessing.mean[1]'"},
    {"std_zero", "std: 0.5", "std: [1, 0, 1]", "'preprocessing.std'"},
    {"missing_dtype", "  input_dtype: float32\n", "", "'preprocessing.input_dtype': missing"},
    {"bad_dtype", "input_dtype: float32", "input_dtype: float64", "'preprocessing.input_dtype'"},
    {"quantization_on_float", "input_dtype: float32",
     "input_dtype: float32\n  input_quantization: {scale: 1, zero_point: 0}",
     "'preprocessing.input_quantization' and 'preprocessing.input_dtype' contradict"},
    {"int8_without_quantization", "input_dtype: float32", "input_dtype: int8",
     "'preprocessing.input_quantization': missing"},
    {"quantization_no_zero_point", "input_dtype: float32",
     "input_dtype: uint8\n  input_quantization: {scale: 1}",
     "'preprocessing.input_quantization.zero_point': missing"},
    {"quantization_bad_scale", "input_dtype: float32",
     "input_dtype: uint8\n  input_quantization: {scale: -1, zero_point: 0}",
     "'preprocessing.input_quantization.scale'"},
    {"zero_point_out_of_range", "input_dtype: float32",
     "input_dtype: int8\n  input_quantization: {scale: 1, zero_point: 128}",
     "'preprocessing.input_quantization.zero_point' and 'preprocessing.input_dtype' contradict"},
    {"missing_labels", "labels: [a, b, c, d, e, f]\n", "", "'labels': missing"},
    {"two_label_sources", "labels: [a, b, c, d, e, f]",
     "labels: [a, b, c, d, e, f]\nsynthetic_labels: 6",
     "'labels' and 'synthetic_labels' contradict"},
    {"empty_labels", "labels: [a, b, c, d, e, f]", "labels: []", "'labels'"},
    {"label_not_text", "labels: [a, b, c, d, e, f]", "labels: [a, [b], c]", "'labels[1]'"},
    {"labels_file_missing", "labels: [a, b, c, d, e, f]", "labels_file: /nonexistent/x.txt",
     "'labels_file'"},
    {"synthetic_labels_zero", "labels: [a, b, c, d, e, f]", "synthetic_labels: 0",
     "'synthetic_labels'"},
    {"missing_postprocessing", "postprocessing:\n  output: prob\n  softmax: true\n  top_k: 3\n", "",
     "'postprocessing': missing"},
    {"missing_softmax", "  softmax: true\n", "", "'postprocessing.softmax': missing"},
    {"softmax_not_bool", "softmax: true", "softmax: maybe", "'postprocessing.softmax'"},
    {"top_k_zero", "top_k: 3", "top_k: 0", "'postprocessing.top_k'"},
    {"top_k_above_labels", "top_k: 3", "top_k: 7",
     "'postprocessing.top_k' and 'labels' contradict"},
    {"not_yaml", "labels: [a, b, c, d, e, f]", "labels: [a, b", "not valid YAML"},
};

INSTANTIATE_TEST_SUITE_P(EveryField, BadCard, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(ModelCard, EmptyAndNonMappingFiles) {
  Expected<ModelCard> empty = ParseModelCard("", "e.yaml");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.status().message().find("e.yaml: empty"), std::string::npos);
  Expected<ModelCard> list = ParseModelCard("- a\n- b\n", "l.yaml");
  ASSERT_FALSE(list);
  EXPECT_NE(list.status().message().find("l.yaml"), std::string::npos);
}

}  // namespace
}  // namespace deepedge
