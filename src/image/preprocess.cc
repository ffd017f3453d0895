#include "oodscore/preprocess.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "oodscore/error.h"

namespace oodscore {
namespace {

// The size torchvision's Resize produces (torchvision 0.14 _compute_resized_output_size).
void ResizedSize(const PreprocessSpec& spec, int in_w, int in_h, int* w, int* h) {
  if (spec.resize_short > 0) {
    const bool w_short = in_w <= in_h;
    const long long shorter = w_short ? in_w : in_h, longer = w_short ? in_h : in_w;
    // int(size * long / short): an exact integer product, one correctly rounded division.
    const int new_long =
        static_cast<int>(static_cast<double>(static_cast<long long>(spec.resize_short) * longer) /
                         static_cast<double>(shorter));
    *w = w_short ? spec.resize_short : new_long;
    *h = w_short ? new_long : spec.resize_short;
  } else if (spec.resize_h > 0 && spec.resize_w > 0) {
    *w = spec.resize_w;
    *h = spec.resize_h;
  } else {
    *w = in_w;
    *h = in_h;
  }
}

// Python's int(round((size - crop) / 2.0)): round half to even. The default floating-point
// rounding mode is round-to-nearest-even, so nearbyint matches (std::round would not).
int CropOffset(int size, int crop) { return static_cast<int>(std::nearbyint((size - crop) / 2.0)); }

}  // namespace

long long TransformPixels(const PreprocessSpec& spec, int in_w, int in_h) {
  double rw = in_w, rh = in_h;
  if (spec.resize_short > 0) {
    const bool w_short = in_w <= in_h;
    const double shorter = w_short ? in_w : in_h, longer = w_short ? in_h : in_w;
    const double new_long = std::floor(spec.resize_short * longer / shorter);
    rw = w_short ? spec.resize_short : new_long;
    rh = w_short ? new_long : spec.resize_short;
  } else if (spec.resize_h > 0 && spec.resize_w > 0) {
    rw = spec.resize_w;
    rh = spec.resize_h;
  }
  if (rw > std::numeric_limits<int>::max() || rh > std::numeric_limits<int>::max()) return -1;
  const bool crop = spec.crop_h > 0 && spec.crop_w > 0;
  if (crop && spec.crop_w <= rw && spec.crop_h <= rh) {
    return static_cast<long long>(spec.crop_w) * spec.crop_h;
  }
  return static_cast<long long>(rw) * static_cast<long long>(rh);
}

void OutputShape(const PreprocessSpec& spec, int in_w, int in_h, int* c, int* h, int* w) {
  *c = spec.channels();
  ResizedSize(spec, in_w, in_h, w, h);
  if (spec.crop_h > 0 && spec.crop_w > 0) {
    *w = spec.crop_w;
    *h = spec.crop_h;
  }
}

Image TransformUint8(const Image& decoded, const PreprocessSpec& spec) {
  int rw = 0, rh = 0;
  ResizedSize(spec, decoded.width, decoded.height, &rw, &rh);
  const bool resize = rw != decoded.width || rh != decoded.height;
  const bool crop = spec.crop_h > 0 && spec.crop_w > 0;
  if (!crop) return resize ? Resize(decoded, rw, rh, spec.interpolation) : decoded;

  const int ch = spec.crop_h, cw = spec.crop_w;
  if (cw <= rw && ch <= rh) {
    const int top = CropOffset(rh, ch), left = CropOffset(rw, cw);
    // Only the surviving window is resampled; identical to resize-then-crop.
    return ResizeWindow(decoded, rw, rh, left, top, cw, ch,
                        resize ? spec.interpolation : Interpolation::kNearest);
  }

  // torchvision pads with zeros (left/top get the floor half) until the crop fits, then
  // crops the dimensions that were not padded.
  const Image resized = resize ? Resize(decoded, rw, rh, spec.interpolation) : Image();
  const Image& src = resize ? resized : decoded;
  const int pad_left = cw > rw ? (cw - rw) / 2 : 0;
  const int pad_top = ch > rh ? (ch - rh) / 2 : 0;
  const int pw = cw > rw ? cw : rw, ph = ch > rh ? ch : rh;  // padded size
  const int top = CropOffset(ph, ch), left = CropOffset(pw, cw);
  const int c = src.channels;
  Image out;
  out.width = cw;
  out.height = ch;
  out.channels = c;
  out.pixels.assign(static_cast<std::size_t>(cw) * ch * c, 0);
  for (int y = 0; y < ch; ++y) {
    const int sy = y + top - pad_top;  // row in src
    if (sy < 0 || sy >= src.height) continue;
    for (int x = 0; x < cw; ++x) {
      const int sx = x + left - pad_left;
      if (sx < 0 || sx >= src.width) continue;
      std::memcpy(&out.pixels[(static_cast<std::size_t>(y) * cw + x) * c],
                  &src.pixels[(static_cast<std::size_t>(sy) * src.width + sx) * c],
                  static_cast<std::size_t>(c));
    }
  }
  return out;
}

void ToTensorNormalize(const Image& img, const PreprocessSpec& spec, float* out) {
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  const int c = img.channels;
  for (int k = 0; k < c; ++k) {
    const float mean = spec.mean[k], std = spec.std[k];
    // Literal float32 (x / 255 - mean) / std: bit-identical to torchvision, where a
    // precomputed reciprocal would not be. Lookup per channel: 256 possible inputs.
    float lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = (static_cast<float>(v) / 255.0f - mean) / std;
    const std::uint8_t* s = img.pixels.data() + k;
    float* d = out + k * plane;
    for (std::size_t i = 0; i < plane; ++i) d[i] = lut[s[i * c]];
  }
}

namespace {

using nlohmann::json;

[[noreturn]] void Bad(const std::string& source, const std::string& what) {
  throw Error(what + " in preset '" + source + "'");
}

// Reads "resize" / "crop": <int> or [h, w]. Returns false for null / absent.
bool ReadSize(const json& j, const char* key, const std::string& source, bool int_is_short,
              int* single, int* h, int* w) {
  if (!j.contains(key) || j[key].is_null()) return false;
  const json& v = j[key];
  auto positive = [&](const json& e) {
    if (!e.is_number_integer() || e.get<long long>() <= 0 || e.get<long long>() > 100000) {
      Bad(source, std::string("key '") + key + "' must be a positive integer or [h, w], got " +
                      DumpJson(v, -1));
    }
    return static_cast<int>(e.get<long long>());
  };
  if (v.is_array()) {
    if (v.size() != 2) {
      Bad(source, std::string("key '") + key + "' must be [h, w], got " + DumpJson(v, -1));
    }
    *h = positive(v[0]);
    *w = positive(v[1]);
  } else {
    const int n = positive(v);
    if (int_is_short) {
      *single = n;
    } else {
      *h = *w = n;
    }
  }
  return true;
}

std::vector<float> ReadFloats(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) Bad(source, std::string("missing key '") + key + "'");
  const json& v = j[key];
  if (!v.is_array()) Bad(source, std::string("key '") + key + "' must be an array of numbers");
  std::vector<float> out;
  for (const json& e : v) {
    if (!e.is_number()) {
      Bad(source,
          std::string("key '") + key + "' must be an array of numbers, got " + DumpJson(v, -1));
    }
    out.push_back(static_cast<float>(e.get<double>()));  // as torch.as_tensor(float32)
  }
  return out;
}

}  // namespace

