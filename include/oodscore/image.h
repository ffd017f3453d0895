// An 8-bit image in memory: the currency between decode, resample and preprocess.
#ifndef OODSCORE_IMAGE_H_
#define OODSCORE_IMAGE_H_

#include <cstdint>
#include <vector>

namespace oodscore {

// The colour mode a pipeline works in, as in PIL's Image.convert(mode).
enum class ColorMode {
  kRgb,  // "RGB": 3 channels
  kL,    // "L": 1 channel, ITU-R 601-2 luma
};

inline int ChannelCount(ColorMode mode) { return mode == ColorMode::kL ? 1 : 3; }

// Pixels are HWC interleaved, row-major, no row padding:
// pixels[(y * width + x) * channels + c], pixels.size() == width * height * channels.
// channels is 1 (L) or 3 (RGB).
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
};

}  // namespace oodscore

#endif  // OODSCORE_IMAGE_H_
