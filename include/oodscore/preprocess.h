// The torchvision transform chain a classifier was trained with, applied to a decoded
// image: convert(mode) -> Resize -> CenterCrop -> ToTensor -> Normalize.
//
// Usage:
//   PreprocessSpec spec = ParsePresetJson(text, "cifar10.json");
//   DecodeResult d = DecodeFile(path, spec.mode);
//   Image img = TransformUint8(d.image, spec);
//   std::vector<float> t(img.channels * img.height * img.width);
//   ToTensorNormalize(img, spec, t.data());
//
// Results equal torchvision 0.14 + Pillow 9.4 bit for bit (tests/preprocess_test.cc).
// Thread safety: all functions are pure; safe to call concurrently.
#ifndef OODSCORE_PREPROCESS_H_
#define OODSCORE_PREPROCESS_H_

#include <string>
#include <vector>

#include "oodscore/image.h"
#include "oodscore/resample.h"

namespace oodscore {

struct PreprocessSpec {
  std::string name;
  ColorMode mode = ColorMode::kRgb;
  // Resize: resize_short > 0 is Resize(int): the shorter side becomes resize_short, the
  // longer int(resize_short * long / short) (truncated). Otherwise resize_h, resize_w > 0
  // is Resize([h, w]). All 0: no resize.
  int resize_short = 0, resize_h = 0, resize_w = 0;
  // CenterCrop([crop_h, crop_w]); 0 = no crop. A crop larger than the image pads with 0.
  int crop_h = 0, crop_w = 0;
  Interpolation interpolation = Interpolation::kBilinear;
  std::vector<float> mean, std;  // Normalize: one per channel; std > 0
  int channels() const { return ChannelCount(mode); }
};

// The tensor shape [c, h, w] produced for an input of in_w x in_h pixels: the crop size
// if cropping, else the resize size, else the input size.
void OutputShape(const PreprocessSpec& spec, int in_w, int in_h, int* c, int* h, int* w);

// The pixels of the largest image TransformUint8 allocates for an in_w x in_h input (the
// resized image, or only the crop window when the crop fits inside it); -1 when a side of
// the resized image would not fit in an int (Resize(256) of a 1 x 10^8 strip).
long long TransformPixels(const PreprocessSpec& spec, int in_w, int in_h);

// Resize + CenterCrop on uint8 pixels (torchvision on a PIL image, then np.asarray).
// REQUIRES: decoded.channels == spec.channels(), decoded non-empty.
Image TransformUint8(const Image& decoded, const PreprocessSpec& spec);

// ToTensor + Normalize: writes [C, H, W] float32 to out (C * H * W floats), each value
// (x / 255 - mean[c]) / std[c] computed in float32, exactly as torchvision does.
// REQUIRES: img.channels == spec.channels() == spec.mean.size() == spec.std.size().
void ToTensorNormalize(const Image& img, const PreprocessSpec& spec, float* out);

// Parses a preset:
//   {"name": "cifar10", "mode": "RGB" | "L", "resize": <int> | [h, w] | null,
//    "crop": <int> | [h, w] | null, "interpolation": "bilinear" | "bicubic" | "nearest",
//    "mean": [...], "std": [...]}
// "mode" defaults to "RGB", "interpolation" to "bilinear", "resize"/"crop" to null,
// "name" to source_name; "mean" and "std" are required.
// Throws oodscore::Error naming source_name and the offending key on bad input,
// e.g. "unknown key 'szie' in preset 'x.json'".
PreprocessSpec ParsePresetJson(const std::string& json_text, const std::string& source_name);

}  // namespace oodscore

#endif  // OODSCORE_PREPROCESS_H_
