// Resize / CenterCrop / ToTensor / Normalize parity with torchvision 0.14 on PIL images,
// against fixtures written by scripts/fixtures/make_parity_fixtures.py.
#include "oodscore/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "oodscore/decode.h"
#include "oodscore/error.h"
#include "oodscore/resample.h"
#include "test_util.h"

namespace oodscore {
namespace {

using testing::ReadBytes;

const std::filesystem::path kFixtures = OODSCORE_FIXTURE_DIR;

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json Index() { return nlohmann::json::parse(ReadText(kFixtures / "parity/index.json")); }

TEST(PreprocessTest, TransformUint8MatchesTorchvisionOnEveryFixtureCase) {
  const nlohmann::json index = Index();
  const std::vector<std::uint8_t> expected_all = ReadBytes(kFixtures / "parity/uint8.bin");
  int checked = 0;
  for (const auto& c : index["cases"]) {
    if (c["kind"] != "uint8") continue;
    const std::string image = c["image"], spec_name = c["spec"];
    SCOPED_TRACE(image + " / " + spec_name);
    const PreprocessSpec spec = ParsePresetJson(index["specs"][spec_name].dump(), spec_name);
    const DecodeResult d = DecodeFile(kFixtures / "images" / image, spec.mode);
    ASSERT_TRUE(d.ok()) << d.error;
    const Image out = TransformUint8(d.image, spec);
    int c_out = 0, h_out = 0, w_out = 0;
    OutputShape(spec, d.image.width, d.image.height, &c_out, &h_out, &w_out);
    EXPECT_EQ(out.height, c["shape"][0].get<int>());
    EXPECT_EQ(out.width, c["shape"][1].get<int>());
    EXPECT_EQ(out.channels, c["shape"][2].get<int>());
    EXPECT_EQ(h_out, out.height);
    EXPECT_EQ(w_out, out.width);
    EXPECT_EQ(c_out, out.channels);
    const std::size_t offset = c["offset"], length = c["length"];
    ASSERT_EQ(out.pixels.size(), length);
    int max_diff = 0, differing = 0;
    for (std::size_t i = 0; i < length; ++i) {
      const int diff = std::abs(int{out.pixels[i]} - expected_all[offset + i]);
      max_diff = std::max(max_diff, diff);
      differing += diff != 0;
    }
    EXPECT_EQ(max_diff, 0) << differing << " of " << length << " values differ";
    ++checked;
  }
  EXPECT_GE(checked, 240);
}

TEST(PreprocessTest, ToTensorNormalizeIsBitIdenticalToTorchvision) {
  const nlohmann::json index = Index();
  const std::vector<std::uint8_t> expected_all = ReadBytes(kFixtures / "parity/float32.bin");
  int checked = 0;
  for (const auto& c : index["cases"]) {
    if (c["kind"] != "float32") continue;
    const std::string image = c["image"], spec_name = c["spec"];
    SCOPED_TRACE(image + " / " + spec_name);
    const PreprocessSpec spec = ParsePresetJson(index["specs"][spec_name].dump(), spec_name);
    const DecodeResult d = DecodeFile(kFixtures / "images" / image, spec.mode);
    ASSERT_TRUE(d.ok()) << d.error;
    const Image img = TransformUint8(d.image, spec);
    const std::size_t length = c["length"], offset = c["offset"];
    ASSERT_EQ(length, static_cast<std::size_t>(img.channels) * img.height * img.width);
    std::vector<float> got(length), want(length);
    ToTensorNormalize(img, spec, got.data());
    std::memcpy(want.data(), expected_all.data() + offset * sizeof(float), length * sizeof(float));
    int differing = 0;
    for (std::size_t i = 0; i < length; ++i) {
      differing += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
    }
    EXPECT_EQ(differing, 0) << "first: got " << got[0] << " want " << want[0];
    ++checked;
  }
  EXPECT_GE(checked, 40);
}

Image Ramp(int width, int height, int channels) {
  Image im;
  im.width = width;
  im.height = height;
  im.channels = channels;
  im.pixels.resize(static_cast<std::size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        im.pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] =
            static_cast<std::uint8_t>(c == 0 ? x : y);
  return im;
}

TEST(PreprocessTest, CenterCropRoundsHalfToEven) {
  // (341 - 224) / 2 = 58.5 -> Python round gives 58 (std::round would give 59).
  PreprocessSpec spec;
  spec.crop_h = spec.crop_w = 224;
  const Image out = TransformUint8(Ramp(341, 225, 3), spec);
  ASSERT_EQ(out.width, 224);
  EXPECT_EQ(out.pixels[0], 58);   // x of the first column
  EXPECT_EQ(out.pixels[1], 0);    // (225 - 224) / 2 = 0.5 -> 0
  spec.crop_h = spec.crop_w = 2;  // (5 - 2) / 2 = 1.5 -> 2
  EXPECT_EQ(TransformUint8(Ramp(5, 5, 3), spec).pixels[0], 2);
}

TEST(PreprocessTest, CenterCropLargerThanImagePadsWithZeros) {
  PreprocessSpec spec;
  spec.crop_h = 4;
  spec.crop_w = 2;
  // Width 5 -> crop from x = round(1.5) = 2; height 1 -> padded top 1, bottom 2.
  const Image out = TransformUint8(Ramp(5, 1, 3), spec);
  ASSERT_EQ(out.height, 4);
  ASSERT_EQ(out.width, 2);
  EXPECT_EQ(out.pixels[0], 0);
  EXPECT_EQ(out.pixels[2 * 3 + 0], 2);  // row 1 holds the image
  EXPECT_EQ(out.pixels[3 * 3 + 0], 3);
  EXPECT_EQ(out.pixels[4 * 3 + 0], 0);
}

TEST(PreprocessTest, ResizeIntTruncatesTheLongerSide) {
  PreprocessSpec spec;
  spec.resize_short = 256;
  spec.crop_h = spec.crop_w = 0;
  int c = 0, h = 0, w = 0;
  OutputShape(spec, 500, 375, &c, &h, &w);  // 256 * 500 / 375 = 341.33
  EXPECT_EQ(c, 3);
  EXPECT_EQ(h, 256);
  EXPECT_EQ(w, 341);
  OutputShape(spec, 299, 451, &c, &h, &w);  // 256 * 451 / 299 = 386.14
  EXPECT_EQ(w, 256);
  EXPECT_EQ(h, 386);
  spec.resize_short = 224;
  OutputShape(spec, 375, 500, &c, &h, &w);  // 224 * 500 / 375 = 298.67
  EXPECT_EQ(h, 298);
  spec.crop_h = spec.crop_w = 224;
  OutputShape(spec, 375, 500, &c, &h, &w);
  EXPECT_EQ(h, 224);
  EXPECT_EQ(w, 224);
}

TEST(ResampleTest, WindowEqualsCropOfFullResize) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const int channels = trial % 2 ? 3 : 1;
    Image in;
    in.width = 1 + static_cast<int>(rng() % 90);
    in.height = 1 + static_cast<int>(rng() % 90);
    in.channels = channels;
    in.pixels.resize(static_cast<std::size_t>(in.width) * in.height * channels);
    for (auto& p : in.pixels) p = static_cast<std::uint8_t>(rng());
    const int ow = 1 + static_cast<int>(rng() % 70), oh = 1 + static_cast<int>(rng() % 70);
    const int cw = 1 + static_cast<int>(rng() % ow), chh = 1 + static_cast<int>(rng() % oh);
    const int left = static_cast<int>(rng() % (ow - cw + 1));
    const int top = static_cast<int>(rng() % (oh - chh + 1));
    for (Interpolation interp :
         {Interpolation::kNearest, Interpolation::kBilinear, Interpolation::kBicubic}) {
      SCOPED_TRACE(::testing::Message()
                   << in.width << "x" << in.height << "x" << channels << " -> " << ow << "x" << oh
                   << " window " << left << "," << top << " " << cw << "x" << chh << " interp "
                   << static_cast<int>(interp));
      const Image full = Resize(in, ow, oh, interp);
      const Image win = ResizeWindow(in, ow, oh, left, top, cw, chh, interp);
      ASSERT_EQ(win.width, cw);
      ASSERT_EQ(win.height, chh);
      bool same = true;
      for (int y = 0; y < chh && same; ++y) {
        same = std::memcmp(&win.pixels[static_cast<std::size_t>(y) * cw * channels],
                           &full.pixels[(static_cast<std::size_t>(y + top) * ow + left) * channels],
                           static_cast<std::size_t>(cw) * channels) == 0;
      }
      EXPECT_TRUE(same);
    }
  }
}

