// Train-time augmentation for `oodscore finetune`, on uint8 pixels after the preset's
// resize and crop and before ToTensor + Normalize (where torchvision's train transforms sit):
//   hflip      RandomHorizontalFlip(p = 0.5)
//   crop-padN  RandomCrop(size, padding = N): N zero pixels on every side, then a random
//              window of the original size
// The reference training code uses "hflip,crop-pad4" on CIFAR. Each image's draws come from
// its own seed, so a run is the same whatever the number of threads.
#ifndef OODSCORE_AUGMENT_H_
#define OODSCORE_AUGMENT_H_

#include <cstdint>
#include <string>

#include "oodscore/image.h"

namespace oodscore {

struct Augment {
  bool hflip = false;
  int crop_pad = 0;  // 0 = no random crop
  bool any() const { return hflip || crop_pad > 0; }
};

// "hflip,crop-pad4" (any order, each at most once), "" or "none". Throws UsageError naming
// the unknown part.
Augment ParseAugment(const std::string& text);

// One image's draws, as torchvision makes them for Compose([RandomCrop((H, W), padding=pad),
// RandomHorizontalFlip()]): the window's top-left corner in the zero-padded image (0..2*pad
// each; pad = 0: no crop) and whether the window is flipped.
struct AugmentDraws {
  int pad = 0;
  int top = 0, left = 0;
  bool flip = false;
};

// The image (same size) with these draws: in torchvision.transforms.functional terms,
// crop(pad(img, pad, fill=0), top, left, H, W), then hflip if flip (tests/augment_test.cc
// checks it against torchvision). Throws Error when top or left is outside 0..2*pad.
Image ApplyAugmentDraws(const Image& image, const AugmentDraws& draws);

// The augmented image (same size), with this image's draws from `seed`.
Image ApplyAugment(const Image& image, const Augment& augment, std::uint64_t seed);

// A well-mixed 64-bit seed from a few numbers (run seed, epoch, sample index).
std::uint64_t MixSeed(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0);

}  // namespace oodscore

#endif  // OODSCORE_AUGMENT_H_
