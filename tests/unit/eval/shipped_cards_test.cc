// Every model card shipped in models/ parses, and the Fashion-MNIST card says what
// tools/train_fashion_mnist trained with.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "deepedge/model_card.h"

namespace deepedge {
namespace {

const std::filesystem::path kModels =
    std::filesystem::path(DEEPEDGE_TEST_DATA_DIR) / "../../models";

TEST(ShippedCards, EveryCardParses) {
  int cards = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(kModels)) {
    if (e.path().extension() != ".yaml") continue;
    ++cards;
    Expected<ModelCard> c = ReadModelCard(e.path());
    // A card whose charset is in the fixture cache parses only where the cache is
    // filled; elsewhere its error must say so.
    if (!c && c.status().message().find("fetch_fixtures.sh") != std::string::npos) {
      EXPECT_NE(c.status().message().find("'charset'"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(c) << c.status().message();
    EXPECT_EQ(c->name, e.path().stem().string());
    EXPECT_EQ(c->synthetic_weights, e.path().parent_path().filename() == "zoo") << e.path();
  }
  EXPECT_GE(cards, 7);
}

TEST(ShippedCards, FashionMnistMatchesTheTrainer) {
  Expected<ModelCard> c = ReadModelCard(kModels / "fashion_mnist_cnn.yaml");
  ASSERT_TRUE(c) << c.status().message();
  // train_fashion_mnist.cc: uint8 [N, 28, 28] -> float [N, 1, 28, 28], pixel / 255.
  EXPECT_EQ(c->preprocessing.layout, InputLayout::kNCHW);
  EXPECT_EQ(c->preprocessing.channels, ChannelOrder::kGray);
  EXPECT_DOUBLE_EQ(c->preprocessing.scale, 1.0 / 255.0);
  EXPECT_EQ(c->preprocessing.mean, std::vector<double>{0.0});
  EXPECT_EQ(c->preprocessing.std, std::vector<double>{1.0});
  EXPECT_FALSE(c->postprocessing.softmax);  // the model ends in Softmax
  ASSERT_EQ(c->labels.size(), 10u);
  EXPECT_EQ(c->labels.front(), "T-shirt/top");
  EXPECT_EQ(c->labels.back(), "Ankle boot");
}

// PaddleOCR's recogniser preprocessing (tools/infer/predict_rec.py: resize_norm_img)
// and its CTC label decoder (ppocr/postprocess/rec_postprocess.py): blank 0, the
// dictionary from 1, then ' ' with use_space_char.
TEST(ShippedCards, PpOcrV4RecMatchesPaddleOcr) {
  Expected<ModelCard> c = ReadModelCard(kModels / "ppocr_v4_rec.yaml");
  if (!c && c.status().message().find("fetch_fixtures.sh") != std::string::npos) {
    GTEST_SKIP() << c.status().message();
  }
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->task, CardTask::kTextRecognition);
  EXPECT_EQ(c->preprocessing.channels, ChannelOrder::kBgr);
  EXPECT_EQ(c->preprocessing.resize_height, 48);
  EXPECT_EQ(c->preprocessing.resize_width, 320);
  EXPECT_DOUBLE_EQ(c->preprocessing.scale, 1.0 / 255.0);
  EXPECT_EQ(c->preprocessing.mean, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c->preprocessing.std, (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_EQ(c->postprocessing.decode, "ctc_greedy");
  ASSERT_EQ(c->text.charset.size(), 6625u);  // the model's output classes
  EXPECT_EQ(c->text.charset.front(), "");
  EXPECT_EQ(c->text.charset.back(), " ");
}

}  // namespace
}  // namespace deepedge
