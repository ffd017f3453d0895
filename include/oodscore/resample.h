// Image resizing, ported from Pillow's ImagingResample (Resample.c) and its nearest-
// neighbour path (Geometry.c), so results equal PIL's Image.resize bit for bit
// (reducing_gap=None, the default; torchvision's Resize calls it that way).
//
// Bilinear and bicubic (a = -0.5) antialias when downscaling: the filter support grows
// with the scale factor. Two separable passes (horizontal, then vertical) in 22-bit
// fixed point, each rounding and clamping to uint8.
//
// Thread safety: pure functions; safe to call concurrently.
#ifndef OODSCORE_RESAMPLE_H_
#define OODSCORE_RESAMPLE_H_

#include "oodscore/image.h"

namespace oodscore {

enum class Interpolation {
  kNearest,   // PIL.Image.NEAREST (= torchvision InterpolationMode.NEAREST)
  kBilinear,  // PIL.Image.BILINEAR (torchvision's default)
  kBicubic,   // PIL.Image.BICUBIC
};

// Returns `in` resized to out_width x out_height (same channel count).
// REQUIRES: in is non-empty; out_width > 0; out_height > 0.
Image Resize(const Image& in, int out_width, int out_height, Interpolation interp);

// Returns the window [left, left + crop_width) x [top, top + crop_height) of
// Resize(in, out_width, out_height, interp), computing only the pixels it needs
// (identical result, less work when a center crop follows).
// REQUIRES: the window lies inside out_width x out_height and is non-empty.
Image ResizeWindow(const Image& in, int out_width, int out_height, int left, int top,
                   int crop_width, int crop_height, Interpolation interp);

}  // namespace oodscore

#endif  // OODSCORE_RESAMPLE_H_
