#include "oodscore/preset.h"

#include <gtest/gtest.h>

#include "oodscore/error.h"

namespace oodscore {
namespace {

std::string UsageErrorOf(const std::string& name) {
  try {
    LoadPreset(name);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(PresetTest, AliasesPeopleTypeFindTheShippedPreset) {
  EXPECT_EQ(ShippedPresetName("fmnist"), "fashion-mnist");
  EXPECT_EQ(ShippedPresetName("fashion_mnist"), "fashion-mnist");
  EXPECT_EQ(ShippedPresetName("FashionMNIST"), "fashion-mnist");
  EXPECT_EQ(ShippedPresetName("cifar-10"), "cifar10");
  EXPECT_EQ(ShippedPresetName("CIFAR100"), "cifar100");
  EXPECT_EQ(ShippedPresetName("imagenet-1k"), "imagenet");
  EXPECT_EQ(ShippedPresetName("mnist"), "mnist");
  EXPECT_EQ(ShippedPresetName("cifar1"), "");
  EXPECT_EQ(LoadPreset("fmnist").source, "builtin:fashion-mnist");
}

TEST(PresetTest, TyposSuggestTheClosestShippedName) {
  EXPECT_EQ(UsageErrorOf("fashon-mnist").substr(0, 60),
            "unknown preset 'fashon-mnist', did you mean 'fashion-mnist'?");
  EXPECT_EQ(UsageErrorOf("fmnst").substr(0, 53),
            "unknown preset 'fmnst', did you mean 'fashion-mnist'?");
  EXPECT_EQ(UsageErrorOf("cifar1").substr(0, 48),
            "unknown preset 'cifar1', did you mean 'cifar10'?");
}

TEST(PresetTest, PresetsThatFitAFirstLayer) {
  EXPECT_EQ(PresetsThatFit(1, 0, 0, 0), (std::vector<std::string>{"mnist", "fashion-mnist"}));
  EXPECT_EQ(PresetsThatFit(0, 0, 0, 3 * 224 * 224), (std::vector<std::string>{"imagenet"}));
  EXPECT_EQ(PresetsThatFit(0, 0, 0, 784), (std::vector<std::string>{"mnist", "fashion-mnist"}));
  int c, h, w;
  ASSERT_TRUE(FixedOutputShape(LoadPreset("imagenet").spec, &c, &h, &w));
  EXPECT_EQ(h, 224);
}

}  // namespace
}  // namespace oodscore