PreprocessSpec ParsePresetJson(const std::string& json_text, const std::string& source_name) {
  const json j = ParseJsonText(json_text, source_name);
  if (!j.is_object()) Bad(source_name, "expected a json object");
  static const char* const kKeys[] = {"name",          "mode", "resize", "crop",
                                      "interpolation", "mean", "std"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : kKeys) known = known || it.key() == k;
    if (!known) Bad(source_name, "unknown key '" + it.key() + "'");
  }
  PreprocessSpec spec;
  spec.name = source_name;
  if (j.contains("name")) {
    if (!j["name"].is_string()) Bad(source_name, "key 'name' must be a string");
    spec.name = j["name"].get<std::string>();
  }
  if (j.contains("mode")) {
    const json& m = j["mode"];
    if (m == "RGB") {
      spec.mode = ColorMode::kRgb;
    } else if (m == "L") {
      spec.mode = ColorMode::kL;
    } else {
      Bad(source_name, "key 'mode' must be \"RGB\" or \"L\", got " + DumpJson(m, -1));
    }
  }
  ReadSize(j, "resize", source_name, true, &spec.resize_short, &spec.resize_h, &spec.resize_w);
  ReadSize(j, "crop", source_name, false, nullptr, &spec.crop_h, &spec.crop_w);
  if (j.contains("interpolation")) {
    const json& i = j["interpolation"];
    if (i == "bilinear") {
      spec.interpolation = Interpolation::kBilinear;
    } else if (i == "bicubic") {
      spec.interpolation = Interpolation::kBicubic;
    } else if (i == "nearest") {
      spec.interpolation = Interpolation::kNearest;
    } else {
      Bad(source_name,
          "key 'interpolation' must be \"bilinear\", \"bicubic\" or \"nearest\", got " +
              DumpJson(i, -1));
    }
  }
  spec.mean = ReadFloats(j, "mean", source_name);
  spec.std = ReadFloats(j, "std", source_name);
  const std::size_t c = static_cast<std::size_t>(spec.channels());
  if (spec.mean.size() != c) {
    Bad(source_name, "key 'mean' has " + std::to_string(spec.mean.size()) + " values, expected " +
                         std::to_string(c) + " for mode " + (c == 1 ? "L" : "RGB"));
  }
  if (spec.std.size() != c) {
    Bad(source_name, "key 'std' has " + std::to_string(spec.std.size()) + " values, expected " +
                         std::to_string(c) + " for mode " + (c == 1 ? "L" : "RGB"));
  }
  for (float s : spec.std) {
    if (!(s > 0.0f))
      Bad(source_name, "key 'std' values must be > 0, got " + DumpJson(j["std"], -1));
  }
  return spec;
}

}  // namespace oodscore
