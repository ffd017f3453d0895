// Decode + preprocess throughput on one core: a 500x375 JPEG through ImageNet's
// Resize(256) + CenterCrop(224) + ToTensor + Normalize, and a 28x28 greyscale PNG
// through MNIST's. Inputs are synthesised in memory (smooth gradients plus noise).
#include <benchmark/benchmark.h>
#include <png.h>
#include <turbojpeg.h>

#include <cstdint>
#include <random>
#include <vector>

#include "oodscore/decode.h"
#include "oodscore/preprocess.h"

namespace oodscore {
namespace {

std::vector<std::uint8_t> Pixels(int w, int h, int c) {
  std::mt19937 rng(1);
  std::vector<std::uint8_t> p(static_cast<std::size_t>(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        p[(static_cast<std::size_t>(y) * w + x) * c + k] =
            static_cast<std::uint8_t>((x * (k + 1) + y * 2) / 4 + rng() % 24);
  return p;
}

std::vector<std::uint8_t> Jpeg500x375() {
  const std::vector<std::uint8_t> px = Pixels(500, 375, 3);
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  tjCompress2(tj, px.data(), 500, 0, 375, TJPF_RGB, &buf, &size, TJSAMP_420, 90, 0);
  std::vector<std::uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

std::vector<std::uint8_t> Png28x28() {
  const std::vector<std::uint8_t> px = Pixels(28, 28, 1);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = 28;
  image.height = 28;
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, px.data(), 0, nullptr);
  std::vector<std::uint8_t> out(size);
  png_image_write_to_memory(&image, out.data(), &size, 0, px.data(), 0, nullptr);
  out.resize(size);
  return out;
}

void Run(benchmark::State& state, const std::vector<std::uint8_t>& file, const char* preset) {
  const PreprocessSpec spec = ParsePresetJson(preset, "bench");
  std::vector<float> tensor;
  for (auto _ : state) {
    const DecodeResult d = DecodeImage(file.data(), file.size(), spec.mode);
    const Image img = TransformUint8(d.image, spec);
    tensor.resize(static_cast<std::size_t>(img.channels) * img.height * img.width);
    ToTensorNormalize(img, spec, tensor.data());
    benchmark::DoNotOptimize(tensor.data());
  }
}

void BM_Jpeg500x375ImageNet(benchmark::State& state) {
  static const std::vector<std::uint8_t> file = Jpeg500x375();
  Run(state, file,
      R"({"resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})");
}
BENCHMARK(BM_Jpeg500x375ImageNet)->Unit(benchmark::kMillisecond);

void BM_Jpeg500x375DecodeOnly(benchmark::State& state) {
  static const std::vector<std::uint8_t> file = Jpeg500x375();
  for (auto _ : state) {
    const DecodeResult d = DecodeImage(file.data(), file.size(), ColorMode::kRgb);
    benchmark::DoNotOptimize(d.image.pixels.data());
  }
}
BENCHMARK(BM_Jpeg500x375DecodeOnly)->Unit(benchmark::kMillisecond);

void BM_Png28x28Mnist(benchmark::State& state) {
  static const std::vector<std::uint8_t> file = Png28x28();
  Run(state, file, R"({"mode": "L", "resize": [28, 28], "mean": [0.1307], "std": [0.3081]})");
}
BENCHMARK(BM_Png28x28Mnist)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace oodscore

BENCHMARK_MAIN();
