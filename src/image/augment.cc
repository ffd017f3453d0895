#include "oodscore/augment.h"

#include <random>
#include <sstream>

#include "oodscore/error.h"

namespace oodscore {

Augment ParseAugment(const std::string& text) {
  Augment a;
  if (text.empty() || text == "none") return a;
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    if (part == "hflip" && !a.hflip) {
      a.hflip = true;
    } else if (part.rfind("crop-pad", 0) == 0 && a.crop_pad == 0 && part.size() > 8 &&
               part.size() <= 11 && part.find_first_not_of("0123456789", 8) == std::string::npos &&
               std::stoi(part.substr(8)) > 0) {
      a.crop_pad = std::stoi(part.substr(8));
    } else {
      throw UsageError("--augment: '" + part +
                       "' is not one of hflip, crop-padN (N > 0 pixels), each at most once; "
                       "e.g. --augment hflip,crop-pad4, or none");
    }
  }
  return a;
}

std::uint64_t MixSeed(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  // splitmix64 over the three values in turn.
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::uint64_t v : {a, b, c}) {
    x += v + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
  }
  return x;
}

Image ApplyAugment(const Image& image, const Augment& augment, std::uint64_t seed) {
  if (!augment.any()) return image;
  std::mt19937_64 rng(seed);
  const int w = image.width, h = image.height, c = image.channels;
  const int pad = augment.crop_pad;
  // RandomCrop draws the window first, then RandomHorizontalFlip flips (torchvision's order
  // in the reference: RandomHorizontalFlip, RandomCrop; either order gives the same
  // distribution of outputs).
  int dx = 0, dy = 0;
  if (pad > 0) {
    dx = static_cast<int>(rng() % static_cast<std::uint64_t>(2 * pad + 1)) - pad;
    dy = static_cast<int>(rng() % static_cast<std::uint64_t>(2 * pad + 1)) - pad;
  }
  const bool flip = augment.hflip && (rng() & 1);
  Image out;
  out.width = w;
  out.height = h;
  out.channels = c;
  out.pixels.assign(image.pixels.size(), 0);
  for (int y = 0; y < h; ++y) {
    const int sy = y + dy;
    if (sy < 0 || sy >= h) continue;
    for (int x = 0; x < w; ++x) {
      const int cx = flip ? w - 1 - x : x;  // flip the cropped window
      const int sx = cx + dx;
      if (sx < 0 || sx >= w) continue;
      for (int k = 0; k < c; ++k) {
        out.pixels[(static_cast<std::size_t>(y) * w + x) * c + k] =
            image.pixels[(static_cast<std::size_t>(sy) * w + sx) * c + k];
      }
    }
  }
  return out;
}

}  // namespace oodscore
