// Decoding parity with PIL's Image.open(f).convert(mode), against fixtures written by
// scripts/fixtures/make_parity_fixtures.py (tests/fixtures/parity/index.json).
#include "oodscore/decode.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace oodscore {
namespace {

using testing::ReadBytes;

const std::filesystem::path kFixtures = OODSCORE_FIXTURE_DIR;

nlohmann::json Index() {
  std::ifstream in(kFixtures / "parity/index.json");
  return nlohmann::json::parse(in);
}

ColorMode ModeOf(const nlohmann::json& spec) {
  return spec.value("mode", "RGB") == "L" ? ColorMode::kL : ColorMode::kRgb;
}

TEST(DecodeTest, MatchesPilConvertOnEveryFixtureImage) {
  const nlohmann::json index = Index();
  const std::vector<std::uint8_t> expected_all = ReadBytes(kFixtures / "parity/uint8.bin");
  int checked = 0;
  for (const auto& c : index["cases"]) {
    const std::string spec_name = c["spec"];
    if (c["kind"] != "uint8" || (spec_name != "decode_rgb" && spec_name != "decode_l")) continue;
    const std::string image = c["image"];
    SCOPED_TRACE(image + " / " + spec_name);
    const DecodeResult r =
        DecodeFile(kFixtures / "images" / image, ModeOf(index["specs"][spec_name]));
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.image.height, c["shape"][0].get<int>());
    EXPECT_EQ(r.image.width, c["shape"][1].get<int>());
    EXPECT_EQ(r.image.channels, c["shape"][2].get<int>());
    const std::size_t offset = c["offset"], length = c["length"];
    ASSERT_EQ(r.image.pixels.size(), length);
    int max_diff = 0;
    for (std::size_t i = 0; i < length; ++i) {
      max_diff = std::max(max_diff, std::abs(int{r.image.pixels[i]} - expected_all[offset + i]));
    }
    EXPECT_EQ(max_diff, 0);
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

TEST(DecodeTest, BadFilesGiveTheirPinnedErrors) {
  const nlohmann::json index = Index();
  ASSERT_FALSE(index["errors"].empty());
  for (const auto& [file, message] : index["errors"].items()) {
    const DecodeResult r = DecodeFile(kFixtures / "images" / file, ColorMode::kRgb);
    EXPECT_EQ(r.error, message.get<std::string>()) << file;
  }
}

TEST(DecodeTest, DetectsFormatByMagicBytesNotExtension) {
  const std::string text = "GIF89a....";
  auto r =
      DecodeImage(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), ColorMode::kRgb);
  EXPECT_EQ(r.error, "gif is not supported");
  const std::uint8_t two[] = {0x00, 0x01};
  r = DecodeImage(two, sizeof(two), ColorMode::kRgb);
  EXPECT_EQ(r.error, "not a recognised image format (magic bytes 00 01)");
  // A PNG renamed .jpg still decodes.
  const auto png = ReadBytes(kFixtures / "images/png_rgb_37x23.png");
  r = DecodeImage(png.data(), png.size(), ColorMode::kL);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.image.channels, 1);
}

TEST(DecodeTest, ReportsUnsupportedPnmVariants) {
  const std::string p6_16 = "P6\n2 1\n65535\n............";
  auto r = DecodeImage(reinterpret_cast<const std::uint8_t*>(p6_16.data()), p6_16.size(),
                       ColorMode::kRgb);
  EXPECT_EQ(r.error, "unsupported pnm maxval 65535 (only 255)");
  const std::string p3 = "P3\n1 1\n255\n1 2 3\n";
  r = DecodeImage(reinterpret_cast<const std::uint8_t*>(p3.data()), p3.size(), ColorMode::kRgb);
  EXPECT_EQ(r.error, "unsupported pnm type p3 (only binary p5 and p6)");
  const std::string short_p5 = "P5 # comment\n4 4 255\nabc";
  r = DecodeImage(reinterpret_cast<const std::uint8_t*>(short_p5.data()), short_p5.size(),
                  ColorMode::kL);
  EXPECT_EQ(r.error, "truncated pnm data");
}

TEST(DecodeTest, RejectsDecompressionBombsBeforeAllocating) {
  // A 24-bit BMP header claiming 20000 x 20000 pixels, with no pixel data.
  std::vector<std::uint8_t> bmp(54, 0);
  const auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
  };
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32(10, 54);
  put32(14, 40);
  put32(18, 20000);
  put32(22, 20000);
  bmp[26] = 1;
  bmp[28] = 24;
  const DecodeResult r = DecodeImage(bmp.data(), bmp.size(), ColorMode::kRgb);
  EXPECT_EQ(r.error,
            "decompression bomb: 20000x20000 = 400000000 pixels, over twice --max-image-pixels "
            "89478485 (Pillow refuses it too)");
  // A smaller limit applies the same rule; 0 lifts it (the header is then read as a
  // truncated file instead).
  put32(18, 30);
  put32(22, 20);
  EXPECT_EQ(DecodeImage(bmp.data(), bmp.size(), ColorMode::kRgb, 250).error.substr(0, 39),
            "decompression bomb: 30x20 = 600 pixels,");
  EXPECT_EQ(DecodeImage(bmp.data(), bmp.size(), ColorMode::kRgb, 0).error.find("bomb"),
            std::string::npos);
}

TEST(DecodeTest, ImagesOverTheLimitDecodeWithAWarning) {
  const DecodeResult r =
      DecodeFile(kFixtures / "images" / "bmp_24_37x23.bmp", ColorMode::kRgb, 800);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.warning,
            "large image: 37x23 = 851 pixels, over --max-image-pixels 800 (Pillow warns of a "
            "possible decompression bomb)");
  EXPECT_TRUE(
      DecodeFile(kFixtures / "images" / "bmp_24_37x23.bmp", ColorMode::kRgb).warning.empty());
}

TEST(DecodeTest, SpecialFilesAreNeverReadBlocking) {
  const std::string dir = ::testing::TempDir() + "oodscore_decode_special";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/sub.png");
  ASSERT_EQ(::mkfifo((dir + "/fifo.png").c_str(), 0600), 0);
  EXPECT_EQ(DecodeFile(dir + "/fifo.png", ColorMode::kRgb).error, "not a regular file (a FIFO)");
  EXPECT_EQ(DecodeFile(dir + "/sub.png", ColorMode::kRgb).error,
            "not a regular file (a directory)");
  EXPECT_EQ(DecodeFile("/dev/null", ColorMode::kRgb).error,
            "not a regular file (a character device)");
  std::filesystem::remove_all(dir);
}

TEST(DecodeTest, MissingFileIsAnErrorValue) {
  const DecodeResult r = DecodeFile(kFixtures / "images/does-not-exist.png", ColorMode::kRgb);
  EXPECT_EQ(r.error, "cannot read file: no such file");
}

TEST(DecodeTest, IsThreadSafe) {
  const char* files[] = {"jpeg_420_60x45.jpg", "png_palette_40x30.png", "webp_lossy_60x45.webp",
                         "bmp_24_37x23.bmp", "bad_truncated.jpg"};
  std::vector<DecodeResult> reference;
  for (const char* f : files)
    reference.push_back(DecodeFile(kFixtures / "images" / f, ColorMode::kRgb));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        for (std::size_t i = 0; i < std::size(files); ++i) {
          const DecodeResult r = DecodeFile(kFixtures / "images" / files[i], ColorMode::kRgb);
          if (r.error != reference[i].error || r.image.pixels != reference[i].image.pixels) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace oodscore