TEST(ResampleTest, SameSizeIsACopy) {
  const Image in = Ramp(13, 7, 3);
  for (Interpolation interp :
       {Interpolation::kNearest, Interpolation::kBilinear, Interpolation::kBicubic}) {
    EXPECT_EQ(Resize(in, 13, 7, interp).pixels, in.pixels);
  }
}

TEST(ResampleTest, ConstantImageStaysConstant) {
  Image in;
  in.width = 37;
  in.height = 23;
  in.channels = 1;
  in.pixels.assign(37 * 23, 200);
  for (Interpolation interp : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    const Image out = Resize(in, 11, 50, interp);
    for (std::uint8_t v : out.pixels) ASSERT_EQ(v, 200);
  }
}

std::string PresetError(const std::string& text) {
  try {
    ParsePresetJson(text, "x.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PreprocessTest, ParsesAFullPreset) {
  const PreprocessSpec s = ParsePresetJson(
      R"({"name": "imagenet", "mode": "RGB", "resize": 256, "crop": 224,
          "interpolation": "bicubic", "mean": [0.485, 0.456, 0.406],
          "std": [0.229, 0.224, 0.225]})",
      "imagenet.json");
  EXPECT_EQ(s.name, "imagenet");
  EXPECT_EQ(s.resize_short, 256);
  EXPECT_EQ(s.crop_h, 224);
  EXPECT_EQ(s.crop_w, 224);
  EXPECT_EQ(s.interpolation, Interpolation::kBicubic);
  EXPECT_EQ(s.std[2], 0.225f);
  const PreprocessSpec l = ParsePresetJson(
      R"({"mode": "L", "resize": [28, 30], "crop": null, "mean": [0.5], "std": [0.5]})", "l.json");
  EXPECT_EQ(l.name, "l.json");
  EXPECT_EQ(l.channels(), 1);
  EXPECT_EQ(l.resize_short, 0);
  EXPECT_EQ(l.resize_h, 28);
  EXPECT_EQ(l.resize_w, 30);
  EXPECT_EQ(l.crop_h, 0);
  EXPECT_EQ(l.interpolation, Interpolation::kBilinear);
}

