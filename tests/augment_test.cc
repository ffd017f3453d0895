// Train-time augmentation (hflip, crop-padN) against torchvision.transforms.functional given
// the same draws (tests/fixtures/augment_parity.json, made by
// scripts/fixtures/make_augment_fixtures.py), and ApplyAugment's seeded draws.
#include "oodscore/augment.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "oodscore/error.h"

namespace oodscore {
namespace {

Image ImageOf(const nlohmann::json& j) {
  Image im;
  im.width = j.at("width");
  im.height = j.at("height");
  im.channels = j.at("channels");
  im.pixels = j.at("pixels").get<std::vector<std::uint8_t>>();
  return im;
}

TEST(AugmentTest, EqualsTorchvisionForTheSameDraws) {
  std::ifstream in(std::string(OODSCORE_FIXTURE_DIR) + "/augment_parity.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json f = nlohmann::json::parse(in);
  std::vector<Image> images;
  for (const auto& j : f.at("images")) {
    images.push_back(ImageOf(j));
    ASSERT_EQ(images.back().pixels.size(), static_cast<std::size_t>(images.back().width) *
                                               images.back().height * images.back().channels);
  }
  const nlohmann::json& cases = f.at("cases");
  std::size_t checked = 0;
  std::set<int> channel_counts;
  for (const auto& c : cases) {
    const Image& image = images.at(c.at("image").get<std::size_t>());
    AugmentDraws d;
    d.pad = c.at("pad");
    d.top = c.at("top");
    d.left = c.at("left");
    d.flip = c.at("flip");
    SCOPED_TRACE(std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                 std::to_string(image.channels) + ", pad " + std::to_string(d.pad) + ", top " +
                 std::to_string(d.top) + ", left " + std::to_string(d.left) +
                 (d.flip ? ", flipped" : ""));
    const Image out = ApplyAugmentDraws(image, d);
    EXPECT_EQ(out.width, image.width);
    EXPECT_EQ(out.height, image.height);
    EXPECT_EQ(out.channels, image.channels);
    const auto want = c.at("pixels").get<std::vector<std::uint8_t>>();
    ASSERT_EQ(out.pixels.size(), want.size());
    int differing = 0;
    for (std::size_t i = 0; i < want.size(); ++i) differing += out.pixels[i] != want[i];
    EXPECT_EQ(differing, 0) << "of " << want.size() << " values";
    channel_counts.insert(image.channels);
    ++checked;
  }
  // Every case of the fixture was checked, and the fixture is the one the script writes.
  EXPECT_EQ(checked, cases.size());
  EXPECT_EQ(checked, 144u);
  EXPECT_EQ(channel_counts, (std::set<int>{1, 3}));
}

TEST(AugmentTest, DrawsOutsideThePaddedImageAreRefused) {
  Image im;
  im.width = 3;
  im.height = 2;
  im.channels = 1;
  im.pixels.assign(6, 7);
  EXPECT_THROW(ApplyAugmentDraws(im, {/*pad=*/2, /*top=*/5, /*left=*/0, false}), Error);
  EXPECT_THROW(ApplyAugmentDraws(im, {/*pad=*/2, /*top=*/0, /*left=*/-1, false}), Error);
  EXPECT_THROW(ApplyAugmentDraws(im, {/*pad=*/0, /*top=*/0, /*left=*/1, true}), Error);
  EXPECT_EQ(ApplyAugmentDraws(im, {/*pad=*/0, 0, 0, false}).pixels, im.pixels);
}

// ApplyAugment is ApplyAugmentDraws with draws from the seed: every output of a seed is one of
// the (2N + 1)^2 windows, flipped or not, and the same seed gives the same image.
TEST(AugmentTest, SeededDrawsPickOneOfTheWindows) {
  Image im;
  im.width = 5;
  im.height = 4;
  im.channels = 3;
  for (int i = 0; i < 60; ++i) im.pixels.push_back(static_cast<std::uint8_t>(1 + i * 4));
  const Augment a = ParseAugment("hflip,crop-pad2");
  std::set<std::vector<std::uint8_t>> outputs;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    const Image out = ApplyAugment(im, a, MixSeed(7, seed));
    EXPECT_EQ(out.pixels, ApplyAugment(im, a, MixSeed(7, seed)).pixels);
    bool found = false;
    for (int top = 0; top <= 4 && !found; ++top)
      for (int left = 0; left <= 4 && !found; ++left)
        for (bool flip : {false, true})
          found = found || ApplyAugmentDraws(im, {2, top, left, flip}).pixels == out.pixels;
    EXPECT_TRUE(found) << "seed " << seed;
    outputs.insert(out.pixels);
  }
  EXPECT_EQ(outputs.size(), 50u);  // 25 windows x 2 flips, all distinct for this image
  EXPECT_EQ(ApplyAugment(im, ParseAugment("none"), 1).pixels, im.pixels);
}

}  // namespace
}  // namespace oodscore
