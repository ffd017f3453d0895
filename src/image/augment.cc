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

Image ApplyAugmentDraws(const Image& image, const AugmentDraws& draws) {
  const int pad = draws.pad;
  if (pad < 0 || draws.top < 0 || draws.top > 2 * pad || draws.left < 0 || draws.left > 2 * pad) {
    throw Error("augment: window at top " + std::to_string(draws.top) + ", left " +
                std::to_string(draws.left) + " is outside 0.." + std::to_string(2 * pad) +
                " (padding " + std::to_string(pad) + ")");
  }
  const int w = image.width, h = image.height, c = image.channels;
  // Output (y, x) is padded (top + y, left + x') with x' = x, or w - 1 - x when flipped, and
  // padded (py, px) is image (py - pad, px - pad), or zero outside the image.
  const int dy = draws.top - pad, dx = draws.left - pad;
  Image out;
  out.width = w;
  out.height = h;
  out.channels = c;
  out.pixels.assign(image.pixels.size(), 0);
  for (int y = 0; y < h; ++y) {
    const int sy = y + dy;
    if (sy < 0 || sy >= h) continue;
    for (int x = 0; x < w; ++x) {
      const int cx = draws.flip ? w - 1 - x : x;  // flip the cropped window
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

Image ApplyAugment(const Image& image, const Augment& augment, std::uint64_t seed) {
  if (!augment.any()) return image;
  std::mt19937_64 rng(seed);
  const int pad = augment.crop_pad;
  // RandomCrop draws the window first, then RandomHorizontalFlip flips (torchvision's order
  // in the reference: RandomHorizontalFlip, RandomCrop; either order gives the same
  // distribution of outputs).
  AugmentDraws draws;
  draws.pad = pad;
  if (pad > 0) {
    draws.left = static_cast<int>(rng() % static_cast<std::uint64_t>(2 * pad + 1));
    draws.top = static_cast<int>(rng() % static_cast<std::uint64_t>(2 * pad + 1));
  }
  draws.flip = augment.hflip && (rng() & 1);
  return ApplyAugmentDraws(image, draws);
}

}  // namespace oodscore
