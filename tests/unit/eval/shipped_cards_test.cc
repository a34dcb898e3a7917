// Every model card shipped in models/ parses, and the Fashion-MNIST card says what
// tools/train_fashion_mnist trained with.
#include <gtest/gtest.h>

#include <filesystem>

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

}  // namespace
}  // namespace deepedge