TEST(PreprocessTest, PresetErrorsNameTheSourceAndKey) {
  const std::string ok_tail = R"("mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]})";
  EXPECT_EQ(PresetError(R"({"szie": 3, )" + ok_tail), "unknown key 'szie' in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"mode": "L", )" + ok_tail),
            "key 'mean' has 3 values, expected 1 for mode L in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"mode": "CMYK", )" + ok_tail),
            "key 'mode' must be \"RGB\" or \"L\", got \"CMYK\" in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"resize": [1, 2, 3], )" + ok_tail),
            "key 'resize' must be [h, w], got [1,2,3] in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"crop": -4, )" + ok_tail),
            "key 'crop' must be a positive integer or [h, w], got -4 in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"interpolation": "lanczos", )" + ok_tail),
            "key 'interpolation' must be \"bilinear\", \"bicubic\" or \"nearest\", got "
            "\"lanczos\" in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"mean": [0.5, 0.5, 0.5], "std": [0.5, 0, 0.5]})"),
            "key 'std' values must be > 0, got [0.5,0,0.5] in preset 'x.json'");
  EXPECT_EQ(PresetError(R"({"mean": [0.5, 0.5, 0.5]})"), "missing key 'std' in preset 'x.json'");
  EXPECT_EQ(PresetError("[1]"), "expected a json object in preset 'x.json'");
  EXPECT_EQ(PresetError("{"),
            "'x.json': not valid JSON at line 1, column 2: syntax error while parsing object key - "
            "unexpected end of input; expected string literal");
  EXPECT_EQ(PresetError(R"({"mean": [1e999]})"),
            "'x.json': not valid JSON: number overflow parsing '1e999'");  // found by fuzzing
  EXPECT_EQ(PresetError(std::string(100, '[')),
            "'x.json': too deeply nested (more than 64 levels) at line 1, column 65");
}

TEST(PreprocessTest, ShippedPresetsParse) {
  const std::filesystem::path dir = kFixtures / "../../configs/presets";
  int n = 0;
  for (const char* name : {"cifar10", "cifar100", "svhn", "imagenet", "mnist", "fashion-mnist"}) {
    const std::string file = std::string(name) + ".json";
    const PreprocessSpec s = ParsePresetJson(ReadText(dir / file), file);
    EXPECT_EQ(s.name, name);
    ++n;
  }
  EXPECT_EQ(n, 6);
}

}  // namespace
}  // namespace oodscore
